/* wasm_sse.h — the subset of <wasm_simd128.h> that simd128.c uses, mapped to
 * x86 SSE4.1, so the native build runs (and the native tests check, under
 * ASan/UBSan too) the very same kernel code as the WebAssembly product.
 *
 * Each function has the semantics of its wasm namesake for the operands
 * simd128.c gives it: shift counts are below the lane width, and
 * wasm_i32x4_shuffle is only used with both operands equal. Where SSE's
 * own instruction differs from WebAssembly on special values, the mapping
 * adds the fix-up, so the native build (the reference) computes what the
 * WebAssembly build computes on every input, NaN and infinities included:
 * i32x4.trunc_sat_f32x4 gives 0 for NaN and saturates to INT32_MIN/MAX
 * (cvttps gives INT32_MIN for all three); f32x4.min/max return NaN if either
 * operand is NaN and order -0 below +0 (minps/maxps return the second
 * operand in both cases). tests/c/test_kernels.c checks these on both builds.
 */
#ifndef ATN_WASM_SSE_H
#define ATN_WASM_SSE_H

#include <stdint.h>
#include <smmintrin.h>

typedef __m128i v128_t;

#define WS_INLINE static inline __attribute__((always_inline))
#define WS_F(v) _mm_castsi128_ps(v)
#define WS_I(v) _mm_castps_si128(v)

WS_INLINE v128_t wasm_v128_load(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
WS_INLINE void wasm_v128_store(void *p, v128_t v) { _mm_storeu_si128((__m128i *)p, v); }
WS_INLINE v128_t wasm_v128_and(v128_t a, v128_t b) { return _mm_and_si128(a, b); }
WS_INLINE v128_t wasm_v128_or(v128_t a, v128_t b) { return _mm_or_si128(a, b); }

WS_INLINE v128_t wasm_i16x8_splat(int16_t x) { return _mm_set1_epi16(x); }
#define wasm_i16x8_make(a, b, c, d, e, f, g, h) _mm_setr_epi16(a, b, c, d, e, f, g, h)
WS_INLINE v128_t wasm_i16x8_shl(v128_t v, int n) { return _mm_sll_epi16(v, _mm_cvtsi32_si128(n)); }
WS_INLINE v128_t wasm_i16x8_shr(v128_t v, int n) { return _mm_sra_epi16(v, _mm_cvtsi32_si128(n)); }
WS_INLINE v128_t wasm_u16x8_shr(v128_t v, int n) { return _mm_srl_epi16(v, _mm_cvtsi32_si128(n)); }
WS_INLINE v128_t wasm_i16x8_eq(v128_t a, v128_t b) { return _mm_cmpeq_epi16(a, b); }
WS_INLINE v128_t wasm_i16x8_ne(v128_t a, v128_t b) {
    return _mm_xor_si128(_mm_cmpeq_epi16(a, b), _mm_set1_epi32(-1));
}
WS_INLINE v128_t wasm_i16x8_mul(v128_t a, v128_t b) { return _mm_mullo_epi16(a, b); }
WS_INLINE v128_t wasm_i16x8_sub(v128_t a, v128_t b) { return _mm_sub_epi16(a, b); }
WS_INLINE v128_t wasm_i16x8_add(v128_t a, v128_t b) { return _mm_add_epi16(a, b); }

WS_INLINE v128_t wasm_i32x4_splat(int32_t x) { return _mm_set1_epi32(x); }
#define wasm_i32x4_make(a, b, c, d) _mm_setr_epi32(a, b, c, d)
WS_INLINE v128_t wasm_i32x4_add(v128_t a, v128_t b) { return _mm_add_epi32(a, b); }
WS_INLINE v128_t wasm_i32x4_sub(v128_t a, v128_t b) { return _mm_sub_epi32(a, b); }
WS_INLINE v128_t wasm_i32x4_shl(v128_t v, int n) { return _mm_sll_epi32(v, _mm_cvtsi32_si128(n)); }
WS_INLINE v128_t wasm_i32x4_gt(v128_t a, v128_t b) { return _mm_cmpgt_epi32(a, b); }
WS_INLINE v128_t wasm_i32x4_dot_i16x8(v128_t a, v128_t b) { return _mm_madd_epi16(a, b); }
#define wasm_i32x4_extract_lane(v, i) _mm_extract_epi32(v, i)
/* only shuffle(v, v, ...) is used */
#define wasm_i32x4_shuffle(a, b, c0, c1, c2, c3) _mm_shuffle_epi32(a, _MM_SHUFFLE(c3, c2, c1, c0))
WS_INLINE v128_t wasm_i32x4_trunc_sat_f32x4(v128_t v) {
    __m128 f = WS_F(v);
    __m128i r = _mm_cvttps_epi32(f);                           /* INT32_MIN for NaN and out of range */
    __m128i hi = WS_I(_mm_cmpge_ps(f, _mm_set1_ps(2147483648.0f))); /* >= 2^31: INT32_MIN ^ ~0 = INT32_MAX */
    __m128i num = WS_I(_mm_cmpord_ps(f, f));                   /* NaN lanes -> 0 */
    return _mm_and_si128(_mm_xor_si128(r, hi), num);
}
WS_INLINE v128_t wasm_u32x4_extend_low_u16x8(v128_t v) { return _mm_cvtepu16_epi32(v); }
WS_INLINE v128_t wasm_u32x4_extend_high_u16x8(v128_t v) { return _mm_cvtepu16_epi32(_mm_srli_si128(v, 8)); }

WS_INLINE v128_t wasm_f32x4_splat(float x) { return WS_I(_mm_set1_ps(x)); }
WS_INLINE v128_t wasm_v128_load32_splat(const void *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm_set1_epi32(v);
}
WS_INLINE v128_t wasm_f32x4_add(v128_t a, v128_t b) { return WS_I(_mm_add_ps(WS_F(a), WS_F(b))); }
WS_INLINE v128_t wasm_f32x4_sub(v128_t a, v128_t b) { return WS_I(_mm_sub_ps(WS_F(a), WS_F(b))); }
WS_INLINE v128_t wasm_f32x4_mul(v128_t a, v128_t b) { return WS_I(_mm_mul_ps(WS_F(a), WS_F(b))); }
/* maxps/minps in both operand orders: they differ exactly where a NaN or a
 * pair of zeros of opposite sign is involved; merge so a NaN wins and
 * +0 > -0, then make NaNs the canonical quiet NaN (as V8 does). */
WS_INLINE v128_t wasm_f32x4_max(v128_t a, v128_t b) {
    __m128 x = WS_F(a), y = WS_F(b);
    __m128 m1 = _mm_max_ps(x, y), m2 = _mm_max_ps(y, x);
    __m128 diff = _mm_xor_ps(m1, m2);                 /* NaN bits, or the sign of a -0/+0 pair */
    __m128 r = _mm_sub_ps(_mm_or_ps(m1, diff), diff); /* NaN stays NaN; -0 - (-0) = +0 */
    __m128 nan = _mm_cmpunord_ps(r, r);
    return WS_I(_mm_andnot_ps(WS_F(_mm_srli_epi32(WS_I(nan), 10)), r));
}
WS_INLINE v128_t wasm_f32x4_min(v128_t a, v128_t b) {
    __m128 x = WS_F(a), y = WS_F(b);
    __m128 r = _mm_or_ps(_mm_min_ps(x, y), _mm_min_ps(y, x)); /* a NaN or -0 from either order wins */
    __m128 nan = _mm_cmpunord_ps(r, r);
    r = _mm_or_ps(r, nan);
    return WS_I(_mm_andnot_ps(WS_F(_mm_srli_epi32(WS_I(nan), 10)), r));
}
WS_INLINE v128_t wasm_f32x4_div(v128_t a, v128_t b) { return WS_I(_mm_div_ps(WS_F(a), WS_F(b))); }
WS_INLINE v128_t wasm_f32x4_abs(v128_t a) { return _mm_and_si128(a, _mm_set1_epi32(0x7fffffff)); }
WS_INLINE v128_t wasm_f32x4_nearest(v128_t a) {
    return WS_I(_mm_round_ps(WS_F(a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
WS_INLINE v128_t wasm_f32x4_convert_i32x4(v128_t a) { return WS_I(_mm_cvtepi32_ps(a)); }
WS_INLINE float wasm_f32x4_extract_lane_(v128_t v, int i) {
    float f[4];
    _mm_storeu_ps(f, WS_F(v));
    return f[i];
}
#define wasm_f32x4_extract_lane(v, i) wasm_f32x4_extract_lane_(v, i)

/* The relaxed-SIMD kernels' byte operations (simd128.c, ATN_RELAXED_SIMD; the
 * relaxed multiply itself is SSSE3's pmaddubsw, called there by name). */
WS_INLINE v128_t wasm_i8x16_splat(int8_t x) { return _mm_set1_epi8(x); }
WS_INLINE v128_t wasm_i8x16_eq(v128_t a, v128_t b) { return _mm_cmpeq_epi8(a, b); }
#define wasm_i8x16_make(...) _mm_setr_epi8(__VA_ARGS__)
/* only shuffle(v, v, ...) with constant lanes below 16 is used */
#define wasm_i8x16_shuffle(a, b, ...) _mm_shuffle_epi8(a, _mm_setr_epi8(__VA_ARGS__))

#endif
