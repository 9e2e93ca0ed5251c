"""Seeded tutor conversations that call the built-in tools (TOOLS-CONTRACT.md):
`lookup` for a single word, `translate` for phrases and sentences, `translate`
again when `lookup` gives "(no entry)", and an answer in words around the
result; mixed with the old behaviours (greeting, thanks, goodbye, what the
tutor can do) and, without tools, the old direct answers.

Sources: dictionary headwords and their lookup results (freedict.py: the
runtime's dictionary, or Debian's FreeDict files; GPL-2+), Tatoeba training-
split pairs (CC BY 2.0) as `translate` results. Every item of the held-out
everyday set (tutor_eval/everyday.tsv), and each of its accepted answers, is
kept out of the training conversations (`Sources(..., exclude=...)`).

A conversation is a list of messages; with tools the first is the system
message the chat template renders for them (render_tools_system), so
chat.Tok.encode_conv tokenizes it exactly as the runtime does.
"""
import json
import random
import re

import chat_data
import freedict

TOOLS = [
    {"type": "function", "function": {"name": "translate", "description": "Translate a text between English and Spanish.",
     "parameters": {"type": "object", "properties": {
         "text": {"type": "string", "description": "the text to translate"},
         "to": {"type": "string", "enum": ["en", "es"], "description": "the language to translate into"}},
         "required": ["text", "to"]}}},
    {"type": "function", "function": {"name": "lookup", "description": "Look a word or short phrase up in the English-Spanish dictionary.",
     "parameters": {"type": "object", "properties": {
         "word": {"type": "string", "description": "the word or phrase"},
         "from": {"type": "string", "enum": ["en", "es"], "description": "the language of the word"}},
         "required": ["word", "from"]}}},
]

# The chat template (GGUF tokenizer.chat_template): ChatML; with tools, one
# system message first naming them (the user's own system message, if any,
# goes in it before the tool line). An assistant turn that called a tool is its
# raw text, a tool result is a "tool" message (src/atento.h).
TEMPLATE = (
    "{%- if tools %}<|im_start|>system\n{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] + '\n' }}{% endif %}"
    "tools: {% for t in tools %}{{ t['function']['name'] }}{% if not loop.last %}, {% endif %}{% endfor %}<|im_end|>\n{% endif %}"
    "{% for message in messages %}{% if not (tools and loop.first and message['role'] == 'system') %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def tools_system(system=None):
    names = ", ".join(t["function"]["name"] for t in TOOLS)
    return {"role": "system", "content": (system + "\n" if system else "") + "tools: " + names}


def render(msgs, tools=True, add_generation_prompt=False):
    """Python twin of TEMPLATE (for tests and prompts)."""
    out = []
    if tools:
        sys_msg = msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else None
        if sys_msg is not None:
            msgs = msgs[1:]
        out.append(tools_system(sys_msg))
    out += msgs
    return chat_data.render(out, add_generation_prompt)


def call(name, args):
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": args}, ensure_ascii=False) + "\n</tool_call>"


# ---------------------------------------------------------------------------
# Phrasings. {x} is the text asked about (quoted by q()).
ASK_TO_ES_EN = ["How do you say {x} in Spanish?", "How do I say {x} in Spanish?", "How would you say {x} in Spanish?",
                "What is {x} in Spanish?", "What's {x} in Spanish?", "Translate to Spanish: {x}", "Translate into Spanish: {x}",
                "Can you translate {x} into Spanish?", "Please translate {x} to Spanish.", "Translate: {x}", "Translate {x}",
                "Spanish for {x}?", "{x} in Spanish?", "What's the Spanish word for {x}?", "How do you say {x} in spanish",
                "how do you say {x} in Spanish?", "Say {x} in Spanish", "What is the Spanish for {x}?", "Spanish: {x}",
                "I want to say {x} in Spanish.", "How to say {x} in Spanish?"]
ASK_TO_ES_ES = ["¿Cómo se dice {x} en español?", "¿Cómo digo {x} en español?", "¿Qué significa {x}?", "Traduce al español: {x}",
                "Traduce: {x}", "¿Puedes traducir {x} al español?", "¿Qué quiere decir {x}?", "¿{x} en español?",
                "Cómo se dice {x} en español", "¿Qué significa {x} en español?"]
ASK_TO_EN_EN = ["What does {x} mean?", "What does {x} mean in English?", "How do you say {x} in English?", "Translate to English: {x}",
                "Translate into English: {x}", "Can you translate {x} into English?", "Translate: {x}", "Translate {x}",
                "{x} in English?", "What is {x} in English?", "What's {x} in English?", "Meaning of {x}?", "what does {x} mean",
                "What is the meaning of {x}?", "English for {x}?", "What's the English word for {x}?"]
ASK_TO_EN_ES = ["¿Cómo se dice {x} en inglés?", "¿Cómo digo {x} en inglés?", "¿Qué significa {x} en inglés?", "Traduce al inglés: {x}",
                "Traduce: {x}", "¿Puedes traducir {x} al inglés?", "¿{x} en inglés?", "¿Qué quiere decir {x} en inglés?",
                "Cómo se dice {x} en inglés"]
BARE = ["{x}", "{x}?", "{x}"]
FOLLOW_EN = ["And {x}?", "and {x}?", "What about {x}?", "And {x}", "how about {x}?", "And what about {x}?", "Now {x}."]
FOLLOW_ES = ["¿Y {x}?", "y {x}?", "¿Y qué tal {x}?", "Y {x}", "¿Y cómo se dice {x}?"]
TYPOS = [("Spanish", "spanish"), ("Spanish", "Spansih"), ("English", "english"), ("English", "Englsh"), ("How do you", "How do u"),
         ("How do you", "how do yo"), ("Translate", "Tranlate"), ("Translate", "translate"), ("mean", "means"),
         ("What does", "What dose"), ("español", "espanol"), ("inglés", "ingles"), ("¿", ""), ("significa", "signifca")]

# Answers: (lead for the result of a lookup, lead for a translation).
ANS_ES_EN = ['In Spanish: "{r}"', 'You can say: "{r}"', 'In Spanish: "{r}"', 'In Spanish it is "{r}".']
ANS_ES_ES = ['En español: "{r}"', 'Puedes decir: "{r}"', 'En español: "{r}"']
ANS_EN_EN = ['In English: "{r}"', 'It means: "{r}"', 'In English: "{r}"', 'It means "{r}".']
ANS_EN_ES = ['En inglés: "{r}"', 'Significa: "{r}"', 'En inglés: "{r}"']

HELP_EN = ["What can you do?", "Who are you?", "Can you help me?", "How does this work?", "What are you?", "Help"]
HELP_ES = ["¿Qué puedes hacer?", "¿Quién eres?", "¿Me puedes ayudar?", "¿Cómo funciona esto?", "Ayuda"]
HELP_REPLY_EN = ["I'm an English-Spanish tutor. Ask me how to say a word or a sentence in Spanish or in English, "
                 "or what a word means, and I will look it up or translate it.",
                 "I can translate words and sentences between English and Spanish. Try: How do you say \"thank you\" in Spanish?"]
HELP_REPLY_ES = ["Soy un tutor de inglés y español. Pregúntame cómo se dice una palabra o una frase, o qué significa, "
                 "y la busco o la traduzco.",
                 "Traduzco palabras y frases entre inglés y español. Prueba: ¿Cómo se dice \"gracias\" en inglés?"]


def norm(s):
    s = s.lower().strip()
    s = re.sub(r"[¿?¡!.,;:\"'“”«»]", " ", s)
    return " ".join(s.split())


def read_eval(path):
    rows = []
    for line in open(path, encoding="utf-8"):
        if not line.strip() or line.startswith("#"):
            continue
        d, item, acc = line.rstrip("\n").split("\t")
        rows.append((d, item, acc.split("|")))
    return rows


class Sources:
    """Words and sentences the conversations ask about, with their tool results."""

    def __init__(self, train_pairs, exclude=()):
        ex = set()
        for item in exclude:
            ex.add(norm(item))
        self.excluded = ex
        word_re = re.compile(r"^[a-záéíóúüñ'-]+$")
        self.words = {"en": [], "es": []}
        for frm in ("en", "es"):
            for head, trans in freedict.entries(frm).items():
                if norm(head) in ex or not word_re.match(head) or len(head) < 2:
                    continue
                self.words[frm].append(head)
            self.words[frm].sort()
        # a word missing from one direction's dictionary: its translation from the other one
        self.reverse = {"en": {}, "es": {}}
        for frm, to in (("en", "es"), ("es", "en")):
            for head, trans in freedict.entries(to).items():
                if norm(head) in ex or not word_re.match(head):
                    continue
                for t in trans[:3]:
                    t = t.strip().lower()
                    if word_re.match(t) and norm(t) not in ex and t not in freedict.entries(frm):
                        self.reverse[frm].setdefault(t, head)
        self.reverse_words = {k: sorted(v) for k, v in self.reverse.items()}
        self.pairs, self.short = [], []
        for en, es in train_pairs:
            if norm(en) in ex or norm(es) in ex or '"' in en or '"' in es:
                continue
            self.pairs.append((en, es))
            if len(en.split()) <= 5:
                self.short.append((en, es))

    def lookup(self, word, frm):
        return freedict.lookup(word, frm)


def q(rng, x):
    r = rng.random()
    if r < 0.45:
        return '"' + x + '"'
    if r < 0.6:
        return "'" + x + "'"
    if r < 0.65:
        return "“" + x + "”"
    if r < 0.68:
        return "«" + x + "»"
    return x


def casing(rng, x):
    r = rng.random()
    if r < 0.1:
        return x.lower()
    if r < 0.13:
        return x.upper()
    if r < 0.2 and x:
        return x[0].upper() + x[1:]
    return x


def typo(rng, s):
    if rng.random() < 0.12:
        a, b = rng.choice(TYPOS)
        if a in s:
            s = s.replace(a, b, 1)
    return s


def pick_subject(rng, src):
    """-> (text, language, kind) kind: word | missing | phrase."""
    frm = "en" if rng.random() < 0.5 else "es"
    r = rng.random()
    if r < 0.42:
        return rng.choice(src.words[frm]), frm, "word"
    if r < 0.52:
        return rng.choice(src.reverse_words[frm]), frm, "missing"
    en, es = rng.choice(src.short if rng.random() < 0.7 else src.pairs)
    text = en if frm == "en" else es
    if rng.random() < 0.35 and len(text.split()) <= 5:  # phrases are often asked without the final stop
        text = text.rstrip(".!")
    return text, frm, ("phrase", en, es)


def ask(rng, x, frm, ui_es, follow=False):
    """The user's question about x (language frm); ui_es: asked in Spanish.
    Typos and lower case touch the phrasing only, never x (the tool argument)."""
    xq = q(rng, x)
    if follow:
        tmpl = rng.choice(FOLLOW_ES if ui_es else FOLLOW_EN)
    elif rng.random() < 0.08:
        tmpl = rng.choice(BARE)
    elif frm == "en":
        tmpl = rng.choice(ASK_TO_ES_ES if ui_es else ASK_TO_ES_EN)
    else:
        tmpl = rng.choice(ASK_TO_EN_ES if ui_es else ASK_TO_EN_EN)
    if rng.random() < 0.06:
        tmpl = tmpl.lower()
    return typo(rng, tmpl).format(x=xq)


def exchange(rng, src, ui_es, follow_of=None):
    """One question and the assistant turns answering it (tool calls included)."""
    x, frm, kind = pick_subject(rng, src)
    if follow_of is not None:
        frm = follow_of
        while True:
            x, f2, kind = pick_subject(rng, src)
            if f2 == frm:
                break
    to = "es" if frm == "en" else "en"
    is_phrase = isinstance(kind, tuple)
    x_asked = x if is_phrase else casing(rng, x)
    if is_phrase and rng.random() < 0.08:
        x_asked = x_asked.lower()
    user = ask(rng, x_asked, frm, ui_es, follow=follow_of is not None)
    msgs = [{"role": "user", "content": user}]
    arg = x_asked.strip()
    single = len(arg.split()) == 1
    if single:
        word = arg.lower()
        res = src.lookup(word, frm) if kind != "missing" else "(no entry)"
        msgs += [{"role": "assistant", "content": call("lookup", {"word": word, "from": frm})},
                 {"role": "tool", "content": res}]
        if res == "(no entry)":
            tr = src.reverse[frm].get(word)
            if tr is None and is_phrase:
                tr = kind[2] if frm == "en" else kind[1]
            if tr is None:
                return None
            res = tr
            msgs += [{"role": "assistant", "content": call("translate", {"text": arg, "to": to})},
                     {"role": "tool", "content": res}]
    else:
        res = kind[2] if frm == "en" else kind[1]
        msgs += [{"role": "assistant", "content": call("translate", {"text": arg, "to": to})},
                 {"role": "tool", "content": res}]
    if to == "es":
        lead = rng.choice(ANS_ES_ES if ui_es else ANS_ES_EN)
    else:
        lead = rng.choice(ANS_EN_ES if ui_es else ANS_EN_EN)
    msgs.append({"role": "assistant", "content": lead.format(r=res)})
    return msgs, frm


def small(rng, kind, ui_es):
    if kind == "help":
        return [{"role": "user", "content": rng.choice(HELP_ES if ui_es else HELP_EN)},
                {"role": "assistant", "content": rng.choice(HELP_REPLY_ES if ui_es else HELP_REPLY_EN)}]
    u, a = chat_data.small_talk(rng, kind)
    return [{"role": "user", "content": u}, {"role": "assistant", "content": a}]


def conversation(rng, src):
    """A conversation with tools: optional system prompt, greeting or help,
    1-3 questions (follow-ups keep the previous direction), thanks / goodbye."""
    ui_es = rng.random() < 0.4
    msgs = []
    sysmsg = rng.choice(chat_data.SYSTEMS) if rng.random() < 0.2 else None
    r = rng.random()
    if r < 0.15:
        msgs += small(rng, "greet", ui_es)
    elif r < 0.2:
        msgs += small(rng, "help", ui_es)
    elif r < 0.23:
        msgs += small(rng, "thanks", ui_es)
    nq = rng.choice([1, 1, 1, 1, 2, 2, 3])
    prev = None
    for i in range(nq):
        follow = prev if (prev is not None and rng.random() < 0.45) else None
        ex = exchange(rng, src, ui_es, follow)
        if ex is None:
            continue
        turn, prev = ex
        msgs += turn
    if not any(m["role"] == "tool" for m in msgs):
        return None
    r = rng.random()
    if r < 0.12:
        msgs += small(rng, "thanks", ui_es)
    elif r < 0.22:
        msgs += small(rng, "bye", ui_es)
    return [tools_system(sysmsg)] + msgs


def drop_tool_turns(msgs):
    """The same conversation as a client that keeps only the final answers sends it."""
    out, i = [], 0
    while i < len(msgs):
        m = msgs[i]
        if m["role"] == "tool" or (m["role"] == "assistant" and m["content"].startswith("<tool_call>")):
            i += 1
            continue
        out.append(m)
        i += 1
    return out


def sample(rng, src):
    """One training conversation: 88% with tools, 8% of those with earlier
    tool turns dropped from the history; 12% without tools (the old direct answers
    and small talk, so the model still works with tools off)."""
    r = rng.random()
    if r < 0.88:
        while True:
            c = conversation(rng, src)
            if c is not None:
                break
        if rng.random() < 0.08:  # earlier exchanges without their tool turns; the last one keeps them
            last_user = max(i for i, m in enumerate(c) if m["role"] == "user" and i + 1 < len(c)
                            and c[i + 1]["content"].startswith("<tool_call>"))
            c = drop_tool_turns(c[:last_user]) + c[last_user:]
        return c
    return chat_data.conversation(rng, src.pairs)


if __name__ == "__main__":
    import sys
    import common
    split = common.load_split()
    ev = read_eval(__file__.replace("tool_data.py", "tutor_eval/everyday.tsv"))
    src = Sources(split["train"], exclude=[i for _, i, _ in ev] + [a for _, _, acc in ev for a in acc])
    print("words en %d es %d, reverse en %d es %d, pairs %d short %d" % (
        len(src.words["en"]), len(src.words["es"]), len(src.reverse_words["en"]), len(src.reverse_words["es"]),
        len(src.pairs), len(src.short)), file=sys.stderr)
    rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    for _ in range(4):
        c = sample(rng, src)
        print(chat_data.render(c))
