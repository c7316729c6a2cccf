"""The chapter's two small MkDocs plugins: manifest facts in Markdown, focusable glossary terms."""

import pytest
from mkdocs.exceptions import PluginError

from site_plugins.facts.plugin import facts_from_manifest, fill
from site_plugins.glossary.plugin import focusable

MANIFEST = {
    "model": {"name": "Tiny-1", "num_layers": 30, "num_heads": 9, "num_kv_heads": 3, "hidden_size": 576,
              "intermediate_size": 1536, "vocab_size": 49152, "context_length": 8192, "parameters": 134515008,
              "architecture": "llama"},
    "tokenizer": {"special_tokens": {"<|im_end|>": 2, "<|im_start|>": 1, "<|endoftext|>": 0}},
    "onnx": {"bytes": 99097463, "quantization": {"weights": "int4 blocks of 32 (MatMulNBits)"}},
}


def test_placeholders_take_the_manifest_values():
    text = ("{{ model.name }} has {{ model.num_layers }} layers, {{ model.parameters_m }}M parameters, "
            "{{model.vocab_size}} tokens, {{ model.file_mb }} MB of {{ model.quantization }}; "
            "end of turn is {{ model.id <|im_end|> }}.")
    assert fill(text, MANIFEST) == ("Tiny-1 has 30 layers, 134.5M parameters, 49,152 tokens, 99 MB of int4; "
                                    "end of turn is 2.")


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
