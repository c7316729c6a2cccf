"""Checks the artifact named in mkdocs.yml (by default the site's model, export/site_model.py)
against its manifest and copies it to site/models/<slug>/.

The manifest is the contract: every file it lists must exist with the listed size and sha256,
otherwise the build stops with one line naming the file and the command that rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

from core.manifest import Manifest, ManifestError

from .config import ModelsConfig

REBUILD = "rebuild it with the export that wrote it (`python -m export --site` for the site's model)"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_artifact(folder: Path, verify: bool = True) -> dict:
    """Return the manifest of `folder` after checking each listed file; raise PluginError otherwise."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise PluginError(f"llmb-models: artifact missing: {manifest_path} not found; {REBUILD}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise PluginError(f"llmb-models: {manifest_path} is not valid JSON ({e}); {REBUILD}") from e
    try:
        Manifest.from_dict(manifest)  # the readers' own check: schema version and every field they need
    except ManifestError as e:
        raise PluginError(f"llmb-models: {manifest_path}: {str(e).removeprefix('manifest.json: ')}; {REBUILD}") from e
    for name, facts in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise PluginError(f"llmb-models: artifact stale: {path} listed in manifest.json is missing; {REBUILD}")
        if path.stat().st_size != facts["bytes"]:
            raise PluginError(f"llmb-models: artifact stale: {path} has {path.stat().st_size} bytes, "
                              f"manifest.json says {facts['bytes']}; {REBUILD}")
        if verify and sha256_file(path) != facts["sha256"]:
            raise PluginError(f"llmb-models: artifact stale: sha256 of {path} differs from manifest.json; {REBUILD}")
    return manifest


class ModelsPlugin(BasePlugin[ModelsConfig]):
    """Exposes `manifest`, `artifact_dir` and `site_path` to the other plugins (the widget fences)."""

    manifest: dict | None = None
    artifact_dir: Path | None = None

    @property
    def site_path(self) -> str:
        """Path of the model folder relative to the site root, with a trailing slash."""
        return f"{self.config.dest}/{self.manifest['model']['slug']}/"

    def on_config(self, config):
        if not self.config.enabled:
            return config
        root = Path(config.config_file_path).parent
        if self.config.artifact:
            self.artifact_dir = (root / self.config.artifact).resolve()
        else:
            from export import site_model  # only for the default: a build of another artifact needs no export code
            self.artifact_dir = site_model.folder()
        self.manifest = check_artifact(self.artifact_dir, self.config.verify)
        return config

    def on_post_build(self, *, config):
        if not self.config.enabled:
            return
        out = Path(config.site_dir) / self.site_path
        out.mkdir(parents=True, exist_ok=True)
        for name in ["manifest.json", *self.manifest["files"]]:
            src, dst = self.artifact_dir / name, out / name
            # Copy only what changed: the model is ~100 MB and rebuilds are frequent.
            if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.stat().st_mtime >= src.stat().st_mtime:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
