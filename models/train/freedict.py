"""The FreeDict English-Spanish / Spanish-English dictionaries (Debian's
dict-freedict-eng-spa and dict-freedict-spa-eng, GPL-2+), read from
/usr/share/dictd, as the `lookup` tool answers: the translations of a word,
most common first (dictionary order), at most 5, joined by ", ", or exactly
"(no entry)".

`lookup(word, frm)` prefers models/tools/dictionary.py (the runtime's own
dictionary file) when it exists, so training data and evaluation see the
tool results the runtime gives; this reader is the fallback and also lists
the headwords the training data draws from.
"""
import gzip
import os
import re

DICTD = "/usr/share/dictd"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_cache = {}


def _b64(s):
    v = 0
    for c in s:
        v = v * 64 + _B64.index(c)
    return v


def entries(frm):
    """{headword (lower-case): [translations in order, unique]} for 'en' or 'es'."""
    if frm in _cache:
        return _cache[frm]
    name = "freedict-eng-spa" if frm == "en" else "freedict-spa-eng"
    data = gzip.open(os.path.join(DICTD, name + ".dict.dz")).read()
    out = {}
    for line in open(os.path.join(DICTD, name + ".index"), encoding="utf-8"):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3 or parts[0].startswith("00database"):
            continue
        body = data[_b64(parts[1]):_b64(parts[1]) + _b64(parts[2])].decode("utf-8")
        lines = body.split("\n")
        head = re.sub(r"\s*/[^/]*/\s*$", "", lines[0]).strip().lower()
        if not head:
            continue
        trans = out.setdefault(head, [])
        for l in lines[1:]:
            l = re.sub(r"^\s*\d+\.\s*", "", l).strip()
            if not l:
                continue
            for t in l.split(","):
                t = t.strip()
                if t and t not in trans:
                    trans.append(t)
    _cache[frm] = {h: t for h, t in out.items() if t}
    return _cache[frm]


_dictionary = None


def _runtime_dictionary():
    global _dictionary
    if _dictionary is None:
        _dictionary = False
        here = os.path.dirname(os.path.abspath(__file__))
        tools = os.path.join(os.path.dirname(here), "tools")
        if os.path.exists(os.path.join(tools, "dictionary.py")):
            import sys
            sys.path.insert(0, tools)
            try:
                import dictionary
                _dictionary = dictionary
            except Exception:  # a dictionary module without its data file: use the dictd files
                _dictionary = False
    return _dictionary


def lookup(word, frm):
    d = _runtime_dictionary()
    if d:
        return d.lookup(word, frm)
    t = entries(frm).get(word.strip().lower())
    return ", ".join(t[:5]) if t else "(no entry)"
