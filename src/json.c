/* json.c — JSON strings: see json.h. One pass, no allocation. */
#include "json.h"

#include <stdint.h>

static int hex4(const char *s, size_t n, uint32_t *v) {
    if (n < 4) return -1;
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        char h = s[k];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return -1;
        x = x * 16 + (uint32_t)d;
    }
    *v = x;
    return 0;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

static int fail(atn_json_str *r, const char *why, size_t at) {
    r->error = why;
    r->error_at = at;
    return -1;
}

int atn_json_string(const char *s, size_t n, char *out, int flags, atn_json_str *r) {
    r->end = r->len = 0;
    r->error = NULL;
    r->error_at = 0;
    if (n == 0 || s[0] != '"') return fail(r, "expected a string", 0);
    size_t i = 1, k = 0;
    for (;;) {
        if (i >= n) return fail(r, "unterminated string", i);
        unsigned char c = (unsigned char)s[i];
        if (c == '"') break;
        if (c < 0x20) return fail(r, "control character in a string (write it as an escape)", i);
        if (c != '\\') {
            if (out) out[k] = (char)c;
            k++, i++;
            continue;
        }
        if (i + 1 >= n) return fail(r, "unterminated string", i + 1);
        char e = s[i + 1];
        char simple = e == '"' ? '"' : e == '\\' ? '\\' : e == '/' ? '/' : e == 'b' ? '\b' : e == 'f' ? '\f'
                    : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
        if (simple) {
            if (out) out[k] = simple;
            k++, i += 2;
            continue;
        }
        if (e != 'u') return fail(r, "bad escape in a string", i);
        uint32_t cp, lo;
        if (hex4(s + i + 2, n - i - 2, &cp)) return fail(r, "bad \\u escape in a string", i);
        size_t next = i + 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* a pair, else U+FFFD (the next escape is read on its own) */
            if (n - next >= 6 && s[next] == '\\' && s[next + 1] == 'u' && hex4(s + next + 2, 4, &lo) == 0 && lo >= 0xDC00 &&
                lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                next += 6;
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        } else if (cp == 0 && (flags & ATN_JSON_REFUSE_NUL)) {
            return fail(r, "a string contains a NUL character (\\u0000)", i);
        }
        /* UTF-8 is never longer than the 6- or 12-byte escape it replaces */
        if (out) k += put_utf8(out + k, cp);
        else k += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        i = next;
    }
    r->end = i + 1;
    r->len = k;
    return 0;
}
