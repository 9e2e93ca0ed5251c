#!/usr/bin/env python3
"""spm_to_gguf.py — a SentencePiece .model file -> GGUF tokenizer metadata.

The .model file is a protobuf (sentencepiece_model.proto, ModelProto). It is
parsed here by hand (the protobuf wire format is small), so no protobuf
package is needed. The keys written are documented in docs/tokenizers.md.

As a library (the marian converter uses this):

    import sys; sys.path.insert(0, "models/tools")
    import spm_to_gguf, gguf
    info = spm_to_gguf.parse_model(open("source.spm", "rb").read())
    for key, value, vtype in spm_to_gguf.gguf_keys(info, prefix="tokenizer.ggml",
                                                   add_bos=False, add_eos=True):
        writer.add(key, value, vtype)

Command line (writes a vocabulary-only GGUF, no tensors):

    python3 models/tools/spm_to_gguf.py in.model out.gguf [--prefix P]
        [--add-bos | --no-add-bos] [--add-eos | --no-add-eos] [--vocab vocab.json]
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402

# SentencePiece piece types == GGUF token_type numbering.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


def _varint(buf, i):
    shift = 0
    v = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf):
    """Yield (field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            if len(v) != n:
                raise ValueError("truncated field %d" % fn)
            i += n
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield fn, wt, v


def _int32(v):  # negative int32 values are 64-bit two's complement varints
    return v - (1 << 64) if v >= 1 << 63 else v


def parse_model(data):
    """Parse a serialized ModelProto into a dict."""
    info = {
        "pieces": [], "model_type": "unigram", "byte_fallback": False,
        "unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1,
        "normalizer_name": "nmt_nfkc", "precompiled_charsmap": b"",
        "add_dummy_prefix": True, "remove_extra_whitespaces": True, "escape_whitespaces": True,
        "treat_whitespace_as_suffix": False,
    }
    for fn, wt, v in _fields(data):
        if fn == 1 and wt == 2:  # SentencePiece
            piece, score, ptype = "", 0.0, NORMAL
            for f2, w2, v2 in _fields(v):
                if f2 == 1 and w2 == 2:
                    piece = bytes(v2).decode("utf-8")
                elif f2 == 2 and w2 == 5:
                    score = struct.unpack("<f", v2)[0]
                elif f2 == 3 and w2 == 0:
                    ptype = v2
            info["pieces"].append((piece, score, ptype))
        elif fn == 2 and wt == 2:  # TrainerSpec
            for f2, w2, v2 in _fields(v):
                if w2 != 0:
                    continue
                if f2 == 3:
                    info["model_type"] = MODEL_TYPES.get(v2, str(v2))
                elif f2 == 35:
                    info["byte_fallback"] = bool(v2)
                elif f2 == 24:
                    info["treat_whitespace_as_suffix"] = bool(v2)
                elif f2 == 40:
                    info["unk_id"] = _int32(v2)
                elif f2 == 41:
                    info["bos_id"] = _int32(v2)
                elif f2 == 42:
                    info["eos_id"] = _int32(v2)
                elif f2 == 43:
                    info["pad_id"] = _int32(v2)
        elif fn == 3 and wt == 2:  # NormalizerSpec
            for f2, w2, v2 in _fields(v):
                if f2 == 1 and w2 == 2:
                    info["normalizer_name"] = bytes(v2).decode("utf-8")
                elif f2 == 2 and w2 == 2:
                    info["precompiled_charsmap"] = bytes(v2)
                elif f2 == 3 and w2 == 0:
                    info["add_dummy_prefix"] = bool(v2)
                elif f2 == 4 and w2 == 0:
                    info["remove_extra_whitespaces"] = bool(v2)
                elif f2 == 5 and w2 == 0:
                    info["escape_whitespaces"] = bool(v2)
    if not info["pieces"]:
        raise ValueError("no pieces: not a SentencePiece model")
    return info


def remap(info, vocab):
    """Pieces in the order of a model's own vocabulary (Marian's vocab.json:
    piece -> id), for models whose embedding ids are not the .spm ids.
    Pieces of the vocabulary that the .spm lacks become UNUSED (never produced
    by segmentation, as SentencePiece treats unused pieces); "<pad>" and the
    .spm's control pieces stay CONTROL. Returns (pieces, special ids)."""
    by_piece = {p[0]: p for p in info["pieces"]}
    n = max(vocab.values()) + 1
    pieces = [("<unused%d>" % i, 0.0, UNUSED) for i in range(n)]
    for piece, i in vocab.items():
        if piece in by_piece:
            pieces[i] = by_piece[piece]
        elif piece in ("<pad>", "<s>", "</s>"):
            pieces[i] = (piece, 0.0, CONTROL)
        elif piece == "<unk>":
            pieces[i] = (piece, 0.0, UNKNOWN)
        else:
            pieces[i] = (piece, 0.0, UNUSED)
    ids = {}
    for k, default in (("unk_id", "<unk>"), ("bos_id", "<s>"), ("eos_id", "</s>"), ("pad_id", "<pad>")):
        sid = info[k]
        name = info["pieces"][sid][0] if 0 <= sid < len(info["pieces"]) else default
        ids[k] = vocab.get(name, vocab.get(default, -1))
    return pieces, ids


def gguf_keys(info, prefix="tokenizer.ggml", add_bos=None, add_eos=None, vocab=None):
    """(key, value, gguf type) triples for a GGUFWriter.add(). With vocab
    (a dict piece -> id, e.g. Marian's vocab.json) the ids are the vocab's."""
    if info["model_type"] not in ("bpe", "unigram"):
        raise ValueError("unsupported SentencePiece model type " + info["model_type"])
    if info["treat_whitespace_as_suffix"]:
        raise ValueError("treat_whitespace_as_suffix is not supported")
    bpe = info["model_type"] == "bpe"
    if vocab is not None:
        pieces, ids = remap(info, vocab)
    else:
        pieces = info["pieces"]
        ids = {k: info[k] for k in ("unk_id", "bos_id", "eos_id", "pad_id")}
    n = len(pieces)
    out = [
        (prefix + ".model", "llama" if bpe else "unigram", gguf.STRING),
        (prefix + ".tokens", [p[0] for p in pieces], gguf.ARRAY),
        (prefix + ".scores", [float(p[1]) for p in pieces], gguf.ARRAY),
        (prefix + ".token_type", [int(p[2]) for p in pieces], gguf.ARRAY),
    ]
    for name, k in (("bos_token_id", "bos_id"), ("eos_token_id", "eos_id"),
                    ("unknown_token_id", "unk_id"), ("padding_token_id", "pad_id")):
        if 0 <= ids[k] < n:
            out.append((prefix + "." + name, ids[k], gguf.UINT32))
    out.append((prefix + ".add_bos_token", bool(bpe if add_bos is None else add_bos), gguf.BOOL))
    out.append((prefix + ".add_eos_token", bool(False if add_eos is None else add_eos), gguf.BOOL))
    out.append((prefix + ".add_space_prefix", info["add_dummy_prefix"], gguf.BOOL))
    out.append((prefix + ".remove_extra_whitespaces", info["remove_extra_whitespaces"], gguf.BOOL))
    out.append((prefix + ".escape_whitespaces", info["escape_whitespaces"], gguf.BOOL))
    if info["precompiled_charsmap"]:
        out.append((prefix + ".precompiled_charsmap", list(info["precompiled_charsmap"]), gguf.ARRAY))
    return out


def add_to_writer(writer, keys):
    """Add gguf_keys() output to a gguf.GGUFWriter with explicit element types."""
    elem = {".tokens": gguf.STRING, ".scores": gguf.FLOAT32, ".token_type": gguf.INT32,
            ".precompiled_charsmap": gguf.UINT8}
    for key, value, vtype in keys:
        if vtype == gguf.ARRAY:
            et = next(t for suf, t in elem.items() if key.endswith(suf))
            writer.add(key, value, gguf.ARRAY, et)
        else:
            writer.add(key, value, vtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--prefix", default="tokenizer.ggml")
    ap.add_argument("--vocab", help="a JSON piece -> id map (Marian's vocab.json) giving the ids")
    ap.add_argument("--add-bos", dest="add_bos", action="store_true", default=None)
    ap.add_argument("--no-add-bos", dest="add_bos", action="store_false")
    ap.add_argument("--add-eos", dest="add_eos", action="store_true", default=None)
    ap.add_argument("--no-add-eos", dest="add_eos", action="store_false")
    a = ap.parse_args()
    with open(a.model, "rb") as f:
        info = parse_model(f.read())
    w = gguf.GGUFWriter()
    w.add("general.architecture", "tokenizer")
    w.add("general.name", os.path.basename(a.model))
    vocab = None
    if a.vocab:
        import json
        with open(a.vocab, encoding="utf-8") as f:
            vocab = json.load(f)
    add_to_writer(w, gguf_keys(info, a.prefix, a.add_bos, a.add_eos, vocab))
    w.write(a.out)
    print("%s: %s, %d pieces, normalizer %s, byte_fallback %s" % (
        a.out, info["model_type"], len(info["pieces"]), info["normalizer_name"], info["byte_fallback"]))


if __name__ == "__main__":
    main()
