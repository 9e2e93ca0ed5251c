"""Corpus BLEU and chrF as sacrebleu 2.x computes them with its defaults
(BLEU: 13a tokenization, exp smoothing, case-sensitive; chrF2: character
6-grams, whitespace removed, beta 2, precision and recall averaged over the
orders). A fallback for machines without sacrebleu, written from sacrebleu's
documented definitions; checked against sacrebleu's own numbers in
eval_atento.py (`check`).
"""
import math
import re
from collections import Counter

_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tok13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = " %s " % line
    for r, s in _13A:
        line = r.sub(s, line)
    return " ".join(line.split())


def _ngrams(words, n):
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def corpus_bleu(hyps, refs):
    correct, total = [0] * 4, [0] * 4
    sys_len = ref_len = 0
    for h, r in zip(hyps, refs):
        hw, rw = tok13a(h).split(), tok13a(r).split()
        sys_len += len(hw)
        ref_len += len(rw)
        for n in range(1, 5):
            hc, rc = _ngrams(hw, n), _ngrams(rw, n)
            total[n - 1] += max(0, len(hw) - n + 1)
            correct[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
    smooth = 1.0
    prec = [0.0] * 4
    for n in range(4):
        if total[n] == 0:
            break
        if correct[n] == 0:
            smooth *= 2
            prec[n] = 100.0 / (smooth * total[n])
        else:
            prec[n] = 100.0 * correct[n] / total[n]
    if sys_len == 0 or min(prec) <= 0:
        return 0.0
    bp = 1.0 if sys_len >= ref_len else math.exp(1 - ref_len / sys_len)
    return bp * math.exp(sum(math.log(p) for p in prec) / 4)


def corpus_chrf(hyps, refs, order=6, beta=2):
    stats = [0] * (3 * order)
    for h, r in zip(hyps, refs):
        h, r = "".join(h.split()), "".join(r.split())
        for n in range(1, order + 1):
            hc = Counter(h[i:i + n] for i in range(len(h) - n + 1))
            rc = Counter(r[i:i + n] for i in range(len(r) - n + 1))
            stats[3 * (n - 1)] += sum(hc.values())
            stats[3 * (n - 1) + 1] += sum(rc.values())
            stats[3 * (n - 1) + 2] += sum((hc & rc).values())
    f = beta ** 2
    ap = ar = 0.0
    eff = 0
    for n in range(order):
        nh, nr, nm = stats[3 * n:3 * n + 3]
        if nh > 0 and nr > 0:
            ap += nm / nh
            ar += nm / nr
            eff += 1
    if eff == 0:
        return 0.0
    ap, ar = ap / eff, ar / eff
    if ap + ar == 0:
        return 0.0
    return 100 * (1 + f) * ap * ar / (f * ap + ar)
