"""Trains the English/Spanish language detector of src/langid.c and writes
its table, src/langid_data.c.

    python3 models/train/langid.py [--data en-es.tsv] [--out src/langid_data.c]

The detector is a naive Bayes classifier over hashed character n-grams
(n = 1..4, over the UTF-8 bytes of the lower-cased text with runs of
whitespace folded to one space and a space at either end). For two classes
naive Bayes is a sum: each n-gram adds log P(g | en) / P(g | es), so one
table of log-ratios (2^14 buckets, add-half smoothing, x16, rounded and
clipped to int8) holds the whole model; a positive sum means English.

Data: the Tatoeba English-Spanish pairs (CC BY 2.0, tatoeba.org,
www.manythings.org/anki), split by models/train/common.load_split (by
English sentence, seed 20261123). Only the TRAINING side is used, and any sentence that also
occurs in the dev or test split, on either side, is left out. The script
prints the accuracy on the test split (models/train/split/test.tsv), which
tests/c/test_langid.c checks again through the C code.
Standard library and common.py; deterministic (same data, same table).
"""
import argparse
import math
import os

from common import REPO, load_split
MAX_N = 4          # longest n-gram, in bytes
BITS = 14          # 2^BITS buckets
SCALE = 16         # table entry = round(SCALE * log-ratio), clipped to int8


def normalize(s):
    """Lower-case ASCII and the Latin-1 capitals (UTF-8 C3 80..9E, not the
    multiplication sign), fold whitespace runs to one space, pad with spaces.
    src/langid.c does exactly the same."""
    b = s.encode("utf-8")
    out = bytearray(b" ")
    space = True
    i = 0
    while i < len(b):
        c = b[i]
        if c in b" \t\r\n\x0b\x0c":
            if not space:
                out.append(32)
                space = True
            i += 1
            continue
        space = False
        if 65 <= c <= 90:
            out.append(c + 32)
            i += 1
        elif c == 0xC3 and i + 1 < len(b) and 0x80 <= b[i + 1] <= 0x9E and b[i + 1] != 0x97:
            out += bytes([c, b[i + 1] + 0x20])
            i += 2
        else:
            out.append(c)
            i += 1
    if not space:
        out.append(32)
    return bytes(out)


def grams(b):
    """FNV-1a hashes (seeded with the length) of every n-gram, n = 1..MAX_N; the lone space is skipped."""
    for n in range(1, MAX_N + 1):
        for i in range(len(b) - n + 1):
            if n == 1 and b[i] == 32:
                continue
            h = 2166136261 ^ n
            for x in b[i:i + n]:
                h = ((h ^ x) * 16777619) & 0xFFFFFFFF
            yield h & ((1 << BITS) - 1)


def train(split):
    held_en = {en for n in ("test", "dev") for en, _ in split[n]}
    held_es = {es for n in ("test", "dev") for _, es in split[n]}
    held = held_en | held_es
    en = sorted({en for en, _ in split["train"] if en not in held})
    es = sorted({es for _, es in split["train"] if es not in held})
    M = 1 << BITS
    counts = [[0] * M, [0] * M]
    for k, sents in enumerate((en, es)):
        c = counts[k]
        for s in sents:
            for h in grams(normalize(s)):
                c[h] += 1
    tot = [sum(c) for c in counts]
    table = []
    for i in range(M):
        pe = (counts[0][i] + 0.5) / (tot[0] + 0.5 * M)
        ps = (counts[1][i] + 0.5) / (tot[1] + 0.5 * M)
        table.append(max(-127, min(127, round(SCALE * math.log(pe / ps)))))
    return table, len(en), len(es)


def accuracy(table, split, min_words):
    ok = n = 0
    for en, es in split["test"]:
        for lang, s in (("en", en), ("es", es)):
            if len(s.split()) < min_words:
                continue
            score = sum(table[h] for h in grams(normalize(s)))
            n += 1
            ok += ("en" if score > 0 else "es") == lang
    return ok, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "tatoeba-en-es", "en-es.tsv"))
    ap.add_argument("--out", default=os.path.join(REPO, "src", "langid_data.c"))
    a = ap.parse_args()
    split = load_split(a.data)
    table, n_en, n_es = train(split)
    for w in (1, 4):
        ok, n = accuracy(table, split, w)
        print(f"test split, sentences of {w}+ words: {ok}/{n} = {100 * ok / n:.2f}%")
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("/* langid_data.c — the table of src/langid.c, written by models/train/langid.py\n")
        f.write(f" * (do not edit): round({SCALE} * log(P(g|en) / P(g|es))) for 2^{BITS} hashed\n")
        f.write(f" * character n-grams (n = 1..{MAX_N}), trained on {n_en} English and {n_es} Spanish\n")
        f.write(" * sentences of the training split of the Tatoeba en-es pairs (CC BY 2.0,\n")
        f.write(" * tatoeba.org, www.manythings.org/anki); no dev or test sentence. */\n")
        f.write("#include <stdint.h>\n\n")
        f.write(f"const int8_t atn_langid_table[{1 << BITS}] = {{\n")
        for i in range(0, len(table), 24):
            f.write("    " + ",".join(str(v) for v in table[i:i + 24]) + ",\n")
        f.write("};\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
