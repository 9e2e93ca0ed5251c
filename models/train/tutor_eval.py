#!/usr/bin/env python3
"""Score the tool-calling tutor on the held-out everyday set
(models/train/tutor_eval/everyday.tsv), run by atento itself.

    /usr/bin/python3 models/train/tutor_eval.py MODEL.gguf OUT.jsonl [--cli build/atento] [--builtin]

Each item is asked three ways: a phrasing the training used, a phrasing it
never used (EVAL_ONLY below), and as a follow-up ("And 'x'?") after an earlier
exchange; English and Spanish questions alternate. With --builtin the runtime
runs its own tools (the model's atento.tools, models/dict-en-es.*, the
translation model) and `atento chat --json` is given no tools; without it the
tools are offered explicitly and run here: `lookup` by freedict.lookup (the
runtime's dictionary.py when present), `translate` by the shipped
translation model through `atento translate` (greedy), i.e. the same full
pipeline. At most 3 tool rounds.

An answer is correct when one of the translations it gives (its quoted part,
split at commas, as a dictionary lookup lists several) is one of the item's
accepted answers (lower case, punctuation and one leading article ignored);
`first` counts the stricter case where the first translation given is.
"""
import argparse
import json
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import chat_data  # noqa: E402
import freedict  # noqa: E402
import tool_data  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
EVAL = os.path.join(HERE, "tutor_eval", "everyday.tsv")

EVAL_ONLY = {
    ("en", False): ["Can you tell me how to say {x} in Spanish?", "What's the word for {x} in Spanish?",
                    "I need the Spanish for {x}.", "Give me {x} in Spanish, please."],
    ("en", True): ["¿Cómo se traduce {x} al español?", "Dime cómo se dice {x} en español."],
    ("es", False): ["Can you tell me what {x} means?", "I don't know what {x} means.", "What is the English for {x}?"],
    ("es", True): ["¿Cómo se traduce {x} al inglés?", "Dime qué significa {x} en inglés."],
}
SEEN = {
    ("en", False): tool_data.ASK_TO_ES_EN[:10], ("en", True): tool_data.ASK_TO_ES_ES[:6],
    ("es", False): tool_data.ASK_TO_EN_EN[:10], ("es", True): tool_data.ASK_TO_EN_ES[:6],
}
FOLLOW = {False: ["And {x}?", "What about {x}?"], True: ["¿Y {x}?"]}


def quoted(rng, x):
    r = rng.random()
    return '"' + x + '"' if r < 0.5 else ("'" + x + "'" if r < 0.7 else x)


def build(rows, seed=7):
    rng = random.Random(seed)
    tests = []
    for k, (d, item, acc) in enumerate(rows):
        frm = "en" if d == "en2es" else "es"
        for way in ("seen", "unseen", "follow"):
            ui_es = (k + ("seen", "unseen", "follow").index(way)) % 2 == 1
            x = quoted(rng, item)
            msgs = []
            if way == "follow":
                # an earlier exchange about another item of the same direction, as the tutor should answer it
                same = [r for r in rows if r[0] == d and r[1] != item]
                _, prev, pacc = same[rng.randrange(len(same))]
                msgs += [{"role": "user", "content": rng.choice(SEEN[(frm, ui_es)]).format(x='"' + prev + '"')},
                         {"role": "assistant", "content": "__PREV__", "prev": prev, "frm": frm, "ui_es": ui_es}]
                q = rng.choice(FOLLOW[ui_es]).format(x=x)
            else:
                q = rng.choice((SEEN if way == "seen" else EVAL_ONLY)[(frm, ui_es)]).format(x=x)
            msgs.append({"role": "user", "content": q})
            tests.append({"direction": d, "item": item, "accepted": acc, "way": way, "messages": msgs})
    return tests


class Tools:
    def __init__(self, cli, mt):
        self.cli, self.mt = cli, mt
        self.cache = {}

    def translate_many(self, texts_to):
        todo = sorted({(t, to) for t, to in texts_to if (t, to) not in self.cache and t.strip() and "\n" not in t})
        for to in ("en", "es"):
            batch = [t for t, tt in todo if tt == to]
            if not batch:
                continue
            p = subprocess.run(self.cli + ["translate", "--model", self.mt, "--to", to], input="\n".join(batch) + "\n",
                               capture_output=True, text=True, check=True)
            outs = p.stdout.split("\n")
            for t, o in zip(batch, outs):
                self.cache[(t, to)] = o.strip()
        return [self.cache.get((t, to), "(error: empty text)") for t, to in texts_to]

    def run(self, calls):
        """calls: [(name, args)] -> results."""
        res = [None] * len(calls)
        tr = []
        for i, (name, a) in enumerate(calls):
            if name == "lookup" and isinstance(a.get("word"), str) and a.get("from") in ("en", "es"):
                res[i] = freedict.lookup(a["word"], a["from"])
            elif name == "translate" and isinstance(a.get("text"), str) and a.get("to") in ("en", "es"):
                tr.append(i)
            else:
                res[i] = "(error: bad call)"
        for i, r in zip(tr, self.translate_many([(calls[i][1]["text"], calls[i][1]["to"]) for i in tr])):
            res[i] = r
        return res


MAX_TOKENS = [96]


def chat_round(cli, model, convs, tools):
    lines = []
    for c in convs:
        req = {"messages": c}
        if tools:
            req["tools"] = tool_data.TOOLS
        lines.append(json.dumps(req, ensure_ascii=False))
    p = subprocess.run(cli + ["chat", "--json", "--model", model, "--temperature", "0", "--max-tokens", str(MAX_TOKENS[0])],
                       input="\n".join(lines) + "\n", capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("chat failed: " + p.stderr[-2000:])
    out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    assert len(out) == len(convs), (len(out), len(convs), p.stderr[-500:])
    return out


def run_conversations(cli, model, convs, tools_runner, builtin, max_rounds=3):
    """Drive every conversation to a final answer; -> (final text, [(name, args, result)])."""
    convs = [list(c) for c in convs]
    runs = [[] for _ in convs]
    final = [None] * len(convs)
    active = list(range(len(convs)))
    for rnd in range(max_rounds + 1):
        if not active:
            break
        outs = chat_round(cli, model, [convs[i] for i in active], not builtin)
        calls, owners = [], []
        nxt = []
        for i, o in zip(active, outs):
            msg = o["message"]
            if builtin:
                for r in o.get("toolRuns", o.get("tool_runs", [])):
                    runs[i].append((r["name"], r["arguments"], r["result"]))
                final[i] = msg["content"]
                continue
            tc = msg.get("tool_calls") or []
            if not tc or rnd == max_rounds:
                final[i] = msg["content"]
                continue
            convs[i].append({"role": "assistant", "content": msg["content"]})
            for c in tc:
                calls.append((c["name"], c.get("arguments") or {}))
                owners.append(i)
            nxt.append(i)
        if calls:
            for i, (name, a), r in zip(owners, calls, tools_runner.run(calls)):
                convs[i].append({"role": "tool", "content": r})
                runs[i].append((name, a, r))
        active = nxt
    return final, runs


ARTICLES = ("the ", "a ", "an ", "to ", "el ", "la ", "los ", "las ", "un ", "una ")


def _canon(text):
    t = tool_data.norm(text)
    for a in ARTICLES:
        if t.startswith(a) and len(t) > len(a):
            return t[len(a):]
    return t


def answer_items(answer):
    """The translations an answer gives: its quoted part, split at commas (a
    dictionary lookup lists several), each lower-cased, punctuation and one
    leading article dropped."""
    return [_canon(x) for x in chat_data.extract(answer).split(",") if _canon(x)]


def is_correct(answer, accepted):
    acc = {_canon(a) for a in accepted}
    return any(x in acc for x in answer_items(answer))


def first_correct(answer, accepted):
    items = answer_items(answer)
    return bool(items) and items[0] in {_canon(a) for a in accepted}


def heldout(args, cli, tools):
    """The model card's 1,000 held-out translation turns (logs/run1-chat.heldout.q8_0.jsonl), now
    answered through the tools; exact match (any test-split variant) and chrF/BLEU of the quoted part."""
    import eval_atento
    rows = [json.loads(l) for l in open(os.path.join(HERE, "logs", "run1-chat.heldout.q8_0.jsonl"), encoding="utf-8")]
    if args.limit:
        rows = rows[:args.limit // 2] + [r for r in rows if r["direction"] == "es2en"][:args.limit // 2]
    final, runs = run_conversations(cli, args.model, [r["messages"] for r in rows], tools, args.builtin)
    pairs = [l.rstrip("\n").split("\t") for l in open(os.path.join(HERE, "split", "test.tsv"), encoding="utf-8")]
    es_of, en_of, ok = {}, {}, {}
    for en, es in pairs:
        es_of.setdefault(en, set()).add(es)
        en_of.setdefault(es, set()).add(en)
    for en, es in pairs:
        ok.setdefault(("en2es", es), set()).update(es_of[en])
        ok.setdefault(("es2en", en), set()).update(en_of[es])
    sb = eval_atento._scorer()
    with open(args.out, "w", encoding="utf-8") as f:
        for r, a, t in zip(rows, final, runs):
            f.write(json.dumps({"direction": r["direction"], "reference": r["reference"], "answer": a, "tool_runs": t},
                               ensure_ascii=False) + "\n")
    for d in ("en2es", "es2en", "all"):
        sel = [i for i, r in enumerate(rows) if d == "all" or r["direction"] == d]
        hyps = [chat_data.extract(final[i]) for i in sel]
        refs = [rows[i]["reference"] for i in sel]
        exact = sum(h == r or h in ok.get((rows[i]["direction"], r), ()) for h, r, i in zip(hyps, refs, sel))
        used = sum(any(n == "translate" for n, _, _ in runs[i]) for i in sel)
        print("%-6s n=%4d exact %.1f%%  chrF %.3f  BLEU %.1f  translate used %.1f%%" % (
            d, len(sel), 100 * exact / len(sel), sb.corpus_chrf(hyps, [refs]).score / 100,
            sb.corpus_bleu(hyps, [refs]).score, 100 * used / len(sel)))


def rescore(path):
    """Score an answers file again (after a change of the scoring rule)."""
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    for r in rows:
        r["correct"], r["first_correct"] = is_correct(r["answer"], r["accepted"]), first_correct(r["answer"], r["accepted"])
    return rows


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "rescore":
        rows = rescore(sys.argv[2])
        print("correct %.1f%% first %.1f%% (n=%d)" % (100 * sum(r["correct"] for r in rows) / len(rows),
                                                     100 * sum(r["first_correct"] for r in rows) / len(rows), len(rows)))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--cli", default=os.path.join(REPO, "build", "atento"))
    ap.add_argument("--mt", default=os.path.join(REPO, "models", "translate-en-es.gguf"))
    ap.add_argument("--builtin", action="store_true")
    ap.add_argument("--heldout", action="store_true", help="the model card's 1,000 held-out translation turns instead")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--ways", default="seen,unseen,follow", help="which phrasings to ask (comma-separated)")
    ap.add_argument("--max-tokens", type=int, default=96)
    args = ap.parse_args()
    MAX_TOKENS[0] = args.max_tokens
    cli = [args.cli] if not args.cli.endswith(".js") else ["node", args.cli]
    if args.heldout:
        return heldout(args, cli, Tools(cli, args.mt))
    rows = tool_data.read_eval(EVAL)
    tests = [t for t in build(rows) if t["way"] in args.ways.split(",")]
    if args.limit:  # an even sample of the set
        tests = tests[::max(1, len(tests) // args.limit)][:args.limit]
    tools = Tools(cli, args.mt)
    # the earlier exchange of a follow-up: the tutor's expected turns with the real tool results
    for t in tests:
        for j, m in enumerate(t["messages"]):
            if m.get("content") == "__PREV__":
                prev, frm, ui_es = m["prev"], m["frm"], m["ui_es"]
                to = "es" if frm == "en" else "en"
                if len(prev.split()) == 1:
                    name, a = "lookup", {"word": prev.lower(), "from": frm}
                else:
                    name, a = "translate", {"text": prev, "to": to}
                r = tools.run([(name, a)])[0]
                turns = [{"role": "assistant", "content": tool_data.call(name, a)}, {"role": "tool", "content": r}]
                if r == "(no entry)":
                    a2 = {"text": prev, "to": to}
                    r = tools.run([("translate", a2)])[0]
                    turns += [{"role": "assistant", "content": tool_data.call("translate", a2)}, {"role": "tool", "content": r}]
                lead = (tool_data.ANS_ES_ES if ui_es else tool_data.ANS_ES_EN)[0] if to == "es" else \
                    (tool_data.ANS_EN_ES if ui_es else tool_data.ANS_EN_EN)[0]
                turns.append({"role": "assistant", "content": lead.format(r=r)})
                t["messages"] = t["messages"][:j] + turns + t["messages"][j + 1:]
                break
    final, runs = run_conversations(cli, args.model, [t["messages"] for t in tests], tools, args.builtin)
    stats = {}
    with open(args.out, "w", encoding="utf-8") as f:
        for t, a, r in zip(tests, final, runs):
            ok = is_correct(a, t["accepted"])
            fok = first_correct(a, t["accepted"])
            want = "lookup" if len(t["item"].split()) == 1 else "translate"
            tool_ok = bool(r) and r[0][0] == want
            for key in ("all", t["direction"], t["way"], "word" if want == "lookup" else "phrase"):
                s = stats.setdefault(key, [0, 0, 0, 0])
                s[0] += 1
                s[1] += ok
                s[2] += fok
                s[3] += tool_ok
            f.write(json.dumps({"direction": t["direction"], "way": t["way"], "item": t["item"], "accepted": t["accepted"],
                                "question": t["messages"][-1]["content"], "answer": a, "correct": ok,
                                "first_correct": fok, "tool_runs": r}, ensure_ascii=False) + "\n")
    print("%s on %s" % (args.model, EVAL))
    for k in ("all", "en2es", "es2en", "seen", "unseen", "follow", "word", "phrase"):
        if k in stats:
            n, c, fc, tc = stats[k]
            print("%-7s n=%4d correct %.1f%%  first-translation correct %.1f%%  expected first tool %.1f%%" % (
                k, n, 100 * c / n, 100 * fc / n, 100 * tc / n))


if __name__ == "__main__":
    main()
