/* test_tokenizer_load.c — loading tokenizers from bad or unusual GGUF
 * metadata (built here in memory): every bad file gives NULL and a one-line
 * reason, unusual-but-valid files load, and a hostile precompiled charsmap
 * never leads to an out-of-bounds read (run this under ASan too). */
#include "test_tokenizer_util.h"

/* ---- a tiny GGUF v3 writer (metadata only) ---- */
typedef struct { uint8_t *p; size_t n, cap; int n_kv; } gb;

static void put(gb *b, const void *s, size_t n) {
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 256; b->p = realloc(b->p, b->cap); }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void u32(gb *b, uint32_t v) { uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) }; put(b, x, 4); }
static void u64(gb *b, uint64_t v) { u32(b, (uint32_t)v); u32(b, (uint32_t)(v >> 32)); }
static void str(gb *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }
static void key(gb *b, const char *k, uint32_t type) { str(b, k); u32(b, type); b->n_kv++; }
static void kv_str(gb *b, const char *k, const char *v) { key(b, k, ATN_GGUF_STRING); str(b, v); }
static void kv_u32(gb *b, const char *k, uint32_t v) { key(b, k, ATN_GGUF_UINT32); u32(b, v); }
static void kv_strs(gb *b, const char *k, const char *const *v, int n) {
    key(b, k, ATN_GGUF_ARRAY); u32(b, ATN_GGUF_STRING); u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) str(b, v[i]);
}
static void kv_f32s(gb *b, const char *k, const float *v, int n) {
    key(b, k, ATN_GGUF_ARRAY); u32(b, ATN_GGUF_FLOAT32); u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) { uint32_t x; memcpy(&x, &v[i], 4); u32(b, x); }
}
static void kv_i32s(gb *b, const char *k, const int32_t *v, int n) {
    key(b, k, ATN_GGUF_ARRAY); u32(b, ATN_GGUF_INT32); u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) u32(b, (uint32_t)v[i]);
}
static void kv_u8s(gb *b, const char *k, const uint8_t *v, size_t n) {
    key(b, k, ATN_GGUF_ARRAY); u32(b, ATN_GGUF_UINT8); u64(b, (uint64_t)n); put(b, v, n);
}
/* header + body: the kv count is known only at the end */
static uint8_t *finish_gguf(gb *body, size_t *size) {
    gb h = { 0 };
    put(&h, "GGUF", 4); u32(&h, 3); u64(&h, 0); u64(&h, (uint64_t)body->n_kv);
    put(&h, body->p, body->n);
    free(body->p);
    *size = h.n;
    return h.p;
}

static atn_tokenizer *load(gb *b, char *err, size_t errcap, uint8_t **data, atn_gguf **g) {
    size_t n;
    *data = finish_gguf(b, &n);
    *g = atn_gguf_open(*data, n, err, errcap);
    if (!*g) { printf("  gguf: %s\n", err); return NULL; }
    return atn_tokenizer_load(*g, "tokenizer.ggml", err, errcap);
}

/* expect a tokenizer with a warning containing `want` */
static void expect_warning(gb *b, const char *want, const char *what) {
    char err[256] = "";
    uint8_t *data; atn_gguf *g = NULL;
    atn_tokenizer *t = load(b, err, sizeof err, &data, &g);
    int found = 0;
    for (int i = 0; t && i < atn_tokenizer_n_warnings(t); i++) found |= strstr(atn_tokenizer_warning(t, i), want) != NULL;
    CHECK(t != NULL && found, "%s: %s", what, t ? (atn_tokenizer_n_warnings(t) ? atn_tokenizer_warning(t, 0) : "no warning") : err);
    atn_tokenizer_free(t);
    atn_gguf_close(g);
    free(data);
}

/* expect NULL with a message containing `want` */
static void expect_fail(gb *b, const char *want, const char *what) {
    char err[256] = "";
    uint8_t *data; atn_gguf *g = NULL;
    atn_tokenizer *t = load(b, err, sizeof err, &data, &g);
    CHECK(t == NULL && strstr(err, want) != NULL && strchr(err, '\n') == NULL, "%s: got '%s'", what, err);
    atn_tokenizer_free(t);
    atn_gguf_close(g);
    free(data);
}

static const char *const SPM_TOK[] = { "<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab", "<0x41>" };
static const float SPM_SC[] = { 0, 0, 0, -1, -2, -3, -0.5f, -0.7f, 0 };
static const int32_t SPM_TY[] = { 2, 3, 3, 1, 1, 1, 1, 1, 6 };

static void spm_base(gb *b, const char *model) {
    memset(b, 0, sizeof *b);
    kv_str(b, "tokenizer.ggml.model", model);
    kv_strs(b, "tokenizer.ggml.tokens", SPM_TOK, 9);
}

int main(void) {
    gb b;
    char err[256];
    uint8_t *data; atn_gguf *g;

    /* missing / wrong keys */
    memset(&b, 0, sizeof b); kv_u32(&b, "general.x", 1);
    expect_fail(&b, "tokenizer.ggml.model", "no model key");
    memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "wordpiece"); kv_strs(&b, "tokenizer.ggml.tokens", SPM_TOK, 9);
    expect_fail(&b, "unsupported tokenizer model 'wordpiece'", "unknown model");
    memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "llama");
    expect_fail(&b, "tokenizer.ggml.tokens", "no tokens");
    memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "llama"); kv_i32s(&b, "tokenizer.ggml.tokens", SPM_TY, 9);
    expect_fail(&b, "not an array of strings", "tokens of the wrong type");
    memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "llama"); kv_strs(&b, "tokenizer.ggml.tokens", SPM_TOK, 0);
    expect_fail(&b, "bad vocabulary size", "empty vocabulary");
    spm_base(&b, "llama"); kv_f32s(&b, "tokenizer.ggml.scores", SPM_SC, 8);
    expect_fail(&b, "expected 9 numbers", "scores too short");
    spm_base(&b, "llama"); { int32_t ty[9]; memcpy(ty, SPM_TY, sizeof ty); ty[4] = 7; kv_i32s(&b, "tokenizer.ggml.token_type", ty, 9); }
    expect_warning(&b, "1 tokens have a type outside 1..6", "token_type out of range");
    spm_base(&b, "llama"); { int32_t ty[9]; memcpy(ty, SPM_TY, sizeof ty); ty[5] = 6; kv_i32s(&b, "tokenizer.ggml.token_type", ty, 9); }
    expect_fail(&b, "not <0xXX>", "byte type on a non-byte piece");
    /* special ids as llama.cpp tolerates them: outside the vocabulary (0xFFFFFFFF
     * is llama.cpp's "none") or of another type -> no such token, a warning */
    spm_base(&b, "llama"); kv_u32(&b, "tokenizer.ggml.bos_token_id", 9);
    expect_warning(&b, "bos_token_id = 9 is outside the vocabulary of 9 tokens", "bos out of range");
    spm_base(&b, "llama"); kv_u32(&b, "tokenizer.ggml.padding_token_id", 0xFFFFFFFFu);
    expect_warning(&b, "padding_token_id = 4294967295 is outside", "padding 0xFFFFFFFF");
    spm_base(&b, "llama"); kv_u32(&b, "tokenizer.ggml.seperator_token_id", 0xFFFFFFFFu);
    expect_warning(&b, "seperator_token_id = 4294967295", "separator 0xFFFFFFFF");
    spm_base(&b, "llama"); kv_str(&b, "tokenizer.ggml.eos_token_id", "2");
    expect_warning(&b, "eos_token_id is not an integer", "eos of the wrong type");
    /* integer widths: an INT32, UINT16, INT64 id is as good as a UINT32 */
    { static const uint32_t tys[3] = { ATN_GGUF_INT32, ATN_GGUF_UINT16, ATN_GGUF_INT64 };
      for (int k = 0; k < 3; k++) {
          spm_base(&b, "llama"); key(&b, "tokenizer.ggml.eos_token_id", tys[k]);
          if (tys[k] == ATN_GGUF_UINT16) { uint8_t x[2] = { 4, 0 }; put(&b, x, 2); }
          else if (tys[k] == ATN_GGUF_INT64) u64(&b, 4);
          else u32(&b, 4);
          atn_tokenizer *tw = load(&b, err, sizeof err, &data, &g);
          CHECK(tw != NULL && atn_tokenizer_eos(tw) == 4 && atn_tokenizer_n_warnings(tw) == 0, "eos id of GGUF type %u", tys[k]);
          atn_tokenizer_free(tw); atn_gguf_close(g); free(data);
      } }
    spm_base(&b, "gpt2");
    expect_fail(&b, "tokenizer.ggml.merges", "gpt2 without merges");
    /* an unknown pre-tokenizer is refused by name; with the opt-in flag it
     * falls back to GPT-2's rules and says so; a missing one is llama.cpp's
     * "default", with a warning */
    { const char *tk[] = { "a", "b", "ab" }, *mg[] = { "a b" };
      spm_base(&b, "gpt2"); kv_str(&b, "tokenizer.ggml.pre", "some-future-pre");
      kv_strs(&b, "tokenizer.ggml.merges", mg, 1);
      expect_fail(&b, "unknown pre-tokenizer tokenizer.ggml.pre = 'some-future-pre'", "unknown pre");
      memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "gpt2"); kv_strs(&b, "tokenizer.ggml.tokens", tk, 3);
      kv_str(&b, "tokenizer.ggml.pre", "some-future-pre"); kv_strs(&b, "tokenizer.ggml.merges", mg, 1);
      size_t n; data = finish_gguf(&b, &n); g = atn_gguf_open(data, n, err, sizeof err);
      atn_tokenizer *tf = g ? atn_tokenizer_load_flags(g, "tokenizer.ggml", ATN_TOK_ANY_PRETOKENIZER, err, sizeof err) : NULL;
      CHECK(tf != NULL && atn_tokenizer_n_warnings(tf) == 1 && strstr(atn_tokenizer_warning(tf, 0), "GPT-2's rules are used instead"),
            "unknown pre with the opt-in: %s", tf ? atn_tokenizer_warning(tf, 0) : err);
      if (tf) { int32_t ids[4]; CHECK(atn_tokenizer_encode(tf, "ab", 2, 0, 0, ids, 4) == 1 && ids[0] == 2, "fallback tokenizes"); }
      atn_tokenizer_free(tf); atn_gguf_close(g); free(data);
      memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "gpt2"); kv_strs(&b, "tokenizer.ggml.tokens", tk, 3);
      kv_strs(&b, "tokenizer.ggml.merges", mg, 1);
      expect_warning(&b, "tokenizer.ggml.pre is missing: llama.cpp's default pre-tokenizer", "missing pre"); }
    memset(&b, 0, sizeof b); kv_str(&b, "tokenizer.ggml.model", "unigram");
    { const char *tk[] = { "a", "b" }; kv_strs(&b, "tokenizer.ggml.tokens", tk, 2); }
    expect_fail(&b, "no unknown token", "unigram without unk");

    /* a valid SPM BPE vocabulary built by hand */
    spm_base(&b, "llama");
    kv_f32s(&b, "tokenizer.ggml.scores", SPM_SC, 9);
    kv_i32s(&b, "tokenizer.ggml.token_type", SPM_TY, 9);
    atn_tokenizer *t = load(&b, err, sizeof err, &data, &g);
    CHECK(t != NULL, "hand-made llama vocab loads: %s", err);
    if (t) {
        int32_t ids[32];
        /* "ab a" -> ▁a b ▁a? scores: ▁a (-0.5) beats ab (-0.7) */
        int n = atn_tokenizer_encode(t, "ab a", 4, 0, 0, ids, 32);
        CHECK(n == 3 && ids[0] == 6 && ids[1] == 5 && ids[2] == 6, "merge by score (%d: %d %d %d)", n, ids[0], ids[1], ids[2]);
        n = atn_tokenizer_encode(t, "A", 1, 0, 0, ids, 32);    /* ▁ + byte 0x41 */
        CHECK(n == 2 && ids[0] == 3 && ids[1] == 8, "byte fallback to <0x41>");
        n = atn_tokenizer_encode(t, "zz", 2, 0, 0, ids, 32);   /* no <0x7A>: unknown, once */
        CHECK(n == 2 && ids[0] == 3 && ids[1] == 0, "missing byte -> one unk (%d)", n);
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g); free(data);

    /* an empty piece (llama.cpp renames it "[EMPTY_i]") loads and is never produced */
    memset(&b, 0, sizeof b);
    kv_str(&b, "tokenizer.ggml.model", "llama");
    { const char *tk[] = { "<unk>", "", "\xE2\x96\x81", "a" };
      kv_strs(&b, "tokenizer.ggml.tokens", tk, 4); }
    t = load(&b, err, sizeof err, &data, &g);
    CHECK(t != NULL, "empty piece loads: %s", err);
    if (t) {
        int32_t ids[8];
        int n = atn_tokenizer_encode(t, "a", 1, 0, 0, ids, 8);
        CHECK(n == 2 && ids[0] == 2 && ids[1] == 3, "empty piece never produced (%d)", n);
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g); free(data);

    /* a piece with "x▁" inside: merges across a ▁ must still happen */
    memset(&b, 0, sizeof b);
    kv_str(&b, "tokenizer.ggml.model", "llama");
    { const char *tk[] = { "<unk>", "\xE2\x96\x81", "a", "b", "b\xE2\x96\x81", "b\xE2\x96\x81" "a" };
      const float sc[] = { 0, -5, -5, -5, -1, -2 };
      const int32_t ty[] = { 2, 1, 1, 1, 1, 1 };
      kv_strs(&b, "tokenizer.ggml.tokens", tk, 6); kv_f32s(&b, "tokenizer.ggml.scores", sc, 6);
      kv_i32s(&b, "tokenizer.ggml.token_type", ty, 6); }
    t = load(&b, err, sizeof err, &data, &g);
    CHECK(t != NULL, "x▁ vocab loads: %s", err);
    if (t) {
        int32_t ids[32];
        int n = atn_tokenizer_encode(t, "b a b a", 7, 0, 0, ids, 32);   /* ▁b▁a▁b▁a -> ▁ b▁a ▁ b▁a */
        CHECK(n == 4 && ids[0] == 1 && ids[1] == 5 && ids[2] == 1 && ids[3] == 5, "merge across ▁ (%d: %d %d %d)", n, ids[0], ids[1], ids[2]);
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g); free(data);

    /* gpt2: merges naming unknown tokens or malformed are skipped */
    memset(&b, 0, sizeof b);
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    kv_str(&b, "tokenizer.ggml.pre", "gpt-2");
    { const char *tk[] = { "a", "b", "ab", "\xC4\xA0" /* Ġ = space */ };
      kv_strs(&b, "tokenizer.ggml.tokens", tk, 4); }
    { const char *mg[] = { "a b", "x y", "ab", "", " ", "a b c", "\xC4\xA0 a" };
      kv_strs(&b, "tokenizer.ggml.merges", mg, 7); }
    t = load(&b, err, sizeof err, &data, &g);
    CHECK(t != NULL, "gpt2 with odd merges loads: %s", err);
    if (t) {
        int32_t ids[32];
        int n = atn_tokenizer_encode(t, "ab b", 4, 0, 0, ids, 32);
        CHECK(n == 3 && ids[0] == 2 && ids[1] == 3 && ids[2] == 1, "gpt2 tiny (%d)", n);
        n = atn_tokenizer_encode(t, "c", 1, 0, 0, ids, 32);   /* no token for 'c', no unk: dropped */
        CHECK(n == 0, "unknown byte without unk dropped");
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g); free(data);

    /* specials in byte-level BPE: user-defined always literal, control only
     * with parse_special, the longest match first */
    memset(&b, 0, sizeof b);
    kv_str(&b, "tokenizer.ggml.model", "gpt2");
    { const char *tk[] = { "a", "b", "ab", "<x>", "<|e|>", "<|e|>!", "<", "|", "e", ">", "!" };
      const int32_t ty[] = { 1, 1, 1, 4, 3, 3, 1, 1, 1, 1, 1 };
      kv_strs(&b, "tokenizer.ggml.tokens", tk, 11); kv_i32s(&b, "tokenizer.ggml.token_type", ty, 11);
      const char *mg[] = { "a b" }; kv_strs(&b, "tokenizer.ggml.merges", mg, 1); }
    t = load(&b, err, sizeof err, &data, &g);
    CHECK(t != NULL, "gpt2 with specials loads: %s", err);
    if (t) {
        int32_t ids[32];
        int n = atn_tokenizer_encode(t, "ab<x>b<|e|>!a", 13, 0, 1, ids, 32);
        CHECK(n == 5 && ids[0] == 2 && ids[1] == 3 && ids[2] == 1 && ids[3] == 5 && ids[4] == 0, "parse_special (%d)", n);
        n = atn_tokenizer_encode(t, "ab<x>b<|e|>!a", 13, 0, 0, ids, 32);
        CHECK(n == 10 && ids[1] == 3 && ids[3] == 6 && ids[8] == 10, "user-defined without parse_special (%d)", n);
        CHECK(atn_tokenizer_is_special(t, 3) && atn_tokenizer_is_special(t, 4) && !atn_tokenizer_is_special(t, 0), "is_special");
        char out[32];
        int m = atn_tokenizer_decode(t, ids, n, 0, out, sizeof out);
        CHECK(m == 13 && memcmp(out, "ab<x>b<|e|>!a", 13) == 0, "decode: '%.*s'", m, out);
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g); free(data);

    /* hostile precompiled charsmaps */
    static const char *const UNI_TOK[] = { "<unk>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a" };
    static const float UNI_SC[] = { 0, -2, -3, -3, -1 };
    static const int32_t UNI_TY[] = { 2, 1, 1, 1, 1 };
    uint8_t cm[64];
    for (int variant = 0; variant < 6; variant++) {
        memset(&b, 0, sizeof b);
        kv_str(&b, "tokenizer.ggml.model", "unigram");
        kv_strs(&b, "tokenizer.ggml.tokens", UNI_TOK, 5);
        kv_f32s(&b, "tokenizer.ggml.scores", UNI_SC, 5);
        kv_i32s(&b, "tokenizer.ggml.token_type", UNI_TY, 5);
        size_t cn = 0;
        memset(cm, 0, sizeof cm);
        switch (variant) {
        case 0: cn = 3; break;                                     /* shorter than the size field */
        case 1: cm[0] = 200; cn = 40; break;                       /* trie larger than the blob */
        case 2: cm[0] = 6; cn = 40; break;                         /* not whole units */
        default: {                                                 /* garbage units: must not crash */
            uint32_t r = 12345u + (uint32_t)variant;
            cm[0] = 32; cn = 64;
            for (size_t i = 4; i < cn; i++) { r = r * 1664525u + 1013904223u; cm[i] = (uint8_t)(r >> 24); }
            if (variant == 5) { cm[4] = 0x00; cm[5] = 0x04; cm[6] = 0; cm[7] = 0; } /* offset 1 */
        } }
        kv_u8s(&b, "tokenizer.ggml.precompiled_charsmap", cm, cn);
        t = load(&b, err, sizeof err, &data, &g);
        if (variant < 3) {
            CHECK(t == NULL && strstr(err, "precompiled_charsmap") != NULL, "bad charsmap %d rejected: '%s'", variant, err);
        } else {
            CHECK(t != NULL, "garbage charsmap %d loads: %s", variant, err);
            if (t) {
                int32_t ids[64];
                const char *texts[] = { "ab a", "\xE2\x80\x8B\xEF\xBC\xA1 b", "\x01\x02\xFF", "aaaaaaaaaaaaaaaaaaaaaa" };
                int okk = 1;
                for (int k = 0; k < 4; k++) {
                    int n = atn_tokenizer_encode(t, texts[k], strlen(texts[k]), 0, 0, ids, 64);
                    okk &= k == 2 ? n < 0 : n >= 0;   /* "\xFF" is not UTF-8 */
                }
                CHECK(okk, "garbage charsmap %d: encode survives", variant);
            }
        }
        atn_tokenizer_free(t);
        atn_gguf_close(g); free(data);
    }

    /* unused pieces (spm_to_gguf --vocab marks target-only pieces so) are
     * never produced by unigram segmentation */
    memset(&b, 0, sizeof b);
    kv_str(&b, "tokenizer.ggml.model", "unigram");
    { const char *tk[] = { "<unk>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "ab", "\xE2\x96\x81" "a" };
      const float sc[] = { 0, -2, -3, -3, 0, -1 };
      const int32_t ty[] = { 2, 1, 1, 1, 5, 1 };
      kv_strs(&b, "tokenizer.ggml.tokens", tk, 6); kv_f32s(&b, "tokenizer.ggml.scores", sc, 6);
      kv_i32s(&b, "tokenizer.ggml.token_type", ty, 6); }
    t = load(&b, err, sizeof err, &data, &g);
    CHECK(t != NULL, "unigram with unused loads: %s", err);
    if (t) {
        int32_t ids[8];
        int n = atn_tokenizer_encode(t, "ab", 2, 0, 0, ids, 8);
        CHECK(n == 2 && ids[0] == 5 && ids[1] == 3, "unused piece skipped (%d)", n);
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g); free(data);

    /* another prefix (marian keeps a source vocabulary beside the target one) */
    memset(&b, 0, sizeof b);
    kv_str(&b, "marian.src.model", "unigram");
    kv_strs(&b, "marian.src.tokens", UNI_TOK, 5);
    kv_f32s(&b, "marian.src.scores", UNI_SC, 5);
    kv_i32s(&b, "marian.src.token_type", UNI_TY, 5);
    { size_t n; data = finish_gguf(&b, &n); g = atn_gguf_open(data, n, err, sizeof err); }
    t = g ? atn_tokenizer_load(g, "marian.src", err, sizeof err) : NULL;
    CHECK(t != NULL && atn_tokenizer_unk(t) == 0, "load under another prefix: %s", err);
    if (t) {
        int32_t ids[16];
        int n = atn_tokenizer_encode(t, "  a  b ", 7, 0, 0, ids, 16);   /* ▁a ▁ b */
        CHECK(n == 3 && ids[0] == 4 && ids[1] == 1 && ids[2] == 3, "identity unigram (%d)", n);
        n = atn_tokenizer_encode(t, "a c c b", 7, 0, 0, ids, 16);      /* ▁a ▁ <unk> ▁ <unk> ▁ b */
        CHECK(n == 7 && ids[2] == 0 && ids[4] == 0, "unknowns (%d)", n);
    }
    atn_tokenizer_free(t);
    CHECK(g == NULL || atn_tokenizer_load(g, "tokenizer.ggml", err, sizeof err) == NULL, "wrong prefix fails");
    atn_gguf_close(g); free(data);
    return finish();
}
