/* fuzz_tok_vocab.c — the vocabulary comes from the input: a GGUF file's
 * tokenizer keys (tokenizer.ggml.*) go through atn_tokenizer_load, and a
 * fixed set of texts through encode, decode and every id's bytes. A damaged
 * vocabulary must be refused with a message or work; never crash.
 * Seeds: tests/fuzz/corpus/tok_vocab (tests/fuzz/make_seeds.py). */
#include "atento.h"
#include "gguf.h"
#include "tokenizer.h"
#include "fuzz_util.h"

static const char *const TEXTS[] = {
    "hola gato", " the  cat\n\nis", "<s>hola</s><|im_end|>", "\xC3\xB1 \xE2\x96\x81x 123 \xF0\x9F\x98\x80", "",
    "   ", "a'LL'S,.!?", ">>es<< el",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = fuzz_copy(data, size);
    if (!copy) return 0;
    char err[256];
    atn_gguf *g = atn_gguf_open((const uint8_t *)copy, size, err, sizeof err);
    atn_tokenizer *t = g ? atn_tokenizer_load(g, "tokenizer.ggml", err, sizeof err) : NULL;
    if (t) {
        int n_vocab = atn_tokenizer_n_vocab(t);
        int32_t ids[256];
        char out[2048];
        for (size_t k = 0; k < sizeof TEXTS / sizeof *TEXTS; k++) {
            for (int flags = 0; flags < 4; flags++) {
                int n = atn_tokenizer_encode(t, TEXTS[k], strlen(TEXTS[k]), flags & 1, flags >> 1, ids, 256);
                if (n < 0) continue;
                if (n > 256) n = 256;
                for (int i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab, "id %d of %d", ids[i], n_vocab);
                atn_tokenizer_decode(t, ids, n, flags & 1, out, sizeof out);
            }
        }
        for (int id = 0; id < n_vocab && id < 1024; id++) {
            atn_tokenizer_token_bytes(t, id, out, sizeof out);
            atn_tokenizer_piece(t, id, out, sizeof out);
            atn_tokenizer_is_eog(t, id);
        }
        atn_tokenizer_free(t);
    }
    atn_gguf_close(g);
    free(copy);
    return 0;
}
