"""Tiny randomly initialised checkpoints of each supported architecture, saved as Hugging Face
folders (config.json, safetensors, tokenizer.json) for the export tests. No download."""
from pathlib import Path

import torch

VOCAB = 96


def tiny_config(architecture: str, init: float = 0.2):
    common = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                  bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=init)
    if architecture == "llama":
        from transformers import LlamaConfig
        return LlamaConfig(tie_word_embeddings=True, **common)
    if architecture == "qwen3":
        from transformers import Qwen3Config
        return Qwen3Config(head_dim=32, tie_word_embeddings=False, **common)
    if architecture == "qwen3_5_text":
        from transformers import Qwen3_5TextConfig
        # head_dim 64: a quarter of it rotates, 16 dims (GroupQueryAttention wants multiples of 16)
        common.update(num_hidden_layers=4, head_dim=64)
        return Qwen3_5TextConfig(linear_key_head_dim=16, linear_value_head_dim=16,
                                 linear_num_key_heads=2, linear_num_value_heads=4,
                                 tie_word_embeddings=True, **common)
    raise ValueError(architecture)


def tiny_tokenizer_json() -> str:
    """A word-level tokenizer over the tiny vocabulary with ChatML-style special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    words = ["<unk>", "<|im_start|>", "<|im_end|>"] + [f"w{i}" for i in range(VOCAB - 3)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    return tok.to_str()


def save_tiny(architecture: str, folder: Path, seed: int = 0, init: float = 0.2) -> Path:
    """``init`` is the weights' standard deviation: small values give nearly flat predictions."""
    from transformers import AutoModelForCausalLM
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(architecture, init)).eval()
    with torch.no_grad():
        # norms (and Qwen3.5's decay parameters) start as constants; randomise them so a graph
        # that read one in the wrong place, or not at all, would not still match
        for name, p in model.named_parameters():
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * init)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    (folder / "tokenizer.json").write_text(tiny_tokenizer_json(), encoding="utf-8")
    return folder


def torch_logits(folder: Path, ids: list[int]):
    """Reference logits [len(ids), vocab] from the saved checkpoint, one full forward."""
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].numpy()
