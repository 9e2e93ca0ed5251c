#!/usr/bin/env python3
"""translate_data.py — the extra fine-tuning data of the translation model, and
its held-out evaluation sets.

    /usr/bin/python3 models/train/translate_data.py [--out models/train/out/mt/data]

Writes (TSV, one example a line: target-language tag, source, target):
  dict.tsv      FreeDict entries (Debian dict-freedict-eng-spa / -spa-eng, GPL-2+),
                headword -> its first translation, both directions, plus the
                capitalized form of each; only the training part (see below)
  phrases.tsv   short Tatoeba training pairs (<= 4 English words) without their
                sentence punctuation ("good morning" -> "buenos días")
  multi.tsv     synthetic long inputs from Tatoeba training pairs: 2-4 sentences
                in one line, two statements joined by ", and" / ", y", and lists
                of 2-4 dictionary words ("cat, dog and horse" -> "gato, perro y caballo")
and the held-out sets (committed: models/train/eval/):
  dict-heldout.{en-es,es-en}.tsv   source \t its translations joined by " | "
  para-test.{en-es,es-en}.tsv      3 consecutive test-split pairs joined into one
                                   line \t the 3 sources \t the 3 references ("\x1f"-joined)

Why these shapes: a dictionary entry is a word or phrase without sentence
punctuation and Tatoeba sentences always end with one, so single words are a
length/punctuation regime of their own and do not teach the model to answer a
sentence with one word. The split is deterministic: a headword is held out when
sha1("en:" + word) (or "es:") is 0 mod 10; an entry of the other direction that
would give a held-out pair away (its headword among a held-out entry's
translations, or a held-out headword among its translations) is dropped from
training too.

Dictionary cleaning: the FreeDict files join some multi-word translations
("StraitofGibraltar", "sayyes"), so a headword or translation is kept only if
every one of its words occurs in that language's side of the Tatoeba training
split.
"""
import argparse
import base64
import gzip
import hashlib
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

DICTD = "/usr/share/dictd"
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def _b64(s):
    n = 0
    for ch in s:
        n = n * 64 + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(ch)
    return n


def read_freedict(name):
    """headword -> translations (in file order, duplicates merged)."""
    with gzip.open(os.path.join(DICTD, name + ".dict.dz"), "rb") as f:
        data = f.read()
    out = {}
    with open(os.path.join(DICTD, name + ".index"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[0].startswith("00-database") or parts[0].startswith("00database"):
                continue
            head, off, ln = parts[0].strip(), _b64(parts[1]), _b64(parts[2])
            text = data[off:off + ln].decode("utf-8", "replace").strip().split("\n")
            trs = out.setdefault(head, [])
            for t in text[1:]:
                t = re.sub(r"^\s*\d+\.\s*", "", t).strip()
                for x in t.split(","):
                    x = " ".join(x.split())
                    if x and x not in trs:
                        trs.append(x)
    return out


def words(s):
    return WORD.findall(s.lower())


def vocab(sents):
    v = set()
    for s in sents:
        v.update(words(s))
    return v


def known(s, v):
    w = words(s)
    return bool(w) and all(x in v for x in w)


def clean(entries, src_vocab, tgt_vocab):
    out = {}
    for head, trs in entries.items():
        if len(head) < 2 or not known(head, src_vocab) or "/" in head:
            continue
        good = [t for t in trs if known(t, tgt_vocab) and "/" not in t]
        if good:
            out[head] = good
    return out


def held_out(lang, word):
    return int(hashlib.sha1((lang + ":" + word).encode("utf-8")).hexdigest(), 16) % 10 == 0


def norm(s):
    return " ".join(words(s))


def dictionary_split(train_pairs):
    en_v = vocab(p[0] for p in train_pairs)
    es_v = vocab(p[1] for p in train_pairs)
    en_es = clean(read_freedict("freedict-eng-spa"), en_v, es_v)
    es_en = clean(read_freedict("freedict-spa-eng"), es_v, en_v)
    ho_en = {h: t for h, t in en_es.items() if held_out("en", h)}
    ho_es = {h: t for h, t in es_en.items() if held_out("es", h)}
    # pairs (english, spanish) that are held out, normalized
    ho_pairs = {(norm(h), norm(t)) for h, ts in ho_en.items() for t in ts}
    ho_pairs |= {(norm(t), norm(h)) for h, ts in ho_es.items() for t in ts}
    ho_en_words = {norm(h) for h in ho_en} | {norm(t) for ts in ho_es.values() for t in ts}
    ho_es_words = {norm(h) for h in ho_es} | {norm(t) for ts in ho_en.values() for t in ts}
    tr_en, tr_es = {}, {}
    for h, ts in en_es.items():
        if h in ho_en or norm(h) in ho_en_words:
            continue
        ts = [t for t in ts if (norm(h), norm(t)) not in ho_pairs and norm(t) not in ho_es_words]
        if ts:
            tr_en[h] = ts
    for h, ts in es_en.items():
        if h in ho_es or norm(h) in ho_es_words:
            continue
        ts = [t for t in ts if (norm(t), norm(h)) not in ho_pairs and norm(t) not in ho_en_words]
        if ts:
            tr_es[h] = ts
    return {"train": {"es": tr_en, "en": tr_es}, "heldout": {"es": ho_en, "en": ho_es}}


def cap(s):
    return s[:1].upper() + s[1:]


def strip_punct(s):
    s = s.strip()
    s = re.sub(r"^[¿¡\"“«]+", "", s)
    s = re.sub(r"[.!?…\"”»]+$", "", s)
    return s.strip()


def lowercase_words(pairs, side):
    """Words written in lower case more often than capitalized inside a sentence
    ("the", "está"; not "Tom", "Mary")."""
    n = {}
    for p in pairs:
        for w in p[side].split()[1:]:
            k = w.lower()
            n[k] = n.get(k, 0) + (1 if w.islower() else -1)
    return {w for w, c in n.items() if c > 0}


def lower_first(s, lower_words):
    w = s.split(" ", 1)
    if w[0] != "I" and w[0].lower() in lower_words:
        return s[:1].lower() + s[1:]
    return s


def phrases(train_pairs):
    """Short pairs without sentence punctuation, as a learner types them."""
    lower_en, lower_es = lowercase_words(train_pairs, 0), lowercase_words(train_pairs, 1)
    out, seen = [], set()
    for en, es in train_pairs:
        if len(en.split()) > 4 or "," in en:
            continue
        a, b = strip_punct(en), strip_punct(es)
        if not a or not b:
            continue
        for x, y in ((a, b), (lower_first(a, lower_en), lower_first(b, lower_es))):
            if (x, y) in seen:
                continue
            seen.add((x, y))
            out.append(("es", x, y))
            out.append(("en", y, x))
    return out


def y_before(word):
    w = word.lower()
    return "e" if (w.startswith("i") or (w.startswith("hi") and not w.startswith("hie"))) else "y"


def multi(train_pairs, dict_train, rng, n):
    """Synthetic long inputs built from training pairs and training dictionary entries."""
    short = [p for p in train_pairs if len(p[0].split()) <= 10]
    statements = [p for p in short if p[0].endswith(".") and p[1].endswith(".") and not p[1].startswith(("¿", "¡"))]
    lower_en, lower_es = lowercase_words(train_pairs, 0), lowercase_words(train_pairs, 1)
    en_words = [(h, ts[0]) for h, ts in dict_train["es"].items() if len(h.split()) == 1 and len(ts[0].split()) <= 2]
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:  # several sentences in one line
            k = rng.randint(2, 4)
            ps = [rng.choice(short) for _ in range(k)]
            en, es = " ".join(p[0] for p in ps), " ".join(p[1] for p in ps)
        elif kind == 1:  # two statements joined by ", and"
            a, b = rng.choice(statements), rng.choice(statements)
            b_en, b_es = lower_first(b[0], lower_en), lower_first(b[1], lower_es)
            en = a[0][:-1] + ", and " + b_en
            es = a[1][:-1] + ", " + y_before(b_es) + " " + b_es
        else:  # a list of dictionary words
            k = rng.randint(2, 4)
            ws = [rng.choice(en_words) for _ in range(k)]
            en = ", ".join(w[0] for w in ws[:-1]) + " and " + ws[-1][0]
            es = ", ".join(w[1] for w in ws[:-1]) + " " + y_before(ws[-1][1]) + " " + ws[-1][1]
            if rng.random() < 0.5:
                en, es = cap(en), cap(es)
        out.append(("es", en, es))
        out.append(("en", es, en))
    return out


def dict_examples(dict_train):
    out = []
    for tag, entries in (("es", dict_train["es"]), ("en", dict_train["en"])):
        for h, ts in entries.items():
            out.append((tag, h, ts[0]))
            out.append((tag, cap(h), cap(ts[0])))
    return out


def paragraphs(test_pairs, direction):
    """3 consecutive test pairs (one per English sentence) in one line."""
    firsts, seen = [], set()
    for en, es in test_pairs:
        if en not in seen:
            seen.add(en)
            firsts.append((en, es))
    rows = []
    for i in range(0, len(firsts) - 2, 3):
        ps = firsts[i:i + 3]
        srcs = [p[0] if direction == "en-es" else p[1] for p in ps]
        refs = [p[1] if direction == "en-es" else p[0] for p in ps]
        rows.append((" ".join(srcs), "\x1f".join(srcs), "\x1f".join(refs)))
    return rows


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "out", "mt", "data"))
    ap.add_argument("--eval-out", default=os.path.join(HERE, "eval"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--multi", type=int, default=60000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.eval_out, exist_ok=True)
    split = common.load_split()
    train = split["train"]
    d = dictionary_split(train)
    rng = random.Random(args.seed)
    ex_dict = dict_examples(d["train"])
    ex_phr = phrases(train)
    ex_multi = multi(train, d["train"], rng, args.multi)
    write(os.path.join(args.out, "dict.tsv"), ex_dict)
    write(os.path.join(args.out, "phrases.tsv"), ex_phr)
    write(os.path.join(args.out, "multi.tsv"), ex_multi)
    write(os.path.join(args.eval_out, "dict-heldout.en-es.tsv"),
          sorted((h, " | ".join(ts)) for h, ts in d["heldout"]["es"].items()))
    write(os.path.join(args.eval_out, "dict-heldout.es-en.tsv"),
          sorted((h, " | ".join(ts)) for h, ts in d["heldout"]["en"].items()))
    for direction in ("en-es", "es-en"):
        write(os.path.join(args.eval_out, "para-test.%s.tsv" % direction), paragraphs(split["test"], direction))
    print("dictionary train: en->es %d entries, es->en %d; held out: en->es %d, es->en %d" % (
        len(d["train"]["es"]), len(d["train"]["en"]), len(d["heldout"]["es"]), len(d["heldout"]["en"])))
    print("examples: dict %d, phrases %d, multi %d" % (len(ex_dict), len(ex_phr), len(ex_multi)))


if __name__ == "__main__":
    main()
