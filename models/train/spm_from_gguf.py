#!/usr/bin/env python3
"""spm_from_gguf.py — rebuild the SentencePiece model file of a Marian GGUF.

    /usr/bin/python3 models/train/spm_from_gguf.py MODEL.gguf TEMPLATE.model OUT.model

Fine-tuning the shipped translation model needs its exact vocabulary, which the
GGUF holds (tokenizer.ggml.tokens / scores / token_type / precompiled_charsmap)
but not as a .model file. A SentencePiece model is a protobuf ModelProto:
field 1 = repeated SentencePiece {1: piece, 2: score (float), 3: type (enum,
the same numbering as GGUF's token_type)}, field 2 = TrainerSpec, field 3 =
NormalizerSpec {1: name, 2: precompiled_charsmap, ...}. This keeps TEMPLATE's
TrainerSpec and NormalizerSpec (any unigram model trained with the same options,
e.g. by translate.py's train_spm), replaces the charsmap by the GGUF's and the
pieces by the GGUF's, and checks that encoding round-trips through the result.
"""
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import gguf  # noqa: E402


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(buf, pos):
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def fields(buf):
    """Top-level (field number, wire type, raw value bytes incl. nothing else)."""
    pos, out = 0, []
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 0:
            start = pos
            _, pos = read_varint(buf, pos)
            out.append((num, wt, bytes(buf[start:pos])))
        elif wt == 1:
            out.append((num, wt, bytes(buf[pos:pos + 8])))
            pos += 8
        elif wt == 5:
            out.append((num, wt, bytes(buf[pos:pos + 4])))
            pos += 4
        elif wt == 2:
            n, pos = read_varint(buf, pos)
            out.append((num, wt, bytes(buf[pos:pos + n])))
            pos += n
        else:
            raise ValueError("unsupported wire type %d" % wt)
    return out


def emit(num, wt, raw):
    key = varint(num << 3 | wt)
    return key + (varint(len(raw)) + raw if wt == 2 else raw)


def main(model, template, out):
    r = gguf.GGUFReader(model)
    toks = r.kv["tokenizer.ggml.tokens"]
    scores = r.kv["tokenizer.ggml.scores"]
    types = r.kv["tokenizer.ggml.token_type"]
    charsmap = bytes(bytearray(r.kv["tokenizer.ggml.precompiled_charsmap"].astype("uint8")))
    tmpl = fields(Path(template).read_bytes())
    res = bytearray()
    for t, s, ty in zip(toks, scores, types):
        p = emit(1, 2, t.encode("utf-8")) + emit(2, 5, struct.pack("<f", float(s))) + emit(3, 0, varint(int(ty)))
        res += emit(1, 2, p)
    for num, wt, raw in tmpl:
        if num == 1:
            continue
        if num == 3:  # NormalizerSpec: the GGUF's charsmap
            raw = b"".join(emit(n, w, charsmap if n == 2 else v) for n, w, v in fields(raw))
        res += emit(num, wt, raw)
    Path(out).write_bytes(bytes(res))
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=out)
    assert sp.get_piece_size() == len(toks)
    assert all(sp.id_to_piece(i) == toks[i] for i in range(len(toks)))
    print("wrote %s: %d pieces" % (out, sp.get_piece_size()))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: spm_from_gguf.py MODEL.gguf TEMPLATE.model OUT.model")
    main(*sys.argv[1:])
