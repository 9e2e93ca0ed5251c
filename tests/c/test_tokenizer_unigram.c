/* test_tokenizer_unigram.c — SentencePiece unigram with nmt_nfkc
 * normalization (the precompiled charsmap) against Debian's spm_encode,
 * plus decoding and a hostile charsmap. */
#include "test_tokenizer_util.h"

int main(void) {
    fixture fx;
    if (fixture_open(&fx, "tests/data/tokenizer/spm_unigram.gguf") == 0) {
        const atn_tokenizer *t = fx.t;
        int32_t ids[256];
        char out[512];
        CHECK(strcmp(atn_tokenizer_kind(t), "unigram") == 0, "kind %s", atn_tokenizer_kind(t));
        CHECK(atn_tokenizer_n_vocab(t) == 8000, "n_vocab %d", atn_tokenizer_n_vocab(t));
        CHECK(atn_tokenizer_unk(t) == 0 && atn_tokenizer_bos(t) == 1 && atn_tokenizer_eos(t) == 2, "unk/bos/eos");
        CHECK(atn_tokenizer_add_bos(t) == 0, "no BOS for unigram fixture");

        int agree = 0;
        int lines = check_reference(t, "tests/data/tokenizer/spm_unigram.ref.tsv", &agree);
        printf("spm unigram: %d of %d lines equal to spm_encode\n", agree, lines);
        CHECK(lines >= 3500 && agree == lines, "spm_encode agreement %d/%d", agree, lines);

        /* whitespace handling: leading/trailing/collapsed */
        int32_t a[64], b[64];
        int na = atn_tokenizer_encode(t, "  Hello   world  ", 17, 0, 0, a, 64);
        int nb = atn_tokenizer_encode(t, "Hello world", 11, 0, 0, b, 64);
        CHECK(na == nb && na > 0 && memcmp(a, b, (size_t)na * 4) == 0, "extra whitespace removed");
        CHECK(atn_tokenizer_encode(t, "   ", 3, 0, 0, a, 64) == 0, "only spaces -> nothing");
        /* NFKC: fullwidth letters normalize to ASCII */
        na = atn_tokenizer_encode(t, "\xEF\xBC\xA8\xEF\xBD\x85\xEF\xBD\x8C\xEF\xBD\x8C\xEF\xBD\x8F", 15, 0, 0, a, 64);
        nb = atn_tokenizer_encode(t, "Hello", 5, 0, 0, b, 64);
        CHECK(na == nb && memcmp(a, b, (size_t)na * 4) == 0, "fullwidth Hello == Hello");

        /* decode: ▁ -> space, leading space dropped, unknown shown as ⁇ */
        int n = atn_tokenizer_encode(t, "She told me she loved me.", 25, 0, 0, ids, 256);
        int m = atn_tokenizer_decode(t, ids, n, 0, out, sizeof out);
        CHECK(m == 25 && memcmp(out, "She told me she loved me.", 25) == 0, "decode '%.*s'", m, out);
        n = atn_tokenizer_encode(t, "Hola \xEA\x99\xAE\xEA\x99\xAE", 11, 0, 0, ids, 256); /* ꙮꙮ: one unk */
        int n_unk = 0;
        for (int i = 0; i < n; i++) n_unk += ids[i] == 0;
        CHECK(n > 0 && n_unk == 1 && ids[n - 1] == 0, "a run of unknown characters -> one unk");
        m = atn_tokenizer_decode(t, ids, n, 0, out, sizeof out);
        CHECK(m == 10 && memcmp(out, "Hola  \xE2\x81\x87 ", 10) == 0, "unk decodes as ' ⁇ ': '%.*s'", m, out);
        /* EOS appended only when asked by the model; here add_eos is off */
        n = atn_tokenizer_encode(t, "Hi", 2, 1, 0, ids, 256);
        CHECK(n > 0 && ids[n - 1] != 2, "no EOS");
        fixture_close(&fx);
    }
    return finish();
}
