"""Before and after post-training: the same tools or think request, answered by the site's model
with its adapter switched off (the original weights) and on.

Both lanes read exactly the same prompt (the think/tools template, with its tools block or its
open think block), so the only difference is the adapter. They were generated greedily when the
page was built, by the chat loop over native onnxruntime (widgets/demos.py); "Run live" runs both
again in the browser through the same loop and says whether every token matches.
"""

from __future__ import annotations

import copy
from html import escape

from core.downloads import download_sizes, size_text
from .demos import ADAPTER_REQUESTS, adapter_lane, from_ctx
from .glossary import mark
from .live_lanes import each_lane, run_live
from .markup import choices

RUN_ACTIONS = ("run",)
CANCEL_ACTIONS = ("stop",)
LANES = (("off", "Adapter off: the original weights"), ("on", "Adapter on: after post-training"))


def initial_state(options, ctx):
    manifest = ctx.manifest
    demos = from_ctx(ctx)
    lanes = demos.get("adapter_lanes")
    if not lanes:
        return {"absent": True, "model": manifest.get("model", {}).get("name", "the model")}
    return {
        "absent": False,
        "requests": [{"label": label, "prompt": prompt, "think": think, "tools": tools}
                     for label, prompt, think, tools in ADAPTER_REQUESTS],
        "current": int(options.get("request", 0)),
        "lanes": lanes,
        "max_new_tokens": demos["adapter_max_new_tokens"],
        "model": {"name": manifest["model"]["name"], "path": ctx.model_path,
                  "downloads": download_sizes(manifest)},
        "specials": sorted(manifest.get("tokenizer", {}).get("special_tokens", {}), key=len, reverse=True),
        "phase": "idle",  # idle | running
        "live": {},  # lane -> {"text", "ids", "match"} for the current request
        "status": "",
    }


def update(state, action, value):
    s = copy.deepcopy(state)
    if s.get("absent"):
        return s
    if action == "request" and value is not None and value.isdigit() and int(value) < len(s["requests"]):
        if int(value) != s["current"] and s["phase"] == "idle":
            s["current"], s["live"], s["status"] = int(value), {}, ""
    elif action == "stop" and s["phase"] == "running":
        s["status"] = "Stopping…"
    return s


async def run(state, action, value, runtime):
    """Both lanes again in the browser, greedily, each compared token by token with the build."""
    if action != "run" or state.get("absent") or state["phase"] != "idle":
        return
    s = copy.deepcopy(state)
    prompt = s["requests"][s["current"]]["prompt"]
    yield await run_live(s, runtime, lambda model: _lanes(s, prompt, model, runtime), len(LANES))


async def _lanes(s, prompt, model, runtime):
    """Both lanes live, while this widget holds the model."""

    async def one(lane, on_text):
        pre = s["lanes"][prompt][lane]
        r = await adapter_lane(model.backend, model.tokenizer, pre["prompt_ids"], pre["stop_ids"],
                               1.0 if lane == "on" else 0.0, s["max_new_tokens"], on_text, runtime.cancel)
        return r["ids"], r["text"], r["finish"], r["ids"] == pre["ids"]

    await each_lane(s, [lane for lane, _ in LANES], runtime, lambda lane: f"Generating with the adapter {lane}…", one)


def _specials(text, specials):
    out = escape(text)
    for tok in specials:
        out = out.replace(escape(tok), f'<mark class="llmb-special">{escape(tok)}</mark>')
    return out


def render(state):
    if state.get("absent"):
        return (f'<p class="llmb-note">{escape(state["model"])} on this site was exported without a '
                f'post-training adapter, so there is nothing to compare.</p>')
    request = state["requests"][state["current"]]
    prompt = request["prompt"]
    busy = state["phase"] == "running"
    picker = choices("request", state["current"], [(i, r["label"]) for i, r in enumerate(state["requests"])],
                     disabled=busy)
    lanes = []
    for kind, title in LANES:
        pre = state["lanes"][prompt][kind]
        live = state["live"].get(kind)
        count = f"{len(pre['ids'])} token{'s' if len(pre['ids']) != 1 else ''}"
        ended = "ended at its end-of-turn token" if pre["finish"] == "stop" else "cut at the token limit"
        foot = f"Real output, greedy, computed at build time ({count}, {ended})."
        text = pre["text"]
        if live is not None:
            text = live["text"]
            foot = {True: "Generated live in your browser: identical to the build-time text, token for token.",
                    False: "Generated live in your browser: differs from the build-time text.",
                    None: "Generating live in your browser…"}[live["match"]]
        lanes.append(f'<section class="llmb-lane llmb-lane--{kind}" aria-label="{escape(title)}">'
                     f'<h4 class="llmb-lane-title">{escape(title)}</h4>'
                     f'<pre class="llmb-lane-output" data-lane="{kind}">{_specials(text, state["specials"])}</pre>'
                     f'<p class="llmb-lane-foot">{foot}</p></section>')
    what = "the live chat's prompt with Tools on" if request["tools"] else "the live chat's prompt with Think on"
    size = size_text(state["model"]["downloads"], "auto")
    run = (f'<button type="button" class="llmb-btn llmb-btn--primary" data-action="run"'
           f'{" disabled" if busy else ""}>Run both live in your browser'
           f'{f" (loads the model, {size})" if size else ""}</button>')
    stop = '<button type="button" class="llmb-btn" data-action="stop">Stop</button>' if busy else ""
    return (f'<div class="llmb-bva llmb-compare">'
            f'<div class="llmb-row" role="group" aria-label="Request">{picker}</div>'
            f'<p class="llmb-legend">“{escape(prompt)}” Both lanes read {mark(escape(what))}.</p>'
            f'<div class="llmb-lanes">{"".join(lanes)}</div>'
            f'<div class="llmb-row">{run}{stop}<span class="llmb-status" role="status" '
            f'data-status>{escape(state["status"])}</span></div></div>')
