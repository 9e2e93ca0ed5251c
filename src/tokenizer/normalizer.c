/* normalizer.c — SentencePiece normalization.
 *
 * A SentencePiece model stores its normalization rules (nmt_nfkc by default:
 * NFKC plus some cleanup) "precompiled": a little-endian uint32 with the
 * size of a Darts-clone double-array trie, the trie's 32-bit units, then a
 * blob of NUL-terminated replacement strings. The trie maps an input byte
 * sequence to the offset of its replacement; at each position the longest
 * match wins, and text without a match is copied one character at a time.
 * User-defined pieces are copied verbatim before any rule applies.
 *
 * Around that, whitespace as SentencePiece does it: drop leading spaces,
 * collapse runs, drop trailing spaces (remove_extra_whitespaces), put a
 * dummy ▁ in front (add_space_prefix) and write ' ' as ▁ (escape_whitespaces).
 * Every index read from the charsmap is checked: it comes from the file.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "tok_internal.h"
#include "../checked.h"
#include "../error.h"

#define MAX_TRIE_RESULTS 32   /* SentencePiece looks at this many prefix matches */

int atn_charsmap_load(atn_tokenizer *t, const uint8_t *blob, size_t n, char *err, size_t errcap) {
    if (n < 4) { if (err && errcap) snprintf(err, errcap, "precompiled_charsmap: too short (%zu bytes)", n); return -1; }
    uint32_t trie = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 | (uint32_t)blob[3] << 24;
    if (trie < 4 || trie % 4 != 0 || trie > n - 4) {
        if (err && errcap) snprintf(err, errcap, "precompiled_charsmap: bad trie size %u of %zu bytes", trie, n);
        return -1;
    }
    uint32_t nu = trie / 4;
    uint32_t *u = malloc((size_t)nu * sizeof *u);
    if (!u) { if (err && errcap) snprintf(err, errcap, "precompiled_charsmap: out of memory"); return -1; }
    for (uint32_t i = 0; i < nu; i++) {
        const uint8_t *p = blob + 4 + 4 * (size_t)i;
        u[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    t->cm_units_copy = u;
    t->cm_units = u;
    t->cm_n_units = nu;
    t->cm_norm = (const char *)blob + 4 + trie;
    t->cm_norm_len = (uint32_t)(n - 4 - trie);
    return 0;
}

/* Darts-clone unit fields */
static inline uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static inline uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static inline int u_has_leaf(uint32_t u) { return (u >> 8) & 1; }
static inline uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* Longest rule that matches at s: its length (0 if none) and replacement. */
static size_t charsmap_match(const atn_tokenizer *t, const char *s, size_t len,
                             const char **rep, size_t *rep_len) {
    const uint32_t *a = t->cm_units;
    uint32_t n = t->cm_n_units, id = 0;
    size_t best = 0;
    uint32_t best_value = 0;
    int results = 0;
    if (n == 0) return 0;
    id ^= u_offset(a[0]);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        id ^= c;
        if (id >= n) break;
        uint32_t u = a[id];
        if (u_label(u) != c) break;
        id ^= u_offset(u);
        if (id >= n) break;
        if (u_has_leaf(u)) {
            if (results++ < MAX_TRIE_RESULTS && i + 1 > best) { best = i + 1; best_value = u_value(a[id]); }
        }
    }
    if (best == 0 || best_value >= t->cm_norm_len) return 0;   /* a bad offset: no rule */
    const char *r = t->cm_norm + best_value;
    size_t max = t->cm_norm_len - best_value, k = 0;
    while (k < max && r[k]) k++;
    *rep = r; *rep_len = k;
    return best;
}

/* The normalized form of the prefix of s: replacement + bytes consumed. */
static size_t normalize_prefix(const atn_tokenizer *t, const char *s, size_t len,
                               const char **rep, size_t *rep_len) {
    size_t m;
    if (atn_tok_match_user(t, s, len, &m) >= 0) { *rep = s; *rep_len = m; return m; }
    if (t->cm_units) {
        m = charsmap_match(t, s, len, rep, rep_len);
        if (m > 0) return m;
    }
    m = (size_t)atn_utf8_char_len((unsigned char)s[0]);
    if (m == 0 || m > len) m = 1;
    *rep = s; *rep_len = m;
    return m;
}

typedef struct { char *p; size_t n, cap; } buf;
static int put(buf *b, const char *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t nc = atn_add_size(atn_add_size(atn_mul_size(b->cap, 2), n), 16);
        char *q = realloc(b->p, nc);
        if (!q) return -1;
        b->p = q; b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return 0;
}

int atn_spm_normalize(const atn_tokenizer *t, const char *text, size_t len, char **out, size_t *out_len) {
    static const char WS[] = "\xE2\x96\x81";
    buf b = { NULL, 0, 0 };
    const char *rep; size_t rl;
    *out = NULL; *out_len = 0;
    size_t i = 0;
    if (t->remove_extra_ws) {   /* leading whitespace */
        while (i < len) {
            size_t m = normalize_prefix(t, text + i, len - i, &rep, &rl);
            if (!(rl == 1 && rep[0] == ' ')) break;
            i += m;
        }
    }
    if (i >= len) return 0;
    b.cap = atn_add_size(atn_mul_size(len - i, 3), 16);
    b.p = malloc(b.cap);
    if (!b.p) return atn_error("tokenize: out of memory");
    int rc = 0;
    if (t->add_space_prefix) rc |= t->escape_ws ? put(&b, WS, 3) : put(&b, " ", 1);
    int prev_space = t->remove_extra_ws;
    while (i < len && rc == 0) {
        size_t m = normalize_prefix(t, text + i, len - i, &rep, &rl);
        while (prev_space && rl > 0 && rep[0] == ' ') { rep++; rl--; }
        if (rl > 0) {
            size_t run = 0;
            for (size_t k = 0; k < rl; k++) {
                if (t->escape_ws && rep[k] == ' ') {
                    rc |= put(&b, rep + run, k - run);
                    rc |= put(&b, WS, 3);
                    run = k + 1;
                }
            }
            rc |= put(&b, rep + run, rl - run);
            prev_space = rep[rl - 1] == ' ';
        }
        i += m;
        if (!t->remove_extra_ws) prev_space = 0;
    }
    if (rc) { free(b.p); return atn_error("tokenize: out of memory"); }
    if (t->remove_extra_ws) {   /* trailing whitespace */
        const char *sp = t->escape_ws ? WS : " ";
        size_t sl = t->escape_ws ? 3 : 1;
        while (b.n >= sl && memcmp(b.p + b.n - sl, sp, sl) == 0) b.n -= sl;
    }
    *out = b.p; *out_len = b.n;
    return 0;
}
