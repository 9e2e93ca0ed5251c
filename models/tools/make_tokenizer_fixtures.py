#!/usr/bin/env python3
"""make_tokenizer_fixtures.py — SentencePiece tokenizer fixtures for the C tests.

Trains two small SentencePiece models on the Tatoeba English-Spanish
sentences with Debian's spm_train, converts each to a vocabulary-only GGUF
(spm_to_gguf.py), and records spm_encode's ids for a seeded sample of
English and Spanish sentences, hand-written edge cases and 500 random
strings of awkward fragments:

  tests/data/tokenizer/spm_bpe.gguf       BPE, vocab 2000, byte fallback,
                                          identity normalization (as Llama 2)
  tests/data/tokenizer/spm_bpe.ref.tsv
  tests/data/tokenizer/spm_unigram.gguf   unigram, vocab 8000, nmt_nfkc (SentencePiece defaults)
  tests/data/tokenizer/spm_unigram.ref.tsv

Reference lines are "id id id<TAB>text" (text last: it may hold tabs).
The sentences come from Tatoeba (https://tatoeba.org) via
https://www.manythings.org/anki, CC BY 2.0 — this attribution is written into
each reference file.

    /usr/bin/python3 models/tools/make_tokenizer_fixtures.py \
        [--data ../shared/data/tatoeba-en-es/en-es.tsv] [--out tests/data/tokenizer]
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gguf  # noqa: E402
import spm_to_gguf  # noqa: E402

ATTRIBUTION = ("# Sentences from Tatoeba (https://tatoeba.org), via https://www.manythings.org/anki, "
               "CC BY 2.0. Ids from Debian's spm_encode %s.")

# Edge cases: whitespace runs, tabs, leading/trailing spaces, characters
# outside the vocabulary (byte fallback / unknown), NFKC-affected forms.
EDGE = [
    "", " ", "   ", "a", "  leading spaces", "trailing spaces   ", "many    inner     spaces",
    "tab\tseparated\twords", "\tleading tab", "emoji 😀 🎉 ❤️ done", "ﬁ ligature and ＡＢＣ fullwidth ｶﾀｶﾅ",
    "中文字符和日本語のテキスト", "Ångström café naïve façade jalapeño", "numbers 1234567 and 3.14159",
    "Ω≈ç√∫˜µ≤≥÷", "ÀÉÎÕÜ àéîõü ñÑ ¿Qué? ¡Sí!", "don't won't it's I'm you're we've they'll he'd",
    "UPPER lower MiXeD", "a\u00a0non-breaking space", "zero\u200bwidth space", "combining e\u0301 accent",
    "line with ... ellipsis … and — dashes", "“quotes” ‘single’ «guillemets»", "x" * 300,
    "the " * 100, "control \x01\x02 chars", "①②③ circled ⅷ roman", "㍻ ㌀ compatibility", "Ǆ ǅ ǆ digraphs",
    "Hello<s>world</s>", "<unk> literal", "▁ already a space symbol ▁▁", "mixed\u3000ideographic space",
]


# Random strings of awkward fragments (seeded), to probe the edges.
FRAGMENTS = ["a", "b", "the", "Tom", " ", "  ", "   ", "\t", "\u00e9", "\u00f1", "e\u0301", "\u4e2d",
             "\U0001F600", "\U0001F44D\U0001F3FD", "'s", "'LL", "1", "123", "4567", "<s>", "</s>",
             "<unk>", "\u2581", "\u00a0", "\u3000", "\uff21", "!", "...", "?", "\u200b", "\u0085", "\x01",
             "_", "-", "\u0663", "\ufb01", "Stra\u00dfe", "\u03a9", "\U0001D11E", "\u2460", "\u00bd"]


def fuzz_lines(n, seed, extra=()):
    rng = random.Random(seed)
    frags = FRAGMENTS + list(extra)
    return ["".join(rng.choice(frags) for _ in range(rng.randint(1, 20))) for _ in range(n)]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def sample_lines(tsv, n_each, seed):
    en, es = [], []
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                en.append(parts[0])
                es.append(parts[1])
    rng = random.Random(seed)
    en = sorted(set(en))
    es = sorted(set(es))
    return rng.sample(en, n_each) + rng.sample(es, n_each), en, es


def encode(model, lines):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    out = run(["spm_encode", "--model=" + model, "--output_format=id", "--input=" + path],
              stdout=subprocess.PIPE).stdout.decode("utf-8").split("\n")
    os.unlink(path)
    assert len(out) >= len(lines), (len(out), len(lines))
    return out[:len(lines)]


def write_fixture(model, out_gguf, out_ref, lines, add_bos):
    info = spm_to_gguf.parse_model(open(model, "rb").read())
    w = gguf.GGUFWriter()
    w.add("general.architecture", "tokenizer")
    w.add("general.name", os.path.basename(out_gguf))
    w.add("general.license", "CC-BY-2.0 (trained on Tatoeba sentences, tatoeba.org via manythings.org/anki)")
    spm_to_gguf.add_to_writer(w, spm_to_gguf.gguf_keys(info, add_bos=add_bos, add_eos=False))
    w.write(out_gguf)
    ids = encode(model, lines)
    with open(out_ref, "w", encoding="utf-8") as f:
        f.write(ATTRIBUTION % ("(" + info["model_type"] + " model " + os.path.basename(out_gguf) + ")") + "\n")
        for text, line in zip(lines, ids):
            assert "\n" not in text
            f.write(line.strip() + "\t" + text + "\n")
    print("%s: %d bytes; %s: %d lines" % (out_gguf, os.path.getsize(out_gguf), out_ref, len(lines)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "../../../shared/data/tatoeba-en-es/en-es.tsv"))
    ap.add_argument("--out", default=os.path.join(HERE, "../../tests/data/tokenizer"))
    ap.add_argument("--n", type=int, default=1500, help="sentences per language")
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lines, en, es = sample_lines(a.data, a.n, a.seed)
    lines += EDGE + fuzz_lines(500, a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(en + es) + "\n")
        common = ["--input=" + corpus, "--num_threads=1", "--input_sentence_size=120000",
                  "--shuffle_input_sentence=true", "--seed_sentencepiece_size=100000",
                  "--random_seed=1234"]
        # BPE as Llama 2's tokenizer is configured: identity normalization,
        # no whitespace cleanup, byte fallback, split digits.
        bpe = os.path.join(tmp, "bpe")
        run(["spm_train", "--model_prefix=" + bpe, "--model_type=bpe", "--vocab_size=2000",
             "--byte_fallback=true", "--normalization_rule_name=identity",
             "--remove_extra_whitespaces=false", "--split_digits=true"] + common,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        write_fixture(bpe + ".model", os.path.join(a.out, "spm_bpe.gguf"),
                      os.path.join(a.out, "spm_bpe.ref.tsv"), lines, add_bos=True)
        # Unigram with SentencePiece's defaults (nmt_nfkc, whitespace cleanup).
        uni = os.path.join(tmp, "unigram")
        run(["spm_train", "--model_prefix=" + uni, "--model_type=unigram", "--vocab_size=8000"] + common,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        write_fixture(uni + ".model", os.path.join(a.out, "spm_unigram.gguf"),
                      os.path.join(a.out, "spm_unigram.ref.tsv"), lines, add_bos=False)


if __name__ == "__main__":
    main()
