/* test_llama2c.c — a llama2.c model converted the way llama.cpp's
 * convert-llama2c-to-ggml converts it (tests/data/llama2c/model.gguf, made by
 * models/tools/make_llama2c.py) loads as it is and computes what llama2.c's
 * own run.c computes on the same weights (tests/data/llama2c/runc.ref, see
 * its README.md): the prompt's ids, the logits at every position, and the
 * greedy continuation.
 *
 * runc.ref: int32 n, int32 n_vocab, n int32 ids (run.c's prompt ids, then its
 * greedy tokens), n x n_vocab float32 logits, int32 n_prompt, n_prompt ids. */
#include <math.h>
#include "test_util.h"

static const char PROMPT[] = "Once upon a time, there was a little girl named Lily. She played in the park.";

int main(void) {
    size_t size, rsize;
    void *data = read_file("tests/data/llama2c/model.gguf", &size);
    unsigned char *ref = read_file("tests/data/llama2c/runc.ref", &rsize);
    CHECK(data && ref && rsize > 8, "fixtures");
    if (!data || !ref) return test_summary();
    int32_t n, V;
    memcpy(&n, ref, 4);
    memcpy(&V, ref + 4, 4);
    const int32_t *ids = (const int32_t *)(ref + 8);
    const float *logits = (const float *)(ref + 8 + 4 * (size_t)n);
    int32_t n_prompt;
    memcpy(&n_prompt, ref + 8 + 4 * (size_t)n + 4 * (size_t)n * (size_t)V, 4);
    const int32_t *prompt_ids = (const int32_t *)(ref + 12 + 4 * (size_t)n + 4 * (size_t)n * (size_t)V);

    /* loads as it is: the 0xFFFFFFFF padding / separator ids are warnings */
    atn_model *m = atn_model_load(data, size, 1);
    CHECK(m != NULL, "the llama2c-converted file loads: %s", atn_last_error());
    if (!m) return test_summary();
    const char *w = atn_model_warnings(m);
    CHECK(w && strstr(w, "padding_token_id = 4294967295") && strstr(w, "seperator_token_id = 4294967295"),
          "warnings: %s", w ? w : "(none)");
    CHECK(strstr(atn_model_info_json(m), "\"warnings\":[\"tokenizer.ggml.padding_token_id") != NULL, "warnings in the info JSON");
    CHECK(atn_model_n_vocab(m) == V && atn_token_bos(m) == 1 && atn_token_eos(m) == 2, "vocabulary %d, BOS %d, EOS %d",
          atn_model_n_vocab(m), atn_token_bos(m), atn_token_eos(m));

    /* run.c's encode() (BOS, dummy prefix, score-ordered merges, byte fallback) */
    int32_t mine[256];
    int k = atn_tokenize(m, PROMPT, strlen(PROMPT), 1, 0, mine, 256);
    int same = k == n_prompt;
    for (int i = 0; same && i < k; i++) same = mine[i] == prompt_ids[i];
    CHECK(same, "prompt ids equal run.c's (%d vs %d ids)", k, n_prompt);

    /* teacher-forced logits over run.c's whole sequence */
    atn_session *s = atn_session_new(m, n);
    CHECK(s && atn_eval(s, ids, n, 1) == 0, "eval %d tokens: %s", n, atn_last_error());
    double maxd = 0, scale = 0;
    for (int i = 0; s && i < n; i++) {
        const float *a = atn_logits(s, i);
        for (int j = 0; a && j < V; j++) {
            double d = fabs((double)a[j] - logits[(size_t)i * V + j]);
            if (d > maxd) maxd = d;
            if (fabs(logits[(size_t)i * V + j]) > scale) scale = fabs(logits[(size_t)i * V + j]);
        }
    }
    printf("  logits over %d positions: max |diff| %.3g (largest logit %.3g)\n", n, maxd, scale);
    CHECK(maxd <= 1e-4 * (scale > 1 ? scale : 1), "logits equal run.c's: max |diff| %.3g", maxd);
    atn_session_free(s);

    /* greedy continuation, while run.c's top-two margin is clear */
    s = atn_session_new(m, n);
    atn_sampler_params sp;
    atn_sampler_defaults(&sp);
    sp.temperature = 0;
    atn_sampler *smp = atn_sampler_new(&sp);
    atn_gen *g = atn_gen_new(s, smp);
    CHECK(s && smp && g && atn_eval(s, prompt_ids, n_prompt, 0) == 0, "prompt");
    int checked = 0, agree = 0;
    for (int i = n_prompt; g && i < n; i++) {
        const float *row = logits + (size_t)(i - 1) * V;
        float b1 = -INFINITY, b2 = -INFINITY;
        for (int j = 0; j < V; j++) {
            if (row[j] > b1) { b2 = b1; b1 = row[j]; }
            else if (row[j] > b2) b2 = row[j];
        }
        if (b1 - b2 < 1e-3f) break;
        int32_t tok;
        if (atn_gen_next(g, &tok) != 1) break;
        checked++;
        agree += tok == ids[i];
        if (tok != ids[i]) break;
    }
    printf("  greedy: %d/%d tokens equal run.c's\n", agree, n - n_prompt);
    CHECK(checked > 0 && agree == checked && checked >= (n - n_prompt) / 2, "greedy ids equal run.c's (%d of %d checked)",
          agree, checked);
    atn_gen_free(g);
    atn_sampler_free(smp);
    atn_session_free(s);
    atn_model_free(m);
    atn_free(ref);
    return test_summary();
}
