"""The typed manifest view: fields, the "past" axis, and one-line errors naming what is missing."""

import copy
import json

import pytest

from core.manifest import Manifest, ManifestError

MINIMAL = {
    "schema_version": 1,
    "model": {"name": "m", "num_layers": 2, "vocab_size": 10, "context_length": 64, "unknown_later": 1},
    "tokenizer": {"file": "tokenizer.json", "special_tokens": {"<|im_end|>": 2}, "eos_id": 2, "stop_ids": [2, 0]},
    "chat_template": {"text": "{{ x }}", "features": {"think": True, "tools": False}},
    "onnx": {"file": "model.onnx", "inputs": {"input_ids": "ids", "position_ids": None, "attention_mask": None},
             "outputs": {"logits": "logits"},
             "cache": [{"layer": 0, "kind": "key", "input": "pk", "output": "k", "shape": [1, 3, "past", 64]},
                       {"layer": 0, "kind": "conv", "input": "pc", "output": "c", "shape": [1, 8, 4]}]},
}


def test_fields_and_cache_axes(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(MINIMAL))
    m = Manifest.load(tmp_path)
    assert m.model.context_length == 64 and m.tokenizer.stop_ids == (2, 0)
    assert m.chat_template.think and not m.chat_template.tools
    assert m.onnx.position_ids is None and m.onnx.logits == "logits"
    assert [c.past_axis for c in m.onnx.cache] == [2, None]
    assert m.raw["model"]["unknown_later"] == 1  # fields this view does not type stay reachable


@pytest.mark.parametrize("path, message", [
    (("tokenizer", "stop_ids"), "tokenizer.stop_ids"),
    (("onnx", "outputs"), "onnx.outputs"),
    (("chat_template", "text"), "chat_template.text"),
])
def test_missing_field_is_named(path, message):
    d = copy.deepcopy(MINIMAL)
    del d[path[0]][path[1]]
    with pytest.raises(ManifestError, match=message.replace(".", r"\.")):
        Manifest.from_dict(d)


def test_other_schema_version_is_refused():
    with pytest.raises(ManifestError, match="schema_version 2"):
        Manifest.from_dict({**MINIMAL, "schema_version": 2})


def test_a_files_session_options_reach_the_file_each_runtime_loads():
    cpu = {"file": "model.cpu.onnx", "sha256": "ab", "bytes": 3, "session_options": {"session.x": "1"}}
    m = Manifest.from_dict({**MINIMAL, "onnx": {**MINIMAL["onnx"], "cpu": cpu}})
    assert m.onnx.file_for("wasm").session_options == {"session.x": "1"}
    assert m.onnx.file_for("webgpu").session_options == {}
    assert m.onnx.file_named("model.cpu.onnx") is m.onnx.cpu and m.onnx.file_named("other.onnx") is None


@pytest.mark.parametrize("options", [{"session.x": 1}, ["session.x"], {"session.x": None}])
def test_session_options_that_are_not_strings_are_named(options):
    cpu = {"file": "model.cpu.onnx", "sha256": "ab", "bytes": 3, "session_options": options}
    with pytest.raises(ManifestError, match=r"onnx\.cpu\.session_options must map strings to strings"):
        Manifest.from_dict({**MINIMAL, "onnx": {**MINIMAL["onnx"], "cpu": cpu}})
