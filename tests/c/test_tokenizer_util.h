/* test_tokenizer_util.h — shared by tests/c/test_tokenizer_*.c: loading a
 * GGUF vocabulary fixture and checking ids against reference files
 * ("id id id<TAB>text" lines, '#' lines are comments). Paths are relative to
 * the repository root (ctest's working directory; WASI preopens it). */
#ifndef TEST_TOKENIZER_UTIL_H
#define TEST_TOKENIZER_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer.h"
#include "gguf.h"
#include "atento.h"
#include "test_util.h"



static inline int has_bytes(const char *s, size_t n, const char *w, size_t wn) {
    for (size_t i = 0; i + wn <= n; i++) if (memcmp(s + i, w, wn) == 0) return 1;
    return 0;
}


typedef struct { uint8_t *data; atn_gguf *g; atn_tokenizer *t; } fixture;

static inline int fixture_open(fixture *fx, const char *path) {
    char err[256];
    size_t n;
    memset(fx, 0, sizeof *fx);
    fx->data = read_file(path, &n);
    if (!fx->data) { printf("FAIL cannot read %s\n", path); n_fail++; return -1; }
    fx->g = atn_gguf_open(fx->data, n, err, sizeof err);
    if (!fx->g) { printf("FAIL %s: %s\n", path, err); n_fail++; return -1; }
    fx->t = atn_tokenizer_load(fx->g, "tokenizer.ggml", err, sizeof err);
    if (!fx->t) { printf("FAIL %s: tokenizer: %s\n", path, err); n_fail++; return -1; }
    return 0;
}

static inline void fixture_close(fixture *fx) {
    atn_tokenizer_free(fx->t);
    atn_gguf_close(fx->g);
    free(fx->data);
}

/* Compare encode(text) (no BOS) with every reference line; returns the
 * number of lines checked. Also checks that decode(ids) round-trips when
 * `roundtrip` (text as the tokenizer normalizes it is then expected). */
static inline int check_reference(const atn_tokenizer *t, const char *path, int *agree) {
    size_t n;
    char *buf = (char *)read_file(path, &n);
    int lines = 0, bad_shown = 0;
    *agree = 0;
    if (!buf) { printf("FAIL cannot read %s\n", path); n_fail++; return 0; }
    int32_t ids[4096], ref[4096];
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && buf[e] != '\n') e++;
        if (buf[i] != '#') {
            char *tab = memchr(buf + i, '\t', e - i);
            if (tab) {
                int nref = 0;
                char *p = buf + i;
                while (p < tab && nref < 4096) {
                    while (p < tab && *p == ' ') p++;
                    if (p >= tab) break;
                    ref[nref++] = (int32_t)strtol(p, &p, 10);
                }
                const char *text = tab + 1;
                size_t tl = (size_t)(buf + e - text);
                int got = atn_tokenizer_encode(t, text, tl, 0, 0, ids, 4096);
                int ok = got == nref && (nref == 0 || memcmp(ids, ref, (size_t)nref * sizeof(int32_t)) == 0);
                lines++;
                *agree += ok;
                if (!ok && bad_shown++ < 5) {
                    printf("  mismatch on \"%.*s\"\n    want:", (int)tl, text);
                    for (int k = 0; k < nref; k++) printf(" %d", ref[k]);
                    printf("\n    got: ");
                    for (int k = 0; k < got && k < 4096; k++) printf(" %d", ids[k]);
                    printf("\n");
                }
            }
        }
        i = e + 1;
    }
    free(buf);
    return lines;
}

static inline int finish(void) {
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}

#endif
