#!/usr/bin/env python3
"""PyTorch reference for atento's training code (src/train/): the gradients of
the label-smoothed cross-entropy and the losses of 20 AdamW steps, on the tiny
test checkpoint (tests/data/marian/tiny, the same weights as tiny.f32.gguf),
for tests/c/test_train_torch.c.

    /usr/bin/python3 models/train/finetune_reference.py tests/data/train/torch_ref.bin

The model is translate.py's Marian (Hugging Face MarianMTModel's math), f32 on
the CPU, no dropout; final_logits_bias is made a parameter (atento trains it
in full mode). The batch is two examples padded as translate.py pads them
(source mask, ignore_index -100 on target padding), which atento computes
without padding. Training: loss = cross-entropy with label_smoothing 0.1 (mean
over target tokens); clip_grad_norm_(1.0); AdamW(betas 0.9/0.98, eps 1e-9,
weight_decay 0.01); lr = 1e-3 * min(s/5, (21-s)/16) at step s = 1..20.

Output ("TREF", little-endian): u32 version 1, u32 n_tensors, u32 n_steps;
per tensor (GGUF name): u32 name_len, name, u32 n, u32 stride, f32 grad[j]
for j = 0, stride, 2*stride, ... < n (the gradient at the initial weights);
then f32 loss[n_steps] (the loss at each step, before its update).
"""
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
import translate  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
# The same ids as tests/c/test_train_torch.c.
EXAMPLES = [([3, 17, 42, 9, 100, 1], [12, 55, 7, 1]), ([4, 88, 23, 1], [31, 90, 64, 140, 5, 1])]
STEPS, LR, WARMUP = 20, 1e-3, 5


def gguf_name(hf):
    """HF Marian parameter name -> GGUF tensor name (docs/marian-gguf.md)."""
    if hf == "model.shared.weight":
        return "token_embd.weight"
    if hf == "final_logits_bias":
        return "output.bias"
    p = hf.split(".")
    side = "enc" if p[1] == "encoder" else "dec"
    i, rest, wb = p[3], p[4:-1], p[-1]
    sub = {"self_attn": "attn", "encoder_attn": "cross"}
    proj = {"q_proj": "q", "k_proj": "k", "v_proj": "v", "out_proj": "o"}
    if rest[0] in sub:
        return "%s.blk.%s.%s_%s.%s" % (side, i, sub[rest[0]], proj[rest[1]], wb)
    norm = {"self_attn_layer_norm": "attn_norm", "encoder_attn_layer_norm": "cross_norm",
            "final_layer_norm": "ffn_norm", "fc1": "ffn_up", "fc2": "ffn_down"}
    return "%s.blk.%s.%s.%s" % (side, i, norm[rest[0]], wb)


def lr_at(s):
    return LR * min(s / WARMUP, (STEPS + 1 - s) / (STEPS + 1 - WARMUP))


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    d = os.path.join(REPO, "tests", "data", "marian", "tiny")
    import json
    cfg = json.load(open(os.path.join(d, "config.json")))
    c = {k: cfg[k] for k in ("vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                             "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim",
                             "max_position_embeddings", "pad_token_id")}
    c.update(dropout=0.0, attention_dropout=0.0, activation_dropout=0.0)
    m = translate.Marian(c)
    W = common.load_safetensors(os.path.join(d, "model.safetensors"))
    m.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in W.items()}, strict=True)
    bias = torch.nn.Parameter(m.final_logits_bias.clone())
    del m.final_logits_bias
    m.final_logits_bias = bias
    m.train()  # dropout is 0: train mode is deterministic
    params = [(n, p) for n, p in m.named_parameters() if p.requires_grad]

    src = translate.pad_batch([e[0] for e in EXAMPLES], "cpu")
    tin = translate.pad_batch([[translate.PAD] + e[1][:-1] for e in EXAMPLES], "cpu")
    tout = translate.pad_batch([e[1] for e in EXAMPLES], "cpu")
    lens = torch.tensor([len(e[1]) for e in EXAMPLES])
    tout = torch.where(torch.arange(tout.shape[1])[None] < lens[:, None], tout, torch.full_like(tout, -100))

    def loss_fn():
        logits = m(src, tin)
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tout.view(-1), ignore_index=-100, label_smoothing=0.1)

    opt = torch.optim.AdamW([p for _, p in params], lr=LR, betas=(0.9, 0.98), eps=1e-9, weight_decay=0.01)
    losses, grads = [], None
    for s in range(1, STEPS + 1):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        if s == 1:
            grads = [(gguf_name(n), p.grad.detach().numpy().astype(np.float32).ravel().copy()) for n, p in params]
        torch.nn.utils.clip_grad_norm_([p for _, p in params], 1.0)
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        opt.step()
        losses.append(loss.item())
    blob = [b"TREF", struct.pack("<III", 1, len(grads), STEPS)]
    for name, g in grads:
        stride = 1 if g.size <= 256 else 5
        nb = name.encode()
        blob.append(struct.pack("<I", len(nb)) + nb + struct.pack("<II", g.size, stride))
        blob.append(g[::stride].astype("<f4").tobytes())
    blob.append(np.array(losses, "<f4").tobytes())
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "wb") as f:
        f.write(b"".join(blob))
    print("%d tensors, losses %s" % (len(grads), " ".join("%.5f" % x for x in losses)))


if __name__ == "__main__":
    main()
