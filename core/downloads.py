"""What a reader downloads to run the model, by runtime: the tokenizer and the graph that runtime
loads (``Manifest.onnx.file_for``: WebGPU model.onnx, WASM the CPU file), with the graph's
external weights where it has them (``OnnxFile.downloads``: the CPU file keeps its weights in
``model.cpu.onnx.data``).

    >>> manifest = {"schema_version": 1, "model": {"name": "Tiny"},
    ...     "tokenizer": {"file": "t.json", "stop_ids": [2]}, "chat_template": {"text": ""},
    ...     "onnx": {"file": "m.onnx", "sha256": "3" * 64, "bytes": 100, "inputs": {"input_ids": "ids"},
    ...              "outputs": {"logits": "logits"},
    ...              "cpu": {"file": "c.onnx", "sha256": "0" * 64, "bytes": 2,
    ...                      "data": {"file": "c.onnx.data", "sha256": "1" * 64, "bytes": 198}}},
    ...     "files": {"t.json": {"sha256": "2" * 64, "bytes": 10}}}
    >>> sizes = download_sizes(manifest)
    >>> sizes
    {'webgpu': 110, 'wasm': 210}
    >>> size_text(sizes, "auto"), size_text(sizes, "webgpu")
    ('0.0 MB, or 0.0 MB with WebGPU', '0.0 MB')
"""

from __future__ import annotations

from .manifest import Manifest

RUNTIMES = ("webgpu", "wasm")


def download_sizes(manifest: dict) -> dict:
    """Bytes downloaded on each runtime ({} for a manifest without files)."""
    files = manifest.get("files") or {}
    if not files:
        return {}
    info = Manifest.from_dict(manifest)
    tokenizer = files[info.tokenizer.file]["bytes"]
    return {runtime: tokenizer + sum(f.bytes for f in info.onnx.file_for(runtime).downloads) for runtime in RUNTIMES}


def size_text(sizes: dict, choice: str) -> str:
    """The download for the reader's runtime choice, in MB; "auto" (WebGPU where the browser
    has it, else WASM) names both sizes when they differ."""
    if not sizes:
        return ""
    mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
    if choice in RUNTIMES:
        return mb(sizes[choice])
    if sizes["wasm"] == sizes["webgpu"]:
        return mb(sizes["wasm"])
    return f"{mb(sizes['wasm'])}, or {mb(sizes['webgpu'])} with WebGPU"
