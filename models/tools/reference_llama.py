#!/usr/bin/env python3
"""reference_llama.py — an independent NumPy (float64) forward pass of a GGUF
"llama" / "qwen2" model, the oracle for tests/c/test_llama.c.

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

Output file (little-endian): int32 n_tokens, int32 n_vocab, n_tokens int32
ids, then n_tokens x n_vocab float32 logits.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402


def forward(path, tokens):
    r = gguf.GGUFReader(path)
    arch = r.kv["general.architecture"]
    kv = lambda k, d=None: r.kv.get(arch + "." + k, d)  # noqa: E731
    L, D, H = kv("block_count"), kv("embedding_length"), kv("attention.head_count")
    HKV = kv("attention.head_count_kv", H)
    eps = float(kv("attention.layer_norm_rms_epsilon", 1e-5))
    base = float(kv("rope.freq_base", 10000.0))
    hd = D // H
    n_rot = kv("rope.dimension_count", hd)
    T = lambda name: r.tensor(name).astype(np.float64)  # noqa: E731
    has = lambda name: name in r.tensors  # noqa: E731

    E = T("token_embd.weight")                       # (V, D)
    Wout = T("output.weight") if has("output.weight") else E
    x = E[np.asarray(tokens)]                        # (n, D)
    n = x.shape[0]
    pos = np.arange(n, dtype=np.float64)
    theta = base ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)   # (n_rot/2,)
    ang = pos[:, None] * theta[None, :]                                   # (n, n_rot/2)

    def rms(v, w):
        return v / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + eps) * w

    def rope(v):  # v: (n, heads, hd)
        v = v.copy()
        if arch == "qwen2":
            half = n_rot // 2
            a, b = v[..., :half].copy(), v[..., half:n_rot].copy()
            c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
            v[..., :half] = a * c - b * s
            v[..., half:n_rot] = b * c + a * s
        else:
            z = v[..., 0:n_rot:2] + 1j * v[..., 1:n_rot:2]
            z = z * np.exp(1j * ang)[:, None, :]
            v[..., 0:n_rot:2], v[..., 1:n_rot:2] = z.real, z.imag
        return v

    mask = np.triu(np.full((n, n), -np.inf), 1)
    for l in range(L):
        p = "blk.%d." % l
        xn = rms(x, T(p + "attn_norm.weight"))
        q = xn @ T(p + "attn_q.weight").T
        k = xn @ T(p + "attn_k.weight").T
        v = xn @ T(p + "attn_v.weight").T
        if has(p + "attn_q.bias"):
            q, k, v = q + T(p + "attn_q.bias"), k + T(p + "attn_k.bias"), v + T(p + "attn_v.bias")
        q = rope(q.reshape(n, H, hd))
        k = rope(k.reshape(n, HKV, hd))
        v = v.reshape(n, HKV, hd)
        rep = H // HKV
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)     # head h uses kv head h // rep
        att = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(axis=-1, keepdims=True))
        att /= att.sum(axis=-1, keepdims=True)
        o = np.einsum("hqk,khd->qhd", att, v).reshape(n, D)
        x = x + o @ T(p + "attn_output.weight").T
        hn = rms(x, T(p + "ffn_norm.weight"))
        g = hn @ T(p + "ffn_gate.weight").T
        u = hn @ T(p + "ffn_up.weight").T
        x = x + (g / (1 + np.exp(-g)) * u) @ T(p + "ffn_down.weight").T
    return rms(x, T("output_norm.weight")) @ Wout.T


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
