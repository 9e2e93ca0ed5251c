/* gguf.h — reader for GGUF v2/v3 files held in memory.
 *
 * Every file is treated as hostile: every offset, length, count and
 * dimension is checked before it is used; a bad file gives NULL and a
 * one-line reason, never an out-of-bounds read. Nothing is copied: strings
 * and tensor data point into the caller's buffer, which must outlive the
 * atn_gguf.
 */
#ifndef ATN_GGUF_H
#define ATN_GGUF_H

#include <stddef.h>
#include <stdint.h>
#include "tensor.h"

/* Metadata value types, numbered as in the GGUF specification. */
enum atn_gguf_type {
    ATN_GGUF_UINT8 = 0, ATN_GGUF_INT8 = 1, ATN_GGUF_UINT16 = 2, ATN_GGUF_INT16 = 3,
    ATN_GGUF_UINT32 = 4, ATN_GGUF_INT32 = 5, ATN_GGUF_FLOAT32 = 6, ATN_GGUF_BOOL = 7,
    ATN_GGUF_STRING = 8, ATN_GGUF_ARRAY = 9, ATN_GGUF_UINT64 = 10, ATN_GGUF_INT64 = 11,
    ATN_GGUF_FLOAT64 = 12,
};

typedef struct atn_gguf atn_gguf;

/* Parse `data` (size bytes). On failure returns NULL and writes a one-line
 * reason into err (errcap bytes, may be 0). */
atn_gguf *atn_gguf_open(const uint8_t *data, size_t size, char *err, size_t errcap);
void atn_gguf_close(atn_gguf *g);

uint32_t atn_gguf_version(const atn_gguf *g);
size_t atn_gguf_alignment(const atn_gguf *g);

/* ---- metadata ---- */
int atn_gguf_n_kv(const atn_gguf *g);
const char *atn_gguf_key(const atn_gguf *g, int i);      /* NUL-terminated copy owned by g */
int atn_gguf_find(const atn_gguf *g, const char *key);   /* index or -1 */
int atn_gguf_kv_type(const atn_gguf *g, int i);          /* enum atn_gguf_type */

/* Typed getters by key. Return 0 on success, -1 if the key is missing,
 * -2 if it has an incompatible type (or an integer out of range).
 * Integer getters accept any integer type (and bool) that fits. */
int atn_gguf_get_i64(const atn_gguf *g, const char *key, int64_t *out);
int atn_gguf_get_u32(const atn_gguf *g, const char *key, uint32_t *out);
int atn_gguf_get_f32(const atn_gguf *g, const char *key, float *out); /* from f32 or f64 */
int atn_gguf_get_bool(const atn_gguf *g, const char *key, int *out);
/* String: pointer into the file (NOT NUL-terminated) and its length. */
int atn_gguf_get_str(const atn_gguf *g, const char *key, const char **s, size_t *len);

/* Arrays: element type and count. */
int atn_gguf_get_arr(const atn_gguf *g, const char *key, int *elem_type, uint64_t *n);
/* Element i of a numeric array (any integer or float type) as double / int64. */
int atn_gguf_arr_f64(const atn_gguf *g, const char *key, uint64_t i, double *out);
int atn_gguf_arr_i64(const atn_gguf *g, const char *key, uint64_t i, int64_t *out);
/* Element i of a string array (pointer into the file, not NUL-terminated). */
int atn_gguf_arr_str(const atn_gguf *g, const char *key, uint64_t i, const char **s, size_t *len);
/* Raw pointer to a numeric array's packed little-endian elements. */
int atn_gguf_arr_data(const atn_gguf *g, const char *key, const void **data);

/* ---- tensors ---- */
int atn_gguf_n_tensors(const atn_gguf *g);
const atn_tensor *atn_gguf_tensor(const atn_gguf *g, int i);
const atn_tensor *atn_gguf_find_tensor(const atn_gguf *g, const char *name); /* NULL if absent */

#endif
