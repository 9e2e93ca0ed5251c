#!/usr/bin/env python3
"""eval_translate.py — score a translation GGUF as atento runs it, on the
held-out sets: Tatoeba test (BLEU/chrF), held-out dictionary entries (single
words and short phrases: accuracy, repeated-word outputs) and multi-sentence
paragraphs (chrF of a paragraph translated whole vs its sentences one by one).

    python3 models/train/eval_translate.py --model models/translate-en-es.gguf --out DIR \\
        [--atento build/atento] [--beams 1,4] [--sets tatoeba,dict,para] [-- EXTRA CLI FLAGS]

Translations come from `atento translate` (the native CLI by default, the
same C core as the WebAssembly build; `--atento "node bin/atento.js"` runs the
WASM), one line per input, each line a sentence or entry. Writes DIR/*.hyp and
DIR/scores.json. BLEU/chrF: sacrebleu if installed, else minibleu.py (same
numbers as sacrebleu 2.6.0 defaults).

Dictionary answers are correct when the normalized answer equals one of the
entry's normalized translations. Normalized: lower case, the punctuation
around and inside (¿?¡!.,;:"«») removed, whitespace collapsed, and a leading
article or infinitive marker dropped on both sides (el/la/los/las/un/una/
unos/unas; the/a/an/to), so "El gato." matches "gato" and "to run" matches
"run". A repeated-word output has the same word twice in a row ("biblioteca
biblioteca").
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import eval_atento  # noqa: E402

ARTICLES = {"el", "la", "los", "las", "un", "una", "unos", "unas", "the", "a", "an", "to"}
PUNCT = re.compile(r"[¿?¡!.,;:\"«»“”()]")


def norm(s):
    w = PUNCT.sub(" ", s.lower()).split()
    if len(w) > 1 and w[0] in ARTICLES:
        w = w[1:]
    return " ".join(w)


def repeated_word(s):
    w = PUNCT.sub(" ", s.lower()).split()
    return any(a == b for a, b in zip(w, w[1:]))


def translate(cmd, model, to, beam, lines, extra):
    argv = shlex.split(cmd) + ["translate", "--model", model, "--to", to, "--beam", str(beam)] + extra
    t0 = time.time()
    p = subprocess.run(argv, input=("\n".join(lines) + "\n").encode("utf-8"), capture_output=True, cwd=REPO)
    if p.returncode:
        sys.exit("translate failed: " + p.stderr.decode("utf-8", "replace"))
    out = p.stdout.decode("utf-8").split("\n")
    if out and out[-1] == "":
        out = out[:-1]
    assert len(out) == len(lines), (len(out), len(lines))
    return out, time.time() - t0


def read_lines(path):
    return open(path, encoding="utf-8").read().split("\n")[:-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(REPO, "models", "translate-en-es.gguf"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--atento", default=os.path.join(REPO, "build", "atento"))
    ap.add_argument("--beams", default="1,4")
    ap.add_argument("--sets", default="tatoeba,dict,para")
    ap.add_argument("--directions", default="en-es,es-en")
    ap.add_argument("extra", nargs="*", help="flags passed to atento translate (after --)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    scorer = eval_atento._scorer()
    path = os.path.join(args.out, "scores.json")
    res = json.load(open(path)) if os.path.exists(path) else {}
    res["model"] = os.path.relpath(os.path.abspath(args.model), REPO)
    res["atento"] = args.atento
    res["flags"] = " ".join(args.extra)
    beams = [int(b) for b in args.beams.split(",")]
    sets = args.sets.split(",")
    for d in args.directions.split(","):
        to = d.split("-")[1]
        for beam in beams:
            dec = "greedy" if beam == 1 else "beam%d" % beam
            if "tatoeba" in sets:
                src = read_lines(os.path.join(HERE, "logs", "test.%s.src" % d))
                ref = read_lines(os.path.join(HERE, "logs", "test.%s.ref" % d))
                hyp, dt = translate(args.atento, args.model, to, beam, src, args.extra)
                open(os.path.join(args.out, "test.%s.%s.hyp" % (d, dec)), "w", encoding="utf-8").write("\n".join(hyp) + "\n")
                res["tatoeba %s %s" % (d, dec)] = {
                    "n": len(hyp), "bleu": round(scorer.corpus_bleu(hyp, [ref]).score, 2),
                    "chrf": round(scorer.corpus_chrf(hyp, [ref]).score / 100, 4), "seconds": round(dt, 1)}
            if "dict" in sets:
                rows = [l.split("\t") for l in read_lines(os.path.join(HERE, "eval", "dict-heldout.%s.tsv" % d))]
                hyp, dt = translate(args.atento, args.model, to, beam, [r[0] for r in rows], args.extra)
                ok = [norm(h) in {norm(t) for t in r[1].split(" | ")} for r, h in zip(rows, hyp)]
                rep = [repeated_word(h) for h in hyp]
                with open(os.path.join(args.out, "dict.%s.%s.tsv" % (d, dec)), "w", encoding="utf-8") as f:
                    for r, h, o in zip(rows, hyp, ok):
                        f.write("%s\t%s\t%s\t%s\n" % ("ok" if o else "WRONG", r[0], h, r[1]))
                res["dict %s %s" % (d, dec)] = {"n": len(rows), "correct": round(sum(ok) / len(rows), 4),
                                               "repeated_word_outputs": sum(rep), "seconds": round(dt, 1)}
            if "para" in sets:
                rows = [l.split("\t") for l in read_lines(os.path.join(HERE, "eval", "para-test.%s.tsv" % d))]
                refs = [" ".join(r[2].split("\x1f")) for r in rows]
                whole, dt = translate(args.atento, args.model, to, beam, [r[0] for r in rows], args.extra)
                sents = [s for r in rows for s in r[1].split("\x1f")]
                one, _ = translate(args.atento, args.model, to, beam, sents, args.extra)
                joined, i = [], 0
                for r in rows:
                    k = len(r[1].split("\x1f"))
                    joined.append(" ".join(one[i:i + k]))
                    i += k
                open(os.path.join(args.out, "para.%s.%s.hyp" % (d, dec)), "w", encoding="utf-8").write("\n".join(whole) + "\n")
                cw = scorer.corpus_chrf(whole, [refs]).score
                cs = scorer.corpus_chrf(joined, [refs]).score
                res["para %s %s" % (d, dec)] = {"n": len(rows), "chrf_paragraph": round(cw / 100, 4),
                                               "chrf_sentence_by_sentence": round(cs / 100, 4),
                                               "same_output": sum(a == b for a, b in zip(whole, joined))}
            json.dump(res, open(path, "w"), indent=1, ensure_ascii=False)
            for k, v in res.items():
                if isinstance(v, dict) and d in k and k.endswith(dec):
                    print(k, json.dumps(v), flush=True)


if __name__ == "__main__":
    main()
