/* gguf.c — GGUF v2/v3 reader over bytes in memory.
 *
 * Layout (all little-endian):
 *   "GGUF" u32 version  u64 n_tensors  u64 n_kv
 *   n_kv x { string key; u32 type; value }
 *   n_tensors x { string name; u32 n_dims; u64 ne[n_dims]; u32 type; u64 offset }
 *   padding to general.alignment (default 32), then the data section;
 *   each tensor's offset is relative to the data section and aligned.
 *   string = u64 length + bytes (no NUL);  array = u32 elem_type, u64 n, elems.
 *
 * The file is hostile until proven otherwise. Every read goes through the
 * cursor functions below, which check the remaining length first; every
 * count is compared with what the remaining bytes could possibly hold before
 * anything is allocated for it, so a 100-byte file cannot make us allocate
 * gigabytes. Sizes are computed with explicit overflow checks (size_t is 32
 * bits in the WASM build).
 *
 * The host is assumed little-endian (x86, ARM, WebAssembly all are); values
 * are read with memcpy, so no unaligned access happens.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checked.h"
#include "gguf.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_ALIGNMENT (1u << 20)
#define GGUF_MAX_ARRAY_DEPTH 8
#define GGUF_MAX_KEY_LEN 65535
#define GGUF_MAX_NAME_LEN 4096
/* Smallest possible encodings, used to bound counts by the bytes left. */
#define GGUF_MIN_KV_BYTES (8 + 1 + 4 + 1)        /* key len, 1-byte key, type, u8 value */
#define GGUF_MIN_TENSOR_BYTES (8 + 1 + 4 + 8 + 4 + 8)
#define GGUF_MIN_ARRAY_BYTES (4 + 8)

typedef struct gguf_kv {
    char *key;            /* NUL-terminated copy */
    uint32_t type;        /* enum atn_gguf_type */
    size_t off;           /* scalar: the value; string: its bytes; array: first element */
    uint64_t len;         /* string: byte length; array: element count */
    uint32_t elem_type;   /* arrays */
    size_t *str_offs;     /* arrays of strings: offset of each element's length field */
} gguf_kv;

struct atn_gguf {
    const uint8_t *data;
    size_t size;
    uint32_t version;
    size_t alignment;
    size_t data_offset;   /* start of the data section */
    int n_kv;
    gguf_kv *kv;
    int *kv_sorted;       /* kv indices sorted by key, for lookup */
    int n_tensors;
    atn_tensor *tensors;
    int *t_sorted;        /* tensor indices sorted by name */
};

typedef struct cursor {
    const uint8_t *p;
    size_t size;
    size_t pos;
    char *err;
    size_t errcap;
} cursor;

static int fail(cursor *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static int fail(cursor *c, const char *fmt, ...) {
    if (c->err && c->errcap) {
        int n = snprintf(c->err, c->errcap, "gguf: ");
        if (n >= 0 && (size_t)n < c->errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static size_t left(const cursor *c) { return c->size - c->pos; }

/* A byte count in words for messages: "13.1 MB", "608 bytes". */
static const char *human_bytes(uint64_t n, char *buf, size_t cap) {
    if (n >= 1000000) snprintf(buf, cap, "%.1f MB", (double)n / 1e6);
    else if (n >= 10000) snprintf(buf, cap, "%.1f KB", (double)n / 1e3);
    else snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
    return buf;
}

static int need(cursor *c, size_t n, const char *what) {
    if (n > left(c)) {
        char sz[32];
        return fail(c, "the file ends early (after %s, inside the header) - was the download cut? "
                       "(%s needs %zu bytes at offset %zu, only %zu left)",
                    human_bytes(c->size, sz, sizeof sz), what, n, c->pos, left(c));
    }
    return 0;
}

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (need(c, 4, what)) return -1;
    memcpy(v, c->p + c->pos, 4);
    c->pos += 4;
    return 0;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (need(c, 8, what)) return -1;
    memcpy(v, c->p + c->pos, 8);
    c->pos += 8;
    return 0;
}

/* A string: sets *off to its first byte and *len to its length. */
static int rd_str(cursor *c, size_t *off, uint64_t *len, const char *what) {
    uint64_t n;
    if (rd_u64(c, &n, what)) return -1;
    if (n > left(c))
        return fail(c, "%s: string length %llu at offset %zu runs past the end of the file",
                    what, (unsigned long long)n, c->pos - 8);
    *off = c->pos;
    *len = n;
    c->pos += (size_t)n;
    return 0;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) { i++; continue; }
        size_t k;
        uint32_t cp, min;
        if ((b & 0xE0) == 0xC0) { k = 1; cp = b & 0x1F; min = 0x80; }
        else if ((b & 0xF0) == 0xE0) { k = 2; cp = b & 0x0F; min = 0x800; }
        else if ((b & 0xF8) == 0xF0) { k = 3; cp = b & 0x07; min = 0x10000; }
        else return 0;
        if (n - i - 1 < k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* A key or tensor name: non-empty, bounded, valid UTF-8, no control bytes.
 * Returns a malloc'd NUL-terminated copy or NULL (error set). */
static char *rd_name(cursor *c, const char *what, int idx, size_t maxlen) {
    size_t off;
    uint64_t len;
    char ctx[64];
    snprintf(ctx, sizeof ctx, "%s %d", what, idx);
    if (rd_str(c, &off, &len, ctx)) return NULL;
    if (len == 0) { fail(c, "%s is empty", ctx); return NULL; }
    if (len > maxlen) { fail(c, "%s is %llu bytes long (limit %zu)", ctx, (unsigned long long)len, maxlen); return NULL; }
    if (memchr(c->p + off, 0, (size_t)len)) { fail(c, "%s contains a NUL byte", ctx); return NULL; }
    /* control characters would also break one-line error messages */
    for (size_t i = 0; i < (size_t)len; i++)
        if (c->p[off + i] < 0x20 || c->p[off + i] == 0x7F) {
            fail(c, "%s contains control character 0x%02x", ctx, c->p[off + i]);
            return NULL;
        }
    if (!utf8_valid(c->p + off, (size_t)len)) { fail(c, "%s is not valid UTF-8", ctx); return NULL; }
    char *s = malloc((size_t)len + 1);
    if (!s) { fail(c, "out of memory"); return NULL; }
    memcpy(s, c->p + off, (size_t)len);
    s[len] = 0;
    return s;
}

static size_t scalar_size(uint32_t t) {
    switch (t) {
    case ATN_GGUF_UINT8: case ATN_GGUF_INT8: case ATN_GGUF_BOOL: return 1;
    case ATN_GGUF_UINT16: case ATN_GGUF_INT16: return 2;
    case ATN_GGUF_UINT32: case ATN_GGUF_INT32: case ATN_GGUF_FLOAT32: return 4;
    case ATN_GGUF_UINT64: case ATN_GGUF_INT64: case ATN_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *type_str(uint32_t t) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

/* Skip one array body (after its elem type and count were read), used for
 * arrays nested inside arrays: accepted, never exposed element by element. */
static int skip_array(cursor *c, uint32_t et, uint64_t n, int depth, const char *key) {
    if (depth > GGUF_MAX_ARRAY_DEPTH)
        return fail(c, "key '%s': arrays nested deeper than %d", key, GGUF_MAX_ARRAY_DEPTH);
    size_t es = scalar_size(et);
    if (es) {
        if (n > left(c) / es)
            return fail(c, "key '%s': array of %llu %s runs past the end of the file",
                        key, (unsigned long long)n, type_str(et));
        c->pos += (size_t)n * es;
        return 0;
    }
    if (et == ATN_GGUF_STRING) {
        if (n > left(c) / 8)
            return fail(c, "key '%s': array of %llu strings cannot fit in the %zu bytes left",
                        key, (unsigned long long)n, left(c));
        for (uint64_t i = 0; i < n; i++) {
            size_t off;
            uint64_t len;
            if (rd_str(c, &off, &len, key)) return -1;
        }
        return 0;
    }
    if (et == ATN_GGUF_ARRAY) {
        if (n > left(c) / GGUF_MIN_ARRAY_BYTES)
            return fail(c, "key '%s': array of %llu arrays cannot fit in the %zu bytes left",
                        key, (unsigned long long)n, left(c));
        for (uint64_t i = 0; i < n; i++) {
            uint32_t et2;
            uint64_t n2;
            if (rd_u32(c, &et2, key) || rd_u64(c, &n2, key)) return -1;
            if (skip_array(c, et2, n2, depth + 1, key)) return -1;
        }
        return 0;
    }
    return fail(c, "key '%s': unknown array element type %u", key, et);
}

static int parse_value(cursor *c, gguf_kv *kv) {
    const char *key = kv->key;
    if (kv->type == ATN_GGUF_STRING) {
        size_t off;
        uint64_t len;
        if (rd_str(c, &off, &len, key)) return -1;
        kv->off = off;
        kv->len = len;
        return 0;
    }
    if (kv->type == ATN_GGUF_ARRAY) {
        uint32_t et;
        uint64_t n;
        if (rd_u32(c, &et, key) || rd_u64(c, &n, key)) return -1;
        kv->elem_type = et;
        kv->len = n;
        kv->off = c->pos;
        if (et == ATN_GGUF_STRING) {
            if (n > left(c) / 8)
                return fail(c, "key '%s': array of %llu strings cannot fit in the %zu bytes left",
                            key, (unsigned long long)n, left(c));
            if (n > SIZE_MAX / sizeof(size_t)) return fail(c, "key '%s': array too large", key);
            kv->str_offs = atn_malloc_array((size_t)n, sizeof(size_t));
            if (!kv->str_offs) return fail(c, "out of memory for key '%s' (%llu strings)", key, (unsigned long long)n);
            for (uint64_t i = 0; i < n; i++) {
                size_t off;
                uint64_t len;
                kv->str_offs[i] = c->pos;
                if (rd_str(c, &off, &len, key)) return -1;
            }
            return 0;
        }
        if (et == ATN_GGUF_BOOL) {
            if (n > left(c)) return fail(c, "key '%s': array of %llu bool runs past the end of the file", key, (unsigned long long)n);
            for (uint64_t i = 0; i < n; i++)
                if (c->p[c->pos + i] > 1) return fail(c, "key '%s': bool element %llu has value %u", key, (unsigned long long)i, c->p[c->pos + i]);
        }
        return skip_array(c, et, n, 1, key);
    }
    size_t es = scalar_size(kv->type);
    if (!es) return fail(c, "key '%s': unknown value type %u", key, kv->type);
    if (need(c, es, key)) return -1;
    if (kv->type == ATN_GGUF_BOOL && c->p[c->pos] > 1)
        return fail(c, "key '%s': bool has value %u", key, c->p[c->pos]);
    kv->off = c->pos;
    c->pos += es;
    return 0;
}

/* ggml's names for the type ids atento does not read, so an error can say
 * "q2_K" instead of a bare number. */
static const char *ggml_type_name(uint32_t t) {
    static const char *names[] = {
        "f32", "f16", "q4_0", "q4_1", "q4_2", "q4_3", "q5_0", "q5_1", "q8_0", "q8_1",
        "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
        "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m",
        "bf16", "q4_0_4_4", "q4_0_4_8", "q4_0_8_8", "tq1_0", "tq2_0", "iq4_nl_4_4", "iq4_nl_4_8", "iq4_nl_8_8", "mxfp4"};
    return t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

/* ---- sorting for duplicate detection and lookup ---- */

typedef struct named { const char *name; int idx; } named;

static int cmp_named(const void *a, const void *b) {
    return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

static int bsearch_name(const int *sorted, int n, const char *const *names, size_t stride, const char *key) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *s = *(const char *const *)((const char *)names + (size_t)sorted[mid] * stride);
        int r = strcmp(s, key);
        if (r == 0) return sorted[mid];
        if (r < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* Sort indices 0..n-1 by names[i]; report the first duplicate. (No global
 * state: files may be opened from several threads natively.) */
static int *sorted_index(cursor *c, const char **names, int n, const char *what) {
    named *tmp = atn_malloc_array((size_t)n, sizeof(named));
    int *idx = atn_malloc_array((size_t)n, sizeof(int));
    if (!tmp || !idx) {
        free(tmp);
        free(idx);
        fail(c, "out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        tmp[i].name = names[i];
        tmp[i].idx = i;
    }
    qsort(tmp, (size_t)n, sizeof(named), cmp_named);
    for (int i = 0; i < n; i++) idx[i] = tmp[i].idx;
    for (int i = 1; i < n; i++)
        if (strcmp(tmp[i - 1].name, tmp[i].name) == 0) {
            fail(c, "duplicate %s '%s'", what, tmp[i].name);
            free(tmp);
            free(idx);
            return NULL;
        }
    free(tmp);
    return idx;
}

static int cmp_tensor_offset(const void *a, const void *b) {
    const atn_tensor *x = *(const atn_tensor *const *)a, *y = *(const atn_tensor *const *)b;
    uintptr_t px = (uintptr_t)x->data, py = (uintptr_t)y->data;
    return px < py ? -1 : px > py;
}

/* ---- the parser ---- */

static int parse_kvs(cursor *c, atn_gguf *g, uint64_t n_kv) {
    g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof(gguf_kv));
    if (!g->kv) return fail(c, "out of memory for %llu metadata entries", (unsigned long long)n_kv);
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        kv->key = rd_name(c, "metadata key", (int)i, GGUF_MAX_KEY_LEN);
        if (!kv->key) return -1;
        g->n_kv = (int)i + 1; /* so close() frees what was built */
        if (rd_u32(c, &kv->type, kv->key)) return -1;
        if (parse_value(c, kv)) return -1;
    }
    const char **names = atn_malloc_array((size_t)g->n_kv, sizeof(char *));
    if (!names) return fail(c, "out of memory");
    for (int i = 0; i < g->n_kv; i++) names[i] = g->kv[i].key;
    g->kv_sorted = sorted_index(c, names, g->n_kv, "metadata key");
    free(names);
    return g->kv_sorted ? 0 : -1;
}

static int read_alignment(cursor *c, atn_gguf *g) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (atn_gguf_find(g, "general.alignment") < 0) return 0;
    int64_t a;
    if (atn_gguf_get_i64(g, "general.alignment", &a) != 0)
        return fail(c, "general.alignment is not an integer");
    if (a <= 0 || (uint64_t)a > GGUF_MAX_ALIGNMENT || (a & (a - 1)) != 0)
        return fail(c, "general.alignment %lld is not a power of two in 1..%u", (long long)a, GGUF_MAX_ALIGNMENT);
    g->alignment = (size_t)a;
    return 0;
}

static int parse_tensors(cursor *c, atn_gguf *g, uint64_t n_tensors) {
    g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof(atn_tensor));
    uint64_t *offs = atn_malloc_array((size_t)n_tensors, sizeof(uint64_t));
    if (!g->tensors || !offs) {
        free(offs);
        return fail(c, "out of memory for %llu tensors", (unsigned long long)n_tensors);
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        atn_tensor *t = &g->tensors[i];
        char *name = rd_name(c, "tensor name", (int)i, GGUF_MAX_NAME_LEN);
        if (!name) goto bad;
        t->name = name;
        g->n_tensors = (int)i + 1;
        uint32_t nd, type;
        if (rd_u32(c, &nd, name)) goto bad;
        if (nd < 1 || nd > ATN_MAX_DIMS) {
            fail(c, "tensor '%s': %u dimensions (1..%d supported)", name, nd, ATN_MAX_DIMS);
            goto bad;
        }
        t->n_dims = (int)nd;
        uint64_t nel = 1;
        for (int d = 0; d < ATN_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne;
            if (rd_u64(c, &ne, name)) goto bad;
            if (ne == 0) { fail(c, "tensor '%s': dimension %u is zero", name, d); goto bad; }
            if (ne > (uint64_t)INT64_MAX || nel > (uint64_t)INT64_MAX / ne) {
                fail(c, "tensor '%s': element count overflows (dimension %u = %llu)", name, d, (unsigned long long)ne);
                goto bad;
            }
            nel *= ne;
            t->ne[d] = (int64_t)ne;
        }
        if (rd_u32(c, &type, name)) goto bad;
        if (!atn_type_known((int)type)) {
            const char *gn = ggml_type_name(type);
            if (gn)
                fail(c, "tensor '%s': type %s (id %u) is not supported (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_K q5_K q6_K are)", name, gn, type);
            else
                fail(c, "tensor '%s': unknown tensor type id %u", name, type);
            goto bad;
        }
        t->type = (int)type;
        int bs = atn_type_block_size(t->type);
        if (bs <= 0 || t->ne[0] % bs != 0) {
            fail(c, "tensor '%s': row length %lld is not a multiple of %s's block size %d",
                 name, (long long)t->ne[0], atn_type_name(t->type), bs);
            goto bad;
        }
        /* bytes = (ne0 / bs) * block_bytes * (nel / ne0), each step checked */
        uint64_t blocks_per_row = (uint64_t)t->ne[0] / (uint64_t)bs;
        uint64_t bb = atn_type_block_bytes(t->type);
        uint64_t rows = nel / (uint64_t)t->ne[0];
        if (bb == 0 || blocks_per_row > UINT64_MAX / bb || blocks_per_row * bb > UINT64_MAX / rows ||
            blocks_per_row * bb * rows > (uint64_t)SIZE_MAX) {
            fail(c, "tensor '%s': byte size overflows", name);
            goto bad;
        }
        t->nbytes = (size_t)(blocks_per_row * bb * rows);
        if (rd_u64(c, &offs[i], name)) goto bad;
    }
    /* the data section starts at the next multiple of the alignment */
    size_t a = g->alignment;
    size_t pad = (a - c->pos % a) % a;
    if (n_tensors && pad > left(c)) {
        char sz[32];
        fail(c, "the file ends early (after %s, before its tensor data) - was the download cut? "
                "(the data section would start at %zu)", human_bytes(c->size, sz, sizeof sz), c->pos + pad);
        goto bad;
    }
    g->data_offset = c->pos + (pad <= left(c) ? pad : left(c));
    size_t data_size = c->size - g->data_offset;
    /* A file cut short (an interrupted download) is the usual reason for
     * tensor data past the end: say that first, with the size the tensor
     * table implies, then the details. */
    uint64_t expected = 0;
    int past_end = -1;
    for (int i = 0; i < g->n_tensors; i++) {
        uint64_t end = offs[i] > UINT64_MAX - g->tensors[i].nbytes ? UINT64_MAX : offs[i] + g->tensors[i].nbytes;
        if (end > expected) expected = end;
        if (past_end < 0 && end > data_size) past_end = i;
    }
    if (past_end >= 0 && offs[past_end] % a == 0) {
        const atn_tensor *t = &g->tensors[past_end];
        char want[32], got[32];
        uint64_t total = expected > UINT64_MAX - g->data_offset ? UINT64_MAX : expected + g->data_offset;
        fail(c, "the file ends early: %s expected, %s read - was the download cut? "
                "(tensor '%s': data [%llu, +%zu) runs past the end of the data section, %zu bytes)",
             human_bytes(total, want, sizeof want), human_bytes(c->size, got, sizeof got), t->name,
             (unsigned long long)offs[past_end], t->nbytes, data_size);
        goto bad;
    }
    for (int i = 0; i < g->n_tensors; i++) {
        atn_tensor *t = &g->tensors[i];
        if (offs[i] % a != 0) {
            fail(c, "tensor '%s': data offset %llu is not a multiple of the alignment %zu",
                 t->name, (unsigned long long)offs[i], a);
            goto bad;
        }
        if (offs[i] > data_size || t->nbytes > data_size - offs[i]) {
            fail(c, "tensor '%s': data [%llu, +%zu) runs past the end of the data section (%zu bytes)",
                 t->name, (unsigned long long)offs[i], t->nbytes, data_size);
            goto bad;
        }
        t->data = c->p + g->data_offset + (size_t)offs[i];
    }
    free(offs);
    offs = NULL;
    /* no two tensors may share bytes */
    if (g->n_tensors > 1) {
        atn_tensor **by_off = atn_malloc_array((size_t)g->n_tensors, sizeof(atn_tensor *));
        if (!by_off) return fail(c, "out of memory");
        for (int i = 0; i < g->n_tensors; i++) by_off[i] = &g->tensors[i];
        qsort(by_off, (size_t)g->n_tensors, sizeof(atn_tensor *), cmp_tensor_offset);
        for (int i = 1; i < g->n_tensors; i++) {
            const atn_tensor *p = by_off[i - 1], *q = by_off[i];
            if ((const uint8_t *)p->data + p->nbytes > (const uint8_t *)q->data) {
                fail(c, "tensors '%s' and '%s' overlap in the data section", p->name, q->name);
                free(by_off);
                return -1;
            }
        }
        free(by_off);
    }
    const char **names = atn_malloc_array((size_t)g->n_tensors, sizeof(char *));
    if (!names) return fail(c, "out of memory");
    for (int i = 0; i < g->n_tensors; i++) names[i] = g->tensors[i].name;
    g->t_sorted = sorted_index(c, names, g->n_tensors, "tensor name");
    free(names);
    return g->t_sorted ? 0 : -1;
bad:
    free(offs);
    return -1;
}

atn_gguf *atn_gguf_open(const uint8_t *data, size_t size, char *err, size_t errcap) {
    cursor c = {data, size, 0, err, errcap};
    if (err && errcap) err[0] = 0;
    if (!data) { fail(&c, "no data"); return NULL; }
    if (size < 4 || memcmp(data, "GGUF", 4) != 0) {
        fail(&c, "not a GGUF file (bad magic)");
        return NULL;
    }
    c.pos = 4;
    uint32_t version;
    if (rd_u32(&c, &version, "version")) return NULL;
    if (version == 1) { fail(&c, "GGUF v1 is not supported (only v2 and v3); re-convert the model"); return NULL; }
    if (version != 2 && version != 3) {
        if ((version & 0xFFFF) == 0 && (version >> 16) != 0)
            fail(&c, "big-endian GGUF (version %u byte-swapped) is not supported", version >> 24);
        else
            fail(&c, "unsupported GGUF version %u (only v2 and v3)", version);
        return NULL;
    }
    uint64_t n_tensors, n_kv;
    if (rd_u64(&c, &n_tensors, "tensor count") || rd_u64(&c, &n_kv, "metadata count")) return NULL;
    if (n_kv > (uint64_t)INT_MAX || n_kv > left(&c) / GGUF_MIN_KV_BYTES) {
        fail(&c, "metadata count %llu is more than the %zu bytes left could hold", (unsigned long long)n_kv, left(&c));
        return NULL;
    }
    if (n_tensors > (uint64_t)INT_MAX || n_tensors > left(&c) / GGUF_MIN_TENSOR_BYTES) {
        fail(&c, "tensor count %llu is more than the %zu bytes left could hold", (unsigned long long)n_tensors, left(&c));
        return NULL;
    }
    atn_gguf *g = calloc(1, sizeof *g);
    if (!g) { fail(&c, "out of memory"); return NULL; }
    g->data = data;
    g->size = size;
    g->version = version;
    if (parse_kvs(&c, g, n_kv) || read_alignment(&c, g)) goto bad;
    if (n_tensors > left(&c) / GGUF_MIN_TENSOR_BYTES) {
        fail(&c, "tensor count %llu is more than the %zu bytes left could hold", (unsigned long long)n_tensors, left(&c));
        goto bad;
    }
    if (parse_tensors(&c, g, n_tensors)) goto bad;
    return g;
bad:
    atn_gguf_close(g);
    return NULL;
}

void atn_gguf_close(atn_gguf *g) {
    if (!g) return;
    if (g->kv)
        for (int i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_offs);
        }
    if (g->tensors)
        for (int i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->kv);
    free(g->kv_sorted);
    free(g->tensors);
    free(g->t_sorted);
    free(g);
}

uint32_t atn_gguf_version(const atn_gguf *g) { return g->version; }
size_t atn_gguf_alignment(const atn_gguf *g) { return g->alignment; }

/* ---- metadata access ---- */

int atn_gguf_n_kv(const atn_gguf *g) { return g->n_kv; }

const char *atn_gguf_key(const atn_gguf *g, int i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

int atn_gguf_find(const atn_gguf *g, const char *key) {
    if (!g->kv_sorted || !key) return -1;
    return bsearch_name(g->kv_sorted, g->n_kv, (const char *const *)&g->kv[0].key, sizeof(gguf_kv), key);
}

int atn_gguf_kv_type(const atn_gguf *g, int i) {
    return i >= 0 && i < g->n_kv ? (int)g->kv[i].type : -1;
}

static const gguf_kv *lookup(const atn_gguf *g, const char *key) {
    int i = atn_gguf_find(g, key);
    return i < 0 ? NULL : &g->kv[i];
}

static int is_int_type(uint32_t t) {
    return t == ATN_GGUF_UINT8 || t == ATN_GGUF_INT8 || t == ATN_GGUF_UINT16 || t == ATN_GGUF_INT16 ||
           t == ATN_GGUF_UINT32 || t == ATN_GGUF_INT32 || t == ATN_GGUF_UINT64 || t == ATN_GGUF_INT64 ||
           t == ATN_GGUF_BOOL;
}

/* Integer at p of type t into *out; -2 if it does not fit in int64. */
static int load_int(const uint8_t *p, uint32_t t, int64_t *out) {
    switch (t) {
    case ATN_GGUF_UINT8: case ATN_GGUF_BOOL: *out = p[0]; return 0;
    case ATN_GGUF_INT8: *out = (int8_t)p[0]; return 0;
    case ATN_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case ATN_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
    case ATN_GGUF_UINT32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case ATN_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
    case ATN_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
    case ATN_GGUF_UINT64: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v > (uint64_t)INT64_MAX) return -2;
        *out = (int64_t)v;
        return 0;
    }
    default: return -2;
    }
}

int atn_gguf_get_i64(const atn_gguf *g, const char *key, int64_t *out) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (!is_int_type(kv->type)) return -2;
    return load_int(g->data + kv->off, kv->type, out);
}

int atn_gguf_get_u32(const atn_gguf *g, const char *key, uint32_t *out) {
    int64_t v;
    int r = atn_gguf_get_i64(g, key, &v);
    if (r) return r;
    if (v < 0 || v > (int64_t)UINT32_MAX) return -2;
    *out = (uint32_t)v;
    return 0;
}

int atn_gguf_get_f32(const atn_gguf *g, const char *key, float *out) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type == ATN_GGUF_FLOAT32) { memcpy(out, g->data + kv->off, 4); return 0; }
    if (kv->type == ATN_GGUF_FLOAT64) {
        double d;
        memcpy(&d, g->data + kv->off, 8);
        *out = (float)d;
        return 0;
    }
    return -2;
}

int atn_gguf_get_bool(const atn_gguf *g, const char *key, int *out) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type != ATN_GGUF_BOOL) return -2;
    *out = g->data[kv->off] != 0;
    return 0;
}

int atn_gguf_get_str(const atn_gguf *g, const char *key, const char **s, size_t *len) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type != ATN_GGUF_STRING) return -2;
    *s = (const char *)g->data + kv->off;
    *len = (size_t)kv->len;
    return 0;
}

int atn_gguf_get_arr(const atn_gguf *g, const char *key, int *elem_type, uint64_t *n) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type != ATN_GGUF_ARRAY) return -2;
    if (elem_type) *elem_type = (int)kv->elem_type;
    if (n) *n = kv->len;
    return 0;
}

/* The array element i of a numeric array: pointer and size, or an error. */
static int numeric_elem(const atn_gguf *g, const char *key, uint64_t i, const gguf_kv **kvp, const uint8_t **p) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type != ATN_GGUF_ARRAY) return -2;
    size_t es = scalar_size(kv->elem_type);
    if (!es || i >= kv->len) return -2;
    *kvp = kv;
    *p = g->data + kv->off + (size_t)i * es;
    return 0;
}

int atn_gguf_arr_f64(const atn_gguf *g, const char *key, uint64_t i, double *out) {
    const gguf_kv *kv;
    const uint8_t *p;
    int r = numeric_elem(g, key, i, &kv, &p);
    if (r) return r;
    if (kv->elem_type == ATN_GGUF_FLOAT32) { float f; memcpy(&f, p, 4); *out = f; return 0; }
    if (kv->elem_type == ATN_GGUF_FLOAT64) { memcpy(out, p, 8); return 0; }
    if (kv->elem_type == ATN_GGUF_UINT64) { uint64_t v; memcpy(&v, p, 8); *out = (double)v; return 0; }
    int64_t v;
    if (load_int(p, kv->elem_type, &v)) return -2;
    *out = (double)v;
    return 0;
}

int atn_gguf_arr_i64(const atn_gguf *g, const char *key, uint64_t i, int64_t *out) {
    const gguf_kv *kv;
    const uint8_t *p;
    int r = numeric_elem(g, key, i, &kv, &p);
    if (r) return r;
    return load_int(p, kv->elem_type, out);
}

int atn_gguf_arr_str(const atn_gguf *g, const char *key, uint64_t i, const char **s, size_t *len) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type != ATN_GGUF_ARRAY || kv->elem_type != ATN_GGUF_STRING || i >= kv->len) return -2;
    size_t off = kv->str_offs[i];
    uint64_t n;
    memcpy(&n, g->data + off, 8); /* checked at open */
    *s = (const char *)g->data + off + 8;
    *len = (size_t)n;
    return 0;
}

int atn_gguf_arr_data(const atn_gguf *g, const char *key, const void **data) {
    const gguf_kv *kv = lookup(g, key);
    if (!kv) return -1;
    if (kv->type != ATN_GGUF_ARRAY || !scalar_size(kv->elem_type)) return -2;
    *data = g->data + kv->off;
    return 0;
}

/* ---- tensors ---- */

int atn_gguf_n_tensors(const atn_gguf *g) { return g->n_tensors; }

const atn_tensor *atn_gguf_tensor(const atn_gguf *g, int i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const atn_tensor *atn_gguf_find_tensor(const atn_gguf *g, const char *name) {
    if (!g->t_sorted || !name) return NULL;
    int i = bsearch_name(g->t_sorted, g->n_tensors, &g->tensors[0].name, sizeof(atn_tensor), name);
    return i < 0 ? NULL : &g->tensors[i];
}
