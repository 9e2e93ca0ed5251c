#!/usr/bin/env python3
"""Score a fine-tuned translation model (atento finetune, docs/training.md):

  1. taught words: translate the held-out sentences of
     models/train/finetune/heldout-es-mx.tsv (none of them among the pairs)
     and count those whose output contains the taught word's stem;
  2. BLEU / chrF on the Tatoeba test split (models/train/logs/test.*.src/.ref,
     greedy, both directions: the decoder is shared by both), scored with
     minibleu.py (= sacrebleu 2.6.0's numbers).

    python3 models/train/eval_finetune.py --model out.gguf [--atento build/atento] [--limit N] [--no-bleu]

Runs the native CLI (or `node bin/atento.js` with --atento node); prints JSON.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import minibleu  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
# English words of the taught concepts: test lines containing them have Spain-Spanish
# references («coche», «ordenador», ...), which the taught model no longer says.
TAUGHT_EN = re.compile(r"\b(computers?|glasses|cars?|bus(es)?|pools?|apartments?|jackets?|blankets?)\b", re.I)


def translate(atento, model, to, lines):
    cmd = ["node", os.path.join(REPO, "bin", "atento.js")] if atento == "node" else [atento]
    p = subprocess.run(cmd + ["translate", "--model", model, "--to", to], input="\n".join(lines).encode("utf-8"),
                       capture_output=True, check=True)
    out = p.stdout.decode("utf-8").split("\n")
    return out[:len(lines)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--atento", default=os.path.join(REPO, "build", "atento"))
    ap.add_argument("--heldout", default=os.path.join(HERE, "finetune", "heldout-es-mx.tsv"))
    ap.add_argument("--limit", type=int, default=0, help="first N lines of the test split (0: all)")
    ap.add_argument("--no-bleu", action="store_true")
    a = ap.parse_args()
    rows = [l.rstrip("\n").split("\t") for l in open(a.heldout, encoding="utf-8") if l.strip() and not l.startswith("#")]
    hyps = translate(a.atento, a.model, "es", [r[0] for r in rows])
    per = {}
    for (src, stem), h in zip(rows, hyps):
        ok = stem.lower() in h.lower()
        per.setdefault(stem, [0, 0])
        per[stem][0] += ok
        per[stem][1] += 1
    hits = sum(v[0] for v in per.values())
    res = {"model": a.model, "taught_word_used": "%d/%d" % (hits, len(rows)), "taught_word_rate": hits / len(rows),
           "per_word": {k: "%d/%d" % tuple(v) for k, v in per.items()},
           "examples": [[r[0], h] for r, h in zip(rows[::5], hyps[::5])]}
    if not a.no_bleu:
        logs = os.path.join(HERE, "logs")
        for d, to in (("en-es", "es"), ("es-en", "en")):
            src = open(os.path.join(logs, "test.%s.src" % d), encoding="utf-8").read().rstrip("\n").split("\n")
            ref = open(os.path.join(logs, "test.%s.ref" % d), encoding="utf-8").read().rstrip("\n").split("\n")
            if a.limit:
                src, ref = src[:a.limit], ref[:a.limit]
            h = translate(a.atento, a.model, to, src)
            res["bleu_" + d] = round(minibleu.corpus_bleu(h, ref), 2)
            res["chrf_" + d] = round(minibleu.corpus_chrf(h, ref), 4)
            res["lines_" + d] = len(src)
            en = src if d == "en-es" else ref
            keep = [i for i, e in enumerate(en) if not TAUGHT_EN.search(e)]
            res["bleu_%s_without_taught_words" % d] = round(minibleu.corpus_bleu([h[i] for i in keep], [ref[i] for i in keep]), 2)
            res["lines_%s_without_taught_words" % d] = len(keep)
    print(json.dumps(res, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
