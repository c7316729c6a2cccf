"""What the export knows about a checkpoint: the facts the graph and the manifest need
(``ModelSpec``), and everything a source reader hands on (``Source``)."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ARCHITECTURES = ("llama", "qwen3", "qwen3_5_text")


@dataclass
class ModelSpec:
    architecture: str            # one of ARCHITECTURES
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    context_length: int          # max_position_embeddings: rows of the rotary tables
    rms_norm_eps: float
    rope_theta: float
    tie_word_embeddings: bool
    parameters: int = 0          # unique parameters (tied embedding counted once)
    extra: dict = field(default_factory=dict)   # architecture-specific facts for the manifest

    def facts(self) -> dict:
        return {
            "architecture": self.architecture, "num_layers": self.num_layers,
            "num_heads": self.num_heads, "num_kv_heads": self.num_kv_heads,
            "head_dim": self.head_dim, "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size, "vocab_size": self.vocab_size,
            "context_length": self.context_length, "parameters": self.parameters,
            "tie_word_embeddings": self.tie_word_embeddings, **self.extra,
        }


@dataclass
class Source:
    kind: str                       # "gguf" or "hf"
    path: Path
    sha256: str                     # of the file, or of the folder's files (see folder_sha256)
    name: str                       # e.g. "SmolLM2-135M-Instruct"
    license: str
    spec: ModelSpec
    weights: dict                   # Hugging Face tensor name -> ndarray | Q4Blocks | Q8Blocks
    tokenizer_json: str             # text of tokenizer.json
    chat_template: str
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    load_reference: Callable        # () -> torch model in float32, eval mode
    inv_freq: np.ndarray | None = None
    torch_model: object = field(default=None, repr=False)  # already loaded (HF sources)

    def reference(self):
        """The torch model of these weights, loaded once (HF sources arrive with it loaded)."""
        if self.torch_model is None:
            self.torch_model = self.load_reference()
        return self.torch_model

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "-").replace(" ", "-")


def source_name(kind: str, path: Path) -> str:
    """"SmolLM2-135M-Instruct" for SmolLM2-135M-Instruct.Q4_1.gguf, the folder name otherwise."""
    return path.name.split(".")[0] if kind == "gguf" else path.name


def count_parameters(weights: dict) -> int:
    return int(sum(int(np.prod(w.shape)) for w in weights.values()))
