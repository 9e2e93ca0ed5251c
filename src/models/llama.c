/* llama.c — the decoder-only forward pass of the GGUF architectures
 * "llama" (Llama 2/3/3.1+, TinyLlama, SmolLM), "qwen2", "qwen3", "gemma2",
 * "gemma3" and "phi3": one computation with a few switches, each named by
 * what it does (see llama_variant below and docs/conventions.md).
 *
 * One layer, for a batch of T tokens at positions p0 .. p0+T-1:
 *
 *   h   = x + post(Wo · attn(rope(qn(Wq·norm(x) + bq)), rope(kn(Wk·… + bk)), Wv·… + bv))
 *   x'  = h + post(Wdown · (act(Wgate·norm(h)) * Wup·norm(h)))
 *
 * and at the end logits = cap(Wout · rmsnorm(x)) (Wout = token_embd when the
 * file has no output.weight: tied embeddings). What varies:
 *   qn, kn   per-head RMSNorm of q and k (qwen3, gemma3), identity otherwise
 *   post     RMSNorm of a sub-layer's output before the residual add (gemma)
 *   act      silu (SwiGLU) or tanh-approximated gelu (GeGLU, gemma)
 *   attn     causal; on gemma's sliding-window layers only the last n_swa
 *            positions; scores soft-capped (gemma2)
 *   cap      final logit soft-capping (gemma2; gemma3 when the file says)
 *   fused    phi3 stores Wq|Wk|Wv as one attn_qkv and Wgate|Wup as one ffn_up
 * and gemma multiplies the embeddings by sqrt(width).
 *
 * Conventions (docs/conventions.md, "forward pass"): a weight W with
 * ne = {n_in, n_out} computes y = W x with atn_matmul, the weights stay in
 * their GGUF blocks. RoPE: "llama" GGUFs hold Q/K rows permuted by the
 * converter so a rotation pair is two ADJACENT values (2i, 2i+1) ("normal"
 * mode); the other architectures are not permuted and pair i with
 * i + n_rot/2 ("neox" mode), as llama.cpp's llama_model_rope_type says.
 * Angle: pos * scale * base^(-2i/n_rot) / factor_i, where factor_i comes from
 * rope_freqs (Llama 3.1+) or rope_factors_long/short (phi3's LongRoPE).
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
#include "../quant.h"
#include "../tensor.h"
#include "../threads.h"

#define LLAMA_BATCH 64 /* tokens per matrix-matrix step of a prefill */
#define MAX_LAYERS 512

/* What an architecture adds to the Llama computation. */
typedef struct {
    const char *arch;
    int neox;          /* RoPE pairing: 0 adjacent (llama), 1 half-offset */
    int qk_norm;       /* per-head RMSNorm of q and k (attn_q_norm, attn_k_norm) */
    int gemma;         /* embeddings * sqrt(d), post-norms, GeGLU, sliding-window layers */
    int swa_period;    /* gemma: layer l is sliding-window when l % period < period - 1 */
    int fused;         /* attn_qkv and a double-height ffn_up (phi3) */
} llama_variant;

static const llama_variant VARIANTS[] = {
    {"llama", 0, 0, 0, 0, 0},
    {"qwen2", 1, 0, 0, 0, 0},
    {"qwen3", 1, 1, 0, 0, 0},
    {"gemma2", 1, 0, 1, 2, 0},
    {"gemma3", 1, 1, 1, 6, 0},
    {"phi3", 1, 0, 0, 0, 1},
};

typedef struct {
    const atn_tensor *wq, *wk, *wv, *wo;       /* {d, qd}, {d, kv}, {d, kv}, {qd, d} */
    const atn_tensor *wqkv;                    /* fused {d, qd + 2 kv} (phi3), else NULL */
    const atn_tensor *w_gate, *w_up, *w_down;  /* {d, ff}, {d, ff} (fused: {d, 2 ff}, gate rows first), {ff, d} */
    float *attn_norm, *ffn_norm;               /* [d] */
    float *bq, *bk, *bv;                       /* [qd], [kv], [kv] or NULL (qwen2) */
    float *q_norm, *k_norm;                    /* [head_dim] or NULL (qwen3, gemma3) */
    float *attn_post_norm, *ffn_post_norm;     /* [d] or NULL (gemma) */
    int local;                                 /* sliding-window attention, local RoPE (gemma) */
} llama_layer;

typedef struct {
    int n_layer, d, n_head, n_head_kv, head_dim, q_dim, kv_dim, n_ff, n_rot, n_vocab, n_ctx;
    float eps, freq_base;
    const llama_variant *var;
    float freq_scale;         /* 1 / rope.scaling.factor (linear scaling) */
    float rope_mscale;        /* rope.scaling.attn_factor: multiplies cos and sin (phi3) */
    float attn_scale;         /* scores = q.k * attn_scale */
    float attn_softcap;       /* scores = cap * tanh(scores / cap) when > 0 (gemma2) */
    float final_softcap;      /* logits = cap * tanh(logits / cap) when > 0 */
    float embd_scale;         /* embeddings * this (gemma: sqrt(d)), else 1 */
    int n_swa;                /* window of the local layers, in positions */
    int has_local;            /* some layer is local */
    int n_ctx_orig;           /* phi3: sessions longer than this use rope_factors_long */
    const atn_tensor *tok_embd; /* {d, n_vocab} */
    const atn_tensor *output;   /* {d, n_vocab}; == tok_embd when tied */
    float *output_norm;         /* [d] */
    float *inv_freq;            /* [n_rot / 2]: scale * base^(-2i/n_rot) / factor_i */
    float *inv_freq_long;       /* phi3 long-context factors, or NULL */
    float *inv_freq_local;      /* local layers' frequencies (gemma3: base 10000) */
    int has_rope_factors;
    llama_layer *layers;
    float *vecs;                /* storage of every f32 vector above */
} llama_model;

typedef struct {
    int batch;      /* B: tokens per forward step (LLAMA_BATCH, fewer for huge widths) */
    float *x;       /* [B][d]  residual stream */
    float *xb;      /* [B][d]  normed input of a sub-layer */
    float *xb2;     /* [B][d]  sub-layer output */
    float *q;       /* [B][qd] (fused: [B][qd + 2 kv], q|k|v of each token) */
    float *k, *v;   /* [B][kv] */
    float *att;     /* [B][qd] attention output (heads concatenated) */
    float *hb, *hb2; /* [B][ff] (hb: [B][2 ff] when fused) */
    float *scores;  /* [n_ctx] */
    float *rope;    /* [2][B][n_rot + 2]: cos, sin pairs per frequency; [1]: local layers' */
    void *kc, *vc;  /* [n_layer][n_ctx][kv] of f32, or of f16 (kv_f16) */
    int kv_f16;     /* the session's cache is ATN_KV_F16: keys and values rounded to half */
    size_t kv_el;   /* bytes of one cached value: 4, or 2 with kv_f16 */
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

/* Every 1-D tensor (norms, biases, q/k norms, post-norms, RoPE factors):
 * counted when *pool is NULL, else read. */
static int load_vectors(const atn_model *m, llama_model *lm, float **pool, size_t *count, float **factors,
                        float **factors_long) {
    const llama_variant *var = lm->var;
    int64_t d = lm->d, qd = lm->q_dim, kv = lm->kv_dim, hd = lm->head_dim, half = lm->n_rot / 2;
    *factors = *factors_long = NULL;
    if (vector(m, "output_norm.weight", d, 1, pool, count, &lm->output_norm)) return -1;
    /* rope_freqs: Llama 3.1+'s frequency divisors (llama.cpp reads them for "llama") */
    if (!strcmp(m->arch_name, "llama") && vector(m, "rope_freqs.weight", half, 0, pool, count, factors)) return -1;
    if (var->fused && (vector(m, "rope_factors_short.weight", half, 0, pool, count, factors) ||
                       vector(m, "rope_factors_long.weight", half, 0, pool, count, factors_long)))
        return -1;
    for (int l = 0; l < lm->n_layer; l++) {
        llama_layer *L = &lm->layers[l];
        char n[64];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d.%s", l, s), n)
        if (vector(m, NAME("attn_norm.weight"), d, 1, pool, count, &L->attn_norm) ||
            vector(m, NAME("ffn_norm.weight"), d, 1, pool, count, &L->ffn_norm) ||
            vector(m, NAME("attn_q.bias"), qd, 0, pool, count, &L->bq) ||
            vector(m, NAME("attn_k.bias"), kv, 0, pool, count, &L->bk) ||
            vector(m, NAME("attn_v.bias"), kv, 0, pool, count, &L->bv))
            return -1;
        if (var->qk_norm && (vector(m, NAME("attn_q_norm.weight"), hd, 1, pool, count, &L->q_norm) ||
                             vector(m, NAME("attn_k_norm.weight"), hd, 1, pool, count, &L->k_norm)))
            return -1;
        if (var->gemma && (vector(m, NAME("post_attention_norm.weight"), d, 1, pool, count, &L->attn_post_norm) ||
                           vector(m, NAME("post_ffw_norm.weight"), d, 1, pool, count, &L->ffn_post_norm)))
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

/* inv[i] = scale * base^(-2i/n_rot) / factors[i] (factors may be NULL). */
static void rope_freqs(float *inv, int n_rot, float base, float scale, const float *factors) {
    for (int i = 0; i < n_rot / 2; i++)
        inv[i] = (float)((double)scale * pow((double)base, -2.0 * i / n_rot) / (factors ? (double)factors[i] : 1.0));
}

/* RoPE factors divide frequencies: each must be finite and positive. */
static int check_factors(const char *name, const float *f, int n) {
    for (int i = 0; f && i < n; i++)
        if (!(f[i] > 0 && isfinite(f[i])))
            return atn_error("llama: tensor %s holds %g at %d (factors must be positive)", name, (double)f[i], i);
    return 0;
}

/* rope.scaling.type/factor as llama.cpp reads them: absent or "linear"
 * divides positions by the factor, "none" ignores it; other kinds (yarn,
 * longrope as a key) change the frequencies in ways not implemented here. */
static int rope_scaling(const atn_model *m, float *scale) {
    char k[128];
    const char *type = "linear";
    size_t tlen = 6;
    snprintf(k, sizeof k, "%s.rope.scaling.type", m->arch_name);
    int r = atn_gguf_get_str(m->gguf, k, &type, &tlen);
    if (r != 0 && r != -1) return atn_error("llama: %s is not a string", k);
    if (r == -1) { type = "linear"; tlen = 6; }
    float factor = 0;
    if (get_f32(m, "rope.scaling.factor", &factor, 0.0f)) return -1;
    *scale = 1.0f;
    if (tlen == 4 && !memcmp(type, "none", 4)) return 0;
    if (!(tlen == 6 && !memcmp(type, "linear", 6)))
        return atn_error("llama: RoPE scaling '%.*s' is not supported (only linear)", (int)(tlen > 32 ? 32 : tlen), type);
    if (factor == 0) return 0;
    if (!(factor > 0 && isfinite(factor))) return atn_error("llama: bad rope.scaling.factor %g", (double)factor);
    *scale = 1.0f / factor;
    return 0;
}

static int llama_load(atn_model *m) {
    llama_model *lm = calloc(1, sizeof *lm);
    if (!lm) return atn_error("llama: out of memory");
    m->impl = lm;
    for (size_t i = 0; i < sizeof VARIANTS / sizeof VARIANTS[0]; i++)
        if (!strcmp(VARIANTS[i].arch, m->arch_name)) lm->var = &VARIANTS[i];
    if (!lm->var) return atn_error("llama: unsupported architecture '%s'", m->arch_name);
    const llama_variant *var = lm->var;
    int key_len = 0, val_len = 0;
    if (get_u32(m, "block_count", &lm->n_layer, 1, 0) || get_u32(m, "embedding_length", &lm->d, 1, 0) ||
        get_u32(m, "feed_forward_length", &lm->n_ff, 1, 0) || get_u32(m, "attention.head_count", &lm->n_head, 1, 0) ||
        get_u32(m, "attention.head_count_kv", &lm->n_head_kv, 0, lm->n_head) ||
        get_u32(m, "context_length", &lm->n_ctx, 0, 2048) ||
        get_u32(m, "attention.key_length", &key_len, 0, 0) || get_u32(m, "attention.value_length", &val_len, 0, 0) ||
        get_f32(m, "attention.layer_norm_rms_epsilon", &lm->eps, 1e-5f) ||
        get_f32(m, "rope.freq_base", &lm->freq_base, 10000.0f))
        return -1;
    if (lm->n_layer < 1 || lm->n_layer > MAX_LAYERS || lm->d < 1 || lm->d > 65536 || lm->n_ff < 1 ||
        lm->n_ff > 1 << 20 || lm->n_head < 1 || lm->n_head > 4096 || (!key_len && lm->d % lm->n_head) ||
        lm->n_head_kv < 1 || lm->n_head % lm->n_head_kv || lm->n_ctx < 1)
        return atn_error("llama: bad hyper-parameters (layers %d, width %d, heads %d/%d, ffn %d, ctx %d)", lm->n_layer,
                         lm->d, lm->n_head, lm->n_head_kv, lm->n_ff, lm->n_ctx);
    /* attention.key_length: the head size when it is not width / heads
     * (qwen3, gemma); keys and values of different sizes are not supported */
    lm->head_dim = key_len ? key_len : lm->d / lm->n_head;
    if (lm->head_dim < 1 || lm->head_dim > 4096 || (int64_t)lm->head_dim * lm->n_head > 1 << 20)
        return atn_error("llama: bad attention.key_length %d for %d heads", lm->head_dim, lm->n_head);
    if (val_len && val_len != lm->head_dim)
        return atn_error("llama: attention.value_length %d differs from the key length %d (not supported)", val_len,
                         lm->head_dim);
    lm->q_dim = lm->head_dim * lm->n_head;
    lm->kv_dim = lm->head_dim * lm->n_head_kv;
    if (get_u32(m, "rope.dimension_count", &lm->n_rot, 0, lm->head_dim)) return -1;
    if (lm->n_rot < 0 || lm->n_rot > lm->head_dim || lm->n_rot % 2)
        return atn_error("llama: rope.dimension_count %d does not fit heads of %d", lm->n_rot, lm->head_dim);
    if (!(lm->eps > 0 && lm->eps < 1)) return atn_error("llama: bad RMS norm epsilon %g", (double)lm->eps);
    if (!(lm->freq_base > 0 && isfinite(lm->freq_base))) return atn_error("llama: bad rope.freq_base %g", (double)lm->freq_base);
    if (rope_scaling(m, &lm->freq_scale)) return -1;
    lm->rope_mscale = 1.0f;
    lm->attn_scale = 1.0f / sqrtf((float)lm->head_dim);
    lm->embd_scale = 1.0f;
    lm->n_ctx_orig = lm->n_ctx;
    float freq_base_local = lm->freq_base, freq_scale_local = lm->freq_scale;
    if (var->gemma) {
        /* as llama.cpp: gemma2 always has a window (default 4096) on every
         * other layer; gemma3 on 5 of 6 layers when the file gives one, with
         * its own RoPE base 10000 and no scaling there. The attention scale
         * is 1/sqrt(head size), except for the 27B models (recognised by
         * their layer count, as llama.cpp does) where it is 1/sqrt(d/heads). */
        int two = !strcmp(m->arch_name, "gemma2");
        lm->embd_scale = sqrtf((float)lm->d);
        lm->n_swa = two ? 4096 : 0;
        if (get_u32(m, "attention.sliding_window", &lm->n_swa, 0, lm->n_swa)) return -1;
        if (two) {
            lm->attn_softcap = 50.0f;
            lm->final_softcap = 30.0f;
            if (get_f32(m, "attn_logit_softcapping", &lm->attn_softcap, lm->attn_softcap)) return -1;
        } else {
            freq_base_local = 10000.0f;
            freq_scale_local = 1.0f;
        }
        if (get_f32(m, "final_logit_softcapping", &lm->final_softcap, lm->final_softcap)) return -1;
        /* llama.cpp's gemma3 graph with sliding-window layers has no final soft-capping */
        if (!two && lm->n_swa > 0) lm->final_softcap = 0;
        if (!(lm->attn_softcap >= 0 && isfinite(lm->attn_softcap)) || !(lm->final_softcap >= 0 && isfinite(lm->final_softcap)))
            return atn_error("llama: bad logit soft-capping %g / %g", (double)lm->attn_softcap, (double)lm->final_softcap);
        if (lm->n_layer == (two ? 46 : 62)) lm->attn_scale = 1.0f / sqrtf((float)(lm->d / lm->n_head));
    }
    if (var->fused) {
        /* phi3: LongRoPE. Sessions longer than original_context_length use
         * rope_factors_long, others rope_factors_short; attn_factor scales
         * cos and sin. llama.cpp ignores phi3's sliding_window (it warns that
         * it is disabled), and so does atento. */
        if (get_u32(m, "rope.scaling.original_context_length", &lm->n_ctx_orig, 0, lm->n_ctx) ||
            get_f32(m, "rope.scaling.attn_factor", &lm->rope_mscale, 1.0f))
            return -1;
        if (!(lm->rope_mscale > 0 && isfinite(lm->rope_mscale)))
            return atn_error("llama: bad rope.scaling.attn_factor %g", (double)lm->rope_mscale);
    }
    for (int l = 0; l < lm->n_layer && lm->n_swa > 0; l++)
        if (var->swa_period && l % var->swa_period < var->swa_period - 1) lm->has_local = 1;

    const atn_tensor *te = atn_gguf_find_tensor(m->gguf, "token_embd.weight");
    if (!te) return atn_error("llama: tensor token_embd.weight is missing");
    if (te->ne[1] < 1 || te->ne[1] > (1 << 24)) return atn_error("llama: token_embd.weight has a bad vocabulary size");
    lm->n_vocab = (int)te->ne[1];
    int64_t d = lm->d, qd = lm->q_dim, kv = lm->kv_dim, ff = lm->n_ff, V = lm->n_vocab;
    if (!(lm->tok_embd = matrix(m, "token_embd.weight", d, V, 1))) return -1;
    /* gemma2's output is always the embedding table (llama.cpp ignores an output.weight) */
    lm->output = strcmp(m->arch_name, "gemma2") ? matrix(m, "output.weight", d, V, 0) : NULL;
    if (!lm->output) {
        if (strcmp(m->arch_name, "gemma2") && atn_gguf_find_tensor(m->gguf, "output.weight")) return -1; /* present but wrong */
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
        L->local = lm->n_swa > 0 && var->swa_period && l % var->swa_period < var->swa_period - 1;
        if (var->fused) {
            if (!(L->wqkv = matrix(m, NAME("attn_qkv.weight"), d, qd + 2 * kv, 1)) ||
                !(L->w_up = matrix(m, NAME("ffn_up.weight"), d, 2 * ff, 1)))
                return -1;
        } else if (!(L->wq = matrix(m, NAME("attn_q.weight"), d, qd, 1)) ||
                   !(L->wk = matrix(m, NAME("attn_k.weight"), d, kv, 1)) ||
                   !(L->wv = matrix(m, NAME("attn_v.weight"), d, kv, 1)) ||
                   !(L->w_gate = matrix(m, NAME("ffn_gate.weight"), d, ff, 1)) ||
                   !(L->w_up = matrix(m, NAME("ffn_up.weight"), d, ff, 1)))
            return -1;
        if (!(L->wo = matrix(m, NAME("attn_output.weight"), qd, d, 1)) ||
            !(L->w_down = matrix(m, NAME("ffn_down.weight"), ff, d, 1)))
            return -1;
#undef NAME
    }
    float *pool = NULL, *factors, *factors_long;
    size_t nvec = 0;
    if (load_vectors(m, lm, &pool, &nvec, &factors, &factors_long)) return -1;
    int half = lm->n_rot / 2;
    lm->vecs = atn_malloc_array(nvec, sizeof(float));
    lm->inv_freq = malloc((size_t)(3 * half + 1) * sizeof(float));
    if (!lm->vecs || !lm->inv_freq) return atn_error("llama: out of memory");
    pool = lm->vecs;
    if (load_vectors(m, lm, &pool, &nvec, &factors, &factors_long) ||
        check_factors(var->fused ? "rope_factors_short.weight" : "rope_freqs.weight", factors, half) ||
        check_factors("rope_factors_long.weight", factors_long, half))
        return -1;
    lm->has_rope_factors = factors || factors_long;
    lm->inv_freq_long = factors_long ? lm->inv_freq + half : NULL;
    lm->inv_freq_local = lm->inv_freq + 2 * half;
    rope_freqs(lm->inv_freq, lm->n_rot, lm->freq_base, lm->freq_scale, factors);
    if (factors_long) rope_freqs(lm->inv_freq_long, lm->n_rot, lm->freq_base, lm->freq_scale, factors_long);
    rope_freqs(lm->inv_freq_local, lm->n_rot, freq_base_local, freq_scale_local, NULL);
    m->n_vocab = lm->n_vocab;
    m->n_ctx_train = lm->n_ctx;
    return 0;
}

static int llama_info_json(const atn_model *m, char *buf, int cap) {
    const llama_model *lm = m->impl;
    int n = snprintf(buf, (size_t)cap,
                     "\"n_layer\":%d,\"n_embd\":%d,\"n_head\":%d,\"n_head_kv\":%d,\"head_dim\":%d,\"n_ff\":%d,"
                     "\"n_vocab\":%d,\"n_ctx_train\":%d,\"rms_norm_eps\":%g,\"rope_freq_base\":%g,\"n_rot\":%d,"
                     "\"rope_mode\":\"%s\",\"tied_output\":%s,\"qkv_bias\":%s,\"qk_norm\":%s,\"rope_factors\":%s,"
                     "\"sliding_window\":%d,\"attn_softcap\":%g,\"final_softcap\":%g",
                     lm->n_layer, lm->d, lm->n_head, lm->n_head_kv, lm->head_dim, lm->n_ff, lm->n_vocab, lm->n_ctx,
                     (double)lm->eps, (double)lm->freq_base, lm->n_rot, lm->var->neox ? "neox" : "normal",
                     lm->output == lm->tok_embd ? "true" : "false", lm->layers[0].bq ? "true" : "false",
                     lm->var->qk_norm ? "true" : "false", lm->has_rope_factors ? "true" : "false",
                     lm->has_local ? lm->n_swa : 0, (double)lm->attn_softcap, (double)lm->final_softcap);
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
    size_t d = (size_t)lm->d, qd = (size_t)lm->q_dim, kv = (size_t)lm->kv_dim, ff = (size_t)lm->n_ff;
    size_t rot = 2 * ((size_t)lm->n_rot + 2), fused = lm->var->fused ? 1 : 0;
    size_t qrow = qd + 2 * kv * fused, hrow = ff * (1 + fused);
    /* floats per token: x, xb, xb2 (d each), q (qd; fused: q|k|v), att (qd),
     * k, v (kv), hb (ff; fused: gate|up), hb2 (ff), rope (global + local) */
    size_t per_token = 3 * d + qrow + qd + 2 * kv + hrow + ff + rot; /* each term < 2^22: no overflow */
    st->batch = session_batch(s->model, per_token * sizeof(float));
    size_t B = (size_t)st->batch;
    /* the KV cache: n_layer * n_ctx * kv values of `el` bytes, twice; wraps
     * in 32 bits for real shapes (Llama-3.2-1B at 131072 tokens in f32:
     * exactly 2^32 bytes) */
    st->kv_f16 = s->kv_type == ATN_KV_F16;
    size_t el = st->kv_el = st->kv_f16 ? sizeof(uint16_t) : sizeof(float);
    size_t cache = atn_mul_size(atn_mul_size((size_t)lm->n_layer, (size_t)s->n_ctx), kv);
    size_t cache_bytes = atn_mul_size(cache, 2 * el);
    if (!atn_size_ok(cache_bytes))
        return atn_error("llama: a session of %d tokens needs a %.1f GiB KV cache (%s), more than %s can address", s->n_ctx,
                         2.0 * lm->n_layer * (double)s->n_ctx * (double)kv * (double)el / (1 << 30),
                         st->kv_f16 ? "f16" : "f32", sizeof(size_t) < 8 ? "WebAssembly (4 GiB)" : "this machine");
    st->x = atn_malloc_array(B * d, sizeof(float));
    st->xb = atn_malloc_array(B * d, sizeof(float));
    st->xb2 = atn_malloc_array(B * d, sizeof(float));
    st->q = atn_malloc_array(B * qrow, sizeof(float));
    st->k = atn_malloc_array(B * kv, sizeof(float));
    st->v = atn_malloc_array(B * kv, sizeof(float));
    st->att = atn_malloc_array(B * qd, sizeof(float));
    st->hb = atn_malloc_array(B * hrow, sizeof(float));
    st->hb2 = atn_malloc_array(B * ff, sizeof(float));
    st->scores = atn_malloc_array((size_t)s->n_ctx, sizeof(float));
    st->rope = atn_malloc_array(B * rot, sizeof(float));
    st->kc = atn_malloc_array(cache, el);
    st->vc = atn_malloc_array(cache, el);
    s->logits = atn_malloc_array((size_t)lm->n_vocab, sizeof(float));
    s->n_logits_cap = 1;
    if (!st->x || !st->xb || !st->xb2 || !st->q || !st->k || !st->v || !st->att || !st->hb || !st->hb2 ||
        !st->scores || !st->rope || !st->kc || !st->vc || !s->logits)
        return atn_error("llama: out of memory for a session of %d tokens (KV cache %zu MiB)", s->n_ctx,
                         cache_bytes >> 20);
    s->kv_bytes = cache_bytes;
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

/* (cos, sin) * mscale of pos * inv[i] for each frequency. */
static void rope_table(float *cs, const float *inv, int half, int pos, float mscale) {
    for (int i = 0; i < half; i++) {
        double th = (double)pos * inv[i];
        cs[2 * i] = (float)cos(th) * mscale;
        cs[2 * i + 1] = (float)sin(th) * mscale;
    }
}

/* g[i] = gelu(g[i]) * u[i], gelu with the tanh approximation (GeGLU),
 * computed as llama.cpp computes it, on purpose (docs/conventions.md): its
 * CPU backend looks gelu up in a table indexed by the input rounded to f16
 * and holding f16 results, and passes |x| >= 10 through (0, or x). */
static void gelu_mul(float *g, const float *u, int n) {
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int i = 0; i < n; i++) {
        float x = g[i], y;
        if (x <= -10.0f) y = 0.0f;
        else if (x >= 10.0f) y = x;
        else {
            x = atn_f16_to_f32(atn_f32_to_f16(x));
            y = atn_f16_to_f32(atn_f32_to_f16(0.5f * x * (1.0f + tanhf(c * x * (1.0f + 0.044715f * x * x)))));
        }
        g[i] = y * u[i];
    }
}

static void softcap(float *x, int n, float cap) {
    for (int i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

/* The steps done token by token (norms, the gated activation, residual
 * adds), over the pool by token ranges for a prompt: each token is computed
 * as alone, so the split does not change the result. Serial, they were
 * ~2.5 % of a 2-thread prompt's samples with the other thread waiting. */
enum { TOK_NORM, TOK_SILU, TOK_GELU, TOK_ADD };
typedef struct {
    int op, n;        /* n: values per token */
    float *out;       /* norm: out = norm(x); silu/gelu: out = act(out) * x; add: out += x */
    const float *x, *w;
    float eps;
} token_job;

static void token_task(void *ctx, int64_t t0, int64_t t1, int thread) {
    const token_job *j = ctx;
    (void)thread;
    for (int64_t t = t0; t < t1; t++) {
        float *out = j->out + (size_t)t * (size_t)j->n;
        const float *x = j->x + (size_t)t * (size_t)j->n;
        switch (j->op) {
        case TOK_NORM: rmsnorm(out, x, j->w, j->n, j->eps); break;
        case TOK_SILU: atn_silu_mul_f32(out, x, j->n); break;
        case TOK_GELU: gelu_mul(out, x, j->n); break;
        default: for (int i = 0; i < j->n; i++) out[i] += x[i]; break;
        }
    }
}

static void per_token(int op, int T, int n, float *out, const float *x, const float *w, float eps) {
    token_job j = {op, n, out, x, w, eps};
    atn_parallel_for(T, (T + 7) / 8, token_task, &j);
}

/* Causal attention of T tokens x n_head heads over the cache, split over
 * the pool by (token, head) pairs; each pair is computed as one thread
 * would, so the split does not change the result. A sliding-window layer
 * sees the last n_swa positions (llama.cpp masks key p' when p - p' >=
 * n_swa); scores may be soft-capped (gemma2). */
typedef struct {
    const llama_model *lm;
    llama_state *st;
    const float *q;   /* token t's q: q + t * qs */
    size_t qs;
    const void *kc, *vc; /* this layer's cache: f32, or f16 when st->kv_f16 */
    int p0, local;
} attention_job;

static void attention_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    const attention_job *j = ctx;
    const llama_model *lm = j->lm;
    const int qd = lm->q_dim, kv = lm->kv_dim, hd = lm->head_dim, group = lm->n_head / lm->n_head_kv;
    float *sc = thread ? atn_thread_scratch(thread) : j->st->scores;
    for (int64_t i = i0; i < i1; i++) {
        int t = (int)(i / lm->n_head), h = (int)(i % lm->n_head);
        int pos = j->p0 + t;
        int lo = j->local && pos >= lm->n_swa ? pos - lm->n_swa + 1 : 0;
        int n_pos = pos - lo + 1; /* causal: positions lo..pos */
        const float *q = j->q + (size_t)t * j->qs + (size_t)h * hd;
        size_t off = (size_t)lo * kv + (size_t)(h / group) * hd;
        int f16 = j->st->kv_f16;
        if (f16) atn_dot_rows_f16(q, (const uint16_t *)j->kc + off, (size_t)kv, n_pos, hd, sc);
        else atn_dot_rows_f32(q, (const float *)j->kc + off, (size_t)kv, n_pos, hd, sc);
        if (lm->attn_softcap > 0) {
            atn_scale_f32(sc, lm->attn_scale, n_pos);
            softcap(sc, n_pos, lm->attn_softcap);
            atn_softmax_f32(sc, n_pos, 1.0f);
        } else {
            atn_softmax_f32(sc, n_pos, lm->attn_scale);
        }
        float *out = j->st->att + (size_t)t * qd + (size_t)h * hd;
        memset(out, 0, (size_t)hd * sizeof(float));
        if (f16) atn_axpy_rows_f16(sc, (const uint16_t *)j->vc + off, (size_t)kv, n_pos, hd, out);
        else atn_axpy_rows_f32(sc, (const float *)j->vc + off, (size_t)kv, n_pos, hd, out);
    }
}

static void attention(const llama_model *lm, llama_state *st, const float *q, size_t qs, const void *kc,
                      const void *vc, int T, int p0, int local, int n_ctx) {
    attention_job j = {lm, st, q, qs, kc, vc, p0, local};
    int64_t items = (int64_t)T * lm->n_head;
    /* chunks of at least ~32k multiply-adds; inline when scratch is short */
    int64_t grain = 32768 / ((int64_t)(p0 + T) * lm->head_dim + 1) + 1;
    if (!atn_threads_reserve((size_t)n_ctx * sizeof(float))) grain = items;
    atn_parallel_for(items, grain, attention_task, &j);
}

/* Store n values into the cache at dst: as they are, or rounded to the
 * nearest half (ties to even) in an f16 cache. */
static void cache_put(void *dst, size_t at, const float *src, int n, int f16) {
    if (!f16) {
        memcpy((float *)dst + at, src, (size_t)n * sizeof(float));
        return;
    }
    uint16_t *h = (uint16_t *)dst + at;
    for (int i = 0; i < n; i++) h[i] = atn_f32_to_f16(src[i]);
}

/* One batch of T <= st->batch tokens at positions p0..p0+T-1; writes the
 * logits of every token (all != 0) or of the last into `logits`. */
static void forward(atn_session *s, const int32_t *tokens, int T, int p0, int all, float *logits) {
    const llama_model *lm = s->model->impl;
    const llama_variant *var = lm->var;
    llama_state *st = s->impl;
    const int d = lm->d, qd = lm->q_dim, kv = lm->kv_dim, hd = lm->head_dim, ff = lm->n_ff, n_ctx = s->n_ctx;
    const int half = lm->n_rot / 2, cs_stride = lm->n_rot + 2;
    const float *inv = lm->inv_freq_long && s->n_ctx > lm->n_ctx_orig ? lm->inv_freq_long : lm->inv_freq;
    float *rope_local = st->rope + (size_t)st->batch * cs_stride;
    /* q, k, v of token t: separate buffers, or one row q|k|v of the fused matmul */
    float *qb = st->q, *kb = var->fused ? st->q + qd : st->k, *vb = var->fused ? st->q + qd + kv : st->v;
    const size_t qs = var->fused ? (size_t)(qd + 2 * kv) : (size_t)qd, kvs = var->fused ? qs : (size_t)kv;

    for (int t = 0; t < T; t++) {
        atn_get_row(lm->tok_embd, tokens[t], st->x + (size_t)t * d);
        if (lm->embd_scale != 1.0f) atn_scale_f32(st->x + (size_t)t * d, lm->embd_scale, d);
        rope_table(st->rope + (size_t)t * cs_stride, inv, half, p0 + t, lm->rope_mscale);
        if (lm->has_local) rope_table(rope_local + (size_t)t * cs_stride, lm->inv_freq_local, half, p0 + t, 1.0f);
    }
    for (int l = 0; l < lm->n_layer; l++) {
        const llama_layer *L = &lm->layers[l];
        size_t layer = (size_t)l * n_ctx * kv * st->kv_el;
        void *kc = (char *)st->kc + layer, *vc = (char *)st->vc + layer;
        const float *rope_l = L->local ? rope_local : st->rope;
        /* attention */
        per_token(TOK_NORM, T, d, st->xb, st->x, L->attn_norm, lm->eps);
        if (L->wqkv) {
            atn_matmul(L->wqkv, st->xb, T, st->q);
        } else {
            /* one input: quantized once, the three matrices one job for the pool */
            atn_matmul_group((const atn_tensor *[]){L->wq, L->wk, L->wv}, (float *[]){st->q, st->k, st->v}, 3, st->xb, T);
        }
        for (int t = 0; t < T; t++) {
            float *q = qb + t * qs, *k = kb + t * kvs, *v = vb + t * kvs;
            if (L->bq) for (int i = 0; i < qd; i++) q[i] += L->bq[i];
            if (L->bk) for (int i = 0; i < kv; i++) k[i] += L->bk[i];
            if (L->bv) for (int i = 0; i < kv; i++) v[i] += L->bv[i];
            if (L->q_norm) {
                for (int h = 0; h < lm->n_head; h++) rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, lm->eps);
                for (int h = 0; h < lm->n_head_kv; h++) rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, lm->eps);
            }
            const float *cs = rope_l + (size_t)t * cs_stride;
            rope(q, lm->n_head, hd, lm->n_rot, var->neox, cs);
            rope(k, lm->n_head_kv, hd, lm->n_rot, var->neox, cs);
            cache_put(kc, (size_t)(p0 + t) * kv, k, kv, st->kv_f16);
            cache_put(vc, (size_t)(p0 + t) * kv, v, kv, st->kv_f16);
        }
        attention(lm, st, qb, qs, kc, vc, T, p0, L->local, n_ctx);
        atn_matmul(L->wo, st->att, T, st->xb2);
        if (L->attn_post_norm) per_token(TOK_NORM, T, d, st->xb2, st->xb2, L->attn_post_norm, lm->eps);
        per_token(TOK_ADD, T, d, st->x, st->xb2, NULL, 0);
        /* feed-forward: act(gate) * up, act = silu (SwiGLU) or gelu (GeGLU) */
        per_token(TOK_NORM, T, d, st->xb, st->x, L->ffn_norm, lm->eps);
        float *ffn_in = st->hb;
        if (var->fused) {
            /* one matmul gives gate|up per token; the product goes to hb2 */
            atn_matmul(L->w_up, st->xb, T, st->hb);
            for (int t = 0; t < T; t++) {
                float *gate = st->hb + (size_t)t * 2 * ff, *out = st->hb2 + (size_t)t * ff;
                memcpy(out, gate, (size_t)ff * sizeof(float));
                atn_silu_mul_f32(out, gate + ff, ff);
            }
            ffn_in = st->hb2;
        } else {
            atn_matmul_group((const atn_tensor *[]){L->w_gate, L->w_up}, (float *[]){st->hb, st->hb2}, 2, st->xb, T);
            per_token(var->gemma ? TOK_GELU : TOK_SILU, T, ff, st->hb, st->hb2, NULL, 0);
        }
        atn_matmul(L->w_down, ffn_in, T, st->xb2);
        if (L->ffn_post_norm) per_token(TOK_NORM, T, d, st->xb2, st->xb2, L->ffn_post_norm, lm->eps);
        per_token(TOK_ADD, T, d, st->x, st->xb2, NULL, 0);
    }
    if (!logits) return; /* an inner batch of a prefill that keeps only the last logits */
    int rows = all ? T : 1;
    const float *x = all ? st->x : st->x + (size_t)(T - 1) * d;
    per_token(TOK_NORM, rows, d, st->xb, x, lm->output_norm, lm->eps);
    atn_matmul(lm->output, st->xb, rows, logits);
    if (lm->final_softcap > 0) softcap(logits, rows * lm->n_vocab, lm->final_softcap);
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
