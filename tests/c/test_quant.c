/* test_quant.c — f16/bf16 conversions, per-type facts, dequantization of
 * hand-built blocks, and quantize -> dequantize error bounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "tensor.h"
#include "test_util.h"



static float f32_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd_u32(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
static float rnd_normal(void) {
    float u = (rnd_u32() + 0.5f) / 4294967296.0f, v = (rnd_u32() + 0.5f) / 4294967296.0f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

/* ---- type table ---------------------------------------------------------- */

static void test_types(void) {
    struct { int type; const char *name; int bs; size_t bytes; } want[] = {
        {ATN_TYPE_F32, "f32", 1, 4},        {ATN_TYPE_F16, "f16", 1, 2},
        {ATN_TYPE_BF16, "bf16", 1, 2},      {ATN_TYPE_Q4_0, "q4_0", 32, 18},
        {ATN_TYPE_Q4_1, "q4_1", 32, 20},    {ATN_TYPE_Q5_0, "q5_0", 32, 22},
        {ATN_TYPE_Q5_1, "q5_1", 32, 24},    {ATN_TYPE_Q8_0, "q8_0", 32, 34},
        {ATN_TYPE_Q4_K, "q4_K", 256, 144},  {ATN_TYPE_Q5_K, "q5_K", 256, 176},
        {ATN_TYPE_Q6_K, "q6_K", 256, 210},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int t = want[i].type;
        CHECK(atn_type_known(t), "type %d known", t);
        CHECK(strcmp(atn_type_name(t), want[i].name) == 0, "type %d name %s", t, atn_type_name(t));
        CHECK(atn_type_block_size(t) == want[i].bs, "%s block size", want[i].name);
        CHECK(atn_type_block_bytes(t) == want[i].bytes, "%s block bytes", want[i].name);
        CHECK(atn_row_size(t, 4096) == (size_t)(4096 / want[i].bs) * want[i].bytes, "%s row size", want[i].name);
        if (want[i].bs > 1) CHECK(atn_row_size(t, want[i].bs + 1) == 0, "%s partial block", want[i].name);
    }
    static const int unknown[] = {-1, 4, 5, 9, 10, 11, 15, 16, 29, 31, 1000};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int t = unknown[i];
        CHECK(!atn_type_known(t) && atn_type_block_size(t) == 0 && atn_type_block_bytes(t) == 0 &&
                  atn_row_size(t, 32) == 0 && strcmp(atn_type_name(t), "unknown") == 0,
              "type %d unknown", t);
    }
    CHECK(atn_row_size(ATN_TYPE_Q8_0, -32) == 0, "negative n");
    /* overflow: a row whose byte size does not fit in size_t */
    CHECK(atn_row_size(ATN_TYPE_F32, INT64_MAX) == 0, "f32 row overflow");
    CHECK(atn_row_size(ATN_TYPE_F32, (int64_t)(SIZE_MAX / 4) + 1) == 0 || (uint64_t)SIZE_MAX / 4 + 1 > INT64_MAX,
          "f32 row just past size_t");
    if (sizeof(size_t) == 4) CHECK(atn_row_size(ATN_TYPE_F32, (int64_t)1 << 31) == 0, "32-bit size_t overflow");
}

/* ---- f16 / bf16 ---------------------------------------------------------- */

static void test_f16(void) {
    struct { uint16_t h; float f; } exact[] = {
        {0x0000, 0.0f},          {0x3c00, 1.0f},           {0xc000, -2.0f},
        {0x7bff, 65504.0f},      {0x0400, 6.103515625e-05f}, {0x0001, 5.960464477539063e-08f},
        {0x03ff, 6.097555160522461e-05f}, {0x3555, 0.333251953125f}, {0x8001, -5.960464477539063e-08f},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        CHECK(atn_f16_to_f32(exact[i].h) == exact[i].f, "f16 %04x -> %g", exact[i].h, atn_f16_to_f32(exact[i].h));
        CHECK(atn_f32_to_f16(exact[i].f) == exact[i].h, "f32 %g -> f16 %04x", exact[i].f,
              atn_f32_to_f16(exact[i].f));
    }
    CHECK(bits_of(atn_f16_to_f32(0x8000)) == 0x80000000u, "f16 -0");
    CHECK(atn_f32_to_f16(-0.0f) == 0x8000, "f32 -0 -> f16");
    CHECK(isinf(atn_f16_to_f32(0x7c00)) && atn_f16_to_f32(0x7c00) > 0, "f16 +inf");
    CHECK(isinf(atn_f16_to_f32(0xfc00)) && atn_f16_to_f32(0xfc00) < 0, "f16 -inf");
    CHECK(isnan(atn_f16_to_f32(0x7e00)) && isnan(atn_f16_to_f32(0x7c01)) && isnan(atn_f16_to_f32(0xfe00)),
          "f16 nan");
    CHECK(atn_f32_to_f16(INFINITY) == 0x7c00 && atn_f32_to_f16(-INFINITY) == 0xfc00, "f32 inf -> f16");
    uint16_t hn = atn_f32_to_f16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0, "f32 nan -> f16 nan (%04x)", hn);
    /* a nan whose payload lives only in the low bits must stay a nan */
    hn = atn_f32_to_f16(f32_of(0x7f800001u));
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0, "low-payload nan stays nan (%04x)", hn);
    /* rounding: to nearest, ties to even */
    CHECK(atn_f32_to_f16(65519.0f) == 0x7bff, "65519 -> max half");
    CHECK(atn_f32_to_f16(65520.0f) == 0x7c00, "65520 -> inf");
    CHECK(atn_f32_to_f16(1e10f) == 0x7c00 && atn_f32_to_f16(-1e10f) == 0xfc00, "huge -> inf");
    CHECK(atn_f32_to_f16(1.0f + 1.0f / 2048) == 0x3c00, "tie rounds to even (down)");
    CHECK(atn_f32_to_f16(1.0f + 3.0f / 2048) == 0x3c02, "tie rounds to even (up)");
    CHECK(atn_f32_to_f16(1.0f + 1.0f / 2048 + 1.0f / 65536) == 0x3c01, "above tie rounds up");
    CHECK(atn_f32_to_f16(ldexpf(1, -25)) == 0x0000, "2^-25 ties to zero");
    CHECK(atn_f32_to_f16(ldexpf(3, -26)) == 0x0001, "0.75 * 2^-24 rounds up to the smallest subnormal");
    CHECK(atn_f32_to_f16(ldexpf(3, -25)) == 0x0002, "1.5 * 2^-24 ties to even (2)");
    CHECK(atn_f32_to_f16(ldexpf(5, -25)) == 0x0002, "2.5 * 2^-24 ties to even (2)");
    CHECK(atn_f32_to_f16(ldexpf(1, -30)) == 0x0000, "tiny -> 0");
    CHECK(atn_f32_to_f16(-ldexpf(1, -30)) == 0x8000, "tiny negative -> -0");
    CHECK(atn_f32_to_f16(f32_of(1)) == 0 && atn_f32_to_f16(f32_of(0x807fffffu)) == 0x8000, "f32 subnormals -> 0");
    CHECK(atn_f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400, "largest subnormal rounds up into the normals");
    CHECK(atn_f32_to_f16(2047.5f) == 0x6800, "tie at the top of a binade carries into the exponent");
    /* every finite half survives a round trip; every nan stays nan */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = atn_f16_to_f32((atn_f16)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) bad += !isnan(f);
        else bad += atn_f32_to_f16(f) != h;
    }
    CHECK(bad == 0, "f16 round trip: %d of 65536 wrong", bad);
    /* halfway between consecutive halves in every binade: ties to even */
    bad = 0;
    for (uint32_t h = 0; h < 0x7bff; h++) {
        float a = atn_f16_to_f32((atn_f16)h), b = atn_f16_to_f32((atn_f16)(h + 1));
        float mid = a + (b - a) / 2; /* exact in f32 */
        uint16_t want = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        bad += atn_f32_to_f16(mid) != want;
    }
    CHECK(bad == 0, "f16 ties to even: %d wrong", bad);
}

static void test_bf16(void) {
    CHECK(atn_bf16_to_f32(0x3f80) == 1.0f && atn_bf16_to_f32(0xc040) == -3.0f, "bf16 -> f32");
    CHECK(atn_f32_to_bf16(1.0f) == 0x3f80 && atn_f32_to_bf16(-3.0f) == 0xc040, "f32 -> bf16");
    CHECK(atn_f32_to_bf16(f32_of(0x3f808000u)) == 0x3f80, "bf16 tie to even (down)");
    CHECK(atn_f32_to_bf16(f32_of(0x3f818000u)) == 0x3f82, "bf16 tie to even (up)");
    CHECK(atn_f32_to_bf16(f32_of(0x3f808001u)) == 0x3f81, "bf16 above tie rounds up");
    CHECK(atn_f32_to_bf16(INFINITY) == 0x7f80 && atn_f32_to_bf16(-INFINITY) == 0xff80, "bf16 inf");
    CHECK(atn_f32_to_bf16(f32_of(0x7f7fffffu)) == 0x7f80, "f32 max rounds to bf16 inf");
    uint16_t n = atn_f32_to_bf16(NAN);
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f), "bf16 nan");
    n = atn_f32_to_bf16(f32_of(0x7f800001u));
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f), "bf16 low-payload nan stays nan (%04x)", n);
    CHECK(atn_f32_to_bf16(f32_of(0x00010000u)) == 0x0001, "bf16 subnormal");
    CHECK(atn_bf16_to_f32(0x0001) == f32_of(0x00010000u), "bf16 subnormal -> f32");
    CHECK(bits_of(atn_bf16_to_f32(0x8000)) == 0x80000000u, "bf16 -0");
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = atn_bf16_to_f32((atn_bf16)h);
        if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) bad += !isnan(f);
        else bad += atn_f32_to_bf16(f) != h;
    }
    CHECK(bad == 0, "bf16 round trip: %d wrong", bad);
}

/* ---- dequantization of hand-built blocks ---------------------------------- */

#define H_1 0x3c00    /* 1.0 */
#define H_2 0x4000    /* 2.0 */
#define H_HALF 0x3800 /* 0.5 */
#define H_QUARTER 0x3400
#define H_M1 0xbc00   /* -1.0 */

static int count_diff(const float *got, const float *want, int n, float tol) {
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= tol)) {
            if (bad < 3) printf("  [%d] got %g want %g\n", i, got[i], want[i]);
            bad++;
        }
    return bad;
}

static void test_dequant_simple(void) {
    float y[64], want[64];
    /* q8_0: two blocks, d = 0.5 then 2, q = j - 16 */
    atn_block_q8_0 b8[2];
    b8[0].d = H_HALF, b8[1].d = H_2;
    for (int j = 0; j < 32; j++) b8[0].qs[j] = (int8_t)(j - 16), b8[1].qs[j] = (int8_t)(j % 2 ? -128 : 127);
    atn_dequantize_row(ATN_TYPE_Q8_0, b8, y, 64);
    for (int j = 0; j < 32; j++) want[j] = 0.5f * (j - 16), want[32 + j] = j % 2 ? -256.0f : 254.0f;
    CHECK(count_diff(y, want, 64, 0) == 0, "q8_0 hand block");
    CHECK(y[0] == -8.0f && y[31] == 7.5f && y[33] == -256.0f, "q8_0 spot values");

    /* q4_0: d = 2, byte j = j | (15 - j) << 4 -> value j is j, value j+16 is 15-j */
    atn_block_q4_0 b4;
    b4.d = H_2;
    for (int j = 0; j < 16; j++) b4.qs[j] = (uint8_t)(j | (15 - j) << 4);
    atn_dequantize_row(ATN_TYPE_Q4_0, &b4, y, 32);
    for (int j = 0; j < 16; j++) want[j] = 2.0f * (j - 8), want[j + 16] = 2.0f * (15 - j - 8);
    CHECK(count_diff(y, want, 32, 0) == 0, "q4_0 hand block");
    CHECK(y[0] == -16.0f && y[15] == 14.0f && y[16] == 14.0f && y[31] == -16.0f, "q4_0 spot values");

    /* q4_1: d = 0.5, m = -1 */
    atn_block_q4_1 b41;
    b41.d = H_HALF, b41.m = H_M1;
    for (int j = 0; j < 16; j++) b41.qs[j] = (uint8_t)(j | (15 - j) << 4);
    atn_dequantize_row(ATN_TYPE_Q4_1, &b41, y, 32);
    for (int j = 0; j < 16; j++) want[j] = 0.5f * j - 1, want[j + 16] = 0.5f * (15 - j) - 1;
    CHECK(count_diff(y, want, 32, 0) == 0, "q4_1 hand block");
    CHECK(y[0] == -1.0f && y[15] == 6.5f && y[16] == 6.5f, "q4_1 spot values");

    /* q5_0: d = 1, qh bytes 55 55 AA AA: bit j set for even j < 16 and for odd j >= 16 */
    atn_block_q5_0 b50;
    b50.d = H_1;
    b50.qh[0] = 0x55, b50.qh[1] = 0x55, b50.qh[2] = 0xAA, b50.qh[3] = 0xAA;
    for (int j = 0; j < 16; j++) b50.qs[j] = (uint8_t)(j | (15 - j) << 4);
    atn_dequantize_row(ATN_TYPE_Q5_0, &b50, y, 32);
    for (int j = 0; j < 16; j++) {
        want[j] = (float)(j + (j % 2 == 0 ? 16 : 0) - 16);
        want[j + 16] = (float)(15 - j + ((j + 16) % 2 == 1 ? 16 : 0) - 16);
    }
    CHECK(count_diff(y, want, 32, 0) == 0, "q5_0 hand block");
    CHECK(y[0] == 0.0f && y[1] == -15.0f && y[16] == -1.0f && y[17] == 14.0f, "q5_0 spot values");

    /* q5_1: d = 0.25, m = 1, qh = 0x80000001: only values 0 and 31 get the fifth bit */
    atn_block_q5_1 b51;
    b51.d = H_QUARTER, b51.m = H_1;
    b51.qh[0] = 0x01, b51.qh[1] = 0, b51.qh[2] = 0, b51.qh[3] = 0x80;
    for (int j = 0; j < 16; j++) b51.qs[j] = (uint8_t)(j | (15 - j) << 4);
    atn_dequantize_row(ATN_TYPE_Q5_1, &b51, y, 32);
    for (int j = 0; j < 16; j++) want[j] = 0.25f * j + 1, want[j + 16] = 0.25f * (15 - j) + 1;
    want[0] += 0.25f * 16, want[31] += 0.25f * 16;
    CHECK(count_diff(y, want, 32, 0) == 0, "q5_1 hand block");
    CHECK(y[0] == 5.0f && y[31] == 5.0f && y[30] == 1.25f, "q5_1 spot values");
}

/* The 12 scale bytes of q4_K/q5_K as docs/conventions.md lays them out. */
static void pack_scales_k4(const int sc[8], const int m[8], uint8_t out[12]) {
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        out[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        out[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

static void test_dequant_k(void) {
    static const int sc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
    static const int mn[8] = {5, 6, 7, 8, 20, 40, 61, 16};
    float y[256], want[256];

    /* q4_K: d = 1, dmin = 0.5 */
    atn_block_q4_K k4;
    k4.d = H_1, k4.dmin = H_HALF;
    pack_scales_k4(sc, mn, k4.scales);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) k4.qs[32 * c + l] = (uint8_t)((l & 15) | ((3 * l + c) & 15) << 4);
    atn_dequantize_row(ATN_TYPE_Q4_K, &k4, y, 256);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            want[64 * c + l] = 1.0f * sc[2 * c] * (l & 15) - 0.5f * mn[2 * c];
            want[64 * c + 32 + l] = 1.0f * sc[2 * c + 1] * ((3 * l + c) & 15) - 0.5f * mn[2 * c + 1];
        }
    CHECK(count_diff(y, want, 256, 0) == 0, "q4_K hand block");
    /* spot values worked out by hand: value 1 = 1*1*1 - 0.5*5; value 32 (sub-block 1,
     * l = 0, c = 0) = 2*0 - 0.5*6; value 255 (sub-block 7, c = 3, l = 31:
     * (93 + 3) & 15 = 0) = -0.5*16; value 193 (sub-block 6, c = 3, l = 1) = 50*1 - 0.5*61 */
    CHECK(y[1] == -1.5f && y[32] == -3.0f && y[255] == -8.0f && y[193] == 19.5f, "q4_K spot values %g %g %g %g",
          y[1], y[32], y[255], y[193]);

    /* q5_K: same scales; qh[l] = l (bit 2c -> value 64c+l, bit 2c+1 -> value 64c+32+l) */
    atn_block_q5_K k5;
    k5.d = H_HALF, k5.dmin = H_1;
    pack_scales_k4(sc, mn, k5.scales);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) k5.qs[32 * c + l] = (uint8_t)((l & 15) | ((3 * l + c) & 15) << 4);
    for (int l = 0; l < 32; l++) k5.qh[l] = (uint8_t)(l * 37);
    atn_dequantize_row(ATN_TYPE_Q5_K, &k5, y, 256);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int hb0 = ((l * 37) & 0xff) >> (2 * c) & 1, hb1 = ((l * 37) & 0xff) >> (2 * c + 1) & 1;
            want[64 * c + l] = 0.5f * sc[2 * c] * ((l & 15) + 16 * hb0) - 1.0f * mn[2 * c];
            want[64 * c + 32 + l] = 0.5f * sc[2 * c + 1] * (((3 * l + c) & 15) + 16 * hb1) - 1.0f * mn[2 * c + 1];
        }
    CHECK(count_diff(y, want, 256, 0) == 0, "q5_K hand block");
    /* value 1: qh[1] = 37 = 0b100101, bit 0 set -> q = 1 + 16 = 17; 0.5*1*17 - 5 = 3.5 */
    CHECK(y[1] == 3.5f, "q5_K spot value %g", y[1]);

    /* q6_K: d = 0.25, scales[i] = i - 8 (signed), levels chosen per value */
    atn_block_q6_K k6;
    k6.d = H_QUARTER;
    for (int i = 0; i < 16; i++) k6.scales[i] = (int8_t)(i - 8);
    int q[256];
    for (int v = 0; v < 256; v++) q[v] = (v * 7 + 3) & 63;
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            int q1 = q[128 * h + l], q2 = q[128 * h + l + 32], q3 = q[128 * h + l + 64], q4 = q[128 * h + l + 96];
            k6.ql[64 * h + l] = (uint8_t)((q1 & 15) | (q3 & 15) << 4);
            k6.ql[64 * h + l + 32] = (uint8_t)((q2 & 15) | (q4 & 15) << 4);
            k6.qh[32 * h + l] = (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
        }
    atn_dequantize_row(ATN_TYPE_Q6_K, &k6, y, 256);
    for (int v = 0; v < 256; v++) want[v] = 0.25f * (v / 16 - 8) * (q[v] - 32);
    CHECK(count_diff(y, want, 256, 0) == 0, "q6_K hand block");
    /* value 0: q = 3, scale -8: 0.25 * -8 * (3 - 32) = 58; value 255: q = (1785+3)&63 = 60, scale 7: 0.25*7*28 = 49 */
    CHECK(y[0] == 58.0f && y[255] == 49.0f, "q6_K spot values %g %g", y[0], y[255]);
    /* bytes placed by hand: ql[0] low nibble and qh[0] bits 0-1 give value 0 */
    memset(&k6, 0, sizeof k6);
    k6.d = H_1;
    for (int i = 0; i < 16; i++) k6.scales[i] = 1;
    k6.ql[0] = 0x21;  /* value 0 low = 1, value 64 low = 2 */
    k6.ql[32] = 0x43; /* value 32 low = 3, value 96 low = 4 */
    k6.qh[0] = 0xE4;  /* 11 10 01 00: value 0 hi 0, value 32 hi 1, value 64 hi 2, value 96 hi 3 */
    k6.ql[64] = 0x0F; /* value 128 low = 15 */
    k6.qh[63] = 0x40; /* value 255 (h=1, l=31, k=3) hi = 1 */
    atn_dequantize_row(ATN_TYPE_Q6_K, &k6, y, 256);
    CHECK(y[0] == 1 - 32 && y[32] == 3 + 16 - 32 && y[64] == 2 + 32 - 32 && y[96] == 4 + 48 - 32 &&
              y[128] == 15 - 32 && y[255] == 16 - 32 && y[1] == -32,
          "q6_K hand-placed bytes: %g %g %g %g %g %g", y[0], y[32], y[64], y[96], y[128], y[255]);
}

static void test_dequant_dense(void) {
    atn_f16 h[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
    atn_bf16 b[4] = {0x3f80, 0xc040, 0x0000, 0x4120};
    float f[4] = {1.5f, -2, 0, 1e30f}, y[4];
    atn_dequantize_row(ATN_TYPE_F16, h, y, 4);
    CHECK(y[0] == 1 && y[1] == -2 && y[2] == ldexpf(1, -24) && y[3] == 65504, "f16 row");
    atn_dequantize_row(ATN_TYPE_BF16, b, y, 4);
    CHECK(y[0] == 1 && y[1] == -3 && y[2] == 0 && y[3] == 10, "bf16 row");
    atn_dequantize_row(ATN_TYPE_F32, f, y, 4);
    CHECK(memcmp(f, y, sizeof f) == 0, "f32 row");
}

/* ---- quantize -> dequantize ------------------------------------------------ */

static void test_roundtrip(void) {
    /* bounds on the relative rms error for normal data, offset data and
     * data with outliers (measured values are about 80% of these) */
    struct { int type; float max_rel_rmse[3]; } cases[] = {
        {ATN_TYPE_F32, {0, 0, 0}},
        {ATN_TYPE_F16, {0.0003f, 0.0003f, 0.0003f}},
        {ATN_TYPE_BF16, {0.002f, 0.002f, 0.002f}},
        {ATN_TYPE_Q8_0, {0.0065f, 0.004f, 0.0145f}},
        {ATN_TYPE_Q4_0, {0.105f, 0.06f, 0.18f}},
        {ATN_TYPE_Q4_1, {0.095f, 0.02f, 0.14f}},
        {ATN_TYPE_Q5_0, {0.053f, 0.03f, 0.1f}},
        {ATN_TYPE_Q5_1, {0.047f, 0.009f, 0.063f}},
        {ATN_TYPE_Q4_K, {0.087f, 0.031f, 0.125f}},
        {ATN_TYPE_Q5_K, {0.045f, 0.016f, 0.063f}},
        {ATN_TYPE_Q6_K, {0.024f, 0.015f, 0.039f}},
    };
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t buf[N * 4];
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        int type = cases[ci].type;
        for (int dist = 0; dist < 3; dist++) {
            for (int i = 0; i < N; i++) {
                float v = rnd_normal();
                if (dist == 1) v = v * 0.1f + 0.5f;             /* offset: all positive */
                if (dist == 2) v = (i % 97 == 0) ? v * 20 : v;  /* outliers */
                x[i] = v;
            }
            size_t got = atn_quantize_row(type, x, buf, N);
            CHECK(got == atn_row_size(type, N), "%s quantize_row size %zu", atn_type_name(type), got);
            atn_dequantize_row(type, buf, y, N);
            double se = 0, ss = 0;
            int nonfinite = 0;
            for (int i = 0; i < N; i++) {
                se += (double)(y[i] - x[i]) * (y[i] - x[i]);
                ss += (double)x[i] * x[i];
                nonfinite += !isfinite(y[i]);
            }
            double rel = sqrt(se / ss);
            CHECK(nonfinite == 0 && rel <= cases[ci].max_rel_rmse[dist], "%s dist %d: relative rmse %.4f > %.4f",
                  atn_type_name(type), dist, rel, cases[ci].max_rel_rmse[dist]);
            if (getenv("ATN_VERBOSE")) printf("  %s dist %d: relative rmse %.5f\n", atn_type_name(type), dist, rel);
        }
        /* zeros stay zeros; a constant block is close */
        memset(x, 0, sizeof x);
        atn_quantize_row(type, x, buf, 256);
        atn_dequantize_row(type, buf, y, 256);
        int bad = 0;
        for (int i = 0; i < 256; i++) bad += y[i] != 0;
        CHECK(bad == 0, "%s zeros round trip", atn_type_name(type));
        for (int i = 0; i < 256; i++) x[i] = -0.75f;
        atn_quantize_row(type, x, buf, 256);
        atn_dequantize_row(type, buf, y, 256);
        bad = 0;
        for (int i = 0; i < 256; i++) bad += fabsf(y[i] + 0.75f) > 0.75f * 0.07f;
        CHECK(bad == 0, "%s constant block round trip (%d off, e.g. %g)", atn_type_name(type), bad, y[0]);
    }
    CHECK(atn_quantize_row(ATN_TYPE_Q4_K, x, buf, 100) == 0, "partial K block refused");
    CHECK(atn_quantize_row(ATN_TYPE_Q8_0, x, buf, 33) == 0, "partial block refused");
    CHECK(atn_quantize_row(99, x, buf, 32) == 0, "unknown type refused");
}

/* q8_0 per-element bound: |err| <= d/2 (+ the f16 rounding of d). */
static void test_q8_0_bound(void) {
    float x[32], y[32];
    atn_block_q8_0 b;
    int bad = 0;
    for (int it = 0; it < 200; it++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) x[j] = rnd_normal() * (1 + it), amax = fmaxf(amax, fabsf(x[j]));
        atn_quantize_row(ATN_TYPE_Q8_0, x, &b, 32);
        atn_dequantize_row(ATN_TYPE_Q8_0, &b, y, 32);
        for (int j = 0; j < 32; j++) bad += fabsf(y[j] - x[j]) > amax / 127 * 0.5f + amax * 2e-3f;
    }
    CHECK(bad == 0, "q8_0 per-element bound: %d over", bad);
}

int main(void) {
    test_types();
    test_f16();
    test_bf16();
    test_dequant_simple();
    test_dequant_k();
    test_dequant_dense();
    test_roundtrip();
    test_q8_0_bound();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
