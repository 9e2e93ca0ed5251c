/* test_chat_session.c — multi-turn prefill on a real (tiny, random-weight)
 * Llama: the second turn evaluates only the tokens the cache does not hold
 * yet, and its logits equal a fresh session's over the whole prompt; an
 * overflowing conversation drops its oldest turns and still fits.
 * Fixture: tests/fixtures/chat/make_tiny_chat.py. Needs the session to keep
 * its token ids (ATN_SESSION_TOKENS in model.h); without it this test says so
 * and checks nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "atento.h"
#include "chat.h"
#include "model.h"
#include "test_util.h"



#ifdef ATN_SESSION_TOKENS
static const char *ROLES[] = {"system", "user", "assistant", "user", "assistant", "user", "assistant", "user"};
static const char *CONTENTS[] = {"You are a helpful tutor.", "Hello!", "Hi! How can I help?",
                                 "How do you say cat in Spanish?", "Gato.", "And dog?", "Perro.", "Thanks, bye!"};


static void test_multiturn(atn_model *m) {
    int n_vocab = atn_model_n_vocab(m);
    atn_session *s = atn_session_new(m, 256);
    CHECK(s != NULL, "session: %s", atn_last_error());
    if (!s) return;
    int dropped = -1;
    int32_t *ids = NULL, *ids2 = NULL;
    /* turn 1: everything is new */
    int n1 = atn_chat_fit(m, ROLES, CONTENTS, 2, 1000, &ids, &dropped);
    int r1 = atn_chat_prefill(s, ROLES, CONTENTS, 2, 32, &dropped);
    CHECK(n1 > 0 && r1 == n1 && dropped == 0 && atn_session_n_past(s) == n1, "turn 1: %d of %d tokens (%s)", r1, n1,
          r1 < 0 ? atn_last_error() : "");
    /* turn 2: only what the cache does not hold */
    int n2 = atn_chat_fit(m, ROLES, CONTENTS, 4, 1000, &ids2, &dropped);
    int common = atn_chat_common_prefix(ids, n1, ids2, n2);
    int r2 = atn_chat_prefill(s, ROLES, CONTENTS, 4, 32, &dropped);
    CHECK(r2 == n2 - common && r2 < n2 && atn_session_n_past(s) == n2, "turn 2 evaluates %d of %d tokens (common prefix %d)", r2, n2,
          common);
    printf("  turn 1: %d tokens evaluated; turn 2: %d of %d (the rest reused from the cache)\n", r1, r2, n2);
    /* same logits as a fresh session over the whole prompt */
    const float *la = atn_logits(s, -1);
    float *keep = malloc((size_t)n_vocab * sizeof(float));
    if (la && keep) memcpy(keep, la, (size_t)n_vocab * sizeof(float));
    atn_session *f = atn_session_new(m, 256);
    int rf = f ? atn_eval(f, ids2, n2, 0) : -1;
    const float *lb = rf == 0 ? atn_logits(f, -1) : NULL;
    float maxdiff = 0;
    if (la && lb && keep)
        for (int i = 0; i < n_vocab; i++) maxdiff = fmaxf(maxdiff, fabsf(keep[i] - lb[i]));
    CHECK(la && lb && maxdiff < 1e-3f, "cached and fresh logits differ by %g", maxdiff);
    /* the same conversation again: nothing new but the last token */
    int r3 = atn_chat_prefill(s, ROLES, CONTENTS, 4, 32, &dropped);
    CHECK(r3 == 1, "unchanged conversation re-evaluates %d tokens", r3);
    free(keep);
    free(ids);
    free(ids2);
    atn_session_free(f);
    atn_session_free(s);

    /* overflow: a small context drops the oldest turns, keeps the system prompt */
    s = atn_session_new(m, 64);
    int32_t *all = NULL;
    int n_all = atn_chat_fit(m, ROLES, CONTENTS, 8, 100000, &all, &dropped);
    free(all);
    int r4 = s ? atn_chat_prefill(s, ROLES, CONTENTS, 8, 16, &dropped) : -1;
    CHECK(n_all > 48 && r4 > 0 && dropped > 0 && atn_session_n_past(s) <= 48, "overflow: %d tokens of %d, %d messages dropped (%s)",
          s ? atn_session_n_past(s) : -1, n_all, dropped, r4 < 0 ? atn_last_error() : "");
    atn_session_free(s);
}
#endif

int main(void) {
#ifdef ATN_SESSION_TOKENS
    size_t size;
    void *data = read_file("tests/fixtures/chat/tiny_chat.gguf", &size);
    CHECK(data != NULL, "cannot read tests/fixtures/chat/tiny_chat.gguf");
    atn_model *m = data ? atn_model_load(data, size, 1) : NULL;
    CHECK(m != NULL, "load: %s", atn_last_error());
    if (m) {
        int fb = 0;
        CHECK(atn_chat_render(m, ROLES, CONTENTS, 1, 1, &fb, NULL, 0) > 0 && fb == 0, "the model's own template is used");
        test_multiturn(m);
        atn_model_free(m);
    }
#else
    printf("atn_session keeps no token ids yet (ATN_SESSION_TOKENS): multi-turn prefill not built, nothing to test\n");
#endif
    printf("%d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
