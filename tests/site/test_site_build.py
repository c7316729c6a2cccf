"""The site build: `mkdocs build --strict` with the default artifact, what lands in site/ (the
vendored runtime and nothing more, the widgets bundle, the verified model), pages that load
nothing from another origin, and the one-line errors of the plugins."""

import hashlib
import io
import json
import re
import shutil
import zipfile
from html import unescape
from pathlib import Path

import pytest

from site_builder import ROOT, config_with, mkdocs_build
from site_plugins.runtime.plugin import VENDORED


@pytest.fixture(scope="module")
def manifest(site_artifact):
    return json.loads((Path(site_artifact) / "manifest.json").read_text())


def test_runtime_is_vendored_and_nothing_else(site):
    for package, names in VENDORED.items():
        folder = site / "runtime" / ("pyodide" if package == "pyodide" else "ort")
        assert sorted(p.name for p in folder.iterdir()) == sorted(names)
        for name in names:
            assert (folder / name).read_bytes() == (ROOT / "node_modules" / package / name).read_bytes()
    assert (site / "coi-serviceworker.js").read_bytes() == (
        ROOT / "node_modules/coi-serviceworker/coi-serviceworker.min.js").read_bytes()


def test_widgets_bundle_is_pure_python(site):
    [bundle] = (site / "runtime").glob("python-*.zip")
    names = zipfile.ZipFile(io.BytesIO(bundle.read_bytes())).namelist()
    for needed in ("widgets/live_chat.py", "core/generation.py", "core/backend_browser.py", "widgets/page.py",
                   "jinja2/__init__.py", "markupsafe/__init__.py", "markupsafe/_native.py"):
        assert needed in names
    assert not [n for n in names if n.endswith((".so", ".pyc", ".c")) or "__pycache__" in n]
    assert "core/backend_native.py" in names  # harmless: only imported by CPython code
    glue = (site / "runtime" / "llmb.js").read_text()
    assert f'"{bundle.name}"' in glue and "__LLMB_BUNDLE__" not in glue


def test_model_is_copied_and_matches_its_manifest(site, manifest):
    folder = site / "models" / manifest["model"]["slug"]
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    for name, facts in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert len(data) == facts["bytes"] and hashlib.sha256(data).hexdigest() == facts["sha256"]


def test_pages_load_only_from_their_own_site(site):
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        loads = re.findall(r'<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc="([^"]+)"', html)
        for tag in re.findall(r"<link\b[^>]*>", html):
            # rel=canonical names the page's public address; it is never fetched.
            if not re.search(r'rel="(canonical|alternate)"', tag):
                loads += re.findall(r'href="([^"]+)"', tag)
        for url in loads:
            assert not re.match(r"^(https?:)?//", url), f"{page.relative_to(site)} loads {url}"
        assert '<script src="coi-serviceworker.js"' in html or 'coi-serviceworker.js"' in html
        assert re.search(r'<script src="[./]*runtime/llmb\.js" type="module">', html), page


def test_live_chat_is_rendered_statically(site, manifest):
    html = (site / "chapter" / "index.html").read_text(encoding="utf-8")
    m = re.search(r'<div class="llmb-widget" data-widget="live_chat"[^>]*data-state="([^"]*)">(.*?)</section>', html, re.S)
    assert m, "the chapter has a live_chat placeholder with its state"
    state = json.loads(unescape(m.group(1)))
    assert state["model"]["path"] == f"models/{manifest['model']['slug']}/"
    files, onnx_ = manifest["files"], manifest["onnx"]
    tokenizer = files["tokenizer.json"]["bytes"]
    sizes = state["model"]["downloads"]
    # a reader downloads the tokenizer and the one graph of their runtime, with its weights file
    cpu = onnx_["cpu"]
    assert sizes == {"webgpu": tokenizer + files[onnx_["file"]]["bytes"],
                     "wasm": tokenizer + files[cpu["file"]]["bytes"] + files[cpu["data"]["file"]]["bytes"]}
    body = m.group(2)
    for hook in ("chat-load", "chat-input", "chat-send", "chat-stop", "chat-status"):
        assert f'data-testid="{hook}"' in body
    assert f"Load the model ({sizes['wasm'] / 1e6:.1f} MB, or {sizes['webgpu'] / 1e6:.1f} MB with WebGPU)" in body
    for feature in ("think", "tools"):
        enabled = manifest["chat_template"]["features"][feature]
        box = re.search(rf'<input type="checkbox" data-action="{feature}"[^>]*>', body).group(0)
        assert ("disabled" in box) == (not enabled)


# --- the plugins' errors, on a small docs folder and a small fake artifact -------------------

def fake_artifact(folder: Path) -> Path:
    folder.mkdir(parents=True)
    files = {"model.onnx": b"not really onnx", "tokenizer.json": b"{}"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"schema_version": 1, "model": {"name": "Fake", "slug": "fake"},
                "tokenizer": {"file": "tokenizer.json", "special_tokens": {}, "stop_ids": [0]},
                "chat_template": {"text": "", "features": {"think": False, "tools": False}},
                "onnx": {"file": "model.onnx", "inputs": {"input_ids": "input_ids"}, "outputs": {"logits": "logits"}},
                "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def small_docs(folder: Path, fence: str = "name: live_chat") -> Path:
    folder.mkdir(parents=True)
    (folder / "index.md").write_text(f"# Test\n\nSome text.\n\n```widget\n{fence}\n```\n")
    return folder


def build_error(tmp_path, artifact, docs=None, **options):
    docs = docs or (tmp_path / "docs" if (tmp_path / "docs").exists() else small_docs(tmp_path / "docs"))
    run = mkdocs_build(config_with(tmp_path, artifact=artifact, docs=docs, **options))
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, run.stderr
    return errors[0]


def test_small_build_passes(tmp_path):
    run = mkdocs_build(config_with(tmp_path, artifact=fake_artifact(tmp_path / "art"), docs=small_docs(tmp_path / "docs")))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "site/models/fake/model.onnx").read_bytes() == b"not really onnx"
    assert 'data-widget="live_chat"' in (tmp_path / "site/index.html").read_text()


def test_missing_artifact_is_one_clear_line(tmp_path):
    line = build_error(tmp_path, tmp_path / "nowhere")
    assert "artifact missing" in line and "nowhere/manifest.json" in line and "python -m export" in line


def test_stale_artifact_is_one_clear_line(tmp_path):
    art = fake_artifact(tmp_path / "art")
    (art / "model.onnx").write_bytes(b"not really onnx!")
    line = build_error(tmp_path, art)
    assert "artifact stale" in line and "model.onnx" in line and "bytes" in line
    (art / "model.onnx").write_bytes(b"not really 0nnx")  # same size, other bytes
    line = build_error(tmp_path, art)
    assert "sha256" in line and "model.onnx" in line


def test_a_manifest_the_readers_cannot_use_is_one_clear_line(tmp_path):
    art = fake_artifact(tmp_path / "art")
    manifest = json.loads((art / "manifest.json").read_text())
    del manifest["tokenizer"]["stop_ids"]
    (art / "manifest.json").write_text(json.dumps(manifest))
    line = build_error(tmp_path, art)
    assert "art/manifest.json: missing tokenizer.stop_ids" in line and "python -m export --site" in line
    (art / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 2}))
    assert "schema_version 2, expected 1" in build_error(tmp_path, art)


def test_missing_node_modules_is_one_clear_line(tmp_path):
    line = build_error(tmp_path, fake_artifact(tmp_path / "art"),
                       **{"llmb-runtime": {"node_modules": str(tmp_path / "empty")}})
    assert "npm ci" in line and "pyodide.mjs" in line


def test_unknown_widget_is_one_clear_line(tmp_path):
    line = build_error(tmp_path, fake_artifact(tmp_path / "art"), docs=small_docs(tmp_path / "docs", "name: no_such_widget"))
    assert "no_such_widget" in line and "index.md" in line


def test_a_module_that_is_not_a_widget_is_one_clear_line(tmp_path):
    line = build_error(tmp_path, fake_artifact(tmp_path / "art"), docs=small_docs(tmp_path / "docs", "name: markup"))
    assert "widget `markup`: widgets/markup.py is not a widget (no initial_state, update, render" in line
    assert "index.md" in line


def test_the_site_model_is_named_once(site, site_artifact, manifest):
    """mkdocs.yml names no artifact, so its llmb-models plugin serves export/site_model.py's model,
    the one `make serve` exports with `--site` and the site fixtures build."""
    import yaml

    from export import site_model

    plugins = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)["plugins"]
    assert "llmb-models" in plugins   # listed bare: no options, so no artifact of its own
    assert site_model.folder() == Path(site_artifact)
    [served] = (site / "models").glob("*/manifest.json")
    assert json.loads(served.read_text()) == manifest
    serve = (ROOT / "Makefile").read_text().split("serve:", 1)[1].split("\n\n", 1)[0]
    assert "python -m export --site" in serve
