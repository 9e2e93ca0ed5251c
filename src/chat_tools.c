/* chat_tools.c — finding tool calls in a model's reply.
 *
 * Two formats, the ones chat templates teach:
 *   Hermes / Qwen2.5 / Qwen3:  <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>
 *                              (any number, text around them is the reply's content)
 *   Llama 3.1 / 3.2:           {"name": "f", "parameters": {...}}  — the whole reply,
 *                              optionally after <|python_tag|>
 * The result is one JSON object, {"content": "...", "tool_calls": [{"name":
 * "f", "arguments": {...}}]}, with each call's arguments copied as the model
 * wrote them once they are checked to be valid JSON. The reader below only
 * checks and measures JSON (RFC 8259, nesting at most 64 deep); it builds
 * nothing, so a reply of any size costs one pass.
 */
#include <stdlib.h>
#include <string.h>
#include "atento.h"
#include "error.h"
#include "json.h"

#define MAX_JSON_DEPTH 64

typedef struct jscan { const char *s; size_t n; } jscan;

static size_t skip_ws(const jscan *J, size_t i) {
    while (i < J->n && (J->s[i] == ' ' || J->s[i] == '\t' || J->s[i] == '\n' || J->s[i] == '\r')) i++;
    return i;
}

/* end of the JSON string starting at the quote s[i], or 0 when invalid */
static size_t skip_string(const jscan *J, size_t i) {
    atn_json_str r;
    return atn_json_string(J->s + i, J->n - i, NULL, 0, &r) ? 0 : i + r.end;
}

static size_t skip_number(const jscan *J, size_t i) {
    size_t a = i;
    if (i < J->n && J->s[i] == '-') i++;
    if (i >= J->n || J->s[i] < '0' || J->s[i] > '9') return 0;
    if (J->s[i] == '0') i++;
    else while (i < J->n && J->s[i] >= '0' && J->s[i] <= '9') i++;
    if (i < J->n && J->s[i] == '.') {
        if (++i >= J->n || J->s[i] < '0' || J->s[i] > '9') return 0;
        while (i < J->n && J->s[i] >= '0' && J->s[i] <= '9') i++;
    }
    if (i < J->n && (J->s[i] == 'e' || J->s[i] == 'E')) {
        i++;
        if (i < J->n && (J->s[i] == '+' || J->s[i] == '-')) i++;
        if (i >= J->n || J->s[i] < '0' || J->s[i] > '9') return 0;
        while (i < J->n && J->s[i] >= '0' && J->s[i] <= '9') i++;
    }
    return i > a ? i : 0;
}

/* end of the JSON value at s[i] (no leading whitespace), or 0 when invalid */
static size_t skip_value(const jscan *J, size_t i, int depth) {
    if (i >= J->n) return 0;
    char ch = J->s[i];
    if (ch == '"') return skip_string(J, i);
    if (ch == '{' || ch == '[') {
        if (depth >= MAX_JSON_DEPTH) return 0;
        char close = ch == '{' ? '}' : ']';
        i = skip_ws(J, i + 1);
        if (i < J->n && J->s[i] == close) return i + 1;
        for (;;) {
            if (ch == '{') {
                if (i >= J->n || J->s[i] != '"' || !(i = skip_string(J, i))) return 0;
                i = skip_ws(J, i);
                if (i >= J->n || J->s[i] != ':') return 0;
                i = skip_ws(J, i + 1);
            }
            if (!(i = skip_value(J, i, depth + 1))) return 0;
            i = skip_ws(J, i);
            if (i < J->n && J->s[i] == ',') { i = skip_ws(J, i + 1); continue; }
            if (i < J->n && J->s[i] == close) return i + 1;
            return 0;
        }
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t wl = strlen(words[w]);
        if (J->n - i >= wl && memcmp(J->s + i, words[w], wl) == 0) return i + wl;
    }
    return skip_number(J, i);
}

/* A call object {"name": "...", "arguments"|"parameters": ...} in s[a, b):
 * the spans of its name (a JSON string, quotes included) and arguments. */
static int read_call(const char *s, size_t a, size_t b, size_t *name_a, size_t *name_b, size_t *args_a, size_t *args_b) {
    jscan J = {s, b};
    size_t i = skip_ws(&J, a);
    size_t end = skip_value(&J, i, 0);
    if (!end || s[i] != '{' || skip_ws(&J, end) != b) return atn_error("tool call: not one JSON object");
    *name_a = *args_a = 0;
    i = skip_ws(&J, i + 1);
    while (i < end && s[i] == '"') {
        size_t ka = i, kb = skip_string(&J, i);
        i = skip_ws(&J, skip_ws(&J, kb) + 1); /* past ':' */
        size_t va = i, vb = skip_value(&J, i, 1);
        size_t klen = kb - ka;
        if (klen == 6 && memcmp(s + ka, "\"name\"", 6) == 0 && s[va] == '"') { *name_a = va; *name_b = vb; }
        if ((klen == 11 && memcmp(s + ka, "\"arguments\"", 11) == 0) || (klen == 12 && memcmp(s + ka, "\"parameters\"", 12) == 0)) {
            *args_a = va;
            *args_b = vb;
        }
        i = skip_ws(&J, vb);
        if (i < end && s[i] == ',') i = skip_ws(&J, i + 1);
    }
    if (!*name_a) return atn_error("tool call: no \"name\" string");
    return 0;
}

/* ---- output ---- */

typedef struct obuf { char *p; size_t n, cap; } obuf;

static void put(obuf *o, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++, o->n++)
        if (o->n < o->cap) o->p[o->n] = s[i];
}
static void puts_(obuf *o, const char *s) { put(o, s, strlen(s)); }

static void put_json_string(obuf *o, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"') puts_(o, "\\\"");
        else if (ch == '\\') puts_(o, "\\\\");
        else if (ch == '\n') puts_(o, "\\n");
        else if (ch == '\r') puts_(o, "\\r");
        else if (ch == '\t') puts_(o, "\\t");
        else if (ch < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            put(o, e, 6);
        } else put(o, (const char *)&ch, 1);
    }
    put(o, "\"", 1);
}

/* a checked JSON value, whitespace outside strings dropped (the result is one line) */
static void put_compact(obuf *o, const char *s, size_t a, size_t b) {
    int in_str = 0;
    for (size_t i = a; i < b; i++) {
        char ch = s[i];
        if (in_str) {
            put(o, &ch, 1);
            if (ch == '\\' && i + 1 < b) put(o, &s[++i], 1);
            else if (ch == '"') in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
            put(o, &ch, 1);
        } else if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
            put(o, &ch, 1);
        }
    }
}

static int is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

/* the content: the reply's text outside the calls, whitespace at its ends trimmed */
static void put_content(obuf *o, const char *s, const size_t *cuts, int n_cuts, size_t len) {
    /* gather the pieces into the output directly: first measure the trimmed span */
    size_t a = 0, b = len;
    /* content bytes are s[0..len) minus the cut ranges [cuts[2k], cuts[2k+1]) */
    char *tmp = malloc(len ? len : 1);
    size_t k = 0, from = 0;
    if (!tmp) { put_json_string(o, "", 0); return; }
    for (int c = 0; c < n_cuts; c++) {
        memcpy(tmp + k, s + from, cuts[2 * c] - from);
        k += cuts[2 * c] - from;
        from = cuts[2 * c + 1];
    }
    memcpy(tmp + k, s + from, len - from);
    k += len - from;
    a = 0;
    b = k;
    while (a < b && is_space(tmp[a])) a++;
    while (b > a && is_space(tmp[b - 1])) b--;
    put_json_string(o, tmp + a, b - a);
    free(tmp);
}

ATN_API int atn_chat_parse_tool_calls(const char *text, int len, char *out, int cap) {
    if (len < 0 || (len > 0 && !text) || cap < 0 || (cap > 0 && !out)) return atn_error("atn_chat_parse_tool_calls: bad arguments");
    static const char open_tag[] = "<tool_call>", close_tag[] = "</tool_call>", python_tag[] = "<|python_tag|>";
    size_t n = (size_t)len, ol = sizeof open_tag - 1, cl = sizeof close_tag - 1;
    /* the calls: spans [a, b) of their JSON, and the cut ranges removed from the content */
    int n_calls = 0, max_calls = 0;
    for (size_t i = 0; i + ol <= n; i++)
        if (memcmp(text + i, open_tag, ol) == 0) max_calls++;
    size_t *spans = malloc((size_t)(max_calls + 1) * 4 * sizeof(size_t));
    if (!spans) return atn_error("out of memory");
    size_t *cuts = spans + 2 * (size_t)(max_calls + 1);
    for (size_t i = 0; i + ol <= n;) {
        const char *p = memchr(text + i, '<', n - i);
        if (!p) break;
        i = (size_t)(p - text);
        if (i + ol > n || memcmp(text + i, open_tag, ol) != 0) { i++; continue; }
        size_t a = i + ol, j = a;
        while (j + cl <= n && memcmp(text + j, close_tag, cl) != 0) j++;
        if (j + cl > n) { free(spans); return atn_error("tool call: <tool_call> without </tool_call>"); }
        spans[2 * n_calls] = a;
        spans[2 * n_calls + 1] = j;
        cuts[2 * n_calls] = i;
        cuts[2 * n_calls + 1] = j + cl;
        n_calls++;
        i = j + cl;
    }
    int n_cuts = n_calls;
    if (n_calls == 0) {
        /* Llama 3.1: the whole reply is one call object */
        jscan J = {text, n};
        size_t a = skip_ws(&J, 0);
        size_t pl = sizeof python_tag - 1;
        if (n - a >= pl && memcmp(text + a, python_tag, pl) == 0) a = skip_ws(&J, a + pl);
        size_t b = n;
        while (b > a && is_space(text[b - 1])) b--;
        if (a < b && text[a] == '{') {
            size_t e = skip_value(&J, a, 0);
            size_t na, nb, aa, ab;
            if (e == b && read_call(text, a, b, &na, &nb, &aa, &ab) == 0) {
                spans[0] = a;
                spans[1] = b;
                cuts[0] = 0;
                cuts[1] = n;
                n_calls = n_cuts = 1;
            }
        }
    }
    obuf o = {out, 0, cap > 0 ? (size_t)cap : 0};
    puts_(&o, "{\"content\":");
    put_content(&o, text ? text : "", cuts, n_cuts, n);
    puts_(&o, ",\"tool_calls\":[");
    for (int c = 0; c < n_calls; c++) {
        size_t na, nb, aa, ab;
        if (read_call(text, spans[2 * c], spans[2 * c + 1], &na, &nb, &aa, &ab)) { free(spans); return -1; }
        if (c) puts_(&o, ",");
        puts_(&o, "{\"name\":");
        put(&o, text + na, nb - na);
        puts_(&o, ",\"arguments\":");
        if (aa) put_compact(&o, text, aa, ab);
        else puts_(&o, "{}");
        puts_(&o, "}");
    }
    puts_(&o, "]}");
    free(spans);
    if (o.n > 0x7FFFFFFE) return atn_error("tool calls: result too long");
    if (o.n < o.cap) out[o.n] = 0;
    return (int)o.n;
}
