"""The page around the widgets (Pyodide only): ``mount(root)`` brings a widget placeholder to life.

The fence rendered it at build time with the widget's initial state in its ``data-state``
attribute; from then on events on ``[data-action]`` controls go to the widget's module:

- a click on a button, or a change of a select, checkbox or range, calls
  ``update(state, action, value)`` and re-renders; ``value`` is the control's value
  (checkbox: "true"/"false"), or a button's ``data-value`` (else None);
- typing in a text field updates the state without re-rendering (the caret stays put);
- Enter (without Shift) in a field with ``data-enter-action="A"`` dispatches action A;
  Escape anywhere in the widget dispatches the module's ``ESCAPE_ACTION``, if it has one;
- an element rendered with a new ``data-autofocus`` value takes the focus once (a panel that
  opened, the button that opened it when it closes);
- actions listed in the module's ``RUN_ACTIONS`` go to ``run(state, action, value, runtime)``
  instead, an async generator whose every yielded state is rendered (one job at a time: a run
  action arriving meanwhile waits for it, and the module's optional ``queued(state, action,
  value)`` says so); while it runs, actions in ``CANCEL_ACTIONS`` (default: "stop") set
  ``runtime.cancel`` and reach ``update`` at once and again on the job's last state (so a
  New chat pressed mid-reply is not undone by the reply's end);
- state keys in the module's ``READER_FIELDS`` belong to the reader while a job runs: a job's
  state keeps the reader's latest value of such a key (text typed during a model load or a
  reply) unless the job itself changed it.

What the reader did to the static render before Python was up (text typed, a box ticked, a
range moved) is read into the state when the widget mounts; llmb.js replays a click or Enter
made meanwhile.
"""
from __future__ import annotations

import asyncio
import importlib
import json

import js
from pyodide.ffi import create_proxy

from core import backend_browser
from core.backend_browser import Model, absent

from .build_context import BuildContext

_TEXT_INPUTS = {"text", "search", "email", "url", ""}


class Flag:
    """A cancel request the generation loop polls between tokens (``is_set`` like an Event)."""

    def __init__(self):
        self._set = False

    def set(self):
        self._set = True

    def clear(self):
        self._set = False

    def is_set(self) -> bool:
        return self._set


class Runtime:
    """What a widget's ``run`` receives: model loading, a cancel flag and a way to show progress."""

    def __init__(self, mounted: "Mounted"):
        self._mounted = mounted
        self.cancel = mounted.cancel
        self.isolated = bool(js.crossOriginIsolated)

    def show(self, state: dict) -> None:
        """Render an intermediate state (download progress, streamed text) at the next frame:
        tokens can come faster than frames, and the page must stay responsive meanwhile."""
        self._mounted.state = self._mounted.adopt(state)
        self._mounted.render_soon()

    async def webgpu_problem(self) -> str:
        return await backend_browser.webgpu_problem()

    async def load_model(self, model_path: str, choice: str = "auto", on_progress=None) -> Model:
        return await backend_browser.load_model(model_path, choice, on_progress)

    def device_lost(self, model: Model) -> str:
        """Why the model's GPU device was lost, or "" (always "" on WASM)."""
        return str(model.backend._session.lost or "")

    def forget_model(self, model: Model) -> None:
        """Drop a model whose session cannot run any more, so the next load starts afresh."""
        backend_browser.forget(model)

    def turn(self, model: Model, on_wait=None):
        """``async with runtime.turn(model, on_wait):`` runs the block when the model is free
        (``on_wait(holder)`` hears that it is not yet); the widget's Stop works while waiting."""
        return model.queue.turn(self._mounted.name, on_wait, self.cancel)

    def timing(self, name: str, value: float) -> None:
        """Record a measurement where bench/ can read it (``llmb.timings``)."""
        setattr(js.llmb.timings, name, value)


_mounted: list = []


class Mounted:
    def __init__(self, root):
        self.root = root
        self.name = str(root.dataset.widget)
        self.module = importlib.import_module(f"widgets.{self.name}")
        state = root.getAttribute("data-state")
        if not absent(state):
            self.state = json.loads(str(state))
            root.removeAttribute("data-state")  # the live state is Python's from now on
        else:
            options = root.getAttribute("data-options")
            self.state = self.module.initial_state(json.loads(str(options)) if not absent(options) else {},
                                                   BuildContext())
        self.cancel = Flag()
        self.task = None
        self.queued = None  # a run action that arrived while a job was finishing
        self.after_job: list = []  # cancel actions taken during the job, applied again after it
        self.run_actions = set(getattr(self.module, "RUN_ACTIONS", ()))
        self.cancel_actions = set(getattr(self.module, "CANCEL_ACTIONS", ("stop",)))
        self.reader_fields = tuple(getattr(self.module, "READER_FIELDS", ()))
        self._job_saw: dict = {}  # reader field -> the value the running job last had for it
        self._focused: set = set()  # data-autofocus values already acted on
        self._carry_over(root)
        self._proxy = create_proxy(self._on_event)
        self._frame = create_proxy(self._on_frame)
        self._frame_pending = False
        for kind in ("click", "change", "input", "keydown"):
            root.addEventListener(kind, self._proxy)
        root.setAttribute("data-llmb-mounted", "live")
        self.render()

    def _carry_over(self, root) -> None:
        """Fields the reader changed in the static render before mounting go into the state."""
        for el in root.querySelectorAll("[data-action]"):
            tag, kind = str(el.tagName).lower(), str(getattr(el, "type", "") or "")
            action = str(el.getAttribute("data-action"))
            if tag == "input" and kind == "checkbox":
                if bool(el.checked) != bool(el.defaultChecked):
                    self.state = self.module.update(self.state, action, "true" if el.checked else "false")
            elif tag == "select":
                default = el.querySelector("option[selected]")
                if not absent(default) and str(el.value) != str(default.value):
                    self.state = self.module.update(self.state, action, str(el.value))
            elif tag in ("input", "textarea") and str(el.value) != str(el.defaultValue):
                self.state = self.module.update(self.state, action, str(el.value))
                el.llmbRendered = el.value

    def adopt(self, state: dict) -> dict:
        """A running job's ``state``, with the reader's latest value of each reader field the
        job did not change since it last looked."""
        for key in self.reader_fields:
            if key in state and state[key] == self._job_saw.get(key, state[key]) and key in self.state:
                state[key] = self.state[key]
            self._job_saw[key] = state.get(key)
        return state

    def detach(self) -> None:
        self.cancel.set()
        for kind in ("click", "change", "input", "keydown"):
            self.root.removeEventListener(kind, self._proxy)
        self._proxy.destroy()
        self._frame.destroy()

    def render_soon(self) -> None:
        if not self._frame_pending:
            self._frame_pending = True
            js.requestAnimationFrame(self._frame)

    def _on_frame(self, _timestamp) -> None:
        self._frame_pending = False
        if self.root.isConnected:
            self.render()

    def render(self) -> None:
        """Morph the widget to the module's render of the state (llmb.js keeps elements that
        stay, so focus, a half-typed message and a pressed button survive every token)."""
        root = self.root
        ends = {}
        for el in root.querySelectorAll("[data-scroll-key]"):
            ends[str(el.getAttribute("data-scroll-key"))] = el.scrollTop + el.clientHeight >= el.scrollHeight - 8
        js.llmb.morph(root, self.module.render(self.state))
        for el in root.querySelectorAll("[data-scroll-key]"):
            if ends.get(str(el.getAttribute("data-scroll-key")), True):
                el.scrollTop = el.scrollHeight  # follow a streaming reply unless the reader scrolled up
        # An element the render marks with a new data-autofocus value takes the focus, once.
        for el in root.querySelectorAll("[data-autofocus]"):
            nonce = str(el.getAttribute("data-autofocus"))
            if nonce not in self._focused:
                self._focused.add(nonce)
                el.focus()

    def _on_event(self, event) -> None:
        target = event.target
        if absent(target) or not hasattr(target, "closest"):
            return
        escape = getattr(self.module, "ESCAPE_ACTION", None)
        if str(event.type) == "keydown" and event.key == "Escape" and escape:
            self.dispatch(escape, None)
            return
        el = target.closest("[data-action]")
        if absent(el) or not self.root.contains(el):
            return
        tag = str(el.tagName).lower()
        field = tag in ("input", "textarea", "select")
        kind = str(event.type)
        action = str(el.getAttribute("data-action"))
        if kind == "keydown":
            enter = el.getAttribute("data-enter-action")
            if (not absent(enter) and event.key == "Enter" and not event.shiftKey
                    and not event.isComposing):
                event.preventDefault()
                self.state = self.module.update(self.state, action, str(el.value))
                self.dispatch(str(enter), str(el.value))
            return
        typing = tag == "textarea" or (tag == "input" and str(el.type) in _TEXT_INPUTS)
        if kind == "input":
            if typing:
                self.state = self.module.update(self.state, action, str(el.value))
                el.llmbRendered = el.value  # the state has what the field shows (see llmb.js morph)
            return
        if kind == "click" and field or kind == "change" and (not field or typing):
            return
        if tag == "input" and str(el.type) == "checkbox":
            value = "true" if el.checked else "false"
        elif field:
            value = str(el.value)
        else:
            value = str(el.getAttribute("data-value")) if el.hasAttribute("data-value") else None
        self.dispatch(action, value)

    def dispatch(self, action: str, value) -> None:
        running = self.task is not None and not self.task.done()
        if action in self.run_actions:
            if running:
                # One live job per widget. The job may be rendering its last state right now, so
                # the next one waits for it rather than being dropped.
                self.queued = (action, value)
                queued = getattr(self.module, "queued", None)
                if queued is not None:
                    self.state = queued(self.state, action, value)
                    self.render()
                return
            self.cancel.clear()
            self.task = asyncio.ensure_future(self._run(action, value))
            return
        if running and action in self.cancel_actions:
            self.cancel.set()
            self.queued = None
            self.after_job.append((action, value))
        self.state = self.module.update(self.state, action, value)
        self.render()

    async def _run(self, action: str, value) -> None:
        self._job_saw = {key: self.state.get(key) for key in self.reader_fields}
        try:
            async for state in self.module.run(self.state, action, value, Runtime(self)):
                self.state = self.adopt(state)
                self.render()
        except Exception as e:
            js.console.error(f"widget {self.name}: {action} failed: {e}")
            raise
        finally:
            if self.after_job:
                for late, late_value in self.after_job:
                    self.state = self.module.update(self.state, late, late_value)
                self.after_job = []
                self.render()
            if self.queued is not None:
                (action, value), self.queued = self.queued, None
                self.cancel.clear()
                self.task = asyncio.ensure_future(self._run(action, value))


def mount(root) -> None:
    _mounted.append(Mounted(root))


def forget_detached() -> None:
    """Drop widgets whose page instant navigation replaced (stopping any live job)."""
    for m in [m for m in _mounted if not m.root.isConnected]:
        m.detach()
        _mounted.remove(m)
