"""Puts the browser runtime into the site:

    site/runtime/pyodide/    the Pyodide core from node_modules/pyodide (no wheels needed)
    site/runtime/ort/        onnxruntime-web: the WASM build, and the WebGPU build (asyncify)
    site/runtime/python-<hash>.zip    core/ + widgets/ + jinja2 + markupsafe (pure Python), unpacked by Pyodide
    site/runtime/llmb.js, llmb.css    the glue that boots Pyodide and mounts the widget placeholders
    site/coi-serviceworker.js         cross-origin isolation on static hosts (must sit at the root)
"""
from __future__ import annotations

import shutil
from pathlib import Path

from mkdocs.config.config_options import ExtraScriptValue
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

from .bundle import build_bundle, short_hash
from .config import RuntimeConfig

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Files each runtime needs at run time, by npm package; everything else in the package stays out.
VENDORED = {
    "pyodide": ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"],
    "onnxruntime-web/dist": [
        "ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
        "ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
    ],
}
DEST_DIR = {"pyodide": "pyodide", "onnxruntime-web/dist": "ort"}


class RuntimePlugin(BasePlugin[RuntimeConfig]):
    bundle_name: str = ""

    def _sources(self, config) -> dict[Path, Path]:
        """Map of vendored source file -> path relative to the site root."""
        root = Path(config.config_file_path).parent
        modules = root / self.config.node_modules
        files = {}
        for package, names in VENDORED.items():
            for name in names:
                files[modules / package / name] = Path(self.config.dest) / DEST_DIR[package] / name
        if self.config.coi_serviceworker:
            files[modules / "coi-serviceworker/coi-serviceworker.min.js"] = Path("coi-serviceworker.js")
        return files

    def on_config(self, config):
        if not self.config.enabled:
            return config
        for src in self._sources(config):
            if not src.is_file():
                raise PluginError(f"llmb-runtime: {src} not found; run `npm ci` (scripts/bootstrap.sh does)")
        root = Path(config.config_file_path).parent
        packages = [root / name for name in self.config.packages]
        for package in packages:
            if not package.is_dir():
                raise PluginError(f"llmb-runtime: {package} not found; option `packages` names the Python folders the page imports")
        self.bundle = build_bundle(packages, self.config.python_deps)
        self.bundle_name = f"python-{short_hash(self.bundle)}.zip"
        dest = self.config.dest
        if self.config.coi_serviceworker:
            config.extra_javascript.insert(0, "coi-serviceworker.js")
        config.extra_css.append(f"{dest}/llmb.css")
        glue = ExtraScriptValue(f"{dest}/llmb.js")
        glue.type = "module"
        config.extra_javascript.append(glue)
        return config

    def on_post_build(self, *, config):
        if not self.config.enabled:
            return
        site = Path(config.site_dir)
        for src, rel in self._sources(config).items():
            dst = site / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not (dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.stat().st_mtime >= src.stat().st_mtime):
                shutil.copy2(src, dst)
        out = site / self.config.dest
        for old in out.glob("python-*.zip"):
            old.unlink()
        (out / self.bundle_name).write_bytes(self.bundle)
        for asset in sorted(ASSETS.glob("*")):
            text = asset.read_text(encoding="utf-8").replace("__LLMB_BUNDLE__", self.bundle_name)
            (out / asset.name).write_text(text, encoding="utf-8")
