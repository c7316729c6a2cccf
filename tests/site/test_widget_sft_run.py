"""The post-training run widget on the manifest section of a real (tiny) run: the curve is the
training log's, the highlighted tokens are exactly those the run trained on, and the evaluation
table reads the manifest's counts."""

import json
import re

import pytest

from export.lora import load as load_adapter
from export.posttrain import data, run, sft
from gguf_tokenizer import tokenizer_files
from test_posttrain import tiny_model
from test_widget_contract import Balance
from widgets import sft_run as S
from widgets.build_context import BuildContext
from core.chat_template import load
from core.tokenizer import Tokenizer

TEMPLATE = load("qwen3_tools.jinja")
# What an export's evaluation writes; the widget only lays it out.
EVALUATION = {"rates": {"tool_call": 0.8125, "no_call": 1.0, "think": 0.8889, "plain_top1": 0.8},
              "counts": {"tool_call": {"passed": 13, "of": 16}, "no_call": {"passed": 10, "of": 10},
                         "think": {"passed": 8, "of": 9}, "plain_top1": {"passed": 4, "of": 5}},
              "targets": {"tool_call": 0.8, "no_call": 0.8, "think": 0.8}}   # plain_top1 is secondary


def free_row(answered, looped, wrong, of=10, sampled_of=30):
    return {"counts": {"greedy": {"answered": answered, "looped": looped, "wrong_language": wrong, "of": of},
                       "sampled": {"answered": 3 * answered, "looped": 3 * looped, "wrong_language": wrong,
                                   "of": sampled_of}}}


FREE = {"items": 10, "seeds": [1, 2, 3], "cap": 200, "answer_words": 30, "loop_words": 4,
        "sampling": {"temperature": 0.6, "top_p": 0.9, "repetition_penalty": 1.1},
        "targets": {"answer_ratio": 0.95, "loop_points": 0.02},
        "rows": {"original": free_row(6, 1, 0), "off": free_row(6, 1, 0), "tools": free_row(6, 1, 1),
                 "think": free_row(4, 3, 0)},
        "verdict": {"tools": {"passed": True}, "think": {"passed": False}}}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    path = tokenizer_files()["digits"]
    tok = Tokenizer.from_file(path)
    folder = tmp_path_factory.mktemp("adapter")
    run.sft_run(tiny_model(), tok, TEMPLATE, folder, examples=12, steps=24, seed=0, lr=3e-3,
                answer=lambda q: "Sure.", log=lambda m: None)
    adapter = load_adapter(folder)
    manifest = {"model": {"name": "Tiny"}, "tokenizer": {"file": path.name},
                "chat_template": {"text": TEMPLATE}, "posttrain": {**adapter.facts(), "evaluation": EVALUATION,
                                                                    "free_generation": FREE}}
    return BuildContext(manifest=manifest, artifact_dir=path.parent), adapter


@pytest.fixture(scope="module")
def trained(ctx):
    """The adapter the widget's context was made from."""
    return ctx[1]


@pytest.fixture(scope="module")
def state(ctx):
    return S.initial_state({}, ctx[0])


def polyline(html):
    pts = re.search(r'<polyline class="loss" points="([^"]+)"', html).group(1).split()
    return [tuple(map(float, p.split(","))) for p in pts]


def test_the_curve_is_the_training_log_in_window_means(ctx, trained, state):
    manifest = ctx[0].manifest
    losses, curve = trained.losses, manifest["posttrain"]["training"]["loss_curve"]
    assert len(losses) == 24 and curve[-1][0] == 24
    examples = data.examples("train", 12, 0, lambda q: "Sure.")
    scored = [sum(sft.encode(ctx[0].tokenizer(), TEMPLATE, examples[i])[1][1:]) for i in sft.order(12, 24, 0)]
    assert manifest["posttrain"]["training"]["trained_tokens"] == sum(scored)
    window = state["window"]
    assert curve[0][1] == pytest.approx(sum(losses[:window]) / window, abs=1e-5)
    pts = polyline(S.render(state))
    assert len(pts) == len(curve)
    assert pts[-1][0] == S.W - S.RIGHT
    # a higher loss is drawn higher up (smaller y), on both axes; the x axis is the step
    for scale in ("linear", "log"):
        pts = polyline(S.render(S.update(state, "scale", scale)))
        for (x1, y1), (x2, y2), (_, a), (_, b) in zip(pts, pts[1:], curve, curve[1:]):
            assert x2 > x1
            assert (y2 <= y1) if b > a else (y2 >= y1)
        highest = max(range(len(curve)), key=lambda i: curve[i][1])
        assert pts[highest][1] == min(y for _, y in pts)   # drawn at the top (a near tie may share it)


def test_log_axis_ticks_are_powers_of_ten_around_the_losses(state):
    low, high = S.axis(state["curve"], "log")
    losses = [loss for _, loss in state["curve"]]
    assert low <= min(losses) < 10 * low and high / 10 < max(losses) <= high
    html = S.render(S.update(state, "scale", "log"))
    assert 'aria-pressed="true">Log axis' in html


@pytest.mark.parametrize("kind", ["tool", "think"])
def test_highlighted_tokens_are_the_ones_the_run_trained(ctx, state, kind):
    examples = data.examples("train", 12, 0, lambda q: "")
    trained_order = sft.order(12, 24, 0)     # the examples the 24 steps trained on, in order
    example = next(examples[i] for i in trained_order if examples[i].kind == kind)
    ids, trained = sft.encode(ctx[0].tokenizer(), TEMPLATE, example)
    rows = state["samples"][kind]
    assert [r[1] for r in rows] == ids
    assert [bool(r[3]) for r in rows] == trained
    html = S.render(S.update(state, "example", kind))
    assert html.count('class="llmb-tok') == len(ids)
    assert len(re.findall(r'class="llmb-tok[^"]*trained"', html)) == sum(trained)
    assert f"{sum(trained)} of {len(ids)}" in html


def test_evaluation_table_reads_the_manifest(state):
    html = S.render(state)
    for key in S.CHECKS:
        row = re.search(rf'<tr data-check="{key}">(.*?)</tr>', html).group(1)
        c, target = EVALUATION["counts"][key], EVALUATION["targets"].get(key)
        assert f'({c["passed"]}/{c["of"]})' in row
        if target is None:                       # a secondary figure: shown, not judged
            assert row.endswith("<td>none</td><td>—</td>")
            continue
        assert f"<td>{target:.0%}</td>" in row
        assert row.endswith("<td>met</td>" if EVALUATION["rates"][key] >= target else "<td>missed</td>")
    # a target the evaluation raises is the one the table judges by
    stricter = dict(state, evaluation={**EVALUATION, "targets": {**EVALUATION["targets"], "no_call": 1.01}})
    assert re.search(r'<tr data-check="no_call">.*?</tr>', S.render(stricter)).group(0).endswith("<td>missed</td></tr>")


def test_free_generation_table_reads_the_manifest(state):
    html = S.render(state)
    for key, row in FREE["rows"].items():
        cells = re.findall(r"<td>([^<]*)</td>", re.search(rf'<tr data-free="{key}">(.*?)</tr>', html).group(1))
        g, s = row["counts"]["greedy"], row["counts"]["sampled"]
        assert cells[1:6] == [f"{g['answered'] / 10:.0%} ({g['answered']}/10)", f"{g['looped'] / 10:.0%} ({g['looped']}/10)",
                              f"{s['answered'] / 30:.0%} ({s['answered']}/30)", f"{s['looped'] / 30:.0%} ({s['looped']}/30)",
                              f"{s['wrong_language'] / 30:.0%} ({s['wrong_language']}/30)"]
        assert cells[6] == {"tools": "met", "think": "missed"}.get(key, "—")
    assert "10 held-out plain" in html and "3 seeds per question" in html


def test_contract_json_state_balanced_html_labelled_controls(state):
    assert json.loads(json.dumps(state)) == state
    parser = Balance()
    parser.feed(S.render(state))
    assert parser.errors == [] and parser.stack == []
    assert {a["data-action"] for a in parser.controls} == {"scale", "example"}
    assert all("aria-pressed" in a for a in parser.controls)


def test_unknown_actions_leave_the_state_alone(state):
    assert S.update(state, "scale", "cubic") == state
    assert S.update(state, "example", "plain") == state


def test_an_export_without_adapter_says_so():
    s = S.initial_state({}, BuildContext(manifest={"model": {"name": "Tiny"}, "posttrain": None}))
    assert "without a post-training adapter" in S.render(s)
