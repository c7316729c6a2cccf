"""What page widgets read from their build-time context, the dict the fences plugin passes to
``initial_state`` (``manifest``, ``artifact_dir``, ``model_path``): here, the artifact's tokenizer,
read once per build instead of once per use (its tokenizer.json is 3.5 MB of JSON)."""
from __future__ import annotations

import functools
from pathlib import Path

from .tokenizer import Tokenizer


def tokenizer(ctx: dict) -> Tokenizer:
    """The tokenizer of the context's artifact, shared by every widget of the build."""
    name = ((ctx.get("manifest") or {}).get("tokenizer") or {}).get("file", "tokenizer.json")
    path = Path(ctx["artifact_dir"]) / name
    return _load(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Tokenizer:
    # keyed by modification time too: a folder exported again in the same process is read again
    return Tokenizer.from_file(path)
