/* tensor.h — the tensor types atento reads and a view of one tensor.
 *
 * Dimension order is ggml's: ne[0] is the contiguous (fastest) dimension.
 * A weight matrix W with ne = {n_in, n_out} is stored as n_out rows of n_in
 * values, and y = W x means y[r] = dot(row r of W, x). Quantized rows are
 * sequences of blocks (see quant.h); a row's byte size is atn_row_size().
 */
#ifndef ATN_TENSOR_H
#define ATN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* Type ids as GGUF / ggml number them. */
enum atn_type {
    ATN_TYPE_F32 = 0,
    ATN_TYPE_F16 = 1,
    ATN_TYPE_Q4_0 = 2,
    ATN_TYPE_Q4_1 = 3,
    ATN_TYPE_Q5_0 = 6,
    ATN_TYPE_Q5_1 = 7,
    ATN_TYPE_Q8_0 = 8,
    ATN_TYPE_Q4_K = 12,
    ATN_TYPE_Q5_K = 13,
    ATN_TYPE_Q6_K = 14,
    ATN_TYPE_BF16 = 30,
    ATN_TYPE_COUNT = 31,
};

#define ATN_MAX_DIMS 4

typedef struct atn_tensor {
    const char *name;         /* NUL-terminated, owned by the reader */
    int type;                 /* enum atn_type */
    int n_dims;
    int64_t ne[ATN_MAX_DIMS]; /* unused dims are 1 */
    const void *data;         /* points into the model file's bytes */
    size_t nbytes;
} atn_tensor;

/* Per-type facts; a type the reader does not support has block_size 0. */
int atn_type_known(int type);
const char *atn_type_name(int type);   /* "q8_0", ... or "unknown" */
int atn_type_block_size(int type);     /* values per block (1 for f32/f16/bf16) */
size_t atn_type_block_bytes(int type); /* bytes per block */
/* Bytes of a row of n values; 0 if n is not a multiple of the block size. */
size_t atn_row_size(int type, int64_t n);

#endif
