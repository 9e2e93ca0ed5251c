#!/usr/bin/env python3
"""reference_llama.py — an independent NumPy (float64) forward pass of a GGUF
"llama" / "qwen2" / "qwen3" / "gemma2" / "gemma3" / "phi3" model, the oracle for
tests/c/test_llama.c and the second reference of tests/c/test_arch.c.

    /usr/bin/python3 models/tools/reference_llama.py MODEL.gguf OUT.ref --tokens 1,5,9,...

Weights are read and dequantized by gguf.py's reader (written from the GGUF
spec, not from atento's C code). The math is the plain textbook one, whole
sequence at once with a causal mask, no KV cache:

  x = E[tokens]
  per layer: h = x + Wo attn(rope(Wq n(x) + bq), rope(Wk n(x) + bk), Wv n(x) + bv)
             x = h + Wdown (silu(Wgate n(h)) * Wup n(h))
  logits = Wout n(x)          (Wout = E when output.weight is absent)

RoPE: "llama" rotates adjacent pairs (2i, 2i+1) — written here as complex
multiplication of (x[2i] + i x[2i+1]) by e^{i pos theta_i}; "qwen2" rotates
(i, i + n_rot/2) — written as x*cos + rotate_half(x)*sin.
theta_i = base^(-2i/n_rot).

The other architectures, written from docs/conventions.md: per-head q/k
RMSNorm (qwen3, gemma3); gemma's sqrt(d) embedding scale, post-norms, GeGLU
(tanh gelu), sliding-window layers with their own RoPE base, soft-capping;
phi3's fused qkv / gate|up and LongRoPE factors (n_ctx picks short or long);
rope_freqs divisors; linear rope scaling.

Output file (little-endian): int32 n_tokens, int32 n_vocab, n_tokens int32
ids, then n_tokens x n_vocab float32 logits.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402


def forward(path, tokens, n_ctx=None):
    r = gguf.GGUFReader(path)
    arch = r.kv["general.architecture"]
    kv = lambda k, d=None: r.kv.get(arch + "." + k, d)  # noqa: E731
    L, D, H = kv("block_count"), kv("embedding_length"), kv("attention.head_count")
    HKV = kv("attention.head_count_kv", H)
    eps = float(kv("attention.layer_norm_rms_epsilon", 1e-5))
    base = float(kv("rope.freq_base", 10000.0))
    hd = kv("attention.key_length", D // H)
    n_rot = kv("rope.dimension_count", hd)
    T = lambda name: r.tensor(name).astype(np.float64)  # noqa: E731
    has = lambda name: name in r.tensors  # noqa: E731
    gemma = arch in ("gemma2", "gemma3")
    neox = arch != "llama"
    scale = 1.0 / float(kv("rope.scaling.factor", 0.0) or 1.0)

    E = T("token_embd.weight")                       # (V, D)
    Wout = T("output.weight") if has("output.weight") and arch != "gemma2" else E
    x = E[np.asarray(tokens)]                        # (n, D)
    if gemma:
        x = x * np.sqrt(D)
    n = x.shape[0]
    pos = np.arange(n, dtype=np.float64)

    def angles(b, s, factors=None):
        theta = s * b ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)   # (n_rot/2,)
        if factors is not None:
            theta = theta / factors
        return pos[:, None] * theta[None, :]                                   # (n, n_rot/2)

    factors, mscale = None, 1.0
    if arch == "llama" and has("rope_freqs.weight"):
        factors = T("rope_freqs.weight")
    if arch == "phi3":
        orig = kv("rope.scaling.original_context_length", kv("context_length"))
        long = n_ctx is not None and n_ctx > orig
        factors = T("rope_factors_long.weight" if long else "rope_factors_short.weight")
        mscale = float(kv("rope.scaling.attn_factor", 1.0))
    ang_global = angles(base, scale, factors)
    ang_local = angles(10000.0, 1.0) if arch == "gemma3" else ang_global
    n_swa = kv("attention.sliding_window", 4096 if arch == "gemma2" else 0) if gemma else 0
    period = {"gemma2": 2, "gemma3": 6}.get(arch, 0)
    att_scale = 1.0 / np.sqrt(hd)
    if gemma and L == (46 if arch == "gemma2" else 62):
        att_scale = 1.0 / np.sqrt(D // H)
    att_cap = float(kv("attn_logit_softcapping", 50.0)) if arch == "gemma2" else 0.0
    final_cap = float(kv("final_logit_softcapping", 30.0)) if arch == "gemma2" else 0.0

    def rms(v, w):
        return v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + eps) * w

    def rope(v, ang):  # v: (n, heads, hd)
        v = v.copy()
        if neox:
            half = n_rot // 2
            a, b = v[..., :half].copy(), v[..., half:n_rot].copy()
            c, s = np.cos(ang)[:, None, :] * mscale, np.sin(ang)[:, None, :] * mscale
            v[..., :half] = a * c - b * s
            v[..., half:n_rot] = b * c + a * s
        else:
            z = v[..., 0:n_rot:2] + 1j * v[..., 1:n_rot:2]
            z = z * np.exp(1j * ang)[:, None, :] * mscale
            v[..., 0:n_rot:2], v[..., 1:n_rot:2] = z.real, z.imag
        return v

    causal = np.triu(np.full((n, n), -np.inf), 1)
    window = causal + np.tril(np.full((n, n), -np.inf), -n_swa) if n_swa > 0 else causal
    QD, KV = H * hd, HKV * hd
    for l in range(L):
        p = "blk.%d." % l
        local = n_swa > 0 and period and l % period < period - 1
        xn = rms(x, T(p + "attn_norm.weight"))
        if arch == "phi3":
            qkv = xn @ T(p + "attn_qkv.weight").T
            q, k, v = qkv[:, :QD], qkv[:, QD:QD + KV], qkv[:, QD + KV:]
        else:
            q = xn @ T(p + "attn_q.weight").T
            k = xn @ T(p + "attn_k.weight").T
            v = xn @ T(p + "attn_v.weight").T
        if has(p + "attn_q.bias"):
            q, k, v = q + T(p + "attn_q.bias"), k + T(p + "attn_k.bias"), v + T(p + "attn_v.bias")
        q, k, v = q.reshape(n, H, hd), k.reshape(n, HKV, hd), v.reshape(n, HKV, hd)
        if arch in ("qwen3", "gemma3"):
            q, k = rms(q, T(p + "attn_q_norm.weight")), rms(k, T(p + "attn_k_norm.weight"))
        ang = ang_local if local else ang_global
        q, k = rope(q, ang), rope(k, ang)
        rep = H // HKV
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)     # head h uses kv head h // rep
        att = np.einsum("qhd,khd->hqk", q, k) * att_scale
        if att_cap > 0:
            att = att_cap * np.tanh(att / att_cap)
        att = att + (window if local else causal)
        att = np.exp(att - att.max(axis=-1, keepdims=True))
        att /= att.sum(axis=-1, keepdims=True)
        o = np.einsum("hqk,khd->qhd", att, v).reshape(n, QD) @ T(p + "attn_output.weight").T
        if gemma:
            o = rms(o, T(p + "post_attention_norm.weight"))
        x = x + o
        hn = rms(x, T(p + "ffn_norm.weight"))
        if arch == "phi3":
            gu = hn @ T(p + "ffn_up.weight").T
            g, u = gu[:, :gu.shape[1] // 2], gu[:, gu.shape[1] // 2:]
        else:
            g = hn @ T(p + "ffn_gate.weight").T
            u = hn @ T(p + "ffn_up.weight").T
        if gemma:
            # as llama.cpp's CPU backend (and atento, docs/conventions.md): the
            # input rounded to f16, the result rounded to f16, |g| >= 10 passed
            g16 = g.astype(np.float16).astype(np.float64)
            gelu = 0.5 * g16 * (1 + np.tanh(np.sqrt(2 / np.pi) * (g16 + 0.044715 * g16 ** 3)))
            act = np.where(g <= -10, 0.0, np.where(g >= 10, g, gelu.astype(np.float16).astype(np.float64)))
        else:
            act = g / (1 + np.exp(-g))
        f = (act * u) @ T(p + "ffn_down.weight").T
        if gemma:
            f = rms(f, T(p + "post_ffw_norm.weight"))
        x = x + f
    logits = rms(x, T("output_norm.weight")) @ Wout.T
    if final_cap > 0:
        logits = final_cap * np.tanh(logits / final_cap)
    return logits


def write_ref(path, tokens, logits):
    with open(path, "wb") as f:
        f.write(np.array([len(tokens), logits.shape[1]], "<i4").tobytes())
        f.write(np.asarray(tokens, "<i4").tobytes())
        f.write(logits.astype("<f4").tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--tokens", required=True, help="comma-separated ids")
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(",")]
    write_ref(a.out, toks, forward(a.model, toks))


if __name__ == "__main__":
    main()
