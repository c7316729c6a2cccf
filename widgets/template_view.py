"""The chat template widget: one conversation as chat bubbles, as the raw tokens the model reads,
or as the SFT loss mask over those tokens.

Everything that needs the tokenizer and the templates is computed at build time, for every
combination the reader can pick (template, thinking, tools), so the widget reacts instantly and
reads the same with JavaScript off. The shipped model's template is used while it can show what
is asked; thinking and tools switch to a Qwen3-style template (core/templates/), labelled so.

Which tokens SFT trains on comes from core/token_view.py: the model's own text of each
assistant turn, its end-of-turn token included. Each reply is tokenized apart from the prompt
before it, as the chat loop (and so the SFT run) tokenizes it.
"""

from __future__ import annotations

from html import escape

from core.chat_template import load
from .glossary import mark
from .markup import choices
from core.token_view import token_view
from core.tools import default_toolbox

SYSTEM = "You are a helpful assistant. Be concise."
USER = "What is 2 + 2?"
ANSWER = "4"
REASONING = ("The user wants 2 + 2.", "The calculator says 4.")  # per assistant turn, when thinking
QWEN3 = "qwen3_tools.jinja"
VIEWS = (("bubbles", "Chat bubbles"), ("raw", "Raw text the model sees"), ("mask", "SFT loss mask"))
BUTTONS = {"shipped": "The model's template", "original": "Its original template", "qwen3": "Qwen3-style template"}


def conversation(think: bool, tools: bool) -> list:
    """The example conversation; with tools the answer goes through one calculator call."""
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    turns = []
    if tools:
        turns.append({"role": "assistant", "content": "",
                      "tool_calls": [{"type": "function", "function": {
                          "name": "calculate", "arguments": {"expression": "2 + 2"}}}]})
        turns.append({"role": "tool", "content": "4"})
    turns.append({"role": "assistant", "content": ANSWER})
    if think:
        thoughts = iter(REASONING if tools else REASONING[:1])
        for m in turns:
            if m["role"] == "assistant":
                m["reasoning_content"] = next(thoughts)
    return msgs + turns


def token_rows(tokenizer, template, messages, *, enable_thinking, tools) -> dict:
    """Rows [text, id, special, trained] of the rendered conversation (from core.token_view),
    plus where the model's text of the last assistant turn starts and stops."""
    records = token_view(tokenizer, template, messages, enable_thinking=enable_thinking, tools=tools,
                         split_replies=True)
    rows = [[r.text, r.id, int(r.special), int(r.trained)] for r in records]
    stop = max(i for i, r in enumerate(rows) if r[3])
    gen_start = stop
    while gen_start > 0 and rows[gen_start - 1][3]:
        gen_start -= 1
    return {"tokens": rows, "gen_start": gen_start, "stop": stop}


def templates(manifest) -> list:
    """The templates the widget offers, as (key, text, think, tools): first the one the site's
    model runs with (the manifest's), then a second for comparison: the template a post-trained
    model had before, or else a Qwen3-style one with thinking and tools."""

    def entry(key, template):   # a manifest template: {"text", "features": {"think", "tools"}}
        features = template.get("features", {})
        return key, template["text"], bool(features.get("think")), bool(features.get("tools"))

    original = (manifest.get("posttrain") or {}).get("original_chat_template")
    second = entry("original", original) if original else ("qwen3", load(QWEN3), True, True)
    return [entry("shipped", manifest["chat_template"]), second]


def variants(ctx) -> dict:
    """Every (template, think, tools) combination the widget offers, computed once at build."""


    manifest = ctx.manifest
    tokenizer = ctx.tokenizer()
    schema = [default_toolbox().tools["calculate"].schema]
    out = {}
    for name, template, think_ok, tools_ok in templates(manifest):
        for think in ((False, True) if think_ok else (False,)):
            for tools in ((False, True) if tools_ok else (False,)):
                msgs = conversation(think, tools)
                rows = token_rows(tokenizer, template, msgs, enable_thinking=think if think_ok else None,
                                  tools=schema if tools else None)
                out[f"{name}:{int(think)}:{int(tools)}"] = {"messages": msgs, **rows}
    return out


def initial_state(options, ctx):
    manifest = ctx.manifest
    return {
        "view": options.get("view", "bubbles"),
        "template": "shipped",
        "think": False,
        "tools": False,
        "model": manifest["model"]["name"],
        "posttrained": bool(manifest.get("posttrain")),
        # key -> {"think": bool, "tools": bool}, in the order the buttons show
        "templates": {key: {"think": think, "tools": tools} for key, _, think, tools in templates(manifest)},
        "note": "",
        "variants": variants(ctx),
    }


def update(state, action, value):
    s = dict(state)
    features = s["templates"]
    if action == "view" and value in {v for v, _ in VIEWS}:
        s["view"] = value
    elif action == "template" and value in features:
        _use(s, value)
        s["note"] = ""
    elif action in ("think", "tools") and value in ("on", "off"):
        s[action] = value == "on"
        if s[action] and not features[s["template"]][action]:
            before = s["template"]
            _use(s, next(key for key, f in features.items() if f[action]))
            what = "thinking mode" if action == "think" else "tool support"
            s["note"] = (f"The {template_label(s, before)} has no {what}, so the view switched to the "
                         f"{template_label(s, s['template'])}.")
    return s


def _use(s, key):
    """Switch ``s`` to template ``key``, turning off what that template cannot show."""
    s["template"] = key
    s["think"] = s["think"] and s["templates"][key]["think"]
    s["tools"] = s["tools"] and s["templates"][key]["tools"]


def template_label(state, key) -> str:
    return {"shipped": f"template {state['model']} runs with on this site when Think or Tools is on" if state["posttrained"]
            else f"{state['model']}'s template",
            "original": f"{state['model']}'s original template",
            "qwen3": "Qwen3-style template"}[key]


def current(state) -> dict:
    return state["variants"][f"{state['template']}:{int(state['think'])}:{int(state['tools'])}"]


def token_span(row, extra=""):
    """One token row [text, id, special, trained] as a focusable span (id in its tooltip)."""
    text, token_id, special, trained = row
    shown = escape(text).replace("\n", "↵\n")
    cls = "llmb-tok" + (" special" if special else "") + (" trained" if trained else "")
    return f'<span class="{cls}" tabindex="0" data-id="{token_id}">{shown}</span>{extra}'


def _raw(var, mask):
    out = []
    for i, row in enumerate(var["tokens"]):
        if mask and i == var["gen_start"]:
            out.append('<span class="llmb-gen-start">generation starts</span>')
        out.append(token_span(row))
    return "".join(out)


def _bubbles(var):
    out = []
    for m in var["messages"]:
        role = m["role"]
        who = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool result"}[role]
        body = ""
        if m.get("reasoning_content"):
            body += f'<p class="llmb-muted"><em>Thinking: {escape(m["reasoning_content"])}</em></p>'
        for call in m.get("tool_calls", []):
            f = call["function"]
            args = ", ".join(f"{k}={v!r}" for k, v in f["arguments"].items())
            body += f'<pre>tool call: {escape(f["name"])}({escape(args)})</pre>'
        if m["content"]:
            body += f'<p>{escape(m["content"])}</p>'
        out.append(f'<div class="llmb-bubble llmb-bubble--{role}"><span class="who">{who}</span>{body}</div>')
    return f'<div class="llmb-bubbles">{"".join(out)}</div>'


def _toggle(action, label, on):
    return choices(action, "on" if on else "off", [(v, f"{label} {v}") for v in ("off", "on")])


def render(state):
    var = current(state)
    view = state["view"]
    views = choices("view", view, VIEWS)
    buttons = choices("template", state["template"], [(t, BUTTONS[t]) for t in state["templates"]])
    model = escape(state["model"])
    which = {
        "shipped": (f"Rendered with the chat template of {model}, the model on this site"
                    + (": the thinking and tools template it was post-trained to follow." if state["posttrained"]
                       else ".")),
        "original": (f"Rendered with the template {model} came with, before this site post-trained it; the "
                     "live chat uses it, with the original weights, while Think and Tools are off."),
        "qwen3": "Rendered with a Qwen3-style template (not the shipped model's own), to show thinking and tools.",
    }[state["template"]]
    if state["template"] != "original" and (state["think"] or state["tools"]):
        which += (f" Token ids come from {model}'s tokenizer, which splits tags like &lt;think&gt; into "
                  f"several pieces; a Qwen3 tokenizer keeps each as one token.")
    n = len(var["tokens"])
    trained = sum(r[3] for r in var["tokens"])
    if view == "bubbles":
        body = _bubbles(var)
    else:
        body = f'<div class="llmb-tv-raw{" llmb-tv-mask" if view == "mask" else ""}">{_raw(var, view == "mask")}</div>'
    legend = {
        "bubbles": "What a chat app shows. Switch to the raw view to see what the model actually reads.",
        "raw": f"{n} tokens. Highlighted: special tokens. Hover over or focus (Tab) a token to see its id.",
        "mask": f"Green tokens are the ones SFT trains on: {trained} of {n}. Everything else is read "
                f"but gets no loss.",
    }[view]
    note = f'<p class="llmb-note" role="status">{escape(state["note"])}</p>' if state["note"] else ""
    return (f'<div class="llmb-tv">'
            f'<div class="llmb-row" role="group" aria-label="View">{views}</div>'
            f'<div class="llmb-row" role="group" aria-label="Template">{buttons}</div>'
            f'<div class="llmb-row" role="group" aria-label="Thinking and tools">'
            f'{_toggle("think", "Thinking", state["think"])}{_toggle("tools", "Tools", state["tools"])}</div>'
            f'<p class="llmb-note" data-template="{state["template"]}">{mark(which)}</p>{note}'
            f'{body}<p class="llmb-legend">{mark(legend)}</p></div>')
