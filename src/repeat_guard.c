/* repeat_guard.c — bans the continuations that would make a translation
 * repeat itself (see repeat_guard.h). Cost per row: O(n * no_repeat_ngram)
 * for the n-gram rule and O(no_repeat_span^2) for the span rule, n = the
 * target length so far; no allocation. */
#include "repeat_guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int atn_repeat_guard_set(atn_repeat_guard *g, const atn_tokenizer *tok, int32_t eos, int no_repeat_ngram,
                         int no_repeat_span) {
    if (no_repeat_ngram < 0 || no_repeat_ngram > ATN_REPEAT_MAX)
        return atn_error("no_repeat_ngram must be 0 (off) to %d, got %d", ATN_REPEAT_MAX, no_repeat_ngram);
    if (no_repeat_span < 0 || no_repeat_span > ATN_REPEAT_MAX)
        return atn_error("no_repeat_span must be 0 (off) to %d, got %d", ATN_REPEAT_MAX, no_repeat_span);
    if (no_repeat_span && !g->word_start) {
        int V = atn_tokenizer_n_vocab(tok);
        if (V <= 0) return atn_error("repeat guard: the model has no vocabulary");
        unsigned char *ws = calloc((size_t)V, 1);
        if (!ws) return atn_error("out of memory");
        char piece[8];
        for (int32_t i = 0; i < V; i++) {
            /* only the first bytes matter: U+2581 is E2 96 81 */
            int n = atn_tokenizer_piece(tok, i, piece, (int)sizeof piece);
            ws[i] = n >= 3 && (unsigned char)piece[0] == 0xE2 && (unsigned char)piece[1] == 0x96 &&
                    (unsigned char)piece[2] == 0x81;
        }
        g->word_start = ws;
        g->n_vocab = V;
    }
    g->no_repeat_ngram = no_repeat_ngram;
    g->no_repeat_span = no_repeat_span;
    g->eos = eos;
    return 0;
}

void atn_repeat_guard_free(atn_repeat_guard *g) {
    free(g->word_start);
    g->word_start = NULL;
}

static void ban(const atn_repeat_guard *g, float *lsm, int32_t tok) {
    if (tok != g->eos && tok >= 0) lsm[tok] = -INFINITY;
}

void atn_repeat_guard_apply(const atn_repeat_guard *g, const int32_t *out, int n, float *lsm) {
    if (!g) return;
    /* n-gram rule: the last N-1 tokens, and every earlier place they occur,
     * name the token that followed there; that token is banned now */
    int N = g->no_repeat_ngram;
    if (N >= 1 && n >= N - 1) {
        const int32_t *tail = out + n - (N - 1);
        for (int i = 0; i + N - 1 < n; i++)
            if (!memcmp(out + i, tail, (size_t)(N - 1) * sizeof(int32_t))) ban(g, lsm, out[i + N - 1]);
    }
    /* span rule: a copy of the span out[n-2L+1 .. n-L] (starting a word) is
     * complete but for its last token if out[n-L+1 .. n-1] equals its first
     * L-1 tokens; that last token is banned */
    int K = g->no_repeat_span;
    if (K >= 1 && g->word_start) {
        for (int L = 1; L <= K && 2 * L - 1 <= n; L++) {
            const int32_t *first = out + n - 2 * L + 1, *second = out + n - L + 1;
            if (first[0] < 0 || first[0] >= g->n_vocab || !g->word_start[first[0]]) continue;
            if (L > 1 && memcmp(first, second, (size_t)(L - 1) * sizeof(int32_t))) continue;
            ban(g, lsm, first[L - 1]);
        }
    }
}
