"""The English <-> Spanish dictionary (models/dict-en-es.tsv) as the runtime reads it.

    from dictionary import lookup
    lookup("Gato", "es")  # -> "cat, jack"

`lookup(word, frm)` returns exactly the string atento's built-in `lookup` tool
gives (src/dictionary.c): at most five translations joined by ", ", most common
first, or "(no entry)". The normalization and the fallbacks below are the
contract with the C code; change both together (tests/js/dictionary.test.mjs
compares them on a word list).

File format (UTF-8, '\n' line ends):
    atento-dictionary 1
    en<TAB><count>          then <count> lines  key<TAB>translations, keys strictly
    es<TAB><count>          ascending by bytes; same for es
Keys are already normalized (`normalize` below, without article stripping).
"""

import os
import sys

NO_ENTRY = "(no entry)"
MAX_TRANSLATIONS = 5
MAX_QUERY_BYTES = 1024
DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dict-en-es.tsv")

# Characters stripped from both ends of a query: ASCII punctuation and the
# quotes/marks Spanish and English text use around a word.
EDGE_CHARS = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") | set("\u00bf\u00a1\u00ab\u00bb\u201c\u201d\u2018\u2019\u201e\u2039\u203a\u2026\u2014\u2013")
SPACE_CHARS = set(" \t\n\r\f\v\u00a0")
ARTICLES = {
    "en": ("to ", "the ", "a ", "an "),
    "es": ("el ", "la ", "los ", "las ", "un ", "una ", "unos ", "unas "),
}
# Accent folding of Latin-1 lowercase letters (the fallback when no exact key matches).
FOLD = {c: b for b, cs in (("a", "àáâãäå"), ("c", "ç"), ("e", "èéêë"), ("i", "ìíîï"), ("n", "ñ"),
                           ("o", "òóôõöø"), ("u", "ùúûü"), ("y", "ýÿ")) for c in cs}


def lower(text):
    """ASCII and Latin-1 uppercase to lowercase only (what the C code does)."""
    out = []
    for c in text:
        o = ord(c)
        if 0x41 <= o <= 0x5A or (0xC0 <= o <= 0xDE and o != 0xD7):
            c = chr(o + 0x20)
        out.append(c)
    return "".join(out)


def fold(text):
    return "".join(FOLD.get(c, c) for c in text)


def normalize(text):
    """Trim spaces and edge punctuation/quotes (repeatedly), lowercase, collapse spaces."""
    start, end = 0, len(text)
    while start < end and (text[start] in SPACE_CHARS or text[start] in EDGE_CHARS):
        start += 1
    while end > start and (text[end - 1] in SPACE_CHARS or text[end - 1] in EDGE_CHARS):
        end -= 1
    out, space = [], False
    for c in lower(text[start:end]):
        if c in SPACE_CHARS:
            space = True
            continue
        if space:
            out.append(" ")
            space = False
        out.append(c)
    return "".join(out)


def candidates(text, frm):
    """The query as normalized, then without one leading article ("to ", "el ", ...)."""
    n = normalize(text)
    out = [n] if n else []
    for art in ARTICLES[frm]:
        if n.startswith(art) and len(n) > len(art):
            out.append(n[len(art):])
            break
    return out


def singulars(text):
    """Simple plural fallbacks, in order: -ies -> -y, -ces -> -z, -es -> '', -s -> ''."""
    out = []
    if text.endswith("ies") and len(text) > 4:
        out.append(text[:-3] + "y")
    if text.endswith("ces") and len(text) > 4:
        out.append(text[:-3] + "z")
    if text.endswith("es") and len(text) > 3:
        out.append(text[:-2])
    if text.endswith("s") and len(text) > 2:
        out.append(text[:-1])
    return out


class Dictionary:
    def __init__(self, path=DEFAULT_PATH):
        with open(path, "rb") as f:
            self.entries = parse(f.read())
        # Accent-folded key -> value of the first key (in byte order) that folds to it.
        self.folded = {}
        for lang, table in self.entries.items():
            ft = {}
            for key in sorted(table, key=lambda k: k.encode("utf-8")):
                ft.setdefault(fold(key), table[key])
            self.folded[lang] = ft

    def lookup(self, word, frm):
        if frm not in ("en", "es"):
            raise ValueError("lookup: 'from' must be \"en\" or \"es\"")
        if len(word.encode("utf-8")) > MAX_QUERY_BYTES:
            raise ValueError("lookup: the word is longer than %d bytes" % MAX_QUERY_BYTES)
        table, folded = self.entries[frm], self.folded[frm]
        cands = candidates(word, frm)
        for c in cands:
            if c in table:
                return table[c]
        for c in cands:
            if fold(c) in folded:
                return folded[fold(c)]
        for c in cands:
            for s in singulars(c):
                if s in table:
                    return table[s]
                if fold(s) in folded:
                    return folded[fold(s)]
        return NO_ENTRY


def parse(data):
    """Parse and check the file; raises ValueError naming the problem."""
    text = data.decode("utf-8")
    lines = text.split("\n")
    if not lines or lines[0] != "atento-dictionary 1":
        raise ValueError("dictionary: not an atento dictionary (bad first line)")
    if lines[-1] != "":
        raise ValueError("dictionary: last line not terminated")
    entries, i = {}, 1
    for lang in ("en", "es"):
        head = lines[i].split("\t")
        if len(head) != 2 or head[0] != lang or not head[1].isdigit():
            raise ValueError("dictionary: bad section header %r" % lines[i])
        count, table, prev = int(head[1]), {}, None
        for line in lines[i + 1:i + 1 + count]:
            key, sep, value = line.partition("\t")
            if not sep or not key or not value or "\t" in value:
                raise ValueError("dictionary: bad entry %r" % line)
            if prev is not None and key.encode() <= prev.encode():
                raise ValueError("dictionary: keys not sorted at %r" % key)
            table[key], prev = value, key
        if len(table) != count:
            raise ValueError("dictionary: section %s truncated" % lang)
        entries[lang] = table
        i += 1 + count
    if i != len(lines) - 1:
        raise ValueError("dictionary: trailing data")
    return entries


_default = None


def lookup(word, frm):
    """The built-in lookup tool's result for `word` in language `frm` ("en" or "es")."""
    global _default
    if _default is None:
        _default = Dictionary()
    return _default.lookup(word, frm)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: dictionary.py WORD en|es")
    print(lookup(sys.argv[1], sys.argv[2]))
