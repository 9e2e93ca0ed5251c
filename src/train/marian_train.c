/* marian_train.c — the marian forward pass with saved activations, and its
 * backward pass, op by op (the equations are those of src/models/marian.c and
 * docs/marian-gguf.md; post-norm only):
 *
 *   x = E[tok]·√d + P[pos]                                   embedding
 *   encoder layer:  x1 = LN(x + Wo·Attn(Wq x, Wk x, Wv x))    (padding-free:
 *                   x2 = LN(x1 + Wdown·act(Wup x1))             attention stays
 *   decoder layer:  y1 = LN(y + Wo·CausalAttn(y))               inside an example)
 *                   y2 = LN(y1 + Wco·Attn(Wcq y1, Wck enc, Wcv enc))
 *                   y3 = LN(y2 + FFN(y2))
 *   logits = Wout·y + b_out  (Wout = E when tied)
 *   loss   = mean over target tokens of (1-ε)·(-log p_y) + ε·mean_v(-log p_v)
 *
 * Every linear map is Y = X·Wᵀ + b (+ (α/r)·(X·Aᵀ)·Bᵀ with a LoRA adapter);
 * every product, forward and backward, goes through atn_matmul: the GGUF
 * type for frozen weights in the forward pass (exactly what inference
 * computes), its f32 SIMD128 path for the rest (dX = dY·W with W transposed,
 * dW = dYᵀ·X with both transposed), natively through the SSE mapping.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../gguf.h"
#include "../kernels.h"
#include "../quant.h"
#include "train.h"

enum { ACT_RELU, ACT_GELU, ACT_SWISH };

typedef struct tlin {
    int n_in, n_out;
    const atn_tensor *q;  /* the GGUF weight when frozen (NULL when W is trained) */
    atn_tparam W;         /* trained f32 weight [n_out][n_in] */
    atn_tparam b;         /* bias [n_out] (w NULL: none) */
    atn_tparam A, B;      /* LoRA A [r][n_in], B [n_out][r] (w NULL: none) */
    void *wt;             /* the frozen weight transposed [n_in][n_out] (for dX), made once */
    atn_tensor wt_view;   /* ... as a tensor: q8_0 when the weight is quantized, else f32 */
    char name[48];        /* GGUF name without ".weight" */
} tlin;

typedef struct tnorm { atn_tparam g, b; } tnorm;

typedef struct tlayer {
    tlin q, k, v, o, cq, ck, cv, co, up, down;
    tnorm n1, n2, n3;     /* attn_norm, cross_norm (decoder), ffn_norm */
} tlayer;

/* Saved activations of one layer (rows R of the packed batch). */
typedef struct tacts {
    float *x, *q, *k, *v, *P, *a, *x1, *xh1, *rs1;      /* self-attention block */
    float *cq, *ck, *cv, *cP, *ca, *x2, *xh2, *rs2;     /* cross-attention block (decoder) */
    float *f, *xh3, *rs3;                               /* FFN block: pre-activation, final LN */
    float *la[10];                                      /* LoRA X·Aᵀ per linear [R][r] */
    size_t cap[32];
} tacts;

typedef struct enc_cache { const int32_t *src; int n; float *out; } enc_cache;

struct atn_trainer {
    atn_model *model;
    atn_train_opts o;
    int d, H, hd, ff, n_enc, n_dec, n_ctx, V, act, scale_emb, tied;
    float eps, lora_scale;
    int32_t start, pad;       /* pad: its embedding row gets no gradient from lookups (nn.Embedding padding_idx) */
    const atn_tensor *embd;
    atn_tparam E;             /* full mode: trained embeddings [V][d] */
    tlin out;
    tlayer *enc, *dec;
    float *pos;
    atn_tparam **params;
    int n_params, cap_params;
    int train_encoder;
    tacts *ea, *da;           /* per layer */
    float *logits, *dx, *top, *denc, *enc_out, *dec_in;  /* batch buffers */
    size_t cap_logits, cap_dx, cap_top, cap_denc, cap_enc, cap_dec_in;
    float *s[4];              /* scratch */
    size_t cap_s[4];
    enc_cache *cache;
    int n_cache, cap_cache;
    size_t bytes;
};

/* ---- memory ------------------------------------------------------------- */

static int need(atn_trainer *t, float **p, size_t *cap, size_t n) {
    if (n <= *cap) return 0;
    if (n > SIZE_MAX / sizeof(float)) return atn_error("train: buffer size overflows");
    float *q = realloc(*p, n * sizeof(float));
    if (!q) return atn_error("train: out of memory (%zu MB more)", (n - *cap) * sizeof(float) >> 20);
    t->bytes += (n - *cap) * sizeof(float);
    *p = q;
    *cap = n;
    return 0;
}

static float *scratch(atn_trainer *t, int i, size_t n) {
    return need(t, &t->s[i], &t->cap_s[i], n) ? NULL : t->s[i];
}

static int param_alloc(atn_trainer *t, atn_tparam *p, const char *name, size_t n, int trained) {
    snprintf(p->name, sizeof p->name, "%s", name);
    p->n = n;
    p->w = calloc(n ? n : 1, sizeof(float));
    if (!p->w) return atn_error("train: out of memory for %s", name);
    t->bytes += n * sizeof(float);
    if (!trained) return 0;
    p->g = calloc(n, sizeof(float));
    p->m = calloc(n, sizeof(float));
    p->v = calloc(n, sizeof(float));
    if (!p->g || !p->m || !p->v) return atn_error("train: out of memory for %s", name);
    t->bytes += 3 * n * sizeof(float);
    if (t->n_params == t->cap_params) {
        int c = t->cap_params ? 2 * t->cap_params : 64;
        atn_tparam **q = realloc(t->params, (size_t)c * sizeof *q);
        if (!q) return atn_error("train: out of memory");
        t->params = q;
        t->cap_params = c;
    }
    t->params[t->n_params++] = p;
    return 0;
}

static void param_free(atn_tparam *p) {
    free(p->w); free(p->g); free(p->m); free(p->v);
}

/* ---- loading ------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_uniform(uint64_t *s) { return (float)((rng_next(s) >> 40) * (1.0 / 16777216.0)); }

/* A vector tensor as f32 (trained in full mode). Absent optional: w NULL. */
static int load_vec(atn_trainer *t, atn_tparam *p, const char *name, int64_t n, int required, int trained) {
    const atn_tensor *x = atn_gguf_find_tensor(t->model->gguf, name);
    memset(p, 0, sizeof *p);
    if (!x) return required ? atn_error("train: tensor %s is missing", name) : 0;
    if (x->ne[0] * x->ne[1] * x->ne[2] * x->ne[3] != n) return atn_error("train: tensor %s has the wrong size", name);
    if (param_alloc(t, p, name, (size_t)n, trained)) return -1;
    atn_dequantize_row(x->type, x->data, p->w, n);
    return 0;
}

static int load_lin(atn_trainer *t, tlin *L, const char *name, int n_in, int n_out, int lora) {
    char buf[96];
    memset(L, 0, sizeof *L);
    snprintf(L->name, sizeof L->name, "%s", name);
    L->n_in = n_in;
    L->n_out = n_out;
    snprintf(buf, sizeof buf, "%s.weight", name);
    const atn_tensor *x = atn_gguf_find_tensor(t->model->gguf, buf);
    if (!x || x->ne[0] != n_in || x->ne[1] != n_out) return atn_error("train: tensor %s is missing or misshapen", buf);
    if (t->o.full) {
        if (param_alloc(t, &L->W, buf, (size_t)n_in * (size_t)n_out, 1)) return -1;
        size_t rb = atn_row_size(x->type, n_in);
        for (int r = 0; r < n_out; r++)
            atn_dequantize_row(x->type, (const uint8_t *)x->data + rb * (size_t)r, L->W.w + (size_t)r * (size_t)n_in, n_in);
    } else {
        L->q = x;
    }
    snprintf(buf, sizeof buf, "%s.bias", name);
    if (load_vec(t, &L->b, buf, n_out, 0, t->o.full)) return -1;
    if (lora) {
        int r = t->o.lora_rank;
        snprintf(buf, sizeof buf, "%s.lora_a", name);
        if (param_alloc(t, &L->A, buf, (size_t)r * (size_t)n_in, 1)) return -1;
        snprintf(buf, sizeof buf, "%s.lora_b", name);
        if (param_alloc(t, &L->B, buf, (size_t)n_out * (size_t)r, 1)) return -1;
        float bound = 1.0f / sqrtf((float)n_in);
        for (size_t i = 0; i < L->A.n; i++) L->A.w[i] = (2.0f * rng_uniform(&t->o.seed) - 1.0f) * bound;
    }
    return 0;
}

static int load_norm(atn_trainer *t, tnorm *N, const char *name) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s.weight", name);
    if (load_vec(t, &N->g, buf, t->d, 1, t->o.full)) return -1;
    snprintf(buf, sizeof buf, "%s.bias", name);
    return load_vec(t, &N->b, buf, t->d, 0, t->o.full);
}

static int load_layer(atn_trainer *t, tlayer *L, const char *side, int i, int lora) {
    char p[64], buf[96];
    int d = t->d, f = t->ff;
    snprintf(p, sizeof p, "%s.blk.%d", side, i);
#define LIN(field, what, a, b) (snprintf(buf, sizeof buf, "%s.%s", p, what), load_lin(t, &L->field, buf, a, b, lora))
#define NRM(field, what) (snprintf(buf, sizeof buf, "%s.%s", p, what), load_norm(t, &L->field, buf))
    if (LIN(q, "attn_q", d, d) || LIN(k, "attn_k", d, d) || LIN(v, "attn_v", d, d) || LIN(o, "attn_o", d, d) ||
        NRM(n1, "attn_norm") || LIN(up, "ffn_up", d, f) || LIN(down, "ffn_down", f, d) || NRM(n3, "ffn_norm"))
        return -1;
    if (side[0] == 'd' && (LIN(cq, "cross_q", d, d) || LIN(ck, "cross_k", d, d) || LIN(cv, "cross_v", d, d) ||
                           LIN(co, "cross_o", d, d) || NRM(n2, "cross_norm")))
        return -1;
#undef LIN
#undef NRM
    return 0;
}

static void lin_free(tlin *L) {
    if (L->W.w != NULL && L->name[0] != '*') param_free(&L->W);
    param_free(&L->b); param_free(&L->A); param_free(&L->B);
    free(L->wt);
}

static void layer_free(tlayer *L) {
    tlin *ls[] = {&L->q, &L->k, &L->v, &L->o, &L->cq, &L->ck, &L->cv, &L->co, &L->up, &L->down};
    for (int i = 0; i < 10; i++) lin_free(ls[i]);
    tnorm *ns[] = {&L->n1, &L->n2, &L->n3};
    for (int i = 0; i < 3; i++) { param_free(&ns[i]->g); param_free(&ns[i]->b); }
}

static void acts_free(tacts *a) {
    float **ps[] = {&a->x, &a->q, &a->k, &a->v, &a->P, &a->a, &a->x1, &a->xh1, &a->rs1, &a->cq, &a->ck, &a->cv,
                    &a->cP, &a->ca, &a->x2, &a->xh2, &a->rs2, &a->f, &a->xh3, &a->rs3};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) free(*ps[i]);
    for (int i = 0; i < 10; i++) free(a->la[i]);
}

void atn_trainer_free(atn_trainer *t) {
    if (!t) return;
    for (int i = 0; i < t->n_enc && t->enc; i++) layer_free(&t->enc[i]);
    for (int i = 0; i < t->n_dec && t->dec; i++) layer_free(&t->dec[i]);
    for (int i = 0; i < t->n_enc && t->ea; i++) acts_free(&t->ea[i]);
    for (int i = 0; i < t->n_dec && t->da; i++) acts_free(&t->da[i]);
    if (t->tied) t->out.W.w = NULL; /* shares E */
    lin_free(&t->out);
    param_free(&t->E);
    free(t->enc); free(t->dec); free(t->ea); free(t->da); free(t->pos); free(t->params);
    free(t->logits); free(t->dx); free(t->top); free(t->denc); free(t->enc_out); free(t->dec_in);
    for (int i = 0; i < 4; i++) free(t->s[i]);
    for (int i = 0; i < t->n_cache; i++) free(t->cache[i].out);
    free(t->cache);
    free(t);
}

static int hp_u32(const atn_gguf *g, const char *key, int *out) {
    uint32_t v;
    if (atn_gguf_get_u32(g, key, &v) != 0 || v > (1u << 24)) return atn_error("train: %s is missing or out of range", key);
    *out = (int)v;
    return 0;
}

atn_trainer *atn_trainer_new(atn_model *m, const atn_train_opts *o) {
    if (!m || m->arch != &atn_arch_marian) {
        atn_error("train: only marian (translation) models can be fine-tuned; this one is '%s'", m ? m->arch_name : "none");
        return NULL;
    }
    if (!o->full && (o->lora_rank < 1 || o->lora_rank > 256)) { atn_error("train: LoRA rank must be 1..256"); return NULL; }
    if (!(o->label_smoothing >= 0 && o->label_smoothing < 1)) { atn_error("train: label smoothing must be in [0, 1)"); return NULL; }
    atn_trainer *t = calloc(1, sizeof *t);
    if (!t) { atn_error("train: out of memory"); return NULL; }
    t->model = m;
    t->o = *o;
    const atn_gguf *g = m->gguf;
    int pre = 0;
    if (hp_u32(g, "marian.embedding_length", &t->d) || hp_u32(g, "marian.encoder.block_count", &t->n_enc) ||
        hp_u32(g, "marian.decoder.block_count", &t->n_dec) || hp_u32(g, "marian.attention.head_count", &t->H) ||
        hp_u32(g, "marian.feed_forward_length", &t->ff) || hp_u32(g, "marian.context_length", &t->n_ctx))
        goto fail;
    if (atn_gguf_get_bool(g, "marian.normalize_before", &pre) == 0 && pre) {
        atn_error("train: pre-norm (marian.normalize_before) models cannot be fine-tuned yet");
        goto fail;
    }
    t->scale_emb = 1;
    atn_gguf_get_bool(g, "marian.scale_embedding", &t->scale_emb);
    t->eps = 1e-5f;
    atn_gguf_get_f32(g, "marian.attention.layer_norm_epsilon", &t->eps);
    t->act = ACT_RELU;
    const char *s;
    size_t sn;
    if (atn_gguf_get_str(g, "marian.activation", &s, &sn) == 0) {
        if (sn == 4 && !memcmp(s, "gelu", 4)) t->act = ACT_GELU;
        else if ((sn == 5 && !memcmp(s, "swish", 5)) || (sn == 4 && !memcmp(s, "silu", 4))) t->act = ACT_SWISH;
    }
    uint32_t st;
    atn_gguf_get_u32(g, "marian.decoder_start_token_id", &st);
    t->start = (int32_t)st;
    t->pad = atn_tokenizer_pad(m->tok);
    t->V = m->n_vocab;
    t->hd = t->d / t->H;
    t->lora_scale = o->full ? 0.0f : o->lora_alpha / (float)o->lora_rank;
    t->train_encoder = o->full || o->lora_encoder;

    t->enc = calloc((size_t)t->n_enc, sizeof(tlayer));
    t->dec = calloc((size_t)t->n_dec, sizeof(tlayer));
    t->ea = calloc((size_t)t->n_enc, sizeof(tacts));
    t->da = calloc((size_t)t->n_dec, sizeof(tacts));
    t->pos = malloc((size_t)t->n_ctx * (size_t)t->d * sizeof(float));
    if (!t->enc || !t->dec || !t->ea || !t->da || !t->pos) { atn_error("train: out of memory"); goto fail; }
    t->bytes += (size_t)t->n_ctx * (size_t)t->d * sizeof(float);
    for (int p = 0; p < t->n_ctx; p++)
        for (int i = 0; i < t->d / 2; i++) {
            double ang = p / pow(10000.0, 2.0 * i / (double)t->d);
            t->pos[(size_t)p * (size_t)t->d + (size_t)i] = (float)sin(ang);
            t->pos[(size_t)p * (size_t)t->d + (size_t)(t->d / 2 + i)] = (float)cos(ang);
        }

    t->embd = atn_gguf_find_tensor(g, "token_embd.weight");
    if (!t->embd) { atn_error("train: token_embd.weight is missing"); goto fail; }
    if (o->full) {
        if (param_alloc(t, &t->E, "token_embd.weight", (size_t)t->V * (size_t)t->d, 1)) goto fail;
        for (int r = 0; r < t->V; r++) atn_get_row(t->embd, r, t->E.w + (size_t)r * (size_t)t->d);
    }
    for (int i = 0; i < t->n_enc; i++)
        if (load_layer(t, &t->enc[i], "enc", i, !o->full && o->lora_encoder)) goto fail;
    for (int i = 0; i < t->n_dec; i++)
        if (load_layer(t, &t->dec[i], "dec", i, !o->full)) goto fail;
    t->tied = atn_gguf_find_tensor(g, "output.weight") == NULL;
    if (t->tied) {
        memset(&t->out, 0, sizeof t->out);
        snprintf(t->out.name, sizeof t->out.name, "*tied");
        t->out.n_in = t->d;
        t->out.n_out = t->V;
        if (o->full) t->out.W = t->E; /* the same values and gradient */
        else t->out.q = t->embd;
        if (load_vec(t, &t->out.b, "output.bias", t->V, 0, o->full)) goto fail;
    } else if (load_lin(t, &t->out, "output", t->d, t->V, 0)) {
        goto fail;
    }
    return t;
fail:
    atn_trainer_free(t);
    return NULL;
}

int atn_trainer_n_params(const atn_trainer *t) { return t->n_params; }
atn_tparam *atn_trainer_param(atn_trainer *t, int i) { return i >= 0 && i < t->n_params ? t->params[i] : NULL; }
size_t atn_trainer_bytes(const atn_trainer *t) { return t->bytes; }

/* ---- matrix products ---------------------------------------------------- */

static atn_tensor f32_view(const float *w, int n_in, int n_out) {
    atn_tensor v;
    memset(&v, 0, sizeof v);
    v.type = ATN_TYPE_F32;
    v.n_dims = 2;
    v.ne[0] = n_in; v.ne[1] = n_out; v.ne[2] = v.ne[3] = 1;
    v.data = w;
    v.nbytes = (size_t)n_in * (size_t)n_out * sizeof(float);
    return v;
}

/* Y[R][n_out] = X[R][n_in] · Wᵀ, W f32 [n_out][n_in]. */
static void mm(float *Y, const float *X, int R, const float *W, int n_in, int n_out) {
    atn_tensor v = f32_view(W, n_in, n_out);
    atn_matmul(&v, X, R, Y);
}

static void transpose(float *dst, const float *src, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(size_t)c * (size_t)rows + (size_t)r] = src[(size_t)r * (size_t)cols + (size_t)c];
}

/* G[n_out][n_in] += scale · dYᵀ · X  (dY [R][n_out], X [R][n_in]). */
static int grad_acc(atn_trainer *t, float *G, const float *dY, const float *X, int R, int n_out, int n_in, float scale) {
    float *dYt = scratch(t, 1, (size_t)R * (size_t)n_out), *Xt = scratch(t, 2, (size_t)R * (size_t)n_in),
          *tmp = scratch(t, 3, (size_t)n_out * (size_t)n_in);
    if (!dYt || !Xt || !tmp) return -1;
    transpose(dYt, dY, R, n_out);
    transpose(Xt, X, R, n_in);
    mm(tmp, dYt, n_out, Xt, R, n_in);
    size_t n = (size_t)n_out * (size_t)n_in;
    if (scale == 1.0f) for (size_t i = 0; i < n; i++) G[i] += tmp[i];
    else for (size_t i = 0; i < n; i++) G[i] += scale * tmp[i];
    return 0;
}

/* dX[R][n_in] += scale · dY[R][n_out] · W, W f32 [n_out][n_in]. */
static int dx_acc(atn_trainer *t, float *dX, const float *dY, int R, const float *W, int n_in, int n_out, float scale) {
    float *tmp = scratch(t, 3, (size_t)R * (size_t)n_in), *Wt = scratch(t, 2, (size_t)n_in * (size_t)n_out);
    if (!tmp || !Wt) return -1;
    transpose(Wt, W, n_out, n_in);
    mm(tmp, dY, R, Wt, n_out, n_in);
    size_t n = (size_t)R * (size_t)n_in;
    if (scale == 1.0f) for (size_t i = 0; i < n; i++) dX[i] += tmp[i];
    else for (size_t i = 0; i < n; i++) dX[i] += scale * tmp[i];
    return 0;
}

/* ---- linear layers ------------------------------------------------------ */

/* Y = X·Wᵀ + b (+ s·(X·Aᵀ)·Bᵀ, keeping X·Aᵀ in XA). */
static int lin_fwd(atn_trainer *t, const tlin *L, const float *X, int R, float *Y, float *XA) {
    if (L->q) atn_matmul(L->q, X, R, Y);
    else mm(Y, X, R, L->W.w, L->n_in, L->n_out);
    if (L->b.w)
        for (int r = 0; r < R; r++) {
            float *y = Y + (size_t)r * (size_t)L->n_out;
            for (int i = 0; i < L->n_out; i++) y[i] += L->b.w[i];
        }
    if (L->A.w) {
        int rk = t->o.lora_rank;
        float *tmp = scratch(t, 0, (size_t)R * (size_t)L->n_out);
        if (!tmp) return -1;
        mm(XA, X, R, L->A.w, L->n_in, rk);
        mm(tmp, XA, R, L->B.w, rk, L->n_out);
        size_t n = (size_t)R * (size_t)L->n_out;
        for (size_t i = 0; i < n; i++) Y[i] += t->lora_scale * tmp[i];
    }
    return 0;
}

/* The frozen weight transposed, [n_in][n_out], made once. A quantized weight
 * stays quantized (q8_0: 1.06 bytes a value, the integer kernel) when n_out
 * allows q8_0 rows; dY·W then runs at the forward pass's speed, with dY
 * rounded to 8 bits per block of 32 as the forward pass rounds activations.
 * f32/f16/bf16 weights are transposed to f32 (exact gradients). */
static const atn_tensor *frozen_t(atn_trainer *t, tlin *L) {
    if (L->wt) return &L->wt_view;
    int dense = L->q->type == ATN_TYPE_F32 || L->q->type == ATN_TYPE_F16 || L->q->type == ATN_TYPE_BF16;
    int type = !dense && atn_row_size(ATN_TYPE_Q8_0, L->n_out) ? ATN_TYPE_Q8_0 : ATN_TYPE_F32;
    size_t rb = atn_row_size(type, L->n_out), n = (size_t)L->n_in * (size_t)L->n_out;
    float *row = scratch(t, 2, (size_t)L->n_in), *col = scratch(t, 3, n);
    void *wt = malloc(rb * (size_t)L->n_in);
    if (!row || !col || !wt) { free(wt); atn_error("train: out of memory for %s", L->name); return NULL; }
    t->bytes += rb * (size_t)L->n_in;
    for (int o = 0; o < L->n_out; o++) {
        atn_get_row(L->q, o, row);
        for (int i = 0; i < L->n_in; i++) col[(size_t)i * (size_t)L->n_out + (size_t)o] = row[i];
    }
    for (int i = 0; i < L->n_in; i++)
        atn_quantize_row(type, col + (size_t)i * (size_t)L->n_out, (uint8_t *)wt + rb * (size_t)i, L->n_out);
    L->wt = wt;
    memset(&L->wt_view, 0, sizeof L->wt_view);
    L->wt_view.type = type;
    L->wt_view.n_dims = 2;
    L->wt_view.ne[0] = L->n_out;
    L->wt_view.ne[1] = L->n_in;
    L->wt_view.ne[2] = L->wt_view.ne[3] = 1;
    L->wt_view.data = wt;
    L->wt_view.nbytes = rb * (size_t)L->n_in;
    return &L->wt_view;
}

/* Gradients of Y = lin(X): parameters' gradients accumulate; dX (if not NULL) += dY·W'. */
static int lin_bwd(atn_trainer *t, tlin *L, const float *X, int R, const float *dY, const float *XA, float *dX) {
    int n_in = L->n_in, n_out = L->n_out;
    if (L->W.g && grad_acc(t, L->W.g, dY, X, R, n_out, n_in, 1.0f)) return -1;
    if (L->b.g)
        for (int r = 0; r < R; r++) {
            const float *dy = dY + (size_t)r * (size_t)n_out;
            for (int i = 0; i < n_out; i++) L->b.g[i] += dy[i];
        }
    if (dX) {
        if (L->q) {
            const atn_tensor *wt = frozen_t(t, L);
            float *tmp = wt ? scratch(t, 3, (size_t)R * (size_t)n_in) : NULL;
            if (!tmp) return -1;
            atn_matmul(wt, dY, R, tmp);
            size_t n = (size_t)R * (size_t)n_in;
            for (size_t i = 0; i < n; i++) dX[i] += tmp[i];
        } else if (dx_acc(t, dX, dY, R, L->W.w, n_in, n_out, 1.0f)) {
            return -1;
        }
    }
    if (L->A.w) {
        int rk = t->o.lora_rank;
        float s = t->lora_scale;
        if (grad_acc(t, L->B.g, dY, XA, R, n_out, rk, s)) return -1;
        float *dXA = scratch(t, 0, (size_t)R * (size_t)rk);
        if (!dXA) return -1;
        memset(dXA, 0, (size_t)R * (size_t)rk * sizeof(float));
        if (dx_acc(t, dXA, dY, R, L->B.w, rk, n_out, s)) return -1;
        /* dXA lives in scratch 0, which grad_acc/dx_acc do not touch */
        if (grad_acc(t, L->A.g, dXA, X, R, rk, n_in, 1.0f)) return -1;
        if (dX && dx_acc(t, dX, dXA, R, L->A.w, n_in, rk, 1.0f)) return -1;
    }
    return 0;
}

/* ---- element-wise ops --------------------------------------------------- */

/* y = LN(h) row by row; xh = normalized, rs = 1/σ kept for the backward pass. */
static void ln_fwd(const tnorm *N, const float *h, int R, int d, float eps, float *y, float *xh, float *rs) {
    for (int r = 0; r < R; r++) {
        const float *x = h + (size_t)r * (size_t)d;
        float mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += x[i];
        mean /= (float)d;
        for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
        float inv = 1.0f / sqrtf(var / (float)d + eps);
        rs[r] = inv;
        float *o = y + (size_t)r * (size_t)d, *z = xh + (size_t)r * (size_t)d;
        for (int i = 0; i < d; i++) {
            z[i] = (x[i] - mean) * inv;
            o[i] = z[i] * N->g.w[i] + (N->b.w ? N->b.w[i] : 0.0f);
        }
    }
}

/* dh = LN'ᵀ dy (written), parameters' gradients accumulated. */
static void ln_bwd(tnorm *N, const float *dy, const float *xh, const float *rs, int R, int d, float *dh) {
    for (int r = 0; r < R; r++) {
        const float *g = dy + (size_t)r * (size_t)d, *z = xh + (size_t)r * (size_t)d;
        float *o = dh + (size_t)r * (size_t)d;
        float m1 = 0, m2 = 0;
        for (int i = 0; i < d; i++) {
            float dz = g[i] * N->g.w[i];
            if (N->g.g) N->g.g[i] += g[i] * z[i];
            if (N->b.g) N->b.g[i] += g[i];
            o[i] = dz;
            m1 += dz;
            m2 += dz * z[i];
        }
        m1 /= (float)d;
        m2 /= (float)d;
        for (int i = 0; i < d; i++) o[i] = rs[r] * (o[i] - m1 - z[i] * m2);
    }
}

static float act_f(int act, float v) {
    if (act == ACT_RELU) return v > 0 ? v : 0;
    if (act == ACT_SWISH) return v / (1.0f + expf(-v));
    return 0.5f * v * (1.0f + erff(v * 0.70710678f));
}

static float act_df(int act, float v) {
    if (act == ACT_RELU) return v > 0 ? 1.0f : 0.0f;
    if (act == ACT_SWISH) {
        float sg = 1.0f / (1.0f + expf(-v));
        return sg * (1.0f + v * (1.0f - sg));
    }
    return 0.5f * (1.0f + erff(v * 0.70710678f)) + v * 0.39894228f * expf(-0.5f * v * v);
}

/* ---- attention ---------------------------------------------------------- */

/* One example: queries Q [nq][d], keys/values K, V [nk][d] (rows of stride d),
 * per head softmax(scale·q·k) (causal: key j ≤ query i) into P [nq][H][nk],
 * output O [nq][d]. */
static void attn_fwd(const atn_trainer *t, const float *Q, const float *K, const float *V, int nq, int nk, int causal,
                     float *P, float *O) {
    int d = t->d, H = t->H, hd = t->hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < nq; i++)
        for (int h = 0; h < H; h++) {
            float *p = P + ((size_t)i * (size_t)H + (size_t)h) * (size_t)nk;
            int n = causal ? i + 1 : nk;
            atn_dot_rows_f32(Q + (size_t)i * (size_t)d + h * hd, K + h * hd, (size_t)d, n, hd, p);
            atn_softmax_f32(p, n, scale);
            for (int j = n; j < nk; j++) p[j] = 0;
            float *o = O + (size_t)i * (size_t)d + h * hd;
            memset(o, 0, (size_t)hd * sizeof(float));
            atn_axpy_rows_f32(p, V + h * hd, (size_t)d, n, hd, o);
        }
}

/* Gradients of attn_fwd: dQ, dK, dV accumulate. dp: scratch [nk]. */
static void attn_bwd(const atn_trainer *t, const float *Q, const float *K, const float *V, const float *P, const float *dO,
                     int nq, int nk, int causal, float *dQ, float *dK, float *dV, float *dp) {
    int d = t->d, H = t->H, hd = t->hd;
    float scale = 1.0f / sqrtf((float)hd);
    for (int i = 0; i < nq; i++)
        for (int h = 0; h < H; h++) {
            const float *p = P + ((size_t)i * (size_t)H + (size_t)h) * (size_t)nk;
            const float *g = dO + (size_t)i * (size_t)d + h * hd;
            int n = causal ? i + 1 : nk;
            atn_dot_rows_f32(g, V + h * hd, (size_t)d, n, hd, dp);
            float sum = 0;
            for (int j = 0; j < n; j++) sum += p[j] * dp[j];
            for (int j = 0; j < n; j++) {
                float ds = p[j] * (dp[j] - sum) * scale;
                atn_axpy_f32(p[j], g, dV + (size_t)j * (size_t)d + h * hd, hd);
                atn_axpy_f32(ds, K + (size_t)j * (size_t)d + h * hd, dQ + (size_t)i * (size_t)d + h * hd, hd);
                atn_axpy_f32(ds, Q + (size_t)i * (size_t)d + h * hd, dK + (size_t)j * (size_t)d + h * hd, hd);
            }
        }
}

/* ---- the batch ---------------------------------------------------------- */

typedef struct batch {
    const atn_example *ex;
    int n;
    int *so, *to;        /* row offset of each example's source / target (n + 1) */
    size_t *po, *co;     /* offsets into P (self) of encoder, decoder, and cross P */
    size_t *pd;
    int Rs, Rt;
} batch;

static int acts_need(atn_trainer *t, tacts *a, int R, size_t nP, size_t nC, int Rs, int dec) {
    size_t d = (size_t)t->d * (size_t)R;
    int i = 0;
#define N(p, n) need(t, &a->p, &a->cap[i++], (n))
    if (N(x, d) || N(q, d) || N(k, d) || N(v, d) || N(P, nP) || N(a, d) || N(x1, d) || N(xh1, d) || N(rs1, (size_t)R) ||
        N(f, (size_t)t->ff * (size_t)R) || N(xh3, d) || N(rs3, (size_t)R))
        return -1;
    if (dec && (N(cq, d) || N(ck, (size_t)t->d * (size_t)Rs) || N(cv, (size_t)t->d * (size_t)Rs) || N(cP, nC) ||
                N(ca, d) || N(x2, d) || N(xh2, d) || N(rs2, (size_t)R)))
        return -1;
#undef N
    if (!t->o.full) {
        /* the cross keys/values' adapters run over the source rows */
        size_t nr = (size_t)t->o.lora_rank * (size_t)(dec && Rs > R ? Rs : R);
        for (int j = 0; j < 10; j++)
            if (need(t, &a->la[j], &a->cap[20 + j], nr > 0 ? nr : 1)) return -1;
    }
    return 0;
}

/* x = E[tok]·√d + P[pos] for the rows of one example. */
static void embed(const atn_trainer *t, const int32_t *tok, int n, float *x) {
    float scale = t->scale_emb ? sqrtf((float)t->d) : 1.0f;
    for (int r = 0; r < n; r++) {
        float *row = x + (size_t)r * (size_t)t->d;
        if (t->E.w) memcpy(row, t->E.w + (size_t)tok[r] * (size_t)t->d, (size_t)t->d * sizeof(float));
        else atn_get_row(t->embd, tok[r], row);
        const float *pe = t->pos + (size_t)r * (size_t)t->d;
        for (int i = 0; i < t->d; i++) row[i] = row[i] * scale + pe[i];
    }
}

static void embed_bwd(atn_trainer *t, const int32_t *tok, int n, const float *dx) {
    if (!t->E.g) return;
    float scale = t->scale_emb ? sqrtf((float)t->d) : 1.0f;
    for (int r = 0; r < n; r++)
        if (tok[r] != t->pad) atn_axpy_f32(scale, dx + (size_t)r * (size_t)t->d, t->E.g + (size_t)tok[r] * (size_t)t->d, t->d);
}

/* FFN + residual + LN: x2 (written to out) = LN(x1 + down(act(up(x1)))). */
static int ffn_fwd(atn_trainer *t, tlayer *L, tacts *a, const float *x1, int R, float *out) {
    size_t nf = (size_t)t->ff * (size_t)R, nd = (size_t)t->d * (size_t)R;
    float *g = scratch(t, 1, nf), *h = g ? scratch(t, 2, nd) : NULL;
    if (!g || !h) return -1;
    if (lin_fwd(t, &L->up, x1, R, a->f, a->la[8])) return -1;
    for (size_t i = 0; i < nf; i++) g[i] = act_f(t->act, a->f[i]);
    /* lin_fwd uses scratch 0 only */
    if (lin_fwd(t, &L->down, g, R, h, a->la[9])) return -1;
    for (size_t i = 0; i < nd; i++) h[i] += x1[i];
    ln_fwd(&L->n3, h, R, t->d, t->eps, out, a->xh3, a->rs3);
    return 0;
}

/* Backward of ffn_fwd: dout [R][d] → dx1 (written). */
static int ffn_bwd(atn_trainer *t, tlayer *L, tacts *a, const float *x1, int R, const float *dout, float *dx1) {
    size_t nf = (size_t)t->ff * (size_t)R, nd = (size_t)t->d * (size_t)R;
    float *dh = malloc(nd * sizeof(float));
    float *g = calloc(nf, sizeof(float));
    float *dg = calloc(nf, sizeof(float));
    int rc = -1;
    if (!dh || !g || !dg) { atn_error("train: out of memory"); goto out; }
    ln_bwd(&L->n3, dout, a->xh3, a->rs3, R, t->d, dh);
    for (size_t i = 0; i < nf; i++) g[i] = act_f(t->act, a->f[i]);
    if (lin_bwd(t, &L->down, g, R, dh, a->la[9], dg)) goto out;
    for (size_t i = 0; i < nf; i++) dg[i] *= act_df(t->act, a->f[i]);
    memcpy(dx1, dh, nd * sizeof(float));
    if (lin_bwd(t, &L->up, x1, R, dg, a->la[8], dx1)) goto out;
    rc = 0;
out:
    free(dh); free(g); free(dg);
    return rc;
}

/* Self-attention block: x1 = LN(x + o(attn(q x, k x, v x))). x is kept in a->x. */
static int self_fwd(atn_trainer *t, tlayer *L, tacts *a, const batch *b, int dec, int R, float *x1) {
    if (lin_fwd(t, &L->q, a->x, R, a->q, a->la[0]) || lin_fwd(t, &L->k, a->x, R, a->k, a->la[1]) ||
        lin_fwd(t, &L->v, a->x, R, a->v, a->la[2]))
        return -1;
    for (int e = 0; e < b->n; e++) {
        int r0 = dec ? b->to[e] : b->so[e], n = (dec ? b->to[e + 1] : b->so[e + 1]) - r0;
        size_t off = (size_t)r0 * (size_t)t->d;
        attn_fwd(t, a->q + off, a->k + off, a->v + off, n, n, dec, a->P + (dec ? b->pd[e] : b->po[e]), a->a + off);
    }
    size_t nd = (size_t)t->d * (size_t)R;
    float *h = scratch(t, 2, nd);
    if (!h || lin_fwd(t, &L->o, a->a, R, h, a->la[3])) return -1;
    for (size_t i = 0; i < nd; i++) h[i] += a->x[i];
    ln_fwd(&L->n1, h, R, t->d, t->eps, x1, a->xh1, a->rs1);
    return 0;
}

/* Backward of self_fwd: dx1 → dx (written). */
static int self_bwd(atn_trainer *t, tlayer *L, tacts *a, const batch *b, int dec, int R, const float *dx1, float *dx) {
    size_t nd = (size_t)t->d * (size_t)R;
    float *dh = calloc(nd, sizeof(float)), *da = calloc(nd, sizeof(float)), *dq = calloc(nd, sizeof(float)),
          *dk = calloc(nd, sizeof(float)), *dv = calloc(nd, sizeof(float)), *dp = malloc((size_t)t->n_ctx * sizeof(float));
    int rc = -1;
    if (!dh || !da || !dq || !dk || !dv || !dp) { atn_error("train: out of memory"); goto out; }
    ln_bwd(&L->n1, dx1, a->xh1, a->rs1, R, t->d, dh);
    if (lin_bwd(t, &L->o, a->a, R, dh, a->la[3], da)) goto out;
    for (int e = 0; e < b->n; e++) {
        int r0 = dec ? b->to[e] : b->so[e], n = (dec ? b->to[e + 1] : b->so[e + 1]) - r0;
        size_t off = (size_t)r0 * (size_t)t->d;
        attn_bwd(t, a->q + off, a->k + off, a->v + off, a->P + (dec ? b->pd[e] : b->po[e]), da + off, n, n, dec, dq + off,
                 dk + off, dv + off, dp);
    }
    memcpy(dx, dh, nd * sizeof(float));
    if (lin_bwd(t, &L->q, a->x, R, dq, a->la[0], dx) || lin_bwd(t, &L->k, a->x, R, dk, a->la[1], dx) ||
        lin_bwd(t, &L->v, a->x, R, dv, a->la[2], dx))
        goto out;
    rc = 0;
out:
    free(dh); free(da); free(dq); free(dk); free(dv); free(dp);
    return rc;
}

/* Cross-attention block: x2 = LN(x1 + co(attn(cq x1, ck enc, cv enc))). */
static int cross_fwd(atn_trainer *t, tlayer *L, tacts *a, const batch *b, int R, const float *enc, float *x2) {
    if (lin_fwd(t, &L->cq, a->x1, R, a->cq, a->la[4]) || lin_fwd(t, &L->ck, enc, b->Rs, a->ck, a->la[5]) ||
        lin_fwd(t, &L->cv, enc, b->Rs, a->cv, a->la[6]))
        return -1;
    for (int e = 0; e < b->n; e++) {
        int t0 = b->to[e], nt = b->to[e + 1] - t0, s0 = b->so[e], ns = b->so[e + 1] - s0;
        attn_fwd(t, a->cq + (size_t)t0 * (size_t)t->d, a->ck + (size_t)s0 * (size_t)t->d, a->cv + (size_t)s0 * (size_t)t->d,
                 nt, ns, 0, a->cP + b->co[e], a->ca + (size_t)t0 * (size_t)t->d);
    }
    size_t nd = (size_t)t->d * (size_t)R;
    float *h = scratch(t, 2, nd);
    if (!h || lin_fwd(t, &L->co, a->ca, R, h, a->la[7])) return -1;
    for (size_t i = 0; i < nd; i++) h[i] += a->x1[i];
    ln_fwd(&L->n2, h, R, t->d, t->eps, x2, a->xh2, a->rs2);
    return 0;
}

/* Backward of cross_fwd: dx2 → dx1 (written); denc (if not NULL) accumulates. */
static int cross_bwd(atn_trainer *t, tlayer *L, tacts *a, const batch *b, int R, const float *enc, const float *dx2,
                     float *dx1, float *denc) {
    size_t nd = (size_t)t->d * (size_t)R, ns = (size_t)t->d * (size_t)b->Rs;
    float *dh = calloc(nd, sizeof(float)), *da = calloc(nd, sizeof(float)), *dq = calloc(nd, sizeof(float)),
          *dk = calloc(ns, sizeof(float)), *dv = calloc(ns, sizeof(float)), *dp = malloc((size_t)t->n_ctx * sizeof(float));
    int rc = -1;
    if (!dh || !da || !dq || !dk || !dv || !dp) { atn_error("train: out of memory"); goto out; }
    ln_bwd(&L->n2, dx2, a->xh2, a->rs2, R, t->d, dh);
    if (lin_bwd(t, &L->co, a->ca, R, dh, a->la[7], da)) goto out;
    for (int e = 0; e < b->n; e++) {
        int t0 = b->to[e], nt = b->to[e + 1] - t0, s0 = b->so[e], n_s = b->so[e + 1] - s0;
        size_t ot = (size_t)t0 * (size_t)t->d, os = (size_t)s0 * (size_t)t->d;
        attn_bwd(t, a->cq + ot, a->ck + os, a->cv + os, a->cP + b->co[e], da + ot, nt, n_s, 0, dq + ot, dk + os, dv + os, dp);
    }
    memcpy(dx1, dh, nd * sizeof(float));
    if (lin_bwd(t, &L->cq, a->x1, R, dq, a->la[4], dx1) || lin_bwd(t, &L->ck, enc, b->Rs, dk, a->la[5], denc) ||
        lin_bwd(t, &L->cv, enc, b->Rs, dv, a->la[6], denc))
        goto out;
    rc = 0;
out:
    free(dh); free(da); free(dq); free(dk); free(dv); free(dp);
    return rc;
}

static int check_examples(const atn_trainer *t, const atn_example *ex, int n) {
    if (n < 1) return atn_error("train: empty batch");
    for (int e = 0; e < n; e++) {
        if (ex[e].n_src < 1 || ex[e].n_tgt < 1) return atn_error("train: example %d is empty", e + 1);
        if (ex[e].n_src > t->n_ctx || ex[e].n_tgt > t->n_ctx)
            return atn_error("train: example %d has %d source / %d target tokens; the model's context is %d", e + 1,
                             ex[e].n_src, ex[e].n_tgt, t->n_ctx);
        for (int i = 0; i < ex[e].n_src; i++)
            if (ex[e].src[i] < 0 || ex[e].src[i] >= t->V) return atn_error("train: example %d: token id out of range", e + 1);
        for (int i = 0; i < ex[e].n_tgt; i++)
            if (ex[e].tgt[i] < 0 || ex[e].tgt[i] >= t->V) return atn_error("train: example %d: token id out of range", e + 1);
    }
    return 0;
}

/* Frozen encoder: its output for one example, computed once. */
static const float *encoder_cached(atn_trainer *t, const atn_example *e);

/* The encoder over the batch's sources into t->enc_out. Saves activations when
 * the encoder is trained. */
static int encoder_fwd(atn_trainer *t, const batch *b) {
    int R = b->Rs;
    size_t nd = (size_t)R * (size_t)t->d;
    if (need(t, &t->enc_out, &t->cap_enc, nd)) return -1;
    if (!t->train_encoder) {
        for (int e = 0; e < b->n; e++) {
            const float *o = encoder_cached(t, &b->ex[e]);
            if (!o) return -1;
            memcpy(t->enc_out + (size_t)b->so[e] * (size_t)t->d, o, (size_t)b->ex[e].n_src * (size_t)t->d * sizeof(float));
        }
        return 0;
    }
    for (int l = 0; l < t->n_enc; l++)
        if (acts_need(t, &t->ea[l], R, b->po[b->n], 0, 0, 0)) return -1;
    for (int e = 0; e < b->n; e++) embed(t, b->ex[e].src, b->ex[e].n_src, t->ea[0].x + (size_t)b->so[e] * (size_t)t->d);
    for (int l = 0; l < t->n_enc; l++) {
        tacts *a = &t->ea[l];
        float *out = l + 1 < t->n_enc ? t->ea[l + 1].x : t->enc_out;
        if (self_fwd(t, &t->enc[l], a, b, 0, R, a->x1) || ffn_fwd(t, &t->enc[l], a, a->x1, R, out)) return -1;
    }
    return 0;
}

static int batch_init(atn_trainer *t, batch *b, const atn_example *ex, int n) {
    memset(b, 0, sizeof *b);
    b->ex = ex;
    b->n = n;
    b->so = malloc((size_t)(n + 1) * sizeof(int));
    b->to = malloc((size_t)(n + 1) * sizeof(int));
    b->po = malloc((size_t)(n + 1) * sizeof(size_t));
    b->pd = malloc((size_t)(n + 1) * sizeof(size_t));
    b->co = malloc((size_t)(n + 1) * sizeof(size_t));
    if (!b->so || !b->to || !b->po || !b->pd || !b->co) return atn_error("train: out of memory");
    b->so[0] = b->to[0] = 0;
    b->po[0] = b->pd[0] = b->co[0] = 0;
    /* sizes in 64 bits, checked against the 32-bit size_t of the WASM build */
    uint64_t H = (uint64_t)t->H, lim = SIZE_MAX / 8;
    for (int e = 0; e < n; e++) {
        uint64_t s = (uint64_t)ex[e].n_src, tt = (uint64_t)ex[e].n_tgt;
        uint64_t po = b->po[e] + H * s * s, pd = b->pd[e] + H * tt * tt, co = b->co[e] + H * tt * s;
        if (b->so[e] > (1 << 24) || b->to[e] > (1 << 24) || po > lim || pd > lim || co > lim)
            return atn_error("train: the batch is too large");
        b->so[e + 1] = b->so[e] + (int)s;
        b->to[e + 1] = b->to[e] + (int)tt;
        b->po[e + 1] = (size_t)po;
        b->pd[e + 1] = (size_t)pd;
        b->co[e + 1] = (size_t)co;
    }
    b->Rs = b->so[n];
    b->Rt = b->to[n];
    /* the largest buffers (logits, FFN activations, attention weights) must
     * be addressable: size_t is 32 bits in the WASM build */
    uint64_t widest = (uint64_t)(t->V > t->ff ? t->V : t->ff), rows = (uint64_t)(b->Rs > b->Rt ? b->Rs : b->Rt);
    uint64_t most = rows * widest, att = (uint64_t)b->po[n] + (uint64_t)b->pd[n] + (uint64_t)b->co[n];
    if (most > SIZE_MAX / 8 || att > SIZE_MAX / 8)
        return atn_error("train: the batch is too large (%d source and %d target tokens)", b->Rs, b->Rt);
    return 0;
}

static void batch_free(batch *b) {
    free(b->so); free(b->to); free(b->po); free(b->pd); free(b->co);
}

/* Forward over the batch up to the logits (t->logits [Rt][V]). */
static int forward(atn_trainer *t, const batch *b) {
    if (encoder_fwd(t, b)) return -1;
    int R = b->Rt;
    for (int l = 0; l < t->n_dec; l++)
        if (acts_need(t, &t->da[l], R, b->pd[b->n], b->co[b->n], b->Rs, 1)) return -1;
    if (need(t, &t->dec_in, &t->cap_dec_in, (size_t)R) || need(t, &t->top, &t->cap_top, (size_t)R * (size_t)t->d) ||
        need(t, &t->logits, &t->cap_logits, (size_t)R * (size_t)t->V))
        return -1;
    int32_t *tok = (int32_t *)t->dec_in; /* same size as a float */
    for (int e = 0; e < b->n; e++) {
        int32_t *row = tok + b->to[e];
        row[0] = t->start;
        for (int i = 1; i < b->ex[e].n_tgt; i++) row[i] = b->ex[e].tgt[i - 1];
        embed(t, row, b->ex[e].n_tgt, t->da[0].x + (size_t)b->to[e] * (size_t)t->d);
    }
    for (int l = 0; l < t->n_dec; l++) {
        tacts *a = &t->da[l];
        float *out = l + 1 < t->n_dec ? t->da[l + 1].x : t->top;
        if (self_fwd(t, &t->dec[l], a, b, 1, R, a->x1) || cross_fwd(t, &t->dec[l], a, b, R, t->enc_out, a->x2) ||
            ffn_fwd(t, &t->dec[l], a, a->x2, R, out))
            return -1;
    }
    return lin_fwd(t, &t->out, t->top, R, t->logits, NULL);
}

/* Label-smoothed cross-entropy over the logits; with grad, the logits are
 * replaced by d(loss)/d(logits). Returns the mean loss. */
static double ce(atn_trainer *t, const batch *b, int grad) {
    int V = t->V, N = b->Rt;
    double eps = t->o.label_smoothing, total = 0;
    for (int e = 0; e < b->n; e++)
        for (int i = 0; i < b->ex[e].n_tgt; i++) {
            float *z = t->logits + (size_t)(b->to[e] + i) * (size_t)V;
            int y = b->ex[e].tgt[i];
            float mx = z[0];
            for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
            double se = 0, sz = 0;
            for (int v = 0; v < V; v++) { se += exp((double)(z[v] - mx)); sz += z[v]; }
            double lse = mx + log(se);
            total += (1 - eps) * (lse - z[y]) + eps * (lse - sz / V);
            if (grad) {
                for (int v = 0; v < V; v++) z[v] = (float)((exp(z[v] - lse) - eps / V) / N);
                z[y] -= (float)((1 - eps) / N);
            }
        }
    return total / N;
}

static void zero_grads(atn_trainer *t) {
    for (int i = 0; i < t->n_params; i++) memset(t->params[i]->g, 0, t->params[i]->n * sizeof(float));
}

int atn_trainer_loss(atn_trainer *t, const atn_example *ex, int n_ex, float *loss) {
    if (check_examples(t, ex, n_ex)) return -1;
    batch b;
    int rc = batch_init(t, &b, ex, n_ex);
    if (!rc) rc = forward(t, &b);
    if (!rc) *loss = (float)ce(t, &b, 0);
    batch_free(&b);
    return rc;
}

int atn_trainer_grad(atn_trainer *t, const atn_example *ex, int n_ex, float *loss) {
    if (check_examples(t, ex, n_ex)) return -1;
    batch b;
    int rc = batch_init(t, &b, ex, n_ex);
    if (!rc) rc = forward(t, &b);
    if (rc) { batch_free(&b); return rc; }
    *loss = (float)ce(t, &b, 1);
    zero_grads(t);
    int R = b.Rt, d = t->d;
    size_t nd = (size_t)R * (size_t)d;
    float *dx = NULL, *dx1 = NULL, *dx2 = NULL;
    rc = -1;
    if (need(t, &t->dx, &t->cap_dx, nd) || need(t, &t->denc, &t->cap_denc, (size_t)b.Rs * (size_t)d)) goto out;
    dx1 = malloc(nd * sizeof(float));
    dx2 = malloc(nd * sizeof(float));
    if (!dx1 || !dx2) { atn_error("train: out of memory"); goto out; }
    dx = t->dx;
    memset(dx, 0, nd * sizeof(float));
    memset(t->denc, 0, (size_t)b.Rs * (size_t)d * sizeof(float));
    float *denc = t->train_encoder ? t->denc : NULL;
    if (lin_bwd(t, &t->out, t->top, R, t->logits, NULL, dx)) goto out;
    for (int l = t->n_dec - 1; l >= 0; l--) {
        tacts *a = &t->da[l];
        /* dx: gradient of this layer's output */
        if (ffn_bwd(t, &t->dec[l], a, a->x2, R, dx, dx2) || cross_bwd(t, &t->dec[l], a, &b, R, t->enc_out, dx2, dx1, denc) ||
            self_bwd(t, &t->dec[l], a, &b, 1, R, dx1, dx))
            goto out;
    }
    int32_t *tok = (int32_t *)t->dec_in;
    for (int e = 0; e < b.n; e++) embed_bwd(t, tok + b.to[e], b.ex[e].n_tgt, dx + (size_t)b.to[e] * (size_t)d);
    if (t->train_encoder) {
        size_t ns = (size_t)b.Rs * (size_t)d;
        float *g1 = realloc(dx1, ns * sizeof(float)), *g2;
        if (!g1) { atn_error("train: out of memory"); goto out; }
        dx1 = g1;
        g2 = realloc(dx2, ns * sizeof(float));
        if (!g2) { atn_error("train: out of memory"); goto out; }
        dx2 = g2;
        float *g = t->denc;
        for (int l = t->n_enc - 1; l >= 0; l--) {
            tacts *a = &t->ea[l];
            if (ffn_bwd(t, &t->enc[l], a, a->x1, b.Rs, g, dx1) || self_bwd(t, &t->enc[l], a, &b, 0, b.Rs, dx1, dx2)) goto out;
            memcpy(g, dx2, ns * sizeof(float));
        }
        for (int e = 0; e < b.n; e++) embed_bwd(t, b.ex[e].src, b.ex[e].n_src, g + (size_t)b.so[e] * (size_t)d);
    }
    rc = 0;
out:
    free(dx1);
    free(dx2);
    batch_free(&b);
    return rc;
}

static const float *encoder_cached(atn_trainer *t, const atn_example *e) {
    for (int i = 0; i < t->n_cache; i++)
        if (t->cache[i].src == e->src && t->cache[i].n == e->n_src) return t->cache[i].out;
    if (t->n_cache == t->cap_cache) {
        int c = t->cap_cache ? 2 * t->cap_cache : 64;
        enc_cache *q = realloc(t->cache, (size_t)c * sizeof *q);
        if (!q) { atn_error("train: out of memory"); return NULL; }
        t->cache = q;
        t->cap_cache = c;
    }
    /* run the encoder on this one example with the (trained-encoder) path's
     * buffers, without keeping anything but its output */
    size_t nd = (size_t)e->n_src * (size_t)t->d;
    float *out = malloc(nd * sizeof(float));
    if (!out) { atn_error("train: out of memory"); return NULL; }
    batch b;
    if (batch_init(t, &b, e, 1)) { free(out); batch_free(&b); return NULL; }
    int rc = 0;
    for (int l = 0; l < t->n_enc && !rc; l++) rc = acts_need(t, &t->ea[l], b.Rs, b.po[1], 0, 0, 0);
    if (!rc) {
        embed(t, e->src, e->n_src, t->ea[0].x);
        for (int l = 0; l < t->n_enc && !rc; l++) {
            tacts *a = &t->ea[l];
            float *o = l + 1 < t->n_enc ? t->ea[l + 1].x : out;
            rc = self_fwd(t, &t->enc[l], a, &b, 0, b.Rs, a->x1) || ffn_fwd(t, &t->enc[l], a, a->x1, b.Rs, o);
        }
    }
    batch_free(&b);
    if (rc) { free(out); return NULL; }
    t->bytes += nd * sizeof(float);
    t->cache[t->n_cache++] = (enc_cache){e->src, e->n_src, out};
    return out;
}

/* ---- optimizer ---------------------------------------------------------- */

float atn_trainer_clip(atn_trainer *t, float max_norm) {
    double ss = 0;
    for (int i = 0; i < t->n_params; i++)
        for (size_t j = 0; j < t->params[i]->n; j++) ss += (double)t->params[i]->g[j] * t->params[i]->g[j];
    float norm = (float)sqrt(ss);
    if (max_norm > 0) {
        float coef = max_norm / (norm + 1e-6f);
        if (coef < 1)
            for (int i = 0; i < t->n_params; i++) atn_scale_f32(t->params[i]->g, coef, (int)t->params[i]->n);
    }
    return norm;
}

void atn_trainer_adamw(atn_trainer *t, int step, float lr, float beta1, float beta2, float eps, float weight_decay) {
    float bc1 = 1.0f - powf(beta1, (float)step), bc2 = 1.0f - powf(beta2, (float)step);
    float step_size = lr / bc1, sbc2 = sqrtf(bc2), decay = 1.0f - lr * weight_decay;
    for (int i = 0; i < t->n_params; i++) {
        atn_tparam *p = t->params[i];
        for (size_t j = 0; j < p->n; j++) {
            float g = p->g[j];
            p->w[j] *= decay;
            p->m[j] = beta1 * p->m[j] + (1.0f - beta1) * g;
            p->v[j] = beta2 * p->v[j] + (1.0f - beta2) * g * g;
            p->w[j] -= step_size * p->m[j] / (sqrtf(p->v[j]) / sbc2 + eps);
        }
    }
}

float atn_train_lr(int step, int total, int warmup, float lr) {
    float up = warmup > 0 ? (float)step / (float)warmup : 1.0f;
    float down = (float)(total + 1 - step) / (float)(total + 1 - (warmup < total ? warmup : 0));
    float f = up < down ? up : down;
    return lr * (f < 0 ? 0 : f > 1 ? 1 : f);
}

/* ---- export ------------------------------------------------------------- */

static int export_lin(atn_trainer *t, tlin *L, atn_tensor_sink fn, void *ctx) {
    char buf[96];
    if (L->name[0] == '*' && !t->o.full) return 0;
    if (L->W.g && L->name[0] != '*') {
        if (fn(L->W.name, L->W.w, L->W.n, ctx)) return -1;
    } else if (L->A.w) {
        size_t n = (size_t)L->n_in * (size_t)L->n_out;
        float *w = malloc(n * sizeof(float));
        if (!w) return atn_error("train: out of memory");
        for (int o = 0; o < L->n_out; o++) {
            float *row = w + (size_t)o * (size_t)L->n_in;
            atn_get_row(L->q, o, row);
            for (int r = 0; r < t->o.lora_rank; r++) {
                float c = t->lora_scale * L->B.w[(size_t)o * (size_t)t->o.lora_rank + (size_t)r];
                atn_axpy_f32(c, L->A.w + (size_t)r * (size_t)L->n_in, row, L->n_in);
            }
        }
        snprintf(buf, sizeof buf, "%s.weight", L->name);
        int rc = fn(buf, w, n, ctx);
        free(w);
        if (rc) return -1;
    }
    if (L->b.g && fn(L->b.name, L->b.w, L->b.n, ctx)) return -1;
    return 0;
}

static int export_norm(tnorm *N, atn_tensor_sink fn, void *ctx) {
    if (N->g.g && fn(N->g.name, N->g.w, N->g.n, ctx)) return -1;
    if (N->b.g && fn(N->b.name, N->b.w, N->b.n, ctx)) return -1;
    return 0;
}

int atn_trainer_export(atn_trainer *t, atn_tensor_sink fn, void *ctx) {
    if (t->E.g && fn(t->E.name, t->E.w, t->E.n, ctx)) return -1;
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < (side ? t->n_dec : t->n_enc); i++) {
            tlayer *L = side ? &t->dec[i] : &t->enc[i];
            tlin *ls[] = {&L->q, &L->k, &L->v, &L->o, &L->cq, &L->ck, &L->cv, &L->co, &L->up, &L->down};
            for (int j = 0; j < 10; j++)
                if ((side || j < 4 || j > 7) && export_lin(t, ls[j], fn, ctx)) return -1;
            if (export_norm(&L->n1, fn, ctx) || (side && export_norm(&L->n2, fn, ctx)) || export_norm(&L->n3, fn, ctx))
                return -1;
        }
    if (t->out.name[0] == '*') {
        if (t->out.b.g && fn(t->out.b.name, t->out.b.w, t->out.b.n, ctx)) return -1;
    } else if (export_lin(t, &t->out, fn, ctx)) {
        return -1;
    }
    return 0;
}
