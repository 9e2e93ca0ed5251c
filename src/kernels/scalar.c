/* scalar.c — the reference kernels: plain C, one weight block at a time.
 *
 * Every other implementation is tested against these. For quantized weights
 * the activations are first quantized to atn_block_q8a (32 int8 values, a
 * scale d and s = d * sum(q)), so each block's dot product is an integer sum
 * times the two scales; formats with an offset (q4_1, q5_1, q4_K, q5_K) add
 * offset * s. f32/f16/bf16 weights are dotted with the f32 activations.
 */
#include <math.h>
#include <string.h>
#include "kernels_impl.h"
#include "quant.h"

#define F16(x) atn_f16_to_f32(x)

void atn_quantize_act(const float *x, atn_block_q8a *y, int64_t n) {
    for (int64_t i = 0; i < n / 32; i++) {
        const float *xb = x + 32 * i;
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            float a = fabsf(xb[j]);
            if (a > amax) amax = a;
        }
        float d = amax / 127.0f;
        /* a block of subnormal values has 1/d = inf: it quantizes to zeros */
        float id = d > 0 && 1.0f / d < INFINITY ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)lrintf(xb[j] * id);
            y[i].qs[j] = (int8_t)q;
            sum += q;
        }
        y[i].d = d;
        y[i].s = d * (float)sum;
    }
}

/* ---- per-type dot products against quantized activations ---------------- */

static float dot_q8_0(const atn_block_q8_0 *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int j = 0; j < 32; j++) isum += w[i].qs[j] * a[i].qs[j];
        sum += F16(w[i].d) * a[i].d * (float)isum;
    }
    return sum;
}

static float dot_q4_0(const atn_block_q4_0 *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            isum += ((w[i].qs[j] & 0xf) - 8) * a[i].qs[j];
            isum += ((w[i].qs[j] >> 4) - 8) * a[i].qs[j + 16];
        }
        sum += F16(w[i].d) * a[i].d * (float)isum;
    }
    return sum;
}

static float dot_q4_1(const atn_block_q4_1 *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            isum += (w[i].qs[j] & 0xf) * a[i].qs[j];
            isum += (w[i].qs[j] >> 4) * a[i].qs[j + 16];
        }
        sum += F16(w[i].d) * a[i].d * (float)isum + F16(w[i].m) * a[i].s;
    }
    return sum;
}

static inline uint32_t load_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float dot_q5_0(const atn_block_q5_0 *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh = load_u32le(w[i].qh);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (w[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (w[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            isum += (lo - 16) * a[i].qs[j] + (hi - 16) * a[i].qs[j + 16];
        }
        sum += F16(w[i].d) * a[i].d * (float)isum;
    }
    return sum;
}

static float dot_q5_1(const atn_block_q5_1 *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++) {
        uint32_t qh = load_u32le(w[i].qh);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int lo = (w[i].qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
            int hi = (w[i].qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            isum += lo * a[i].qs[j] + hi * a[i].qs[j + 16];
        }
        sum += F16(w[i].d) * a[i].d * (float)isum + F16(w[i].m) * a[i].s;
    }
    return sum;
}

static inline void scale_min_k4(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

static float dot_q4_K(const atn_block_q4_K *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++, a += 8) {
        float d = F16(w[i].d), dmin = F16(w[i].dmin);
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = w[i].qs + 32 * c;
            const atn_block_q8a *a0 = &a[2 * c], *a1 = &a[2 * c + 1];
            int sc0, m0, sc1, m1;
            scale_min_k4(2 * c, w[i].scales, &sc0, &m0);
            scale_min_k4(2 * c + 1, w[i].scales, &sc1, &m1);
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += (q[l] & 0xf) * a0->qs[l];
                s1 += (q[l] >> 4) * a1->qs[l];
            }
            sum += d * sc0 * a0->d * (float)s0 - dmin * m0 * a0->s;
            sum += d * sc1 * a1->d * (float)s1 - dmin * m1 * a1->s;
        }
    }
    return sum;
}

static float dot_q5_K(const atn_block_q5_K *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++, a += 8) {
        float d = F16(w[i].d), dmin = F16(w[i].dmin);
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = w[i].qs + 32 * c;
            const atn_block_q8a *a0 = &a[2 * c], *a1 = &a[2 * c + 1];
            int sc0, m0, sc1, m1;
            scale_min_k4(2 * c, w[i].scales, &sc0, &m0);
            scale_min_k4(2 * c + 1, w[i].scales, &sc1, &m1);
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                int lo = (q[l] & 0xf) | ((w[i].qh[l] >> (2 * c)) & 1) << 4;
                int hi = (q[l] >> 4) | ((w[i].qh[l] >> (2 * c + 1)) & 1) << 4;
                s0 += lo * a0->qs[l];
                s1 += hi * a1->qs[l];
            }
            sum += d * sc0 * a0->d * (float)s0 - dmin * m0 * a0->s;
            sum += d * sc1 * a1->d * (float)s1 - dmin * m1 * a1->s;
        }
    }
    return sum;
}

static float dot_q6_K(const atn_block_q6_K *w, const atn_block_q8a *a, int64_t nb) {
    float sum = 0;
    for (int64_t i = 0; i < nb; i++, a += 8) {
        /* unpack the 256 six-bit levels in value order (see quant.c) */
        int8_t q[256];
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[i].ql + 64 * h, *qh = w[i].qh + 32 * h;
            int8_t *qq = q + 128 * h;
            for (int l = 0; l < 32; l++) {
                qq[l] = (int8_t)(((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32);
                qq[l + 32] = (int8_t)(((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32);
                qq[l + 64] = (int8_t)(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
                qq[l + 96] = (int8_t)(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
            }
        }
        float d = F16(w[i].d);
        for (int j = 0; j < 8; j++) {
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 16; l++) {
                s0 += q[32 * j + l] * a[j].qs[l];
                s1 += q[32 * j + 16 + l] * a[j].qs[16 + l];
            }
            sum += d * a[j].d * (float)(w[i].scales[2 * j] * s0 + w[i].scales[2 * j + 1] * s1);
        }
    }
    return sum;
}

float atn_vec_dot_q_ref(int type, const void *w, const atn_block_q8a *a, int64_t nb) {
    switch (type) {
    case ATN_TYPE_Q8_0: return dot_q8_0(w, a, nb);
    case ATN_TYPE_Q4_0: return dot_q4_0(w, a, nb);
    case ATN_TYPE_Q4_1: return dot_q4_1(w, a, nb);
    case ATN_TYPE_Q5_0: return dot_q5_0(w, a, nb);
    case ATN_TYPE_Q5_1: return dot_q5_1(w, a, nb);
    case ATN_TYPE_Q4_K: return dot_q4_K(w, a, nb);
    case ATN_TYPE_Q5_K: return dot_q5_K(w, a, nb);
    case ATN_TYPE_Q6_K: return dot_q6_K(w, a, nb);
    default: return 0;
    }
}

/* ---- dense weights ------------------------------------------------------- */

static float dot_f16(const atn_f16 *w, const float *x, int64_t n) {
    float sum = 0;
    for (int64_t j = 0; j < n; j++) sum += atn_f16_to_f32(w[j]) * x[j];
    return sum;
}

static float dot_bf16(const atn_bf16 *w, const float *x, int64_t n) {
    float sum = 0;
    for (int64_t j = 0; j < n; j++) sum += atn_bf16_to_f32(w[j]) * x[j];
    return sum;
}

static float dot_f32(const float *w, const float *x, int64_t n) {
    float sum = 0;
    for (int64_t j = 0; j < n; j++) sum += w[j] * x[j];
    return sum;
}

/* ---- matmul -------------------------------------------------------------- */

void atn_matmul_rows_ref(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1) {
    int64_t n_in = W->ne[0], n_out = W->ne[1];
    int type = W->type;
    size_t row_bytes = atn_row_size(type, n_in);
    if (row_bytes == 0 || r0 < 0 || r1 > n_out || r0 >= r1 || n_tok <= 0) {
        /* an unknown type or a bad shape (the loader rejects both) */
        for (int t = 0; t < n_tok; t++)
            for (int64_t r = r0 < 0 ? 0 : r0; r < r1 && r < n_out; r++) Y[t * n_out + r] = 0;
        return;
    }
    const uint8_t *base = W->data;
    if (type == ATN_TYPE_F32 || type == ATN_TYPE_F16 || type == ATN_TYPE_BF16) {
        for (int t = 0; t < n_tok; t++) {
            const float *x = X + (int64_t)t * n_in;
            for (int64_t r = r0; r < r1; r++) {
                const void *row = base + (size_t)r * row_bytes;
                float v = type == ATN_TYPE_F32 ? dot_f32(row, x, n_in)
                        : type == ATN_TYPE_F16 ? dot_f16(row, x, n_in)
                                               : dot_bf16(row, x, n_in);
                Y[(int64_t)t * n_out + r] = v;
            }
        }
        return;
    }
    int bs = atn_type_block_size(type);
    int64_t nb = n_in / bs;            /* weight blocks per row */
    int64_t na = n_in / 32;            /* activation blocks per token */
    size_t bb = atn_type_block_bytes(type);
    atn_block_q8a *act = atn_kernels_scratch((size_t)na * sizeof(atn_block_q8a));
    for (int t = 0; t < n_tok; t++) {
        const float *x = X + (int64_t)t * n_in;
        float *y = Y + (int64_t)t * n_out;
        if (act) {
            atn_quantize_act(x, act, n_in);
            for (int64_t r = r0; r < r1; r++) y[r] = atn_vec_dot_q_ref(type, base + (size_t)r * row_bytes, act, nb);
        } else {
            /* no scratch: quantize one weight block's activations at a time
             * (same result, just slower) */
            atn_block_q8a ab[ATN_QK_K / 32];
            for (int64_t r = r0; r < r1; r++) {
                const uint8_t *row = base + (size_t)r * row_bytes;
                float sum = 0;
                for (int64_t i = 0; i < nb; i++) {
                    atn_quantize_act(x + i * bs, ab, bs);
                    sum += atn_vec_dot_q_ref(type, row + i * bb, ab, 1);
                }
                y[r] = sum;
            }
        }
    }
}

void atn_matmul_ref(const atn_tensor *W, const float *X, int n_tok, float *Y) {
    atn_matmul_rows_ref(W, X, n_tok, Y, 0, W->ne[1]);
}

/* ---- f32 helpers ----------------------------------------------------------- */

float atn_dot_f32_ref(const float *a, const float *b, int n) {
    float sum = 0;
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

void atn_axpy_f32_ref(float a, const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

void atn_scale_f32_ref(float *x, float a, int n) {
    for (int i = 0; i < n; i++) x[i] *= a;
}

void atn_dot_rows_f32_ref(const float *a, const float *x, size_t stride, int n, int len, float *out) {
    for (int j = 0; j < n; j++) out[j] = atn_dot_f32_ref(a, x + (size_t)j * stride, len);
}

void atn_axpy_rows_f32_ref(const float *w, const float *x, size_t stride, int n, int len, float *y) {
    for (int j = 0; j < n; j++) atn_axpy_f32_ref(w[j], x + (size_t)j * stride, y, len);
}

void atn_dot_rows_f16_ref(const float *a, const uint16_t *x, size_t stride, int n, int len, float *out) {
    for (int j = 0; j < n; j++) {
        const uint16_t *r = x + (size_t)j * stride;
        float sum = 0;
        for (int i = 0; i < len; i++) sum += a[i] * atn_f16_to_f32(r[i]);
        out[j] = sum;
    }
}

void atn_axpy_rows_f16_ref(const float *w, const uint16_t *x, size_t stride, int n, int len, float *y) {
    for (int j = 0; j < n; j++) {
        const uint16_t *r = x + (size_t)j * stride;
        for (int i = 0; i < len; i++) y[i] += w[j] * atn_f16_to_f32(r[i]);
    }
}

void atn_silu_mul_f32_ref(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void atn_softmax_f32_ref(float *x, int n, float scale) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        x[i] *= scale;
        if (x[i] > mx) mx = x[i];
    }
    float sum = 0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}
