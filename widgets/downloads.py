"""What a reader downloads to run the model, by runtime: the tokenizer and the one graph file
that runtime loads (``Manifest.onnx.file_for``: WebGPU model.onnx, WASM the CPU file).

    >>> sizes = download_sizes({"tokenizer": {"file": "t.json"},
    ...     "onnx": {"file": "m.onnx", "cpu": {"file": "c.onnx", "sha256": "0" * 64, "bytes": 200}},
    ...     "files": {"t.json": {"bytes": 10}, "m.onnx": {"bytes": 100}, "c.onnx": {"bytes": 200}}})
    >>> sizes
    {'webgpu': 110, 'wasm': 210}
    >>> size_text(sizes, "auto"), size_text(sizes, "webgpu")
    ('0.0 MB, or 0.0 MB with WebGPU', '0.0 MB')
"""

from __future__ import annotations

RUNTIMES = ("webgpu", "wasm")


def download_sizes(manifest: dict) -> dict:
    """Bytes downloaded on each runtime ({} for an empty manifest)."""
    files = manifest.get("files") or {}
    onnx = manifest.get("onnx") or {}
    if not files:
        return {}
    tokenizer = files.get((manifest.get("tokenizer") or {}).get("file", "tokenizer.json"), {}).get("bytes", 0)
    main = files.get(onnx.get("file", "model.onnx"), {}).get("bytes", 0)
    cpu = files.get((onnx.get("cpu") or {}).get("file"), {}).get("bytes", main)
    return {"webgpu": tokenizer + main, "wasm": tokenizer + cpu}


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
