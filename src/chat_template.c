/* chat_template.c — the Jinja-subset interpreter behind chat_template.h.
 *
 * Three stages, each bounded:
 *   lex    template text -> tokens: TEXT runs and the tokens inside {{ }} and
 *          {% %}; whitespace control (-, trim_blocks, lstrip_blocks) is applied
 *          to the TEXT runs here, so later stages never see it.
 *   parse  tokens -> a tree of statements and expressions (recursive descent,
 *          depth-limited).
 *   render walk the tree with a step budget; values live in an arena with a
 *          byte budget, output in a capped buffer.
 * Errors carry the template line. Everything allocated for one render is
 * freed at the end, whatever happened.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "chat_template.h"
#include "json.h"

const char atn_template_chatml[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* ------------------------------------------------------------------ arena */

typedef struct chunk { struct chunk *next; size_t used, cap; } chunk;

typedef struct ctx {
    chunk *chunks;
    size_t mem;          /* bytes allocated so far */
    long steps;
    int64_t work;        /* bytes scanned and items visited (the budget for work inside one step) */
    char *err;
    size_t errcap;
    int failed;
    /* output, and which of its bytes came from message contents (out_mask,
     * parallel to out, allocated at the first such byte) */
    char *out;
    unsigned char *out_mask;
    size_t out_len, out_cap;
} ctx;

static int fail(ctx *c, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(ctx *c, int line, const char *fmt, ...) {
    if (c->failed) return -1;
    c->failed = 1;
    if (c->err && c->errcap) {
        int n = line > 0 ? snprintf(c->err, c->errcap, "chat template line %d: ", line)
                         : snprintf(c->err, c->errcap, "chat template: ");
        if (n >= 0 && (size_t)n < c->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
        /* the message is one line whatever the template put in it */
        for (char *p = c->err; *p; p++)
            if (*p == '\n' || *p == '\r') *p = ' ';
    }
    return -1;
}

static void *alloc(ctx *c, size_t n) {
    if (n <= ATN_TEMPLATE_MAX_MEMORY) n = (n + 15) & ~(size_t)15; /* (rounding a huge n would wrap) */
    if (n > ATN_TEMPLATE_MAX_MEMORY || c->mem + n > ATN_TEMPLATE_MAX_MEMORY) {
        fail(c, 0, "uses more than %u MiB of memory", ATN_TEMPLATE_MAX_MEMORY >> 20);
        return NULL;
    }
    chunk *k = c->chunks;
    if (!k || k->cap - k->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        k = malloc(sizeof(chunk) + cap);
        if (!k) { fail(c, 0, "out of memory"); return NULL; }
        k->next = c->chunks;
        k->used = 0;
        k->cap = cap;
        c->chunks = k;
    }
    void *p = (char *)(k + 1) + k->used;
    k->used += n;
    c->mem += n;
    memset(p, 0, n);
    return p;
}

/* Work that is not a step of its own (scanning a string, comparing items)
 * is charged by the byte or item, so no single operation can run long. A
 * byte scanned costs 1 unit, a dict key compared 1, a value compared or
 * printed WORK_ITEM (about what it takes next to a byte of memchr). */
#define WORK_ITEM 128
static int charge(ctx *c, uint64_t n) {
    if (n > ATN_TEMPLATE_MAX_WORK) n = ATN_TEMPLATE_MAX_WORK + 1;
    c->work += (int64_t)n;
    if (c->work > ATN_TEMPLATE_MAX_WORK)
        return fail(c, 0, "does more than %d million units of work (runaway template?)", ATN_TEMPLATE_MAX_WORK / 1000000);
    return 0;
}

static void free_all(ctx *c) {
    while (c->chunks) {
        chunk *k = c->chunks;
        c->chunks = k->next;
        free(k);
    }
}

/* ------------------------------------------------------------------ lexer */

enum {
    T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END,
    T_NAME, T_STRING, T_INT, T_FLOAT, T_OP, T_EOF
};
enum { OP_EQ = 256, OP_NE, OP_LE, OP_GE, OP_FLOORDIV, OP_POW };

typedef struct token {
    int t;
    int op;
    const char *s; /* name, string (decoded), text */
    size_t n;
    int64_t i;
    double f;
    int line;
} token;

typedef struct lexer {
    ctx *c;
    const char *src;
    size_t len, pos;
    int line;
    token *toks;
    int n, cap;
    int text_idx;          /* index of the last TEXT token, -1 if none since the last tag */
    int lstrip_next;       /* a '-' ended the last tag: strip all whitespace after it */
    int trim_next;         /* a block/comment ended without '-': drop one newline after it */
} lexer;

static token *push(lexer *L, int t) {
    if (L->n == L->cap) {
        int cap = L->cap ? L->cap * 2 : 256;
        token *nt = alloc(L->c, (size_t)cap * sizeof(token));
        if (!nt) return NULL;
        if (L->n) memcpy(nt, L->toks, (size_t)L->n * sizeof(token));
        L->toks = nt;
        L->cap = cap;
    }
    token *k = &L->toks[L->n++];
    memset(k, 0, sizeof *k);
    k->t = t;
    k->line = L->line;
    return k;
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

/* A run of template text from src[a..b), with the pending strip rules. */
static int emit_text(lexer *L, size_t a, size_t b, int line_start) {
    if (L->lstrip_next) {
        while (a < b && is_space(L->src[a])) a++;
        L->lstrip_next = 0;
    } else if (L->trim_next) {
        if (a < b && L->src[a] == '\n') { a++; line_start = 1; }
    }
    L->trim_next = 0;
    token *k = push(L, T_TEXT);
    if (!k) return -1;
    k->s = L->src + a;
    k->n = b - a;
    k->i = line_start;
    L->text_idx = L->n - 1;
    return 0;
}

/* Whitespace rules applied to the text before a tag. */
static void strip_before(lexer *L, int minus, int plus, int is_block) {
    if (L->text_idx < 0) return;
    token *k = &L->toks[L->text_idx];
    if (minus) {
        while (k->n && is_space(k->s[k->n - 1])) k->n--;
    } else if (is_block && !plus) {
        /* lstrip_blocks: spaces/tabs between the line start and the tag */
        size_t i = k->n;
        while (i && (k->s[i - 1] == ' ' || k->s[i - 1] == '\t')) i--;
        if ((i > 0 && k->s[i - 1] == '\n') || (i == 0 && k->i)) k->n = i;
    }
}

static int lex_string(lexer *L, token *k) {
    char q = L->src[L->pos++];
    size_t start = L->pos;
    /* decoded length <= raw length */
    size_t end = start;
    while (end < L->len && L->src[end] != q) {
        if (L->src[end] == '\\' && end + 1 < L->len) end++;
        if (L->src[end] == '\n') L->line++;
        end++;
    }
    if (end >= L->len) return fail(L->c, k->line, "unterminated string literal");
    char *d = alloc(L->c, end - start + 1);
    if (!d) return -1;
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        char ch = L->src[i];
        if (ch != '\\') { d[n++] = ch; continue; }
        char e = L->src[++i];
        switch (e) {
        case 'n': d[n++] = '\n'; break;
        case 't': d[n++] = '\t'; break;
        case 'r': d[n++] = '\r'; break;
        case '\\': d[n++] = '\\'; break;
        case '\'': d[n++] = '\''; break;
        case '"': d[n++] = '"'; break;
        case 'a': d[n++] = '\a'; break;
        case 'b': d[n++] = '\b'; break;
        case 'f': d[n++] = '\f'; break;
        case 'v': d[n++] = '\v'; break;
        /* A NUL would end the rendered prompt early for every reader of it
         * as a C string (and no tokenizer has a piece for it): refused. */
        case '0': return fail(L->c, k->line, "a string literal contains a NUL character (\\0)");
        case 'x': case 'u': case 'U': {
            int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            int ok = i + (size_t)digits < end;
            for (int k = 1; ok && k <= digits; k++) {
                char h = L->src[i + (size_t)k];
                int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (v < 0) ok = 0;
                cp = cp * 16 + (uint32_t)(v < 0 ? 0 : v);
            }
            if (!ok || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return fail(L->c, k->line, "bad \\%c escape in a string literal", e);
            if (cp == 0) return fail(L->c, k->line, "a string literal contains a NUL character (\\%c escape)", e);
            i += (size_t)digits;
            /* UTF-8; never longer than the escape it replaces */
            if (cp < 0x80) d[n++] = (char)cp;
            else if (cp < 0x800) { d[n++] = (char)(0xC0 | (cp >> 6)); d[n++] = (char)(0x80 | (cp & 0x3F)); }
            else if (cp < 0x10000) { d[n++] = (char)(0xE0 | (cp >> 12)); d[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); d[n++] = (char)(0x80 | (cp & 0x3F)); }
            else { d[n++] = (char)(0xF0 | (cp >> 18)); d[n++] = (char)(0x80 | ((cp >> 12) & 0x3F)); d[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); d[n++] = (char)(0x80 | (cp & 0x3F)); }
            break;
        }
        default: d[n++] = '\\'; d[n++] = e; break; /* Python keeps unknown escapes */
        }
    }
    k->s = d;
    k->n = n;
    L->pos = end + 1;
    return 0;
}

/* Tokens inside a tag, up to its end marker. */
static int lex_tag(lexer *L, int is_block) {
    int start_line = L->line;
    int depth = 0; /* open ( [ { : an end marker inside them is not one (as in Jinja) */
    for (;;) {
        while (L->pos < L->len && is_space(L->src[L->pos])) {
            if (L->src[L->pos] == '\n') L->line++;
            L->pos++;
        }
        if (L->pos >= L->len)
            return fail(L->c, start_line, "unterminated %s", is_block ? "{% ... %}" : "{{ ... }}");
        const char *p = L->src + L->pos;
        size_t left = L->len - L->pos;
        char endc = is_block ? '%' : '}';
        int minus = 0, plus = 0;
        if (depth == 0 && left >= 3 && (p[0] == '-' || p[0] == '+') && p[1] == endc && p[2] == '}') {
            minus = p[0] == '-';
            plus = p[0] == '+';
            L->pos += 3;
        } else if (depth == 0 && left >= 2 && p[0] == endc && p[1] == '}') {
            L->pos += 2;
        } else {
            token *k = push(L, T_OP);
            if (!k) return -1;
            char ch = p[0];
            if (ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
                size_t n = 1;
                while (n < left && (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
                                    (p[n] >= '0' && p[n] <= '9')))
                    n++;
                k->t = T_NAME;
                k->s = p;
                k->n = n;
                L->pos += n;
            } else if (ch >= '0' && ch <= '9') {
                size_t n = 0;
                int is_float = 0;
                while (n < left && ((p[n] >= '0' && p[n] <= '9') || p[n] == '_')) n++;
                if (n + 1 < left && p[n] == '.' && p[n + 1] >= '0' && p[n + 1] <= '9') {
                    is_float = 1;
                    n++;
                    while (n < left && p[n] >= '0' && p[n] <= '9') n++;
                }
                if (n < left && (p[n] == 'e' || p[n] == 'E')) {
                    size_t m = n + 1;
                    if (m < left && (p[m] == '+' || p[m] == '-')) m++;
                    if (m < left && p[m] >= '0' && p[m] <= '9') {
                        is_float = 1;
                        n = m;
                        while (n < left && p[n] >= '0' && p[n] <= '9') n++;
                    }
                }
                char buf[64];
                size_t bn = 0;
                for (size_t i = 0; i < n && bn < sizeof buf - 1; i++)
                    if (p[i] != '_') buf[bn++] = p[i];
                buf[bn] = 0;
                if (is_float) {
                    k->t = T_FLOAT;
                    k->f = strtod(buf, NULL);
                } else {
                    k->t = T_INT;
                    if (bn > 18) return fail(L->c, L->line, "integer literal too large");
                    k->i = strtoll(buf, NULL, 10);
                }
                L->pos += n;
            } else if (ch == '\'' || ch == '"') {
                k->t = T_STRING;
                if (lex_string(L, k)) return -1;
            } else {
                int op = ch;
                size_t n = 1;
                if (left >= 2) {
                    char d = p[1];
                    if (ch == '=' && d == '=') op = OP_EQ, n = 2;
                    else if (ch == '!' && d == '=') op = OP_NE, n = 2;
                    else if (ch == '<' && d == '=') op = OP_LE, n = 2;
                    else if (ch == '>' && d == '=') op = OP_GE, n = 2;
                    else if (ch == '/' && d == '/') op = OP_FLOORDIV, n = 2;
                    else if (ch == '*' && d == '*') op = OP_POW, n = 2;
                }
                if (n == 1 && !strchr("()[]{}.,:|+-*/%~<>=", ch))
                    return fail(L->c, L->line, "unexpected character '%c' in a tag", (ch >= 32 && ch < 127) ? ch : '?');
                k->op = op;
                L->pos += n;
                if (op == '(' || op == '[' || op == '{') depth++;
                else if ((op == ')' || op == ']' || op == '}') && depth > 0) depth--;
            }
            continue;
        }
        token *e = push(L, is_block ? T_BLOCK_END : T_VAR_END);
        if (!e) return -1;
        if (minus) L->lstrip_next = 1;
        else if (is_block && !plus) L->trim_next = 1;
        L->text_idx = -1;
        return 0;
    }
}

static int lex(lexer *L) {
    size_t text_start = 0;
    int line_start = 1;
    L->text_idx = -1;
    while (L->pos < L->len) {
        const char *p = L->src + L->pos;
        if (p[0] == '\n') { L->line++; L->pos++; continue; }
        if (p[0] != '{' || L->pos + 1 >= L->len || (p[1] != '{' && p[1] != '%' && p[1] != '#')) {
            L->pos++;
            continue;
        }
        char kind = p[1];
        if (emit_text(L, text_start, L->pos, line_start)) return -1;
        line_start = 0;
        int minus = 0, plus = 0;
        size_t q = L->pos + 2;
        if (q < L->len && (L->src[q] == '-' || L->src[q] == '+')) {
            minus = L->src[q] == '-';
            plus = L->src[q] == '+';
            q++;
        }
        strip_before(L, minus, plus, kind != '{');
        if (kind == '#') {
            int start_line = L->line;
            size_t i = q;
            while (i + 1 < L->len && !(L->src[i] == '#' && L->src[i + 1] == '}')) {
                if (L->src[i] == '\n') L->line++;
                i++;
            }
            if (i + 1 >= L->len) return fail(L->c, start_line, "unterminated comment {# ... #}");
            if (L->src[i - 1] == '-' && i - 1 >= q) L->lstrip_next = 1;
            else L->trim_next = 1;
            L->pos = i + 2;
        } else {
            token *k = push(L, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN);
            if (!k) return -1;
            L->pos = q;
            if (lex_tag(L, kind == '%')) return -1;
        }
        /* a trim_blocks newline makes the next text start a line */
        if (L->trim_next && L->pos < L->len && L->src[L->pos] == '\n') line_start = 1;
        text_start = L->pos;
    }
    if (emit_text(L, text_start, L->len, line_start)) return -1;
    token *k = push(L, T_EOF);
    return k ? 0 : -1;
}

/* ------------------------------------------------------------------ AST */

enum {
    /* statements */
    S_TEXT, S_OUTPUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_BREAK, S_CONTINUE,
    /* expressions */
    E_STR, E_INT, E_FLOAT, E_BOOL, E_NONE, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL,
    E_FILTER, E_TEST, E_NOT, E_NEG, E_BIN, E_AND, E_OR, E_COND, E_LIST, E_DICT, E_KWARG
};

typedef struct node {
    int k;
    int line;
    int op;                  /* E_BIN operator; E_TEST: negated */
    const char *s;           /* names, strings, text */
    size_t n;
    const char *s2;          /* S_FOR second target, S_SET attribute */
    size_t n2;
    int64_t i;
    double f;
    struct node *a, *b, *c, *d; /* children */
    struct node *next;       /* sibling in a list */
} node;

typedef struct parser {
    ctx *c;
    token *t;
    int pos;
    int depth;
} parser;

static node *mk(parser *P, int k) {
    node *x = alloc(P->c, sizeof(node));
    if (x) {
        x->k = k;
        x->line = P->t[P->pos].line;
    }
    return x;
}

static token *cur(parser *P) { return &P->t[P->pos]; }
static int is_op(parser *P, int op) { return cur(P)->t == T_OP && cur(P)->op == op; }
static int is_name(parser *P, const char *s) {
    token *k = cur(P);
    return k->t == T_NAME && k->n == strlen(s) && memcmp(k->s, s, k->n) == 0;
}
static int expect_op(parser *P, int op) {
    if (!is_op(P, op)) {
        if (op < 256) return fail(P->c, cur(P)->line, "expected '%c'", op);
        return fail(P->c, cur(P)->line, "syntax error");
    }
    P->pos++;
    return 0;
}

static node *parse_expr(parser *P);
static node *parse_or(parser *P);

static int enter(parser *P) {
    if (++P->depth > ATN_TEMPLATE_MAX_DEPTH * 2) {
        fail(P->c, cur(P)->line, "expression nested too deeply");
        return -1;
    }
    return 0;
}

/* (args, k=v) after the opening parenthesis was consumed; list of nodes,
 * keyword arguments wrapped in E_KWARG. */
static int parse_args(parser *P, node **args) {
    node **tail = args;
    while (!is_op(P, ')')) {
        node *x;
        if (cur(P)->t == T_NAME && P->t[P->pos + 1].t == T_OP && P->t[P->pos + 1].op == '=') {
            x = mk(P, E_KWARG);
            if (!x) return -1;
            x->s = cur(P)->s;
            x->n = cur(P)->n;
            P->pos += 2;
            if (!(x->a = parse_expr(P))) return -1;
        } else if (!(x = parse_expr(P))) {
            return -1;
        }
        *tail = x;
        tail = &x->next;
        if (is_op(P, ',')) P->pos++;
        else if (!is_op(P, ')')) return fail(P->c, cur(P)->line, "expected ',' or ')' in arguments");
    }
    P->pos++;
    return 0;
}

static node *parse_primary(parser *P) {
    token *k = cur(P);
    node *x = NULL;
    if (k->t == T_STRING) {
        x = mk(P, E_STR);
        if (!x) return NULL;
        x->s = k->s;
        x->n = k->n;
        P->pos++;
        /* adjacent string literals concatenate */
        while (cur(P)->t == T_STRING) {
            token *m = cur(P);
            char *d = alloc(P->c, x->n + m->n + 1);
            if (!d) return NULL;
            memcpy(d, x->s, x->n);
            memcpy(d + x->n, m->s, m->n);
            x->s = d;
            x->n += m->n;
            P->pos++;
        }
    } else if (k->t == T_INT) {
        if (!(x = mk(P, E_INT))) return NULL;
        x->i = k->i;
        P->pos++;
    } else if (k->t == T_FLOAT) {
        if (!(x = mk(P, E_FLOAT))) return NULL;
        x->f = k->f;
        P->pos++;
    } else if (k->t == T_NAME) {
        if (is_name(P, "true") || is_name(P, "True") || is_name(P, "false") || is_name(P, "False")) {
            if (!(x = mk(P, E_BOOL))) return NULL;
            x->i = k->s[0] == 't' || k->s[0] == 'T';
        } else if (is_name(P, "none") || is_name(P, "None")) {
            if (!(x = mk(P, E_NONE))) return NULL;
        } else {
            if (!(x = mk(P, E_NAME))) return NULL;
            x->s = k->s;
            x->n = k->n;
        }
        P->pos++;
    } else if (is_op(P, '(')) {
        P->pos++;
        if (enter(P)) return NULL;
        x = parse_expr(P);
        P->depth--;
        if (!x) return NULL;
        if (is_op(P, ',')) { /* a tuple: a list that prints as (a, b) */
            node *l = mk(P, E_LIST);
            if (!l) return NULL;
            l->op = 1;
            l->a = x;
            node **tail = &x->next;
            while (is_op(P, ',')) {
                P->pos++;
                if (is_op(P, ')')) break;
                node *y = parse_expr(P);
                if (!y) return NULL;
                *tail = y;
                tail = &y->next;
            }
            x = l;
        }
        if (expect_op(P, ')')) return NULL;
    } else if (is_op(P, '[')) {
        P->pos++;
        if (!(x = mk(P, E_LIST))) return NULL;
        node **tail = &x->a;
        if (enter(P)) return NULL;
        while (!is_op(P, ']')) {
            node *y = parse_expr(P);
            if (!y) return NULL;
            *tail = y;
            tail = &y->next;
            if (is_op(P, ',')) P->pos++;
            else if (!is_op(P, ']')) { fail(P->c, cur(P)->line, "expected ',' or ']' in a list"); return NULL; }
        }
        P->depth--;
        P->pos++;
    } else if (is_op(P, '{')) {
        P->pos++;
        if (!(x = mk(P, E_DICT))) return NULL;
        node **tail = &x->a;
        if (enter(P)) return NULL;
        while (!is_op(P, '}')) {
            node *key = parse_expr(P);
            if (!key || expect_op(P, ':')) return NULL;
            node *val = parse_expr(P);
            if (!val) return NULL;
            *tail = key;
            key->next = val;
            tail = &val->next;
            if (is_op(P, ',')) P->pos++;
            else if (!is_op(P, '}')) { fail(P->c, cur(P)->line, "expected ',' or '}' in a dict"); return NULL; }
        }
        P->depth--;
        P->pos++;
    } else {
        fail(P->c, k->line, k->t == T_EOF ? "unexpected end of template" : "unexpected token in an expression");
        return NULL;
    }
    return x;
}

/* primary with .attr, [item], [a:b], (call) */
static node *parse_postfix(parser *P) {
    node *x = parse_primary(P);
    while (x) {
        if (is_op(P, '.')) {
            P->pos++;
            node *y = mk(P, E_ATTR);
            if (!y) return NULL;
            if (cur(P)->t == T_NAME) {
                y->s = cur(P)->s;
                y->n = cur(P)->n;
            } else if (cur(P)->t == T_INT) { /* foo.0 */
                y->k = E_ITEM;
                node *ix = mk(P, E_INT);
                if (!ix) return NULL;
                ix->i = cur(P)->i;
                y->b = ix;
            } else {
                fail(P->c, cur(P)->line, "expected a name after '.'");
                return NULL;
            }
            P->pos++;
            y->a = x;
            x = y;
        } else if (is_op(P, '[')) {
            P->pos++;
            if (enter(P)) return NULL;
            node *lo = NULL, *hi = NULL, *step = NULL;
            int is_slice = 0;
            if (!is_op(P, ':') && !(lo = parse_expr(P))) return NULL;
            if (is_op(P, ':')) {
                is_slice = 1;
                P->pos++;
                if (!is_op(P, ']') && !is_op(P, ':') && !(hi = parse_expr(P))) return NULL;
                if (is_op(P, ':')) {
                    P->pos++;
                    if (!is_op(P, ']') && !(step = parse_expr(P))) return NULL;
                }
            }
            P->depth--;
            if (expect_op(P, ']')) return NULL;
            node *y = mk(P, is_slice ? E_SLICE : E_ITEM);
            if (!y) return NULL;
            y->a = x;
            y->b = lo;
            y->c = hi;
            y->d = step;
            x = y;
        } else if (is_op(P, '(')) {
            P->pos++;
            node *y = mk(P, E_CALL);
            if (!y) return NULL;
            y->a = x;
            if (enter(P) || parse_args(P, &y->b)) return NULL;
            P->depth--;
            x = y;
        } else {
            break;
        }
    }
    return x;
}

static int is_reserved(parser *P) {
    static const char *kw[] = {"and", "or", "not", "in", "is", "if", "else", "recursive", NULL};
    for (int i = 0; kw[i]; i++)
        if (is_name(P, kw[i])) return 1;
    return 0;
}

/* unary minus/plus on a postfix expression (no filters: `-1|abs` is abs(-1)) */
static node *parse_sign(parser *P) {
    if (is_op(P, '-') || is_op(P, '+')) {
        int neg = is_op(P, '-');
        P->pos++;
        if (enter(P)) return NULL;
        node *y = parse_sign(P);
        P->depth--;
        if (!y || !neg) return y;
        node *x = mk(P, E_NEG);
        if (!x) return NULL;
        x->a = y;
        return x;
    }
    return parse_postfix(P);
}

/* then filters (|name(args)) and tests (is [not] name [arg]) */
static node *parse_unary(parser *P) {
    node *x = parse_sign(P);
    while (x) {
        if (is_op(P, '|')) {
            P->pos++;
            if (cur(P)->t != T_NAME) { fail(P->c, cur(P)->line, "expected a filter name after '|'"); return NULL; }
            node *y = mk(P, E_FILTER);
            if (!y) return NULL;
            y->s = cur(P)->s;
            y->n = cur(P)->n;
            P->pos++;
            if (is_op(P, '(')) {
                P->pos++;
                if (enter(P) || parse_args(P, &y->b)) return NULL;
                P->depth--;
            }
            y->a = x;
            x = y;
        } else if (is_name(P, "is")) {
            P->pos++;
            node *y = mk(P, E_TEST);
            if (!y) return NULL;
            if (is_name(P, "not")) { y->op = 1; P->pos++; }
            if (cur(P)->t == T_NAME) {
                y->s = cur(P)->s;
                y->n = cur(P)->n;
                P->pos++;
            } else if (is_op(P, OP_EQ) || is_op(P, OP_NE) || is_op(P, '<') || is_op(P, '>') || is_op(P, OP_LE) || is_op(P, OP_GE)) {
                static const char *names[] = {"==", "!=", "<=", ">="};
                int op = cur(P)->op;
                y->s = op == OP_EQ ? names[0] : op == OP_NE ? names[1] : op == OP_LE ? names[2] : op == OP_GE ? names[3] : op == '<' ? "<" : ">";
                y->n = strlen(y->s);
                P->pos++;
            } else {
                fail(P->c, cur(P)->line, "expected a test name after 'is'");
                return NULL;
            }
            if (is_op(P, '(')) {
                P->pos++;
                if (enter(P) || parse_args(P, &y->b)) return NULL;
                P->depth--;
            } else if (cur(P)->t == T_STRING || cur(P)->t == T_INT || cur(P)->t == T_FLOAT || is_op(P, '[') ||
                       is_op(P, '{') || (cur(P)->t == T_NAME && !is_reserved(P))) {
                if (!(y->b = parse_postfix(P))) return NULL;
            }
            y->a = x;
            x = y;
        } else {
            break;
        }
    }
    return x;
}

static node *bin(parser *P, int op, node *a, node *b) {
    node *x = mk(P, E_BIN);
    if (!x) return NULL;
    x->op = op;
    x->a = a;
    x->b = b;
    return x;
}

static node *parse_pow(parser *P) {
    node *x = parse_unary(P);
    while (x && is_op(P, OP_POW)) {
        P->pos++;
        node *y = parse_unary(P);
        if (!y) return NULL;
        x = bin(P, OP_POW, x, y);
    }
    return x;
}

static node *parse_mul(parser *P) {
    node *x = parse_pow(P);
    while (x && (is_op(P, '*') || is_op(P, '/') || is_op(P, '%') || is_op(P, OP_FLOORDIV))) {
        int op = cur(P)->op;
        P->pos++;
        node *y = parse_pow(P);
        if (!y) return NULL;
        x = bin(P, op, x, y);
    }
    return x;
}

static node *parse_add(parser *P) {
    node *x = parse_mul(P);
    while (x && (is_op(P, '+') || is_op(P, '-'))) {
        int op = cur(P)->op;
        P->pos++;
        node *y = parse_mul(P);
        if (!y) return NULL;
        x = bin(P, op, x, y);
    }
    return x;
}

static node *parse_concat(parser *P) {
    node *x = parse_add(P);
    while (x && is_op(P, '~')) {
        P->pos++;
        node *y = parse_add(P);
        if (!y) return NULL;
        x = bin(P, '~', x, y);
    }
    return x;
}

#define OP_IN 300
#define OP_NOTIN 301

static node *parse_compare(parser *P) {
    node *x = parse_concat(P);
    while (x) {
        int op = 0;
        if (is_op(P, OP_EQ) || is_op(P, OP_NE) || is_op(P, '<') || is_op(P, '>') || is_op(P, OP_LE) || is_op(P, OP_GE)) {
            op = cur(P)->op;
            P->pos++;
        } else if (is_name(P, "in")) {
            op = OP_IN;
            P->pos++;
        } else if (is_name(P, "not") && P->t[P->pos + 1].t == T_NAME && P->t[P->pos + 1].n == 2 &&
                   memcmp(P->t[P->pos + 1].s, "in", 2) == 0) {
            op = OP_NOTIN;
            P->pos += 2;
        } else {
            break;
        }
        node *y = parse_concat(P);
        if (!y) return NULL;
        x = bin(P, op, x, y);
    }
    return x;
}

static node *parse_not(parser *P) {
    if (is_name(P, "not")) {
        P->pos++;
        if (enter(P)) return NULL;
        node *y = parse_not(P);
        P->depth--;
        if (!y) return NULL;
        node *x = mk(P, E_NOT);
        if (!x) return NULL;
        x->a = y;
        return x;
    }
    return parse_compare(P);
}

static node *parse_and(parser *P) {
    node *x = parse_not(P);
    while (x && is_name(P, "and")) {
        P->pos++;
        node *y = parse_not(P);
        if (!y) return NULL;
        node *z = mk(P, E_AND);
        if (!z) return NULL;
        z->a = x;
        z->b = y;
        x = z;
    }
    return x;
}

static node *parse_or(parser *P) {
    node *x = parse_and(P);
    while (x && is_name(P, "or")) {
        P->pos++;
        node *y = parse_and(P);
        if (!y) return NULL;
        node *z = mk(P, E_OR);
        if (!z) return NULL;
        z->a = x;
        z->b = y;
        x = z;
    }
    return x;
}

static node *parse_expr(parser *P) {
    if (enter(P)) return NULL;
    node *x = parse_or(P);
    while (x && is_name(P, "if")) { /* x if cond else y */
        P->pos++;
        node *z = mk(P, E_COND);
        if (!z) return NULL;
        z->a = x;
        if (!(z->b = parse_or(P))) return NULL;
        if (is_name(P, "else")) {
            P->pos++;
            if (!(z->c = parse_or(P))) return NULL;
        }
        x = z;
    }
    P->depth--;
    return x;
}

/* ---- statements ---- */

static int parse_body(parser *P, node **body, const char *const *ends, int *which);

static int expect_block_end(parser *P) {
    if (cur(P)->t != T_BLOCK_END) return fail(P->c, cur(P)->line, "expected '%%}'");
    P->pos++;
    return 0;
}

/* if/elif/else: an elif is an S_IF (op = 1) as the else of the one before;
 * the chain is built in a loop, since it can be long */
static node *parse_if(parser *P) {
    static const char *ends[] = {"elif", "else", "endif", NULL};
    node *first = mk(P, S_IF), *x = first;
    for (;;) {
        if (!x || !(x->a = parse_expr(P)) || expect_block_end(P)) return NULL;
        int which;
        if (parse_body(P, &x->b, ends, &which)) return NULL;
        if (which == 0) {
            node *y = mk(P, S_IF);
            if (!y) return NULL;
            y->op = 1;
            x->c = y;
            x = y;
            continue;
        }
        if (which == 1) {
            static const char *ends2[] = {"endif", NULL};
            if (expect_block_end(P) || parse_body(P, &x->c, ends2, &which)) return NULL;
        }
        if (expect_block_end(P)) return NULL;
        return first;
    }
}

static node *parse_for(parser *P) {
    static const char *ends[] = {"else", "endfor", NULL};
    node *x = mk(P, S_FOR);
    if (!x) return NULL;
    if (cur(P)->t != T_NAME) { fail(P->c, cur(P)->line, "expected a loop variable"); return NULL; }
    x->s = cur(P)->s;
    x->n = cur(P)->n;
    P->pos++;
    if (is_op(P, ',')) {
        P->pos++;
        if (cur(P)->t != T_NAME) { fail(P->c, cur(P)->line, "expected a second loop variable"); return NULL; }
        x->s2 = cur(P)->s;
        x->n2 = cur(P)->n;
        P->pos++;
    }
    if (!is_name(P, "in")) { fail(P->c, cur(P)->line, "expected 'in' in a for loop"); return NULL; }
    P->pos++;
    if (!(x->a = parse_or(P))) return NULL;
    if (is_name(P, "if")) {
        P->pos++;
        if (!(x->d = parse_or(P))) return NULL;
    }
    if (is_name(P, "recursive")) { fail(P->c, cur(P)->line, "recursive loops are not supported"); return NULL; }
    if (expect_block_end(P)) return NULL;
    int which;
    if (parse_body(P, &x->b, ends, &which)) return NULL;
    if (which == 0) {
        static const char *ends2[] = {"endfor", NULL};
        if (expect_block_end(P) || parse_body(P, &x->c, ends2, &which)) return NULL;
    }
    if (expect_block_end(P)) return NULL;
    return x;
}

static node *parse_set(parser *P) {
    node *x = mk(P, S_SET);
    if (!x) return NULL;
    if (cur(P)->t != T_NAME) { fail(P->c, cur(P)->line, "expected a variable name after 'set'"); return NULL; }
    x->s = cur(P)->s;
    x->n = cur(P)->n;
    P->pos++;
    if (is_op(P, '.')) {
        P->pos++;
        if (cur(P)->t != T_NAME) { fail(P->c, cur(P)->line, "expected an attribute name"); return NULL; }
        x->s2 = cur(P)->s;
        x->n2 = cur(P)->n;
        P->pos++;
    }
    if (is_op(P, '=')) {
        P->pos++;
        if (!(x->a = parse_expr(P)) || expect_block_end(P)) return NULL;
        return x;
    }
    if (x->s2) { fail(P->c, cur(P)->line, "expected '='"); return NULL; }
    /* {% set name %}...{% endset %} */
    static const char *ends[] = {"endset", NULL};
    int which;
    x->k = S_SETBLOCK;
    if (expect_block_end(P) || parse_body(P, &x->b, ends, &which) || expect_block_end(P)) return NULL;
    return x;
}

/* Statements until a {% name %} in ends (its index in *which; the parser
 * stops after the tag name), or the end of the template if ends is NULL. */
static int parse_body(parser *P, node **body, const char *const *ends, int *which) {
    node **tail = body;
    if (++P->depth > ATN_TEMPLATE_MAX_DEPTH) return fail(P->c, cur(P)->line, "blocks nested deeper than %d", ATN_TEMPLATE_MAX_DEPTH);
    for (;;) {
        token *k = cur(P);
        node *x = NULL;
        if (k->t == T_EOF) {
            if (ends) {
                int last = 0;
                while (ends[last + 1]) last++;
                return fail(P->c, k->line, "unexpected end of template: missing {%% %s %%}", ends[last]);
            }
            break;
        }
        if (k->t == T_TEXT) {
            P->pos++;
            if (!k->n) continue;
            if (!(x = mk(P, S_TEXT))) return -1;
            x->s = k->s;
            x->n = k->n;
        } else if (k->t == T_VAR_BEGIN) {
            P->pos++;
            if (!(x = mk(P, S_OUTPUT)) || !(x->a = parse_expr(P))) return -1;
            if (cur(P)->t != T_VAR_END) return fail(P->c, cur(P)->line, "expected '}}'");
            P->pos++;
        } else if (k->t == T_BLOCK_BEGIN) {
            P->pos++;
            token *name = cur(P);
            if (name->t != T_NAME) return fail(P->c, name->line, "expected a tag name after '{%%'");
            if (ends)
                for (int i = 0; ends[i]; i++)
                    if (is_name(P, ends[i])) {
                        P->pos++;
                        *which = i;
                        P->depth--;
                        return 0;
                    }
            P->pos++;
            if (name->n == 2 && !memcmp(name->s, "if", 2)) x = parse_if(P);
            else if (name->n == 3 && !memcmp(name->s, "for", 3)) x = parse_for(P);
            else if (name->n == 3 && !memcmp(name->s, "set", 3)) x = parse_set(P);
            else if ((name->n == 5 && !memcmp(name->s, "break", 5)) || (name->n == 8 && !memcmp(name->s, "continue", 8))) {
                if (!(x = mk(P, name->n == 5 ? S_BREAK : S_CONTINUE)) || expect_block_end(P)) return -1;
            } else if (name->n == 10 && !memcmp(name->s, "generation", 10)) {
                /* HF's assistant-mask marker: render the body as is */
                static const char *gen_end[] = {"endgeneration", NULL};
                int w;
                node *inner = NULL;
                if (expect_block_end(P) || parse_body(P, &inner, gen_end, &w) || expect_block_end(P)) return -1;
                *tail = inner;
                while (*tail) tail = &(*tail)->next;
                continue;
            } else if ((name->n >= 3 && !memcmp(name->s, "end", 3)) || (name->n == 4 && !memcmp(name->s, "elif", 4)) ||
                       (name->n == 4 && !memcmp(name->s, "else", 4))) {
                return fail(P->c, name->line, "unexpected {%% %.*s %%}", (int)(name->n > 40 ? 40 : name->n), name->s);
            } else {
                return fail(P->c, name->line, "unsupported tag '%.*s'", (int)(name->n > 40 ? 40 : name->n), name->s);
            }
            if (!x) return -1;
        } else {
            return fail(P->c, k->line, "unexpected token");
        }
        *tail = x;
        tail = &x->next;
    }
    P->depth--;
    return 0;
}

/* ------------------------------------------------------------------ values */

enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_FUNC, V_METHOD };
enum { F_RAISE = 1, F_NAMESPACE, F_RANGE, F_DICT };

typedef struct value value;
typedef struct vlist { int n, cap; value *v; int is_tuple; } vlist;
typedef struct vdict { int n, cap; const char **ks; size_t *kn; value *v; int is_ns; } vdict;
typedef struct vmethod vmethod;

struct value {
    int t;
    union {
        int64_t i;
        double f;
        /* m: NULL, or one byte per byte of p, 1 where it came from a message's content */
        struct { const char *p; size_t n; const unsigned char *m; } s;
        vlist *l;
        vdict *d;
        vmethod *m;
    } u;
};

struct vmethod { value self; const char *name; size_t n; };

static value v_undef(void) { value v; memset(&v, 0, sizeof v); v.t = V_UNDEF; return v; }
static value v_none(void) { value v = v_undef(); v.t = V_NONE; return v; }
static value v_bool(int b) { value v = v_undef(); v.t = V_BOOL; v.u.i = b != 0; return v; }
static value v_int(int64_t i) { value v = v_undef(); v.t = V_INT; v.u.i = i; return v; }
static value v_float(double f) { value v = v_undef(); v.t = V_FLOAT; v.u.f = f; return v; }
static value v_str(const char *p, size_t n) { value v = v_undef(); v.t = V_STR; v.u.s.p = p; v.u.s.n = n; return v; }
static value v_strm(const char *p, size_t n, const unsigned char *m) { value v = v_str(p, n); v.u.s.m = m; return v; }
/* the part of string s at [off, off + n) */
static value v_sub(value s, size_t off, size_t n) { return v_strm(s.u.s.p + off, n, s.u.s.m ? s.u.s.m + off : NULL); }

static vlist *list_new(ctx *c, int cap) {
    vlist *l = alloc(c, sizeof(vlist));
    if (!l) return NULL;
    l->cap = cap > 4 ? cap : 4;
    l->v = alloc(c, (size_t)l->cap * sizeof(value));
    return l->v ? l : NULL;
}

static int list_push(ctx *c, vlist *l, value v) {
    if (l->n == l->cap) {
        value *nv = alloc(c, (size_t)l->cap * 2 * sizeof(value));
        if (!nv) return -1;
        memcpy(nv, l->v, (size_t)l->n * sizeof(value));
        l->v = nv;
        l->cap *= 2;
    }
    l->v[l->n++] = v;
    return 0;
}

static vdict *dict_new(ctx *c) {
    vdict *d = alloc(c, sizeof(vdict));
    return d;
}

/* NULL when missing, and when the work budget ran out (then c->failed) */
static value *dict_get(ctx *c, const vdict *d, const char *k, size_t n) {
    if (charge(c, (size_t)d->n + 1)) return NULL;
    for (int i = d->n - 1; i >= 0; i--)
        if (d->kn[i] == n && memcmp(d->ks[i], k, n) == 0) return &d->v[i];
    return NULL;
}

static int dict_set(ctx *c, vdict *d, const char *k, size_t n, value v) {
    value *p = dict_get(c, d, k, n);
    if (p) { *p = v; return 0; }
    if (c->failed) return -1;
    if (d->n == d->cap) {
        int cap = d->cap ? d->cap * 2 : 4;
        const char **ks = alloc(c, (size_t)cap * sizeof(char *));
        size_t *kn = alloc(c, (size_t)cap * sizeof(size_t));
        value *vv = alloc(c, (size_t)cap * sizeof(value));
        if (!ks || !kn || !vv) return -1;
        if (d->n) {
            memcpy(ks, d->ks, (size_t)d->n * sizeof(char *));
            memcpy(kn, d->kn, (size_t)d->n * sizeof(size_t));
            memcpy(vv, d->v, (size_t)d->n * sizeof(value));
        }
        d->ks = ks; d->kn = kn; d->v = vv; d->cap = cap;
    }
    d->ks[d->n] = k;
    d->kn[d->n] = n;
    d->v[d->n] = v;
    d->n++;
    return 0;
}

static int truthy(value v) {
    switch (v.t) {
    case V_BOOL: case V_INT: return v.u.i != 0;
    case V_FLOAT: return v.u.f != 0;
    case V_STR: return v.u.s.n != 0;
    case V_LIST: return v.u.l->n != 0;
    case V_DICT: return v.u.d->n != 0;
    case V_FUNC: case V_METHOD: return 1;
    default: return 0;
    }
}

static const char *type_name(value v) {
    static const char *names[] = {"undefined", "none", "bool", "int", "float", "string", "list", "dict", "function", "method"};
    return names[v.t];
}

/* ---- string building ---- */

/* A string being built, with its content mask (m, allocated at the first
 * masked byte). depth: nesting of the value being printed. */
typedef struct sbuf { ctx *c; char *p; unsigned char *m; size_t n, cap; int bad; int depth; } sbuf;
#define SBUF(c) {(c), NULL, NULL, 0, 0, 0, 0}

/* n bytes of s; mask m (NULL: none), or all 1 when m_all */
static void sb_put(sbuf *b, const char *s, size_t n, const unsigned char *m, int m_all) {
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        if (n > ATN_TEMPLATE_MAX_MEMORY) { fail(b->c, 0, "uses more than %u MiB of memory", ATN_TEMPLATE_MAX_MEMORY >> 20); b->bad = 1; return; }
        size_t cap = (b->n + n + 1) * 2;
        if (cap < 64) cap = 64;
        char *np = alloc(b->c, cap);
        unsigned char *nm = b->m ? alloc(b->c, cap) : NULL;
        if (!np || (b->m && !nm)) { b->bad = 1; return; }
        if (b->n) memcpy(np, b->p, b->n);
        if (b->m && b->n) memcpy(nm, b->m, b->n);
        b->p = np;
        b->m = nm;
        b->cap = cap;
    }
    if ((m || m_all) && !b->m) {
        b->m = alloc(b->c, b->cap); /* zeroed: what came before is the template's */
        if (!b->m) { b->bad = 1; return; }
    }
    if (n) memcpy(b->p + b->n, s, n);
    if (b->m) {
        if (m) memcpy(b->m + b->n, m, n);
        else memset(b->m + b->n, m_all ? 1 : 0, n);
    }
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_add(sbuf *b, const char *s, size_t n) { sb_put(b, s, n, NULL, 0); }
static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }
/* what one byte of a string (masked or not) turned into */
static void sb_from(sbuf *b, value src, size_t i, const char *s, size_t n) { sb_put(b, s, n, NULL, src.u.s.m && src.u.s.m[i]); }
static value sb_value(sbuf *b) { return v_strm(b->p ? b->p : "", b->n, b->m); }
/* entering a nested list/dict while printing one */
static int sb_enter(sbuf *b) {
    if (++b->depth > ATN_TEMPLATE_MAX_VALUE_DEPTH) {
        if (!b->bad) fail(b->c, 0, "a value nested more than %d deep", ATN_TEMPLATE_MAX_VALUE_DEPTH);
        b->bad = 1;
        return -1;
    }
    return 0;
}
/* one more item of a list/dict being printed */
static int sb_item(sbuf *b) {
    if (!b->bad && charge(b->c, WORK_ITEM)) b->bad = 1;
    return b->bad;
}

/* Python's repr(float): the shortest digits that round-trip, fixed notation
 * for exponents -4..15, else scientific (1e+16, 2.5e-07). */
static void fmt_float(double f, char *buf, size_t cap) {
    if (isnan(f)) { snprintf(buf, cap, "nan"); return; }
    if (isinf(f)) { snprintf(buf, cap, f > 0 ? "inf" : "-inf"); return; }
    char e[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (strtod(e, NULL) == f) break;
    }
    const char *ep = strchr(e, 'e');
    int exp = ep ? atoi(ep + 1) : 0;
    if (exp >= -4 && exp < 16) {
        int decimals = prec - 1 - exp;
        snprintf(buf, cap, "%.*f", decimals > 0 ? decimals : 0, f);
        if (!strchr(buf, '.')) {
            size_t n = strlen(buf);
            if (n + 2 < cap) memcpy(buf + n, ".0", 3);
        }
    } else {
        snprintf(buf, cap, "%s", e);
    }
}

static void repr(sbuf *b, value v, int top);

/* str(v): what {{ v }} and ~ print */
static void to_str(sbuf *b, value v) {
    char buf[64];
    switch (v.t) {
    case V_UNDEF: break;
    case V_NONE: sb_str(b, "None"); break;
    case V_BOOL: sb_str(b, v.u.i ? "True" : "False"); break;
    case V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v.u.i); sb_str(b, buf); break;
    case V_FLOAT: fmt_float(v.u.f, buf, sizeof buf); sb_str(b, buf); break;
    case V_STR: sb_put(b, v.u.s.p, v.u.s.n, v.u.s.m, 0); break;
    default: repr(b, v, 1); break;
    }
}

static void repr(sbuf *b, value v, int top) {
    if (v.t == V_STR) {
        sb_add(b, "'", 1);
        if (charge(b->c, v.u.s.n)) { b->bad = 1; return; }
        for (size_t i = 0; i < v.u.s.n; i++) {
            char ch = v.u.s.p[i];
            char esc[2] = {'\\', ch};
            if (ch == '\'' || ch == '\\') sb_from(b, v, i, esc, 2);
            else if (ch == '\n') sb_from(b, v, i, "\\n", 2);
            else if (ch == '\t') sb_from(b, v, i, "\\t", 2);
            else sb_from(b, v, i, &ch, 1);
        }
        sb_add(b, "'", 1);
    } else if ((v.t == V_LIST || v.t == V_DICT) && sb_enter(b)) {
        return;
    } else if (v.t == V_LIST) {
        sb_add(b, v.u.l->is_tuple ? "(" : "[", 1);
        for (int i = 0; i < v.u.l->n && !sb_item(b); i++) {
            if (i) sb_add(b, ", ", 2);
            repr(b, v.u.l->v[i], 0);
        }
        if (v.u.l->is_tuple && v.u.l->n == 1) sb_add(b, ",", 1);
        sb_add(b, v.u.l->is_tuple ? ")" : "]", 1);
        b->depth--;
    } else if (v.t == V_DICT) {
        sb_add(b, "{", 1);
        for (int i = 0; i < v.u.d->n && !sb_item(b); i++) {
            if (i) sb_add(b, ", ", 2);
            repr(b, v_str(v.u.d->ks[i], v.u.d->kn[i]), 0);
            sb_add(b, ": ", 2);
            repr(b, v.u.d->v[i], 0);
        }
        sb_add(b, "}", 1);
        b->depth--;
    } else if (v.t == V_FUNC || v.t == V_METHOD) {
        sb_str(b, "<function>");
    } else if (v.t == V_UNDEF && !top) {
        sb_str(b, "None");
    } else {
        to_str(b, v);
    }
}

static void json(sbuf *b, value v, int indent, int level) {
    char buf[64];
    switch (v.t) {
    case V_UNDEF: case V_NONE: sb_str(b, "null"); return;
    case V_BOOL: sb_str(b, v.u.i ? "true" : "false"); return;
    case V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v.u.i); sb_str(b, buf); return;
    case V_FLOAT:
        if (isnan(v.u.f) || isinf(v.u.f)) sb_str(b, isnan(v.u.f) ? "NaN" : v.u.f > 0 ? "Infinity" : "-Infinity");
        else { fmt_float(v.u.f, buf, sizeof buf); sb_str(b, buf); }
        return;
    case V_STR:
        sb_add(b, "\"", 1);
        if (charge(b->c, v.u.s.n)) { b->bad = 1; return; }
        for (size_t i = 0; i < v.u.s.n; i++) {
            unsigned char ch = (unsigned char)v.u.s.p[i];
            const char *e = ch == '"' ? "\\\"" : ch == '\\' ? "\\\\" : ch == '\n' ? "\\n" : ch == '\r' ? "\\r" :
                            ch == '\t' ? "\\t" : ch == '\b' ? "\\b" : ch == '\f' ? "\\f" : NULL;
            if (e) sb_from(b, v, i, e, 2);
            else if (ch < 0x20) { snprintf(buf, sizeof buf, "\\u%04x", ch); sb_from(b, v, i, buf, 6); }
            else sb_from(b, v, i, (const char *)&ch, 1);
        }
        sb_add(b, "\"", 1);
        return;
    case V_LIST: case V_DICT: {
        if (sb_enter(b)) return;
        int is_list = v.t == V_LIST;
        int n = is_list ? v.u.l->n : v.u.d->n;
        sb_add(b, is_list ? "[" : "{", 1);
        for (int i = 0; i < n && !sb_item(b); i++) {
            if (i) sb_add(b, indent >= 0 ? "," : ", ", indent >= 0 ? 1 : 2);
            if (indent >= 0) {
                sb_add(b, "\n", 1);
                for (int s = 0; s < indent * (level + 1); s++) sb_add(b, " ", 1);
            }
            if (is_list) json(b, v.u.l->v[i], indent, level + 1);
            else {
                json(b, v_str(v.u.d->ks[i], v.u.d->kn[i]), indent, level + 1);
                sb_add(b, ": ", 2);
                json(b, v.u.d->v[i], indent, level + 1);
            }
        }
        if (indent >= 0 && n) {
            sb_add(b, "\n", 1);
            for (int s = 0; s < indent * level; s++) sb_add(b, " ", 1);
        }
        sb_add(b, is_list ? "]" : "}", 1);
        b->depth--;
        return;
    }
    default: sb_str(b, "null"); return;
    }
}

/* ------------------------------------------------------------------ render */

typedef struct frame { vdict *vars; struct frame *up; } frame;

typedef struct render {
    ctx *c;
    frame *scope;
    int loop_ctl;  /* 1 break, 2 continue */
    int depth;     /* nested loops */
    int edepth;    /* nested expression evaluation (a+b+c+... chains are deep trees) */
} render;

static int eval(render *R, node *x, value *out);
static int exec_body(render *R, node *x);

static int step(render *R, node *x) {
    if (++R->c->steps > ATN_TEMPLATE_MAX_STEPS)
        return fail(R->c, x ? x->line : 0, "ran for more than %d steps (runaway loop?)", ATN_TEMPLATE_MAX_STEPS);
    return 0;
}

/* n bytes to the output; m: their content mask (NULL: the template's own) */
static int emit(render *R, const char *s, size_t n, const unsigned char *m) {
    ctx *c = R->c;
    if (n > ATN_TEMPLATE_MAX_OUTPUT - c->out_len) return fail(c, 0, "output larger than %u MiB", ATN_TEMPLATE_MAX_OUTPUT >> 20);
    if (c->out_len + n + 1 > c->out_cap) {
        size_t cap = (c->out_len + n + 1) * 2;
        if (cap < 1024) cap = 1024;
        char *p = realloc(c->out, cap);
        if (!p) return fail(c, 0, "out of memory");
        c->out = p;
        if (c->out_mask) {
            unsigned char *q = realloc(c->out_mask, cap);
            if (!q) return fail(c, 0, "out of memory");
            c->out_mask = q;
        }
        c->out_cap = cap;
    }
    if (m && !c->out_mask) {
        c->out_mask = calloc(c->out_cap, 1);
        if (!c->out_mask) return fail(c, 0, "out of memory");
    }
    memcpy(c->out + c->out_len, s, n);
    if (c->out_mask) {
        if (m) memcpy(c->out_mask + c->out_len, m, n);
        else memset(c->out_mask + c->out_len, 0, n);
    }
    c->out_len += n;
    c->out[c->out_len] = 0;
    return 0;
}

static value *lookup(render *R, const char *s, size_t n) {
    for (frame *f = R->scope; f; f = f->up) {
        value *v = dict_get(R->c, f->vars, s, n);
        if (v) return v;
    }
    return NULL;
}

static int str_of(render *R, value v, value *out) {
    sbuf b = SBUF(R->c);
    to_str(&b, v);
    if (b.bad) return -1;
    *out = sb_value(&b);
    return 0;
}

static int cmp_values(render *R, node *x, value a, value b, int *res) {
    if ((a.t == V_INT || a.t == V_FLOAT || a.t == V_BOOL) && (b.t == V_INT || b.t == V_FLOAT || b.t == V_BOOL)) {
        if (a.t != V_FLOAT && b.t != V_FLOAT) *res = a.u.i < b.u.i ? -1 : a.u.i > b.u.i;
        else {
            double p = a.t == V_FLOAT ? a.u.f : (double)a.u.i, q = b.t == V_FLOAT ? b.u.f : (double)b.u.i;
            *res = p < q ? -1 : p > q;
        }
        return 0;
    }
    if (a.t == V_STR && b.t == V_STR) {
        size_t n = a.u.s.n < b.u.s.n ? a.u.s.n : b.u.s.n;
        if (charge(R->c, n)) return -1;
        int r = n ? memcmp(a.u.s.p, b.u.s.p, n) : 0;
        *res = r ? (r < 0 ? -1 : 1) : (a.u.s.n < b.u.s.n ? -1 : a.u.s.n > b.u.s.n);
        return 0;
    }
    return fail(R->c, x->line, "cannot compare %s with %s", type_name(a), type_name(b));
}

/* 1 equal, 0 not, -1 error (nested too deeply, budget) */
static int equal(render *R, value a, value b, int depth) {
    int an = a.t == V_INT || a.t == V_FLOAT || a.t == V_BOOL, bn = b.t == V_INT || b.t == V_FLOAT || b.t == V_BOOL;
    if (charge(R->c, WORK_ITEM)) return -1;
    if (an && bn) {
        if (a.t != V_FLOAT && b.t != V_FLOAT) return a.u.i == b.u.i;
        return (a.t == V_FLOAT ? a.u.f : (double)a.u.i) == (b.t == V_FLOAT ? b.u.f : (double)b.u.i);
    }
    if (a.t != b.t) return 0;
    if ((a.t == V_LIST || a.t == V_DICT) && depth >= ATN_TEMPLATE_MAX_VALUE_DEPTH)
        return fail(R->c, 0, "a value nested more than %d deep", ATN_TEMPLATE_MAX_VALUE_DEPTH);
    switch (a.t) {
    case V_UNDEF: case V_NONE: return 1;
    case V_STR:
        if (a.u.s.n != b.u.s.n) return 0;
        if (charge(R->c, a.u.s.n)) return -1;
        return a.u.s.n == 0 || memcmp(a.u.s.p, b.u.s.p, a.u.s.n) == 0;
    case V_LIST:
        if (a.u.l->n != b.u.l->n) return 0;
        for (int i = 0; i < a.u.l->n; i++) {
            int e = equal(R, a.u.l->v[i], b.u.l->v[i], depth + 1);
            if (e <= 0) return e;
        }
        return 1;
    case V_DICT:
        if (a.u.d->n != b.u.d->n) return 0;
        for (int i = 0; i < a.u.d->n; i++) {
            value *o = dict_get(R->c, b.u.d, a.u.d->ks[i], a.u.d->kn[i]);
            if (R->c->failed) return -1;
            if (!o) return 0;
            int e = equal(R, a.u.d->v[i], *o, depth + 1);
            if (e <= 0) return e;
        }
        return 1;
    default: return a.u.m == b.u.m;
    }
}

/* Index of needle in hay at or after byte `from`: -1 when absent, -2 when
 * the work budget ran out. Each candidate position is charged the needle's
 * length, so a pathological search (aaa...a for aa...ab) is bounded too. */
static int64_t str_find(ctx *c, value hay, value needle, size_t from) {
    size_t n = hay.u.s.n, m = needle.u.s.n;
    if (from > n) return -1;
    if (m == 0) return (int64_t)from;
    if (m > n - from) return -1;
    const char *p = hay.u.s.p;
    size_t last = n - m; /* the last position a match can start at */
    for (size_t i = from; i <= last;) {
        const char *q = memchr(p + i, needle.u.s.p[0], last - i + 1);
        if (!q) return charge(c, last - i + 1) ? -2 : -1;
        size_t j = (size_t)(q - p);
        if (charge(c, j - i + m)) return -2;
        if (memcmp(p + j, needle.u.s.p, m) == 0) return (int64_t)j;
        i = j + 1;
    }
    return -1;
}

static int contains(render *R, node *x, value hay, value needle, int *res) {
    if (hay.t == V_STR) {
        if (needle.t != V_STR) return fail(R->c, x->line, "'in <string>' needs a string on the left");
        int64_t k = str_find(R->c, hay, needle, 0);
        if (k == -2) return -1;
        *res = k >= 0;
        return 0;
    }
    if (hay.t == V_LIST) {
        *res = 0;
        for (int i = 0; i < hay.u.l->n; i++) {
            int e = equal(R, hay.u.l->v[i], needle, 0);
            if (e < 0) return -1;
            if (e) { *res = 1; break; }
        }
        return 0;
    }
    if (hay.t == V_DICT) {
        *res = needle.t == V_STR && dict_get(R->c, hay.u.d, needle.u.s.p, needle.u.s.n) != NULL;
        return R->c->failed ? -1 : 0;
    }
    if (hay.t == V_UNDEF) { *res = 0; return 0; }
    return fail(R->c, x->line, "'in' needs a string, list or dict, not %s", type_name(hay));
}

static int length_of(ctx *c, value v, int64_t *n) {
    switch (v.t) {
    case V_STR: { /* characters, not bytes */
        int64_t k = 0;
        if (charge(c, v.u.s.n)) return -2;
        for (size_t i = 0; i < v.u.s.n; i++) k += ((unsigned char)v.u.s.p[i] & 0xC0) != 0x80;
        *n = k;
        return 0;
    }
    case V_LIST: *n = v.u.l->n; return 0;
    case V_DICT: *n = v.u.d->n; return 0;
    case V_UNDEF: *n = 0; return 0;
    default: return -1;
    }
}

static int arith(render *R, node *x, int op, value a, value b, value *out) {
    ctx *c = R->c;
    if (op == '~') {
        sbuf s = SBUF(c);
        to_str(&s, a);
        to_str(&s, b);
        if (s.bad) return -1;
        *out = sb_value(&s);
        return 0;
    }
    if (op == '+' && a.t == V_STR && b.t == V_STR) {
        sbuf s = SBUF(c);
        to_str(&s, a);
        to_str(&s, b);
        if (s.bad) return -1;
        *out = sb_value(&s);
        return 0;
    }
    if (op == '+' && a.t == V_LIST && b.t == V_LIST) {
        vlist *l = list_new(c, a.u.l->n + b.u.l->n);
        if (!l) return -1;
        for (int i = 0; i < a.u.l->n; i++) if (list_push(c, l, a.u.l->v[i])) return -1;
        for (int i = 0; i < b.u.l->n; i++) if (list_push(c, l, b.u.l->v[i])) return -1;
        out->t = V_LIST;
        out->u.l = l;
        return 0;
    }
    if (op == '*' && ((a.t == V_STR && b.t == V_INT) || (a.t == V_INT && b.t == V_STR))) {
        value s = a.t == V_STR ? a : b;
        int64_t k = a.t == V_INT ? a.u.i : b.u.i;
        if (k <= 0 || s.u.s.n == 0) { *out = v_str("", 0); return 0; }
        if ((uint64_t)k > ATN_TEMPLATE_MAX_OUTPUT / s.u.s.n) return fail(c, x->line, "string repetition too large");
        sbuf r = SBUF(c);
        for (int64_t i = 0; i < k && !r.bad; i++) to_str(&r, s);
        if (r.bad) return -1;
        *out = sb_value(&r);
        return 0;
    }
    int an = a.t == V_INT || a.t == V_BOOL, bn = b.t == V_INT || b.t == V_BOOL;
    if ((an || a.t == V_FLOAT) && (bn || b.t == V_FLOAT)) {
        if (an && bn && op != '/' && op != OP_POW) {
            int64_t p = a.u.i, q = b.u.i, r;
            switch (op) {
            case '+': if (__builtin_add_overflow(p, q, &r)) goto overflow; break;
            case '-': if (__builtin_sub_overflow(p, q, &r)) goto overflow; break;
            case '*': if (__builtin_mul_overflow(p, q, &r)) goto overflow; break;
            case '%': case OP_FLOORDIV:
                if (q == 0) return fail(c, x->line, "division by zero");
                if (p == INT64_MIN && q == -1) goto overflow;
                r = op == '%' ? p % q : p / q;
                if (op == '%' && r != 0 && ((r < 0) != (q < 0))) r += q;        /* Python modulo */
                if (op == OP_FLOORDIV && (p % q != 0) && ((p < 0) != (q < 0))) r -= 1; /* floor */
                break;
            default: return fail(c, x->line, "bad operator");
            }
            *out = v_int(r);
            return 0;
        }
        double p = a.t == V_FLOAT ? a.u.f : (double)a.u.i, q = b.t == V_FLOAT ? b.u.f : (double)b.u.i;
        switch (op) {
        case '+': *out = v_float(p + q); return 0;
        case '-': *out = v_float(p - q); return 0;
        case '*': *out = v_float(p * q); return 0;
        case '/': if (q == 0) return fail(c, x->line, "division by zero"); *out = v_float(p / q); return 0;
        case OP_FLOORDIV: if (q == 0) return fail(c, x->line, "division by zero"); *out = v_float(floor(p / q)); return 0;
        case '%': if (q == 0) return fail(c, x->line, "division by zero"); *out = v_float(p - floor(p / q) * q); return 0;
        case OP_POW:
            if (an && bn && b.u.i >= 0) { /* exact integer power, by squaring, overflow checked */
                int64_t base = a.u.i, e = b.u.i, r = 1;
                while (e > 0) {
                    if ((e & 1) && __builtin_mul_overflow(r, base, &r)) goto overflow;
                    e >>= 1;
                    if (e > 0 && __builtin_mul_overflow(base, base, &base)) goto overflow;
                }
                *out = v_int(r);
                return 0;
            }
            *out = v_float(pow(p, q));
            return 0;
        }
    }
    return fail(c, x->line, "unsupported operand types for '%c': %s and %s",
                op < 256 ? op : op == OP_FLOORDIV ? '/' : '*', type_name(a), type_name(b));
overflow:
    return fail(c, x->line, "integer overflow");
}

/* ---- string helpers for filters and methods ---- */

static int is_ws_char(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

static int strip(ctx *c, value s, int left, int right, const char *chars, size_t nchars, value *out) {
    const char *p = s.u.s.p;
    size_t a = 0, b = s.u.s.n;
    /* each byte looked at costs a scan of `chars` */
    #define IN_SET(ch) (charge(c, chars ? nchars + 1 : 1) ? (fail_ = 1, 0) : chars ? memchr(chars, (ch), nchars) != NULL : is_ws_char(ch))
    int fail_ = 0;
    if (left) while (a < b && IN_SET(p[a])) a++;
    if (right) while (b > a && IN_SET(p[b - 1])) b--;
    #undef IN_SET
    if (fail_) return -1;
    *out = v_sub(s, a, b - a);
    return 0;
}

static int map_case(render *R, value s, int mode, value *out) { /* 0 lower 1 upper 2 capitalize 3 title */
    char *p = alloc(R->c, s.u.s.n + 1);
    if (!p || charge(R->c, s.u.s.n)) return -1;
    int word_start = 1;
    for (size_t i = 0; i < s.u.s.n; i++) {
        char ch = s.u.s.p[i];
        int up = mode == 1 || (mode == 2 && i == 0) || (mode == 3 && word_start);
        int low = mode == 0 || (mode == 2 && i > 0) || (mode == 3 && !word_start);
        if (up && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        else if (low && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        p[i] = ch;
        word_start = !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || (unsigned char)ch >= 0x80);
    }
    *out = v_strm(p, s.u.s.n, s.u.s.m); /* same length: the same mask */
    return 0;
}

static int replace(render *R, value s, value a, value b, value *out) {
    if (a.u.s.n == 0) { *out = s; return 0; }
    sbuf o = SBUF(R->c);
    size_t i = 0;
    for (;;) {
        int64_t j = str_find(R->c, s, a, i);
        if (j == -2) return -1;
        if (j < 0) break;
        to_str(&o, v_sub(s, i, (size_t)j - i));
        to_str(&o, b);
        i = (size_t)j + a.u.s.n;
        if (o.bad) return -1;
    }
    to_str(&o, v_sub(s, i, s.u.s.n - i));
    if (o.bad) return -1;
    *out = sb_value(&o);
    return 0;
}

static int split(render *R, node *x, value s, value sep, int64_t maxsplit, value *out) {
    vlist *l = list_new(R->c, 4);
    if (!l) return -1;
    if (sep.t == V_STR && sep.u.s.n == 0) return fail(R->c, x->line, "split: empty separator");
    size_t i = 0;
    if (sep.t != V_STR) { /* whitespace split */
        if (charge(R->c, s.u.s.n)) return -1;
        while (i < s.u.s.n) {
            while (i < s.u.s.n && is_ws_char(s.u.s.p[i])) i++;
            if (i >= s.u.s.n) break;
            size_t j = i;
            if (maxsplit >= 0 && l->n >= maxsplit) j = s.u.s.n;
            else while (j < s.u.s.n && !is_ws_char(s.u.s.p[j])) j++;
            if (list_push(R->c, l, v_sub(s, i, j - i))) return -1;
            i = j;
        }
    } else {
        for (;;) {
            int64_t j = (maxsplit >= 0 && l->n >= maxsplit) ? -1 : str_find(R->c, s, sep, i);
            if (j == -2) return -1;
            if (j < 0) break;
            if (list_push(R->c, l, v_sub(s, i, (size_t)j - i))) return -1;
            i = (size_t)j + sep.u.s.n;
        }
        if (list_push(R->c, l, v_sub(s, i, s.u.s.n - i))) return -1;
    }
    out->t = V_LIST;
    out->u.l = l;
    return 0;
}

/* ---- arguments ---- */

#define MAX_ARGS 8
typedef struct args {
    int n;
    value v[MAX_ARGS];
    int nk;
    const char *kname[MAX_ARGS];
    size_t klen[MAX_ARGS];
    value kv[MAX_ARGS];
} args;

static int eval_args(render *R, node *list, args *a) {
    memset(a, 0, sizeof *a);
    for (node *y = list; y; y = y->next) {
        if (y->k == E_KWARG) {
            if (a->nk == MAX_ARGS) return fail(R->c, y->line, "too many keyword arguments");
            a->kname[a->nk] = y->s;
            a->klen[a->nk] = y->n;
            if (eval(R, y->a, &a->kv[a->nk])) return -1;
            a->nk++;
        } else {
            if (a->n == MAX_ARGS) return fail(R->c, y->line, "too many arguments");
            if (eval(R, y, &a->v[a->n])) return -1;
            a->n++;
        }
    }
    return 0;
}

/* positional argument i, or keyword `name`, or undefined */
static value arg(const args *a, int i, const char *name) {
    if (i < a->n) return a->v[i];
    for (int k = 0; k < a->nk; k++)
        if (a->klen[k] == strlen(name) && memcmp(a->kname[k], name, a->klen[k]) == 0) return a->kv[k];
    return v_undef();
}

static int want_str(render *R, node *x, value v, const char *what) {
    if (v.t != V_STR) return fail(R->c, x->line, "%s needs a string, not %s", what, type_name(v));
    return 0;
}

/* ---- tests ---- */

static int name_is(const char *s, size_t n, const char *lit) { return n == strlen(lit) && memcmp(s, lit, n) == 0; }

static int run_test(render *R, node *x, const char *name, size_t n, value v, const args *a, int *res) {
    if (name_is(name, n, "defined")) *res = v.t != V_UNDEF;
    else if (name_is(name, n, "undefined")) *res = v.t == V_UNDEF;
    else if (name_is(name, n, "none")) *res = v.t == V_NONE;
    else if (name_is(name, n, "string")) *res = v.t == V_STR;
    else if (name_is(name, n, "number")) *res = v.t == V_INT || v.t == V_FLOAT;
    else if (name_is(name, n, "integer")) *res = v.t == V_INT;
    else if (name_is(name, n, "float")) *res = v.t == V_FLOAT;
    else if (name_is(name, n, "boolean")) *res = v.t == V_BOOL;
    else if (name_is(name, n, "true")) *res = v.t == V_BOOL && v.u.i;
    else if (name_is(name, n, "false")) *res = v.t == V_BOOL && !v.u.i;
    else if (name_is(name, n, "mapping")) *res = v.t == V_DICT;
    else if (name_is(name, n, "iterable")) *res = v.t == V_LIST || v.t == V_DICT || v.t == V_STR;
    else if (name_is(name, n, "sequence")) *res = v.t == V_LIST || v.t == V_DICT || v.t == V_STR;
    else if (name_is(name, n, "callable")) *res = v.t == V_FUNC || v.t == V_METHOD;
    else if (name_is(name, n, "odd") || name_is(name, n, "even")) {
        if (v.t != V_INT) return fail(R->c, x->line, "test '%.*s' needs an integer", (int)n, name);
        *res = (v.u.i % 2 != 0) == (name[0] == 'o');
    } else if (name_is(name, n, "divisibleby")) {
        value d = arg(a, 0, "num");
        if (v.t != V_INT || d.t != V_INT || d.u.i == 0) return fail(R->c, x->line, "divisibleby needs integers");
        *res = d.u.i == -1 || v.u.i % d.u.i == 0; /* INT64_MIN % -1 would trap */
    } else if (name_is(name, n, "eq") || name_is(name, n, "equalto") || name_is(name, n, "==") || name_is(name, n, "ne") ||
               name_is(name, n, "!=")) {
        int e = equal(R, v, arg(a, 0, "b"), 0);
        if (e < 0) return -1;
        *res = name[0] == 'e' || name[0] == '=' ? e : !e;
    } else if (name_is(name, n, "lt") || name_is(name, n, "<") || name_is(name, n, "gt") || name_is(name, n, ">") ||
             name_is(name, n, "le") || name_is(name, n, "<=") || name_is(name, n, "ge") || name_is(name, n, ">=")) {
        int r;
        if (cmp_values(R, x, v, arg(a, 0, "b"), &r)) return -1;
        char k0 = name[0], k1 = n > 1 ? name[1] : 0;
        if (k0 == 'l' || k0 == '<') *res = (k1 == 'e' || k1 == '=') ? r <= 0 : r < 0;
        else *res = (k1 == 'e' || k1 == '=') ? r >= 0 : r > 0;
    } else if (name_is(name, n, "in")) {
        return contains(R, x, arg(a, 0, "seq"), v, res);
    } else if (name_is(name, n, "lower") || name_is(name, n, "upper")) {
        if (v.t != V_STR) { *res = 0; return 0; }
        if (charge(R->c, v.u.s.n)) return -1;
        int up = name[0] == 'u';
        *res = 1;
        for (size_t i = 0; i < v.u.s.n; i++) {
            char ch = v.u.s.p[i];
            if (up ? (ch >= 'a' && ch <= 'z') : (ch >= 'A' && ch <= 'Z')) *res = 0;
        }
    } else {
        return fail(R->c, x->line, "unknown test '%.*s'", (int)(n > 40 ? 40 : n), name);
    }
    return 0;
}

/* ---- filters ---- */

static int iterate_items(render *R, node *x, value v, vlist **out); /* list view of an iterable */

static int attr_of(render *R, value obj, const char *name, size_t n, value *out);

static int select_like(render *R, node *x, value seq, const args *a, int by_attr, int reject, value *out) {
    vlist *items;
    if (iterate_items(R, x, seq, &items)) return -1;
    vlist *l = list_new(R->c, items->n);
    if (!l) return -1;
    int first = 0;
    value attr = v_undef();
    if (by_attr) {
        attr = arg(a, 0, "attribute");
        if (attr.t != V_STR) return fail(R->c, x->line, "selectattr needs an attribute name");
        first = 1;
    }
    value tname = a->n > first ? a->v[first] : v_undef();
    args targs;
    memset(&targs, 0, sizeof targs);
    for (int i = first + 1; i < a->n; i++) targs.v[targs.n++] = a->v[i];
    for (int i = 0; i < items->n; i++) {
        if (step(R, x)) return -1;
        value v = items->v[i];
        if (by_attr && attr_of(R, v, attr.u.s.p, attr.u.s.n, &v)) return -1;
        int r;
        if (tname.t == V_STR) {
            if (run_test(R, x, tname.u.s.p, tname.u.s.n, v, &targs, &r)) return -1;
        } else {
            r = truthy(v);
        }
        if (r != reject && list_push(R->c, l, items->v[i])) return -1;
    }
    out->t = V_LIST;
    out->u.l = l;
    return 0;
}

static int apply_filter(render *R, node *x, value v, value *out) {
    args a;
    if (eval_args(R, x->b, &a)) return -1;
    const char *f = x->s;
    size_t n = x->n;
    ctx *c = R->c;
    if (name_is(f, n, "trim")) {
        if (want_str(R, x, v, "trim")) return -1;
        value chars = arg(&a, 0, "chars");
        return strip(c, v, 1, 1, chars.t == V_STR ? chars.u.s.p : NULL, chars.t == V_STR ? chars.u.s.n : 0, out);
    } else if (name_is(f, n, "length") || name_is(f, n, "count")) {
        int64_t len;
        int r = length_of(c, v, &len);
        if (r == -2) return -1;
        if (r) return fail(c, x->line, "length of %s", type_name(v));
        *out = v_int(len);
    } else if (name_is(f, n, "upper") || name_is(f, n, "lower") || name_is(f, n, "capitalize") || name_is(f, n, "title")) {
        if (want_str(R, x, v, "case filter")) return -1;
        return map_case(R, v, f[0] == 'l' ? 0 : f[0] == 'u' ? 1 : f[0] == 'c' ? 2 : 3, out);
    } else if (name_is(f, n, "string")) {
        return str_of(R, v, out);
    } else if (name_is(f, n, "safe") || (name_is(f, n, "list") && v.t == V_LIST)) {
        *out = v;
    } else if (name_is(f, n, "list")) {
        vlist *items;
        if (iterate_items(R, x, v, &items)) return -1;
        out->t = V_LIST;
        out->u.l = items;
    } else if (name_is(f, n, "default") || name_is(f, n, "d")) {
        value dflt = arg(&a, 0, "default_value");
        value boolean = arg(&a, 1, "boolean");
        int use = v.t == V_UNDEF || (truthy(boolean) && !truthy(v));
        *out = use ? (dflt.t == V_UNDEF ? v_str("", 0) : dflt) : v;
    } else if (name_is(f, n, "first") || name_is(f, n, "last")) {
        vlist *items;
        if (iterate_items(R, x, v, &items)) return -1;
        *out = items->n ? items->v[f[0] == 'f' ? 0 : items->n - 1] : v_undef();
    } else if (name_is(f, n, "join")) {
        vlist *items;
        if (iterate_items(R, x, v, &items)) return -1;
        value sep = arg(&a, 0, "d");
        sbuf b = SBUF(c);
        for (int i = 0; i < items->n && !b.bad; i++) {
            if (i && sep.t == V_STR) to_str(&b, sep);
            to_str(&b, items->v[i]);
        }
        if (b.bad) return -1;
        *out = sb_value(&b);
    } else if (name_is(f, n, "tojson")) {
        value ind = arg(&a, 0, "indent");
        int indent = ind.t == V_INT ? (int)(ind.u.i < 0 ? 0 : ind.u.i > 16 ? 16 : ind.u.i) : -1;
        sbuf b = SBUF(c);
        json(&b, v, indent, 0);
        if (b.bad) return -1;
        *out = sb_value(&b);
    } else if (name_is(f, n, "items")) {
        if (v.t == V_UNDEF) { vlist *l = list_new(c, 1); if (!l) return -1; out->t = V_LIST; out->u.l = l; return 0; }
        if (v.t != V_DICT) return fail(c, x->line, "items needs a dict, not %s", type_name(v));
        vlist *l = list_new(c, v.u.d->n);
        if (!l) return -1;
        for (int i = 0; i < v.u.d->n; i++) {
            vlist *pair = list_new(c, 2);
            if (!pair || list_push(c, pair, v_str(v.u.d->ks[i], v.u.d->kn[i])) || list_push(c, pair, v.u.d->v[i])) return -1;
            value pv = v_undef();
            pv.t = V_LIST;
            pv.u.l = pair;
            if (list_push(c, l, pv)) return -1;
        }
        out->t = V_LIST;
        out->u.l = l;
    } else if (name_is(f, n, "reverse")) {
        if (v.t == V_STR) {
            sbuf b = SBUF(c);
            for (size_t i = v.u.s.n; i-- > 0 && !b.bad;) sb_from(&b, v, i, v.u.s.p + i, 1);
            if (b.bad) return -1;
            *out = sb_value(&b);
            return 0;
        }
        vlist *items;
        if (iterate_items(R, x, v, &items)) return -1;
        vlist *l = list_new(c, items->n);
        if (!l) return -1;
        for (int i = items->n - 1; i >= 0; i--) if (list_push(c, l, items->v[i])) return -1;
        out->t = V_LIST;
        out->u.l = l;
    } else if (name_is(f, n, "replace")) {
        value p = arg(&a, 0, "old"), q = arg(&a, 1, "new");
        if (want_str(R, x, v, "replace") || want_str(R, x, p, "replace") || want_str(R, x, q, "replace")) return -1;
        return replace(R, v, p, q, out);
    } else if (name_is(f, n, "int")) {
        /* Jinja: int(v), else int(float(v)), else 0; a value out of range is an error */
        if (v.t == V_INT || v.t == V_BOOL) { *out = v_int(v.u.i); return 0; }
        double f = 0;
        if (v.t == V_FLOAT) f = v.u.f;
        else if (v.t == V_STR) {
            value t;
            if (strip(c, v, 1, 1, NULL, 0, &t)) return -1;
            char buf[48];
            if (t.u.s.n == 0 || t.u.s.n >= sizeof buf) { *out = v_int(0); return 0; }
            memcpy(buf, t.u.s.p, t.u.s.n);
            buf[t.u.s.n] = 0;
            char *end;
            errno = 0;
            long long k = strtoll(buf, &end, 10);
            if (*end == 0) {
                if (errno == ERANGE) return fail(c, x->line, "int: '%s' is out of range", buf);
                *out = v_int(k);
                return 0;
            }
            f = strtod(buf, &end);
            if (*end != 0) { *out = v_int(0); return 0; }
        } else { *out = v_int(0); return 0; }
        if (isnan(f)) { *out = v_int(0); return 0; }
        if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return fail(c, x->line, "int: %g is out of range", f);
        *out = v_int((int64_t)f);
    } else if (name_is(f, n, "float")) {
        if (v.t == V_INT || v.t == V_BOOL) *out = v_float((double)v.u.i);
        else if (v.t == V_FLOAT) *out = v;
        else *out = v_float(0);
    } else if (name_is(f, n, "abs")) {
        if (v.t == V_INT) {
            if (v.u.i == INT64_MIN) return fail(c, x->line, "integer overflow");
            *out = v_int(v.u.i < 0 ? -v.u.i : v.u.i);
        }
        else if (v.t == V_FLOAT) *out = v_float(fabs(v.u.f));
        else return fail(c, x->line, "abs needs a number");
    } else if (name_is(f, n, "selectattr") || name_is(f, n, "rejectattr")) {
        return select_like(R, x, v, &a, 1, f[0] == 'r', out);
    } else if (name_is(f, n, "select") || name_is(f, n, "reject")) {
        return select_like(R, x, v, &a, 0, f[0] == 'r', out);
    } else if (name_is(f, n, "map")) {
        value attr = v_undef();
        for (int k = 0; k < a.nk; k++)
            if (name_is(a.kname[k], a.klen[k], "attribute")) attr = a.kv[k];
        vlist *items;
        if (iterate_items(R, x, v, &items)) return -1;
        vlist *l = list_new(c, items->n);
        if (!l) return -1;
        for (int i = 0; i < items->n; i++) {
            value y;
            if (step(R, x)) return -1;
            if (attr.t == V_STR) {
                if (attr_of(R, items->v[i], attr.u.s.p, attr.u.s.n, &y)) return -1;
            } else if (a.n > 0 && a.v[0].t == V_STR) { /* map('filter') */
                node fx = *x;
                fx.s = a.v[0].u.s.p;
                fx.n = a.v[0].u.s.n;
                fx.b = NULL;
                if (apply_filter(R, &fx, items->v[i], &y)) return -1;
            } else {
                return fail(c, x->line, "map needs attribute= or a filter name");
            }
            if (list_push(c, l, y)) return -1;
        }
        out->t = V_LIST;
        out->u.l = l;
    } else if (name_is(f, n, "escape") || name_is(f, n, "e")) {
        value s;
        if (str_of(R, v, &s)) return -1;
        sbuf b = SBUF(c);
        for (size_t i = 0; i < s.u.s.n && !b.bad; i++) {
            char ch = s.u.s.p[i];
            const char *e = ch == '&' ? "&amp;" : ch == '<' ? "&lt;" : ch == '>' ? "&gt;" : ch == '"' ? "&#34;" : ch == '\'' ? "&#39;" : NULL;
            if (e) sb_from(&b, s, i, e, strlen(e));
            else sb_from(&b, s, i, &ch, 1);
        }
        if (b.bad) return -1;
        *out = sb_value(&b);
    } else {
        return fail(c, x->line, "unknown filter '%.*s'", (int)(n > 40 ? 40 : n), f);
    }
    return 0;
}

/* ---- attribute and item access ---- */

static int attr_of(render *R, value obj, const char *name, size_t n, value *out) {
    if (obj.t == V_DICT) {
        value *v = dict_get(R->c, obj.u.d, name, n);
        if (v) { *out = *v; return 0; }
        if (R->c->failed) return -1;
    }
    if (obj.t == V_STR || obj.t == V_DICT || obj.t == V_LIST) {
        static const char *methods[] = {"strip", "lstrip", "rstrip", "upper", "lower", "title", "capitalize",
                                        "startswith", "endswith", "split", "replace", "find", "count", "join",
                                        "items", "keys", "values", "get", NULL};
        for (int i = 0; methods[i]; i++)
            if (name_is(name, n, methods[i])) {
                vmethod *m = alloc(R->c, sizeof(vmethod));
                if (!m) return -1;
                m->self = obj;
                m->name = methods[i];
                m->n = n;
                out->t = V_METHOD;
                out->u.m = m;
                return 0;
            }
    }
    *out = v_undef(); /* missing attributes are undefined, as in Jinja */
    return 0;
}

static int item_of(render *R, node *x, value obj, value key, value *out) {
    if (obj.t == V_DICT) {
        if (key.t != V_STR) { *out = v_undef(); return 0; }
        value *v = dict_get(R->c, obj.u.d, key.u.s.p, key.u.s.n);
        *out = v ? *v : v_undef();
        return R->c->failed ? -1 : 0;
    }
    if (obj.t == V_LIST || obj.t == V_STR) {
        if (key.t == V_STR && obj.t != V_STR) return attr_of(R, obj, key.u.s.p, key.u.s.n, out);
        if (key.t != V_INT && key.t != V_BOOL) return fail(R->c, x->line, "index must be an integer, not %s", type_name(key));
        int64_t len = obj.t == V_LIST ? obj.u.l->n : (int64_t)obj.u.s.n;
        int64_t i = key.u.i < 0 ? key.u.i + len : key.u.i;
        if (i < 0 || i >= len) { *out = v_undef(); return 0; }
        *out = obj.t == V_LIST ? obj.u.l->v[i] : v_sub(obj, (size_t)i, 1);
        return 0;
    }
    *out = v_undef();
    return 0;
}

static int slice_of(render *R, node *x, value obj, value lo, value hi, value st, value *out) {
    if (obj.t != V_LIST && obj.t != V_STR) return fail(R->c, x->line, "cannot slice %s", type_name(obj));
    int64_t len = obj.t == V_LIST ? obj.u.l->n : (int64_t)obj.u.s.n;
    int64_t s = st.t == V_INT ? st.u.i : 1;
    if (s == 0) return fail(R->c, x->line, "slice step cannot be zero");
    if ((lo.t != V_UNDEF && lo.t != V_NONE && lo.t != V_INT) || (hi.t != V_UNDEF && hi.t != V_NONE && hi.t != V_INT))
        return fail(R->c, x->line, "slice bounds must be integers");
    int64_t a, b;
    if (s > 0) {
        a = lo.t == V_INT ? lo.u.i : 0;
        b = hi.t == V_INT ? hi.u.i : len;
        if (a < 0) a += len;
        if (b < 0) b += len;
        if (a < 0) a = 0;
        if (b > len) b = len;
    } else {
        a = lo.t == V_INT ? lo.u.i : len - 1;
        b = hi.t == V_INT ? hi.u.i : -len - 1;
        if (a < 0) a += len;
        if (b < 0) b += len;
        if (a >= len) a = len - 1;
        if (b < -1) b = -1;
    }
    if (obj.t == V_STR && s == 1) {
        *out = b > a ? v_sub(obj, (size_t)a, (size_t)(b - a)) : v_str("", 0);
        return 0;
    }
    vlist *l = list_new(R->c, 4);
    sbuf sb = SBUF(R->c);
    if (!l) return -1;
    for (int64_t i = a; s > 0 ? i < b : i > b;) {
        if (step(R, x)) return -1;
        if (obj.t == V_LIST) { if (list_push(R->c, l, obj.u.l->v[i])) return -1; }
        else sb_from(&sb, obj, (size_t)i, obj.u.s.p + i, 1);
        if (__builtin_add_overflow(i, s, &i)) break; /* a step past the end of any string or list */
    }
    if (obj.t == V_STR) {
        if (sb.bad) return -1;
        *out = sb_value(&sb);
    } else {
        out->t = V_LIST;
        out->u.l = l;
    }
    return 0;
}

static int call_method(render *R, node *x, vmethod *m, const args *a, value *out) {
    value s = m->self;
    const char *f = m->name;
    ctx *c = R->c;
    if (s.t == V_STR) {
        if (!strcmp(f, "strip") || !strcmp(f, "lstrip") || !strcmp(f, "rstrip")) {
            value chars = arg(a, 0, "chars");
            return strip(c, s, f[0] != 'r', f[0] != 'l', chars.t == V_STR ? chars.u.s.p : NULL, chars.t == V_STR ? chars.u.s.n : 0, out);
        }
        if (!strcmp(f, "upper") || !strcmp(f, "lower") || !strcmp(f, "title") || !strcmp(f, "capitalize"))
            return map_case(R, s, f[0] == 'l' ? 0 : f[0] == 'u' ? 1 : f[0] == 'c' ? 2 : 3, out);
        if (!strcmp(f, "startswith") || !strcmp(f, "endswith")) {
            value p = arg(a, 0, "prefix");
            vlist one = {1, 1, &p, 0};
            vlist *opts = p.t == V_LIST ? p.u.l : &one;
            *out = v_bool(0);
            for (int i = 0; i < opts->n; i++) {
                value q = opts->v[i];
                if (want_str(R, x, q, f) || charge(c, q.u.s.n + 1)) return -1;
                if (q.u.s.n <= s.u.s.n &&
                    memcmp(f[0] == 's' ? s.u.s.p : s.u.s.p + s.u.s.n - q.u.s.n, q.u.s.p, q.u.s.n) == 0)
                    *out = v_bool(1);
            }
            return 0;
        }
        if (!strcmp(f, "split")) {
            value mx = arg(a, 1, "maxsplit");
            return split(R, x, s, arg(a, 0, "sep"), mx.t == V_INT ? mx.u.i : -1, out);
        }
        if (!strcmp(f, "replace")) {
            value p = arg(a, 0, "old"), q = arg(a, 1, "new");
            if (want_str(R, x, p, "replace") || want_str(R, x, q, "replace")) return -1;
            return replace(R, s, p, q, out);
        }
        if (!strcmp(f, "find")) {
            value p = arg(a, 0, "sub");
            if (want_str(R, x, p, "find")) return -1;
            int64_t k = str_find(c, s, p, 0);
            if (k == -2) return -1;
            *out = v_int(k);
            return 0;
        }
        if (!strcmp(f, "count")) {
            value p = arg(a, 0, "sub");
            if (want_str(R, x, p, "count")) return -1;
            int64_t k = 0;
            size_t i = 0;
            if (p.u.s.n == 0) { *out = v_int((int64_t)s.u.s.n + 1); return 0; }
            int64_t j;
            for (; (j = str_find(c, s, p, i)) >= 0; i = (size_t)j + p.u.s.n) k++;
            if (j == -2) return -1;
            *out = v_int(k);
            return 0;
        }
        if (!strcmp(f, "join")) {
            vlist *items;
            if (iterate_items(R, x, arg(a, 0, "iterable"), &items)) return -1;
            sbuf b = SBUF(c);
            for (int i = 0; i < items->n && !b.bad; i++) {
                if (i) to_str(&b, s);
                to_str(&b, items->v[i]);
            }
            if (b.bad) return -1;
            *out = sb_value(&b);
            return 0;
        }
    } else if (s.t == V_DICT) {
        if (!strcmp(f, "get")) {
            value k = arg(a, 0, "key");
            value *v = k.t == V_STR ? dict_get(c, s.u.d, k.u.s.p, k.u.s.n) : NULL;
            if (c->failed) return -1;
            *out = v ? *v : (a->n > 1 ? a->v[1] : v_none());
            return 0;
        }
        if (!strcmp(f, "items")) {
            node fx = *x;
            fx.s = "items";
            fx.n = 5;
            fx.b = NULL;
            return apply_filter(R, &fx, s, out);
        }
        if (!strcmp(f, "keys") || !strcmp(f, "values")) {
            vlist *l = list_new(c, s.u.d->n);
            if (!l) return -1;
            for (int i = 0; i < s.u.d->n; i++)
                if (list_push(c, l, f[0] == 'k' ? v_str(s.u.d->ks[i], s.u.d->kn[i]) : s.u.d->v[i])) return -1;
            out->t = V_LIST;
            out->u.l = l;
            return 0;
        }
    }
    return fail(c, x->line, "%s has no method '%s'", type_name(s), f);
}

static int call_func(render *R, node *x, value fn, node *argn, value *out) {
    args a;
    if (eval_args(R, argn, &a)) return -1;
    ctx *c = R->c;
    if (fn.t == V_METHOD) return call_method(R, x, fn.u.m, &a, out);
    if (fn.t != V_FUNC) return fail(c, x->line, "%s is not callable", fn.t == V_UNDEF ? "an undefined name" : type_name(fn));
    switch ((int)fn.u.i) {
    case F_RAISE: {
        value msg;
        if (str_of(R, arg(&a, 0, "message"), &msg)) return -1;
        return fail(c, 0, "template error: %.*s", (int)(msg.u.s.n > 300 ? 300 : msg.u.s.n), msg.u.s.p);
    }
    case F_NAMESPACE: case F_DICT: {
        vdict *d = dict_new(c);
        if (!d) return -1;
        d->is_ns = fn.u.i == F_NAMESPACE;
        if (a.n == 1 && a.v[0].t == V_DICT)
            for (int i = 0; i < a.v[0].u.d->n; i++)
                if (dict_set(c, d, a.v[0].u.d->ks[i], a.v[0].u.d->kn[i], a.v[0].u.d->v[i])) return -1;
        for (int i = 0; i < a.nk; i++)
            if (dict_set(c, d, a.kname[i], a.klen[i], a.kv[i])) return -1;
        out->t = V_DICT;
        out->u.d = d;
        return 0;
    }
    case F_RANGE: {
        int64_t lo = 0, hi, st = 1;
        for (int i = 0; i < a.n; i++)
            if (a.v[i].t != V_INT) return fail(c, x->line, "range needs integers");
        if (a.n == 1) hi = a.v[0].u.i;
        else if (a.n >= 2) { lo = a.v[0].u.i; hi = a.v[1].u.i; if (a.n >= 3) st = a.v[2].u.i; }
        else return fail(c, x->line, "range needs arguments");
        if (st == 0) return fail(c, x->line, "range step cannot be zero");
        /* the exact item count, in unsigned arithmetic (hi - lo may not fit an int64) */
        uint64_t count = 0;
        if (st > 0 && lo < hi) count = ((uint64_t)hi - (uint64_t)lo - 1) / (uint64_t)st + 1;
        if (st < 0 && lo > hi) count = ((uint64_t)lo - (uint64_t)hi - 1) / (0 - (uint64_t)st) + 1;
        if (count > 100000) return fail(c, x->line, "range of %llu items is too large", (unsigned long long)count);
        vlist *l = list_new(c, count > 0 ? (int)count : 1);
        if (!l) return -1;
        int64_t i = lo;
        for (uint64_t k = 0; k < count; k++) {
            if (list_push(c, l, v_int(i))) return -1;
            if (k + 1 < count) i += st; /* stays between lo and hi: no overflow */
        }
        out->t = V_LIST;
        out->u.l = l;
        return 0;
    }
    }
    return fail(c, x->line, "bad function");
}

/* A list view of anything a for loop can walk. */
static int iterate_items(render *R, node *x, value v, vlist **out) {
    ctx *c = R->c;
    if (v.t == V_LIST) { *out = v.u.l; return 0; }
    vlist *l = list_new(c, 4);
    if (!l) return -1;
    if (v.t == V_DICT) { /* keys, like Python */
        for (int i = 0; i < v.u.d->n; i++)
            if (list_push(c, l, v_str(v.u.d->ks[i], v.u.d->kn[i]))) return -1;
    } else if (v.t == V_STR) { /* UTF-8 characters */
        for (size_t i = 0; i < v.u.s.n;) {
            size_t k = 1;
            while (i + k < v.u.s.n && ((unsigned char)v.u.s.p[i + k] & 0xC0) == 0x80) k++;
            if (list_push(c, l, v_sub(v, i, k))) return -1;
            i += k;
        }
    } else if (v.t != V_UNDEF && v.t != V_NONE) {
        return fail(c, x->line, "cannot iterate over %s", type_name(v));
    }
    *out = l;
    return 0;
}

static int eval_node(render *R, node *x, value *out);

/* Expression trees can be deep even when the parser's nesting is shallow
 * (a long a + b + c + ... or x|f|f|f chain), so evaluation depth is bounded. */
static int eval(render *R, node *x, value *out) {
    if (++R->edepth > ATN_TEMPLATE_MAX_DEPTH * 4) {
        R->edepth--;
        return fail(R->c, x->line, "expression nested too deeply");
    }
    int r = eval_node(R, x, out);
    R->edepth--;
    return r;
}

static int eval_node(render *R, node *x, value *out) {
    ctx *c = R->c;
    if (step(R, x)) return -1;
    switch (x->k) {
    case E_STR: *out = v_str(x->s, x->n); return 0;
    case E_INT: *out = v_int(x->i); return 0;
    case E_FLOAT: *out = v_float(x->f); return 0;
    case E_BOOL: *out = v_bool((int)x->i); return 0;
    case E_NONE: *out = v_none(); return 0;
    case E_NAME: {
        value *v = lookup(R, x->s, x->n);
        *out = v ? *v : v_undef();
        return 0;
    }
    case E_ATTR: {
        value o;
        if (eval(R, x->a, &o)) return -1;
        return attr_of(R, o, x->s, x->n, out);
    }
    case E_ITEM: {
        value o, k;
        if (eval(R, x->a, &o) || eval(R, x->b, &k)) return -1;
        return item_of(R, x, o, k, out);
    }
    case E_SLICE: {
        value o, lo = v_undef(), hi = v_undef(), st = v_undef();
        if (eval(R, x->a, &o)) return -1;
        if (x->b && eval(R, x->b, &lo)) return -1;
        if (x->c && eval(R, x->c, &hi)) return -1;
        if (x->d && eval(R, x->d, &st)) return -1;
        return slice_of(R, x, o, lo, hi, st, out);
    }
    case E_CALL: {
        value fn;
        if (eval(R, x->a, &fn)) return -1;
        return call_func(R, x, fn, x->b, out);
    }
    case E_FILTER: {
        value v;
        if (eval(R, x->a, &v)) return -1;
        return apply_filter(R, x, v, out);
    }
    case E_TEST: {
        value v;
        args a;
        int r;
        if (eval(R, x->a, &v)) return -1;
        memset(&a, 0, sizeof a);
        if (x->b && eval_args(R, x->b, &a)) return -1;
        if (run_test(R, x, x->s, x->n, v, &a, &r)) return -1;
        *out = v_bool(x->op ? !r : r);
        return 0;
    }
    case E_NOT: {
        value v;
        if (eval(R, x->a, &v)) return -1;
        *out = v_bool(!truthy(v));
        return 0;
    }
    case E_NEG: {
        value v;
        if (eval(R, x->a, &v)) return -1;
        if (v.t == V_INT) { if (v.u.i == INT64_MIN) return fail(c, x->line, "integer overflow"); *out = v_int(-v.u.i); }
        else if (v.t == V_FLOAT) *out = v_float(-v.u.f);
        else return fail(c, x->line, "cannot negate %s", type_name(v));
        return 0;
    }
    case E_AND: case E_OR: {
        value v;
        if (eval(R, x->a, &v)) return -1;
        if (truthy(v) == (x->k == E_OR)) { *out = v; return 0; }
        return eval(R, x->b, out);
    }
    case E_COND: {
        value v;
        if (eval(R, x->b, &v)) return -1;
        if (truthy(v)) return eval(R, x->a, out);
        if (x->c) return eval(R, x->c, out);
        *out = v_undef();
        return 0;
    }
    case E_LIST: {
        vlist *l = list_new(c, 4);
        if (!l) return -1;
        l->is_tuple = x->op;
        for (node *y = x->a; y; y = y->next) {
            value v;
            if (eval(R, y, &v) || list_push(c, l, v)) return -1;
        }
        out->t = V_LIST;
        out->u.l = l;
        return 0;
    }
    case E_DICT: {
        vdict *d = dict_new(c);
        if (!d) return -1;
        for (node *y = x->a; y && y->next; y = y->next->next) {
            value k, v;
            if (eval(R, y, &k) || eval(R, y->next, &v)) return -1;
            if (k.t != V_STR) return fail(c, y->line, "dict keys must be strings");
            if (dict_set(c, d, k.u.s.p, k.u.s.n, v)) return -1;
        }
        out->t = V_DICT;
        out->u.d = d;
        return 0;
    }
    case E_BIN: {
        value a, b;
        if (eval(R, x->a, &a) || eval(R, x->b, &b)) return -1;
        int r;
        switch (x->op) {
        case OP_EQ: case OP_NE:
            if ((r = equal(R, a, b, 0)) < 0) return -1;
            *out = v_bool(x->op == OP_EQ ? r : !r);
            return 0;
        case '<': case '>': case OP_LE: case OP_GE:
            if (cmp_values(R, x, a, b, &r)) return -1;
            *out = v_bool(x->op == '<' ? r < 0 : x->op == '>' ? r > 0 : x->op == OP_LE ? r <= 0 : r >= 0);
            return 0;
        case OP_IN: case OP_NOTIN:
            if (contains(R, x, b, a, &r)) return -1;
            *out = v_bool(x->op == OP_IN ? r : !r);
            return 0;
        default:
            if ((a.t == V_UNDEF || b.t == V_UNDEF) && x->op != '~')
                return fail(c, x->line, "undefined value in an arithmetic or '+' expression");
            return arith(R, x, x->op, a, b, out);
        }
    }
    }
    return fail(c, x->line, "internal error: bad expression");
}

static int set_var(render *R, const char *s, size_t n, value v) {
    return dict_set(R->c, R->scope->vars, s, n, v);
}

static int exec_for(render *R, node *x) {
    ctx *c = R->c;
    value it;
    vlist *items;
    if (eval(R, x->a, &it) || iterate_items(R, x, it, &items)) return -1;
    /* the loop filter (`for x in y if cond`) selects items first, so loop.* counts only them */
    frame f = {dict_new(c), R->scope};
    if (!f.vars) return -1;
    R->scope = &f;
    vlist *sel = items;
    if (x->d) {
        sel = list_new(c, items->n);
        if (!sel) return -1;
        for (int i = 0; i < items->n; i++) {
            value cond;
            if (x->s2) {
                value item = items->v[i];
                if (item.t != V_LIST || item.u.l->n != 2) return fail(c, x->line, "cannot unpack loop item into two names");
                if (set_var(R, x->s, x->n, item.u.l->v[0]) || set_var(R, x->s2, x->n2, item.u.l->v[1])) return -1;
            } else if (set_var(R, x->s, x->n, items->v[i])) return -1;
            if (eval(R, x->d, &cond)) return -1;
            if (truthy(cond) && list_push(c, sel, items->v[i])) return -1;
        }
    }
    int n = sel->n;
    vdict *loop = dict_new(c); /* one per loop, updated in place each iteration */
    if (!loop) return -1;
    for (int i = 0; i < n; i++) {
        if (step(R, x)) return -1;
        value item = sel->v[i];
        if (x->s2) {
            if (item.t != V_LIST || item.u.l->n != 2) return fail(c, x->line, "cannot unpack loop item into two names");
            if (set_var(R, x->s, x->n, item.u.l->v[0]) || set_var(R, x->s2, x->n2, item.u.l->v[1])) return -1;
        } else if (set_var(R, x->s, x->n, item)) return -1;
        if (dict_set(c, loop, "index0", 6, v_int(i)) || dict_set(c, loop, "index", 5, v_int(i + 1)) ||
            dict_set(c, loop, "revindex", 8, v_int(n - i)) || dict_set(c, loop, "revindex0", 9, v_int(n - i - 1)) ||
            dict_set(c, loop, "first", 5, v_bool(i == 0)) || dict_set(c, loop, "last", 4, v_bool(i == n - 1)) ||
            dict_set(c, loop, "length", 6, v_int(n)) ||
            dict_set(c, loop, "previtem", 8, i > 0 ? sel->v[i - 1] : v_undef()) ||
            dict_set(c, loop, "nextitem", 8, i + 1 < n ? sel->v[i + 1] : v_undef()))
            return -1;
        value lv = v_undef();
        lv.t = V_DICT;
        lv.u.d = loop;
        if (set_var(R, "loop", 4, lv)) return -1;
        if (exec_body(R, x->b)) return -1;
        if (R->loop_ctl == 1) { R->loop_ctl = 0; break; }
        R->loop_ctl = 0;
    }
    R->scope = f.up;
    if (n == 0 && x->c) return exec_body(R, x->c);
    return 0;
}

static int exec_stmt(render *R, node *x) {
    ctx *c = R->c;
    if (step(R, x)) return -1;
    switch (x->k) {
    case S_TEXT: return emit(R, x->s, x->n, NULL);
    case S_OUTPUT: {
        value v;
        if (eval(R, x->a, &v)) return -1;
        if (v.t == V_STR) return emit(R, v.u.s.p, v.u.s.n, v.u.s.m);
        value s;
        if (str_of(R, v, &s)) return -1;
        return emit(R, s.u.s.p, s.u.s.n, s.u.s.m);
    }
    case S_IF:
        /* an elif chain is walked here, not by recursion: it can be long */
        for (;;) {
            value v;
            if (eval(R, x->a, &v)) return -1;
            if (truthy(v)) return exec_body(R, x->b);
            if (!x->c || x->c->k != S_IF || !x->c->op) return exec_body(R, x->c);
            x = x->c;
            if (step(R, x)) return -1;
        }
    case S_FOR: {
        if (++R->depth > ATN_TEMPLATE_MAX_DEPTH) return fail(c, x->line, "loops nested too deeply");
        int r = exec_for(R, x);
        R->depth--;
        return r;
    }
    case S_SET: {
        value v;
        if (eval(R, x->a, &v)) return -1;
        if (x->s2) {
            value *ns = lookup(R, x->s, x->n);
            if (!ns || ns->t != V_DICT || !ns->u.d->is_ns)
                return fail(c, x->line, "'%.*s' is not a namespace", (int)(x->n > 40 ? 40 : x->n), x->s);
            return dict_set(c, ns->u.d, x->s2, x->n2, v);
        }
        return set_var(R, x->s, x->n, v);
    }
    case S_SETBLOCK: {
        /* render the body into a string: swap the output buffer */
        char *saved = c->out;
        unsigned char *saved_mask = c->out_mask;
        size_t saved_len = c->out_len, saved_cap = c->out_cap;
        c->out = NULL;
        c->out_mask = NULL;
        c->out_len = c->out_cap = 0;
        int r = exec_body(R, x->b);
        char *body = c->out;
        unsigned char *body_mask = c->out_mask;
        size_t body_len = c->out_len;
        c->out = saved;
        c->out_mask = saved_mask;
        c->out_len = saved_len;
        c->out_cap = saved_cap;
        sbuf b = SBUF(c);
        if (!r) sb_put(&b, body ? body : "", body_len, body_mask, 0);
        free(body);
        free(body_mask);
        if (r || b.bad) return -1;
        return set_var(R, x->s, x->n, sb_value(&b));
    }
    case S_BREAK: R->loop_ctl = 1; return 0;
    case S_CONTINUE: R->loop_ctl = 2; return 0;
    }
    return fail(c, x->line, "internal error: bad statement");
}

static int exec_body(render *R, node *x) {
    for (; x; x = x->next) {
        if (exec_stmt(R, x)) return -1;
        if (R->loop_ctl) return 0;
    }
    return 0;
}

/* ------------------------------------------------------------------ JSON input */

/* The request's extra variables (tools, enable_thinking, ...) arrive as JSON
 * (RFC 8259). Strings become masked values: whatever the template does with
 * them, they stay text. Nesting and work are bounded like everything else. */
typedef struct jreader { ctx *c; const char *s; size_t n, pos; int depth; } jreader;

static int jfail(jreader *J, const char *what) {
    return fail(J->c, 0, "variables JSON: %s at byte %zu", what, J->pos);
}

static void jspace(jreader *J) {
    while (J->pos < J->n && (J->s[J->pos] == ' ' || J->s[J->pos] == '\t' || J->s[J->pos] == '\n' || J->s[J->pos] == '\r'))
        J->pos++;
}

/* The string whose opening quote J->pos has just passed (json.c). */
static int jstring(jreader *J, const char **p, size_t *len) {
    size_t q = J->pos - 1;
    atn_json_str r;
    if (atn_json_string(J->s + q, J->n - q, NULL, ATN_JSON_REFUSE_NUL, &r)) {
        J->pos = q + r.error_at;
        return jfail(J, r.error);
    }
    char *d = alloc(J->c, r.len + 1);
    if (!d) return -1;
    atn_json_string(J->s + q, J->n - q, d, ATN_JSON_REFUSE_NUL, &r);
    d[r.len] = 0;
    J->pos = q + r.end;
    *p = d;
    *len = r.len;
    return 0;
}

static const unsigned char *all_ones(ctx *c, size_t n) {
    unsigned char *m = alloc(c, n ? n : 1);
    if (m) memset(m, 1, n);
    return m;
}

static int jvalue(jreader *J, value *out) {
    jspace(J);
    if (J->pos >= J->n) return jfail(J, "unexpected end");
    if (charge(J->c, WORK_ITEM)) return -1;
    char ch = J->s[J->pos];
    if (ch == '{' || ch == '[') {
        if (++J->depth > ATN_TEMPLATE_MAX_VALUE_DEPTH) return jfail(J, "nested too deeply");
        J->pos++;
        vlist *l = ch == '[' ? list_new(J->c, 4) : NULL;
        vdict *d = ch == '{' ? dict_new(J->c) : NULL;
        if (!l && !d) return -1;
        char close = ch == '[' ? ']' : '}';
        jspace(J);
        if (J->pos < J->n && J->s[J->pos] == close) J->pos++;
        else for (;;) {
            value v;
            const char *k = NULL;
            size_t kn = 0;
            if (d) {
                jspace(J);
                if (J->pos >= J->n || J->s[J->pos] != '"') return jfail(J, "expected a member name");
                J->pos++;
                if (jstring(J, &k, &kn)) return -1;
                jspace(J);
                if (J->pos >= J->n || J->s[J->pos] != ':') return jfail(J, "expected ':'");
                J->pos++;
            }
            if (jvalue(J, &v)) return -1;
            if (d ? dict_set(J->c, d, k, kn, v) : list_push(J->c, l, v)) return -1;
            jspace(J);
            if (J->pos < J->n && J->s[J->pos] == ',') { J->pos++; continue; }
            if (J->pos < J->n && J->s[J->pos] == close) { J->pos++; break; }
            return jfail(J, "expected ',' or a closing bracket");
        }
        J->depth--;
        if (l) { out->t = V_LIST; out->u.l = l; }
        else { out->t = V_DICT; out->u.d = d; }
        return 0;
    }
    if (ch == '"') {
        const char *p;
        size_t n;
        J->pos++;
        if (jstring(J, &p, &n)) return -1;
        const unsigned char *m = all_ones(J->c, n);
        if (!m) return -1;
        *out = v_strm(p, n, m);
        return 0;
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t wl = strlen(words[w]);
        if (J->n - J->pos >= wl && memcmp(J->s + J->pos, words[w], wl) == 0) {
            J->pos += wl;
            *out = w == 2 ? v_none() : v_bool(w == 0);
            return 0;
        }
    }
    /* a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    size_t a = J->pos, i = a;
    int is_float = 0;
    if (i < J->n && J->s[i] == '-') i++;
    if (i >= J->n || J->s[i] < '0' || J->s[i] > '9') return jfail(J, "unexpected character");
    if (J->s[i] == '0') i++;
    else while (i < J->n && J->s[i] >= '0' && J->s[i] <= '9') i++;
    if (i < J->n && J->s[i] == '.') {
        is_float = 1;
        i++;
        if (i >= J->n || J->s[i] < '0' || J->s[i] > '9') { J->pos = i; return jfail(J, "bad number"); }
        while (i < J->n && J->s[i] >= '0' && J->s[i] <= '9') i++;
    }
    if (i < J->n && (J->s[i] == 'e' || J->s[i] == 'E')) {
        is_float = 1;
        i++;
        if (i < J->n && (J->s[i] == '+' || J->s[i] == '-')) i++;
        if (i >= J->n || J->s[i] < '0' || J->s[i] > '9') { J->pos = i; return jfail(J, "bad number"); }
        while (i < J->n && J->s[i] >= '0' && J->s[i] <= '9') i++;
    }
    char buf[64];
    if (i - a >= sizeof buf) return jfail(J, "number too long");
    memcpy(buf, J->s + a, i - a);
    buf[i - a] = 0;
    J->pos = i;
    if (!is_float) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno != ERANGE) { *out = v_int(v); return 0; }
    }
    *out = v_float(strtod(buf, NULL));
    return 0;
}

/* ------------------------------------------------------------------ API */

int atn_template_render(const char *tmpl, size_t tmpl_len,
                        const char *const *roles, const char *const *contents, int n_msgs,
                        int add_generation_prompt, const char *bos, const char *eos,
                        char **out, size_t *out_len, char *err, size_t errcap) {
    atn_template_input in = {roles, contents, n_msgs, add_generation_prompt, bos, eos, NULL, 0};
    return atn_template_render_ex(tmpl, tmpl_len, &in, out, out_len, NULL, err, errcap);
}

static const char *const builtin_names[] = {"messages", "add_generation_prompt", "bos_token", "eos_token",
                                            "raise_exception", "namespace", "range", "dict", NULL};

int atn_template_render_ex(const char *tmpl, size_t tmpl_len, const atn_template_input *in,
                           char **out, size_t *out_len, unsigned char **out_mask, char *err, size_t errcap) {
    ctx c;
    memset(&c, 0, sizeof c);
    c.err = err;
    c.errcap = errcap;
    if (err && errcap) err[0] = 0;
    *out = NULL;
    if (out_len) *out_len = 0;
    if (out_mask) *out_mask = NULL;
    if (!in) return fail(&c, 0, "no input");
    const char *const *roles = in->roles, *const *contents = in->contents;
    int n_msgs = in->n_msgs;
    const char *bos = in->bos, *eos = in->eos;
    if (!tmpl) return fail(&c, 0, "no template");
    if (tmpl_len > ATN_TEMPLATE_MAX_SOURCE) return fail(&c, 0, "template larger than %u KiB", ATN_TEMPLATE_MAX_SOURCE >> 10);
    if (n_msgs < 0 || (n_msgs > 0 && (!roles || !contents))) return fail(&c, 0, "bad message list");

    /* Jinja's source normalisation: \r\n and \r become \n, one trailing newline is dropped */
    char *src = alloc(&c, tmpl_len + 1);
    if (!src) goto done;
    size_t n = 0;
    for (size_t i = 0; i < tmpl_len; i++) {
        if (tmpl[i] == '\r') {
            src[n++] = '\n';
            if (i + 1 < tmpl_len && tmpl[i + 1] == '\n') i++;
        } else {
            src[n++] = tmpl[i];
        }
    }
    if (n && src[n - 1] == '\n') n--;

    lexer L;
    memset(&L, 0, sizeof L);
    L.c = &c;
    L.src = src;
    L.len = n;
    L.line = 1;
    if (lex(&L)) goto done;

    parser P = {&c, L.toks, 0, 0};
    node *prog = NULL;
    if (parse_body(&P, &prog, NULL, NULL)) goto done;

    /* globals: the message list and the special tokens, nothing else */
    frame globals = {dict_new(&c), NULL};
    if (!globals.vars) goto done;
    vlist *msgs = list_new(&c, n_msgs);
    if (!msgs) goto done;
    for (int i = 0; i < n_msgs; i++) {
        vdict *m = dict_new(&c);
        if (!m) goto done;
        const char *r = roles[i] ? roles[i] : "", *t = contents[i] ? contents[i] : "";
        size_t tn = strlen(t);
        const unsigned char *tm = all_ones(&c, tn); /* a message's content is text, whatever the template does */
        if (!tm || dict_set(&c, m, "role", 4, v_str(r, strlen(r))) || dict_set(&c, m, "content", 7, v_strm(t, tn, tm)))
            goto done;
        value mv = v_undef();
        mv.t = V_DICT;
        mv.u.d = m;
        if (list_push(&c, msgs, mv)) goto done;
    }
    value mlist = v_undef();
    mlist.t = V_LIST;
    mlist.u.l = msgs;
    value f_raise = v_undef(), f_ns = v_undef(), f_range = v_undef(), f_dict = v_undef();
    f_raise.t = f_ns.t = f_range.t = f_dict.t = V_FUNC;
    f_raise.u.i = F_RAISE;
    f_ns.u.i = F_NAMESPACE;
    f_range.u.i = F_RANGE;
    f_dict.u.i = F_DICT;
    bos = bos ? bos : "";
    eos = eos ? eos : "";
    if (in->vars_json) {
        jreader J = {&c, in->vars_json, in->vars_len, 0, 0};
        value vars;
        if (jvalue(&J, &vars)) goto done;
        jspace(&J);
        if (J.pos != J.n) { jfail(&J, "unexpected text after the object"); goto done; }
        if (vars.t != V_DICT) { fail(&c, 0, "variables JSON: not an object"); goto done; }
        for (int i = 0; i < vars.u.d->n; i++) {
            for (int k = 0; builtin_names[k]; k++)
                if (name_is(vars.u.d->ks[i], vars.u.d->kn[i], builtin_names[k])) {
                    fail(&c, 0, "variables JSON: '%s' is given by the chat itself", builtin_names[k]);
                    goto done;
                }
            if (dict_set(&c, globals.vars, vars.u.d->ks[i], vars.u.d->kn[i], vars.u.d->v[i])) goto done;
        }
    }
    if (dict_set(&c, globals.vars, "messages", 8, mlist) ||
        dict_set(&c, globals.vars, "add_generation_prompt", 21, v_bool(in->add_generation_prompt)) ||
        dict_set(&c, globals.vars, "bos_token", 9, v_str(bos, strlen(bos))) ||
        dict_set(&c, globals.vars, "eos_token", 9, v_str(eos, strlen(eos))) ||
        dict_set(&c, globals.vars, "raise_exception", 15, f_raise) ||
        dict_set(&c, globals.vars, "namespace", 9, f_ns) ||
        dict_set(&c, globals.vars, "range", 5, f_range) ||
        dict_set(&c, globals.vars, "dict", 4, f_dict))
        goto done;
    /* the template's own top-level sets go in a frame above the globals */
    frame top = {dict_new(&c), &globals};
    if (!top.vars) goto done;
    render R = {&c, &top, 0, 0, 0};
    if (exec_body(&R, prog)) goto done;
    if (!c.out) {
        c.out = malloc(1);
        if (!c.out) { fail(&c, 0, "out of memory"); goto done; }
        c.out[0] = 0;
    }
    *out = c.out;
    if (out_len) *out_len = c.out_len;
    c.out = NULL;
    if (out_mask) {
        *out_mask = c.out_mask;
        c.out_mask = NULL;
    }
done:
    free(c.out);
    free(c.out_mask);
    free_all(&c);
    return c.failed ? -1 : 0;
}

const char *atn_template_family(const char *t) {
    if (!t) return "unknown";
    if (strstr(t, "<|im_start|>")) return "chatml";
    if (strstr(t, "<|start_header_id|>")) return "llama3";
    if (strstr(t, "<start_of_turn>")) return "gemma";
    if (strstr(t, "<|end|>") && strstr(t, "<|user|>")) return "phi3";
    if (strstr(t, "<|user|>") && strstr(t, "<|assistant|>")) return "zephyr";
    if (strstr(t, "<<SYS>>")) return "llama2";
    if (strstr(t, "[INST]")) return "mistral";
    return "unknown";
}
