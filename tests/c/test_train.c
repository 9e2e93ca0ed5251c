/* test_train.c — gradients of src/train/marian_train.c against finite
 * differences, for every parameter tensor of two tiny models (tests/data/marian:
 * tiny = ReLU, tied output; opus = swish, untied output with a bias), full f32
 * training and LoRA adapters over frozen q8_0 weights; AdamW lowers the loss. */
#include <math.h>
#include "test_util.h"
#include "../../src/train/train.h"

static const int32_t src0[] = {3, 17, 42, 9, 100, 1}, tgt0[] = {12, 55, 7, 1};
static const int32_t src1[] = {4, 88, 23, 1}, tgt1[] = {31, 90, 64, 140, 5, 1};

static uint64_t rng = 12345;
static float urand(void) { /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static double loss_of(atn_trainer *t, const atn_example *ex, int n) {
    float l = NAN;
    CHECK(atn_trainer_loss(t, ex, n, &l) == 0, "%s", atn_last_error());
    return l;
}

/* For each trained tensor: the directional derivative along a random
 * direction u, analytic (g·u) vs central difference. */
/* pad: the padding token, whose embedding row gets no gradient from the
 * decoder-start lookup (as nn.Embedding(padding_idx) in PyTorch): left out of
 * the embedding's direction. d: d_model. */
static void check_grads(atn_trainer *t, const atn_example *ex, int n, const char *what, double tol, int pad, int d) {
    float loss;
    CHECK(atn_trainer_grad(t, ex, n, &loss) == 0, "%s", atn_last_error());
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < atn_trainer_n_params(t); i++) {
        atn_tparam *p = atn_trainer_param(t, i);
        float *u = malloc(p->n * sizeof(float)), *w0 = malloc(p->n * sizeof(float));
        double ana = 0, un = 0;
        for (size_t j = 0; j < p->n; j++) {
            u[j] = !strcmp(p->name, "token_embd.weight") && j / (size_t)d == (size_t)pad ? 0.0f : urand();
            un += (double)u[j] * u[j];
        }
        un = sqrt(un);
        for (size_t j = 0; j < p->n; j++) { u[j] /= (float)un; ana += (double)p->g[j] * u[j]; }
        memcpy(w0, p->w, p->n * sizeof(float));
        double h = getenv("FD_H") ? atof(getenv("FD_H")) : 1e-2;
        for (size_t j = 0; j < p->n; j++) p->w[j] = w0[j] + (float)h * u[j];
        double lp = loss_of(t, ex, n);
        for (size_t j = 0; j < p->n; j++) p->w[j] = w0[j] - (float)h * u[j];
        double lm = loss_of(t, ex, n);
        memcpy(p->w, w0, p->n * sizeof(float));
        double num = (lp - lm) / (2 * h);
        /* the loss is f32: differences carry ~1e-5 of rounding noise */
        double err = fabs(num - ana) / (fabs(ana) + 5e-3);
        if (err > worst) { worst = err; worst_name = p->name; }
        CHECK(err < tol, "%s %s: analytic %.6g numeric %.6g", what, p->name, ana, num);
        free(u);
        free(w0);
    }
    printf("%s: %d tensors, worst relative error %.2e (%s), loss %.4f\n", what, atn_trainer_n_params(t), worst, worst_name, loss);
}

static void adam_lowers_loss(atn_trainer *t, const atn_example *ex, int n, const char *what) {
    float first = 0, loss = 0;
    for (int s = 1; s <= 30; s++) {
        CHECK(atn_trainer_grad(t, ex, n, &loss) == 0, "%s", atn_last_error());
        if (s == 1) first = loss;
        atn_trainer_clip(t, 1.0f);
        atn_trainer_adamw(t, s, 1e-2f, 0.9f, 0.98f, 1e-9f, 0.01f);
    }
    CHECK(loss < 0.5f * first, "%s: loss %.4f -> %.4f", what, first, loss);
}

/* tol: the relative error allowed; ReLU's kinks (tiny) make the central
 * difference over a whole tensor rougher than swish (opus). */
static void run(const char *path, int full, int lora_encoder, const char *what, double tol, int pad) {
    atn_model *m = test_load_model(path);
    CHECK(m != NULL, "%s", path);
    if (!m) return;
    atn_train_opts o = {full, 4, 8.0f, lora_encoder, 0.1f, 7};
    atn_trainer *t = atn_trainer_new(m, &o);
    CHECK(t != NULL, "%s", atn_last_error());
    if (t) {
        if (!full) /* B starts at zero (the adapter is off): give it values so A's gradient is not zero */
            for (int i = 0; i < atn_trainer_n_params(t); i++) {
                atn_tparam *p = atn_trainer_param(t, i);
                if (strstr(p->name, "lora_b"))
                    for (size_t j = 0; j < p->n; j++) p->w[j] = 0.05f * urand();
            }
        atn_example ex[2] = {{src0, 6, tgt0, 4}, {src1, 4, tgt1, 6}};
        check_grads(t, ex, 2, what, tol, pad, 32);
        adam_lowers_loss(t, ex, 2, what);
        atn_trainer_free(t);
    }
    atn_model_free(m);
}

/* Frozen q8_0 weights (the shipped model's case): the backward pass runs
 * through their transposed q8_0 copies; finite differences cannot see
 * through 8-bit activations, so this checks that training works: the loss
 * falls, and the merged export has every adapted matrix. */
static int n_exported;
static int count_export(const char *name, const float *v, size_t n, void *ctx) {
    (void)v; (void)ctx;
    CHECK(strstr(name, "dec.blk.") && n > 0, "exported %s", name);
    n_exported++;
    return 0;
}

static void lora_q8(void) {
    atn_model *m = test_load_model("tests/data/marian/tiny.q8_0.gguf");
    if (!m) return;
    atn_train_opts o = {0, 4, 8.0f, 0, 0.1f, 7};
    atn_trainer *t = atn_trainer_new(m, &o);
    CHECK(t != NULL, "%s", atn_last_error());
    atn_example ex[2] = {{src0, 6, tgt0, 4}, {src1, 4, tgt1, 6}};
    adam_lowers_loss(t, ex, 2, "tiny q8_0 LoRA");
    CHECK(atn_trainer_export(t, count_export, NULL) == 0 && n_exported == 2 * 10, "%d matrices exported", n_exported);
    atn_trainer_free(t);
    atn_model_free(m);
}

int main(void) {
    lora_q8();
    run("tests/data/marian/tiny.f32.gguf", 1, 0, "tiny f32 full", 0.25, 0);
    run("tests/data/marian/opus.f32.gguf", 1, 0, "opus f32 full", 2e-2, 162);
    /* frozen f32 weights: a q8_0 forward quantizes activations to 8 bits,
     * which finite differences cannot see through */
    run("tests/data/marian/tiny.f32.gguf", 0, 0, "tiny LoRA (decoder)", 0.25, 0);
    run("tests/data/marian/opus.f32.gguf", 0, 1, "opus LoRA (encoder too)", 2e-2, 162);
    return test_summary();
}
