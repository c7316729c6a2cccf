"""Every chapter widget follows the widget contract: JSON state, escaped HTML, labelled controls,
and imports that work in both CPython and Pyodide."""

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from test_preference import fake_ctx

MODULES = ["stages", "data_scale", "quick_check", "preference"]
VOID = {"br", "hr", "img", "input", "meta", "link", "line", "rect", "polyline", "path", "circle", "wbr"}
ALLOWED_IMPORTS = {"html", "math", "json", "re", "dataclasses", "functools", "itertools", "pathlib",
                   "typing", "__future__", "jinja2", "markupsafe", "widgets", "asyncio", "copy", "time", "random"}


class Balance(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.controls = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("button", "select", "input"):
            self.controls.append(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        if tag in ("button", "select", "input"):
            self.controls.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def load(name):
    import importlib
    return importlib.import_module(f"widgets.{name}")


@pytest.mark.parametrize("name", MODULES)
def test_state_is_json_and_html_is_balanced_with_labelled_controls(name):
    mod = load(name)
    state = mod.initial_state({}, fake_ctx())
    assert json.loads(json.dumps(state)) == state
    parser = Balance()
    parser.feed(mod.render(state))
    assert parser.errors == [] and parser.stack == []
    assert parser.controls, "a widget without controls"
    for attrs in parser.controls:
        assert attrs.get("data-action"), attrs
        if attrs.get("type") == "button":
            assert "aria-pressed" in attrs or attrs.get("data-action") in ("apply", "reset", "run", "answer")


@pytest.mark.parametrize("name", MODULES + ["sft_run", "adapter_compare", "live_chat", "chat_mode"])
def test_imports_only_what_pyodide_has(name):
    tree = ast.parse((Path(__file__).parents[1] / "widgets" / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "widgets").split(".")[0]} if node.level == 0 else {"widgets"}
        else:
            continue
        assert roots <= ALLOWED_IMPORTS, (name, roots)


def test_widget_glossary_matches_the_chapter_glossary():
    from widgets.glossary import DEFINITIONS, definition
    snippet = (Path(__file__).parents[1] / "docs" / "includes" / "glossary.md").read_text()
    pairs = re.findall(r"^\*\[([^\]]+)\]: (.+)$", snippet, re.M)
    assert {term.lower().rstrip("s") for term, _ in pairs} >= {t.lower() for t in DEFINITIONS}
    for term, text in pairs:
        assert definition(term) == text, term
