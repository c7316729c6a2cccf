"""The build context: what a page widget's ``initial_state(options, ctx)`` may read at build time.

The fences plugin makes one per build from the models plugin (the site's artifact); in the
browser, a widget that has no rendered state starts from an empty one. Build-time work that needs
the model (tokenizing, running it) happens here at build time, never in the reader's browser.

    >>> ctx = BuildContext()
    >>> ctx.manifest, ctx.artifact_dir, ctx.model_path
    ({}, None, '')
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from core.tokenizer import Tokenizer


@dataclass(frozen=True)
class BuildContext:
    manifest: dict = field(default_factory=dict)  # the artifact's manifest.json ({} when there is none)
    artifact_dir: Path | None = None  # the artifact folder on the build machine
    model_path: str = ""  # the model folder on the site, relative to its root ("models/<slug>/")
    demos: dict | None = None  # precomputed model runs; None: the artifact's demos.json (widgets.demos)

    def __post_init__(self):
        object.__setattr__(self, "manifest", self.manifest or {})
        if self.artifact_dir is not None:
            object.__setattr__(self, "artifact_dir", Path(self.artifact_dir))

    def tokenizer(self) -> Tokenizer:
        """The artifact's tokenizer, read once per build and shared by every widget (its
        tokenizer.json is 3.5 MB of JSON), and read again only if the file is written again."""
        if self.artifact_dir is None:
            raise ValueError("no artifact in the build context: the llmb-models plugin is off")
        path = self.artifact_dir / (self.manifest.get("tokenizer") or {}).get("file", "tokenizer.json")
        return _load(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> Tokenizer:
    return Tokenizer.from_file(path)
