/* tokenizer.h — tokenizers built from GGUF metadata.
 *
 * Kinds (GGUF `tokenizer.ggml.model`):
 *   "llama"  SentencePiece BPE with byte fallback (scores = merge priority)
 *   "gpt2"   byte-level BPE with `tokenizer.ggml.merges` and a pre-tokenizer
 *            chosen by `tokenizer.ggml.pre` (default: GPT-2's regex)
 *   "unigram" / "t5"  SentencePiece unigram (Viterbi), for marian models
 * Special/control tokens (token_type 3 or 4) are never produced by splitting
 * text; with parse_special they are matched literally in the input.
 */
#ifndef ATN_TOKENIZER_H
#define ATN_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include "gguf.h"

typedef struct atn_tokenizer atn_tokenizer;

/* Build from the keys `<prefix>.model`, `<prefix>.tokens`, `<prefix>.scores`,
 * `<prefix>.token_type`, `<prefix>.merges`, `<prefix>.bos_token_id`, ...
 * The usual prefix is "tokenizer.ggml"; marian models keep a second
 * (source) vocabulary under another prefix. Strings point into the GGUF
 * bytes. NULL + message in err on failure. */
atn_tokenizer *atn_tokenizer_load(const atn_gguf *g, const char *prefix, char *err, size_t errcap);
/* The same with flags: ATN_TOK_ANY_PRETOKENIZER lets an unknown
 * `<prefix>.pre` fall back to GPT-2's rules (with a warning) instead of
 * failing. */
#define ATN_TOK_ANY_PRETOKENIZER 1
atn_tokenizer *atn_tokenizer_load_flags(const atn_gguf *g, const char *prefix, int flags, char *err, size_t errcap);
/* What loading tolerated (ids outside the vocabulary, odd token types, a
 * missing or unknown pre-tokenizer): one line each. */
int atn_tokenizer_n_warnings(const atn_tokenizer *t);
const char *atn_tokenizer_warning(const atn_tokenizer *t, int i);   /* NULL past the end */
void atn_tokenizer_free(atn_tokenizer *t);

int atn_tokenizer_n_vocab(const atn_tokenizer *t);
const char *atn_tokenizer_kind(const atn_tokenizer *t); /* "llama", "gpt2", "unigram" */
int32_t atn_tokenizer_bos(const atn_tokenizer *t);      /* -1 if none */
int32_t atn_tokenizer_eos(const atn_tokenizer *t);
int32_t atn_tokenizer_unk(const atn_tokenizer *t);
int32_t atn_tokenizer_pad(const atn_tokenizer *t);
int atn_tokenizer_add_bos(const atn_tokenizer *t);      /* tokenizer.ggml.add_bos_token */
int atn_tokenizer_add_eos(const atn_tokenizer *t);      /* tokenizer.ggml.add_eos_token */
int atn_tokenizer_is_eog(const atn_tokenizer *t, int32_t id);
int atn_tokenizer_is_special(const atn_tokenizer *t, int32_t id); /* control/user-defined */
int atn_tokenizer_is_control(const atn_tokenizer *t, int32_t id); /* control only */
int32_t atn_tokenizer_lookup(const atn_tokenizer *t, const char *text, size_t len); /* exact piece, or -1 */

/* Same contracts as atn_tokenize / atn_token_to_bytes / atn_token_piece in
 * atento.h. encode returns < 0 and sets atn_error() on invalid UTF-8. */
int atn_tokenizer_encode(const atn_tokenizer *t, const char *text, size_t len,
                         int add_special, int parse_special, int32_t *ids, int cap);
/* encode with parse_special, except that no control token is matched over a
 * byte whose text_mask is 1 (text given by a user stays text) */
int atn_tokenizer_encode_masked(const atn_tokenizer *t, const char *text, size_t len, const unsigned char *text_mask,
                                int add_special, int32_t *ids, int cap);
int atn_tokenizer_token_bytes(const atn_tokenizer *t, int32_t id, char *out, int cap);
int atn_tokenizer_piece(const atn_tokenizer *t, int32_t id, char *out, int cap);
/* Whole-sequence decode: like concatenating token_bytes, but a SentencePiece
 * leading space on the first piece is removed, and special tokens are skipped
 * unless keep_special. */
int atn_tokenizer_decode(const atn_tokenizer *t, const int32_t *ids, int n, int keep_special, char *out, int cap);

/* UTF-8 helpers (utf8.c). */
int atn_utf8_valid(const char *s, size_t len);            /* 1 if valid */
int atn_utf8_char_len(unsigned char lead);                /* 1..4, or 0 for a continuation/invalid byte */
size_t atn_utf8_complete_prefix(const char *s, size_t len); /* longest prefix that ends on a whole character */

#endif
