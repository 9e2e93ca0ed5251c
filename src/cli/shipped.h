/* cli/shipped.h — where the native CLI finds the files shipped in models/
 * (the chat model, the translation model, the dictionary): in
 * $ATENTO_MODELS_DIR when it is set, else in models/ beside the build
 * directory of this binary, then in ./models. bin/atento.js looks in the
 * package's models/ the same way.
 * Header-only: chat.c and chat_tools.c include it. */
#ifndef ATN_CLI_SHIPPED_H
#define ATN_CLI_SHIPPED_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLI_SHIPPED_DIR_MAX 4096

/* The folders to look in, in order: fills dirs and returns how many. */
static inline int cli_shipped_dirs(char dirs[3][CLI_SHIPPED_DIR_MAX]) {
    int nd = 0;
    const char *env = getenv("ATENTO_MODELS_DIR");
    if (env && *env) {
        snprintf(dirs[nd++], CLI_SHIPPED_DIR_MAX, "%.4000s", env);
        return nd;
    }
    char exe[4000];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *sl = strrchr(exe, '/');
        if (sl) {
            *sl = 0;
            snprintf(dirs[nd++], CLI_SHIPPED_DIR_MAX, "%.3800s/../models", exe);
        }
    }
    snprintf(dirs[nd++], CLI_SHIPPED_DIR_MAX, "models");
    return nd;
}

static inline int cli_is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The path (malloc'd) of the shipped file `name` in the first folder that
 * holds it. When `stand_in` is given, a folder without `name` is searched
 * for the files it accepts (by file name), and the first of those in byte
 * order is taken. NULL when no folder has one (or out of memory); first_dir
 * (cap bytes) gets the first folder looked in, for the message. */
static inline char *cli_find_shipped(const char *name, int (*stand_in)(const char *file_name), char *first_dir,
                                     size_t cap) {
    char dirs[3][CLI_SHIPPED_DIR_MAX];
    int nd = cli_shipped_dirs(dirs);
    snprintf(first_dir, cap, "%s", dirs[0]);
    char path[4200];
    for (int d = 0; d < nd; d++) {
        snprintf(path, sizeof path, "%.3800s/%s", dirs[d], name);
        if (cli_is_regular_file(path)) return strdup(path);
        if (!stand_in) continue;
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        char best[256] = "";
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (strlen(e->d_name) >= sizeof best || !stand_in(e->d_name)) continue;
            snprintf(path, sizeof path, "%.3800s/%s", dirs[d], e->d_name);
            if (cli_is_regular_file(path) && (!best[0] || strcmp(e->d_name, best) < 0))
                snprintf(best, sizeof best, "%s", e->d_name);
        }
        closedir(dir);
        if (best[0]) {
            snprintf(path, sizeof path, "%.3800s/%s", dirs[d], best);
            return strdup(path);
        }
    }
    return NULL;
}

#endif
