"""The adapter's held-out evaluation, recorded beside it (``evaluation.json``) for the exact
bytes, runtime, code and CPU kernels it was measured with.

Measuring takes most of an adapter export (about 45 minutes on two cores: 1,440 free-running
replies and the tool/think checks). The inputs that decide its outcome are in the key: the adapted
and original model files, the templates and system message, the evaluation code and the widgets
loop it runs through, onnxruntime's and Python's versions. Greedy and seeded replies are
deterministic given those, so an export whose key matches reuses the record instead of measuring
again; any other export measures and writes a new record. The CPU it was measured on is noted but
not keyed: another CPU's kernels move logits in their last bits, which changes a reply only at a
near-tie, and a machine with other kernels (CI) must not spend the 45 minutes again. Each reply's
outcome is kept, so a test replays a sample on the machine at hand and requires the same.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from .. import fingerprint

FILE = "evaluation.json"
# The code an evaluation runs, relative to export/: its own modules and the widgets loop (not
# this module: it only stores what they measured).
CODE = ("posttrain/data.py", "posttrain/evaluate.py", "posttrain/freegen.py", "posttrain/plain.py") + tuple(f"../core/{m}.py" for m in (
            "backend", "backend_native", "chat", "chat_mode", "chat_template", "generation", "manifest",
            "sampling", "tokenizer", "tool_calls", "tools"))


def inputs(adapted_folder, original_folder) -> dict:
    """What decides the evaluation's outcome, readable (the key is its hash)."""
    import onnxruntime
    adapted = json.loads((Path(adapted_folder) / "manifest.json").read_text(encoding="utf-8"))
    original = json.loads((Path(original_folder) / "manifest.json").read_text(encoding="utf-8"))
    post = adapted["posttrain"]
    return {"model": adapted["onnx"]["sha256"], "original_model": original["onnx"]["sha256"],
            "tokenizer": adapted["files"]["tokenizer.json"]["sha256"],
            "template": _text_sha(adapted["chat_template"]["text"]),
            "original_template": _text_sha(post["original_chat_template"]["text"]),
            "system": post.get("system"), "code": fingerprint.code_hash(Path(__file__).parent.parent, CODE),
            "onnxruntime": onnxruntime.__version__, "python": "%d.%d" % sys.version_info[:2]}


def key(facts: dict) -> str:
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def load(adapter_folder, facts: dict) -> dict | None:
    """The recorded ``{"evaluation": ..., "free_generation": ...}`` when its key matches, else None."""
    try:
        record = json.loads((Path(adapter_folder) / FILE).read_text(encoding="utf-8"))
        if record["key"] == key(facts):
            return {"evaluation": record["evaluation"], "free_generation": record["free_generation"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def save(adapter_folder, facts: dict, evaluation: dict, free_generation: dict) -> Path:
    """Write the record whole (a temporary file renamed over the old one)."""
    path = Path(adapter_folder) / FILE
    tmp = path.with_name(f".{FILE}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"key": key(facts), "inputs": facts, "measured_on": fingerprint.cpu_kernels(),
                                   "evaluation": evaluation, "free_generation": free_generation},
                                  indent=1) + "\n", encoding="utf-8")   # in measured order: tables follow it
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
