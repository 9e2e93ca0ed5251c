/* translate.c — translating text with an encoder-decoder (marian) model:
 * sentence splitting, greedy decoding streamed token by token, beam search,
 * cross-attention weights out. The model itself is models/marian.c.
 *
 * A text is cut into sentences (atn_split_sentences); the bytes between
 * sentences (spaces, line breaks) are copied to the output unchanged, so a
 * page keeps its paragraphs. Each sentence becomes source ids
 * [tag] + spm(sentence) + [</s>], is encoded once, and decoded:
 *   greedy (beam 1): argmax each step, the text released as it grows;
 *   beam search (2..8): all live hypotheses go through the decoder as one
 *     batch (one weight pass per step), the cache rows follow their parents,
 *     a hypothesis that emits EOS is finished with score sum(log p) / length,
 *     and the search stops when `beam` hypotheses have finished and no live
 *     one can still beat them (or at the length limit, where the live ones
 *     count as finished).
 * Several sentences of a text are decoded together ("lanes", up to 8, as
 * the cache budget allows): each has its own source and cache slots, the
 * sentences admitted at once share one encoder pass, and one decoder pass
 * per step serves all of them. Results come out in text order.
 * Beam 1 of the beam search is exactly greedy (an EOS outranking every
 * continuation ends it), which the tests check.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "checked.h"
#include "error.h"
#include "kernels.h"
#include "model.h"
#include "models/marian.h"
#include "quant.h"
#include "repeat_guard.h"
#include "tokenizer.h"

#define MAX_BEAM 8
#define MAX_LANES ATN_MARIAN_MAX_SOURCES /* sentences decoded together (greedy) */
#define LANE_KV_BUDGET (48u << 20)        /* bytes of self-attention cache for the lanes */

/* Greedy decoding runs up to MAX_LANES sentences of the text at once: each
 * is a lane (its own cache slot and source slot), and one decoder pass per
 * step serves them all, so the weights are read once for several tokens.
 * Output stays in order: the first unfinished sentence (the head) streams its
 * tokens; sentences after it that finish early wait for their turn. */
typedef struct {
    int span;                /* sentence index, -1: free */
    int32_t *src, *tgt;
    int n_src, src_cap, n_tgt, tgt_cap, max_len;
    float logprob;
    int finished;
    struct bstate *bs;       /* beam search state (beam > 1) */
} lane;

struct bstate;
static void bs_free(struct bstate *bs);
#define MAX_SENTENCE_BYTES 600 /* longer "sentences" are cut at a space */

struct atn_translator {
    atn_model *m;
    atn_session *s;
    atn_marian_info info;
    int beam, flags;
    int32_t tag;             /* target-language tag id, or -1 */
    float length_penalty;    /* score = logprob / length^length_penalty */
    atn_repeat_guard guard;  /* repetitions no hypothesis may make */
    /* the text being translated */
    char *text;
    size_t len, done;        /* bytes of text already passed to the output */
    int32_t *spans;
    int n_spans, cur;
    /* the current sentence */
    int32_t *src;
    int n_src, src_cap;
    int32_t *tgt;            /* target ids */
    int n_tgt, tgt_cap, max_len;
    float logprob;
    char *out;               /* decoded target text */
    size_t out_len, out_cap, released;
    float *attn;             /* [layer][n_tgt][head][n_src] */
    size_t attn_cap;
    int attn_rows;
    /* the piece released by the last step */
    char *piece;
    size_t piece_len, piece_cap;
    float *lsm;              /* one row of the vocabulary (scratch of log_sum_exp) */
    /* lanes: sentences decoded together (greedy: one row each; beam: B rows each) */
    lane lanes[MAX_LANES];
    int n_lanes;             /* lanes of the current text: at most one per sentence */
    int max_lanes;           /* what the cache budget allows */
    int admitted, head_started;
};

/* ---- sentence splitting ------------------------------------------------- */

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Words after which a period does not end a sentence. */
static int is_abbreviation(const char *w, size_t n) {
    static const char *abbr[] = {"mr", "mrs", "ms", "dr", "prof", "sr", "sra", "srta", "st", "jr", "vs", "etc",
                                 "e.g", "i.e", "no", "p.ej", "ud", "uds", "vd", "dra", "lic", "ing", "av", "fig", NULL};
    if (n == 1 && w[0] >= 'A' && w[0] <= 'Z') return 1; /* an initial: "J. R. R. Tolkien" */
    for (int i = 0; abbr[i]; i++) {
        size_t k = strlen(abbr[i]);
        if (k != n) continue;
        size_t j = 0;
        while (j < n && (w[j] | 0x20) == abbr[i][j]) j++;
        if (j == n) return 1;
    }
    return 0;
}

/* Length of a sentence-ending mark at s[i] (".", "!", "?", "…" U+2026, "。"), or 0. */
static int terminator(const unsigned char *s, size_t i, size_t len) {
    if (s[i] == '.' || s[i] == '!' || s[i] == '?') return 1;
    if (i + 2 < len + 0 && s[i] == 0xE2 && s[i + 1] == 0x80 && s[i + 2] == 0xA6) return 3;
    if (i + 2 < len + 0 && s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x82) return 3;
    return 0;
}

/* Length of a closing quote/bracket at s[i] (" ' ) ] » ” ’), or 0. */
static int closer(const unsigned char *s, size_t i, size_t len) {
    if (s[i] == '"' || s[i] == '\'' || s[i] == ')' || s[i] == ']') return 1;
    if (i + 1 < len && s[i] == 0xC2 && s[i + 1] == 0xBB) return 2;                              /* » */
    if (i + 2 < len && s[i] == 0xE2 && s[i + 1] == 0x80 && (s[i + 2] == 0x9D || s[i + 2] == 0x99)) return 3; /* ” ’ */
    return 0;
}

int atn_split_sentences(const char *text, size_t len, int32_t *spans, int cap) {
    const unsigned char *s = (const unsigned char *)text;
    int n = 0;
    size_t i = 0;
    if (!text && len) return atn_error("atn_split_sentences: NULL text");
    if (len > 0x7fffffff) return atn_error("atn_split_sentences: text too long");
#define EMIT(a, b)                                                   \
    do {                                                             \
        size_t e_ = (b);                                             \
        while (e_ > (a) && is_space(s[e_ - 1])) e_--;                \
        if (e_ > (a)) {                                              \
            if (2 * n + 1 < cap) {                                   \
                spans[2 * n] = (int32_t)(a);                         \
                spans[2 * n + 1] = (int32_t)e_;                      \
            }                                                        \
            n++;                                                     \
        }                                                            \
    } while (0)
    while (i < len) {
        while (i < len && is_space(s[i])) i++;
        if (i >= len) break;
        size_t start = i, end = len;
        while (i < len) {
            if (s[i] == '\n') { end = i; break; }
            int t = terminator(s, i, len);
            if (t) {
                size_t j = i + (size_t)t;
                int k;
                while (j < len && (terminator(s, j, len) || closer(s, j, len)))
                    j += (size_t)((k = terminator(s, j, len)) ? k : closer(s, j, len));
                if (j >= len) { i = j; end = len; break; }
                if (is_space(s[j])) {
                    size_t w = i;
                    while (w > start && !is_space(s[w - 1])) w--;
                    size_t nx = j;
                    while (nx < len && is_space(s[nx]) && s[nx] != '\n') nx++;
                    int lower_next = nx < len && s[nx] >= 'a' && s[nx] <= 'z';
                    if (!(s[i] == '.' && (is_abbreviation((const char *)s + w, i - w) || lower_next))) {
                        end = j;
                        i = j;
                        break;
                    }
                }
                i = j;
                continue;
            }
            i++;
        }
        if (end == len) i = len;
        /* a very long sentence is cut at spaces into pieces the model can take */
        while (end - start > MAX_SENTENCE_BYTES) {
            size_t cut = start + MAX_SENTENCE_BYTES;
            while (cut > start + MAX_SENTENCE_BYTES / 2 && !is_space(s[cut])) cut--;
            if (!is_space(s[cut])) { /* no space: cut at a character boundary */
                cut = start + MAX_SENTENCE_BYTES;
                while (cut > start && (s[cut] & 0xC0) == 0x80) cut--;
            }
            EMIT(start, cut);
            start = cut;
            while (start < end && is_space(s[start])) start++;
        }
        EMIT(start, end);
    }
#undef EMIT
    return n;
}

/* ---- the translator ----------------------------------------------------- */

void atn_translator_free(atn_translator *t) {
    if (!t) return;
    atn_session_free(t->s);
    free(t->text); free(t->spans); free(t->src); free(t->tgt); free(t->out); free(t->attn);
    free(t->piece); free(t->lsm);
    atn_repeat_guard_free(&t->guard);
    for (int i = 0; i < MAX_LANES; i++) {
        free(t->lanes[i].src);
        free(t->lanes[i].tgt);
        if (t->lanes[i].bs) { bs_free(t->lanes[i].bs); free(t->lanes[i].bs); }
    }
    free(t);
}

static int32_t lookup_tag(const atn_model *m, const char *lang) {
    char tag[48];
    if (strlen(lang) > 32) return atn_error("target language '%.32s...' is too long", lang);
    snprintf(tag, sizeof tag, ">>%s<<", lang);
    int32_t id = atn_tokenizer_lookup(m->src_tok ? m->src_tok : m->tok, tag, strlen(tag));
    if (id < 0) return atn_error("this model has no target-language tag %s", tag);
    return id;
}

atn_translator *atn_translator_new(atn_model *m, int beam, const char *target_lang, int flags) {
    if (!m) { atn_error("atn_translator_new: no model"); return NULL; }
    if (m->not_runnable[0]) { atn_error("translate: %s", m->not_runnable); return NULL; }
    if (m->arch != &atn_arch_marian) { atn_error("translation needs an encoder-decoder (marian) model, this one is '%s'", m->arch_name); return NULL; }
    if (beam < 1 || beam > MAX_BEAM) { atn_error("beam must be 1..%d, got %d", MAX_BEAM, beam); return NULL; }
    atn_translator *t = calloc(1, sizeof *t);
    if (!t) { atn_error("out of memory"); return NULL; }
    t->m = m;
    t->beam = beam;
    t->flags = flags;
    t->tag = -1;
    t->length_penalty = 1.0f;
    if (target_lang && target_lang[0] && (t->tag = lookup_tag(m, target_lang)) < 0) goto fail;
    t->s = atn_session_new(m, 0);
    if (!t->s) goto fail;
    if (atn_marian_info_get(t->s, &t->info)) goto fail;
    if (atn_repeat_guard_set(&t->guard, m->tok, t->info.eos, ATN_TR_NO_REPEAT_NGRAM, ATN_TR_NO_REPEAT_SPAN)) goto fail;
    /* lanes: as many as the cache budget allows, plus one slot to record attention */
    size_t per_slot = atn_mul_size(atn_mul_size((size_t)t->info.n_dec, (size_t)atn_session_n_ctx(t->s)),
                                   atn_mul_size((size_t)t->info.d_model, 2 * sizeof(float)));
    t->max_lanes = ((int)(LANE_KV_BUDGET / (per_slot ? per_slot : 1)) - 1) / beam;
    if (t->max_lanes > MAX_LANES) t->max_lanes = MAX_LANES;
    if (t->max_lanes < 1) t->max_lanes = 1;
    t->n_lanes = 1;
    for (int i = 0; i < MAX_LANES; i++) t->lanes[i].span = -1;
    if (atn_marian_reserve_slots(t->s, beam + 1)) goto fail;
    t->lsm = malloc((size_t)m->n_vocab * sizeof(float));
    if (!t->lsm) { atn_error("out of memory"); goto fail; }
    return t;
fail:
    atn_translator_free(t);
    return NULL;
}

static int put(char **buf, size_t *len, size_t *cap, const char *s, size_t n) {
    size_t need = atn_add_size(atn_add_size(*len, n), 1);
    if (need > *cap) {
        size_t c = (*cap ? *cap : 128);
        while (c < need) c = atn_mul_size(c, 2);
        char *b = atn_size_ok(c) ? realloc(*buf, c) : NULL;
        if (!b) return atn_error("out of memory");
        *buf = b;
        *cap = c;
    }
    if (n) memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

int atn_translate_begin(atn_translator *t, const char *text, size_t len) {
    if (!t || (!text && len)) return atn_error("atn_translate_begin: bad arguments");
    if (!atn_utf8_valid(text, len)) return atn_error("the text is not valid UTF-8");
    if (len > INT32_MAX) return atn_error("the text is too long (%zu bytes)", len); /* spans are int32 */
    char *copy = malloc(len + 1);
    if (!copy) return atn_error("out of memory (%zu bytes of text)", len);
    if (len) memcpy(copy, text, len);
    copy[len] = 0;
    int n = atn_split_sentences(copy, len, NULL, 0);
    int32_t *spans = n > 0 ? atn_malloc_array((size_t)n, 2 * sizeof(int32_t)) : NULL;
    if (n < 0 || (n > 0 && !spans)) { free(copy); free(spans); return n < 0 ? -1 : atn_error("out of memory"); }
    atn_split_sentences(copy, len, spans, 2 * n);
    /* The lanes' cache slots (beam each, one more to record attention) are
     * reserved for the sentences there are, up to the budget: a short text
     * does not grow the memory by the whole budget (for the shipped model 9
     * slots of 2.4 MB greedy, 21 with beam 4) on its first translation. */
    int lanes = n < t->max_lanes ? n : t->max_lanes;
    if (lanes < 1) lanes = 1;
    if (atn_marian_reserve_slots(t->s, lanes * t->beam + 1)) { free(copy); free(spans); return -1; }
    free(t->text);
    free(t->spans);
    t->text = copy;
    t->len = len;
    t->done = 0;
    t->spans = spans;
    t->n_spans = n;
    t->cur = 0;
    t->piece_len = 0;
    t->n_src = t->n_tgt = 0;
    t->out_len = 0;
    t->admitted = 0;
    t->head_started = 0;
    t->released = 0;
    t->n_lanes = lanes;
    for (int i = 0; i < MAX_LANES; i++) t->lanes[i].span = -1;
    return 0;
}

int atn_translate_source_ids(const atn_model *m, const char *target_lang, const char *text, size_t len, int32_t *ids,
                             int cap) {
    if (!m || (!text && len) || cap < 0 || (cap > 0 && !ids)) return atn_error("atn_translate_source_ids: bad arguments");
    if (m->arch != &atn_arch_marian) return atn_error("not an encoder-decoder (marian) model");
    const atn_tokenizer *tok = m->src_tok ? m->src_tok : m->tok;
    int32_t tag = -1;
    if (target_lang && target_lang[0] && (tag = lookup_tag(m, target_lang)) < 0) return -1;
    int o = tag >= 0;
    if (o && cap > 0) ids[0] = tag;
    int k = atn_tokenizer_encode(tok, text ? text : "", len, 0, 0, ids ? ids + (o < cap ? o : cap) : NULL, cap > o ? cap - o : 0);
    if (k < 0) return -1;
    o += k;
    int32_t eos = atn_tokenizer_eos(m->tok);
    if (eos >= 0) {
        if (o < cap) ids[o] = eos;
        o++;
    }
    return o;
}

/* Source ids of span i: [tag] + spm(text) + [</s>], cut to fit the model. */
static int encode_source(atn_translator *t, const char *s, size_t n) {
    const atn_tokenizer *tok = t->m->src_tok ? t->m->src_tok : t->m->tok;
    int limit = t->info.n_ctx;
    int k = atn_tokenizer_encode(tok, s, n, 0, 0, NULL, 0);
    if (k < 0) return -1;
    int need = k + 2;
    if (need > t->src_cap) {
        int32_t *p = realloc(t->src, (size_t)need * sizeof(int32_t));
        if (!p) return atn_error("out of memory");
        t->src = p;
        t->src_cap = need;
    }
    int o = 0;
    if (t->tag >= 0) t->src[o++] = t->tag;
    atn_tokenizer_encode(tok, s, n, 0, 0, t->src + o, k);
    o += k;
    if (o > limit - 1) o = limit - 1; /* the model has no positions beyond */
    if (t->info.eos >= 0) t->src[o++] = t->info.eos;
    t->n_src = o;
    return 0;
}

static int tgt_room(atn_translator *t, int n) {
    if (n <= t->tgt_cap) return 0;
    int32_t *p = realloc(t->tgt, (size_t)n * sizeof(int32_t));
    if (!p) return atn_error("out of memory");
    t->tgt = p;
    t->tgt_cap = n;
    return 0;
}

/* log(sum_i exp(logits[i])) over the whole vocabulary, so that a token's
 * log-probability is logits[i] minus it. Through the SIMD softmax (into
 * t->lsm as scratch): the largest logit's probability is 1 / sum. It runs
 * once per decoded row over the whole vocabulary, where a libm exp per logit
 * took 2-3 % of a translation. */
static float log_sum_exp(atn_translator *t, const float *logits) {
    int V = t->m->n_vocab, top = 0;
    for (int i = 1; i < V; i++) top = logits[i] > logits[top] ? i : top;
    memcpy(t->lsm, logits, (size_t)V * sizeof(float));
    atn_softmax_f32(t->lsm, V, 1.0f);
    return logits[top] - logf(t->lsm[top]);
}

/* The most likely token the decoder may produce (never the decoder start /
 * pad token); the first of equals. */
static int best_token(const atn_translator *t, const float *logits) {
    int V = t->m->n_vocab, best = -1;
    float bv = -INFINITY;
    for (int i = 0; i < V; i++)
        if ((logits[i] > bv || best < 0) && i != t->info.start && i != t->info.pad) {
            bv = logits[i];
            best = i;
        }
    return best;
}

/* The decoded text of the target so far (special tokens skipped). */
static int decode_target(atn_translator *t) {
    int n = t->n_tgt;
    if (n > 0 && t->tgt[n - 1] == t->info.eos) n--;
    int need = atn_tokenizer_decode(t->m->tok, t->tgt, n, 0, NULL, 0);
    if (need < 0) return -1;
    t->out_len = 0;
    if (put(&t->out, &t->out_len, &t->out_cap, "", 0)) return -1;
    if ((size_t)need + 1 > t->out_cap) {
        char *b = realloc(t->out, (size_t)need + 1);
        if (!b) return atn_error("out of memory");
        t->out = b;
        t->out_cap = (size_t)need + 1;
    }
    atn_tokenizer_decode(t->m->tok, t->tgt, n, 0, t->out, (int)t->out_cap);
    t->out_len = (size_t)need;
    t->out[need] = 0;
    return 0;
}

/* Release newly decoded text (whole UTF-8 characters) into the piece. */
static int release(atn_translator *t, int all) {
    size_t upto = all ? t->out_len : t->released + atn_utf8_complete_prefix(t->out + t->released, t->out_len - t->released);
    if (upto > t->released) {
        if (put(&t->piece, &t->piece_len, &t->piece_cap, t->out + t->released, upto - t->released)) return -1;
        t->released = upto;
    }
    return 0;
}

/* Cross-attention of the finished target: one batched teacher-forced pass. */
static int record_attention(atn_translator *t, int src_slot, int kv_slot) {
    int n = t->n_tgt;
    t->attn_rows = 0;
    if (!(t->flags & ATN_TR_ATTENTION) || n == 0) return 0;
    int32_t *in = malloc((size_t)n * sizeof(int32_t));
    int *slot = malloc((size_t)n * sizeof(int)), *pos = malloc((size_t)n * sizeof(int));
    int *srcs = malloc((size_t)n * sizeof(int));
    int rc = -1;
    if (!in || !slot || !pos || !srcs) { atn_error("out of memory"); goto done; }
    in[0] = t->info.start;
    for (int i = 0; i < n; i++) {
        if (i) in[i] = t->tgt[i - 1];
        pos[i] = i;
        slot[i] = kv_slot;
        srcs[i] = src_slot;
    }
    atn_marian_record_attention(t->s, 1);
    rc = atn_marian_decode_src(t->s, in, slot, pos, srcs, n);
    if (rc == 0) {
        int rows;
        const float *a = atn_marian_attention(t->s, &rows);
        size_t need = atn_mul_size(atn_mul_size((size_t)t->info.n_dec, (size_t)n),
                                   atn_mul_size((size_t)t->info.n_head, (size_t)t->n_src));
        if (need > t->attn_cap) {
            float *p = atn_realloc_array(t->attn, need, sizeof(float));
            if (!p) { rc = atn_error("out of memory"); goto done; }
            t->attn = p;
            t->attn_cap = need;
        }
        if (a && rows == n) {
            memcpy(t->attn, a, need * sizeof(float));
            t->attn_rows = n;
        }
    }
done:
    atn_marian_record_attention(t->s, 0);
    free(in); free(slot); free(pos); free(srcs);
    return rc;
}

typedef struct { float score; int parent; int32_t tok; } cand;

static int cand_cmp(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->parent != y->parent) return x->parent - y->parent;
    return x->tok - y->tok;
}

/* The beam search of one sentence, one step at a time, so that several
 * sentences can share each decoder pass. Hypothesis b of the sentence lives
 * in cache slot base + b. */
typedef struct bstate {
    int n_live, n_fin, step, max_len, done, W;
    float score[MAX_BEAM], fin_norm[MAX_BEAM], fin_sum[MAX_BEAM];
    int fin_len[MAX_BEAM], parent[MAX_BEAM];
    int32_t last[MAX_BEAM];
    int32_t *hyp, *hyp2, *fin;   /* [MAX_BEAM][W] tokens */
} bstate;

static void bs_free(struct bstate *bs) {
    free(bs->hyp); free(bs->hyp2); free(bs->fin);
    bs->hyp = bs->hyp2 = bs->fin = NULL;
    bs->W = 0;
}

static int bs_init(atn_translator *t, bstate *bs, int max_len) {
    if (max_len + 1 > bs->W) {
        size_t n = (size_t)MAX_BEAM * (size_t)(max_len + 1) * sizeof(int32_t);
        int32_t *a = realloc(bs->hyp, n);
        if (a) bs->hyp = a;
        int32_t *b = realloc(bs->hyp2, n);
        if (b) bs->hyp2 = b;
        int32_t *c = realloc(bs->fin, n);
        if (c) bs->fin = c;
        if (!a || !b || !c) return atn_error("out of memory");
        bs->W = max_len + 1;
    }
    bs->max_len = max_len;
    bs->n_live = 1;
    bs->n_fin = 0;
    bs->step = 0;
    bs->done = 0;
    bs->score[0] = 0;
    bs->last[0] = t->info.start;
    return 0;
}

/* Take the decoder's logits for the live hypotheses (n_live rows) and move
 * one step: the best 2B continuations of each, an EOS within the beam ends a
 * hypothesis, the best B others live on (bs->parent says whose cache rows
 * they continue). Sets bs->done when B have ended or at the length limit. */
static void bs_update(atn_translator *t, bstate *bs, float *logits) {
    int B = t->beam, V = t->m->n_vocab, W = bs->W, step = bs->step;
    cand c[2 * MAX_BEAM * MAX_BEAM];
    float nscore[MAX_BEAM];
    int nc = 0;
    for (int b = 0; b < bs->n_live; b++) {
        float *lg = logits + (size_t)b * (size_t)V;
        float lse = log_sum_exp(t, lg);
        atn_repeat_guard_apply(&t->guard, bs->hyp + (size_t)b * (size_t)W, step, lg); /* bans: -inf */
        int k = 2 * B, top = 0;
        int idx[2 * MAX_BEAM];
        for (int i = 0; i < V; i++) {
            float v = lg[i];
            if ((top < k || v > lg[idx[top - 1]]) && i != t->info.start && i != t->info.pad) {
                int j = top < k ? top++ : k - 1;
                while (j > 0 && lg[idx[j - 1]] < v) { idx[j] = idx[j - 1]; j--; }
                idx[j] = i;
            }
        }
        for (int j = 0; j < top; j++) {
            float lp = lg[idx[j]] - lse;
            if (lp == -INFINITY) continue;
            c[nc].score = bs->score[b] + lp;
            c[nc].parent = b;
            c[nc].tok = idx[j];
            nc++;
        }
    }
    qsort(c, (size_t)nc, sizeof(cand), cand_cmp);
    int n_new = 0, len = step + 1;
    for (int j = 0; j < nc && n_new < B; j++) {
        if (c[j].tok == t->info.eos || len >= bs->max_len) {
            /* finished: only candidates ranked within the beam count (as HF) */
            if (j >= B && c[j].tok == t->info.eos) continue;
            float norm = c[j].score / powf((float)len, t->length_penalty);
            int at = bs->n_fin < B ? bs->n_fin++ : -1;
            if (at < 0) { /* replace the worst if better */
                int w = 0;
                for (int f = 1; f < B; f++) if (bs->fin_norm[f] < bs->fin_norm[w]) w = f;
                if (norm <= bs->fin_norm[w]) continue;
                at = w;
            }
            bs->fin_norm[at] = norm;
            bs->fin_sum[at] = c[j].score;
            bs->fin_len[at] = len;
            memcpy(bs->fin + (size_t)at * (size_t)W, bs->hyp + (size_t)c[j].parent * (size_t)W, (size_t)step * sizeof(int32_t));
            bs->fin[(size_t)at * (size_t)W + step] = c[j].tok;
            continue; /* at the length limit a hypothesis ends too */
        }
        bs->parent[n_new] = c[j].parent;
        nscore[n_new] = c[j].score;
        memcpy(bs->hyp2 + (size_t)n_new * (size_t)W, bs->hyp + (size_t)c[j].parent * (size_t)W, (size_t)step * sizeof(int32_t));
        bs->hyp2[(size_t)n_new * (size_t)W + step] = c[j].tok;
        bs->last[n_new] = c[j].tok;
        n_new++;
    }
    int32_t *sw = bs->hyp; bs->hyp = bs->hyp2; bs->hyp2 = sw;
    for (int b = 0; b < n_new; b++) bs->score[b] = nscore[b];
    bs->n_live = n_new;
    bs->step++;
    /* Stop when nothing lives on, at the length limit, or once B hypotheses
     * have ended and the best live one, ended with EOS at the next step,
     * would not beat the worst of them (Hugging Face's early_stopping=False
     * rule). Beam 1 stops at its first EOS, which makes it exactly greedy. */
    if (n_new == 0 || bs->step >= bs->max_len) bs->done = 1;
    else if (bs->n_fin >= B) {
        float worst = bs->fin_norm[0];
        for (int f = 1; f < bs->n_fin; f++) if (bs->fin_norm[f] < worst) worst = bs->fin_norm[f];
        if (B == 1 || worst >= bs->score[0] / powf((float)(bs->step + 1), t->length_penalty)) bs->done = 1;
    }
}

/* The best finished hypothesis as the current target. */
static int bs_result(atn_translator *t, const bstate *bs) {
    if (bs->n_fin == 0) return atn_error("beam search produced no hypothesis");
    int best = 0;
    for (int f = 1; f < bs->n_fin; f++) if (bs->fin_norm[f] > bs->fin_norm[best]) best = f;
    if (tgt_room(t, bs->fin_len[best])) return -1;
    memcpy(t->tgt, bs->fin + (size_t)best * (size_t)bs->W, (size_t)bs->fin_len[best] * sizeof(int32_t));
    t->n_tgt = bs->fin_len[best];
    t->logprob = bs->fin_sum[best];
    return 0;
}

/* The whole beam search for the current source (source slot 0, cache slots
 * 0..B-1); result in t->tgt. */
static int beam_search(atn_translator *t) {
    bstate bs = {0};
    int rc = bs_init(t, &bs, t->max_len);
    int slot[MAX_BEAM], pos[MAX_BEAM];
    while (rc == 0 && !bs.done) {
        for (int b = 0; b < bs.n_live; b++) { slot[b] = b; pos[b] = bs.step; }
        if (atn_marian_decode(t->s, bs.last, slot, pos, bs.n_live)) { rc = -1; break; }
        bs_update(t, &bs, t->s->logits);
        if (!bs.done && atn_marian_reorder(t->s, bs.parent, bs.n_live, bs.step)) rc = -1;
    }
    if (rc == 0) rc = bs_result(t, &bs);
    bs_free(&bs);
    return rc;
}

int atn_translate_force_beam_for_test = 0; /* tests: beam 1 through the beam-search code */

static int start_sentence(atn_translator *t) {
    if (atn_set_source(t->s, t->src, t->n_src)) return -1;
    t->n_tgt = 0;
    t->logprob = 0;
    t->released = 0;
    t->out_len = 0;
    t->max_len = 2 * t->n_src + 10;
    if (t->max_len > t->s->n_ctx) t->max_len = t->s->n_ctx;
    return 0;
}

/* Tests: translate a source given as ids (no text, no splitting). */
int atn_translate_ids_for_test(atn_translator *t, const int32_t *src, int n) {
    if (n < 1 || (n > t->src_cap && !(t->src = realloc(t->src, (size_t)n * sizeof(int32_t))))) return atn_error("bad source");
    if (n > t->src_cap) t->src_cap = n;
    memcpy(t->src, src, (size_t)n * sizeof(int32_t));
    t->n_src = n;
    if (start_sentence(t)) return -1;
    if (t->beam > 1 || atn_translate_force_beam_for_test) return beam_search(t);
    for (;;) {
        int32_t last = t->n_tgt ? t->tgt[t->n_tgt - 1] : t->info.start;
        int slot = 0, pos = t->n_tgt;
        if (atn_marian_decode(t->s, &last, &slot, &pos, 1)) return -1;
        float lse = log_sum_exp(t, t->s->logits);
        atn_repeat_guard_apply(&t->guard, t->tgt, t->n_tgt, t->s->logits); /* bans: -inf */
        int best = best_token(t, t->s->logits);
        if (tgt_room(t, t->n_tgt + 1)) return -1;
        t->tgt[t->n_tgt++] = best;
        t->logprob += t->s->logits[best] - lse;
        if (best == t->info.eos || t->n_tgt >= t->max_len) return record_attention(t, 0, 0);
    }
}

/* ---- greedy lanes ------------------------------------------------------- */

static int grow_ids(int32_t **p, int *cap, int n) {
    if (n <= *cap) return 0;
    int c = *cap ? *cap : 64;
    while (c < n) c *= 2;
    int32_t *q = realloc(*p, (size_t)c * sizeof(int32_t));
    if (!q) return atn_error("out of memory");
    *p = q;
    *cap = c;
    return 0;
}

static lane *lane_of(atn_translator *t, int span) {
    for (int i = 0; i < t->n_lanes; i++)
        if (t->lanes[i].span == span) return &t->lanes[i];
    return NULL;
}

/* Start the next sentence in free lane L: tokenize it (encoded by admit_free). */
static int admit(atn_translator *t, lane *L) {
    size_t a = (size_t)t->spans[2 * t->admitted], b = (size_t)t->spans[2 * t->admitted + 1];
    if (encode_source(t, t->text + a, b - a)) return -1;
    if (grow_ids(&L->src, &L->src_cap, t->n_src)) return -1;
    memcpy(L->src, t->src, (size_t)t->n_src * sizeof(int32_t));
    L->n_src = t->n_src;
    L->max_len = 2 * L->n_src + 10;
    if (L->max_len > t->s->n_ctx) L->max_len = t->s->n_ctx;
    L->n_tgt = 0;
    L->logprob = 0;
    L->finished = 0;
    if (t->beam > 1) {
        if (!L->bs && !(L->bs = calloc(1, sizeof(bstate)))) return atn_error("out of memory");
        if (bs_init(t, L->bs, L->max_len)) return -1;
    }
    L->span = t->admitted++;
    return 0;
}

/* Fill every free lane with the next sentences (at most a lane-full ahead of
 * the head) and encode their sources together: one pass over the encoder's
 * weights for all of them, each into its lane's source slot. */
static int admit_free(atn_translator *t) {
    int slots[MAX_LANES], ns[MAX_LANES], k = 0;
    const int32_t *srcs[MAX_LANES];
    for (int i = 0; i < t->n_lanes && t->admitted < t->n_spans && t->admitted < t->cur + t->n_lanes; i++) {
        lane *L = &t->lanes[i];
        if (L->span >= 0) continue;
        if (admit(t, L)) return -1;
        slots[k] = i;
        srcs[k] = L->src;
        ns[k++] = L->n_src;
    }
    return k ? atn_marian_encode_batch(t->s, slots, srcs, ns, k) : 0;
}

/* One decoder pass over every unfinished lane; each gets its argmax token. */
static int lanes_step(atn_translator *t) {
    int32_t tok[MAX_LANES];
    int slot[MAX_LANES], pos[MAX_LANES], src[MAX_LANES], n = 0;
    for (int i = 0; i < t->n_lanes; i++) {
        lane *L = &t->lanes[i];
        if (L->span < 0 || L->finished) continue;
        tok[n] = L->n_tgt ? L->tgt[L->n_tgt - 1] : t->info.start;
        slot[n] = src[n] = i;
        pos[n] = L->n_tgt;
        n++;
    }
    if (n == 0) return 0;
    if (atn_marian_decode_src(t->s, tok, slot, pos, src, n)) return -1;
    for (int r = 0; r < n; r++) {
        lane *L = &t->lanes[slot[r]];
        float *lg = t->s->logits + (size_t)r * (size_t)t->m->n_vocab;
        float lse = log_sum_exp(t, lg);
        atn_repeat_guard_apply(&t->guard, L->tgt, L->n_tgt, lg); /* bans: -inf */
        int best = best_token(t, lg);
        if (grow_ids(&L->tgt, &L->tgt_cap, L->n_tgt + 1)) return -1;
        L->tgt[L->n_tgt++] = best;
        L->logprob += lg[best] - lse;
        if (best == t->info.eos || L->n_tgt >= L->max_len) L->finished = 1;
    }
    return 0;
}

/* The head lane's state as the current sentence (t->src, t->tgt, ...). */
static int sync_head(atn_translator *t, const lane *L) {
    if (tgt_room(t, L->n_tgt) || (L->n_src > t->src_cap && grow_ids(&t->src, &t->src_cap, L->n_src))) return -1;
    memcpy(t->tgt, L->tgt, (size_t)L->n_tgt * sizeof(int32_t));
    memcpy(t->src, L->src, (size_t)L->n_src * sizeof(int32_t));
    t->n_tgt = L->n_tgt;
    t->n_src = L->n_src;
    t->logprob = L->logprob;
    return 0;
}

/* Pass the text between the previous sentence and the head to the output. */
static int head_gap(atn_translator *t) {
    if (t->head_started) return 0;
    size_t a = (size_t)t->spans[2 * t->cur];
    if (put(&t->piece, &t->piece_len, &t->piece_cap, t->text + t->done, a - t->done)) return -1;
    t->done = a;
    t->head_started = 1;
    return 0;
}

static int greedy_next(atn_translator *t) {
    for (;;) {
        lane *h = lane_of(t, t->cur);
        if (h && h->finished) {
            int i = (int)(h - t->lanes);
            if (sync_head(t, h) || head_gap(t) || decode_target(t) || release(t, 1) ||
                record_attention(t, i, t->n_lanes))
                return -1;
            h->span = -1;
            t->done = (size_t)t->spans[2 * t->cur + 1];
            t->cur++;
            t->released = 0;
            t->head_started = 0;
            return 2;
        }
        if (admit_free(t)) return -1;
        h = lane_of(t, t->cur);
        if (!h) return atn_error("translate: internal: no lane for sentence %d", t->cur);
        if (lanes_step(t)) return -1;
        if (h->finished) continue;
        if (sync_head(t, h) || head_gap(t) || decode_target(t) || release(t, 0)) return -1;
        return 1;
    }
}

/* Beam search over several sentences: every live hypothesis of every lane in
 * one decoder pass; lane i's hypotheses use cache slots i*B .. i*B+B-1. */
static int beam_lanes_step(atn_translator *t) {
    int B = t->beam, n = 0, max_pos = 0;
    int32_t tok[MAX_LANES * MAX_BEAM];
    int slot[MAX_LANES * MAX_BEAM], pos[MAX_LANES * MAX_BEAM], src[MAX_LANES * MAX_BEAM], first[MAX_LANES];
    for (int i = 0; i < t->n_lanes; i++) {
        lane *L = &t->lanes[i];
        first[i] = n;
        if (L->span < 0 || L->finished) continue;
        for (int b = 0; b < L->bs->n_live; b++, n++) {
            tok[n] = L->bs->last[b];
            slot[n] = i * B + b;
            pos[n] = L->bs->step;
            src[n] = i;
        }
    }
    if (n == 0) return 0;
    if (atn_marian_decode_src(t->s, tok, slot, pos, src, n)) return -1;
    int parent[MAX_LANES * MAX_BEAM];
    for (int k = 0; k < t->n_lanes * B; k++) parent[k] = k;
    for (int i = 0; i < t->n_lanes; i++) {
        lane *L = &t->lanes[i];
        if (L->span < 0 || L->finished) continue;
        bs_update(t, L->bs, t->s->logits + (size_t)first[i] * (size_t)t->m->n_vocab);
        if (L->bs->done) { L->finished = 1; continue; }
        for (int b = 0; b < L->bs->n_live; b++) parent[i * B + b] = i * B + L->bs->parent[b];
        if (L->bs->step > max_pos) max_pos = L->bs->step;
    }
    return max_pos ? atn_marian_reorder(t->s, parent, t->n_lanes * B, max_pos) : 0;
}

static int beam_next(atn_translator *t) {
    for (;;) {
        lane *h = lane_of(t, t->cur);
        if (h && h->finished) {
            int i = (int)(h - t->lanes);
            if (tgt_room(t, 1) || (h->n_src > t->src_cap && grow_ids(&t->src, &t->src_cap, h->n_src))) return -1;
            memcpy(t->src, h->src, (size_t)h->n_src * sizeof(int32_t));
            t->n_src = h->n_src;
            if (bs_result(t, h->bs) || head_gap(t) || decode_target(t) || release(t, 1) ||
                record_attention(t, i, t->n_lanes * t->beam))
                return -1;
            h->span = -1;
            t->done = (size_t)t->spans[2 * t->cur + 1];
            t->cur++;
            t->released = 0;
            t->head_started = 0;
            return 2;
        }
        if (admit_free(t)) return -1;
        if (!lane_of(t, t->cur)) return atn_error("translate: internal: no lane for sentence %d", t->cur);
        if (beam_lanes_step(t)) return -1;
    }
}

int atn_translate_next(atn_translator *t) {
    if (!t) return atn_error("atn_translate_next: no translator");
    t->piece_len = 0;
    if (put(&t->piece, &t->piece_len, &t->piece_cap, "", 0)) return -1;
    if (t->cur >= t->n_spans) { /* trailing whitespace */
        if (t->done < t->len) {
            if (put(&t->piece, &t->piece_len, &t->piece_cap, t->text + t->done, t->len - t->done)) return -1;
            t->done = t->len;
        }
        return 0;
    }
    return t->beam == 1 ? greedy_next(t) : beam_next(t);
}

const char *atn_translate_piece(const atn_translator *t, size_t *len) {
    if (len) *len = t && t->piece ? t->piece_len : 0;
    return t && t->piece ? t->piece : "";
}

const char *atn_translate_source(const atn_translator *t, size_t *len) {
    if (!t || t->cur == 0) {
        if (len) *len = 0;
        return "";
    }
    size_t a = (size_t)t->spans[2 * (t->cur - 1)], b = (size_t)t->spans[2 * (t->cur - 1) + 1];
    if (len) *len = b - a;
    return t->text + a;
}

const char *atn_translate_output(const atn_translator *t, size_t *len) {
    if (len) *len = t && t->out ? t->out_len : 0;
    return t && t->out ? t->out : "";
}

int atn_translate_tokens(const atn_translator *t, int which, int32_t *ids, int cap) {
    if (!t || which < 0 || which > 1) return atn_error("atn_translate_tokens: bad arguments");
    const int32_t *src = which ? t->src : t->tgt;
    int n = which ? t->n_src : t->n_tgt;
    for (int i = 0; i < n && i < cap; i++) ids[i] = src[i];
    return n;
}

float atn_translate_logprob(const atn_translator *t) { return t ? t->logprob : 0.0f; }

int atn_translate_attention(const atn_translator *t, int layer, int head, float *out, int cap) {
    if (!t) return atn_error("atn_translate_attention: no translator");
    if (!(t->flags & ATN_TR_ATTENTION)) return atn_error("the translator keeps no attention (create it with ATN_TR_ATTENTION)");
    int L = t->info.n_dec, H = t->info.n_head, T = t->attn_rows, S = t->n_src;
    if (layer < -1 || layer >= L) return atn_error("layer %d out of range (the decoder has %d)", layer, L);
    if (head < -1 || head >= H) return atn_error("head %d out of range (%d heads)", head, H);
    if ((int64_t)T * S > 0x7fffffff) return atn_error("attention too large");
    int n = T * S;
    if (!out || cap < n) return n;
    int l0 = layer < 0 ? 0 : layer, l1 = layer < 0 ? L : layer + 1;
    int h0 = head < 0 ? 0 : head, h1 = head < 0 ? H : head + 1;
    float inv = 1.0f / (float)((l1 - l0) * (h1 - h0));
    for (int i = 0; i < T; i++) {
        float *row = out + (size_t)i * (size_t)S;
        memset(row, 0, (size_t)S * sizeof(float));
        for (int l = l0; l < l1; l++)
            for (int h = h0; h < h1; h++) {
                const float *a = t->attn + (((size_t)l * (size_t)T + (size_t)i) * (size_t)H + (size_t)h) * (size_t)S;
                for (int j = 0; j < S; j++) row[j] += a[j] * inv;
            }
    }
    return n;
}

int atn_translator_set_repeat_guard(atn_translator *t, int no_repeat_ngram, int no_repeat_span) {
    if (!t) return atn_error("atn_translator_set_repeat_guard: no translator");
    if (no_repeat_ngram < 0) no_repeat_ngram = t->guard.no_repeat_ngram;
    if (no_repeat_span < 0) no_repeat_span = t->guard.no_repeat_span;
    return atn_repeat_guard_set(&t->guard, t->m->tok, t->info.eos, no_repeat_ngram, no_repeat_span);
}
