/* error.h — the one-line message behind atn_last_error(). */
#ifndef ATN_ERROR_H
#define ATN_ERROR_H

/* printf-style; always returns -1 so callers can `return atn_error(...)`. */
int atn_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
