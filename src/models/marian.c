/* marian.c — the encoder–decoder Transformer ("Attention Is All You Need")
 * as Marian / OPUS-MT (Hugging Face MarianMTModel) computes it.
 *
 * GGUF layout and the equations: docs/marian-gguf.md. In short:
 *   encoder (atn_set_source, once per sentence):
 *     x = E[src]·√d + P[pos];  per layer  x = LN(x + SelfAttn(x));  x = LN(x + FFN(x))
 *     then each decoder layer's cross keys/values K = Wk x, V = Wv x are cached.
 *   decoder (atn_eval, token by token or batched):
 *     y = E[tok]·√d + P[pos];  per layer  y = LN(y + MaskedSelfAttn(y))   (KV cache)
 *                                          y = LN(y + Attn(Wq y, K, V))    (cached)
 *                                          y = LN(y + FFN(y))
 *     logits = E y + b   (or a separate output matrix)
 * Pre-norm (x = x + Sublayer(LN(x)), final LN) when marian.normalize_before.
 *
 * Weights stay in their GGUF type; every matrix product goes through
 * atn_matmul. 1-D tensors (biases, norms) are converted to f32 once at load.
 * The decoder keeps several hypothesis "slots" (beam search) in one cache.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../checked.h"
#include "../error.h"
#include "../kernels.h"
#include "../model.h"
#include "../quant.h"
#include "../threads.h"
#include "marian.h"

enum { ACT_RELU, ACT_GELU, ACT_SWISH };

typedef struct { const float *w, *b; } mnorm;                 /* LayerNorm gamma, beta: [d] */
typedef struct { const atn_tensor *w; const float *b; } mlin; /* W: {n_in, n_out}, b: [n_out] */

typedef struct {
    mlin q, k, v, o;          /* self-attention, {d, d} */
    mnorm attn_norm;
    mlin cq, ck, cv, co;      /* decoder only: cross-attention */
    mnorm cross_norm;
    mlin up, down;            /* {d, f}, {f, d} */
    mnorm ffn_norm;
} mlayer;

typedef struct {
    int d, n_enc, n_dec, n_head, hd, n_ff, n_ctx, n_vocab;
    int act, pre_norm, scale_emb;
    float eps;
    int32_t start;
    const atn_tensor *embd;   /* {d, V}: token embeddings (shared) */
    mlin out;                 /* {d, V} (the embeddings when tied) + final_logits_bias */
    mnorm enc_out, dec_out;   /* pre-norm only */
    mlayer *enc, *dec;
    float *vecs;              /* every 1-D tensor as f32 (one allocation); NULL while counting */
    /* sinusoidal position embeddings [pe_rows][d], computed once per model
     * but only for the positions its sessions use (their contexts, their
     * longest sources), not for the whole context the file declares */
    float *pe;
    int pe_rows;
    size_t vecs_used, vecs_cap;
} marian;

typedef struct {
    int rows_cap;             /* rows of the activation buffers */
    float *x, *r, *q, *k, *v, *o, *ff, *att; /* [rows][d] .. [rows][n_ff], att [n_ctx] */
    int *slot, *pos;          /* [rows] for atn_eval */
    /* self-attention cache: [layer][slot][pos][d] for k and v */
    float *kc, *vc;
    int n_slots;
    float *tmp;               /* reorder scratch [slots][n_ctx][d] */
    /* cross-attention keys/values of each source slot: [layer][n_src][d] */
    float *ck[ATN_MARIAN_MAX_SOURCES], *cv[ATN_MARIAN_MAX_SOURCES];
    int n_src[ATN_MARIAN_MAX_SOURCES], src_cap[ATN_MARIAN_MAX_SOURCES];
    /* recorded cross-attention weights [layer][row][head][n_src] */
    int record;
    float *xattn;
    size_t xattn_cap;
    int xattn_rows;
    /* per-row keys, values, counts of the attention being computed [rows] */
    const float **hK, **hV;
    int *hn;
} msession;

/* ---- loading ------------------------------------------------------------ */

static int get_u32(const atn_gguf *g, const char *key, int *out, int required, int def) {
    uint32_t v;
    int rc = atn_gguf_get_u32(g, key, &v);
    if (rc == -1 && !required) { *out = def; return 0; }
    if (rc != 0) return atn_error("marian: %s %s", key, rc == -1 ? "is missing" : "has the wrong type");
    if (v > (1u << 24)) return atn_error("marian: %s = %u is out of range", key, v);
    *out = (int)v;
    return 0;
}

static int get_bool(const atn_gguf *g, const char *key, int *out, int def) {
    int rc = atn_gguf_get_bool(g, key, out);
    if (rc == -1) { *out = def; return 0; }
    if (rc != 0) return atn_error("marian: %s has the wrong type", key);
    return 0;
}

/* A matrix {n_in, n_out}, any type. */
static const atn_tensor *matrix(const atn_model *m, const char *name, int64_t n_in, int64_t n_out, int required) {
    const atn_tensor *t = atn_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (required) atn_error("marian: tensor %s is missing", name);
        return NULL;
    }
    if (t->n_dims != 2 || t->ne[0] != n_in || t->ne[1] != n_out) {
        atn_error("marian: tensor %s has shape {%lld, %lld}, expected {%lld, %lld}", name,
                  (long long)t->ne[0], (long long)(t->n_dims > 1 ? t->ne[1] : 1), (long long)n_in, (long long)n_out);
        return NULL;
    }
    if (!atn_type_known(t->type) || atn_row_size(t->type, n_in) == 0) {
        atn_error("marian: tensor %s has unsupported type %s for rows of %lld", name, atn_type_name(t->type), (long long)n_in);
        return NULL;
    }
    return t;
}

/* A vector of n values converted to f32 into mm->vecs; *out = NULL if absent
 * and not required. Returns 0 or -1. */
static int vec(marian *mm, const atn_model *m, const char *name, int64_t n, int required, const float **out) {
    const atn_tensor *t = atn_gguf_find_tensor(m->gguf, name);
    *out = NULL;
    if (!t) return required ? atn_error("marian: tensor %s is missing", name) : 0;
    int64_t count = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    if (count != n || (t->n_dims > 1 && t->ne[0] != n))
        return atn_error("marian: tensor %s has %lld values, expected %lld", name, (long long)count, (long long)n);
    if (!atn_type_known(t->type) || atn_row_size(t->type, n) == 0)
        return atn_error("marian: tensor %s has unsupported type %s", name, atn_type_name(t->type));
    if (!mm->vecs) { /* the counting pass: nothing is allocated before every shape is checked */
        mm->vecs_used = atn_add_size(mm->vecs_used, (size_t)n);
        return 0;
    }
    if (mm->vecs_used + (size_t)n > mm->vecs_cap) return atn_error("marian: internal: vector space exhausted");
    float *dst = mm->vecs + mm->vecs_used;
    atn_dequantize_row(t->type, t->data, dst, n);
    mm->vecs_used += (size_t)n;
    *out = dst;
    return 0;
}

static int lin(marian *mm, const atn_model *m, mlin *l, const char *name, int64_t n_in, int64_t n_out) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s.weight", name);
    if (!(l->w = matrix(m, buf, n_in, n_out, 1))) return -1;
    snprintf(buf, sizeof buf, "%s.bias", name);
    return vec(mm, m, buf, n_out, 0, &l->b);
}

static int norm(marian *mm, const atn_model *m, mnorm *nm, const char *name, int required) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s.weight", name);
    if (vec(mm, m, buf, mm->d, required, &nm->w)) return -1;
    snprintf(buf, sizeof buf, "%s.bias", name);
    if (vec(mm, m, buf, mm->d, 0, &nm->b)) return -1;
    if (nm->b && !nm->w) return atn_error("marian: %s.bias without %s.weight", name, name);
    return 0;
}

static int load_layer(marian *mm, const atn_model *m, mlayer *L, const char *side, int i) {
    char p[64], buf[96];
    int d = mm->d, f = mm->n_ff;
    snprintf(p, sizeof p, "%s.blk.%d", side, i);
#define SUB(field, what, a, b) (snprintf(buf, sizeof buf, "%s.%s", p, what), lin(mm, m, &L->field, buf, a, b))
#define NRM(field, what) (snprintf(buf, sizeof buf, "%s.%s", p, what), norm(mm, m, &L->field, buf, 1))
    if (SUB(q, "attn_q", d, d) || SUB(k, "attn_k", d, d) || SUB(v, "attn_v", d, d) || SUB(o, "attn_o", d, d) ||
        NRM(attn_norm, "attn_norm") || SUB(up, "ffn_up", d, f) || SUB(down, "ffn_down", f, d) || NRM(ffn_norm, "ffn_norm"))
        return -1;
    if (side[0] == 'd' && (SUB(cq, "cross_q", d, d) || SUB(ck, "cross_k", d, d) || SUB(cv, "cross_v", d, d) ||
                           SUB(co, "cross_o", d, d) || NRM(cross_norm, "cross_norm")))
        return -1;
#undef SUB
#undef NRM
    return 0;
}

static void marian_free(atn_model *m) {
    marian *mm = m->impl;
    if (m->src_tok && m->src_tok != m->tok) atn_tokenizer_free(m->src_tok);
    m->src_tok = NULL;
    if (!mm) return;
    free(mm->enc);
    free(mm->dec);
    free(mm->vecs);
    free(mm->pe);
    free(mm);
    m->impl = NULL;
}

static int marian_load(atn_model *m) {
    const atn_gguf *g = m->gguf;
    marian *mm = calloc(1, sizeof *mm);
    if (!mm) return atn_error("marian: out of memory");
    m->impl = mm;
    uint32_t start;
    if (get_u32(g, "marian.embedding_length", &mm->d, 1, 0) ||
        get_u32(g, "marian.encoder.block_count", &mm->n_enc, 1, 0) ||
        get_u32(g, "marian.decoder.block_count", &mm->n_dec, 1, 0) ||
        get_u32(g, "marian.attention.head_count", &mm->n_head, 1, 0) ||
        get_u32(g, "marian.feed_forward_length", &mm->n_ff, 1, 0) ||
        get_u32(g, "marian.context_length", &mm->n_ctx, 1, 0) ||
        get_bool(g, "marian.normalize_before", &mm->pre_norm, 0) ||
        get_bool(g, "marian.scale_embedding", &mm->scale_emb, 1))
        goto fail;
    if (atn_gguf_get_u32(g, "marian.decoder_start_token_id", &start) != 0) {
        atn_error("marian: marian.decoder_start_token_id is missing or not an integer");
        goto fail;
    }
    mm->eps = 1e-5f;
    if (atn_gguf_find(g, "marian.attention.layer_norm_epsilon") >= 0 &&
        (atn_gguf_get_f32(g, "marian.attention.layer_norm_epsilon", &mm->eps) != 0 || !(mm->eps > 0 && mm->eps < 1))) {
        atn_error("marian: marian.attention.layer_norm_epsilon must be a number in (0, 1)");
        goto fail;
    }
    mm->act = ACT_RELU;
    if (atn_gguf_find(g, "marian.activation") >= 0) {
        const char *s;
        size_t n;
        if (atn_gguf_get_str(g, "marian.activation", &s, &n) != 0) { atn_error("marian: marian.activation is not a string"); goto fail; }
        if (n == 4 && !memcmp(s, "relu", 4)) mm->act = ACT_RELU;
        else if (n == 4 && !memcmp(s, "gelu", 4)) mm->act = ACT_GELU;
        else if ((n == 5 && !memcmp(s, "swish", 5)) || (n == 4 && !memcmp(s, "silu", 4))) mm->act = ACT_SWISH;
        else { atn_error("marian: unknown activation '%.*s' (relu, gelu, swish)", (int)(n > 32 ? 32 : n), s); goto fail; }
    }
    if (mm->d < 2 || mm->d % 2 || mm->n_head < 1 || mm->d % mm->n_head || mm->n_ff < 1 || mm->n_enc < 1 ||
        mm->n_dec < 1 || mm->n_ctx < 2 || mm->n_enc > 256 || mm->n_dec > 256 || mm->d > 65536 || mm->n_ff > 262144 ||
        mm->n_ctx > 65536) {
        atn_error("marian: bad hyper-parameters (d_model %d, heads %d, ffn %d, layers %d+%d, context %d)",
                  mm->d, mm->n_head, mm->n_ff, mm->n_enc, mm->n_dec, mm->n_ctx);
        goto fail;
    }
    mm->hd = mm->d / mm->n_head;
    if (!m->tok) { atn_error("marian: the model has no tokenizer"); goto fail; }
    mm->n_vocab = atn_tokenizer_n_vocab(m->tok);
    if ((int64_t)start >= mm->n_vocab) { atn_error("marian: decoder_start_token_id %u is out of range", start); goto fail; }
    mm->start = (int32_t)start;

    int64_t d = mm->d, V = mm->n_vocab;
    mm->enc = calloc((size_t)mm->n_enc, sizeof(mlayer)); /* at most 256 each */
    mm->dec = calloc((size_t)mm->n_dec, sizeof(mlayer));
    if (!mm->enc || !mm->dec) { atn_error("marian: out of memory"); goto fail; }
    /* Two passes over the tensors: the first checks every shape and counts
     * the values of the 1-D tensors (mm->vecs is NULL), the second, after
     * one allocation of exactly that many floats, reads them. What the
     * loader allocates is thus bounded by what the file holds. */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            mm->vecs_cap = mm->vecs_used;
            mm->vecs_used = 0;
            mm->vecs = atn_malloc_array(mm->vecs_cap, sizeof(float));
            if (!mm->vecs) { atn_error("marian: out of memory"); goto fail; }
        }
        if (!(mm->embd = matrix(m, "token_embd.weight", d, V, 1))) goto fail;
        mm->out.w = matrix(m, "output.weight", d, V, 0);
        if (!mm->out.w) {
            if (atn_gguf_find_tensor(g, "output.weight")) goto fail; /* present but bad */
            mm->out.w = mm->embd;
        }
        if (vec(mm, m, "output.bias", V, 0, &mm->out.b)) goto fail;
        for (int i = 0; i < mm->n_enc; i++)
            if (load_layer(mm, m, &mm->enc[i], "enc", i)) goto fail;
        for (int i = 0; i < mm->n_dec; i++)
            if (load_layer(mm, m, &mm->dec[i], "dec", i)) goto fail;
        if (norm(mm, m, &mm->enc_out, "enc.output_norm", 0) || norm(mm, m, &mm->dec_out, "dec.output_norm", 0)) goto fail;
    }

    /* The source vocabulary: tokenizer.source.* when present, else the target's. */
    m->src_tok = m->tok;
    if (atn_gguf_find(g, "tokenizer.source.tokens") >= 0) {
        char err[256];
        atn_tokenizer *st = atn_tokenizer_load(g, "tokenizer.source", err, sizeof err);
        if (!st) { atn_error("marian: source tokenizer: %s", err); goto fail; }
        if (atn_tokenizer_n_vocab(st) > mm->n_vocab) {
            atn_tokenizer_free(st);
            atn_error("marian: the source vocabulary is larger than the embedding table");
            goto fail;
        }
        m->src_tok = st;
    }
    m->n_vocab = mm->n_vocab;
    m->n_ctx_train = mm->n_ctx;
    return 0;
fail:
    marian_free(m);
    return -1;
}

static int marian_info_json(const atn_model *m, char *buf, int cap) {
    const marian *mm = m->impl;
    static const char *acts[] = {"relu", "gelu", "swish"};
    int n = snprintf(buf, (size_t)cap,
                     "\"d_model\":%d,\"n_encoder_layers\":%d,\"n_decoder_layers\":%d,\"n_head\":%d,\"n_ff\":%d,"
                     "\"n_ctx\":%d,\"activation\":\"%s\",\"normalize_before\":%s,\"scale_embedding\":%s,"
                     "\"decoder_start_token_id\":%d,\"tied_output\":%s,\"separate_source_vocab\":%s",
                     mm->d, mm->n_enc, mm->n_dec, mm->n_head, mm->n_ff, mm->n_ctx, acts[mm->act],
                     mm->pre_norm ? "true" : "false", mm->scale_emb ? "true" : "false", mm->start,
                     mm->out.w == mm->embd ? "true" : "false", m->src_tok != m->tok ? "true" : "false");
    return n < 0 ? 0 : (n >= cap ? cap - 1 : n);
}

/* ---- sessions ----------------------------------------------------------- */

static void session_free(atn_session *s) {
    msession *ms = s->impl;
    if (ms) {
        free(ms->x); free(ms->r); free(ms->q); free(ms->k); free(ms->v); free(ms->o); free(ms->ff); free(ms->att);
        free(ms->kc); free(ms->vc); free(ms->tmp); free(ms->xattn);
        for (int i = 0; i < ATN_MARIAN_MAX_SOURCES; i++) { free(ms->ck[i]); free(ms->cv[i]); }
        free(ms->slot); free(ms->pos);
        free(ms->hK); free(ms->hV); free(ms->hn);
        free(ms);
    }
    s->impl = NULL;
    free(s->logits);
    s->logits = NULL;
    s->n_logits_cap = 0;
}

static int grow(float **p, size_t n) {
    if (!atn_size_ok(atn_mul_size(n, sizeof(float))))
        return atn_error("marian: a buffer of %.0f MiB is more than %s can address", (double)n * sizeof(float) / (1 << 20),
                         sizeof(size_t) < 8 ? "WebAssembly (4 GiB)" : "this machine");
    float *q = atn_realloc_array(*p, n, sizeof(float));
    if (!q) return atn_error("marian: out of memory (%zu floats)", n);
    *p = q;
    return 0;
}

/* Activation buffers for n rows (grown rarely: the first long source). */
static int ensure_rows(atn_session *s, int n) {
    msession *ms = s->impl;
    const marian *mm = s->model->impl;
    if (n <= ms->rows_cap) return 0;
    size_t d = atn_mul_size((size_t)mm->d, (size_t)n);
    if (grow(&ms->x, d) || grow(&ms->r, d) || grow(&ms->q, d) || grow(&ms->k, d) || grow(&ms->v, d) ||
        grow(&ms->o, d) || grow(&ms->ff, atn_mul_size((size_t)mm->n_ff, (size_t)n)))
        return -1;
    int *sl = atn_realloc_array(ms->slot, (size_t)n, sizeof(int));
    if (sl) ms->slot = sl;
    int *ps = atn_realloc_array(ms->pos, (size_t)n, sizeof(int));
    if (ps) ms->pos = ps;
    const float **hk = atn_realloc_array(ms->hK, (size_t)n, sizeof *hk);
    if (hk) ms->hK = hk;
    const float **hv = atn_realloc_array(ms->hV, (size_t)n, sizeof *hv);
    if (hv) ms->hV = hv;
    int *hn = atn_realloc_array(ms->hn, (size_t)n, sizeof(int));
    if (hn) ms->hn = hn;
    if (!sl || !ps || !hk || !hv || !hn) return atn_error("marian: out of memory");
    ms->rows_cap = n;
    return 0;
}

/* Position embeddings for positions 0..rows-1 (Marian's sinusoids: column
 * i < d/2 sin(pos / 10000^(2i/d)), column d/2+i cos), grown in the model
 * (single-threaded use of one model, as everywhere: embed() reads mm->pe
 * afresh on each call, so growing it moves nothing a session holds). */
static int ensure_pe(atn_session *s, int rows) {
    marian *mm = s->model->impl;
    if (rows <= mm->pe_rows) return 0;
    if (grow(&mm->pe, atn_mul_size((size_t)rows, (size_t)mm->d))) return -1;
    for (int p = mm->pe_rows; p < rows; p++) {
        float *row = mm->pe + (size_t)p * (size_t)mm->d;
        for (int i = 0; i < mm->d / 2; i++) {
            double ang = p / pow(10000.0, 2.0 * i / (double)mm->d);
            row[i] = (float)sin(ang);
            row[mm->d / 2 + i] = (float)cos(ang);
        }
    }
    mm->pe_rows = rows;
    return 0;
}

static int ensure_logits(atn_session *s, int n) {
    if (n <= s->n_logits_cap) return 0;
    if (grow(&s->logits, atn_mul_size((size_t)n, (size_t)s->model->n_vocab))) return -1;
    s->n_logits_cap = n;
    return 0;
}

int atn_marian_reserve_slots(atn_session *s, int n_slots) {
    msession *ms = s->impl;
    const marian *mm = s->model->impl;
    if (n_slots <= ms->n_slots) return 0;
    if (n_slots > 64) return atn_error("marian: at most 64 hypotheses");
    size_t per = atn_mul_size((size_t)s->n_ctx, (size_t)mm->d);        /* one slot, one layer */
    size_t n_old = (size_t)ms->n_slots, n_new = (size_t)n_slots;
    size_t cache = atn_mul_size(atn_mul_size(per, n_new), (size_t)mm->n_dec);
    if (!atn_size_ok(atn_mul_size(cache, 2 * sizeof(float))))
        return atn_error("marian: %d hypotheses of %d tokens need a %.1f GiB cache, more than %s can address", n_slots,
                         s->n_ctx, 2.0 * (double)n_slots * s->n_ctx * mm->d * mm->n_dec * sizeof(float) / (1 << 30),
                         sizeof(size_t) < 8 ? "WebAssembly (4 GiB)" : "this machine");
    float *kc = atn_malloc_array(cache, sizeof(float));
    float *vc = atn_malloc_array(cache, sizeof(float));
    float *tmp = atn_malloc_array(atn_mul_size(per, n_new), sizeof(float));
    if (!kc || !vc || !tmp) {
        free(kc); free(vc); free(tmp);
        return atn_error("marian: out of memory for %d hypotheses of %d tokens", n_slots, s->n_ctx);
    }
    for (int l = 0; l < mm->n_dec && n_old; l++) { /* keep what is cached */
        memcpy(kc + per * n_new * (size_t)l, ms->kc + per * n_old * (size_t)l, per * n_old * sizeof(float));
        memcpy(vc + per * n_new * (size_t)l, ms->vc + per * n_old * (size_t)l, per * n_old * sizeof(float));
    }
    free(ms->kc); free(ms->vc); free(ms->tmp);
    ms->kc = kc; ms->vc = vc; ms->tmp = tmp;
    ms->n_slots = n_slots;
    s->kv_bytes = cache * 2 * sizeof(float); /* checked above */
    return 0;
}

static int session_init(atn_session *s) {
    const marian *mm = s->model->impl;
    /* the encoder-decoder caches (self- and cross-attention, beam slots) stay f32 */
    if (s->kv_type != ATN_KV_F32) return atn_error("marian: the f16 KV cache is for decoder-only models; use f32");
    msession *ms = calloc(1, sizeof *ms);
    if (!ms) return atn_error("marian: out of memory");
    s->impl = ms;
    if (s->n_ctx > mm->n_ctx) s->n_ctx = mm->n_ctx;  /* positions beyond the table do not exist */
    if (!(ms->att = malloc((size_t)(mm->n_ctx > s->n_ctx ? mm->n_ctx : s->n_ctx) * sizeof(float))) ||
        ensure_pe(s, s->n_ctx) || ensure_rows(s, 16) || ensure_logits(s, 1) || atn_marian_reserve_slots(s, 1)) {
        session_free(s);
        return -1;
    }
    return 0;
}

/* ---- the math ----------------------------------------------------------- */

/* Y[n][n_out] += b, when l has a bias */
static void add_bias(const mlin *l, int n, float *Y) {
    if (!l->b) return;
    int64_t n_out = l->w->ne[1];
    for (int t = 0; t < n; t++) {
        float *y = Y + (size_t)t * (size_t)n_out;
        for (int64_t i = 0; i < n_out; i++) y[i] += l->b[i];
    }
}

/* Y[n][n_out] = X W^T + b */
static void linear(const mlin *l, const float *X, int n, float *Y) {
    atn_matmul(l->w, X, n, Y);
    add_bias(l, n, Y);
}

/* Y[i] = X W[i]^T + b[i] for linears that read one input (q, k, v): one
 * quantization of X, one job for the pool (atn_matmul_group). */
static void linear_group(const mlin *const *ls, float *const *Y, int n, const float *X, int N) {
    const atn_tensor *W[ATN_MATMUL_GROUP_MAX];
    for (int i = 0; i < n; i++) W[i] = ls[i]->w;
    atn_matmul_group(W, Y, n, X, N);
    for (int i = 0; i < n; i++) add_bias(ls[i], N, Y[i]);
}

static void layer_norm(float *x, const mnorm *nm, int d, float eps) {
    float mean = 0, var = 0;
    for (int i = 0; i < d; i++) mean += x[i];
    mean /= (float)d;
    for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf(var / (float)d + eps);
    for (int i = 0; i < d; i++) {
        float v = (x[i] - mean) * inv;
        x[i] = v * nm->w[i] + (nm->b ? nm->b[i] : 0.0f);
    }
}

static void softmax(float *a, int n) {
    float mx = a[0], sum = 0;
    for (int i = 1; i < n; i++) mx = a[i] > mx ? a[i] : mx;
    for (int i = 0; i < n; i++) sum += (a[i] = expf(a[i] - mx));
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) a[i] *= inv;
}

static void activation(float *x, size_t n, int act) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (act == ACT_RELU) x[i] = v > 0 ? v : 0;
        else if (act == ACT_SWISH) x[i] = v / (1.0f + expf(-v));
        else x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678f));
    }
}

/* One attention head over keys/values rows K[j*d + off], j < n_kv, for the
 * query q (already scaled); output added... written into out[hd]. The
 * normalized weights are left in att. */
static void attend(const float *q, const float *K, const float *V, int n_kv, int d, int hd, float *att, float *out) {
    for (int j = 0; j < n_kv; j++) att[j] = atn_dot_f32(q, K + (size_t)j * (size_t)d, hd);
    softmax(att, n_kv);
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int j = 0; j < n_kv; j++) atn_axpy_f32(att[j], V + (size_t)j * (size_t)d, out, hd);
}

/* The attention of n rows x H heads, split over the pool by (row, head)
 * pairs. Row r attends to n_kv[r] key/value rows at K[r], V[r] (stride d)
 * with its query q + r*d (already scaled), writing out + r*d; `record`
 * (or NULL) receives each pair's weights at [r][h][S]. Each pair is computed
 * exactly as one thread would, so the split does not change the result. */
typedef struct {
    const float *q;
    const float *const *K, *const *V; /* per row */
    const int *n_kv;                  /* per row */
    int d, H, hd, S;
    float *out, *record, *att0;
} heads_job;

static void heads_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    const heads_job *j = ctx;
    float *att = thread ? atn_thread_scratch(thread) : j->att0;
    for (int64_t i = i0; i < i1; i++) {
        int r = (int)(i / j->H), h = (int)(i % j->H);
        size_t row = (size_t)r * (size_t)j->d + (size_t)h * (size_t)j->hd;
        attend(j->q + row, j->K[r] + h * j->hd, j->V[r] + h * j->hd, j->n_kv[r], j->d, j->hd, att, j->out + row);
        if (j->record) memcpy(j->record + ((size_t)r * (size_t)j->H + (size_t)h) * (size_t)j->S, att, (size_t)j->n_kv[r] * sizeof(float));
    }
}

/* Longest attention a session computes: its positions or a source's. */
static int n_ctx_max(const atn_session *s) {
    const marian *mm = s->model->impl;
    return mm->n_ctx > s->n_ctx ? mm->n_ctx : s->n_ctx;
}

static void attend_heads(msession *ms, const marian *mm, int n_ctx, const float *q, int n, float *out, float *record, int S) {
    heads_job j = {q, (const float *const *)ms->hK, (const float *const *)ms->hV, ms->hn, mm->d, mm->n_head, mm->hd, S, out, record, ms->att};
    int64_t items = (int64_t)n * mm->n_head, kv = 0;
    for (int r = 0; r < n; r++) kv += ms->hn[r];
    /* chunks of at least ~32k multiply-adds; inline when scratch is short */
    int64_t per_item = kv * mm->hd / (n > 0 ? n : 1) + 1, grain = 32768 / per_item + 1;
    if (!atn_threads_reserve((size_t)n_ctx * sizeof(float))) grain = items;
    atn_parallel_for(items, grain, heads_task, &j);
}

/* x = LN(x + sub) (post-norm) or x = x + sub (pre-norm; the LN was applied to the input). */
static void residual(const marian *mm, float *x, const float *sub, int n, const mnorm *nm) {
    size_t total = (size_t)n * (size_t)mm->d;
    for (size_t i = 0; i < total; i++) x[i] += sub[i];
    if (!mm->pre_norm)
        for (int t = 0; t < n; t++) layer_norm(x + (size_t)t * (size_t)mm->d, nm, mm->d, mm->eps);
}

/* The sublayer's input: x itself (post-norm) or LN(x) in r (pre-norm). */
static const float *sub_input(const marian *mm, msession *ms, const float *x, int n, const mnorm *nm) {
    if (!mm->pre_norm) return x;
    memcpy(ms->r, x, (size_t)n * (size_t)mm->d * sizeof(float));
    for (int t = 0; t < n; t++) layer_norm(ms->r + (size_t)t * (size_t)mm->d, nm, mm->d, mm->eps);
    return ms->r;
}

static void ffn(const marian *mm, msession *ms, const mlayer *L, float *x, int n) {
    const float *in = sub_input(mm, ms, x, n, &L->ffn_norm);
    linear(&L->up, in, n, ms->ff);
    activation(ms->ff, (size_t)n * (size_t)mm->n_ff, mm->act);
    linear(&L->down, ms->ff, n, ms->o);
    residual(mm, x, ms->o, n, &L->ffn_norm);
}

static void embed(const marian *mm, const float *pe_table, const int32_t *tok, const int *pos, int p0, int n, float *x) {
    float scale = mm->scale_emb ? sqrtf((float)mm->d) : 1.0f;
    for (int t = 0; t < n; t++) {
        float *row = x + (size_t)t * (size_t)mm->d;
        const float *pe = pe_table + (size_t)(pos ? pos[t] : p0 + t) * (size_t)mm->d;
        atn_get_row(mm->embd, tok[t], row);
        for (int i = 0; i < mm->d; i++) row[i] = row[i] * scale + pe[i];
    }
}

/* The encoder: source ids -> cross-attention keys/values of every decoder
 * layer, kept in source slots. Several sources go through it together: their
 * rows share every matrix product (one pass over the weights for all), and
 * each row attends only to its own sentence's rows. Every row is computed as
 * it would be alone (matmul rows, norms and attention are per row), so the
 * batch does not change the result. */
int atn_marian_encode_batch(atn_session *s, const int *slots, const int32_t *const *srcs, const int *ns, int count) {
    const marian *mm = s->model->impl;
    msession *ms = s->impl;
    if (count < 1 || count > ATN_MARIAN_MAX_SOURCES) return atn_error("marian: %d sources in one batch", count);
    int N = 0, longest = 0;
    for (int i = 0; i < count; i++) {
        int n = ns[i], slot = slots[i];
        if (n < 1) return atn_error("marian: empty source");
        if (n > mm->n_ctx) return atn_error("marian: source of %d tokens exceeds the model's %d positions", n, mm->n_ctx);
        for (int j = 0; j < n; j++)
            if (srcs[i][j] < 0 || srcs[i][j] >= mm->n_vocab) return atn_error("marian: source token id %d is out of range", srcs[i][j]);
        if (slot < 0 || slot >= ATN_MARIAN_MAX_SOURCES) return atn_error("marian: source slot %d out of range", slot);
        for (int j = 0; j < i; j++)
            if (slots[j] == slot) return atn_error("marian: source slot %d twice in one batch", slot);
        N += n; /* at most MAX_SOURCES x 65536 */
        longest = n > longest ? n : longest;
    }
    if (ensure_rows(s, N) || ensure_pe(s, longest)) return -1;
    for (int i = 0; i < count; i++) {
        int slot = slots[i];
        if (ns[i] > ms->src_cap[slot]) {
            size_t sz = atn_mul_size(atn_mul_size((size_t)mm->n_dec, (size_t)ns[i]), (size_t)mm->d);
            if (grow(&ms->ck[slot], sz) || grow(&ms->cv[slot], sz)) return -1;
            ms->src_cap[slot] = ns[i];
        }
    }
    int d = mm->d, hd = mm->hd;
    float qscale = 1.0f / sqrtf((float)hd);
    float *x = ms->x;
    for (int i = 0, r0 = 0; i < count; r0 += ns[i], i++) embed(mm, mm->pe, srcs[i], NULL, 0, ns[i], x + (size_t)r0 * (size_t)d);
    for (int l = 0; l < mm->n_enc; l++) {
        const mlayer *L = &mm->enc[l];
        const float *in = sub_input(mm, ms, x, N, &L->attn_norm);
        linear_group((const mlin *[]){&L->q, &L->k, &L->v}, (float *[]){ms->q, ms->k, ms->v}, 3, in, N);
        for (int i = 0, t = 0; i < count; i++) {
            const float *k0 = ms->k + (size_t)t * (size_t)d, *v0 = ms->v + (size_t)t * (size_t)d;
            for (int j = 0; j < ns[i]; j++, t++) {
                atn_scale_f32(ms->q + (size_t)t * (size_t)d, qscale, d);
                ms->hK[t] = k0;
                ms->hV[t] = v0;
                ms->hn[t] = ns[i];
            }
        }
        attend_heads(ms, mm, n_ctx_max(s), ms->q, N, ms->r, NULL, 0);
        linear(&L->o, ms->r, N, ms->o); /* r (the pre-norm input) is free once q, k, v exist */
        residual(mm, x, ms->o, N, &L->attn_norm);
        ffn(mm, ms, L, x, N);
    }
    if (mm->pre_norm && mm->enc_out.w)
        for (int t = 0; t < N; t++) layer_norm(x + (size_t)t * (size_t)d, &mm->enc_out, d, mm->eps);
    /* each decoder layer's cross keys/values, computed for all rows at once
     * (into q and k, free now) and copied to each source's slot */
    for (int l = 0; l < mm->n_dec; l++) {
        linear_group((const mlin *[]){&mm->dec[l].ck, &mm->dec[l].cv}, (float *[]){ms->q, ms->k}, 2, x, N);
        for (int i = 0, r0 = 0; i < count; r0 += ns[i], i++) {
            size_t bytes = (size_t)ns[i] * (size_t)d * sizeof(float), at = (size_t)l * (size_t)ns[i] * (size_t)d;
            memcpy(ms->ck[slots[i]] + at, ms->q + (size_t)r0 * (size_t)d, bytes);
            memcpy(ms->cv[slots[i]] + at, ms->k + (size_t)r0 * (size_t)d, bytes);
        }
    }
    for (int i = 0; i < count; i++) ms->n_src[slots[i]] = ns[i];
    return 0;
}

int atn_marian_encode(atn_session *s, int slot, const int32_t *src, int n) {
    return atn_marian_encode_batch(s, &slot, &src, &n, 1);
}

static int marian_set_source(atn_session *s, const int32_t *src, int n) {
    if (atn_marian_encode(s, 0, src, n)) return -1;
    s->n_past = 0;
    s->n_logits = 0;
    return 0;
}

int atn_marian_decode(atn_session *s, const int32_t *tok, const int *slot, const int *pos, int n) {
    return atn_marian_decode_src(s, tok, slot, pos, NULL, n);
}

int atn_marian_decode_src(atn_session *s, const int32_t *tok, const int *slot, const int *pos, const int *src, int n) {
    const marian *mm = s->model->impl;
    msession *ms = s->impl;
    if (n < 1) return atn_error("marian: nothing to decode");
    for (int r = 0; r < n; r++) {
        int sr = src ? src[r] : 0;
        if (sr < 0 || sr >= ATN_MARIAN_MAX_SOURCES || ms->n_src[sr] < 1)
            return atn_error("marian: no source: call atn_set_source first");
        if (tok[r] < 0 || tok[r] >= mm->n_vocab) return atn_error("marian: token id %d is out of range", tok[r]);
        if (slot[r] < 0 || slot[r] >= ms->n_slots) return atn_error("marian: hypothesis %d does not exist", slot[r]);
        if (pos[r] < 0 || pos[r] >= s->n_ctx) return atn_error("marian: target position %d exceeds the context (%d)", pos[r], s->n_ctx);
    }
    if (ensure_rows(s, n) || ensure_logits(s, n)) return -1;
    int d = mm->d, H = mm->n_head, hd = mm->hd, S = ms->n_src[src ? src[0] : 0];
    if (ms->record) { /* one source for all rows */
        for (int r = 1; r < n; r++)
            if ((src ? src[r] : 0) != (src ? src[0] : 0)) return atn_error("marian: recording attention over several sources");
        size_t need = atn_mul_size(atn_mul_size((size_t)mm->n_dec, (size_t)n), atn_mul_size((size_t)H, (size_t)S));
        if (need > ms->xattn_cap) {
            if (grow(&ms->xattn, need)) return -1;
            ms->xattn_cap = need;
        }
        ms->xattn_rows = n;
    }
    float qscale = 1.0f / sqrtf((float)hd);
    size_t slot_stride = (size_t)s->n_ctx * (size_t)d, layer_stride = slot_stride * (size_t)ms->n_slots;
    float *x = ms->x;
    embed(mm, mm->pe, tok, pos, 0, n, x);
    for (int l = 0; l < mm->n_dec; l++) {
        const mlayer *L = &mm->dec[l];
        float *kc = ms->kc + layer_stride * (size_t)l, *vc = ms->vc + layer_stride * (size_t)l;
        /* masked self-attention: store every row's key/value, then attend */
        const float *in = sub_input(mm, ms, x, n, &L->attn_norm);
        linear_group((const mlin *[]){&L->q, &L->k, &L->v}, (float *[]){ms->q, ms->k, ms->v}, 3, in, n);
        for (int r = 0; r < n; r++) {
            size_t at = slot_stride * (size_t)slot[r] + (size_t)pos[r] * (size_t)d;
            memcpy(kc + at, ms->k + (size_t)r * (size_t)d, (size_t)d * sizeof(float));
            memcpy(vc + at, ms->v + (size_t)r * (size_t)d, (size_t)d * sizeof(float));
        }
        for (int r = 0; r < n; r++) {
            atn_scale_f32(ms->q + (size_t)r * (size_t)d, qscale, d);
            ms->hK[r] = kc + slot_stride * (size_t)slot[r];
            ms->hV[r] = vc + slot_stride * (size_t)slot[r];
            ms->hn[r] = pos[r] + 1;
        }
        attend_heads(ms, mm, n_ctx_max(s), ms->q, n, ms->k, NULL, 0);
        linear(&L->o, ms->k, n, ms->o);
        residual(mm, x, ms->o, n, &L->attn_norm);
        /* cross-attention over the cached source keys/values */
        in = sub_input(mm, ms, x, n, &L->cross_norm);
        linear(&L->cq, in, n, ms->q);
        for (int r = 0; r < n; r++) {
            int sr = src ? src[r] : 0, Sr = ms->n_src[sr];
            atn_scale_f32(ms->q + (size_t)r * (size_t)d, qscale, d);
            ms->hK[r] = ms->ck[sr] + (size_t)l * (size_t)Sr * (size_t)d;
            ms->hV[r] = ms->cv[sr] + (size_t)l * (size_t)Sr * (size_t)d;
            ms->hn[r] = Sr;
        }
        attend_heads(ms, mm, n_ctx_max(s), ms->q, n, ms->k,
                     ms->record ? ms->xattn + (size_t)l * (size_t)n * (size_t)H * (size_t)S : NULL, S);
        linear(&L->co, ms->k, n, ms->o);
        residual(mm, x, ms->o, n, &L->cross_norm);
        ffn(mm, ms, L, x, n);
    }
    if (mm->pre_norm && mm->dec_out.w)
        for (int r = 0; r < n; r++) layer_norm(x + (size_t)r * (size_t)d, &mm->dec_out, d, mm->eps);
    linear(&mm->out, x, n, s->logits);
    s->n_logits = n;
    return 0;
}

/* atn_eval for marian: target tokens of hypothesis 0 after the cached ones. */
static int marian_eval(atn_session *s, const int32_t *tokens, int n, int all_logits) {
    msession *ms = s->impl;
    if (n < 1) return atn_error("marian: nothing to evaluate");
    if (s->n_past + n > s->n_ctx) return atn_error("marian: context full (%d + %d > %d tokens)", s->n_past, n, s->n_ctx);
    if (ensure_rows(s, n)) return -1;
    for (int i = 0; i < n; i++) {
        ms->slot[i] = 0;
        ms->pos[i] = s->n_past + i;
    }
    int rc = atn_marian_decode(s, tokens, ms->slot, ms->pos, n);
    if (rc) return rc;
    if (!all_logits && n > 1) {
        memmove(s->logits, s->logits + (size_t)(n - 1) * (size_t)s->model->n_vocab, (size_t)s->model->n_vocab * sizeof(float));
        s->n_logits = 1;
    }
    return 0;
}

int atn_marian_reorder(atn_session *s, const int *parent, int n_slots, int n_pos) {
    const marian *mm = s->model->impl;
    msession *ms = s->impl;
    if (n_slots > ms->n_slots || n_pos > s->n_ctx || n_pos < 0) return atn_error("marian: bad reorder");
    int identity = 1;
    for (int b = 0; b < n_slots; b++) {
        if (parent[b] < 0 || parent[b] >= ms->n_slots) return atn_error("marian: bad reorder parent %d", parent[b]);
        identity &= parent[b] == b;
    }
    if (identity || n_pos == 0) return 0;
    size_t slot_stride = (size_t)s->n_ctx * (size_t)mm->d, layer_stride = slot_stride * (size_t)ms->n_slots;
    size_t used = (size_t)n_pos * (size_t)mm->d * sizeof(float);
    for (int l = 0; l < mm->n_dec; l++) {
        for (int c = 0; c < 2; c++) {
            float *base = (c ? ms->vc : ms->kc) + layer_stride * (size_t)l;
            for (int b = 0; b < ms->n_slots; b++) memcpy(ms->tmp + slot_stride * (size_t)b, base + slot_stride * (size_t)b, used);
            for (int b = 0; b < n_slots; b++)
                if (parent[b] != b) memcpy(base + slot_stride * (size_t)b, ms->tmp + slot_stride * (size_t)parent[b], used);
        }
    }
    return 0;
}

void atn_marian_record_attention(atn_session *s, int on) {
    msession *ms = s->impl;
    ms->record = on;
    ms->xattn_rows = 0;
}

const float *atn_marian_attention(const atn_session *s, int *n_rows) {
    const msession *ms = s->impl;
    *n_rows = ms->record ? ms->xattn_rows : 0;
    return ms->record && ms->xattn_rows ? ms->xattn : NULL;
}

int atn_marian_info_get(const atn_session *s, atn_marian_info *out) {
    if (!s || s->model->arch != &atn_arch_marian) return atn_error("not a marian model");
    const marian *mm = s->model->impl;
    const msession *ms = s->impl;
    out->d_model = mm->d;
    out->n_enc = mm->n_enc;
    out->n_dec = mm->n_dec;
    out->n_head = mm->n_head;
    out->n_ctx = mm->n_ctx;
    out->start = mm->start;
    out->eos = atn_tokenizer_eos(s->model->tok);
    out->pad = atn_tokenizer_pad(s->model->tok);
    out->n_src = ms->n_src[0];
    return 0;
}

const atn_arch atn_arch_marian = {
    "marian", marian_load, marian_free, marian_info_json, session_init, session_free, marian_eval, marian_set_source,
};
