/* test_util.h — what every C test program shares: pass/fail counting, the
 * CHECK macro, reading a fixture file, loading a model, writing a GGUF file. Paths are relative to
 * the repository root (ctest's working directory; the WASI runner preopens
 * it). Each program ends with `return test_summary();`, which prints the
 * closing line `N passed, M failed` and gives the exit status. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "atento.h"
#include "gguf.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                           \
    do {                                                           \
        if (cond) n_pass++;                                        \
        else {                                                     \
            n_fail++;                                              \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                   \
            printf("\n");                                          \
        }                                                          \
    } while (0)

/* The whole file in memory from atn_malloc (so it can be handed to
 * atn_model_load with ownership; free it with atn_free), or NULL. A NUL byte
 * follows the data, so text files can be used as strings. */
static inline void *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = atn_malloc(cap);
    for (;;) {
        if (!buf) { fclose(f); return NULL; }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = atn_malloc(cap * 2);
        if (grown) memcpy(grown, buf, n);
        atn_free(buf);
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    buf[n] = 0;
    *size = n;
    return buf;
}

/* A model file loaded with ownership of its bytes, or NULL (reason printed). */
static inline atn_model *test_load_model(const char *path) {
    size_t size;
    void *data = read_file(path, &size);
    if (!data) { printf("cannot read %s\n", path); return NULL; }
    atn_model *m = atn_model_load(data, size, 1);
    if (!m) printf("load %s: %s\n", path, atn_last_error());
    return m;
}

/* ---- a GGUF writer, for crafted files ------------------------------------------
 * Appends little-endian GGUF pieces to a growing buffer (free b.p when done):
 *   gguf_buf b = {0}; gw_hdr(&b, 3, n_tensors, n_kv); gw_kv_str(&b, "general.architecture", "llama"); ... */
typedef struct { uint8_t *p; size_t n, cap; } gguf_buf;

static inline void gw_put(gguf_buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static inline void gw_u8(gguf_buf *b, uint8_t v) { gw_put(b, &v, 1); }
static inline void gw_u32(gguf_buf *b, uint32_t v) { gw_put(b, &v, 4); }
static inline void gw_u64(gguf_buf *b, uint64_t v) { gw_put(b, &v, 8); }
static inline void gw_strn(gguf_buf *b, const char *s, size_t n) { gw_u64(b, n); gw_put(b, s, n); }
static inline void gw_str(gguf_buf *b, const char *s) { gw_strn(b, s, strlen(s)); }
static inline void gw_hdr(gguf_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gw_put(b, "GGUF", 4);
    gw_u32(b, version);
    gw_u64(b, n_tensors);
    gw_u64(b, n_kv);
}
static inline void gw_kv_u32(gguf_buf *b, const char *key, uint32_t v) { gw_str(b, key); gw_u32(b, ATN_GGUF_UINT32); gw_u32(b, v); }
static inline void gw_kv_str(gguf_buf *b, const char *key, const char *v) { gw_str(b, key); gw_u32(b, ATN_GGUF_STRING); gw_str(b, v); }
/* one tensor's info: name, nd dimensions ne[], type, offset in the data */
static inline void gw_tinfo(gguf_buf *b, const char *name, uint32_t nd, const uint64_t *ne, uint32_t type, uint64_t off) {
    gw_str(b, name);
    gw_u32(b, nd);
    for (uint32_t i = 0; i < nd; i++) gw_u64(b, ne[i]);
    gw_u32(b, type);
    gw_u64(b, off);
}
static inline void gw_pad(gguf_buf *b, size_t align) {
    while (b->n % align) gw_u8(b, 0);
}
static inline void gw_zeros(gguf_buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) gw_u8(b, 0);
}

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

#endif
