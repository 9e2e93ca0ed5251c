#!/usr/bin/env python3
"""make_llama.py — random-weight decoder-only models (GGUF "llama", "qwen2",
"qwen3", "gemma2", "gemma3", "phi3") for tests and benchmarks, written with
models/tools/gguf.py.

    /usr/bin/python3 models/tools/make_llama.py OUT.gguf
        [--arch llama|qwen2|qwen3|gemma2|gemma3|phi3]
        [--layers 2] [--width 64] [--heads 4] [--kv-heads 2] [--ffn 128]
        [--head-dim N] [--ctx 256] [--type f32] [--embd-type T] [--tied]
        [--seed 1] [--rope-base 10000] [--rope-freqs] [--smollm]

--type quantizes every 2-D weight (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 in
NumPy; q4_k q5_k q6_k as quantize_k() blocks of random weights); norms and
biases stay f32. --type mix writes q4_k attention, q5_k feed-forward and
q6_k embeddings/output (needs rows that are multiples of 256). --smollm sets
SmolLM2-135M's shape (30 layers, width 576, 9/3 heads, ffn 1536, vocab
49152, tied, rope base 100000), for benchmarks only.

The vocabulary is a small synthetic SentencePiece one: <unk> <s> </s>, the
256 byte tokens <0x00>..<0xFF>, then single letters, "▁"-words and a few
merges, scored so SPM BPE merges them (padded with unused pieces up to the
embedding size when that is larger). A qwen2 model gets q/k/v biases.
The weights are N(0, sigma) with sigma chosen so activations stay O(1).

The other architectures get what llama.cpp's converters write for them
(docs/conventions.md): qwen3 and gemma3 per-head attn_q_norm/attn_k_norm and
attention.key_length/value_length (--head-dim, may differ from width/heads);
gemma2/gemma3 post_attention_norm/post_ffw_norm, attention.sliding_window
(--swa) and, for gemma2, attn_logit_softcapping/final_logit_softcapping;
phi3 a fused attn_qkv and a fused ffn_up (gate rows, then up rows),
rope_factors_long/short and rope.scaling.attn_factor /
original_context_length. --rope-freqs adds a Llama 3.1 style rope_freqs
tensor (frequency divisors between 1 and 8); rope_linear=F (make() only)
writes rope.scaling.type "linear" with factor F, as Gemma 3 4B+ has.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

WORDS = ["the", "and", "of", "to", "in", "is", "it", "you", "that", "he", "was", "for", "on", "are",
         "with", "they", "this", "from", "hola", "gato", "perro", "casa", "el", "la", "de", "que", "niño",
         "año", "café", "está", "mañana"]


def vocab():
    """tokens, scores, token types of the synthetic SPM vocabulary."""
    toks, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        toks.append("<0x%02X>" % b)
        scores.append(0.0)
        types.append(6)
    pieces = []
    for c in "abcdefghijklmnopqrstuvwxyzñáéíóú.,!?'":
        pieces.append(c)
    pieces.append("\u2581")
    # every prefix of every "▁word", so BPE can build the words by merging
    for w in WORDS:
        s = "\u2581" + w
        for k in range(2, len(s) + 1):
            pieces.append(s[:k])
        for k in range(2, len(w) + 1):
            pieces.append(w[:k])
    seen = set(toks)
    score = -1.0
    for p in pieces:
        if p in seen:
            continue
        seen.add(p)
        toks.append(p)
        # longer pieces merge later in SPM BPE only by score: give longer ones lower scores
        scores.append(score - len(p))
        types.append(1)
        score -= 0.01
    return toks, scores, types


def add_vocab(w, n_vocab=None):
    toks, scores, types = vocab()
    if n_vocab is not None:
        if n_vocab < len(toks):
            raise SystemExit("vocab of %d is smaller than the synthetic vocabulary (%d)" % (n_vocab, len(toks)))
        for i in range(len(toks), n_vocab):
            toks.append("<unused%d>" % i)
            scores.append(-1e9)
            types.append(5)
    w.add("tokenizer.ggml.model", "llama")
    w.add("tokenizer.ggml.tokens", toks)
    w.add("tokenizer.ggml.scores", scores, gguf.FLOAT32)
    w.add("tokenizer.ggml.token_type", types, gguf.INT32)
    w.add("tokenizer.ggml.bos_token_id", 1)
    w.add("tokenizer.ggml.eos_token_id", 2)
    w.add("tokenizer.ggml.unknown_token_id", 0)
    w.add("tokenizer.ggml.add_bos_token", True)
    w.add("tokenizer.ggml.add_eos_token", False)
    return len(toks)


ARCHES = ["llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"]


def make(path, arch="llama", layers=2, width=64, heads=4, kv_heads=2, ffn=128, ctx=256, ttype="f32",
         embd_type=None, tied=False, seed=1, rope_base=10000.0, n_vocab=None, chat_template=None,
         head_dim=None, swa=8, rope_freqs=False, softcap=(8.0, 6.0), orig_ctx=None, rope_linear=None):
    rng = np.random.default_rng(seed)
    hd = head_dim or width // heads
    kv = hd * kv_heads
    qd = hd * heads                       # width of q and of the attention output
    gemma = arch in ("gemma2", "gemma3")
    w = gguf.GGUFWriter()
    w.add("general.architecture", arch)
    # llama.cpp gives a vocabulary Phi-3's token attributes when general.name
    # contains "phi3" and then needs <|endoftext|>: keep the arch out of it
    name = arch if arch != "phi3" else "fused-longrope"
    w.add("general.name", "random-%s-%dx%d-%s" % (name, layers, width, ttype))
    w.add("general.file_type", 0)
    a = arch
    w.add(a + ".context_length", ctx)
    w.add(a + ".embedding_length", width)
    w.add(a + ".block_count", layers)
    w.add(a + ".feed_forward_length", ffn)
    w.add(a + ".attention.head_count", heads)
    w.add(a + ".attention.head_count_kv", kv_heads)
    w.add(a + ".attention.layer_norm_rms_epsilon", 1e-5 if not gemma else 1e-6)
    w.add(a + ".rope.freq_base", float(rope_base))
    w.add(a + ".rope.dimension_count", hd)
    if rope_linear:
        w.add(a + ".rope.scaling.type", "linear")
        w.add(a + ".rope.scaling.factor", float(rope_linear))
    if head_dim or arch in ("qwen3", "gemma2", "gemma3"):
        w.add(a + ".attention.key_length", hd)
        w.add(a + ".attention.value_length", hd)
    if gemma:
        w.add(a + ".attention.sliding_window", swa)
    if arch == "gemma2":
        w.add(a + ".attn_logit_softcapping", float(softcap[0]))
        w.add(a + ".final_logit_softcapping", float(softcap[1]))
    if arch == "phi3":
        orig = orig_ctx or ctx // 4
        w.add(a + ".rope.scaling.original_context_length", orig)
        w.add(a + ".rope.scaling.attn_factor", float(np.sqrt(1 + np.log(ctx / orig) / np.log(orig))))
        w.add(a + ".attention.sliding_window", 0)
    V = add_vocab(w, n_vocab)
    if chat_template:
        w.add("tokenizer.chat_template", chat_template)

    mix = ttype == "mix"
    kq = ("q4_k", "q5_k", "q6_k")
    if (mix or ttype in kq or embd_type in kq) and (width % 256 or ffn % 256):
        raise SystemExit("K-quants need width and ffn multiples of 256 (got %d, %d); for SmolLM2's shape use "
                         "bench/make_bench_models.py q4_k_m (llama.cpp's fallbacks)" % (width, ffn))

    def t_of(kind):
        if mix:
            return {"attn": "q4_k", "ffn": "q5_k", "embd": "q6_k"}[kind]
        if kind == "embd" and embd_type:
            return embd_type
        return ttype

    def rand(n_out, n_in, sigma=None):
        sigma = sigma if sigma is not None else 1.0 / np.sqrt(n_in)
        return (rng.standard_normal((n_out, n_in)) * sigma).astype(np.float32)

    def mat(name, n_out, n_in, kind, sigma=None):
        w.add_tensor(name, rand(n_out, n_in, sigma), t_of(kind))

    def vec(name, n, mean=1.0, sigma=0.1):
        w.add_tensor(name, (mean + rng.standard_normal(n) * sigma).astype(np.float32), "f32")

    # gemma scales the embeddings by sqrt(width) and ties the output to them:
    # sigma 0.5 keeps both the scaled rows and the logits a few units wide
    mat("token_embd.weight", V, width, "embd", sigma=0.5 if gemma else 1.0)
    vec("output_norm.weight", width)
    if not tied and arch != "gemma2":     # gemma2's output is always token_embd
        mat("output.weight", V, width, "embd", sigma=2.0 / np.sqrt(width))
    if rope_freqs:
        # Llama 3.1's shape: high frequencies unchanged, low ones divided by up to 8
        f = np.ones(hd // 2, np.float32)
        f[hd // 4:] = np.linspace(1.5, 8.0, hd // 2 - hd // 4)
        w.add_tensor("rope_freqs.weight", f, "f32")
    if arch == "phi3":
        w.add_tensor("rope_factors_long.weight", (1.0 + rng.random(hd // 2) * 4).astype(np.float32), "f32")
        w.add_tensor("rope_factors_short.weight", (1.0 + rng.random(hd // 2) * 0.5).astype(np.float32), "f32")
    for i in range(layers):
        p = "blk.%d." % i
        vec(p + "attn_norm.weight", width)
        q = rand(qd, width, 2.0 / np.sqrt(width))
        k = rand(kv, width, 2.0 / np.sqrt(width))
        v = rand(kv, width)
        if arch == "phi3":
            w.add_tensor(p + "attn_qkv.weight", np.concatenate([q, k, v]), t_of("attn"))
        else:
            w.add_tensor(p + "attn_q.weight", q, t_of("attn"))
            w.add_tensor(p + "attn_k.weight", k, t_of("attn"))
            w.add_tensor(p + "attn_v.weight", v, t_of("attn"))
        mat(p + "attn_output.weight", width, qd, "attn", sigma=0.5 / np.sqrt(qd))
        if arch == "qwen2":
            vec(p + "attn_q.bias", width, 0.0, 0.5)
            vec(p + "attn_k.bias", kv, 0.0, 0.5)
            vec(p + "attn_v.bias", kv, 0.0, 0.1)
        if arch in ("qwen3", "gemma3"):
            vec(p + "attn_q_norm.weight", hd, 1.0, 0.3)
            vec(p + "attn_k_norm.weight", hd, 1.0, 0.3)
        if gemma:
            # post-norms of 3: the sub-layers' outputs weigh about as much as
            # the scaled embedding, so the next token is not the last one
            vec(p + "post_attention_norm.weight", width, 3.0, 0.3)
            vec(p + "post_ffw_norm.weight", width, 3.0, 0.3)
        vec(p + "ffn_norm.weight", width)
        gate, up = rand(ffn, width), rand(ffn, width)
        if arch == "phi3":
            w.add_tensor(p + "ffn_up.weight", np.concatenate([gate, up]), t_of("ffn"))
        else:
            w.add_tensor(p + "ffn_gate.weight", gate, t_of("ffn"))
            w.add_tensor(p + "ffn_up.weight", up, t_of("ffn"))
        mat(p + "ffn_down.weight", width, ffn, "ffn", sigma=0.5 / np.sqrt(ffn))
    w.write(path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--arch", default="llama", choices=ARCHES)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=128)
    ap.add_argument("--head-dim", type=int, default=None, help="attention.key_length (default width/heads)")
    ap.add_argument("--swa", type=int, default=8, help="gemma: attention.sliding_window")
    ap.add_argument("--rope-freqs", action="store_true", help="add a Llama 3.1 style rope_freqs tensor")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--vocab", type=int, default=None, help="pad the vocabulary to this size")
    ap.add_argument("--type", default="f32")
    ap.add_argument("--embd-type", default=None)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rope-base", type=float, default=10000.0)
    ap.add_argument("--smollm", action="store_true", help="SmolLM2-135M's shape")
    a = ap.parse_args()
    if a.smollm:
        a.layers, a.width, a.heads, a.kv_heads, a.ffn, a.vocab, a.tied, a.rope_base, a.ctx = \
            30, 576, 9, 3, 1536, 49152, True, 100000.0, 8192
    make(a.out, a.arch, a.layers, a.width, a.heads, a.kv_heads, a.ffn, a.ctx, a.type, a.embd_type, a.tied,
         a.seed, a.rope_base, a.vocab, head_dim=a.head_dim, swa=a.swa, rope_freqs=a.rope_freqs)


if __name__ == "__main__":
    main()
