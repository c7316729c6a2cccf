"""``backend.Backend`` over the browser's own WASM session, run by Node (CPython only): the
session code of the page (``ModelSession`` in site_plugins/assets/llmb-model.js) on
onnxruntime-web's WASM build, driven one JSON line at a time (backend_node.mjs).

It computes what a WASM reader's browser computes, bit for bit: WASM arithmetic is the same in
every engine. Native onnxruntime does not, on the CPU file (int8 activations,
docs/authors/export.md): its x86 float kernels fuse multiply-adds and sum in other orders, and
although the int8 products are exact in both, a last-bit difference moves an activation across
a rounding boundary now and then and grows through the layers, so greedy replies part after a
few tokens. So the build-time demos, whose text a reader's "Run live" must reproduce, and the
browser tests' references run here.

    >>> backend = NodeBackend.from_artifact("artifacts/smollm2-135m-instruct-q4")  # doctest: +SKIP
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from .backend import check_adapter_scale, check_feed
from .manifest import Manifest
from .sampling import Candidates

ROOT = Path(__file__).resolve().parent.parent
SESSION = Path(__file__).with_name("backend_node.mjs")
MODEL_JS = ROOT / "site_plugins" / "assets" / "llmb-model.js"


class NodeBackend:
    """The browser's WASM session on ``folder``'s file for ``runtime`` (the CPU file where the
    artifact has one), in a Node child process; ``close()`` ends it."""

    @classmethod
    def from_artifact(cls, folder, *, runtime: str = "wasm") -> "NodeBackend":
        return cls(folder, runtime)

    def __init__(self, folder, runtime: str = "wasm"):
        folder = Path(folder)
        manifest = Manifest.load(folder)
        self.vocab_size = manifest.model.vocab_size
        self._max_length = manifest.model.context_length
        self._tmp = tempfile.mkdtemp(prefix="llmb-wasm-")
        module = Path(self._tmp) / "llmb-model.mjs"        # Node reads .mjs as a module
        shutil.copy(MODEL_JS, module)
        self._proc = subprocess.Popen(
            ["node", str(SESSION), str(module), str(folder / manifest.onnx.file_for(runtime).file),
             str(folder / "manifest.json")],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(Path(self._tmp) / "stderr", "w"),
            text=True)
        if not self._proc.stdout.readline().strip():
            error = (Path(self._tmp) / "stderr").read_text().strip().splitlines()
            raise RuntimeError(f"node could not start the WASM session: {error[-1] if error else self._proc.wait()}")
        state = self._call("state")
        self._has_adapter = bool(state["has_adapter"])
        self._length, self._scale = int(state["length"]), float(state["adapter_scale"])

    def _call(self, op: str, **args):
        self._proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self._proc.stdin.flush()
        reply = json.loads(self._proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError(f"WASM session: {reply['error']}")
        return reply["value"]

    def close(self) -> None:
        """End the Node process (idempotent)."""
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        shutil.rmtree(self._tmp, ignore_errors=True)

    @property
    def length(self) -> int:
        return self._length

    @property
    def adapter_scale(self) -> float:
        return self._scale

    def set_adapter_scale(self, scale: float) -> bool:
        check_adapter_scale(self._has_adapter, scale)
        changed = bool(self._call("set_adapter_scale", scale=float(scale)))
        if changed:
            self._scale, self._length = float(scale), 0     # the session reset its cache
        return changed

    @property
    def max_length(self) -> int:
        return self._max_length

    async def feed(self, ids: list) -> None:
        check_feed(self._length, len(ids), self._max_length)
        self._length = int(self._call("feed", ids=[int(i) for i in ids]))

    async def top(self, n: int) -> Candidates:
        best = self._call("top", n=int(n))
        return Candidates(ids=best["ids"], logits=best["logits"])

    def log_normalizer(self) -> float:
        return float(self._call("log_normalizer"))

    def truncate(self, n: int) -> int:
        self._length = int(self._call("truncate", n=int(n)))
        return self._length

    def reset(self) -> None:
        self._call("reset")
        self._length = 0
