"""Shared fixtures and the tier markers. The artifact fixtures build through export.build, which
is cached by content hash: the first session exports (a few minutes), later ones take seconds."""
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def default_artifact() -> Path:
    """The default q4 SmolLM2-135M-Instruct artifact folder (model.onnx, tokenizer.json, manifest.json)."""
    import export
    return export.build()


@pytest.fixture(scope="session")
def fp32_artifact() -> Path:
    """The same model exported without quantization (float32 weights)."""
    import export
    return export.build(preset="fp32")


@pytest.fixture(scope="session")
def site_artifact() -> Path:
    """The model the site ships: the default q4 export with the committed post-training adapter
    (think and tools), evaluated on held-out prompts by the export itself."""
    from export import site_model
    return site_model.export()


@pytest.fixture(scope="session")
def site(site_artifact, tmp_path_factory) -> Path:
    """The site built once from the repository's mkdocs.yml as it is (its llmb-models plugin
    serves the site's model by default); the tests that read it share one build."""
    from site_builder import config_with, mkdocs_build

    out = tmp_path_factory.mktemp("site-build")
    run = mkdocs_build(config_with(out))
    assert run.returncode == 0, run.stderr[-3000:]
    return out / "site"


TIERS = ("unit", "export", "site", "browser")


def pytest_collection_modifyitems(items):
    """Each test is marked with its tier, the folder it lives in, so `-m unit` is the fast loop."""
    for item in items:
        tier = item.path.parent.name
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.path}: a test lives in one of tests/{{{','.join(TIERS)}}}/")
        item.add_marker(getattr(pytest.mark, tier))
