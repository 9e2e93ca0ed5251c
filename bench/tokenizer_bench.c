/* tokenizer_bench.c — tokenizer speed per CPU second: the whole of a text
 * file encoded at once, three times, with the vocabulary of a GGUF file.
 *
 *   cc -O2 -Isrc bench/tokenizer_bench.c build/libatento_core.a -lm -o /tmp/tokenizer_bench
 *   cut -f1 ../shared/data/tatoeba-en-es/en-es.tsv > /tmp/en.txt
 *   /tmp/tokenizer_bench VOCAB.gguf /tmp/en.txt
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "atento.h"
#include "gguf.h"
#include "tokenizer.h"

static void *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[sz] = 0; *n = (size_t)sz; }
    return b;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: tokenizer_bench VOCAB.gguf TEXT\n"); return 2; }
    size_t n, tn;
    char err[256];
    void *d = read_all(argv[1], &n);
    char *text = read_all(argv[2], &tn);
    if (!d || !text) { fprintf(stderr, "cannot read the files\n"); return 1; }
    atn_gguf *g = atn_gguf_open(d, n, err, sizeof err);
    atn_tokenizer *t = g ? atn_tokenizer_load(g, "tokenizer.ggml", err, sizeof err) : NULL;
    if (!t) { fprintf(stderr, "%s\n", err); return 1; }
    int cap = (int)tn;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    clock_t t0 = clock();
    int k = 0;
    for (int r = 0; r < 3; r++) k = atn_tokenizer_encode(t, text, tn, 0, 0, ids, cap);
    double s = (double)(clock() - t0) / CLOCKS_PER_SEC / 3;
    printf("%s: %d tokens, %.1f MB/s per CPU second\n", argv[1], k, tn / s / 1e6);
    atn_tokenizer_free(t);
    atn_gguf_close(g);
    free(ids); free(text); free(d);
    return 0;
}
