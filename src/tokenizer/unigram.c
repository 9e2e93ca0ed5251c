/* unigram.c — SentencePiece unigram (in progress) */
#include "tok_internal.h"
#include "../error.h"
int atn_unigram_encode(const atn_tokenizer *t, const char *text, size_t len, atn_tok_out *o) { return atn_error("unigram: not implemented"); }
int atn_charsmap_load(atn_tokenizer *t, const uint8_t *blob, size_t n, char *err, size_t errcap) { return 0; }
