"""The same source and options give byte-identical files; a current folder is reused."""
import json

import export
from export.manifest import file_entry
from export_tiny import save_tiny


def folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_tiny_exports_are_byte_identical(tmp_path):
    source = save_tiny("qwen3", tmp_path / "qwen3")
    for preset in ("fp32", "q4"):
        a = export.build(source, preset=preset, out=tmp_path / f"a-{preset}", verify=False)
        b = export.build(source, preset=preset, out=tmp_path / f"b-{preset}", verify=False)
        assert folder_bytes(a) == folder_bytes(b)


def test_default_model_rebuilds_to_the_same_bytes(default_artifact, tmp_path):
    manifest = json.loads((default_artifact / "manifest.json").read_text())
    again = export.build(out=tmp_path / "again", verify=False)
    assert file_entry(again / "model.onnx") == manifest["files"]["model.onnx"]
    assert file_entry(again / "tokenizer.json") == manifest["files"]["tokenizer.json"]


def test_current_folder_is_reused(tmp_path):
    source = save_tiny("llama", tmp_path / "llama")
    out = export.build(source, preset="fp32", out=tmp_path / "out", verify=False)
    stamp = (out / "model.onnx").stat().st_mtime_ns
    assert export.build(source, preset="fp32", out=out, verify=False) == out
    assert (out / "model.onnx").stat().st_mtime_ns == stamp
