"""What the model predicted at each token (widgets/predictions.py) and how the live chat shows it:
the recorded probabilities equal an independent computation from the whole row of scores, the
marked tokens are exactly those the model did not rank first, the record is bounded, and the
view opens, closes and renders without a model. Pure Python (also run in Pyodide)."""

import asyncio
import math
import random

from widgets import live_chat as L
from widgets import predictions as P
from core.backend import CountingBackend
from widgets.build_context import BuildContext
from core.generation import GenerationConfig, Generator
from core.sampling import GREEDY, SamplingConfig

from test_live_chat import MANIFEST, Runtime, run

VOCAB = 120


def noisy(ids, vocab):
    r = random.Random(ids[-1] * 7919 + len(ids))
    return [r.gauss(0, 2.5) for _ in range(vocab)]


class Digits:
    added = {"<end>": 0}

    def decode(self, ids):
        return "".join("<end>" if i == 0 else f"[{i}]" for i in ids)


def reference(row, seen, cfg):
    """transformers' order, written out: repetition penalty, temperature, top-k, softmax, top-p."""
    z = max(row) + math.log(sum(math.exp(s - max(row)) for s in row))
    raw = {i: math.exp(s - z) for i, s in enumerate(row)}
    if cfg.greedy:
        top = max(range(len(row)), key=lambda i: (row[i], -i))
        return raw, {top: 1.0}
    pen = [s / cfg.repetition_penalty if i in seen and s > 0 else s * cfg.repetition_penalty if i in seen else s
           for i, s in enumerate(row)]
    order = sorted(range(len(row)), key=lambda i: (-pen[i], i))[:cfg.top_k]
    w = [math.exp((pen[i] - pen[order[0]]) / cfg.temperature) for i in order]
    probs = [x / sum(w) for x in w]
    keep, mass = [], 0.0
    for i, p in zip(order, probs):
        if mass >= cfg.top_p and keep:
            break
        keep.append((i, p))
        mass += p
    total = sum(p for _, p in keep)
    return raw, {i: p / total for i, p in keep}


def recorded(cfg, n=24):
    backend = CountingBackend(vocab_size=VOCAB, scores=noisy)
    rec = P.Recorder(backend, cfg, Digits())
    rows, seen_sets = [], []

    async def watch(cands, seen, token):
        rows.append((await backend.top(VOCAB)).logits)
        seen_sets.append(set(seen))
        await rec.on_step(cands, seen, token)

    result = asyncio.run(Generator(backend, lambda i: b"x", []).generate(
        [5, 6, 7], GenerationConfig(n, cfg), on_step=watch))
    return rec.steps, rows, seen_sets, result.ids


def test_recorded_probabilities_equal_an_independent_computation():
    for cfg in (GREEDY, SamplingConfig(temperature=0.7, top_p=0.8, repetition_penalty=1.3, seed=5),
                SamplingConfig(temperature=1.2, top_p=0.95, seed=11)):
        steps, rows, seen_sets, ids = recorded(cfg)
        assert [s["t"] for s in steps] == ids
        for step, row, seen in zip(steps, rows, seen_sets):
            raw, drawn = reference(row, seen, cfg)
            best = sorted(range(VOCAB), key=lambda i: (-row[i], i))
            assert [c[0] for c in step["c"][:P.TOP]] == best[:P.TOP]
            for i, text, special, p_raw, p_drawn in step["c"]:
                assert abs(p_raw - raw[i]) <= 5e-5 and abs(p_drawn - drawn.get(i, 0.0)) <= 5e-5, (cfg, i)
                assert text == Digits().decode([i]) and special == (i == 0)
            # marked exactly when the model did not rank it first
            assert step["r"] == best.index(step["t"]) and (step["r"] > 0) == (step["t"] != best[0])
            assert step["k"] == len(drawn)
            if step["t"] not in best[:P.TOP]:
                assert step["c"][-1][0] == step["t"] and len(step["c"]) == P.TOP + 1


def test_sampled_replies_pick_outside_the_first_choice_and_greedy_never_does():
    greedy, *_ = recorded(GREEDY)
    sampled, *_ = recorded(SamplingConfig(temperature=1.2, top_p=0.95, seed=11))
    assert all(s["r"] == 0 for s in greedy)
    assert any(s["r"] > 0 for s in sampled)


def test_the_record_is_bounded():
    backend = CountingBackend(vocab_size=30)
    rec = P.Recorder(backend, GREEDY, Digits(), keep=5)
    asyncio.run(Generator(backend, lambda i: b"", []).generate([1], GenerationConfig(12, GREEDY), on_step=rec.on_step))
    assert [s["t"] for s in rec.steps] == [9, 10, 11, 12, 13]
    old = {"role": "assistant", "content": "", "steps": [{}] * 300}
    messages = [{"role": "user", "content": "q"}, dict(old), {"role": "user", "content": "q"}, dict(old),
                {"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]

    class Round:
        ids = [0] * 300

    L._attach_steps(messages, [Round()], [{}] * 300)
    assert len(messages[5]["steps"]) == 300 and "steps" not in messages[3] and "steps" not in messages[1]


def chat_with_predictions(temperature):
    state = L.update(L.initial_state({"temperature": temperature}, BuildContext(manifest=MANIFEST, model_path="m/")),
                     "predictions", "true")
    rt = Runtime()
    [loaded] = run(state, "load", None, rt)
    [done] = run(L.update(loaded, "draft", "hi"), "send", None, rt)
    return done


def test_the_live_chat_shows_each_token_and_opens_its_candidates():
    s = chat_with_predictions(0)
    reply = s["messages"][-1]
    assert len(reply["steps"]) == len(reply["ids"]) and reply["seed"]
    html = L.render(s)
    assert html.count('data-action="inspect"') == len(reply["ids"]) and 'data-testid="chat-predictions"' not in html
    opened = L.update(s, "inspect", "1:2")
    html = L.render(opened)
    assert opened["inspect"] == [1, 2] and 'data-testid="chat-predictions"' in html and 'aria-expanded="true"' in html
    assert html.count("<tr") == 1 + len(reply["steps"][2]["c"])           # header and the candidates
    assert 'class="llmb-pred__picked" aria-current="true"' in html and "Temperature 0 is greedy" in html
    closed = L.update(opened, "inspect_close", None)
    assert closed["inspect"] is None and 'data-autofocus' in L.render(closed)   # the focus goes back to the token
    assert L.update(opened, "inspect", "1:2")["inspect"] is None                 # pressed again: closes
    assert L.update(s, "inspect", "1:999")["inspect"] is None                    # no such token
    assert L.update(opened, "predictions", "false")["inspect"] is None
    assert 'data-action="inspect"' not in L.render(L.update(s, "predictions", "false"))
    assert L.update(opened, "new_chat", None)["inspect"] is None
    assert L.ESCAPE_ACTION == "inspect_close"


def test_a_sampled_reply_marks_the_cut_candidates_and_keeps_its_seed():
    s = chat_with_predictions(1.2)
    steps = s["messages"][-1]["steps"]
    assert any(c[4] == 0 for st in steps for c in st["c"])          # some candidates cut by the settings
    at = next(i for i, st in enumerate(steps) if any(c[4] == 0 for c in st["c"]))
    html = L.render(L.update(s, "inspect", f"1:{at}"))
    assert "llmb-pred__cut--first" in html and ">cut<" in html and "The sampler drew from" in html


def test_static_view_for_a_page_without_javascript():
    steps, *_ = recorded(GREEDY, n=5)
    html = P.static_html(steps, {"temperature": 0})
    assert html.count("<details") == 5 and html.count("<table") == 5 and "<button" not in html
