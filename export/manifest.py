"""manifest.json: the contract between export and everything downstream. Documented for authors
in docs/authors/manifest.md; its reader, and the schema version both sides use, are in
core/manifest.py."""
import json
import platform

from core.manifest import SCHEMA_VERSION

from .sources import file_sha256

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>")


def special_tokens(tokenizer_json: str) -> dict:
    data = json.loads(tokenizer_json)
    return {t["content"]: t["id"] for t in data.get("added_tokens", []) if t.get("special")}


def stop_ids(eos_id, specials: dict) -> list[int]:
    """The end-of-sequence id first, then every other end-of-turn token the vocabulary has."""
    ids = [eos_id] if eos_id is not None else []
    ids += [specials[t] for t in STOP_TOKENS if t in specials and specials[t] not in ids]
    return ids


def template_features(template: str) -> dict:
    return {"think": "<think>" in template or "enable_thinking" in template,
            "tools": "tools" in template}


def toolchain() -> dict:
    import numpy
    import onnx
    import onnxruntime
    import torch
    import transformers
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__}


def tokenizer_section(src) -> dict:
    specials = special_tokens(src.tokenizer_json)
    return {"file": "tokenizer.json", "special_tokens": specials, "bos_id": src.bos_id,
            "eos_id": src.eos_id, "pad_id": src.pad_id, "stop_ids": stop_ids(src.eos_id, specials)}


def model_section(src) -> dict:
    return {"name": src.name, "slug": src.slug,
            "source": {"kind": src.kind, "path": src.path.name, "sha256": src.sha256},
            "license": src.license, **src.spec.facts()}


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def file_entry(path) -> dict:
    return {"sha256": file_sha256(path), "bytes": path.stat().st_size}
