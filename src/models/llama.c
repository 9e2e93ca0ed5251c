/* llama.c — the decoder-only forward pass of GGUF architectures "llama"
 * (Llama 2/3, TinyLlama, SmolLM) and "qwen2" (the same plus q/k/v biases).
 *
 * One layer, for a batch of T tokens at positions p0 .. p0+T-1:
 *
 *   h   = x + Wo · attn(rope(Wq·rmsnorm(x) + bq), rope(Wk·… + bk), Wv·… + bv)
 *   x'  = h + Wdown · (silu(Wgate·rmsnorm(h)) * Wup·rmsnorm(h))
 *
 * and at the end logits = Wout · rmsnorm(x) (Wout = token_embd when the file
 * has no output.weight: tied embeddings).
 *
 * Conventions (docs/conventions.md, "forward pass"): a weight W with
 * ne = {n_in, n_out} computes y = W x with atn_matmul, the weights stay in
 * their GGUF blocks. RoPE: "llama" GGUFs hold Q/K rows permuted by the
 * converter so a rotation pair is two ADJACENT values (2i, 2i+1) ("normal"
 * mode); "qwen2" GGUFs are not permuted and pair i with i + n_rot/2 ("neox"
 * mode), as llama.cpp's llama_model_rope_type says. Angle: pos * base^(-2i/n_rot).
 *
 * Buffers (activations, KV cache) are allocated once per session; the token
 * loop allocates nothing except when all_logits asks for more logit rows than
 * ever before.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../checked.h"
#include "../error.h"
#include "../gguf.h"
#include "../kernels.h"
#include "../model.h"
#include "../tensor.h"
#include "../threads.h"

#define LLAMA_BATCH 64 /* tokens per matrix-matrix step of a prefill */
#define MAX_LAYERS 512

typedef struct {
    const atn_tensor *wq, *wk, *wv, *wo;       /* {d, d}, {d, kv}, {d, kv}, {d, d} */
    const atn_tensor *w_gate, *w_up, *w_down;  /* {d, ff}, {d, ff}, {ff, d} */
    float *attn_norm, *ffn_norm;               /* [d] */
    float *bq, *bk, *bv;                       /* [d], [kv], [kv] or NULL (qwen2) */
} llama_layer;

typedef struct {
    int n_layer, d, n_head, n_head_kv, head_dim, kv_dim, n_ff, n_rot, n_vocab, n_ctx;
    float eps, freq_base;
    int neox;                 /* RoPE pairing: 0 adjacent (llama), 1 half-offset (qwen2) */
    const atn_tensor *tok_embd; /* {d, n_vocab} */
    const atn_tensor *output;   /* {d, n_vocab}; == tok_embd when tied */
    float *output_norm;         /* [d] */
    float *inv_freq;            /* [n_rot / 2]: base^(-2i/n_rot) */
    llama_layer *layers;
    float *vecs;                /* storage of every f32 vector above */
} llama_model;

typedef struct {
    float *x;       /* [B][d]  residual stream */
    float *xb;      /* [B][d]  normed input of a sub-layer */
    float *xb2;     /* [B][d]  sub-layer output */
    float *q;       /* [B][d] */
    float *k, *v;   /* [B][kv] */
    float *att;     /* [B][d]  attention output (heads concatenated) */
    float *hb, *hb2; /* [B][ff] */
    float *scores;  /* [n_ctx] */
    float *rope;    /* [B][n_rot]: cos, sin pairs per frequency */
    float *kc, *vc; /* [n_layer][n_ctx][kv] */
    int batch;      /* B: tokens per forward step (LLAMA_BATCH, fewer for huge widths) */
} llama_state;

/* ---- loading ------------------------------------------------------------ */

static int get_u32(const atn_model *m, const char *key, int *out, int required, int def) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", m->arch_name, key);
    uint32_t v;
    int r = atn_gguf_get_u32(m->gguf, k, &v);
    if (r == -1 && !required) { *out = def; return 0; }
    if (r != 0) return atn_error("llama: %s is %s", k, r == -1 ? "missing" : "not an unsigned integer");
    if (v > 0x7fffffff) return atn_error("llama: %s = %u is too large", k, v);
    *out = (int)v;
    return 0;
}

static int get_f32(const atn_model *m, const char *key, float *out, float def) {
    char k[128];
    snprintf(k, sizeof k, "%s.%s", m->arch_name, key);
    int r = atn_gguf_get_f32(m->gguf, k, out);
    if (r == -1) { *out = def; return 0; }
    if (r != 0) return atn_error("llama: %s is not a number", k);
    return 0;
}

/* A 2-D weight {n_in, n_out} that atn_matmul can use, or NULL + error. */
static const atn_tensor *matrix(const atn_model *m, const char *name, int64_t n_in, int64_t n_out, int required) {
    const atn_tensor *t = atn_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (required) atn_error("llama: tensor %s is missing", name);
        return NULL;
    }
    if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1) {
        atn_error("llama: tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name,
                  (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3],
                  (long long)n_in, (long long)n_out);
        return NULL;
    }
    if (!atn_type_known(t->type) || atn_row_size(t->type, n_in) == 0) {
        atn_error("llama: tensor %s: type %s cannot hold rows of %lld values", name, atn_type_name(t->type),
                  (long long)n_in);
        return NULL;
    }
    return t;
}

/* A vector of n values. With *pool == NULL only checked and counted into
 * *count (the first pass, before anything is allocated); otherwise
 * converted to f32 into *pool. */
static int vector(const atn_model *m, const char *name, int64_t n, int required, float **pool, size_t *count,
                  float **out) {
    const atn_tensor *t = atn_gguf_find_tensor(m->gguf, name);
    *out = NULL;
    if (!t) return required ? atn_error("llama: tensor %s is missing", name) : 0;
    if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
        return atn_error("llama: tensor %s has %lld x %lld values, expected a vector of %lld", name,
                         (long long)t->ne[0], (long long)t->ne[1], (long long)n);
    if (!atn_type_known(t->type) || atn_row_size(t->type, n) == 0)
        return atn_error("llama: tensor %s: type %s cannot hold %lld values", name, atn_type_name(t->type), (long long)n);
    if (!*pool) {
        *count = atn_add_size(*count, (size_t)n);
        return 0;
    }
    atn_get_row(t, 0, *pool);
    *out = *pool;
    *pool += n;
    return 0;
}

/* Every 1-D tensor (norms, biases): counted when *pool is NULL, else read. */
static int load_vectors(const atn_model *m, llama_model *lm, float **pool, size_t *count) {
    int64_t d = lm->d, kv = lm->kv_dim;
    if (vector(m, "output_norm.weight", d, 1, pool, count, &lm->output_norm)) return -1;
    for (int l = 0; l < lm->n_layer; l++) {
        llama_layer *L = &lm->layers[l];
        char n[64];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        if (vector(m, NAME("attn_norm.weight"), d, 1, pool, count, &L->attn_norm) ||
            vector(m, NAME("ffn_norm.weight"), d, 1, pool, count, &L->ffn_norm) ||
            vector(m, NAME("attn_q.bias"), d, 0, pool, count, &L->bq) ||
            vector(m, NAME("attn_k.bias"), kv, 0, pool, count, &L->bk) ||
            vector(m, NAME("attn_v.bias"), kv, 0, pool, count, &L->bv))
            return -1;
#undef NAME
    }
    return 0;
}

static void llama_free(atn_model *m) {
    llama_model *lm = m->impl;
    if (!lm) return;
    free(lm->layers);
    free(lm->vecs);
    free(lm->inv_freq);
    free(lm);
    m->impl = NULL;
}

static int llama_load(atn_model *m) {
    llama_model *lm = calloc(1, sizeof *lm);
    if (!lm) return atn_error("llama: out of memory");
    m->impl = lm;
    if (get_u32(m, "block_count", &lm->n_layer, 1, 0) || get_u32(m, "embedding_length", &lm->d, 1, 0) ||
        get_u32(m, "feed_forward_length", &lm->n_ff, 1, 0) || get_u32(m, "attention.head_count", &lm->n_head, 1, 0) ||
        get_u32(m, "attention.head_count_kv", &lm->n_head_kv, 0, lm->n_head) ||
        get_u32(m, "context_length", &lm->n_ctx, 0, 2048) ||
        get_f32(m, "attention.layer_norm_rms_epsilon", &lm->eps, 1e-5f) ||
        get_f32(m, "rope.freq_base", &lm->freq_base, 10000.0f))
        return -1;
    if (lm->n_layer < 1 || lm->n_layer > MAX_LAYERS || lm->d < 1 || lm->d > 65536 || lm->n_ff < 1 ||
        lm->n_ff > 1 << 20 || lm->n_head < 1 || lm->d % lm->n_head || lm->n_head_kv < 1 ||
        lm->n_head % lm->n_head_kv || lm->n_ctx < 1)
        return atn_error("llama: bad hyper-parameters (layers %d, width %d, heads %d/%d, ffn %d, ctx %d)", lm->n_layer,
                         lm->d, lm->n_head, lm->n_head_kv, lm->n_ff, lm->n_ctx);
    lm->head_dim = lm->d / lm->n_head;
    lm->kv_dim = lm->head_dim * lm->n_head_kv;
    if (get_u32(m, "rope.dimension_count", &lm->n_rot, 0, lm->head_dim)) return -1;
    if (lm->n_rot < 0 || lm->n_rot > lm->head_dim || lm->n_rot % 2)
        return atn_error("llama: rope.dimension_count %d does not fit heads of %d", lm->n_rot, lm->head_dim);
    if (!(lm->eps > 0 && lm->eps < 1)) return atn_error("llama: bad RMS norm epsilon %g", (double)lm->eps);
    if (!(lm->freq_base > 0 && isfinite(lm->freq_base))) return atn_error("llama: bad rope.freq_base %g", (double)lm->freq_base);
    lm->neox = strcmp(m->arch_name, "qwen2") == 0;

    const atn_tensor *te = atn_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return atn_error("llama: tensor token_embd.weight is missing");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24)) return atn_error("llama: token_embd.weight has a bad vocabulary size");
    lm->n_vocab = (int)te->ne[1];
    int64_t d = lm->d, kv = lm->kv_dim, ff = lm->n_ff, V = lm->n_vocab;
    if (!(lm->tok_embd = matrix(m, "token_embd.weight", d, V, 1))) return -1;
    lm->output = matrix(m, "output.weight", d, V, 0);
    if (!lm->output) {
        if (atn_gguf_find_tensor(m->gguf, "output.weight")) return -1; /* present but wrong */
        lm->output = lm->tok_embd;
    }

    /* Every tensor is checked before anything that depends on the
     * hyper-parameters is allocated: the layer table is bounded by
     * MAX_LAYERS, and the f32 copies of the vectors by the vectors the file
     * really holds (a 43 KB file claiming 512 layers of width 65536 fails
     * here, having asked for nothing). */
    lm->layers = calloc((size_t)lm->n_layer, sizeof(llama_layer));
    if (!lm->layers) return atn_error("llama: out of memory");
    for (int l = 0; l < lm->n_layer; l++) {
        llama_layer *L = &lm->layers[l];
        char n[64];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        if (!(L->wq = matrix(m, NAME("attn_q.weight"), d, d, 1)) || !(L->wk = matrix(m, NAME("attn_k.weight"), d, kv, 1)) ||
            !(L->wv = matrix(m, NAME("attn_v.weight"), d, kv, 1)) ||
            !(L->wo = matrix(m, NAME("attn_output.weight"), d, d, 1)) ||
            !(L->w_gate = matrix(m, NAME("ffn_gate.weight"), d, ff, 1)) ||
            !(L->w_up = matrix(m, NAME("ffn_up.weight"), d, ff, 1)) ||
            !(L->w_down = matrix(m, NAME("ffn_down.weight"), ff, d, 1)))
            return -1;
#undef NAME
    }
    float *pool = NULL;
    size_t nvec = 0;
    if (load_vectors(m, lm, &pool, &nvec)) return -1;
    lm->vecs = atn_malloc_array(nvec, sizeof(float));
    lm->inv_freq = malloc((size_t)(lm->n_rot / 2 + 1) * sizeof(float));
    if (!lm->vecs || !lm->inv_freq) return atn_error("llama: out of memory");
    for (int i = 0; i < lm->n_rot / 2; i++) lm->inv_freq[i] = (float)pow((double)lm->freq_base, -2.0 * i / lm->n_rot);
    pool = lm->vecs;
    if (load_vectors(m, lm, &pool, &nvec)) return -1;
    m->n_vocab = lm->n_vocab;
    m->n_ctx_train = lm->n_ctx;
    return 0;
}

static int llama_info_json(const atn_model *m, char *buf, int cap) {
    const llama_model *lm = m->impl;
    int n = snprintf(buf, (size_t)cap,
                     "\"n_layer\":%d,\"n_embd\":%d,\"n_head\":%d,\"n_head_kv\":%d,\"head_dim\":%d,\"n_ff\":%d,"
                     "\"n_vocab\":%d,\"n_ctx_train\":%d,\"rms_norm_eps\":%g,\"rope_freq_base\":%g,\"n_rot\":%d,"
                     "\"rope_mode\":\"%s\",\"tied_output\":%s,\"qkv_bias\":%s",
                     lm->n_layer, lm->d, lm->n_head, lm->n_head_kv, lm->head_dim, lm->n_ff, lm->n_vocab, lm->n_ctx,
                     (double)lm->eps, (double)lm->freq_base, lm->n_rot, lm->neox ? "neox" : "normal",
                     lm->output == lm->tok_embd ? "true" : "false", lm->layers[0].bq ? "true" : "false");
    return n < 0 ? 0 : (n >= cap ? cap - 1 : n);
}

/* ---- sessions ----------------------------------------------------------- */

static void llama_session_free(atn_session *s) {
    llama_state *st = s->impl;
    if (st) {
        free(st->x); free(st->xb); free(st->xb2); free(st->q); free(st->k); free(st->v); free(st->att);
        free(st->hb); free(st->hb2); free(st->scores); free(st->rope); free(st->kc); free(st->vc);
        free(st);
    }
    s->impl = NULL;
    free(s->logits);
    s->logits = NULL;
    s->n_logits_cap = 0;
}

/* Activation buffers hold `batch` tokens. LLAMA_BATCH unless a token's
 * activations are so wide (a file with a huge feed-forward over a tiny
 * width) that LLAMA_BATCH of them would outweigh the model itself: then the
 * batch shrinks so the buffers stay within the file's size (or 16 MiB). */
static int session_batch(const atn_model *m, size_t per_token_bytes) {
    size_t budget = m->size > ((size_t)16 << 20) ? m->size : ((size_t)16 << 20);
    size_t b = per_token_bytes ? budget / per_token_bytes : LLAMA_BATCH;
    return b >= LLAMA_BATCH ? LLAMA_BATCH : b < 1 ? 1 : (int)b;
}

static int llama_session_init(atn_session *s) {
    const llama_model *lm = s->model->impl;
    llama_state *st = calloc(1, sizeof *st);
    if (!st) return atn_error("llama: out of memory");
    s->impl = st;
    size_t d = (size_t)lm->d, kv = (size_t)lm->kv_dim, ff = (size_t)lm->n_ff, rot = (size_t)lm->n_rot + 2;
    /* floats per token: x, xb, xb2, q, att (d each), k, v (kv), hb, hb2 (ff), rope */
    size_t per_token = 5 * d + 2 * kv + 2 * ff + rot; /* each term < 2^22: no overflow */
    st->batch = session_batch(s->model, per_token * sizeof(float));
    size_t B = (size_t)st->batch;
    /* the KV cache: n_layer * n_ctx * kv floats, twice; wraps in 32 bits for
     * real shapes (Llama-3.2-1B at 131072 tokens: exactly 2^32 bytes) */
    size_t cache = atn_mul_size(atn_mul_size((size_t)lm->n_layer, (size_t)s->n_ctx), kv);
    size_t cache_bytes = atn_mul_size(cache, 2 * sizeof(float));
    if (!atn_size_ok(cache_bytes))
        return atn_error("llama: a session of %d tokens needs a %.1f GiB KV cache, more than %s can address", s->n_ctx,
                         2.0 * lm->n_layer * (double)s->n_ctx * (double)kv * sizeof(float) / (1 << 30),
                         sizeof(size_t) < 8 ? "WebAssembly (4 GiB)" : "this machine");
    st->x = atn_malloc_array(B * d, sizeof(float));
    st->xb = atn_malloc_array(B * d, sizeof(float));
    st->xb2 = atn_malloc_array(B * d, sizeof(float));
    st->q = atn_malloc_array(B * d, sizeof(float));
    st->k = atn_malloc_array(B * kv, sizeof(float));
    st->v = atn_malloc_array(B * kv, sizeof(float));
    st->att = atn_malloc_array(B * d, sizeof(float));
    st->hb = atn_malloc_array(B * ff, sizeof(float));
    st->hb2 = atn_malloc_array(B * ff, sizeof(float));
    st->scores = atn_malloc_array((size_t)s->n_ctx, sizeof(float));
    st->rope = atn_malloc_array(B * rot, sizeof(float));
    st->kc = atn_malloc_array(cache, sizeof(float));
    st->vc = atn_malloc_array(cache, sizeof(float));
    s->logits = atn_malloc_array((size_t)lm->n_vocab, sizeof(float));
    s->n_logits_cap = 1;
    if (!st->x || !st->xb || !st->xb2 || !st->q || !st->k || !st->v || !st->att || !st->hb || !st->hb2 ||
        !st->scores || !st->rope || !st->kc || !st->vc || !s->logits)
        return atn_error("llama: out of memory for a session of %d tokens (KV cache %zu MiB)", s->n_ctx,
                         cache_bytes >> 20);
    return 0;
}

/* ---- the forward pass --------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float r = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * r * w[i];
}

/* Rotate the first n_rot values of each of n_heads heads of vec. cs holds
 * (cos, sin) for each frequency at this token's position. */
static void rope(float *vec, int n_heads, int head_dim, int n_rot, int neox, const float *cs) {
    int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = vec + h * head_dim;
        for (int i = 0; i < half; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float c = cs[2 * i], s = cs[2 * i + 1];
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

/* Causal attention of T tokens x n_head heads over the cache, split over
 * the pool by (token, head) pairs; each pair is computed as one thread
 * would, so the split does not change the result. */
typedef struct {
    const llama_model *lm;
    llama_state *st;
    const float *kc, *vc;
    int p0;
} attention_job;

static void attention_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    const attention_job *j = ctx;
    const llama_model *lm = j->lm;
    const int d = lm->d, kv = lm->kv_dim, hd = lm->head_dim, group = lm->n_head / lm->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = thread ? atn_thread_scratch(thread) : j->st->scores;
    for (int64_t i = i0; i < i1; i++) {
        int t = (int)(i / lm->n_head), h = (int)(i % lm->n_head);
        int n_pos = j->p0 + t + 1; /* causal: positions 0..p0+t */
        const float *q = j->st->q + (size_t)t * d + (size_t)h * hd;
        int off = (h / group) * hd;
        atn_dot_rows_f32(q, j->kc + off, (size_t)kv, n_pos, hd, sc);
        atn_softmax_f32(sc, n_pos, scale);
        float *out = j->st->att + (size_t)t * d + (size_t)h * hd;
        memset(out, 0, (size_t)hd * sizeof(float));
        atn_axpy_rows_f32(sc, j->vc + off, (size_t)kv, n_pos, hd, out);
    }
}

static void attention(const llama_model *lm, llama_state *st, const float *kc, const float *vc, int T, int p0, int n_ctx) {
    attention_job j = {lm, st, kc, vc, p0};
    int64_t items = (int64_t)T * lm->n_head;
    /* chunks of at least ~32k multiply-adds; inline when scratch is short */
    int64_t grain = 32768 / ((int64_t)(p0 + T) * lm->head_dim + 1) + 1;
    if (!atn_threads_reserve((size_t)n_ctx * sizeof(float))) grain = items;
    atn_parallel_for(items, grain, attention_task, &j);
}

/* One batch of T <= st->batch tokens at positions p0..p0+T-1; writes the
 * logits of every token (all != 0) or of the last into `logits`. */
static void forward(atn_session *s, const int32_t *tokens, int T, int p0, int all, float *logits) {
    const llama_model *lm = s->model->impl;
    llama_state *st = s->impl;
    const int d = lm->d, kv = lm->kv_dim, hd = lm->head_dim, ff = lm->n_ff, n_ctx = s->n_ctx;

    for (int t = 0; t < T; t++) {
        atn_get_row(lm->tok_embd, tokens[t], st->x + (size_t)t * d);
        float *cs = st->rope + (size_t)t * (lm->n_rot + 2);
        for (int i = 0; i < lm->n_rot / 2; i++) {
            double th = (double)(p0 + t) * lm->inv_freq[i];
            cs[2 * i] = (float)cos(th);
            cs[2 * i + 1] = (float)sin(th);
        }
    }
    for (int l = 0; l < lm->n_layer; l++) {
        const llama_layer *L = &lm->layers[l];
        float *kc = st->kc + (size_t)l * n_ctx * kv, *vc = st->vc + (size_t)l * n_ctx * kv;
        /* attention */
        for (int t = 0; t < T; t++) rmsnorm(st->xb + (size_t)t * d, st->x + (size_t)t * d, L->attn_norm, d, lm->eps);
        atn_matmul(L->wq, st->xb, T, st->q);
        atn_matmul(L->wk, st->xb, T, st->k);
        atn_matmul(L->wv, st->xb, T, st->v);
        for (int t = 0; t < T; t++) {
            float *q = st->q + (size_t)t * d, *k = st->k + (size_t)t * kv, *v = st->v + (size_t)t * kv;
            if (L->bq) for (int i = 0; i < d; i++) q[i] += L->bq[i];
            if (L->bk) for (int i = 0; i < kv; i++) k[i] += L->bk[i];
            if (L->bv) for (int i = 0; i < kv; i++) v[i] += L->bv[i];
            const float *cs = st->rope + (size_t)t * (lm->n_rot + 2);
            rope(q, lm->n_head, hd, lm->n_rot, lm->neox, cs);
            rope(k, lm->n_head_kv, hd, lm->n_rot, lm->neox, cs);
            memcpy(kc + (size_t)(p0 + t) * kv, k, (size_t)kv * sizeof(float));
            memcpy(vc + (size_t)(p0 + t) * kv, v, (size_t)kv * sizeof(float));
        }
        attention(lm, st, kc, vc, T, p0, n_ctx);
        atn_matmul(L->wo, st->att, T, st->xb2);
        for (size_t i = 0; i < (size_t)T * d; i++) st->x[i] += st->xb2[i];
        /* feed-forward (SwiGLU) */
        for (int t = 0; t < T; t++) rmsnorm(st->xb + (size_t)t * d, st->x + (size_t)t * d, L->ffn_norm, d, lm->eps);
        atn_matmul(L->w_gate, st->xb, T, st->hb);
        atn_matmul(L->w_up, st->xb, T, st->hb2);
        atn_silu_mul_f32(st->hb, st->hb2, T * ff);
        atn_matmul(L->w_down, st->hb, T, st->xb2);
        for (size_t i = 0; i < (size_t)T * d; i++) st->x[i] += st->xb2[i];
    }
    if (!logits) return; /* an inner batch of a prefill that keeps only the last logits */
    if (all) {
        for (int t = 0; t < T; t++) rmsnorm(st->xb + (size_t)t * d, st->x + (size_t)t * d, lm->output_norm, d, lm->eps);
        atn_matmul(lm->output, st->xb, T, logits);
    } else {
        rmsnorm(st->xb, st->x + (size_t)(T - 1) * d, lm->output_norm, d, lm->eps);
        atn_matmul(lm->output, st->xb, 1, logits);
    }
}

static int llama_eval(atn_session *s, const int32_t *tokens, int n, int all_logits) {
    const llama_model *lm = s->model->impl;
    const llama_state *st = s->impl;
    int rows = all_logits ? n : 1;
    if (rows > s->n_logits_cap) {
        float *p = atn_realloc_array(s->logits, atn_mul_size((size_t)rows, (size_t)lm->n_vocab), sizeof(float));
        if (!p) return atn_error("llama: out of memory for %d rows of logits", rows);
        s->logits = p;
        s->n_logits_cap = rows;
    }
    for (int i = 0; i < n; i += st->batch) {
        int T = n - i < st->batch ? n - i : st->batch;
        int last = i + T == n;
        if (all_logits) forward(s, tokens + i, T, s->n_past + i, 1, s->logits + (size_t)i * lm->n_vocab);
        else forward(s, tokens + i, T, s->n_past + i, 0, last ? s->logits : NULL);
    }
    s->n_logits = rows;
    return 0;
}

const atn_arch atn_arch_llama = {
    "llama", llama_load, llama_free, llama_info_json, llama_session_init, llama_session_free, llama_eval, NULL,
};
