/* unicode_nfc.c — Unicode normalization form C, the normalizer of Qwen2's
 * tokenizer.json: canonical decomposition (tables in unicode_nfc_tables.c,
 * Hangul syllables by arithmetic), canonical ordering of combining marks,
 * then canonical composition (UAX #15). Text without combining marks,
 * characters that are not NFC by themselves or second halves of
 * compositions is already NFC and is left alone (the quick check). */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#include "../checked.h"
#include "../error.h"

extern const uint32_t atn_nfc_ccc[][3];
extern const int atn_nfc_n_ccc;
extern const uint32_t atn_nfc_decomp[][3];
extern const int atn_nfc_n_decomp;
extern const uint32_t atn_nfc_pool[];
extern const uint32_t atn_nfc_pairs[][3];
extern const int atn_nfc_n_pairs;
extern const uint32_t atn_nfc_maybe[][2];
extern const int atn_nfc_n_maybe;

enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7, L_COUNT = 19, V_COUNT = 21, T_COUNT = 28 };
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

static int ccc(uint32_t cp) {
    if (cp < 0x300) return 0;
    int lo = 0, hi = atn_nfc_n_ccc - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < atn_nfc_ccc[mid][0]) hi = mid - 1;
        else if (cp > atn_nfc_ccc[mid][1]) lo = mid + 1;
        else return (int)atn_nfc_ccc[mid][2];
    }
    return 0;
}

/* the full canonical decomposition of cp into out (at most 4 code points) */
static int decompose(uint32_t cp, uint32_t *out) {
    if (cp >= S_BASE && cp < S_BASE + S_COUNT) {
        uint32_t s = cp - S_BASE, t = s % T_COUNT;
        out[0] = L_BASE + s / N_COUNT;
        out[1] = V_BASE + (s % N_COUNT) / T_COUNT;
        if (t) { out[2] = T_BASE + t; return 3; }
        return 2;
    }
    int lo = 0, hi = atn_nfc_n_decomp - 1;
    while (cp >= 0xC0 && lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < atn_nfc_decomp[mid][0]) hi = mid - 1;
        else if (cp > atn_nfc_decomp[mid][0]) lo = mid + 1;
        else {
            uint32_t n = atn_nfc_decomp[mid][2];
            memcpy(out, atn_nfc_pool + atn_nfc_decomp[mid][1], n * sizeof *out);
            return (int)n;
        }
    }
    out[0] = cp;
    return 1;
}

/* the primary composite of (a, b), or 0 */
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    int lo = 0, hi = atn_nfc_n_pairs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const uint32_t *p = atn_nfc_pairs[mid];
        if (a < p[0] || (a == p[0] && b < p[1])) hi = mid - 1;
        else if (a > p[0] || b > p[1]) lo = mid + 1;
        else return p[2];
    }
    return 0;
}

/* 1 if NFC may change text holding cp (a combining mark, a character that is
 * not NFC by itself, or the second half of a composition) */
static int may_change(uint32_t cp) {
    if (cp < 0x300) return 0;
    if (ccc(cp)) return 1;
    int lo = 0, hi = atn_nfc_n_maybe - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < atn_nfc_maybe[mid][0]) hi = mid - 1;
        else if (cp > atn_nfc_maybe[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int atn_nfc(const char *s, size_t len, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    /* the quick check: most text has nothing NFC would change */
    size_t i = 0;
    while (i < len) {
        if ((unsigned char)s[i] < 0xCC) { i++; continue; }   /* below U+0300 */
        uint32_t cp;
        int k = atn_utf8_decode(s + i, len - i, &cp);
        if (may_change(cp)) break;
        i += (size_t)k;
    }
    if (i == len) return 0;
    /* decompose: at most 4 code points per input byte's character */
    uint32_t *d = atn_malloc_array(atn_add_size(atn_mul_size(len, 4), 4), sizeof *d);
    if (!d) return atn_error("tokenize: out of memory");
    size_t nd = 0;
    for (size_t k = 0; k < len;) {
        uint32_t cp;
        k += (size_t)atn_utf8_decode(s + k, len - k, &cp);
        nd += (size_t)decompose(cp, d + nd);
    }
    /* canonical ordering: a stable sort of each run of non-starters by class */
    for (size_t k = 1; k < nd; k++) {
        int c = ccc(d[k]);
        if (c == 0) continue;
        size_t j = k;
        while (j > 0 && ccc(d[j - 1]) > c) { uint32_t x = d[j]; d[j] = d[j - 1]; d[j - 1] = x; j--; }
    }
    /* compose */
    size_t n = 0;
    if (nd > 0) {
        size_t starter = 0;
        int last = ccc(d[0]) ? 256 : 0;
        n = 1;
        for (size_t k = 1; k < nd; k++) {
            uint32_t ch = d[k];
            int c = ccc(ch);
            uint32_t comp = compose(d[starter], ch);
            if (comp && (last < c || last == 0)) { d[starter] = comp; continue; }
            if (c == 0) starter = n;
            last = c;
            d[n++] = ch;
        }
    }
    char *o = atn_malloc_array(atn_add_size(atn_mul_size(n, 4), 1), 1);
    if (!o) { free(d); return atn_error("tokenize: out of memory"); }
    size_t ol = 0;
    for (size_t k = 0; k < n; k++) ol += (size_t)atn_utf8_encode(d[k], o + ol);
    free(d);
    *out = o;
    *out_len = ol;
    return 0;
}
