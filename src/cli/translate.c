/* cli/translate.c — `atento translate` in the native CLI (same flags, rules
 * and messages as the JS CLI, js/cli/translate.js and js/direction.js):
 *   atento translate [--model M.gguf] [--to es|en] [--beam N] [--json] [TEXT]
 *                    [--no-repeat-ngram N] [--no-repeat-span N]   (the repeat guard, atento.h)
 * TEXT (or --text TEXT), or stdin when absent; empty text is an error.
 * --to is the target language and must be one of the model's (its >>xx<<
 * tags); without it the language of the text is detected (src/langid.c) and
 * a two-language model translates into the other one. Text already in --to
 * is printed unchanged, with a note on stderr. main.c dispatches
 * `atento translate ...` here with argv[1] = "translate", like its own cmd_*.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../atento.h"
#include "files.h"
#include "options.h"

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

#define MAX_TARGETS 16

/* The model's target languages, its >>xx<< tags, sorted; -1 when they live in
 * a separate source vocabulary this API cannot list (then --to is not checked). */
static int model_targets(const atn_model *m, char targets[MAX_TARGETS][16]) {
    const char *info = atn_model_info_json(m);
    if (info && strstr(info, "\"separate_source_vocab\":true")) return -1;
    int n = 0, V = atn_model_n_vocab(m);
    char piece[64];
    for (int id = 0; id < V && n < MAX_TARGETS; id++) {
        int k = atn_token_piece(m, id, piece, (int)sizeof piece - 1);
        if (k < 5 || k > 16 || k >= (int)sizeof piece) continue;
        piece[k] = 0;
        if (strncmp(piece, ">>", 2) || strcmp(piece + k - 2, "<<")) continue;
        int ok = 1;
        for (int i = 2; i < k - 2; i++) {
            char c = piece[i];
            ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        }
        if (!ok || k - 4 < 2) continue;
        memcpy(targets[n], piece + 2, (size_t)(k - 4));
        targets[n][k - 4] = 0;
        n++;
    }
    for (int i = 1; i < n; i++) /* sort, as js/options.js targetsOf does */
        for (int j = i; j > 0 && strcmp(targets[j - 1], targets[j]) > 0; j--) {
            char t[16];
            memcpy(t, targets[j], 16);
            memcpy(targets[j], targets[j - 1], 16);
            memcpy(targets[j - 1], t, 16);
        }
    return n;
}

static const char *language_name(const char *code) {
    if (!strcmp(code, "en")) return "English";
    if (!strcmp(code, "es")) return "Spanish";
    return code;
}

static void join_targets(char targets[MAX_TARGETS][16], int n, char *out, size_t cap) {
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, cap - l, "%s%s", i ? ", " : "", targets[i]);
    }
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) return 0;
    return 1;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int atn_cli_translate(int argc, char **argv) {
    const char *model_path = NULL, *to = NULL, *text = NULL;
    int beam = 1, json = 0, load_flags = 0, no_repeat_ngram = ATN_TR_NO_REPEAT_NGRAM, no_repeat_span = ATN_TR_NO_REPEAT_SPAN;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(a, "--text") && i + 1 < argc) {
            if (text) { fprintf(stderr, "atento: give the text once\n"); return 2; }
            text = argv[++i];
        }
        else if (!strcmp(a, "--to") && i + 1 < argc) to = argv[++i];
        else if (!strcmp(a, "--beam") && i + 1 < argc) {
            double v;
            char msg[256];
            if (cli_parse_value("beam", NULL, argv[++i], &v, msg, sizeof msg) < 0) { fprintf(stderr, "atento: %s\n", msg); return 2; }
            beam = (int)v;
        } else if ((!strcmp(a, "--no-repeat-ngram") || !strcmp(a, "--no-repeat-span")) && i + 1 < argc) {
            double v;
            char msg[256];
            if (cli_parse_value(a + 2, NULL, argv[++i], &v, msg, sizeof msg) < 0) { fprintf(stderr, "atento: %s\n", msg); return 2; }
            if (!strcmp(a, "--no-repeat-ngram")) no_repeat_ngram = (int)v;
            else no_repeat_span = (int)v;
        } else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--allow-unknown-pretokenizer")) load_flags = ATN_LOAD_ANY_PRETOKENIZER;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: atento translate [--model M.gguf] [--to es|en] [--beam N] [--json]\n"
                   "                       [--allow-unknown-pretokenizer] [--no-repeat-ngram N] [--no-repeat-span N]\n"
                   "                       [--text TEXT | TEXT]\n");
            return 0;
        } else if (a[0] == '-' && a[1] == '-') { fprintf(stderr, "atento: unknown flag %s for 'translate'\n", a); return 2; }
        else if (!text) text = a;
        else { fprintf(stderr, "atento: give the text as one argument (quote it)\n"); return 2; }
    }
    size_t n_model, n_text;
    char *input = NULL;
    int from_stdin = !text;
    if (text) n_text = strlen(text);
    else {
        input = slurp(stdin, &n_text);
        text = input;
        if (!text) { fprintf(stderr, "atento: out of memory\n"); return 1; }
    }
    if (is_blank(text, n_text)) {
        fprintf(stderr, "atento: %s is empty: nothing to translate\n", from_stdin ? "stdin" : "the text");
        free(input);
        return 2;
    }
    if (!model_path) {
        model_path = "models/translate-en-es.gguf";
        if (!file_exists(model_path)) {
            fprintf(stderr, "atento: no translation model given and translate-en-es.gguf is not installed: install the "
                            "shipped models with \"npm install atento-models-en-es\", or pass --model M.gguf\n");
            free(input);
            return 1;
        }
    }
    const char *verb, *reason;
    void *data = cli_read_file(model_path, &n_model, &verb, &reason);
    if (!data) {
        if (!strcmp(verb, "open")) fprintf(stderr, "atento: cannot open model '%s'\n", model_path);
        else fprintf(stderr, "atento: cannot read model '%s': %s\n", model_path, reason);
        free(input);
        return 1;
    }
    double t0 = now_ms();
    atn_model *m = cli_load_model(data, n_model, load_flags, model_path);
    if (!m) { fprintf(stderr, "atento: %s: %s\n", model_path, atn_last_error()); free(input); return 1; }
    double t1 = now_ms();
    int rc = 1;
    atn_translator *t = NULL;
    /* a wrong model file is bad input (exit 1), named by the architecture it declares, as in js/cli/translate.js */
    if (strcmp(atn_model_arch(m), "marian") != 0) {
        fprintf(stderr, "atento: %s is a '%s' model; translate needs a marian model\n", model_path, atn_model_arch(m));
        goto done;
    }
    /* the direction: as js/direction.js chooses it */
    char targets[MAX_TARGETS][16], list[MAX_TARGETS * 18];
    int n_targets = model_targets(m, targets);
    if (n_targets >= 0) join_targets(targets, n_targets, list, sizeof list);
    if (to && *to && n_targets == 0) {
        fprintf(stderr, "atento: --to: this model translates in one direction only; leave --to out\n");
        rc = 2;
        goto done;
    }
    if (to && *to && n_targets > 0) {
        int known = 0;
        for (int i = 0; i < n_targets; i++) known |= !strcmp(targets[i], to);
        if (!known) {
            fprintf(stderr, "atento: --to must be one of this model's target languages (%s), got '%s'\n", list, to);
            rc = 2;
            goto done;
        }
    }
    const char *from = atn_detect_language(text, n_text, NULL);
    if (to && *to) {
        if (from && atn_text_is_in_language(text, n_text, to)) {
            fprintf(stderr, "atento: the text is already in %s (--to %s); it is printed unchanged\n", language_name(to), to);
            if (json) {
                printf("{\"translations\":[],\"from\":\"%s\",\"to\":\"%s\",\"note\":\"the text is already in %s\",\"text\":", from, to,
                       language_name(to));
                json_str(text, n_text);
                printf("}\n");
            } else {
                fwrite(text, 1, n_text, stdout);
                if (text[n_text - 1] != '\n') putchar('\n');
            }
            rc = 0;
            goto done;
        }
    } else if (n_targets > 0) {
        to = NULL;
        if (from && n_targets == 2 && (!strcmp(targets[0], from) || !strcmp(targets[1], from)))
            to = !strcmp(targets[0], from) ? targets[1] : targets[0];
        if (!to) {
            if (!from) fprintf(stderr, "atento: cannot tell which language the text is in; give --to (one of %s)\n", list);
            else fprintf(stderr, "atento: the text looks %s; give --to (one of %s)\n", language_name(from), list);
            goto done;
        }
    }
    t = atn_translator_new(m, beam, to, 0);
    if (!t || atn_translator_set_repeat_guard(t, no_repeat_ngram, no_repeat_span) < 0 ||
        atn_translate_begin(t, text, n_text) < 0) { fprintf(stderr, "atento: %s\n", atn_last_error()); goto done; }
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
        printf("],\"from\":%s%s%s,\"to\":\"%s\",\"timings\":{\"load_ms\":%.1f,\"translate_ms\":%.1f,\"sentences\":%d,\"target_tokens\":%d,"
               "\"sentences_per_s\":%.2f,\"tokens_per_s\":%.1f}}\n",
               from ? "\"" : "", from ? from : "null", from ? "\"" : "", to ? to : "", t1 - t0, t2 - t1, n_sent, n_tok, n_sent / ((t2 - t1) / 1e3), n_tok / ((t2 - t1) / 1e3));
    else if (n_text && text[n_text - 1] != '\n') putchar('\n');
    rc = 0;
done:
    atn_translator_free(t);
    atn_model_free(m);
    free(input);
    return rc;
}
