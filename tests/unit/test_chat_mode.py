"""The chat's configuration for each setting of the Think and Tools toggles, and the adapter
switch it drives, on pure-Python backends."""

import asyncio
import doctest

import pytest

from core import chat_mode
from core.backend import CountingBackend
from widgets.build_context import BuildContext
from core.chat_mode import mode_for, open_chat
from core.generation import GenerationConfig, Generator
from core.manifest import Manifest
from core.sampling import GREEDY
from core.tools import default_toolbox

ORIGINAL = "{% for m in messages %}{{ m['content'] }}{% endfor %}o"
NEW = "{% for m in messages %}{{ m['content'] }}{% endfor %}{% if tools %}T{% endif %}n"


def manifest(posttrain=True):
    d = {"schema_version": 1,
         "model": {"name": "Tiny", "parameters": 1_000_000, "vocab_size": 256, "context_length": 512},
         "tokenizer": {"file": "tokenizer.json", "special_tokens": {}, "stop_ids": [ord("e")]},
         "chat_template": {"text": NEW, "features": {"think": True, "tools": True}},
         "onnx": {"file": "model.onnx", "inputs": {"input_ids": "input_ids", "adapter_scale": "adapter_scale"},
                  "outputs": {"logits": "logits"}, "cache": []}}
    if posttrain:
        d["posttrain"] = {"adapter": "think-tools", "bytes": 5_000_000, "parameters": 20_000, "rank": 8,
                          "system": "Be brief.",
                          "original_chat_template": {"text": ORIGINAL, "features": {"think": False, "tools": False}}}
    return d


class Bytes:
    def encode_with_special_tokens(self, text):
        return list(text.encode())

    def id_to_bytes(self, i):
        return bytes([i])


def test_toggles_off_is_the_original_model_with_its_own_template():
    mode = mode_for(manifest())
    assert (mode.adapter_scale, mode.template, mode.system, mode.enable_thinking, mode.tools) == \
        (0.0, ORIGINAL, None, None, False)
    assert mode.who == "the original Tiny"
    # the typed manifest gives the same answer as the parsed dict
    assert mode_for(Manifest.from_dict(manifest())) == mode


@pytest.mark.parametrize("think, tools", [(True, False), (False, True), (True, True)])
def test_either_toggle_switches_the_adapter_on_with_its_training_system_prompt(think, tools):
    mode = mode_for(manifest(), think, tools)
    assert (mode.adapter_scale, mode.template, mode.system) == (1.0, NEW, "Be brief.")
    assert (mode.enable_thinking, mode.tools) == (think, tools)
    assert mode.who == "Tiny with the post-training adapter (5.0 MB, 0.0 million parameters, 2.0% of the weights)"
    assert mode_for(manifest(), think, tools, system="Mine.").system == "Mine."


def test_a_model_without_adapter_keeps_its_template_and_only_offers_what_it_has():
    d = manifest(posttrain=False)
    d["chat_template"]["features"] = {"think": False, "tools": True}
    mode = mode_for(d, think=True, tools=True)
    assert (mode.adapter_scale, mode.template, mode.enable_thinking, mode.tools, mode.who) == (0.0, NEW, None, True, "Tiny")


def test_switching_the_adapter_resets_the_cache_and_changes_the_answer():
    backend = CountingBackend(vocab_size=256, adapter=True)
    generator = Generator(backend, Bytes().id_to_bytes, [ord("e")])
    render = lambda mode: Bytes()  # noqa: E731  (the tokenizer: bytes)
    config = GenerationConfig(4, GREEDY)

    def ask(think, tools, text="a"):
        chat, reset = open_chat(mode_for(manifest(), think, tools), generator, render(None), default_toolbox())
        reply = asyncio.run(chat.send(text, config))
        return reply.rounds[-1], reset

    original, reset = ask(False, False)
    assert not reset and backend.adapter_scale == 0.0       # backends start with the adapter off
    assert original.ids == [ord("p"), ord("q"), ord("r"), ord("s")]   # after "a" + "o": counting up
    again, reset = ask(False, False)
    assert not reset and again.reused_tokens > 0             # same model: the cache is kept
    adapted, reset = ask(True, False)
    assert reset and backend.adapter_scale == 1.0 and adapted.reused_tokens == 0
    assert adapted.ids != original.ids
    back, reset = ask(False, False)
    assert reset and back.ids == original.ids and back.reused_tokens == 0


def test_a_model_without_adapter_refuses_to_switch_it_on_in_one_line():
    backend = CountingBackend(vocab_size=16)
    assert backend.set_adapter_scale(0.0) is False
    with pytest.raises(ValueError, match="^this model was exported without an adapter; its adapter scale can only be 0$"):
        backend.set_adapter_scale(1.0)


def test_the_live_chat_starts_from_the_shared_defaults():
    from widgets import live_chat
    settings = live_chat.initial_state({}, BuildContext())["settings"]
    assert {k: settings[k] for k in chat_mode.DEFAULT_SETTINGS} == chat_mode.DEFAULT_SETTINGS
    config = chat_mode.generation_config(dict(settings, temperature=0.0), seed=4)
    assert config.sampling.greedy and config.sampling.seed == 4


def test_the_live_chat_says_which_model_answers():
    from widgets import live_chat
    ctx = BuildContext(manifest=manifest(), model_path="models/tiny/")
    s = live_chat.initial_state({}, ctx)
    assert "Answering: the original Tiny" in live_chat.render(s)
    s = live_chat.update(s, "tools", "true")
    assert "Answering: Tiny with the post-training adapter (5.0 MB" in live_chat.render(s)


def test_worked_example():
    assert doctest.testmod(chat_mode).failed == 0
