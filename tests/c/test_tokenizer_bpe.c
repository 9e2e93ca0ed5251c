/* test_tokenizer_bpe.c — byte-level BPE ("gpt2" tokenizer) with the gpt2,
 * llama3, qwen2 and smollm pre-tokenizers against an independent JavaScript
 * reference (models/tools/bpe_reference.mjs), plus lossless decoding and
 * special tokens. */
#include "test_tokenizer_util.h"

static const char *const PRE[4] = { "gpt2", "llama3", "qwen2", "smollm" };

static size_t unescape(const char *s, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[++i];
            out[k++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
        } else {
            out[k++] = s[i];
        }
    }
    return k;
}

static int parse_ids(const char *p, const char *end, int32_t *ids, int cap) {
    int n = 0;
    while (p < end && n < cap) {
        while (p < end && *p == ' ') p++;
        if (p >= end) break;
        char *q;
        ids[n++] = (int32_t)strtol(p, &q, 10);
        p = q;
    }
    return n;
}

int main(void) {
    fixture fx[4];
    int ok[4];
    for (int k = 0; k < 4; k++) {
        char path[128];
        snprintf(path, sizeof path, "tests/data/tokenizer/bpe_%s.gguf", PRE[k]);
        ok[k] = fixture_open(&fx[k], path) == 0;
    }
    size_t n;
    char *buf = (char *)read_file("tests/data/tokenizer/bpe.ref.tsv", &n);
    CHECK(buf != NULL, "read bpe.ref.tsv");
    int lines = 0, agree[4] = { 0, 0, 0, 0 }, shown = 0, rt_ok = 0;
    static int32_t ref[8192], ids[8192];
    static char text[65536], back[65536];
    for (size_t i = 0; buf && i < n;) {
        size_t e = i;
        while (e < n && buf[e] != '\n') e++;
        if (buf[i] != '#') {
            const char *col[5];
            const char *p = buf + i;
            int nc = 0;
            col[nc++] = p;
            for (const char *q = p; q < buf + e && nc < 5; q++) if (*q == '\t') col[nc++] = q + 1;
            if (nc == 5) {
                size_t tl = unescape(col[4], (size_t)(buf + e - col[4]), text);
                lines++;
                for (int k = 0; k < 4; k++) {
                    if (!ok[k]) continue;
                    int nr = parse_ids(col[k], col[k + 1] - 1, ref, 8192);
                    int got = atn_tokenizer_encode(fx[k].t, text, tl, 0, 0, ids, 8192);
                    int same = got == nr && (nr == 0 || memcmp(ids, ref, (size_t)nr * 4) == 0);
                    agree[k] += same;
                    if (!same && shown++ < 6) {
                        printf("  %s mismatch on \"%.*s\"\n    want:", PRE[k], (int)tl, text);
                        for (int j = 0; j < nr; j++) printf(" %d", ref[j]);
                        printf("\n    got: ");
                        for (int j = 0; j < got && j < 8192; j++) printf(" %d", ids[j]);
                        printf("\n");
                    }
                    if (k == 1) {
                        int m = atn_tokenizer_decode(fx[k].t, ids, got, 0, back, sizeof back);
                        rt_ok += m == (int)tl && memcmp(back, text, tl) == 0;
                    }
                }
            }
        }
        i = e + 1;
    }
    free(buf);
    for (int k = 0; k < 4; k++) {
        printf("byte-level bpe, pre-tokenizer %s: %d of %d lines equal to the reference\n", PRE[k], agree[k], lines);
        CHECK(ok[k] && lines > 1500 && agree[k] == lines, "%s agreement %d/%d", PRE[k], agree[k], lines);
    }
    CHECK(rt_ok == lines, "decode(encode(x)) == x on %d of %d lines", rt_ok, lines);

    if (ok[0]) {
        const atn_tokenizer *t = fx[0].t;
        int32_t v[64];
        char out[256];
        int32_t eot = atn_tokenizer_lookup(t, "<|endoftext|>", 13);
        int32_t ims = atn_tokenizer_lookup(t, "<|im_start|>", 12), ime = atn_tokenizer_lookup(t, "<|im_end|>", 10);
        CHECK(strcmp(atn_tokenizer_kind(t), "gpt2") == 0, "kind");
        CHECK(eot >= 0 && atn_tokenizer_bos(t) == eot && atn_tokenizer_eos(t) == eot, "bos/eos");
        CHECK(atn_tokenizer_add_bos(t) == 0, "no BOS");
        CHECK(atn_tokenizer_is_eog(t, eot) && atn_tokenizer_is_eog(t, ime) && !atn_tokenizer_is_eog(t, ims), "eog: endoftext, im_end");
        const char *chat = "<|im_start|>user\nhi<|im_end|>";
        int k = atn_tokenizer_encode(t, chat, strlen(chat), 1, 1, v, 64);
        CHECK(k >= 4 && v[0] == ims && v[k - 1] == ime, "parse_special: <|im_start|> ... <|im_end|>");
        int m = atn_tokenizer_decode(t, v, k, 1, out, sizeof out);
        CHECK(m == (int)strlen(chat) && memcmp(out, chat, (size_t)m) == 0, "decode keep_special: '%.*s'", m, out);
        m = atn_tokenizer_decode(t, v, k, 0, out, sizeof out);
        CHECK(m == 7 && memcmp(out, "user\nhi", 7) == 0, "decode skips specials: '%.*s'", m, out);
        k = atn_tokenizer_encode(t, chat, strlen(chat), 1, 0, v, 64);
        int found = 0;
        for (int j = 0; j < k; j++) found |= v[j] == ims || v[j] == ime;
        CHECK(k > 4 && !found, "no specials from plain text");
        /* token bytes: the stand-in map undone */
        k = atn_tokenizer_encode(t, " \xC3\xB1", 3, 0, 0, v, 64);   /* " ñ" */
        int total = 0;
        for (int j = 0; j < k; j++) total += atn_tokenizer_token_bytes(t, v[j], out + total, 16);
        CHECK(total == 3 && memcmp(out, " \xC3\xB1", 3) == 0, "token bytes");
        k = atn_tokenizer_encode(t, "a\xFF", 2, 0, 0, v, 64);
        CHECK(k < 0 && strcmp(atn_last_error(), "invalid UTF-8 at byte 1") == 0, "invalid UTF-8");
        CHECK(atn_tokenizer_encode(t, "", 0, 1, 1, v, 64) == 0, "empty -> 0 ids");

        /* long inputs: one huge word, one huge whitespace run */
        size_t big = 100000;
        char *s = malloc(big);
        int32_t *bi = malloc(big * sizeof(int32_t));
        char *bb = malloc(big);
        if (s && bi && bb) {
            for (size_t j = 0; j < big; j++) s[j] = "abcdefgh"[(j * 7 + j / 13) % 8];
            k = atn_tokenizer_encode(t, s, big, 0, 0, bi, (int)big);
            m = k > 0 ? atn_tokenizer_decode(t, bi, k, 0, bb, (int)big) : -1;
            CHECK(k > 0 && m == (int)big && memcmp(bb, s, big) == 0, "100 kB word round trip (%d ids)", k);
            memset(s, ' ', big);
            s[big - 1] = 'x';
            k = atn_tokenizer_encode(fx[1].t, s, big, 0, 0, bi, (int)big);
            m = k > 0 ? atn_tokenizer_decode(fx[1].t, bi, k, 0, bb, (int)big) : -1;
            CHECK(k > 0 && m == (int)big && memcmp(bb, s, big) == 0, "100 kB of spaces round trip (%d ids)", k);
        }
        free(s); free(bi); free(bb);
    }
    for (int k = 0; k < 4; k++) if (ok[k]) fixture_close(&fx[k]);
    return finish();
}
