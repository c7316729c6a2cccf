"""The same source and options give byte-identical files, on any CPU; a current folder is reused."""
import json
import os
import subprocess
import sys

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


ROTARY_SHA = """
import hashlib
from export.decoder import rotary_tables
from export.spec import ModelSpec
cos, sin = rotary_tables(ModelSpec("llama", 30, 9, 3, 64, 576, 1536, 49152, 8192, 1e-5, 100000.0, True))
print(hashlib.sha256(cos.tobytes() + sin.tobytes()).hexdigest())
"""


def test_the_graph_bytes_do_not_depend_on_the_cpus_simd():
    """numpy's float32 cos and sin dispatch to SIMD code chosen by CPU feature, and AVX2 and
    AVX-512 give other last bits: the rotary tables once made model.onnx's sha256 (and every
    record keyed on it) depend on the machine. With those code paths turned off, the tables
    must not change."""
    def sha(disabled):
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
        run = subprocess.run([sys.executable, "-c", ROTARY_SHA], capture_output=True, text=True, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout.strip()
    assert sha("") == sha("X86_V3 X86_V4 AVX512_ICL AVX512_SPR")
