/* vocab.c — loading a tokenizer from GGUF metadata, the piece -> id map,
 * special tokens, and what all kinds share: the encode driver (BOS/EOS,
 * literal special tokens), token bytes, pieces and whole-sequence decode.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <limits.h>
#include "tok_internal.h"
#include "../error.h"

#define MAX_VOCAB (1 << 24)
static const char SPACE_SYMBOL[] = "\xE2\x96\x81"; /* ▁ U+2581 */

/* ---- hashing ------------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = ATN_TOK_HASH_INIT;                 /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = atn_tok_hash_step(h, (unsigned char)s[i]);
    return h;
}

int32_t atn_tok_find(const atn_tokenizer *t, const char *s, size_t len) {
    return atn_tok_find_hashed(t, s, len, hash_bytes(s, len));
}

int32_t atn_tok_find_hashed(const atn_tokenizer *t, const char *s, size_t len, uint32_t h) {
    uint32_t i = h & t->map_mask;
    for (;;) {
        uint32_t v = t->map[i];
        if (v == 0) return -1;
        const atn_tok_piece *p = &t->pieces[v - 1];
        if (p->len == len && memcmp(p->text, s, len) == 0) return (int32_t)(v - 1);
        i = (i + 1) & t->map_mask;
    }
}

int atn_tok_is_text_piece(int type) {
    return type == ATN_TT_NORMAL || type == ATN_TT_USER_DEFINED || type == ATN_TT_UNUSED;
}

int32_t atn_tok_match_user(const atn_tokenizer *t, const char *s, size_t len, size_t *mlen) {
    if (t->n_user_defined == 0 || !t->user_first[(unsigned char)s[0]]) return -1;
    for (int k = 0; k < t->n_user_defined; k++) {   /* longest first */
        const atn_tok_piece *p = &t->pieces[t->user_defined[k]];
        if (p->len <= len && memcmp(p->text, s, p->len) == 0) { *mlen = p->len; return t->user_defined[k]; }
    }
    return -1;
}

/* ---- heap ----------------------------------------------------------------- */

static int cand_better(const atn_tok_cand *x, const atn_tok_cand *y) {
    if (x->key != y->key) return x->key > y->key;
    return x->left < y->left;
}

int atn_tok_heap_push(atn_tok_heap *h, atn_tok_cand c) {
    if (h->n == h->cap) {
        int nc = h->cap ? h->cap * 2 : 64;
        atn_tok_cand *v = realloc(h->v, (size_t)nc * sizeof *v);
        if (!v) return atn_error("tokenizer: out of memory");
        h->v = v; h->cap = nc;
    }
    int i = h->n++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_better(&c, &h->v[p])) break;
        h->v[i] = h->v[p]; i = p;
    }
    h->v[i] = c;
    return 0;
}

int atn_tok_heap_pop(atn_tok_heap *h, atn_tok_cand *c) {
    if (h->n == 0) return 0;
    *c = h->v[0];
    atn_tok_cand last = h->v[--h->n];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, b = i;
        const atn_tok_cand *best = &last;
        if (l < h->n && cand_better(&h->v[l], best)) { b = l; best = &h->v[l]; }
        if (r < h->n && cand_better(&h->v[r], best)) { b = r; }
        if (b == i) break;
        h->v[i] = h->v[b]; i = b;
    }
    if (h->n > 0) h->v[i] = last;
    return 1;
}

/* ---- loading -------------------------------------------------------------- */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(char *err, size_t errcap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err && errcap) vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}

void atn_tok_warn(atn_tokenizer *t, const char *fmt, ...) {
    if (t->n_warnings >= ATN_TOK_MAX_WARNINGS) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->warnings[t->n_warnings++], sizeof t->warnings[0], fmt, ap);
    va_end(ap);
}

/* A special-token id. As llama.cpp: an absent key keeps the default; a value
 * outside the vocabulary (converters write 0xFFFFFFFF, i.e. -1 as uint32, for
 * "none") is not an error but a warning, and the token is then none; so is a
 * key of a non-integer type. */
static void get_id(atn_tokenizer *t, const atn_gguf *g, const char *prefix, const char *name, int32_t *out) {
    char key[256];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", prefix, name);
    int r = atn_gguf_get_i64(g, key, &v);
    if (r == -1) return;                   /* absent: keep the default */
    if (r != 0) {
        atn_tok_warn(t, "%s is not an integer: no such token", key);
        *out = -1;
        return;
    }
    if (v == -1) { *out = -1; return; }    /* explicitly none */
    if (v < 0 || v >= t->n_vocab) {
        atn_tok_warn(t, "%s = %lld is outside the vocabulary of %d tokens: no such token", key, (long long)v, t->n_vocab);
        *out = -1;
        return;
    }
    *out = (int32_t)v;
}

static int get_flag(const atn_gguf *g, const char *prefix, const char *name, int *out) {
    char key[256];
    int v;
    snprintf(key, sizeof key, "%s.%s", prefix, name);
    if (atn_gguf_get_bool(g, key, &v) == 0) *out = v != 0;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int is_byte_piece(const char *s, size_t n) {  /* "<0xXX>" */
    return n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && hexval(s[3]) >= 0 &&
           hexval(s[4]) >= 0 && s[5] == '>';
}

typedef struct { uint32_t len; int32_t id; } len_id;
static int by_len_desc(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* sort ids by piece length, longest first (no globals: loads may run in parallel) */
static int sort_longest_first(const atn_tokenizer *t, int32_t *ids, int n) {
    if (n < 2) return 0;
    len_id *v = malloc((size_t)n * sizeof *v);
    if (!v) return -1;
    for (int i = 0; i < n; i++) { v[i].len = t->pieces[ids[i]].len; v[i].id = ids[i]; }
    qsort(v, (size_t)n, sizeof *v, by_len_desc);
    for (int i = 0; i < n; i++) ids[i] = v[i].id;
    free(v);
    return 0;
}

static int32_t find_named(const atn_tokenizer *t, const char *s) {
    return atn_tok_find(t, s, strlen(s));
}

atn_tokenizer *atn_tokenizer_load(const atn_gguf *g, const char *prefix, char *err, size_t errcap) {
    return atn_tokenizer_load_flags(g, prefix, 0, err, errcap);
}

atn_tokenizer *atn_tokenizer_load_flags(const atn_gguf *g, const char *prefix, int flags, char *err, size_t errcap) {
    char key[256];
    const char *s; size_t sl;
    int et; uint64_t n64;
    if (err && errcap) err[0] = 0;
    if (!g || !prefix || strlen(prefix) > 200) { fail(err, errcap, "tokenizer: bad arguments"); return NULL; }

    snprintf(key, sizeof key, "%s.model", prefix);
    if (atn_gguf_get_str(g, key, &s, &sl) != 0) { fail(err, errcap, "%s: missing or not a string", key); return NULL; }
    int kind;
    if (sl == 5 && memcmp(s, "llama", 5) == 0) kind = ATN_TOK_SPM_BPE;
    else if (sl == 4 && memcmp(s, "gpt2", 4) == 0) kind = ATN_TOK_GPT2;
    else if ((sl == 2 && memcmp(s, "t5", 2) == 0) || (sl == 7 && memcmp(s, "unigram", 7) == 0)) kind = ATN_TOK_UNIGRAM;
    else {
        char m[48]; size_t k = sl < 40 ? sl : 40;
        memcpy(m, s, k); m[k] = 0;
        for (size_t i = 0; i < k; i++) if ((unsigned char)m[i] < 32 || (unsigned char)m[i] > 126) m[i] = '?';
        fail(err, errcap, "unsupported tokenizer model '%s'", m);
        return NULL;
    }

    snprintf(key, sizeof key, "%s.tokens", prefix);
    if (atn_gguf_get_arr(g, key, &et, &n64) != 0 || et != ATN_GGUF_STRING) {
        fail(err, errcap, "%s: missing or not an array of strings", key); return NULL;
    }
    if (n64 == 0 || n64 > MAX_VOCAB) { fail(err, errcap, "%s: bad vocabulary size %lld", key, (long long)n64); return NULL; }
    int n = (int)n64;

    atn_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { fail(err, errcap, "tokenizer: out of memory"); return NULL; }
    t->kind = kind;
    t->n_vocab = n;
    t->pieces = calloc((size_t)n, sizeof *t->pieces);
    uint32_t cap = 16;
    while (cap < (uint32_t)n * 2u) cap <<= 1;
    t->map = calloc(cap, sizeof *t->map);
    t->map_mask = cap - 1;
    if (!t->pieces || !t->map) { fail(err, errcap, "tokenizer: out of memory"); goto bad; }

    char kscores[256], ktypes[256];
    snprintf(kscores, sizeof kscores, "%s.scores", prefix);
    snprintf(ktypes, sizeof ktypes, "%s.token_type", prefix);
    int have_scores = atn_gguf_get_arr(g, kscores, &et, &n64) == 0;
    if (have_scores && (n64 != (uint64_t)n || et == ATN_GGUF_STRING || et == ATN_GGUF_ARRAY)) {
        fail(err, errcap, "%s: expected %d numbers", kscores, n); goto bad;
    }
    int have_types = atn_gguf_get_arr(g, ktypes, &et, &n64) == 0;
    if (have_types && (n64 != (uint64_t)n || et == ATN_GGUF_STRING || et == ATN_GGUF_ARRAY || et == ATN_GGUF_FLOAT32 || et == ATN_GGUF_FLOAT64)) {
        fail(err, errcap, "%s: expected %d integers", ktypes, n); goto bad;
    }

    int n_odd_types = 0;
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    t->min_score = 1e30f; t->max_score = -1e30f;
    for (int i = 0; i < n; i++) {
        atn_tok_piece *p = &t->pieces[i];
        if (atn_gguf_arr_str(g, key, (uint64_t)i, &s, &sl) != 0 || sl > (1u << 20)) {
            fail(err, errcap, "%s: bad token %d", key, i); goto bad;
        }
        p->text = s; p->len = (uint32_t)sl;
        p->type = ATN_TT_NORMAL;
        if (have_scores) {
            double d;
            if (atn_gguf_arr_f64(g, kscores, (uint64_t)i, &d) != 0 || !(d == d)) { fail(err, errcap, "%s: bad score %d", kscores, i); goto bad; }
            p->score = (float)d;
        }
        if (have_types) {
            int64_t v;
            if (atn_gguf_arr_i64(g, ktypes, (uint64_t)i, &v) != 0) { fail(err, errcap, "%s: bad type of token %d", ktypes, i); goto bad; }
            if (v < 1 || v > 6) {
                /* llama.cpp reads other values as "undefined"; they are
                 * plain text pieces here */
                n_odd_types++;
                v = ATN_TT_NORMAL;
            }
            p->type = (uint8_t)v;
        } else if (kind != ATN_TOK_GPT2 && is_byte_piece(s, sl)) {
            p->type = ATN_TT_BYTE;
        }
        if (p->type == ATN_TT_BYTE && kind != ATN_TOK_GPT2) {
            if (!is_byte_piece(s, sl)) { fail(err, errcap, "%s: byte token %d is not <0xXX>", key, i); goto bad; }
            int b = hexval(s[3]) * 16 + hexval(s[4]);
            if (t->byte_id[b] < 0) t->byte_id[b] = i;
            t->byte_fallback = 1;
        }
        if (atn_tok_is_text_piece(p->type) && p->len > t->max_piece_len) t->max_piece_len = p->len;
        if (p->type == ATN_TT_NORMAL) {
            if (p->score < t->min_score) t->min_score = p->score;
            if (p->score > t->max_score) t->max_score = p->score;
        }
        /* insert into the map; the first of duplicate pieces wins */
        uint32_t h = hash_bytes(s, sl) & t->map_mask;
        int dup = 0;
        while (t->map[h]) {
            const atn_tok_piece *q = &t->pieces[t->map[h] - 1];
            if (q->len == sl && memcmp(q->text, s, sl) == 0) { dup = 1; break; }
            h = (h + 1) & t->map_mask;
        }
        if (!dup) t->map[h] = (uint32_t)i + 1;
    }
    if (t->min_score > t->max_score) t->min_score = t->max_score = 0;
    if (n_odd_types)
        atn_tok_warn(t, "%s: %d tokens have a type outside 1..6; they are taken as normal tokens", ktypes, n_odd_types);


    /* special ids: GGUF keys, else the usual pieces */
    t->bos = t->eos = t->unk = t->pad = t->eot = t->eom = -1;
    if (kind != ATN_TOK_GPT2) {
        t->bos = find_named(t, "<s>"); t->eos = find_named(t, "</s>"); t->pad = find_named(t, "<pad>");
    }
    for (int i = 0; i < n; i++) if (t->pieces[i].type == ATN_TT_UNKNOWN) { t->unk = i; break; }
    get_id(t, g, prefix, "bos_token_id", &t->bos);
    get_id(t, g, prefix, "eos_token_id", &t->eos);
    get_id(t, g, prefix, "unknown_token_id", &t->unk);
    get_id(t, g, prefix, "padding_token_id", &t->pad);
    get_id(t, g, prefix, "eot_token_id", &t->eot);
    get_id(t, g, prefix, "eom_token_id", &t->eom);
    /* read only for their warnings: llama.cpp's converters write them, atento has no use for them */
    int32_t unused_id = -1;
    get_id(t, g, prefix, "seperator_token_id", &unused_id);
    get_id(t, g, prefix, "mask_token_id", &unused_id);

    t->add_bos = kind == ATN_TOK_SPM_BPE;
    t->add_eos = 0;
    t->add_space_prefix = kind != ATN_TOK_GPT2;
    t->remove_extra_ws = kind == ATN_TOK_UNIGRAM;
    t->escape_ws = 1;
    get_flag(g, prefix, "add_bos_token", &t->add_bos);
    get_flag(g, prefix, "add_eos_token", &t->add_eos);
    get_flag(g, prefix, "add_space_prefix", &t->add_space_prefix);
    get_flag(g, prefix, "remove_extra_whitespaces", &t->remove_extra_ws);
    get_flag(g, prefix, "escape_whitespaces", &t->escape_ws);

    /* Can SPM BPE cut its text before a ▁ that follows another character?
     * Only if no piece that text can become holds such a ▁. */
    t->spm_ws_chunks = kind == ATN_TOK_SPM_BPE && t->escape_ws;
    for (int i = 0; i < n && t->spm_ws_chunks; i++) {
        const atn_tok_piece *p = &t->pieces[i];
        if (!atn_tok_is_text_piece(p->type)) continue;
        for (uint32_t k = 1; k + 3 <= p->len; k++) {
            if (memcmp(p->text + k, SPACE_SYMBOL, 3) == 0 && (k < 3 || memcmp(p->text + k - 3, SPACE_SYMBOL, 3) != 0)) {
                t->spm_ws_chunks = 0;
                break;
            }
        }
    }

    /* literal specials */
    int nc = 0, nu = 0;
    for (int i = 0; i < n; i++) {
        if (t->pieces[i].len == 0) continue;
        if (t->pieces[i].type == ATN_TT_CONTROL) nc++;
        if (t->pieces[i].type == ATN_TT_USER_DEFINED) nu++;
    }
    t->specials = malloc((size_t)(nc ? nc : 1) * sizeof(int32_t));
    t->user_defined = malloc((size_t)(nu ? nu : 1) * sizeof(int32_t));
    if (!t->specials || !t->user_defined) { fail(err, errcap, "tokenizer: out of memory"); goto bad; }
    for (int i = 0; i < n; i++) {
        const atn_tok_piece *p = &t->pieces[i];
        if (p->len == 0) continue;
        if (p->type == ATN_TT_CONTROL) { t->specials[t->n_specials++] = i; t->special_first[(unsigned char)p->text[0]] = 1; }
        if (p->type == ATN_TT_USER_DEFINED) { t->user_defined[t->n_user_defined++] = i; t->user_first[(unsigned char)p->text[0]] = 1; }
    }
    if (sort_longest_first(t, t->specials, t->n_specials) || sort_longest_first(t, t->user_defined, t->n_user_defined)) {
        fail(err, errcap, "tokenizer: out of memory"); goto bad;
    }

    /* end-of-generation tokens */
    static const char *const eog_names[] = {
        "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>",
        "<end_of_turn>", "<|end|>", "</s>", "<|end▁of▁sentence|>",
    };
    t->eog = malloc(16 * sizeof(int32_t));
    if (!t->eog) { fail(err, errcap, "tokenizer: out of memory"); goto bad; }
    int32_t cand[16]; int ncand = 0;
    cand[ncand++] = t->eos; cand[ncand++] = t->eot; cand[ncand++] = t->eom;
    for (size_t k = 0; k < sizeof eog_names / sizeof *eog_names; k++) {
        int32_t id = find_named(t, eog_names[k]);
        /* as llama.cpp: some files store these as user-defined (Phi-3's <|end|>); they still end a turn */
        if (id >= 0 && (t->pieces[id].type == ATN_TT_CONTROL || t->pieces[id].type == ATN_TT_USER_DEFINED)) cand[ncand++] = id;
    }
    for (int k = 0; k < ncand; k++) {
        if (cand[k] < 0) continue;
        int seen = 0;
        for (int j = 0; j < t->n_eog; j++) seen |= t->eog[j] == cand[k];
        if (!seen) t->eog[t->n_eog++] = cand[k];
    }

    if (kind == ATN_TOK_GPT2) {
        if (atn_gpt2_load(t, g, prefix, flags, err, errcap) != 0) goto bad;
        get_flag(g, prefix, "add_bos_token", &t->add_bos);   /* over the pre-tokenizer's default */
    }
    if (kind != ATN_TOK_GPT2) {
        const void *data;
        snprintf(key, sizeof key, "%s.precompiled_charsmap", prefix);
        if (atn_gguf_get_arr(g, key, &et, &n64) == 0) {
            if ((et != ATN_GGUF_UINT8 && et != ATN_GGUF_INT8) || atn_gguf_arr_data(g, key, &data) != 0) {
                fail(err, errcap, "%s: expected an array of bytes", key); goto bad;
            }
            if (n64 > 0 && atn_charsmap_load(t, data, (size_t)n64, err, errcap) != 0) goto bad;
        }
        if (kind == ATN_TOK_UNIGRAM) {
            /* prefix bitset: ~16 bits per prefix */
            size_t np = 0;
            for (int i = 0; i < n; i++) if (atn_tok_is_text_piece(t->pieces[i].type)) np += t->pieces[i].len;
            uint32_t bits = 1024;
            while (bits < np * 16 && bits < (1u << 30)) bits <<= 1;
            t->prefix_bits = calloc(bits / 64, sizeof(uint64_t));
            if (!t->prefix_bits) { fail(err, errcap, "tokenizer: out of memory"); goto bad; }
            t->prefix_mask = bits - 1;
            for (int i = 0; i < n; i++) {
                const atn_tok_piece *p = &t->pieces[i];
                if (!atn_tok_is_text_piece(p->type)) continue;
                uint32_t h = ATN_TOK_HASH_INIT;
                for (uint32_t k = 0; k < p->len; k++) {
                    h = atn_tok_hash_step(h, (unsigned char)p->text[k]);
                    uint32_t b = h & t->prefix_mask;
                    t->prefix_bits[b >> 6] |= 1ull << (b & 63);
                }
            }
        }
        if (kind == ATN_TOK_UNIGRAM && t->unk < 0 && !t->byte_fallback) { fail(err, errcap, "%s: unigram vocabulary has no unknown token", prefix); goto bad; }
    }
    return t;
bad:
    atn_tokenizer_free(t);
    return NULL;
}

void atn_tokenizer_free(atn_tokenizer *t) {
    if (!t) return;
    free(t->pieces); free(t->map); free(t->specials); free(t->user_defined);
    free(t->eog); free(t->merges); free(t->cm_units_copy); free(t->prefix_bits);
    free(t);
}

/* ---- getters ---------------------------------------------------------------- */

int atn_tokenizer_n_vocab(const atn_tokenizer *t) { return t->n_vocab; }
const char *atn_tokenizer_kind(const atn_tokenizer *t) {
    return t->kind == ATN_TOK_SPM_BPE ? "llama" : t->kind == ATN_TOK_GPT2 ? "gpt2" : "unigram";
}
int32_t atn_tokenizer_bos(const atn_tokenizer *t) { return t->bos; }
int atn_tokenizer_n_warnings(const atn_tokenizer *t) { return t->n_warnings; }
const char *atn_tokenizer_warning(const atn_tokenizer *t, int i) {
    return i >= 0 && i < t->n_warnings ? t->warnings[i] : NULL;
}
int32_t atn_tokenizer_eos(const atn_tokenizer *t) { return t->eos; }
int32_t atn_tokenizer_unk(const atn_tokenizer *t) { return t->unk; }
int32_t atn_tokenizer_pad(const atn_tokenizer *t) { return t->pad; }
int atn_tokenizer_add_bos(const atn_tokenizer *t) { return t->add_bos; }
int atn_tokenizer_add_eos(const atn_tokenizer *t) { return t->add_eos; }
int atn_tokenizer_is_eog(const atn_tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_eog; i++) if (t->eog[i] == id) return 1;
    return 0;
}
int atn_tokenizer_is_special(const atn_tokenizer *t, int32_t id) {
    if (id < 0 || id >= t->n_vocab) return 0;
    int ty = t->pieces[id].type;
    return ty == ATN_TT_CONTROL || ty == ATN_TT_USER_DEFINED;
}
int atn_tokenizer_is_control(const atn_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab && t->pieces[id].type == ATN_TT_CONTROL;
}
int32_t atn_tokenizer_lookup(const atn_tokenizer *t, const char *text, size_t len) {
    if (!text && len) return -1;
    return atn_tok_find(t, text ? text : "", len);
}

/* ---- encode ------------------------------------------------------------------ */

static int encode_text(const atn_tokenizer *t, const char *s, size_t n, atn_tok_out *o) {
    if (n == 0) return 0;
    switch (t->kind) {
    case ATN_TOK_SPM_BPE: return atn_spm_bpe_encode(t, s, n, t->add_space_prefix, o);
    case ATN_TOK_GPT2: return atn_gpt2_encode(t, s, n, o);
    default: return atn_unigram_encode(t, s, n, o);
    }
}

static int encode_impl(const atn_tokenizer *t, const char *text, size_t len, const unsigned char *text_mask,
                       int add_special, int parse_special, int32_t *ids, int cap);

int atn_tokenizer_encode(const atn_tokenizer *t, const char *text, size_t len,
                         int add_special, int parse_special, int32_t *ids, int cap) {
    return encode_impl(t, text, len, NULL, add_special, parse_special, ids, cap);
}

int atn_tokenizer_encode_masked(const atn_tokenizer *t, const char *text, size_t len, const unsigned char *text_mask,
                                int add_special, int32_t *ids, int cap) {
    return encode_impl(t, text, len, text_mask, add_special, 1, ids, cap);
}

/* text_mask (may be NULL): bytes marked 1 never take part in a control token */
static int encode_impl(const atn_tokenizer *t, const char *text, size_t len, const unsigned char *text_mask,
                       int add_special, int parse_special, int32_t *ids, int cap) {
    if (!t) return atn_error("tokenize: no tokenizer");
    if (!text && len) return atn_error("tokenize: NULL text");
    if (len > (size_t)INT_MAX / 2) return atn_error("tokenize: text too long (%zu bytes)", len);
    if (!text) text = "";
    size_t bad = atn_utf8_first_invalid(text, len);
    if (bad < len) return atn_error("invalid UTF-8 at byte %zu", bad);
    atn_tok_out o = { ids, (ids && cap > 0) ? cap : 0, 0 };

    if (add_special && t->add_bos && t->bos >= 0) atn_tok_emit(&o, t->bos);
    /* Literal special tokens split the text into fragments: control tokens
     * with parse_special; for byte-level BPE also user-defined tokens, always
     * (as llama.cpp). SentencePiece kinds handle user-defined pieces inside
     * the model, as SentencePiece does. */
    int use_ctl = parse_special && t->n_specials > 0;
    int use_user = t->kind == ATN_TOK_GPT2 && t->n_user_defined > 0;
    size_t start = 0;
    if (use_ctl || use_user) {
        for (size_t i = 0; i < len; i++) {
            unsigned char c0 = (unsigned char)text[i];
            int32_t hit = -1;
            uint32_t hit_len = 0;
            if (use_ctl && t->special_first[c0]) {
                for (int k = 0; k < t->n_specials; k++) {
                    const atn_tok_piece *p = &t->pieces[t->specials[k]];
                    if (p->len <= len - i && memcmp(p->text, text + i, p->len) == 0 &&
                        (!text_mask || !memchr(text_mask + i, 1, p->len))) { hit = t->specials[k]; hit_len = p->len; break; }
                }
            }
            if (use_user && t->user_first[c0]) {
                size_t m = 0;
                int32_t u = atn_tok_match_user(t, text + i, len - i, &m);
                if (u >= 0 && m > hit_len) { hit = u; hit_len = (uint32_t)m; }
            }
            if (hit < 0) continue;
            if (encode_text(t, text + start, i - start, &o) < 0) return -1;
            atn_tok_emit(&o, hit);
            start = i + hit_len;
            i = start - 1;
        }
    }
    if (encode_text(t, text + start, len - start, &o) < 0) return -1;
    if (add_special && t->add_eos && t->eos >= 0) atn_tok_emit(&o, t->eos);
    return o.n;
}

/* ---- decode -------------------------------------------------------------------- */

typedef struct { char *out; int cap; int n; int strip_space; } bytes_out;
static void put(bytes_out *w, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (w->strip_space) { w->strip_space = 0; if (s[i] == ' ') continue; }
        if (w->n < w->cap) w->out[w->n] = s[i];
        w->n++;
    }
}

static void spm_piece_bytes(const atn_tokenizer *t, const atn_tok_piece *p, bytes_out *w) {
    size_t i = 0, run = 0;
    while (i < p->len) {
        if (t->escape_ws && p->len - i >= 3 && memcmp(p->text + i, SPACE_SYMBOL, 3) == 0) {
            put(w, p->text + run, i - run);
            put(w, " ", 1);
            i += 3; run = i;
        } else {
            i++;
        }
    }
    put(w, p->text + run, p->len - run);
}

static void token_bytes(const atn_tokenizer *t, int32_t id, bytes_out *w) {
    const atn_tok_piece *p = &t->pieces[id];
    if (p->type == ATN_TT_CONTROL) { put(w, p->text, p->len); return; }
    if (t->kind == ATN_TOK_GPT2) {
        if (p->type == ATN_TT_USER_DEFINED) { put(w, p->text, p->len); return; }
        int avail = w->cap > w->n ? w->cap - w->n : 0;
        w->n += atn_gpt2_piece_bytes(t, p->text, p->len, avail ? w->out + w->n : NULL, avail);
        return;
    }
    if (p->type == ATN_TT_BYTE) {
        char b = (char)(hexval(p->text[3]) * 16 + hexval(p->text[4]));
        put(w, &b, 1);
        return;
    }
    if (p->type == ATN_TT_UNKNOWN) { put(w, " \xE2\x81\x87 ", 5); return; } /* " ⁇ " as SentencePiece */
    spm_piece_bytes(t, p, w);
}

int atn_tokenizer_token_bytes(const atn_tokenizer *t, int32_t id, char *out, int cap) {
    if (!t || id < 0 || id >= t->n_vocab) return atn_error("token id %d out of range", (int)id);
    bytes_out w = { out, out && cap > 0 ? cap : 0, 0, 0 };
    token_bytes(t, id, &w);
    return w.n;
}

int atn_tokenizer_piece(const atn_tokenizer *t, int32_t id, char *out, int cap) {
    if (!t || id < 0 || id >= t->n_vocab) return atn_error("token id %d out of range", (int)id);
    const atn_tok_piece *p = &t->pieces[id];
    if (out && cap > 0) memcpy(out, p->text, p->len < (uint32_t)cap ? p->len : (size_t)cap);
    return (int)p->len;
}

int atn_tokenizer_decode(const atn_tokenizer *t, const int32_t *ids, int n, int keep_special, char *out, int cap) {
    if (!t) return atn_error("detokenize: no tokenizer");
    if (n < 0 || (n > 0 && !ids)) return atn_error("detokenize: bad arguments");
    bytes_out w = { out, out && cap > 0 ? cap : 0, 0, 0 };
    int first = 1;
    for (int i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_vocab) return atn_error("token id %d out of range", (int)id);
        int ty = t->pieces[id].type;
        if (ty == ATN_TT_CONTROL && !keep_special) continue;
        if (first && ty != ATN_TT_CONTROL) {
            first = 0;
            if (t->kind != ATN_TOK_GPT2 && t->add_space_prefix && ty != ATN_TT_BYTE) w.strip_space = 1;
        }
        token_bytes(t, id, &w);
        w.strip_space = 0;
        if (w.n < 0 || w.n > INT_MAX / 2) return atn_error("detokenize: output too long");
    }
    return w.n;
}
