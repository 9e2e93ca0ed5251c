/* tok_internal.h — what the tokenizer files share (not part of the API).
 *
 * One atn_tokenizer holds the vocabulary (pieces point into the GGUF bytes),
 * a hash map piece -> id, the special tokens, and whatever the kind needs:
 * merge ranks (gpt2), a precompiled normalization charsmap (unigram).
 * Encoding works on one "fragment" at a time (text between literal special
 * tokens) and appends ids through atn_tok_out, which counts past cap.
 */
#ifndef ATN_TOK_INTERNAL_H
#define ATN_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "../tokenizer.h"

enum { ATN_TOK_SPM_BPE = 1, ATN_TOK_GPT2 = 2, ATN_TOK_UNIGRAM = 3 };

/* token_type values as GGUF / SentencePiece number them */
enum {
    ATN_TT_NORMAL = 1, ATN_TT_UNKNOWN = 2, ATN_TT_CONTROL = 3,
    ATN_TT_USER_DEFINED = 4, ATN_TT_UNUSED = 5, ATN_TT_BYTE = 6,
};

/* pre-tokenizers of byte-level BPE (pretokenize.c says what each one does) */
enum {
    ATN_PRE_GPT2, ATN_PRE_LLAMA3, ATN_PRE_QWEN2, ATN_PRE_SMOLLM, ATN_PRE_DEFAULT, ATN_PRE_FALCON,
    ATN_PRE_DEEPSEEK_LLM, ATN_PRE_DEEPSEEK_CODER, ATN_PRE_DEEPSEEK3, ATN_PRE_TEKKEN, ATN_PRE_GPT4O,
    ATN_PRE_COUNT
};

/* Unicode general categories as unicode_tables.c numbers them */
enum { ATN_UC_LU = 1, ATN_UC_LL, ATN_UC_LT, ATN_UC_LM, ATN_UC_LO, ATN_UC_M, ATN_UC_N, ATN_UC_P, ATN_UC_S };

/* load-time notes kept with the tokenizer (atn_tokenizer_warning) */
#define ATN_TOK_MAX_WARNINGS 8

typedef struct {
    const char *text;   /* into the GGUF bytes, not NUL-terminated */
    uint32_t len;
    float score;
    uint8_t type;
} atn_tok_piece;

typedef struct {        /* merge table entry (gpt2): (left, right) -> rank, result */
    int32_t left, right, result, rank;
} atn_tok_merge;

struct atn_tokenizer {
    int kind;
    int n_vocab;
    atn_tok_piece *pieces;
    uint32_t *map;           /* open addressing: id + 1, 0 = empty */
    uint32_t map_mask;
    uint32_t max_piece_len;  /* bytes, over normal/user-defined/unused pieces */

    int32_t bos, eos, unk, pad, eot, eom;
    int add_bos, add_eos;
    int add_space_prefix;    /* SentencePiece: prepend ▁ */
    int remove_extra_ws;     /* unigram normalizer */
    int escape_ws;           /* ' ' -> ▁ */
    int byte_fallback;       /* the vocabulary has <0xXX> byte pieces */
    int spm_ws_chunks;       /* no text piece holds "x▁" (x not ▁): SPM BPE may cut before ▁ */
    int32_t byte_id[256];    /* <0xXX> (spm kinds) or the byte's mapped char (gpt2); -1 if absent */
    float min_score, max_score;

    /* literal specials: control (with parse_special) and user-defined (always),
     * sorted by length, longest first */
    int32_t *specials; int n_specials;
    int32_t *user_defined; int n_user_defined;
    uint8_t special_first[256];   /* 1 if some special begins with this byte */
    uint8_t user_first[256];

    int32_t *eog; int n_eog;

    char warnings[ATN_TOK_MAX_WARNINGS][160]; int n_warnings;

    /* gpt2 */
    int pre;
    int ignore_merges;
    int nfc;                 /* normalize each fragment to NFC first (Qwen2's tokenizer.json does) */
    atn_tok_merge *merges;   /* open addressing by (left, right); rank < 0 = empty */
    uint32_t merges_mask;

    /* unigram: a bitset of the hashes of all piece prefixes (a cheap trie
     * stand-in: a prefix whose bit is clear starts no piece) */
    uint64_t *prefix_bits; uint32_t prefix_mask;

    /* unigram normalizer: precompiled charsmap (Darts double array + strings) */
    const uint32_t *cm_units; uint32_t cm_n_units;  /* little-endian words, unaligned-safe copy */
    const char *cm_norm; uint32_t cm_norm_len;
    uint32_t *cm_units_copy;
};

/* output sink: counts every id, writes those that fit */
typedef struct { int32_t *ids; int cap; int n; } atn_tok_out;
static inline void atn_tok_emit(atn_tok_out *o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

/* vocab.c */
/* add a load-time warning (kept while there is room) */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void atn_tok_warn(atn_tokenizer *t, const char *fmt, ...);
int32_t atn_tok_find(const atn_tokenizer *t, const char *s, size_t len);
/* the map's hash (FNV-1a), so callers can extend it byte by byte */
#define ATN_TOK_HASH_INIT 2166136261u
static inline uint32_t atn_tok_hash_step(uint32_t h, unsigned char c) { return (h ^ c) * 16777619u; }
int32_t atn_tok_find_hashed(const atn_tokenizer *t, const char *s, size_t len, uint32_t h);
static inline int atn_tok_maybe_prefix(const atn_tokenizer *t, uint32_t h) {
    uint32_t b = h & t->prefix_mask;
    return !t->prefix_bits || ((t->prefix_bits[b >> 6] >> (b & 63)) & 1);
}
/* user-defined piece that starts at s (longest), or -1; *mlen gets its length */
int32_t atn_tok_match_user(const atn_tokenizer *t, const char *s, size_t len, size_t *mlen);
int atn_tok_is_text_piece(int type); /* normal, user-defined, unused: pieces that text can become */

/* utf8.c: decode one code point at s (len > 0, valid UTF-8); returns its byte length */
int atn_utf8_decode(const char *s, size_t len, uint32_t *cp);
int atn_utf8_encode(uint32_t cp, char *out); /* 1..4 bytes */
size_t atn_utf8_first_invalid(const char *s, size_t len); /* len if valid */

/* spm_bpe.c: one text fragment, as raw text; prefix = add the dummy ▁ */
int atn_spm_bpe_encode(const atn_tokenizer *t, const char *text, size_t len, int prefix, atn_tok_out *o);
/* gpt2_bpe.c */
int atn_gpt2_load(atn_tokenizer *t, const atn_gguf *g, const char *prefix, int flags, char *err, size_t errcap);
int atn_gpt2_encode(const atn_tokenizer *t, const char *text, size_t len, atn_tok_out *o);
int atn_gpt2_piece_bytes(const atn_tokenizer *t, const char *piece, size_t len, char *out, int cap);
/* pretokenize.c: split text into pre-tokens; calls fn for each (start, len) */
typedef int (*atn_pretok_fn)(void *ctx, const char *s, size_t len);
int atn_pretokenize(int pre, const char *text, size_t len, atn_pretok_fn fn, void *ctx);
/* the ATN_PRE_* of a tokenizer.ggml.pre value, or -1 if unknown; with the
 * value's ignore_merges and llama.cpp's add_bos default (either may be NULL) */
int atn_pretokenizer_find(const char *name, size_t len, int *ignore_merges, int *add_bos);
/* 1 if the Hugging Face tokenizers of models with this pre-tokenizer normalize to NFC */
int atn_pretokenizer_nfc(int pre, const char *name, size_t len);
/* unicode_nfc.c: NFC of valid UTF-8 into a malloc'ed *out, or *out = NULL
 * when the text is NFC as it is; 0 or < 0 (out of memory) */
int atn_nfc(const char *s, size_t len, char **out, size_t *out_len);
/* unicode_tables.c: 1 = letter (L*), 2 = number (N*), 0 = other */
int atn_unicode_class(uint32_t cp);
int atn_unicode_category(uint32_t cp);   /* ATN_UC_*, 0 = other */
int atn_unicode_is_space(uint32_t cp);
/* unigram.c */
int atn_unigram_encode(const atn_tokenizer *t, const char *text, size_t len, atn_tok_out *o);
/* normalizer.c */
int atn_charsmap_load(atn_tokenizer *t, const uint8_t *blob, size_t n, char *err, size_t errcap);
/* SentencePiece normalization of a fragment into a malloc'ed buffer (*out, *out_len). */
int atn_spm_normalize(const atn_tokenizer *t, const char *text, size_t len, char **out, size_t *out_len);

/* a binary heap of merge candidates: best = highest key, ties -> smallest left */
typedef struct { double key; int32_t left, right; int32_t a, b; } atn_tok_cand;
typedef struct { atn_tok_cand *v; int n, cap; } atn_tok_heap;
int atn_tok_heap_push(atn_tok_heap *h, atn_tok_cand c);
int atn_tok_heap_pop(atn_tok_heap *h, atn_tok_cand *c);

#endif
