"""The template widget against transformers' own rendering and tokenization."""

import dataclasses
import json

import pytest

from gguf_tokenizer import hf_tokenizer, tokenizer_files
from widgets import template_view as T
from widgets.build_context import BuildContext


@pytest.fixture(scope="module")
def ctx():
    hf = hf_tokenizer()
    path = tokenizer_files()["digits"]
    specials = {t: hf.convert_tokens_to_ids(t) for t in hf.all_special_tokens + list(hf.added_tokens_encoder)}
    manifest = {"model": {"name": "SmolLM2-135M-Instruct"},
                "tokenizer": {"file": path.name, "special_tokens": specials},
                "chat_template": {"text": hf.chat_template, "features": {"think": False, "tools": False}}}
    return BuildContext(manifest=manifest, artifact_dir=path.parent)


@pytest.fixture(scope="module")
def state(ctx):
    return T.initial_state({}, ctx)


def text(rows):
    return "".join(r[0] for r in rows)


def test_shipped_template_tokens_equal_transformers(state):
    hf = hf_tokenizer()
    var = state["variants"]["shipped:0:0"]
    expected = hf.apply_chat_template(T.conversation(False, False), tokenize=True, return_dict=False)
    assert [r[1] for r in var["tokens"]] == list(expected)
    assert json.loads(json.dumps(state)) == state


def test_only_the_reply_and_its_end_of_turn_token_are_trained(state):
    rows = state["variants"]["shipped:0:0"]["tokens"]
    assert text(r for r in rows if r[3]) == "4<|im_end|>"
    var = state["variants"]["shipped:0:0"]
    before = text(var["tokens"][:var["gen_start"]])
    assert before.endswith("<|im_start|>assistant\n")
    assert var["tokens"][var["stop"]][0] == "<|im_end|>" and var["tokens"][var["stop"]][2] == 1


def test_thinking_opens_or_pre_closes_the_block(state):
    on, off = state["variants"]["qwen3:1:0"], state["variants"]["qwen3:0:0"]
    assert text(on["tokens"][:on["gen_start"]]).endswith("<|im_start|>assistant\n<think>\n")
    assert text(on["tokens"][on["gen_start"]:on["stop"] + 1]) == "The user wants 2 + 2.\n</think>\n\n4<|im_end|>"
    assert text(off["tokens"][:off["gen_start"]]).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert text(off["tokens"][off["gen_start"]:off["stop"] + 1]) == "4<|im_end|>"


def test_tools_add_a_tools_block_and_a_trained_tool_call(state):
    var = state["variants"]["qwen3:0:1"]
    full = text(var["tokens"])
    assert "<tools>" in full and '"name": "calculate"' in full
    trained = text(r for r in var["tokens"] if r[3])
    assert trained.startswith("<tool_call>\n<function=calculate>\n<parameter=expression>\n2 + 2\n")
    assert "<tool_response>\n4\n</tool_response>" in full
    assert "tool_response" not in trained  # the tool's result is input, not something to learn


def test_feature_toggles_switch_templates_and_say_so(state):
    s = T.update(state, "think", "on")
    assert s["template"] == "qwen3" and s["think"] and "no thinking mode" in s["note"]
    s = T.update(s, "tools", "on")
    assert T.current(s) is s["variants"]["qwen3:1:1"]
    s = T.update(s, "template", "shipped")
    assert not s["think"] and not s["tools"] and s["note"] == ""


def test_views_render_tokens_ids_and_the_mask(state):
    bubbles = T.render(state)
    assert "llmb-bubble--user" in bubbles and "What is 2 + 2?" in bubbles
    assert "of SmolLM2-135M-Instruct, the model on this site." in bubbles
    raw = T.render(T.update(state, "view", "raw"))
    rows = state["variants"]["shipped:0:0"]["tokens"]
    assert raw.count('class="llmb-tok') == len(rows)
    assert f'data-id="{rows[0][1]}"' in raw and "&lt;|im_start|&gt;" in raw
    mask = T.render(T.update(state, "view", "mask"))
    assert mask.count(" trained") == sum(r[3] for r in rows)
    assert "generation starts" in mask
    qwen = T.render(T.update(state, "template", "qwen3"))
    assert "Qwen3-style template (not the shipped model" in qwen


@pytest.fixture(scope="module")
def posttrained(ctx):
    """The widget for a model exported with the adapter: the artifact's template is the
    think/tools one, and the manifest keeps the template the model came with."""
    from core.chat_template import load
    original = ctx.manifest["chat_template"]
    manifest = {**ctx.manifest, "chat_template": {"text": load(T.QWEN3), "features": {"think": True, "tools": True}},
                "posttrain": {"original_chat_template": original}}
    return T.initial_state({}, dataclasses.replace(ctx, manifest=manifest))


def test_a_post_trained_model_shows_the_template_it_runs_with(posttrained, state):
    """The shipped template is the one the live chat uses; think and tools toggle on it without
    switching, and the original template is the comparison."""
    s = posttrained
    assert list(s["templates"]) == ["shipped", "original"]
    assert s["templates"]["shipped"] == {"think": True, "tools": True}
    assert s["variants"]["original:0:0"] == state["variants"]["shipped:0:0"]
    assert s["variants"]["shipped:1:1"] == state["variants"]["qwen3:1:1"]
    on = T.update(T.update(s, "think", "on"), "tools", "on")
    assert on["template"] == "shipped" and on["think"] and on["tools"] and on["note"] == ""
    out = T.render(on)
    assert "post-trained to follow" in out and 'data-value="original"' in out and 'data-value="qwen3"' not in out
    # the original template has neither: turning thinking on there comes back to the shipped one
    back = T.update(T.update(s, "template", "original"), "think", "on")
    assert back["template"] == "shipped" and "original template has no thinking mode" in back["note"]
    assert "came with" in T.render(T.update(s, "template", "original"))


def test_the_build_reads_the_tokenizer_once(ctx, tmp_path):
    """Every widget of a build shares one tokenizer per artifact; a file written again is read again."""
    import os
    import shutil

    from core.tokenizer import Tokenizer

    tok = ctx.tokenizer()
    assert isinstance(tok, Tokenizer) and dataclasses.replace(ctx).tokenizer() is tok
    name = ctx.manifest["tokenizer"]["file"]
    shutil.copy(ctx.artifact_dir / name, tmp_path / name)
    copy = dataclasses.replace(ctx, artifact_dir=tmp_path)
    first = copy.tokenizer()
    assert first is not tok and first.encode("Hello, world") == tok.encode("Hello, world")
    os.utime(tmp_path / name, ns=(1, 1))
    assert copy.tokenizer() is not first
