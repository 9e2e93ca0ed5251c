/* translate_bench.c — translation speed over the public C API (atn_translator),
 * natively and compiled to WASM (WASI, run by Node: bench/translate_bench.sh).
 *
 *   translate_bench MODEL.gguf TSV [n_sentences=500] [beams=1,4] [target_lang=""]
 *
 * Takes n distinct source sentences (column 1), evenly spaced over the TSV (the
 * Tatoeba test split, models/train/split/test.tsv), and translates each one as
 * its own text, and reports for each beam width: sentences/s, target tokens/s
 * (EOS included), mean source tokens; then the latency of one fixed
 * 20-word sentence (best of 5, after one warm-up). Wall time and process CPU
 * time (cpu_*: what a loaded shared machine disturbs less). One JSON line per
 * beam.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "atento.h"

static const char SENT20[] =
    "My brother and I went to the market early this morning to buy fresh bread, fruit and cheese for lunch.";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) { /* see model_bench.c */
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *p = atn_malloc(cap);
    for (;;) {
        if (!p) break;
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *q = atn_malloc(cap * 2);
        if (q) memcpy(q, p, n);
        atn_free(p);
        p = q;
        cap *= 2;
    }
    fclose(f);
    *size = n;
    return p;
}

/* translate one text; returns target tokens (all sentences) or -1 */
static int translate(atn_translator *t, const char *s, size_t len, int *n_src) {
    if (atn_translate_begin(t, s, len) < 0) return -1;
    int n_tgt = 0, r;
    while ((r = atn_translate_next(t)) > 0) {
        if (r == 2) {
            n_tgt += atn_translate_tokens(t, 0, NULL, 0);
            if (n_src) *n_src += atn_translate_tokens(t, 1, NULL, 0);
        }
    }
    return r < 0 ? -1 : n_tgt;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: translate_bench MODEL.gguf TSV [n_sentences=500] [beams=1,4] [target_lang]\n");
        return 2;
    }
    int n_want = argc > 3 ? atoi(argv[3]) : 500;
    const char *beams = argc > 4 ? argv[4] : "1,4";
    const char *lang = argc > 5 ? argv[5] : "";
    size_t msize, tsize;
    void *mdata = read_all(argv[1], &msize);
    char *tsv = read_all(argv[2], &tsize);
    if (!mdata || !tsv) {
        fprintf(stderr, "translate_bench: cannot read %s\n", !mdata ? argv[1] : argv[2]);
        return 1;
    }
    atn_model *m = atn_model_load(mdata, msize, 1);
    if (!m) {
        fprintf(stderr, "translate_bench: load: %s\n", atn_last_error());
        return 1;
    }
    /* distinct first columns (consecutive duplicates dropped), then n_want
     * of them evenly spaced over the file (the split is ordered roughly by
     * length, so the first ones alone would be the shortest) */
    int cap = 1024, n_all = 0;
    char **all = malloc(sizeof(char *) * (size_t)cap);
    char *line = tsv, *end = tsv + tsize;
    while (all && line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) nl = end;
        char *tab = memchr(line, '\t', (size_t)(nl - line));
        char *e = tab ? tab : nl;
        *e = 0;
        if (e > line && (n_all == 0 || strcmp(all[n_all - 1], line) != 0)) {
            if (n_all == cap) {
                char **p = realloc(all, sizeof(char *) * (size_t)(cap *= 2));
                if (!p) return 1;
                all = p;
            }
            all[n_all++] = line;
        }
        line = nl + 1;
    }
    if (!all || n_all == 0) {
        fprintf(stderr, "translate_bench: no sentences in %s\n", argv[2]);
        return 1;
    }
    int n = n_want < n_all ? n_want : n_all;
    char **sent = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    if (!sent) return 1;
    for (int i = 0; i < n; i++) sent[i] = all[(int)((long long)i * n_all / n)];
    for (const char *b = beams; *b;) {
        int beam = atoi(b);
        atn_translator *t = atn_translator_new(m, beam, lang, 0);
        if (!t) {
            fprintf(stderr, "translate_bench: translator: %s\n", atn_last_error());
            return 1;
        }
        translate(t, sent[0], strlen(sent[0]), NULL); /* warm-up */
        long long n_tgt = 0;
        int n_src = 0, fails = 0;
        double t0 = now_ms(), c0 = cpu_ms();
        for (int i = 0; i < n; i++) {
            int k = translate(t, sent[i], strlen(sent[i]), &n_src);
            if (k < 0) fails++;
            else n_tgt += k;
        }
        double ms = now_ms() - t0, cms = cpu_ms() - c0;
        double lat = 1e30, clat = 1e30;
        int lat_tok = 0;
        for (int r = 0; r < 6; r++) {
            double a = now_ms(), ca = cpu_ms();
            int k = translate(t, SENT20, strlen(SENT20), NULL);
            double d = now_ms() - a, cd = cpu_ms() - ca;
            if (r > 0 && d < lat) lat = d, lat_tok = k;
            if (r > 0 && cd < clat) clat = cd;
        }
        size_t olen = 0;
        const char *out = atn_translate_output(t, &olen);
        printf("{\"model\":\"%s\",\"beam\":%d,\"sentences\":%d,\"failed\":%d,\"ms\":%.1f,\"sentences_per_s\":%.2f,"
               "\"target_tokens\":%lld,\"target_tokens_per_s\":%.1f,\"mean_src_tokens\":%.2f,"
               "\"cpu_ms\":%.1f,\"cpu_sentences_per_s\":%.2f,\"cpu_target_tokens_per_s\":%.1f,"
               "\"latency20_ms\":%.2f,\"latency20_cpu_ms\":%.2f,\"latency20_target_tokens\":%d,\"latency20_output\":\"",
               argv[1], beam, n, fails, ms, n / (ms / 1e3), n_tgt, n_tgt / (ms / 1e3), n ? (double)n_src / n : 0.0, cms,
               n / (cms / 1e3), n_tgt / (cms / 1e3), lat, clat, lat_tok);
        for (size_t i = 0; out && i < olen; i++) {
            unsigned char c = (unsigned char)out[i];
            if (c == '"' || c == '\\') printf("\\%c", c);
            else if (c < 0x20) printf("\\u%04x", c);
            else putchar(c);
        }
        printf("\"}\n");
        fflush(stdout);
        atn_translator_free(t);
        while (*b && *b != ',') b++;
        if (*b == ',') b++;
    }
    free(sent);
    free(all);
    atn_model_free(m);
    atn_free(tsv);
    return 0;
}
