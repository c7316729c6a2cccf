"""Base vs assistant: one prompt, two real lanes and one labelled illustration.

The real lanes are the shipped model itself, fed the same question two ways: as bare text (the
way a base model is prompted) and wrapped in its chat template. Both were generated greedily at
build time by widgets/demos.py; "Run live" regenerates them in the browser with the same loop and
says whether every token matches. The third lane is written by hand to show what a model with no
post-training at all tends to do, and says so.
"""

from __future__ import annotations

import copy
from html import escape

from . import predictions
from core.chat_mode import mode_for
from core.downloads import download_sizes, size_text
from .demos import PROMPTS, from_ctx, lane_prompts
from core.generation import GenerationConfig, Generator
from .glossary import mark
from .live_lanes import each_lane, run_live
from .markup import choices
from core.sampling import GREEDY

RUN_ACTIONS = ("run",)
CANCEL_ACTIONS = ("stop",)

# What a pure base model often writes after each prompt: web-like continuations, written by hand.
ILLUSTRATIONS = {
    "What is 2 + 2?": "\nWhat is 3 + 5?\nWhat is 10 − 4?\nWhat is 6 × 7?\n\nWorksheet 1: adding "
                      "and subtracting. The answer key is on page 12.",
    "Name three primary colors.": "\nName three secondary colors.\nName the colors of the rainbow in "
                                  "order.\n\nArt class, unit 2: color theory worksheet",
    "How many legs does a spider have?": " And how many does an ant have? My son asked me and I honestly "
                                         "don't know. Thanks!\n\nBest answer:",
}
LANES = (("raw", "The same model, fed the bare text"),
         ("chat", "The same model, fed the chat template"))


def initial_state(options, ctx):
    demos = from_ctx(ctx)
    manifest = ctx.manifest
    lanes = {}
    for prompt in PROMPTS:
        lanes[prompt] = {lane: {k: d[k] for k in ("prompt_ids", "stop_ids", "ids", "text", "finish", "steps") if k in d}
                         for lane, d in demos["lanes"][prompt].items()}
    return {
        "prompts": list(PROMPTS),
        "current": int(options.get("prompt", 0)),
        "lanes": lanes,
        "inputs": {p: {lane: _input_text(ctx, lane_d["prompt_ids"]) for lane, lane_d in l.items()}
                   for p, l in lanes.items()},
        "max_new_tokens": demos["max_new_tokens"],
        "model": {"name": demos["model"]["name"], "path": ctx.model_path,
                  "downloads": download_sizes(manifest)},
        "specials": sorted(manifest.get("tokenizer", {}).get("special_tokens", {}), key=len, reverse=True),
        "phase": "idle",  # idle | running
        "live": {},  # lane -> {"text", "ids", "match"} for the current prompt
        "status": "",
    }


def _input_text(ctx, ids):
    """The exact text of the prompt ids, decoded with the artifact's tokenizer."""

    return ctx.tokenizer().decode(ids)


def update(state, action, value):
    s = copy.deepcopy(state)
    if action == "prompt" and value is not None and value.isdigit() and int(value) < len(s["prompts"]):
        if int(value) != s["current"]:
            s["current"], s["live"], s["status"] = int(value), {}, ""
    elif action == "stop" and s["phase"] == "running":
        s["status"] = "Stopping…"
    return s


async def run(state, action, value, runtime):
    """Regenerate both real lanes in the browser, greedily, and compare them token by token."""
    if action != "run" or state["phase"] != "idle":
        return
    s = copy.deepcopy(state)
    prompt = s["prompts"][s["current"]]
    yield await run_live(s, runtime, lambda model: _lanes(s, prompt, model, runtime), len(LANES))


async def _lanes(s, prompt, model, runtime):
    """Both lanes live, while this widget holds the model."""
    # the model a reader chats with by default, as at build time (widgets/demos.py)
    model.backend.set_adapter_scale(0.0)
    ids = lane_prompts(model.tokenizer, mode_for(model.info).template, prompt)

    async def one(lane, on_text):
        pre = s["lanes"][prompt][lane]
        generator = Generator(model.backend, model.tokenizer.id_to_bytes, pre["stop_ids"])
        r = await generator.generate(ids[lane], GenerationConfig(s["max_new_tokens"], GREEDY), on_text=on_text,
                                     cancel=runtime.cancel)
        return r.ids, r.text, r.finish_reason, ids[lane] == pre["prompt_ids"] and r.ids == pre["ids"]

    await each_lane(s, [lane for lane, _ in LANES], runtime, lambda lane: f"Generating the {lane} lane…", one)


def _specials(text, specials):
    """Escape text and mark the special tokens in it."""
    out = escape(text)
    for tok in specials:
        out = out.replace(escape(tok), f'<mark class="llmb-special">{escape(tok)}</mark>')
    return out


def _lane(title, kind, input_text, output, foot, specials=(), extra=""):
    inp = (f'<details class="llmb-lane-input"><summary>What the model saw</summary>'
           f'<pre>{_specials(input_text, specials)}</pre></details>' if input_text is not None else "")
    return (f'<section class="llmb-lane llmb-lane--{kind}" aria-label="{escape(title)}">'
            f'<h4 class="llmb-lane-title">{mark(escape(title))}</h4>{inp}'
            f'<pre class="llmb-lane-output" data-lane="{kind}">{_specials(output, specials)}</pre>'
            f'<p class="llmb-lane-foot">{foot}</p>{extra}</section>')


def render(state):
    prompt = state["prompts"][state["current"]]
    busy = state["phase"] == "running"
    picker = choices("prompt", state["current"], enumerate(state["prompts"]), disabled=busy)
    lanes = []
    for kind, title in LANES:
        pre = state["lanes"][prompt][kind]
        live = state["live"].get(kind)
        count = f"{len(pre['ids'])} token{'s' if len(pre['ids']) != 1 else ''}"
        ended = "ended at its stop token" if pre["finish"] == "stop" else "cut at the token limit"
        stops = ("No template means no turn to end, so only the end-of-text token may stop it."
                 if kind == "raw" else "It stops at the end-of-turn token, as a chat app does.")
        foot = (f"Real output of {escape(state['model']['name'])}, greedy, computed when this page "
                f"was built ({count}, {ended}). {stops}")
        text = pre["text"]
        if live is not None:
            text = live["text"]
            if live["match"] is True:
                foot = "Generated live in your browser: identical to the build-time text, token for token."
            elif live["match"] is False:
                foot = (f"Generated live in your browser: differs from the build-time text, which was: "
                        f"“{escape(pre['text'])}”")
            else:
                foot = "Generating live in your browser…"
        steps = pre.get("steps")
        # a live run that matched produced these very tokens, so the build-time predictions still
        # describe the text shown; one that differed does not
        shown = (f'<details class="llmb-lane-preds" data-testid="lane-predictions"><summary>What the model predicted '
                 f'at each token, computed when this page was built (open one)</summary>'
                 f'{predictions.static_html(steps, {"temperature": 0})}</details>'
                 if steps and (live is None or live["match"] is True) else "")
        lanes.append(_lane(title, kind, state["inputs"][prompt][kind], text, foot, state["specials"], shown))
    lanes.append(_lane("Illustration: a model with no post-training", "illustration", None,
                       ILLUSTRATIONS[prompt],
                       "Written by hand, not generated: this site ships no base checkpoint. It shows "
                       "the kind of web-like continuation a pure base model tends to produce."))
    size = size_text(state["model"]["downloads"], "auto")
    run = (f'<button type="button" class="llmb-btn llmb-btn--primary" data-action="run"'
           f'{" disabled" if busy else ""}>Run live in your browser'
           f'{f" (loads the model, {size})" if size else ""}</button>')
    stop = ('<button type="button" class="llmb-btn" data-action="stop">Stop</button>' if busy else "")
    return (f'<div class="llmb-bva">'
            f'<div class="llmb-row" role="group" aria-label="Prompt">{picker}</div>'
            f'<div class="llmb-lanes">{"".join(lanes)}</div>'
            f'<div class="llmb-row">{run}{stop}<span class="llmb-status" role="status" '
            f'data-status>{escape(state["status"])}</span></div></div>')
