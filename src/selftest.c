/* selftest.c — a deliberate WebAssembly trap, so that the recovery of the JS
 * layer (js/core.js: a fresh instance after a trap; js/worker.js: the model
 * loaded again) can be tested on the real modules. Exported by build.sh but
 * not part of the API of src/atento.h; nothing in the core calls it.
 *
 *   atn_selftest_trap(0)   executes `unreachable`
 *   atn_selftest_trap(1)   recurses until the C stack is exhausted: with the
 *                          stack placed first in memory (--stack-first) the
 *                          stack pointer leaves memory and the next store
 *                          traps ("memory access out of bounds")
 *
 * Natively both end the process (SIGILL / SIGSEGV); only the WebAssembly
 * tests call it. Any other kind returns -1. */
#include <stdint.h>
#include "atento.h"

ATN_API int atn_selftest_trap(int kind);

/* Each frame keeps a 1 KiB buffer the compiler cannot drop (volatile), and the
 * call is not in tail position, so the recursion can be neither removed nor
 * turned into a loop: it really grows the stack by ~1 KiB per level. */
static int64_t deep(int64_t depth) {
    volatile uint8_t frame[1024];
    frame[depth & 1023] = (uint8_t)depth;
    if (depth < 0) return frame[0]; /* never: depth only grows */
    return deep(depth + 1) + frame[(depth * 7) & 1023];
}

ATN_API int atn_selftest_trap(int kind) {
    if (kind == 0) __builtin_trap();
    if (kind == 1) return (int)deep(1);
    return -1;
}
