"""Base-vs-assistant lanes and the preference log-likelihoods: the build-time demos against an
independent plain loop on the same WASM session and transformers' template, and the widget's
live run."""

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from gguf_tokenizer import hf_tokenizer
from widgets import base_vs_assistant as B
from widgets import demos as D
from widgets import preference as P
from widgets.build_context import BuildContext
from core.model_queue import ModelQueue

QUEUE = ModelQueue()


@pytest.fixture(scope="module")
def demos(default_artifact):
    return D.ensure(default_artifact)


@pytest.fixture(scope="module")
def manifest(default_artifact):
    return json.loads((Path(default_artifact) / "manifest.json").read_text())


class PlainLoop:
    """An independent loop (numpy only, none of the widgets' generation code) over the session the
    demos ran on: the browser's WASM session under Node (core/backend_node.py), which computes
    what a WASM reader's page does. ``feed(ids)`` runs ids after everything fed before and returns
    the last position's whole row of logits."""

    def __init__(self, folder):
        from core.backend_node import NodeBackend
        self.backend = NodeBackend.from_artifact(folder, runtime=D.RUNTIME)

    def start(self):
        self.backend.reset()
        return self

    def feed(self, ids):
        asyncio.run(self.backend.feed(list(ids)))
        row = asyncio.run(self.backend.top(self.backend.vocab_size))
        return np.array(row.logits, dtype=np.float64)


@pytest.fixture(scope="module")
def plain(default_artifact):
    loop = PlainLoop(default_artifact)
    yield loop
    loop.backend.close()


def test_lane_prompts_match_transformers(demos):
    hf = hf_tokenizer()
    for prompt in D.PROMPTS:
        lanes = demos["lanes"][prompt]
        assert lanes["raw"]["prompt_ids"] == hf.encode(prompt, add_special_tokens=False)
        expected = hf.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                          tokenize=True, return_dict=False)
        assert lanes["chat"]["prompt_ids"] == list(expected)


def test_lanes_equal_a_plain_greedy_loop(demos, plain):
    for prompt in D.PROMPTS:
        for lane in ("raw", "chat"):
            d = demos["lanes"][prompt][lane]
            loop, out = plain.start(), []
            logits = loop.feed(list(d["prompt_ids"]))
            while len(out) < demos["max_new_tokens"]:
                token = int(np.argmax(logits))
                out.append(token)
                if token in d["stop_ids"]:
                    break
                logits = loop.feed([token])
            assert out == d["ids"], (prompt, lane)
    chat = demos["lanes"][D.PROMPTS[0]]["chat"]
    assert chat["finish"] == "stop" and chat["text"].strip()


def test_the_chat_lane_keeps_what_the_model_predicted_at_each_token(demos, plain):
    """The static view's numbers: each token's top candidates and their softmax probabilities,
    recomputed here from the whole row of logits by the plain loop."""
    from widgets.predictions import TOP
    for prompt in D.PROMPTS:
        d = demos["lanes"][prompt]["chat"]
        assert len(d["steps"]) == len(d["ids"]) and "steps" not in demos["lanes"][prompt]["raw"]
        loop = plain.start()
        logits = loop.feed(list(d["prompt_ids"]))
        for token, step in zip(d["ids"], d["steps"]):
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            order = np.argsort(-logits, kind="stable")[:TOP]
            assert [c[0] for c in step["c"]] == order.tolist() and step["t"] == token and step["r"] == 0
            assert np.allclose([c[3] for c in step["c"]], probs[order], atol=5e-5)
            assert [c[4] for c in step["c"]] == [1.0] + [0.0] * (TOP - 1)     # greedy
            logits = loop.feed([token])


def test_preference_log_likelihoods_equal_the_plain_loop(demos, plain):
    hf = hf_tokenizer()
    pref = demos["preference"]
    prompt = hf.apply_chat_template([{"role": "user", "content": P.PROMPT}], add_generation_prompt=True,
                                    tokenize=True, return_dict=False)
    for key, answer in P.ANSWERS.items():
        answer_ids = hf.encode(answer, add_special_tokens=False) + [hf.convert_tokens_to_ids("<|im_end|>")]
        loop = plain.start()
        rows = np.array([loop.feed(list(prompt))] + [loop.feed([t]) for t in answer_ids[:-1]])
        top = rows.max(-1, keepdims=True)
        logp = rows - top - np.log(np.exp(rows - top).sum(-1, keepdims=True))
        total = float(logp[np.arange(len(answer_ids)), answer_ids].sum())
        assert pref["tokens"][key] == len(answer_ids)
        assert pref["logp"][key] == pytest.approx(total, abs=1e-6)


def test_demos_are_cached_by_model_and_inputs(default_artifact, demos, manifest):
    path = Path(default_artifact) / D.FILE
    before = path.stat().st_mtime_ns
    assert D.ensure(default_artifact) == demos
    assert path.stat().st_mtime_ns == before
    cpu = manifest["onnx"]["cpu"]                    # what WASM readers run: the graph and its weights
    assert demos["key"] == D.inputs_key(f"{cpu['sha256']}+{cpu['data']['sha256']}")


class NodeRuntime:
    """What widgets/page.py's Runtime offers a widget, over the WASM session under Node."""

    cancel = None

    def __init__(self, folder):
        from core.backend_node import NodeBackend
        from core.generation import Generator
        from core.manifest import Manifest
        from core.tokenizer import Tokenizer
        info = Manifest.load(folder)
        backend = NodeBackend.from_artifact(folder, runtime=D.RUNTIME)   # as the demos ran
        tokenizer = Tokenizer.from_file(Path(folder) / info.tokenizer.file)
        self.model = type("Model", (), {"info": info, "backend": backend, "tokenizer": tokenizer,
                                        "generator": Generator(backend, tokenizer.id_to_bytes, info.tokenizer.stop_ids)})
        self.shown = []

    async def load_model(self, path, choice="auto", on_progress=None):
        return self.model

    def turn(self, model, on_wait=None):
        return QUEUE.turn("test", on_wait, self.cancel)

    def show(self, state):
        self.shown.append(state["status"])


@pytest.fixture(scope="module")
def ctx(default_artifact, manifest):
    return BuildContext(manifest=manifest, artifact_dir=default_artifact, model_path="models/x/")


def test_widget_renders_the_lanes_and_runs_them_again(ctx, demos, default_artifact):
    state = B.initial_state({}, ctx)
    json.dumps(state)
    html = B.render(state)
    first = demos["lanes"][D.PROMPTS[0]]
    assert "The same model, fed the chat template" in html and "Illustration" in html
    assert "written by hand" in html.lower()
    from html import escape
    assert escape(first["chat"]["text"]) in html
    # the chat lane's tokens, each opening its predictions, without JavaScript
    assert html.count('data-testid="lane-predictions"') == 1
    assert html.count('<details class="llmb-tokd') == len(first["chat"]["ids"])
    state = B.update(state, "prompt", "2")
    assert state["current"] == 2 and state["live"] == {}

    runtime = NodeRuntime(default_artifact)

    async def collect():
        return [s async for s in B.run(state, "run", None, runtime)]

    final = asyncio.run(collect())[-1]
    runtime.model.backend.close()
    assert final["status"] == "Both lanes match the build-time text, token for token."
    lanes = demos["lanes"][D.PROMPTS[2]]
    for lane in ("raw", "chat"):
        assert final["live"][lane]["ids"] == lanes[lane]["ids"] and final["live"][lane]["match"]
    shown = B.render(final)
    assert "identical to the build-time text" in shown
    # the matched run shows the same tokens, so their build-time predictions stay on offer
    assert shown.count('data-testid="lane-predictions"') == 1
    differed = {**final, "live": {**final["live"], "chat": {**final["live"]["chat"], "match": False}}}
    assert 'data-testid="lane-predictions"' not in B.render(differed)
