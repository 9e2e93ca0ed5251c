/* fuzz_model.c — a GGUF file from anywhere: load it, describe it, tokenize a
 * fixed text, render the model's chat template, and run one forward step
 * (decoder-only: one evaluated token and a greedy sample; marian: the
 * encoder and the first decoder steps of a translation). Every failure must
 * be an error return, never a crash, an overread or undefined behaviour.
 * Seeds: tests/fuzz/corpus/model (tests/fuzz/make_seeds.py).
 *
 * Speed (docs/robustness.md): what does not depend on the input is made
 * once (the greedy sampler), and the forward step evaluates two tokens (the
 * batched path, as four did) in a 16-token session. */
#include "atento.h"
#include "fuzz_util.h"

/* Greedy and without a history of recent tokens, so it keeps no state
 * from one input to the next (inputs replay the same); made once. */
static atn_sampler *greedy_sampler(void) {
    static atn_sampler *smp;
    if (!smp) {
        atn_sampler_params p;
        atn_sampler_defaults(&p);
        p.temperature = 0;
        p.repeat_last_n = 0;
        smp = atn_sampler_new(&p);
        FUZZ_CHECK(smp != NULL, "greedy sampler");
    }
    return smp;
}

static void forward_decoder(atn_model *m, const int32_t *ids, int n) {
    atn_session *s = atn_session_new(m, 16);
    if (!s) return;
    if (n > 0 && atn_eval(s, ids, n > 2 ? 2 : n, 0) == 0) {
        const float *logits = atn_logits(s, -1);
        FUZZ_CHECK(logits != NULL, "no logits after a successful eval");
        int32_t next = atn_sample(greedy_sampler(), logits, atn_model_n_vocab(m));
        FUZZ_CHECK(next >= 0 && next < atn_model_n_vocab(m), "sampled id %d of %d", next, atn_model_n_vocab(m));
    }
    atn_session_free(s);
}

static void forward_marian(atn_model *m) {
    atn_translator *t = atn_translator_new(m, 1, NULL, 0);
    if (!t) return;
    if (atn_translate_begin(t, "hola gato.", 10) == 0)
        for (int k = 0; k < 2 && atn_translate_next(t) > 0; k++) {
            size_t len;
            atn_translate_piece(t, &len);
        }
    atn_translator_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = fuzz_copy(data, size);
    if (!copy) return 0;
    atn_model *m = atn_model_load(copy, size, 0);
    if (!m) {
        const char *err = atn_last_error();
        FUZZ_CHECK(err && err[0] && !strchr(err, '\n'), "a failed load gives a one-line message");
        free(copy);
        return 0;
    }
    FUZZ_CHECK(atn_model_info_json(m) != NULL, "info json");
    int n_vocab = atn_model_n_vocab(m);
    int32_t ids[64];
    static const char text[] = "hola gato <|im_end|> the cat \xC3\xB1";
    int n = atn_tokenize(m, text, sizeof text - 1, 1, 1, ids, 64);
    if (n > 64) n = 64;
    for (int i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab, "token id %d of %d", ids[i], n_vocab);
    if (n > 0) {
        char out[512];
        atn_detokenize(m, ids, n, out, sizeof out);
    }
    const char *roles[] = {"system", "user"}, *contents[] = {"Be brief.", "hola"};
    char prompt[2048];
    atn_chat_render(m, roles, contents, 2, 1, NULL, prompt, sizeof prompt);
    if (!strcmp(atn_model_arch(m), "marian")) forward_marian(m);
    else forward_decoder(m, ids, n);
    atn_model_free(m);
    free(copy);
    return 0;
}
