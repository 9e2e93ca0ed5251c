/* quant.c — half-precision conversions and the scalar reference
 * (de)quantizers for every block format in quant.h.
 *
 * Everything here is plain C with no hardware assumptions (no F16C, no
 * float16 type): these functions are the oracles the SIMD kernels and the
 * GGUF tools are tested against, so they favour clarity over speed.
 *
 * Layout facts (see also docs/conventions.md):
 *  - q4_0/q4_1/q5_0/q5_1: 32 values; value j < 16 is the low nibble of qs[j],
 *    value j + 16 the high nibble of qs[j]. For q5, bit j of the 32-bit
 *    little-endian qh is the fifth bit of value j.
 *  - q4_K/q5_K: 256 values as 8 sub-blocks of 32, each with a 6-bit scale and
 *    a 6-bit min packed into scales[12] (see get_scale_min). Chunk c (64
 *    values) uses qs[32c .. 32c+31]: low nibbles are sub-block 2c, high
 *    nibbles sub-block 2c+1. q5_K's fifth bit of value 64c + l is bit 2c of
 *    qh[l], of value 64c + 32 + l bit 2c+1 of qh[l].
 *  - q6_K: 256 values as 16 sub-blocks of 16 (signed 8-bit scale each), six
 *    bits per value split into ql (low 4) and qh (high 2); see q6k_index.
 */
#include <math.h>
#include <string.h>
#include "quant.h"

/* ---- half precision ---------------------------------------------------- */

static inline uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float atn_f16_to_f32(atn_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in f32 */
        float v = (float)mant * (1.0f / 16777216.0f);
        return bits_f32(f32_bits(v) | sign);
    }
    if (exp == 31) /* inf or nan; keep the payload (quiet bit included) */
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

atn_f16 atn_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) /* nan: stay a (quiet) nan, keep top payload bits */
        return (atn_f16)(sign | 0x7e00 | ((u >> 13) & 0x3ff));
    if (u >= 0x477ff000u) /* >= 65520 rounds to infinity (inf included) */
        return (atn_f16)(sign | 0x7c00);
    if (u < 0x38800000u) {
        /* below the smallest normal half (2^-14): a subnormal half or zero.
         * value = m * 2^(e-150); in units of 2^-24 that is m >> (126 - e). */
        uint32_t e = u >> 23;
        if (e < 102) return sign; /* < 2^-25: rounds to zero */
        uint32_t m = (u & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14 .. 24 */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (atn_f16)(sign | q); /* q may reach 0x400: the smallest normal */
    }
    uint32_t r = ((u >> 23) - 112) << 10 | ((u >> 13) & 0x3ff);
    uint32_t rem = u & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++; /* carry may bump the exponent */
    return (atn_f16)(sign | r);
}

float atn_bf16_to_f32(atn_bf16 h) { return bits_f32((uint32_t)h << 16); }

atn_bf16 atn_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (atn_bf16)((u >> 16) | 0x40); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1); /* round to nearest even; overflow gives inf */
    return (atn_bf16)(u >> 16);
}

/* ---- shared helpers ------------------------------------------------------ */

#define F16(x) atn_f16_to_f32(x)

static inline int nearest_int(float x) { return (int)lrintf(x); }

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The 6-bit scale and min of sub-block j (0..7) of a q4_K/q5_K block. */
static inline void get_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static void put_scale_min(const int sc[8], const int m[8], uint8_t *q) {
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 0xf) | ((m[j + 4] & 0xf) << 4));
    }
}

/* ---- dequantization -------------------------------------------------------- */

static void deq_q4_0(const atn_block_q4_0 *b, float *y) {
    float d = F16(b->d);
    for (int j = 0; j < 16; j++) {
        y[j] = d * ((b->qs[j] & 0xf) - 8);
        y[j + 16] = d * ((b->qs[j] >> 4) - 8);
    }
}

static void deq_q4_1(const atn_block_q4_1 *b, float *y) {
    float d = F16(b->d), m = F16(b->m);
    for (int j = 0; j < 16; j++) {
        y[j] = d * (b->qs[j] & 0xf) + m;
        y[j + 16] = d * (b->qs[j] >> 4) + m;
    }
}

static inline uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void deq_q5_0(const atn_block_q5_0 *b, float *y) {
    float d = F16(b->d);
    uint32_t qh = load_u32le(b->qh);
    for (int j = 0; j < 16; j++) {
        int lo = (b->qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * (lo - 16);
        y[j + 16] = d * (hi - 16);
    }
}

static void deq_q5_1(const atn_block_q5_1 *b, float *y) {
    float d = F16(b->d), m = F16(b->m);
    uint32_t qh = load_u32le(b->qh);
    for (int j = 0; j < 16; j++) {
        int lo = (b->qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        int hi = (b->qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
        y[j] = d * lo + m;
        y[j + 16] = d * hi + m;
    }
}

static void deq_q8_0(const atn_block_q8_0 *b, float *y) {
    float d = F16(b->d);
    for (int j = 0; j < 32; j++) y[j] = d * b->qs[j];
}

static void deq_q4_K(const atn_block_q4_K *b, float *y) {
    float d = F16(b->d), dmin = F16(b->dmin);
    for (int c = 0; c < 4; c++) {
        int sc0, m0, sc1, m1;
        get_scale_min(2 * c, b->scales, &sc0, &m0);
        get_scale_min(2 * c + 1, b->scales, &sc1, &m1);
        const uint8_t *q = b->qs + 32 * c;
        for (int l = 0; l < 32; l++) {
            y[64 * c + l] = d * sc0 * (q[l] & 0xf) - dmin * m0;
            y[64 * c + 32 + l] = d * sc1 * (q[l] >> 4) - dmin * m1;
        }
    }
}

static void deq_q5_K(const atn_block_q5_K *b, float *y) {
    float d = F16(b->d), dmin = F16(b->dmin);
    for (int c = 0; c < 4; c++) {
        int sc0, m0, sc1, m1;
        get_scale_min(2 * c, b->scales, &sc0, &m0);
        get_scale_min(2 * c + 1, b->scales, &sc1, &m1);
        const uint8_t *q = b->qs + 32 * c;
        for (int l = 0; l < 32; l++) {
            int lo = (q[l] & 0xf) | ((b->qh[l] >> (2 * c)) & 1) << 4;
            int hi = (q[l] >> 4) | ((b->qh[l] >> (2 * c + 1)) & 1) << 4;
            y[64 * c + l] = d * sc0 * lo - dmin * m0;
            y[64 * c + 32 + l] = d * sc1 * hi - dmin * m1;
        }
    }
}

/* q6_K: value v (0..255) lives in half h = v / 128; within it, with
 * l = v % 32 and k = (v % 128) / 32:
 *   low 4 bits:  ql[64h + l + 32 (k & 1)], low nibble if k < 2 else high
 *   high 2 bits: qh[32h + l] >> (2k)
 * and its scale is scales[v / 16]. */
static void deq_q6_K(const atn_block_q6_K *b, float *y) {
    float d = F16(b->d);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        float *yy = y + 128 * h;
        const int8_t *sc = b->scales + 8 * h;
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32;
            int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32;
            int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            yy[l] = d * sc[is] * q1;
            yy[l + 32] = d * sc[is + 2] * q2;
            yy[l + 64] = d * sc[is + 4] * q3;
            yy[l + 96] = d * sc[is + 6] * q4;
        }
    }
}

void atn_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    int bs = atn_type_block_size(type);
    if (bs == 0 || n % bs != 0) return;
    int64_t nb = n / bs;
    switch (type) {
    case ATN_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ATN_TYPE_F16: {
        const atn_f16 *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = atn_f16_to_f32(s[i]);
    } break;
    case ATN_TYPE_BF16: {
        const atn_bf16 *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = atn_bf16_to_f32(s[i]);
    } break;
    case ATN_TYPE_Q4_0: for (int64_t i = 0; i < nb; i++) deq_q4_0((const atn_block_q4_0 *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q4_1: for (int64_t i = 0; i < nb; i++) deq_q4_1((const atn_block_q4_1 *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q5_0: for (int64_t i = 0; i < nb; i++) deq_q5_0((const atn_block_q5_0 *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q5_1: for (int64_t i = 0; i < nb; i++) deq_q5_1((const atn_block_q5_1 *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q8_0: for (int64_t i = 0; i < nb; i++) deq_q8_0((const atn_block_q8_0 *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q4_K: for (int64_t i = 0; i < nb; i++) deq_q4_K((const atn_block_q4_K *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q5_K: for (int64_t i = 0; i < nb; i++) deq_q5_K((const atn_block_q5_K *)src + i, dst + i * bs); break;
    case ATN_TYPE_Q6_K: for (int64_t i = 0; i < nb; i++) deq_q6_K((const atn_block_q6_K *)src + i, dst + i * bs); break;
    default: break;
    }
}

/* ---- quantization ---------------------------------------------------------- */

/* The value of largest magnitude, with its sign. */
static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        if (a > amax) { amax = a; max = x[j]; }
    }
    return max;
}

static void quant_q4_0(const float *x, atn_block_q4_0 *b) {
    /* d = max / -8 maps the largest-magnitude value to level 0 exactly and
     * uses the asymmetric range [-8, 7] fully (ggml's choice). */
    float d = signed_absmax(x, 32) / -8.0f;
    b->d = atn_f32_to_f16(d);
    float dq = F16(b->d);
    float id = dq != 0 ? 1.0f / dq : 0.0f;
    for (int j = 0; j < 16; j++) {
        int lo = clampi(nearest_int(x[j] * id) + 8, 0, 15);
        int hi = clampi(nearest_int(x[j + 16] * id) + 8, 0, 15);
        b->qs[j] = (uint8_t)(lo | hi << 4);
    }
}

static void quant_q5_0(const float *x, atn_block_q5_0 *b) {
    float d = signed_absmax(x, 32) / -16.0f;
    b->d = atn_f32_to_f16(d);
    float dq = F16(b->d);
    float id = dq != 0 ? 1.0f / dq : 0.0f;
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        int lo = clampi(nearest_int(x[j] * id) + 16, 0, 31);
        int hi = clampi(nearest_int(x[j + 16] * id) + 16, 0, 31);
        b->qs[j] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
        qh |= (uint32_t)(lo >> 4) << j | (uint32_t)(hi >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++) b->qh[k] = (uint8_t)(qh >> (8 * k));
}

static void minmax(const float *x, int n, float *mn, float *mx) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* q4_1 / q5_1: x = d * q + m with q in [0, levels]. */
static void quant_affine32(const float *x, int levels, atn_f16 *dd, atn_f16 *mm, int q[32]) {
    float mn, mx;
    minmax(x, 32, &mn, &mx);
    *dd = atn_f32_to_f16((mx - mn) / levels);
    *mm = atn_f32_to_f16(mn);
    float d = F16(*dd), m = F16(*mm);
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) q[j] = clampi(nearest_int((x[j] - m) * id), 0, levels);
}

static void quant_q4_1(const float *x, atn_block_q4_1 *b) {
    int q[32];
    quant_affine32(x, 15, &b->d, &b->m, q);
    for (int j = 0; j < 16; j++) b->qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
}

static void quant_q5_1(const float *x, atn_block_q5_1 *b) {
    int q[32];
    quant_affine32(x, 31, &b->d, &b->m, q);
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        b->qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++) b->qh[k] = (uint8_t)(qh >> (8 * k));
}

static void quant_q8_0(const float *x, atn_block_q8_0 *b) {
    float amax = fabsf(signed_absmax(x, 32));
    b->d = atn_f32_to_f16(amax / 127.0f);
    float d = F16(b->d);
    float id = d != 0 ? 1.0f / d : 0.0f;
    for (int j = 0; j < 32; j++) b->qs[j] = (int8_t)clampi(nearest_int(x[j] * id), -127, 127);
}

/* Squared error of quantizing x[0..n) as scale * q - min with q in
 * [0, levels], writing the levels to q. */
static float affine_err(const float *x, int n, int levels, float scale, float min, int *q) {
    float err = 0;
    float is = scale > 0 ? 1.0f / scale : 0.0f;
    for (int j = 0; j < n; j++) {
        int v = scale > 0 ? clampi(nearest_int((x[j] + min) * is), 0, levels) : 0;
        if (q) q[j] = v;
        float e = scale * v - min - x[j];
        err += e * e;
    }
    return err;
}

/* q4_K / q5_K. Per sub-block of 32: a scale s >= 0 and a min m >= 0 with
 * x ~ s * q - m. The min starts at -min(x, 0); a short search over shrunken
 * ranges picks the pair with the least squared error. Then the eight scales
 * and mins are themselves quantized to 6 bits against d and dmin, and the
 * levels recomputed with the quantized values. */
static void quant_kq(const float *x, int levels, atn_f16 *dd, atn_f16 *ddmin, uint8_t scales[12], uint8_t q[256]) {
    float s[8], m[8];
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float mn, mx;
        minmax(xs, 32, &mn, &mx);
        if (mn > 0) mn = 0;
        float best_s = (mx - mn) / levels, best_m = -mn;
        float best = affine_err(xs, 32, levels, best_s, best_m, NULL);
        for (int step = 1; step <= 8; step++) {
            /* shrink the range from either end a little */
            float shrink = 1.0f - 0.025f * step;
            float cand_m[2] = {-mn * shrink, -mn};
            float cand_hi[2] = {mx, mx * shrink};
            for (int c = 0; c < 2; c++) {
                float cs = (cand_hi[c] + cand_m[c]) / levels;
                float e = affine_err(xs, 32, levels, cs, cand_m[c], NULL);
                if (e < best) { best = e; best_s = cs; best_m = cand_m[c]; }
            }
        }
        s[j] = best_s;
        m[j] = best_m;
    }
    float smax = 0, mmax = 0;
    for (int j = 0; j < 8; j++) {
        if (s[j] > smax) smax = s[j];
        if (m[j] > mmax) mmax = m[j];
    }
    *dd = atn_f32_to_f16(smax / 63.0f);
    *ddmin = atn_f32_to_f16(mmax / 63.0f);
    float d = F16(*dd), dmin = F16(*ddmin);
    int isc[8], imn[8];
    for (int j = 0; j < 8; j++) {
        isc[j] = d > 0 ? clampi(nearest_int(s[j] / d), 0, 63) : 0;
        imn[j] = dmin > 0 ? clampi(nearest_int(m[j] / dmin), 0, 63) : 0;
    }
    put_scale_min(isc, imn, scales);
    for (int j = 0; j < 8; j++) {
        int qq[32];
        affine_err(x + 32 * j, 32, levels, d * isc[j], dmin * imn[j], qq);
        for (int l = 0; l < 32; l++) q[32 * j + l] = (uint8_t)qq[l];
    }
}

static void quant_q4_K(const float *x, atn_block_q4_K *b) {
    uint8_t q[256];
    quant_kq(x, 15, &b->d, &b->dmin, b->scales, q);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * c + l] = (uint8_t)(q[64 * c + l] | q[64 * c + 32 + l] << 4);
}

static void quant_q5_K(const float *x, atn_block_q5_K *b) {
    uint8_t q[256];
    quant_kq(x, 31, &b->d, &b->dmin, b->scales, q);
    memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
            b->qs[32 * c + l] = (uint8_t)((lo & 0xf) | (hi & 0xf) << 4);
            b->qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
        }
}

static void quant_q6_K(const float *x, atn_block_q6_K *b) {
    /* Per sub-block of 16, a signed scale s = max / -32 (the largest
     * magnitude maps to level -32); then the scales are quantized to int8
     * against d, the largest |s| mapping to 127. */
    float s[16], smax = 0;
    for (int i = 0; i < 16; i++) {
        s[i] = signed_absmax(x + 16 * i, 16) / -32.0f;
        if (fabsf(s[i]) > smax) smax = fabsf(s[i]);
    }
    b->d = atn_f32_to_f16(smax / 127.0f);
    float d = F16(b->d);
    uint8_t q[256];
    for (int i = 0; i < 16; i++) {
        int sc = d > 0 ? clampi(nearest_int(s[i] / d), -127, 127) : 0;
        b->scales[i] = (int8_t)sc;
        float step = d * sc;
        float is = step != 0 ? 1.0f / step : 0.0f;
        for (int l = 0; l < 16; l++)
            q[16 * i + l] = (uint8_t)(clampi(nearest_int(x[16 * i + l] * is), -32, 31) + 32);
    }
    for (int h = 0; h < 2; h++) {
        uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        const uint8_t *qq = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            int q1 = qq[l], q2 = qq[l + 32], q3 = qq[l + 64], q4 = qq[l + 96];
            ql[l] = (uint8_t)((q1 & 0xf) | (q3 & 0xf) << 4);
            ql[l + 32] = (uint8_t)((q2 & 0xf) | (q4 & 0xf) << 4);
            qh[l] = (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
        }
    }
}

size_t atn_quantize_row(int type, const float *src, void *dst, int64_t n) {
    size_t bytes = atn_row_size(type, n);
    if (bytes == 0) return 0;
    int64_t nb = n / atn_type_block_size(type);
    switch (type) {
    case ATN_TYPE_F32: memcpy(dst, src, bytes); break;
    case ATN_TYPE_F16:
        for (int64_t i = 0; i < n; i++) ((atn_f16 *)dst)[i] = atn_f32_to_f16(src[i]);
        break;
    case ATN_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((atn_bf16 *)dst)[i] = atn_f32_to_bf16(src[i]);
        break;
    case ATN_TYPE_Q4_0: for (int64_t i = 0; i < nb; i++) quant_q4_0(src + 32 * i, (atn_block_q4_0 *)dst + i); break;
    case ATN_TYPE_Q4_1: for (int64_t i = 0; i < nb; i++) quant_q4_1(src + 32 * i, (atn_block_q4_1 *)dst + i); break;
    case ATN_TYPE_Q5_0: for (int64_t i = 0; i < nb; i++) quant_q5_0(src + 32 * i, (atn_block_q5_0 *)dst + i); break;
    case ATN_TYPE_Q5_1: for (int64_t i = 0; i < nb; i++) quant_q5_1(src + 32 * i, (atn_block_q5_1 *)dst + i); break;
    case ATN_TYPE_Q8_0: for (int64_t i = 0; i < nb; i++) quant_q8_0(src + 32 * i, (atn_block_q8_0 *)dst + i); break;
    case ATN_TYPE_Q4_K: for (int64_t i = 0; i < nb; i++) quant_q4_K(src + 256 * i, (atn_block_q4_K *)dst + i); break;
    case ATN_TYPE_Q5_K: for (int64_t i = 0; i < nb; i++) quant_q5_K(src + 256 * i, (atn_block_q5_K *)dst + i); break;
    case ATN_TYPE_Q6_K: for (int64_t i = 0; i < nb; i++) quant_q6_K(src + 256 * i, (atn_block_q6_K *)dst + i); break;
    default: return 0;
    }
    return bytes;
}
