/* test_limits.c — sizes that wrap in 32 bits and files that ask for more
 * memory than they can justify.
 *
 * Runs natively and, through tests/wasm_ctests.sh, as WebAssembly, where
 * size_t is 32 bits: there the sizes below are exactly the ones that used to
 * wrap (a KV cache of 2^32 bytes became a 0-byte buffer, written far past its
 * end). The allocator is wrapped (see the link line) so the test sees every
 * byte the library asks for, including requests that fail.
 */
/* link: -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "checked.h"
#include "gguf.h"
#include "tensor.h"
#include "test_util.h"

/* ---- counting what the library asks for ---------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static size_t asked_total, asked_max; /* bytes asked since count_reset() */

static void count(size_t n) {
    asked_total = atn_add_size(asked_total, n);
    if (n > asked_max) asked_max = n;
}
void *__wrap_malloc(size_t n) { count(n); return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) {
    count(atn_mul_size(n, size));
    return __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n) { count(n); return __real_realloc(p, n); }
static void count_reset(void) { asked_total = asked_max = 0; }

/* ---- crafted files (the GGUF writer of test_util.h) ---------------------------- */

static void kv_tokens(gguf_buf *b, const char *key) { /* a two-token vocabulary */
    gw_str(b, key); gw_u32(b, ATN_GGUF_ARRAY); gw_u32(b, ATN_GGUF_STRING); gw_u64(b, 2); gw_str(b, "a"); gw_str(b, "b");
}
static void tinfo_at(gguf_buf *b, const char *name, uint64_t ne0, uint64_t ne1, uint32_t type, uint64_t off) {
    gw_tinfo(b, name, 2, (const uint64_t[]){ne0, ne1}, type, off);
}
static void tinfo2(gguf_buf *b, const char *name, uint64_t ne0, uint64_t ne1, uint32_t type) {
    tinfo_at(b, name, ne0, ne1, type, 0);
}
static void data(gguf_buf *b, size_t n) {
    gw_pad(b, 32);
    gw_zeros(b, n);
}

/* The file handed to atn_model_load in memory from atn_malloc. */
static atn_model *load_counted(gguf_buf *b, size_t *asked) {
    uint8_t *bytes = atn_malloc(b->n);
    memcpy(bytes, b->p, b->n);
    count_reset();
    atn_model *m = atn_model_load(bytes, b->n, 1);
    *asked = asked_total;
    return m;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_helpers(void) {
    CHECK(atn_mul_size(0, SIZE_MAX) == 0 && atn_mul_size(SIZE_MAX, 1) == SIZE_MAX, "mul edges");
    CHECK(atn_add_size(SIZE_MAX - 1, 1) == SIZE_MAX && !atn_size_ok(atn_add_size(SIZE_MAX, 1)), "add edges");
    CHECK(atn_size_from_i64(-1) == SIZE_MAX && atn_size_from_i64(5) == 5, "from i64");
    CHECK(atn_malloc_array(SIZE_MAX / 2 + 1, 2) == NULL, "array overflow gives NULL");
    if (sizeof(size_t) == 4) {
        /* the exact products that wrapped in the WebAssembly build */
        CHECK(!atn_size_ok(atn_mul_size(65536, 65536)), "65536 * 65536 wraps to 0 in 32 bits");
        CHECK(!atn_size_ok(atn_mul_size(atn_mul_size(atn_mul_size(16, 131072), 512), 4)),
              "Llama-3.2-1B KV cache at 131072 tokens (2^32 bytes)");
        CHECK(!atn_size_ok(atn_mul_size(2 * 134217728u + 1, 16)), "(2n+1) * 16 for a 128 MiB word");
        CHECK(atn_size_ok(atn_mul_size(65536, 65535)), "just below 2^32 fits");
    } else {
        CHECK(atn_size_ok(atn_mul_size(65536, 65536)) && !atn_size_ok(atn_mul_size(SIZE_MAX / 3, 4)), "64-bit edges");
    }
    /* the counting wrapper sees the library's requests */
    count_reset();
    void *p = atn_malloc(12345);
    CHECK(asked_max == 12345, "the allocator wrapper counts (asked %zu)", asked_max);
    atn_free(p);
}

/* A 43 KB llama file claiming 512 layers of width 65536 and a 1M-wide
 * feed-forward used to make the loader ask for 671 MB before it found the
 * first missing tensor. */
static void test_hostile_llama(void) {
    gguf_buf b = {0};
    gw_put(&b, "GGUF", 4); gw_u32(&b, 3); gw_u64(&b, 1); gw_u64(&b, 6);
    gw_kv_str(&b, "general.architecture", "llama");
    gw_kv_u32(&b, "llama.block_count", 512);
    gw_kv_u32(&b, "llama.embedding_length", 65536);
    gw_kv_u32(&b, "llama.feed_forward_length", 1 << 20);
    gw_kv_u32(&b, "llama.attention.head_count", 64);
    gw_kv_u32(&b, "llama.context_length", 1 << 20);
    tinfo2(&b, "token_embd.weight", 65536, 1, ATN_TYPE_Q4_0);
    data(&b, 65536 / 32 * 18);
    size_t asked;
    atn_model *m = load_counted(&b, &asked);
    CHECK(!m && strstr(atn_last_error(), "blk.0.attn_q.weight is missing"), "hostile llama: '%s'", atn_last_error());
    CHECK(asked <= b.n + (1 << 20), "hostile llama (%zu bytes): the loader asked for %zu bytes", b.n, asked);
    atn_model_free(m);
    free(b.p);
}

/* A 600-byte marian file claiming width 65536, 256+256 layers, a 262144-wide
 * feed-forward and 65536 positions used to ask for 2.5 GB of vectors and a
 * 16 GiB position table before looking at a single tensor. With one small
 * tensor it goes through the marian loader, which must fail on the missing
 * embeddings having asked for nothing of the claimed sizes; with none at all
 * it opens as a tokenizer-only model, which cannot run. */
static void test_hostile_marian(int with_tensor) {
    gguf_buf b = {0};
    gw_put(&b, "GGUF", 4); gw_u32(&b, 3); gw_u64(&b, with_tensor ? 1 : 0); gw_u64(&b, 10);
    gw_kv_str(&b, "general.architecture", "marian");
    gw_kv_u32(&b, "marian.embedding_length", 65536);
    gw_kv_u32(&b, "marian.encoder.block_count", 256);
    gw_kv_u32(&b, "marian.decoder.block_count", 256);
    gw_kv_u32(&b, "marian.attention.head_count", 8);
    gw_kv_u32(&b, "marian.feed_forward_length", 262144);
    gw_kv_u32(&b, "marian.context_length", 65536);
    gw_kv_u32(&b, "marian.decoder_start_token_id", 0);
    gw_kv_str(&b, "tokenizer.ggml.model", "llama");
    kv_tokens(&b, "tokenizer.ggml.tokens");
    if (with_tensor) {
        tinfo2(&b, "enc.blk.0.attn_q.weight", 32, 1, ATN_TYPE_F32);
        data(&b, 32 * 4);
    }
    size_t asked;
    atn_model *m = load_counted(&b, &asked);
    if (with_tensor)
        CHECK(!m && strstr(atn_last_error(), "token_embd.weight is missing"), "hostile marian: '%s'", atn_last_error());
    else
        CHECK(m && atn_session_new(m, 8) == NULL && strstr(atn_last_error(), "only a vocabulary"), "hostile marian: '%s'",
              atn_last_error());
    CHECK(asked <= b.n + (1 << 20), "hostile marian (%zu bytes): the loader asked for %zu bytes", b.n, asked);
    atn_model_free(m);
    free(b.p);
}

/* What a real model asks for: its loader at most its own size (plus a
 * constant), a session at most the KV cache plus activations. */
static void test_budget_of_real_models(void) {
    const char *paths[] = {"models/tutor-en-es.gguf", "models/translate-en-es.gguf"};
    for (int i = 0; i < 2; i++) {
        size_t size;
        void *bytes = read_file(paths[i], &size);
        if (!bytes) { CHECK(0, "cannot read %s", paths[i]); continue; }
        count_reset();
        atn_model *m = atn_model_load(bytes, size, 1);
        size_t asked = asked_total;
        CHECK(m != NULL, "%s: %s", paths[i], atn_last_error());
        CHECK(asked <= size / 4 + (1 << 20), "%s (%zu bytes): the loader asked for %zu bytes", paths[i], size, asked);
        atn_model_free(m);
    }
}

/* The shipped tutor model (8 layers, 4 KV heads of 64) at the contexts that
 * wrapped: 524288 tokens made a 2^32-byte K cache, i.e. 0 bytes, and the
 * first eval wrote past it; 262144 reported "KV cache 0 MB". */
static void test_kv_cache_sizes(void) {
    atn_model *m = test_load_model("models/tutor-en-es.gguf");
    if (!m) { CHECK(0, "no tutor model"); return; }
    if (sizeof(size_t) == 4) {
        const int ctxs[] = {524288, 262144};
        for (int i = 0; i < 2; i++) {
            count_reset();
            atn_session *s = atn_session_new(m, ctxs[i]);
            const char *e = atn_last_error();
            CHECK(!s && strstr(e, "KV cache") && strstr(e, "GiB") && strstr(e, "WebAssembly"),
                  "ctx %d: '%s'", ctxs[i], e);
            CHECK(asked_max < ((size_t)1 << 30), "ctx %d: asked for %zu bytes at once", ctxs[i], asked_max);
            atn_session_free(s);
        }
    }
    /* a context that fits: works, and the cache is the size it should be */
    count_reset();
    atn_session *s = atn_session_new(m, 4096);
    CHECK(s != NULL, "ctx 4096: %s", atn_last_error());
    size_t kv = (size_t)8 * 4096 * 256 * sizeof(float);
    CHECK(asked_total >= 2 * kv && asked_total <= 2 * kv + (16 << 20), "ctx 4096: asked %zu bytes, KV cache %zu",
          asked_total, 2 * kv);
    int32_t ids[3] = {1, 10, 20};
    CHECK(s && atn_eval(s, ids, 3, 0) == 0, "eval: %s", atn_last_error());
    atn_session_free(s);
    /* an f16 cache is half of it */
    count_reset();
    atn_session_params p = {ATN_KV_F16};
    s = atn_session_new_ex(m, 4096, &p);
    CHECK(s != NULL, "ctx 4096 f16: %s", atn_last_error());
    CHECK(asked_total >= kv && asked_total <= kv + (16 << 20), "ctx 4096 f16: asked %zu bytes, KV cache %zu", asked_total, kv);
    CHECK(s && atn_eval(s, ids, 3, 0) == 0, "eval f16: %s", atn_last_error());
    atn_session_free(s);
    atn_model_free(m);
}

/* The KV cache of Llama-3.2-1B (16 layers, 8 KV heads of 64) at its
 * advertised 131072-token context is 16 * 131072 * 512 * 4 = 2^32 bytes:
 * exactly 0 in 32 bits. A model with that cache shape (width 512 instead of
 * 2048, a tiny vocabulary and feed-forward: a 9 MB q4_0 file) must be
 * refused at that context in WebAssembly and work at a small one. */
static void test_llama_1b_kv_shape(void) {
    enum { L = 16, D = 512, FF = 32, V = 32 };
    static const char *mats[] = {"attn_q", "attn_k", "attn_v", "attn_output"};
    gguf_buf b = {0};
    int n_tensors = 2 + L * 9;
    gw_put(&b, "GGUF", 4); gw_u32(&b, 3); gw_u64(&b, (uint64_t)n_tensors); gw_u64(&b, 7);
    gw_kv_str(&b, "general.architecture", "llama");
    gw_kv_u32(&b, "llama.block_count", L);
    gw_kv_u32(&b, "llama.embedding_length", D);
    gw_kv_u32(&b, "llama.feed_forward_length", FF);
    gw_kv_u32(&b, "llama.attention.head_count", 8);
    gw_kv_u32(&b, "llama.attention.head_count_kv", 8);
    gw_kv_u32(&b, "llama.context_length", 131072);
    uint64_t off = 0;
    size_t row = atn_row_size(ATN_TYPE_Q4_0, D), ffrow = atn_row_size(ATN_TYPE_Q4_0, FF);
#define T(name, ne0, ne1, type, bytes) (tinfo_at(&b, name, ne0, ne1, type, off), off += ((bytes) + 31) / 32 * 32)
    T("token_embd.weight", D, V, ATN_TYPE_Q4_0, row * V);
    T("output_norm.weight", D, 1, ATN_TYPE_F32, D * 4);
    for (int l = 0; l < L; l++) {
        char n[64];
        for (int k = 0; k < 4; k++) {
            snprintf(n, sizeof n, "blk.%d.%s.weight", l, mats[k]);
            T(n, D, D, ATN_TYPE_Q4_0, row * D);
        }
        snprintf(n, sizeof n, "blk.%d.ffn_gate.weight", l); T(n, D, FF, ATN_TYPE_Q4_0, row * FF);
        snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l); T(n, D, FF, ATN_TYPE_Q4_0, row * FF);
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l); T(n, FF, D, ATN_TYPE_Q4_0, ffrow * D);
        snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l); T(n, D, 1, ATN_TYPE_F32, D * 4);
        snprintf(n, sizeof n, "blk.%d.ffn_norm.weight", l); T(n, D, 1, ATN_TYPE_F32, D * 4);
    }
#undef T
    data(&b, (size_t)off);
    size_t asked;
    atn_model *m = load_counted(&b, &asked);
    CHECK(m != NULL, "1B-shaped model: %s", atn_last_error());
    if (!m) { free(b.p); return; }
    CHECK(asked <= b.n / 4 + (1 << 20), "1B-shaped model (%zu bytes): the loader asked for %zu bytes", b.n, asked);
    if (sizeof(size_t) == 4) {
        count_reset();
        atn_session *s = atn_session_new(m, 131072);
        CHECK(!s && strstr(atn_last_error(), "needs a 8.0 GiB KV cache (f32)"), "ctx 131072: '%s'", atn_last_error());
        CHECK(asked_max < ((size_t)1 << 30), "ctx 131072: asked for %zu bytes at once", asked_max);
        atn_session_free(s);
        /* in f16 half of it, 2^32 bytes: still 0 in 32 bits */
        atn_session_params p = {ATN_KV_F16};
        s = atn_session_new_ex(m, 131072, &p);
        CHECK(!s && strstr(atn_last_error(), "needs a 4.0 GiB KV cache (f16)"), "ctx 131072 f16: '%s'", atn_last_error());
        atn_session_free(s);
    }
    atn_session *s = atn_session_new(m, 256);
    int32_t ids[2] = {1, 2};
    CHECK(s && atn_eval(s, ids, 2, 0) == 0, "ctx 256: %s", atn_last_error());
    atn_session_free(s);
    atn_model_free(m);
    free(b.p);
}

/* One word of 2^27 bytes: the BPE work buffers ((n+1) symbols, (2n+1)
 * nodes of 16 bytes) wrapped in 32 bits, to a 16-byte node array. Only in
 * WebAssembly, where the memory runs out cleanly; natively the work would
 * be real. */
static void test_long_word(void) {
    if (sizeof(size_t) != 4) return;
    atn_model *m = test_load_model("models/tutor-en-es.gguf");
    if (!m) { CHECK(0, "no tutor model"); return; }
    size_t n = (size_t)1 << 27;
    char *text = malloc(n);
    if (!text) { CHECK(0, "no memory for the text"); atn_model_free(m); return; }
    memset(text, 'a', n);
    int r = atn_tokenize(m, text, n, 0, 0, NULL, 0);
    CHECK(r < 0 && strstr(atn_last_error(), "tokenize:"), "128 MiB word: %d '%s'", r, atn_last_error());
    free(text);
    int32_t ids[8];
    CHECK(atn_tokenize(m, "hola", 4, 0, 0, ids, 8) > 0, "tokenizing still works: %s", atn_last_error());
    atn_model_free(m);
}

/* Translate text with a fresh translator; the whole output into out. */
static int translate_all(atn_model *m, const char *text, char *out, size_t cap) {
    atn_translator *t = atn_translator_new(m, 1, NULL, 0);
    if (!t || atn_translate_begin(t, text, strlen(text))) { atn_translator_free(t); return -1; }
    size_t n = 0;
    int r;
    while ((r = atn_translate_next(t)) > 0 || (r == 0 && n == 0)) {
        size_t len;
        const char *p = atn_translate_piece(t, &len);
        if (n + len >= cap) { r = -1; break; }
        memcpy(out + n, p, len);
        n += len;
        if (r == 0) break;
    }
    out[n] = 0;
    atn_translator_free(t);
    return r;
}

/* A translator reserves cache slots for the sentences a text has (up to its
 * budget of 48 MiB), not the whole budget for one short sentence; a longer
 * text later gets more lanes and translates each sentence as it would alone. */
static void test_translator_lanes(void) {
    atn_model *m = test_load_model("models/translate-en-es.gguf");
    if (!m) { CHECK(0, "cannot load models/translate-en-es.gguf: %s", atn_last_error()); return; }
    static char one[4096], many[4096], alone[4096];
    count_reset();
    CHECK(translate_all(m, "The cat is sleeping.", one, sizeof one) == 0, "one sentence: %s", atn_last_error());
    /* 3 decoder layers x 256 positions x 384 x (K + V) floats = 2.4 MB a slot: two slots, not nine */
    CHECK(asked_total < (12u << 20), "one short sentence asked for %zu bytes", asked_total);
    const char *sentences[] = {"The cat is sleeping.", "I like to read books.", "Where is the station?", "We are going home now.",
                               "She bought bread.", "It is raining today.", "He has two brothers.", "Open the door, please."};
    char text[1024] = "";
    for (int i = 0; i < 8; i++) { strcat(text, sentences[i]); strcat(text, " "); }
    count_reset();
    CHECK(translate_all(m, text, many, sizeof many) == 0, "eight sentences: %s", atn_last_error());
    CHECK(asked_total > (20u << 20), "eight sentences decode together in nine slots: asked only %zu bytes", asked_total);
    /* each sentence as it is alone */
    char joined[4096] = "";
    for (int i = 0; i < 8; i++) {
        CHECK(translate_all(m, sentences[i], alone, sizeof alone) == 0, "sentence %d: %s", i, atn_last_error());
        if (i) strcat(joined, " ");
        strcat(joined, alone);
    }
    size_t n = strlen(many);
    while (n && many[n - 1] == ' ') many[--n] = 0;
    CHECK(strcmp(many, joined) == 0, "eight sentences together:\n  %s\nand alone:\n  %s", many, joined);
    atn_model_free(m);
}

int main(void) {
    test_helpers();
    test_hostile_llama();
    test_hostile_marian(1);
    test_hostile_marian(0);
    test_budget_of_real_models();
    test_kv_cache_sizes();
    test_llama_1b_kv_shape();
    test_long_word();
    test_translator_lanes();
    return test_summary();
}
