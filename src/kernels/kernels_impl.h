/* kernels_impl.h — what the kernel files share with each other (not part of
 * the core's interface; include kernels.h for that). */
#ifndef ATN_KERNELS_IMPL_H
#define ATN_KERNELS_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "kernels.h"

/* A static buffer of at least `bytes`, 64-byte aligned, grown on demand and
 * reused by every call (the core is single-threaded). NULL if it cannot grow;
 * the callers then fall back to a path that needs no scratch. */
void *atn_kernels_scratch(size_t bytes);

/* scalar.c: the reference, rows [r0, r1) of Y (row stride n_out = W->ne[1]). */
void atn_matmul_rows_ref(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1);
float atn_dot_f32_ref(const float *a, const float *b, int n);
void atn_axpy_f32_ref(float a, const float *x, float *y, int n);
void atn_scale_f32_ref(float *x, float a, int n);
void atn_dot_rows_f32_ref(const float *a, const float *x, size_t stride, int n, int len, float *out);
void atn_axpy_rows_f32_ref(const float *w, const float *x, size_t stride, int n, int len, float *y);
void atn_dot_rows_f16_ref(const float *a, const uint16_t *x, size_t stride, int n, int len, float *out);
void atn_axpy_rows_f16_ref(const float *w, const uint16_t *x, size_t stride, int n, int len, float *y);
void atn_silu_mul_f32_ref(float *g, const float *u, int n);
void atn_softmax_f32_ref(float *x, int n, float scale);
/* dot of `nb` weight blocks of `type` with the matching quantized activations
 * (for K-quants a weight block spans 8 activation blocks). */
float atn_vec_dot_q_ref(int type, const void *w, const atn_block_q8a *a, int64_t nb);

/* simd128.c: WebAssembly SIMD128, or natively its SSE4.1 port (wasm_sse.h) */
#if defined(__wasm_simd128__) || defined(__SSE4_1__)
#define ATN_HAVE_SIMD128 1
/* The relaxed-SIMD build (clang -mrelaxed-simd: dist/atento*-relaxed.wasm)
 * takes simd128.c's 8-bit multiply kernels (q4_0); natively,
 * -DATN_RELAXED_SIMD runs the same kernels on SSSE3 (for the tests). */
#if defined(__wasm_relaxed_simd__) && !defined(ATN_RELAXED_SIMD)
#define ATN_RELAXED_SIMD 1
#endif
void atn_matmul_rows_simd128(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1);
/* The same in two steps, so several threads can share one quantization of X:
 * prepare (0: ready; -1: use the reference) on one thread, then rows
 * [r0, r1) of Y from any thread (valid rows only) until the next prepare. */
int atn_matmul_prepare_simd128(const atn_tensor *W, const float *X, int n_tok);
/* the same in two steps, so that threads can quantize token ranges: begin
 * (one thread; 0: ready, -1: use the reference), then tokens [t0, t1) from
 * any thread, disjoint ranges covering [0, n_tok) */
int atn_matmul_prepare_begin_simd128(const atn_tensor *W, int n_tok);
void atn_matmul_prepare_tokens_simd128(const atn_tensor *W, const float *X, int t0, int t1);
void atn_matmul_prepared_simd128(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1);
float atn_dot_f32_simd128(const float *a, const float *b, int n);
void atn_axpy_f32_simd128(float a, const float *x, float *y, int n);
void atn_scale_f32_simd128(float *x, float a, int n);
void atn_dot_rows_f32_simd128(const float *a, const float *x, size_t stride, int n, int len, float *out);
void atn_axpy_rows_f32_simd128(const float *w, const float *x, size_t stride, int n, int len, float *y);
void atn_dot_rows_f16_simd128(const float *a, const uint16_t *x, size_t stride, int n, int len, float *out);
void atn_axpy_rows_f16_simd128(const float *w, const uint16_t *x, size_t stride, int n, int len, float *y);
void atn_silu_mul_f32_simd128(float *g, const float *u, int n);
void atn_softmax_f32_simd128(float *x, int n, float scale);
#endif

#endif
