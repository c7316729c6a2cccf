"""The unit tier (tests/unit/) runs a second time inside Pyodide (Python 3.14, the interpreter of
the reader's browser) under Node.js with the npm `pyodide` package. Every file there may need only
core/, widgets/, the standard library and pure-Python test tools; each test collected by CPython must
pass there too, so a difference between CPython 3.11 and Pyodide's 3.14 fails here.

pyodide-build is not used: its test environment (`pyodide venv`) downloads a cross-build
environment from GitHub, which this offline setup cannot reach; the pure-Python packages are
zipped from this virtual environment instead, the same way the site bundles core/ and widgets/. The venv's
hypothesis has compiled parts, so Pyodide gets the pure wheel scripts/bootstrap.sh downloads.
"""

import ast
import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
UNIT = TESTS / "unit"
PYODIDE = ROOT / "node_modules" / "pyodide"
# What Pyodide cannot import here (compiled, or not shipped), or cannot do (start processes).
NATIVE = {"torch", "transformers", "tokenizers", "onnxruntime", "onnx", "onnxscript", "numpy", "playwright",
          "export", "gguf", "mkdocs", "yaml", "site_plugins", "accelerate", "subprocess", "multiprocessing"}
# Fixtures that export a model (torch) or build the site.
NATIVE_FIXTURES = ("default_artifact", "fp32_artifact", "site_artifact")
# Pure-Python distributions the tests import, bundled with their metadata (pytest finds the
# hypothesis plugin through its entry point).
DISTRIBUTIONS = ["pytest", "pluggy", "iniconfig", "packaging", "pygments", "sortedcontainers", "jinja2", "markupsafe"]
WHEELS = ROOT / ".cache" / "pyodide-wheels"  # pure-Python wheels fetched by scripts/bootstrap.sh


def imports(path: Path) -> set:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def needs_native(path: Path, seen=None) -> bool:
    """True when the file, or a local test helper it imports, imports something native."""
    seen = seen if seen is not None else set()
    if path in seen:
        return False
    seen.add(path)
    text = path.read_text(encoding="utf-8")
    if any(f in text for f in NATIVE_FIXTURES):
        return True
    names = imports(path)
    if names & NATIVE:
        return True
    local = [path for n in names for path in TESTS.glob(f"*/{n}.py")]
    return any(needs_native(path, seen) for path in local)


def unit_test_files() -> list:
    return sorted(UNIT.glob("test_*.py"))


def deps_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in DISTRIBUTIONS:
            dist = metadata.distribution(name)
            for file in dist.files:
                src = Path(dist.locate_file(file))
                if src.suffix in (".so", ".pyc", ".c") or "__pycache__" in file.parts or ".." in file.parts:
                    continue
                if src.is_file():
                    zf.write(src, file.as_posix())
        wheels = sorted(WHEELS.glob("hypothesis-*-py3-none-any.whl"))
        assert wheels, f"no pure hypothesis wheel in {WHEELS}; run scripts/bootstrap.sh"
        with zipfile.ZipFile(wheels[-1]) as wheel:
            for name in wheel.namelist():
                zf.writestr(name, wheel.read(name))
    return path


def collected(files: list) -> set:
    run = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return {line.split("tests/", 1)[-1] for line in run.stdout.splitlines() if "::" in line}


def jspi_flags(node: str) -> list:
    """asyncio.run inside Pyodide needs WebAssembly stack switching (JSPI), on by default in
    Chromium and behind a flag in Node.js (named differently across versions)."""
    options = subprocess.run([node, "--v8-options"], capture_output=True, text=True).stdout
    for flag in ("--experimental-wasm-jspi", "--experimental-wasm-stack-switching"):
        if flag in options:
            return [flag]
    return []


def test_widget_tests_pass_inside_pyodide(tmp_path):
    node = shutil.which("node")
    assert node and (PYODIDE / "pyodide.mjs").exists(), "needs Node.js and node_modules/pyodide (scripts/bootstrap.sh)"
    files = [f.relative_to(ROOT).as_posix() for f in unit_test_files()]
    native = [f for f in files if needs_native(ROOT / f)]
    assert not native, f"the unit tier runs in Pyodide, but these import something native: {native}"
    assert len(files) >= 14, files
    run = subprocess.run([node, *jspi_flags(node), str(Path(__file__).with_name("pyodide_pytest.mjs")), str(PYODIDE), str(ROOT), str(deps_zip(tmp_path / "deps.zip")),
                          *files], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-4000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["python"] == [3, 14]
    outcomes = {re.sub(r"^(\.\./)*(repo/)?(tests/)?", "", k): v for k, v in got["outcomes"].items()}
    failed = {k: v for k, v in outcomes.items() if v != "passed"}
    assert not failed, (failed, run.stderr[-4000:])
    assert got["exit"] == 0, run.stderr[-4000:]
    assert set(outcomes) == collected(files)
