/* chat_tools.c — the built-in tools of the native `atento chat` (docs/chat.md,
 * "Built-in tools"): `translate` (the shipped translation model, greedy) and
 * `lookup` (the shipped dictionary, src/dictionary.c), each loaded on first
 * use and kept. The result strings are those of js/tools.js, which the
 * worker and the JS CLI use: every failure is a result starting with
 * "error: ", so the conversation goes on.
 *
 * The files are looked for as the chat model is (shipped.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "atento.h"
#include "chat_tools.h"
#include "files.h"
#include "shipped.h"

#define TRANSLATE_MAX_BYTES 2000

struct cli_tools {
    atn_dict *dict;
    atn_model *mt;
};

cli_tools *cli_tools_new(void) { return calloc(1, sizeof(cli_tools)); }

void cli_tools_free(cli_tools *t) {
    if (!t) return;
    atn_dict_free(t->dict);
    atn_model_free(t->mt);
    free(t);
}

static char *dupf(const char *fmt, const char *a, const char *b) {
    size_t n = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, fmt, a, b ? b : "");
    return s;
}

/* The path of a shipped file, or NULL with the reason in why. */
static char *find_shipped(const char *name, char *why, size_t cap) {
    char dir[CLI_SHIPPED_DIR_MAX];
    char *path = cli_find_shipped(name, NULL, dir, sizeof dir);
    if (!path) snprintf(why, cap, "%s is not installed in %.200s", name, dir);
    return path;
}

/* The whole file from atn_malloc, or NULL with the reason in why. */
static void *read_all(const char *path, size_t *size, char *why, size_t cap) {
    const char *verb, *reason;
    void *data = cli_read_file(path, size, &verb, &reason);
    if (!data) snprintf(why, cap, "cannot %s %.300s: %s", verb, path, reason);
    return data;
}

static int load_dict(cli_tools *t, char *why, size_t cap) {
    if (t->dict) return 0;
    char *path = find_shipped("dict-en-es.tsv", why, cap);
    if (!path) return -1;
    size_t size;
    void *data = read_all(path, &size, why, cap);
    if (data) {
        t->dict = atn_dict_load(data, size);
        if (!t->dict) snprintf(why, cap, "%s", atn_last_error());
        atn_free(data);
    }
    free(path);
    return t->dict ? 0 : -1;
}

static int load_mt(cli_tools *t, char *why, size_t cap) {
    if (t->mt) return 0;
    char *path = find_shipped("translate-en-es.gguf", why, cap);
    if (!path) return -1;
    size_t size;
    void *data = read_all(path, &size, why, cap);
    if (data) {
        atn_model *m = atn_model_load(data, size, 1);
        if (!m) snprintf(why, cap, "%.300s: %s", path, atn_last_error());
        else if (strcmp(atn_model_arch(m), "marian") != 0) {
            snprintf(why, cap, "the translation model is a '%s' model, not a translation (marian) model", atn_model_arch(m));
            atn_model_free(m);
        } else t->mt = m;
    }
    free(path);
    return t->mt ? 0 : -1;
}

/* Greedy translation as one line: whitespace runs become one space, ends trimmed. */
static char *translate_line(atn_model *m, const char *text, const char *to) {
    atn_translator *tr = atn_translator_new(m, 1, to, 0);
    if (!tr) return dupf("error: %s%s", atn_last_error(), NULL);
    size_t cap = 256, n = 0;
    char *out = malloc(cap);
    int r = out ? atn_translate_begin(tr, text, strlen(text)) : -1;
    while (r >= 0) {
        r = atn_translate_next(tr);
        if (r < 0) break;
        size_t len = 0;
        const char *p = atn_translate_piece(tr, &len);
        if (p && len) {
            if (n + len + 1 > cap) {
                while (n + len + 1 > cap) cap *= 2;
                char *q = realloc(out, cap);
                if (!q) { r = -1; break; }
                out = q;
            }
            memcpy(out + n, p, len);
            n += len;
        }
        if (r == 0) break;
    }
    atn_translator_free(tr);
    if (r < 0) {
        free(out);
        return dupf("error: %s%s", out ? atn_last_error() : "out of memory", NULL);
    }
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') { space = 1; continue; }
        if (space && o) out[o++] = ' ';
        space = 0;
        out[o++] = c;
    }
    out[o] = 0;
    return out;
}

/* JS String.prototype.trim() leaves nothing: only white space (the ASCII
 * kinds, no-break space, BOM). */
static int blank(const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        if (*u == ' ' || (*u >= '\t' && *u <= '\r')) u++;
        else if (u[0] == 0xC2 && u[1] == 0xA0) u += 2;
        else if (u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) u += 3;
        else return 0;
    }
    return 1;
}

static int is_lang(const char *s) { return s && (!strcmp(s, "en") || !strcmp(s, "es")); }

char *cli_tools_run(cli_tools *t, const char *name, const cli_tool_args *a) {
    char why[512];
    if (!strcmp(name, "translate")) {
        if (!a->is_object || !a->text || blank(a->text) || !is_lang(a->to))
            return strdup("error: translate needs \"text\" (a string) and \"to\" (\"en\" or \"es\")");
        if (strlen(a->text) > TRANSLATE_MAX_BYTES) return strdup("error: translate: the text is longer than 2000 bytes");
        if (load_mt(t, why, sizeof why) < 0) return dupf("error: the translation model is not available: %s%s", why, NULL);
        return translate_line(t->mt, a->text, a->to);
    }
    if (!strcmp(name, "lookup")) {
        if (!a->is_object || !a->word || !is_lang(a->from))
            return strdup("error: lookup needs \"word\" (a string) and \"from\" (\"en\" or \"es\")");
        if (load_dict(t, why, sizeof why) < 0) return dupf("error: the dictionary is not available: %s%s", why, NULL);
        int n = atn_dict_lookup(t->dict, a->word, a->word_len, a->from, NULL, 0);
        if (n < 0) return dupf("error: %s%s", atn_last_error(), NULL);
        char *out = malloc((size_t)n + 1);
        if (out) atn_dict_lookup(t->dict, a->word, a->word_len, a->from, out, n + 1);
        return out;
    }
    return dupf("error: unknown tool '%s'; the tools are translate and lookup%s", name, NULL);
}

/* `atento lookup WORD --from en|es [--dictionary FILE]`: the lookup tool's
 * answer, as js/cli/lookup.js prints it. Returns the exit status. */
int atn_cli_lookup(int argc, char **argv) {
    const char *word = NULL, *from = NULL, *path = NULL;
    int n_words = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs("usage: atento lookup WORD --from en|es [--dictionary FILE]\n\n"
                  "look a word up in the English-Spanish dictionary (the lookup tool)\n",
                  stdout);
            return 0;
        }
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++) word = argv[i], n_words++;
            break;
        }
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            word = a;
            n_words++;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        int is_from = nl == 6 && !strncmp(a, "--from", 6), is_dict = nl == 12 && !strncmp(a, "--dictionary", 12);
        if (!is_from && !is_dict) {
            fprintf(stderr, "atento: unknown flag %.*s for 'lookup' (see atento lookup --help)\n", (int)nl, a);
            return 2;
        }
        if (!val) {
            fprintf(stderr, "atento: %.*s needs a value\n", (int)nl, a);
            return 2;
        }
        if (is_from) from = val;
        else path = val;
    }
    if (!from) {
        fputs("atento: --from is required\n", stderr);
        return 2;
    }
    if (strcmp(from, "en") != 0 && strcmp(from, "es") != 0) {
        fprintf(stderr, "atento: --from must be en or es, got '%s'\n", from);
        return 2;
    }
    if (n_words != 1) {
        fprintf(stderr, "atento: give the word as one argument (quote a phrase), got %d\n", n_words);
        return 2;
    }
    char why[512];
    char *owned = path ? NULL : find_shipped("dict-en-es.tsv", why, sizeof why);
    if (!path && !owned) {
        fprintf(stderr, "atento: no dictionary given and %s\n", why);
        return 1;
    }
    size_t size;
    void *data = read_all(path ? path : owned, &size, why, sizeof why);
    free(owned);
    if (!data) {
        fprintf(stderr, "atento: %s\n", why);
        return 1;
    }
    atn_dict *d = atn_dict_load(data, size);
    atn_free(data);
    if (!d) {
        fprintf(stderr, "atento: %s\n", atn_last_error());
        return 1;
    }
    int n = atn_dict_lookup(d, word, strlen(word), from, NULL, 0);
    char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (out) {
        atn_dict_lookup(d, word, strlen(word), from, out, n + 1);
        printf("%s\n", out);
    } else fprintf(stderr, "atento: %s\n", n < 0 ? atn_last_error() : "out of memory");
    free(out);
    atn_dict_free(d);
    return out ? 0 : 1;
}
