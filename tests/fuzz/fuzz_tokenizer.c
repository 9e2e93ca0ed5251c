/* fuzz_tokenizer.c — text against a fixed vocabulary of tests/data/tokenizer,
 * compiled once per kind (FUZZ_TOKENIZER = 0 SentencePiece BPE, 1 byte-level
 * BPE, 2 unigram). Input: one flags byte (bit 0 add_special, bit 1
 * parse_special, bits 2-3 the byte-level pre-tokenizer: gpt2, llama3, qwen2,
 * smollm), then the text. Checked: encode fails exactly on invalid UTF-8,
 * counts past cap like atento.h says, every id is in range and decodes;
 * byte-level BPE gives the text back byte for byte (its NFC for a vocabulary
 * whose pre-tokenizer normalizes, as Qwen2's does). */
#include "atento.h"
#include "gguf.h"
#include "tokenizer.h"
#include "tokenizer/tok_internal.h"
#include "fuzz_util.h"

#ifndef FUZZ_TOKENIZER
#define FUZZ_TOKENIZER 0
#endif

static atn_tokenizer *tok[4];
static atn_gguf *gguf[4];   /* kept for the whole run, like the tokenizers */
static int n_tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const char *const files[3][4] = {
        {"tests/data/tokenizer/spm_bpe.gguf"},
        {"tests/data/tokenizer/bpe_gpt2.gguf", "tests/data/tokenizer/bpe_llama3.gguf",
         "tests/data/tokenizer/bpe_qwen2.gguf", "tests/data/tokenizer/bpe_smollm.gguf"},
        {"tests/data/tokenizer/spm_unigram.gguf"},
    };
    for (int i = 0; i < 4 && files[FUZZ_TOKENIZER][i]; i++) {
        size_t n;
        uint8_t *data = fuzz_read_fixture(files[FUZZ_TOKENIZER][i], &n); /* kept: pieces point into it */
        char err[256];
        atn_gguf *g = gguf[i] = atn_gguf_open(data, n, err, sizeof err);
        if (!g || !(tok[i] = atn_tokenizer_load(g, "tokenizer.ggml", err, sizeof err))) {
            fprintf(stderr, "fuzz: %s: %s\n", files[FUZZ_TOKENIZER][i], err);
            exit(2);
        }
        n_tok++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int flags = data[0];
    const atn_tokenizer *t = tok[((flags >> 2) & 3) % n_tok];
    size_t len = size - 1;
    char *text = fuzz_copy(data + 1, len);
    int cap = (int)len * 2 + 8;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    char *back = malloc(len * 4 + 64);
    if (!text || !ids || !back) goto done;
    int add_special = flags & 1, parse_special = (flags >> 1) & 1;
    int n = atn_tokenizer_encode(t, text, len, add_special, parse_special, ids, cap);
    int valid = atn_utf8_valid(text, len);
    FUZZ_CHECK((n >= 0) == valid, "encode gave %d for %s UTF-8", n, valid ? "valid" : "invalid");
    if (n < 0) goto done;
    FUZZ_CHECK(n <= cap, "%d ids for %zu bytes", n, len);
    int n_vocab = atn_tokenizer_n_vocab(t);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab, "id %d of %d", ids[i], n_vocab);
        char piece[256];
        FUZZ_CHECK(atn_tokenizer_token_bytes(t, ids[i], piece, sizeof piece) >= 0, "token_bytes of %d", ids[i]);
        FUZZ_CHECK(atn_tokenizer_piece(t, ids[i], piece, sizeof piece) >= 0, "piece of %d", ids[i]);
    }
    if (n > 1) { /* a short buffer: same count, same first id */
        int32_t first;
        FUZZ_CHECK(atn_tokenizer_encode(t, text, len, add_special, parse_special, &first, 1) == n && first == ids[0],
                   "cap 1 gives a different count or first id");
    }
    int m = atn_tokenizer_decode(t, ids, n, 1, back, (int)(len * 4 + 64));
    FUZZ_CHECK(m >= 0, "decode failed");
    if (FUZZ_TOKENIZER == 1 && !add_special && !parse_special) {
        const char *want = text;
        size_t want_len = len;
        char *nfc = NULL;
        if (t->nfc) {
            size_t nfc_len;
            FUZZ_CHECK(atn_nfc(text, len, &nfc, &nfc_len) == 0, "NFC failed");
            if (nfc) { want = nfc; want_len = nfc_len; }
        }
        FUZZ_CHECK(m == (int)want_len && memcmp(back, want, want_len) == 0,
                   "byte-level BPE does not round-trip (%d vs %zu bytes)", m, want_len);
        free(nfc);
    }
done:
    free(text);
    free(ids);
    free(back);
    return 0;
}
