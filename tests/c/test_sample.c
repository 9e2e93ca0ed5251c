/* test_sample.c — the sampler on hand-made logits: greedy = argmax, top-k 1
 * = greedy, seeded reproducibility, the top-k / top-p / min-p masks, the
 * repetition penalty, the frequencies of plain sampling, and bad input.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "atento.h"
#include "sample.h"
#include "test_util.h"



static atn_sampler *mk(float temp, int top_k, float top_p, float min_p, float rep, uint64_t seed) {
    atn_sampler_params p;
    atn_sampler_defaults(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = rep;
    p.seed = seed;
    return atn_sampler_new(&p);
}

/* probabilities 0.5, 0.3, 0.15, 0.05 at ids 3, 1, 0, 2 (logits = log p) */
static float L4[4];
static void init_l4(void) {
    L4[3] = logf(0.5f);
    L4[1] = logf(0.3f);
    L4[0] = logf(0.15f);
    L4[2] = logf(0.05f);
}

static void counts(atn_sampler *s, const float *lg, int n, int draws, int *c) {
    memset(c, 0, (size_t)n * sizeof(int));
    for (int i = 0; i < draws; i++) {
        int32_t t = atn_sample(s, lg, n);
        if (t >= 0 && t < n) c[t]++;
    }
}

int main(void) {
    init_l4();
    int c[8];

    /* greedy */
    atn_sampler *g = mk(0, 0, 1, 0, 1, 1);
    CHECK(atn_sample(g, L4, 4) == 3, "argmax");
    float tie[3] = {1, 5, 5};
    CHECK(atn_sample(g, tie, 3) == 1, "ties go to the lowest id");
    float nan_l[3] = {NAN, 1, 0};
    CHECK(atn_sample(g, nan_l, 3) == 1, "NaN is -inf");
    atn_sampler_free(g);
    g = mk(1.5f, 1, 1, 0, 1, 99);
    int ok = 1;
    for (int i = 0; i < 100; i++) ok &= atn_sample(g, L4, 4) == 3;
    CHECK(ok, "top-k 1 is greedy");
    atn_sampler_free(g);

    /* plain temperature 1: frequencies follow the probabilities */
    atn_sampler *s = mk(1, 0, 1, 0, 1, 42);
    counts(s, L4, 4, 20000, c);
    CHECK(fabs(c[3] / 20000.0 - 0.5) < 0.02 && fabs(c[1] / 20000.0 - 0.3) < 0.02 && fabs(c[0] / 20000.0 - 0.15) < 0.015 &&
              fabs(c[2] / 20000.0 - 0.05) < 0.01,
          "frequencies %d %d %d %d", c[0], c[1], c[2], c[3]);
    atn_sampler_free(s);

    /* seeded reproducibility, and different seeds differ */
    atn_sampler *a = mk(1, 0, 1, 0, 1, 7), *b = mk(1, 0, 1, 0, 1, 7), *d = mk(1, 0, 1, 0, 1, 8);
    int same = 1, diff = 0;
    for (int i = 0; i < 200; i++) {
        int32_t x = atn_sample(a, L4, 4), y = atn_sample(b, L4, 4), z = atn_sample(d, L4, 4);
        same &= x == y;
        diff |= x != z;
    }
    CHECK(same && diff, "seeds: same %d, differ %d", same, diff);
    atn_sampler_free(a);
    atn_sampler_free(b);
    atn_sampler_free(d);
    atn_rng r1;
    atn_rng_seed(&r1, 0);
    uint64_t first = atn_rng_next(&r1);
    atn_rng_seed(&r1, 0);
    CHECK(atn_rng_next(&r1) == first, "rng reproducible");

    /* top-k 2: only ids 3 and 1, in ratio 5:3 */
    s = mk(1, 2, 1, 0, 1, 5);
    counts(s, L4, 4, 8000, c);
    CHECK(c[0] == 0 && c[2] == 0 && fabs(c[3] / 8000.0 - 0.625) < 0.03, "top-k: %d %d %d %d", c[0], c[1], c[2], c[3]);
    atn_sampler_free(s);

    /* top-p 0.7: the smallest set reaching 0.7 is {3, 1} (0.5 + 0.3) */
    s = mk(1, 0, 0.7f, 0, 1, 5);
    counts(s, L4, 4, 8000, c);
    CHECK(c[0] == 0 && c[2] == 0 && c[1] > 0 && c[3] > 0, "top-p 0.7: %d %d %d %d", c[0], c[1], c[2], c[3]);
    atn_sampler_free(s);
    s = mk(1, 0, 0.5f, 0, 1, 5);
    counts(s, L4, 4, 1000, c);
    CHECK(c[3] == 1000, "top-p 0.5 keeps only the top token: %d", c[3]);
    atn_sampler_free(s);
    s = mk(1, 0, 0.9f, 0, 1, 5);
    counts(s, L4, 4, 8000, c);
    CHECK(c[2] == 0 && c[0] > 0, "top-p 0.9: {3,1,0}: %d %d %d %d", c[0], c[1], c[2], c[3]);
    atn_sampler_free(s);

    /* min-p 0.4: keep p >= 0.2 -> {3, 1}; min-p 0.25: keep p >= 0.125 -> {3, 1, 0} */
    s = mk(1, 0, 1, 0.4f, 1, 5);
    counts(s, L4, 4, 8000, c);
    CHECK(c[0] == 0 && c[2] == 0 && c[1] > 0, "min-p 0.4: %d %d %d %d", c[0], c[1], c[2], c[3]);
    atn_sampler_free(s);
    s = mk(1, 0, 1, 0.25f, 1, 5);
    counts(s, L4, 4, 8000, c);
    CHECK(c[2] == 0 && c[0] > 0, "min-p 0.25: %d %d %d %d", c[0], c[1], c[2], c[3]);
    atn_sampler_free(s);

    /* low temperature sharpens: T = 0.1 picks the top almost always */
    s = mk(0.1f, 0, 1, 0, 1, 5);
    counts(s, L4, 4, 2000, c);
    CHECK(c[3] > 1960, "T=0.1: %d (expected ~1988)", c[3]);
    atn_sampler_free(s);

    /* repetition penalty: id 3 (logit log .5 < 0) multiplied by 10 -> id 1 wins greedily */
    s = mk(0, 0, 1, 0, 10, 5);
    atn_sampler_accept(s, 3);
    atn_sampler_accept(s, 3); /* counted once */
    CHECK(atn_sample(s, L4, 4) == 1, "penalty");
    float pos[3] = {4, 3.9f, 0};
    atn_sampler_free(s);
    s = mk(0, 0, 1, 0, 1.1f, 5);
    atn_sampler_accept(s, 0);
    CHECK(atn_sample(s, pos, 3) == 1, "positive logit divided: 4/1.1 < 3.9");
    atn_sampler_accept(s, 50); /* beyond this vocabulary: ignored */
    CHECK(atn_sample(s, pos, 3) == 1, "out-of-vocab history ignored");
    atn_sampler_free(s);
    /* the window: only the last repeat_last_n tokens count */
    atn_sampler_params p;
    atn_sampler_defaults(&p);
    p.temperature = 0;
    p.repeat_penalty = 10;
    p.repeat_last_n = 2;
    s = atn_sampler_new(&p);
    atn_sampler_accept(s, 3);
    atn_sampler_accept(s, 0);
    atn_sampler_accept(s, 2);
    CHECK(atn_sample(s, L4, 4) == 3, "id 3 left the window");
    atn_sampler_free(s);

    /* all -inf but one */
    float one[4] = {-INFINITY, -INFINITY, 2, -INFINITY};
    s = mk(1, 0, 0.9f, 0.1f, 1, 5);
    CHECK(atn_sample(s, one, 4) == 2, "single finite logit");
    float none[2] = {-INFINITY, -INFINITY};
    int32_t t = atn_sample(s, none, 2);
    CHECK(t == 0, "all -inf: id 0 (%d)", t);
    /* a large vocabulary, top-k 40 + top-p + min-p together stay within the top 40 */
    static float big[50000];
    for (int i = 0; i < 50000; i++) big[i] = (float)((i * 7919) % 50000) / 5000.0f;
    atn_sampler_free(s);
    s = mk(0.8f, 40, 0.95f, 0.05f, 1, 5);
    int within = 1;
    for (int i = 0; i < 200; i++) {
        int32_t x = atn_sample(s, big, 50000);
        atn_sampler_accept(s, x);
        within &= x >= 0 && big[x] >= 9.99f - 40 * 0.0002f - 1e-3f;
    }
    CHECK(within, "top-k 40 on 50000");

    /* bad input */
    CHECK(atn_sample(s, NULL, 4) < 0 && atn_sample(s, L4, 0) < 0 && atn_sample(NULL, L4, 4) < 0, "bad args");
    atn_sampler_free(s);
    atn_sampler_defaults(&p);
    p.repeat_penalty = 0;
    CHECK(atn_sampler_new(&p) == NULL, "penalty 0");
    atn_sampler_defaults(&p);
    p.repeat_last_n = -1;
    CHECK(atn_sampler_new(&p) == NULL, "negative window");
    atn_sampler_defaults(&p);
    p.temperature = NAN;
    CHECK(atn_sampler_new(&p) == NULL && strlen(atn_last_error()) > 0, "NaN temperature");
    s = atn_sampler_new(NULL);
    CHECK(s != NULL, "defaults");
    atn_sampler_accept(NULL, 1);
    atn_sampler_accept(s, -4);
    atn_sampler_free(s);
    atn_sampler_free(NULL);

    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
