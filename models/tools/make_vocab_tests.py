#!/usr/bin/env python3
"""make_vocab_tests.py — writes tests/data/vocab/: tokenizer vocabularies with
Hugging Face reference ids, small enough to commit.

    /usr/bin/python3 models/tools/make_vocab_tests.py OUTDIR [--stress S.inp] SRC...

SRC is either
  DIR/ggml-vocab-NAME.gguf[:S.out]
                               a vocabulary from llama.cpp's repository, with
                               its NAME.gguf.inp / .gguf.out beside it
  NAME=TOKENIZER.json:PRE:INP:OUT[:S.out]
                               a Hugging Face tokenizer.json, turned into GGUF
                               keys the way llama.cpp's convert_hf_to_gguf.py
                               does (added special tokens: control, other added
                               tokens: user-defined, missing ids: unused
                               "[PADi]"), tokenizer.ggml.pre = PRE; INP / OUT are
                               the inputs and the reference ids
                               (models/tools/hf_reference.cjs writes those).
With --stress, S.inp (more inputs, in the same format) is copied to
OUTDIR/stress.inp and each SRC's S.out to OUTDIR/NAME.stress.out; the
vocabulary is then cut to what both input sets reach.

Each vocabulary is cut down to what the inputs can reach: a piece is kept if
it is special (control, user-defined, unknown, byte) or if its text occurs in
one of the inputs as the tokenizer sees them (byte-level BPE: the bytes in
GPT-2's stand-in characters; SentencePiece: spaces as U+2581, with the dummy
prefix); a merge is kept if its result is kept. Any pre-token is a piece of
the input, and every symbol BPE builds is a piece of a pre-token, so on these
inputs the cut vocabulary gives exactly the ids of the whole one, whatever the
pre-tokenizer. Kept pieces keep their order; `atento.test.vocab_ids` (uint32
array) holds each one's id in the whole vocabulary, which the tests map the
ids back through before comparing with the .out file.
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf  # noqa: E402
from make_bpe_fixtures import bytes_to_unicode  # noqa: E402  GPT-2's byte -> character map

SEP = "\n__ggml_vocab_test__\n"
SPECIAL_TYPES = (2, 3, 4, 6)   # unknown, control, user-defined, byte


def read_inputs(path):
    raw = open(path, "rb").read().decode("utf-8")
    parts, pos = [], 0
    while pos < len(raw):
        n = raw.find(SEP, pos)
        if n < 0:
            parts.append(raw[pos:])
            break
        parts.append(raw[pos:n])
        pos = n + len(SEP)
    return parts


def haystack(model, inputs):
    if model == "gpt2":
        m = bytes_to_unicode()
        return "\0".join("".join(m[b] for b in s.encode("utf-8")) for s in inputs)
    if model == "llama":
        return "\0".join("\u2581" + s.replace(" ", "\u2581") for s in inputs)
    return "\0".join(inputs + [s.lower() for s in inputs])


def as_str(x):
    return x if isinstance(x, str) else x.decode("utf-8", "replace")


def compact(kv, inputs):
    """kv: dict of tokenizer.ggml.* values (+ general.architecture). Returns a GGUFWriter."""
    model = kv["tokenizer.ggml.model"]
    tokens = [as_str(t) for t in kv["tokenizer.ggml.tokens"]]
    n = len(tokens)
    types = list(kv.get("tokenizer.ggml.token_type", [1] * n))
    scores = kv.get("tokenizer.ggml.scores")
    hay = haystack(model, inputs)
    keep = [int(types[i]) in SPECIAL_TYPES or (len(tokens[i]) > 0 and tokens[i] in hay) for i in range(n)]
    for k in ("bos", "eos", "unknown", "padding", "eot", "eom"):
        v = kv.get("tokenizer.ggml.%s_token_id" % k)
        if v is not None and 0 <= int(v) < n:
            keep[int(v)] = True
    ids = [i for i in range(n) if keep[i]]
    new_id = {old: new for new, old in enumerate(ids)}
    w = gguf.GGUFWriter()
    w.add("general.architecture", kv.get("general.architecture", "llama"))
    w.add("tokenizer.ggml.model", model)
    if "tokenizer.ggml.pre" in kv:
        w.add("tokenizer.ggml.pre", kv["tokenizer.ggml.pre"])
    w.add("tokenizer.ggml.tokens", [tokens[i] for i in ids], gguf.STRING)
    if scores is not None:
        w.add("tokenizer.ggml.scores", np.asarray([scores[i] for i in ids], dtype=np.float32))
    w.add("tokenizer.ggml.token_type", np.asarray([int(types[i]) for i in ids], dtype=np.int32))
    if "tokenizer.ggml.merges" in kv:
        kept = set(tokens[i] for i in ids)
        merges = []
        for m in kv["tokenizer.ggml.merges"]:
            m = as_str(m)
            sp = m.find(" ", 1)
            if sp > 0 and m[:sp] + m[sp + 1:] in kept:
                merges.append(m)
        w.add("tokenizer.ggml.merges", merges, gguf.STRING)
    for k in ("bos", "eos", "unknown", "padding", "eot", "eom"):
        v = kv.get("tokenizer.ggml.%s_token_id" % k)
        if v is not None and int(v) in new_id:
            w.add("tokenizer.ggml.%s_token_id" % k, new_id[int(v)], gguf.UINT32)
    for k in ("add_bos_token", "add_eos_token", "add_space_prefix", "remove_extra_whitespaces"):
        if "tokenizer.ggml." + k in kv:
            w.add("tokenizer.ggml." + k, bool(kv["tokenizer.ggml." + k]), gguf.BOOL)
    if "tokenizer.ggml.precompiled_charsmap" in kv:
        w.add("tokenizer.ggml.precompiled_charsmap", np.asarray(kv["tokenizer.ggml.precompiled_charsmap"], dtype=np.uint8))
    w.add("atento.test.vocab_ids", np.asarray(ids, dtype=np.uint32))
    return w, len(ids), n


def from_tokenizer_json(path, pre):
    """GGUF tokenizer keys from a tokenizer.json, as llama.cpp's converter makes them (byte-level BPE)."""
    j = json.load(open(path, encoding="utf-8"))
    vocab = dict(j["model"]["vocab"])
    added = {t["id"]: t for t in j.get("added_tokens", [])}
    for i, t in added.items():
        vocab[t["content"]] = i
    size = max(vocab.values()) + 1
    rev = {i: t for t, i in vocab.items()}
    tokens, types = [], []
    for i in range(size):
        if i not in rev:
            tokens.append("[PAD%d]" % i)
            types.append(5)
        elif i in added:
            tokens.append(rev[i])
            types.append(3 if added[i].get("special") else 4)
        else:
            tokens.append(rev[i])
            types.append(1)
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    kv = {
        "general.architecture": "llama",
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": pre,
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": types,
        "tokenizer.ggml.merges": merges,
    }
    return kv


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    out = sys.argv[1]
    args = sys.argv[2:]
    stress = None
    if args[:1] == ["--stress"]:
        stress, args = args[1], args[2:]
    os.makedirs(out, exist_ok=True)
    if stress:
        shutil.copyfile(stress, os.path.join(out, "stress.inp"))
    for src in args:
        stress_out = None
        if "=" in src:
            name, rest = src.split("=", 1)
            parts = rest.split(":")
            tj, pre, inp, ref = parts[:4]
            stress_out = parts[4] if len(parts) > 4 else None
            kv = from_tokenizer_json(tj, pre)
        else:
            path, _, stress_out = src.partition(":")
            name = os.path.basename(path)[len("ggml-vocab-"):-len(".gguf")]
            r = gguf.GGUFReader(path)
            kv = {k: v for k, v in r.kv.items() if k.startswith("tokenizer.ggml.") or k == "general.architecture"}
            inp, ref = path + ".inp", path + ".out"
        inputs = read_inputs(inp)
        dst = os.path.join(out, name)
        if stress and stress_out:
            inputs += read_inputs(stress)
            shutil.copyfile(stress_out, dst + ".stress.out")
        w, kept, total = compact(kv, inputs)
        w.write(dst + ".gguf")
        shutil.copyfile(inp, dst + ".inp")
        shutil.copyfile(ref, dst + ".out")
        print("%-16s %6d of %6d pieces, %7d bytes" % (name, kept, total, os.path.getsize(dst + ".gguf")))


if __name__ == "__main__":
    main()
