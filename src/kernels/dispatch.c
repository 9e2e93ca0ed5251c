/* dispatch.c — one entry point per kernel; picks the SIMD128 version when the
 * build has it: the WASM product, or a native x86 build with SSE4.1 (where
 * simd128.c runs through wasm_sse.h); the scalar reference otherwise. */
#include <stdlib.h>
#include <string.h>
#include "kernels_impl.h"
#include "quant.h"
#include "threads.h"

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

#ifdef ATN_HAVE_SIMD128
/* A matmul over the pool: X is quantized by token ranges (each token's levels
 * and scales depend on that token alone), then each thread computes whole
 * rows, so the result is the one-thread result bit for bit whatever the split. */
typedef struct {
    const atn_tensor *W;
    const float *X;
    float *Y;
    int n_tok;
    int64_t r0;
} matmul_job;

static void matmul_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    const matmul_job *j = ctx;
    (void)thread;
    atn_matmul_prepared_simd128(j->W, j->X, j->n_tok, j->Y, j->r0 + i0, j->r0 + i1);
}

/* quantizing the activations, by tokens: on one thread it was 3.5 % of a
 * 2-thread prompt's time, the other thread spinning meanwhile */
static void prepare_task(void *ctx, int64_t t0, int64_t t1, int thread) {
    const matmul_job *j = ctx;
    (void)thread;
    atn_matmul_prepare_tokens_simd128(j->W, j->X, (int)t0, (int)t1);
}

/* Below this many weight bytes x tokens a split costs more than it saves. */
#define PARALLEL_MIN_WORK (64 * 1024)

/* X quantized for W0's type (by token ranges when there are enough tokens),
 * then `rows` rows computed by `task` over the pool */
static void run_on_pool(const atn_tensor *W0, const float *X, int n_tok, int64_t rows, int threads, atn_task_fn task,
                        void *ctx) {
    matmul_job j = {W0, X, NULL, n_tok, 0};
    if (n_tok >= 2 * threads) atn_parallel_for(n_tok, (n_tok + threads - 1) / threads, prepare_task, &j);
    else atn_matmul_prepare_tokens_simd128(W0, X, 0, n_tok);
    /* about four chunks per thread (for balance), of at least 8 rows */
    int64_t grain = (rows + 4 * threads - 1) / (4 * threads);
    if (grain < 8) grain = 8;
    atn_parallel_for(rows, grain, task, ctx);
}
#endif

void atn_matmul_rows(const atn_tensor *W, const float *X, int n_tok, float *Y, int64_t r0, int64_t r1) {
#ifdef ATN_HAVE_SIMD128
    int threads = atn_threads_get();
    if (threads > 1 && r0 >= 0 && r0 < r1 && r1 <= W->ne[1] && n_tok > 0) {
        size_t rb = atn_row_size(W->type, W->ne[0]);
        int64_t rows = r1 - r0;
        if (rb && (double)rb * (double)rows * (double)n_tok >= PARALLEL_MIN_WORK &&
            atn_matmul_prepare_begin_simd128(W, n_tok) == 0) {
            matmul_job j = {W, X, Y, n_tok, r0};
            run_on_pool(W, X, n_tok, rows, threads, matmul_task, &j);
            return;
        }
    }
    atn_matmul_rows_simd128(W, X, n_tok, Y, r0, r1);
#else
    atn_matmul_rows_ref(W, X, n_tok, Y, r0, r1);
#endif
}

void atn_matmul(const atn_tensor *W, const float *X, int n_tok, float *Y) {
    atn_matmul_rows(W, X, n_tok, Y, 0, W->ne[1]);
}

#ifdef ATN_HAVE_SIMD128
/* Several matrices over one input: rows numbered through all of them, so one
 * job (one wake-up of the pool, one wait) covers what were up to four. */
typedef struct {
    const atn_tensor *const *W;
    float *const *Y;
    const float *X;
    int n, n_tok;
    int64_t start[ATN_MATMUL_GROUP_MAX + 1]; /* first row of each matrix in the numbering */
} group_job;

static void group_task(void *ctx, int64_t i0, int64_t i1, int thread) {
    const group_job *g = ctx;
    (void)thread;
    for (int m = 0; m < g->n && g->start[m] < i1; m++) {
        int64_t lo = g->start[m], hi = g->start[m + 1];
        if (i0 >= hi) continue;
        int64_t a = i0 > lo ? i0 : lo, b = i1 < hi ? i1 : hi;
        atn_matmul_prepared_simd128(g->W[m], g->X, g->n_tok, g->Y[m], a - lo, b - lo);
    }
}

/* The group can share one quantized input: same type, same width. */
static int same_input(const atn_tensor *const *W, int n) {
    for (int m = 1; m < n; m++)
        if (W[m]->type != W[0]->type || W[m]->ne[0] != W[0]->ne[0]) return 0;
    return 1;
}
#endif

void atn_matmul_group(const atn_tensor *const *W, float *const *Y, int n, const float *X, int n_tok) {
#ifdef ATN_HAVE_SIMD128
    if (n >= 1 && n <= ATN_MATMUL_GROUP_MAX && n_tok > 0 && same_input(W, n) &&
        atn_matmul_prepare_begin_simd128(W[0], n_tok) == 0) {
        group_job g = {W, Y, X, n, n_tok, {0}};
        for (int m = 0; m < n; m++) g.start[m + 1] = g.start[m] + W[m]->ne[1];
        int64_t rows = g.start[n];
        int threads = atn_threads_get();
        size_t rb = atn_row_size(W[0]->type, W[0]->ne[0]);
        if (threads > 1 && (double)rb * (double)rows * (double)n_tok >= PARALLEL_MIN_WORK) {
            run_on_pool(W[0], X, n_tok, rows, threads, group_task, &g);
        } else {
            atn_matmul_prepare_tokens_simd128(W[0], X, 0, n_tok);
            group_task(&g, 0, rows, 0);
        }
        return;
    }
#endif
    for (int m = 0; m < n; m++) atn_matmul(W[m], X, n_tok, Y[m]);
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

void atn_dot_rows_f16(const float *a, const uint16_t *x, size_t stride, int n, int len, float *out) {
#ifdef ATN_HAVE_SIMD128
    atn_dot_rows_f16_simd128(a, x, stride, n, len, out);
#else
    atn_dot_rows_f16_ref(a, x, stride, n, len, out);
#endif
}

void atn_axpy_rows_f16(const float *w, const uint16_t *x, size_t stride, int n, int len, float *y) {
#ifdef ATN_HAVE_SIMD128
    atn_axpy_rows_f16_simd128(w, x, stride, n, len, y);
#else
    atn_axpy_rows_f16_ref(w, x, stride, n, len, y);
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
#if defined(__wasm_simd128__) && defined(ATN_RELAXED_SIMD)
    return "simd128-relaxed";
#elif defined(__wasm_simd128__)
    return "simd128";
#elif defined(ATN_RELAXED_SIMD)
    return "simd128-sse4.1-relaxed";
#else
    return "simd128-sse4.1";
#endif
#else
    return "scalar";
#endif
}
