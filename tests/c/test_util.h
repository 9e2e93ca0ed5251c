/* test_util.h — what every C test program shares: pass/fail counting, the
 * CHECK macro, reading a fixture file, loading a model. Paths are relative to
 * the repository root (ctest's working directory; the WASI runner preopens
 * it). Each program ends with `return test_summary();`, which prints the
 * closing line `N passed, M failed` and gives the exit status. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "atento.h"

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

static inline int test_summary(void) {
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

#endif
