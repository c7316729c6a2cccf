"""The worked examples in the docstrings of widgets/ run and show what they say, here and inside
Pyodide (tests/browser/test_pyodide_node.py runs this file there too). The modules whose examples need
more are checked elsewhere: backend_browser imports Pyodide's js (its behaviour is the browser
tests'), the examples of backend_native, backend_node, token_view and tokenizer read the default export
(tests/export/test_backend_native.py runs them)."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ELSEWHERE = {"__init__", "backend_browser", "backend_native", "backend_node", "token_view", "tokenizer"}
MODULES = sorted(p.stem for p in (ROOT / "widgets").glob("*.py") if p.stem not in ELSEWHERE)


def test_every_module_is_covered():
    assert len(MODULES) > 20 and "markup" in MODULES and "sampling" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"widgets.{name}"))
    assert result.failed == 0, name
