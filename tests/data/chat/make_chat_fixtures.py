#!/usr/bin/env python3
"""Writes the chat test models of tests/js/chat*.test.mjs: tiny Llamas whose
replies are known in advance, so stop handling can be tested exactly.

Each is a 1-layer Llama (width 16, 2 heads) over the SentencePiece vocabulary
of tests/data/tokenizer/spm_bpe.gguf plus a chat family's special tokens. The
weights are built, not trained: every token's embedding carries one large
marker dimension (most tokens: "ordinary"; the token "▁good": "X"; the token
"▁amigo": "Y"), large enough to dominate the residual stream, and the output
matrix maps ordinary -> "▁good", X -> "▁amigo", Y -> the end-of-generation
token. So whatever the prompt, the reply is "good amigo" and then the model
ends its turn with the family's end token, which must not be printed:

    hola_chatml.gguf   ChatML template,  ends with <|im_end|>
    hola_llama3.gguf   Llama 3 template, ends with <|eot_id|> (not the GGUF EOS)
    hola_zephyr.gguf   Zephyr template,  ends with EOS </s>
    hola_loop.gguf     ChatML, but Y -> X: "good amigo good amigo ..." for ever
                       (a 32768-token context: long replies to interrupt)
    hola_qwen3.gguf    Qwen3 template,   ends with <|im_end|>
    hola_gemma3.gguf   Gemma 3 template, ends with <end_of_turn>
    hola_phi3.gguf     Phi-3.5 template, ends with <|end|> (user-defined, as in
                       Phi-3 GGUF files; it must still end the turn)
    hola_tools.gguf    Qwen2.5 template (tools); every reply is one tool call,
                       <tool_call>{"name":"lookup",...}</tool_call>, then <|im_end|>

The general form: a chain of reply tokens c1..cL (default "▁good", "▁amigo"),
marker dimension 0 for ordinary tokens and i for c_i; ordinary -> c1,
c_i -> c_(i+1), c_L -> the end token.

Seeded; run from the repo root:  /usr/bin/python3 tests/data/chat/make_chat_fixtures.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import gguf  # noqa: E402

N_EMBD, N_HEAD, N_FF = 16, 2, 32
HEAD = N_EMBD // N_HEAD
BIG = 40.0  # marker size in the embeddings
OUT = 12.0  # output weight on a marker dimension

TOOL_CALL = '{"name":"lookup","arguments":{"word":"gato","from":"es"}}'

FAMILIES = {
    "chatml": {"extra": ["<|im_start|>", "<|im_end|>"], "end": "<|im_end|>", "bos": None,
               "template": "chatml.jinja"},
    "llama3": {"extra": ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
               "end": "<|eot_id|>", "bos": "<|begin_of_text|>", "template": "llama3.jinja"},
    "zephyr": {"extra": [], "end": "</s>", "bos": None, "template": "zephyr.jinja"},
    "loop": {"extra": ["<|im_start|>", "<|im_end|>"], "end": None, "bos": None, "template": "chatml.jinja",
             "n_ctx": 32768},
    "qwen3": {"extra": ["<|im_start|>", "<|im_end|>", "<think>", "</think>"], "end": "<|im_end|>", "bos": None,
              "template": "qwen3.jinja"},
    "gemma3": {"extra": ["<start_of_turn>", "<end_of_turn>"], "end": "<end_of_turn>", "bos": None,
               "template": "gemma3.jinja"},
    "phi3": {"extra": ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"], "types": [4, 4, 4, 4], "end": "<|end|>",
             "bos": None, "template": "phi3.jinja"},
    "tools": {"extra": ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", TOOL_CALL],
              "types": [3, 3, 4, 4, 4], "end": "<|im_end|>", "bos": None, "template": "qwen2.5.jinja",
              "chain": ["<tool_call>", TOOL_CALL, "</tool_call>"], "n_ctx": 2048},
}


def make(family, spec, src):
    tokens = list(src.kv["tokenizer.ggml.tokens"]) + spec["extra"]
    scores = list(src.kv["tokenizer.ggml.scores"]) + [0.0] * len(spec["extra"])
    types = list(src.kv["tokenizer.ggml.token_type"]) + spec.get("types", [3] * len(spec["extra"]))
    n_vocab = len(tokens)
    chain = [tokens.index(t) for t in spec.get("chain", ["▁good", "▁amigo"])]
    L = len(chain)
    end_id = tokens.index(spec["end"]) if spec["end"] else chain[0]
    template = open(os.path.join(ROOT, "tests", "data", "chat_templates", spec["template"])).read()
    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama")
    w.add("general.name", "hola-%s-test" % family)
    gguf.add_llama_hparams(w, n_ctx=spec.get("n_ctx", 256), n_embd=N_EMBD, n_layer=1, n_ff=N_FF,
                           n_head=N_HEAD, n_head_kv=N_HEAD, head_dim=HEAD, vocab_size=n_vocab)
    for k, v in src.kv.items():
        if k == "tokenizer.ggml.tokens":
            w.add(k, tokens)
        elif k == "tokenizer.ggml.scores":
            w.add(k, scores, gguf.FLOAT32)
        elif k == "tokenizer.ggml.token_type":
            w.add(k, types, gguf.INT32)
        elif k == "tokenizer.ggml.bos_token_id" and spec["bos"]:
            w.add(k, tokens.index(spec["bos"]), gguf.UINT32)
        elif k.startswith("tokenizer."):
            w.add(k, v, src.kv_type[k] if src.kv_type[k] != gguf.ARRAY else None)
    w.add("tokenizer.chat_template", template)

    rng = np.random.default_rng(7)

    def rnd(*shape, scale=0.1):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # marker dimensions: 0 = ordinary, i = the chain's i-th token (default:
    # 1 = X "▁good", 2 = Y "▁amigo")
    emb = rnd(n_vocab, N_EMBD, scale=0.3)
    emb[:, 0:L + 1] = 0
    emb[:, 0] = BIG
    for i, c in enumerate(chain):
        emb[c, 0], emb[c, i + 1] = 0, BIG
    out = rnd(n_vocab, N_EMBD, scale=0.1)
    out[:, 0:L + 1] = 0
    out[chain[0], 0] = OUT        # after an ordinary token: the first of the chain
    for i in range(1, L):
        out[chain[i], i] = OUT    # then the next
    out[end_id, L] = OUT          # after the last: the end of the turn (loop: the first again)
    w.add_tensor("token_embd.weight", emb, "f16")
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor("output.weight", out, "f16")
    p = "blk.0."
    w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor(p + "attn_q.weight", rnd(N_EMBD, N_EMBD))
    w.add_tensor(p + "attn_k.weight", rnd(N_EMBD, N_EMBD))
    w.add_tensor(p + "attn_v.weight", rnd(N_EMBD, N_EMBD))
    w.add_tensor(p + "attn_output.weight", rnd(N_EMBD, N_EMBD))
    w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, np.float32))
    w.add_tensor(p + "ffn_gate.weight", rnd(N_FF, N_EMBD))
    w.add_tensor(p + "ffn_up.weight", rnd(N_FF, N_EMBD))
    w.add_tensor(p + "ffn_down.weight", rnd(N_EMBD, N_FF))
    path = os.path.join(HERE, "hola_%s.gguf" % family)
    w.write(path)
    print("%s: %d bytes, reply ids %s then %d" % (path, os.path.getsize(path), " ".join(map(str, chain)), end_id))


def main():
    src = gguf.GGUFReader(os.path.join(ROOT, "tests", "data", "tokenizer", "spm_bpe.gguf"))
    for family, spec in FAMILIES.items():
        make(family, spec, src)


if __name__ == "__main__":
    main()
