/* simd128.c — WebAssembly SIMD128 matmul kernels (the product's hot loop).
 *
 * Built when the compiler targets wasm with -msimd128, and natively on x86
 * with SSE4.1 through wasm_sse.h (the same code, so native tests and
 * sanitizers cover it too). Tested against scalar.c by tests/c/test_kernels.c,
 * natively (ctest) and compiled to WASM (tests/wasm_ctests.sh).
 *
 * Design
 *  - Activations are quantized once per call to int8 levels, stored widened to
 *    int16 so the inner loop is loads + i32x4.dot_i16x8_s, with per-32-value
 *    scales d and s = d * sum(q) kept token-minor (ad[block][token]) so the
 *    scales of four tokens are one vector load.
 *  - Inside each block of 32 activations the values are stored in "nibble
 *    order": even values of 0..15, odd values of 0..15, even of 16..31, odd of
 *    16..31. Reading the weight bytes as 16-bit lanes, one and/shift then gives
 *    a vector of levels in exactly that order for every format (the low nibble
 *    of even bytes are values 0,2,..; of odd bytes 1,3,..; the high nibbles the
 *    second half), so no byte shuffles or widening of weights are needed.
 *  - Formats with an offset (q4_0's -8, q5_0's -16, q4_1/q5_1/K mins) apply it
 *    through s: sum(w * a) = d_w * d_a * sum(q_w * q_a) + offset * s_a.
 *  - Prefill is matrix x matrix: each weight block is decoded once and used
 *    for up to 4 tokens (a 1 row x 4 token micro-kernel); rows are processed in
 *    tiles that stay in cache while every group of 4 tokens passes over them.
 *    Decode (1 token) is the same kernel with NT = 1.
 */
#include "kernels_impl.h"
#ifdef ATN_HAVE_SIMD128

#include <math.h>
#include <string.h>
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#else
#include "wasm_sse.h" /* the native build runs the same code on SSE4.1 */
#endif
#include "quant.h"

#define INLINE static inline __attribute__((always_inline))

/* f16 -> f32 for block scales: exact for normals, subnormals and zero (the
 * magnitude bits shifted into f32 position are off by 2^112, fixed by one
 * multiply). inf/nan scales are not meaningful in a weight file and come out
 * large but finite; the scalar path (atn_f16_to_f32) handles them exactly.
 * The sign goes on without a branch (see below). */
INLINE float h2f(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    uint32_t u = (uint32_t)(h & 0x7fff) << 13;
    float f;
    memcpy(&f, &u, 4);
    f *= 0x1p112f;
    /* the sign by a bitwise or, not a branch: q4_0/q5_0 scales have random
     * signs (d = signed max / -8), and a mispredicted branch per block of 32
     * weights cost a whole-model decode 2x */
    memcpy(&u, &f, 4);
    u |= (uint32_t)(h & 0x8000) << 16;
    memcpy(&f, &u, 4);
    return f;
}

INLINE v128_t h2f_x4(v128_t h) { /* 4 f16 in the low halves of u32 lanes */
    v128_t mag = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    v128_t f = wasm_f32x4_mul(mag, wasm_f32x4_splat(0x1p112f));
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16));
}

/* Keep a constant vector in a local. WebAssembly has no constant pool and
 * LLVM re-emits v128.const at every use inside a loop, which V8 materializes
 * with 3-4 instructions each time; an empty asm makes the value opaque so it
 * is computed once before the loop. (Native x86 has constant pools: no-op.) */
#ifdef __wasm_simd128__
INLINE v128_t keep(v128_t v) {
    __asm__("" : "+r"(v));
    return v;
}
#else
#define keep(v) (v)
#endif

INLINE float hsum(v128_t v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

/* two-operand shuffles (wasm_sse.h maps only one-operand wasm_i32x4_shuffle) */
#ifdef __wasm_simd128__
#define UNPACKLO32(a, b) wasm_i32x4_shuffle(a, b, 0, 4, 1, 5)
#define UNPACKHI32(a, b) wasm_i32x4_shuffle(a, b, 2, 6, 3, 7)
#define UNPACKLO64(a, b) wasm_i64x2_shuffle(a, b, 0, 2)
#define UNPACKHI64(a, b) wasm_i64x2_shuffle(a, b, 1, 3)
#else
#define UNPACKLO32(a, b) _mm_unpacklo_epi32(a, b)
#define UNPACKHI32(a, b) _mm_unpackhi_epi32(a, b)
#define UNPACKLO64(a, b) _mm_unpacklo_epi64(a, b)
#define UNPACKHI64(a, b) _mm_unpackhi_epi64(a, b)
#endif

/* i32 lanes of a then b narrowed (saturating) to i16; the even and the odd
 * i16 lanes of a then b */
#ifdef __wasm_simd128__
#define NARROW32(a, b) wasm_i16x8_narrow_i32x4(a, b)
#define NARROW16(a, b) wasm_i8x16_narrow_i16x8(a, b)
#define EVENS16(a, b) wasm_i16x8_shuffle(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODDS16(a, b) wasm_i16x8_shuffle(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#else
#define NARROW32(a, b) _mm_packs_epi32(a, b)
#define NARROW16(a, b) _mm_packs_epi16(a, b)
#define EVENS16(a, b)                                                                        \
    _mm_unpacklo_epi64(_mm_shuffle_epi8(a, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 0, 0, 0, 0, 0, 0, 0, 0)), \
                       _mm_shuffle_epi8(b, _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 0, 0, 0, 0, 0, 0, 0, 0)))
#define ODDS16(a, b)                                                                         \
    _mm_unpacklo_epi64(_mm_shuffle_epi8(a, _mm_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0)), \
                       _mm_shuffle_epi8(b, _mm_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0)))
#endif

/* ---- activations ----------------------------------------------------------- */

typedef struct {
    const int16_t *q; /* [n_tok][n_in], nibble order inside each 32-block */
    const int8_t *q8; /* the relaxed kernels' instead: [n_tok][n_in] int8 in natural order */
    const float *d;   /* [n_in/32][ntp] */
    const float *s;   /* [n_in/32][ntp] */
    const int32_t *qsum; /* [n_in/32][ntp] the sum of each block's levels (unscaled) */
    int64_t n_in;
    int ntp;          /* n_tok rounded up to 4 (padding lanes are 0); 1 for one token */
} acts;

/* Nibble order of a 32-block, position <- value:
 *   0..7 <- 0, 2, .., 14   8..15 <- 1, 3, .., 15   16..23 <- 16, 18, .., 30   24..31 <- 17, .., 31 */

/* One block of 32 activations: its int8 levels (as 8 i32x4, within
 * [-127, 127]) and their scale, stored in lane t of d, s and qsum. */
INLINE void block_levels(const float *xb, v128_t lv[8], float *d, float *s, int32_t *qsum) {
    v128_t m = wasm_f32x4_splat(0);
    for (int j = 0; j < 32; j += 4) m = wasm_f32x4_max(m, wasm_f32x4_abs(wasm_v128_load(xb + j)));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    float amax = wasm_f32x4_extract_lane(m, 0);
    float db = amax / 127.0f;
    /* as atn_quantize_act: subnormal blocks (1/db = inf) give zeros,
     * never saturated levels whose sum overflows */
    float id = db > 0 && 1.0f / db < INFINITY ? 1.0f / db : 0.0f;
    v128_t vid = wasm_f32x4_splat(id), sum = wasm_i32x4_splat(0);
    for (int j = 0; j < 8; j++) {
        lv[j] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(xb + 4 * j), vid)));
        sum = wasm_i32x4_add(sum, lv[j]);
    }
    int isum = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) + wasm_i32x4_extract_lane(sum, 2) +
               wasm_i32x4_extract_lane(sum, 3);
    *d = db;
    *s = db * (float)isum;
    *qsum = isum;
}

/* Tokens [t0, t1) of X; each token writes only its own levels and its own
 * lane of the scales, so token ranges may be quantized by different threads.
 * The scales d are stored times d_factor: 1, or 1/256 for the kernels whose
 * weight levels come out times 256 (q4_0, q4_1: scale_nibble_slots; q8_0:
 * Q8_LEVELS); a power of two, so every product is rounded as the one of
 * unscaled levels (outside the subnormal range). s and qsum stay unscaled. */
static void quantize_acts(const float *X, int t0, int t1, int64_t n_in, int16_t *q, float *d, float *s, int32_t *qsum,
                          int ntp, float d_factor) {
    int64_t nb = n_in / 32;
    for (int t = t0; t < t1; t++) {
        const float *x = X + (int64_t)t * n_in;
        int16_t *qt = q + (int64_t)t * n_in;
        for (int64_t b = 0; b < nb; b++) {
            v128_t lv[8];
            block_levels(x + 32 * b, lv, d + b * ntp + t, s + b * ntp + t, qsum + b * ntp + t);
            d[b * ntp + t] *= d_factor;
            /* to nibble order (above): the levels are within [-127, 127],
             * so narrowing to i16 is exact */
            int16_t *qb = qt + 32 * b;
            for (int h = 0; h < 2; h++) {
                v128_t lo = NARROW32(lv[4 * h], lv[4 * h + 1]), hi = NARROW32(lv[4 * h + 2], lv[4 * h + 3]);
                wasm_v128_store(qb + 16 * h, EVENS16(lo, hi));
                wasm_v128_store(qb + 16 * h + 8, ODDS16(lo, hi));
            }
        }
    }
}

/* The relaxed kernels' activations: the same levels as quantize_acts, as
 * int8 in natural order, with d, s and qsum as there. */
static void quantize_acts_i8(const float *X, int t0, int t1, int64_t n_in, int8_t *q, float *d, float *s,
                             int32_t *qsum, int ntp) {
    int64_t nb = n_in / 32;
    for (int t = t0; t < t1; t++) {
        const float *x = X + (int64_t)t * n_in;
        int8_t *qt = q + (int64_t)t * n_in;
        for (int64_t b = 0; b < nb; b++) {
            v128_t lv[8];
            block_levels(x + 32 * b, lv, d + b * ntp + t, s + b * ntp + t, qsum + b * ntp + t);
            /* the levels are within [-127, 127]: both narrowings are exact */
            wasm_v128_store(qt + 32 * b, NARROW16(NARROW32(lv[0], lv[1]), NARROW32(lv[2], lv[3])));
            wasm_v128_store(qt + 32 * b + 16, NARROW16(NARROW32(lv[4], lv[5]), NARROW32(lv[6], lv[7])));
        }
    }
}

/* Levels for q4_0/q4_1, whose nibbles are taken by a mask alone (see
 * NIBBLES): the weight vector of nibble-order positions 8k..8k+7 comes out
 * times 1, 256, 16, 1 for k = 0..3, so the activation levels there are
 * scaled by 256, 1, 16, 256 (|127 * 256| < 2^15): every product is 256
 * times the true one, and the block scales d are divided by 256 (quantize_acts'
 * d_factor). The partial
 * sums stay below 2^24, so converting them to float is exact: the results
 * are those of unscaled levels. */
static void scale_nibble_slots(int16_t *q, int t0, int t1, int64_t n_in) {
    int64_t nb = n_in / 32;
    for (int t = t0; t < t1; t++) {
        int16_t *qt = q + (int64_t)t * n_in;
        for (int64_t b = 0; b < nb; b++) {
            int16_t *qb = qt + 32 * b;
            wasm_v128_store(qb, wasm_i16x8_shl(wasm_v128_load(qb), 8));
            wasm_v128_store(qb + 16, wasm_i16x8_shl(wasm_v128_load(qb + 16), 4));
            wasm_v128_store(qb + 24, wasm_i16x8_shl(wasm_v128_load(qb + 24), 8));
        }
    }
}

/* ---- the micro-kernel pieces ------------------------------------------------
 * Each kernel computes out[t] for NT (1..4, a compile-time constant after
 * inlining) tokens of one weight row. acc0..acc3 hold the per-token f32
 * partial sums, corr the per-token offset terms (lane t). */

#define DOT4(l0, l1, l2, l3, ap)                                                            \
    wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(l0, wasm_v128_load(ap)),              \
                                  wasm_i32x4_dot_i16x8(l1, wasm_v128_load((ap) + 8))),       \
                   wasm_i32x4_add(wasm_i32x4_dot_i16x8(l2, wasm_v128_load((ap) + 16)),       \
                                  wasm_i32x4_dot_i16x8(l3, wasm_v128_load((ap) + 24))))

#define STEP(T)                                                                              \
    if (NT > T) {                                                                            \
        const int16_t *ap = A->q + (int64_t)(t0 + T) * A->n_in + ab * 32;                    \
        acc##T = wasm_f32x4_add(acc##T, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(DOT4(l0, l1, l2, l3, ap)), \
                                                       wasm_i32x4_shuffle(ws, ws, T, T, T, T)));  \
    }

/* levels l0..l3 of act block ab, weight scale w: accumulate NT tokens */
#define ACCUMULATE(wscale)                                                                   \
    do {                                                                                     \
        v128_t ws = wasm_f32x4_mul(wasm_f32x4_splat(wscale), wasm_v128_load(A->d + ab * A->ntp + t0)); \
        STEP(0) STEP(1) STEP(2) STEP(3)                                                      \
    } while (0)

/* offset term: corr += off * s[ab][t0..t0+3] */
#define CORRECT(off) \
    corr = wasm_f32x4_add(corr, wasm_f32x4_mul(wasm_f32x4_splat(off), wasm_v128_load(A->s + ab * A->ntp + t0)))

#define KERNEL_BEGIN                                                                         \
    v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0, corr = acc0;   \
    const v128_t LO4 = keep(wasm_i16x8_splat(0x000f));                                       \
    (void)corr;                                                                              \
    (void)LO4;

#define KERNEL_END                                                                           \
    float c[4];                                                                              \
    wasm_v128_store(c, corr);                                                                \
    out[0] = hsum(acc0) + c[0];                                                              \
    if (NT > 1) out[1] = hsum(acc1) + c[1];                                                  \
    if (NT > 2) out[2] = hsum(acc2) + c[2];                                                  \
    if (NT > 3) out[3] = hsum(acc3) + c[3];


/* The four nibble vectors of 16 packed bytes, in nibble order, each by one
 * mask or shift: a 16-bit lane holds nibbles n0 | n1 << 4 | n2 << 8 | n3 << 12,
 * and l0 = n0, l1 = n2 * 256, l2 = n1 * 16, l3 = n3 (the scales are undone by
 * the activation levels, see NIBBLE_ASCALE). Shifting each nibble down took
 * six operations instead of four. */
#define NIBBLE_CONSTS                                                                        \
    const v128_t N1M = keep(wasm_i16x8_splat(0x00f0)), N2M = keep(wasm_i16x8_splat(0x0f00));
#define NIBBLES(q)                                                                           \
    v128_t l0 = wasm_v128_and(q, LO4), l1 = wasm_v128_and(q, N2M);                           \
    v128_t l2 = wasm_v128_and(q, N1M), l3 = wasm_u16x8_shr(q, 12);
/* the same, each nibble shifted down (q5_0/q5_1: their fifth bits then take
 * one constant, where scaled nibbles would need three and V8 spills) */
#define NIBBLES_SHIFTED(q)                                                                   \
    v128_t l0 = wasm_v128_and(q, LO4), l1 = wasm_v128_and(wasm_u16x8_shr(q, 8), LO4);        \
    v128_t l2 = wasm_v128_and(wasm_u16x8_shr(q, 4), LO4), l3 = wasm_u16x8_shr(q, 12);

/* ---- q4_0: one float step per block ---------------------------------------
 * Its levels carry an offset of -8, applied as an integer through the
 * activations' level sums (sum((q - 8) * a) = sum(q * a) - 8 * sum(a)), so a
 * block needs no float term besides its scale. Each step reduces four integer
 * dots to one vector (lanes: four tokens of one row in the prompt kernel,
 * four rows of one token in the decode kernel), converts it once and scales
 * it by the products of the two block scales. Every lane's float is formed by
 * the same operations in both (block_step), in block order: a token decoded
 * alone gives bit for bit what it gives inside a prompt. */

/* keep the next loop rolled (see DECODE_KERNEL) */
#ifdef __clang__
#define ROLLED _Pragma("clang loop unroll(disable)")
#else
#define ROLLED
#endif

/* the f16 at p, p + stride, p + 2 stride, p + 3 stride as f32x4 */
INLINE v128_t h2f_gather4(const uint8_t *p, size_t stride) {
    uint16_t h[4];
    for (int i = 0; i < 4; i++) memcpy(&h[i], p + i * stride, 2);
    return h2f_x4(wasm_i32x4_make(h[0], h[1], h[2], h[3]));
}

/* [sum a, sum b, sum c, sum d] of four i32x4 */
INLINE v128_t transpose_add4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t u = wasm_i32x4_add(UNPACKLO32(a, b), UNPACKHI32(a, b));
    v128_t v = wasm_i32x4_add(UNPACKLO32(c, d), UNPACKHI32(c, d));
    return wasm_i32x4_add(UNPACKLO64(u, v), UNPACKHI64(u, v));
}

/* The block scale setup and float step, lane by lane:
 * acc += float(isum - (asum << off_shift)) * (dw * da), with isum the dot of
 * the weight levels (without their offset) and the activation levels, asum
 * the activation levels' sum, dw and da the weight and activation block
 * scales. q4_0: the levels are scaled by 256 (NIBBLE_ASCALE), its offset 8,
 * so off_shift = 8 + 3. q8_0 has no offset: block_scale_step alone. */
INLINE v128_t block_scale_step(v128_t acc, v128_t isum, v128_t dw, v128_t da) {
    return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(dw, da)));
}
INLINE v128_t block_step(v128_t acc, v128_t isum, v128_t asum, int off_shift, v128_t dw, v128_t da) {
    return block_scale_step(acc, wasm_i32x4_sub(isum, wasm_i32x4_shl(asum, off_shift)), dw, da);
}
#define Q4_0_OFF_SHIFT 11

/* Store v to *slot, a store nothing reads, and return it: a point in the
 * order of memory operations that v must be computed before. V8 keeps the
 * loads in their order and computes the arithmetic as late as it can; in
 * k_q8_0 it loaded all four tokens' activations first (16 vectors beside the
 * weights) and spilled half of them. Pinned after each token's dot, the
 * loads of the next token come after it: +8-10 % q8_0 prompt speed in
 * kernels_bench (in k_q4_0, whose weights need more registers, it lost 7 %).
 * The asm, which might read *slot, keeps the store. A no-op natively. */
#ifdef __wasm_simd128__
INLINE v128_t pin_v(v128_t *slot, v128_t v) {
    wasm_v128_store(slot, v);
    __asm__ volatile("" ::"r"(slot) : "memory");
    return v;
}
#else
INLINE v128_t pin_v(v128_t *slot, v128_t v) { /* native compilers allocate registers themselves */
    (void)slot;
    return v;
}
#endif

/* prompt kernel: the integer dots of levels l0..l3 with act block ab of NT
 * tokens, one token per lane (0 in the lanes past NT) */
#define TOKEN_DOT(T) (NT > T ? DOT4(l0, l1, l2, l3, A->q + (int64_t)(t0 + T) * A->n_in + ab * 32) : wasm_i32x4_splat(0))

INLINE void k_q4_0(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    const v128_t LO4 = keep(wasm_i16x8_splat(0x000f));
    NIBBLE_CONSTS
    v128_t acc = wasm_f32x4_splat(0);
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 18;
        v128_t q = wasm_v128_load(p + 2);
        NIBBLES(q)
        acc = block_step(acc, transpose_add4(TOKEN_DOT(0), TOKEN_DOT(1), TOKEN_DOT(2), TOKEN_DOT(3)),
                         wasm_v128_load(A->qsum + ab * A->ntp + t0), Q4_0_OFF_SHIFT, wasm_f32x4_splat(h2f(p)),
                         wasm_v128_load(A->d + ab * A->ntp + t0));
    }
    float o4[4];
    wasm_v128_store(o4, acc);
    for (int t = 0; t < NT; t++) out[t] = o4[t];
}

/* q8_0: signed levels, no offset; the same step as q4_0 without the offset
 * term. Read as 16-bit lanes, the even bytes shifted up and the odd bytes
 * masked in place are the levels times 256 (one operation each, where
 * sign-extending them down takes three for the even bytes): the integer
 * dot is 256 times the true one (|256 * 32 * 128 * 127| < 2^31) and a
 * multiple of 256 below 2^32, so its conversion to float is exact; the
 * activation scales d are divided by 256 instead (quantize_acts): each
 * float product is the one of the true sum, as with q4_0's nibbles. */
#define Q8_CONST const v128_t HI8 = keep(wasm_i16x8_splat((int16_t)0xff00));
#define Q8_LEVELS(p)                                                                         \
    v128_t q0 = wasm_v128_load((p) + 2), q1 = wasm_v128_load((p) + 18);                      \
    v128_t l0 = wasm_i16x8_shl(q0, 8), l1 = wasm_v128_and(q0, HI8);                          \
    v128_t l2 = wasm_i16x8_shl(q1, 8), l3 = wasm_v128_and(q1, HI8);

INLINE void k_q8_0(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    Q8_CONST
    v128_t acc = wasm_f32x4_splat(0);
    /* running pointers: V8 turns index arithmetic into multiplies per block */
    const uint8_t *p = row;
    const int16_t *a = A->q + (int64_t)t0 * A->n_in;
    const float *ad = A->d + t0;
    const int64_t n_in = A->n_in, ntp = A->ntp;
#define Q8_TOKEN_DOT(T) (NT > T ? DOT4(l0, l1, l2, l3, a + (T) * n_in) : wasm_i32x4_splat(0))
    v128_t pin[1]; /* see pin_v */
    for (int64_t ab = 0; ab < nb; ab++, p += 34, a += 32, ad += ntp) {
        Q8_LEVELS(p)
        v128_t d0 = pin_v(pin, Q8_TOKEN_DOT(0)), d1 = pin_v(pin, Q8_TOKEN_DOT(1));
        v128_t d2 = pin_v(pin, Q8_TOKEN_DOT(2)), d3 = Q8_TOKEN_DOT(3);
        acc = block_scale_step(acc, transpose_add4(d0, d1, d2, d3), wasm_f32x4_splat(h2f(p)), wasm_v128_load(ad));
    }
#undef Q8_TOKEN_DOT
    float o4[4];
    wasm_v128_store(o4, acc);
    for (int t = 0; t < NT; t++) out[t] = o4[t];
}

INLINE void k_q4_1(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    NIBBLE_CONSTS
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 20;
        v128_t q = wasm_v128_load(p + 4);
        NIBBLES(q)
        ACCUMULATE(h2f(p));
        CORRECT(h2f(p + 2));
    }
    KERNEL_END
}

/* fifth bits of q5_0/q5_1: bit j of qh is value j. In nibble order, vector
 * l0 holds values 0,2,..,14 (bits 0,2,..), l1 1,3,..,15, l2 16,18,.., l3 17,..
 * (qh & mask) == mask gives an all-ones lane where the bit is set; & 16 adds
 * the fifth bit. The masks are kept in locals (see keep()). */
#define Q5_CONSTS                                                                            \
    const v128_t ME = keep(wasm_i16x8_make(1, 4, 16, 64, 256, 1024, 4096, 16384));           \
    const v128_t MO = keep(wasm_i16x8_make(2, 8, 32, 128, 512, 2048, 8192, (int16_t)32768));  \
    const v128_t B16 = keep(wasm_i16x8_splat(16));
#define Q5_BIT(l, h, m) l = wasm_v128_or(l, wasm_v128_and(wasm_i16x8_eq(wasm_v128_and(h, m), m), B16))
#define Q5_HIGH(qh)                                                                          \
    do {                                                                                     \
        v128_t hl = wasm_i16x8_splat((int16_t)(qh & 0xffff)), hh = wasm_i16x8_splat((int16_t)(qh >> 16)); \
        Q5_BIT(l0, hl, ME);                                                                  \
        Q5_BIT(l1, hl, MO);                                                                  \
        Q5_BIT(l2, hh, ME);                                                                  \
        Q5_BIT(l3, hh, MO);                                                                  \
    } while (0)

INLINE void k_q5_0(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    Q5_CONSTS
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 22;
        uint32_t qh;
        memcpy(&qh, p + 2, 4);
        v128_t q = wasm_v128_load(p + 6);
        NIBBLES_SHIFTED(q)
        Q5_HIGH(qh);
        float d = h2f(p);
        ACCUMULATE(d);
        CORRECT(-16.0f * d);
    }
    KERNEL_END
}

INLINE void k_q5_1(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    Q5_CONSTS
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 24;
        uint32_t qh;
        memcpy(&qh, p + 4, 4);
        v128_t q = wasm_v128_load(p + 8);
        NIBBLES_SHIFTED(q)
        Q5_HIGH(qh);
        ACCUMULATE(h2f(p));
        CORRECT(h2f(p + 2));
    }
    KERNEL_END
}

/* q4_K/q5_K: the 6-bit scales and mins of the 8 sub-blocks, times d / dmin */
INLINE void kscales(const uint8_t *p, float sc[8], float mn[8]) {
    float d = h2f(p), dmin = h2f(p + 2);
    const uint8_t *q = p + 4;
    for (int j = 0; j < 4; j++) {
        sc[j] = d * (float)(q[j] & 63);
        mn[j] = -dmin * (float)(q[j + 4] & 63);
        sc[j + 4] = d * (float)((q[j + 8] & 0xf) | ((q[j] >> 6) << 4));
        mn[j + 4] = -dmin * (float)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
    }
}

INLINE void k_q4_K(const int NT, const uint8_t *row, int64_t nbk, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 144;
        float sc[8], mn[8];
        kscales(p, sc, mn);
        const uint8_t *qs = p + 16;
        for (int c = 0; c < 4; c++) {
            v128_t qa = wasm_v128_load(qs + 32 * c), qb = wasm_v128_load(qs + 32 * c + 16);
            int64_t ab = 8 * b + 2 * c;
            {
                v128_t l0 = wasm_v128_and(qa, LO4), l1 = wasm_v128_and(wasm_u16x8_shr(qa, 8), LO4);
                v128_t l2 = wasm_v128_and(qb, LO4), l3 = wasm_v128_and(wasm_u16x8_shr(qb, 8), LO4);
                ACCUMULATE(sc[2 * c]);
                CORRECT(mn[2 * c]);
            }
            ab++;
            {
                v128_t l0 = wasm_v128_and(wasm_u16x8_shr(qa, 4), LO4), l1 = wasm_u16x8_shr(qa, 12);
                v128_t l2 = wasm_v128_and(wasm_u16x8_shr(qb, 4), LO4), l3 = wasm_u16x8_shr(qb, 12);
                ACCUMULATE(sc[2 * c + 1]);
                CORRECT(mn[2 * c + 1]);
            }
        }
    }
    KERNEL_END
}

INLINE void k_q5_K(const int NT, const uint8_t *row, int64_t nbk, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    const v128_t B4 = keep(wasm_i16x8_splat(16));
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 176;
        float sc[8], mn[8];
        kscales(p, sc, mn);
        v128_t ha = wasm_v128_load(p + 16), hb = wasm_v128_load(p + 32);
        const uint8_t *qs = p + 48;
        for (int c = 0; c < 4; c++) {
            v128_t qa = wasm_v128_load(qs + 32 * c), qb = wasm_v128_load(qs + 32 * c + 16);
            /* bit 2c of qh[l] is value l of sub-block 2c, bit 2c+1 value l of 2c+1;
             * after >> 2c: even l in bit 0 (lo) / 1 (hi), odd l in bit 8 / 9 */
            v128_t sa = wasm_u16x8_shr(ha, 2 * c), sb = wasm_u16x8_shr(hb, 2 * c);
            int64_t ab = 8 * b + 2 * c;
            {
                v128_t l0 = wasm_v128_or(wasm_v128_and(qa, LO4), wasm_v128_and(wasm_i16x8_shl(sa, 4), B4));
                v128_t l1 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qa, 8), LO4), wasm_v128_and(wasm_u16x8_shr(sa, 4), B4));
                v128_t l2 = wasm_v128_or(wasm_v128_and(qb, LO4), wasm_v128_and(wasm_i16x8_shl(sb, 4), B4));
                v128_t l3 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qb, 8), LO4), wasm_v128_and(wasm_u16x8_shr(sb, 4), B4));
                ACCUMULATE(sc[2 * c]);
                CORRECT(mn[2 * c]);
            }
            ab++;
            {
                v128_t l0 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qa, 4), LO4), wasm_v128_and(wasm_i16x8_shl(sa, 3), B4));
                v128_t l1 = wasm_v128_or(wasm_u16x8_shr(qa, 12), wasm_v128_and(wasm_u16x8_shr(sa, 5), B4));
                v128_t l2 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qb, 4), LO4), wasm_v128_and(wasm_i16x8_shl(sb, 3), B4));
                v128_t l3 = wasm_v128_or(wasm_u16x8_shr(qb, 12), wasm_v128_and(wasm_u16x8_shr(sb, 5), B4));
                ACCUMULATE(sc[2 * c + 1]);
                CORRECT(mn[2 * c + 1]);
            }
        }
    }
    KERNEL_END
}

/* q6_K: act block j (0..7) is half h = j/4, k = j%4: low 4 bits in
 * ql[64h + 32(k&1) + l] (low nibble if k < 2), high 2 bits at 2k of qh[32h + l].
 * The signed sub-block scales (16 values each) are folded into the levels
 * with an i16 multiply (|level * scale| <= 4096). */
INLINE void k_q6_K(const int NT, const uint8_t *row, int64_t nbk, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    const v128_t H2 = keep(wasm_i16x8_splat(0x30)), O32 = keep(wasm_i16x8_splat(32));
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 210;
        const uint8_t *ql = p, *qh = p + 128;
        const int8_t *scales = (const int8_t *)(p + 192);
        float d = h2f(p + 208);
        for (int j = 0; j < 8; j++) {
            int h = j >> 2, k = j & 3;
            const uint8_t *lp = ql + 64 * h + 32 * (k & 1);
            v128_t qa = wasm_v128_load(lp), qb = wasm_v128_load(lp + 16);
            if (k >= 2) {
                qa = wasm_u16x8_shr(qa, 4);
                qb = wasm_u16x8_shr(qb, 4);
            }
            v128_t ha = wasm_u16x8_shr(wasm_v128_load(qh + 32 * h), 2 * k);
            v128_t hb = wasm_u16x8_shr(wasm_v128_load(qh + 32 * h + 16), 2 * k);
            v128_t l0 = wasm_v128_or(wasm_v128_and(qa, LO4), wasm_v128_and(wasm_i16x8_shl(ha, 4), H2));
            v128_t l1 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qa, 8), LO4), wasm_v128_and(wasm_u16x8_shr(ha, 4), H2));
            v128_t l2 = wasm_v128_or(wasm_v128_and(qb, LO4), wasm_v128_and(wasm_i16x8_shl(hb, 4), H2));
            v128_t l3 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qb, 8), LO4), wasm_v128_and(wasm_u16x8_shr(hb, 4), H2));
            v128_t s0 = wasm_i16x8_splat(scales[2 * j]), s1 = wasm_i16x8_splat(scales[2 * j + 1]);
            l0 = wasm_i16x8_mul(wasm_i16x8_sub(l0, O32), s0);
            l1 = wasm_i16x8_mul(wasm_i16x8_sub(l1, O32), s0);
            l2 = wasm_i16x8_mul(wasm_i16x8_sub(l2, O32), s1);
            l3 = wasm_i16x8_mul(wasm_i16x8_sub(l3, O32), s1);
            int64_t ab = 8 * b + j;
            ACCUMULATE(d);
        }
    }
    KERNEL_END
}

/* ---- decode: one token, four activation blocks per step --------------------
 * With one token, the float work of each block (its f16 scale, the multiply
 * by both scales, the offset term) costs about as much as its integer dot
 * product, and then the 4-bit formats are no faster than q8_0 although they
 * read half the bytes. Here each block's dot product stays an i32x4 of
 * partial sums; four blocks are reduced together by a transpose-add into one
 * vector [b0, b1, b2, b3], converted once, and scaled by the four weight
 * scales (converted four at a time) and the four activation scales, which
 * atn_matmul_prepare_simd128 stores contiguously when there is one token.
 * Float sums are formed in a different order than in the reference (the
 * tests' tolerance covers it); the integer sums are the same. */


/* integer dot products of one 32-block, as i32x4 partial sums (q8_0's
 * times 256, see Q8_LEVELS) */
INLINE v128_t idot_q8(const uint8_t *p, const int16_t *a, v128_t HI8) {
    Q8_LEVELS(p)
    return DOT4(l0, l1, l2, l3, a);
}

INLINE v128_t idot_q4(const uint8_t *qs, const int16_t *a, v128_t LO4, v128_t N1M, v128_t N2M) {
    v128_t q = wasm_v128_load(qs);
    NIBBLES(q)
    return DOT4(l0, l1, l2, l3, a);
}

INLINE v128_t idot_q5(const uint8_t *qhp, const uint8_t *qs, const int16_t *a, v128_t LO4, v128_t ME, v128_t MO,
                      v128_t B16) {
    uint32_t qh;
    memcpy(&qh, qhp, 4);
    v128_t q = wasm_v128_load(qs);
    NIBBLES_SHIFTED(q)
    Q5_HIGH(qh);
    return DOT4(l0, l1, l2, l3, a);
}

/* One row of a 32-block format for token 0. IDOT(p, a) is the integer dot
 * of the block at p; per block acc += isum * (wd * ad) and the offset term
 * c += wm * as, where wd is the f16 at p and wm either OFF * wd (q5_0:
 * the -16 of the levels) or the f16 at p + 2 (q4_1, q5_1's min). The
 * scales of four blocks are computed as vectors; then a loop that
 * is kept rolled takes one block at a time: V8 hoists the loads of an
 * unrolled group of blocks to its top and spills most of them to the stack.
 * Every float is formed and summed in the order of the 4-token kernels
 * (acc lane by lane, the offset terms one by one, hsum(acc) + c): a token
 * decoded alone gives bit for bit what it gives inside a prompt. */
/* AQ: the activations the kernel reads, A->q (int16, nibble order) or A->q8
 * (int8, the relaxed kernels) */
#define DECODE_KERNEL(name, BYTES, HAS_MIN, OFF, IDOT, CONSTS, AQ)                           \
    INLINE float name(const uint8_t *row, int64_t nb, const acts *A) {                       \
        CONSTS                                                                               \
        __typeof__(*A->AQ) *a = A->AQ;                                                       \
        const uint8_t *p = row; /* running pointers, as in k_q8_0 */                         \
        v128_t acc = wasm_f32x4_splat(0);                                                    \
        float c = 0, ws[4], cs[4];                                                           \
        int64_t b = 0;                                                                       \
        for (; b + 4 <= nb; b += 4) {                                                        \
            v128_t wd = h2f_gather4(p, BYTES);                                               \
            wasm_v128_store(ws, wasm_f32x4_mul(wd, wasm_v128_load(A->d + b)));               \
            if (HAS_MIN)                                                                     \
                wasm_v128_store(cs, wasm_f32x4_mul(h2f_gather4(p + 2, BYTES), wasm_v128_load(A->s + b))); \
            else if (OFF != 0)                                                               \
                wasm_v128_store(cs, wasm_f32x4_mul(wasm_f32x4_mul(wd, wasm_f32x4_splat((float)(OFF))), \
                                                   wasm_v128_load(A->s + b)));               \
            const float *w = ws;                                                             \
            ROLLED                                                                           \
            for (int j = 0; j < 4; j++, p += BYTES, a += 32, w++)                            \
                acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(IDOT(p, a)), \
                                                         wasm_v128_load32_splat(w)));        \
            if (HAS_MIN || OFF != 0) c = c + cs[0] + cs[1] + cs[2] + cs[3];                  \
        }                                                                                    \
        for (; b < nb; b++, p += BYTES, a += 32) {                                           \
            float wd = h2f(p);                                                               \
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(IDOT(p, a)), \
                                                     wasm_f32x4_splat(wd * A->d[b])));       \
            if (HAS_MIN) c += h2f(p + 2) * A->s[b];                                          \
            else if (OFF != 0) c += ((float)(OFF) * wd) * A->s[b];                           \
        }                                                                                    \
        return hsum(acc) + c;                                                                \
    }

#define LO4_CONST const v128_t LO4 = keep(wasm_i16x8_splat(0x000f));
#define Q4_ALL_CONSTS LO4_CONST NIBBLE_CONSTS
#define Q5_ALL_CONSTS LO4_CONST Q5_CONSTS
#define IDOT_Q4_0(p, a) idot_q4((p) + 2, a, LO4, N1M, N2M)
#define IDOT_Q4_1(p, a) idot_q4((p) + 4, a, LO4, N1M, N2M)
#define IDOT_Q5_0(p, a) idot_q5((p) + 2, (p) + 6, a, LO4, ME, MO, B16)
#define IDOT_Q5_1(p, a) idot_q5((p) + 4, (p) + 8, a, LO4, ME, MO, B16)

DECODE_KERNEL(d_q4_1, 20, 1, 0, IDOT_Q4_1, Q4_ALL_CONSTS, q)
DECODE_KERNEL(d_q5_0, 22, 0, -16, IDOT_Q5_0, Q5_ALL_CONSTS, q)
DECODE_KERNEL(d_q5_1, 24, 1, 0, IDOT_Q5_1, Q5_ALL_CONSTS, q)

/* q4_0, token 0: four rows at a time, one per lane (see block_step). The
 * rows share the activation loads, and a block costs one convert and one
 * multiply-add for all four. The rows come as four pointers, so a last group
 * of fewer rows repeats one. */
INLINE v128_t h2f_rows4(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3) {
    uint16_t h0, h1, h2, h3;
    memcpy(&h0, p0, 2);
    memcpy(&h1, p1, 2);
    memcpy(&h2, p2, 2);
    memcpy(&h3, p3, 2);
    return h2f_x4(wasm_i32x4_make(h0, h1, h2, h3));
}

INLINE v128_t d4_q4_0(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int64_t nb,
                      const acts *A) {
    Q4_ALL_CONSTS
    v128_t acc = wasm_f32x4_splat(0);
    const int16_t *a = A->q;
    /* running pointers, as in k_q8_0 */
    for (int64_t b = 0; b < nb; b++, p0 += 18, p1 += 18, p2 += 18, p3 += 18, a += 32) {
        v128_t is = transpose_add4(IDOT_Q4_0(p0, a), IDOT_Q4_0(p1, a), IDOT_Q4_0(p2, a), IDOT_Q4_0(p3, a));
        acc = block_step(acc, is, wasm_i32x4_splat(A->qsum[b]), Q4_0_OFF_SHIFT, h2f_rows4(p0, p1, p2, p3),
                         wasm_f32x4_splat(A->d[b]));
    }
    return acc;
}

/* the integer dot of the q8_0 block at p (times 256, see Q8_LEVELS), in every lane */
INLINE v128_t q8_block_sum(const uint8_t *p, const int16_t *a, v128_t HI8) {
    v128_t is = idot_q8(p, a, HI8);
    is = wasm_i32x4_add(is, wasm_i32x4_shuffle(is, is, 2, 3, 0, 1));
    return wasm_i32x4_add(is, wasm_i32x4_shuffle(is, is, 1, 0, 3, 2));
}

/* q8_0, token 0, one row: the products of four blocks' weight and
 * activation scales as one vector, then a rolled loop over the blocks (as
 * DECODE_KERNEL: V8 spills an unrolled group's loads), each block's integer
 * sum reduced at once and added to the row's sum in block order: each float
 * is formed as a lane of k_q8_0 forms it. */
INLINE float d_q8_0(const uint8_t *row, int64_t nb, const acts *A) {
    Q8_CONST
    const int16_t *a = A->q;
    const uint8_t *p = row; /* running pointers, as in k_q8_0 */
    float acc = 0, ws[4];
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        wasm_v128_store(ws, wasm_f32x4_mul(h2f_gather4(p, 34), wasm_v128_load(A->d + b)));
        const float *w = ws;
        ROLLED
        for (int j = 0; j < 4; j++) {
            v128_t is = q8_block_sum(p, a, HI8);
            acc += wasm_f32x4_extract_lane(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is), wasm_v128_load32_splat(w)), 0);
            p += 34, a += 32, w++;
        }
    }
    for (; b < nb; b++, p += 34, a += 32) {
        v128_t is = q8_block_sum(p, a, HI8);
        /* vector operations: no contraction into a fused multiply-add */
        v128_t f = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(is),
                                  wasm_f32x4_mul(wasm_f32x4_splat(h2f(p)), wasm_f32x4_splat(A->d[b])));
        acc += wasm_f32x4_extract_lane(f, 0);
    }
    return acc;
}

/* q4_K/q5_K super-block b of one token: ws = the eight sub-block scales
 * times the activation scales; returns csum plus the min terms, added in the
 * 4-token kernel's order. */
INLINE float k_token0_scales(const uint8_t *p, const acts *A, int64_t b, float ws[8], float csum) {
    float sc[8], mn[8];
    kscales(p, sc, mn);
    const float *ad = A->d + 8 * b, *as = A->s + 8 * b;
    wasm_v128_store(ws, wasm_f32x4_mul(wasm_v128_load(sc), wasm_v128_load(ad)));
    wasm_v128_store(ws + 4, wasm_f32x4_mul(wasm_v128_load(sc + 4), wasm_v128_load(ad + 4)));
    wasm_v128_store(mn, wasm_f32x4_mul(wasm_v128_load(mn), wasm_v128_load(as)));
    wasm_v128_store(mn + 4, wasm_f32x4_mul(wasm_v128_load(mn + 4), wasm_v128_load(as + 4)));
    for (int j = 0; j < 8; j++) csum += mn[j];
    return csum;
}

/* q4_K, token 0: per super-block the eight sub-block scales times the
 * activation scales, and the min terms, as vectors; then one rolled loop
 * over the four 32-byte chunks (two sub-blocks each). Same float order as
 * k_q4_K (see DECODE_KERNEL). */
INLINE float d_q4_K(const uint8_t *row, int64_t nbk, const acts *A) {
    const v128_t LO4 = keep(wasm_i16x8_splat(0x000f));
    const int16_t *a = A->q;
    v128_t acc = wasm_f32x4_splat(0);
    float ws[8], csum = 0;
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 144;
        csum = k_token0_scales(p, A, b, ws, csum);
        const uint8_t *qs = p + 16;
        const int16_t *ab = a + 256 * b;
        ROLLED
        for (int c = 0; c < 4; c++) {
            v128_t qa = wasm_v128_load(qs + 32 * c), qb = wasm_v128_load(qs + 32 * c + 16);
            const int16_t *ap = ab + 64 * c;
            v128_t l0 = wasm_v128_and(qa, LO4), l1 = wasm_v128_and(wasm_u16x8_shr(qa, 8), LO4);
            v128_t l2 = wasm_v128_and(qb, LO4), l3 = wasm_v128_and(wasm_u16x8_shr(qb, 8), LO4);
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(DOT4(l0, l1, l2, l3, ap)),
                                                     wasm_v128_load32_splat(ws + 2 * c)));
            l0 = wasm_v128_and(wasm_u16x8_shr(qa, 4), LO4), l1 = wasm_u16x8_shr(qa, 12);
            l2 = wasm_v128_and(wasm_u16x8_shr(qb, 4), LO4), l3 = wasm_u16x8_shr(qb, 12);
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(DOT4(l0, l1, l2, l3, ap + 32)),
                                                     wasm_v128_load32_splat(ws + 2 * c + 1)));
        }
    }
    return hsum(acc) + csum;
}

/* q6_K, token 0: levels with their sub-block scales folded in (as k_q6_K);
 * the eight activation scales times d as vectors, then one rolled loop over
 * the eight blocks of 32. */
INLINE float d_q6_K(const uint8_t *row, int64_t nbk, const acts *A) {
    const v128_t LO4 = keep(wasm_i16x8_splat(0x000f));
    const v128_t H2 = keep(wasm_i16x8_splat(0x30)), O32 = keep(wasm_i16x8_splat(32));
    const int16_t *a = A->q;
    v128_t acc = wasm_f32x4_splat(0);
    float ws[8];
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 210;
        const uint8_t *ql = p, *qh = p + 128;
        const int8_t *scales = (const int8_t *)(p + 192);
        v128_t d = wasm_f32x4_splat(h2f(p + 208));
        wasm_v128_store(ws, wasm_f32x4_mul(d, wasm_v128_load(A->d + 8 * b)));
        wasm_v128_store(ws + 4, wasm_f32x4_mul(d, wasm_v128_load(A->d + 8 * b + 4)));
        ROLLED
        for (int j = 0; j < 8; j++) {
            int h = j >> 2, k = j & 3;
            const uint8_t *lp = ql + 64 * h + 32 * (k & 1);
            v128_t qa = wasm_v128_load(lp), qb = wasm_v128_load(lp + 16);
            /* k >= 2: the high nibbles (shift by 4 or 0, no branch) */
            int ls = (k >> 1) * 4;
            qa = wasm_u16x8_shr(qa, ls);
            qb = wasm_u16x8_shr(qb, ls);
            v128_t ha = wasm_u16x8_shr(wasm_v128_load(qh + 32 * h), 2 * k);
            v128_t hb = wasm_u16x8_shr(wasm_v128_load(qh + 32 * h + 16), 2 * k);
            v128_t l0 = wasm_v128_or(wasm_v128_and(qa, LO4), wasm_v128_and(wasm_i16x8_shl(ha, 4), H2));
            v128_t l1 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qa, 8), LO4), wasm_v128_and(wasm_u16x8_shr(ha, 4), H2));
            v128_t l2 = wasm_v128_or(wasm_v128_and(qb, LO4), wasm_v128_and(wasm_i16x8_shl(hb, 4), H2));
            v128_t l3 = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(qb, 8), LO4), wasm_v128_and(wasm_u16x8_shr(hb, 4), H2));
            v128_t s0 = wasm_i16x8_splat(scales[2 * j]), s1 = wasm_i16x8_splat(scales[2 * j + 1]);
            l0 = wasm_i16x8_mul(wasm_i16x8_sub(l0, O32), s0);
            l1 = wasm_i16x8_mul(wasm_i16x8_sub(l1, O32), s0);
            l2 = wasm_i16x8_mul(wasm_i16x8_sub(l2, O32), s1);
            l3 = wasm_i16x8_mul(wasm_i16x8_sub(l3, O32), s1);
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(DOT4(l0, l1, l2, l3, a + 256 * b + 32 * j)),
                                                     wasm_v128_load32_splat(ws + j)));
        }
    }
    return hsum(acc);
}

#define DECODE_ROWS(name, kern)                                                              \
    static void name(const uint8_t *W, size_t rb, int64_t nb, int64_t r0, int64_t r1, const acts *A, float *Y) { \
        for (int64_t r = r0; r < r1; r++) Y[r] = kern(W + (size_t)r * rb, nb, A);           \
    }

DECODE_ROWS(drows_q4_1, d_q4_1)
DECODE_ROWS(drows_q5_0, d_q5_0)
DECODE_ROWS(drows_q5_1, d_q5_1)
DECODE_ROWS(drows_q4_K, d_q4_K)
DECODE_ROWS(drows_q6_K, d_q6_K)
DECODE_ROWS(drows_q8_0, d_q8_0)

/* rows [r0, r1) of token 0 by a kernel of four rows, one per lane */
#define DECODE_ROWS4(name, kern4)                                                            \
    static void name(const uint8_t *W, size_t rb, int64_t nb, int64_t r0, int64_t r1, const acts *A, float *Y) { \
        for (int64_t r = r0; r < r1; r += 4) {                                               \
            const uint8_t *p0 = W + (size_t)r * rb;                                          \
            const uint8_t *p1 = r + 1 < r1 ? p0 + rb : p0;                                   \
            const uint8_t *p2 = r + 2 < r1 ? p0 + 2 * rb : p0;                               \
            const uint8_t *p3 = r + 3 < r1 ? p0 + 3 * rb : p0;                               \
            v128_t y = kern4(p0, p1, p2, p3, nb, A);                                         \
            if (r + 4 <= r1) {                                                               \
                wasm_v128_store(Y + r, y);                                                   \
            } else {                                                                         \
                float y4[4];                                                                 \
                wasm_v128_store(y4, y);                                                      \
                for (int64_t i = 0; i < r1 - r; i++) Y[r + i] = y4[i];                       \
            }                                                                                \
        }                                                                                    \
    }

DECODE_ROWS4(drows_q4_0, d4_q4_0)

/* ---- dense weights (f32 activations) ------------------------------------- */

/* 8 weights starting at w[i] as two f32x4 */
INLINE void load8_f32(const void *w, int64_t i, v128_t *a, v128_t *b) {
    *a = wasm_v128_load((const float *)w + i);
    *b = wasm_v128_load((const float *)w + i + 4);
}
INLINE void load8_f16(const void *w, int64_t i, v128_t *a, v128_t *b) {
    v128_t h = wasm_v128_load((const uint16_t *)w + i);
    *a = h2f_x4(wasm_u32x4_extend_low_u16x8(h));
    *b = h2f_x4(wasm_u32x4_extend_high_u16x8(h));
}
INLINE void load8_bf16(const void *w, int64_t i, v128_t *a, v128_t *b) {
    v128_t h = wasm_v128_load((const uint16_t *)w + i);
    *a = wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16);
    *b = wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16);
}

#define DSTEP(T)                                                                             \
    if (NT > T) {                                                                            \
        const float *x = X + (int64_t)(t0 + T) * n + i;                                      \
        acc##T = wasm_f32x4_add(acc##T, wasm_f32x4_add(wasm_f32x4_mul(wa, wasm_v128_load(x)),  \
                                                       wasm_f32x4_mul(wb, wasm_v128_load(x + 4)))); \
    }

#define DENSE_KERNEL(name, loader, scalar_of)                                                \
    INLINE void name(const int NT, const void *w, int64_t n, const float *X, int t0, float *out) { \
        v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;            \
        int64_t i = 0;                                                                       \
        for (; i + 8 <= n; i += 8) {                                                         \
            v128_t wa, wb;                                                                   \
            loader(w, i, &wa, &wb);                                                          \
            DSTEP(0) DSTEP(1) DSTEP(2) DSTEP(3)                                              \
        }                                                                                    \
        float tail[4] = {0, 0, 0, 0};                                                        \
        for (; i < n; i++) {                                                                 \
            float wv = scalar_of(w, i);                                                      \
            for (int t = 0; t < NT; t++) tail[t] += wv * X[(int64_t)(t0 + t) * n + i];       \
        }                                                                                    \
        out[0] = hsum(acc0) + tail[0];                                                       \
        if (NT > 1) out[1] = hsum(acc1) + tail[1];                                           \
        if (NT > 2) out[2] = hsum(acc2) + tail[2];                                           \
        if (NT > 3) out[3] = hsum(acc3) + tail[3];                                           \
    }

static inline float sc_f32(const void *w, int64_t i) { return ((const float *)w)[i]; }
static inline float sc_f16(const void *w, int64_t i) { return atn_f16_to_f32(((const uint16_t *)w)[i]); }
static inline float sc_bf16(const void *w, int64_t i) { return atn_bf16_to_f32(((const uint16_t *)w)[i]); }

DENSE_KERNEL(k_f32, load8_f32, sc_f32)
DENSE_KERNEL(k_f16, load8_f16, sc_f16)
DENSE_KERNEL(k_bf16, load8_bf16, sc_bf16)

/* ---- drivers ------------------------------------------------------------- */

/* One instantiation per (type, NT): rows [r0, r1) for tokens t0 .. t0+nt-1. */
#define QUANT_ROWS(name, kern)                                                               \
    static void name(const uint8_t *W, size_t rb, int64_t nb, int64_t r0, int64_t r1,        \
                     const acts *A, int t0, int nt, float *Y, int64_t n_out) {               \
        float o[4];                                                                          \
        for (int64_t r = r0; r < r1; r++) {                                                  \
            const uint8_t *row = W + (size_t)r * rb;                                         \
            switch (nt) {                                                                    \
            case 4: kern(4, row, nb, A, t0, o); break;                                       \
            case 3: kern(3, row, nb, A, t0, o); break;                                       \
            case 2: kern(2, row, nb, A, t0, o); break;                                       \
            default: kern(1, row, nb, A, t0, o); break;                                      \
            }                                                                                \
            for (int t = 0; t < nt; t++) Y[(int64_t)(t0 + t) * n_out + r] = o[t];            \
        }                                                                                    \
    }

QUANT_ROWS(rows_q8_0, k_q8_0)
QUANT_ROWS(rows_q4_0, k_q4_0)
QUANT_ROWS(rows_q4_1, k_q4_1)
QUANT_ROWS(rows_q5_0, k_q5_0)
QUANT_ROWS(rows_q5_1, k_q5_1)
QUANT_ROWS(rows_q4_K, k_q4_K)
QUANT_ROWS(rows_q5_K, k_q5_K)
QUANT_ROWS(rows_q6_K, k_q6_K)

#define DENSE_ROWS(name, kern)                                                               \
    static void name(const uint8_t *W, size_t rb, int64_t n, int64_t r0, int64_t r1,         \
                     const float *X, int t0, int nt, float *Y, int64_t n_out) {              \
        float o[4];                                                                          \
        for (int64_t r = r0; r < r1; r++) {                                                  \
            const uint8_t *row = W + (size_t)r * rb;                                         \
            switch (nt) {                                                                    \
            case 4: kern(4, row, n, X, t0, o); break;                                        \
            case 3: kern(3, row, n, X, t0, o); break;                                        \
            case 2: kern(2, row, n, X, t0, o); break;                                        \
            default: kern(1, row, n, X, t0, o); break;                                       \
            }                                                                                \
            for (int t = 0; t < nt; t++) Y[(int64_t)(t0 + t) * n_out + r] = o[t];            \
        }                                                                                    \
    }

DENSE_ROWS(rows_f32, k_f32)
DENSE_ROWS(rows_f16, k_f16)
DENSE_ROWS(rows_bf16, k_bf16)


/* ---- relaxed SIMD: 8-bit multiplies -----------------------------------------
 * i16x8.relaxed_dot_i8x16_i7x16_s multiplies 16 signed bytes by 16 bytes of
 * 0..127 (its "i7" operand: engines differ only above 127) and adds pairs of
 * products into i16 lanes: x86's pmaddubsw, which SIMD128 lacks. The levels
 * of the 4- and 5-bit formats (0..15, 0..31) are that operand; the
 * activations, as int8 in natural order (quantize_acts_i8, the same 127
 * levels as the int16 path), the signed one. A block of 32 is two relaxed
 * dots (values 0..15 and 16..31), one i16 add (|sum| <= 4 * 31 * 127) and one
 * i32x4.dot_i16x8_s with ones: four instructions where the int16 path needs
 * seven, and the weights' levels are bytes, without widening. (The i32x4 form,
 * i32x4.relaxed_dot_i8x16_i7x16_add_s, is one instruction on ARM and on x86
 * with AVX-VNNI, but three on x86 without it, where the i16 form is faster:
 * measured on this project's benchmark machine.)
 * Lane k of that i32x4 sums values 4k..4k+3 and 16+4k..19+4k of the block,
 * as lane k of the int16 path's DOT4 in nibble order does: the integer
 * partial sums are the same, and every kernel below forms its floats from
 * them exactly as its int16 twin does (q4_0/q4_1's factor 256 is a power of
 * two on both sides of one multiply), so the results are the same bit for
 * bit. q8_0 (signed levels) and q6_K (scales folded into the levels) stay on
 * the int16 path. */
#ifdef ATN_RELAXED_SIMD

/* the i16x8 sums of pairs of products a * b: a signed bytes, b bytes in 0..127 */
INLINE v128_t rdot16(v128_t a, v128_t b) {
#ifdef __wasm_simd128__
    return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((__i8x16)a, (__i8x16)b);
#else
    return _mm_maddubs_epi16(b, a);
#endif
}

/* the types with relaxed kernels */
static int rx_type(int type) {
    switch (type) {
    case ATN_TYPE_Q4_0: case ATN_TYPE_Q4_1: case ATN_TYPE_Q5_0: case ATN_TYPE_Q5_1: case ATN_TYPE_Q4_K: case ATN_TYPE_Q5_K:
        return 1;
    default:
        return 0;
    }
}

#define RX_CONSTS                                                                            \
    const v128_t LO4B = keep(wasm_i8x16_splat(0x0f)), ONES = keep(wasm_i16x8_splat(1));
/* the i32x4 partial sums of one block: activation halves a0, a1 (values
 * 0..15, 16..31) with the levels of those values, bytes lo, hi */
#define RX_DOT(a0, a1, lo, hi) wasm_i32x4_dot_i16x8(wasm_i16x8_add(rdot16(a0, lo), rdot16(a1, hi)), ONES)
/* 16 packed bytes q: the low nibbles, the high nibbles (shifted as 16-bit
 * lanes, then masked: V8 has no byte shift on x86 and builds u8x16.shr's
 * mask anew at every use) */
#define RX_LOW(q) wasm_v128_and(q, LO4B)
#define RX_HIGH(q) wasm_v128_and(wasm_u16x8_shr(q, 4), LO4B)

/* fifth bits of q5_0/q5_1 as 16 where set: bit j of qh is value j; bytes
 * 0..15 of the result are values 0..15 (half 0) or 16..31 (half 1) */
#define RX_Q5_CONSTS                                                                         \
    const v128_t BITS = keep(wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128)); \
    const v128_t B16B = keep(wasm_i8x16_splat(16));
INLINE v128_t rx_q5_high(v128_t qh4, int half, v128_t BITS, v128_t B16B) {
    v128_t v = half ? wasm_i8x16_shuffle(qh4, qh4, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3)
                    : wasm_i8x16_shuffle(qh4, qh4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(v, BITS), BITS), B16B);
}
#define RX_Q5_LEVELS(qhp, qs)                                                                \
    uint32_t qh;                                                                             \
    memcpy(&qh, qhp, 4);                                                                     \
    v128_t qh4 = wasm_i32x4_splat((int32_t)qh), q = wasm_v128_load(qs);                      \
    v128_t lo = wasm_v128_or(RX_LOW(q), rx_q5_high(qh4, 0, BITS, B16B));                     \
    v128_t hi = wasm_v128_or(RX_HIGH(q), rx_q5_high(qh4, 1, BITS, B16B));

/* prompt kernels: ACCUMULATE and STEP with the block's levels as bytes lo, hi */
#define RX_ACT(T, h) wasm_v128_load(A->q8 + (int64_t)(t0 + (T)) * A->n_in + ab * 32 + 16 * (h))
#define RX_STEP(T)                                                                           \
    if (NT > T)                                                                              \
        acc##T = wasm_f32x4_add(acc##T, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(RX_DOT(RX_ACT(T, 0), RX_ACT(T, 1), lo, hi)), \
                                                       wasm_i32x4_shuffle(ws, ws, T, T, T, T)));
#define RX_ACCUMULATE(wscale)                                                                \
    do {                                                                                     \
        v128_t ws = wasm_f32x4_mul(wasm_f32x4_splat(wscale), wasm_v128_load(A->d + ab * A->ntp + t0)); \
        RX_STEP(0) RX_STEP(1) RX_STEP(2) RX_STEP(3)                                          \
    } while (0)
#define RX_TOKEN_DOT(T) (NT > T ? RX_DOT(RX_ACT(T, 0), RX_ACT(T, 1), lo, hi) : wasm_i32x4_splat(0))

INLINE void k_q4_0_rx(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    RX_CONSTS
    v128_t acc = wasm_f32x4_splat(0);
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 18;
        v128_t q = wasm_v128_load(p + 2);
        v128_t lo = RX_LOW(q), hi = RX_HIGH(q);
        /* as k_q4_0 with unscaled levels: offset shift 3 (q4_0's -8) */
        acc = block_step(acc, transpose_add4(RX_TOKEN_DOT(0), RX_TOKEN_DOT(1), RX_TOKEN_DOT(2), RX_TOKEN_DOT(3)),
                         wasm_v128_load(A->qsum + ab * A->ntp + t0), 3, wasm_f32x4_splat(h2f(p)),
                         wasm_v128_load(A->d + ab * A->ntp + t0));
    }
    float o4[4];
    wasm_v128_store(o4, acc);
    for (int t = 0; t < NT; t++) out[t] = o4[t];
}

INLINE void k_q4_1_rx(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    RX_CONSTS
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 20;
        v128_t q = wasm_v128_load(p + 4);
        v128_t lo = RX_LOW(q), hi = RX_HIGH(q);
        RX_ACCUMULATE(h2f(p));
        CORRECT(h2f(p + 2));
    }
    KERNEL_END
}

INLINE void k_q5_0_rx(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    RX_CONSTS
    RX_Q5_CONSTS
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 22;
        RX_Q5_LEVELS(p + 2, p + 6)
        float d = h2f(p);
        RX_ACCUMULATE(d);
        CORRECT(-16.0f * d);
    }
    KERNEL_END
}

INLINE void k_q5_1_rx(const int NT, const uint8_t *row, int64_t nb, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    RX_CONSTS
    RX_Q5_CONSTS
    for (int64_t ab = 0; ab < nb; ab++) {
        const uint8_t *p = row + ab * 24;
        RX_Q5_LEVELS(p + 4, p + 8)
        RX_ACCUMULATE(h2f(p));
        CORRECT(h2f(p + 2));
    }
    KERNEL_END
}

/* q4_K/q5_K: chunk c of 32 bytes holds sub-block 2c in its low nibbles and
 * 2c + 1 in its high ones, values 0..15 in bytes 0..15 */
INLINE void k_q4_K_rx(const int NT, const uint8_t *row, int64_t nbk, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    RX_CONSTS
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 144;
        float sc[8], mn[8];
        kscales(p, sc, mn);
        const uint8_t *qs = p + 16;
        for (int c = 0; c < 4; c++) {
            v128_t qa = wasm_v128_load(qs + 32 * c), qb = wasm_v128_load(qs + 32 * c + 16);
            int64_t ab = 8 * b + 2 * c;
            {
                v128_t lo = RX_LOW(qa), hi = RX_LOW(qb);
                RX_ACCUMULATE(sc[2 * c]);
                CORRECT(mn[2 * c]);
            }
            ab++;
            {
                v128_t lo = RX_HIGH(qa), hi = RX_HIGH(qb);
                RX_ACCUMULATE(sc[2 * c + 1]);
                CORRECT(mn[2 * c + 1]);
            }
        }
    }
    KERNEL_END
}

INLINE void k_q5_K_rx(const int NT, const uint8_t *row, int64_t nbk, const acts *A, int t0, float *out) {
    KERNEL_BEGIN
    RX_CONSTS
    const v128_t B16B = keep(wasm_i8x16_splat(16));
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 176;
        float sc[8], mn[8];
        kscales(p, sc, mn);
        v128_t ha = wasm_v128_load(p + 16), hb = wasm_v128_load(p + 32);
        const uint8_t *qs = p + 48;
        for (int c = 0; c < 4; c++) {
            v128_t qa = wasm_v128_load(qs + 32 * c), qb = wasm_v128_load(qs + 32 * c + 16);
            /* bit 2c of qh[l] is value l of sub-block 2c, bit 2c + 1 of 2c + 1 */
            v128_t m0 = wasm_i8x16_splat((int8_t)(1 << (2 * c))), m1 = wasm_i8x16_splat((int8_t)(2 << (2 * c)));
            int64_t ab = 8 * b + 2 * c;
            {
                v128_t lo = wasm_v128_or(RX_LOW(qa), wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(ha, m0), m0), B16B));
                v128_t hi = wasm_v128_or(RX_LOW(qb), wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(hb, m0), m0), B16B));
                RX_ACCUMULATE(sc[2 * c]);
                CORRECT(mn[2 * c]);
            }
            ab++;
            {
                v128_t lo = wasm_v128_or(RX_HIGH(qa), wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(ha, m1), m1), B16B));
                v128_t hi = wasm_v128_or(RX_HIGH(qb), wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(hb, m1), m1), B16B));
                RX_ACCUMULATE(sc[2 * c + 1]);
                CORRECT(mn[2 * c + 1]);
            }
        }
    }
    KERNEL_END
}

QUANT_ROWS(rows_q4_0_rx, k_q4_0_rx)
QUANT_ROWS(rows_q4_1_rx, k_q4_1_rx)
QUANT_ROWS(rows_q5_0_rx, k_q5_0_rx)
QUANT_ROWS(rows_q5_1_rx, k_q5_1_rx)
QUANT_ROWS(rows_q4_K_rx, k_q4_K_rx)
QUANT_ROWS(rows_q5_K_rx, k_q5_K_rx)

/* ---- relaxed decode kernels (one token), as their int16 twins ---- */

/* q4_0: four rows p0..p3 of one token, one per lane (as d4_q4_0) */
INLINE v128_t d4_q4_0_rx(const uint8_t *p0, const uint8_t *p1, const uint8_t *p2, const uint8_t *p3, int64_t nb,
                         const acts *A) {
    RX_CONSTS
    v128_t acc = wasm_f32x4_splat(0);
    const int8_t *a = A->q8;
    /* running pointers, as in k_q8_0 */
    for (int64_t b = 0; b < nb; b++, p0 += 18, p1 += 18, p2 += 18, p3 += 18, a += 32) {
        v128_t a0 = wasm_v128_load(a), a1 = wasm_v128_load(a + 16);
#define RX_Q4_ROW(p) (q = wasm_v128_load((p) + 2), RX_DOT(a0, a1, RX_LOW(q), RX_HIGH(q)))
        v128_t q, d0 = RX_Q4_ROW(p0), d1 = RX_Q4_ROW(p1), d2 = RX_Q4_ROW(p2), d3 = RX_Q4_ROW(p3);
#undef RX_Q4_ROW
        acc = block_step(acc, transpose_add4(d0, d1, d2, d3), wasm_i32x4_splat(A->qsum[b]), 3,
                         h2f_rows4(p0, p1, p2, p3), wasm_f32x4_splat(A->d[b]));
    }
    return acc;
}

DECODE_ROWS4(drows_q4_0_rx, d4_q4_0_rx)

/* one block's integer dot for DECODE_KERNEL: levels at qs (and qhp), int8 activations at a */
INLINE v128_t idot_q4_rx(const uint8_t *qs, const int8_t *a, v128_t LO4B, v128_t ONES) {
    v128_t q = wasm_v128_load(qs);
    return RX_DOT(wasm_v128_load(a), wasm_v128_load(a + 16), RX_LOW(q), RX_HIGH(q));
}
INLINE v128_t idot_q5_rx(const uint8_t *qhp, const uint8_t *qs, const int8_t *a, v128_t LO4B, v128_t ONES, v128_t BITS,
                         v128_t B16B) {
    RX_Q5_LEVELS(qhp, qs)
    return RX_DOT(wasm_v128_load(a), wasm_v128_load(a + 16), lo, hi);
}
#define RX_Q4_ALL_CONSTS RX_CONSTS
#define RX_Q5_ALL_CONSTS RX_CONSTS RX_Q5_CONSTS
#define IDOT_Q4_1_RX(p, a) idot_q4_rx((p) + 4, a, LO4B, ONES)
#define IDOT_Q5_0_RX(p, a) idot_q5_rx((p) + 2, (p) + 6, a, LO4B, ONES, BITS, B16B)
#define IDOT_Q5_1_RX(p, a) idot_q5_rx((p) + 4, (p) + 8, a, LO4B, ONES, BITS, B16B)

DECODE_KERNEL(d_q4_1_rx, 20, 1, 0, IDOT_Q4_1_RX, RX_Q4_ALL_CONSTS, q8)
DECODE_KERNEL(d_q5_0_rx, 22, 0, -16, IDOT_Q5_0_RX, RX_Q5_ALL_CONSTS, q8)
DECODE_KERNEL(d_q5_1_rx, 24, 1, 0, IDOT_Q5_1_RX, RX_Q5_ALL_CONSTS, q8)

/* q4_K, token 0: as d_q4_K */
INLINE float d_q4_K_rx(const uint8_t *row, int64_t nbk, const acts *A) {
    RX_CONSTS
    const int8_t *a = A->q8;
    v128_t acc = wasm_f32x4_splat(0);
    float ws[8], csum = 0;
    for (int64_t b = 0; b < nbk; b++) {
        const uint8_t *p = row + b * 144;
        csum = k_token0_scales(p, A, b, ws, csum);
        const uint8_t *qs = p + 16;
        const int8_t *ab = a + 256 * b;
        ROLLED
        for (int c = 0; c < 4; c++) {
            v128_t qa = wasm_v128_load(qs + 32 * c), qb = wasm_v128_load(qs + 32 * c + 16);
            const int8_t *ap = ab + 64 * c;
            v128_t a0 = wasm_v128_load(ap), a1 = wasm_v128_load(ap + 16);
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(RX_DOT(a0, a1, RX_LOW(qa), RX_LOW(qb))),
                                                     wasm_v128_load32_splat(ws + 2 * c)));
            a0 = wasm_v128_load(ap + 32), a1 = wasm_v128_load(ap + 48);
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(RX_DOT(a0, a1, RX_HIGH(qa), RX_HIGH(qb))),
                                                     wasm_v128_load32_splat(ws + 2 * c + 1)));
        }
    }
    return hsum(acc) + csum;
}

DECODE_ROWS(drows_q4_1_rx, d_q4_1_rx)
DECODE_ROWS(drows_q5_0_rx, d_q5_0_rx)
DECODE_ROWS(drows_q5_1_rx, d_q5_1_rx)
DECODE_ROWS(drows_q4_K_rx, d_q4_K_rx)

#else
static int rx_type(int type) { (void)type; return 0; }
#endif /* ATN_RELAXED_SIMD */

typedef void (*quant_rows_fn)(const uint8_t *, size_t, int64_t, int64_t, int64_t, const acts *, int, int, float *, int64_t);
typedef void (*decode_rows_fn)(const uint8_t *, size_t, int64_t, int64_t, int64_t, const acts *, float *);
typedef void (*dense_rows_fn)(const uint8_t *, size_t, int64_t, int64_t, int64_t, const float *, int, int, float *, int64_t);

/* Rows per tile: the weights of one tile (~24 KiB) stay in L1/L2 while every
 * group of 4 tokens passes over them. */
static int64_t tile_rows(size_t row_bytes) {
    int64_t r = (int64_t)(24576 / (row_bytes ? row_bytes : 1));
    return r < 1 ? 1 : r;
}

/* The activations of the last atn_matmul_prepare_simd128, read by every
 * thread that computes rows of that matmul. */
static acts prepared;

/* f32, f16, bf16 weights multiply the float activations as they are */
static int dense_type(int type) { return type == ATN_TYPE_F32 || type == ATN_TYPE_F16 || type == ATN_TYPE_BF16; }

int atn_matmul_prepare_begin_simd128(const atn_tensor *W, int n_tok) {
    int64_t n_in = W->ne[0];
    int type = W->type;
    size_t rb = atn_row_size(type, n_in);
    if (rb == 0 || n_tok <= 0) return -1;
    if (dense_type(type)) return 0; /* no quantization */
    switch (type) {
    case ATN_TYPE_Q8_0: case ATN_TYPE_Q4_0: case ATN_TYPE_Q4_1: case ATN_TYPE_Q5_0: case ATN_TYPE_Q5_1:
    case ATN_TYPE_Q4_K: case ATN_TYPE_Q5_K: case ATN_TYPE_Q6_K: break;
    default: return -1;
    }
    int64_t nab = n_in / 32;
    /* scales token-minor, 4 tokens per vector; with one token, contiguous
     * per block (the decode kernels load four blocks' scales at once; the
     * 4-token kernels read lane 0 only, and the 4 floats of padding keep
     * their vector loads inside the buffer) */
    int ntp = n_tok == 1 ? 1 : (n_tok + 3) & ~3;
    if ((uint64_t)n_in > (SIZE_MAX / 4) / (uint64_t)(ntp + 4)) return -1; /* scratch size would overflow (wasm32) */
    size_t qbytes = ((size_t)n_tok * (size_t)n_in * (rx_type(type) ? 1 : sizeof(int16_t)) + 15) & ~(size_t)15;
    size_t sbytes = ((size_t)nab * (size_t)ntp + 4) * sizeof(float);
    uint8_t *scr = atn_kernels_scratch(qbytes + 3 * sbytes); /* the int32 sums take as much as the scales */
    if (!scr) return -1; /* out of memory: the reference needs no scratch */
    acts A = {(int16_t *)scr, (int8_t *)scr, (float *)(scr + qbytes), (float *)(scr + qbytes + sbytes),
              (int32_t *)(scr + qbytes + 2 * sbytes), n_in, ntp};
    /* the padding lanes (tokens n_tok..ntp-1) and the 4 floats past the end are zero */
    float *d = (float *)A.d, *s = (float *)A.s;
    int32_t *qsum = (int32_t *)A.qsum;
    for (int64_t b = 0; b < nab; b++)
        for (int t = n_tok; t < ntp; t++) {
            d[b * ntp + t] = s[b * ntp + t] = 0;
            qsum[b * ntp + t] = 0;
        }
    memset(d + nab * ntp, 0, 4 * sizeof(float));
    memset(s + nab * ntp, 0, 4 * sizeof(float));
    memset(qsum + nab * ntp, 0, 4 * sizeof(int32_t));
    prepared = A;
    return 0;
}

void atn_matmul_prepare_tokens_simd128(const atn_tensor *W, const float *X, int t0, int t1) {
    int type = W->type;
    if (dense_type(type)) return;
    const acts *A = &prepared;
    if (rx_type(type)) {
        quantize_acts_i8(X, t0, t1, A->n_in, (int8_t *)A->q8, (float *)A->d, (float *)A->s, (int32_t *)A->qsum, A->ntp);
        return;
    }
    int nibbles = type == ATN_TYPE_Q4_0 || type == ATN_TYPE_Q4_1;
    quantize_acts(X, t0, t1, A->n_in, (int16_t *)A->q, (float *)A->d, (float *)A->s, (int32_t *)A->qsum, A->ntp,
                  nibbles || type == ATN_TYPE_Q8_0 ? 1.0f / 256 : 1.0f);
    if (nibbles) scale_nibble_slots((int16_t *)A->q, t0, t1, A->n_in);
}

int atn_matmul_prepare_simd128(const atn_tensor *W, const float *X, int n_tok) {
    if (atn_matmul_prepare_begin_simd128(W, n_tok) != 0) return -1;
    atn_matmul_prepare_tokens_simd128(W, X, 0, n_tok);
    return 0;
}

void atn_matmul_prepared_simd128(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1) {
    int64_t n_in = W->ne[0], n_out = W->ne[1];
    int type = W->type;
    size_t rb = atn_row_size(type, n_in);
    const uint8_t *base = W->data;
    int64_t tr = tile_rows(rb);

    dense_rows_fn dense = type == ATN_TYPE_F32 ? rows_f32 : type == ATN_TYPE_F16 ? rows_f16
                        : type == ATN_TYPE_BF16 ? rows_bf16 : NULL;
    if (dense) {
        for (int64_t rt = r0; rt < r1; rt += tr) {
            int64_t re = rt + tr < r1 ? rt + tr : r1;
            for (int t0 = 0; t0 < n_tok; t0 += 4) dense(base, rb, n_in, rt, re, X, t0, n_tok - t0 < 4 ? n_tok - t0 : 4, Y, n_out);
        }
        return;
    }

    int64_t nb = n_in / atn_type_block_size(type);
#ifdef ATN_RELAXED_SIMD
    if (rx_type(type)) {
        decode_rows_fn rdfn = NULL;
        quant_rows_fn rfn = NULL;
        switch (type) {
        case ATN_TYPE_Q4_0: rdfn = drows_q4_0_rx; rfn = rows_q4_0_rx; break;
        case ATN_TYPE_Q4_1: rdfn = drows_q4_1_rx; rfn = rows_q4_1_rx; break;
        case ATN_TYPE_Q5_0: rdfn = drows_q5_0_rx; rfn = rows_q5_0_rx; break;
        case ATN_TYPE_Q5_1: rdfn = drows_q5_1_rx; rfn = rows_q5_1_rx; break;
        case ATN_TYPE_Q4_K: rdfn = drows_q4_K_rx; rfn = rows_q4_K_rx; break;
        default: rfn = rows_q5_K_rx; break; /* q5_K: the prompt kernel for one token too, as its twin */
        }
        if (n_tok == 1 && rdfn) {
            rdfn(base, rb, nb, r0, r1, &prepared, Y);
            return;
        }
        for (int64_t rt = r0; rt < r1; rt += tr) {
            int64_t re = rt + tr < r1 ? rt + tr : r1;
            for (int t0 = 0; t0 < n_tok; t0 += 4) rfn(base, rb, nb, rt, re, &prepared, t0, n_tok - t0 < 4 ? n_tok - t0 : 4, Y, n_out);
        }
        return;
    }
#endif
    if (n_tok == 1) {
        decode_rows_fn dfn = NULL;
        switch (type) {
        case ATN_TYPE_Q8_0: dfn = drows_q8_0; break;
        case ATN_TYPE_Q4_0: dfn = drows_q4_0; break;
        case ATN_TYPE_Q4_1: dfn = drows_q4_1; break;
        case ATN_TYPE_Q5_0: dfn = drows_q5_0; break;
        case ATN_TYPE_Q5_1: dfn = drows_q5_1; break;
        case ATN_TYPE_Q4_K: dfn = drows_q4_K; break;
        case ATN_TYPE_Q6_K: dfn = drows_q6_K; break;
        default: break;
        }
        if (dfn) {
            dfn(base, rb, nb, r0, r1, &prepared, Y);
            return;
        }
    }
    quant_rows_fn fn;
    switch (type) {
    case ATN_TYPE_Q8_0: fn = rows_q8_0; break;
    case ATN_TYPE_Q4_0: fn = rows_q4_0; break;
    case ATN_TYPE_Q4_1: fn = rows_q4_1; break;
    case ATN_TYPE_Q5_0: fn = rows_q5_0; break;
    case ATN_TYPE_Q5_1: fn = rows_q5_1; break;
    case ATN_TYPE_Q4_K: fn = rows_q4_K; break;
    case ATN_TYPE_Q5_K: fn = rows_q5_K; break;
    case ATN_TYPE_Q6_K: fn = rows_q6_K; break;
    default: return; /* atn_matmul_prepare_simd128 refused it */
    }
    for (int64_t rt = r0; rt < r1; rt += tr) {
        int64_t re = rt + tr < r1 ? rt + tr : r1;
        for (int t0 = 0; t0 < n_tok; t0 += 4) fn(base, rb, nb, rt, re, &prepared, t0, n_tok - t0 < 4 ? n_tok - t0 : 4, Y, n_out);
    }
}

void atn_matmul_rows_simd128(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1) {
    int64_t n_out = W->ne[1];
    if (r0 < 0 || r1 > n_out || r0 >= r1 || atn_matmul_prepare_simd128(W, X, n_tok) != 0) {
        atn_matmul_rows_ref(W, X, n_tok, Y, r0, r1); /* bad shapes (zero-filled), other types, no scratch */
        return;
    }
    atn_matmul_prepared_simd128(W, X, n_tok, Y, r0, r1);
}

/* ---- f32 helpers ------------------------------------------------------------ */

float atn_dot_f32_simd128(const float *a, const float *b, int n) {
    v128_t s0 = wasm_f32x4_splat(0), s1 = s0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
        s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4)));
    }
    float sum = hsum(wasm_f32x4_add(s0, s1));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

void atn_axpy_f32_simd128(float a, const float *x, float *y, int n) {
    v128_t va = wasm_f32x4_splat(a);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(va, wasm_v128_load(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

void atn_scale_f32_simd128(float *x, float a, int n) {
    v128_t va = wasm_f32x4_splat(a);
    int i = 0;
    for (; i + 4 <= n; i += 4) wasm_v128_store(x + i, wasm_f32x4_mul(wasm_v128_load(x + i), va));
    for (; i < n; i++) x[i] *= a;
}

/* Scores of 4 rows at a time: one load of `a` serves 4 rows, and the four
 * accumulators are reduced together by a 4x4 transpose-add. */
void atn_dot_rows_f32_simd128(const float *a, const float *x, size_t stride, int n, int len, float *out) {
    int j = 0;
    int l4 = len & ~3;
    for (; j + 4 <= n; j += 4) {
        const float *x0 = x + (size_t)j * stride, *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;
        v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
        for (int i = 0; i < l4; i += 4) {
            v128_t va = wasm_v128_load(a + i);
            c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(va, wasm_v128_load(x0 + i)));
            c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(va, wasm_v128_load(x1 + i)));
            c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(va, wasm_v128_load(x2 + i)));
            c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(va, wasm_v128_load(x3 + i)));
        }
        /* [sum c0, sum c1, sum c2, sum c3] */
        v128_t u = wasm_f32x4_add(UNPACKLO32(c0, c1), UNPACKHI32(c0, c1));
        v128_t v = wasm_f32x4_add(UNPACKLO32(c2, c3), UNPACKHI32(c2, c3));
        v128_t r = wasm_f32x4_add(UNPACKLO64(u, v), UNPACKHI64(u, v));
        if (l4 < len) {
            float t[4];
            wasm_v128_store(t, r);
            for (int i = l4; i < len; i++) {
                t[0] += a[i] * x0[i];
                t[1] += a[i] * x1[i];
                t[2] += a[i] * x2[i];
                t[3] += a[i] * x3[i];
            }
            r = wasm_v128_load(t);
        }
        wasm_v128_store(out + j, r);
    }
    for (; j < n; j++) out[j] = atn_dot_f32_simd128(a, x + (size_t)j * stride, len);
}

/* y in chunks of 16 floats held in 4 registers while every row passes. */
void atn_axpy_rows_f32_simd128(const float *w, const float *x, size_t stride, int n, int len, float *y) {
    int i = 0;
    for (; i + 16 <= len; i += 16) {
        v128_t y0 = wasm_v128_load(y + i), y1 = wasm_v128_load(y + i + 4);
        v128_t y2 = wasm_v128_load(y + i + 8), y3 = wasm_v128_load(y + i + 12);
        const float *xr = x + i;
        for (int j = 0; j < n; j++, xr += stride) {
            v128_t wj = wasm_f32x4_splat(w[j]);
            y0 = wasm_f32x4_add(y0, wasm_f32x4_mul(wj, wasm_v128_load(xr)));
            y1 = wasm_f32x4_add(y1, wasm_f32x4_mul(wj, wasm_v128_load(xr + 4)));
            y2 = wasm_f32x4_add(y2, wasm_f32x4_mul(wj, wasm_v128_load(xr + 8)));
            y3 = wasm_f32x4_add(y3, wasm_f32x4_mul(wj, wasm_v128_load(xr + 12)));
        }
        wasm_v128_store(y + i, y0);
        wasm_v128_store(y + i + 4, y1);
        wasm_v128_store(y + i + 8, y2);
        wasm_v128_store(y + i + 12, y3);
    }
    for (; i + 4 <= len; i += 4) {
        v128_t y0 = wasm_v128_load(y + i);
        const float *xr = x + i;
        for (int j = 0; j < n; j++, xr += stride) y0 = wasm_f32x4_add(y0, wasm_f32x4_mul(wasm_f32x4_splat(w[j]), wasm_v128_load(xr)));
        wasm_v128_store(y + i, y0);
    }
    for (; i < len; i++) {
        float acc = y[i];
        for (int j = 0; j < n; j++) acc += w[j] * x[(size_t)j * stride + i];
        y[i] = acc;
    }
}

/* ---- rows of f16 (the f16 KV cache) ------------------------------------------ */

/* f16 -> f32 of every half, exactly, as atn_f16_to_f32 does: the magnitude
 * bits shifted into f32 position and multiplied by 2^112 give normals and
 * subnormals (as h2f_x4); exponent 31 (infinity, NaN) would come out as
 * 2^16 * 1.m, so its exponent field is then filled with ones, which keeps the
 * mantissa (NaN payload) bits. The constants live in a struct the caller
 * builds once before its loops (keep(): no rematerialization per use). */
typedef struct { v128_t mag, sign, top, inf, scale; } h2f_k;

INLINE h2f_k h2f_consts(void) {
    h2f_k k = {keep(wasm_i32x4_splat(0x7fff)), keep(wasm_i32x4_splat(0x8000)), keep(wasm_i32x4_splat(0x7bff)),
               keep(wasm_i32x4_splat(0x7f800000)), keep(wasm_f32x4_splat(0x1p112f))};
    return k;
}

INLINE v128_t h2f_exact_x4(v128_t h, const h2f_k *k) { /* 4 f16 in the low halves of u32 lanes */
    v128_t mag = wasm_v128_and(h, k->mag);
    v128_t f = wasm_f32x4_mul(wasm_i32x4_shl(mag, 13), k->scale);
    f = wasm_v128_or(f, wasm_v128_and(wasm_i32x4_gt(mag, k->top), k->inf));
    return wasm_v128_or(f, wasm_i32x4_shl(wasm_v128_and(h, k->sign), 16));
}

/* 8 halves at p as two f32x4 */
INLINE void load8_h(const uint16_t *p, const h2f_k *k, v128_t *lo, v128_t *hi) {
    v128_t h = wasm_v128_load(p);
    *lo = h2f_exact_x4(wasm_u32x4_extend_low_u16x8(h), k);
    *hi = h2f_exact_x4(wasm_u32x4_extend_high_u16x8(h), k);
}

/* As atn_dot_rows_f32_simd128: 4 rows at a time against one load of `a`,
 * 8 values per step (one load of halves per row). */
void atn_dot_rows_f16_simd128(const float *a, const uint16_t *x, size_t stride, int n, int len, float *out) {
    const h2f_k k = h2f_consts();
    int l8 = len & ~7, j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint16_t *x0 = x + (size_t)j * stride, *x1 = x0 + stride, *x2 = x1 + stride, *x3 = x2 + stride;
        v128_t c0 = wasm_f32x4_splat(0), c1 = c0, c2 = c0, c3 = c0;
        for (int i = 0; i < l8; i += 8) {
            v128_t a0 = wasm_v128_load(a + i), a1 = wasm_v128_load(a + i + 4), lo, hi;
            load8_h(x0 + i, &k, &lo, &hi);
            c0 = wasm_f32x4_add(c0, wasm_f32x4_add(wasm_f32x4_mul(a0, lo), wasm_f32x4_mul(a1, hi)));
            load8_h(x1 + i, &k, &lo, &hi);
            c1 = wasm_f32x4_add(c1, wasm_f32x4_add(wasm_f32x4_mul(a0, lo), wasm_f32x4_mul(a1, hi)));
            load8_h(x2 + i, &k, &lo, &hi);
            c2 = wasm_f32x4_add(c2, wasm_f32x4_add(wasm_f32x4_mul(a0, lo), wasm_f32x4_mul(a1, hi)));
            load8_h(x3 + i, &k, &lo, &hi);
            c3 = wasm_f32x4_add(c3, wasm_f32x4_add(wasm_f32x4_mul(a0, lo), wasm_f32x4_mul(a1, hi)));
        }
        v128_t u = wasm_f32x4_add(UNPACKLO32(c0, c1), UNPACKHI32(c0, c1));
        v128_t v = wasm_f32x4_add(UNPACKLO32(c2, c3), UNPACKHI32(c2, c3));
        v128_t r = wasm_f32x4_add(UNPACKLO64(u, v), UNPACKHI64(u, v));
        if (l8 < len) {
            float t[4];
            wasm_v128_store(t, r);
            for (int i = l8; i < len; i++) {
                t[0] += a[i] * atn_f16_to_f32(x0[i]);
                t[1] += a[i] * atn_f16_to_f32(x1[i]);
                t[2] += a[i] * atn_f16_to_f32(x2[i]);
                t[3] += a[i] * atn_f16_to_f32(x3[i]);
            }
            r = wasm_v128_load(t);
        }
        wasm_v128_store(out + j, r);
    }
    for (; j < n; j++) {
        const uint16_t *xr = x + (size_t)j * stride;
        v128_t c = wasm_f32x4_splat(0);
        for (int i = 0; i < l8; i += 8) {
            v128_t lo, hi;
            load8_h(xr + i, &k, &lo, &hi);
            c = wasm_f32x4_add(c, wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(a + i), lo),
                                                 wasm_f32x4_mul(wasm_v128_load(a + i + 4), hi)));
        }
        float sum = hsum(c);
        for (int i = l8; i < len; i++) sum += a[i] * atn_f16_to_f32(xr[i]);
        out[j] = sum;
    }
}

/* As atn_axpy_rows_f32_simd128: y in chunks of 16 floats held in 4
 * registers while every row passes (two loads of 8 halves per row). */
void atn_axpy_rows_f16_simd128(const float *w, const uint16_t *x, size_t stride, int n, int len, float *y) {
    const h2f_k k = h2f_consts();
    int i = 0;
    for (; i + 16 <= len; i += 16) {
        v128_t y0 = wasm_v128_load(y + i), y1 = wasm_v128_load(y + i + 4);
        v128_t y2 = wasm_v128_load(y + i + 8), y3 = wasm_v128_load(y + i + 12);
        const uint16_t *xr = x + i;
        for (int j = 0; j < n; j++, xr += stride) {
            v128_t wj = wasm_f32x4_splat(w[j]), a, b, c, d;
            load8_h(xr, &k, &a, &b);
            load8_h(xr + 8, &k, &c, &d);
            y0 = wasm_f32x4_add(y0, wasm_f32x4_mul(wj, a));
            y1 = wasm_f32x4_add(y1, wasm_f32x4_mul(wj, b));
            y2 = wasm_f32x4_add(y2, wasm_f32x4_mul(wj, c));
            y3 = wasm_f32x4_add(y3, wasm_f32x4_mul(wj, d));
        }
        wasm_v128_store(y + i, y0);
        wasm_v128_store(y + i + 4, y1);
        wasm_v128_store(y + i + 8, y2);
        wasm_v128_store(y + i + 12, y3);
    }
    for (; i + 8 <= len; i += 8) {
        v128_t y0 = wasm_v128_load(y + i), y1 = wasm_v128_load(y + i + 4);
        const uint16_t *xr = x + i;
        for (int j = 0; j < n; j++, xr += stride) {
            v128_t wj = wasm_f32x4_splat(w[j]), a, b;
            load8_h(xr, &k, &a, &b);
            y0 = wasm_f32x4_add(y0, wasm_f32x4_mul(wj, a));
            y1 = wasm_f32x4_add(y1, wasm_f32x4_mul(wj, b));
        }
        wasm_v128_store(y + i, y0);
        wasm_v128_store(y + i + 4, y1);
    }
    for (; i < len; i++) {
        float acc = y[i];
        for (int j = 0; j < n; j++) acc += w[j] * atn_f16_to_f32(x[(size_t)j * stride + i]);
        y[i] = acc;
    }
}

/* exp of 4 floats: 2^n * p(r) with n = nearest(x / ln 2), r = x - n ln 2 (two
 * parts), p a degree-6 Taylor polynomial (|r| <= 0.35: relative error < 2e-7).
 * x is clamped to [-87.3, 88.3] so 2^n stays a normal float (exp of anything
 * below -87.3 gives 1.2e-38 instead of a subnormal or 0). */
INLINE v128_t exp_f32x4(v128_t x) {
    x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.3f)), wasm_f32x4_splat(88.3f));
    v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504f)));
    v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693145752f)));
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(1.42860677e-6f)));
    v128_t p = wasm_f32x4_splat(1.0f / 720);
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
    p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
    v128_t e = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_f32x4_mul(p, e);
}

void atn_silu_mul_f32_simd128(float *g, const float *u, int n) {
    int i = 0;
    const v128_t one = wasm_f32x4_splat(1.0f), zero = wasm_f32x4_splat(0.0f);
    for (; i + 4 <= n; i += 4) {
        v128_t x = wasm_v128_load(g + i);
        v128_t e = exp_f32x4(wasm_f32x4_sub(zero, x));
        wasm_v128_store(g + i, wasm_f32x4_mul(wasm_f32x4_div(x, wasm_f32x4_add(one, e)), wasm_v128_load(u + i)));
    }
    for (; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void atn_softmax_f32_simd128(float *x, int n, float scale) {
    int n4 = n & ~3, i;
    const v128_t vs = wasm_f32x4_splat(scale);
    float mx = -INFINITY;
    if (n4) {
        v128_t m = wasm_f32x4_splat(-INFINITY);
        for (i = 0; i < n4; i += 4) {
            v128_t v = wasm_f32x4_mul(wasm_v128_load(x + i), vs);
            wasm_v128_store(x + i, v);
            m = wasm_f32x4_max(m, v);
        }
        m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
        m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
        mx = wasm_f32x4_extract_lane(m, 0);
    }
    for (i = n4; i < n; i++) {
        x[i] *= scale;
        if (x[i] > mx) mx = x[i];
    }
    v128_t vm = wasm_f32x4_splat(mx), acc = wasm_f32x4_splat(0.0f);
    for (i = 0; i < n4; i += 4) {
        v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), vm));
        wasm_v128_store(x + i, e);
        acc = wasm_f32x4_add(acc, e);
    }
    float sum = hsum(acc);
    for (i = n4; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    atn_scale_f32_simd128(x, inv, n);
}

#endif /* ATN_HAVE_SIMD128 */
