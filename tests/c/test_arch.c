/* test_arch.c — the architectures beyond plain llama/qwen2 (qwen3, gemma2,
 * gemma3, phi3, llama with rope_freqs) against llama.cpp itself.
 *
 * tests/data/arch/ holds small random-weight models of each (make.py) in f32
 * and Q8_0, and what llama.cpp b11364 (its WebAssembly build, wllama 3.8.1)
 * computed on them (NAME.llamacpp.json, made by llamacpp_oracle.mjs; see the
 * folder's README.md): for a 40-token sequence, the teacher-forced log-prob
 * of each next token and the top 8 log-probs at each position, and 16 greedy
 * ids from an 8-token prompt with their top-1 - top-2 margins.
 *
 * Checked here, each model:
 *  - atn_score's teacher-forced log-probs and the log-softmax of every row of
 *    a batched eval at the top-8 ids, against llama.cpp's:
 *      f32: within 1e-3 (measured 1.9e-6 .. 3.0e-6; gemma2/gemma3
 *        1.5e-4 .. 5.8e-4). llama.cpp's CPU build computes gelu by looking
 *        up the f16-rounded input in an f16 table, and atento does the same
 *        on purpose (docs/conventions.md); computed in f32 instead, the gemma
 *        figures were 1.7e-3 .. 2.4e-3.
 *      Q8_0: within 0.25 (measured 0.05 .. 0.15). Both runtimes round the
 *        activations to 8 bits per 32 values before each matmul, but not
 *        identically (llama.cpp's q8_0 activation blocks keep f16 scales,
 *        atento's f32 ones), and each rounding moves the logits by about
 *        1e-2 of their scale (tests/c/test_llama.c).
 *  - the same prefix evaluated token by token gives the batched rows;
 *  - greedy: fed llama.cpp's 16 greedy ids one by one, atento's argmax is
 *    llama.cpp's choice at every step where llama.cpp's margin between its
 *    first and second choice is clear (f32: > 0.02; Q8_0: > 0.3, twice the
 *    largest log-prob difference); near-ties may go either way.
 * phi3 is run twice: in a 256-token session (rope_factors_short) and in a
 * 1024-token one (above its original context of 512: rope_factors_long),
 * each against llama.cpp run with the same context size.
 *
 * A second, independent reference: the float64 NumPy forward pass of
 * models/tools/reference_llama.py (NAME_f32.ref, written by make.py), which
 * the f32 models' logits must match to 1e-4 of the logit scale (gemma:
 * 3e-4, measured 7.9e-5 .. 9.5e-5; without the f16 gelu 1e-6). The reference
 * rounds gelu's input and output through f16 as well, but its float64
 * inputs and atento's f32 ones fall on either side of an f16 rounding
 * boundary now and then, and those activations then differ by one f16 step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "test_util.h"

#define F32_TOL 1e-3
#define NUMPY_TOL 1e-4      /* of the logit scale */
#define NUMPY_GELU_TOL 3e-4 /* gemma: f16 gelu, see above */
#define Q8_TOL 0.25
#define MAX_IDS 64
#define TOP 8

typedef struct {
    int n_ctx, n_ids, n_greedy;
    int32_t ids[MAX_IDS];
    double teacher[MAX_IDS];            /* log p(ids[i + 1] | ids[0..i]) */
    int32_t top_id[MAX_IDS][TOP];
    double top_lp[MAX_IDS][TOP];
    int32_t prompt[8], greedy[MAX_IDS];
    double margin[MAX_IDS];
} oracle_t;

/* Numbers of the JSON array that follows `key` (a number list, or for
 * "top" pairs flattened), up to max; returns how many, or -1. */
static int numbers_after(const char *json, const char *key, double *out, int max, const char **end) {
    const char *p = strstr(json, key);
    if (!p) return -1;
    p = strchr(p + strlen(key), '[');
    if (!p) return -1;
    int depth = 0, n = 0;
    for (; *p; p++) {
        if (*p == '[') depth++;
        else if (*p == ']') { if (--depth == 0) { p++; break; } }
        else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *e;
            double v = strtod(p, &e);
            if (n < max) out[n] = v;
            n++;
            p = e - 1;
        }
    }
    if (end) *end = p;
    return n;
}

static int read_oracle(const char *path, oracle_t *o) {
    size_t size;
    char *json = read_file(path, &size);
    if (!json) return -1;
    double buf[MAX_IDS * 2 * TOP];
    const char *p = strstr(json, "\"n_ctx\":");
    o->n_ctx = p ? atoi(p + 8) : 0;
    o->n_ids = numbers_after(json, "\"ids\":", buf, MAX_IDS, NULL);
    int ok = o->n_ids > 1 && o->n_ids <= MAX_IDS && o->n_ctx > 0;
    for (int i = 0; ok && i < o->n_ids; i++) o->ids[i] = (int32_t)buf[i];
    const char *t = ok ? strstr(json, "\"teacher\":") : NULL;
    for (int i = 0; ok && i < o->n_ids - 1; i++) {
        const char *lpk = strstr(t, "\"logprob\":");
        if (!lpk) { ok = 0; break; }
        o->teacher[i] = strtod(lpk + 10, NULL);
        if (numbers_after(t, "\"top\":", buf, 2 * TOP, &t) != 2 * TOP) { ok = 0; break; }
        for (int k = 0; k < TOP; k++) { o->top_id[i][k] = (int32_t)buf[2 * k]; o->top_lp[i][k] = buf[2 * k + 1]; }
    }
    const char *g = ok ? strstr(json, "\"greedy\":") : NULL;
    if (!g) ok = 0;
    if (ok) {
        ok = numbers_after(g, "\"prompt\":", buf, 8, NULL) == 8;
        for (int i = 0; ok && i < 8; i++) o->prompt[i] = (int32_t)buf[i];
        o->n_greedy = numbers_after(g, "\"ids\":", buf, MAX_IDS, NULL);
        ok = ok && o->n_greedy > 0 && o->n_greedy <= MAX_IDS;
        for (int i = 0; ok && i < o->n_greedy; i++) o->greedy[i] = (int32_t)buf[i];
        ok = ok && numbers_after(g, "\"margins\":", o->margin, MAX_IDS, NULL) == o->n_greedy;
    }
    atn_free(json);
    return ok ? 0 : -1;
}

/* log-softmax of row at id */
static double logprob(const float *row, int V, int id) {
    double mx = row[0], sum = 0;
    for (int j = 1; j < V; j++) if (row[j] > mx) mx = row[j];
    for (int j = 0; j < V; j++) sum += exp(row[j] - mx);
    return row[id] - mx - log(sum);
}

static int argmax(const float *row, int V) {
    int b = 0;
    for (int j = 1; j < V; j++) if (row[j] > row[b]) b = j;
    return b;
}

static void test_model(const char *model, const char *ref, double tol, double margin) {
    char path[256];
    snprintf(path, sizeof path, "tests/data/arch/%s.gguf", model);
    atn_model *m = test_load_model(path);
    CHECK(m != NULL, "%s", model);
    if (!m) return;
    snprintf(path, sizeof path, "tests/data/arch/%s.llamacpp.json", ref);
    static oracle_t o;
    int ok = read_oracle(path, &o) == 0;
    CHECK(ok, "reference %s", path);
    atn_session *s = ok ? atn_session_new(m, o.n_ctx) : NULL;
    CHECK(!ok || s != NULL, "%s: session: %s", ref, atn_last_error());
    if (!s) { atn_model_free(m); return; }
    int V = atn_model_n_vocab(m), n = o.n_ids;

    /* teacher-forced log-probs */
    float lp[MAX_IDS];
    CHECK(atn_score(s, o.ids, n, lp) == n - 1, "%s: score: %s", ref, atn_last_error());
    double worst = 0;
    for (int i = 0; i < n - 1; i++) if (fabs(lp[i] - o.teacher[i]) > worst) worst = fabs(lp[i] - o.teacher[i]);
    CHECK(worst <= tol, "%s: teacher-forced log-probs differ from llama.cpp's by %.3g > %g", ref, worst, tol);
    printf("  %-16s teacher-forced max |diff| %.2e", ref, worst);

    /* every row of a batched eval at llama.cpp's top 8 */
    atn_session_truncate(s, 0);
    CHECK(atn_eval(s, o.ids, n - 1, 1) == 0, "%s: eval: %s", ref, atn_last_error());
    float *rows = malloc((size_t)(n - 1) * V * sizeof(float));
    worst = 0;
    for (int i = 0; i < n - 1; i++) {
        memcpy(rows + (size_t)i * V, atn_logits(s, i), (size_t)V * sizeof(float));
        for (int k = 0; k < TOP; k++) {
            double d = fabs(logprob(rows + (size_t)i * V, V, o.top_id[i][k]) - o.top_lp[i][k]);
            if (d > worst) worst = d;
        }
    }
    CHECK(worst <= tol, "%s: top-8 log-probs differ from llama.cpp's by %.3g > %g", ref, worst, tol);
    printf(", top-8 %.2e", worst);

    /* token by token: the same rows */
    atn_session_truncate(s, 0);
    worst = 0;
    for (int i = 0; i < n - 1; i++) {
        if (atn_eval(s, o.ids + i, 1, 0) != 0) { worst = INFINITY; break; }
        const float *row = atn_logits(s, -1);
        for (int j = 0; j < V; j++) {
            double d = fabs((double)row[j] - rows[(size_t)i * V + j]);
            if (d > worst) worst = d;
        }
    }
    CHECK(worst <= 1e-3, "%s: token by token vs batched logits: %.3g", ref, worst);
    free(rows);

    /* greedy: following llama.cpp's 16 greedy ids, atento's argmax at each
     * step must be llama.cpp's wherever llama.cpp's margin is clear */
    atn_session_truncate(s, 0);
    CHECK(atn_eval(s, o.prompt, 8, 0) == 0, "%s", atn_last_error());
    int clear = 0, same = 0;
    for (int i = 0; i < o.n_greedy; i++) {
        int id = argmax(atn_logits(s, -1), V);
        if (o.margin[i] > margin) {
            clear++;
            same += id == o.greedy[i];
            CHECK(id == o.greedy[i], "%s: greedy token %d is %d, llama.cpp's %d (its margin %.3g)", ref, i, id,
                  o.greedy[i], o.margin[i]);
        }
        if (atn_eval(s, &o.greedy[i], 1, 0) != 0) break;
    }
    CHECK(clear >= 6, "%s: only %d greedy steps with a clear margin", ref, clear);
    printf(", greedy %d/%d equal (of %d)\n", same, clear, o.n_greedy);
    atn_session_free(s);
    atn_model_free(m);
}

/* The f32 logits of every position against the NumPy float64 reference
 * (file: int32 n, int32 V, n ids, n x V float32 logits). */
static void test_numpy(const char *model, const char *ref, int n_ctx, double tol) {
    char path[256];
    snprintf(path, sizeof path, "tests/data/arch/%s.ref", ref);
    size_t size;
    char *p = read_file(path, &size);
    CHECK(p && size >= 8, "reference %s", path);
    if (!p) return;
    int32_t n, V;
    memcpy(&n, p, 4);
    memcpy(&V, p + 4, 4);
    int ok = n > 0 && n <= MAX_IDS && V > 0 && size == 8 + (size_t)n * 4 + (size_t)n * V * 4;
    CHECK(ok, "%s: bad size", path);
    snprintf(path, sizeof path, "tests/data/arch/%s.gguf", model);
    atn_model *m = ok ? test_load_model(path) : NULL;
    atn_session *s = m ? atn_session_new(m, n_ctx) : NULL;
    if (!s || atn_model_n_vocab(m) != V) {
        CHECK(0, "%s: %s", ref, atn_last_error());
    } else {
        int32_t ids[MAX_IDS];
        memcpy(ids, p + 8, (size_t)n * 4);
        const float *want = (const float *)(p + 8 + (size_t)n * 4);
        double scale = 0, worst = 0;
        for (size_t i = 0; i < (size_t)n * V; i++) if (fabs(want[i]) > scale) scale = fabs(want[i]);
        CHECK(atn_eval(s, ids, n, 1) == 0, "%s: %s", ref, atn_last_error());
        for (int i = 0; i < n; i++) {
            const float *row = atn_logits(s, i);
            for (int j = 0; row && j < V; j++) {
                double d = fabs((double)row[j] - want[(size_t)i * V + j]);
                if (d > worst) worst = d;
            }
        }
        CHECK(worst <= tol * scale, "%s: logits differ from NumPy's by %.3g (scale %.3g)", ref, worst, scale);
        printf("  %-16s NumPy float64: max |diff| / scale = %.2e\n", ref, worst / scale);
    }
    atn_session_free(s);
    atn_model_free(m);
    atn_free(p);
}

/* Sliding windows, soft-capping, q/k norms and fused matmuls split over
 * threads give the same bits as one thread (a build without threads keeps
 * one and the check holds trivially). */
static void test_threads(void) {
    static const char *models[] = {"gemma2_q8_0", "gemma3_f32", "phi3_q8_0", "qwen3_f32"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/data/arch/%s.gguf", models[i]);
        atn_model *m = test_load_model(path);
        if (!m) { CHECK(0, "%s", path); continue; }
        int V = atn_model_n_vocab(m), n = 40;
        int32_t ids[40];
        for (int j = 0; j < n; j++) ids[j] = 1 + (j * 37 + 11) % (V - 1);
        float *one = malloc((size_t)n * V * sizeof(float));
        int same = 1;
        for (int th = 1; th <= 3; th++) {
            atn_set_threads(th);
            atn_session *s = atn_session_new(m, 1024);
            if (!s || atn_eval(s, ids, n, 1) != 0) { CHECK(0, "%s: %s", models[i], atn_last_error()); same = 0; }
            for (int r = 0; s && r < n; r++) {
                if (th == 1) memcpy(one + (size_t)r * V, atn_logits(s, r), (size_t)V * sizeof(float));
                else if (memcmp(one + (size_t)r * V, atn_logits(s, r), (size_t)V * sizeof(float))) same = 0;
            }
            atn_session_free(s);
        }
        atn_set_threads(1);
        CHECK(same, "%s: logits with 2-3 threads differ from 1 thread", models[i]);
        free(one);
        atn_model_free(m);
    }
}

/* A copy of tests/data/arch/MODEL.gguf with the 4-byte value of `key`
 * replaced (or the string `from` renamed to `to`) must be refused with a
 * message containing `want`. */
static void refused(const char *model, const char *key, uint32_t value, const char *from, const char *to,
                    const char *want) {
    char path[256];
    snprintf(path, sizeof path, "tests/data/arch/%s.gguf", model);
    size_t size;
    unsigned char *data = read_file(path, &size);
    if (!data) { CHECK(0, "%s", path); return; }
    const char *needle = key ? key : from;
    size_t nl = strlen(needle);
    int patched = 0;
    for (size_t i = 8; i + nl + 8 < size && !patched; i++) {
        uint64_t len;
        if (memcmp(data + i, needle, nl) != 0) continue;
        memcpy(&len, data + i - 8, 8);
        if (len != nl) continue; /* the whole key or name, not a prefix of a longer one */
        if (key) memcpy(data + i + nl + 4, &value, 4); /* after the u32 type tag */
        else memcpy(data + i, to, nl);
        patched = 1;
    }
    CHECK(patched, "%s: %s not found", model, needle);
    atn_model *m = atn_model_load(data, size, 1);
    CHECK(m == NULL && strstr(atn_last_error(), want), "%s with %s changed: %s", model, needle,
          m ? "loaded" : atn_last_error());
    if (m) atn_model_free(m);
    else printf("  refused: %s\n", atn_last_error());
}

static void test_refusals(void) {
    float neg = -1.0f;
    uint32_t neg_bits, nan_bits = 0x7fc00000u;
    memcpy(&neg_bits, &neg, 4);
    refused("qwen3_f32", "qwen3.attention.value_length", 16, NULL, NULL, "value_length 16 differs");
    refused("qwen3_f32", "qwen3.attention.key_length", 1u << 20, NULL, NULL, "key_length");
    refused("qwen3_f32", "qwen3.attention.head_count", 8, NULL, NULL, "attn_q.weight has shape");
    refused("gemma2_f32", "gemma2.attn_logit_softcapping", neg_bits, NULL, NULL, "soft-capping");
    refused("phi3_f32", "phi3.rope.scaling.attn_factor", nan_bits, NULL, NULL, "attn_factor");
    refused("gemma2_f32", NULL, 0, "blk.1.post_ffw_norm.weight", "blk.1.post_ffw_norm.weighs",
            "blk.1.post_ffw_norm.weight is missing");
    refused("phi3_q8_0", NULL, 0, "blk.0.attn_qkv.weight", "blk.0.attn_qkx.weight", "attn_qkv.weight is missing");
    refused("qwen3_q8_0", NULL, 0, "blk.1.attn_k_norm.weight", "blk.1.attn_k_norm.weighs", "attn_k_norm.weight is missing");
}

/* The hyper-parameters each architecture adds, as inspect shows them. */
static void test_info(void) {
    static const struct { const char *model, *want; } cases[] = {
        {"qwen3_f32", "\"qk_norm\":true"},
        {"qwen3_f32", "\"head_dim\":32"},
        {"gemma2_f32", "\"sliding_window\":8,\"attn_softcap\":8,\"final_softcap\":10"},
        {"gemma3_f32", "\"sliding_window\":8,\"attn_softcap\":0,\"final_softcap\":0"},
        {"phi3_f32", "\"rope_factors\":true"},
        {"llama31_f32", "\"rope_factors\":true"},
        {"llama31_f32", "\"rope_mode\":\"normal\""},
        {"gemma3_f32", "\"rope_mode\":\"neox\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/data/arch/%s.gguf", cases[i].model);
        atn_model *m = test_load_model(path);
        if (!m) { CHECK(0, "%s", path); continue; }
        const char *info = atn_model_info_json(m);
        CHECK(info && strstr(info, cases[i].want), "%s: info lacks %s: %s", cases[i].model, cases[i].want, info);
        atn_model_free(m);
    }
}

int main(void) {
    static const char *archs[] = {"qwen3", "gemma2", "gemma3", "phi3", "llama31"};
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        char f32[32], q8[32], f32l[48], q8l[48];
        snprintf(f32, sizeof f32, "%s_f32", archs[a]);
        snprintf(q8, sizeof q8, "%s_q8_0", archs[a]);
        double numpy_tol = !strncmp(archs[a], "gemma", 5) ? NUMPY_GELU_TOL : NUMPY_TOL;
        test_model(f32, f32, F32_TOL, 0.02);
        test_model(q8, q8, Q8_TOL, 0.3);
        test_numpy(f32, f32, 256, numpy_tol);
        if (!strcmp(archs[a], "phi3")) {
            snprintf(f32l, sizeof f32l, "%s_long", f32);
            snprintf(q8l, sizeof q8l, "%s_long", q8);
            test_model(f32, f32l, F32_TOL, 0.02);
            test_model(q8, q8l, Q8_TOL, 0.3);
            test_numpy(f32, f32l, 1024, numpy_tol);
        }
    }
    test_info();
    test_threads();
    test_refusals();
    return test_summary();
}
