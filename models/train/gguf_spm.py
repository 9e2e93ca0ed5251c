#!/usr/bin/env python3
"""Rebuild a SentencePiece BPE model (.model, protobuf) from a GGUF's
tokenizer.ggml.* keys, so a shipped model can be fine-tuned with the exact
token ids it was trained with (the tutor's original tokenizer.model is not in
the repository; its pieces, scores and types are all in the GGUF).

    /usr/bin/python3 models/train/gguf_spm.py models/tutor-en-es.gguf OUT.model

Only what SentencePiece's BPE encoder reads is written: the pieces (text,
score, type), the trainer spec (BPE, byte fallback, special ids, digits split,
whitespace-only pieces) and the normalizer spec (identity, no dummy prefix, no
whitespace folding, whitespace escaped as U+2581). <|im_start|> and <|im_end|>
are written back as user-defined pieces (as trained; the GGUF marks them
control so the runtime matches them only with parse_special).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import gguf  # noqa: E402

USER_DEFINED = 4


def _varint(v):
    if v < 0:
        v += 1 << 64
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _bytes_field(field, b):
    return _key(field, 2) + _varint(len(b)) + b


def _int_field(field, v):
    return _key(field, 0) + _varint(int(v))


def model_proto(tokens, scores, types, specials=("<|im_start|>", "<|im_end|>")):
    out = bytearray()
    for piece, score, ptype in zip(tokens, scores, types):
        if piece in specials:
            ptype = USER_DEFINED
        p = _bytes_field(1, piece.encode("utf-8")) + _key(2, 5) + struct.pack("<f", float(score)) + _int_field(3, ptype)
        out += _bytes_field(1, p)
    trainer = (_int_field(3, 2) + _int_field(4, len(tokens)) + _int_field(25, 1) + _int_field(26, 1)
               + _int_field(35, 1) + _int_field(40, 0) + _int_field(41, 1) + _int_field(42, 2) + _int_field(43, -1))
    out += _bytes_field(2, trainer)
    normalizer = (_bytes_field(1, b"identity") + _int_field(3, 0) + _int_field(4, 0) + _int_field(5, 1))
    out += _bytes_field(3, normalizer)
    return bytes(out)


def convert(gguf_path, out_path):
    r = gguf.GGUFReader(gguf_path)
    kv = r.kv
    assert kv["tokenizer.ggml.model"] == "llama", kv["tokenizer.ggml.model"]
    assert not kv.get("tokenizer.ggml.add_space_prefix", True), "expected no dummy prefix"
    data = model_proto(list(kv["tokenizer.ggml.tokens"]), list(kv["tokenizer.ggml.scores"]),
                       [int(t) for t in kv["tokenizer.ggml.token_type"]])
    with open(out_path, "wb") as f:
        f.write(data)
    return out_path


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: gguf_spm.py MODEL.gguf OUT.model")
    convert(sys.argv[1], sys.argv[2])
