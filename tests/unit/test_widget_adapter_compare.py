"""The before/after widget in CPython: its static render from build-time lanes, request choice,
and the live run on a pure-Python backend with a switchable adapter."""

import asyncio
import json

from widgets import adapter_compare as A
from core.backend import CountingBackend
from widgets.build_context import BuildContext
from widgets.demos import ADAPTER_REQUESTS, adapter_lane
from core.model_queue import ModelQueue

QUEUE = ModelQueue()


def lanes_for(backend, ids):
    return {lane: asyncio.run(adapter_lane(backend, Bytes(), ids, [ord("e")], scale, 6))
            for lane, scale in (("off", 0.0), ("on", 1.0))}


class Bytes:
    def id_to_bytes(self, i):
        return bytes([i % 256])


def ctx(backend):
    demos = {"adapter_lanes": {prompt: lanes_for(backend, list(b"ab")) for _, prompt, _, _ in ADAPTER_REQUESTS},
             "adapter_max_new_tokens": 6}
    manifest = {"schema_version": 1, "model": {"name": "Tiny"},
                "tokenizer": {"file": "tokenizer.json", "special_tokens": {"<|im_end|>": 2}, "stop_ids": [2]},
                "chat_template": {"text": ""},
                "onnx": {"file": "model.onnx", "sha256": "0" * 64, "bytes": 2_000_000, "inputs": {"input_ids": "ids"},
                         "outputs": {"logits": "logits"}},
                "files": {"model.onnx": {"sha256": "0" * 64, "bytes": 2_000_000},
                          "tokenizer.json": {"sha256": "1" * 64, "bytes": 0}}}
    return BuildContext(demos=demos, manifest=manifest, model_path="models/tiny/")


def test_build_time_lanes_differ_only_by_the_adapter():
    backend = CountingBackend(vocab_size=256, adapter=True)
    lanes = lanes_for(backend, list(b"ab"))
    assert lanes["off"]["prompt_ids"] == lanes["on"]["prompt_ids"]
    assert lanes["off"]["text"] == "cdefgh"[:len(lanes["off"]["text"])]  # counting up: c, d (stops at e)
    assert lanes["on"]["ids"][0] == ord("d") and lanes["on"]["ids"] != lanes["off"]["ids"]


def test_static_render_and_request_choice():
    state = A.initial_state({}, ctx(CountingBackend(vocab_size=256, adapter=True)))
    assert json.loads(json.dumps(state)) == state
    html = A.render(state)
    assert html.count('data-action="request"') == len(ADAPTER_REQUESTS)
    assert 'data-lane="off"' in html and 'data-lane="on"' in html and "(loads the model, 2.0 MB)" in html
    assert "Both lanes read" in html and "Tools on" in html
    moved = A.update(state, "request", "2")
    assert moved["current"] == 2 and "Think on" in A.render(moved)
    assert A.update(state, "request", "9")["current"] == 0          # out of range: unchanged


class Runtime:
    """What widgets/page.py's Runtime gives a widget, over a CountingBackend."""

    def __init__(self, backend):
        from core.generation import Generator
        self.cancel = None
        self.model = type("Model", (), {"backend": backend, "tokenizer": Bytes(),
                                        "generator": Generator(backend, Bytes().id_to_bytes, [])})()
        self.shown = 0

    def show(self, state):
        self.shown += 1

    async def load_model(self, path, choice="auto", on_progress=None):
        return self.model

    def turn(self, model, on_wait=None):
        return QUEUE.turn("test", on_wait, self.cancel)


def test_live_run_reproduces_the_build_and_leaves_the_chat_generator_honest():
    backend = CountingBackend(vocab_size=256, adapter=True)
    state = A.initial_state({}, ctx(backend))
    runtime = Runtime(backend)
    runtime.model.generator.cached = [1, 2, 3]

    async def go():
        return [s async for s in A.run(state, "run", None, runtime)]

    [final] = asyncio.run(go())
    assert final["status"] == "Both lanes match the build-time text, token for token."
    assert all(final["live"][lane]["match"] for lane in ("off", "on"))
    assert runtime.model.generator.cached == []          # the shared cache was used by someone else
    # a build made with another model would not match, and the widget says so
    other = A.initial_state({}, ctx(CountingBackend(vocab_size=256, adapter=True)))
    other["lanes"][other["requests"][0]["prompt"]]["on"]["ids"] = [1]

    async def again():
        return [s async for s in A.run(other, "run", None, Runtime(backend))]

    [final] = asyncio.run(again())
    assert final["status"] == "The live run differs from the build-time text (see the lanes)."


def test_an_export_without_adapter_says_so():
    state = A.initial_state({}, BuildContext(demos={"adapter_lanes": {}}, manifest={"model": {"name": "Tiny"}}))
    assert "without a post-training adapter" in A.render(state)
