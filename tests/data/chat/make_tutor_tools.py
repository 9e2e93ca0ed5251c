#!/usr/bin/env python3
"""Writes tests/data/chat/tutor_tools.gguf: a scripted stand-in for a tutor
that declares the built-in tools (GGUF `atento.tools`, docs/chat.md) and
calls them, for the tests of the built-in tools (C, JS, both CLIs).

Built like make_chat_fixtures.py (a 1-layer Llama over the vocabulary of
tests/data/tokenizer/spm_bpe.gguf whose embeddings carry one large marker
dimension per scripted token, so the reply depends only on the prompt's last
token), with two chains:

- a prompt that ends as usual ("<|im_start|>assistant\\n") gets
  <tool_call>CALLS</tool_call><|im_end|>, where CALLS is one user-defined token
  whose text holds four calls: lookup("gato", es), translate("good morning",
  es), an unknown tool "dance", and lookup with a bad argument (word: 42);
- a prompt whose last message is a tool result ends, by this model's own
  template, with the control token <|tool_done|>, and gets "good amigo"
  then <|im_end|>.

So one question makes one round of four tool calls, then an answer.
Seeded; run from the repo root:  python3 tests/data/chat/make_tutor_tools.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "models", "tools"))
import gguf  # noqa: E402

N_EMBD, N_HEAD, N_FF = 16, 2, 32
HEAD = N_EMBD // N_HEAD
BIG, OUT = 40.0, 12.0

# The tools of the contract (docs/chat.md), exactly.
TOOLS = [
    {"type": "function", "function": {
        "name": "translate", "description": "Translate a text between English and Spanish.",
        "parameters": {"type": "object", "properties": {
            "text": {"type": "string", "description": "the text to translate"},
            "to": {"type": "string", "enum": ["en", "es"], "description": "the language to translate into"}},
            "required": ["text", "to"]}}},
    {"type": "function", "function": {
        "name": "lookup", "description": "Look a word or short phrase up in the English-Spanish dictionary.",
        "parameters": {"type": "object", "properties": {
            "word": {"type": "string", "description": "the word or phrase"},
            "from": {"type": "string", "enum": ["en", "es"], "description": "the language of the word"}},
            "required": ["word", "from"]}}},
]

CALLS = "\n</tool_call>\n<tool_call>\n".join([
    '\n{"name": "lookup", "arguments": {"word": "gato", "from": "es"}}',
    '{"name": "translate", "arguments": {"text": "good morning", "to": "es"}}',
    '{"name": "dance", "arguments": {}}',
    '{"name": "lookup", "arguments": {"word": 42}}\n',
])

# ChatML with tools (Qwen2.5's way), short; the generation prompt after a
# tool result ends with <|tool_done|>, the cue for the answer chain.
TEMPLATE = (
    "{%- if tools %}{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a tutor.' }}{%- endif %}"
    "{{- '\\n<tools>' }}{%- for tool in tools %}{{- '\\n' }}{{- tool | tojson }}{%- endfor %}"
    "{{- '\\n</tools><|im_end|>\\n' }}"
    "{%- elif messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}"
    "{%- elif not (message.role == 'system' and loop.first) %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}"
    "{%- if messages[-1].role == 'tool' %}{{- '<|tool_done|>' }}{%- endif %}{%- endif %}"
)


def main():
    src = gguf.GGUFReader(os.path.join(ROOT, "tests", "data", "tokenizer", "spm_bpe.gguf"))
    extra = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", CALLS, "<|tool_done|>"]
    extra_types = [3, 3, 4, 4, 4, 3]
    tokens = list(src.kv["tokenizer.ggml.tokens"]) + extra
    scores = list(src.kv["tokenizer.ggml.scores"]) + [0.0] * len(extra)
    types = list(src.kv["tokenizer.ggml.token_type"]) + extra_types
    n_vocab = len(tokens)
    end_id = tokens.index("<|im_end|>")
    chain_a = [tokens.index(t) for t in ["<tool_call>", CALLS, "</tool_call>"]]
    cue = tokens.index("<|tool_done|>")
    chain_b = [tokens.index(t) for t in ["▁good", "▁amigo"]]

    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama")
    w.add("general.name", "tutor-tools-test")
    gguf.add_llama_hparams(w, n_ctx=2048, n_embd=N_EMBD, n_layer=1, n_ff=N_FF,
                           n_head=N_HEAD, n_head_kv=N_HEAD, head_dim=HEAD, vocab_size=n_vocab)
    for k, v in src.kv.items():
        if k == "tokenizer.ggml.tokens":
            w.add(k, tokens)
        elif k == "tokenizer.ggml.scores":
            w.add(k, scores, gguf.FLOAT32)
        elif k == "tokenizer.ggml.token_type":
            w.add(k, types, gguf.INT32)
        elif k.startswith("tokenizer."):
            w.add(k, v, src.kv_type[k] if src.kv_type[k] != gguf.ARRAY else None)
    w.add("tokenizer.chat_template", TEMPLATE)
    w.add("atento.tools", json.dumps(TOOLS, separators=(",", ":")))

    rng = np.random.default_rng(11)

    def rnd(*shape, scale=0.1):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    # marker dimensions: 0 ordinary, 1..3 chain A, 4 the cue, 5..6 chain B
    scripted = chain_a + [cue] + chain_b
    D = len(scripted) + 1
    emb = rnd(n_vocab, N_EMBD, scale=0.3)
    emb[:, 0:D] = 0
    emb[:, 0] = BIG
    for i, t in enumerate(scripted):
        emb[t, 0], emb[t, i + 1] = 0, BIG
    out = rnd(n_vocab, N_EMBD, scale=0.1)
    out[:, 0:D] = 0
    nxt = {0: chain_a[0]}  # marker dim -> the token that follows
    for i in range(len(chain_a) - 1):
        nxt[i + 1] = chain_a[i + 1]
    nxt[len(chain_a)] = end_id
    nxt[len(chain_a) + 1] = chain_b[0]  # the cue
    for i in range(len(chain_b) - 1):
        nxt[len(chain_a) + 2 + i] = chain_b[i + 1]
    nxt[len(chain_a) + 1 + len(chain_b)] = end_id
    for dim, tok in nxt.items():
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
    path = os.path.join(HERE, "tutor_tools.gguf")
    w.write(path)
    print("%s: %d bytes" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
