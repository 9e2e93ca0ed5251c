/* cli/files.h — how the native CLI reads a whole file (a model, a
 * dictionary, a list of pairs): in one read, into atn_malloc'd memory that
 * atn_model_load and atn_dict_load can take or read as it is, with no second
 * copy. Header-only: each CLI source that reads files includes it. */
#ifndef ATN_CLI_FILES_H
#define ATN_CLI_FILES_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../atento.h"

#define CLI_OUT_OF_MEMORY "out of memory"
#define CLI_SHORT_READ "short read"

/* The regular file at path, its size bytes followed by a NUL (so a text can
 * be scanned as a string), in memory from atn_malloc. NULL when it cannot be
 * had: then *verb is "open" or "read", saying which failed, and *reason why
 * (the system's words, "not a regular file", CLI_OUT_OF_MEMORY or
 * CLI_SHORT_READ); *size is the file's size where it was known. */
static inline void *cli_read_file(const char *path, size_t *size, const char **verb, const char **reason) {
    *size = 0;
    *verb = "open";
    FILE *f = fopen(path, "rb");
    if (!f) {
        *reason = strerror(errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        *reason = "not a regular file";
        return NULL;
    }
    *verb = "read";
    if ((uintmax_t)st.st_size >= SIZE_MAX) {
        fclose(f);
        *reason = CLI_OUT_OF_MEMORY;
        return NULL;
    }
    *size = (size_t)st.st_size;
    char *data = atn_malloc(*size + 1);
    if (!data) {
        fclose(f);
        *reason = CLI_OUT_OF_MEMORY;
        return NULL;
    }
    size_t got = fread(data, 1, *size, f);
    fclose(f);
    if (got != *size) {
        atn_free(data);
        *reason = CLI_SHORT_READ;
        return NULL;
    }
    data[*size] = 0;
    return data;
}

#endif
