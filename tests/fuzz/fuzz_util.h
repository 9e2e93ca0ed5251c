/* fuzz_util.h — shared by the libFuzzer harnesses in tests/fuzz/: reading a
 * fixture of the repository (path relative to its root, compiled in as
 * ATENTO_SOURCE_DIR) and a check that aborts, so a broken invariant is a
 * crash libFuzzer keeps. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ATENTO_SOURCE_DIR
#define ATENTO_SOURCE_DIR "."
#endif

#define FUZZ_CHECK(cond, ...)                                              \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz check failed at %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
            abort();                                                      \
        }                                                                 \
    } while (0)

/* The whole file (repository-relative path), or exit: a harness without its
 * fixture cannot run. */
static inline uint8_t *fuzz_read_fixture(const char *rel, size_t *n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ATENTO_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "fuzz: cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(len > 0 ? (size_t)len : 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) { fprintf(stderr, "fuzz: cannot read %s\n", path); exit(2); }
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* An exact-size heap copy, so ASan sees any read past the input. */
static inline char *fuzz_copy(const uint8_t *data, size_t size) {
    char *p = malloc(size ? size : 1);
    if (p && size) memcpy(p, data, size);
    return p;
}

#endif
