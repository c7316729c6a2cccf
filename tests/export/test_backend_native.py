"""The native onnxruntime backend on a tiny random Llama: logits against torch, cache cutting,
candidate reads, and greedy generation through the loop against transformers' generate."""

import asyncio
from pathlib import Path

import numpy as np
import pytest
import torch

from tiny_onnx import VOCAB, export_tiny
from core.backend import Backend
from core.backend_native import NativeBackend
from core.generation import GenerationConfig, Generator
from core.sampling import GREEDY


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    model = export_tiny(folder)
    return folder, model


def run(coro):
    return asyncio.run(coro)


def torch_last_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].numpy()


def full_row(backend):
    return np.array(run(backend.top(VOCAB)).logits)


def test_feed_matches_torch_in_prefill_and_decode(tiny):
    folder, model = tiny
    backend = NativeBackend.from_artifact(folder)
    assert isinstance(backend, Backend) and backend.vocab_size == VOCAB and backend.max_length == 256
    ids = [1, 17, 42, 99, 5, 250, 7]
    run(backend.feed(ids[:5]))
    np.testing.assert_allclose(full_row(backend), torch_last_logits(model, ids[:5]), atol=1e-4)
    for n in (6, 7):  # one token at a time, on top of the cache
        run(backend.feed([ids[n - 1]]))
        np.testing.assert_allclose(full_row(backend), torch_last_logits(model, ids[:n]), atol=1e-4)
    assert backend.length == 7


def test_log_normalizer_is_the_softmax_denominator_of_the_whole_row(tiny):
    folder, model = tiny
    backend = NativeBackend.from_artifact(folder)
    run(backend.feed([1, 17, 42]))
    row = torch.tensor(torch_last_logits(model, [1, 17, 42]), dtype=torch.float64)
    assert backend.log_normalizer() == pytest.approx(float(torch.logsumexp(row, 0)), abs=1e-4)


def test_truncate_is_the_same_as_never_having_fed_the_tail(tiny):
    folder, model = tiny
    backend = NativeBackend.from_artifact(folder)
    run(backend.feed([1, 2, 3, 4, 5, 6]))
    assert backend.truncate(3) == 3 and backend.length == 3
    run(backend.feed([200, 201]))
    np.testing.assert_allclose(full_row(backend), torch_last_logits(model, [1, 2, 3, 200, 201]), atol=1e-4)
    assert backend.truncate(99) == 5
    backend.reset()
    assert backend.length == 0
    with pytest.raises(ValueError):
        run(backend.feed(list(range(257))))


def test_top_candidates_are_the_best_scores(tiny):
    folder, _ = tiny
    backend = NativeBackend.from_artifact(folder)
    run(backend.feed([1, 50, 60]))
    row = full_row(backend)
    c = run(backend.top(10))
    assert sorted(c.ids) == sorted(np.argsort(-row, kind="stable")[:10].tolist())
    assert c.logits == pytest.approx(row[c.ids].tolist())
    assert run(backend.top(1)).ids == [int(np.argmax(row))]


def test_greedy_loop_equals_transformers_generate(tiny):
    folder, model = tiny
    backend = NativeBackend.from_artifact(folder)
    gen = Generator(backend, lambda i: b"", stop_ids=[])  # no stop: compare full budgets
    history = []
    for turn, new in enumerate([[1, 5, 9, 13], [77, 78], [150, 3, 3, 3, 9]]):
        prompt = history + new
        r = run(gen.generate(prompt, GenerationConfig(12, GREEDY)))
        with torch.no_grad():
            ref = model.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                                 eos_token_id=None, pad_token_id=0)[0, len(prompt):].tolist()
        assert r.ids == ref
        if turn:
            assert r.reused_tokens == len(history) - 1  # only the new tokens (and the last reply token) ran
        history = prompt + r.ids


@pytest.mark.parametrize("name", ["backend_native", "token_view", "tokenizer"])
def test_docstring_examples_on_the_default_export(name, default_artifact, monkeypatch):
    """The examples name the default export's folder and its tokenizer and template."""
    import doctest
    import importlib
    import json

    from core.tokenizer import Tokenizer
    root = Path(__file__).resolve().parents[2]
    assert default_artifact == root / "artifacts" / "smollm2-135m-instruct-q4"   # the path the examples name
    monkeypatch.chdir(root)
    manifest = json.loads((default_artifact / "manifest.json").read_text())
    globs = {"tok": Tokenizer.from_file(default_artifact / manifest["tokenizer"]["file"]),
             "smollm2_template": manifest["chat_template"]["text"]}
    result = doctest.testmod(importlib.import_module(f"core.{name}"), extraglobs=globs)
    assert result.failed == 0 and result.attempted >= 2, (name, result)
