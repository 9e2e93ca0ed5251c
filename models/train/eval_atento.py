#!/usr/bin/env python3
"""Score the SHIPPED GGUF models as atento itself runs them.

1. Outputs (needs node and the WASM build, dist/atento.wasm):

   for d in en-es es-en; do t=${d#*-}
     node bin/atento.js translate --model models/translate-en-es.gguf --to $t < models/train/logs/test.$d.src > models/train/logs/atento-test.$d.greedy.hyp
     node bin/atento.js translate --model models/translate-en-es.gguf --to $t --beam 4 < models/train/logs/test.$d.src > models/train/logs/atento-test.$d.beam4.hyp
   done
   python3 models/train/eval_atento.py chat models/tutor-en-es.gguf models/train/logs/run1-chat.heldout.q8_0.jsonl models/train/logs/atento-chat.heldout.jsonl

   (`chat` sends the held-out conversations to `atento chat --json --temperature 0`.)

2. Scores (sacrebleu, or where it is missing minibleu.py, which reproduces
   sacrebleu 2.6.0's numbers for run 1's PyTorch outputs exactly: all 14 BLEU/chrF
   values of logs/run1-*.results.json):

   python3 models/train/eval_atento.py score models/train/logs
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import chat_data  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))


def run_chat(gguf, heldout, out):
    rows = [json.loads(l) for l in open(heldout, encoding="utf-8")]
    inp = "\n".join(json.dumps({"messages": r["messages"]}, ensure_ascii=False) for r in rows) + "\n"
    p = subprocess.run(["node", os.path.join(REPO, "bin", "atento.js"), "chat", "--json", "--model", gguf,
                        "--temperature", "0", "--max-tokens", "80"],
                       input=inp.encode("utf-8"), capture_output=True, check=True)
    answers = [json.loads(l) for l in p.stdout.decode("utf-8").splitlines() if l.strip()]
    assert len(answers) == len(rows), (len(answers), len(rows))
    with open(out, "w", encoding="utf-8") as f:
        for r, a in zip(rows, answers):
            f.write(json.dumps({"direction": r["direction"], "reference": r["reference"], "expected": r["expected"],
                                "answer": a["message"]["content"], "pytorch_answer": r["answer"]},
                               ensure_ascii=False) + "\n")
    same = sum(a["message"]["content"] == r["answer"] for r, a in zip(rows, answers))
    print("atento answers equal to the PyTorch (dequantized q8_0) answers: %d/%d" % (same, len(rows)))


class _Score:
    def __init__(self, score):
        self.score = score

    def __str__(self):
        return "%.2f (minibleu)" % self.score


def _scorer():
    try:
        import sacrebleu
        return sacrebleu
    except ImportError:
        import minibleu

        class M:
            corpus_bleu = staticmethod(lambda h, r: _Score(minibleu.corpus_bleu(h, r[0])))
            corpus_chrf = staticmethod(lambda h, r: _Score(minibleu.corpus_chrf(h, r[0])))
        return M


def score(d):
    sacrebleu = _scorer()
    res = {"scorer": getattr(sacrebleu, "__version__", "minibleu.py (sacrebleu 2.x defaults)")}
    for direction in ("en-es", "es-en"):
        refs = open(os.path.join(d, "test.%s.ref" % direction), encoding="utf-8").read().split("\n")[:-1]
        for kind in ("pytorch", "atento"):
            for dec in ("greedy", "beam4"):
                name = ("run1-test.%s.%s.pytorch.hyp" % (direction, "beam1" if dec == "greedy" else "beam4")
                        if kind == "pytorch" else "atento-test.%s.%s.hyp" % (direction, dec))
                path = os.path.join(d, name)
                if not os.path.exists(path):
                    continue
                hyps = open(path, encoding="utf-8").read().split("\n")[:-1]
                assert len(hyps) == len(refs), (path, len(hyps), len(refs))
                b = sacrebleu.corpus_bleu(hyps, [refs])
                c = sacrebleu.corpus_chrf(hyps, [refs])
                res["%s %s %s" % (kind, direction, dec)] = {"bleu": round(b.score, 2), "chrf": round(c.score / 100, 4),
                                                            "bleu_str": str(b)}
    path = os.path.join(d, "atento-chat.heldout.jsonl")
    if os.path.exists(path):
        rows = [json.loads(l) for l in open(path, encoding="utf-8")]
        # other translations in the test split count as exact too (as chat.py does):
        # en2es: the Spanish variants of an English sentence whose variant is the reference
        pairs = [l.rstrip("\n").split("\t") for l in open(os.path.join(HERE, "split", "test.tsv"), encoding="utf-8")]
        es_of, en_of = {}, {}
        for en, es in pairs:
            es_of.setdefault(en, set()).add(es)
            en_of.setdefault(es, set()).add(en)
        ok = {}
        for en, es in pairs:
            ok.setdefault(("en2es", es), set()).update(es_of[en])
            ok.setdefault(("es2en", en), set()).update(en_of[es])
        for direction in ("en2es", "es2en", "all"):
            sel = [r for r in rows if direction == "all" or r["direction"] == direction]
            hyps = [chat_data.extract(r["answer"]) for r in sel]
            refs = [r["reference"] for r in sel]
            res["atento chat " + direction] = {
                "n": len(sel), "exact_match_ref": round(sum(h == r for h, r in zip(hyps, refs)) / len(sel), 4),
                "exact_match": round(sum(h == r or h in ok.get((x["direction"], r), ())
                                         for h, r, x in zip(hyps, refs, sel)) / len(sel), 4),
                "exact_match_pytorch_q8_0": round(sum(
                    chat_data.extract(x["pytorch_answer"]) == r or chat_data.extract(x["pytorch_answer"]) in ok.get((x["direction"], r), ())
                    for r, x in zip(refs, sel)) / len(sel), 4),
                "chrf": round(sacrebleu.corpus_chrf(hyps, [refs]).score / 100, 4),
                "bleu": round(sacrebleu.corpus_bleu(hyps, [refs]).score, 2)}
    for k, v in res.items():
        print(k, json.dumps(v))
    with open(os.path.join(d, "atento-scores.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    if sys.argv[1] == "chat":
        run_chat(*sys.argv[2:5])
    elif sys.argv[1] == "score":
        score(sys.argv[2])
    else:
        sys.exit(__doc__)
