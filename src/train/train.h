/* train.h — training the marian architecture: forward pass with saved
 * activations, the backward pass of every operation, label-smoothed
 * cross-entropy, AdamW. Internal (the public entry points are the
 * atn_finetune_* calls of atento.h, src/train/finetune.c); docs/training.md
 * explains what is trained and why.
 *
 * Two modes:
 *   full  every weight, bias and norm (encoder, decoder, embeddings, output
 *         bias) is an f32 master copy with a gradient (the gradient checks;
 *         small models);
 *   lora  the GGUF weights stay as they are (quantized, frozen); low-rank
 *         adapters W + (alpha/r)·B·A are trained on the chosen matrices and
 *         merged into the weights on save.
 */
#ifndef ATN_TRAIN_H
#define ATN_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "../model.h"

/* One trained (or frozen f32) tensor: values, and for trained ones the
 * gradient and the two Adam moments (NULL when frozen). */
typedef struct atn_tparam {
    char name[64];
    float *w, *g, *m, *v;
    size_t n;
} atn_tparam;

typedef struct atn_train_opts {
    int full;              /* 1: train everything in f32; 0: LoRA */
    int lora_rank;         /* r (lora) */
    float lora_alpha;      /* scale alpha / r (lora) */
    int lora_encoder;      /* lora: adapters on the encoder's matrices too */
    float label_smoothing; /* epsilon of the label-smoothed cross-entropy */
    uint64_t seed;         /* LoRA A initialisation */
} atn_train_opts;

typedef struct atn_trainer atn_trainer;

/* A trainer over model m (marian only; post-norm). NULL + atn_error on failure. */
atn_trainer *atn_trainer_new(atn_model *m, const atn_train_opts *o);
void atn_trainer_free(atn_trainer *t);

/* The trained parameters, in a fixed order (for the optimizer and the tests). */
int atn_trainer_n_params(const atn_trainer *t);
atn_tparam *atn_trainer_param(atn_trainer *t, int i);

/* One training example: source ids (with tag and EOS) and target ids (with
 * EOS); the decoder input is [start] + tgt[0..n_tgt-1). */
typedef struct atn_example {
    const int32_t *src;
    int n_src;
    const int32_t *tgt;
    int n_tgt;
} atn_example;

/* Forward + backward over a batch: the gradients (zeroed first) of the mean
 * label-smoothed cross-entropy over all target tokens of the batch, which is
 * written to *loss. The examples are packed (no padding): every linear layer
 * runs over all rows at once, attention stays within an example (the masks).
 * When nothing of the encoder is trained its outputs are cached per example
 * pointer (src), so a batch that repeats examples encodes each once.
 * Returns 0 or -1 (atn_error). */
int atn_trainer_grad(atn_trainer *t, const atn_example *ex, int n_ex, float *loss);
/* Loss only (no gradients, no saved activations beyond one example). */
int atn_trainer_loss(atn_trainer *t, const atn_example *ex, int n_ex, float *loss);

/* Global gradient L2 norm; clip to max_norm (PyTorch clip_grad_norm_, eps 1e-6)
 * when max_norm > 0. Returns the norm before clipping. */
float atn_trainer_clip(atn_trainer *t, float max_norm);

/* One AdamW step (PyTorch torch.optim.AdamW semantics: decoupled weight decay
 * w *= 1 - lr·wd, bias-corrected moments). step counts from 1. */
void atn_trainer_adamw(atn_trainer *t, int step, float lr, float beta1, float beta2, float eps, float weight_decay);

/* The learning-rate schedule: linear warm-up over `warmup` steps, then linear
 * decay to 0 after step `total`: lr·min(step/warmup, (total+1-step)/(total+1-warmup)). */
float atn_train_lr(int step, int total, int warmup, float lr);

/* The trained matrices merged back: for every GGUF tensor the trainer
 * changed, f32 values in GGUF order (ne[0] contiguous). Calls fn(name, values,
 * n, ctx) for each; returns 0 or the first non-zero fn result. */
typedef int (*atn_tensor_sink)(const char *name, const float *values, size_t n, void *ctx);
int atn_trainer_export(atn_trainer *t, atn_tensor_sink fn, void *ctx);

/* Bytes the trainer holds (parameters, moments, caches, activations). */
size_t atn_trainer_bytes(const atn_trainer *t);

#endif
