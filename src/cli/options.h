/* cli/options.h — the limits of the options generate, chat and translate
 * share, and the words for a bad value, exactly as js/options.js (RULES,
 * parseFlagValue) has them, so the native CLI and the JS CLI answer a bad
 * option with the same line (tests/js/options.test.mjs compares them):
 *   --beam must be an integer from 1 to 8, got '99'
 * Header-only: each CLI source that parses flags includes it. */
#ifndef ATN_CLI_OPTIONS_H
#define ATN_CLI_OPTIONS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../atento.h"

typedef struct {
    const char *flag;
    int integer;     /* whole numbers only */
    double min, max; /* inclusive, except min when gt */
    int gt;          /* min is exclusive */
} cli_rule;

static const cli_rule CLI_RULES[] = {
    {"beam", 1, 1, 8, 0},
    {"max-tokens", 1, 1, 1048576, 0},
    {"temperature", 0, 0, 100, 0},
    {"top-k", 1, 0, 1048576, 0},
    {"top-p", 0, 0, 1, 0},
    {"min-p", 0, 0, 1, 0},
    {"repeat-penalty", 0, 0, 100, 1},
    {"repeat-last-n", 1, 0, 4096, 0},
    {"seed", 1, 0, 9007199254740991.0, 0},
    {"top-n", 1, 0, 20, 0},
    {"ctx", 1, 0, 1048576, 0},
    {"no-repeat-ngram", 1, 0, 16, 0},
    {"no-repeat-span", 1, 0, 16, 0},
};

static inline const cli_rule *cli_rule_of(const char *flag) {
    for (size_t i = 0; i < sizeof CLI_RULES / sizeof CLI_RULES[0]; i++)
        if (!strcmp(CLI_RULES[i].flag, flag)) return &CLI_RULES[i];
    return NULL;
}

/* Parse v for --flag by `rule` (NULL: the flag's own rule from CLI_RULES).
 * Returns 0 and the value, or -1 with the one-line message in msg. */
static inline int cli_parse_value(const char *flag, const cli_rule *rule, const char *v, double *out, char *msg,
                                  size_t cap) {
    if (!rule) rule = cli_rule_of(flag);
    const char *s = v;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r'))) n--;
    int ok = n > 0 && n < 64;
    char buf[64];
    double x = NAN;
    if (ok) {
        memcpy(buf, s, n);
        buf[n] = 0;
        /* digits, sign, point, exponent only: no inf, nan or hex (as in JS) */
        size_t i = (buf[0] == '+' || buf[0] == '-') ? 1 : 0;
        for (size_t k = i; k < n && ok; k++) {
            char c = buf[k];
            ok = (c >= '0' && c <= '9') || (!rule->integer && (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'));
        }
        ok = ok && i < n && buf[i] != 'e' && buf[i] != 'E';
        if (ok) {
            char *end;
            x = strtod(buf, &end);
            ok = *end == 0 && isfinite(x);
        }
    }
    if (ok && rule->integer) ok = x == floor(x) && fabs(x) <= 9007199254740991.0;
    if (ok) ok = rule->gt ? x > rule->min : x >= rule->min;
    if (ok) ok = x <= rule->max;
    if (ok) {
        *out = x;
        return 0;
    }
    const char *kind = rule->integer ? "an integer" : "a number";
    if (rule->gt)
        snprintf(msg, cap, "--%s must be %s > %.17g and <= %.17g, got '%s'", flag, kind, rule->min, rule->max, v);
    else
        snprintf(msg, cap, "--%s must be %s from %.17g to %.17g, got '%s'", flag, kind, rule->min, rule->max, v);
    return -1;
}

/* --kv-type: the KV cache's element type (atento.h ATN_KV_*), in the words
 * of js/options.js (parseKvType). Returns 0 and the type, or -1 with the
 * message in msg. */
static inline int cli_parse_kv_type(const char *v, int *out, char *msg, size_t cap) {
    if (!strcmp(v, "f32")) { *out = ATN_KV_F32; return 0; }
    if (!strcmp(v, "f16")) { *out = ATN_KV_F16; return 0; }
    snprintf(msg, cap, "--kv-type must be f32 or f16, got '%s'", v);
    return -1;
}

/* Load a model (taking over data) with the load flags of the command line
 * (--allow-unknown-pretokenizer: ATN_LOAD_ANY_PRETOKENIZER), saying what
 * loading tolerated on every run, one "warning: PATH: ..." line each. */
static inline atn_model *cli_load_model(void *data, size_t size, int flags, const char *path) {
    atn_model *m = atn_model_load_flags(data, size, 1, flags);
    const char *w = m ? atn_model_warnings(m) : NULL;
    while (w && *w) {
        const char *e = strchr(w, '\n');
        int wl = e ? (int)(e - w) : (int)strlen(w);
        fprintf(stderr, "warning: %s: %.*s\n", path, wl, w);
        w += wl + (e ? 1 : 0);
    }
    return m;
}

#endif
