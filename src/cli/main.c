/* main.c — the native `atento` CLI: the same subcommands and flags as
 * bin/atento.js (which runs the WASM build), over the same core.
 *
 *   atento generate --model M (--prompt TEXT | --tokens 1,2,3) [--max-tokens N]
 *          [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]
 *          [--repeat-last-n N] [--seed S] [--stop TEXT]... [--parse-special] [--ctx N]
 *          [--kv-type f32|f16] [--json]
 *   atento score    --model M (--tokens IDS | --text TEXT) [--kv-type f32|f16] [--json]
 *   atento tokenize --model M (--text TEXT | --ids 1,2,3) [--json]
 *   atento inspect  --model M [--json]
 *   atento bench    --model M [--prompt-tokens 128] [--gen-tokens 128] [--reps 1] [--kv-type f32|f16] [--json]
 *
 * Any bad input: exit status 1 (2 for usage errors) and one line on stderr.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "atento.h"
#include "files.h"
#include "options.h"

int atn_cli_translate(int argc, char **argv); /* translate.c */
int atn_cli_chat(int argc, char **argv);      /* chat.c */
int atn_cli_finetune(int argc, char **argv);  /* finetune.c */
int atn_cli_lookup(int argc, char **argv);    /* chat_tools.c */

/* ---- small helpers ------------------------------------------------------ */

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("atento: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(code);
}

#define USAGE(...) die(2, __VA_ARGS__)
#define FAIL(...) die(1, __VA_ARGS__)

/* Offset of the first byte that does not belong to a valid UTF-8 character
 * (no overlong forms, surrogates or values past U+10FFFF), or len. */
static size_t utf8_first_invalid(const unsigned char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        unsigned c = s[i], k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (k == 9 || len - i - 1 < k) return i;
        uint32_t cp = k == 0 ? c : c & (0x3F >> k);
        for (unsigned j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return i;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += k + 1;
    }
    return len;
}

/* Every argument must be valid UTF-8, whatever the command: the same check
 * as bin/atento.js (which reads the raw bytes of its arguments), so both
 * CLIs refuse a bad --prompt alike instead of one of them seeing U+FFFD. */
static void check_args_utf8(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]), bad = utf8_first_invalid((const unsigned char *)argv[i], n);
        if (bad == n) continue;
        const char *eq = strchr(argv[i], '=');
        if (!strncmp(argv[i], "--", 2) && eq && (size_t)(eq - argv[i]) < bad)
            FAIL("%.*s: invalid UTF-8 at byte %zu", (int)(eq - argv[i]), argv[i], bad - (size_t)(eq + 1 - argv[i]));
        if (i > 1 && !strncmp(argv[i - 1], "--", 2) && !strchr(argv[i - 1], '='))
            FAIL("%s: invalid UTF-8 at byte %zu", argv[i - 1], bad);
        FAIL("argument %d: invalid UTF-8 at byte %zu", i, bad);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long peak_rss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024L; /* Linux: kilobytes */
}

static void json_str(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* ---- flags -------------------------------------------------------------- */

#define MAX_STOPS 16

typedef struct {
    const char *model, *prompt, *tokens, *text, *ids, *source, *to;
    const char *stops[MAX_STOPS];
    int n_stops;
    int max_tokens, ctx, prompt_tokens, gen_tokens, reps, json, parse_special;
    int kv_type; /* --kv-type: ATN_KV_F32 (default) or ATN_KV_F16 */
    atn_sampler_params sp;
} opts;

/* flag is "--name". Flags with a shared rule (cli/options.h) use it, so the
 * words and limits are those of the API and the JS CLI; lo/hi are for the
 * others. */
static double parse_value(const char *flag, const char *v, int integer, double lo, double hi) {
    cli_rule own = {flag + 2, integer, lo, hi, 0};
    const cli_rule *rule = cli_rule_of(flag + 2);
    double x;
    char msg[256];
    if (cli_parse_value(flag + 2, rule ? rule : &own, v, &x, msg, sizeof msg) < 0) USAGE("%s", msg);
    return x;
}

static long parse_int(const char *flag, const char *v, long lo, long hi) {
    return (long)parse_value(flag, v, 1, (double)lo, (double)hi);
}

static float parse_num(const char *flag, const char *v, double lo, double hi) {
    return (float)parse_value(flag, v, 0, lo, hi);
}

/* "1,2,3" -> ids (malloc'd); every id must be a non-negative integer. */
static int32_t *parse_ids(const char *flag, const char *v, int *n) {
    int cap = 1;
    for (const char *p = v; *p; p++) cap += *p == ',';
    int32_t *ids = malloc((size_t)cap * sizeof(int32_t));
    if (!ids) FAIL("out of memory");
    int k = 0;
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x > INT32_MAX || (*end != ',' && *end)) USAGE("%s: expected ids like 1,2,3, got '%s'", flag, v);
        ids[k++] = (int32_t)x;
        if (!*end) break;
        p = end + 1;
    }
    *n = k;
    return ids;
}

static int load_flags;   /* --allow-unknown-pretokenizer */

static void parse(int argc, char **argv, opts *o, const char *allowed) {
    memset(o, 0, sizeof *o);
    o->max_tokens = 128;
    o->prompt_tokens = 128;
    o->gen_tokens = 128;
    o->reps = 1;
    atn_sampler_defaults(&o->sp);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) USAGE("unexpected argument '%s'", a);
        const char *name = a + 2;
        /* the flag must be one of this subcommand's: allowed is " name name ... " */
        char key[64];
        snprintf(key, sizeof key, " %s ", name);
        if (!strstr(allowed, key)) USAGE("%s: unknown flag for %s", a, argv[1]);
        if (!strcmp(name, "json")) { o->json = 1; continue; }
        if (!strcmp(name, "parse-special")) { o->parse_special = 1; continue; }
        if (!strcmp(name, "allow-unknown-pretokenizer")) { load_flags |= ATN_LOAD_ANY_PRETOKENIZER; continue; }
        if (i + 1 >= argc) USAGE("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(name, "model")) o->model = v;
        else if (!strcmp(name, "prompt")) o->prompt = v;
        else if (!strcmp(name, "tokens")) o->tokens = v;
        else if (!strcmp(name, "text")) o->text = v;
        else if (!strcmp(name, "ids")) o->ids = v;
        else if (!strcmp(name, "source")) o->source = v;
        else if (!strcmp(name, "to")) o->to = v;
        else if (!strcmp(name, "kv-type")) {
            char msg[256];
            if (cli_parse_kv_type(v, &o->kv_type, msg, sizeof msg) < 0) USAGE("%s", msg);
        }
        else if (!strcmp(name, "stop")) {
            if (o->n_stops >= MAX_STOPS) USAGE("at most %d --stop strings", MAX_STOPS);
            if (!*v) USAGE("--stop is empty");
            o->stops[o->n_stops++] = v;
        } else if (!strcmp(name, "max-tokens")) o->max_tokens = (int)parse_int(a, v, 0, 1 << 20);
        else if (!strcmp(name, "ctx")) o->ctx = (int)parse_int(a, v, 0, 1 << 20);
        else if (!strcmp(name, "prompt-tokens")) o->prompt_tokens = (int)parse_int(a, v, 1, 1 << 20);
        else if (!strcmp(name, "gen-tokens")) o->gen_tokens = (int)parse_int(a, v, 0, 1 << 20);
        else if (!strcmp(name, "reps")) o->reps = (int)parse_int(a, v, 1, 1000);
        else if (!strcmp(name, "temperature")) o->sp.temperature = parse_num(a, v, 0, 1e6);
        else if (!strcmp(name, "top-k")) o->sp.top_k = (int)parse_int(a, v, 0, 1 << 24);
        else if (!strcmp(name, "top-p")) o->sp.top_p = parse_num(a, v, 0, 1);
        else if (!strcmp(name, "min-p")) o->sp.min_p = parse_num(a, v, 0, 1);
        else if (!strcmp(name, "repeat-penalty")) o->sp.repeat_penalty = parse_num(a, v, 1e-6, 1e6);
        else if (!strcmp(name, "repeat-last-n")) o->sp.repeat_last_n = (int)parse_int(a, v, 0, 4096);
        else if (!strcmp(name, "seed")) o->sp.seed = (uint64_t)parse_int(a, v, 0, INT64_MAX);
        else USAGE("%s: unknown flag", a);
    }
    if (!o->model) USAGE("%s: --model is required", argv[1]);
}

/* Read the whole file in one read into atn_malloc'd memory; the model takes
 * it. What loading tolerated is said on stderr, every time. */
static atn_model *load_model(const char *path, size_t *size_out, double *ms) {
    double t0 = now_ms();
    size_t size;
    const char *verb, *reason;
    void *data = cli_read_file(path, &size, &verb, &reason);
    if (!data && !strcmp(reason, CLI_OUT_OF_MEMORY)) FAIL("%s: out of memory for %zu bytes", path, size);
    if (!data && !strcmp(reason, CLI_SHORT_READ)) FAIL("%s: read error", path);
    if (!data) FAIL("%s: %s", path, reason);
    if (size == 0) FAIL("%s: empty file", path);
    atn_model *m = cli_load_model(data, size, load_flags, path);
    if (!m) FAIL("%s: %s", path, atn_last_error());
    if (size_out) *size_out = size;
    if (ms) *ms = now_ms() - t0;
    return m;
}

static void check_ids(const atn_model *m, const int32_t *ids, int n, const char *flag) {
    int V = atn_model_n_vocab(m);
    for (int i = 0; i < n; i++)
        if (ids[i] >= V) USAGE("%s: id %d is out of range (the vocabulary has %d tokens)", flag, ids[i], V);
}

static int32_t *tokenize(const atn_model *m, const char *text, int add_special, int parse_special, int *n) {
    int k = atn_tokenize(m, text, strlen(text), add_special, parse_special, NULL, 0);
    if (k < 0) FAIL("tokenize: %s", atn_last_error());
    int32_t *ids = malloc((size_t)(k > 0 ? k : 1) * sizeof(int32_t));
    if (!ids) FAIL("out of memory");
    if (atn_tokenize(m, text, strlen(text), add_special, parse_special, ids, k) != k) FAIL("tokenize: %s", atn_last_error());
    *n = k;
    return ids;
}

static char *piece(const atn_model *m, int32_t id, int *len) {
    int n = atn_token_piece(m, id, NULL, 0);
    if (n < 0) FAIL("%s", atn_last_error());
    char *p = malloc((size_t)n + 1);
    if (!p) FAIL("out of memory");
    atn_token_piece(m, id, p, n);
    p[n] = 0;
    *len = n;
    return p;
}

/* A session of n_ctx tokens with the KV cache type of --kv-type. */
static atn_session *new_session(atn_model *m, int n_ctx, const opts *o) {
    atn_session_params p = {o->kv_type};
    atn_session *s = atn_session_new_ex(m, n_ctx, &p);
    if (!s) FAIL("%s", atn_last_error());
    return s;
}

/* ---- subcommands -------------------------------------------------------- */

static int cmd_generate(int argc, char **argv) {
    opts o;
    parse(argc, argv, &o,
          " model prompt tokens max-tokens temperature top-k top-p min-p repeat-penalty repeat-last-n seed stop "
          "parse-special ctx kv-type json allow-unknown-pretokenizer ");
    if (!o.prompt == !o.tokens) USAGE("generate: give exactly one of --prompt and --tokens");
    if (o.prompt && !*o.prompt) USAGE("--prompt is empty");
    int32_t *ids = NULL;
    int n = 0;
    if (o.tokens) ids = parse_ids("--tokens", o.tokens, &n);
    double load_ms;
    atn_model *m = load_model(o.model, NULL, &load_ms);
    if (o.tokens) check_ids(m, ids, n, "--tokens");
    else ids = tokenize(m, o.prompt, 1, o.parse_special, &n);
    if (n == 0) FAIL("--prompt gives no tokens");
    int train = atn_model_n_ctx_train(m) > 0 ? atn_model_n_ctx_train(m) : 4096;
    if (train > 4096) train = 4096;
    int n_ctx = o.ctx ? o.ctx : (n + o.max_tokens < train ? n + o.max_tokens : train);
    if (n > n_ctx) FAIL("the prompt has %d tokens, more than the context of %d", n, n_ctx);
    int max_tokens = o.max_tokens < n_ctx - n ? o.max_tokens : n_ctx - n;
    atn_session *s = new_session(m, n_ctx, &o);
    atn_sampler *smp = atn_sampler_new(&o.sp);
    if (!smp) FAIL("%s", atn_last_error());
    double t0 = now_ms();
    if (atn_eval(s, ids, n, 0) != 0) FAIL("%s", atn_last_error());
    double t1 = now_ms();
    atn_gen *g = atn_gen_new(s, smp);
    if (!g) FAIL("%s", atn_last_error());
    for (int i = 0; i < o.n_stops; i++)
        if (atn_gen_add_stop(g, o.stops[i], strlen(o.stops[i])) != 0) FAIL("--stop: %s", atn_last_error());
    int32_t *out = malloc((size_t)(max_tokens + 1) * sizeof(int32_t));
    size_t tcap = 256, tlen = 0;
    char *text = malloc(tcap);
    if (!out || !text) FAIL("out of memory");
    int n_out = 0;
    const char *reason = "length";
    while (n_out < max_tokens) {
        int32_t tok;
        int r = atn_gen_next(g, &tok);
        if (r < 0) FAIL("generate: %s", atn_last_error());
        size_t len;
        const char *t = atn_gen_text(g, &len);
        if (len) {
            if (o.json) {
                while (tlen + len + 1 > tcap) tcap *= 2;
                text = realloc(text, tcap);
                if (!text) FAIL("out of memory");
                memcpy(text + tlen, t, len);
                tlen += len;
            } else {
                fwrite(t, 1, len, stdout);
                fflush(stdout);
            }
        }
        if (r == 0) {
            reason = tok >= 0 && atn_token_is_eog(m, tok) ? "eog" : "stop";
            break;
        }
        out[n_out++] = tok;
    }
    size_t len;
    const char *t = atn_gen_flush(g, &len);
    if (o.json) {
        while (tlen + len + 1 > tcap) tcap *= 2;
        text = realloc(text, tcap);
        if (!text) FAIL("out of memory");
        memcpy(text + tlen, t, len);
        tlen += len;
    } else {
        fwrite(t, 1, len, stdout);
        fputc('\n', stdout);
    }
    double t2 = now_ms();
    if (o.json) {
        printf("{\"tokens\":[");
        for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("],\"text\":");
        json_str(stdout, text, tlen);
        printf(",\"prompt_tokens\":%d,\"stop_reason\":\"%s\",\"timings\":{\"load_ms\":%.2f,\"prompt_ms\":%.2f,"
               "\"prompt_tokens_per_s\":%.2f,\"gen_ms\":%.2f,\"gen_tokens_per_s\":%.2f}}\n",
               n, reason, load_ms, t1 - t0, n / ((t1 - t0) / 1000 + 1e-12), t2 - t1,
               n_out ? n_out / ((t2 - t1) / 1000 + 1e-12) : 0.0);
    }
    atn_gen_free(g);
    atn_sampler_free(smp);
    atn_session_free(s);
    atn_model_free(m);
    free(ids);
    free(out);
    free(text);
    return 0;
}

/* The log-probs of ids[1..n-1] (lp[i-1] for ids[i]): one JSON object, or a
 * table of rows "i id logprob piece"; returns the perplexity. The caller
 * prints its summary line after the table. */
static double print_logprobs(const atn_model *m, const int32_t *ids, int n, const float *lp, int json) {
    double logprob = 0;
    for (int i = 0; i < n - 1; i++) logprob += lp[i];
    double ppl = exp(-logprob / (n - 1));
    if (json) {
        printf("{\"logprobs\":[");
        for (int i = 0; i < n - 1; i++) printf("%s%.9g", i ? "," : "", lp[i]);
        printf("],\"perplexity\":%.9g}\n", ppl);
        return ppl;
    }
    for (int i = 1; i < n; i++) {
        int pl;
        char *p = piece(m, ids[i], &pl);
        printf("%3d %6d %8.4f  ", i, ids[i], lp[i - 1]);
        json_str(stdout, p, (size_t)pl);
        putchar('\n');
        free(p);
    }
    return ppl;
}

/* Encoder-decoder models: log p(--text | --source), teacher-forced: the
 * decoder starts from its start token and the target ends with EOS (as
 * bin/atento.js does it, so both builds print the same numbers). */
static int score_translation(atn_model *m, const opts *o) {
    if (!o->source || !o->text) USAGE("a translation model scores --text as a translation of --source: give both");
    if (!*o->source) USAGE("--source is empty");
    const char *info = atn_model_info_json(m), *key = "\"decoder_start_token_id\":";
    const char *at = info ? strstr(info, key) : NULL;
    if (!at) FAIL("score: the model has no decoder_start_token_id");
    int32_t start = (int32_t)strtol(at + strlen(key), NULL, 10), eos = atn_token_eos(m);
    int n_src = atn_translate_source_ids(m, o->to, o->source, strlen(o->source), NULL, 0);
    if (n_src < 0) FAIL("score: %s", atn_last_error());
    int32_t *src = malloc((size_t)(n_src > 0 ? n_src : 1) * sizeof(int32_t));
    if (!src) FAIL("out of memory");
    atn_translate_source_ids(m, o->to, o->source, strlen(o->source), src, n_src);
    int n_tgt;
    int32_t *tgt = tokenize(m, o->text, 0, 0, &n_tgt);
    int n = n_tgt + 2; /* start token, target, EOS */
    int32_t *ids = malloc((size_t)n * sizeof(int32_t));
    float *lp = malloc((size_t)n * sizeof(float));
    if (!ids || !lp) FAIL("out of memory");
    ids[0] = start;
    memcpy(ids + 1, tgt, (size_t)n_tgt * sizeof(int32_t));
    ids[n - 1] = eos;
    atn_session *s = new_session(m, n > n_src ? n : n_src, o);
    if (atn_set_source(s, src, n_src) < 0) FAIL("score: %s", atn_last_error());
    if (atn_score(s, ids, n, lp) != n - 1) FAIL("score: %s", atn_last_error());
    double ppl = print_logprobs(m, ids, n, lp, o->json);
    if (!o->json)
        printf("source tokens: %d  target tokens: %d  log-prob: %.4f  perplexity: %.4f\n", n_src, n - 1,
               -log(ppl) * (n - 1), ppl);
    free(lp);
    free(ids);
    free(tgt);
    free(src);
    atn_session_free(s);
    atn_model_free(m);
    return 0;
}

static int cmd_score(int argc, char **argv) {
    opts o;
    parse(argc, argv, &o, " model tokens text source to kv-type json allow-unknown-pretokenizer ");
    if (!o.text == !o.tokens) USAGE("score: give exactly one of --tokens and --text");
    if (o.text && !*o.text) USAGE("--text is empty");
    int32_t *ids = NULL;
    int n = 0;
    if (o.tokens) ids = parse_ids("--tokens", o.tokens, &n);
    atn_model *m = load_model(o.model, NULL, NULL);
    if (!strcmp(atn_model_arch(m), "marian")) {
        free(ids);
        if (o.tokens) USAGE("a translation model scores --text as a translation of --source: give both");
        return score_translation(m, &o);
    }
    if (o.source || o.to) USAGE("--source and --to are for translation models; this one is '%s'", atn_model_arch(m));
    if (o.tokens) check_ids(m, ids, n, "--tokens");
    else ids = tokenize(m, o.text, 1, 0, &n);
    if (n < 2) USAGE("need at least 2 tokens to score, got %d", n);
    atn_session *s = new_session(m, n, &o);
    float *lp = malloc((size_t)n * sizeof(float));
    if (!lp) FAIL("out of memory");
    if (atn_score(s, ids, n, lp) != n - 1) FAIL("score: %s", atn_last_error());
    double ppl = print_logprobs(m, ids, n, lp, o.json);
    if (!o.json) printf("perplexity: %.4f over %d tokens\n", ppl, n - 1);
    free(lp);
    free(ids);
    atn_session_free(s);
    atn_model_free(m);
    return 0;
}

static int cmd_tokenize(int argc, char **argv) {
    opts o;
    parse(argc, argv, &o, " model text ids json allow-unknown-pretokenizer ");
    if (!o.text == !o.ids) USAGE("tokenize: give exactly one of --text and --ids");
    int32_t *ids = NULL;
    int n = 0;
    if (o.ids) ids = parse_ids("--ids", o.ids, &n);
    atn_model *m = load_model(o.model, NULL, NULL);
    if (o.ids) {
        check_ids(m, ids, n, "--ids");
        int k = atn_detokenize(m, ids, n, NULL, 0);
        if (k < 0) FAIL("%s", atn_last_error());
        char *t = malloc((size_t)k + 1);
        if (!t) FAIL("out of memory");
        atn_detokenize(m, ids, n, t, k);
        if (o.json) {
            printf("{\"text\":");
            json_str(stdout, t, (size_t)k);
            printf(",\"ids\":[");
            for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", ids[i]);
            printf("],\"pieces\":[");
            for (int i = 0; i < n; i++) {
                int pl;
                char *p = piece(m, ids[i], &pl);
                if (i) putchar(',');
                json_str(stdout, p, (size_t)pl);
                free(p);
            }
            printf("]}\n");
        } else {
            fwrite(t, 1, (size_t)k, stdout);
            putchar('\n');
        }
        free(t);
    } else {
        ids = tokenize(m, o.text, 1, 0, &n);
        if (o.json) printf("{\"ids\":[");
        for (int i = 0; i < n && o.json; i++) printf("%s%d", i ? "," : "", ids[i]);
        if (o.json) printf("],\"pieces\":[");
        for (int i = 0; i < n; i++) {
            int pl;
            char *p = piece(m, ids[i], &pl);
            if (o.json) {
                if (i) putchar(',');
                json_str(stdout, p, (size_t)pl);
            } else {
                printf("%6d  ", ids[i]);
                json_str(stdout, p, (size_t)pl);
                putchar('\n');
            }
            free(p);
        }
        if (o.json) printf("]}\n");
    }
    free(ids);
    atn_model_free(m);
    return 0;
}

static int cmd_inspect(int argc, char **argv) {
    opts o;
    parse(argc, argv, &o, " model json allow-unknown-pretokenizer ");
    size_t size;
    atn_model *m = load_model(o.model, &size, NULL);
    const char *info = atn_model_info_json(m);
    if (o.json) {
        printf("{\"file\":");
        json_str(stdout, o.model, strlen(o.model));
        printf(",%s\n", info + 1);
    } else {
        printf("file:          %s (%zu bytes)\n", o.model, size);
        printf("architecture:  %s\n", atn_model_arch(m));
        printf("vocabulary:    %d tokens, BOS %d, EOS %d\n", atn_model_n_vocab(m), atn_token_bos(m), atn_token_eos(m));
        printf("context:       %d (training)\n", atn_model_n_ctx_train(m));
        if (strstr(info, "\"runnable\":false")) printf("runs:          no (tokenizer only, see not_runnable below)\n");
        const char *ct = atn_model_chat_template(m);
        printf("chat template: %s\n", ct ? "yes" : "none");
        printf("details (JSON): %s\n", info);
    }
    atn_model_free(m);
    return 0;
}

static int cmd_bench(int argc, char **argv) {
    opts o;
    parse(argc, argv, &o, " model prompt-tokens gen-tokens reps kv-type json ");
    size_t size;
    double load_ms;
    atn_model *m = load_model(o.model, &size, &load_ms);
    int V = atn_model_n_vocab(m);
    int n_ctx = o.prompt_tokens + o.gen_tokens + 1;
    if (atn_model_n_ctx_train(m) > 0 && n_ctx - 1 > atn_model_n_ctx_train(m))
        FAIL("--prompt-tokens + --gen-tokens = %d exceeds the model's context of %d", n_ctx - 1, atn_model_n_ctx_train(m));
    /* the same fixed pseudo-random prompt as bin/atento.js bench (ids above 256) */
    int32_t *prompt = malloc((size_t)o.prompt_tokens * sizeof(int32_t));
    if (!prompt) FAIL("out of memory");
    int lo = V - 1 < 256 ? V - 1 : 256;
    uint32_t x = 12345;
    for (int i = 0; i < o.prompt_tokens; i++) {
        x = x * 1103515245u + 12345u;
        prompt[i] = lo + (int32_t)((x >> 8) % (uint32_t)(V - lo));
    }
    atn_session *s = new_session(m, n_ctx, &o);
    atn_sampler_params sp;
    atn_sampler_defaults(&sp);
    sp.temperature = 0;
    atn_sampler *smp = atn_sampler_new(&sp);
    int warm = o.prompt_tokens < 8 ? o.prompt_tokens : 8;
    if (atn_eval(s, prompt, warm, 0) != 0) FAIL("%s", atn_last_error());
    double best_p = 0, best_d = 0;
    for (int r = 0; r < o.reps; r++) {
        atn_session_truncate(s, 0);
        double t0 = now_ms();
        if (atn_eval(s, prompt, o.prompt_tokens, 0) != 0) FAIL("%s", atn_last_error());
        double t1 = now_ms();
        int32_t tok = atn_sample(smp, atn_logits(s, -1), V);
        for (int i = 0; i < o.gen_tokens; i++) {
            if (atn_eval(s, &tok, 1, 0) != 0) FAIL("%s", atn_last_error());
            tok = atn_sample(smp, atn_logits(s, -1), V);
        }
        double t2 = now_ms();
        if (r == 0 || (t1 - t0) + (t2 - t1) < best_p + best_d) { best_p = t1 - t0; best_d = t2 - t1; }
    }
    double prefill = o.prompt_tokens / (best_p / 1000), decode = o.gen_tokens ? o.gen_tokens / (best_d / 1000) : 0;
    long rss = peak_rss_bytes();
    long long kv_bytes = (long long)atn_session_kv_bytes(s);
    if (o.json) {
        printf("{\"model\":");
        json_str(stdout, o.model, strlen(o.model));
        printf(",\"arch\":\"%s\",\"engine\":\"native\",\"model_bytes\":%zu,\"prompt_tokens\":%d,\"gen_tokens\":%d,"
               "\"load_ms\":%.2f,\"prefill_ms\":%.2f,\"decode_ms\":%.2f,\"prefill_tokens_per_s\":%.2f,"
               "\"decode_tokens_per_s\":%.2f,\"kv_type\":\"%s\",\"kv_cache_bytes\":%lld,\"peak_rss_bytes\":%ld}\n",
               atn_model_arch(m), size, o.prompt_tokens, o.gen_tokens, load_ms, best_p, best_d, prefill, decode,
               o.kv_type == ATN_KV_F16 ? "f16" : "f32", kv_bytes, rss);
    } else {
        printf("model:   %s (%s, %.1f MiB)\n", o.model, atn_model_arch(m), size / 1048576.0);
        printf("load:    %.1f ms\n", load_ms);
        printf("prefill: %.2f tokens/s (%d tokens in %.1f ms)\n", prefill, o.prompt_tokens, best_p);
        printf("decode:  %.2f tokens/s (%d tokens in %.1f ms)\n", decode, o.gen_tokens, best_d);
        printf("memory:  peak RSS %.1f MiB (model file %.1f MiB), KV cache %.1f MiB (%s)\n", rss / 1048576.0,
               size / 1048576.0, kv_bytes / 1048576.0, o.kv_type == ATN_KV_F16 ? "f16" : "f32");
    }
    free(prompt);
    atn_sampler_free(smp);
    atn_session_free(s);
    atn_model_free(m);
    return 0;
}

static void usage(FILE *f) {
    fputs("usage: atento <command> --model M.gguf [flags]\n"
          "  generate  (--prompt TEXT | --tokens 1,2,3) [--max-tokens N] [--temperature T] [--top-k K]\n"
          "            [--top-p P] [--min-p P] [--repeat-penalty R] [--repeat-last-n N] [--seed S]\n"
          "            [--stop TEXT]... [--parse-special] [--ctx N] [--kv-type f32|f16] [--json]\n"
          "  score     (--tokens IDS | --text TEXT) [--kv-type f32|f16] [--json]\n"
          "  tokenize  (--text TEXT | --ids 1,2,3) [--json]\n"
          "  inspect   [--json]\n"
          "  (generate, score, tokenize, inspect, chat, translate: --allow-unknown-pretokenizer lets a\n"
          "   vocabulary with an unknown tokenizer.ggml.pre use GPT-2's rules, with a warning on every run)\n"
          "  bench     [--prompt-tokens 128] [--gen-tokens 128] [--reps 1] [--kv-type f32|f16] [--json]\n"
          "  (--kv-type: the KV cache's element type; f16 halves it, decoder-only models)\n"
          "  translate (see atento translate --help)\n"
          "  chat      (see atento chat --help)\n"
          "  finetune  (see atento finetune --help)\n"
          "  lookup    WORD --from en|es [--dictionary FILE]   (the chat tools' dictionary)\n"
          "  every command: [--threads N] (1..16 threads, default 1)\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    check_args_utf8(argc, argv);
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    /* --threads N applies to every command: taken out here, before the
     * command parses its own flags */
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--threads") != 0) continue;
        if (i + 1 >= argc) USAGE("--threads needs a value");
        int n = (int)parse_int("--threads", argv[i + 1], 1, 16);
        if (atn_set_threads(n) < 0) FAIL("%s", atn_last_error());
        for (int j = i; j + 2 <= argc; j++) argv[j] = argv[j + 2];
        argc -= 2;
        i--;
    }
    if (!strcmp(c, "generate")) return cmd_generate(argc, argv);
    if (!strcmp(c, "score")) return cmd_score(argc, argv);
    if (!strcmp(c, "tokenize")) return cmd_tokenize(argc, argv);
    if (!strcmp(c, "inspect")) return cmd_inspect(argc, argv);
    if (!strcmp(c, "bench")) return cmd_bench(argc, argv);
    if (!strcmp(c, "translate")) return atn_cli_translate(argc, argv);
    if (!strcmp(c, "chat")) return atn_cli_chat(argc, argv);
    if (!strcmp(c, "finetune")) return atn_cli_finetune(argc, argv);
    if (!strcmp(c, "lookup")) return atn_cli_lookup(argc, argv);
    USAGE("unknown command '%s' (generate, score, tokenize, inspect, bench, translate)", c);
    return 2;
}
