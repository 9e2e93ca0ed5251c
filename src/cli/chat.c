/* chat.c — `atento chat` in the native CLI: the same command as
 * js/cli/chat.js (same flags, same JSON in and out).
 *
 * Interactive: each line of stdin is a user message; the reply streams to
 * stdout token by token. Ctrl-C during a reply stops that reply; Ctrl-C or
 * Ctrl-D (end of input) at the prompt ends the program. "/reset" starts a new
 * conversation, "/exit" ends.
 *
 * --json: stdin holds one or more conversations, JSON objects one after the
 * other: {"messages":[{"role":..,"content":..},...], "max_tokens":..,
 * "temperature":.., "top_k":.., "top_p":.., "min_p":.., "repeat_penalty":..,
 * "repeat_last_n":.., "seed":.., "stop":[..]}; each gets one line
 * {"message":{"role":"assistant","content":..},"tokens":[..],"prompt_tokens":n,
 *  "reused_tokens":n,"evaluated_tokens":n,"dropped_messages":n,
 *  "stop_reason":"eog|stop|length","timings":{..}}.
 * The input is read by a small bounded JSON reader that accepts exactly
 * JSON (RFC 8259) and checks the documented shape; every bad input is a
 * one-line error and exit status 1, before the model is loaded.
 *
 * The KV cache is kept across turns and conversations: atn_chat_prefill
 * evaluates only the tokens the cache does not hold yet, and drops the oldest
 * turns (never the system prompt) when the context is full; the dropped
 * messages are then left out of later turns too.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "atento.h"
#include "chat_tools.h"
#include "files.h"
#include "json.h"
#include "options.h"
#include "shipped.h"

int atn_cli_chat(int argc, char **argv);

#define MAX_INPUT (64u << 20)  /* bytes of JSON on stdin */
#define MAX_DEPTH 64           /* nesting of skipped JSON values */
#define MAX_STOPS 16
#define DEFAULT_MAX_TOKENS 256
#define SHIPPED "tutor-en-es.gguf"

/* ---- small helpers --------------------------------------------------------- */

static int g_quiet; /* tests: no error lines */

static void fail_line(const char *fmt, ...) {
    if (g_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("atento: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double round2(double x) { return isfinite(x) ? floor(x * 100 + 0.5) / 100 : 0; }

/* A growing byte buffer; on out-of-memory `oom` is set and appends stop. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* Room for n more bytes (and the NUL after them) at b->p + b->n, or NULL
 * (then `oom` is set). */
static char *buf_room(buf *b, size_t n) {
    if (b->oom) return NULL;
    buf_add(b, "", 0); /* makes sure there is a buffer */
    if (b->oom) return NULL;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return NULL;
        }
        b->p = q;
        b->cap = cap;
    }
    return b->p + b->n;
}

/* Length of the valid UTF-8 character at s (at most n bytes), 0 if invalid;
 * *bad gets the length of the maximal ill-formed prefix to replace. */
static int utf8_char(const unsigned char *s, size_t n, int *bad) {
    unsigned c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    *bad = 1;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        unsigned d = s[i];
        if (d < (i == 1 ? lo : 0x80) || d > (i == 1 ? hi : 0xBF)) return 0;
        *bad = i + 1;
    }
    return len;
}

/* s as a JSON string (quotes included), invalid UTF-8 replaced by U+FFFD. */
static void json_str(buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    buf_add(b, "\"", 1);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c >= 0x80) {
            int bad, k = utf8_char(u + i, n - i, &bad);
            if (k) buf_add(b, s + i, (size_t)k), i += (size_t)k;
            else buf_add(b, "\xEF\xBF\xBD", 3), i += (size_t)bad;
            continue;
        }
        char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
        switch (c) {
        case '"': e[1] = '"'; buf_add(b, e, 2); break;
        case '\\': e[1] = '\\'; buf_add(b, e, 2); break;
        case '\n': e[1] = 'n'; buf_add(b, e, 2); break;
        case '\r': e[1] = 'r'; buf_add(b, e, 2); break;
        case '\t': e[1] = 't'; buf_add(b, e, 2); break;
        case '\b': e[1] = 'b'; buf_add(b, e, 2); break;
        case '\f': e[1] = 'f'; buf_add(b, e, 2); break;
        default:
            if (c < 0x20) {
                memcpy(e + 1, "u00", 3);
                e[4] = hex[c >> 4];
                e[5] = hex[c & 15];
                buf_add(b, e, 6);
            } else
                buf_add(b, s + i, 1);
        }
        i++;
    }
    buf_add(b, "\"", 1);
}

static void buf_printf(buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A number as JSON (like JavaScript prints it for the values used here). */
static void json_num(buf *b, double x) {
    if (x == floor(x) && fabs(x) < 1e15) buf_printf(b, "%.0f", x);
    else buf_printf(b, "%.15g", x);
}

/* ---- options ------------------------------------------------------------------ */

typedef struct {
    /* NAN / -1 / 0 = not given */
    double temperature, top_p, min_p, repeat_penalty;
    long long top_k, repeat_last_n, seed, max_tokens;
    const char *stop[MAX_STOPS];
    int n_stop;
} params;

static void params_init(params *p) {
    memset(p, 0, sizeof *p);
    p->temperature = p->top_p = p->min_p = p->repeat_penalty = NAN;
    p->top_k = p->repeat_last_n = p->seed = p->max_tokens = -1;
}

typedef struct {
    const char *model, *system;
    int ctx, json, verbose, load_flags, no_tools;
    int kv_type; /* --kv-type: ATN_KV_F32 or ATN_KV_F16 */
    params p;
} options;

/* The text of js/cli/chat.js's --help (helpText in js/cli/_common.js), byte for
 * byte: tests/js/chat.test.mjs compares the two. */
static const char *HELP =
    "usage: atento chat [flags]\n"
    "\n"
    "chat with a model in the terminal (streamed), or answer a JSON conversation (--json)\n"
    "\n"
    "flags:\n"
    "  --model M.gguf                the chat model (default: the shipped tutor model in models/)\n"
    "  --system TEXT                 the system prompt\n"
    "  --max-tokens N                at most N tokens per reply (default 256)\n"
    "  --temperature T               sampling temperature; 0 = greedy\n"
    "  --top-k K                     keep the K most likely tokens; 0 = off\n"
    "  --top-p P                     nucleus sampling; 1 = off\n"
    "  --min-p P                     drop tokens below P x the top probability; 0 = off\n"
    "  --repeat-penalty R            penalty for recent tokens; 1 = off\n"
    "  --repeat-last-n N             how many recent tokens the penalty sees\n"
    "  --seed S                      random seed (same seed, same output)\n"
    "  --stop TEXT                   also end a reply at TEXT, not printed (repeatable)\n"
    "  --ctx N                       context size in tokens (default: the model's, at most 4096)\n"
    "  --kv-type f32|f16             the KV cache's element type: f32 (default) or f16 (half the memory)\n"
    "  --json                        read conversations as JSON on stdin, print one JSON answer each\n"
    "  --verbose                     print token counts and speed of each turn on stderr\n"
    "  --allow-unknown-pretokenizer  a vocabulary whose tokenizer.ggml.pre atento does not know uses GPT-2's rules (a warning says so on every run)\n"
    "  --no-tools                    do not run the model's built-in tools (translate, lookup)\n"
    "\n"
    "Interactive: Ctrl-C stops a reply; Ctrl-D or Ctrl-C at the prompt exits; /reset starts over.\n"
    "\n"
    "examples:\n"
    "  atento chat\n"
    "  atento chat --model m.gguf --system \"You are a pirate.\" --temperature 0.7\n"
    "  echo '{\"messages\":[{\"role\":\"user\",\"content\":\"Hi!\"}]}' | atento chat --json\n";

/* Flags with a shared rule (cli/options.h) use it, so the words and limits
 * are those of the API and the JS CLI; lo/hi are for the others. */
static int parse_num(const char *flag, const char *s, int integer, double lo, double hi, double *out) {
    cli_rule own = {flag, integer, lo, hi, 0};
    const cli_rule *rule = cli_rule_of(flag);
    char msg[256];
    if (cli_parse_value(flag, rule ? rule : &own, s, out, msg, sizeof msg) < 0) {
        fail_line("%s", msg);
        return -1;
    }
    return 0;
}

/* Returns 0, 1 for --help, or -1 after printing the error (usage: exit 2). */
static int parse_args(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    params_init(&o->p);
    unsigned seen = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return 1;
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            fail_line("unexpected argument '%s' (flags start with --; see atento chat --help)", a);
            return -1;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        char name[32];
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        static const char *const names[] = {"model", "system", "max-tokens", "temperature", "top-k", "top-p", "min-p",
                                            "repeat-penalty", "repeat-last-n", "seed", "stop", "ctx", "kv-type", "json",
                                            "verbose", "allow-unknown-pretokenizer", "no-tools"};
        int k = -1;
        for (int j = 0; j < (int)(sizeof names / sizeof *names); j++)
            if (!strcmp(name, names[j])) k = j;
        if (k < 0) {
            fail_line("unknown flag --%s for 'chat' (see atento chat --help)", name);
            return -1;
        }
        if (k >= 13) { /* bools */
            int v = 1;
            if (eq) {
                if (!strcmp(eq + 1, "false")) v = 0;
                else if (strcmp(eq + 1, "true") != 0) {
                    fail_line("--%s takes no value (or =true/=false)", name);
                    return -1;
                }
            }
            if (k == 13) o->json = v;
            else if (k == 14) o->verbose = v;
            else if (k == 15) o->load_flags = v ? ATN_LOAD_ANY_PRETOKENIZER : 0;
            else o->no_tools = v;
            seen |= 1u << k;
            continue;
        }
        const char *val = eq ? eq + 1 : NULL;
        if (!val) {
            if (i + 1 >= argc) {
                fail_line("--%s needs a value", name);
                return -1;
            }
            val = argv[++i];
        }
        if (k != 10 && (seen & (1u << k))) {
            fail_line("--%s given twice", name);
            return -1;
        }
        seen |= 1u << k;
        double v = 0;
        int r = 0;
        switch (k) {
        case 0: o->model = val; break;
        case 1: o->system = val; break;
        case 2: r = parse_num(name, val, 1, 1, 1e15, &v); o->p.max_tokens = (long long)v; break;
        case 3: r = parse_num(name, val, 0, 0, INFINITY, &v); o->p.temperature = v; break;
        case 4: r = parse_num(name, val, 1, 0, 2147483647, &v); o->p.top_k = (long long)v; break;
        case 5: r = parse_num(name, val, 0, 0, 1, &v); o->p.top_p = v; break;
        case 6: r = parse_num(name, val, 0, 0, 1, &v); o->p.min_p = v; break;
        case 7: r = parse_num(name, val, 0, 0, INFINITY, &v); o->p.repeat_penalty = v; break;
        case 8: r = parse_num(name, val, 1, 0, 2147483647, &v); o->p.repeat_last_n = (long long)v; break;
        case 9: r = parse_num(name, val, 1, 0, 9007199254740991.0, &v); o->p.seed = (long long)v; break;
        case 10:
            if (!*val) {
                fail_line("--stop is empty");
                return -1;
            }
            if (o->p.n_stop >= MAX_STOPS) {
                fail_line("--stop: at most %d stop strings", MAX_STOPS);
                return -1;
            }
            o->p.stop[o->p.n_stop++] = val;
            break;
        case 11: r = parse_num(name, val, 1, 0, 2147483647, &v); o->ctx = (int)v; break;
        case 12: {
            char msg[256];
            r = cli_parse_kv_type(val, &o->kv_type, msg, sizeof msg);
            if (r < 0) fail_line("%s", msg);
            break;
        }
        }
        if (r < 0) return -1;
    }
    if (o->json && o->system) {
        fail_line("--system is for the interactive chat; with --json put a system message in \"messages\"");
        return -1;
    }
    return 0;
}

/* ---- the JSON reader ------------------------------------------------------------ */

typedef struct {
    char *role, *content;
} message;

typedef struct {
    message *msgs;
    int n, cap;
    params p;
    char *stop_store[MAX_STOPS]; /* strings owned by the conversation */
    /* "tools" and "chat_template_kwargs" as given (JSON text), and the
     * template variables made of them (atn_chat_prefill_ex) */
    char *tools, *kwargs, *vars;
} conversation;

typedef struct {
    const char *s, *end, *start;
    char err[200];
} jreader;

static int jfail(jreader *r, const char *fmt, ...) {
    if (!r->err[0]) {
        int line = 1;
        for (const char *q = r->start; q < r->s && q < r->end; q++) line += *q == '\n';
        char msg[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(r->err, sizeof r->err, "line %d: %s", line, msg);
    }
    return -1;
}

static void jws(jreader *r) {
    while (r->s < r->end && (*r->s == ' ' || *r->s == '\t' || *r->s == '\n' || *r->s == '\r')) r->s++;
}

/* A JSON string at r->s (the opening quote), decoded by json.c and appended
 * to out; with out == NULL it is only checked and skipped. A NUL is refused
 * (C strings). */
static int jstring(jreader *r, buf *out) {
    atn_json_str js;
    if (atn_json_string(r->s, (size_t)(r->end - r->s), NULL, ATN_JSON_REFUSE_NUL, &js)) {
        r->s += js.error_at;
        return jfail(r, "%s", js.error);
    }
    if (out) {
        char *d = buf_room(out, js.len);
        if (!d) return jfail(r, "out of memory");
        atn_json_string(r->s, (size_t)(r->end - r->s), d, ATN_JSON_REFUSE_NUL, &js);
        out->n += js.len;
        out->p[out->n] = 0;
    }
    r->s += js.end;
    return 0;
}

/* A JSON number (exact grammar) into *v. */
static int jnumber(jreader *r, double *v) {
    const char *q = r->s;
    if (q < r->end && *q == '-') q++;
    if (q >= r->end || *q < '0' || *q > '9') return jfail(r, "expected a value");
    if (*q == '0') q++;
    else
        while (q < r->end && *q >= '0' && *q <= '9') q++;
    if (q < r->end && *q == '.') {
        q++;
        if (q >= r->end || *q < '0' || *q > '9') return jfail(r, "bad number");
        while (q < r->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < r->end && (*q == '+' || *q == '-')) q++;
        if (q >= r->end || *q < '0' || *q > '9') return jfail(r, "bad number");
        while (q < r->end && *q >= '0' && *q <= '9') q++;
    }
    char tmp[64];
    size_t n = (size_t)(q - r->s);
    if (n >= sizeof tmp) {
        /* long numbers are only skipped (never a valid parameter here) */
        r->s = q;
        *v = NAN;
        return 0;
    }
    memcpy(tmp, r->s, n);
    tmp[n] = 0;
    *v = strtod(tmp, NULL);
    r->s = q;
    return 0;
}

static int jliteral(jreader *r, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->s) < n || memcmp(r->s, lit, n) != 0) return jfail(r, "expected a value");
    r->s += n;
    return 0;
}

/* After a member or element: ',' gives 1 (another follows), `close` gives 0
 * (the object or array ends), anything else is an error (-1). */
static int jnext(jreader *r, char close) {
    jws(r);
    if (r->s < r->end && *r->s == ',') {
        r->s++;
        return 1;
    }
    if (r->s < r->end && *r->s == close) {
        r->s++;
        return 0;
    }
    return jfail(r, "expected ',' or '%c'", close);
}

/* Check and skip any JSON value (nesting bounded). */
static int jskip(jreader *r, int depth) {
    jws(r);
    if (r->s >= r->end) return jfail(r, "expected a value");
    if (depth > MAX_DEPTH) return jfail(r, "nested more than %d deep", MAX_DEPTH);
    char c = *r->s;
    if (c == '"') return jstring(r, NULL);
    if (c == 't') return jliteral(r, "true");
    if (c == 'f') return jliteral(r, "false");
    if (c == 'n') return jliteral(r, "null");
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->s++;
        jws(r);
        if (r->s < r->end && *r->s == close) {
            r->s++;
            return 0;
        }
        for (;;) {
            jws(r);
            if (c == '{') {
                if (jstring(r, NULL) < 0) return -1;
                jws(r);
                if (r->s >= r->end || *r->s != ':') return jfail(r, "expected ':'");
                r->s++;
            }
            if (jskip(r, depth + 1) < 0) return -1;
            int more = jnext(r, close);
            if (more <= 0) return more;
        }
    }
    double v;
    return jnumber(r, &v);
}

/* Iterate the members of an object: calls member(r, key, ctx) with r->s at
 * the value; member must consume the value. */
typedef int (*member_fn)(jreader *r, const char *key, void *ctx);

static int jobject(jreader *r, member_fn member, void *ctx, const char *what) {
    jws(r);
    if (r->s >= r->end || *r->s != '{') return jfail(r, "%s must be an object", what);
    r->s++;
    jws(r);
    if (r->s < r->end && *r->s == '}') {
        r->s++;
        return 0;
    }
    for (;;) {
        jws(r);
        buf key = {0};
        if (jstring(r, &key) < 0) {
            free(key.p);
            return -1;
        }
        jws(r);
        if (r->s >= r->end || *r->s != ':') {
            free(key.p);
            return jfail(r, "expected ':'");
        }
        r->s++;
        jws(r);
        int rc = member(r, key.p ? key.p : "", ctx);
        free(key.p);
        if (rc < 0) return -1;
        int more = jnext(r, '}');
        if (more <= 0) return more;
    }
}

typedef struct {
    buf role, content;
    int has_role, has_content, index;
} msg_ctx;

static int message_member(jreader *r, const char *key, void *ctx) {
    msg_ctx *m = ctx;
    int is_role = !strcmp(key, "role"), is_content = !strcmp(key, "content");
    if (!is_role && !is_content) return jskip(r, 2);
    buf *b = is_role ? &m->role : &m->content;
    if (r->s >= r->end || *r->s != '"')
        return jfail(r, "messages[%d].%s must be a%s string", m->index, key, is_role ? " non-empty" : "");
    b->n = 0;
    if (b->p) b->p[0] = 0;
    if (jstring(r, b) < 0) return -1;
    if (is_role) m->has_role = 1;
    else m->has_content = 1;
    return 0;
}

static void conversation_free(conversation *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    free(c->msgs);
    for (int i = 0; i < MAX_STOPS; i++) free(c->stop_store[i]);
    free(c->tools);
    free(c->kwargs);
    free(c->vars);
    memset(c, 0, sizeof *c);
}

static char *buf_take(buf *b) {
    if (!b->p) {
        char *e = malloc(1);
        if (e) e[0] = 0;
        return e;
    }
    char *p = b->p;
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

static int read_messages(jreader *r, conversation *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    c->n = 0;
    if (r->s >= r->end || *r->s != '[') return jfail(r, "\"messages\" must be a non-empty array of {\"role\", \"content\"}");
    r->s++;
    jws(r);
    if (r->s < r->end && *r->s == ']') return jfail(r, "\"messages\" must be a non-empty array of {\"role\", \"content\"}");
    for (;;) {
        jws(r);
        msg_ctx m = {.index = c->n};
        char what[48];
        snprintf(what, sizeof what, "messages[%d]", c->n);
        int rc = jobject(r, message_member, &m, what);
        if (rc == 0 && (!m.has_role || m.role.n == 0))
            rc = jfail(r, "messages[%d].role must be a non-empty string", c->n);
        else if (rc == 0 && !m.has_content)
            rc = jfail(r, "messages[%d].content must be a string", c->n);
        if (rc == 0 && c->n == c->cap) {
            int cap = c->cap ? c->cap * 2 : 8;
            message *q = realloc(c->msgs, (size_t)cap * sizeof *q);
            if (!q) rc = jfail(r, "out of memory");
            else c->msgs = q, c->cap = cap;
        }
        if (rc < 0) {
            free(m.role.p);
            free(m.content.p);
            return -1;
        }
        c->msgs[c->n].role = buf_take(&m.role);
        c->msgs[c->n].content = buf_take(&m.content);
        c->n++;
        if (!c->msgs[c->n - 1].role || !c->msgs[c->n - 1].content) return jfail(r, "out of memory");
        int more = jnext(r, ']');
        if (more <= 0) return more;
    }
}

static int read_stop(jreader *r, conversation *c) {
    for (int i = 0; i < MAX_STOPS; i++) free(c->stop_store[i]), c->stop_store[i] = NULL;
    c->p.n_stop = 0;
    int array = r->s < r->end && *r->s == '[';
    if (array) {
        r->s++;
        jws(r);
        if (r->s < r->end && *r->s == ']') {
            r->s++;
            return 0;
        }
    }
    for (;;) {
        jws(r);
        buf b = {0};
        if (r->s >= r->end || *r->s != '"') return jfail(r, "\"stop\" must be a non-empty string or an array of them");
        if (jstring(r, &b) < 0 || b.n == 0) {
            free(b.p);
            return jfail(r, "\"stop\" must be a non-empty string or an array of them");
        }
        if (c->p.n_stop >= MAX_STOPS) {
            free(b.p);
            return jfail(r, "\"stop\": at most %d strings", MAX_STOPS);
        }
        c->stop_store[c->p.n_stop] = b.p;
        c->p.stop[c->p.n_stop] = b.p;
        c->p.n_stop++;
        if (!array) return 0;
        int more = jnext(r, ']');
        if (more <= 0) return more;
    }
}

/* A member kept as its JSON text: "tools" (an array) or "chat_template_kwargs"
 * (an object); null means not given. */
static int read_raw(jreader *r, char **out, char open, const char *key, const char *what) {
    free(*out);
    *out = NULL;
    if (r->s < r->end && *r->s == 'n') return jliteral(r, "null");
    if (r->s >= r->end || *r->s != open) return jfail(r, "\"%s\" must be %s", key, what);
    const char *a = r->s;
    if (jskip(r, 1) < 0) return -1;
    size_t n = (size_t)(r->s - a);
    *out = malloc(n + 1);
    if (!*out) return jfail(r, "out of memory");
    memcpy(*out, a, n);
    (*out)[n] = 0;
    return 0;
}

static int conversation_member(jreader *r, const char *key, void *ctx) {
    conversation *c = ctx;
    if (!strcmp(key, "messages")) return read_messages(r, c);
    if (!strcmp(key, "tools")) return read_raw(r, &c->tools, '[', key, "an array of tool definitions");
    if (!strcmp(key, "chat_template_kwargs")) return read_raw(r, &c->kwargs, '{', key, "an object");
    if (!strcmp(key, "stop")) {
        if (r->s < r->end && *r->s == 'n') {
            c->p.n_stop = 0;
            return jliteral(r, "null");
        }
        return read_stop(r, c);
    }
    static const struct {
        const char *name;
        int integer;
        double lo, hi;
    } nums[] = {{"max_tokens", 1, 1, 9007199254740991.0}, {"temperature", 0, 0, INFINITY}, {"top_k", 1, 0, 2147483647},
                {"top_p", 0, 0, 1},       {"min_p", 0, 0, 1},       {"repeat_penalty", 0, 0, INFINITY},
                {"repeat_last_n", 1, 0, 2147483647}, {"seed", 1, 0, 9007199254740991.0}};
    for (int k = 0; k < (int)(sizeof nums / sizeof *nums); k++) {
        if (strcmp(key, nums[k].name) != 0) continue;
        double v;
        if (r->s < r->end && *r->s == 'n') { /* null: not given */
            if (jliteral(r, "null") < 0) return -1;
            v = NAN;
        } else {
            if (r->s >= r->end || !(*r->s == '-' || (*r->s >= '0' && *r->s <= '9')))
                return jfail(r, "\"%s\" must be %s", key, nums[k].integer ? "an integer" : "a number");
            if (jnumber(r, &v) < 0) return -1;
            if (!isfinite(v) || (nums[k].integer && (v != floor(v) || fabs(v) > 9007199254740991.0)))
                return jfail(r, "\"%s\" must be %s", key, nums[k].integer ? "an integer" : "a number");
            if (v < nums[k].lo) return jfail(r, "\"%s\" must be >= %g", key, nums[k].lo);
            if (v > nums[k].hi) return jfail(r, "\"%s\" must be <= %g", key, nums[k].hi);
        }
        int given = !isnan(v);
        switch (k) {
        case 0: c->p.max_tokens = given ? (long long)v : -1; break;
        case 1: c->p.temperature = v; break;
        case 2: c->p.top_k = given ? (long long)v : -1; break;
        case 3: c->p.top_p = v; break;
        case 4: c->p.min_p = v; break;
        case 5: c->p.repeat_penalty = v; break;
        case 6: c->p.repeat_last_n = given ? (long long)v : -1; break;
        case 7: c->p.seed = given ? (long long)v : -1; break;
        }
        return 0;
    }
    return jskip(r, 1); /* other members are ignored */
}

/* All conversations on stdin, checked, before any work. Returns the count,
 * or -1 after printing the error. */
static int read_conversations(const char *text, size_t n, conversation **out) {
    *out = NULL;
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        int bad, k = u[i] < 0x80 ? 1 : utf8_char(u + i, n - i, &bad);
        if (!k) {
            fail_line("--json: the input is not valid UTF-8");
            return -1;
        }
        i += (size_t)k;
    }
    jreader r = {text, text + n, text, {0}};
    if (n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) r.s += 3;
    conversation *cs = NULL;
    int nc = 0, cap = 0;
    for (;;) {
        jws(&r);
        if (r.s >= r.end) break;
        if (nc == cap) {
            cap = cap ? cap * 2 : 4;
            conversation *q = realloc(cs, (size_t)cap * sizeof *q);
            if (!q) {
                fail_line("--json: out of memory");
                goto fail;
            }
            cs = q;
        }
        conversation *c = &cs[nc++];
        memset(c, 0, sizeof *c);
        params_init(&c->p);
        if (*r.s != '{') {
            char got[16];
            size_t k = 0;
            while (k < 8 && r.s + k < r.end && (unsigned char)r.s[k] >= 0x20 && r.s[k] != '\'') got[k] = r.s[k], k++;
            got[k] = 0;
            jfail(&r, "expected a JSON object {\"messages\": [...]}, found '%s'", got);
        } else if (jobject(&r, conversation_member, c, "the conversation") == 0 && c->n == 0)
            jfail(&r, "\"messages\" must be a non-empty array of {\"role\", \"content\"}");
        if (r.err[0]) {
            if (nc > 1) fail_line("--json: conversation %d: %s", nc, r.err);
            else fail_line("--json: %s", r.err);
            goto fail;
        }
    }
    if (nc == 0) {
        fail_line("--json: no conversation on stdin (expected {\"messages\": [...]})");
        goto fail;
    }
    *out = cs;
    return nc;
fail:
    for (int i = 0; i < nc; i++) conversation_free(&cs[i]);
    free(cs);
    return -1;
}

static char *read_stdin(size_t *n) {
    buf b = {0};
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, stdin)) > 0) {
        if (b.n + k > MAX_INPUT) {
            free(b.p);
            fail_line("--json: the input is larger than %u MiB", MAX_INPUT >> 20);
            return NULL;
        }
        buf_add(&b, tmp, k);
        if (b.oom) {
            free(b.p);
            fail_line("--json: out of memory");
            return NULL;
        }
    }
    if (ferror(stdin)) {
        free(b.p);
        fail_line("--json: cannot read stdin: %s", strerror(errno));
        return NULL;
    }
    *n = b.n;
    if (!b.p) b.p = calloc(1, 1);
    return b.p;
}

/* ---- model and turns ------------------------------------------------------------- */

static int has_ci(const char *s, const char *w) {
    size_t n = strlen(w);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && (s[i] | 32) == w[i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

/* A chat model that stands in for the shipped one: *chat*.gguf or *tutor*.gguf. */
static int is_chat_model_name(const char *name) {
    size_t n = strlen(name);
    return n >= 5 && !strcmp(name + n - 5, ".gguf") && (has_ci(name, "chat") || has_ci(name, "tutor"));
}

/* The shipped chat model (shipped.h says where it is looked for), else the
 * first other chat model in the same folder. */
static char *default_model(void) {
    char dir[CLI_SHIPPED_DIR_MAX];
    char *path = cli_find_shipped(SHIPPED, is_chat_model_name, dir, sizeof dir);
    if (!path)
        fail_line("no chat model given and none shipped in %s (looked for %s and *chat*.gguf): pass --model M.gguf", dir,
                  SHIPPED);
    return path;
}

static atn_model *load_model(const char *path, int flags, double *ms) {
    double t0 = now_ms();
    size_t size;
    const char *verb, *reason;
    void *data = cli_read_file(path, &size, &verb, &reason);
    if (!data) {
        fail_line("cannot %s model '%s': %s", verb, path, reason);
        return NULL;
    }
    atn_model *m = cli_load_model(data, size, flags, path);
    if (!m) {
        fail_line("%s: %s", path, atn_last_error());
        return NULL;
    }
    *ms = now_ms() - t0;
    return m;
}

typedef struct {
    char *content;
    size_t len;
    int32_t *tokens;
    int n_tokens;
    int prompt_tokens, evaluated, dropped;
    const char *reason;
    double prompt_ms, gen_ms;
} turn_result;

static volatile sig_atomic_t g_interrupt;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
}

/* The effective parameters: the command line's, else the conversation's. */
static params merge(const params *cli, const params *js) {
    params p = *cli;
    if (!js) return p;
    if (isnan(p.temperature)) p.temperature = js->temperature;
    if (isnan(p.top_p)) p.top_p = js->top_p;
    if (isnan(p.min_p)) p.min_p = js->min_p;
    if (isnan(p.repeat_penalty)) p.repeat_penalty = js->repeat_penalty;
    if (p.top_k < 0) p.top_k = js->top_k;
    if (p.repeat_last_n < 0) p.repeat_last_n = js->repeat_last_n;
    if (p.seed < 0) p.seed = js->seed;
    if (p.max_tokens < 0) p.max_tokens = js->max_tokens;
    for (int i = 0; i < js->n_stop && p.n_stop < MAX_STOPS; i++) p.stop[p.n_stop++] = js->stop[i];
    return p;
}

static void note(const char *fmt, ...);
static int g_errors_as_notes; /* interactive: "[error: ...]" and the chat goes on */

static int ends_turn_with_error(turn_result *t, const char *what) {
    const char *e = atn_last_error();
    if (g_errors_as_notes) note("error: %s%s%s", what ? what : "", what ? ": " : "", e);
    else if (what) fail_line("%s: %s", what, e);
    else fail_line("%s", e);
    free(t->content);
    free(t->tokens);
    memset(t, 0, sizeof *t);
    return -1;
}

/* Streamed text of a reply that may be a tool call: held until it is clear
 * whether the reply starts with <tool_call> (then none of it is shown) or
 * not (then all of it is), as the worker and the JS CLI do. */
typedef struct {
    buf held;
    int mode; /* 0 undecided, 1 text, 2 a call */
} out_gate;

static void gate_put(out_gate *g, const char *p, size_t n) {
    static const char tc[] = "<tool_call>";
    if (g->mode == 1) fwrite(p, 1, n, stdout);
    if (g->mode) return;
    buf_add(&g->held, p, n);
    size_t k = 0;
    while (k < g->held.n && g->held.p[k] && strchr(" \t\n\r\v\f", g->held.p[k])) k++;
    size_t rest = g->held.n - k, tl = sizeof tc - 1;
    if (rest >= tl && !memcmp(g->held.p + k, tc, tl)) g->mode = 2;
    else if (rest > tl || memcmp(g->held.p + k, tc, rest) != 0) {
        g->mode = 1;
        fwrite(g->held.p, 1, g->held.n, stdout);
    }
    if (g->mode) g->held.n = 0;
}

static void gate_end(out_gate *g) {
    if (g->mode == 0 && g->held.n) fwrite(g->held.p, 1, g->held.n, stdout);
    free(g->held.p);
    memset(g, 0, sizeof *g);
}

/* One turn: prefill the conversation, then generate the reply, streamed to
 * stdout when `stream` (2: through an out_gate, for replies that may be tool
 * calls). Returns 0, or -1 after printing the error. */
static int chat_turn(const atn_model *m, atn_session *s, const char *const *roles, const char *const *contents, int n,
                     const char *vars, const params *p, int stream, turn_result *t) {
    memset(t, 0, sizeof *t);
    int n_ctx = atn_session_n_ctx(s);
    long long max_tokens = p->max_tokens > 0 ? p->max_tokens : DEFAULT_MAX_TOKENS;
    int reserve = (int)(max_tokens < n_ctx / 2 ? max_tokens : n_ctx / 2);
    if (reserve < 1) reserve = 1;
    double t0 = now_ms();
    int ev = atn_chat_prefill_ex(s, roles, contents, n, vars, reserve, &t->dropped);
    if (ev < 0) return ends_turn_with_error(t, NULL); /* "chat: ..." already */
    double t1 = now_ms();
    t->evaluated = ev;
    t->prompt_tokens = atn_session_n_past(s);
    t->prompt_ms = t1 - t0;

    atn_sampler_params sp;
    atn_sampler_defaults(&sp);
    if (!isnan(p->temperature)) sp.temperature = (float)p->temperature;
    if (!isnan(p->top_p)) sp.top_p = (float)p->top_p;
    if (!isnan(p->min_p)) sp.min_p = (float)p->min_p;
    if (!isnan(p->repeat_penalty)) sp.repeat_penalty = (float)p->repeat_penalty;
    if (p->top_k >= 0) sp.top_k = (int)p->top_k;
    if (p->repeat_last_n >= 0) sp.repeat_last_n = (int)p->repeat_last_n;
    if (p->seed >= 0) sp.seed = (uint64_t)p->seed;
    atn_sampler *smp = atn_sampler_new(&sp);
    if (!smp) return ends_turn_with_error(t, "sampler");
    atn_gen *g = atn_gen_new(s, smp);
    if (!g) {
        atn_sampler_free(smp);
        return ends_turn_with_error(t, "generate");
    }
    for (int i = 0; i < p->n_stop; i++)
        if (atn_gen_add_stop(g, p->stop[i], strlen(p->stop[i])) < 0) {
            atn_gen_free(g);
            atn_sampler_free(smp);
            return ends_turn_with_error(t, "stop string");
        }
    long long room = n_ctx - atn_session_n_past(s);
    if (max_tokens > room) max_tokens = room;
    buf text = {0};
    out_gate gate = {0};
    int cap = 0, rc = 0;
    t->reason = "length";
    while (t->n_tokens < max_tokens) {
        if (g_interrupt) {
            t->reason = "interrupted";
            break;
        }
        int32_t tok = -1;
        int r = atn_gen_next(g, &tok);
        if (r < 0) {
            rc = -1;
            break;
        }
        size_t len = 0;
        const char *piece = atn_gen_text(g, &len);
        if (piece && len) {
            buf_add(&text, piece, len);
            if (stream == 2) gate_put(&gate, piece, len), fflush(stdout);
            else if (stream) fwrite(piece, 1, len, stdout), fflush(stdout);
        }
        if (r == 0) {
            t->reason = tok >= 0 && atn_token_is_eog(m, tok) ? "eog" : "stop";
            break;
        }
        if (t->n_tokens == cap) {
            cap = cap ? cap * 2 : 64;
            int32_t *q = realloc(t->tokens, (size_t)cap * sizeof *q);
            if (!q) {
                text.oom = 1;
                break;
            }
            t->tokens = q;
        }
        t->tokens[t->n_tokens++] = tok;
    }
    if (rc == 0 && strcmp(t->reason, "interrupted") != 0) {
        size_t len = 0;
        const char *piece = atn_gen_flush(g, &len);
        if (piece && len) {
            buf_add(&text, piece, len);
            if (stream == 2) gate_put(&gate, piece, len);
            else if (stream) fwrite(piece, 1, len, stdout), fflush(stdout);
        }
    }
    if (stream == 2) gate_end(&gate), fflush(stdout);
    atn_gen_free(g);
    atn_sampler_free(smp);
    t->gen_ms = now_ms() - t1;
    if (rc < 0) {
        free(text.p);
        return ends_turn_with_error(t, "generate");
    }
    if (text.oom) {
        free(text.p);
        fail_line("out of memory");
        free(t->tokens);
        memset(t, 0, sizeof *t);
        return -1;
    }
    t->content = text.p ? text.p : calloc(1, 1);
    t->len = text.n;
    if (!t->content) {
        fail_line("out of memory");
        free(t->tokens);
        return -1;
    }
    return 0;
}

static double per_s(int n, double ms) { return n && ms > 0 ? round2(n / (ms / 1000)) : 0; }

/* The template variables of a conversation: its chat_template_kwargs'
 * members and its tools, as one JSON object (NULL when it has neither). */
static int template_vars(conversation *c) {
    free(c->vars);
    c->vars = NULL;
    if (!c->tools && !c->kwargs) return 0;
    buf b = {0};
    buf_add(&b, "{", 1);
    if (c->kwargs) { /* the object's members, without its braces */
        const char *a = c->kwargs + 1, *e = c->kwargs + strlen(c->kwargs) - 1;
        while (a < e && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')) a++;
        buf_add(&b, a, (size_t)(e - a));
        if (c->tools && e > a) buf_add(&b, ",", 1);
    }
    if (c->tools) {
        buf_add(&b, "\"tools\":", sizeof "\"tools\":" - 1);
        buf_add(&b, c->tools, strlen(c->tools));
    }
    buf_add(&b, "}", 1);
    if (b.oom) {
        free(b.p);
        fail_line("out of memory");
        return -1;
    }
    c->vars = buf_take(&b);
    return 0;
}

/* "tool_calls":[...] of a reply (atn_chat_parse_tool_calls), and when they
 * cannot be read, "tool_call_error":"...". */
static void print_tool_calls(buf *b, const char *content, size_t len) {
    int n = atn_chat_parse_tool_calls(content, (int)len, NULL, 0);
    char *j = n >= 0 ? malloc((size_t)n + 1) : NULL;
    const char *calls = NULL;
    if (j && atn_chat_parse_tool_calls(content, (int)len, j, n + 1) == n) calls = strstr(j, ",\"tool_calls\":[");
    if (calls) {
        buf_add(b, calls, strlen(calls) - 1); /* without the result's closing brace */
    } else {
        const char *e = n < 0 ? atn_last_error() : "out of memory";
        static const char no_calls[] = ",\"tool_calls\":[],\"tool_call_error\":";
        buf_add(b, no_calls, sizeof no_calls - 1);
        json_str(b, e, strlen(e));
    }
    free(j);
}

/* ---- built-in tools (docs/chat.md; chat_tools.c runs them) ------------------------ */

/* The model's GGUF atento.tools when it is a non-empty JSON array, else NULL
 * (as js/tools.js declaredTools). */
static const char *declared_tools(const atn_model *m) {
    const char *t = atn_model_tools_json(m);
    if (!t) return NULL;
    jreader r = {t, t + strlen(t), t, {0}};
    jws(&r);
    if (r.s >= r.end || *r.s != '[') return NULL;
    const char *open = r.s;
    if (jskip(&r, 1) < 0) return NULL;
    jws(&r);
    if (r.s != r.end) return NULL;
    const char *in = open + 1;
    while (in < r.end && strchr(" \t\n\r", *in)) in++;
    return *in == ']' ? NULL : t;
}

typedef struct {
    buf name;
    const char *args;
    size_t args_len;
} one_call;

typedef struct {
    one_call *calls;
    int n, cap;
} call_list;

static void call_list_free(call_list *l) {
    for (int i = 0; i < l->n; i++) free(l->calls[i].name.p);
    free(l->calls);
    memset(l, 0, sizeof *l);
}

static int call_member(jreader *r, const char *key, void *ctx) {
    one_call *c = ctx;
    if (!strcmp(key, "name")) {
        c->name.n = 0;
        return jstring(r, &c->name);
    }
    if (!strcmp(key, "arguments")) {
        const char *a = r->s;
        if (jskip(r, 2) < 0) return -1;
        c->args = a;
        c->args_len = (size_t)(r->s - a);
        return 0;
    }
    return jskip(r, 2);
}

static int reply_member(jreader *r, const char *key, void *ctx) {
    call_list *l = ctx;
    if (strcmp(key, "tool_calls") != 0) return jskip(r, 1);
    if (r->s >= r->end || *r->s != '[') return jfail(r, "tool_calls must be an array");
    r->s++;
    jws(r);
    if (r->s < r->end && *r->s == ']') {
        r->s++;
        return 0;
    }
    for (;;) {
        if (l->n == l->cap) {
            int cap = l->cap ? l->cap * 2 : 4;
            one_call *q = realloc(l->calls, (size_t)cap * sizeof *q);
            if (!q) return jfail(r, "out of memory");
            l->calls = q;
            l->cap = cap;
        }
        one_call *c = &l->calls[l->n++];
        memset(c, 0, sizeof *c);
        if (jobject(r, call_member, c, "a tool call") < 0) return -1;
        if (!c->name.p) c->name.p = calloc(1, 1);
        if (!c->name.p) return jfail(r, "out of memory");
        int more = jnext(r, ']');
        if (more <= 0) return more;
    }
}

/* The calls of a reply (atn_chat_parse_tool_calls, whose JSON points into
 * *json: free it after the list). Returns the count, or -1 with the reason
 * the calls cannot be read in err. */
static int reply_calls(const char *content, size_t len, call_list *l, char **json, char *err, size_t cap) {
    memset(l, 0, sizeof *l);
    *json = NULL;
    int n = atn_chat_parse_tool_calls(content, (int)len, NULL, 0);
    if (n < 0) {
        snprintf(err, cap, "%s", atn_last_error());
        return -1;
    }
    *json = malloc((size_t)n + 1);
    if (!*json || atn_chat_parse_tool_calls(content, (int)len, *json, n + 1) != n) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    jreader r = {*json, *json + n, *json, {0}};
    if (jobject(&r, reply_member, l, "the tool calls") < 0) {
        snprintf(err, cap, "%s", r.err);
        call_list_free(l);
        return -1;
    }
    return l->n;
}

typedef struct {
    buf v[4]; /* text, to, word, from */
    int set[4];
} args_ctx;

static int args_member(jreader *r, const char *key, void *ctx) {
    args_ctx *a = ctx;
    static const char *const names[4] = {"text", "to", "word", "from"};
    for (int k = 0; k < 4; k++) {
        if (strcmp(key, names[k]) != 0) continue;
        if (r->s < r->end && *r->s == '"') {
            a->v[k].n = 0;
            if (a->v[k].p) a->v[k].p[0] = 0;
            a->set[k] = 1;
            return jstring(r, &a->v[k]);
        }
        a->set[k] = 0; /* the last value counts, as in JSON.parse */
        return jskip(r, 2);
    }
    return jskip(r, 2);
}

/* Run one call with the built-in tools; the result is malloc'd (NULL: out of memory). */
static char *run_call(cli_tools *tools, const one_call *c) {
    args_ctx a = {0};
    cli_tool_args ta = {0};
    if (c->args && c->args_len && c->args[0] == '{') {
        jreader r = {c->args, c->args + c->args_len, c->args, {0}};
        ta.is_object = jobject(&r, args_member, &a, "the arguments") == 0;
    }
    const char *empty = "";
    const char **dst[4] = {&ta.text, &ta.to, &ta.word, &ta.from};
    for (int k = 0; k < 4; k++)
        if (a.set[k]) *dst[k] = a.v[k].p ? a.v[k].p : empty;
    ta.word_len = a.set[2] ? a.v[2].n : 0;
    char *res = cli_tools_run(tools, c->name.p, &ta);
    for (int k = 0; k < 4; k++) free(a.v[k].p);
    return res;
}

static void print_json(const turn_result *t, double load_ms, int with_tools, const buf *tool_runs) {
    buf b = {0};
    buf_add(&b, "{\"message\":{\"role\":\"assistant\",\"content\":", 41);
    json_str(&b, t->content, t->len);
    if (with_tools) print_tool_calls(&b, t->content, t->len);
    buf_add(&b, "}", 1);
    if (tool_runs) {
        buf_add(&b, ",\"tool_runs\":[", 14);
        if (tool_runs->n) buf_add(&b, tool_runs->p, tool_runs->n);
        buf_add(&b, "]", 1);
    }
    buf_add(&b, ",\"tokens\":[", 11);
    for (int i = 0; i < t->n_tokens; i++) buf_printf(&b, i ? ",%d" : "%d", (int)t->tokens[i]);
    buf_printf(&b, "],\"prompt_tokens\":%d,\"reused_tokens\":%d,\"evaluated_tokens\":%d,\"dropped_messages\":%d,",
               t->prompt_tokens, t->prompt_tokens - t->evaluated, t->evaluated, t->dropped);
    buf_add(&b, "\"stop_reason\":", 14);
    json_str(&b, t->reason, strlen(t->reason));
    buf_add(&b, ",\"timings\":{", 12);
    if (load_ms >= 0) {
        buf_add(&b, "\"load_ms\":", 10);
        json_num(&b, round2(load_ms));
        buf_add(&b, ",", 1);
    }
    buf_add(&b, "\"prompt_ms\":", 12);
    json_num(&b, round2(t->prompt_ms));
    buf_add(&b, ",\"prompt_tokens_per_s\":", 23);
    json_num(&b, per_s(t->evaluated, t->prompt_ms));
    buf_add(&b, ",\"gen_ms\":", 10);
    json_num(&b, round2(t->gen_ms));
    buf_add(&b, ",\"gen_tokens_per_s\":", 20);
    json_num(&b, per_s(t->n_tokens, t->gen_ms));
    buf_add(&b, "}}\n", 3);
    if (b.oom) fail_line("out of memory");
    else fwrite(b.p, 1, b.n, stdout);
    fflush(stdout);
    free(b.p);
}

/* A growing list of messages: the caller's (borrowed) and the tool turns (owned). */
typedef struct {
    const char **roles, **contents;
    char **owned;
    int n, cap, n_owned;
} turn_msgs;

static int turn_push(turn_msgs *t, const char *role, char *content_owned) {
    if (!content_owned) return -1;
    if (t->n == t->cap) {
        int cap = t->cap * 2 + 8;
        const char **r = realloc(t->roles, (size_t)cap * sizeof *r);
        if (r) t->roles = r;
        const char **c = realloc(t->contents, (size_t)cap * sizeof *c);
        if (c) t->contents = c;
        char **o = realloc(t->owned, (size_t)cap * sizeof *o);
        if (o) t->owned = o;
        if (!r || !c || !o) {
            free(content_owned);
            return -1;
        }
        t->cap = cap;
    }
    t->roles[t->n] = role;
    t->contents[t->n++] = content_owned;
    t->owned[t->n_owned++] = content_owned;
    return 0;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n), d[n] = 0;
    return d;
}

/* One answer with the built-in tools (docs/chat.md): reply, run the calls it
 * makes, append the reply and the results as "assistant" and "tool"
 * messages, and reply again, until a reply makes no call or
 * CLI_MAX_TOOL_ROUNDS rounds ran. t: the last reply; runs: the tool_runs
 * items as JSON ({"name","arguments","result"}, comma-separated); used: the
 * names run, comma-separated, each once (may be NULL). Returns 0, or -1
 * after printing the error. */
static int tools_turn(const atn_model *m, atn_session *s, cli_tools *tools, const char *const *roles,
                      const char *const *contents, int n, const char *vars, const params *p, int stream,
                      turn_result *t, buf *runs, buf *used) {
    turn_msgs tm = {0};
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        if (tm.n == tm.cap) {
            int cap = tm.cap * 2 + 8;
            const char **r = realloc(tm.roles, (size_t)cap * sizeof *r);
            if (r) tm.roles = r;
            const char **c = realloc(tm.contents, (size_t)cap * sizeof *c);
            if (c) tm.contents = c;
            char **o = realloc(tm.owned, (size_t)cap * sizeof *o);
            if (o) tm.owned = o;
            if (!r || !c || !o) rc = -1;
            else tm.cap = cap;
        }
        if (rc == 0) tm.roles[tm.n] = roles[i], tm.contents[tm.n++] = contents[i];
    }
    if (rc < 0) fail_line("out of memory");
    for (int round = 0; rc == 0; round++) {
        rc = chat_turn(m, s, tm.roles, tm.contents, tm.n, vars, p, stream ? 2 : 0, t);
        if (rc < 0 || !strcmp(t->reason, "interrupted") || round >= CLI_MAX_TOOL_ROUNDS) break;
        call_list l;
        char *json = NULL, err[512];
        int nc = reply_calls(t->content, t->len, &l, &json, err, sizeof err);
        if (nc == 0) {
            free(json);
            break;
        }
        if (turn_push(&tm, "assistant", dup_n(t->content, t->len)) < 0) rc = -1;
        if (rc == 0 && nc < 0) {
            buf e = {0};
            static const char why[] = "error: the tool call could not be read: ";
            buf_add(&e, why, sizeof why - 1);
            buf_add(&e, err, strlen(err));
            if (e.oom || turn_push(&tm, "tool", buf_take(&e)) < 0) rc = -1;
        }
        for (int i = 0; i < nc && rc == 0; i++) {
            const one_call *c = &l.calls[i];
            char *res = run_call(tools, c);
            if (!res) {
                rc = -1;
                break;
            }
            if (runs->n) buf_add(runs, ",", 1);
            buf_add(runs, "{\"name\":", 8);
            json_str(runs, c->name.p, c->name.n);
            if (c->args) {
                buf_add(runs, ",\"arguments\":", 13);
                buf_add(runs, c->args, c->args_len);
            }
            buf_add(runs, ",\"result\":", 10);
            json_str(runs, res, strlen(res));
            buf_add(runs, "}", 1);
            if (used) { /* each name once */
                int seen = 0;
                size_t nl = c->name.n;
                for (size_t k = 0; used->n && k + nl <= used->n; k++)
                    if ((k == 0 || used->p[k - 1] == ' ') && !memcmp(used->p + k, c->name.p, nl) &&
                        (k + nl == used->n || used->p[k + nl] == ','))
                        seen = 1;
                if (!seen) {
                    if (used->n) buf_add(used, ", ", 2);
                    buf_add(used, c->name.p, nl);
                }
            }
            if (turn_push(&tm, "tool", res) < 0) rc = -1;
        }
        call_list_free(&l);
        free(json);
        if (runs->oom || (used && used->oom)) rc = -1;
        if (rc < 0) {
            fail_line("out of memory");
            break;
        }
        free(t->content);
        free(t->tokens);
        memset(t, 0, sizeof *t);
    }
    for (int i = 0; i < tm.n_owned; i++) free(tm.owned[i]);
    free(tm.owned);
    free(tm.roles);
    free(tm.contents);
    return rc;
}

static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputc('[', stderr);
    vfprintf(stderr, fmt, ap);
    fputs("]\n", stderr);
    va_end(ap);
}

/* ---- the two modes ----------------------------------------------------------------- */

static int run_json(const atn_model *m, atn_session *s, const options *o, conversation *cs, int nc, double load_ms,
                    const char *builtin, cli_tools *tools) {
    for (int k = 0; k < nc; k++) {
        conversation *c = &cs[k];
        const char **roles = malloc((size_t)c->n * sizeof *roles);
        const char **contents = malloc((size_t)c->n * sizeof *contents);
        if (!roles || !contents) {
            free(roles);
            free(contents);
            fail_line("out of memory");
            return 1;
        }
        for (int i = 0; i < c->n; i++) roles[i] = c->msgs[i].role, contents[i] = c->msgs[i].content;
        params p = merge(&o->p, &c->p);
        turn_result t;
        /* no "tools" given: the model's own built-in tools, unless --no-tools */
        int with_tools = c->tools != NULL, with_builtin = builtin && !with_tools;
        if (with_builtin && !(c->tools = strdup(builtin))) {
            free(roles);
            free(contents);
            fail_line("out of memory");
            return 1;
        }
        buf runs = {0};
        int r = template_vars(c);
        if (r == 0 && with_builtin) r = tools_turn(m, s, tools, roles, contents, c->n, c->vars, &p, 0, &t, &runs, NULL);
        else if (r == 0) r = chat_turn(m, s, roles, contents, c->n, c->vars, &p, 0, &t);
        free(roles);
        free(contents);
        if (r < 0) {
            free(runs.p);
            return 1;
        }
        print_json(&t, k == 0 ? load_ms : -1, with_tools, with_builtin ? &runs : NULL);
        free(runs.p);
        free(t.content);
        free(t.tokens);
    }
    return 0;
}

/* The conversation of the interactive mode: owned copies. */
typedef struct {
    char **roles, **contents;
    int n, cap;
} history;

static int history_push(history *h, const char *role, const char *content, size_t len) {
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        char **r = realloc(h->roles, (size_t)cap * sizeof *r);
        if (!r) return -1;
        h->roles = r;
        char **c = realloc(h->contents, (size_t)cap * sizeof *c);
        if (!c) return -1;
        h->contents = c;
        h->cap = cap;
    }
    char *rr = strdup(role);
    char *cc = malloc(len + 1);
    if (!rr || !cc) {
        free(rr);
        free(cc);
        return -1;
    }
    memcpy(cc, content, len);
    cc[len] = 0;
    h->roles[h->n] = rr;
    h->contents[h->n] = cc;
    h->n++;
    return 0;
}

static void history_pop_to(history *h, int n) {
    while (h->n > n) {
        h->n--;
        free(h->roles[h->n]);
        free(h->contents[h->n]);
    }
}

/* Remove `dropped` messages right after the system prompt. */
static void history_drop(history *h, int dropped) {
    int first = h->n && !strcmp(h->roles[0], "system") ? 1 : 0;
    if (dropped <= 0) return;
    if (dropped > h->n - first) dropped = h->n - first;
    for (int i = first; i < first + dropped; i++) free(h->roles[i]), free(h->contents[i]);
    memmove(h->roles + first, h->roles + first + dropped, (size_t)(h->n - first - dropped) * sizeof(char *));
    memmove(h->contents + first, h->contents + first + dropped, (size_t)(h->n - first - dropped) * sizeof(char *));
    h->n -= dropped;
}

/* Lines of stdin, read with read(2) behind pselect(2): SIGINT is blocked
 * while the flag is checked and unblocked atomically by the wait, so a Ctrl-C
 * that comes just before the wait still interrupts it (getline would sleep
 * through it). */
typedef struct {
    char *buf;
    size_t start, len, cap;
    int eof;
} line_reader;

/* The next line (without its newline) in *line, valid until the next call.
 * Returns its length, -1 at the end of input, -2 on Ctrl-C, -3 on error. */
static long read_line(line_reader *lr, char **line) {
    for (;;) {
        char *nl = lr->len > lr->start ? memchr(lr->buf + lr->start, '\n', lr->len - lr->start) : NULL;
        if (nl || (lr->eof && lr->len > lr->start)) {
            char *p = lr->buf + lr->start;
            size_t n = nl ? (size_t)(nl - p) : lr->len - lr->start;
            p[n] = 0; /* the buffer always has a spare byte */
            lr->start += n + (nl ? 1 : 0);
            *line = p;
            return (long)n;
        }
        if (lr->eof) return -1;
        if (lr->start > 0) {
            memmove(lr->buf, lr->buf + lr->start, lr->len - lr->start);
            lr->len -= lr->start;
            lr->start = 0;
        }
        if (lr->cap - lr->len < 4097) {
            size_t cap = lr->cap ? lr->cap * 2 : 8192;
            char *b = realloc(lr->buf, cap);
            if (!b) return -3;
            lr->buf = b;
            lr->cap = cap;
        }
        sigset_t block, orig;
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigprocmask(SIG_BLOCK, &block, &orig);
        if (g_interrupt) {
            sigprocmask(SIG_SETMASK, &orig, NULL);
            return -2;
        }
        fd_set rd;
        FD_ZERO(&rd);
        FD_SET(0, &rd);
        int r = pselect(1, &rd, NULL, NULL, NULL, &orig);
        sigprocmask(SIG_SETMASK, &orig, NULL);
        if (r < 0) {
            if (errno == EINTR) continue; /* the flag is looked at above */
            return -3;
        }
        ssize_t k = read(0, lr->buf + lr->len, lr->cap - lr->len - 1);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return -3;
        }
        if (k == 0) lr->eof = 1;
        lr->len += (size_t)k;
    }
}

static int run_interactive(const atn_model *m, atn_session *s, const options *o, const char *path, const char *builtin,
                           cli_tools *tools) {
    int tty = isatty(0) && isatty(1);
    history h = {0};
    g_errors_as_notes = 1;
    int base = 0, failed = 0, rc = 0;
    if (o->system) {
        if (history_push(&h, "system", o->system, strlen(o->system)) < 0) {
            fail_line("out of memory");
            return 1;
        }
        base = 1;
    }
    if (tty)
        fprintf(stderr,
                "atento chat: %s (context %d tokens). Ctrl-C stops a reply; Ctrl-D or Ctrl-C at the prompt exits; "
                "/reset starts over.\n",
                path, atn_session_n_ctx(s));
    line_reader lr = {0};
    char *line = NULL;
    for (;;) {
        if (tty) fputs("> ", stdout), fflush(stdout);
        long n = read_line(&lr, &line);
        if (n < 0) {
            if (tty) fputc('\n', stdout);
            if (n == -3) {
                fail_line("cannot read stdin: %s", strerror(errno));
                rc = 1;
            }
            break; /* end of input, or Ctrl-C at the prompt */
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        const char *t = line;
        while (*t == ' ' || *t == '\t') t++;
        if (!*t) continue;
        if (!strcmp(t, "/exit") || !strcmp(t, "/quit")) break;
        if (!strcmp(t, "/reset")) {
            history_pop_to(&h, base);
            atn_session_truncate(s, 0);
            note("new conversation");
            continue;
        }
        if ((size_t)n != strlen(line)) {
            note("error: the line contains a NUL character");
            failed++;
            continue;
        }
        size_t at = 0; /* the same check and note as js/cli/chat.js */
        for (int bad; at < (size_t)n;) {
            int k = utf8_char((const unsigned char *)line + at, (size_t)n - at, &bad);
            if (!k) break;
            at += (size_t)k;
        }
        if (at < (size_t)n) {
            note("error: the line is not valid UTF-8 (byte %zu)", at);
            failed++;
            continue;
        }
        if (history_push(&h, "user", line, (size_t)n) < 0) {
            fail_line("out of memory");
            rc = 1;
            break;
        }
        turn_result r;
        g_interrupt = 0;
        int tr;
        buf runs = {0}, used = {0};
        if (builtin) {
            buf vars = {0};
            buf_add(&vars, "{\"tools\":", 9);
            buf_add(&vars, builtin, strlen(builtin));
            buf_add(&vars, "}", 1);
            tr = vars.oom ? -1 : tools_turn(m, s, tools, (const char *const *)h.roles, (const char *const *)h.contents, h.n,
                                             vars.p, &o->p, 1, &r, &runs, &used);
            free(vars.p);
        } else
            tr = chat_turn(m, s, (const char *const *)h.roles, (const char *const *)h.contents, h.n, NULL, &o->p, 1, &r);
        free(runs.p);
        if (tr < 0) free(used.p);
        g_interrupt = 0; /* a Ctrl-C during the reply is used up by stopping it */
        if (tr < 0) {
            history_pop_to(&h, h.n - 1);
            atn_session_truncate(s, 0);
            failed++;
            continue;
        }
        fputc('\n', stdout);
        fflush(stdout);
        if (r.dropped > 0) {
            history_drop(&h, r.dropped);
            note("context full: dropped the %d oldest message%s%s", r.dropped, r.dropped > 1 ? "s" : "",
                 base ? " (the system prompt is kept)" : "");
        }
        if (history_push(&h, "assistant", r.content, r.len) < 0) {
            fail_line("out of memory");
            rc = 1;
        }
        if (used.n) note("used: %.*s", (int)used.n, used.p);
        free(used.p);
        if (!strcmp(r.reason, "interrupted")) note("reply stopped");
        else if (!strcmp(r.reason, "length")) note("reply cut at %d tokens", r.n_tokens);
        if (o->verbose)
            note("prompt %d tokens (%d evaluated, %d reused from the cache), reply %d tokens, %g tokens/s, %s",
                 r.prompt_tokens, r.evaluated, r.prompt_tokens - r.evaluated, r.n_tokens, per_s(r.n_tokens, r.gen_ms),
                 r.reason);
        free(r.content);
        free(r.tokens);
        if (rc) break;
    }
    free(lr.buf);
    history_pop_to(&h, 0);
    free(h.roles);
    free(h.contents);
    if (rc) return rc;
    return failed && !tty ? 1 : 0;
}

/* `atento chat [flags]`, called by main.c with its whole argv (argv[1] is
 * "chat"). Returns the exit status: 0, 1 (failure), 2 (bad usage). */
int atn_cli_chat(int argc, char **argv) {
    options o;
    int pr = parse_args(argc > 2 ? argc - 2 : 0, argv + (argc > 2 ? 2 : argc), &o);
    if (pr == 1) {
        fputs(HELP, stdout);
        return 0;
    }
    if (pr < 0) return 2;
    conversation *cs = NULL;
    int nc = 0;
    if (o.json) {
        size_t n;
        char *in = read_stdin(&n);
        if (!in) return 1;
        nc = read_conversations(in, n, &cs);
        free(in);
        if (nc < 0) return 1;
    }
    char *owned = NULL;
    const char *path = o.model;
    int rc = 1;
    atn_model *m = NULL;
    atn_session *s = NULL;
    cli_tools *tools = NULL;
    if (!path) path = owned = default_model();
    if (!path) goto done;
    double load_ms = 0;
    m = load_model(path, o.load_flags, &load_ms);
    if (!m) goto done;
    if (!strcmp(atn_model_arch(m), "marian")) {
        fail_line("%s is a translation model (marian): use atento translate", path);
        goto done;
    }
    atn_session_params sp = {o.kv_type};
    s = atn_session_new_ex(m, o.ctx, &sp);
    if (!s) {
        fail_line("session: %s", atn_last_error());
        goto done;
    }
    /* Ctrl-C sets a flag (and interrupts a blocking read: no SA_RESTART) */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old);
    g_interrupt = 0;
    const char *builtin = o.no_tools ? NULL : declared_tools(m);
    tools = builtin ? cli_tools_new() : NULL;
    if (builtin && !tools) {
        fail_line("out of memory");
        goto done;
    }
    rc = o.json ? run_json(m, s, &o, cs, nc, load_ms, builtin, tools) : run_interactive(m, s, &o, path, builtin, tools);
    sigaction(SIGINT, &old, NULL);
done:
    cli_tools_free(tools);
    atn_session_free(s);
    atn_model_free(m);
    free(owned);
    for (int i = 0; i < nc; i++) conversation_free(&cs[i]);
    free(cs);
    return rc;
}
