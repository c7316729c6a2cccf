"""A tiny random Llama exported to ONNX with an artifact-style manifest, for backend tests that
must not wait for the real export (seconds instead of minutes, no checkpoint needed)."""

import json
from pathlib import Path

import torch

VOCAB = 300


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return LlamaForCausalLM(config).eval()


def export_tiny(folder: Path):
    """Write model.onnx and manifest.json for `tiny_llama()` into `folder`; returns the model."""
    import onnx
    import onnx_ir
    from transformers.exporters import OnnxExporter
    from transformers.exporters.configs import OnnxConfig

    model = tiny_llama()
    ids = torch.tensor([[1, 2, 3, 4]])
    exported = OnnxExporter().export_for_generation(
        model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)},
        OnnxConfig(dynamic=True, ort_fusions="cpu"), multi_token_decode=True)
    proto = onnx_ir.serde.serialize_model(exported.components["decode"].program)
    onnx.save(proto, folder / "model.onnx")
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    cache = []
    for layer in range(cfg.num_hidden_layers):
        for kind, word in (("key", "keys"), ("value", "values")):
            cache.append({"layer": layer, "kind": kind,
                          "input": f"input.past_key_values.layers.{layer}.{word}",
                          "output": f"output.past_key_values.layers.{layer}.{word}",
                          "dtype": "float32", "shape": [1, cfg.num_key_value_heads, "past", head_dim]})
    manifest = {
        "schema_version": 1,
        "model": {"name": "tiny-llama", "slug": "tiny-llama", "architecture": "llama",
                  "num_layers": cfg.num_hidden_layers, "num_heads": cfg.num_attention_heads,
                  "num_kv_heads": cfg.num_key_value_heads, "head_dim": head_dim,
                  "hidden_size": cfg.hidden_size, "intermediate_size": cfg.intermediate_size,
                  "vocab_size": VOCAB, "context_length": cfg.max_position_embeddings,
                  "tie_word_embeddings": True},
        "tokenizer": {"file": "tokenizer.json", "special_tokens": {}, "bos_id": 1, "eos_id": 2,
                      "pad_id": 0, "stop_ids": [2]},
        "chat_template": {"text": "", "features": {"think": False, "tools": False}},
        "onnx": {"file": "model.onnx",
                 "inputs": {"input_ids": "input_ids", "position_ids": "position_ids", "attention_mask": None},
                 "outputs": {"logits": "logits"}, "cache": cache},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return model
