/* gpt2_bpe.c — byte-level BPE (GGUF tokenizer model "gpt2"). (in progress) */
#include "tok_internal.h"
#include "../error.h"
#include <stdio.h>
int atn_gpt2_load(atn_tokenizer *t, const atn_gguf *g, const char *prefix, char *err, size_t errcap) {
    if (err && errcap) snprintf(err, errcap, "gpt2 tokenizer: not implemented yet");
    return -1;
}
int atn_gpt2_encode(const atn_tokenizer *t, const char *text, size_t len, atn_tok_out *o) { return atn_error("gpt2: not implemented"); }
int atn_gpt2_piece_bytes(const atn_tokenizer *t, const char *piece, size_t len, char *out, int cap) { return 0; }
