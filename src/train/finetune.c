/* finetune.c — teaching a translation model the user's own sentence pairs
 * (the atn_finetune_* calls of atento.h). docs/training.md has the reasoning
 * and the measured figures; in short:
 *
 *   - LoRA adapters (rank 8, alpha 16) on every decoder matrix (self- and
 *     cross-attention q/k/v/o, FFN up/down); the GGUF weights stay quantized
 *     and frozen; the encoder is frozen, so its output for each example is
 *     computed once and the backward pass stops at the decoder.
 *   - Every step: the user's pairs plus as many replayed sentences, taken in
 *     turn from a pool of up to 8 times as many, whose targets are the
 *     original model's own greedy translations (so the rest of its behaviour
 *     is pulled back towards what it was). Replayed
 *     sentences whose translation contains a word the pairs replace (a word
 *     of 4+ bytes in the model's translation of a pair's source but not in
 *     the pair's target, e.g. «ordenador» for «computadora») are skipped:
 *     they would teach the old word back.
 *   - Label-smoothed cross-entropy (0.1), AdamW (0.9, 0.98, wd 0.01),
 *     gradient clipping at 1.0, linear warm-up then linear decay.
 *   - Save: the adapters merged into the matrices, re-encoded in their GGUF
 *     type, the rest of the file copied; metadata training.* records the
 *     base model's SHA-256, the pair count and the steps.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../atento.h"
#include "../error.h"
#include "../model.h"
#include "gguf_write.h"
#include "sha256.h"
#include "train.h"

#define FT_RANK 8
#define FT_ALPHA 16.0f
#define FT_STEPS 30
#define FT_LR 3e-3f
#define FT_MAX_PAIRS 1024 /* one batch holds every pair: bounded memory */
#define FT_REPLAY_POOL 8 /* replayed sentences kept: up to this many times the pairs, rotated through the steps */

typedef struct ft_text { char *s; size_t n; } ft_text;

struct atn_finetune {
    atn_model *m;
    atn_trainer *t;
    char lang[16];
    int steps, step, warmup;
    float lr;
    ft_text *pair_src, *pair_tgt, *replay_src;
    int n_pairs, n_pair_src, n_replay_src, cap_src, cap_tgt, cap_replay;
    atn_example *ex;          /* pairs first, then the replayed sentences */
    int n_ex, n_replay;
    atn_example *batch;       /* one step's examples: the pairs + a window of the replayed ones */
    int prepared;
    float last_loss;
    char json[512];
};

static int push_text(ft_text **arr, int *n, int *cap, const char *s, size_t len) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 32;
        ft_text *q = realloc(*arr, (size_t)c * sizeof *q);
        if (!q) return atn_error("finetune: out of memory");
        *arr = q;
        *cap = c;
    }
    char *copy = malloc(len + 1);
    if (!copy) return atn_error("finetune: out of memory");
    memcpy(copy, s, len);
    copy[len] = 0;
    (*arr)[(*n)++] = (ft_text){copy, len};
    return 0;
}

atn_finetune *atn_finetune_new(atn_model *m, const char *target_lang, int steps, float lr, uint32_t seed) {
    if (!m) { atn_error("finetune: no model"); return NULL; }
    if (strcmp(atn_model_arch(m), "marian") != 0) {
        atn_error("finetune: only translation (marian) models can be fine-tuned; this model is '%s'", atn_model_arch(m));
        return NULL;
    }
    if (steps < 0 || steps > 100000) { atn_error("finetune: steps must be 1..100000"); return NULL; }
    if (!(lr >= 0 && lr <= 1)) { atn_error("finetune: the learning rate must be in (0, 1]"); return NULL; }
    if (target_lang && strlen(target_lang) > 8) { atn_error("finetune: bad target language"); return NULL; }
    atn_finetune *f = calloc(1, sizeof *f);
    if (!f) { atn_error("finetune: out of memory"); return NULL; }
    f->m = m;
    snprintf(f->lang, sizeof f->lang, "%s", target_lang ? target_lang : "");
    f->steps = steps ? steps : FT_STEPS;
    f->lr = lr > 0 ? lr : FT_LR;
    f->warmup = f->steps / 10 > 0 ? f->steps / 10 : 1;
    atn_train_opts o = {0, FT_RANK, FT_ALPHA, 0, 0.1f, seed ? seed : 1};
    f->t = atn_trainer_new(m, &o);
    if (!f->t) { free(f); return NULL; }
    /* the tag must exist for a multi-target model: check it now */
    int32_t probe[4];
    if (atn_translate_source_ids(m, f->lang, "a", 1, probe, 4) < 0) { atn_finetune_free(f); return NULL; }
    return f;
}

void atn_finetune_free(atn_finetune *f) {
    if (!f) return;
    atn_trainer_free(f->t);
    for (int i = 0; i < f->n_pairs; i++) { free(f->pair_src[i].s); free(f->pair_tgt[i].s); }
    for (int i = 0; i < f->n_replay_src; i++) free(f->replay_src[i].s);
    for (int i = 0; i < f->n_ex; i++) { free((void *)f->ex[i].src); free((void *)f->ex[i].tgt); }
    free(f->pair_src); free(f->pair_tgt); free(f->replay_src); free(f->ex); free(f->batch);
    free(f);
}

/* Target ids of a text: the target vocabulary's segmentation + EOS. */
static int target_ids(const atn_model *m, const char *s, size_t n, int32_t **out) {
    int k = atn_tokenize(m, s, n, 0, 0, NULL, 0);
    if (k < 0) return -1;
    int32_t *ids = malloc(((size_t)k + 1) * sizeof(int32_t));
    if (!ids) return atn_error("finetune: out of memory");
    atn_tokenize(m, s, n, 0, 0, ids, k);
    ids[k] = atn_token_eos(m);
    *out = ids;
    return k + 1;
}

static int source_ids(const atn_finetune *f, const char *s, size_t n, int32_t **out) {
    int k = atn_translate_source_ids(f->m, f->lang, s, n, NULL, 0);
    if (k < 0) return -1;
    int32_t *ids = malloc(((size_t)k + 1) * sizeof(int32_t));
    if (!ids) return atn_error("finetune: out of memory");
    atn_translate_source_ids(f->m, f->lang, s, n, ids, k);
    *out = ids;
    return k;
}

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    return 1;
}

int atn_finetune_add_pair(atn_finetune *f, const char *src, size_t src_len, const char *tgt, size_t tgt_len) {
    int k = f->n_pairs + 1;
    if (f->prepared) return atn_error("finetune: pairs must be added before the first step");
    if (f->n_pairs >= FT_MAX_PAIRS) return atn_error("finetune: more than %d pairs", FT_MAX_PAIRS);
    if (!src || !tgt || blank(src, src_len) || blank(tgt, tgt_len))
        return atn_error("finetune: pair %d: the source or the target is empty", k);
    int32_t *a = NULL, *b = NULL;
    int na = source_ids(f, src, src_len, &a);
    if (na < 0) return atn_error("finetune: pair %d: source: %s", k, atn_last_error());
    int nb = target_ids(f->m, tgt, tgt_len, &b);
    if (nb < 0) { free(a); return atn_error("finetune: pair %d: target: %s", k, atn_last_error()); }
    int ctx = atn_model_n_ctx_train(f->m);
    free(a);
    free(b);
    if (na > ctx || nb > ctx)
        return atn_error("finetune: pair %d is too long (%d source / %d target tokens; the model's context is %d)", k, na, nb, ctx);
    if (push_text(&f->pair_src, &f->n_pair_src, &f->cap_src, src, src_len)) return -1;
    if (push_text(&f->pair_tgt, &f->n_pairs, &f->cap_tgt, tgt, tgt_len)) {
        free(f->pair_src[--f->n_pair_src].s);
        return -1;
    }
    return 0;
}

int atn_finetune_add_replay(atn_finetune *f, const char *src, size_t len) {
    if (f->prepared) return atn_error("finetune: replay sentences must be added before the first step");
    if (!src || blank(src, len)) return 0;
    return push_text(&f->replay_src, &f->n_replay_src, &f->cap_replay, src, len);
}

/* ---- words a pair replaces ---------------------------------------------- */

/* Next word of s (ASCII letters/digits and every non-ASCII byte), lower-cased
 * into w (cap bytes); returns its length (0: none left). */
static size_t next_word(const char **s, const char *end, char *w, size_t cap) {
    const char *p = *s;
    while (p < end && !(isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)) p++;
    size_t n = 0;
    while (p < end && (isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)) {
        if (n + 1 < cap) w[n++] = (char)tolower((unsigned char)*p);
        p++;
    }
    w[n] = 0;
    *s = p;
    return n;
}

static int has_word(const char *s, size_t n, const char *word) {
    char w[64];
    const char *p = s, *end = s + n;
    while (next_word(&p, end, w, sizeof w))
        if (!strcmp(w, word)) return 1;
    return 0;
}

/* The original model's greedy translation of one sentence: output text
 * (malloc'd) and target ids (with EOS) into *ids. */
static int translate_one(atn_translator *tr, const char *s, size_t n, char **text, int32_t **ids, int *n_ids) {
    if (atn_translate_begin(tr, s, n)) return -1;
    int r, done = 0;
    *text = NULL;
    *ids = NULL;
    while ((r = atn_translate_next(tr)) > 0) {
        if (r != 2 || done) continue;
        size_t on;
        const char *o = atn_translate_output(tr, &on);
        int k = atn_translate_tokens(tr, 0, NULL, 0);
        *text = malloc(on + 1);
        *ids = malloc(((size_t)k + 1) * sizeof(int32_t));
        if (!*text || !*ids) return atn_error("finetune: out of memory");
        memcpy(*text, o, on);
        (*text)[on] = 0;
        atn_translate_tokens(tr, 0, *ids, k);
        *n_ids = k;
        done = 1;
    }
    return r < 0 ? -1 : done ? 0 : atn_error("finetune: no translation");
}

static int add_example(atn_finetune *f, int32_t *src, int ns, int32_t *tgt, int nt) {
    atn_example *q = realloc(f->ex, (size_t)(f->n_ex + 1) * sizeof *q);
    if (!q) { free(src); free(tgt); return atn_error("finetune: out of memory"); }
    f->ex = q;
    f->ex[f->n_ex++] = (atn_example){src, ns, tgt, nt};
    return 0;
}

static int prepare(atn_finetune *f) {
    if (f->n_pairs < 1) return atn_error("finetune: no pairs to learn from");
    atn_translator *tr = atn_translator_new(f->m, 1, f->lang[0] ? f->lang : NULL, 0);
    if (!tr) return -1;
    char *replaced = calloc(1, 1);
    size_t rlen = 0;
    int rc = -1;
    for (int i = 0; i < f->n_pairs; i++) {
        int32_t *s = NULL, *t = NULL, *mt_ids = NULL;
        char *mt = NULL;
        int ns = source_ids(f, f->pair_src[i].s, f->pair_src[i].n, &s);
        int nt = ns < 0 ? -1 : target_ids(f->m, f->pair_tgt[i].s, f->pair_tgt[i].n, &t);
        if (ns < 0 || nt < 0 || add_example(f, s, ns, t, nt)) { free(s); free(t); goto out; }
        /* the words of the model's own translation that the pair's target lacks */
        int nm;
        if (translate_one(tr, f->pair_src[i].s, f->pair_src[i].n, &mt, &mt_ids, &nm)) { free(mt); free(mt_ids); goto out; }
        char w[64];
        const char *p = mt, *end = mt + strlen(mt);
        size_t wl;
        while ((wl = next_word(&p, end, w, sizeof w)))
            if (wl >= 4 && !has_word(f->pair_tgt[i].s, f->pair_tgt[i].n, w) && !has_word(replaced, rlen, w)) {
                char *g = realloc(replaced, rlen + wl + 2);
                if (!g) { free(mt); free(mt_ids); atn_error("finetune: out of memory"); goto out; }
                replaced = g;
                memcpy(replaced + rlen, w, wl);
                replaced[rlen + wl] = ' ';
                rlen += wl + 1;
                replaced[rlen] = 0;
            }
        free(mt);
        free(mt_ids);
    }
    for (int i = 0; i < f->n_replay_src && f->n_replay < FT_REPLAY_POOL * f->n_pairs; i++) {
        char *mt = NULL;
        int32_t *mt_ids = NULL, *s = NULL;
        int nm = 0;
        if (translate_one(tr, f->replay_src[i].s, f->replay_src[i].n, &mt, &mt_ids, &nm)) { free(mt); free(mt_ids); goto out; }
        int clash = 0;
        char w[64];
        const char *p = mt, *end = mt + strlen(mt);
        while (!clash && next_word(&p, end, w, sizeof w)) clash = has_word(replaced, rlen, w);
        free(mt);
        int ns = clash ? 0 : source_ids(f, f->replay_src[i].s, f->replay_src[i].n, &s);
        if (clash || ns < 1 || ns > atn_model_n_ctx_train(f->m) || nm < 1 || nm > atn_model_n_ctx_train(f->m)) {
            free(s);
            free(mt_ids);
            continue;
        }
        if (add_example(f, s, ns, mt_ids, nm)) goto out;
        f->n_replay++;
    }
    f->batch = malloc((size_t)(2 * f->n_pairs) * sizeof *f->batch);
    if (!f->batch) { atn_error("finetune: out of memory"); goto out; }
    f->prepared = 1;
    rc = 0;
out:
    free(replaced);
    atn_translator_free(tr);
    return rc;
}

int atn_finetune_step(atn_finetune *f, float *loss) {
    if (!f->prepared && prepare(f)) return -1;
    if (f->step >= f->steps) return 0;
    int s = ++f->step;
    float l;
    /* the pairs, and the next window of as many replayed sentences (all of
     * them when the pool is that small), so every step rehearses different
     * sentences of the pool */
    int n = f->n_pairs, k = f->n_replay < f->n_pairs ? f->n_replay : f->n_pairs;
    memcpy(f->batch, f->ex, (size_t)n * sizeof *f->batch);
    for (int i = 0; i < k; i++) f->batch[n + i] = f->ex[f->n_pairs + ((s - 1) * k + i) % f->n_replay];
    if (atn_trainer_grad(f->t, f->batch, n + k, &l)) { f->step--; return -1; }
    atn_trainer_clip(f->t, 1.0f);
    atn_trainer_adamw(f->t, s, atn_train_lr(s, f->steps, f->warmup, f->lr), 0.9f, 0.98f, 1e-8f, 0.01f);
    f->last_loss = l;
    if (loss) *loss = l;
    return 1;
}

const char *atn_finetune_info_json(atn_finetune *f) {
    snprintf(f->json, sizeof f->json,
             "{\"pairs\":%d,\"replay\":%d,\"step\":%d,\"steps\":%d,\"lr\":%g,\"loss\":%.5f,\"lora_rank\":%d,"
             "\"lora_alpha\":%g,\"trainer_bytes\":%zu}",
             f->n_pairs, f->n_replay, f->step, f->steps, (double)f->lr, (double)f->last_loss, FT_RANK, (double)FT_ALPHA,
             atn_trainer_bytes(f->t));
    return f->json;
}

typedef struct save_ctx { atn_gguf_out *out; const atn_gguf *g; } save_ctx;

static int save_tensor(const char *name, const float *values, size_t n, void *ctx) {
    save_ctx *c = ctx;
    return atn_gguf_out_set(c->out, c->g, name, values, n);
}

void *atn_finetune_save(atn_finetune *f, size_t *size) {
    char hash[65], method[96];
    atn_sha256_hex(f->m->data, f->m->size, hash);
    snprintf(method, sizeof method, "LoRA r=%d alpha=%g on the decoder's matrices, merged", FT_RANK, (double)FT_ALPHA);
    atn_gguf_new_kv kvs[] = {
        {"training.base_model.sha256", hash, 0},
        {"training.pairs", NULL, (uint32_t)f->n_pairs},
        {"training.replay", NULL, (uint32_t)f->n_replay},
        {"training.steps", NULL, (uint32_t)f->step},
        {"training.target_language", f->lang, 0},
        {"training.method", method, 0},
    };
    atn_gguf_out out;
    if (atn_gguf_copy(f->m->gguf, f->m->data, f->m->size, "training.", kvs, (int)(sizeof kvs / sizeof kvs[0]), &out)) return NULL;
    save_ctx c = {&out, f->m->gguf};
    if (atn_trainer_export(f->t, save_tensor, &c)) { atn_free(out.bytes); return NULL; }
    *size = out.size;
    return out.bytes;
}
