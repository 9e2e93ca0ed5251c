/* test_tokenizer_fuzz.c — seeded random texts built from awkward fragments
 * (whitespace runs, CR/LF, combining marks, emoji, specials, ▁, digits)
 * through every fixture tokenizer: encoding never fails on valid UTF-8,
 * byte-level BPE and identity-normalized SentencePiece BPE decode back to the
 * exact input, a small buffer gives the same count and a prefix of the ids,
 * and token_bytes pieces concatenate to the decoded text. */
#include "test_tokenizer_util.h"
#include "tokenizer/tok_internal.h"   /* atn_nfc */

static const char *const FRAG[] = {
    "a", "b", "the", "Tom", " ", "  ", "   ", "\n", "\r\n", "\n\n", "\t", "\xC3\xA9", "\xC3\xB1", "e\xCC\x81",
    "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", "'s", "'LL", "1", "123", "4567",
    "<s>", "</s>", "<|im_end|>", "<|im_start|>", "<|endoftext|>", "\xE2\x96\x81", "\xC2\xA0", "\xE3\x80\x80",
    "\xEF\xBC\xA1", "!", "...", "?\n", "\xE2\x80\x8B", "\xC2\x85", "\x01", "_", "-", "\xD9\xA3",
    "\xEF\xAC\x81", "Stra\xC3\x9F" "e", "\xCE\xA9", "\xF0\x9D\x84\x9E",
};
#define NFRAG ((int)(sizeof FRAG / sizeof *FRAG))

static uint32_t rng = 20261123u;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

int main(void) {
    static const char *const files[] = {
        "tests/data/tokenizer/spm_bpe.gguf", "tests/data/tokenizer/spm_unigram.gguf",
        "tests/data/tokenizer/bpe_gpt2.gguf", "tests/data/tokenizer/bpe_llama3.gguf",
        "tests/data/tokenizer/bpe_qwen2.gguf", "tests/data/tokenizer/bpe_smollm.gguf",
    };
    static char text[4096], back[16384], cat[16384];
    static int32_t ids[4096], few[4096];
    for (int f = 0; f < 6; f++) {
        fixture fx;
        if (fixture_open(&fx, files[f]) != 0) continue;
        const atn_tokenizer *t = fx.t;
        int gpt2 = strcmp(atn_tokenizer_kind(t), "gpt2") == 0, spm_bpe = f == 0;
        int enc_ok = 0, rt_ok = 0, rt_n = 0, cap_ok = 0, cat_ok = 0, iters = 1500;
        for (int it = 0; it < iters; it++) {
            size_t len = 0;
            int nf = 1 + (int)(rnd() % 24), has_sp = 0;
            for (int k = 0; k < nf; k++) {
                int j = (int)(rnd() % NFRAG);
                size_t l = strlen(FRAG[j]);
                if (len + l >= sizeof text) break;
                memcpy(text + len, FRAG[j], l);
                len += l;
                has_sp |= j == 27;   /* a literal ▁ */
            }
            int parse = (int)(rnd() & 1);
            int n = atn_tokenizer_encode(t, text, len, 1, parse, ids, 4096);
            enc_ok += n >= 0 && n <= 4096;
            if (n < 0 || n > 4096) { if (enc_ok + 3 > it) printf("  encode failed: %s\n", atn_last_error()); continue; }
            /* a small buffer: same count, same first ids */
            int c = n / 2;
            int n2 = atn_tokenizer_encode(t, text, len, 1, parse, few, c);
            cap_ok += n2 == n && (c == 0 || memcmp(few, ids, (size_t)c * 4) == 0);
            /* exact round trip */
            if (gpt2 || (spm_bpe && !parse && !has_sp)) {
                int m = atn_tokenizer_decode(t, ids, n, gpt2, back, sizeof back); /* SPM: drop BOS */
                rt_n++;
                /* Qwen2's tokenizer normalizes to NFC: the round trip gives the NFC text */
                const char *want = text;
                size_t want_len = len;
                char *norm = NULL;
                if (f == 4 && atn_nfc(text, len, &norm, &want_len) == 0 && norm) want = norm;
                else want_len = len;
                if (m == (int)want_len && memcmp(back, want, want_len) == 0) rt_ok++;
                else if (rt_n - rt_ok < 3) printf("  %s: round trip of \"%.*s\" gave \"%.*s\"\n", files[f], (int)len, text, m, back);
                free(norm);
            }
            /* token_bytes concatenate to decode (keep_special, no leading-space rule for gpt2) */
            if (gpt2) {
                int total = 0;
                for (int k = 0; k < n; k++) {
                    int b = atn_tokenizer_token_bytes(t, ids[k], cat + total, (int)sizeof cat - total);
                    if (b < 0 || total + b > (int)sizeof cat) { total = -1; break; }
                    total += b;
                }
                int m = atn_tokenizer_decode(t, ids, n, 1, back, sizeof back);
                cat_ok += total == m && memcmp(cat, back, (size_t)m) == 0;
            } else {
                cat_ok++;
            }
        }
        printf("%s: %d/%d encoded, %d/%d exact round trips\n", files[f], enc_ok, iters, rt_ok, rt_n);
        CHECK(enc_ok == iters, "%s: encode never fails", files[f]);
        CHECK(cap_ok == iters, "%s: small buffers (%d/%d)", files[f], cap_ok, iters);
        CHECK(rt_ok == rt_n, "%s: round trips %d/%d", files[f], rt_ok, rt_n);
        CHECK(cat_ok == iters, "%s: token_bytes == decode (%d/%d)", files[f], cat_ok, iters);
        fixture_close(&fx);
    }
    return finish();
}
