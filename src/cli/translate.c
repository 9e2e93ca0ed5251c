/* cli/translate.c — `atento translate` in the native CLI (same flags as the
 * JS CLI, js/cli/translate.js):
 *   atento translate [--model M.gguf | --to es|en] [--beam N] [--json] [TEXT]
 * TEXT (or --text TEXT), or stdin when absent. main.c dispatches
 * `atento translate ...` here with argv[1] = "translate", like its own cmd_*.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../atento.h"

int atn_cli_translate(int argc, char **argv);

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *slurp(FILE *f, size_t *n) {
    size_t cap = 1 << 16, len = 0;
    char *b = malloc(cap);
    while (b) {
        size_t k = fread(b + len, 1, cap - len, f);
        len += k;
        if (len < cap) break;
        char *nb = realloc(b, cap *= 2);
        if (!nb) { free(b); return NULL; }
        b = nb;
    }
    *n = len;
    return b;
}

static void json_str(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int atn_cli_translate(int argc, char **argv) {
    const char *model_path = NULL, *to = NULL, *text = NULL;
    int beam = 1, json = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(a, "--text") && i + 1 < argc) {
            if (text) { fprintf(stderr, "atento: give the text once\n"); return 2; }
            text = argv[++i];
        }
        else if (!strcmp(a, "--to") && i + 1 < argc) to = argv[++i];
        else if (!strcmp(a, "--beam") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 8) { fprintf(stderr, "atento: --beam must be 1..8\n"); return 2; }
            beam = (int)v;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: atento translate [--model M.gguf | --to es|en] [--beam N] [--json] [--text TEXT | TEXT]\n");
            return 0;
        } else if (a[0] == '-' && a[1] == '-') { fprintf(stderr, "atento: unknown flag %s for 'translate'\n", a); return 2; }
        else if (!text) text = a;
        else { fprintf(stderr, "atento: give the text as one argument (quote it)\n"); return 2; }
    }
    if (!model_path) {
        model_path = "models/translate-en-es.gguf";
        if (!to) to = "es";
    }
    size_t n_model, n_text;
    FILE *f = fopen(model_path, "rb");
    if (!f) { fprintf(stderr, "atento: cannot open model '%s'\n", model_path); return 1; }
    char *bytes = slurp(f, &n_model);
    fclose(f);
    char *input = NULL;
    if (text) n_text = strlen(text);
    else {
        input = slurp(stdin, &n_text);
        text = input;
    }
    if (!bytes || !text) { fprintf(stderr, "atento: out of memory\n"); return 1; }
    void *data = atn_malloc(n_model);
    if (!data) { fprintf(stderr, "atento: out of memory\n"); return 1; }
    memcpy(data, bytes, n_model);
    free(bytes);
    double t0 = now_ms();
    atn_model *m = atn_model_load(data, n_model, 1);
    if (!m) { fprintf(stderr, "atento: %s: %s\n", model_path, atn_last_error()); free(input); return 1; }
    double t1 = now_ms();
    int rc = 1;
    atn_translator *t = atn_translator_new(m, beam, to, 0);
    if (!t || atn_translate_begin(t, text, n_text) < 0) { fprintf(stderr, "atento: %s\n", atn_last_error()); goto done; }
    int r, n_sent = 0, n_tok = 0;
    if (json) printf("{\"translations\":[");
    while ((r = atn_translate_next(t)) >= 0) {
        size_t n;
        const char *p = atn_translate_piece(t, &n);
        if (!json) { fwrite(p, 1, n, stdout); fflush(stdout); }
        if (r == 2) {
            int32_t ids[1024];
            int k = atn_translate_tokens(t, 0, ids, 1024);
            n_tok += k;
            if (json) {
                size_t sl, tl;
                const char *s = atn_translate_source(t, &sl), *o = atn_translate_output(t, &tl);
                printf("%s{\"source\":", n_sent ? "," : "");
                json_str(s, sl);
                printf(",\"text\":");
                json_str(o, tl);
                printf(",\"tokens\":[");
                for (int i = 0; i < k && i < 1024; i++) printf("%s%d", i ? "," : "", ids[i]);
                printf("]}");
            }
            n_sent++;
        }
        if (r == 0) break;
    }
    if (r < 0) { fprintf(stderr, "\natento: %s\n", atn_last_error()); goto done; }
    double t2 = now_ms();
    if (json)
        printf("],\"timings\":{\"load_ms\":%.1f,\"translate_ms\":%.1f,\"sentences\":%d,\"target_tokens\":%d,"
               "\"sentences_per_s\":%.2f,\"tokens_per_s\":%.1f}}\n",
               t1 - t0, t2 - t1, n_sent, n_tok, n_sent / ((t2 - t1) / 1e3), n_tok / ((t2 - t1) / 1e3));
    else if (n_text && text[n_text - 1] != '\n') putchar('\n');
    rc = 0;
done:
    atn_translator_free(t);
    atn_model_free(m);
    free(input);
    return rc;
}
