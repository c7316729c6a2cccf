"""The worked examples in the docstrings of core/ and widgets/ run and show what they say, here and inside
Pyodide (tests/browser/test_pyodide_node.py runs this file there too). The modules whose examples need
more are checked elsewhere: backend_browser and page import Pyodide's js (their behaviour is the
browser tests'), the examples of backend_native, backend_node, token_view and tokenizer read the default export
(tests/export/test_backend_native.py runs them)."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ELSEWHERE = {"__init__", "backend_browser", "page", "backend_native", "backend_node", "token_view", "tokenizer"}
MODULES = sorted(f"{p.parent.name}.{p.stem}" for package in ("core", "widgets")
                 for p in (ROOT / package).glob("*.py") if p.stem not in ELSEWHERE)


def test_every_module_is_covered():
    assert len(MODULES) > 25 and "widgets.markup" in MODULES and "core.sampling" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0, name
