/* wasi_shim.c — file access for the C tests when they run as standalone
 * WASI modules (tests/wasm_ctests.sh links this file in; the core never
 * touches files).
 *
 * Emscripten's standalone libc only opens the standard streams; its
 * __syscall_open is weak, so this strong version replaces it and opens files
 * through WASI path_open relative to the first preopened directory (fd 3,
 * which tests/run_wasi.mjs maps to the repository root). Reads, writes and
 * seeks then go through the fd_* imports the libc already uses. Absolute
 * paths go through the second preopen (fd 4, "/"). */
#ifdef __EMSCRIPTEN__
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <wasi/api.h>

long __syscall_open(const char *path, long flags, ...) {
    if (!strcmp(path, "/dev/stdin")) return 0;
    if (!strcmp(path, "/dev/stdout")) return 1;
    if (!strcmp(path, "/dev/stderr")) return 2;
    __wasi_fd_t dir = 3; /* the repository root */
    if (path[0] == '/') { /* absolute: fd 4 is the file system's root */
        dir = 4;
        while (path[0] == '/') path++;
    }
    while (path[0] == '.' && path[1] == '/') path += 2;
    __wasi_oflags_t oflags = 0;
    if (flags & O_CREAT) oflags |= __WASI_OFLAGS_CREAT;
    if (flags & O_EXCL) oflags |= __WASI_OFLAGS_EXCL;
    if (flags & O_TRUNC) oflags |= __WASI_OFLAGS_TRUNC;
    if (flags & O_DIRECTORY) oflags |= __WASI_OFLAGS_DIRECTORY;
    __wasi_fdflags_t fdflags = (flags & O_APPEND) ? __WASI_FDFLAGS_APPEND : 0;
    /* only rights a regular file has: asking for more is ENOTCAPABLE */
    __wasi_rights_t rights = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL |
                             __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS;
    if ((flags & O_ACCMODE) != O_RDONLY)
        rights |= __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SYNC | __WASI_RIGHTS_FD_DATASYNC |
                  __WASI_RIGHTS_FD_FILESTAT_SET_SIZE;
    __wasi_fd_t fd;
    __wasi_errno_t err = __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, path, strlen(path), oflags,
                                          rights, 0, fdflags, &fd);
    if (err) return -(long)err; /* WASI errno values match emscripten's */
    return (long)fd;
}
#endif
