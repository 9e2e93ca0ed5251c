/* test_finetune.c — the atn_finetune_* API end to end on the tiny test model:
 * bad input gets one-line errors; steps lower the loss; the saved file is an
 * ordinary model (loads, translates) whose adapted decoder matrices changed,
 * everything else byte-identical, with training.* metadata (base SHA-256,
 * pairs, steps); fine-tuning a fine-tuned file replaces that metadata. */
#include "test_util.h"
#include "../../src/gguf.h"
#include "../../src/train/sha256.h"

static const char *pairs[][2] = {{"the cat", "el gato"}, {"hello world", "hola mundo"}};
static const char *replay[] = {"good morning", "the dog", "a house"};

static atn_model *load_bytes(void *bytes, size_t n) {
    void *copy = atn_malloc(n);
    memcpy(copy, bytes, n);
    atn_model *m = atn_model_load(copy, n, 1);
    if (!m) printf("reload: %s\n", atn_last_error());
    return m;
}

static uint32_t meta_u32(const atn_gguf *g, const char *key) {
    uint32_t v = 0xffffffffu;
    atn_gguf_get_u32(g, key, &v);
    return v;
}

/* Fine-tune model m on the two pairs for `steps`; returns the saved bytes. */
static void *tune(atn_model *m, int steps, size_t *size, float *first, float *last) {
    atn_finetune *f = atn_finetune_new(m, "es", steps, 5e-3f, 3);
    CHECK(f != NULL, "%s", atn_last_error());
    if (!f) return NULL;
    for (int i = 0; i < 2; i++) CHECK(atn_finetune_add_pair(f, pairs[i][0], strlen(pairs[i][0]), pairs[i][1], strlen(pairs[i][1])) == 0, "%s", atn_last_error());
    for (int i = 0; i < 3; i++) CHECK(atn_finetune_add_replay(f, replay[i], strlen(replay[i])) == 0, "%s", atn_last_error());
    float loss = 0;
    int r, n = 0;
    while ((r = atn_finetune_step(f, &loss)) > 0) {
        if (n++ == 0) *first = loss;
    }
    *last = loss;
    CHECK(r == 0 && n == steps, "step: %d after %d steps: %s", r, n, atn_last_error());
    CHECK(atn_finetune_add_pair(f, "a", 1, "b", 1) < 0 && strstr(atn_last_error(), "before the first step"), "late pair: %s", atn_last_error());
    CHECK(strstr(atn_finetune_info_json(f), "\"pairs\":2") != NULL, "%s", atn_finetune_info_json(f));
    void *out = atn_finetune_save(f, size);
    CHECK(out != NULL, "save: %s", atn_last_error());
    atn_finetune_free(f);
    return out;
}

int main(void) {
    size_t size;
    void *base_bytes = read_file("tests/data/marian/tiny.q8_0.gguf", &size);
    atn_model *m = base_bytes ? load_bytes(base_bytes, size) : NULL;
    CHECK(m != NULL, "tiny model");
    if (!m) return test_summary();

    /* bad input */
    atn_model *llama = test_load_model("tests/data/llama/llama_f32.gguf");
    if (llama) {
        CHECK(atn_finetune_new(llama, NULL, 0, 0, 1) == NULL && strstr(atn_last_error(), "marian"), "%s", atn_last_error());
        atn_model_free(llama);
    }
    CHECK(atn_finetune_new(m, "xx", 0, 0, 1) == NULL, "unknown language tag accepted");
    CHECK(atn_finetune_new(m, "es", -1, 0, 1) == NULL && strstr(atn_last_error(), "steps"), "%s", atn_last_error());
    CHECK(atn_finetune_new(m, "es", 5, 2.0f, 1) == NULL && strstr(atn_last_error(), "learning rate"), "%s", atn_last_error());
    atn_finetune *f = atn_finetune_new(m, "es", 2, 0, 1);
    CHECK(f != NULL, "%s", atn_last_error());
    CHECK(atn_finetune_add_pair(f, "  ", 2, "x", 1) < 0 && strstr(atn_last_error(), "pair 1: the source or the target is empty"), "%s", atn_last_error());
    CHECK(atn_finetune_add_pair(f, "hola", 4, "\xff\xfe", 2) < 0 && strstr(atn_last_error(), "pair 1: target"), "%s", atn_last_error());
    static char longsrc[4000];
    for (int i = 0; i < 1999; i++) memcpy(longsrc + 2 * i, "a ", 2);
    CHECK(atn_finetune_add_pair(f, longsrc, 3998, "x", 1) < 0 && strstr(atn_last_error(), "too long"), "%s", atn_last_error());
    float l;
    CHECK(atn_finetune_step(f, &l) < 0 && strstr(atn_last_error(), "no pairs"), "%s", atn_last_error());
    atn_finetune_free(f);

    /* training and the saved file */
    float first = 0, last = 0;
    size_t n_out = 0;
    void *out = tune(m, 12, &n_out, &first, &last);
    CHECK(last < first, "loss %.4f -> %.4f", first, last);
    if (out) {
        char err[128], hash[65];
        atn_gguf *g = atn_gguf_open(out, n_out, err, sizeof err), *g0 = atn_gguf_open(base_bytes, size, err, sizeof err);
        CHECK(g && g0, "%s", err);
        if (g && g0) {
            const char *s;
            size_t sn;
            atn_sha256_hex(base_bytes, size, hash);
            CHECK(atn_gguf_get_str(g, "training.base_model.sha256", &s, &sn) == 0 && sn == 64 && !memcmp(s, hash, 64), "base hash");
            CHECK(meta_u32(g, "training.pairs") == 2 && meta_u32(g, "training.steps") == 12, "pairs/steps metadata");
            CHECK(atn_gguf_n_tensors(g) == atn_gguf_n_tensors(g0), "tensor count");
            int changed = 0, same = 0;
            for (int i = 0; i < atn_gguf_n_tensors(g0); i++) {
                const atn_tensor *a = atn_gguf_tensor(g0, i), *b = atn_gguf_find_tensor(g, a->name);
                CHECK(b && b->type == a->type && b->nbytes == a->nbytes, "%s kept its type", a->name);
                if (!b) continue;
                int differs = memcmp(a->data, b->data, a->nbytes) != 0;
                int adapted = strncmp(a->name, "dec.blk.", 8) == 0 && strstr(a->name, ".weight") && !strstr(a->name, "norm");
                CHECK(differs == adapted, "%s: %s", a->name, differs ? "changed" : "unchanged");
                changed += differs;
                same += !differs;
            }
            printf("saved: %d tensors changed (the adapted decoder matrices), %d unchanged\n", changed, same);
        }
        atn_gguf_close(g);
        atn_gguf_close(g0);
        /* an ordinary model: it loads and translates */
        atn_model *m2 = load_bytes(out, n_out);
        CHECK(m2 != NULL, "the saved model loads");
        if (m2) {
            atn_translator *tr = atn_translator_new(m2, 1, "es", 0);
            CHECK(tr && atn_translate_begin(tr, "the cat", 7) == 0, "%s", atn_last_error());
            int r;
            while (tr && (r = atn_translate_next(tr)) > 0) {}
            CHECK(tr && r == 0, "translate with the saved model: %s", atn_last_error());
            atn_translator_free(tr);
            /* fine-tuning the fine-tuned model: one set of training.* keys, the new base hash */
            size_t n2;
            float f1, f2;
            void *out2 = tune(m2, 2, &n2, &f1, &f2);
            atn_gguf *g2 = out2 ? atn_gguf_open(out2, n2, err, sizeof err) : NULL;
            CHECK(g2 != NULL, "second save");
            if (g2) {
                int keys = 0;
                for (int i = 0; i < atn_gguf_n_kv(g2); i++) keys += strncmp(atn_gguf_key(g2, i), "training.", 9) == 0;
                const char *s;
                size_t sn;
                atn_sha256_hex(out, n_out, hash);
                CHECK(keys == 6, "%d training.* keys", keys);
                CHECK(atn_gguf_get_str(g2, "training.base_model.sha256", &s, &sn) == 0 && !memcmp(s, hash, 64), "new base hash");
                CHECK(meta_u32(g2, "training.steps") == 2, "steps of the second run");
                atn_gguf_close(g2);
            }
            atn_free(out2);
            atn_model_free(m2);
        }
        atn_free(out);
    }
    atn_model_free(m);
    atn_free(base_bytes);
    return test_summary();
}
