/* test_threads.c — the worker pool (src/threads.c) and what runs on it.
 *
 * Checked: every item of a parallel loop runs exactly once, over many jobs
 * and pool sizes (including growing and shrinking the pool between jobs); a
 * loop started inside a task runs inline; bad thread counts are refused;
 * matrix products of every weight type (alone and in groups that share
 * their input), a llama prefill (all logits, with
 * attention split by heads) and translations (greedy and beam 4, several
 * sentences decoded together) give bit-identical results with 1, 2 and 3
 * threads. A build without threads (the single-thread WebAssembly module)
 * keeps one thread and the same checks hold trivially.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "kernels.h"
#include "quant.h"
#include "tensor.h"
#include "test_util.h"
#include "threads.h"

/* ---- the pool ---- */

#define N_ITEMS 5000
static _Atomic int hits[N_ITEMS];
static _Atomic int bad_thread;

static void count_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    (void)ctx;
    if (thread < 0 || thread >= atn_threads()) atomic_fetch_add(&bad_thread, 1);
    for (int64_t i = i0; i < i1; i++) atomic_fetch_add(&hits[i], 1);
}

static _Atomic int inner_hits;
static void inner_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    (void)ctx; (void)thread;
    atomic_fetch_add(&inner_hits, (int)(i1 - i0));
}
static void outer_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    (void)ctx; (void)thread;
    for (int64_t i = i0; i < i1; i++) atn_parallel_for(10, 1, inner_task, NULL); /* runs inline */
}

static void test_pool(void) {
    static const int sizes[] = {1, 2, 3, 4, 2, 1, 3};
    static const int64_t ns[] = {1, 2, 7, 64, 999, N_ITEMS};
    static const int64_t grains[] = {1, 3, 64, 10000};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        int got = atn_set_threads(sizes[si]);
        CHECK(got == (atn_threads_supported() ? sizes[si] : 1), "set_threads(%d) = %d", sizes[si], got);
        CHECK(atn_threads() == got, "threads() = %d", atn_threads());
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t gi = 0; gi < sizeof grains / sizeof *grains; gi++)
                for (int rep = 0; rep < 20; rep++) {
                    int64_t n = ns[ni];
                    for (int64_t i = 0; i < n; i++) atomic_store(&hits[i], 0);
                    atn_parallel_for(n, grains[gi], count_task, NULL);
                    int64_t wrong = 0;
                    for (int64_t i = 0; i < n; i++) wrong += atomic_load(&hits[i]) != 1;
                    if (wrong) {
                        CHECK(wrong == 0, "threads %d, n %lld, grain %lld: %lld items not run exactly once", got,
                              (long long)n, (long long)grains[gi], (long long)wrong);
                        return;
                    }
                }
        CHECK(atomic_load(&bad_thread) == 0, "a task saw a thread index out of range");
        atomic_store(&inner_hits, 0);
        atn_parallel_for(40, 1, outer_task, NULL);
        CHECK(atomic_load(&inner_hits) == 400, "nested loops ran inline: %d of 400", atomic_load(&inner_hits));
    }
    CHECK(atn_set_threads(0) < 0 && strstr(atn_last_error(), "thread"), "0 threads refused: %s", atn_last_error());
    CHECK(atn_set_threads(17) < 0, "17 threads refused");
    CHECK(atn_set_threads(-1) < 0, "-1 threads refused");
    atn_set_threads(1);
}

/* ---- matrix products ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float rnd(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)((rng >> 40) & 0xffff) / 32768.0f - 1.0f;
}

static void test_matmul(void) {
    static const int types[] = {ATN_TYPE_F32, ATN_TYPE_F16, ATN_TYPE_BF16, ATN_TYPE_Q8_0, ATN_TYPE_Q4_0, ATN_TYPE_Q4_1,
                                ATN_TYPE_Q5_0, ATN_TYPE_Q5_1, ATN_TYPE_Q4_K, ATN_TYPE_Q5_K, ATN_TYPE_Q6_K};
    static const int toks[] = {1, 3, 9};
    const int n_in = 512, n_out = 301; /* 301: chunks do not divide the rows evenly */
    float *w = malloc((size_t)n_in * n_out * sizeof(float)), *x = malloc((size_t)9 * n_in * sizeof(float));
    float *y1 = malloc((size_t)9 * n_out * sizeof(float)), *yn = malloc((size_t)9 * n_out * sizeof(float));
    uint8_t *q = malloc((size_t)n_in * n_out * 4);
    for (int i = 0; i < n_in * n_out; i++) w[i] = rnd();
    for (int i = 0; i < 9 * n_in; i++) x[i] = rnd();
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        int type = types[ti];
        size_t rb = atn_row_size(type, n_in);
        for (int r = 0; r < n_out; r++) atn_quantize(type, w + (size_t)r * n_in, q + (size_t)r * rb, (size_t)n_in);
        atn_tensor W = {0};
        W.type = type;
        W.ne[0] = n_in;
        W.ne[1] = n_out;
        W.n_dims = 2;
        W.data = q;
        for (size_t k = 0; k < sizeof toks / sizeof *toks; k++) {
            atn_set_threads(1);
            atn_matmul(&W, x, toks[k], y1);
            for (int th = 2; th <= 3; th++) {
                atn_set_threads(th);
                memset(yn, 0xff, (size_t)toks[k] * n_out * sizeof(float));
                atn_matmul(&W, x, toks[k], yn);
                CHECK(!memcmp(y1, yn, (size_t)toks[k] * n_out * sizeof(float)), "%s, %d tokens: %d threads differ from 1",
                      atn_type_name(type), toks[k], th);
            }
        }
    }
    atn_set_threads(1);
    free(w); free(x); free(y1); free(yn); free(q);
}

/* Matrices that read one input, as one job (atn_matmul_group): each result
 * equals its own atn_matmul bit for bit, with 1, 2 and 3 threads, for a group
 * of one type (one quantized input) and a mixed one (matrix by matrix). */
static void test_matmul_group(void) {
    const int n_in = 512, n_out[3] = {301, 64, 97};
    const int types[2][3] = {{ATN_TYPE_Q8_0, ATN_TYPE_Q8_0, ATN_TYPE_Q8_0}, {ATN_TYPE_Q4_0, ATN_TYPE_Q8_0, ATN_TYPE_Q4_K}};
    float *w = malloc((size_t)n_in * 301 * sizeof(float)), *x = malloc((size_t)9 * n_in * sizeof(float));
    for (int i = 0; i < n_in * 301; i++) w[i] = rnd();
    for (int i = 0; i < 9 * n_in; i++) x[i] = rnd();
    for (int g = 0; g < 2; g++) {
        atn_tensor W[3];
        const atn_tensor *Wp[3];
        uint8_t *q[3];
        float *y1[3], *yn[3];
        for (int m = 0; m < 3; m++) {
            size_t rb = atn_row_size(types[g][m], n_in);
            q[m] = malloc(rb * (size_t)n_out[m]);
            for (int r = 0; r < n_out[m]; r++) atn_quantize(types[g][m], w + (size_t)r * n_in, q[m] + (size_t)r * rb, (size_t)n_in);
            memset(&W[m], 0, sizeof W[m]);
            W[m].type = types[g][m];
            W[m].ne[0] = n_in;
            W[m].ne[1] = n_out[m];
            W[m].n_dims = 2;
            W[m].data = q[m];
            Wp[m] = &W[m];
            y1[m] = malloc((size_t)9 * n_out[m] * sizeof(float));
            yn[m] = malloc((size_t)9 * n_out[m] * sizeof(float));
        }
        for (int toks = 1; toks <= 9; toks += 4) {
            atn_set_threads(1);
            for (int m = 0; m < 3; m++) atn_matmul(&W[m], x, toks, y1[m]);
            for (int th = 1; th <= 3; th++) {
                atn_set_threads(th);
                for (int m = 0; m < 3; m++) memset(yn[m], 0xff, (size_t)toks * n_out[m] * sizeof(float));
                atn_matmul_group(Wp, yn, 3, x, toks);
                for (int m = 0; m < 3; m++)
                    CHECK(!memcmp(y1[m], yn[m], (size_t)toks * n_out[m] * sizeof(float)),
                          "group %d, matrix %d, %d tokens, %d threads: differs from atn_matmul", g, m, toks, th);
            }
        }
        for (int m = 0; m < 3; m++) { free(q[m]); free(y1[m]); free(yn[m]); }
    }
    atn_set_threads(1);
    free(w); free(x);
}

/* ---- a llama prefill: matmuls and attention by heads ---- */

static void test_llama(void) {
    atn_model *m = test_load_model("tests/data/llama/llama_q8_0.gguf");
    if (!m) { CHECK(0, "model"); return; }
    int n = 200, V = atn_model_n_vocab(m);
    int32_t *ids = malloc((size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) ids[i] = 3 + (i * 37) % (V - 3);
    float *ref = malloc((size_t)n * V * sizeof(float));
    for (int th = 1; th <= 3; th++) {
        atn_set_threads(th);
        atn_session *s = atn_session_new(m, 256);
        int rc = atn_eval(s, ids, n, 1);
        CHECK(rc == 0, "eval with %d threads: %s", th, atn_last_error());
        int same = 1;
        for (int i = 0; i < n && rc == 0; i++) {
            const float *lg = atn_logits(s, i);
            if (th == 1) memcpy(ref + (size_t)i * V, lg, (size_t)V * sizeof(float));
            else same &= !memcmp(ref + (size_t)i * V, lg, (size_t)V * sizeof(float));
        }
        CHECK(same, "llama logits with %d threads differ from 1 thread", th);
        /* decode steps after the prefill */
        int32_t next = 5;
        rc = atn_eval(s, &next, 1, 0);
        CHECK(rc == 0, "decode step");
        atn_session_free(s);
    }
    atn_set_threads(1);
    free(ids); free(ref);
    atn_model_free(m);
}

/* ---- translation: encoder, batched decoder lanes, beam search ---- */

static char *translate_all(atn_model *m, int beam, const char *text, float *logprob_sum) {
    atn_translator *t = atn_translator_new(m, beam, NULL, 0);
    if (!t) return NULL;
    size_t cap = 4096, len = 0;
    char *out = calloc(1, cap);
    *logprob_sum = 0;
    int rc = atn_translate_begin(t, text, strlen(text));
    while (rc >= 0) {
        rc = atn_translate_next(t);
        if (rc < 0) break;
        size_t n;
        const char *p = atn_translate_piece(t, &n);
        if (len + n + 1 > cap) { cap = 2 * (len + n + 1); out = realloc(out, cap); }
        memcpy(out + len, p, n);
        len += n;
        out[len] = 0;
        if (rc == 2) *logprob_sum += atn_translate_logprob(t);
        if (rc == 0) break;
    }
    atn_translator_free(t);
    if (rc < 0) { free(out); return NULL; }
    return out;
}

static void test_translate(void) {
    atn_model *m = test_load_model("models/translate-en-es.gguf");
    if (!m) { CHECK(0, "model"); return; }
    const char *text = "The cat is sleeping on the bed. I would like a cup of coffee, please.\n"
                       "Where is the train station? We have been waiting for two hours and nobody came. "
                       "Tom told me that he had never seen such a beautiful garden in his whole life.";
    for (int beam = 1; beam <= 4; beam += 3) {
        float lp1, lpn;
        atn_set_threads(1);
        char *one = translate_all(m, beam, text, &lp1);
        CHECK(one && strlen(one) > 40, "beam %d translation: %s", beam, one ? one : atn_last_error());
        for (int th = 2; th <= 3 && one; th++) {
            atn_set_threads(th);
            char *many = translate_all(m, beam, text, &lpn);
            CHECK(many && !strcmp(one, many) && lp1 == lpn, "beam %d, %d threads: '%s' (%g) vs '%s' (%g)", beam, th, one, lp1,
                  many ? many : "(null)", lpn);
            free(many);
        }
        free(one);
    }
    atn_set_threads(1);
    atn_model_free(m);
}

int main(void) {
    test_pool();
    test_matmul();
    test_matmul_group();
    test_llama();
    test_translate();
    return test_summary();
}
