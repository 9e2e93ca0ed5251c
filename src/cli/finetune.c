/* cli/finetune.c — `atento finetune` in the native CLI (same flags as the JS
 * CLI, js/cli/finetune.js):
 *   atento finetune [--model M.gguf] --pairs pairs.tsv [--to es|en] -o out.gguf
 *                   [--steps N] [--lr X] [--seed S] [--replay FILE|none] [--json]
 * pairs.tsv: source<TAB>target per line (blank lines and lines starting with
 * '#' are skipped). Without --model: the shipped models/translate-en-es.gguf
 * and --to es. Replayed sentences (the model's own translations of them keep
 * its other behaviour): --replay FILE (en<TAB>es lines; the column of the
 * source language is used), by default models/finetune-replay.tsv.
 * Progress (step, loss) on stderr; --json prints a summary on stdout.
 */
#define _POSIX_C_SOURCE 199309L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../atento.h"
#include "files.h"

int atn_cli_finetune(int argc, char **argv);

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The whole file (atn_malloc'd, NUL-terminated), or NULL. */
static char *read_all(const char *path, size_t *n) {
    const char *verb, *reason;
    return cli_read_file(path, n, &verb, &reason);
}

/* Calls fn(line_no, cols[0..n_cols), lens, ctx) for each non-blank, non-#
 * line split at tabs (at most 3 columns reported). */
typedef int (*line_fn)(int line, int n_cols, char **cols, size_t *lens, void *ctx);
static int each_line(char *buf, size_t n, line_fn fn, void *ctx) {
    char *p = buf, *end = buf + n;
    int line = 0;
    while (p < end) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        line++;
        char *q = e;
        if (q > p && q[-1] == '\r') q--;
        if (q > p && *p != '#') {
            char *cols[3];
            size_t lens[3];
            int k = 0;
            char *c = p;
            for (;;) {
                char *tab = memchr(c, '\t', (size_t)(q - c));
                char *ce = tab ? tab : q;
                if (k < 3) { cols[k] = c; lens[k] = (size_t)(ce - c); }
                k++;
                if (!tab) break;
                c = tab + 1;
            }
            int blank = 1;
            for (char *s = p; s < q && blank; s++) blank = *s == ' ' || *s == '\t';
            if (!blank) {
                int rc = fn(line, k, cols, lens, ctx);
                if (rc) return rc;
            }
        }
        p = e + 1;
    }
    return 0;
}

typedef struct pairs_ctx { atn_finetune *f; const char *path; int n; } pairs_ctx;

static int add_pair_line(int line, int n_cols, char **cols, size_t *lens, void *ctx) {
    pairs_ctx *c = ctx;
    if (n_cols != 2) {
        fprintf(stderr, "atento: %s:%d: expected source<TAB>target, found %d column%s\n", c->path, line, n_cols,
                n_cols == 1 ? "" : "s");
        return 1;
    }
    if (atn_finetune_add_pair(c->f, cols[0], lens[0], cols[1], lens[1])) {
        const char *e = atn_last_error(), *colon = strstr(e, ": pair ");
        /* "finetune: pair N: why" -> "path:line: why" */
        const char *why = colon ? strchr(colon + 7, ':') : NULL;
        fprintf(stderr, "atento: %s:%d:%s\n", c->path, line, why ? why + 1 : e);
        return 1;
    }
    c->n++;
    return 0;
}

typedef struct replay_ctx { atn_finetune *f; int col; } replay_ctx;

static int add_replay_line(int line, int n_cols, char **cols, size_t *lens, void *ctx) {
    replay_ctx *c = ctx;
    (void)line;
    if (c->col < n_cols && c->col < 3) return atn_finetune_add_replay(c->f, cols[c->col], lens[c->col]) ? 1 : 0;
    return 0;
}

int atn_cli_finetune(int argc, char **argv) {
    const char *model_path = NULL, *pairs_path = NULL, *to = NULL, *out_path = NULL, *replay_path = NULL;
    int steps = 0, json = 0;
    float lr = 0;
    unsigned long seed = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: atento finetune [--model M.gguf] --pairs pairs.tsv [--to es|en] -o out.gguf [--steps N] [--lr X] "
                   "[--seed S] [--replay FILE|none] [--json]\n");
            return 0;
        }
        if (a[0] != '-') { fprintf(stderr, "atento: finetune: unexpected argument '%s'\n", a); return 2; }
        if (!v) { fprintf(stderr, "atento: %s needs a value\n", a); return 2; }
        i++;
        errno = 0;
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--pairs")) pairs_path = v;
        else if (!strcmp(a, "--to")) to = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--replay")) replay_path = v;
        else if (!strcmp(a, "--steps")) {
            long x = strtol(v, &end, 10);
            if (errno || *end || end == v || x < 1 || x > 100000) { fprintf(stderr, "atento: --steps must be 1..100000\n"); return 2; }
            steps = (int)x;
        } else if (!strcmp(a, "--lr")) {
            double x = strtod(v, &end);
            if (errno || *end || end == v || !(x > 0 && x <= 1)) { fprintf(stderr, "atento: --lr must be a number in (0, 1]\n"); return 2; }
            lr = (float)x;
        } else if (!strcmp(a, "--seed")) {
            unsigned long x = strtoul(v, &end, 10);
            if (errno || *end || end == v || v[0] == '-' || x > 0xffffffffUL) { fprintf(stderr, "atento: --seed must be 0..4294967295\n"); return 2; }
            seed = x;
        } else { fprintf(stderr, "atento: unknown flag %s for 'finetune'\n", a); return 2; }
    }
    if (!pairs_path) { fprintf(stderr, "atento: finetune needs --pairs pairs.tsv\n"); return 2; }
    if (!out_path) { fprintf(stderr, "atento: finetune needs -o out.gguf\n"); return 2; }
    if (!model_path) {
        model_path = "models/translate-en-es.gguf";
        if (!to) to = "es";
    }
    if (!replay_path) replay_path = "models/finetune-replay.tsv";

    size_t n_model, n_pairs_bytes;
    char *data = read_all(model_path, &n_model);
    if (!data) { fprintf(stderr, "atento: cannot read model '%s'\n", model_path); return 1; }
    atn_model *m = atn_model_load(data, n_model, 1);
    if (!m) { fprintf(stderr, "atento: %s: %s\n", model_path, atn_last_error()); return 1; }
    int rc = 1;
    char *pairs = NULL, *replay = NULL;
    void *out = NULL;
    atn_finetune *f = atn_finetune_new(m, to, steps, lr, (uint32_t)seed);
    if (!f) { fprintf(stderr, "atento: %s\n", atn_last_error()); goto done; }
    pairs = read_all(pairs_path, &n_pairs_bytes);
    if (!pairs) { fprintf(stderr, "atento: cannot read pairs '%s'\n", pairs_path); goto done; }
    pairs_ctx pc = {f, pairs_path, 0};
    if (each_line(pairs, n_pairs_bytes, add_pair_line, &pc)) goto done;
    if (pc.n == 0) { fprintf(stderr, "atento: %s: no pairs (expected source<TAB>target lines)\n", pairs_path); goto done; }
    if (strcmp(replay_path, "none") != 0) {
        size_t n_replay;
        replay = read_all(replay_path, &n_replay);
        if (!replay) { fprintf(stderr, "atento: cannot read replay sentences '%s' (--replay none to go without)\n", replay_path); goto done; }
        replay_ctx rcx = {f, to && !strcmp(to, "en") ? 1 : 0};
        if (each_line(replay, n_replay, add_replay_line, &rcx)) { fprintf(stderr, "atento: %s\n", atn_last_error()); goto done; }
    }
    double t0 = now_ms(), t_first = 0;
    float loss, first_loss = 0;
    int r, step = 0;
    if (json) printf("{\"losses\":[");
    while ((r = atn_finetune_step(f, &loss)) > 0) {
        step++;
        if (step == 1) { first_loss = loss; t_first = now_ms(); }
        fprintf(stderr, "step %d loss %.4f (%.1f s)\n", step, loss, (now_ms() - t0) / 1e3);
        if (json) printf("%s%.5f", step > 1 ? "," : "", loss);
    }
    if (r < 0) { fprintf(stderr, "%satento: %s\n", json ? "\n" : "", atn_last_error()); goto done; }
    double t1 = now_ms();
    size_t n_out;
    out = atn_finetune_save(f, &n_out);
    if (!out) { fprintf(stderr, "atento: %s\n", atn_last_error()); goto done; }
    FILE *o = fopen(out_path, "wb");
    if (!o || fwrite(out, 1, n_out, o) != n_out || fclose(o) != 0) {
        fprintf(stderr, "atento: cannot write '%s'\n", out_path);
        goto done;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (json)
        printf("],\"info\":%s,\"first_loss\":%.5f,\"prepare_ms\":%.1f,\"train_ms\":%.1f,\"peak_rss_bytes\":%ld,\"out\":\"%s\"}\n",
               atn_finetune_info_json(f), first_loss, t_first - t0, t1 - t0, ru.ru_maxrss * 1024L, out_path);
    else
        fprintf(stderr, "wrote %s (%d steps, %.1f s)\n", out_path, step, (t1 - t0) / 1e3);
    rc = 0;
done:
    atn_free(out);
    atn_finetune_free(f);
    atn_model_free(m);
    atn_free(pairs);
    atn_free(replay);
    return rc;
}
