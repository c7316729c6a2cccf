"""Building the site for tests: the repository's mkdocs.yml with another artifact or docs folder,
written beside mkdocs.yml (the plugins resolve their paths from the config file's folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def config_with(out: Path, artifact: Path | None = None, docs: Path | None = None, site_url: str | None = None,
                **plugin_options) -> Path:
    """A copy of mkdocs.yml building into ``out``; ``plugin_options`` maps plugin name -> options.
    ``site_url`` must match the test server's address for Material's instant navigation."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)
    if site_url is not None:
        config["site_url"] = site_url
    if artifact is not None:
        plugin_options.setdefault("llmb-models", {})["artifact"] = str(artifact)
    plugins = []
    for plugin in config["plugins"]:
        name = plugin if isinstance(plugin, str) else next(iter(plugin))
        options = {} if isinstance(plugin, str) else dict(plugin[name] or {})
        options.update(plugin_options.get(name, {}))
        plugins.append({name: options} if options else name)
    config["plugins"] = plugins
    config.update(site_dir=str(out / "site"), docs_dir=str(docs or ROOT / "docs"))
    if docs is not None:
        config.pop("nav", None)
    path = ROOT / f".site-test-{out.name}.yml"
    path.write_text(yaml.dump(config), encoding="utf-8")
    return path


def mkdocs_build(config: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config)],
                              cwd=ROOT, capture_output=True, text=True, timeout=600,
                              env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    finally:
        config.unlink(missing_ok=True)
