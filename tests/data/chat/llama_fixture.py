"""llama_fixture.py — the GGUF writing that the chat test models share
(make_chat_fixtures.py, make_tutor_tools.py, tests/fixtures/chat/make_tiny_chat.py).

llama_writer(): a GGUF writer for a small Llama over the SentencePiece
vocabulary of tests/data/tokenizer/spm_bpe.gguf plus the model's own special
tokens, with its chat template.

write_scripted(): the weights of a scripted 1-layer Llama whose reply depends
only on the prompt's last token: every token's embedding carries one large
marker dimension (0 for ordinary tokens, i + 1 for the i-th scripted token),
large enough to dominate the residual stream, and the output matrix maps each
marker dimension to the token that follows it.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import gguf  # noqa: E402

SPM_BPE = os.path.join(ROOT, "tests", "data", "tokenizer", "spm_bpe.gguf")

# the scripted models: width, heads, feed-forward width
N_EMBD, N_HEAD, N_FF = 16, 2, 32
BIG = 40.0  # marker size in the embeddings
OUT = 12.0  # output weight on a marker dimension


def llama_writer(name, src, extra, extra_types, template, n_ctx, n_embd, n_layer, n_ff, n_head, n_head_kv,
                 bos=None):
    """A GGUFWriter holding the hyper-parameters, the vocabulary of `src`
    (a GGUFReader of spm_bpe.gguf) plus `extra` (token types `extra_types`,
    scores 0), `bos` as the BOS token when given, and the chat template.
    Returns the writer and the token list."""
    tokens = list(src.kv["tokenizer.ggml.tokens"]) + extra
    scores = list(src.kv["tokenizer.ggml.scores"]) + [0.0] * len(extra)
    types = list(src.kv["tokenizer.ggml.token_type"]) + extra_types
    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama")
    w.add("general.name", name)
    gguf.add_llama_hparams(w, n_ctx=n_ctx, n_embd=n_embd, n_layer=n_layer, n_ff=n_ff,
                           n_head=n_head, n_head_kv=n_head_kv, head_dim=n_embd // n_head, vocab_size=len(tokens))
    for k, v in src.kv.items():
        if k == "tokenizer.ggml.tokens":
            w.add(k, tokens)
        elif k == "tokenizer.ggml.scores":
            w.add(k, scores, gguf.FLOAT32)
        elif k == "tokenizer.ggml.token_type":
            w.add(k, types, gguf.INT32)
        elif k == "tokenizer.ggml.bos_token_id" and bos:
            w.add(k, tokens.index(bos), gguf.UINT32)
        elif k.startswith("tokenizer."):
            w.add(k, v, src.kv_type[k] if src.kv_type[k] != gguf.ARRAY else None)
    w.add("tokenizer.chat_template", template)
    return w, tokens


def scripted_writer(name, src, extra, extra_types, template, n_ctx, bos=None):
    """llama_writer() with the scripted models' shape."""
    return llama_writer(name, src, extra, extra_types, template, n_ctx=n_ctx, n_embd=N_EMBD, n_layer=1, n_ff=N_FF,
                        n_head=N_HEAD, n_head_kv=N_HEAD, bos=bos)


def write_scripted(w, n_vocab, scripted, follows, seed, path):
    """Add the weights of a scripted model to w and write it to path.
    scripted: the token ids with a marker dimension of their own (i + 1);
    follows: marker dimension -> the token the model then gives."""
    rng = np.random.default_rng(seed)

    def rnd(*shape, scale=0.1):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    dims = len(scripted) + 1
    emb = rnd(n_vocab, N_EMBD, scale=0.3)
    emb[:, 0:dims] = 0
    emb[:, 0] = BIG
    for i, t in enumerate(scripted):
        emb[t, 0], emb[t, i + 1] = 0, BIG
    out = rnd(n_vocab, N_EMBD, scale=0.1)
    out[:, 0:dims] = 0
    for dim, tok in follows.items():
        out[tok, dim] = OUT
    w.add_tensor("token_embd.weight", emb, "f16")
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("output.weight", out, "f16")
    p = "blk.0."
    w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        w.add_tensor(p + name + ".weight", rnd(N_EMBD, N_EMBD))
    w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor(p + "ffn_gate.weight", rnd(N_FF, N_EMBD))
    w.add_tensor(p + "ffn_up.weight", rnd(N_FF, N_EMBD))
    w.add_tensor(p + "ffn_down.weight", rnd(N_EMBD, N_FF))
    w.write(path)
