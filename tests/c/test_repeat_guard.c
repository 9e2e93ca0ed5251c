/* test_repeat_guard.c — the decoding guard against repetition loops
 * (src/repeat_guard.c, used by src/translate.c).
 *
 * 1. The rules on hand-made targets: which tokens each bans, EOS never.
 * 2. End to end on tests/data/marian/tiny.f32.gguf, a random Marian model
 *    whose translations loop ("▁a ▁a ▁a ..."): without the guard its greedy
 *    and beam-4 outputs repeat (checked, so the fixture keeps showing the
 *    problem); with it, through the single-sentence path and the text path
 *    (sentences decoded together in lanes), no output repeats an n-gram or a
 *    word-start span, greedy and beam 4 alike.
 * 3. Out-of-range settings are refused with a message.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atento.h"
#include "repeat_guard.h"
#include "test_util.h"

#define V 12
#define EOS 1

static int n_banned(const float *lsm) {
    int n = 0;
    for (int i = 0; i < V; i++) n += lsm[i] == -INFINITY;
    return n;
}

static void apply(const atn_repeat_guard *g, const int32_t *out, int n, float *lsm) {
    for (int i = 0; i < V; i++) lsm[i] = -1.0f;
    atn_repeat_guard_apply(g, out, n, lsm);
}

static void test_rules(void) {
    unsigned char ws[V] = {0};
    ws[5] = ws[6] = ws[7] = 1; /* 5, 6, 7 begin a word; 8, 9 continue one */
    atn_repeat_guard g = {0, 0, EOS, V, ws};
    float lsm[V];

    int32_t a[] = {5};
    apply(&g, a, 1, lsm);
    CHECK(n_banned(lsm) == 0, "guard off bans %d tokens", n_banned(lsm));

    g.no_repeat_span = 4;
    apply(&g, a, 1, lsm);
    CHECK(lsm[5] == -INFINITY && n_banned(lsm) == 1, "span: a word right after itself is banned");
    int32_t b[] = {8};
    apply(&g, b, 1, lsm);
    CHECK(n_banned(lsm) == 0, "span: a piece inside a word may repeat");
    int32_t c[] = {5, 9, 5};
    apply(&g, c, 3, lsm);
    CHECK(lsm[9] == -INFINITY && lsm[5] == -INFINITY && n_banned(lsm) == 2,
          "span: '5 9 5' bans 9 (the copy of '5 9') and 5 (the copy of '5')");
    int32_t d[] = {6, 7, 9, 6, 7};
    apply(&g, d, 5, lsm);
    CHECK(lsm[9] == -INFINITY && lsm[7] == -INFINITY && n_banned(lsm) == 2, "span: '6 7 9 6 7' bans 9 and 7");
    g.no_repeat_span = 2;
    apply(&g, d, 5, lsm);
    CHECK(lsm[9] != -INFINITY && n_banned(lsm) == 1, "span 2 leaves the 3-token span '6 7 9' alone");
    int32_t e[] = {5, EOS};
    apply(&g, e, 2, lsm);
    CHECK(lsm[EOS] != -INFINITY, "EOS is never banned");

    g.no_repeat_span = 0;
    g.no_repeat_ngram = 3;
    int32_t f[] = {5, 6, 7, 5, 6};
    apply(&g, f, 5, lsm);
    CHECK(lsm[7] == -INFINITY && n_banned(lsm) == 1, "3-gram: '5 6 7 5 6' bans 7");
    int32_t h[] = {5, 6, 7, 6};
    apply(&g, h, 4, lsm);
    CHECK(n_banned(lsm) == 0, "3-gram: no earlier '7 6', nothing banned");
    int32_t k[] = {5, EOS, 5};
    g.no_repeat_ngram = 2;
    apply(&g, k, 3, lsm);
    CHECK(lsm[EOS] != -INFINITY, "2-gram: EOS stays allowed after '5 EOS 5'");
    g.no_repeat_ngram = 1;
    apply(&g, f, 5, lsm);
    CHECK(lsm[5] == -INFINITY && lsm[6] == -INFINITY && lsm[7] == -INFINITY && n_banned(lsm) == 3,
          "1-gram: every token already out is banned");
}

/* Does ids[0..n-1] (EOS dropped) repeat an N-gram, or a word-start span of
 * up to K tokens right after itself? */
static int repeats(const atn_model *m, const int32_t *ids, int n, int N, int K) {
    if (n > 0 && ids[n - 1] == atn_token_eos(m)) n--;
    for (int i = 0; i + N <= n; i++)
        for (int j = i + 1; j + N <= n; j++)
            if (!memcmp(ids + i, ids + j, (size_t)N * sizeof(int32_t))) return 1;
    for (int L = 1; L <= K; L++)
        for (int i = 0; i + 2 * L <= n; i++) {
            char p[8] = {0};
            atn_token_piece(m, ids[i], p, (int)sizeof p);
            if (strncmp(p, "\xe2\x96\x81", 3)) continue;
            if (!memcmp(ids + i, ids + i + L, (size_t)L * sizeof(int32_t))) return 1;
        }
    return 0;
}

extern int atn_translate_ids_for_test(atn_translator *, const int32_t *, int);

static void test_model(void) {
    atn_model *m = test_load_model("tests/data/marian/tiny.f32.gguf");
    if (!m) { CHECK(0, "load tiny"); return; }
    const int N = 3, K = 8;
    const char *texts[] = {"I see a cat.", "Tom is here.", "Where is the library?", "library"};
    for (int beam = 1; beam <= 4; beam += 3) {
        int looped = 0, bad = 0, n_out = 0;
        for (int guard = 0; guard <= 1; guard++) {
            for (size_t s = 0; s < sizeof texts / sizeof texts[0]; s++) {
                int32_t src[64], out[256];
                int ns = atn_translate_source_ids(m, "es", texts[s], strlen(texts[s]), src, 64);
                CHECK(ns > 0 && ns <= 64, "source ids of '%s'", texts[s]);
                atn_translator *t = atn_translator_new(m, beam, "es", 0);
                CHECK(t && atn_translator_set_repeat_guard(t, guard ? N : 0, guard ? K : 0) == 0, "translator: %s",
                      atn_last_error());
                if (!t) continue;
                CHECK(atn_translate_ids_for_test(t, src, ns) == 0, "translate: %s", atn_last_error());
                int n = atn_translate_tokens(t, 0, out, 256);
                CHECK(n > 0 && n <= 256, "%d target tokens", n);
                if (guard) bad += repeats(m, out, n, N, K);
                else looped += repeats(m, out, n, N, K);
                atn_translator_free(t);
            }
        }
        CHECK(looped > 0, "beam %d: the fixture no longer loops without the guard (the test would prove nothing)", beam);
        CHECK(bad == 0, "beam %d: %d outputs repeat with the guard on", beam, bad);
        /* the text path: all four sentences in one text, decoded together */
        atn_translator *t = atn_translator_new(m, beam, "es", 0);
        CHECK(t && atn_translator_set_repeat_guard(t, N, K) == 0, "translator");
        const char *page = "I see a cat. Tom is here. Where is the library? Library library.";
        CHECK(t && atn_translate_begin(t, page, strlen(page)) == 0, "begin: %s", atn_last_error());
        int r;
        bad = 0;
        while (t && (r = atn_translate_next(t)) > 0) {
            if (r != 2) continue;
            int32_t out[256];
            int n = atn_translate_tokens(t, 0, out, 256);
            bad += repeats(m, out, n, N, K);
            n_out++;
        }
        CHECK(n_out == 4, "beam %d: %d sentences translated", beam, n_out);
        CHECK(bad == 0, "beam %d: %d sentences of the text repeat with the guard on", beam, bad);
        atn_translator_free(t);
    }
    /* the default translator has the guard on with the documented values */
    atn_translator *t = atn_translator_new(m, 1, "es", 0);
    int32_t src[64], out[256];
    int ns = atn_translate_source_ids(m, "es", "library", 7, src, 64);
    CHECK(t && atn_translate_ids_for_test(t, src, ns) == 0, "default translate");
    int n = t ? atn_translate_tokens(t, 0, out, 256) : 0;
    if (ATN_TR_NO_REPEAT_NGRAM || ATN_TR_NO_REPEAT_SPAN)
        CHECK(!repeats(m, out, n, ATN_TR_NO_REPEAT_NGRAM ? ATN_TR_NO_REPEAT_NGRAM : 256, ATN_TR_NO_REPEAT_SPAN),
              "the default guard lets a repetition through");
    /* bad settings */
    CHECK(t && atn_translator_set_repeat_guard(t, 17, 0) < 0 && strstr(atn_last_error(), "no_repeat_ngram"),
          "ngram 17 refused: %s", atn_last_error());
    CHECK(t && atn_translator_set_repeat_guard(t, 0, 17) < 0 && strstr(atn_last_error(), "no_repeat_span"),
          "span 17 refused: %s", atn_last_error());
    CHECK(atn_translator_set_repeat_guard(NULL, 3, 3) < 0, "no translator refused");
    atn_translator_free(t);
    atn_model_free(m);
}

int main(void) {
    test_rules();
    test_model();
    return test_summary();
}
