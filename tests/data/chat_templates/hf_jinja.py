"""hf_jinja.py — Jinja2 configured as Hugging Face's apply_chat_template
configures it (sandboxed, trim_blocks, lstrip_blocks, loopcontrols, tojson
with ensure_ascii=False, raise_exception): the oracle of make_features.py
and make_families.py. Needs Jinja2 (Debian: python3-jinja2)."""
import json

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(m):
    raise jinja2.exceptions.TemplateError(m)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
