"""onnxruntime-web as a ``backend.Backend``: the one core module that imports ``js`` (Pyodide only).

``BrowserBackend`` drives a ModelSession of ``site_plugins/assets/llmb-model.js``: the session and
its KV cache live in JavaScript; Python sends token ids and reads back only the few best scores, as
the native backend does. ``load_model`` fetches (or takes from the Cache API), verifies and starts
the artifact once per tab and backend kind, however many widgets ask at once. The page that mounts
widgets around it is ``widgets/page.py``.
"""

from __future__ import annotations

import asyncio
import json

import js
from pyodide.ffi import create_proxy, jsnull

from .backend import check_adapter_scale, check_feed
from .generation import Generator
from .manifest import Manifest
from .model_queue import ModelQueue
from .sampling import Candidates
from .tokenizer import Tokenizer


def absent(value) -> bool:
    """A JavaScript value that is not there (undefined or null)."""
    return value is None or value is jsnull


class BrowserBackend:
    """``backend.Backend`` over a ModelSession of llmb-model.js."""

    def __init__(self, session, vocab_size: int, max_length: int):
        self._session = session
        self.vocab_size = vocab_size
        self._max_length = max_length

    @property
    def length(self) -> int:
        return int(self._session.length)

    @property
    def adapter_scale(self) -> float:
        return float(self._session.adapterScale)

    def set_adapter_scale(self, scale: float) -> bool:
        check_adapter_scale(bool(self._session.hasAdapter), scale)
        return bool(self._session.setAdapterScale(float(scale)))

    @property
    def max_length(self) -> int:
        return self._max_length

    async def feed(self, ids: list) -> None:
        check_feed(self.length, len(ids), self._max_length)
        await self._session.feed(js.Int32Array.new(list(ids)))

    async def top(self, n: int) -> Candidates:
        best = self._session.top(n)
        logits = best.logits.to_py().tolist()
        ids = None if absent(best.ids) else best.ids.to_py().tolist()
        return Candidates(ids=ids, logits=logits)

    def log_normalizer(self) -> float:
        return float(self._session.logNormalizer())

    async def warmed(self) -> int:
        """How many runs the session's warm-up made (llmb-model.js ``warmUp``), once it is over."""
        return int(await self._session.warmed)

    def truncate(self, n: int) -> int:
        return int(self._session.truncate(n))

    def reset(self) -> None:
        self._session.reset()


class Model:
    """A loaded model: what a chat needs, created once per tab and backend kind."""

    def __init__(self, manifest: dict, info: Manifest, tokenizer: Tokenizer, backend: BrowserBackend,
                 kind: str, threads: int, source: str, note: str):
        self.manifest = manifest  # as served; ``info`` is its typed view
        self.info = info
        self.tokenizer = tokenizer
        self.backend = backend
        self.kind = kind  # "webgpu" | "wasm"
        self.threads = threads  # WASM threads (0 on WebGPU)
        self.source = source  # "cache" | "network"
        self.note = note  # a storage problem the reader should know about, or ""
        self.generator = Generator(backend, tokenizer.id_to_bytes, self.info.tokenizer.stop_ids)
        self.queue = ModelQueue()  # the widgets' runs take turns on it (core/model_queue.py)


_models: dict = {}  # (model_path, kind) -> the Model, or the task loading it, for the life of the tab
_webgpu: list = []  # the answer of webgpu_problem, asked once per tab


async def webgpu_problem() -> str:
    """"" when WebGPU can run here, else why not."""
    if not _webgpu:
        _webgpu.append(str(await js.llmb.model.webgpuProblem()))
    return _webgpu[0]


async def _fetch(call, *args, on_progress=None, name=None) -> object:
    """An llmb-model.js fetch (``fetchVerified`` for the file ``name``, or ``fetchGraph``) whose
    last argument is its progress callback; a failure becomes the one-line reason it gave."""
    def report(*event):  # (file, loaded, total, source); fetchVerified leaves out the file
        if on_progress is not None:
            file, loaded, total, source = (name, *event) if name else event
            on_progress(str(file), int(loaded), int(total), str(source))

    proxy = create_proxy(report)
    try:
        return await call(*args, proxy)
    except Exception as e:  # JsException: the one-line reason the fetch gave
        raise RuntimeError(str(js.llmb.model.explain(e))) from None
    finally:
        proxy.destroy()


async def load_model(model_path: str, choice: str = "auto", on_progress=None) -> Model:
    """Fetch (or take from the Cache API), verify and start the model under ``model_path``.

    ``choice`` is "auto" (WebGPU when an adapter exists, else WASM), "webgpu" or "wasm";
    ``on_progress(file, loaded, total, source)`` hears about downloads.
    """
    problem = await webgpu_problem()
    if choice == "auto":
        kind = "wasm" if problem else "webgpu"
    elif choice == "webgpu" and problem:
        raise RuntimeError(f"WebGPU is not available: {problem}. Choose WASM instead.")
    else:
        kind = choice
    key = (model_path, kind)
    if key not in _models:
        # One load per model, however many widgets ask at once; a failed load is forgotten so
        # that the next request tries again.
        _models[key] = asyncio.ensure_future(_load(model_path, kind, on_progress))
    found = _models[key]
    if isinstance(found, Model):
        return found
    try:
        model = await asyncio.shield(found)
    except BaseException:
        if _models.get(key) is found:
            del _models[key]
        raise
    _models[key] = model
    return model


async def _load(model_path: str, kind: str, on_progress) -> Model:
    base = str(js.llmb.siteURL) + model_path
    response = await js.fetch(base + "manifest.json", cache="no-cache")
    if not response.ok:
        raise RuntimeError(f"{model_path}manifest.json: HTTP {response.status}")
    try:
        manifest = json.loads(await response.text())
        info = Manifest.from_dict(manifest)
        tok_name = info.tokenizer.file
        tok_facts = manifest["files"][tok_name]
    except (ValueError, KeyError, TypeError) as e:
        raise RuntimeError(f"{model_path}manifest.json is cut off or damaged ({type(e).__name__}: {e})") from None
    tok = await _fetch(js.llmb.model.fetchVerified, base + tok_name, tok_facts["sha256"], tok_facts["bytes"],
                       on_progress=on_progress, name=tok_name)
    tokenizer = Tokenizer.from_str(tok.data.to_bytes().decode("utf-8"))
    # Only what this runtime runs: WebGPU model.onnx, WASM the CPU file and its weights, in one
    # buffer that onnxruntime-web moves to its worker (llmb-model.js fetchGraph; export/build.py, CPU_DATA).
    graph = info.onnx.file_for(kind)
    files = [{"file": f.file, "sha256": f.sha256, "bytes": f.bytes} for f in graph.downloads]
    got = await _fetch(js.llmb.model.fetchGraph, base, js.JSON.parse(json.dumps(files)), on_progress=on_progress)
    try:
        session = await js.llmb.model.createSession(kind, got.graph, js.JSON.parse(json.dumps(manifest)),
                                                    got.externalData, js.JSON.parse(json.dumps(graph.session_options)))
    except Exception as e:  # JsException: ORT's message, made readable
        raise RuntimeError(str(js.llmb.model.explain(e))) from e
    finally:
        del got.graph, got.externalData   # the worker has them now
    backend = BrowserBackend(session, info.model.vocab_size, info.model.context_length)
    biggest = got.files[len(files) - 1]     # where most of the bytes came from
    notes = [str(f.note) for f in (biggest, got.files[0], tok) if f.note]
    return Model(manifest, info, tokenizer, backend, kind, int(session.threads), str(biggest.source),
                 notes[0] if notes else "")


def forget(model: Model) -> None:
    """Drop a model whose session cannot run any more, so the next load starts afresh."""
    for key in [k for k, m in _models.items() if m is model]:
        del _models[key]
