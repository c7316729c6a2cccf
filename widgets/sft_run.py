"""The post-training run behind the site's model: its loss curve, one training conversation with
the tokens SFT trained on highlighted, and the held-out evaluation.

Everything comes from the manifest's ``posttrain`` section, written by ``python -m export
--adapter``: the curve is the training log's masked loss in window means, the conversations are
the first ``tool`` and ``think`` examples the run trained on, tokenized at build time by
``core.token_view`` (the code the run itself used for its loss mask), and the evaluation is
the held-out table the export measured.

    >>> points([[10, 2.0], [20, 0.5]], "linear", 0.0, 2.0)[-1]
    (472.0, 113.5)
"""

from __future__ import annotations

import math
from html import escape

from .glossary import mark
from .markup import choices, group, table
from .template_view import token_rows, token_span

W, H = 480, 180
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 32
EXAMPLES = (("think", "Think block"), ("tool", "Tool call"))   # the first is shown first
UNSCORED = {  # what each example's model read without being scored on it
    "think": "The system prompt, the question and the think opener the app writes",
    "tool": "The system prompt, the tools block, the question and the tool's result",
}
CHECKS = {  # evaluation key: what it measures (its target comes with the evaluation)
    "tool_call": "Tools on, a tool is needed: a well-formed call of the right tool with the right arguments",
    "no_call": "Tools on, no tool is needed: no call",
    "think": "Thinking on: the think block closes and an answer follows",
    "plain_top1": "Tools on, no tool needed: next-token agreement with the original model on its own "
                  "plain replies (teacher-forced; secondary)",
}
FREE_ROWS = {  # free-generation row: what it is
    "original": "The original model, its own template",
    "off": "This site's chat, Think and Tools off (the adapter switched off)",
    "tools": "Tools on, a plain question (adapter on)",
    "think": "Think on, a plain question (adapter on)",
}


def initial_state(options, ctx):
    manifest = ctx.manifest
    post = manifest.get("posttrain")
    if not post:
        return {"absent": True, "model": manifest.get("model", {}).get("name", "the model")}

    tokenizer = ctx.tokenizer()
    template = manifest["chat_template"]["text"]
    samples = {}
    for kind, _ in EXAMPLES:
        sample = post["samples"][kind]
        rows = token_rows(tokenizer, template, sample["messages"], enable_thinking=sample["enable_thinking"],
                          tools=sample["tools"])
        samples[kind] = rows["tokens"]
    training = post["training"]
    return {"absent": False, "model": manifest["model"]["name"], "scale": options.get("scale", "linear"),
            "example": options.get("example", EXAMPLES[0][0]), "curve": training["loss_curve"],
            "window": training["loss_window"], "steps": training["steps"], "samples": samples,
            "evaluation": post.get("evaluation"), "free": post.get("free_generation")}


def update(state, action, value):
    s = dict(state)
    if action == "scale" and value in ("linear", "log"):
        s["scale"] = value
    elif action == "example" and value in dict(EXAMPLES):
        s["example"] = value
    return s


def axis(curve, scale) -> tuple:
    """(low, high) of the loss axis: from 0 on a linear axis, whole powers of ten on a log one."""
    losses = [loss for _, loss in curve]
    if scale == "log":
        return 10.0 ** math.floor(math.log10(max(min(losses), 1e-6))), 10.0 ** math.ceil(math.log10(max(losses)))
    return 0.0, max(losses)


def points(curve, scale, low, high) -> list:
    """Plot coordinates of each [step, loss] pair; the last step sits at the right edge."""
    f = (lambda v: math.log10(max(v, low))) if scale == "log" else (lambda v: v)
    span = (f(high) - f(low)) or 1.0
    return [(_x(step, curve[-1][0]), TOP + (H - TOP - BOTTOM) * (1 - (f(loss) - f(low)) / span))
            for step, loss in curve]


def _x(step, last) -> float:
    return LEFT + (W - LEFT - RIGHT) * step / last


def _ticks(low, high, scale) -> list:
    if scale == "log":
        return [10.0 ** e for e in range(round(math.log10(low)), round(math.log10(high)) + 1)]
    return [high * i / 4 for i in range(5)]


def _svg(state) -> str:
    curve, scale = state["curve"], state["scale"]
    low, high = axis(curve, scale)
    pts = points(curve, scale, low, high)
    parts = [f'<svg class="llmb-loss-chart" viewBox="0 0 {W} {H}" role="img" aria-label="Training loss of the '
             f'post-training run over {state["steps"]} steps, on a {scale} axis: from {curve[0][1]:.2f} to '
             f'{curve[-1][1]:.3f}">']
    for value in _ticks(low, high, scale):
        (_, y), = points([[1, value]], scale, low, high)
        label = f"{value:g}" if scale == "log" else f"{value:.2f}"
        parts.append(f'<line class="tick" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="tick" x="{LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{label}</text>')
    for step in (0, state["steps"] // 2, state["steps"]):
        parts.append(f'<text class="tick" x="{_x(step, curve[-1][0]):.1f}" y="{H - BOTTOM + 14}" text-anchor="middle">{step}</text>')
    parts.append(f'<text class="tick" x="{(LEFT + W - RIGHT) / 2:.0f}" y="{H - 4}" text-anchor="middle">step</text>')
    parts.append('<polyline class="loss" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    parts.append("</svg>")
    return "".join(parts)


def _example(state) -> str:
    rows = state["samples"][state["example"]]
    trained = sum(r[3] for r in rows)
    tokens = "".join(token_span(r) for r in rows)
    legend = (f"Green tokens carried the loss: {trained} of {len(rows)}. {UNSCORED[state['example']]} "
              f"were read but never scored.")
    return (f'<div class="llmb-tv-raw llmb-tv-mask" data-testid="sft-example">{tokens}</div>'
            f'<p class="llmb-legend">{mark(escape(legend))}</p>')


def _evaluation(state) -> str:
    ev = state["evaluation"]
    if not ev:
        return '<p class="llmb-note">This export did not evaluate the adapter.</p>'
    rows = []
    for key, what in CHECKS.items():
        if key not in ev["counts"]:
            continue
        c, rate, target = ev["counts"][key], ev["rates"][key], ev["targets"].get(key)
        met = "—" if target is None else "met" if rate >= target else "missed"
        rows.append(f'<tr data-check="{key}"><td>{escape(what)}</td><td>{rate:.0%} ({c["passed"]}/{c["of"]})</td>'
                    f'<td>{"none" if target is None else f"{target:.0%}"}</td><td>{met}</td></tr>')
    caption = "Held-out checks of the exported model, greedy, on requests unlike any in training"
    return (f'<div class="llmb-eval">{table(caption, ["Check", "Result", "Target", "Verdict"], rows)}</div>'
            + _free(state["free"]))


def _pct(c: dict, key: str) -> str:
    return f"{c[key] / max(c['of'], 1):.0%} ({c[key]}/{c['of']})"


def _free(free) -> str:
    """Free-running replies to held-out plain questions, per chat configuration."""
    if not free:
        return ""
    rows = []
    for key, what in FREE_ROWS.items():
        row = free["rows"].get(key)
        if row is None:
            continue
        g, s = row["counts"]["greedy"], row["counts"]["sampled"]
        v = free["verdict"].get(key)
        verdict = "—" if v is None else "met" if v["passed"] else "missed"
        rows.append(f'<tr data-free="{key}"><td>{escape(what)}</td><td>{_pct(g, "answered")}</td>'
                    f'<td>{_pct(g, "looped")}</td><td>{_pct(s, "answered")}</td><td>{_pct(s, "looped")}</td>'
                    f'<td>{_pct(s, "wrong_language")}</td><td>{verdict}</td></tr>')
    t = free["targets"]
    caption = (f'Free-running replies to {free["items"]} held-out plain questions, greedy and sampled '
               f'({len(free["seeds"])} seeds per question). Target with the adapter on: {t["answer_ratio"]:.0%} '
               f'of the original\'s answer rate, at most {100 * t["loop_points"]:.0f} points more loops')
    headers = ["Chat", "Answered, greedy", "Looped, greedy", "Answered, sampled", "Looped, sampled",
               "Wrong language, sampled", "Verdict"]
    return f'<div class="llmb-eval">{table(caption, headers, rows)}</div>'


def _buttons(action, current, options, label) -> str:
    return group(label, choices(action, current, options))


def render(state):
    if state["absent"]:
        return (f'<p class="llmb-note">{escape(state["model"])} on this site was exported without a '
                f'post-training adapter, so there is no run to show.</p>')
    return (f'<figure class="llmb-sft-run">'
            f'{_buttons("scale", state["scale"], (("linear", "Linear axis"), ("log", "Log axis")), "Axis")}'
            f'{_svg(state)}<figcaption>Masked cross-entropy on the trained tokens, averaged over windows of '
            f'{state["window"]} steps (one conversation per step).</figcaption></figure>'
            f'{_buttons("example", state["example"], EXAMPLES, "Training example")}{_example(state)}'
            f'{_evaluation(state)}')
