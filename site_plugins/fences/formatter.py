"""The `widget` custom fence of pymdownx.superfences (named in mkdocs.yml).

    ```widget
    name: template_view
    show_raw: true
    ```

becomes

    <div class="llmb-widget" data-widget="template_view" data-options="{&quot;show_raw&quot;: true}"
         data-state="{...initial state, HTML-escaped JSON...}">
      ...render(initial_state(options, ctx))...
    </div>

The page reads well with JavaScript off; in the browser data-state lets the runtime carry on from
exactly the state that was rendered, without repeating build-time work (ctx) in Pyodide. The state
is an attribute, not a <script type="application/json">: Material's instant navigation re-creates
every script of a new page without its type, which would run the JSON as JavaScript.
"""
from __future__ import annotations

import html
import importlib
import json
import re

import yaml
from mkdocs.exceptions import PluginError

NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

# Set by FencesPlugin.on_config for each build; the formatter has no other way to reach it.
context: dict = {"enabled": True, "package": "widgets", "ctx": None}  # ctx: a widgets.build_context.BuildContext
# superfences swallows a formatter's exceptions (the fence silently becomes plain code), so
# failures are collected here and FencesPlugin.on_page_content fails the build with them.
errors: list = []


def parse_options(source: str) -> tuple[str, dict]:
    """`name: chat\\ntemperature: 0.7` -> ("chat", {"temperature": 0.7})."""
    try:
        options = yaml.safe_load(source) or {}
    except yaml.YAMLError as e:
        raise PluginError(f"llmb-fences: widget fence is not `key: value` lines: {e}") from e
    if not isinstance(options, dict) or not isinstance(options.get("name"), str) or not NAME.match(options["name"]):
        raise PluginError(f"llmb-fences: widget fence needs `name: <module in widgets/>`, got {source.strip()!r}")
    options = dict(options)
    return options.pop("name"), options


def render_widget(name: str, options: dict) -> str:
    try:
        module = importlib.import_module(f"{context['package']}.{name}")
    except ModuleNotFoundError as e:
        raise PluginError(f"llmb-fences: widget `{name}`: no module {context['package']}/{name}.py ({e})") from e
    from widgets.widget import missing  # the contract every widget package follows

    lacking = missing(module)
    if lacking:
        raise PluginError(f"llmb-fences: widget `{name}`: {context['package']}/{name}.py is not a widget "
                          f"(no {', '.join(lacking)}; see docs/authors/widgets.md)")
    state = module.initial_state(options, context["ctx"])
    body = module.render(state)
    opts = html.escape(json.dumps(options, separators=(",", ":")), quote=True)
    data = html.escape(json.dumps(state, ensure_ascii=False, separators=(",", ":")), quote=True)
    return f'<div class="llmb-widget" data-widget="{name}" data-options="{opts}" data-state="{data}">{body}</div>'


def format_widget(source, language, css_class, options, md, **kwargs):
    try:
        name, widget_options = parse_options(source)
        if not context.get("enabled", True):
            return f'<div class="llmb-widget" data-widget="{name}"><p>(widget {name} off in this build)</p></div>'
        return render_widget(name, widget_options)
    except Exception as e:
        errors.append(str(e) if isinstance(e, PluginError) else f"llmb-fences: widget fence failed: {type(e).__name__}: {e}")
        return '<div class="llmb-widget llmb-widget--broken"></div>'

