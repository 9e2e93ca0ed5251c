"""Build models/dict-en-es.tsv from Debian's FreeDict dictionaries (dictd format).

    apt-get install dict-freedict-eng-spa dict-freedict-spa-eng
    python3 models/tools/make_dict.py [--tatoeba shared/data/tatoeba-en-es/en-es.tsv] [-o models/dict-en-es.tsv]

Deterministic: the same inputs give the same bytes. The format and the lookup
rules are described in dictionary.py (next to this file).

What the build does, and why:
- FreeDict eng-spa 0.3.1 (the Debian package) indexes multi-word headwords under
  their first word with the phonetics of the whole phrase ("good /gudmɔːniŋ/" is
  "good morning" -> "buenosdías"). Such entries are recognised (a phonetic that
  extends another entry's phonetic, or one much longer than the spelling) and
  dropped, since their headword is lost; entries in espeak style ("/ɡˈʊd/")
  under a key that has an ordinary entry are compounds of the same kind.
- Translations with their spaces removed ("quererdecir") are split again into
  words of the Tatoeba vocabulary ("querer decir") when the joined form is not
  a Tatoeba word itself.
- Sense numbers, parentheses and fragments ("%h...ago") are removed; the
  senses are flattened in FreeDict's order, duplicates dropped.
- Translations are ordered by how often the headword and the translation occur
  in the same Tatoeba sentence pair (ties keep FreeDict's order), so the common
  sense comes first ("run" -> "correr" before "atropellar"). At most five kept.
- A word missing from one direction is filled from the other direction's
  entries that list it as a translation ("be" -> "ser, estar").
"""

import argparse
import collections
import gzip
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dictionary import MAX_TRANSLATIONS, lower, normalize, parse  # noqa: E402

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def b64(s):
    v = 0
    for c in s:
        v = v * 64 + B64.index(c)
    return v


def read_dictd(stem):
    """[(headword, phonetic, [sense lines])] in file order."""
    data = gzip.open(stem + ".dict.dz").read()
    out = []
    for line in open(stem + ".index", encoding="utf-8").read().splitlines():
        word, off, length = line.split("\t")
        if word.startswith("00database"):
            continue
        text = data[b64(off):b64(off) + b64(length)].decode("utf-8")
        head, *senses = [s for s in text.split("\n") if s.strip()]
        m = re.match(r"^(.*?)\s*/(.*)/\s*$", head)
        hw, ph = (m.group(1), m.group(2)) if m else (head.strip(), "")
        out.append((b64(off), hw, ph, senses))
    out.sort()  # file order
    return [(hw, ph, senses) for _, hw, ph, senses in out]


TOKEN = re.compile(r"[^\W\d_]+")


def tokens(text):
    return TOKEN.findall(lower(text).lower())


def read_tatoeba(path):
    """Per language: token -> set of pair ids, and token counts."""
    index = {"en": collections.defaultdict(set), "es": collections.defaultdict(set)}
    counts = {"en": collections.Counter(), "es": collections.Counter()}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            for lang, text in (("en", parts[0]), ("es", parts[1])):
                toks = tokens(text)
                counts[lang].update(toks)
                for t in toks:
                    index[lang][t].add(i)
    return index, counts


def split_joined(word, vocab, known):
    """'quererdecir' -> 'querer decir' when every part is a Tatoeba word (>= 5 uses)
    and the whole is neither a Tatoeba word nor a headword of the dictionary."""
    if len(word) < 6 or vocab.get(word, 0) > 0 or word in known or not word.isalpha():
        return word
    n = len(word)
    best = [None] * (n + 1)  # best[i]: (parts, score) for word[:i]
    best[0] = ([], 0)
    for i in range(1, n + 1):
        for j in range(max(0, i - 15), i):
            if best[j] is None:
                continue
            part = word[j:i]
            c = vocab.get(part, 0)
            if c < 5 or (len(part) == 1 and part not in ("a", "y", "o", "e", "u")):
                continue
            parts, score = best[j]
            cand = (parts + [part], score - 1)  # fewest parts wins
            if best[i] is None or cand[1] > best[i][1]:
                best[i] = cand
    if best[n] is None or len(best[n][0]) < 2:
        return word
    return " ".join(best[n][0])


def clean_senses(senses, vocab, known):
    """FreeDict sense lines -> flat list of translations in order."""
    out = []
    for line in senses:
        line = re.sub(r"^\s*\d+\.\s*", "", line)
        line = re.sub(r"\([^)]*\)", "", line)
        for item in re.split(r"[,;]", line):
            item = " ".join(item.split())
            if not item or "%" in item or "..." in item or "\u2026" in item:
                continue
            fixed = []
            for w in item.split(" "):
                lw = lower(w).lower()
                s = split_joined(lw, vocab, known)
                fixed.append(w if s == lw else s)
            item = " ".join(fixed)
            if item not in out:
                out.append(item)
    return out


def plain_phon(ph):
    return re.sub(r"[ˈˌː\s]", "", ph).replace("ɡ", "g")


def keep_eng_entries(entries):
    """Drop the truncated multi-word entries of eng-spa (see the module comment)."""
    groups = collections.defaultdict(list)
    for e in entries:
        groups[normalize(e[0])].append(e)
    kept = []
    for key, group in groups.items():
        ok = []
        for hw, ph, senses in group:
            p = plain_phon(ph)
            espeak = "ˈ" in ph or "ˌ" in ph
            if " " not in key and not espeak and p:
                diff = len(p) - len(key)
                if (diff >= 3 and len(p) >= 1.3 * len(key)) or (diff >= 2 and len(p) >= 2 * len(key)):
                    continue  # a phrase's phonetics under its first word
                if any(q != p and p.startswith(q) for q in (plain_phon(g[1]) for g in group if "ˈ" not in g[1])):
                    continue  # extends the phonetics of a shorter entry
            ok.append((hw, ph, senses, espeak))
        if any(not e[3] for e in ok) and " " not in key:
            ok = [e for e in ok if not e[3]]
        kept.extend((hw, ph, senses) for hw, ph, senses, _ in ok)
    return kept


def build_direction(entries, src, dst, index, counts, known):
    table = collections.OrderedDict()
    for hw, ph, senses in entries:
        key = normalize(hw)
        if not key:
            continue
        items = clean_senses(senses, counts[dst], known)
        table.setdefault(key, [])
        for it in items:
            if it not in table[key]:
                table[key].append(it)
    return table


def cooccurrence(key, item, src, dst, index):
    ks, ts = tokens(key), tokens(item)
    if not ks or not ts:
        return 0
    sets = [index[src].get(t, set()) for t in ks] + [index[dst].get(t, set()) for t in ts]
    sets.sort(key=len)
    common = set(sets[0])
    for s in sets[1:]:
        common &= s
        if not common:
            break
    return len(common)


def order(table, src, dst, index):
    out = {}
    for key, items in table.items():
        if not items:
            continue
        scored = sorted(enumerate(items), key=lambda p: (-cooccurrence(key, p[1], src, dst, index), p[0]))
        out[key] = [it for _, it in scored][:MAX_TRANSLATIONS]
    return out


def fill_from_reverse(table, reverse, src, dst, index):
    """Keys of `src` missing from `table` that appear as translations in `reverse`."""
    found = collections.defaultdict(list)  # word -> [(position in list, reverse key)]
    for rkey, items in reverse.items():
        for pos, it in enumerate(items):
            k = normalize(it)
            if k and k not in table:
                found[k].append((pos, rkey))
    for k, hits in found.items():
        hits.sort(key=lambda h: (h[0], -cooccurrence(k, h[1], src, dst, index)))
        items = []
        for _, rkey in hits:
            if rkey not in items:
                items.append(rkey)
        table[k] = items[:MAX_TRANSLATIONS]


def write(path, tables):
    lines = ["atento-dictionary 1"]
    for lang in ("en", "es"):
        keys = sorted(tables[lang], key=lambda k: k.encode("utf-8"))
        lines.append("%s\t%d" % (lang, len(keys)))
        for k in keys:
            lines.append("%s\t%s" % (k, ", ".join(tables[lang][k])))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    parse(data)  # the reader accepts what was written
    with open(path, "wb") as f:
        f.write(data)
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--freedict", default="/usr/share/dictd", help="folder of freedict-*.index/.dict.dz")
    ap.add_argument("--tatoeba", default=os.path.join(ROOT, "..", "shared", "data", "tatoeba-en-es", "en-es.tsv"))
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "models", "dict-en-es.tsv"))
    args = ap.parse_args()

    index, counts = read_tatoeba(args.tatoeba)
    eng = keep_eng_entries(read_dictd(os.path.join(args.freedict, "freedict-eng-spa")))
    spa = read_dictd(os.path.join(args.freedict, "freedict-spa-eng"))
    # Words known to be words: the headwords of each language (never split again).
    known_en = {normalize(e[0]) for e in eng}
    known_es = {normalize(e[0]) for e in spa}
    en = order(build_direction(eng, "en", "es", index, counts, known_es), "en", "es", index)
    es = order(build_direction(spa, "es", "en", index, counts, known_en), "es", "en", index)
    # Reverse fills use the tables before either is filled, so the order of the two calls does not matter.
    en_own, es_own = dict(en), dict(es)
    fill_from_reverse(en, es_own, "en", "es", index)
    fill_from_reverse(es, en_own, "es", "en", index)
    for k in list(en):
        en[k] = [x for x in en[k] if x]
    data = write(args.output, {"en": en, "es": es})
    gz = len(gzip.compress(data, 9, mtime=0))
    print("%s: %d en keys, %d es keys, %d bytes, %d bytes gzip -9" % (args.output, len(en), len(es), len(data), gz))


if __name__ == "__main__":
    main()
