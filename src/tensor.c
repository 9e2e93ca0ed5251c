/* tensor.c — per-type facts: names, block sizes, row sizes.
 *
 * The block structs live in quant.h; their sizes are checked here against the
 * byte counts GGUF files use, so a compiler that pads a struct fails the build
 * instead of misreading every file.
 */
#include <assert.h>
#include <stdint.h>
#include "quant.h"
#include "tensor.h"

static_assert(sizeof(atn_f16) == 2, "f16 is 2 bytes");
static_assert(sizeof(atn_block_q4_0) == 18, "q4_0 block is 18 bytes");
static_assert(sizeof(atn_block_q4_1) == 20, "q4_1 block is 20 bytes");
static_assert(sizeof(atn_block_q5_0) == 22, "q5_0 block is 22 bytes");
static_assert(sizeof(atn_block_q5_1) == 24, "q5_1 block is 24 bytes");
static_assert(sizeof(atn_block_q8_0) == 34, "q8_0 block is 34 bytes");
static_assert(sizeof(atn_block_q4_K) == 144, "q4_K block is 144 bytes");
static_assert(sizeof(atn_block_q5_K) == 176, "q5_K block is 176 bytes");
static_assert(sizeof(atn_block_q6_K) == 210, "q6_K block is 210 bytes");

typedef struct {
    const char *name;
    int block_size;     /* values per block; 0 = unsupported */
    size_t block_bytes; /* bytes per block */
} type_info;

static const type_info TYPES[ATN_TYPE_COUNT] = {
    [ATN_TYPE_F32] = {"f32", 1, 4},
    [ATN_TYPE_F16] = {"f16", 1, 2},
    [ATN_TYPE_BF16] = {"bf16", 1, 2},
    [ATN_TYPE_Q4_0] = {"q4_0", ATN_QK, sizeof(atn_block_q4_0)},
    [ATN_TYPE_Q4_1] = {"q4_1", ATN_QK, sizeof(atn_block_q4_1)},
    [ATN_TYPE_Q5_0] = {"q5_0", ATN_QK, sizeof(atn_block_q5_0)},
    [ATN_TYPE_Q5_1] = {"q5_1", ATN_QK, sizeof(atn_block_q5_1)},
    [ATN_TYPE_Q8_0] = {"q8_0", ATN_QK, sizeof(atn_block_q8_0)},
    [ATN_TYPE_Q4_K] = {"q4_K", ATN_QK_K, sizeof(atn_block_q4_K)},
    [ATN_TYPE_Q5_K] = {"q5_K", ATN_QK_K, sizeof(atn_block_q5_K)},
    [ATN_TYPE_Q6_K] = {"q6_K", ATN_QK_K, sizeof(atn_block_q6_K)},
};

int atn_type_known(int type) {
    return type >= 0 && type < ATN_TYPE_COUNT && TYPES[type].block_size > 0;
}

const char *atn_type_name(int type) {
    return atn_type_known(type) ? TYPES[type].name : "unknown";
}

int atn_type_block_size(int type) {
    return atn_type_known(type) ? TYPES[type].block_size : 0;
}

size_t atn_type_block_bytes(int type) {
    return atn_type_known(type) ? TYPES[type].block_bytes : 0;
}

size_t atn_row_size(int type, int64_t n) {
    if (!atn_type_known(type) || n < 0) return 0;
    int64_t bs = TYPES[type].block_size;
    if (n % bs != 0) return 0;
    uint64_t nblocks = (uint64_t)(n / bs);
    size_t bb = TYPES[type].block_bytes;
    /* A row larger than SIZE_MAX (possible on wasm32, where size_t is 32 bits)
     * cannot exist in memory: report it as invalid rather than wrap. */
    if (nblocks > (uint64_t)SIZE_MAX / bb) return 0;
    return (size_t)nblocks * bb;
}
