"""Render a chat template (Jinja) exactly as transformers' ``apply_chat_template(tokenize=False)``.

Templates come with model checkpoints, so they are untrusted code: they run in Jinja's immutable
sandbox, configured as transformers configures it (trim_blocks, lstrip_blocks, loop controls,
the ``{% generation %}`` tag, and the helpers ``raise_exception``, ``tojson``, ``strftime_now``,
``dict`` and ``namespace``). Same environment, same string, so the browser and the Python
references agree token for token.

    >>> smol = ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}"
    ...         "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    >>> render(smol, [{"role": "user", "content": "Hi"}])
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
"""

import functools
import json
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.utils
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATES = Path(__file__).parent / "templates"
# Older names for a message's reasoning; transformers copies them to what templates read.
_REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


class _Generation(jinja2.ext.Extension):
    """``{% generation %}...{% endgeneration %}``: marks assistant text for training masks.
    Rendering keeps the body unchanged, as transformers does when it is not tracking."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def _raise_exception(message):
    raise TemplateError(message)


def _tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # Not Jinja's own tojson: that one escapes <, >, & and ' for HTML, which a prompt must not see.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(format):
    return datetime.now().strftime(format)


class _TemplateDict:
    # dict() without handing the template the dict type itself (no attribute tricks on it).
    def __call__(self, *args, **kwargs):
        return dict(*args, **kwargs)

    def fromkeys(self, *args, **kwargs):
        return dict.fromkeys(*args, **kwargs)


class _Namespace(jinja2.utils.Namespace):
    # Refuses underscore names, which could reach interpreter internals through the namespace.
    def __init__(*args, **kwargs):
        self, args = args[0], args[1:]
        attrs = dict(*args, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name, value):
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name):
        if isinstance(name, str) and name.startswith("_"):
            raise SecurityError(f"Chat templates cannot store underscore-prefixed attributes on a namespace: {name!r}")


@functools.lru_cache(maxsize=16)
def compile_template(template: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals.update(raise_exception=_raise_exception, strftime_now=_strftime_now,
                       dict=_TemplateDict(), namespace=_Namespace)
    return env.from_string(template)


def _plain(value):
    """Only JSON types reach the sandbox (a str subclass could carry unsafe methods)."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    for base in (str, bool, int, float):
        if isinstance(value, base):
            return base(value) if base is not str else str.__str__(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return f"<{type(value).__name__}>"


def _message(message: dict) -> dict:
    """Drop None values (templates test for missing keys, not None) and alias reasoning fields."""
    message = {k: _plain(v) for k, v in message.items() if v is not None}
    reasoning = next((message[k] for k in _REASONING_FIELDS if message.get(k) is not None), None)
    if reasoning is not None:
        message = {"thinking": reasoning, **message, "reasoning_content": reasoning}
    return message


def render(template: str, messages: list, *, add_generation_prompt: bool = True, enable_thinking=None,
           tools=None, **variables) -> str:
    """The conversation as the template writes it.

    ``enable_thinking`` is only passed when not None, since templates test ``is defined``;
    ``tools`` are JSON schemas ({"type": "function", "function": {...}}); ``variables`` are any
    other template variables (transformers passes ``bos_token``, ``eos_token`` and friends).
    """
    if not messages:
        raise ValueError("Cannot render an empty conversation: give at least one message.")
    if enable_thinking is not None:
        variables["enable_thinking"] = enable_thinking
    return compile_template(template).render(
        messages=[_message(m) for m in messages], tools=_plain(tools), documents=None,
        add_generation_prompt=add_generation_prompt, **_plain(variables))


def load(name: str) -> str:
    """A template shipped in core/templates/, e.g. load("qwen3_tools.jinja")."""
    return (TEMPLATES / name).read_text(encoding="utf-8")
