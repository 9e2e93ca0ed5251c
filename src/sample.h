/* sample.h — the sampler behind atn_sampler (atento.h) and its RNG.
 *
 * Order of the steps in atn_sample: repetition penalty (each distinct id of
 * the last repeat_last_n accepted tokens: a positive logit is divided by the
 * penalty, a negative one multiplied) → greedy argmax if temperature <= 0 →
 * logits / temperature → top-k → min-p (tokens below min_p times the top
 * probability are dropped) → top-p (the smallest set of most likely tokens
 * whose probability reaches top_p of what is left) → one draw.
 * top_k == 1 is greedy.
 * Ties in the argmax go to the lowest id. NaN logits count as -infinity.
 */
#ifndef ATN_SAMPLE_H
#define ATN_SAMPLE_H

#include <stdint.h>
#include "atento.h"

/* xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every platform (native and WASM). */
typedef struct { uint64_t s[4]; } atn_rng;
void atn_rng_seed(atn_rng *r, uint64_t seed);
uint64_t atn_rng_next(atn_rng *r);
float atn_rng_uniform(atn_rng *r); /* [0, 1), 24 random bits */

struct atn_sampler {
    atn_sampler_params p;
    atn_rng rng;
    int32_t *hist;      /* ring of the last repeat_last_n accepted ids */
    int hist_n, hist_pos;
    float *buf;         /* n_vocab working logits */
    int32_t *idx;       /* n_vocab candidate ids */
    int cap;            /* size of buf / idx */
};

#endif
