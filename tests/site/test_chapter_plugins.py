"""The chapter's two small MkDocs plugins: manifest facts in Markdown, focusable glossary terms."""

import pytest
from mkdocs.exceptions import PluginError

from site_plugins.facts.plugin import facts_from_manifest, fill
from site_plugins.glossary.plugin import focusable

MANIFEST = {
    "schema_version": 1,
    "model": {"name": "Tiny-1", "num_layers": 30, "num_heads": 9, "num_kv_heads": 3, "hidden_size": 576,
              "intermediate_size": 1536, "vocab_size": 49152, "context_length": 8192, "parameters": 134515008,
              "architecture": "llama"},
    "tokenizer": {"special_tokens": {"<|im_end|>": 2, "<|im_start|>": 1, "<|endoftext|>": 0}, "stop_ids": [2]},
    "chat_template": {"text": "{{ messages }}"},
    "onnx": {"file": "model.onnx", "sha256": "a" * 64, "bytes": 99097463, "quantization": {"weight_format": "int4"},
             "inputs": {"input_ids": "input_ids"}, "outputs": {"logits": "logits"}},
}


def test_placeholders_take_the_manifest_values():
    text = ("{{ model.name }} has {{ model.num_layers }} layers, {{ model.parameters_m }}M parameters, "
            "{{model.vocab_size}} tokens, {{ model.file_mb }} MB of {{ model.quantization }}; "
            "end of turn is {{ model.id <|im_end|> }}.")
    assert fill(text, MANIFEST) == ("Tiny-1 has 30 layers, 134.5M parameters, 49,152 tokens, 99 MB of int4; "
                                    "end of turn is 2.")


def test_the_cpu_file_size_counts_its_weights_file():
    manifest = {**MANIFEST, "onnx": {**MANIFEST["onnx"], "cpu": {
        "file": "model.cpu.onnx", "sha256": "b" * 64, "bytes": 207_042, "quantization": {"weight_format": "int8"},
        "data": {"file": "model.cpu.onnx.data", "sha256": "c" * 64, "bytes": 245_761_280}}}}
    assert fill("{{ model.cpu_file_mb }} MB of {{ model.cpu_quantization }}", manifest) == "246 MB of int8"
    assert fill("{{ model.cpu_file_mb }}", MANIFEST) == "99"


def test_special_token_table_is_ordered_by_id():
    table = facts_from_manifest(MANIFEST)["special_tokens_table"].splitlines()
    assert table[2:] == ["| `<|endoftext|>` | 0 |", "| `<|im_start|>` | 1 |", "| `<|im_end|>` | 2 |"]


@pytest.mark.parametrize("bad", ["{{ model.layers }}", "{{ model.id <|nope|> }}", "{{ model.name extra }}"])
def test_unknown_placeholders_stop_the_build_naming_the_page(bad):
    with pytest.raises(PluginError, match=r"chapter\.md.*\{\{"):
        fill(f"x {bad} y", MANIFEST, "chapter.md")


def test_abbreviations_become_focusable_once():
    html = '<p><abbr title="Direct preference optimisation">DPO</abbr> and <abbr tabindex="0" title="x">SFT</abbr></p>'
    out = focusable(html)
    assert out.count('tabindex="0"') == 2
    assert focusable(out) == out


POSTTRAIN = {"adapter": "tiny-tools", "rank": 8, "parameters": 2_442_240, "bytes": 5_014_782,
             "original_chat_template": {"text": "{{ messages }}"},
             "training": {"examples": 800, "steps": 700, "trained_tokens": 41_234, "loss_window": 11,
                          "loss_curve": [[11, 0.8123], [22, 0.301], [700, 0.0456]]},
             "evaluation": {"counts": {"tool_call": {"passed": 13, "of": 16}, "plain_top1": {"passed": 346, "of": 369}}}}


def test_posttrain_facts_come_from_the_manifest_and_need_an_adapter_export():
    text = ("{{ model.posttrain_steps }} steps on {{ model.posttrain_examples }} conversations, "
            "{{ model.posttrain_parameters_m }}M ({{ model.posttrain_parameters_share }}%) in "
            "{{ model.posttrain_adapter_mb }} MB; loss {{ model.posttrain_loss_start }} to "
            "{{ model.posttrain_loss_end }}; tools {{ model.posttrain_tool_call }}, "
            "plain {{ model.posttrain_plain_top1 }}")
    assert fill(text, {**MANIFEST, "posttrain": POSTTRAIN}) == (
        "700 steps on 800 conversations, 2.4M (1.8%) in 5.0 MB; loss 0.81 to 0.046; tools 81%, plain 94%")
    with pytest.raises(PluginError, match=r"chapter\.md: \{\{ model\.posttrain_steps \}\} needs a model exported with --adapter"):
        fill("{{ model.posttrain_steps }}", MANIFEST, "chapter.md")
