"""Bad input: one clear line naming the problem, a non-zero exit, never a half-written folder."""
import importlib
import json
import subprocess
import sys

import pytest

import export
from export import cli
from export.sources import default_source_path
from export_tiny import save_tiny


def run_cli(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "export", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("export: error:")]
    return proc.returncode, errors


def listing(folder):
    """Names in ``folder`` apart from the exports' lock files."""
    return sorted(p.name for p in folder.iterdir() if p.suffix != ".lock")


def assert_fails(args, expected, out):
    code, errors = run_cli(*args, "--out", out)
    assert code == 1
    assert len(errors) == 1 and expected in errors[0], errors
    assert not out.exists()
    assert not [p for p in out.parent.glob(f".{out.name}.*") if p.suffix != ".lock"]


def test_missing_path(tmp_path):
    assert_fails([tmp_path / "nowhere.gguf"], "source not found", tmp_path / "out")


def test_folder_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    assert_fails([tmp_path / "notes"], "not a checkpoint folder (no config.json)", tmp_path / "out")


def test_unsupported_architecture_folder(tmp_path):
    (tmp_path / "gpt2").mkdir()
    (tmp_path / "gpt2" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    (tmp_path / "gpt2" / "tokenizer.json").write_text("{}")
    assert_fails([tmp_path / "gpt2"], "unsupported architecture 'gpt2'", tmp_path / "out")


def test_unsupported_architecture_gguf(tmp_path):
    import gguf
    import numpy as np
    path = tmp_path / "tiny-gpt2.gguf"
    writer = gguf.GGUFWriter(str(path), "gpt2")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert_fails([path], "unsupported architecture 'gpt2'", tmp_path / "out")


def test_truncated_gguf(tmp_path):
    path = tmp_path / "truncated.gguf"
    with open(default_source_path(), "rb") as f:
        path.write_bytes(f.read(5_000_000))
    assert_fails([path], "corrupt or truncated GGUF", tmp_path / "out")


def test_corrupt_gguf(tmp_path):
    path = tmp_path / "corrupt.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 40)
    assert_fails([path], "corrupt or truncated GGUF", tmp_path / "out")


def test_not_a_gguf_file(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x00" * 64)
    assert_fails([path], "not a GGUF file", tmp_path / "out")


def test_unknown_preset(tmp_path):
    with pytest.raises(export.ExportError, match="unknown preset 'q3'"):
        export.build(preset="q3", out=tmp_path / "out")


def test_verification_below_threshold_fails(tmp_path, monkeypatch, capsys):
    """Below its preset's threshold an export fails, says so in one line and writes nothing.
    (The threshold is raised past 1.0 here: a tiny model's agreement cannot be steered.)"""
    folder = save_tiny("llama", tmp_path / "llama")
    monkeypatch.setitem(importlib.import_module("export.verify").THRESHOLDS, "q4", 1.01)
    out = tmp_path / "out"
    assert cli.main([str(folder), "--preset", "q4", "--out", str(out)]) == 1
    errors = [l for l in capsys.readouterr().err.splitlines() if l.startswith("export: error:")]
    assert len(errors) == 1
    assert "verification failed for preset q4: top-1 agreement" in errors[0]
    assert "< threshold 1.010" in errors[0]
    assert listing(tmp_path) == ["llama"]


def test_interrupted_run_leaves_old_folder_and_no_temporary(tmp_path, monkeypatch, capsys):
    folder = save_tiny("llama", tmp_path / "llama")
    out = tmp_path / "out"
    export.build(folder, preset="fp32", out=out, verify=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (folder / "extra.txt").write_text("changes the source hash: forces a rebuild")

    def interrupted(tmp, *args, **kwargs):
        (tmp / "model.onnx").write_bytes(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(importlib.import_module("export.build"), "_export_into", interrupted)
    assert cli.main([str(folder), "--preset", "fp32", "--out", str(out), "--no-verify"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert listing(tmp_path) == ["llama", "out"]



def test_site_export_takes_no_other_model(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "export", "--site", "--adapter", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("llm-book-export: error: --site exports the model")
    assert not list(tmp_path.iterdir())
