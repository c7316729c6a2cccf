"""The live chat widget's pure part (state, render, update, run) on the fake counting backend,
and the escaping Markdown its replies go through. Runs under CPython and inside Pyodide."""

import asyncio
import copy
import html
import re

import pytest

from widgets import live_chat as L
from widgets import safe_markdown
from core.backend import CountingBackend
from widgets.build_context import BuildContext
from core.generation import Generator
from core.manifest import Manifest

TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
MANIFEST = {
    "schema_version": 1,
    "model": {"name": "Counting", "slug": "counting", "vocab_size": 256, "context_length": 4096},
    "tokenizer": {"file": "tokenizer.json", "special_tokens": {}, "eos_id": 101, "stop_ids": [101]},  # "e"
    "chat_template": {"text": TEMPLATE, "features": {"think": False, "tools": True}},
    "onnx": {"file": "model.onnx", "sha256": "0" * 64, "bytes": 98_600_000, "inputs": {"input_ids": "ids"},
             "outputs": {"logits": "logits"}, "cache": []},
    "files": {"model.onnx": {"sha256": "0" * 64, "bytes": 98_600_000}, "tokenizer.json": {"sha256": "1" * 64, "bytes": 2_000_000}},
}
from core.model_queue import ModelQueue

QUEUE = ModelQueue()


class Bytes:
    """A tokenizer whose ids are byte values."""

    def encode_with_special_tokens(self, text):
        return list(text.encode())

    def id_to_bytes(self, i):
        return bytes([i])

    def decode(self, ids):
        return bytes(ids).decode(errors="replace")


class Model:
    def __init__(self, manifest=MANIFEST):
        self.info = Manifest.from_dict(manifest)
        self.tokenizer = Bytes()
        self.backend = CountingBackend(vocab_size=256, max_length=4096)
        self.generator = Generator(self.backend, self.tokenizer.id_to_bytes, [101])
        self.kind, self.threads, self.source, self.note = "wasm", 2, "network", ""


class Runtime:
    def __init__(self, fail=None, manifest=MANIFEST):
        self.model, self.fail, self.shown, self.timings = Model(manifest), fail, [], {}
        self.cancel = None

    async def load_model(self, path, choice="auto", on_progress=None):
        if self.fail:
            raise RuntimeError(self.fail)
        if on_progress:
            on_progress("model.onnx", 50, 100, "network")
        return self.model

    def show(self, state):
        self.shown.append(L.render(state))

    def timing(self, name, value):
        self.timings[name] = value

    def device_lost(self, model):
        return ""

    def forget_model(self, model):
        pass

    def turn(self, model, on_wait=None):
        return QUEUE.turn("test", on_wait, self.cancel)


def unseeded(messages):
    """Messages without the seed each reply draws (greedy replies do not depend on it)."""
    return [{k: v for k, v in m.items() if k != "seed"} for m in messages]


def run(state, action, value, runtime):
    async def go():
        return [s async for s in L.run(state, action, value, runtime)]
    return asyncio.run(go())


@pytest.fixture
def state():
    return L.initial_state({"temperature": 0}, BuildContext(manifest=MANIFEST, model_path="models/counting/"))


def test_the_load_button_names_the_download_of_the_chosen_runtime():
    """With a CPU file, WASM downloads its graph and weights and WebGPU model.onnx; the tokenizer
    goes with either."""
    manifest = copy.deepcopy(MANIFEST)
    manifest["onnx"]["cpu"] = {"file": "model.cpu.onnx", "sha256": "2" * 64, "bytes": 200_000,
                               "data": {"file": "model.cpu.onnx.data", "sha256": "3" * 64, "bytes": 245_800_000}}
    manifest["files"]["model.cpu.onnx"] = {"sha256": "2" * 64, "bytes": 200_000}
    manifest["files"]["model.cpu.onnx.data"] = {"sha256": "3" * 64, "bytes": 245_800_000}
    s = L.initial_state({}, BuildContext(manifest=manifest, model_path="models/counting/"))
    assert Manifest.from_dict(manifest).onnx.file_for("wasm").file == "model.cpu.onnx"
    labels = {}
    for choice in ("auto", "wasm", "webgpu"):
        s = L.update(s, "backend", choice)
        labels[choice] = re.search(r'data-testid="chat-load"[^>]*>([^<]*)<', L.render(s)).group(1)
    assert labels == {"auto": "Load the model (248.0 MB, or 100.6 MB with WebGPU)",
                      "wasm": "Load the model (248.0 MB)", "webgpu": "Load the model (100.6 MB)"}


def test_initial_render_has_the_hooks_and_the_size(state):
    out = L.render(state)
    for hook in ("chat-load", "chat-input", "chat-send", "chat-stop", "chat-status"):
        assert f'data-testid="{hook}"' in out
    assert "Load the model (100.6 MB)" in out
    assert re.search(r'data-testid="chat-send" disabled', out)


def test_missing_features_disable_their_toggle_with_a_reason(state):
    out = L.render(state)
    think = re.search(r'<input type="checkbox" data-action="think"[^>]*>', out).group(0)
    tools = re.search(r'<input type="checkbox" data-action="tools"[^>]*>', out).group(0)
    assert "disabled" in think and L.NO_FEATURE["think"] in out
    assert "disabled" not in tools and L.NO_FEATURE["tools"] not in out
    assert L.update(state, "think", "true")["settings"]["think"] is False


def test_load_then_send_streams_and_records_ids(state):
    rt = Runtime()
    [loaded] = run(state, "load", None, rt)
    assert loaded["phase"] == "ready" and loaded["backend"]["active"] == "wasm"
    assert "Ready on WASM, 2 threads" in loaded["status"]
    assert any('value="50"' in shown for shown in rt.shown)  # the progress bar
    [done] = run(L.update(loaded, "draft", "ab"), "send", None, rt)
    reply = done["messages"][-1]
    # Counting backend: after "...assistant\n" (byte 10) comes 11, 12, ... up to "e" (101).
    assert reply["ids"] == list(range(11, 102)) and reply["finish"] == "stop"
    assert done["draft"] == "" and done["phase"] == "ready"
    assert done["raw"].startswith("<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n")
    assert len(rt.shown) > 10  # streamed piece by piece
    assert "tokens/s" in done["status"] and rt.timings["reply_tokens"] == 91
    # A second turn keeps the first turn's ids on display.
    [again] = run(L.update(done, "draft", "c"), "send", None, rt)
    assert [m["role"] for m in again["messages"]] == ["user", "assistant", "user", "assistant"]
    assert again["messages"][1]["ids"] == reply["ids"] and "ids" in again["messages"][3]
    out = L.render(again)
    assert out.count('data-testid="chat-message-assistant"') == 2


def test_a_failed_load_says_why_and_stays_loadable(state):
    [s] = run(state, "load", None, Runtime(fail="WebGPU is not available: no adapter"))
    assert s["phase"] == "idle" and "WebGPU is not available" in s["status"]
    assert 'data-testid="chat-load" disabled' not in L.render(s)


def test_model_text_is_escaped_markdown():
    out = safe_markdown.to_html('**bold** <img src=x onerror="alert(1)"> `a<b`\n\n```\n<script>\n```')
    assert "<img" not in out and "<script>" not in out
    assert "<strong>bold</strong>" in out and "<code>a&lt;b</code>" in out
    assert "<pre><code>&lt;script&gt;</code></pre>" in out
    assert safe_markdown.to_html("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>"
    text = "1. one\n2. two\n\n# Title"
    assert safe_markdown.to_html(text) == "<ol><li>one</li><li>two</li></ol><h4>Title</h4>"


def test_user_text_is_escaped(state):
    s = dict(state, messages=[{"role": "user", "content": "<b>hi</b>"}])
    assert "&lt;b&gt;hi&lt;/b&gt;" in L.render(s)


def test_updates(state):
    s = L.update(state, "top_p", "0.5")
    assert s["settings"]["top_p"] == 0.5 and state["settings"]["top_p"] == 0.9  # pure
    assert L.update(s, "backend", "webgpu")["backend"]["choice"] == "webgpu"
    assert L.update(s, "backend", "cuda")["backend"]["choice"] == "auto"
    assert L.update(s, "show_raw", "true")["show_raw"] is True
    assert 'data-testid="chat-raw"' in L.render(L.update(s, "show_raw", "true"))
    cleared = L.update(dict(s, messages=[{"role": "user", "content": "x"}]), "new_chat", None)
    assert cleared["messages"] == [] and cleared["raw"] == ""
    assert L.generation_config(dict(s["settings"], temperature=0.0)).sampling.greedy
    assert html.unescape(L.render(s)).count("Top-p") == 1


def test_the_tools_toggle_puts_the_tools_into_the_prompt(state):
    listing = "{% for t in tools or [] %}[tool {{ t.function.name if t.function is defined else t.name }}]{% endfor %}"
    manifest = {**MANIFEST, "chat_template": {"text": listing + TEMPLATE, "features": {"think": False, "tools": True}}}
    raws = []
    for toggle in ("false", "true"):
        rt = Runtime(manifest=manifest)
        [loaded] = run(L.initial_state({"temperature": 0}, BuildContext(manifest=manifest, model_path="m/")), "load", None, rt)
        [done] = run(L.update(L.update(loaded, "tools", toggle), "draft", "hi"), "send", None, rt)
        raws.append(done["raw"])
    assert "[tool" not in raws[0]
    assert raws[1].startswith("[tool get_weather][tool calculate][tool get_time]<|im_start|>user")


def test_a_closed_think_block_is_shown_apart_from_the_answer():
    out = L._message({"role": "assistant", "content": "2 < 3, so <b>yes</b>.\n</think>\n\nYes, **it is**."})
    thought = re.search(r'<details class="llmb-msg__think"[^>]*><summary>Thinking</summary><pre>(.*?)</pre></details>', out, re.S)
    assert thought and thought.group(1) == "2 &lt; 3, so &lt;b&gt;yes&lt;/b&gt;."
    assert out.endswith("<p>Yes, <strong>it is</strong>.</p></div>")
    assert "details" not in L._message({"role": "assistant", "content": "No block here."})


def test_a_message_sent_while_busy_is_announced_and_one_before_loading_is_kept(state):
    loading = dict(state, phase="loading", draft="hi")
    assert L.queued(loading, "send", "hi")["note"] == "Your message will be sent when the model is ready."
    assert L.queued(dict(state, phase="generating"), "send", "next")["note"] == \
        "Your message will be sent when this reply ends."
    assert L.queued(state, "send", "  ")["note"] == ""
    assert 'data-testid="chat-note"' in L.render(L.queued(loading, "send", "hi"))
    idle = L.update(state, "draft", "hello")
    [s] = run(idle, "send", None, Runtime())
    assert s["note"] == "Load the model first (the button above); your message is kept."
    assert s["draft"] == "hello" and s["messages"] == []
    [s] = run(dict(s, phase="ready"), "send", None, Runtime())
    assert s["note"] == "" and s["messages"][0]["content"] == "hello" and s["draft"] == ""
    assert 'data-testid="chat-note"' not in L.render(s)


def test_turns_that_no_longer_fit_the_window_are_left_out_and_the_reader_is_told(state):
    rt = Runtime()
    rt.model.backend = CountingBackend(vocab_size=256, max_length=300)
    rt.model.generator = Generator(rt.model.backend, rt.model.tokenizer.id_to_bytes, [101])
    s = dict(state, phase="ready", settings=dict(state["settings"], max_new_tokens=40))
    [s] = run(L.update(s, "draft", "a" * 100), "send", None, rt)
    assert "left out" not in s["status"]
    [s] = run(L.update(s, "draft", "b" * 100), "send", None, rt)
    assert s["status"].endswith("The oldest 2 messages no longer fit the model's 300-token window and were left out.")
    assert [m["content"][0] for m in s["messages"] if m["role"] == "user"] == ["b"]


class LosingBackend(CountingBackend):
    """A GPU backend whose device goes away after a few tokens of the reply."""

    def __init__(self, after):
        super().__init__(vocab_size=256, max_length=4096)
        self.after, self.lost = after, ""

    async def feed(self, ids):
        if self.lost or (len(ids) == 1 and self.feeds >= self.after):
            self.lost = "destroyed"
            raise RuntimeError("GPUDevice was lost")
        await super().feed(ids)


class GpuThenWasm(Runtime):
    def __init__(self):
        super().__init__()
        self.gpu = Model()
        self.gpu.kind, self.gpu.backend = "webgpu", LosingBackend(after=5)
        self.gpu.generator = Generator(self.gpu.backend, self.gpu.tokenizer.id_to_bytes, [101])
        self.forgotten = []

    async def load_model(self, path, choice="auto", on_progress=None):
        return self.model if choice == "wasm" or self.gpu in self.forgotten else self.gpu

    def device_lost(self, model):
        return getattr(model.backend, "lost", "")

    def forget_model(self, model):
        self.forgotten.append(model)


def test_a_gpu_lost_mid_reply_answers_again_on_wasm(state):
    rt = GpuThenWasm()
    [loaded] = run(state, "load", None, rt)
    assert loaded["backend"]["active"] == "webgpu"
    [s] = run(L.update(loaded, "draft", "hi"), "send", None, rt)
    assert rt.forgotten == [rt.gpu] and s["backend"]["choice"] == "wasm" and s["backend"]["active"] == "wasm"
    assert s["status"].startswith("The GPU was lost (destroyed); answered again on WASM. ")
    solo = Runtime()
    [alone] = run(L.update(run(state, "load", None, solo)[0], "draft", "hi"), "send", None, solo)
    assert unseeded(s["messages"]) == unseeded(alone["messages"]) and [m["role"] for m in s["messages"]] == ["user", "assistant"]
