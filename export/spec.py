"""The facts about a decoder checkpoint that the graph and the manifest need."""
from dataclasses import dataclass, field

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
