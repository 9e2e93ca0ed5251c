/* repeat_guard.h — the decoding guard against repetition loops of a
 * translation ("biblioteca biblioteca.", "library library library is a
 * library."): before a token is chosen (greedy argmax or a beam's
 * candidates), the continuations that would repeat the output are banned
 * (their log-probability set to -inf). Two rules, each off at 0:
 *   no_repeat_ngram = n: no n-gram of target tokens occurs twice (Hugging
 *     Face's no_repeat_ngram_size, Marian's equivalent);
 *   no_repeat_span = k: no span of 1..k tokens that begins a word directly
 *     follows an identical copy of itself ("▁library ▁library",
 *     "▁I ▁think ▁I ▁think").
 * The end-of-sentence token is never banned, so a hypothesis can always end.
 * translate.c calls atn_repeat_guard_apply on each row of log-probabilities
 * with that row's target so far. */
#ifndef ATN_REPEAT_GUARD_H
#define ATN_REPEAT_GUARD_H

#include <stdint.h>

#include "tokenizer.h"

#define ATN_REPEAT_MAX 16 /* the largest n-gram / span either rule takes */

typedef struct {
    int no_repeat_ngram, no_repeat_span;
    int32_t eos;
    int n_vocab;
    unsigned char *word_start; /* [n_vocab]: 1 if the piece begins with U+2581 (a word start) */
} atn_repeat_guard;

/* Set the rules (each 0..ATN_REPEAT_MAX) and, the first time a span rule is
 * on, read which pieces of `tok` begin a word. Returns 0, or < 0 (atn_error). */
int atn_repeat_guard_set(atn_repeat_guard *g, const atn_tokenizer *tok, int32_t eos, int no_repeat_ngram,
                         int no_repeat_span);
void atn_repeat_guard_free(atn_repeat_guard *g);

/* Ban in lsm[n_vocab] every token that, appended to out[0..n-1], breaks a rule. */
void atn_repeat_guard_apply(const atn_repeat_guard *g, const int32_t *out, int n, float *lsm);

#endif
