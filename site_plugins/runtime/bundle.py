"""Builds the zip that Pyodide unpacks into its site-packages: core/ and widgets/ plus their
pure-Python deps.

Only `.py` sources (and package data such as py.typed) go in; compiled speedups are left out,
so markupsafe falls back to its pure-Python `_native` module inside Pyodide.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import zipfile
from pathlib import Path

SKIP_SUFFIXES = {".so", ".pyd", ".c", ".pyc", ".pyi"}


def package_dir(name: str) -> Path:
    """Folder of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(name)
    return Path(spec.submodule_search_locations[0])


def _files(root: Path, arcroot: str):
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix not in SKIP_SUFFIXES and "__pycache__" not in path.parts:
            yield path, f"{arcroot}/{path.relative_to(root).as_posix()}"


def build_bundle(packages: list[Path], deps: list[str]) -> bytes:
    """Zip bytes with stable timestamps, so the same sources give the same file (and hash)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        sources = [source for package in packages for source in _files(package, package.name)]
        for dep in deps:
            sources += _files(package_dir(dep), dep)
        for path, arcname in sources:
            info = zipfile.ZipInfo(arcname, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
