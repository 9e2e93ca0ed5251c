#!/usr/bin/env python3
"""Writes the random-weight models of tests/c/test_arch.c: one small model of
each architecture atento runs besides plain llama/qwen2 (qwen3, gemma2,
gemma3, phi3, and llama with Llama 3.1's rope_freqs), in f32 and Q8_0,
written by models/tools/make_llama.py, plus the float64 NumPy reference
logits of the f32 ones (models/tools/reference_llama.py) in NAME_f32.ref
(phi3 also NAME_f32_long.ref, a context above its original 512).

The llama.cpp reference outputs (NAME.llamacpp.json) are made separately by
tests/data/arch/llamacpp_oracle.mjs (see README.md); this script only writes
the models and the NumPy references. Seeded; run from the repo root:

    /usr/bin/python3 tests/data/arch/make.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "models", "tools"))
import make_llama  # noqa: E402
import reference_llama  # noqa: E402

SHAPES = {
    # Qwen3: per-head q/k norms, head size 32 with 4 heads on a width of 64 (q is 128 wide)
    "qwen3": dict(arch="qwen3", head_dim=32, rope_base=1000000.0),
    # Gemma 2: window of 8 on layer 0, global layer 1, soft-capped scores and logits
    "gemma2": dict(arch="gemma2", head_dim=32, kv_heads=1, swa=8, softcap=(8.0, 10.0)),
    # Gemma 3: 6 layers = 5 sliding-window (RoPE base 10000) + 1 global (base 1e6,
    # linear RoPE scaling 8 as in Gemma 3 4B+; the local layers are not scaled)
    "gemma3": dict(arch="gemma3", layers=6, head_dim=32, kv_heads=1, swa=8, rope_base=1000000.0, rope_linear=8.0),
    # Phi-3: fused qkv and gate|up, LongRoPE short/long factors (long above 512 positions)
    "phi3": dict(arch="phi3", ctx=4096, orig_ctx=512),
    # Llama 3.1: rope_freqs frequency divisors
    "llama31": dict(arch="llama", rope_freqs=True, rope_base=500000.0),
}
TYPES = ["f32", "q8_0"]
N_TOKENS = 40


def tokens():
    """BOS, then a fixed pseudo-random walk over the ordinary tokens."""
    n_vocab = len(make_llama.vocab()[0])
    return [1] + [int(t) for t in np.random.default_rng(11).integers(3, n_vocab, N_TOKENS - 1)]


def main():
    toks = tokens()
    for name, kw in SHAPES.items():
        for t in TYPES:
            path = os.path.join(HERE, "%s_%s.gguf" % (name, t))
            make_llama.make(path, seed=5, ttype=t, **kw)
            print(path, os.path.getsize(path), "bytes")
            if t == "f32":
                refs = [(name + "_f32", 256)] + ([(name + "_f32_long", 1024)] if name == "phi3" else [])
                for ref, n_ctx in refs:
                    reference_llama.write_ref(os.path.join(HERE, ref + ".ref"), toks,
                                              reference_llama.forward(path, toks, n_ctx))
    print("tokens", ",".join(map(str, toks)))


if __name__ == "__main__":
    main()
