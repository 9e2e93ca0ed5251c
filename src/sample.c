/* sample.c — choosing the next token from logits (see sample.h for the order
 * of the steps). The sampler owns two n_vocab buffers, grown only when a
 * bigger vocabulary shows up, so a call allocates nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "checked.h"
#include "error.h"
#include "sample.h"

/* ---- RNG ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void atn_rng_seed(atn_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t atn_rng_next(atn_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

float atn_rng_uniform(atn_rng *r) { return (float)(atn_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

/* ---- sampler ------------------------------------------------------------ */

#define MAX_LAST_N 4096

ATN_API void atn_sampler_defaults(atn_sampler_params *p) {
    if (!p) return;
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0x5EED;
}

ATN_API atn_sampler *atn_sampler_new(const atn_sampler_params *p) {
    atn_sampler_params d;
    if (!p) {
        atn_sampler_defaults(&d);
        p = &d;
    }
    if (isnan(p->temperature) || isnan(p->top_p) || isnan(p->min_p) || !isfinite(p->temperature)) {
        atn_error("sampler: temperature, top_p and min_p must be numbers");
        return NULL;
    }
    if (!(p->repeat_penalty > 0) || !isfinite(p->repeat_penalty)) {
        atn_error("sampler: repeat_penalty must be > 0 (1 = off), got %g", (double)p->repeat_penalty);
        return NULL;
    }
    if (p->repeat_last_n < 0 || p->repeat_last_n > MAX_LAST_N) {
        atn_error("sampler: repeat_last_n must be in [0, %d], got %d", MAX_LAST_N, p->repeat_last_n);
        return NULL;
    }
    atn_sampler *smp = calloc(1, sizeof *smp);
    if (!smp) { atn_error("sampler: out of memory"); return NULL; }
    smp->p = *p;
    atn_rng_seed(&smp->rng, p->seed);
    if (p->repeat_last_n > 0) {
        smp->hist = malloc((size_t)p->repeat_last_n * sizeof(int32_t));
        if (!smp->hist) { free(smp); atn_error("sampler: out of memory"); return NULL; }
    }
    return smp;
}

ATN_API void atn_sampler_free(atn_sampler *smp) {
    if (!smp) return;
    free(smp->hist);
    free(smp->buf);
    free(smp->idx);
    free(smp);
}

ATN_API void atn_sampler_accept(atn_sampler *smp, int32_t id) {
    if (!smp || smp->p.repeat_last_n <= 0 || id < 0) return;
    smp->hist[smp->hist_pos] = id;
    smp->hist_pos = (smp->hist_pos + 1) % smp->p.repeat_last_n;
    if (smp->hist_n < smp->p.repeat_last_n) smp->hist_n++;
}

static int cmp_desc(const void *a, const void *b, const float *v) {
    float x = v[*(const int32_t *)a], y = v[*(const int32_t *)b];
    if (x != y) return x > y ? -1 : 1;
    return *(const int32_t *)a < *(const int32_t *)b ? -1 : 1;
}

/* qsort has no context argument in C11: a small merge-free heapsort would
 * do, but an insertion into a sorted prefix is enough for the top-k sizes
 * used; for the full sort we use a shell sort keyed on buf. */
static void sort_desc(int32_t *idx, int n, const float *v) {
    static const int gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
    for (int g = 0; g < 9; g++) {
        int gap = gaps[g];
        for (int i = gap; i < n; i++) {
            int32_t t = idx[i];
            int j = i;
            while (j >= gap && cmp_desc(&idx[j - gap], &t, v) > 0) {
                idx[j] = idx[j - gap];
                j -= gap;
            }
            idx[j] = t;
        }
    }
}

/* Move the k largest to the front of idx (sorted), n > k. */
static void top_k_select(int32_t *idx, int n, int k, const float *v) {
    /* keep a sorted front of k; insert each later candidate if it beats the last */
    sort_desc(idx, k, v);
    for (int i = k; i < n; i++) {
        int32_t t = idx[i];
        if (cmp_desc(&t, &idx[k - 1], v) >= 0) continue;
        int j = k - 1;
        while (j > 0 && cmp_desc(&t, &idx[j - 1], v) < 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = t;
    }
}

ATN_API int32_t atn_sample(atn_sampler *smp, const float *logits, int n_vocab) {
    if (!smp) return atn_error("sample: no sampler");
    if (!logits || n_vocab <= 0) return atn_error("sample: no logits (n_vocab = %d)", n_vocab);
    int greedy = smp->p.temperature <= 0 || smp->p.top_k == 1;
    if (greedy && !(smp->p.repeat_penalty != 1.0f && smp->hist_n > 0)) {
        /* the first largest logit, NaN counted as -inf: the result of the
         * general path below, in one pass and without copying the vocabulary
         * (a serial step of every token that a second thread waits for) */
        int best = 0;
        float bv = isnan(logits[0]) ? -INFINITY : logits[0];
        for (int i = 1; i < n_vocab; i++)
            if (logits[i] > bv) bv = logits[i], best = i; /* a NaN compares false */
        return best;
    }
    if (n_vocab > smp->cap) {
        float *b = atn_realloc_array(smp->buf, (size_t)n_vocab, sizeof(float));
        if (b) smp->buf = b;
        int32_t *ix = atn_realloc_array(smp->idx, (size_t)n_vocab, sizeof(int32_t));
        if (ix) smp->idx = ix;
        if (!b || !ix) return atn_error("sample: out of memory");
        smp->cap = n_vocab;
    }
    float *v = smp->buf;
    for (int i = 0; i < n_vocab; i++) v[i] = isnan(logits[i]) ? -INFINITY : logits[i];

    /* repetition penalty, once per distinct id in the window */
    if (smp->p.repeat_penalty != 1.0f && smp->hist_n > 0) {
        int W = smp->p.repeat_last_n;
        for (int a = 0; a < smp->hist_n; a++) {
            int32_t id = smp->hist[(smp->hist_pos - 1 - a + W) % W];
            if (id >= n_vocab) continue;
            int seen = 0;
            for (int b = 0; b < a && !seen; b++) seen = smp->hist[(smp->hist_pos - 1 - b + W) % W] == id;
            if (seen) continue;
            v[id] = v[id] > 0 ? v[id] / smp->p.repeat_penalty : v[id] * smp->p.repeat_penalty;
        }
    }

    int best = 0;
    for (int i = 1; i < n_vocab; i++) if (v[i] > v[best]) best = i;
    if (smp->p.temperature <= 0 || smp->p.top_k == 1 || v[best] == -INFINITY) return best;

    /* candidates: ids with a finite logit, tempered */
    float inv_t = 1.0f / smp->p.temperature, vmax = v[best];
    int32_t *idx = smp->idx;
    int n = 0;
    for (int i = 0; i < n_vocab; i++) {
        if (v[i] == -INFINITY) continue;
        v[i] = (v[i] - vmax) * inv_t; /* <= 0, the best is 0 */
        idx[n++] = i;
    }
    int sorted = 0;
    if (smp->p.top_k > 0 && smp->p.top_k < n) {
        top_k_select(idx, n, smp->p.top_k, v);
        n = smp->p.top_k;
        sorted = 1;
    }
    /* probabilities up to a constant: exp(v) with the best at 1 */
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)v[idx[i]]);
    if (smp->p.min_p > 0) {
        /* p_i >= min_p * p_max  <=>  v_i >= log(min_p) (v_max = 0) */
        float lim = logf(smp->p.min_p);
        int m = 0;
        sum = 0;
        for (int i = 0; i < n; i++)
            if (v[idx[i]] >= lim) {
                idx[m++] = idx[i];
                sum += exp((double)v[idx[i]]);
            }
        n = m;
    }
    if (smp->p.top_p < 1.0f) {
        if (!sorted) sort_desc(idx, n, v);
        double target = (double)smp->p.top_p * sum, cum = 0;
        int m = 0;
        while (m < n) {
            cum += exp((double)v[idx[m]]);
            m++;
            if (cum >= target) break;
        }
        n = m > 0 ? m : 1;
        sum = cum;
    }
    double r = (double)atn_rng_uniform(&smp->rng) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += exp((double)v[idx[i]]);
        if (r < acc) return idx[i];
    }
    return idx[n - 1];
}
