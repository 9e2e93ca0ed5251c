/* test_gguf.c — the GGUF reader on valid files (written by models/tools/gguf.py,
 * see tests/fixtures/gguf/make_fixtures.py) and on a battery of hostile ones:
 * every truncation, byte flips, and hand-built files with absurd counts,
 * lengths, offsets, dimensions and types. A hostile file must give NULL and a
 * one-line message, never a crash (run under ATENTO_SANITIZE=ON to be sure).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gguf.h"
#include "quant.h"
#include "test_util.h"




/* Touch everything a successfully opened file exposes (for ASan). */
static unsigned long walk(const atn_gguf *g) {
    unsigned long h = 0;
    for (int i = 0; i < atn_gguf_n_kv(g); i++) {
        const char *k = atn_gguf_key(g, i);
        h += strlen(k) + (unsigned)atn_gguf_kv_type(g, i);
        int64_t iv; uint32_t uv; float fv; int bv; const char *s; size_t len;
        if (atn_gguf_get_i64(g, k, &iv) == 0) h += (unsigned long)iv;
        if (atn_gguf_get_u32(g, k, &uv) == 0) h += uv;
        if (atn_gguf_get_f32(g, k, &fv) == 0) h += fv == fv;
        if (atn_gguf_get_bool(g, k, &bv) == 0) h += (unsigned long)bv;
        if (atn_gguf_get_str(g, k, &s, &len) == 0) for (size_t j = 0; j < len; j++) h += (unsigned char)s[j];
        int et; uint64_t n;
        if (atn_gguf_get_arr(g, k, &et, &n) == 0) {
            for (uint64_t j = 0; j < n && j < 100000; j++) {
                double d; int64_t x;
                if (atn_gguf_arr_f64(g, k, j, &d) == 0) h += d == d;
                if (atn_gguf_arr_i64(g, k, j, &x) == 0) h += (unsigned long)x;
                if (atn_gguf_arr_str(g, k, j, &s, &len) == 0) for (size_t q = 0; q < len; q++) h += (unsigned char)s[q];
            }
            const void *p;
            if (atn_gguf_arr_data(g, k, &p) == 0 && n) h += *(const unsigned char *)p;
        }
    }
    for (int i = 0; i < atn_gguf_n_tensors(g); i++) {
        const atn_tensor *t = atn_gguf_tensor(g, i);
        const unsigned char *d = t->data;
        h += d[0] + d[t->nbytes - 1] + strlen(t->name);
        if (atn_gguf_find_tensor(g, t->name) != t) h += 1000000;
    }
    return h;
}

/* Open must fail with a one-line message containing `want` (if not NULL). */
static void expect_fail(const char *what, const uint8_t *p, size_t n, const char *want) {
    char err[256];
    memset(err, 'x', sizeof err);
    atn_gguf *g = atn_gguf_open(p, n, err, sizeof err);
    CHECK(g == NULL, "%s: opened a bad file", what);
    if (g) { atn_gguf_close(g); return; }
    CHECK(err[0] != 0 && strlen(err) < sizeof err && !strchr(err, '\n'), "%s: no one-line message", what);
    if (want) CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
}

static atn_gguf *expect_ok(const char *what, const uint8_t *p, size_t n) {
    char err[256] = "";
    atn_gguf *g = atn_gguf_open(p, n, err, sizeof err);
    CHECK(g != NULL, "%s: %s", what, err);
    return g;
}

static void fail_buf(const char *what, gguf_buf *b, const char *want) {
    expect_fail(what, b->p, b->n, want);
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void ok_buf(const char *what, gguf_buf *b) {
    atn_gguf *g = expect_ok(what, b->p, b->n);
    if (g) { walk(g); atn_gguf_close(g); }
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* Every truncation must fail; byte flips and random multi-byte damage must
 * open or fail cleanly, and whatever opens is walked end to end. */
static void hostile_variants(const char *path, const uint8_t *data, size_t size) {
    int all = 1;
    for (size_t cut = 0; cut < size; cut++) {
        char err[200] = "";
        atn_gguf *h = atn_gguf_open(data, cut, err, sizeof err);
        if (h || !err[0]) { all = 0; printf("  truncation at %zu: %s\n", cut, h ? "opened" : "no message"); atn_gguf_close(h); break; }
        /* a cut inside the header or the data: said first, in plain words */
        if (cut >= 8 && strncmp(err, "gguf: the file ends early", 25) != 0 && !strstr(err, "string length") &&
            !strstr(err, "cannot fit") && !strstr(err, "could hold") && !strstr(err, "runs past the end of the file")) {
            all = 0;
            printf("  truncation at %zu: '%s'\n", cut, err);
            break;
        }
    }
    CHECK(all, "%s: every truncation fails with a message saying the file ends early", path);
    /* cut inside the tensor data: the expected and the actual size */
    if (size > 64) {
        char err[256] = "";
        atn_gguf *h = atn_gguf_open(data, size - 1, err, sizeof err);
        char want[96];
        snprintf(want, sizeof want, "expected, %zu bytes read - was the download cut?", size - 1);
        if (size - 1 >= 10000) snprintf(want, sizeof want, "expected, %.1f KB read - was the download cut?", (size - 1) / 1e3);
        CHECK(!h && strstr(err, "the file ends early: ") && strstr(err, want), "%s cut by one byte: '%s'", path, err);
        atn_gguf_close(h);
    }

    static const uint8_t xors[] = {0x01, 0x80, 0xFF, 0x7F, 0x10};
    int clean = 1, opened = 0, failed = 0;
    uint8_t *copy = malloc(size);
    size_t flip_end = size < 4096 ? size : 4096; /* the header and infos */
    for (size_t pos = 0; pos < flip_end; pos++)
        for (size_t k = 0; k < sizeof xors; k++) {
            memcpy(copy, data, size);
            copy[pos] ^= xors[k];
            char err[200] = "";
            atn_gguf *h = atn_gguf_open(copy, size, err, sizeof err);
            if (h) { walk(h); atn_gguf_close(h); opened++; }
            else if (!err[0] || strchr(err, '\n')) { if (clean) printf("  flip at %zu ^%02x: '%s'\n", pos, xors[k], err); clean = 0; }
            else failed++;
        }
    /* random damage: 1-8 bytes set to random values, some to 0xFF.. runs */
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int it = 0; it < 20000; it++) {
        memcpy(copy, data, size);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        int nbytes = 1 + (int)((rng >> 33) % 8);
        for (int j = 0; j < nbytes; j++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((rng >> 20) % flip_end);
            copy[pos] = (rng >> 60) < 4 ? 0xFF : (uint8_t)(rng >> 40);
        }
        char err[200] = "";
        atn_gguf *h = atn_gguf_open(copy, size, err, sizeof err);
        if (h) { walk(h); atn_gguf_close(h); opened++; }
        else if (!err[0] || strchr(err, '\n')) { if (clean) printf("  random damage %d: '%s'\n", it, err); clean = 0; }
        else failed++;
    }
    CHECK(clean, "%s: damaged files fail cleanly", path);
    CHECK(failed > 0 && opened > 0, "damage: %d opened, %d failed", opened, failed);
    printf("  %s: %zu truncations; of the damaged copies %d opened, %d rejected\n", path, size, opened, failed);
    free(copy);
}

/* ---- valid files ---- */

static int streq(const char *s, size_t len, const char *want) {
    return len == strlen(want) && memcmp(s, want, len) == 0;
}

static void test_meta(const char *path, uint32_t version) {
    size_t size;
    uint8_t *data = read_file(path, &size);
    CHECK(data != NULL, "cannot read %s", path);
    if (!data) return;
    atn_gguf *g = expect_ok(path, data, size);
    if (!g) { free(data); return; }
    CHECK(atn_gguf_version(g) == version, "version %u", atn_gguf_version(g));
    CHECK(atn_gguf_alignment(g) == 32, "alignment %zu", atn_gguf_alignment(g));
    CHECK(atn_gguf_n_kv(g) == 27, "n_kv %d", atn_gguf_n_kv(g));
    for (int i = 0; i < atn_gguf_n_kv(g); i++)
        CHECK(atn_gguf_find(g, atn_gguf_key(g, i)) == i, "find(key(%d))", i);
    CHECK(strcmp(atn_gguf_key(g, 0), "general.architecture") == 0, "key 0");
    CHECK(atn_gguf_key(g, -1) == NULL && atn_gguf_key(g, 27) == NULL, "key out of range");
    CHECK(atn_gguf_find(g, "nope") == -1 && atn_gguf_find(g, "") == -1, "find missing");
    CHECK(atn_gguf_kv_type(g, atn_gguf_find(g, "t.u16")) == ATN_GGUF_UINT16, "kv_type u16");
    CHECK(atn_gguf_kv_type(g, atn_gguf_find(g, "t.strs")) == ATN_GGUF_ARRAY, "kv_type array");
    CHECK(atn_gguf_kv_type(g, 99) == -1, "kv_type out of range");

    const char *s; size_t len;
    CHECK(atn_gguf_get_str(g, "general.architecture", &s, &len) == 0 && streq(s, len, "llama"), "arch");
    CHECK(atn_gguf_get_str(g, "general.name", &s, &len) == 0 && streq(s, len, "fixture \xc3\xa9\xc3\xb1 \xe4\xb8\xad"), "name");
    CHECK(atn_gguf_get_str(g, "t.empty", &s, &len) == 0 && len == 0, "empty string");
    CHECK(atn_gguf_get_str(g, "t.u8", &s, &len) == -2, "str of int");
    CHECK(atn_gguf_get_str(g, "missing", &s, &len) == -1, "str missing");

    int64_t v;
    CHECK(atn_gguf_get_i64(g, "t.u8", &v) == 0 && v == 200, "u8 %lld", (long long)v);
    CHECK(atn_gguf_get_i64(g, "t.i8", &v) == 0 && v == -100, "i8 %lld", (long long)v);
    CHECK(atn_gguf_get_i64(g, "t.u16", &v) == 0 && v == 60000, "u16");
    CHECK(atn_gguf_get_i64(g, "t.i16", &v) == 0 && v == -30000, "i16");
    CHECK(atn_gguf_get_i64(g, "t.u32", &v) == 0 && v == 4000000000LL, "u32");
    CHECK(atn_gguf_get_i64(g, "t.i32", &v) == 0 && v == -2000000000LL, "i32");
    CHECK(atn_gguf_get_i64(g, "t.i64", &v) == 0 && v == -(1LL << 40), "i64");
    CHECK(atn_gguf_get_i64(g, "t.u64small", &v) == 0 && v == 12345, "u64 small");
    CHECK(atn_gguf_get_i64(g, "t.u64", &v) == -2, "u64 > INT64_MAX");
    CHECK(atn_gguf_get_i64(g, "t.bool", &v) == 0 && v == 1, "bool as int");
    CHECK(atn_gguf_get_i64(g, "t.f32", &v) == -2, "i64 of float");
    CHECK(atn_gguf_get_i64(g, "t.strs", &v) == -2, "i64 of array");
    CHECK(atn_gguf_get_i64(g, "missing", &v) == -1, "i64 missing");

    uint32_t u;
    CHECK(atn_gguf_get_u32(g, "t.u32", &u) == 0 && u == 4000000000u, "u32");
    CHECK(atn_gguf_get_u32(g, "t.u8", &u) == 0 && u == 200, "u32 of u8");
    CHECK(atn_gguf_get_u32(g, "t.u64small", &u) == 0 && u == 12345, "u32 of u64");
    CHECK(atn_gguf_get_u32(g, "t.i32", &u) == -2, "u32 of negative");
    CHECK(atn_gguf_get_u32(g, "t.i64", &u) == -2, "u32 of big");
    CHECK(atn_gguf_get_u32(g, "missing", &u) == -1, "u32 missing");

    float f;
    CHECK(atn_gguf_get_f32(g, "t.f32", &f) == 0 && f == 0.15625f, "f32");
    CHECK(atn_gguf_get_f32(g, "t.f64", &f) == 0 && f == (float)1e-300, "f64 as f32");
    CHECK(atn_gguf_get_f32(g, "t.u32", &f) == -2, "f32 of int");
    CHECK(atn_gguf_get_f32(g, "missing", &f) == -1, "f32 missing");

    int b;
    CHECK(atn_gguf_get_bool(g, "t.bool", &b) == 0 && b == 1, "bool");
    CHECK(atn_gguf_get_bool(g, "t.false", &b) == 0 && b == 0, "false");
    CHECK(atn_gguf_get_bool(g, "t.u8", &b) == -2, "bool of int");

    int et; uint64_t n;
    CHECK(atn_gguf_get_arr(g, "t.strs", &et, &n) == 0 && et == ATN_GGUF_STRING && n == 5, "strs");
    const char *want[] = {"<s>", "</s>", "\xe2\x96\x81hello", ""};
    for (int i = 0; i < 4; i++)
        CHECK(atn_gguf_arr_str(g, "t.strs", (uint64_t)i, &s, &len) == 0 && streq(s, len, want[i]), "strs[%d]", i);
    CHECK(atn_gguf_arr_str(g, "t.strs", 4, &s, &len) == 0 && len == 3 && memcmp(s, "a\0b", 3) == 0, "strs[4] with NUL");
    CHECK(atn_gguf_arr_str(g, "t.strs", 5, &s, &len) == -2, "strs[5]");
    CHECK(atn_gguf_arr_str(g, "t.f32s", 0, &s, &len) == -2, "arr_str of floats");
    CHECK(atn_gguf_arr_str(g, "missing", 0, &s, &len) == -1, "arr_str missing");
    CHECK(atn_gguf_get_arr(g, "t.u8", &et, &n) == -2, "arr of scalar");

    double d;
    CHECK(atn_gguf_arr_f64(g, "t.f32s", 1, &d) == 0 && d == -1.25, "f32s[1]");
    CHECK(atn_gguf_arr_f64(g, "t.f64s", 1, &d) == 0 && d == -0.125, "f64s[1]");
    CHECK(atn_gguf_arr_f64(g, "t.i32s", 2, &d) == 0 && d == 2147483647.0, "i32s[2] as f64");
    CHECK(atn_gguf_arr_f64(g, "t.u64s", 1, &d) == 0 && d == 18446744073709551615.0, "u64s[1] as f64");
    CHECK(atn_gguf_arr_f64(g, "t.f32s", 3, &d) == -2, "f32s[3]");
    CHECK(atn_gguf_arr_f64(g, "t.strs", 0, &d) == -2, "f64 of strings");
    CHECK(atn_gguf_arr_i64(g, "t.i32s", 1, &v) == 0 && v == -2, "i32s[1]");
    CHECK(atn_gguf_arr_i64(g, "t.u8s", 1, &v) == 0 && v == 255, "u8s[1]");
    CHECK(atn_gguf_arr_i64(g, "t.i16s", 0, &v) == 0 && v == -32768, "i16s[0]");
    CHECK(atn_gguf_arr_i64(g, "t.u64s", 0, &v) == 0 && v == 1, "u64s[0]");
    CHECK(atn_gguf_arr_i64(g, "t.u64s", 1, &v) == -2, "u64s[1] too big");
    CHECK(atn_gguf_arr_i64(g, "t.f32s", 0, &v) == -2, "i64 of floats");
    CHECK(atn_gguf_arr_i64(g, "t.bools", 0, &v) == 0 && v == 1, "bools[0]");
    CHECK(atn_gguf_arr_i64(g, "t.bools", 1, &v) == 0 && v == 0, "bools[1]");
    CHECK(atn_gguf_get_arr(g, "t.emptyarr", &et, &n) == 0 && n == 0 && et == ATN_GGUF_INT32, "empty array");
    CHECK(atn_gguf_arr_i64(g, "t.emptyarr", 0, &v) == -2, "empty array [0]");
    const void *raw;
    CHECK(atn_gguf_arr_data(g, "t.i32s", &raw) == 0 && memcmp(raw, (int32_t[]){1, -2, 2147483647}, 12) == 0, "arr_data");
    CHECK(atn_gguf_arr_data(g, "t.strs", &raw) == -2, "arr_data of strings");
    CHECK(atn_gguf_arr_data(g, "t.u8", &raw) == -2, "arr_data of scalar");
    CHECK(atn_gguf_get_arr(g, "t.nested", &et, &n) == 0 && et == ATN_GGUF_ARRAY && n == 3, "nested");
    CHECK(atn_gguf_arr_i64(g, "t.nested", 0, &v) == -2 && atn_gguf_arr_data(g, "t.nested", &raw) == -2, "nested elements");
    CHECK(atn_gguf_get_arr(g, "t.nested_strs", &et, &n) == 0 && et == ATN_GGUF_ARRAY && n == 2, "nested strs");

    CHECK(atn_gguf_n_tensors(g) == 3, "n_tensors");
    const atn_tensor *t = atn_gguf_find_tensor(g, "a.weight");
    CHECK(t && t->type == ATN_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 4 && t->ne[1] == 3 && t->ne[2] == 1 &&
          t->ne[3] == 1 && t->nbytes == 48, "a.weight");
    if (t) {
        float w[12];
        memcpy(w, t->data, 48);
        int okw = 1;
        for (int i = 0; i < 12; i++) okw &= w[i] == (float)i;
        CHECK(okw, "a.weight values");
        CHECK(((const uint8_t *)t->data - data) % 32 == 0, "a.weight aligned");
    }
    t = atn_gguf_find_tensor(g, "b.bias");
    CHECK(t && t->type == ATN_TYPE_F16 && t->n_dims == 1 && t->ne[0] == 3 && t->nbytes == 6, "b.bias");
    if (t) {
        uint16_t h[3];
        memcpy(h, t->data, 6);
        CHECK(h[0] == 0x3E00 && h[1] == 0xC000 && h[2] == 0x3400, "b.bias f16 bits %04x %04x %04x", h[0], h[1], h[2]);
    }
    t = atn_gguf_find_tensor(g, "c.q8");
    CHECK(t && t->type == ATN_TYPE_Q8_0 && t->n_dims == 3 && t->ne[0] == 64 && t->ne[1] == 3 && t->ne[2] == 2 &&
          t->nbytes == 6 * 2 * 34, "c.q8");
    CHECK(atn_gguf_tensor(g, 0) == atn_gguf_find_tensor(g, "a.weight") && atn_gguf_tensor(g, 3) == NULL &&
          atn_gguf_tensor(g, -1) == NULL, "tensor by index");
    CHECK(atn_gguf_find_tensor(g, "a.weigh") == NULL && atn_gguf_find_tensor(g, "zzz") == NULL, "find_tensor missing");
    walk(g);
    atn_gguf_close(g);

    hostile_variants(path, data, size);
    free(data);
}

static void test_align64(void) {
    size_t size;
    uint8_t *data = read_file("tests/fixtures/gguf/align64.gguf", &size);
    CHECK(data != NULL, "align64");
    if (!data) return;
    atn_gguf *g = expect_ok("align64", data, size);
    if (g) {
        CHECK(atn_gguf_alignment(g) == 64, "alignment %zu", atn_gguf_alignment(g));
        const atn_tensor *x = atn_gguf_find_tensor(g, "x"), *y = atn_gguf_find_tensor(g, "y");
        CHECK(x && y && ((const uint8_t *)x->data - data) % 64 == 0 && ((const uint8_t *)y->data - data) % 64 == 0,
              "64-aligned tensors");
        CHECK(y && y->nbytes == 68, "y bytes");
        atn_gguf_close(g);
    }
    free(data);
}

static void test_types(void) {
    size_t size;
    uint8_t *data = read_file("tests/fixtures/gguf/types.gguf", &size);
    CHECK(data != NULL, "types.gguf");
    if (!data) return;
    atn_gguf *g = expect_ok("types.gguf", data, size);
    if (g) {
        static const struct { const char *name; int type; size_t row; } ty[] = {
            {"f32", ATN_TYPE_F32, 1024}, {"f16", ATN_TYPE_F16, 512}, {"bf16", ATN_TYPE_BF16, 512},
            {"q8_0", ATN_TYPE_Q8_0, 272}, {"q4_0", ATN_TYPE_Q4_0, 144}, {"q4_1", ATN_TYPE_Q4_1, 160},
            {"q5_0", ATN_TYPE_Q5_0, 176}, {"q5_1", ATN_TYPE_Q5_1, 192}, {"q4_k", ATN_TYPE_Q4_K, 144},
            {"q5_k", ATN_TYPE_Q5_K, 176}, {"q6_k", ATN_TYPE_Q6_K, 210}};
        CHECK(atn_gguf_n_tensors(g) == 22, "n_tensors %d", atn_gguf_n_tensors(g));
        for (size_t i = 0; i < sizeof ty / sizeof ty[0]; i++) {
            const atn_tensor *t = atn_gguf_find_tensor(g, ty[i].name);
            CHECK(t && t->type == ty[i].type && t->ne[0] == 256 && t->ne[1] == 2 && t->nbytes == 2 * ty[i].row &&
                  atn_row_size(t->type, 256) == ty[i].row, "tensor %s", ty[i].name);
            char ename[32];
            snprintf(ename, sizeof ename, "expect.%s", ty[i].name);
            const atn_tensor *e = atn_gguf_find_tensor(g, ename);
            CHECK(e && e->type == ATN_TYPE_F32 && e->nbytes == 2048, "%s", ename);
            if (t && e && t->nbytes == 2 * ty[i].row && e->nbytes == 2048) {
                /* the C dequantizer against gguf.py's independent NumPy one */
                float got[512], want[512];
                memcpy(want, e->data, sizeof want);
                for (int r = 0; r < 2; r++)
                    atn_dequantize_row(t->type, (const uint8_t *)t->data + r * ty[i].row, got + 256 * r, 256);
                float maxerr = 0, maxabs = 0;
                for (int j = 0; j < 512; j++) {
                    maxerr = fmaxf(maxerr, fabsf(got[j] - want[j]));
                    maxabs = fmaxf(maxabs, fabsf(want[j]));
                }
                CHECK(maxerr <= 1e-6f * maxabs, "%s: C dequantizer differs from gguf.py by %g", ty[i].name, maxerr);
            }
        }
        atn_gguf_close(g);
    }
    hostile_variants("types.gguf", data, size);
    free(data);
}

/* ---- crafted hostile files ---- */

static void test_crafted(void) {
    gguf_buf b = {0};
    uint64_t ne2[2] = {32, 2};

    /* a minimal valid file: header only */
    gw_hdr(&b, 3, 0, 0);
    ok_buf("header only", &b);
    gw_hdr(&b, 2, 0, 1); gw_kv_u32(&b, "general.alignment", 1);
    ok_buf("alignment 1", &b);

    /* magic, version */
    expect_fail("empty", (const uint8_t *)"", 0, "magic");
    expect_fail("3 bytes", (const uint8_t *)"GGU", 3, "magic");
    expect_fail("bad magic", (const uint8_t *)"GGUX\3\0\0\0", 8, "magic");
    expect_fail("magic only", (const uint8_t *)"GGUF", 4, "the file ends early");
    gw_hdr(&b, 1, 0, 0); fail_buf("v1", &b, "v1");
    gw_hdr(&b, 4, 0, 0); fail_buf("v4", &b, "version 4");
    gw_hdr(&b, 0, 0, 0); fail_buf("v0", &b, "version 0");
    gw_hdr(&b, 0x03000000u, 0, 0); fail_buf("big-endian", &b, "big-endian");
    expect_fail("NULL data", NULL, 10, "no data");

    /* absurd counts */
    gw_hdr(&b, 3, 0, 1ull << 60); fail_buf("n_kv huge", &b, "metadata count");
    gw_hdr(&b, 3, 0, UINT64_MAX); fail_buf("n_kv max", &b, "metadata count");
    gw_hdr(&b, 3, 0, 2); gw_kv_u32(&b, "a", 1); fail_buf("n_kv one too many", &b, "metadata count");
    gw_hdr(&b, 3, 1ull << 40, 0); fail_buf("n_tensors huge", &b, "tensor count");
    gw_hdr(&b, 3, 1, 0); fail_buf("n_tensors 1, no infos", &b, "tensor count");

    /* keys */
    gw_hdr(&b, 3, 0, 1); gw_u64(&b, UINT64_MAX); gw_u32(&b, 4); gw_u32(&b, 0); fail_buf("key len max", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_u64(&b, 1ull << 63); gw_u32(&b, 4); gw_u32(&b, 0); fail_buf("key len 2^63", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_u64(&b, 100); gw_put(&b, "abc", 3); gw_zeros(&b, 20); fail_buf("key len past end", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "", 5); gw_zeros(&b, 8); fail_buf("empty key", &b, "empty");
    static const char *bad_utf8[] = {"a\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "\x80", "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, bad_utf8[i], 5); fail_buf("bad UTF-8 key", &b, "UTF-8");
    }
    gw_hdr(&b, 3, 0, 1); gw_strn(&b, "a\0b", 3); gw_u32(&b, ATN_GGUF_UINT32); gw_u32(&b, 5); fail_buf("NUL in key", &b, "NUL");
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "a\nb", 5); fail_buf("newline in key", &b, "control character 0x0a");
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "ok.\xe4\xb8\xad\xf0\x9f\x98\x80", 5); ok_buf("UTF-8 key", &b);
    gw_hdr(&b, 3, 0, 2); gw_kv_u32(&b, "a.b", 1); gw_kv_u32(&b, "a.b", 2); fail_buf("duplicate key", &b, "duplicate metadata key 'a.b'");
    gw_hdr(&b, 3, 0, 3); gw_kv_u32(&b, "x", 1); gw_kv_u32(&b, "y", 1); gw_kv_str(&b, "x", "s"); fail_buf("duplicate key 2", &b, "duplicate");

    /* values */
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, 13); gw_u64(&b, 0); fail_buf("value type 13", &b, "unknown value type 13");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, 0xFFFFFFFFu); gw_u64(&b, 0); fail_buf("value type max", &b, "unknown value type");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_UINT64); gw_u32(&b, 0); fail_buf("u64 truncated", &b, "the file ends early");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_STRING); gw_u64(&b, 50); gw_put(&b, "short", 5); fail_buf("string past end", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_STRING); gw_u64(&b, UINT64_MAX); fail_buf("string len max", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_BOOL); gw_u8(&b, 2); gw_zeros(&b, 4); fail_buf("bool 2", &b, "bool");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, ATN_GGUF_UINT32); gw_u64(&b, 1ull << 62); gw_zeros(&b, 16);
    fail_buf("array count huge", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, ATN_GGUF_UINT64); gw_u64(&b, (UINT64_MAX / 8) + 2); gw_zeros(&b, 16);
    fail_buf("array count overflowing bytes", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, ATN_GGUF_STRING); gw_u64(&b, 1ull << 40); gw_zeros(&b, 16);
    fail_buf("string array count huge", &b, "cannot fit");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, ATN_GGUF_STRING); gw_u64(&b, 2); gw_str(&b, "a"); gw_u64(&b, 99);
    fail_buf("string array element past end", &b, "runs past");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, ATN_GGUF_ARRAY); gw_u64(&b, 1ull << 50); gw_zeros(&b, 24);
    fail_buf("array of arrays count huge", &b, "cannot fit");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, 77); gw_u64(&b, 1); gw_zeros(&b, 8);
    fail_buf("array elem type 77", &b, "unknown array element type 77");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY); gw_u32(&b, ATN_GGUF_BOOL); gw_u64(&b, 3); gw_u8(&b, 1); gw_u8(&b, 0); gw_u8(&b, 9);
    fail_buf("bool array 9", &b, "bool");
    for (int depth = 7; depth <= 9; depth++) { /* arrays nested `depth` deep */
        gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY);
        for (int d = 1; d < depth; d++) { gw_u32(&b, ATN_GGUF_ARRAY); gw_u64(&b, 1); }
        gw_u32(&b, ATN_GGUF_INT8); gw_u64(&b, 2); gw_u8(&b, 1); gw_u8(&b, 2);
        if (depth <= 8) ok_buf("nested arrays", &b); else fail_buf("nested too deep", &b, "deeper");
    }
    /* a long chain of deep nesting can't recurse without bound */
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "k"); gw_u32(&b, ATN_GGUF_ARRAY);
    for (int d = 0; d < 100000; d++) { gw_u32(&b, ATN_GGUF_ARRAY); gw_u64(&b, 1); }
    fail_buf("nested 100000 deep", &b, "deeper");

    /* alignment */
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "general.alignment", 0); fail_buf("alignment 0", &b, "power of two");
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "general.alignment", 3); fail_buf("alignment 3", &b, "power of two");
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "general.alignment", 48); fail_buf("alignment 48", &b, "power of two");
    gw_hdr(&b, 3, 0, 1); gw_kv_u32(&b, "general.alignment", 1u << 31); fail_buf("alignment 2^31", &b, "power of two");
    gw_hdr(&b, 3, 0, 1); gw_kv_str(&b, "general.alignment", "32"); fail_buf("alignment string", &b, "not an integer");
    gw_hdr(&b, 3, 0, 1); gw_str(&b, "general.alignment"); gw_u32(&b, ATN_GGUF_INT32); gw_u32(&b, 0xFFFFFFE0u); fail_buf("alignment -32", &b, "power of two");

    /* tensor infos */
#define ONE_TENSOR(nd, ne, type, off, datasz)                        \
    do {                                                            \
        gw_hdr(&b, 3, 1, 0); gw_tinfo(&b, "t", nd, ne, type, off);        \
        gw_pad(&b, 32); gw_zeros(&b, datasz);                             \
    } while (0)
    ONE_TENSOR(2, ne2, ATN_TYPE_F32, 0, 256); ok_buf("one f32 tensor", &b);
    ONE_TENSOR(2, ne2, ATN_TYPE_F32, 0, 255); fail_buf("tensor data one byte short", &b, "runs past");
    ONE_TENSOR(0, ne2, ATN_TYPE_F32, 0, 256); fail_buf("n_dims 0", &b, "dimensions");
    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    ONE_TENSOR(5, ne5, ATN_TYPE_F32, 0, 64); fail_buf("n_dims 5", &b, "dimensions");
    gw_hdr(&b, 3, 1, 0); gw_str(&b, "t"); gw_u32(&b, 0xFFFFFFFFu); gw_zeros(&b, 64); fail_buf("n_dims max", &b, "dimensions");
    uint64_t ne4[4] = {32, 1, 1, 2};
    ONE_TENSOR(4, ne4, ATN_TYPE_F32, 0, 256); ok_buf("n_dims 4", &b);
    uint64_t nez[2] = {32, 0};
    ONE_TENSOR(2, nez, ATN_TYPE_F32, 0, 256); fail_buf("zero dim", &b, "zero");
    uint64_t neo[2] = {1ull << 32, 1ull << 32};
    ONE_TENSOR(2, neo, ATN_TYPE_F32, 0, 64); fail_buf("dims overflow int64", &b, "overflows");
    uint64_t neo2[1] = {1ull << 63};
    ONE_TENSOR(1, neo2, ATN_TYPE_F32, 0, 64); fail_buf("dim 2^63", &b, "overflows");
    uint64_t neo3[3] = {1ull << 20, 1ull << 20, 1ull << 20};
    ONE_TENSOR(3, neo3, ATN_TYPE_F32, 0, 64); fail_buf("2^60 f32 elements", &b, NULL);
    uint64_t neo4[2] = {1ull << 62, 1};
    ONE_TENSOR(2, neo4, ATN_TYPE_F32, 0, 64); fail_buf("2^62 f32 = 2^64 bytes", &b, "overflows");
    ONE_TENSOR(2, ne2, 10, 0, 256); fail_buf("type q2_K", &b, "q2_K (id 10)");
    ONE_TENSOR(2, ne2, 99, 0, 256); fail_buf("type 99", &b, "unknown tensor type id 99");
    ONE_TENSOR(2, ne2, 0xFFFFFFFFu, 0, 256); fail_buf("type max", &b, "4294967295");
    ONE_TENSOR(2, ne2, ATN_TYPE_COUNT, 0, 256); fail_buf("type COUNT", &b, "type");
    uint64_t ne33[1] = {33};
    ONE_TENSOR(1, ne33, ATN_TYPE_Q8_0, 0, 256); fail_buf("q8_0 row 33", &b, "block size");
    uint64_t ne256[1] = {256};
    ONE_TENSOR(1, ne256, ATN_TYPE_Q4_K, 0, 144); ok_buf("q4_K one block", &b);
    uint64_t ne128[1] = {128};
    ONE_TENSOR(1, ne128, ATN_TYPE_Q6_K, 0, 256); fail_buf("q6_K row 128", &b, "block size");
    ONE_TENSOR(2, ne2, ATN_TYPE_F32, 4, 512); fail_buf("misaligned offset", &b, "alignment");
    ONE_TENSOR(2, ne2, ATN_TYPE_F32, 1ull << 40, 256); fail_buf("offset past end", &b, "runs past");
    ONE_TENSOR(2, ne2, ATN_TYPE_F32, UINT64_MAX - 31, 256); fail_buf("offset near 2^64", &b, NULL);
    ONE_TENSOR(2, ne2, ATN_TYPE_F32, 32, 256); fail_buf("offset + size past end", &b, "runs past");
    /* data section start past the end (no padding, no data) */
    gw_hdr(&b, 3, 1, 0); gw_tinfo(&b, "tt", 1, ne2, ATN_TYPE_F32, 0);
    if (b.n % 32 == 0) gw_u8(&b, 0);
    fail_buf("data section past end", &b, NULL);
    /* names */
    gw_hdr(&b, 3, 2, 0); gw_tinfo(&b, "w", 2, ne2, ATN_TYPE_F32, 0); gw_tinfo(&b, "w", 2, ne2, ATN_TYPE_F32, 256);
    gw_pad(&b, 32); gw_zeros(&b, 512); fail_buf("duplicate tensor", &b, "duplicate tensor name 'w'");
    gw_hdr(&b, 3, 2, 0); gw_tinfo(&b, "w", 2, ne2, ATN_TYPE_F32, 0); gw_tinfo(&b, "v", 2, ne2, ATN_TYPE_F32, 0);
    gw_pad(&b, 32); gw_zeros(&b, 512); fail_buf("same offset", &b, "overlap");
    gw_hdr(&b, 3, 2, 0); gw_tinfo(&b, "w", 2, ne2, ATN_TYPE_F32, 0); gw_tinfo(&b, "v", 2, ne2, ATN_TYPE_F32, 224);
    gw_pad(&b, 32); gw_zeros(&b, 512); fail_buf("partial overlap", &b, "overlap");
    gw_hdr(&b, 3, 2, 0); gw_tinfo(&b, "w", 2, ne2, ATN_TYPE_F32, 0); gw_tinfo(&b, "v", 2, ne2, ATN_TYPE_F32, 256);
    gw_pad(&b, 32); gw_zeros(&b, 512); ok_buf("adjacent tensors", &b);
    gw_hdr(&b, 3, 1, 0); gw_tinfo(&b, "bad\xc3", 2, ne2, ATN_TYPE_F32, 0); gw_pad(&b, 32); gw_zeros(&b, 256);
    fail_buf("tensor name UTF-8", &b, "UTF-8");
    gw_hdr(&b, 3, 1, 0); gw_tinfo(&b, "", 2, ne2, ATN_TYPE_F32, 0); gw_pad(&b, 32); gw_zeros(&b, 256);
    fail_buf("empty tensor name", &b, "empty");
    /* alignment from metadata governs the data section */
    gw_hdr(&b, 3, 1, 1); gw_kv_u32(&b, "general.alignment", 256); gw_tinfo(&b, "t", 2, ne2, ATN_TYPE_F32, 0);
    gw_pad(&b, 32); gw_zeros(&b, 256);
    if (b.n % 256 == 0) { gw_u8(&b, 0); }
    fail_buf("data not at 256-alignment", &b, NULL);
    gw_hdr(&b, 3, 1, 1); gw_kv_u32(&b, "general.alignment", 256); gw_tinfo(&b, "t", 2, ne2, ATN_TYPE_F32, 0);
    gw_pad(&b, 256); gw_zeros(&b, 256); ok_buf("alignment 256", &b);
    gw_hdr(&b, 3, 1, 1); gw_kv_u32(&b, "general.alignment", 256); gw_tinfo(&b, "t", 2, ne2, ATN_TYPE_F32, 32);
    gw_pad(&b, 256); gw_zeros(&b, 512); fail_buf("offset 32 with alignment 256", &b, "alignment 256");

    /* err may be NULL or tiny */
    gw_hdr(&b, 1, 0, 0);
    CHECK(atn_gguf_open(b.p, b.n, NULL, 0) == NULL, "NULL err");
    char tiny[4];
    CHECK(atn_gguf_open(b.p, b.n, tiny, sizeof tiny) == NULL && strlen(tiny) == 3, "tiny err");
    free(b.p);
}

int main(void) {
    test_meta("tests/fixtures/gguf/meta_v3.gguf", 3);
    test_meta("tests/fixtures/gguf/meta_v2.gguf", 2);
    test_align64();
    test_types();
    test_crafted();
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
