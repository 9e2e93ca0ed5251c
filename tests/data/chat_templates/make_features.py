#!/usr/bin/env python3
"""Writes features.txt for tests/c/test_chat_template.c: small templates, each
with the output Jinja2 gives when configured as Hugging Face's
apply_chat_template configures it (sandboxed, trim_blocks, lstrip_blocks,
loopcontrols, tojson with ensure_ascii=False, raise_exception), or, for the
cases that must fail, the error text atento's message must contain (the script
checks that Jinja2 fails on those too).

Needs Jinja2 (Debian: python3-jinja2); used here as an external oracle only.
    /usr/bin/python3 tests/data/chat_templates/make_features.py

Record format: "T <n>\\n<n bytes>\\n" then "E <n>\\n<n bytes>\\n" (expected
output) or "X <n>\\n<n bytes>\\n" (expected error substring).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_jinja import env  # noqa: E402

ROLES = ["system", "user", "assistant", "user", "assistant", "user"]
CONTENTS = ["You are a helpful tutor.", "Hello!", "Hi! How can I help?", "How do you say cat in Spanish?",
            '  "Gato".  ', "Thanks. And dog?"]
MESSAGES = [{"role": r, "content": c} for r, c in zip(ROLES, CONTENTS)]

OK = [
    "hello",
    "hello\n",
    "a\n\nb\n\n",
    "{{ 'x' }}",
    "{{ \"dq\\\"s\" }}|{{ 'a\\tb\\\\c\\'d' }}",
    "{{ 'a' 'b' \"c\" }}",
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 10 }} {{ 10 - 3 - 2 }}",
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 10 // 3 * 3 + 10 % 3 }}",
    "{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ 1e3 }} {{ 3.0 }} {{ 1 / 3 }} {{ 1e20 }} {{ 2.5e-7 }}",
    "{{ true + 1 }} {{ -1|abs }} {{ -(2) }} {{ 1_000 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ 1.5 }}",
    "{{ none }}|{{ nothing }}|{{ true }}|{{ false }}",
    "{{ [1, 'a', none, true, 1.5, [2]] }}",
    "{{ {'a': 1, 'b': [2, 'c']} }}",
    "{{ {'a': {'b': 'c'}}['a']['b'] }} {{ {'k': 'v'}.k }}",
    "{{ messages[0].role }} {{ messages[-1]['content'] }} {{ messages|length }} {{ messages[0]['nope'] }}|{{ messages[10] }}|",
    "{{ messages[1:3]|map(attribute='role')|join(',') }}",
    "{{ messages[::-1][0].content }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ 'hello'[-2:] }} {{ [1,2,3,4][::2] }}",
    "{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}",
    "{% for x in [] %}a{% else %}empty{% endfor %}",
    "{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content }};{% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}{% for k, v in {'c': 3}|items %}{{ k }}{{ v }}{% endfor %}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% set x = 1 %}{% for i in range(3) %}{% set x = i %}{% endfor %}{{ x }}",
    "{% set ns = namespace(c=0, s='') %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.c = ns.c + 1 %}{% set ns.s = ns.s ~ m.role[0] %}{% endif %}{% endfor %}{{ ns.c }}{{ ns.s }}",
    "{% set x %}a{{ 1 }}b{% endset %}[{{ x }}]",
    "{% for n in [1, 2, 3, 4] %}{% if n == 1 %}one{% elif n == 2 %}two{% elif n == 3 %}three{% else %}many{% endif %} {% endfor %}",
    "{{ 'y' if 1 > 2 else 'n' }}|{{ 'y' if false }}|{{ 'a' if '' else 'b' }}",
    "{{ x is defined }} {{ messages is defined }} {{ none is none }} {{ 'a' is string }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 1 is number }} {{ [1] is iterable }} {{ {} is mapping }} {{ 'a' is not string }} {{ x is undefined }} {{ 2 is integer }} {{ 2.0 is float }} {{ true is boolean }}",
    "{{ 'ell' in 'hello' }} {{ 2 in [1, 2] }} {{ 'a' in {'a': 1} }} {{ 3 not in [1] }} {{ not 1 in [1] }}",
    "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ none or [] }} {{ '' and 1 }}|",
    "{{ messages[0]['role'] == 'system' and 'S' or 'N' }} {{ (messages|length) > 3 }} {{ 'a' < 'b' }} {{ 2 >= 2.0 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'a' }}",
    "{{ '  a b  '|trim }}|{{ 'xxaxx'.strip('x') }}|{{ ' a '.lstrip() }}|{{ ' a '.rstrip() }}|{{ '--a--'|trim('-') }}|",
    "{{ 'hello WORLD'|upper }} {{ 'Hello'|lower }} {{ 'hELLO wORLD'|capitalize }} {{ 'hello world-wide'|title }} {{ 'ab'.upper() }} {{ 'hi there'.title() }}",
    "{{ '\u00f1and\u00fa'|length }} {{ [1, 2]|length }} {{ {'a': 1}|length }} {{ 'abc'|count }}",
    "{{ [3, 1, 2]|first }} {{ [3, 1, 2]|last }} {{ 'abc'|first }} {{ [1, 2, 3]|join }} {{ [1, 2, 3]|join('-') }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }}",
    "{{ nothing|default('d') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ 'v'|d('x') }}",
    "{{ 'a-b-a'|replace('a', 'x') }} {{ '3'|int + 1 }} {{ 2|float }} {{ 2.7|int }} {{ 5|string ~ 'x' }} {{ [1]|string }}",
    "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a-b-c'.split('-', 1) }} {{ 'abcb'.find('b') }} {{ 'abcb'.count('b') }} {{ '-'.join(['x', 'y']) }}",
    "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith(('x', 'lo')) }} {{ 'hello'.startswith('lo') }} {{ 'a.b'.replace('.', '/') }}",
    "{{ {'a': 1}.get('a') }} {{ {'a': 1}.get('b', 2) }} {{ {'a': 1}.get('b') }} {{ {'a': 1, 'b': 2}.keys()|list }} {{ {'a': 1, 'b': 2}.values()|list }}",
    "{{ messages|selectattr('role', 'equalto', 'user')|map(attribute='content')|join('|') }}",
    "{{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }} {{ messages|selectattr('role', '==', 'system')|list|length }}",
    "{{ [0, 1, '', 'a', none]|select|list }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3]|reject('even')|list }}",
    "{{ {'a': [1, 2.5, 'x\"y', none, true], 'b\\n': {}}|tojson }}",
    "{{ '\u00f1 \\u0001'|tojson }} {{ [1, {'b': 2}, []]|tojson(indent=2) }}",
    "{{ messages[0]|tojson }}",
    "a  {{- 'b' -}}  c",
    "x\n  {%- if true %}y{% endif -%}\n  z",
    "  {% if true %}\nA\n  {% endif %}\nB",
    "start\n    {% for i in [1, 2] %}\n    item {{ i }}\n    {% endfor %}\nend\n",
    "x {% if true %}y{% endif %} z",
    "  {%+ if true %}kept{% endif %}\n",
    "{% if true +%}\nno trim{% endif %}",
    "a {# comment #} b|a\n{# c #}\nb|  {#- c -#}  x",
    "{%- for m in messages -%}\n  {{ m.role }}\n{%- endfor %}",
    "{% for m in messages %}{{ loop.previtem.role if loop.previtem is defined else '-' }}>{{ loop.nextitem.role if loop.nextitem is defined else '-' }} {% endfor %}",
    "{{ range(3)|list }} {{ range(1, 10, 3)|join(',') }} {{ range(5, 0, -2)|list }}",
    "{{ 'x' * 3 }} {{ 2 * 'ab' }} {{ [1] + [2] }} {{ 'a' + 'b' }}",
    "{% if messages %}yes{% endif %}{% if [] %}no{% endif %}{% if not none %}!{% endif %}",
    "{% if false %}{{ raise_exception('not raised') }}{% endif %}ok",
    "{{ '%s %d {}' }} {{ '{{' }} {{ '}}' }}",
    "{% set d = {'role': 'x'} %}{{ d.role }} {{ d['role'] }}{% set l = [1, 2] %}{{ l[1] }}{{ l|length }}",
    "{% set t = (1, 2, 3) %}{{ t }} {{ t[0] }}",
    "{% for c in 'ab' %}{{ c }}.{% endfor %}{% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}",
    "\r\nline1\r\nline2\r\n",
    "{{ messages[0].content|trim|upper|replace(' ', '_') }}",
    "{{ (messages|selectattr('role', 'equalto', 'assistant')|list)[-1].content|trim }}",
    "{% set c = '<think>\\nabc\\n</think>\\n\\nAns' %}{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ '</think>' in c }}",
    "{{ 5 is gt 3 }} {{ 2 is lt(3) }} {{ 3 is ge 3 }} {{ 1 is in [1, 2] }} {{ 'AB' is upper }} {{ 'ab' is lower }}",
]

FAIL = [
    ("{{ 'a' | shout }}", "unknown filter"),
    ("{% for %}{% endfor %}", "loop variable"),
    ("{{ raise_exception('boom ' ~ 42) }}", "template error: boom 42"),
    ("{{ 1 + }}", "unexpected"),
    ("{% if %}{% endif %}", "unexpected"),
    ("{% if true %}", "missing {% endif %}"),
    ("{% for x in [1] %}", "missing {% endfor %}"),
    ("{{ nothing + 1 }}", "undefined"),
    ("{{ 1 // 0 }}", "division by zero"),
    ("{{ 'a' < 1 }}", "cannot compare"),
    ("{% set ns = 5 %}{% set ns.a = 1 %}", "not a namespace"),
    ("{{ [1, 2] }", "unterminated"),
    ("{% endif %}", "unexpected {% endif %}"),
]


def main():
    out = []
    for t in OK:
        try:
            r = env.from_string(t).render(messages=MESSAGES, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
        except Exception as e:
            raise SystemExit("Jinja2 fails on %r: %s" % (t, e))
        tb, eb = t.encode(), r.encode()
        out.append(b"T %d\n%s\nE %d\n%s\n" % (len(tb), tb, len(eb), eb))
    for t, msg in FAIL:
        try:
            env.from_string(t).render(messages=MESSAGES, add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
        except Exception:
            pass
        else:
            raise SystemExit("Jinja2 renders a case expected to fail: %r" % t)
        tb, mb = t.encode(), msg.encode()
        out.append(b"T %d\n%s\nX %d\n%s\n" % (len(tb), tb, len(mb), mb))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "features.txt"), "wb") as f:
        f.write(b"".join(out))
    print(len(OK), "renderings,", len(FAIL), "failures")


if __name__ == "__main__":
    main()
