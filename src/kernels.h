/* kernels.h — the hot loops: quantized matrix x activations, and f32 vector
 * helpers for attention. One dispatch, several implementations:
 *   kernels/scalar.c   plain C, the reference every other version is tested against
 *   kernels/simd128.c  WebAssembly SIMD128 (built when __wasm_simd128__ is defined)
 * Weights stay in their GGUF block format; activations are quantized to
 * atn_block_q8a once per matmul so the inner loops are integer dot products.
 */
#ifndef ATN_KERNELS_H
#define ATN_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include "tensor.h"

/* Activations for integer dot products: 32 values, scale d, and s = d * sum(qs)
 * (needed by formats with an offset: q4_1, q5_1, q4_K, q5_K). */
typedef struct { float d; float s; int8_t qs[32]; } atn_block_q8a;

void atn_quantize_act(const float *x, atn_block_q8a *y, int64_t n); /* n % 32 == 0 */

/* Y[t * n_out + r] = dot(row r of W, X[t * n_in ...]) for t < n_tok, r < n_out,
 * where n_in = W->ne[0], n_out = W->ne[1]. Works for every type in tensor.h.
 * Y must not overlap X. Allocates no memory in the hot path beyond one static
 * scratch it grows. With several threads (threads.h) the rows are split over
 * the pool, with the same result bit for bit; call it from the driving
 * thread only, never from inside a parallel task. */
void atn_matmul(const atn_tensor *W, const float *X, int n_tok, float *Y);
/* Same, rows [r0, r1) only (for splitting work). */
void atn_matmul_rows(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1);
/* Y[i] = X W[i]^T for i < n (n <= ATN_MATMUL_GROUP_MAX), as n atn_matmul
 * calls would give them bit for bit: the matrices that read one input
 * (q, k, v; gate, up). When they share a type and a width, X is quantized
 * once and the rows of all of them are split over the pool as one job. */
#define ATN_MATMUL_GROUP_MAX 4
void atn_matmul_group(const atn_tensor *const *W, float *const *Y, int n, const float *X, int n_tok);
/* The scalar reference of atn_matmul (always available, used by tests). */
void atn_matmul_ref(const atn_tensor *W, const float *X, int n_tok, float *Y);
/* Row `r` of an embedding table (any type) as f32. */
void atn_get_row(const atn_tensor *W, int64_t r, float *out);

/* f32 helpers (SIMD where built). */
float atn_dot_f32(const float *a, const float *b, int n);
void atn_axpy_f32(float a, const float *x, float *y, int n); /* y += a * x */
void atn_scale_f32(float *x, float a, int n);
/* Batched forms for attention over n cached rows x + j*stride (len floats
 * each), without a call per row:
 *   atn_dot_rows_f32:  out[j] = dot(a, row j)          (scores; out must not overlap)
 *   atn_axpy_rows_f32: y += sum_j w[j] * row j         (weighted sum of values) */
void atn_dot_rows_f32(const float *a, const float *x, size_t stride, int n, int len, float *out);
void atn_axpy_rows_f32(const float *w, const float *x, size_t stride, int n, int len, float *y);
/* The same over rows of IEEE halves (an f16 KV cache): each value is read
 * back exactly (subnormals, signed zeros, infinities and NaNs included) and
 * the sums are in f32. */
void atn_dot_rows_f16(const float *a, const uint16_t *x, size_t stride, int n, int len, float *out);
void atn_axpy_rows_f16(const float *w, const uint16_t *x, size_t stride, int n, int len, float *y);
/* g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i]  (SwiGLU) */
void atn_silu_mul_f32(float *g, const float *u, int n);
/* x = softmax(scale * x) in place (max subtracted first); n >= 1 */
void atn_softmax_f32(float *x, int n, float scale);

/* Which implementation is active: "simd128", "scalar", ... */
const char *atn_kernels_name(void);

#endif
