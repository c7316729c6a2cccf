"""What a reader downloads to run the model, by runtime: the tokenizer and the graph that runtime
loads (``Manifest.onnx.file_for``: WebGPU model.onnx, WASM the CPU file), with the graph's
external weights where it has them (the CPU file keeps its weights in ``model.cpu.onnx.data``).

    >>> manifest = {"tokenizer": {"file": "t.json"},
    ...     "onnx": {"file": "m.onnx", "cpu": {"file": "c.onnx", "sha256": "0" * 64, "bytes": 2,
    ...              "data": {"file": "c.onnx.data", "sha256": "1" * 64, "bytes": 198}}},
    ...     "files": {"t.json": {"sha256": "2" * 64, "bytes": 10}, "m.onnx": {"sha256": "3" * 64, "bytes": 100},
    ...               "c.onnx": {"sha256": "0" * 64, "bytes": 2}, "c.onnx.data": {"sha256": "1" * 64, "bytes": 198}}}
    >>> [f["file"] for f in graph_files(manifest, "wasm")], [f["file"] for f in graph_files(manifest, "webgpu")]
    (['c.onnx', 'c.onnx.data'], ['m.onnx'])
    >>> sizes = download_sizes(manifest)
    >>> sizes
    {'webgpu': 110, 'wasm': 210}
    >>> size_text(sizes, "auto"), size_text(sizes, "webgpu")
    ('0.0 MB, or 0.0 MB with WebGPU', '0.0 MB')
"""

from __future__ import annotations

RUNTIMES = ("webgpu", "wasm")


def _graph_names(manifest: dict, runtime: str) -> list[str]:
    onnx = manifest.get("onnx") or {}
    entry = onnx if runtime == "webgpu" or not onnx.get("cpu") else onnx["cpu"]
    return [entry.get("file", "model.onnx")] + ([entry["data"]["file"]] if entry.get("data") else [])


def graph_files(manifest: dict, runtime: str) -> list[dict]:
    """The graph ``runtime`` loads, then its external data file if it has one: each as
    ``{"file", "sha256", "bytes"}`` from the manifest's ``files`` (KeyError when one is missing)."""
    return [{"file": name, **manifest["files"][name]} for name in _graph_names(manifest, runtime)]


def download_sizes(manifest: dict) -> dict:
    """Bytes downloaded on each runtime ({} for a manifest without files)."""
    files = manifest.get("files") or {}
    if not files:
        return {}
    tokenizer = (manifest.get("tokenizer") or {}).get("file", "tokenizer.json")
    return {runtime: sum(files.get(name, {}).get("bytes", 0) for name in [tokenizer, *_graph_names(manifest, runtime)])
            for runtime in RUNTIMES}


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
