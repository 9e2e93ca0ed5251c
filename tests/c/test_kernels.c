/* test_kernels.c — every matmul implementation against the scalar reference,
 * for every weight type, on random data with odd sizes; and the f32 helpers.
 *
 * Natively atn_matmul is the scalar path; compiled to WASM with -msimd128 it
 * is the SIMD128 one, which is what this test exists to check
 * (tests/wasm_ctests.sh runs it that way).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "kernels/kernels_impl.h"
#include "quant.h"
#include "tensor.h"
#include "test_util.h"



static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float rnd_uniform(void) { return (rnd_u32() + 0.5f) / 4294967296.0f; }
static float rnd_normal(void) {
    float u = rnd_uniform(), v = rnd_uniform();
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static const int TYPES[] = {ATN_TYPE_F32, ATN_TYPE_F16, ATN_TYPE_BF16, ATN_TYPE_Q8_0, ATN_TYPE_Q4_0,
                            ATN_TYPE_Q4_1, ATN_TYPE_Q5_0, ATN_TYPE_Q5_1, ATN_TYPE_Q4_K, ATN_TYPE_Q5_K,
                            ATN_TYPE_Q6_K};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])

static int is_dense(int type) { return type == ATN_TYPE_F32 || type == ATN_TYPE_F16 || type == ATN_TYPE_BF16; }

/* One case: n_out rows of n_in, n_tok tokens. Compares
 *  1. atn_matmul with atn_matmul_ref (tight: same integer sums, only the
 *     float summation order may differ),
 *  2. atn_matmul with an f32 dot of the dequantized weights (loose: the
 *     activations are quantized to 8 bits for quantized weights),
 *  3. atn_matmul_rows on a sub-range writes only that range. */
static void check_case(int type, int n_in, int n_out, int n_tok, float offset) {
    size_t row_bytes = atn_row_size(type, n_in);
    uint8_t *wq = malloc(row_bytes * n_out);
    float *wf = malloc(sizeof(float) * n_in * n_out);
    float *x = malloc(sizeof(float) * n_in * n_tok);
    float *y = malloc(sizeof(float) * n_out * n_tok);
    float *yr = malloc(sizeof(float) * n_out * n_tok);
    float *ys = malloc(sizeof(float) * (n_out * n_tok > n_in ? n_out * n_tok : n_in));
    float *wd = malloc(sizeof(float) * n_in);
    if (!wq || !wf || !x || !y || !yr || !ys || !wd) {
        CHECK(0, "out of memory");
        goto done;
    }
    for (int i = 0; i < n_in * n_out; i++) wf[i] = rnd_normal() * 0.5f + offset;
    for (int i = 0; i < n_in * n_tok; i++) x[i] = rnd_normal();
    /* make some activations large in one block to stress the act scales */
    x[n_in / 2] *= 8.0f;
    for (int r = 0; r < n_out; r++) {
        size_t got = atn_quantize_row(type, wf + (size_t)r * n_in, wq + r * row_bytes, n_in);
        if (got != row_bytes) {
            CHECK(0, "%s: quantize_row returned %zu, want %zu", atn_type_name(type), got, row_bytes);
            goto done;
        }
    }
    atn_tensor W = {.name = "w", .type = type, .n_dims = 2, .ne = {n_in, n_out, 1, 1},
                    .data = wq, .nbytes = row_bytes * n_out};
    atn_matmul(&W, x, n_tok, y);
    atn_matmul_ref(&W, x, n_tok, yr);

    float worst_ref = 0, worst_deq = 0;
    int bad_ref = 0, bad_deq = 0;
    for (int r = 0; r < n_out; r++) {
        atn_dequantize_row(type, wq + r * row_bytes, wd, n_in);
        for (int t = 0; t < n_tok; t++) {
            const float *xt = x + (size_t)t * n_in;
            double exact = 0, mag = 0, qerr = 0;
            for (int j = 0; j < n_in; j++) {
                exact += (double)wd[j] * xt[j];
                mag += fabs((double)wd[j] * xt[j]);
            }
            /* bound on the activation-quantization error: half a step of
             * each activation block's scale, times |w| */
            if (!is_dense(type)) {
                for (int b = 0; b < n_in / 32; b++) {
                    float amax = 0;
                    for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xt[32 * b + j]));
                    for (int j = 0; j < 32; j++) qerr += fabs(wd[32 * b + j]) * (amax / 127.0) * 0.5;
                }
            }
            float got = y[t * n_out + r], ref = yr[t * n_out + r];
            float e_ref = fabsf(got - ref) / (float)(mag + 1e-6);
            if (e_ref > worst_ref) worst_ref = e_ref;
            if (e_ref > 2e-5f) bad_ref++;
            double tol = qerr * 1.01 + 2e-5 * mag + 1e-6;
            double e_deq = fabs(got - exact);
            if (e_deq / (mag + 1e-6) > worst_deq) worst_deq = (float)(e_deq / (mag + 1e-6));
            if (e_deq > tol) bad_deq++;
        }
    }
    CHECK(bad_ref == 0, "%s n_in=%d n_out=%d n_tok=%d: %d outputs differ from the reference (worst rel %.3g)",
          atn_type_name(type), n_in, n_out, n_tok, bad_ref, worst_ref);
    CHECK(bad_deq == 0, "%s n_in=%d n_out=%d n_tok=%d: %d outputs off the dequantized f32 dot (worst rel %.3g)",
          atn_type_name(type), n_in, n_out, n_tok, bad_deq, worst_deq);

    /* rows [r0, r1) only: the others must stay untouched */
    if (n_out >= 3) {
        int r0 = 1, r1 = n_out - 1;
        for (int i = 0; i < n_out * n_tok; i++) ys[i] = -12345.0f;
        atn_matmul_rows(&W, x, n_tok, ys, r0, r1);
        int bad = 0;
        for (int t = 0; t < n_tok; t++)
            for (int r = 0; r < n_out; r++) {
                float v = ys[t * n_out + r];
                if (r < r0 || r >= r1) bad += v != -12345.0f;
                else bad += fabsf(v - y[t * n_out + r]) > 1e-5f * (1 + fabsf(y[t * n_out + r]));
            }
        CHECK(bad == 0, "%s matmul_rows [%d,%d) of %d x %d tokens: %d wrong", atn_type_name(type), r0, r1, n_out,
              n_tok, bad);
    }

    /* each token alone (the one-token decode kernels) gives bit for bit
     * what it gives inside the batch: decoding equals prefilling */
    if (n_tok > 1) {
        int bad = 0;
        for (int t = 0; t < n_tok; t++) {
            atn_matmul(&W, x + (size_t)t * n_in, 1, ys);
            bad += memcmp(ys, y + (size_t)t * n_out, sizeof(float) * n_out) != 0;
        }
        CHECK(bad == 0, "%s n_in=%d n_out=%d: %d of %d tokens differ when multiplied alone", atn_type_name(type), n_in,
              n_out, bad, n_tok);
    }

    /* get_row equals dequantize_row */
    {
        int r = n_out / 2;
        atn_get_row(&W, r, ys);
        atn_dequantize_row(type, wq + r * row_bytes, wd, n_in);
        CHECK(memcmp(ys, wd, sizeof(float) * n_in) == 0, "%s get_row differs from dequantize_row",
              atn_type_name(type));
    }
done:
    free(wq), free(wf), free(x), free(y), free(yr), free(ys), free(wd);
}

static void test_matmul_all(void) {
    static const int toks[] = {1, 3, 5, 17};
    static const int rows[] = {1, 3, 5, 17};
    for (int ti = 0; ti < N_TYPES; ti++) {
        int type = TYPES[ti];
        int bs = atn_type_block_size(type);
        int widths_small[] = {32, 96, 576, 1536};
        int widths_k[] = {256, 768, 1536};
        const int *widths = bs == 256 ? widths_k : widths_small;
        int n_w = bs == 256 ? 3 : 4;
        for (int wi = 0; wi < n_w; wi++)
            for (int ri = 0; ri < 4; ri++)
                for (int k = 0; k < 4; k++) {
                    /* offset weights exercise the min/offset terms of q4_1, q5_1, K-quants */
                    float offset = ((wi + ri + k) & 1) ? 0.3f : 0.0f;
                    check_case(type, widths[wi], rows[ri], toks[k], offset);
                }
        /* a bigger, model-like case: blocked kernels' row/token tails */
        check_case(type, bs == 256 ? 512 : 576, 67, 13, 0.0f);
        check_case(type, bs == 256 ? 1024 : 1536, 9, 37, 0.1f);
        /* dense rows of any length: the SIMD tails */
        if (bs == 1) {
            static const int odd_widths[] = {1, 7, 9, 33, 100};
            for (int wi = 0; wi < 5; wi++) check_case(type, odd_widths[wi], 5, 6, 0.0f);
        }
    }
}

/* Degenerate inputs: all-zero activations and weights give exact zeros. */
static void test_zeros(void) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        int type = TYPES[ti];
        int n_in = 256, n_out = 5, n_tok = 3;
        size_t rb = atn_row_size(type, n_in);
        uint8_t *wq = calloc(n_out, rb);
        float *x = calloc((size_t)n_in * n_tok, sizeof(float));
        float *wf = calloc(n_in, sizeof(float));
        float y[15];
        for (int r = 0; r < n_out; r++) atn_quantize_row(type, wf, wq + r * rb, n_in);
        atn_tensor W = {.name = "z", .type = type, .n_dims = 2, .ne = {n_in, n_out, 1, 1}, .data = wq};
        for (int i = 0; i < 15; i++) y[i] = 1;
        atn_matmul(&W, x, n_tok, y);
        int bad = 0;
        for (int i = 0; i < 15; i++) bad += y[i] != 0.0f;
        CHECK(bad == 0, "%s: zero weights and activations give %d non-zero outputs", atn_type_name(type), bad);
        free(wq), free(x), free(wf);
    }
}

static void test_quantize_act(void) {
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (i - 20) * 0.25f;
    x[40] = 100.0f;
    atn_block_q8a a[2];
    atn_quantize_act(x, a, 64);
    CHECK(fabsf(a[0].d - 5.0f / 127.0f) < 1e-7f, "act block 0 scale %g", a[0].d);
    CHECK(a[0].qs[0] == -127 && a[0].qs[20] == 0 && a[0].qs[31] == 70, "act block 0 levels %d %d %d",
          a[0].qs[0], a[0].qs[20], a[0].qs[31]);
    CHECK(a[1].qs[8] == 127 && fabsf(a[1].d - 100.0f / 127.0f) < 1e-6f, "act block 1 max");
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += a[1].qs[j];
    CHECK(fabsf(a[1].s - a[1].d * sum) < 1e-4f, "act block 1 s = d * sum(q)");
    float z[32] = {0};
    atn_quantize_act(z, a, 32);
    CHECK(a[0].d == 0 && a[0].s == 0 && a[0].qs[5] == 0, "zero block quantizes to zeros");
}

/* Activations so small that 1/scale overflows (a fuzzed model reached it):
 * zeros, in the reference quantizer and through every matmul, with no
 * integer overflow (the sanitizer build checks). */
static void test_subnormal_acts(void) {
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (i % 3 - 1) * 1e-39f;
    atn_block_q8a a[2];
    atn_quantize_act(x, a, 64);
    int nz = 0;
    for (int j = 0; j < 32; j++) nz += a[0].qs[j] != 0 || a[1].qs[j] != 0;
    CHECK(nz == 0 && a[0].s == 0, "subnormal block quantizes to zeros (%d non-zero levels)", nz);
    for (int ti = 0; ti < N_TYPES; ti++) {
        int type = TYPES[ti];
        int n_in = 256, n_out = 3;
        size_t rb = atn_row_size(type, n_in);
        uint8_t *wq = calloc(n_out, rb);
        float *wf = malloc(n_in * sizeof(float)), *xs = malloc(n_in * sizeof(float)), y[3];
        for (int i = 0; i < n_in; i++) wf[i] = (float)(i % 7) - 3, xs[i] = (i % 5 - 2) * 1e-39f;
        for (int r = 0; r < n_out; r++) atn_quantize_row(type, wf, wq + r * rb, n_in);
        atn_tensor W = {.name = "s", .type = type, .n_dims = 2, .ne = {n_in, n_out, 1, 1}, .data = wq};
        atn_matmul(&W, xs, 1, y);
        CHECK(isfinite(y[0]) && fabsf(y[0]) < 1e-30f && isfinite(y[2]), "%s: subnormal activations give %g", atn_type_name(type), y[0]);
        free(wq), free(wf), free(xs);
    }
}

static void test_f32_helpers(void) {
    static const int sizes[] = {0, 1, 3, 4, 7, 16, 17, 33, 64, 100, 577};
    for (int si = 0; si < (int)(sizeof sizes / sizeof sizes[0]); si++) {
        int n = sizes[si];
        float a[577], b[577], y[577], y0[577];
        double dot = 0, mag = 0;
        for (int i = 0; i < n; i++) {
            a[i] = rnd_normal();
            b[i] = rnd_normal();
            y[i] = y0[i] = rnd_normal();
            dot += (double)a[i] * b[i];
            mag += fabs((double)a[i] * b[i]);
        }
        float got = atn_dot_f32(a, b, n);
        CHECK(fabs(got - dot) <= 1e-5 * mag + 1e-7, "dot_f32 n=%d: %g vs %g", n, got, dot);
        atn_axpy_f32(0.75f, a, y, n);
        int bad = 0;
        for (int i = 0; i < n; i++) bad += fabsf(y[i] - (y0[i] + 0.75f * a[i])) > 1e-6f * (1 + fabsf(y[i]));
        CHECK(bad == 0, "axpy_f32 n=%d: %d wrong", n, bad);
        memcpy(y, y0, sizeof(float) * n);
        atn_scale_f32(y, -1.5f, n);
        bad = 0;
        for (int i = 0; i < n; i++) bad += y[i] != y0[i] * -1.5f;
        CHECK(bad == 0, "scale_f32 n=%d: %d wrong", n, bad);
    }
    /* helpers must not write past n */
    float g[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    atn_scale_f32(g, 2.0f, 5);
    CHECK(g[4] == 10 && g[5] == 6 && g[8] == 9, "scale_f32 stays within n");
    atn_axpy_f32(1.0f, g, g + 4, 3);
    CHECK(g[7] == 8 && g[8] == 9, "axpy_f32 stays within n");
}

/* batched attention helpers against double-precision sums: row counts and
 * lengths around the 4-row / 16-float blocking, a stride wider than len
 * (a KV cache row), and nothing written past n / len */
static void test_rows_helpers(void) {
    static const int ns[] = {0, 1, 3, 4, 5, 8, 13, 130};
    static const int lens[] = {1, 3, 4, 7, 16, 20, 33, 64, 100};
    enum { STRIDE = 131, NMAX = 130 };
    static float x[NMAX * STRIDE], w[NMAX + 4], out[NMAX + 4], y[104], y0[104];
    float a[100];
    for (int i = 0; i < NMAX * STRIDE; i++) x[i] = rnd_normal();
    for (int ni = 0; ni < (int)(sizeof ns / sizeof ns[0]); ni++) {
        for (int li = 0; li < (int)(sizeof lens / sizeof lens[0]); li++) {
            int n = ns[ni], len = lens[li];
            for (int i = 0; i < len; i++) a[i] = rnd_normal();
            for (int j = 0; j < n + 4; j++) w[j] = rnd_normal(), out[j] = 12345.0f;
            for (int i = 0; i < 104; i++) y[i] = y0[i] = rnd_normal();
            atn_dot_rows_f32(a, x, STRIDE, n, len, out);
            int bad = 0;
            for (int j = 0; j < n; j++) {
                double s = 0, mag = 0;
                for (int i = 0; i < len; i++) {
                    s += (double)a[i] * x[(size_t)j * STRIDE + i];
                    mag += fabs((double)a[i] * x[(size_t)j * STRIDE + i]);
                }
                bad += fabs(out[j] - s) > 1e-5 * mag + 1e-7;
            }
            CHECK(bad == 0 && out[n] == 12345.0f, "dot_rows_f32 n=%d len=%d: %d wrong%s", n, len, bad,
                  out[n] != 12345.0f ? ", wrote past n" : "");
            atn_axpy_rows_f32(w, x, STRIDE, n, len, y);
            bad = 0;
            for (int i = 0; i < len; i++) {
                double s = y0[i], mag = fabs(y0[i]);
                for (int j = 0; j < n; j++) {
                    s += (double)w[j] * x[(size_t)j * STRIDE + i];
                    mag += fabs((double)w[j] * x[(size_t)j * STRIDE + i]);
                }
                bad += fabs(y[i] - s) > 1e-5 * mag + 1e-7;
            }
            for (int i = len; i < 104; i++) bad += y[i] != y0[i];
            CHECK(bad == 0, "axpy_rows_f32 n=%d len=%d: %d wrong", n, len, bad);
        }
    }
}

/* The f16 forms (an f16 KV cache) against double-precision sums of the
 * halves read by atn_f16_to_f32, on rows holding subnormal halves and
 * signed zeros among normal ones; the same shapes as the f32 forms. Both the
 * dispatched kernels (SIMD128 where built) and the scalar reference. */
typedef void (*dot_rows_f16_fn)(const float *, const uint16_t *, size_t, int, int, float *);
typedef void (*axpy_rows_f16_fn)(const float *, const uint16_t *, size_t, int, int, float *);
static const dot_rows_f16_fn DOT_F16[2] = {atn_dot_rows_f16, atn_dot_rows_f16_ref};
static const axpy_rows_f16_fn AXPY_F16[2] = {atn_axpy_rows_f16, atn_axpy_rows_f16_ref};

static void test_rows_helpers_f16(void) {
    static const int ns[] = {0, 1, 3, 4, 5, 8, 13, 130};
    static const int lens[] = {1, 3, 4, 7, 8, 16, 20, 24, 33, 64, 100};
    enum { STRIDE = 131, NMAX = 130 };
    static uint16_t x[NMAX * STRIDE];
    static float xf[NMAX * STRIDE], w[NMAX + 4], out[NMAX + 4], y[104], y0[104];
    float a[100];
    for (int i = 0; i < NMAX * STRIDE; i++) {
        float v = rnd_normal();
        switch (rnd_u32() % 16) {
        case 0: v *= 1e-6f; break;            /* a subnormal half (below 2^-14) */
        case 1: v = (rnd_u32() & 1) ? -0.0f : 0.0f; break;
        case 2: v *= 4e3f; break;             /* large (still finite: |v| < 65504) */
        default: break;
        }
        x[i] = atn_f32_to_f16(v);
        xf[i] = atn_f16_to_f32(x[i]);
    }
    for (int impl = 0; impl < 2; impl++) {
        for (int ni = 0; ni < (int)(sizeof ns / sizeof ns[0]); ni++) {
            for (int li = 0; li < (int)(sizeof lens / sizeof lens[0]); li++) {
                int n = ns[ni], len = lens[li];
                for (int i = 0; i < len; i++) a[i] = rnd_normal();
                for (int j = 0; j < n + 4; j++) w[j] = rnd_normal(), out[j] = 12345.0f;
                for (int i = 0; i < 104; i++) y[i] = y0[i] = rnd_normal();
                DOT_F16[impl](a, x, STRIDE, n, len, out);
                int bad = 0;
                for (int j = 0; j < n; j++) {
                    double s = 0, mag = 0;
                    for (int i = 0; i < len; i++) {
                        s += (double)a[i] * xf[(size_t)j * STRIDE + i];
                        mag += fabs((double)a[i] * xf[(size_t)j * STRIDE + i]);
                    }
                    bad += !(fabs(out[j] - s) <= 1e-5 * mag + 1e-7);
                }
                CHECK(bad == 0 && out[n] == 12345.0f, "dot_rows_f16%s n=%d len=%d: %d wrong%s", impl ? "_ref" : "", n,
                      len, bad, out[n] != 12345.0f ? ", wrote past n" : "");
                AXPY_F16[impl](w, x, STRIDE, n, len, y);
                bad = 0;
                for (int i = 0; i < len; i++) {
                    double s = y0[i], mag = fabs(y0[i]);
                    for (int j = 0; j < n; j++) {
                        s += (double)w[j] * xf[(size_t)j * STRIDE + i];
                        mag += fabs((double)w[j] * xf[(size_t)j * STRIDE + i]);
                    }
                    bad += !(fabs(y[i] - s) <= 1e-5 * mag + 1e-7);
                }
                for (int i = len; i < 104; i++) bad += y[i] != y0[i];
                CHECK(bad == 0, "axpy_rows_f16%s n=%d len=%d: %d wrong", impl ? "_ref" : "", n, len, bad);
            }
        }
    }
}

/* Every one of the 65536 halves read back by the row kernels as
 * atn_f16_to_f32 reads it: normals, subnormals, +-0 and +-Inf bit for bit,
 * NaNs as NaNs. axpy with weight 1 onto -0 gives each value itself (-0 + x
 * is x for every x, -0 included); dot with rows {h, 0, ..., 0} and a query
 * {1, 0, ...} gives h (its sums start at +0: -0 reads as +0 there, in the
 * reference too). Both through the 16-, 8- and 1-wide paths. */
static void test_f16_every_value(void) {
    for (int impl = 0; impl < 2; impl++) {
        static uint16_t h[65536], rows[65536 * 8];
        static float y[65536], out[65536];
        float a[8] = {1, 0, 0, 0, 0, 0, 0, 0}, one = 1.0f;
        for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i, y[i] = -0.0f;
        memset(rows, 0, sizeof rows);
        for (int i = 0; i < 65536; i++) rows[(size_t)i * 8] = (uint16_t)i;
        AXPY_F16[impl](&one, h, 0, 1, 65536 - 5, y); /* the last 5 by the scalar tail */
        for (int i = 65536 - 5; i < 65536; i++) y[i] = -0.0f;
        AXPY_F16[impl](&one, h + 65536 - 5, 0, 1, 5, y + 65536 - 5);
        DOT_F16[impl](a, rows, 8, 65536, 8, out);
        int bad_axpy = 0, bad_dot = 0, first = -1;
        for (int i = 0; i < 65536; i++) {
            float want = atn_f16_to_f32((uint16_t)i);
            float want_dot = want + 0.0f; /* -0 -> +0, as a sum from +0 gives */
            uint32_t g, e, gd, ed;
            memcpy(&g, &y[i], 4), memcpy(&e, &want, 4), memcpy(&gd, &out[i], 4), memcpy(&ed, &want_dot, 4);
            int ok_a = isnan(want) ? isnan(y[i]) : g == e;
            int ok_d = isnan(want) ? isnan(out[i]) : gd == ed;
            if ((!ok_a || !ok_d) && first < 0) first = i;
            bad_axpy += !ok_a;
            bad_dot += !ok_d;
        }
        CHECK(bad_axpy == 0 && bad_dot == 0, "f16 rows%s: %d axpy and %d dot values differ from atn_f16_to_f32 (first 0x%04x)",
              impl ? " (ref)" : "", bad_axpy, bad_dot, first);
        /* the 8-wide axpy path: len 8 + 3 from an odd start */
        float y8[11], want8[11];
        for (int i = 0; i < 11; i++) y8[i] = -0.0f, want8[i] = atn_f16_to_f32((uint16_t)(0x7bf9 + i));
        atn_axpy_rows_f16(&one, h + 0x7bf9, 0, 1, 11, y8);
        int bad8 = 0;
        for (int i = 0; i < 11; i++) bad8 += isnan(want8[i]) ? !isnan(y8[i]) : memcmp(&y8[i], &want8[i], 4) != 0;
        CHECK(bad8 == 0, "f16 rows: %d of 0x7bf9.. (max, inf, nan) differ on the 8-wide path", bad8);
    }
}

/* SwiGLU's silu(g) * u and softmax against double-precision exp */
static void test_activation_helpers(void) {
    static const int ns[] = {1, 3, 4, 5, 16, 37, 1536};
    static float g[1536], u[1536], x[1536], g0[1536], x0[1536];
    for (int ni = 0; ni < (int)(sizeof ns / sizeof ns[0]); ni++) {
        int n = ns[ni];
        for (int i = 0; i < n; i++) {
            g[i] = g0[i] = rnd_normal() * 6.0f;
            u[i] = rnd_normal();
            x[i] = x0[i] = rnd_normal() * 4.0f;
        }
        if (n >= 16) { /* extremes: overflow / underflow of exp must stay finite and right */
            g[0] = g0[0] = 100.0f, g[1] = g0[1] = -100.0f, g[2] = g0[2] = 0.0f, g[3] = g0[3] = -30.0f;
            x[5] = x0[5] = -200.0f, x[6] = x0[6] = 60.0f;
        }
        atn_silu_mul_f32(g, u, n);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            double want = (double)g0[i] / (1.0 + exp(-(double)g0[i])) * u[i];
            bad += !(fabs(g[i] - want) <= 1e-6 * fabs(want) + 1e-30);
        }
        CHECK(bad == 0, "silu_mul_f32 n=%d: %d wrong", n, bad);
        float scale = 0.125f;
        atn_softmax_f32(x, n, scale);
        double mx = -INFINITY, sum = 0;
        for (int i = 0; i < n; i++) mx = fmax(mx, (double)(x0[i] * scale));
        for (int i = 0; i < n; i++) sum += exp((double)(x0[i] * scale) - mx);
        bad = 0;
        double total = 0;
        for (int i = 0; i < n; i++) {
            double want = exp((double)(x0[i] * scale) - mx) / sum;
            bad += !(fabs(x[i] - want) <= 1e-6 * want + 1e-30);
            total += x[i];
        }
        CHECK(bad == 0 && fabs(total - 1) < 1e-5, "softmax_f32 n=%d: %d wrong, sum %.7f", n, bad, total);
    }
}

/* A row's result does not depend on how many tokens share the call (1..9:
 * every token-group size of the 4-token kernels, the one-token decode
 * kernels among them) nor on which rows the call computes (the decode
 * kernels of q4_0/q8_0 take four rows at a time, so a range starting at
 * row 1, 2 or 3 groups the rows differently): bit for bit, for every
 * quantized type. A sentence translated alone and inside a batch, or a
 * token decoded after its prompt, then get the same numbers. */
static void test_token_count_bitwise(void) {
    enum { N_TOK = 9, N_OUT = 11 };
    for (int ti = 0; ti < N_TYPES; ti++) {
        int type = TYPES[ti];
        if (is_dense(type)) continue;
        int n_in = atn_type_block_size(type) == 256 ? 512 : 576;
        size_t row_bytes = atn_row_size(type, n_in);
        uint8_t *wq = malloc(row_bytes * N_OUT);
        float *wf = malloc(sizeof(float) * n_in);
        float *x = malloc(sizeof(float) * n_in * N_TOK);
        float *y_all = malloc(sizeof(float) * N_OUT * N_TOK), *y = malloc(sizeof(float) * N_OUT * N_TOK);
        if (!wq || !wf || !x || !y_all || !y) {
            CHECK(0, "out of memory");
            free(wq), free(wf), free(x), free(y_all), free(y);
            return;
        }
        for (int r = 0; r < N_OUT; r++) {
            for (int i = 0; i < n_in; i++) wf[i] = rnd_normal() * 0.5f + (r & 1 ? 0.2f : 0.0f);
            atn_quantize_row(type, wf, wq + r * row_bytes, n_in);
        }
        for (int i = 0; i < n_in * N_TOK; i++) x[i] = rnd_normal();
        atn_tensor W = {.name = "w", .type = type, .n_dims = 2, .ne = {n_in, N_OUT, 1, 1},
                        .data = wq, .nbytes = row_bytes * N_OUT};
        atn_matmul(&W, x, N_TOK, y_all);
        int bad_tok = 0, bad_rows = 0;
        /* tokens [t0, t0 + n) in one call, for every n and a few offsets */
        for (int n = 1; n <= N_TOK; n++)
            for (int t0 = 0; t0 + n <= N_TOK; t0 += 3) {
                atn_matmul(&W, x + (size_t)t0 * n_in, n, y);
                bad_tok += memcmp(y, y_all + (size_t)t0 * N_OUT, sizeof(float) * N_OUT * n) != 0;
            }
        /* rows [r0, r1) alone, for one token and for all */
        for (int r0 = 0; r0 < 4; r0++)
            for (int r1 = r0 + 1; r1 <= N_OUT; r1 += 3)
                for (int n = 1; n <= N_TOK; n += N_TOK - 1) {
                    atn_matmul_rows(&W, x, n, y, r0, r1);
                    for (int t = 0; t < n; t++)
                        bad_rows += memcmp(y + (size_t)t * N_OUT + r0, y_all + (size_t)t * N_OUT + r0,
                                           sizeof(float) * (r1 - r0)) != 0;
                }
        CHECK(bad_tok == 0, "%s: %d token groups differ from the same tokens in one call of %d", atn_type_name(type),
              bad_tok, N_TOK);
        CHECK(bad_rows == 0, "%s: %d row ranges differ from the rows of the whole matrix", atn_type_name(type),
              bad_rows);
        free(wq), free(wf), free(x), free(y_all), free(y);
    }
}

int main(void) {
    printf("kernels: %s\n", atn_kernels_name());
    test_activation_helpers();
    test_quantize_act();
    test_subnormal_acts();
    test_f32_helpers();
    test_rows_helpers();
    test_rows_helpers_f16();
    test_f16_every_value();
    test_zeros();
    test_matmul_all();
    test_token_count_bitwise();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
