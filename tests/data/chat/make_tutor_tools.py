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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_fixture import HERE, SPM_BPE, gguf, scripted_writer, write_scripted  # noqa: E402

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
    src = gguf.GGUFReader(SPM_BPE)
    extra = ["<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>", CALLS, "<|tool_done|>"]
    w, tokens = scripted_writer("tutor-tools-test", src, extra, [3, 3, 4, 4, 4, 3], TEMPLATE, n_ctx=2048)
    w.add("atento.tools", json.dumps(TOOLS, separators=(",", ":")))
    end_id = tokens.index("<|im_end|>")
    chain_a = [tokens.index(t) for t in ["<tool_call>", CALLS, "</tool_call>"]]
    cue = tokens.index("<|tool_done|>")
    chain_b = [tokens.index(t) for t in ["▁good", "▁amigo"]]

    # marker dimensions: 0 ordinary, 1..3 chain A, 4 the cue, 5..6 chain B
    scripted = chain_a + [cue] + chain_b
    nxt = {0: chain_a[0]}  # marker dim -> the token that follows
    for i in range(len(chain_a) - 1):
        nxt[i + 1] = chain_a[i + 1]
    nxt[len(chain_a)] = end_id
    nxt[len(chain_a) + 1] = chain_b[0]  # the cue
    for i in range(len(chain_b) - 1):
        nxt[len(chain_a) + 2 + i] = chain_b[i + 1]
    nxt[len(chain_a) + 1 + len(chain_b)] = end_id
    path = os.path.join(HERE, "tutor_tools.gguf")
    write_scripted(w, len(tokens), scripted, nxt, 11, path)
    print("%s: %d bytes" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
