/* error.c — last-error storage. One message per process: the WASM build is
 * single-threaded, and native callers use one model per thread. */
#include <stdarg.h>
#include <stdio.h>
#include "atento.h"
#include "error.h"

static char last_error[512] = "";

int atn_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

const char *atn_last_error(void) { return last_error; }
