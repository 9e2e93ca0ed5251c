/* gpt2_bpe.c — byte-level BPE (GGUF tokenizer model "gpt2": GPT-2, Llama 3,
 * Qwen2, SmolLM).
 *
 * Text is split by the pre-tokenizer named in `tokenizer.ggml.pre`
 * (pretokenize.c); each piece's bytes are written as GPT-2's printable
 * stand-in characters (bytes 33-126, 161-172, 174-255 stand for themselves,
 * the other 68 bytes become U+0100..U+0143 in order), one symbol per byte.
 * Then the adjacent pair with the lowest rank in `tokenizer.ggml.merges`
 * is merged until no pair has a rank (ties: the leftmost pair). Llama 3's
 * tokenizer first looks the whole piece up in the vocabulary
 * ("ignore_merges").
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "tok_internal.h"
#include "../checked.h"
#include "../error.h"

/* GPT-2's byte <-> stand-in code point map */
static int printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }
static uint32_t byte_to_cp(int b) {
    if (printable(b)) return (uint32_t)b;
    if (b <= 32) return 256u + (uint32_t)b;
    if (b <= 160) return 289u + (uint32_t)(b - 127);
    return 323u;   /* 173 */
}
static int cp_to_byte(uint32_t cp) {
    if (cp < 256) return printable((int)cp) ? (int)cp : -1;
    if (cp <= 288) return (int)(cp - 256);
    if (cp <= 322) return (int)(cp - 289 + 127);
    if (cp == 323) return 173;
    return -1;
}

static uint32_t pair_hash(int32_t a, int32_t b) {
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32);
}

static const atn_tok_merge *find_merge(const atn_tokenizer *t, int32_t a, int32_t b) {
    uint32_t i = pair_hash(a, b) & t->merges_mask;
    for (;;) {
        const atn_tok_merge *m = &t->merges[i];
        if (m->rank < 0) return NULL;
        if (m->left == a && m->right == b) return m;
        i = (i + 1) & t->merges_mask;
    }
}

int atn_gpt2_load(atn_tokenizer *t, const atn_gguf *g, const char *prefix, int flags, char *err, size_t errcap) {
    char key[256];
    const char *s; size_t sl;
    int et; uint64_t n;

    for (int b = 0; b < 256; b++) {
        char u[4];
        int k = atn_utf8_encode(byte_to_cp(b), u);
        t->byte_id[b] = atn_tok_find(t, u, (size_t)k);
    }

    /* tokenizer.ggml.pre names the pre-tokenizer; llama.cpp uses its own
     * "default" one when the key is absent, and refuses a name it does not
     * know. So does atento, unless asked to fall back to GPT-2's rules. */
    snprintf(key, sizeof key, "%s.pre", prefix);
    int have_pre = atn_gguf_get_str(g, key, &s, &sl) == 0;
    if (!have_pre && atn_gguf_find(g, key) >= 0) {
        if (err && errcap) snprintf(err, errcap, "%s: not a string", key);
        return -1;
    }
    if (!have_pre) {
        t->pre = ATN_PRE_DEFAULT;
        atn_tok_warn(t, "%s is missing: llama.cpp's default pre-tokenizer is used (the tokens may differ from the model's own tokenizer)", key);
    } else {
        int add_bos = 0;
        t->pre = atn_pretokenizer_find(s, sl, &t->ignore_merges, &add_bos);
        t->nfc = t->pre >= 0 && atn_pretokenizer_nfc(t->pre, s, sl);
        if (t->pre >= 0 && add_bos) t->add_bos = 1;   /* llama.cpp's default; add_bos_token overrides */
        if (t->pre < 0) {
            char name[48];
            size_t k = sl < 40 ? sl : 40;
            memcpy(name, s, k);
            name[k] = 0;
            for (size_t i = 0; i < k; i++) if ((unsigned char)name[i] < 32 || (unsigned char)name[i] > 126) name[i] = '?';
            if (!(flags & ATN_TOK_ANY_PRETOKENIZER)) {
                if (err && errcap)
                    snprintf(err, errcap, "unknown pre-tokenizer %s = '%s%s' (allow GPT-2's rules instead with --allow-unknown-pretokenizer)",
                             key, name, sl > k ? "..." : "");
                return -1;
            }
            t->pre = ATN_PRE_GPT2;
            t->ignore_merges = 0;
            atn_tok_warn(t, "unknown pre-tokenizer %s = '%s%s': GPT-2's rules are used instead, so the tokens may differ from the model's own tokenizer",
                         key, name, sl > k ? "..." : "");
        }
    }

    snprintf(key, sizeof key, "%s.merges", prefix);
    if (atn_gguf_get_arr(g, key, &et, &n) != 0 || et != ATN_GGUF_STRING) {
        if (err && errcap) snprintf(err, errcap, "%s: missing or not an array of strings", key);
        return -1;
    }
    if (n > (1u << 24)) {
        if (err && errcap) snprintf(err, errcap, "%s: too many merges (%llu)", key, (unsigned long long)n);
        return -1;
    }
    uint32_t cap = 16;
    while (cap < (uint32_t)n * 2u) cap <<= 1;
    t->merges = malloc((size_t)cap * sizeof *t->merges);
    if (!t->merges) { if (err && errcap) snprintf(err, errcap, "tokenizer: out of memory"); return -1; }
    for (uint32_t i = 0; i < cap; i++) t->merges[i].rank = -1;
    t->merges_mask = cap - 1;
    char *cat = NULL;
    size_t catcap = 0;
    for (uint64_t r = 0; r < n; r++) {
        if (atn_gguf_arr_str(g, key, r, &s, &sl) != 0) {
            if (err && errcap) snprintf(err, errcap, "%s: bad merge %llu", key, (unsigned long long)r);
            free(cat);
            return -1;
        }
        size_t sp = 1;
        while (sp < sl && s[sp] != ' ') sp++;
        if (sl < 3 || sp >= sl - 1) continue;          /* not "left right": skip */
        int32_t a = atn_tok_find(t, s, sp), b = atn_tok_find(t, s + sp + 1, sl - sp - 1);
        if (a < 0 || b < 0) continue;
        if (sl > catcap) {
            char *nc = realloc(cat, sl);
            if (!nc) { free(cat); if (err && errcap) snprintf(err, errcap, "tokenizer: out of memory"); return -1; }
            cat = nc; catcap = sl;
        }
        memcpy(cat, s, sp);
        memcpy(cat + sp, s + sp + 1, sl - sp - 1);
        int32_t res = atn_tok_find(t, cat, sl - 1);
        if (res < 0) continue;
        uint32_t h = pair_hash(a, b) & t->merges_mask;
        while (t->merges[h].rank >= 0 && !(t->merges[h].left == a && t->merges[h].right == b))
            h = (h + 1) & t->merges_mask;
        if (t->merges[h].rank >= 0) continue;           /* duplicate: the first rank wins */
        t->merges[h] = (atn_tok_merge){ a, b, res, (int32_t)r };
    }
    free(cat);
    return 0;
}

typedef struct { int32_t id, prev, next; } sym;

typedef struct {
    const atn_tokenizer *t;
    atn_tok_out *o;
    sym *sy; size_t sy_cap;
    char *mapped; size_t mapped_cap;
    atn_tok_heap heap;
} ctx;

static int push_pair(ctx *c, int l, int r) {
    if (l < 0 || r < 0) return 0;
    const atn_tok_merge *m = find_merge(c->t, c->sy[l].id, c->sy[r].id);
    if (!m) return 0;
    atn_tok_cand cd = { -(double)m->rank, l, r, c->sy[l].id, c->sy[r].id };
    return atn_tok_heap_push(&c->heap, cd);
}

static int bpe_word(void *vc, const char *w, size_t n) {
    ctx *c = vc;
    const atn_tokenizer *t = c->t;
    if (n == 0) return 0;
    if (t->ignore_merges) {
        if (atn_mul_size(n, 2) > c->mapped_cap) {
            char *m = atn_realloc_array(c->mapped, n, 2);
            if (!m) return atn_error("tokenize: out of memory");
            c->mapped = m; c->mapped_cap = n * 2;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)atn_utf8_encode(byte_to_cp((unsigned char)w[i]), c->mapped + k);
        int32_t id = atn_tok_find(t, c->mapped, k);
        if (id >= 0) { atn_tok_emit(c->o, id); return 0; }
    }
    if (n > c->sy_cap) {
        sym *s = atn_realloc_array(c->sy, n, sizeof *s);
        if (!s) return atn_error("tokenize: out of memory");
        c->sy = s; c->sy_cap = n;
    }
    sym *sy = c->sy;
    for (size_t i = 0; i < n; i++) {
        sy[i].id = t->byte_id[(unsigned char)w[i]];
        sy[i].prev = (int32_t)i - 1;
        sy[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    c->heap.n = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (sy[i].id >= 0 && sy[i + 1].id >= 0 && push_pair(c, (int)i, (int)i + 1) < 0) return -1;
    atn_tok_cand cd;
    while (atn_tok_heap_pop(&c->heap, &cd)) {
        sym *a = &sy[cd.left], *b = &sy[cd.right];
        if (a->id != cd.a || b->id != cd.b || a->next != cd.right) continue;  /* stale */
        const atn_tok_merge *m = find_merge(t, a->id, b->id);
        a->id = m->result;
        a->next = b->next;
        if (b->next >= 0) sy[b->next].prev = cd.left;
        b->id = -2;  /* merged away */
        if (a->prev >= 0 && sy[a->prev].id >= 0 && push_pair(c, a->prev, cd.left) < 0) return -1;
        if (a->next >= 0 && sy[a->next].id >= 0 && push_pair(c, cd.left, a->next) < 0) return -1;
    }
    for (int i = 0; i >= 0; i = sy[i].next) {
        if (sy[i].id >= 0) atn_tok_emit(c->o, sy[i].id);
        else if (t->unk >= 0) atn_tok_emit(c->o, t->unk);   /* a byte the vocabulary lacks */
    }
    return 0;
}

int atn_gpt2_encode(const atn_tokenizer *t, const char *text, size_t len, atn_tok_out *o) {
    ctx c = { t, o, NULL, 0, NULL, 0, { NULL, 0, 0 } };
    char *norm = NULL;
    size_t norm_len = 0;
    if (t->nfc && atn_nfc(text, len, &norm, &norm_len) < 0) return -1;
    int rc = norm ? atn_pretokenize(t->pre, norm, norm_len, bpe_word, &c) : atn_pretokenize(t->pre, text, len, bpe_word, &c);
    free(norm);
    free(c.sy); free(c.mapped); free(c.heap.v);
    return rc;
}

int atn_gpt2_piece_bytes(const atn_tokenizer *t, const char *piece, size_t len, char *out, int cap) {
    (void)t;
    int n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = atn_utf8_decode(piece + i, len - i, &cp);
        int b = cp_to_byte(cp);
        if (b >= 0) {
            if (n < cap) out[n] = (char)b;
            n++;
        } else {                       /* not a stand-in: the character itself */
            for (int j = 0; j < k; j++) { if (n < cap) out[n] = piece[i + j]; n++; }
        }
        i += (size_t)k;
    }
    return n;
}
