"""Shared fixtures. The artifact fixtures build through export.build, which is cached by content
hash: the first session exports (a few minutes), later ones take seconds."""
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
