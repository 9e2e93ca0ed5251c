/* checked.h — size arithmetic that cannot wrap.
 *
 * size_t is 32 bits in the WebAssembly build, so a product such as
 * n_layer * n_ctx * kv_dim * sizeof(float) wraps for sizes a caller or a
 * model file can ask for (a Llama-3.2-1B shape at its 131072-token context
 * wraps to exactly 0), and a buffer of the wrapped size is then written far
 * past its end. Every size that depends on input goes through these helpers.
 *
 * They saturate: on overflow the result is SIZE_MAX, which no allocator can
 * satisfy, so a saturated size reaching malloc fails cleanly, and chains
 * (atn_mul_size(atn_mul_size(a, b), c)) stay saturated. Callers that want to
 * name the problem in their error test atn_size_ok() first.
 */
#ifndef ATN_CHECKED_H
#define ATN_CHECKED_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define ATN_SIZE_OVERFLOW SIZE_MAX

/* a * b, or SIZE_MAX if it does not fit in size_t. */
static inline size_t atn_mul_size(size_t a, size_t b) {
    if (b != 0 && a > SIZE_MAX / b) return ATN_SIZE_OVERFLOW;
    return a * b;
}

/* a + b, or SIZE_MAX if it does not fit in size_t. */
static inline size_t atn_add_size(size_t a, size_t b) {
    if (a > SIZE_MAX - b) return ATN_SIZE_OVERFLOW;
    return a + b;
}

/* A count of elements that may come from anywhere (int64, negative, huge)
 * as a size_t, saturated. */
static inline size_t atn_size_from_i64(int64_t n) {
    if (n < 0) return ATN_SIZE_OVERFLOW;
    if ((uint64_t)n >= (uint64_t)SIZE_MAX) return ATN_SIZE_OVERFLOW;
    return (size_t)n;
}

/* 1 if a size computed with the helpers above did not overflow. */
static inline int atn_size_ok(size_t n) { return n != ATN_SIZE_OVERFLOW; }

/* malloc / calloc / realloc of n elements of `size` bytes: NULL when the
 * byte count overflows (as calloc does), never a short buffer. */
static inline void *atn_malloc_array(size_t n, size_t size) {
    size_t bytes = atn_mul_size(n, size);
    return atn_size_ok(bytes) ? malloc(bytes ? bytes : 1) : NULL;
}

static inline void *atn_realloc_array(void *p, size_t n, size_t size) {
    size_t bytes = atn_mul_size(n, size);
    return atn_size_ok(bytes) ? realloc(p, bytes ? bytes : 1) : NULL;
}

#endif
