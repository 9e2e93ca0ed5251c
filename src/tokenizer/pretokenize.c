/* pretokenize.c — the pre-tokenizers of byte-level BPE, written out by hand.
 *
 * Each splits text into the pieces a regular expression finds, scanning left
 * to right; at each position the first alternative that matches wins, as in
 * a backtracking regex engine. \p{L} / \p{N} are Unicode letters / numbers
 * (unicode_tables.c), \s is White_Space.
 *
 * gpt2 (GPT-2, default):
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * llama3 ("llama-bpe", "llama3"), and qwen2 with \p{N} instead of \p{N}{1,3}:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * smollm: every digit (\p{N}) is a piece by itself; the text between digits
 *   is split with gpt2's expression (as SmolLM's Digits + ByteLevel
 *   pre-tokenizer sequence does).
 */
#include <stdlib.h>
#include "tok_internal.h"
#include "../checked.h"
#include "../error.h"

typedef struct { const uint32_t *c; int n; } cps;

static int is_l(uint32_t c) { return atn_unicode_class(c) == 1; }
static int is_n(uint32_t c) { return atn_unicode_class(c) == 2; }
static int is_s(uint32_t c) { return atn_unicode_is_space(c); }
static int is_o(uint32_t c) { return !is_s(c) && atn_unicode_class(c) == 0; } /* [^\s\p{L}\p{N}] */
static int is_nl(uint32_t c) { return c == '\r' || c == '\n'; }
static uint32_t lower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* 's 't 're 've 'm 'll 'd; returns the end or -1 */
static int contraction(const uint32_t *c, int i, int n, int icase) {
    if (c[i] != '\'' || i + 1 >= n) return -1;
    uint32_t x = icase ? lower(c[i + 1]) : c[i + 1];
    if (x == 's' || x == 't' || x == 'm' || x == 'd') return i + 2;
    if (i + 2 < n) {
        uint32_t y = icase ? lower(c[i + 2]) : c[i + 2];
        if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l')) return i + 3;
    }
    return -1;
}

static int run_of(const uint32_t *c, int i, int n, int (*cls)(uint32_t)) {
    while (i < n && cls(c[i])) i++;
    return i;
}

/* \s+(?!\S) then \s+, at a whitespace character */
static int spaces(const uint32_t *c, int i, int n) {
    int k = run_of(c, i, n, is_s);
    if (k == n) return k;
    if (k - i >= 2) return k - 1;   /* leave the last one to the next piece */
    return k;
}

static int match_gpt2(const uint32_t *c, int i, int n) {
    int e = contraction(c, i, n, 0);
    if (e >= 0) return e;
    int sp = c[i] == ' ' && i + 1 < n;
    if (sp && is_l(c[i + 1])) return run_of(c, i + 1, n, is_l);
    if (is_l(c[i])) return run_of(c, i, n, is_l);
    if (sp && is_n(c[i + 1])) return run_of(c, i + 1, n, is_n);
    if (is_n(c[i])) return run_of(c, i, n, is_n);
    if (sp && is_o(c[i + 1])) return run_of(c, i + 1, n, is_o);
    if (is_o(c[i])) return run_of(c, i, n, is_o);
    if (is_s(c[i])) return spaces(c, i, n);
    return i + 1;
}

static int match_llama3(const uint32_t *c, int i, int n, int max_digits) {
    int e = contraction(c, i, n, 1);
    if (e >= 0) return e;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (is_l(c[i])) return run_of(c, i, n, is_l);
    if (!is_n(c[i]) && !is_nl(c[i]) && i + 1 < n && is_l(c[i + 1])) return run_of(c, i + 1, n, is_l);
    /* \p{N}{1,max} */
    if (is_n(c[i])) {
        int k = i;
        while (k < n && k - i < max_digits && is_n(c[k])) k++;
        return k;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    int j = -1;
    if (c[i] == ' ' && i + 1 < n && is_o(c[i + 1])) j = i + 1;
    else if (is_o(c[i])) j = i;
    if (j >= 0) {
        int k = run_of(c, j, n, is_o);
        return run_of(c, k, n, is_nl);
    }
    if (is_s(c[i])) {
        /* \s*[\r\n]+ : up to the last newline of the whitespace run */
        int k = run_of(c, i, n, is_s), last = -1;
        for (int q = i; q < k; q++) if (is_nl(c[q])) last = q;
        if (last >= 0) return last + 1;
        return spaces(c, i, n);
    }
    return i + 1;
}

static int split(int pre, const char *text, const uint32_t *c, const size_t *off, int a, int b,
                 atn_pretok_fn fn, void *ctx) {
    /* match on [a, b): the piece boundaries see only this span */
    const uint32_t *cc = c + a;
    int n = b - a;
    for (int i = 0; i < n;) {
        int e;
        switch (pre) {
        case ATN_PRE_LLAMA3: e = match_llama3(cc, i, n, 3); break;
        case ATN_PRE_QWEN2: e = match_llama3(cc, i, n, 1); break;
        default: e = match_gpt2(cc, i, n); break;
        }
        if (e <= i) e = i + 1;
        if (fn(ctx, text + off[a + i], off[a + e] - off[a + i]) < 0) return -1;
        i = e;
    }
    return 0;
}

int atn_pretokenize(int pre, const char *text, size_t len, atn_pretok_fn fn, void *ctx) {
    if (len == 0) return 0;
    uint32_t *c = atn_malloc_array(len, sizeof *c);
    size_t *off = atn_malloc_array(atn_add_size(len, 1), sizeof *off);
    if (!c || !off) { free(c); free(off); return atn_error("tokenize: out of memory"); }
    int n = 0;
    for (size_t i = 0; i < len;) {
        off[n] = i;
        i += (size_t)atn_utf8_decode(text + i, len - i, &c[n]);
        n++;
    }
    off[n] = len;
    int rc = 0;
    if (pre == ATN_PRE_SMOLLM) {
        for (int i = 0; i < n && rc == 0;) {
            if (is_n(c[i])) { rc = fn(ctx, text + off[i], off[i + 1] - off[i]); i++; continue; }
            int j = i;
            while (j < n && !is_n(c[j])) j++;
            rc = split(ATN_PRE_GPT2, text, c, off, i, j, fn, ctx);
            i = j;
        }
    } else {
        rc = split(pre, text, c, off, 0, n, fn, ctx);
    }
    free(c); free(off);
    return rc < 0 ? -1 : 0;
}
