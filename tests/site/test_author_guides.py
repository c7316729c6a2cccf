"""The worked examples of docs/authors/widgets.md and docs/authors/chapters.md, taken from the
guides as written: the widget module passes the widget contract and behaves as the guide says, and
the example chapter, with that widget and the nav entry the guide shows, builds into a page whose
facts come from the model's manifest and whose widget is rendered statically."""

import html
import importlib
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from site_builder import ROOT, config_with, mkdocs_build
from test_chapter_plugins import MANIFEST
from test_site_build import fake_artifact
from test_widget_contract import Balance
from widgets.build_context import BuildContext

GUIDES = ROOT / "docs" / "authors"


def block(guide: str, fence: str, lang: str, title_pattern: str) -> tuple[str, str]:
    """The one code block of ``guide`` opened by ``fence + lang title="..."``: (title, text)."""
    text = (GUIDES / guide).read_text(encoding="utf-8")
    found = re.findall(rf'^{fence}{lang} title="({title_pattern})"\n(.*?)\n{fence}$', text, re.S | re.M)
    assert len(found) == 1, (guide, lang, found)
    return found[0]


@pytest.fixture
def guide_widget(tmp_path, monkeypatch):
    """The guide's widget module, written where the guide puts it but in a package of its own."""
    title, source = block("widgets.md", "```", "python", r"widgets/\w+\.py")
    name = Path(title).stem
    package = tmp_path / "pkg" / "guide_widgets"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / f"{name}.py").write_text(source + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "pkg"))   # for the mkdocs build's process
    yield name, importlib.import_module(f"guide_widgets.{name}")
    for key in [k for k in sys.modules if k == "guide_widgets" or k.startswith("guide_widgets.")]:
        del sys.modules[key]


def test_the_guides_widget_follows_the_contract_and_reshapes_the_distribution(guide_widget):
    _, module = guide_widget
    state = module.initial_state({"temperature": "0.5"}, BuildContext())
    assert json.loads(json.dumps(state)) == state
    parser = Balance()
    parser.feed(module.render(state))
    assert parser.errors == [] and parser.stack == []
    assert parser.controls and all(c.get("data-action") and c.get("data-value") for c in parser.controls)
    assert "illustrative" in module.render(state)

    top = {}
    for control in parser.controls:   # each button, as the browser sends it
        after = module.update(state, control["data-action"], control["data-value"])
        assert f'data-value="{control["data-value"]}" aria-pressed="true"' in module.render(after)
        probabilities = module.probabilities(after["temperature"])
        assert sum(p for _, p in probabilities) == pytest.approx(1.0)
        top[float(control["data-value"])] = max(p for _, p in probabilities)
    temperatures = sorted(top)
    assert len(temperatures) >= 2
    assert all(top[a] > top[b] for a, b in zip(temperatures, temperatures[1:]))   # lower is sharper
    assert module.update(state, "temperature", "<script>") == state           # unknown values change nothing
    assert module.initial_state({"temperature": "7"}, BuildContext()) == module.initial_state({}, BuildContext())


def test_the_guides_chapter_builds_with_its_widget_facts_and_nav(guide_widget, tmp_path):
    name, module = guide_widget
    page_title, page = block("chapters.md", "````", "markdown", r"docs/\w+\.md")
    _, nav_text = block("chapters.md", "```", "yaml", "mkdocs.yml")
    nav = yaml.safe_load(nav_text)["nav"]
    site_nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)["nav"]
    assert nav[:-1] == site_nav                       # the guide adds one entry to the real nav
    assert nav[-1] == {"Temperature": Path(page_title).name}
    fence_options = yaml.safe_load(re.search(r"```widget\n(.*?)\n```", page, re.S).group(1))
    assert fence_options["name"] == name

    docs = tmp_path / "docs"
    docs.mkdir()
    for entry in site_nav:
        (docs / next(iter(entry.values()))).write_text(f"# {next(iter(entry))}\n")
    (docs / Path(page_title).name).write_text(page, encoding="utf-8")
    art = fake_artifact(tmp_path / "art")
    manifest = json.loads((art / "manifest.json").read_text())
    for section, values in MANIFEST.items():
        manifest[section] = {**manifest.get(section, {}), **values} if isinstance(values, dict) else values
    (art / "manifest.json").write_text(json.dumps(manifest))
    config = config_with(tmp_path, artifact=art, docs=docs, **{"llmb-fences": {"package": "guide_widgets"},
                                                               "llmb-runtime": {"enabled": False}})
    settings = yaml.load(config.read_text(), Loader=yaml.Loader)
    settings["nav"] = nav
    config.write_text(yaml.dump(settings), encoding="utf-8")
    run = mkdocs_build(config)
    assert run.returncode == 0, run.stderr[-3000:]

    built = (tmp_path / "site" / Path(page_title).stem / "index.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", built))
    assert "{{" not in text
    assert f"{MANIFEST['model']['name']} ends every step with {MANIFEST['model']['vocab_size']:,} scores" in text
    widget = re.search(rf'<div class="llmb-widget" data-widget="{name}"[^>]*data-state="([^"]*)"', built)
    state = json.loads(html.unescape(widget.group(1)))
    assert state == module.initial_state({k: v for k, v in fence_options.items() if k != "name"}, BuildContext())
    assert module.render(state) in built
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert re.search(rf'href="{Path(page_title).stem}/"[^>]*>\s*(<[^>]+>\s*)*Temperature', home)   # in the nav
