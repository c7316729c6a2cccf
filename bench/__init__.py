"""Benchmarks: scripts that print measurements and ratios from one run (never timed tests).

They build and browse the site exactly as the tests do, with the tests' helpers (site_builder,
chromium), so those are importable from here."""

import sys
from pathlib import Path

HELPERS = str(Path(__file__).resolve().parents[1] / "tests" / "helpers")
if HELPERS not in sys.path:
    sys.path.append(HELPERS)
