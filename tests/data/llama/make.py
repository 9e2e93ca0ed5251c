#!/usr/bin/env python3
"""Writes the tiny random-weight models of tests/c/test_llama.c and their
reference logits (models/tools/reference_llama.py, float64 NumPy over the
weights as the file holds them). Seeded; run from the repo root:

    /usr/bin/python3 tests/data/llama/make.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "models", "tools"))
import make_llama  # noqa: E402
import reference_llama  # noqa: E402

# 70 tokens: more than one 64-token prefill batch. BOS first, then a fixed
# pseudo-random walk over the vocabulary.
rng = np.random.default_rng(7)

MODELS = [
    # name, kwargs
    ("llama_f32", dict(arch="llama", ttype="f32")),
    ("llama_q8_0", dict(arch="llama", ttype="q8_0")),
    ("llama_q4_0", dict(arch="llama", ttype="q4_0")),
    ("llama_q4_1", dict(arch="llama", ttype="q4_1")),
    ("llama_q5_0", dict(arch="llama", ttype="q5_0")),
    ("llama_q5_1", dict(arch="llama", ttype="q5_1")),
    ("qwen2_f32", dict(arch="qwen2", ttype="f32", kv_heads=1, tied=True, rope_base=1000000.0)),
    ("llama_kmix", dict(arch="llama", ttype="mix", layers=1, width=256, heads=4, kv_heads=2, ffn=256, tied=True)),
]


def make_chain(path):
    """A model whose greedy output follows a fixed chain of tokens: every layer
    is zero (x stays E[token]) and output row next(t) = rmsnorm(E[t]), so the
    logit of the successor is |n(E[t])|^2 = width, far above the rest. The
    chain spells "é gato😀 and the" with the multi-byte characters split into
    byte tokens, then </s>. Stored under test.chain (the ids, BOS first)."""
    import gguf
    toks = make_llama.vocab()[0]
    ix = {t: i for i, t in enumerate(toks)}
    chain = [1, ix["<0xC3>"], ix["<0xA9>"], ix["\u2581gato"], ix["<0xF0>"], ix["<0x9F>"], ix["<0x98>"],
             ix["<0x80>"], ix["\u2581and"], ix["\u2581the"], 2]
    # a second chain, from "▁casa": a stray continuation byte, then a lead
    # byte followed by an ASCII letter: neither can become a character
    chain2 = [ix["\u2581casa"], ix["<0xA0>"], ix["<0xC5>"], ix["z"], 2]
    D, V = 64, len(toks)
    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama")
    w.add("general.name", "chain-test")
    for k, v in (("context_length", 64), ("embedding_length", D), ("block_count", 1), ("feed_forward_length", 64),
                 ("attention.head_count", 4), ("attention.head_count_kv", 4)):
        w.add("llama." + k, v)
    w.add("llama.attention.layer_norm_rms_epsilon", 1e-5)
    make_llama.add_vocab(w)
    w.add("test.chain", chain, gguf.INT32)
    w.add("test.chain2", chain2, gguf.INT32)
    r = np.random.default_rng(3)
    E = r.standard_normal((V, D)).astype(np.float32)
    out = np.zeros((V, D), np.float32)
    for c in (chain, chain2):
        for a, b in zip(c[:-1], c[1:]):
            e = E[a].astype(np.float64)
            out[b] += e / np.sqrt(np.mean(e * e) + 1e-5)
    w.add_tensor("token_embd.weight", E)
    w.add_tensor("output.weight", out)
    w.add_tensor("output_norm.weight", np.ones(D, np.float32))
    z = lambda *s: np.zeros(s, np.float32)  # noqa: E731
    w.add_tensor("blk.0.attn_norm.weight", np.ones(D, np.float32))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(D, np.float32))
    for n in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
        w.add_tensor("blk.0.%s.weight" % n, z(D, D), "q8_0")
    w.write(path)


def main():
    make_chain(os.path.join(HERE, "chain.gguf"))
    for name, kw in MODELS:
        path = os.path.join(HERE, name + ".gguf")
        make_llama.make(path, seed=1, **kw)
        n_vocab = len(make_llama.vocab()[0])
        toks = [1] + [int(t) for t in np.random.default_rng(7).integers(3, n_vocab, 69)]
        logits = reference_llama.forward(path, toks)
        reference_llama.write_ref(os.path.join(HERE, name + ".ref"), toks, logits)
        print(name, os.path.getsize(path), "bytes, logits |max| %.3f" % np.abs(logits).max())


if __name__ == "__main__":
    main()
