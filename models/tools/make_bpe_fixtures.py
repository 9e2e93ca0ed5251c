#!/usr/bin/env python3
"""make_bpe_fixtures.py — byte-level BPE ("gpt2") tokenizer fixtures for the C tests.

1. Trains a small byte-level BPE merge table (1500 merges) on the Tatoeba
   English-Spanish sentences, in plain Python (below).
2. Writes it as four vocabulary-only GGUFs that differ only in
   `tokenizer.ggml.pre`: gpt2, llama-bpe (Llama 3), qwen2, smollm.
3. Encodes a seeded sample of sentences plus edge cases with the independent
   JavaScript reference (bpe_reference.mjs: real regular expressions, the
   textbook merge loop) and writes the ids:

   tests/data/tokenizer/bpe_{gpt2,llama3,qwen2,smollm}.gguf
   tests/data/tokenizer/bpe.ref.tsv   "ids_gpt2<TAB>ids_llama3<TAB>ids_qwen2<TAB>ids_smollm<TAB>text"
                                      (text escaped: \\n \\r \\t \\\\)

The sentences come from Tatoeba (https://tatoeba.org) via
https://www.manythings.org/anki, CC BY 2.0.

    /usr/bin/python3 models/tools/make_bpe_fixtures.py
"""
import argparse
import collections
import heapq
import json
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf  # noqa: E402
from make_tokenizer_fixtures import fuzz_lines  # noqa: E402  (the same awkward-fragment strings)

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
PRES = [("gpt2", "gpt2"), ("llama3", "llama-bpe"), ("qwen2", "qwen2"), ("smollm", "smollm")]

EDGE = [
    "", " ", "a", "Hello world", "  two leading spaces", "trailing   ", "inner    spaces here",
    "line one\nline two", "windows\r\nline", "blank lines\n\n\nthen text", "  \n  indented\n",
    "tab\tand\t\ttabs", "I'M SHOUTING, YOU'RE NOT. WE'VE HE'LL SHE'D IT'S", "don't can't won't",
    "numbers 1 12 123 1234 12345 1234567890", "a1b22c333d4444", "3.14159 and 2,718",
    "٣٤٥ Arabic-Indic digits, ²³ superscripts, ½ fractions", "emoji 😀👍🏽 🎉 and ❤️",
    "中文字符 日本語のテキスト 한국어", "Ñandú pingüino ¿qué? ¡sí! acción", "Ελληνικά Русский עברית العربية",
    "punctuation!!! ...??? --- ((( )))", "mixed\u00a0nbsp\u2003em space\u3000ideographic",
    "zero\u200bwidth\u200djoiner", "combining e\u0301 a\u0308", "\u0085next line char", "x" * 200,
    "word " * 60, "'s 't 're 've 'm 'll 'd 'S 'T 'RE", "under_score snake_case_name", "   \t\n",
    "end with newline\n", "\n", "email@example.com https://x.y/z?q=1&r=2", "$100 €50 £3 ¥7",
    "control\x01\x02\x7f chars", "<|im_start|>user\nhi<|im_end|>",
]


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# An approximation of GPT-2's expression with Python's re (no \p{..}): good
# enough to collect training words; the tests use the exact expressions.
TRAIN_RE = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+")


def train(lines, n_merges):
    b2u = bytes_to_unicode()
    counts = collections.Counter()
    for line in lines:
        for w in TRAIN_RE.findall(line):
            counts["".join(b2u[b] for b in w.encode("utf-8"))] += 1
    words = [list(w) for w in counts]
    freq = [counts[w] for w in counts]
    pair_count = collections.defaultdict(int)
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += freq[i]
            where[(a, b)].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges = []
    while heap and len(merges) < n_merges:
        negc, p = heapq.heappop(heap)
        if pair_count.get(p, 0) != -negc or -negc < 2:
            continue
        merges.append(p)
        changed = {}
        for i in list(where[p]):
            w = words[i]
            for a, b in zip(w, w[1:]):
                pair_count[(a, b)] -= freq[i]
                changed[(a, b)] = 1
            nw, k = [], 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == p[0] and w[k + 1] == p[1]:
                    nw.append(p[0] + p[1])
                    k += 2
                else:
                    nw.append(w[k])
                    k += 1
            words[i] = nw
            for a, b in zip(nw, nw[1:]):
                pair_count[(a, b)] += freq[i]
                where[(a, b)].add(i)
                changed[(a, b)] = 1
        for q in changed:
            if pair_count[q] > 0:
                heapq.heappush(heap, (-pair_count[q], q))
    base = [b2u[b] for b in range(256)]
    tokens = base + [a + b for a, b in merges]
    return tokens, [a + " " + b for a, b in merges]


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "../../../shared/data/tatoeba-en-es/en-es.tsv"))
    ap.add_argument("--out", default=os.path.join(HERE, "../../tests/data/tokenizer"))
    ap.add_argument("--merges", type=int, default=1500)
    ap.add_argument("--n", type=int, default=750, help="test sentences per language")
    ap.add_argument("--seed", type=int, default=4321)
    a = ap.parse_args()
    en, es = [], []
    with open(a.data, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                en.append(parts[0])
                es.append(parts[1])
    en, es = sorted(set(en)), sorted(set(es))
    tokens, merges = train(en + es, a.merges)
    tokens += SPECIALS
    types = [1] * (len(tokens) - len(SPECIALS)) + [3] * len(SPECIALS)
    eot = tokens.index("<|endoftext|>")
    for name, pre in PRES:
        w = gguf.GGUFWriter()
        w.add("general.architecture", "tokenizer")
        w.add("general.name", "bpe_" + name)
        w.add("general.license", "CC-BY-2.0 (merges trained on Tatoeba sentences, tatoeba.org via manythings.org/anki)")
        w.add("tokenizer.ggml.model", "gpt2")
        w.add("tokenizer.ggml.pre", pre)
        w.add("tokenizer.ggml.tokens", tokens, gguf.ARRAY, gguf.STRING)
        w.add("tokenizer.ggml.token_type", types, gguf.ARRAY, gguf.INT32)
        w.add("tokenizer.ggml.merges", merges, gguf.ARRAY, gguf.STRING)
        w.add("tokenizer.ggml.bos_token_id", eot, gguf.UINT32)
        w.add("tokenizer.ggml.eos_token_id", eot, gguf.UINT32)
        w.add("tokenizer.ggml.add_bos_token", False)
        w.write(os.path.join(a.out, "bpe_%s.gguf" % name))
    rng = random.Random(a.seed)
    lines = rng.sample(en, a.n) + rng.sample(es, a.n) + EDGE
    lines += fuzz_lines(500, a.seed, ["\n", "\r\n", "\n\n", " \n", "<|im_end|>"])
    with tempfile.TemporaryDirectory() as tmp:
        vp, lp = os.path.join(tmp, "vocab.json"), os.path.join(tmp, "lines.json")
        json.dump({"tokens": tokens, "merges": merges}, open(vp, "w"))
        json.dump(lines, open(lp, "w"))
        ref = json.loads(subprocess.run(["node", os.path.join(HERE, "bpe_reference.mjs"), vp, lp],
                                        check=True, stdout=subprocess.PIPE).stdout)
    path = os.path.join(a.out, "bpe.ref.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Sentences from Tatoeba (https://tatoeba.org), via https://www.manythings.org/anki, CC BY 2.0.\n")
        f.write("# ids_gpt2<TAB>ids_llama3<TAB>ids_qwen2<TAB>ids_smollm<TAB>escaped text; "
                "ids from models/tools/bpe_reference.mjs\n")
        for k, text in enumerate(lines):
            cols = [" ".join(map(str, ref[name][k])) for name, _ in PRES]
            f.write("\t".join(cols) + "\t" + escape(text) + "\n")
    print("%d tokens, %d merges; %s: %d lines" % (len(tokens), len(merges), path, len(lines)))


if __name__ == "__main__":
    main()
