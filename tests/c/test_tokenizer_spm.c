/* test_tokenizer_spm.c — SentencePiece BPE ("llama" tokenizer) against
 * Debian's spm_encode, plus the API's contracts: BOS, empty text, invalid
 * UTF-8, special tokens, byte fallback, decoding, buffer capacity. */
#include "test_tokenizer_util.h"

static int contains(const int32_t *ids, int n, int32_t id) {
    for (int i = 0; i < n; i++) if (ids[i] == id) return 1;
    return 0;
}

/* decode(encode(text)) == text for every reference line: identity
 * normalization + byte fallback make SentencePiece BPE lossless. */
static void check_roundtrip(const atn_tokenizer *t, const char *path) {
    size_t n;
    char *buf = (char *)read_file(path, &n);
    if (!buf) { n_fail++; return; }
    int32_t ids[4096];
    static char out[65536];
    int lines = 0, ok = 0;
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && buf[e] != '\n') e++;
        char *tab = memchr(buf + i, '\t', e - i);
        /* (a literal ▁ in the input decodes as a space: skip those lines) */
        if (buf[i] != '#' && tab && !has_bytes(tab, (size_t)(buf + e - tab), "\xE2\x96\x81", 3)) {
            size_t tl = (size_t)(buf + e - tab - 1);
            int k = atn_tokenizer_encode(t, tab + 1, tl, 1, 0, ids, 4096);
            int m = atn_tokenizer_decode(t, ids, k, 0, out, sizeof out);
            lines++;
            if (m == (int)tl && memcmp(out, tab + 1, tl) == 0) ok++;
            else if (lines - ok < 4) printf("  roundtrip: \"%.*s\" -> \"%.*s\"\n", (int)tl, tab + 1, m, out);
        }
        i = e + 1;
    }
    CHECK(lines > 0 && ok == lines, "decode(encode(x)) == x on %d of %d lines", ok, lines);
    free(buf);
}

int main(void) {
    fixture fx;
    if (fixture_open(&fx, "tests/data/tokenizer/spm_bpe.gguf") == 0) {
        const atn_tokenizer *t = fx.t;
        int32_t ids[256];
        char out[256];
        CHECK(strcmp(atn_tokenizer_kind(t), "llama") == 0, "kind %s", atn_tokenizer_kind(t));
        CHECK(atn_tokenizer_n_vocab(t) == 2000, "n_vocab %d", atn_tokenizer_n_vocab(t));
        CHECK(atn_tokenizer_bos(t) == 1 && atn_tokenizer_eos(t) == 2 && atn_tokenizer_unk(t) == 0, "bos/eos/unk");
        CHECK(atn_tokenizer_add_bos(t) == 1 && atn_tokenizer_add_eos(t) == 0, "add_bos/add_eos");
        CHECK(atn_tokenizer_is_eog(t, 2) && !atn_tokenizer_is_eog(t, 1), "eog");
        CHECK(atn_tokenizer_is_special(t, 1) && !atn_tokenizer_is_special(t, 500), "is_special");
        CHECK(atn_tokenizer_lookup(t, "<s>", 3) == 1 && atn_tokenizer_lookup(t, "no such piece", 13) == -1, "lookup");

        int agree = 0;
        int lines = check_reference(t, "tests/data/tokenizer/spm_bpe.ref.tsv", &agree);
        printf("spm bpe: %d of %d lines equal to spm_encode\n", agree, lines);
        CHECK(lines >= 3500 && agree == lines, "spm_encode agreement %d/%d", agree, lines);
        check_roundtrip(t, "tests/data/tokenizer/spm_bpe.ref.tsv");

        /* BOS, empty text */
        CHECK(atn_tokenizer_encode(t, "", 0, 0, 0, ids, 256) == 0, "empty -> 0 ids");
        CHECK(atn_tokenizer_encode(t, NULL, 0, 1, 0, ids, 256) == 1 && ids[0] == 1, "empty + BOS -> [BOS]");
        int n = atn_tokenizer_encode(t, "Hello world", 11, 1, 0, ids, 256);
        CHECK(n > 2 && ids[0] == 1 && !contains(ids + 1, n - 1, 1), "BOS first");

        /* invalid UTF-8 */
        n = atn_tokenizer_encode(t, "abc\xC3(", 5, 0, 0, ids, 256);
        CHECK(n < 0 && strcmp(atn_last_error(), "invalid UTF-8 at byte 3") == 0, "invalid UTF-8: %d '%s'", n, atn_last_error());
        n = atn_tokenizer_encode(t, "\xED\xA0\x80", 3, 0, 0, ids, 256);
        CHECK(n < 0 && strcmp(atn_last_error(), "invalid UTF-8 at byte 0") == 0, "surrogate rejected");
        n = atn_tokenizer_encode(t, "ok\xF0\x9F\x98", 5, 0, 0, ids, 256);
        CHECK(n < 0 && strcmp(atn_last_error(), "invalid UTF-8 at byte 2") == 0, "truncated 4-byte char");
        n = atn_tokenizer_encode(t, "a\xC0\x80", 3, 0, 0, ids, 256);
        CHECK(n < 0, "overlong NUL rejected");

        /* special tokens: literal only with parse_special */
        n = atn_tokenizer_encode(t, "Hi</s><s>there", 14, 0, 1, ids, 256);
        CHECK(n > 3 && contains(ids, n, 2) && contains(ids, n, 1), "parse_special finds </s> and <s>");
        int n2 = atn_tokenizer_encode(t, "Hi</s><s>there", 14, 0, 0, ids, 256);
        CHECK(n2 > 0 && !contains(ids, n2, 2) && !contains(ids, n2, 1), "no specials from plain text");
        /* the text after a special token gets the dummy prefix (as llama.cpp) */
        n = atn_tokenizer_encode(t, "<s>Hi", 5, 0, 1, ids, 256);
        int32_t hi[16];
        int nh = atn_tokenizer_encode(t, "Hi", 2, 0, 0, hi, 16);
        CHECK(n == nh + 1 && ids[0] == 1 && memcmp(ids + 1, hi, (size_t)nh * 4) == 0, "<s>Hi = <s> + encode(Hi)");

        /* byte fallback + token bytes */
        n = atn_tokenizer_encode(t, "\xF0\x9F\x98\x80", 4, 0, 0, ids, 256);  /* 😀 */
        CHECK(n == 5, "emoji -> ▁ + 4 byte tokens (%d)", n);
        if (n == 5) {
            char b[8];
            int k1 = atn_tokenizer_token_bytes(t, ids[1], b, 8);
            CHECK(k1 == 1 && (unsigned char)b[0] == 0xF0, "byte token -> its byte");
            int k0 = atn_tokenizer_piece(t, ids[1], b, 8);
            CHECK(k0 == 6 && memcmp(b, "<0xF0>", 6) == 0, "byte piece text");
            int m = atn_tokenizer_decode(t, ids, n, 0, out, sizeof out);
            CHECK(m == 4 && memcmp(out, "\xF0\x9F\x98\x80", 4) == 0, "emoji decodes");
        }
        int32_t sp = atn_tokenizer_lookup(t, "\xE2\x96\x81", 3);
        CHECK(sp >= 0 && atn_tokenizer_token_bytes(t, sp, out, 8) == 1 && out[0] == ' ', "▁ -> space");

        /* decode: specials skipped unless kept, leading space dropped */
        n = atn_tokenizer_encode(t, "Hello world", 11, 1, 0, ids, 256);
        ids[n++] = 2;
        int m = atn_tokenizer_decode(t, ids, n, 0, out, sizeof out);
        CHECK(m == 11 && memcmp(out, "Hello world", 11) == 0, "decode skips specials: '%.*s'", m, out);
        m = atn_tokenizer_decode(t, ids, n, 1, out, sizeof out);
        CHECK(m == 18 && memcmp(out, "<s>Hello world</s>", 18) == 0, "decode keeps specials: '%.*s'", m, out);
        m = atn_tokenizer_decode(t, ids, n, 0, out, 3);
        CHECK(m == 11 && memcmp(out, "Hel", 3) == 0, "decode with a small buffer returns the full size");
        CHECK(atn_tokenizer_decode(t, (int32_t[]){5000}, 1, 0, out, 8) < 0, "decode bad id");
        CHECK(atn_tokenizer_token_bytes(t, -1, out, 8) < 0 && atn_tokenizer_token_bytes(t, 2000, out, 8) < 0, "token_bytes bad id");
        CHECK(atn_tokenizer_piece(t, 2000, out, 8) < 0, "piece bad id");

        /* capacity: the count is returned, only cap ids written */
        int32_t small[3] = { -7, -7, -7 };
        n = atn_tokenizer_encode(t, "Hello world, how are you?", 25, 1, 0, small, 2);
        CHECK(n > 3 && small[2] == -7 && small[0] == 1, "cap respected (%d)", n);
        CHECK(atn_tokenizer_encode(t, "Hello world", 11, 1, 0, NULL, 0) == atn_tokenizer_encode(t, "Hello world", 11, 1, 0, ids, 256), "count with NULL buffer");

        /* a long input (no quadratic blowup; exact round trip) */
        size_t big = 200000;
        char *text = malloc(big);
        int32_t *bids = malloc(big * sizeof(int32_t));
        char *back = malloc(big + 16);
        if (text && bids && back) {
            const char *words[] = { "the ", "quick ", "brown ", "zorro ", "saltó ", "😀 ", "123 ", "\n" };
            size_t p = 0; unsigned r = 1;
            while (p + 16 < big) { r = r * 1103515245u + 12345u; const char *w = words[(r >> 16) % 8]; size_t l = strlen(w); memcpy(text + p, w, l); p += l; }
            n = atn_tokenizer_encode(t, text, p, 0, 0, bids, (int)big);
            m = n > 0 ? atn_tokenizer_decode(t, bids, n, 0, back, (int)big + 16) : -1;
            CHECK(n > 0 && m == (int)p && memcmp(back, text, p) == 0, "long text round trip (%d ids)", n);
        }
        free(text); free(bids); free(back);
        fixture_close(&fx);
    }

    /* UTF-8 helpers */
    CHECK(atn_utf8_valid("h\xC3\xA9", 3) && !atn_utf8_valid("\xC3", 1) && !atn_utf8_valid("\xF5\x80\x80\x80", 4), "utf8_valid");
    CHECK(atn_utf8_char_len('a') == 1 && atn_utf8_char_len(0xC3) == 2 && atn_utf8_char_len(0xE2) == 3 &&
          atn_utf8_char_len(0xF0) == 4 && atn_utf8_char_len(0x80) == 0, "utf8_char_len");
    CHECK(atn_utf8_complete_prefix("a\xE2\x96", 3) == 1 && atn_utf8_complete_prefix("a\xE2\x96\x81", 4) == 4 &&
          atn_utf8_complete_prefix("\xF0\x9F\x98", 3) == 0 && atn_utf8_complete_prefix("ab", 2) == 2, "utf8_complete_prefix");
    return finish();
}
