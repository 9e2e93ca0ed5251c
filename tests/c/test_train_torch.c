/* test_train_torch.c — src/train/ against PyTorch (models/train/finetune_reference.py
 * wrote tests/data/train/torch_ref.bin from the tiny checkpoint, the weights of
 * tests/data/marian/tiny.f32.gguf): the gradient of every parameter tensor at
 * the initial weights, max |g - g_torch| / max |g_torch| <= 1e-3 per tensor,
 * and the loss at each of 20 AdamW steps (clipping, warm-up/decay) within 1e-3. */
#include <math.h>
#include <stdint.h>
#include "test_util.h"
#include "../../src/train/train.h"

static const int32_t src0[] = {3, 17, 42, 9, 100, 1}, tgt0[] = {12, 55, 7, 1};
static const int32_t src1[] = {4, 88, 23, 1}, tgt1[] = {31, 90, 64, 140, 5, 1};

static uint32_t u32(const unsigned char **p) {
    uint32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}

int main(void) {
    size_t size;
    unsigned char *ref = read_file("tests/data/train/torch_ref.bin", &size);
    atn_model *m = test_load_model("tests/data/marian/tiny.f32.gguf");
    CHECK(ref && m && size > 16 && !memcmp(ref, "TREF", 4), "reference and model load");
    if (!ref || !m) return test_summary();
    atn_train_opts o = {1, 0, 0, 0, 0.1f, 1};
    atn_trainer *t = atn_trainer_new(m, &o);
    CHECK(t != NULL, "%s", atn_last_error());
    if (!t) return test_summary();
    atn_example ex[2] = {{src0, 6, tgt0, 4}, {src1, 4, tgt1, 6}};
    float loss;
    CHECK(atn_trainer_grad(t, ex, 2, &loss) == 0, "%s", atn_last_error());

    const unsigned char *p = ref + 4, *end = ref + size;
    CHECK(u32(&p) == 1, "version");
    uint32_t n_tensors = u32(&p), n_steps = u32(&p);
    CHECK((int)n_tensors == atn_trainer_n_params(t), "%u tensors in the reference, %d trained", n_tensors, atn_trainer_n_params(t));
    double worst = 0;
    const char *worst_name = "";
    for (uint32_t i = 0; i < n_tensors && p + 4 <= end; i++) {
        uint32_t len = u32(&p);
        char name[64] = {0};
        memcpy(name, p, len < 63 ? len : 63);
        p += len;
        uint32_t n = u32(&p), stride = u32(&p), k = (n + stride - 1) / stride;
        atn_tparam *tp = NULL;
        for (int j = 0; j < atn_trainer_n_params(t); j++)
            if (!strcmp(atn_trainer_param(t, j)->name, name)) tp = atn_trainer_param(t, j);
        CHECK(tp && tp->n == n, "tensor %s (%u values) is trained", name, n);
        double mx = 0, err = 0;
        for (uint32_t j = 0; j < k; j++) {
            float r;
            memcpy(&r, p + 4 * (size_t)j, 4);
            mx = fmax(mx, fabs(r));
            if (tp) err = fmax(err, fabs(r - tp->g[(size_t)j * stride]));
        }
        p += 4 * (size_t)k;
        /* the keys' biases have a true gradient of 0 (softmax ignores a
         * constant q·b added to every score): both sides give ~1e-8 of
         * rounding, hence the floor on the scale */
        double rel = err / fmax(mx, 1e-4);
        if (rel > worst) { worst = rel; worst_name = tp ? tp->name : name; }
        CHECK(rel <= 1e-3, "%s: max |g - g_torch| = %.3g, max |g_torch| = %.3g", name, err, mx);
    }
    printf("gradients: %u tensors, worst max|g - g_torch| / max|g_torch| = %.2e (%s)\n", n_tensors, worst, worst_name);

    float worst_loss = 0;
    for (uint32_t s = 1; s <= n_steps && p + 4 <= end; s++, p += 4) {
        float r;
        memcpy(&r, p, 4);
        CHECK(atn_trainer_grad(t, ex, 2, &loss) == 0, "%s", atn_last_error());
        CHECK(fabsf(loss - r) <= 1e-3f, "step %u: loss %.6f, PyTorch %.6f", s, loss, r);
        worst_loss = fmaxf(worst_loss, fabsf(loss - r));
        atn_trainer_clip(t, 1.0f);
        atn_trainer_adamw(t, (int)s, atn_train_lr((int)s, (int)n_steps, 5, 1e-3f), 0.9f, 0.98f, 1e-9f, 0.01f);
    }
    printf("losses over %u AdamW steps: max |loss - loss_torch| = %.2e (last %.5f)\n", n_steps, worst_loss, loss);
    atn_trainer_free(t);
    atn_model_free(m);
    atn_free(ref);
    return test_summary();
}
