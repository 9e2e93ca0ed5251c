/* dispatch.c — one entry point per kernel; picks the SIMD128 version when the
 * build has it: the WASM product, or a native x86 build with SSE4.1 (where
 * simd128.c runs through wasm_sse.h); the scalar reference otherwise. */
#include <stdlib.h>
#include <string.h>
#include "kernels_impl.h"
#include "quant.h"

static void *scratch_raw;  /* what malloc returned */
static void *scratch;      /* 64-byte aligned inside it */
static size_t scratch_cap;

void *atn_kernels_scratch(size_t bytes) {
    if (bytes <= scratch_cap) return scratch;
    size_t want = bytes + bytes / 4; /* grow with headroom: fewer reallocations */
    if (want < bytes || want > SIZE_MAX - 64) return NULL;
    void *p = malloc(want + 64);
    if (!p) return NULL;
    free(scratch_raw);
    scratch_raw = p;
    scratch = (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
    scratch_cap = want;
    return scratch;
}

void atn_matmul_rows(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1) {
#ifdef ATN_HAVE_SIMD128
    atn_matmul_rows_simd128(W, X, n_tok, Y, r0, r1);
#else
    atn_matmul_rows_ref(W, X, n_tok, Y, r0, r1);
#endif
}

void atn_matmul(const atn_tensor *W, const float *X, int n_tok, float *Y) {
    atn_matmul_rows(W, X, n_tok, Y, 0, W->ne[1]);
}

void atn_get_row(const atn_tensor *W, int64_t r, float *out) {
    int64_t n = W->ne[0];
    size_t row_bytes = atn_row_size(W->type, n);
    if (row_bytes == 0 || r < 0 || r >= W->ne[1]) {
        memset(out, 0, (size_t)(n > 0 ? n : 0) * sizeof(float));
        return;
    }
    atn_dequantize_row(W->type, (const uint8_t *)W->data + (size_t)r * row_bytes, out, n);
}

float atn_dot_f32(const float *a, const float *b, int n) {
#ifdef ATN_HAVE_SIMD128
    return atn_dot_f32_simd128(a, b, n);
#else
    return atn_dot_f32_ref(a, b, n);
#endif
}

void atn_axpy_f32(float a, const float *x, float *y, int n) {
#ifdef ATN_HAVE_SIMD128
    atn_axpy_f32_simd128(a, x, y, n);
#else
    atn_axpy_f32_ref(a, x, y, n);
#endif
}

void atn_scale_f32(float *x, float a, int n) {
#ifdef ATN_HAVE_SIMD128
    atn_scale_f32_simd128(x, a, n);
#else
    atn_scale_f32_ref(x, a, n);
#endif
}

void atn_dot_rows_f32(const float *a, const float *x, size_t stride, int n, int len, float *out) {
#ifdef ATN_HAVE_SIMD128
    atn_dot_rows_f32_simd128(a, x, stride, n, len, out);
#else
    atn_dot_rows_f32_ref(a, x, stride, n, len, out);
#endif
}

void atn_axpy_rows_f32(const float *w, const float *x, size_t stride, int n, int len, float *y) {
#ifdef ATN_HAVE_SIMD128
    atn_axpy_rows_f32_simd128(w, x, stride, n, len, y);
#else
    atn_axpy_rows_f32_ref(w, x, stride, n, len, y);
#endif
}

void atn_silu_mul_f32(float *g, const float *u, int n) {
#ifdef ATN_HAVE_SIMD128
    atn_silu_mul_f32_simd128(g, u, n);
#else
    atn_silu_mul_f32_ref(g, u, n);
#endif
}

void atn_softmax_f32(float *x, int n, float scale) {
#ifdef ATN_HAVE_SIMD128
    atn_softmax_f32_simd128(x, n, scale);
#else
    atn_softmax_f32_ref(x, n, scale);
#endif
}

const char *atn_kernels_name(void) {
#ifdef ATN_HAVE_SIMD128
#ifdef __wasm_simd128__
    return "simd128";
#else
    return "simd128-sse4.1";
#endif
#else
    return "scalar";
#endif
}
