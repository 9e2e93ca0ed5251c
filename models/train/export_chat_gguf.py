#!/usr/bin/env python3
"""Write the chat model (chat.py's PyTorch Llama + its SentencePiece BPE
tokenizer) as a GGUF file with architecture `llama`, following llama.cpp's
conventions: tensor names token_embd / blk.N.{attn_norm,attn_q,attn_k,attn_v,
attn_output,ffn_norm,ffn_gate,ffn_up,ffn_down} / output_norm / output, and the
llama.* and tokenizer.ggml.* keys. RoPE: the model was trained rotating
adjacent pairs (2i, 2i+1) (llama.cpp's "normal" rope of arch llama), so q/k are
written as trained, with no permutation.

    python3 models/train/export_chat_gguf.py CHECKPOINT.pt TOKENIZER.model OUT.gguf [--type q8_0|f16|f32]

2-D weights get the chosen type (q8_0 by default), norms stay f32.
output.weight is written explicitly (a copy of token_embd: the model ties them).
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import gguf  # noqa: E402
import spm_to_gguf  # noqa: E402

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
FILE_TYPE = {"f32": 0, "f16": 1, "q8_0": 7}


def export(model, tok, path, qtype="q8_0", log=print, template=CHATML, tools=None, description=None, license=None):
    """tools: the OpenAI-style tool list the model was trained to call, stored
    as the JSON string key atento.tools (TOOLS-CONTRACT.md); template: the
    chat template (tokenizer.chat_template)."""
    c = model.c
    hd = c["dim"] // c["n_heads"]
    w = gguf.GGUFWriter()
    w.add("general.architecture", "llama")
    w.add("general.name", "atento tutor en-es")
    w.add("general.description", description or ("Small English/Spanish tutor chat model trained by atento on "
          "conversations built from Tatoeba (tatoeba.org, www.manythings.org/anki; CC BY 2.0)."))
    w.add("general.license", license or "CC-BY-2.0 (training data attribution: tatoeba.org and www.manythings.org/anki)")
    w.add("general.file_type", FILE_TYPE[qtype])
    w.add("general.quantization_version", 2)
    w.add("llama.context_length", int(c["context_length"]))
    w.add("llama.embedding_length", c["dim"])
    w.add("llama.block_count", c["n_layers"])
    w.add("llama.feed_forward_length", c["ffn"])
    w.add("llama.attention.head_count", c["n_heads"])
    w.add("llama.attention.head_count_kv", c["n_kv_heads"])
    w.add("llama.attention.layer_norm_rms_epsilon", float(c["norm_eps"]))
    w.add("llama.rope.freq_base", float(c["rope_base"]))
    w.add("llama.rope.dimension_count", hd)
    w.add("llama.vocab_size", c["vocab"])
    info = spm_to_gguf.parse_model(open(tok.path, "rb").read())
    keys = spm_to_gguf.gguf_keys(info, add_bos=False, add_eos=False)
    out = []
    for k, v, t in keys:
        if k == "tokenizer.ggml.token_type":
            v = list(v)
            v[tok.im_start] = spm_to_gguf.CONTROL  # special tokens: matched only with parse_special
            v[tok.im_end] = spm_to_gguf.CONTROL
        if k == "tokenizer.ggml.eos_token_id":
            v = tok.im_end  # generation ends at <|im_end|>
        out.append((k, v, t))
    if not any(k == "tokenizer.ggml.eos_token_id" for k, _, _ in out):
        out.append(("tokenizer.ggml.eos_token_id", tok.im_end, gguf.UINT32))
    spm_to_gguf.add_to_writer(w, out)
    w.add("tokenizer.ggml.eot_token_id", tok.im_end)
    w.add("tokenizer.chat_template", template)
    if tools is not None:
        w.add("atento.tools", json.dumps(tools, ensure_ascii=False, separators=(",", ":")))
    tensors = model.gguf_tensors()
    for name, a in tensors.items():
        w.add_tensor(name, a.astype(np.float32), qtype if a.ndim == 2 else "f32")
    w.write(path)
    log("wrote %s (%d bytes, %d tensors, %s)" % (path, os.path.getsize(path), len(tensors), qtype))


def read_back(path):
    r = gguf.GGUFReader(path)
    return {name: r.tensor(name) for name in r.tensors}


def main():
    import torch
    import chat
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("tokenizer")
    ap.add_argument("out")
    ap.add_argument("--type", default="q8_0", choices=list(FILE_TYPE))
    a = ap.parse_args()
    ck = torch.load(a.checkpoint, map_location="cpu")
    m = chat.Llama(ck["config"])
    if "state_dict" in ck:
        m.load_state_dict(ck["state_dict"])
    export(m, chat.Tok(a.tokenizer), a.out, a.type)


if __name__ == "__main__":
    main()
