/* test_simd_semantics.c — the SIMD128 operations on NaN, infinities, signed
 * zeros and out-of-range values give WebAssembly's results, in both builds:
 * as WebAssembly itself (the WASM build of this test) and through the SSE4.1
 * mapping of src/kernels/wasm_sse.h (the native build, the reference). The
 * expected values are the WebAssembly specification's, so the two builds
 * agree because each matches it.
 *
 * Then the same through a kernel: a NaN among the activations of a q8_0
 * matmul used to vanish natively (maxps dropped it, cvttps turned it into
 * INT32_MIN) and give finite outputs where WebAssembly gives NaN.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "kernels.h"
#include "kernels/kernels_impl.h"
#include "quant.h"
#include "tensor.h"
#include "test_util.h"

#ifdef ATN_HAVE_SIMD128
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#else
#include "kernels/wasm_sse.h"
#endif

static void store_f(v128_t v, float out[4]) { wasm_v128_store(out, v); }
static void store_i(v128_t v, int32_t out[4]) { wasm_v128_store(out, v); }
static v128_t load4(float a, float b, float c, float d) {
    float f[4] = {a, b, c, d};
    return wasm_v128_load(f);
}
static int is_neg_zero(float x) { return x == 0 && signbit(x); }
static int is_pos_zero(float x) { return x == 0 && !signbit(x); }

static void test_trunc_sat(void) {
    const float in[] = {NAN, -NAN, INFINITY, -INFINITY, 3e9f, -3e9f, 2147483648.0f, -2147483648.0f,
                        2147483520.0f, -2147483520.0f, 1.9f, -1.9f, 0.0f, -0.0f, 1e-30f, 127.5f};
    const int32_t want[] = {0, 0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN,
                            2147483520, -2147483520, 1, -1, 0, 0, 0, 127};
    for (int i = 0; i < 16; i += 4) {
        int32_t got[4];
        store_i(wasm_i32x4_trunc_sat_f32x4(load4(in[i], in[i + 1], in[i + 2], in[i + 3])), got);
        for (int k = 0; k < 4; k++)
            CHECK(got[k] == want[i + k], "trunc_sat(%g) = %d, WebAssembly gives %d", (double)in[i + k], got[k], want[i + k]);
    }
}

static void test_min_max(void) {
    float got[4];
    /* NaN in either operand, either lane: NaN */
    store_f(wasm_f32x4_max(load4(NAN, 1, -INFINITY, 0), load4(1, NAN, NAN, NAN)), got);
    for (int k = 0; k < 4; k++) CHECK(isnan(got[k]), "max with NaN, lane %d: %g", k, (double)got[k]);
    store_f(wasm_f32x4_min(load4(NAN, 1, INFINITY, 0), load4(1, NAN, NAN, NAN)), got);
    for (int k = 0; k < 4; k++) CHECK(isnan(got[k]), "min with NaN, lane %d: %g", k, (double)got[k]);
    /* zeros of opposite sign: max is +0, min is -0, in either order */
    store_f(wasm_f32x4_max(load4(-0.0f, 0.0f, -0.0f, 0.0f), load4(0.0f, -0.0f, -0.0f, 0.0f)), got);
    CHECK(is_pos_zero(got[0]) && is_pos_zero(got[1]) && is_neg_zero(got[2]) && is_pos_zero(got[3]),
          "max of zeros: %g %g %g %g", (double)got[0], (double)got[1], (double)got[2], (double)got[3]);
    store_f(wasm_f32x4_min(load4(-0.0f, 0.0f, -0.0f, 0.0f), load4(0.0f, -0.0f, -0.0f, 0.0f)), got);
    CHECK(is_neg_zero(got[0]) && is_neg_zero(got[1]) && is_neg_zero(got[2]) && is_pos_zero(got[3]),
          "min of zeros: %g %g %g %g", (double)got[0], (double)got[1], (double)got[2], (double)got[3]);
    /* ordinary values and infinities */
    store_f(wasm_f32x4_max(load4(1, -2, INFINITY, -INFINITY), load4(-1, 3, 5, -7)), got);
    CHECK(got[0] == 1 && got[1] == 3 && got[2] == INFINITY && got[3] == -7, "max: %g %g %g %g", (double)got[0],
          (double)got[1], (double)got[2], (double)got[3]);
    store_f(wasm_f32x4_min(load4(1, -2, INFINITY, -INFINITY), load4(-1, 3, 5, -7)), got);
    CHECK(got[0] == -1 && got[1] == -2 && got[2] == 5 && got[3] == -INFINITY, "min: %g %g %g %g", (double)got[0],
          (double)got[1], (double)got[2], (double)got[3]);
}

/* y = W x for a q8_0 W of 4 rows x 64 and one token whose first block holds
 * a special value at `at`: with a NaN or an infinity the block's scale is
 * NaN or infinite, so every output is NaN (WebAssembly's result). */
static void test_matmul_special(float special, int at) {
    enum { N_IN = 64, N_OUT = 4 };
    float w[N_OUT * N_IN], x[N_IN], y[N_OUT];
    for (int i = 0; i < N_OUT * N_IN; i++) w[i] = (float)((i * 37) % 17 - 8) / 8.0f;
    for (int i = 0; i < N_IN; i++) x[i] = (float)((i * 11) % 13 - 6) / 4.0f;
    x[at] = special;
    size_t rb = atn_row_size(ATN_TYPE_Q8_0, N_IN);
    uint8_t wq[N_OUT * 2 * 34];
    for (int r = 0; r < N_OUT; r++) atn_quantize_row(ATN_TYPE_Q8_0, w + r * N_IN, wq + r * rb, N_IN);
    atn_tensor W = {"w", ATN_TYPE_Q8_0, 2, {N_IN, N_OUT, 1, 1}, wq, N_OUT * rb};
    atn_matmul(&W, x, 1, y);
    for (int r = 0; r < N_OUT; r++)
        CHECK(isnan(y[r]), "q8_0 matmul with %g at %d: row %d = %g, WebAssembly gives NaN", (double)special, at, r,
              (double)y[r]);
}

int main(void) {
    test_trunc_sat();
    test_min_max();
    for (int at = 0; at < 32; at += 5) {
        test_matmul_special(NAN, at);
        test_matmul_special(INFINITY, at);
        test_matmul_special(-INFINITY, at);
    }
    return test_summary();
}

#else
int main(void) {
    printf("no SIMD128 kernels in this build (no SSE4.1): nothing to compare\n");
    return test_summary();
}
#endif
