/* test_kv_f16.c — sessions with an f16 KV cache (atn_session_new_ex,
 * ATN_KV_F16) against the same sessions in f32, on every decoder-only test
 * model and the shipped tutor model.
 *
 * Checked, each model:
 *  - the logits of a 64-token batched eval (every row) are close to the f32
 *    cache's: max |diff| within a fraction of the logit scale (max |f32
 *    logit|). Rounding keys and values to 11 significant bits moves each by
 *    at most 2^-12 of itself. With f32 weights that measured 1.3e-4 .. 1.5e-3
 *    of the scale (the largest on the random-weight gemma2, whose scores are
 *    soft-capped): F32W_TOL = 5e-3, 3x over it. With quantized weights the
 *    change also flips the 8-bit levels of the activations quantized before
 *    each matmul (kernels.h), which by itself moves logits by about 1e-2 of
 *    the scale (test_llama.c): measured 1.1e-2 .. 2.0e-2 (llama q8_0, phi3
 *    q8_0, the tutor model): QW_TOL = 5e-2. docs/benchmarks.md ("KV cache in
 *    f16") has what that does to a text's perplexity.
 *  - atn_session_kv_bytes: the cache's size from the model's shape, halved in f16;
 *  - the default session (atn_session_new, and atn_session_new_ex with
 *    NULL or kv_type ATN_KV_F32) gives the f32 logits bit for bit;
 *  - token by token gives the batched f16 rows (to 1e-3, as test_arch.c
 *    asks of f32: the two paths sum in different orders);
 *  - 2 and 3 threads give the 1-thread f16 logits bit for bit;
 *  - a bad kv_type, and f16 on a translation (marian) model, are refused
 *    with a one-line reason.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "test_util.h"

#define F32W_TOL 5e-3
#define QW_TOL 5e-2
#define N_TOK 64

/* The integer after "key": in a model's info JSON, or -1. */
static long long info_int(const char *info, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *at = info ? strstr(info, k) : NULL;
    return at ? strtoll(at + strlen(k), NULL, 10) : -1;
}

/* every row of an N_TOK-token eval in a session of kv_type (-1: atn_session_new) */
static float *eval_rows(atn_model *m, const int32_t *ids, int kv_type) {
    int V = atn_model_n_vocab(m);
    atn_session_params p = {kv_type};
    atn_session *s = kv_type < 0 ? atn_session_new(m, 128) : atn_session_new_ex(m, 128, &p);
    float *rows = malloc((size_t)N_TOK * V * sizeof(float));
    int ok = s && rows && atn_eval(s, ids, N_TOK, 1) == 0;
    CHECK(ok, "eval (kv_type %d): %s", kv_type, atn_last_error());
    for (int i = 0; ok && i < N_TOK; i++) memcpy(rows + (size_t)i * V, atn_logits(s, i), (size_t)V * sizeof(float));
    if (s) CHECK(atn_session_kv_type(s) == (kv_type < 0 ? ATN_KV_F32 : kv_type), "kv_type reads back");
    if (s) {
        /* keys and values of every layer and position: n_layer * 128 * n_head_kv * head_dim, 4 or 2 bytes */
        const char *info = atn_model_info_json(m);
        long long l = info_int(info, "n_layer"), h = info_int(info, "n_head_kv"), d = info_int(info, "head_dim");
        long long want = 2 * l * 128 * h * d * (kv_type == ATN_KV_F16 ? 2 : 4);
        CHECK(l > 0 && h > 0 && d > 0 && (long long)atn_session_kv_bytes(s) == want, "kv_bytes %zu, want %lld",
              atn_session_kv_bytes(s), want);
    }
    atn_session_free(s);
    if (!ok) { free(rows); return NULL; }
    return rows;
}

static void test_model(const char *path, double tol) {
    atn_model *m = test_load_model(path);
    CHECK(m != NULL, "%s", path);
    if (!m) return;
    int V = atn_model_n_vocab(m);
    int32_t ids[N_TOK];
    for (int j = 0; j < N_TOK; j++) ids[j] = 1 + (j * 37 + 11) % (V - 1);

    float *f32 = eval_rows(m, ids, ATN_KV_F32), *dflt = eval_rows(m, ids, -1), *f16 = eval_rows(m, ids, ATN_KV_F16);
    if (!f32 || !dflt || !f16) goto done;
    size_t all = (size_t)N_TOK * V;
    CHECK(!memcmp(f32, dflt, all * sizeof(float)), "%s: ATN_KV_F32 differs from atn_session_new", path);
    atn_session *s = atn_session_new_ex(m, 128, NULL);
    CHECK(s && atn_session_kv_type(s) == ATN_KV_F32, "%s: NULL params are the defaults", path);
    atn_session_free(s);

    double scale = 0, worst = 0, same = 1;
    for (size_t i = 0; i < all; i++) {
        if (fabs(f32[i]) > scale) scale = fabs(f32[i]);
        double d = fabs((double)f16[i] - f32[i]);
        if (!(d <= worst)) worst = d; /* NaN too */
        same = same && f16[i] == f32[i];
    }
    CHECK(worst <= tol * scale, "%s: f16 cache logits differ from f32 by %.3g (scale %.3g)", path, worst, scale);
    CHECK(!same, "%s: the f16 cache changed nothing (not used?)", path);
    printf("  %-36s f16 vs f32 KV: max |diff| %.3g = %.2e of the logit scale %.3g\n", path, worst, worst / scale, scale);

    /* token by token: the batched f16 rows */
    atn_session_params p = {ATN_KV_F16};
    s = atn_session_new_ex(m, 128, &p);
    double tbt = 0;
    for (int i = 0; s && i < N_TOK; i++) {
        if (atn_eval(s, ids + i, 1, 0) != 0) { tbt = INFINITY; break; }
        const float *row = atn_logits(s, -1);
        for (int j = 0; j < V; j++) {
            double d = fabs((double)row[j] - f16[(size_t)i * V + j]);
            if (!(d <= tbt)) tbt = d;
        }
    }
    CHECK(s && tbt <= 1e-3, "%s: f16 token by token vs batched: %.3g", path, tbt);
    atn_session_free(s);

    /* threads: the same bits */
    int same_threads = 1;
    for (int th = 2; th <= 3; th++) {
        atn_set_threads(th);
        float *t = eval_rows(m, ids, ATN_KV_F16);
        same_threads = same_threads && t && !memcmp(t, f16, all * sizeof(float));
        free(t);
    }
    atn_set_threads(1);
    CHECK(same_threads, "%s: f16 logits with 2-3 threads differ from 1 thread", path);
done:
    free(f32);
    free(dflt);
    free(f16);
    atn_model_free(m);
}

static void test_refusals(void) {
    atn_model *m = test_load_model("tests/data/llama/llama_f32.gguf");
    if (m) {
        atn_session_params p = {7};
        atn_session *s = atn_session_new_ex(m, 64, &p);
        CHECK(!s && strstr(atn_last_error(), "unknown KV cache type 7"), "kv_type 7: %s", s ? "accepted" : atn_last_error());
        atn_session_free(s);
        atn_model_free(m);
    }
    m = test_load_model("models/translate-en-es.gguf");
    if (!m) { CHECK(0, "no translation model"); return; }
    atn_session_params p = {ATN_KV_F16};
    atn_session *s = atn_session_new_ex(m, 64, &p);
    const char *e = atn_last_error();
    CHECK(!s && strstr(e, "f16 KV cache is for decoder-only models") && !strchr(e, '\n'), "marian f16: %s",
          s ? "accepted" : e);
    atn_session_free(s);
    p.kv_type = ATN_KV_F32;
    s = atn_session_new_ex(m, 64, &p);
    CHECK(s != NULL, "marian f32: %s", atn_last_error());
    atn_session_free(s);
    atn_model_free(m);
}

int main(void) {
    static const struct { const char *path; double tol; } models[] = {
        {"tests/data/llama/llama_f32.gguf", F32W_TOL}, {"tests/data/llama/qwen2_f32.gguf", F32W_TOL},
        {"tests/data/arch/qwen3_f32.gguf", F32W_TOL},  {"tests/data/arch/gemma2_f32.gguf", F32W_TOL},
        {"tests/data/arch/gemma3_f32.gguf", F32W_TOL}, {"tests/data/arch/llama31_f32.gguf", F32W_TOL},
        {"tests/data/arch/phi3_f32.gguf", F32W_TOL},   {"tests/data/llama/llama_q8_0.gguf", QW_TOL},
        {"tests/data/arch/phi3_q8_0.gguf", QW_TOL},    {"models/tutor-en-es.gguf", QW_TOL},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) test_model(models[i].path, models[i].tol);
    test_refusals();
    return test_summary();
}
