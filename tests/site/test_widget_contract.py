"""Every chapter widget follows the widget contract: JSON state, escaped HTML, labelled controls,
and imports that work in both CPython and Pyodide (tests/site/test_layout.py holds the tree's
dependency direction)."""

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from test_preference import fake_ctx
from widgets.build_context import BuildContext
from widgets.widget import Widget

MODULES = ["stages", "data_scale", "quick_check", "preference"]
VOID = {"br", "hr", "img", "input", "meta", "link", "line", "rect", "polyline", "path", "circle", "wbr"}
ALLOWED_IMPORTS = {"html", "math", "json", "re", "dataclasses", "functools", "itertools", "pathlib",
                   "typing", "__future__", "jinja2", "markupsafe", "widgets", "core", "asyncio", "copy", "time", "random"}


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


@pytest.mark.parametrize("name", MODULES + ["sft_run", "adapter_compare", "live_chat", "base_vs_assistant"])
def test_imports_only_what_pyodide_has(name):
    tree = ast.parse((Path(__file__).parents[2] / "widgets" / f"{name}.py").read_text())
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
    snippet = (Path(__file__).parents[2] / "docs" / "includes" / "glossary.md").read_text()
    pairs = re.findall(r"^\*\[([^\]]+)\]: (.+)$", snippet, re.M)
    assert {term.lower().rstrip("s") for term, _ in pairs} >= {t.lower() for t in DEFINITIONS}
    for term, text in pairs:
        assert definition(term) == text, term


def fences_in_docs():
    """(page, name, options) of every widget fence the site's pages use."""
    from site_plugins.fences.formatter import parse_options
    docs = Path(__file__).parents[2] / "docs"
    for page in sorted(docs.glob("*.md")):
        for source in re.findall(r"^```widget\n(.*?)^```$", page.read_text(encoding="utf-8"), re.S | re.M):
            yield (page.name, *parse_options(source))


def test_every_fence_in_the_docs_renders_to_the_contract(site_artifact):
    """Each fence of the site's pages, with the build context the site gives it: JSON state,
    balanced HTML, and every control with an action and a name a screen reader can say."""
    manifest = json.loads((site_artifact / "manifest.json").read_text())
    ctx = BuildContext(manifest=manifest, artifact_dir=site_artifact, model_path="models/site/")
    seen = set()
    for page, name, options in fences_in_docs():
        mod = load(name)
        assert isinstance(mod, Widget), (page, name)
        state = mod.initial_state(options, ctx)
        assert json.loads(json.dumps(state)) == state, (page, name)
        parser = Labelled()
        parser.feed(mod.render(state))
        assert parser.errors == [] and parser.stack == [], (page, name, parser.errors)
        assert parser.named, (page, name)
        for attrs, text in parser.named:
            assert attrs.get("data-action"), (page, name, attrs)
            assert "".join(text).strip() or attrs.get("aria-label") or attrs.get("id") in parser.label_for \
                or attrs["in_label"], (page, name, attrs)
        seen.add(name)
    assert {"live_chat", "preference", "template_view"} <= seen   # the collection found the chapter's fences


class Labelled(Balance):
    """Balance, plus each control's accessible name: a button's text, an aria-label, a
    <label for=...>, or a <label> around it."""

    def __init__(self):
        super().__init__()
        self.named, self.label_for, self.open_button, self.labels = [], set(), None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.labels += 1
            if attrs.get("for"):
                self.label_for.add(attrs["for"])
        if tag == "button":
            self.open_button = ({**attrs, "in_label": self.labels > 0}, [])
            self.named.append(self.open_button)
        elif tag in ("select", "input", "textarea") and attrs.get("type") != "hidden":
            self.named.append(({**attrs, "in_label": self.labels > 0}, []))
        super().handle_starttag(tag, list(attrs.items()))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "label":
            self.labels -= 1
        if tag == "button":
            self.open_button = None
        super().handle_endtag(tag)

    def handle_data(self, data):
        if self.open_button is not None:
            self.open_button[1].append(data)
