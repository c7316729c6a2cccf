"""``backend.Backend`` over native onnxruntime: the one module that imports it (CPython only).

The artifact's model.onnx is a single graph for prefill and decode: it takes the new token ids,
their positions and the caches so far, and returns logits for the new positions and the grown
caches. Input, output and cache names come from the manifest. Caches stay here as numpy arrays;
only the last position's best scores cross into the loop, as Python floats.

Example (needs the default export; tests/export/test_backend_native.py runs it after making it):

    >>> import asyncio
    >>> backend = NativeBackend.from_artifact("artifacts/smollm2-135m-instruct-q4")
    >>> asyncio.run(backend.feed([1, 9690, 198])); backend.length
    3
    >>> len(asyncio.run(backend.top(40)).ids), backend.truncate(1)
    (40, 1)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from .backend import check_adapter_scale, check_feed
from .manifest import Manifest
from .sampling import Candidates

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
           "tensor(int32)": np.int32}


class NativeBackend:
    def __init__(self, model_path, manifest: Manifest, *, max_length: int | None = None,
                 threads: int | None = None):
        options = ort.SessionOptions()
        # Worker threads sleep between runs instead of spinning: the same speed per token here,
        # about 40% less CPU, and the Python between tokens does not compete with them.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        graph = manifest.onnx.file_named(Path(model_path).name)
        for key, value in (graph.session_options if graph else {}).items():
            options.add_session_config_entry(key, value)
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        spec = manifest.onnx
        self.vocab_size = manifest.model.vocab_size
        window = manifest.model.context_length
        self._max_length = min(window, max_length) if max_length else window
        types = {i.name: _DTYPES[i.type] for i in self.session.get_inputs()}
        self._ids_name, self._ids_type = spec.input_ids, types[spec.input_ids]
        self._pos_name = spec.position_ids
        self._pos_type = types.get(spec.position_ids, np.int64)
        self._mask_name = spec.attention_mask
        self._mask_type = types.get(spec.attention_mask, np.int64)
        self._cache = spec.cache
        self._outputs = [spec.logits] + [c.output for c in spec.cache]
        self._cache_types = [types[c.input] for c in spec.cache]
        self._rewindable = all(c.past_axis is not None for c in spec.cache)
        self._switch = spec.adapter_scale
        # An adapter export starts as the original model, as the live chat does with its toggles off.
        self.adapter_scale = 0.0
        self.reset()

    @classmethod
    def from_artifact(cls, folder, *, runtime: str = "webgpu", **kwargs) -> "NativeBackend":
        """The backend for an artifact folder (manifest.json and its graph files), on the file
        that the browser's ``runtime`` loads: "webgpu" model.onnx, "wasm" the CPU file where
        the artifact has one (``Manifest.onnx.file_for``)."""
        manifest = Manifest.load(folder)
        return cls(Path(folder) / manifest.onnx.file_for(runtime).file, manifest, **kwargs)

    @property
    def length(self) -> int:
        return self._length

    @property
    def max_length(self) -> int:
        return self._max_length

    def reset(self) -> None:
        # Empty key/value caches (length 0 along "past") and zero state caches.
        self._values = [
            np.zeros([0 if d == "past" else d for d in c.shape], dtype=t)
            for c, t in zip(self._cache, self._cache_types)
        ]
        self._length = 0
        self._last = None

    async def feed(self, ids: list) -> None:
        n = len(ids)
        check_feed(self._length, n, self._max_length)
        feeds = {self._ids_name: np.array([ids], dtype=self._ids_type)}
        if self._pos_name:
            feeds[self._pos_name] = np.arange(self._length, self._length + n, dtype=self._pos_type)[None]
        if self._mask_name:
            feeds[self._mask_name] = np.ones((1, self._length + n), dtype=self._mask_type)
        if self._switch:
            feeds[self._switch] = np.array([self.adapter_scale], dtype=np.float32)
        for c, v in zip(self._cache, self._values):
            feeds[c.input] = v
        logits, *values = self.session.run(self._outputs, feeds)
        self._values = values
        self._last = logits[0, -1]
        self._length += n

    async def top(self, n: int) -> Candidates:
        row = self._last
        if row is None:
            raise RuntimeError("top() before feed()")
        if n >= row.shape[0]:
            return Candidates(ids=None, logits=row.tolist())
        if n == 1:
            i = int(np.argmax(row))  # first maximum: ties go to the lower id
            return Candidates(ids=[i], logits=[float(row[i])])
        # The n-th best score as a threshold, then every id that reaches it: quicker than
        # argpartition, and ties at the threshold only add candidates, which stays exact.
        kth = np.partition(row, -n)[-n]
        ids = np.flatnonzero(row >= kth)
        return Candidates(ids=ids.tolist(), logits=row[ids].tolist())

    def log_normalizer(self) -> float:
        row = self._last
        if row is None:
            raise RuntimeError("log_normalizer() before feed()")
        row = row.astype(np.float64)
        top = row.max()
        return float(top + np.log(np.exp(row - top).sum()))

    def set_adapter_scale(self, scale: float) -> bool:
        check_adapter_scale(self._switch is not None, scale)
        if scale == self.adapter_scale:
            return False
        self.adapter_scale = float(scale)
        self.reset()
        return True

    def truncate(self, n: int) -> int:
        if n >= self._length:
            return self._length
        if not self._rewindable:
            self.reset()  # a state cache cannot forget its tail; start over
            return 0
        self._values = [
            np.ascontiguousarray(v[(slice(None),) * c.past_axis + (slice(0, n),)])
            for c, v in zip(self._cache, self._values)
        ]
        self._length = n
        self._last = None
        return n
