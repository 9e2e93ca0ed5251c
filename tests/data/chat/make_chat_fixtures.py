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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_fixture import HERE, ROOT, SPM_BPE, gguf, scripted_writer, write_scripted  # noqa: E402

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
    extra = spec["extra"]
    template = open(os.path.join(ROOT, "tests", "data", "chat_templates", spec["template"])).read()
    w, tokens = scripted_writer("hola-%s-test" % family, src, extra, spec.get("types", [3] * len(extra)), template,
                                n_ctx=spec.get("n_ctx", 256), bos=spec["bos"])
    chain = [tokens.index(t) for t in spec.get("chain", ["▁good", "▁amigo"])]
    L = len(chain)
    end_id = tokens.index(spec["end"]) if spec["end"] else chain[0]
    # ordinary -> the first of the chain, then the next, and after the last
    # the end of the turn (loop: the first again)
    follows = {0: chain[0]}
    for i in range(1, L):
        follows[i] = chain[i]
    follows[L] = end_id
    path = os.path.join(HERE, "hola_%s.gguf" % family)
    write_scripted(w, len(tokens), chain, follows, 7, path)
    print("%s: %d bytes, reply ids %s then %d" % (path, os.path.getsize(path), " ".join(map(str, chain)), end_id))


def main():
    src = gguf.GGUFReader(SPM_BPE)
    for family, spec in FAMILIES.items():
        make(family, spec, src)


if __name__ == "__main__":
    main()
