/* utf8.c — UTF-8 validation, decoding and boundaries.
 *
 * Valid means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. Tokenizers validate their input once and may then decode
 * without checks.
 */
#include "tok_internal.h"

int atn_utf8_char_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;          /* continuation byte or overlong lead */
    if (c < 0xE0) return 2;
    if (c < 0xF0) return 3;
    if (c < 0xF5) return 4;
    return 0;
}

/* Length of the valid character at s, or 0 if it is not one. */
static size_t valid_char(const unsigned char *s, size_t len) {
    unsigned char c = s[0];
    int n = atn_utf8_char_len(c);
    if (n == 0 || (size_t)n > len) return 0;
    if (n == 1) return 1;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3) {
        if (c == 0xE0 && s[1] < 0xA0) return 0;   /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0;  /* surrogate */
    } else if (n == 4) {
        if (c == 0xF0 && s[1] < 0x90) return 0;   /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0;  /* > U+10FFFF */
    }
    return (size_t)n;
}

/* Offset of the first invalid byte, or len if the whole text is valid. */
size_t atn_utf8_first_invalid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) { i++; continue; }
        size_t n = valid_char(p + i, len - i);
        if (n == 0) return i;
        i += n;
    }
    return len;
}

int atn_utf8_valid(const char *s, size_t len) {
    return atn_utf8_first_invalid(s, len) == len;
}

size_t atn_utf8_complete_prefix(const char *s, size_t len) {
    /* Look back at most 3 bytes for a lead byte whose character is cut. */
    const unsigned char *p = (const unsigned char *)s;
    size_t i = len, back = 0;
    while (i > 0 && back < 4) {
        unsigned char c = p[i - 1];
        if ((c & 0xC0) != 0x80) {                 /* a lead (or ASCII) byte */
            int n = atn_utf8_char_len(c);
            if (n == 0) return len;               /* invalid: nothing to wait for */
            return ((size_t)n > back + 1) ? i - 1 : len;
        }
        i--; back++;
    }
    return len;
}

int atn_utf8_decode(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)s;
    int n = atn_utf8_char_len(p[0]);
    if (n == 0 || (size_t)n > len) { *cp = p[0]; return 1; }
    uint32_t c;
    switch (n) {
    case 1: c = p[0]; break;
    case 2: c = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F); break;
    case 3: c = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F); break;
    default: c = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
                 ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F); break;
    }
    *cp = c;
    return n;
}

int atn_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
