/* json.h — JSON strings (RFC 8259), read one way for the project's three
 * JSON readers: template variables (chat_template.c), the CLI's chat
 * requests (cli/chat.c) and the tool calls a model writes (chat_tools.c).
 * Internal; not part of the public API. */
#ifndef ATN_JSON_H
#define ATN_JSON_H

#include <stddef.h>

typedef struct {
    size_t end;        /* bytes from the opening quote to just past the closing one */
    size_t len;        /* bytes of the decoded UTF-8 (never more than end - 2) */
    const char *error; /* NULL, or what is wrong ("unterminated string", …) */
    size_t error_at;   /* where, in bytes from the opening quote */
} atn_json_str;

#define ATN_JSON_REFUSE_NUL 1 /* \u0000 is an error: the result goes into C strings */

/* The JSON string whose opening quote is s[0] (n bytes readable from s):
 * checked, measured and, when out is not NULL, decoded into out (which holds
 * at least len bytes: call once without out to learn len). Escapes
 * become UTF-8; a lone surrogate escape becomes U+FFFD, as JavaScript writes
 * it. Returns 0, or -1 with r->error set. */
int atn_json_string(const char *s, size_t n, char *out, int flags, atn_json_str *r);

#endif
