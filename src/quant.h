/* quant.h — ggml's block formats, byte-exact with GGUF, and their scalar
 * reference (de)quantizers. These are the test oracles for every SIMD kernel.
 *
 * Layouts (QK = values per block):
 *   q4_0  {f16 d; u8 qs[16]}              x = d * (nibble - 8)         QK 32
 *   q4_1  {f16 d, m; u8 qs[16]}           x = d * nibble + m           QK 32
 *   q5_0  {f16 d; u8 qh[4]; u8 qs[16]}    x = d * (5-bit - 16)         QK 32
 *   q5_1  {f16 d, m; u8 qh[4]; u8 qs[16]} x = d * 5-bit + m            QK 32
 *   q8_0  {f16 d; i8 qs[32]}              x = d * q                    QK 32
 *   q4_K  {f16 d, dmin; u8 scales[12]; u8 qs[128]}          QK 256 (8 x 32, 6-bit scales/mins)
 *   q5_K  {f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]} QK 256
 *   q6_K  {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}      QK 256 (16 x 16)
 * In q4_0/q4_1/q5_x, value j < 16 is the low nibble of qs[j], value j + 16 the
 * high nibble (see docs/conventions.md for the K-quants).
 */
#ifndef ATN_QUANT_H
#define ATN_QUANT_H

#include <stdint.h>
#include "tensor.h"

#define ATN_QK 32    /* block size of the simple quants */
#define ATN_QK_K 256 /* super-block size of the K-quants */

typedef uint16_t atn_f16;  /* IEEE half, stored bits */
typedef uint16_t atn_bf16; /* bfloat16, stored bits */

typedef struct { atn_f16 d; uint8_t qs[ATN_QK / 2]; } atn_block_q4_0;
typedef struct { atn_f16 d, m; uint8_t qs[ATN_QK / 2]; } atn_block_q4_1;
typedef struct { atn_f16 d; uint8_t qh[4]; uint8_t qs[ATN_QK / 2]; } atn_block_q5_0;
typedef struct { atn_f16 d, m; uint8_t qh[4]; uint8_t qs[ATN_QK / 2]; } atn_block_q5_1;
typedef struct { atn_f16 d; int8_t qs[ATN_QK]; } atn_block_q8_0;
typedef struct { atn_f16 d, dmin; uint8_t scales[12]; uint8_t qs[ATN_QK_K / 2]; } atn_block_q4_K;
typedef struct { atn_f16 d, dmin; uint8_t scales[12]; uint8_t qh[ATN_QK_K / 8]; uint8_t qs[ATN_QK_K / 2]; } atn_block_q5_K;
typedef struct { uint8_t ql[ATN_QK_K / 2]; uint8_t qh[ATN_QK_K / 4]; int8_t scales[ATN_QK_K / 16]; atn_f16 d; } atn_block_q6_K;

float atn_f16_to_f32(atn_f16 h);
atn_f16 atn_f32_to_f16(float f);
float atn_bf16_to_f32(atn_bf16 h);
atn_bf16 atn_f32_to_bf16(float f);

/* Scalar reference: n values of one row (n a multiple of the block size). */
void atn_dequantize_row(int type, const void *src, float *dst, int64_t n);
/* Reference quantizer for every supported type. Returns bytes written, or 0
 * if the type is unsupported or n is not a multiple of its block size. */
size_t atn_quantize_row(int type, const float *src, void *dst, int64_t n);

#endif
