"""The live chat widget: state, render and actions (pure Python; the browser glue runs it).

A fence ``name: live_chat`` (options: ``temperature``, ``top_p``, ``max_new_tokens``, ``system``,
``backend``) renders the chat with the model not loaded yet. ``load`` and ``send`` are long jobs
that go through ``run`` with a runtime (widgets/page.py) that loads the model and
shows intermediate states; everything else is ``update``.

    >>> from widgets.build_context import BuildContext
    >>> s = initial_state({}, BuildContext())
    >>> s["phase"], update(s, "temperature", "0.2")["settings"]["temperature"]
    ('idle', 0.2)
    >>> 'data-testid="chat-load"' in render(s)
    True
"""

from __future__ import annotations

import copy
import html
import random
import time

from . import safe_markdown
from core.chat import Chat
from core.downloads import download_sizes, size_text
from core.chat_mode import DEFAULT_SETTINGS, generation_config, mode_for, open_chat
from core.model_queue import WAITING, StoppedWaiting
from . import predictions
from core.tools import default_toolbox

RUN_ACTIONS = ("load", "send")
# Each stops a streaming reply; choosing another runtime then asks to load it.
CANCEL_ACTIONS = ("stop", "new_chat", "backend")
# The reader's while a load or a reply runs: typed text, a message waiting to go, the sliders and
# toggles (they apply from the next message on).
READER_FIELDS = ("draft", "note", "settings", "inspect", "focus", "nonce")
ESCAPE_ACTION = "inspect_close"  # Escape in the widget closes an open token's predictions
BACKENDS = {"auto": "Automatic", "webgpu": "WebGPU", "wasm": "WASM (CPU)"}
NO_FEATURE = {
    "think": "This model's chat template has no thinking mode.",
    "tools": "This model's chat template cannot describe tools.",
}


def initial_state(options: dict, ctx) -> dict:
    manifest = ctx.manifest
    model = manifest.get("model", {})
    template = manifest.get("chat_template", {})
    features = template.get("features", {})
    system = options.get("system")
    return {
        "model": {
            "name": model.get("name", "the model"),
            "path": ctx.model_path,
            "downloads": download_sizes(manifest),  # bytes per runtime (core/downloads.py)
        },
        "features": {"think": bool(features.get("think")), "tools": bool(features.get("tools"))},
        "system": system,
        # which model answers with both toggles off, and with either on (core/chat_mode.py)
        "who": {"off": mode_for(manifest, system=system).who, "on": mode_for(manifest, True, True, system).who}
        if model else {},
        "phase": "idle",  # idle | loading | ready | generating
        "progress": None,  # {"file", "loaded", "total", "source"} while loading
        "backend": {"choice": options.get("backend", "auto"), "active": "", "threads": 0, "note": ""},
        "settings": {
            "temperature": float(options.get("temperature", DEFAULT_SETTINGS["temperature"])),
            "top_p": float(options.get("top_p", DEFAULT_SETTINGS["top_p"])),
            "repetition_penalty": float(options.get("repetition_penalty", DEFAULT_SETTINGS["repetition_penalty"])),
            "max_new_tokens": int(options.get("max_new_tokens", DEFAULT_SETTINGS["max_new_tokens"])),
            "think": False,
            "tools": False,
            "predictions": False,  # record each token's candidates (widgets/predictions.py)
        },
        "messages": [],  # {"role", "content"}; assistant turns also carry "ids", "finish" and maybe "steps"
        "inspect": None,  # [message index, token index] whose predictions are open
        "pending": "",  # the reply being streamed
        "draft": "",
        "show_raw": False,
        "raw": "",  # the exact text the model saw last, its reply included
        "status": "The model is not loaded yet.",
        "note": "",  # what happens to a message sent while the chat was busy
        "stats": {"ttft_ms": None, "tok_s": None, "tokens": 0},
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def update(state: dict, action: str, value) -> dict:
    s = copy.deepcopy(state)
    if action == "draft":
        s["draft"] = value or ""
    elif action in ("temperature", "top_p"):
        s["settings"][action] = float(value)
    elif action in ("think", "tools"):
        s["settings"][action] = value == "true" and s["features"][action]
    elif action == "show_raw":
        s["show_raw"] = value == "true"
    elif action == "predictions":
        s["settings"]["predictions"] = value == "true"
        s["inspect"] = None
    elif action == "inspect":
        at = [int(x) for x in (value or "").split(":") if x.isdigit()]
        if len(at) == 2 and at != s.get("inspect") and _step(s, at) is not None:
            s["inspect"], s["focus"] = at, None
            s["nonce"] = s.get("nonce", 0) + 1     # the panel takes the focus, once
        else:                                      # the open token again: it closes
            s["focus"] = _focus_back(s, s.get("inspect"))
            s["inspect"] = None
    elif action == "inspect_close":
        s["focus"] = _focus_back(s, s.get("inspect"))
        s["inspect"] = None
    elif action == "backend":
        s["backend"]["choice"] = value if value in BACKENDS else "auto"
        if s["phase"] == "ready":
            s["phase"] = "idle"
            s["status"] = f"Press Load to start {s['model']['name']} on {BACKENDS[s['backend']['choice']]}."
    elif action == "stop":
        if s["phase"] == "generating":
            s["status"] = "Stopping…"
    elif action == "new_chat":
        s.update(messages=[], pending="", raw="", inspect=None)
        s["stats"] = {"ttft_ms": None, "tok_s": None, "tokens": 0}
        if s["phase"] == "ready":
            s["status"] = "New chat."
    return s


def _chat(state: dict, model) -> tuple:
    """A Chat on the loaded model holding the state's messages, configured for the toggles
    (core/chat_mode.py: the original model, or the adapter), whether that switch emptied the
    model's cache, and a function that turns the chat's messages back into the state's (keeping
    token ids and finish reasons of old turns)."""
    settings = state["settings"]
    mode = mode_for(model.info, settings["think"], settings["tools"], state["system"])
    # the generator is shared per model: it knows what the cache holds
    chat, reset = open_chat(mode, model.generator, model.tokenizer, default_toolbox())
    pairs = [({"role": m["role"], "content": m["content"]}, m) for m in state["messages"]]
    chat.messages += [plain for plain, _ in pairs]

    def shown() -> list:
        # By identity: the chat may have dropped old turns to fit its window.
        facts = {id(plain): old for plain, old in pairs}
        return [{**facts.get(id(m), {}), **m} for m in chat.messages[chat._first_turn():]]

    return chat, reset, shown


async def _load(s: dict, runtime):
    s["phase"], s["status"] = "loading", "Loading the model…"
    runtime.show(s)

    def progress(file, loaded, total, source):
        s["progress"] = {"file": file, "loaded": loaded, "total": total, "source": source}
        runtime.show(s)

    try:
        model = await runtime.load_model(s["model"]["path"], s["backend"]["choice"], progress)
    except Exception as e:
        s["phase"], s["progress"] = "idle", None
        s["status"] = f"Could not load the model: {e}. Press Load to try again."
        return s
    s["phase"], s["progress"] = "ready", None
    s["backend"].update(active=model.kind, threads=model.threads, note=model.note)
    where = "WebGPU" if model.kind == "webgpu" else f"WASM, {model.threads} thread{'s' if model.threads > 1 else ''}"
    s["status"] = f"Ready on {where} ({'from the browser cache' if model.source == 'cache' else 'downloaded'})."
    if model.note:
        s["status"] += " " + model.note[0].upper() + model.note[1:] + "."
    return s


async def _send(s: dict, text: str, runtime):
    model = await runtime.load_model(s["model"]["path"], s["backend"]["choice"])
    before = copy.deepcopy(s["messages"])
    s["messages"].append({"role": "user", "content": text})
    s.update(draft="", pending="", phase="generating", status="Thinking…")
    runtime.show(s)

    def waiting(holder):
        s["status"] = WAITING
        runtime.show(s)

    try:
        async with runtime.turn(model, waiting):
            s = await _answer(s, text, model, runtime)
        lost = runtime.device_lost(model)
        if not lost:
            return s
        # The GPU went away mid-reply (a driver reset, the tab in the background too long): the
        # reply starts again on WASM, and the chat stays there.
        runtime.forget_model(model)
        s["messages"] = before + [{"role": "user", "content": text}]
        s["backend"].update(choice="wasm")
        s.update(phase="generating", pending="", status=f"The GPU was lost ({lost}); starting WASM…")
        runtime.show(s)
        model = await runtime.load_model(s["model"]["path"], "wasm")
        s["backend"].update(active=model.kind, threads=model.threads)
        async with runtime.turn(model, waiting):
            return await _answer(s, text, model, runtime, f"The GPU was lost ({lost}); answered again on WASM. ")
    except StoppedWaiting:
        s["messages"].pop()
        s.update(phase="ready", pending="", draft=text, status="Stopped before the model was free; nothing was sent.")
        return s


async def _answer(s: dict, text: str, model, runtime, prefix: str = ""):
    """The reply to ``text`` (already shown as the last message), while this chat holds the model;
    ``prefix`` opens the final status line."""
    s["messages"].pop()
    chat, _, shown = _chat(s, model)
    s["messages"].append({"role": "user", "content": text})
    # A switch of model from the reader's side (the chat starts with the original) is announced.
    # The cache held the other scale's keys and values, so it was emptied: now, or already when
    # another widget ran the model with this scale.
    on = s["settings"]["think"] or s["settings"]["tools"]
    switched = f"Switched to {_who(s)}; the model's cache was cleared. " if s.get("answered_on", False) != on else ""
    s["answered_on"] = on
    s["status"] = switched + "Thinking…"
    runtime.show(s)
    started = time.perf_counter()
    first = []

    def on_text(piece):
        if not first:
            first.append(time.perf_counter())
        s["pending"] += piece
        s["status"] = f"Generating… {len(s['pending'])} characters"
        runtime.show(s)

    def on_tool(message):
        s["messages"] = shown()
        s["pending"] = ""
        runtime.show(s)

    dropped = []

    def on_drop(messages):
        dropped.extend(messages)
        s["messages"] = shown()
        runtime.show(s)

    # A seed per reply, kept with it: the same prompt, settings and seed give the same reply
    # (and the same predictions) anywhere, natively included.
    seed = random.randrange(1, 2 ** 31)
    config = generation_config(s["settings"], seed)
    recorder = predictions.Recorder(model.backend, config.sampling, model.tokenizer) if s["settings"].get("predictions") else None
    try:
        reply = await chat.send(text, config, on_text=on_text, on_tool=on_tool, on_drop=on_drop,
                                on_step=recorder.on_step if recorder else None, cancel=runtime.cancel)
    except Exception as e:
        s["messages"].pop()
        s.update(phase="ready", pending="", draft=text, status=f"Could not answer: {e}")
        return s
    ended = time.perf_counter()
    last = reply.rounds[-1]
    s["messages"] = shown()
    s["messages"][-1].update(ids=list(last.ids), finish=last.finish_reason, seed=seed)
    if recorder is not None:
        _attach_steps(s["messages"], reply.rounds, recorder.steps)
    s["raw"] = _raw(chat, last)
    tokens = sum(len(r.ids) for r in reply.rounds)
    ttft = (first[0] - started) * 1000 if first else None
    tok_s = (len(last.ids) - 1) / (ended - first[0]) if first and len(last.ids) > 1 and ended > first[0] else None
    s["stats"] = {"ttft_ms": ttft, "tok_s": tok_s, "tokens": tokens}
    runtime.timing("ttft_ms", ttft or 0.0)
    runtime.timing("decode_tok_s", tok_s or 0.0)
    runtime.timing("reply_tokens", tokens)
    note = {"cancelled": " (stopped)", "length": " (length limit)", "context": " (context window full)"}
    rate = f", {tok_s:.1f} tokens/s" if tok_s else ""
    window = model.backend.max_length
    gone = (f" The oldest {len(dropped)} message{'s' if len(dropped) > 1 else ''} no longer fit the model's "
            f"{window:,}-token window and {'were' if len(dropped) > 1 else 'was'} left out." if dropped else "")
    s.update(phase="ready", pending="",
             status=f"{prefix}{switched}{tokens} tokens{rate}{note.get(last.finish_reason, '')}.{gone}")
    return s


def _attach_steps(messages: list, rounds: list, steps: list) -> None:
    """Give each assistant message of the turn just answered the steps of its model call (one
    per token), and keep at most ``predictions.KEEP`` steps in the whole chat: older messages lose theirs
    whole and show as plain text again."""
    start = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1) + 1
    at = 0
    for m, r in zip([m for m in messages[start:] if m["role"] == "assistant"], rounds):
        m["steps"] = steps[at:at + len(r.ids)]
        at += len(r.ids)
    kept = 0
    for m in reversed(messages):
        if "steps" in m:
            kept += len(m["steps"])
            if kept > predictions.KEEP:
                del m["steps"]


def _focus_back(s: dict, closed) -> list | None:
    """Where the focus goes when a token's predictions close: the token (with a fresh nonce, so
    it moves once)."""
    s["nonce"] = s.get("nonce", 0) + 1
    return [closed[0], closed[1], s["nonce"]] if closed else None


def _step(s: dict, at: list):
    """The recorded step at [message index, token index], or None."""
    mi, ti = at
    steps = s["messages"][mi].get("steps", []) if 0 <= mi < len(s["messages"]) else []
    return steps[ti] if 0 <= ti < len(steps) else None


def _raw(chat: Chat, last) -> str:
    """The exact string of the last model call: prompt as rendered, then the reply's tokens."""
    prompt_ids = chat.generator.cached[: last.prompt_tokens]
    return chat.tokenizer.decode(prompt_ids + last.ids)


def queued(state: dict, action: str, value) -> dict:
    """A message sent while the model loads or a reply streams goes when that ends; say so."""
    s = copy.deepcopy(state)
    if action == "send" and (value or s["draft"]).strip():
        s["note"] = ("Your message will be sent when the model is ready." if s["phase"] == "loading"
                     else "Your message will be sent when this reply ends.")
    return s


async def run(state: dict, action: str, value, runtime):
    s = copy.deepcopy(state)
    if action == "load" and s["phase"] == "idle":
        yield await _load(s, runtime)
    elif action == "send":
        text = (value if value is not None else s["draft"]).strip()
        s["note"] = ""
        if not text:
            yield s
        elif s["phase"] == "ready":
            yield await _send(s, text, runtime)
        else:
            s["note"] = "Load the model first (the button above); your message is kept."
            yield s


def _message(m: dict, call: bool = False, tokens: str = "") -> str:
    role = m["role"]
    if role == "user":
        return f'<div class="llmb-msg llmb-msg--user"><span class="llmb-msg__who">You</span><div>{html.escape(m["content"]).replace(chr(10), "<br>")}</div></div>'
    if role == "tool":
        return f'<div class="llmb-msg llmb-msg--tool"><span class="llmb-msg__who">Tool result</span><pre>{html.escape(m["content"])}</pre></div>'
    ids = " ".join(str(t) for t in m.get("ids", []))
    attrs = (f' data-token-ids="{ids}" data-finish="{html.escape(m.get("finish", ""))}" data-seed="{m.get("seed", "")}"'
             if "ids" in m else "")
    # A reply that called a tool is the first of three steps: call -> result -> answer.
    kind, who = ("llmb-msg--call", "Model: tool call") if call else ("", "Model")
    return (f'<div class="llmb-msg llmb-msg--assistant {kind}" data-testid="chat-message-assistant"{attrs}>'
            f'<span class="llmb-msg__who">{who}</span>{tokens or _reply_html(m["content"])}</div>')


def _reply_html(text: str) -> str:
    """A reply as HTML; the reasoning before ``</think>`` (the prompt opened the block) goes into a
    collapsed "Thinking" section, so the answer reads on its own."""
    thought, sep, answer = text.partition("</think>")
    if not sep:
        return safe_markdown.to_html(text)
    thought = thought.replace("<think>", "").strip()
    return (f'<details class="llmb-msg__think" data-testid="chat-think"><summary>Thinking</summary>'
            f'<pre>{html.escape(thought)}</pre></details>{safe_markdown.to_html(answer.strip())}')


def _messages(s: dict) -> str:
    out = []
    msgs = s["messages"]
    for i, m in enumerate(msgs):
        call = m["role"] == "assistant" and i + 1 < len(msgs) and msgs[i + 1]["role"] == "tool"
        shown = s["settings"].get("predictions") and m.get("steps")
        focus = s.get("focus") or [None, None, 0]
        back = f"{focus[1]}@{focus[2]}" if focus[0] == i else ""
        out.append(_message(m, call, predictions.tokens_html(m["steps"], i, _open_token(s, i), back) if shown else ""))
        if shown and s.get("inspect") and s["inspect"][0] == i and _step(s, s["inspect"]):
            out.append(predictions.panel_html(_step(s, s["inspect"]), s["inspect"][1], s["settings"], s.get("nonce", 0)))
    if s["pending"] or s["phase"] == "generating":
        out.append('<div class="llmb-msg llmb-msg--assistant llmb-msg--pending" aria-busy="true">'
                   f'<span class="llmb-msg__who">Model</span>{safe_markdown.to_html(s["pending"]) or "<p>…</p>"}</div>')
    if not out:
        out.append('<p class="llmb-chat__empty">No messages yet.</p>')
    return "".join(out)


def _open_token(s: dict, i: int):
    return s["inspect"][1] if s.get("inspect") and s["inspect"][0] == i else None


def _toggle(s: dict, name: str, label: str) -> str:
    ok = s["features"][name]
    checked = " checked" if s["settings"][name] else ""
    disabled = "" if ok else " disabled"
    reason = "" if ok else f'<span class="llmb-chat__reason">{NO_FEATURE[name]}</span>'
    return (f'<span class="llmb-chat__feature"><label class="llmb-chat__toggle"><input type="checkbox" data-action="{name}"'
            f'{checked}{disabled}> {label}</label>{reason}</span>')


def _who(s: dict) -> str:
    """Which model answers the next message, in words."""
    on = s["settings"]["think"] or s["settings"]["tools"]
    return s["who"].get("on" if on else "off", "")


def render(s: dict) -> str:
    phase, settings = s["phase"], s["settings"]
    e = html.escape
    load_label = {"idle": f"Load the model ({size_text(s['model']['downloads'], s['backend']['choice'])})", "loading": "Loading…",
                  "ready": "Model loaded", "generating": "Model loaded"}[phase]
    bar = [f'<button type="button" class="md-button md-button--primary" data-action="load" data-testid="chat-load"'
           f'{"" if phase == "idle" else " disabled"}>{e(load_label)}</button>']
    options = "".join(f'<option value="{k}"{" selected" if k == s["backend"]["choice"] else ""}>{v}</option>'
                      for k, v in BACKENDS.items())
    # mid-reply, another runtime stops the reply (CANCEL_ACTIONS); mid-load it waits
    loading = " disabled" if phase == "loading" else ""
    bar.append(f'<label class="llmb-chat__backend">Runtime <select data-action="backend"{loading}>{options}</select></label>')
    if s["backend"]["active"]:
        bar.append(f'<span class="llmb-chat__badge" data-testid="chat-backend">{e(BACKENDS[s["backend"]["active"]])}</span>')
    p = s["progress"]
    if p:
        bar.append(f'<label class="llmb-chat__progress">{e(p["file"])} <progress data-testid="chat-progress" max="{p["total"]}" value="{p["loaded"]}"></progress> '
                   f'{_mb(p["loaded"])} / {_mb(p["total"])}</label>')
    ready = phase == "ready"
    compose = (
        f'<label class="llmb-chat__input">Message <textarea rows="2" data-action="draft" data-enter-action="send" data-testid="chat-input" '
        f'placeholder="Ask something, then press Enter (Shift+Enter for a new line)">{e(s["draft"])}</textarea></label>'
        f'<button type="button" class="md-button md-button--primary" data-action="send" data-testid="chat-send"{"" if ready else " disabled"}>Send</button>'
        f'<button type="button" class="md-button" data-action="stop" data-testid="chat-stop"{"" if phase == "generating" else " disabled"}>Stop</button>'
        f'<button type="button" class="md-button" data-action="new_chat"{"" if s["messages"] or s["pending"] else " disabled"}>New chat</button>'
    )
    knobs = (
        f'<label>Temperature <input type="range" min="0" max="1.5" step="0.05" value="{settings["temperature"]}" data-action="temperature"> '
        f'<output>{settings["temperature"]:.2f}</output></label>'
        f'<label>Top-p <input type="range" min="0.05" max="1" step="0.05" value="{settings["top_p"]}" data-action="top_p"> '
        f'<output>{settings["top_p"]:.2f}</output></label>'
        + _toggle(s, "think", "Think") + _toggle(s, "tools", "Tools")
        + f'<label class="llmb-chat__toggle"><input type="checkbox" data-action="show_raw"{" checked" if s["show_raw"] else ""}> Show the raw string</label>'
        + f'<label class="llmb-chat__toggle"><input type="checkbox" data-action="predictions" data-testid="chat-predictions-toggle"'
          f'{" checked" if settings.get("predictions") else ""}> Show predictions</label>'
    )
    raw = ""
    if s["show_raw"]:
        text = s["raw"] or "Send a message to see the exact string the model reads, special tokens included."
        raw = f'<pre class="llmb-chat__raw" data-testid="chat-raw">{e(text)}</pre>'
    who = f'<p class="llmb-chat__who" data-testid="chat-model">Answering: {e(_who(s))}</p>' if s["who"] else ""
    stats = s["stats"]
    data = "".join(f' data-{k.replace("_", "-")}="{v:.2f}"' for k, v in stats.items() if isinstance(v, float))
    return (
        f'<section class="llmb-chat" aria-label="Chat with {e(s["model"]["name"])}">'
        f'<div class="llmb-chat__bar">{"".join(bar)}</div>'
        f'<div class="llmb-chat__log" role="log" aria-live="polite" data-scroll-key="log">{_messages(s)}</div>'
        f'<div class="llmb-chat__compose">{compose}</div>'
        f'<div class="llmb-chat__knobs">{knobs}</div>{who}{raw}'
        + (f'<p class="llmb-chat__note" role="status" data-testid="chat-note">{e(s["note"])}</p>' if s.get("note") else "")
        + f'<p class="llmb-chat__status" role="status" data-testid="chat-status" data-phase="{phase}"{data}>{e(s["status"])}</p>'
        "</section>"
    )
