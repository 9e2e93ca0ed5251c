#!/usr/bin/env python3
"""make_seeds.py — writes the GGUF seeds of the fuzz corpora (tests/fuzz/corpus/
model/ and tok_vocab/): the smallest files that still take the loader, the
tokenizers and one forward step through their whole path, so mutations start
from inputs that get deep. Seeded, deterministic; run from the repo root:

    /usr/bin/python3 tests/fuzz/make_seeds.py

Models: 1-layer llama (f32, width 8, ChatML template), qwen2 (q8_0, width 32,
byte-level BPE vocabulary) and marian (width 8, unigram vocabulary), a few KB
each. Vocabularies alone: SentencePiece BPE, byte-level BPE, unigram.
"""
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import gguf  # noqa: E402
from make_bpe_fixtures import bytes_to_unicode  # noqa: E402  GPT-2's byte -> character map

CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
WORDS = ["hola", "gato", "the", "cat", "is", "el"]
CHATML = open(os.path.join(ROOT, "tests", "data", "chat_templates", "chatml.jinja")).read()


def spm_vocab(kind):
    """<unk> <s> </s>, a few byte pieces, letters, ▁words and their prefixes."""
    toks, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    if kind == "llama":
        for b in (0x0A, 0x20, 0xC3, 0xB1, 0xE2, 0x96, 0x81):
            toks.append("<0x%02X>" % b)
            scores.append(0.0)
            types.append(6)
    toks += ["<|im_start|>", "<|im_end|>"]
    scores += [0.0, 0.0]
    types += [3, 3]
    pieces = list("abcdeghilnostñ.") + ["\u2581"]
    for w in WORDS:
        s = "\u2581" + w
        pieces += [s[:k] for k in range(2, len(s) + 1)]
    seen = set(toks)
    for p in pieces:
        if p not in seen:
            seen.add(p)
            toks.append(p)
            scores.append(-1.0 - len(p) - 0.01 * len(toks))
            types.append(1)
    toks.append(">>es<<")
    scores.append(0.0)
    types.append(4)
    return toks, scores, types


def add_spm(w, kind, prefix="tokenizer.ggml"):
    toks, scores, types = spm_vocab(kind)
    w.add(prefix + ".model", kind)
    w.add(prefix + ".tokens", toks)
    w.add(prefix + ".scores", scores, gguf.FLOAT32)
    w.add(prefix + ".token_type", types, gguf.INT32)
    w.add(prefix + ".bos_token_id", 1)
    w.add(prefix + ".eos_token_id", 2)
    w.add(prefix + ".unknown_token_id", 0)
    w.add(prefix + ".padding_token_id", 0)
    w.add(prefix + ".add_bos_token", kind == "llama")
    return len(toks)


def add_gpt2(w, pre="qwen2"):
    m = bytes_to_unicode()
    toks = [m[b] for b in range(256)]
    merges = []
    for word in ["Ġthe", "Ġcat", "hola", "Ġis"]:
        cur = word[0]
        for ch in word[1:]:
            merges.append(cur + " " + ch)
            cur += ch
            if cur not in toks:
                toks.append(cur)
    toks += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [1] * (len(toks) - 3) + [3, 3, 3]
    w.add("tokenizer.ggml.model", "gpt2")
    w.add("tokenizer.ggml.pre", pre)
    w.add("tokenizer.ggml.tokens", toks)
    w.add("tokenizer.ggml.token_type", types, gguf.INT32)
    w.add("tokenizer.ggml.merges", merges)
    w.add("tokenizer.ggml.bos_token_id", len(toks) - 3)
    w.add("tokenizer.ggml.eos_token_id", len(toks) - 1)
    w.add("tokenizer.ggml.add_bos_token", False)
    return len(toks)


def llama_like(path, arch, width, heads, kv_heads, ffn, ttype, vocab):
    rng = np.random.default_rng(7)
    hd = width // heads
    w = gguf.GGUFWriter()
    w.add("general.architecture", arch)
    gguf.add_llama_hparams(w, 32, width, 1, ffn, heads, kv_heads, hd, arch=arch)
    V = add_spm(w, "llama") if vocab == "spm" else add_gpt2(w)
    w.add("tokenizer.chat_template", CHATML)

    def mat(name, n_out, n_in, t=ttype):
        w.add_tensor(name, (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32), t)

    def vec(name, n, mean=1.0):
        w.add_tensor(name, (mean + 0.1 * rng.standard_normal(n)).astype(np.float32), "f32")

    mat("token_embd.weight", V, width)
    vec("output_norm.weight", width)
    p = "blk.0."
    vec(p + "attn_norm.weight", width)
    mat(p + "attn_q.weight", width, width)
    mat(p + "attn_k.weight", hd * kv_heads, width)
    mat(p + "attn_v.weight", hd * kv_heads, width)
    mat(p + "attn_output.weight", width, width)
    if arch == "qwen2":
        vec(p + "attn_q.bias", width, 0.0)
        vec(p + "attn_k.bias", hd * kv_heads, 0.0)
        vec(p + "attn_v.bias", hd * kv_heads, 0.0)
    vec(p + "ffn_norm.weight", width)
    mat(p + "ffn_gate.weight", ffn, width)
    mat(p + "ffn_up.weight", ffn, width)
    mat(p + "ffn_down.weight", width, ffn)
    w.write(path)


def marian(path):
    rng = np.random.default_rng(8)
    d, f = 8, 16
    w = gguf.GGUFWriter()
    w.add("general.architecture", "marian")
    for k, v in [("embedding_length", d), ("encoder.block_count", 1), ("decoder.block_count", 1),
                 ("attention.head_count", 2), ("feed_forward_length", f), ("context_length", 32)]:
        w.add("marian." + k, v, gguf.UINT32)
    w.add("marian.decoder_start_token_id", 0, gguf.UINT32)
    V = add_spm(w, "unigram")

    def lin(name, n_out, n_in):
        w.add_tensor(name + ".weight", (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32))
        w.add_tensor(name + ".bias", (0.1 * rng.standard_normal(n_out)).astype(np.float32))

    def norm(name):
        w.add_tensor(name + ".weight", np.ones(d, np.float32))
        w.add_tensor(name + ".bias", np.zeros(d, np.float32))

    w.add_tensor("token_embd.weight", rng.standard_normal((V, d)).astype(np.float32))
    for side in ("enc", "dec"):
        p = side + ".blk.0."
        for s in ["attn_q", "attn_k", "attn_v", "attn_o"] + (["cross_q", "cross_k", "cross_v", "cross_o"] if side == "dec" else []):
            lin(p + s, d, d)
        norm(p + "attn_norm")
        if side == "dec":
            norm(p + "cross_norm")
        lin(p + "ffn_up", f, d)
        lin(p + "ffn_down", d, f)
        norm(p + "ffn_norm")
    w.write(path)


def vocab_only(path, kind):
    w = gguf.GGUFWriter()
    if kind == "gpt2":
        add_gpt2(w, "llama3")
    else:
        add_spm(w, kind)
    w.write(path)


def main():
    for d in ("model", "tok_vocab"):
        os.makedirs(os.path.join(CORPUS, d), exist_ok=True)
    llama_like(os.path.join(CORPUS, "model", "llama_spm_f32.gguf"), "llama", 8, 2, 1, 16, "f32", "spm")
    llama_like(os.path.join(CORPUS, "model", "qwen2_bpe_q8_0.gguf"), "qwen2", 32, 4, 2, 32, "q8_0", "gpt2")
    marian(os.path.join(CORPUS, "model", "marian_unigram_f32.gguf"))
    for kind in ("llama", "gpt2", "unigram"):
        vocab_only(os.path.join(CORPUS, "tok_vocab", kind + ".gguf"), kind)


if __name__ == "__main__":
    main()
