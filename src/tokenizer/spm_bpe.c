/* spm_bpe.c — SentencePiece BPE (GGUF tokenizer model "llama").
 *
 * As sentencepiece's bpe_model.cc encodes: the text is normalized (a dummy
 * ▁ in front, ' ' -> ▁), split into characters (a user-defined piece is one
 * frozen symbol), and then the adjacent pair whose concatenation is the
 * vocabulary piece with the highest score is merged, again and again (ties:
 * the leftmost pair). A priority queue holds the candidate pairs; stale
 * entries are recognized by the symbols' current lengths. Symbols that are
 * not pieces become byte tokens <0xXX> (byte fallback) or the unknown token
 * (a run of unknowns is one unknown, as SentencePiece emits it). A result
 * that is an "unused" piece is split back into the two symbols it was made of.
 */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#include "../error.h"
#include "../checked.h"

typedef struct {
    int32_t start, len;      /* bytes in the normalized text; len 0 = merged away */
    int32_t prev, next;
    int32_t node;            /* merge tree node (for resegmenting unused pieces) */
    uint8_t frozen;
} sym;

typedef struct { int32_t start, len, l, r; } node;

typedef struct {
    const atn_tokenizer *t;
    const char *s;
    sym *sy;
    node *nd;
    atn_tok_heap heap;
    atn_tok_out *o;
    int prev_unk;
} ctx;

static int try_pair(ctx *c, int l, int r) {
    if (l < 0 || r < 0) return 0;
    const sym *a = &c->sy[l], *b = &c->sy[r];
    if (a->frozen || b->frozen) return 0;
    uint32_t n = (uint32_t)(a->len + b->len);
    if (n > c->t->max_piece_len) return 0;
    int32_t id = atn_tok_find(c->t, c->s + a->start, n);
    if (id < 0 || !atn_tok_is_text_piece(c->t->pieces[id].type)) return 0;
    atn_tok_cand cd = { c->t->pieces[id].score, l, r, a->len, b->len };
    return atn_tok_heap_push(&c->heap, cd);
}

static void emit(ctx *c, int32_t id, int unk) {
    if (unk && c->prev_unk) return;   /* a run of unknowns is one unknown */
    atn_tok_emit(c->o, id);
    c->prev_unk = unk;
}

static void emit_node(ctx *c, int k) {
    const atn_tokenizer *t = c->t;
    const node *x = &c->nd[k];
    int32_t id = atn_tok_find(t, c->s + x->start, (size_t)x->len);
    if (id >= 0 && atn_tok_is_text_piece(t->pieces[id].type)) {
        if (t->pieces[id].type == ATN_TT_UNUSED && x->l >= 0) {
            emit_node(c, x->l);
            emit_node(c, x->r);
            return;
        }
        emit(c, id, 0);
        return;
    }
    if (t->byte_fallback) {
        for (int i = 0; i < x->len; i++) {
            int32_t b = t->byte_id[(unsigned char)c->s[x->start + i]];
            if (b >= 0) emit(c, b, 0);
            else if (t->unk >= 0) emit(c, t->unk, 1);
        }
        return;
    }
    if (t->unk >= 0) emit(c, t->unk, 1);
}

/* merge the symbols of s[a, b) and emit their ids */
static int bpe_chunk(ctx *c, size_t a, size_t b) {
    const atn_tokenizer *t = c->t;
    const char *s = c->s;
    sym *sy = c->sy;
    node *nd = c->nd;
    int ns = 0, rc = 0;
    /* characters (user-defined pieces whole) */
    for (size_t i = a; i < b;) {
        size_t m = 0;
        int frozen = atn_tok_match_user(t, s + i, b - i, &m) >= 0;
        if (!frozen) {
            m = (size_t)atn_utf8_char_len((unsigned char)s[i]);
            if (m == 0 || m > b - i) m = 1;
        }
        sy[ns] = (sym){ (int32_t)i, (int32_t)m, ns - 1, ns + 1, ns, (uint8_t)frozen };
        nd[ns] = (node){ (int32_t)i, (int32_t)m, -1, -1 };
        ns++;
        i += m;
    }
    if (ns == 0) return 0;
    sy[ns - 1].next = -1;
    int nn = ns;
    c->heap.n = 0;
    for (int i = 0; i + 1 < ns; i++)
        if ((rc = try_pair(c, i, i + 1)) < 0) return rc;

    atn_tok_cand cd;
    while (atn_tok_heap_pop(&c->heap, &cd)) {
        sym *x = &sy[cd.left], *y = &sy[cd.right];
        if (x->len != cd.a || y->len != cd.b || x->next != cd.right) continue; /* stale */
        nd[nn] = (node){ x->start, x->len + y->len, x->node, y->node };
        x->node = nn++;
        x->len += y->len;
        x->next = y->next;
        if (y->next >= 0) sy[y->next].prev = cd.left;
        y->len = 0;
        if ((rc = try_pair(c, x->prev, cd.left)) < 0) return rc;
        if ((rc = try_pair(c, cd.left, x->next)) < 0) return rc;
    }
    for (int i = 0; i >= 0; i = sy[i].next) emit_node(c, sy[i].node);
    return 0;
}

int atn_spm_bpe_encode(const atn_tokenizer *t, const char *text, size_t len, int prefix, atn_tok_out *o) {
    char *s = NULL;
    size_t nlen = 0;
    if (t->cm_units || t->remove_extra_ws) {
        /* a model with normalization rules: the full SentencePiece normalizer */
        if (atn_spm_normalize(t, text, len, &s, &nlen) < 0) return -1;
    } else {
        /* identity normalization (Llama): dummy prefix, spaces -> ▁ */
        size_t spaces = 0;
        if (t->escape_ws) for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
        nlen = atn_add_size(atn_add_size(len, atn_mul_size(2, spaces)), prefix ? 3 : 0);
        if (nlen > INT32_MAX / 2 - 1) return atn_error("tokenize: text too long (%zu bytes once normalized)", nlen);
        s = malloc(nlen + 1);
        if (!s) return atn_error("tokenize: out of memory");
        size_t p = 0;
        if (prefix) { memcpy(s, "\xE2\x96\x81", 3); p = 3; }
        for (size_t i = 0; i < len; i++) {
            if (t->escape_ws && text[i] == ' ') { memcpy(s + p, "\xE2\x96\x81", 3); p += 3; }
            else s[p++] = text[i];
        }
    }
    /* symbol and node indices are int32: bound the normalized length */
    if (nlen > INT32_MAX / 2 - 1) {
        free(s);
        return atn_error("tokenize: text too long (%zu bytes once normalized)", nlen);
    }
    sym *sy = atn_malloc_array(atn_add_size(nlen, 1), sizeof *sy);
    node *nd = atn_malloc_array(atn_add_size(atn_mul_size(2, nlen), 1), sizeof *nd);
    ctx c = { t, s, sy, nd, { NULL, 0, 0 }, o, 0 };
    int rc = 0;
    if (!sy || !nd) {
        rc = atn_error("tokenize: out of memory (a text of %zu bytes needs %.0f MiB of work buffers)", len,
                       ((double)nlen + 1) * (sizeof *sy + 2 * sizeof *nd) / (1 << 20));
        goto done;
    }

    /* Independent chunks: when no piece holds "x▁" (x not ▁), no merge can
     * join a symbol ending in x to one starting with ▁, so the text can be
     * cut before every such ▁ and the chunks merged separately: same result,
     * small heaps. */
    for (size_t a = 0; a < nlen && rc == 0;) {
        size_t b = nlen;
        if (t->spm_ws_chunks) {
            for (b = a + 1; b < nlen; b++)
                if (b + 3 <= nlen && memcmp(s + b, "\xE2\x96\x81", 3) == 0 &&
                    (b < 3 || memcmp(s + b - 3, "\xE2\x96\x81", 3) != 0))
                    break;
        }
        rc = bpe_chunk(&c, a, b);
        a = b;
    }
done:
    free(c.heap.v);
    free(s); free(sy); free(nd);
    return rc;
}
