/* gguf_write.c — see gguf_write.h. The file was already parsed (and every
 * bound checked) by atn_gguf_open; this walks its header once more to find
 * the byte ranges of the metadata entries and of the tensor table, which are
 * copied as they are, and checks each step against the size again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../atento.h"
#include "../error.h"
#include "../quant.h"
#include "gguf_write.h"

typedef struct walk { const uint8_t *p; size_t size, pos; int bad; } walk;

static uint64_t rd(walk *w, size_t n) {
    uint64_t v = 0;
    if (w->bad || n > w->size - w->pos) { w->bad = 1; return 0; }
    memcpy(&v, w->p + w->pos, n); /* little-endian host */
    w->pos += n;
    return v;
}

static void skip(walk *w, uint64_t n) {
    if (w->bad || n > w->size - w->pos) { w->bad = 1; return; }
    w->pos += (size_t)n;
}

static const size_t scalar_size[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static void skip_value(walk *w, uint32_t type, int depth) {
    if (depth > 8 || type > 12) { w->bad = 1; return; }
    if (type == ATN_GGUF_STRING) { skip(w, rd(w, 8)); return; }
    if (type == ATN_GGUF_ARRAY) {
        uint32_t et = (uint32_t)rd(w, 4);
        uint64_t n = rd(w, 8);
        if (et <= 12 && et != ATN_GGUF_STRING && et != ATN_GGUF_ARRAY) {
            if (n > (w->size - w->pos) / scalar_size[et]) { w->bad = 1; return; }
            skip(w, n * scalar_size[et]);
            return;
        }
        for (uint64_t i = 0; i < n && !w->bad; i++) skip_value(w, et, depth + 1);
        return;
    }
    skip(w, scalar_size[type]);
}

static size_t put(uint8_t *dst, size_t at, const void *src, size_t n) {
    if (dst) memcpy(dst + at, src, n);
    return at + n;
}

static size_t put_kv(uint8_t *dst, size_t at, const atn_gguf_new_kv *kv) {
    uint64_t kl = strlen(kv->key);
    at = put(dst, at, &kl, 8);
    at = put(dst, at, kv->key, kl);
    uint32_t type = kv->s ? ATN_GGUF_STRING : ATN_GGUF_UINT32;
    at = put(dst, at, &type, 4);
    if (kv->s) {
        uint64_t sl = strlen(kv->s);
        at = put(dst, at, &sl, 8);
        return put(dst, at, kv->s, sl);
    }
    return put(dst, at, &kv->u, 4);
}

int atn_gguf_copy(const atn_gguf *g, const uint8_t *data, size_t size, const char *drop_prefix,
                  const atn_gguf_new_kv *kvs, int n_kvs, atn_gguf_out *out) {
    memset(out, 0, sizeof *out);
    walk w = {data, size, 24, 0};
    int n_kv = atn_gguf_n_kv(g), n_t = atn_gguf_n_tensors(g);
    size_t *ks = malloc(((size_t)n_kv + 1) * 2 * sizeof(size_t));
    if (!ks) return atn_error("gguf write: out of memory");
    int kept = 0;
    size_t dl = drop_prefix ? strlen(drop_prefix) : 0;
    for (int i = 0; i < n_kv && !w.bad; i++) {
        size_t start = w.pos;
        uint64_t kl = rd(&w, 8);
        size_t kp = w.pos;
        skip(&w, kl);
        skip_value(&w, (uint32_t)rd(&w, 4), 0);
        int drop = dl && kl >= dl && !w.bad && !memcmp(data + kp, drop_prefix, dl);
        if (!drop) { ks[2 * kept] = start; ks[2 * kept + 1] = w.pos; kept++; }
    }
    size_t info_start = w.pos;
    for (int i = 0; i < n_t && !w.bad; i++) {
        skip(&w, rd(&w, 8));
        uint32_t nd = (uint32_t)rd(&w, 4);
        if (nd > 4) w.bad = 1;
        skip(&w, 8 * (uint64_t)nd + 4 + 8);
    }
    size_t info_end = w.pos, align = atn_gguf_alignment(g);
    size_t src_data = info_end + (align - info_end % align) % align;
    if (w.bad || src_data > size) { free(ks); return atn_error("gguf write: the model's header cannot be walked"); }

    /* size the new header: fixed part, kept entries, new entries, tensor table */
    size_t hdr = 24;
    for (int i = 0; i < kept; i++) hdr += ks[2 * i + 1] - ks[2 * i];
    for (int i = 0; i < n_kvs; i++) hdr = put_kv(NULL, hdr, &kvs[i]);
    hdr += info_end - info_start;
    size_t new_data = hdr + (align - hdr % align) % align, body = size - src_data;
    if (new_data > SIZE_MAX - body) { free(ks); return atn_error("gguf write: the new file is too large"); }
    uint8_t *o = atn_malloc(new_data + body);
    if (!o) { free(ks); return atn_error("gguf write: out of memory for a %zu MB file", (new_data + body) >> 20); }
    size_t at = put(o, 0, data, 16); /* magic, version, n_tensors */
    uint64_t nk = (uint64_t)kept + (uint64_t)n_kvs;
    at = put(o, at, &nk, 8);
    for (int i = 0; i < kept; i++) at = put(o, at, data + ks[2 * i], ks[2 * i + 1] - ks[2 * i]);
    for (int i = 0; i < n_kvs; i++) at = put_kv(o, at, &kvs[i]);
    at = put(o, at, data + info_start, info_end - info_start);
    memset(o + at, 0, new_data - at);
    memcpy(o + new_data, data + src_data, body);
    free(ks);
    out->bytes = o;
    out->size = new_data + body;
    out->data_start = new_data;
    out->src = data;
    out->src_data_start = src_data;
    return 0;
}

int atn_gguf_out_set(atn_gguf_out *out, const atn_gguf *g, const char *name, const float *values, size_t n) {
    const atn_tensor *t = atn_gguf_find_tensor(g, name);
    if (!t) return atn_error("gguf write: no tensor %s", name);
    int64_t row = t->ne[0];
    size_t total = (size_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]), rb = atn_row_size(t->type, row);
    if (total != n || rb == 0) return atn_error("gguf write: %s: %zu values for a tensor of %zu", name, n, total);
    size_t off = (size_t)((const uint8_t *)t->data - out->src) - out->src_data_start;
    uint8_t *dst = out->bytes + out->data_start + off;
    for (size_t r = 0; r < n / (size_t)row; r++)
        if (atn_quantize_row(t->type, values + r * (size_t)row, dst + r * rb, row) != rb)
            return atn_error("gguf write: cannot encode %s as %s", name, atn_type_name(t->type));
    return 0;
}
