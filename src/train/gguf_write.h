/* gguf_write.h — a modified copy of a GGUF file: the same tensors (names,
 * types, shapes, data offsets), some of them with new values, and the
 * metadata with keys added or replaced. What a fine-tuned model is saved as. */
#ifndef ATN_GGUF_WRITE_H
#define ATN_GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include "../gguf.h"

typedef struct atn_gguf_out {
    uint8_t *bytes;        /* the new file (atn_malloc: the caller frees it with atn_free) */
    size_t size;
    size_t data_start;     /* where its data section begins */
    const uint8_t *src;    /* the original file's bytes */
    size_t src_data_start; /* where the original's data section begins */
} atn_gguf_out;

/* A new metadata entry: a string (s != NULL) or an u32. */
typedef struct atn_gguf_new_kv { const char *key; const char *s; uint32_t u; } atn_gguf_new_kv;

/* Copy the file (data, size; g parsed from it): every key starting with
 * drop_prefix is left out, then kvs[0..n_kvs) are appended. Returns 0 or -1
 * (atn_error). */
int atn_gguf_copy(const atn_gguf *g, const uint8_t *data, size_t size, const char *drop_prefix,
                  const atn_gguf_new_kv *kvs, int n_kvs, atn_gguf_out *out);

/* Replace tensor `name`'s data in out by `values` (n f32, GGUF order),
 * encoded in the tensor's own type. Returns 0 or -1. */
int atn_gguf_out_set(atn_gguf_out *out, const atn_gguf *g, const char *name, const float *values, size_t n);

#endif
