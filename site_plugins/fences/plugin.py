"""Gives the `widget` fence its build-time context: the model manifest and artifact folder."""
from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

from . import formatter
from .config import FencesConfig


class FencesPlugin(BasePlugin[FencesConfig]):
    def on_config(self, config):
        if not self.config.enabled:
            formatter.context = {"enabled": False}
            return config
        fences = config.mdx_configs.get("pymdownx.superfences", {}).get("custom_fences", [])
        if not any(f.get("name") == "widget" for f in fences):
            raise PluginError("llmb-fences: mkdocs.yml lacks the `widget` custom fence under pymdownx.superfences")
        root = str(Path(config.config_file_path).parent)
        if root not in sys.path:
            sys.path.insert(0, root)  # widgets/ sits next to mkdocs.yml
        models = config.plugins.get(self.config.models_plugin)
        from widgets.build_context import BuildContext  # importable once widgets/ is on the path

        ctx = BuildContext()
        if models is not None and models.config.enabled:
            ctx = BuildContext(manifest=models.manifest, artifact_dir=models.artifact_dir, model_path=models.site_path)
        formatter.errors.clear()
        self.failures = []
        formatter.context = {"enabled": True, "package": self.config.package, "ctx": ctx}
        return config

    def on_page_content(self, html, *, page, config, files):
        # Raising here would add mkdocs' own "Error reading page" line; collect, fail once at the end.
        if self.config.enabled and formatter.errors:
            self.failures += [f"{error} (in {page.file.src_uri})" for error in formatter.errors]
            formatter.errors.clear()
        return html

    def on_post_build(self, *, config):
        if self.config.enabled and self.failures:
            raise PluginError(self.failures[0] + (f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""))
