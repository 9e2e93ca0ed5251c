#!/usr/bin/env python3
"""make_bench_models.py — random-weight Llama models of the shapes of small
chat models, for bench/run.sh (not committed; written into build/bench/ by
default as SHAPE-shape-TYPE.gguf).

Shapes (--shape; all with tied embeddings, no output.weight, RMS-norm eps 1e-5):
  smollm2-135m  30 layers, width 576, 9 heads / 3 KV heads (head 64),
                feed-forward 1536, vocabulary 49152, RoPE base 100000 (default)
  qwen2.5-0.5b  24 layers, width 896, 14 / 2 heads (head 64), feed-forward
                4864, vocabulary 151936, RoPE base 1000000 (as a plain llama:
                Qwen2's q/k/v biases are left out, a few thousand adds)
  llama3.2-1b   16 layers, width 2048, 32 / 8 heads (head 64), feed-forward
                8192, vocabulary 128256, RoPE base 500000

Types:
  q8_0    every matrix Q8_0 (norms f32)
  q4_0    every matrix Q4_0 (norms f32)
  q4_k_m  llama.cpp's Q4_K_M recipe (src/llama-quant.cpp, llama_tensor_get_type):
          default Q4_K; attn_v and ffn_down in "more bits" layers
          (i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2) Q6_K; the tied
          token_embd takes the output's rule (Q6_K, or Q8_0 when its rows are
          not a multiple of the block). A K-quant needs rows (ne[0]) that are a
          multiple of 256; otherwise llama.cpp falls back Q4_K -> Q5_0,
          Q5_K -> Q5_1, Q6_K -> Q8_0. For this shape (ne[0] = 576 everywhere
          except ffn_down's 1536) that gives: token_embd Q8_0, attn_q/k/o and
          ffn_gate/up Q5_0, attn_v Q8_0 (more-bits layers) or Q5_0, ffn_down
          Q6_K (more-bits layers) or Q4_K.

The vocabulary is tests/data/tokenizer/bpe_smollm.gguf (a small byte-level BPE)
padded with unreachable control tokens to 49152 entries, so the model loads
with a tokenizer of the right size. K-quant blocks are random valid blocks;
the other types are quantized from N(0, 0.02) weights. Seeded (same bytes on
every run).

    /usr/bin/python3 bench/make_bench_models.py [--out DIR] [types...]
"""
import argparse
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import gguf  # noqa: E402

# name: (layers, width, heads, kv heads, feed-forward, vocabulary, context, rope base)
SHAPES = {
    "smollm2-135m": (30, 576, 9, 3, 1536, 49152, 8192, 100000.0),
    "qwen2.5-0.5b": (24, 896, 14, 2, 4864, 151936, 32768, 1000000.0),
    "llama3.2-1b": (16, 2048, 32, 8, 8192, 128256, 131072, 500000.0),
}
N_LAYER, N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_VOCAB, N_CTX, ROPE_BASE = SHAPES["smollm2-135m"]
HEAD = N_EMBD // N_HEAD


def set_shape(name):
    global N_LAYER, N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_VOCAB, N_CTX, ROPE_BASE, HEAD
    N_LAYER, N_EMBD, N_HEAD, N_HEAD_KV, N_FF, N_VOCAB, N_CTX, ROPE_BASE = SHAPES[name]
    HEAD = N_EMBD // N_HEAD
FILE_TYPE = {"q8_0": 7, "q4_0": 2, "q4_k_m": 15}  # llama_ftype


def more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def kquant_fallback(t, n_in):
    """llama.cpp's fallback for a K-quant whose rows are not a multiple of 256."""
    if t in ("q4_k", "q5_k", "q6_k") and n_in % 256:
        return {"q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0"}[t]
    return t


def tensor_type(ftype, name, layer, n_in):
    if ftype != "q4_k_m":
        return ftype
    if name == "token_embd":  # tied: quantized with the output tensor's rule
        return "q8_0" if n_in % 256 else "q6_k"
    t = "q4_k"
    if name in ("attn_v", "ffn_down") and more_bits(layer, N_LAYER):
        t = "q6_k"
    return kquant_fallback(t, n_in)


def make(ftype, path, counts, shape):
    rng = np.random.default_rng(1234)
    src = gguf.GGUFReader(os.path.join(ROOT, "tests", "data", "tokenizer", "bpe_smollm.gguf"))
    tokens = list(src.kv["tokenizer.ggml.tokens"])
    types = [int(t) for t in src.kv["tokenizer.ggml.token_type"]]
    pad = N_VOCAB - len(tokens)
    tokens += ["<|bench_pad_%d|>" % i for i in range(pad)]
    types += [3] * pad

    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama")
    w.add("general.name", "bench-%s-shape-%s" % (shape, ftype))
    w.add("general.file_type", FILE_TYPE[ftype])
    gguf.add_llama_hparams(w, n_ctx=N_CTX, n_embd=N_EMBD, n_layer=N_LAYER, n_ff=N_FF, n_head=N_HEAD,
                           n_head_kv=N_HEAD_KV, head_dim=HEAD, rope_base=ROPE_BASE, vocab_size=N_VOCAB)
    w.add("tokenizer.ggml.model", "gpt2")
    w.add("tokenizer.ggml.pre", "smollm")
    w.add("tokenizer.ggml.tokens", tokens)
    w.add("tokenizer.ggml.token_type", types, gguf.INT32)
    w.add("tokenizer.ggml.merges", list(src.kv["tokenizer.ggml.merges"]))
    w.add("tokenizer.ggml.bos_token_id", int(src.kv["tokenizer.ggml.bos_token_id"]))
    w.add("tokenizer.ggml.eos_token_id", int(src.kv["tokenizer.ggml.eos_token_id"]))
    w.add("tokenizer.ggml.add_bos_token", False)

    def mat(name, layer, n_out, n_in):
        t = tensor_type(ftype, name, layer, n_in)
        full = name if layer < 0 else "blk.%d.%s" % (layer, name)
        counts[t] = counts.get(t, 0) + 1
        a = (rng.standard_normal((n_out, n_in), dtype=np.float32) * 0.02)
        if t in ("q4_k", "q6_k"):
            w.add_tensor(full + ".weight", a, t, rng=rng)  # random valid blocks
        else:
            w.add_tensor(full + ".weight", a, t)

    mat("token_embd", -1, N_VOCAB, N_EMBD)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    for i in range(N_LAYER):
        w.add_tensor("blk.%d.attn_norm.weight" % i, np.ones(N_EMBD, np.float32))
        mat("attn_q", i, N_EMBD, N_EMBD)
        mat("attn_k", i, N_HEAD_KV * HEAD, N_EMBD)
        mat("attn_v", i, N_HEAD_KV * HEAD, N_EMBD)
        mat("attn_output", i, N_EMBD, N_EMBD)
        w.add_tensor("blk.%d.ffn_norm.weight" % i, np.ones(N_EMBD, np.float32))
        mat("ffn_gate", i, N_FF, N_EMBD)
        mat("ffn_up", i, N_FF, N_EMBD)
        mat("ffn_down", i, N_EMBD, N_FF)
    tmp = path + ".tmp"
    w.write(tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(ROOT, "build", "bench")))
    ap.add_argument("--shape", default="smollm2-135m", choices=sorted(SHAPES))
    ap.add_argument("--force", action="store_true", help="rewrite existing files")
    ap.add_argument("types", nargs="*", default=["q8_0", "q4_0", "q4_k_m"])
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    set_shape(a.shape)
    for t in a.types:
        if t not in FILE_TYPE:
            sys.exit("make_bench_models.py: unknown type %r (q8_0, q4_0, q4_k_m)" % t)
        path = os.path.join(a.out, "%s-shape-%s.gguf" % (a.shape, t))
        if os.path.exists(path) and not a.force:
            print("%s: exists" % path)
            continue
        counts = {}
        make(t, path, counts, a.shape)
        print("%s: %.1f MB, matrices %s" % (path, os.path.getsize(path) / 1e6,
                                             " ".join("%s=%d" % kv for kv in sorted(counts.items()))))


if __name__ == "__main__":
    main()
