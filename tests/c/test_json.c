/* test_json.c — src/json.c, the JSON string reader of the template variables,
 * the CLI's chat requests and the tool calls: decoding of every escape,
 * surrogates (pairs, lone ones become U+FFFD), NUL refused only when asked,
 * and a one-line reason with its position for each malformed string. The
 * measuring call (no output) and the decoding call agree on every input. */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "test_util.h"

/* Decodes s (a JSON string, with its quotes, maybe followed by more text). */
static int dec(const char *s, int flags, char *out, atn_json_str *r) {
    size_t n = strlen(s);
    atn_json_str m;
    int a = atn_json_string(s, n, NULL, flags, &m);
    int b = atn_json_string(s, n, out, flags, r);
    CHECK(a == b && m.end == r->end && m.len == r->len && m.error == r->error && m.error_at == r->error_at,
          "measuring and decoding %s disagree", s);
    if (!b) out[r->len] = 0;
    return b;
}

static void ok(const char *s, const char *want, size_t want_len, size_t want_end) {
    char out[64];
    atn_json_str r;
    int rc = dec(s, ATN_JSON_REFUSE_NUL, out, &r);
    CHECK(rc == 0 && r.len == want_len && !memcmp(out, want, want_len) && r.end == want_end, "%s: rc %d, len %zu, end %zu, error '%s'", s,
          rc, r.len, r.end, r.error ? r.error : "");
}

static void bad(const char *s, int flags, const char *why, size_t at) {
    char out[64];
    atn_json_str r;
    int rc = dec(s, flags, out, &r);
    CHECK(rc < 0 && r.error && strstr(r.error, why) && r.error_at == at, "%s: rc %d, error '%s' at %zu (want '%s' at %zu)", s, rc,
          r.error ? r.error : "", r.error_at, why, at);
}

int main(void) {
    ok("\"\"", "", 0, 2);
    ok("\"abc\" tail", "abc", 3, 5);
    ok("\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7, 12);
    ok("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5, 12);
    ok("\"\\u0041\\u00e9\\u20AC\"", "A\xC3\xA9\xE2\x82\xAC", 6, 20);
    ok("\"\\ud83d\\ude00!\"", "\xF0\x9F\x98\x80!", 5, 15);                /* a pair */
    ok("\"\\ud83dx\"", "\xEF\xBF\xBDx", 4, 9);                           /* lone high */
    ok("\"\\ud83d\\u0041\"", "\xEF\xBF\xBD" "A", 4, 14);                  /* lone high, the next escape alone */
    ok("\"\\ude00\"", "\xEF\xBF\xBD", 3, 8);                              /* lone low */
    ok("\"\\ud83d\\ud83d\\ude00\"", "\xEF\xBF\xBD\xF0\x9F\x98\x80", 7, 20); /* high, then a pair */
    ok("\"h\xC3\xA9\"", "h\xC3\xA9", 3, 5);                               /* UTF-8 as it is */

    /* NUL: refused for C strings, kept (as a byte) when the caller allows it */
    bad("\"a\\u0000b\"", ATN_JSON_REFUSE_NUL, "NUL character", 2);
    {
        char out[8];
        atn_json_str r;
        CHECK(dec("\"a\\u0000b\"", 0, out, &r) == 0 && r.len == 3 && out[1] == 0 && out[2] == 'b', "NUL allowed: %d", (int)r.len);
    }

    bad("abc", 0, "expected a string", 0);
    bad("", 0, "expected a string", 0);
    bad("\"abc", 0, "unterminated string", 4);
    bad("\"abc\\", 0, "unterminated string", 5);
    bad("\"a\nb\"", 0, "control character", 2);
    bad("\"a\\qb\"", 0, "bad escape", 2);
    bad("\"\\u12\"", 0, "bad \\u escape", 1);
    bad("\"\\u12", 0, "bad \\u escape", 1);
    bad("\"\\uZZZZ\"", 0, "bad \\u escape", 1);
    return test_summary();
}
