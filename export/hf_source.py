"""Hugging Face folder reader: config.json + safetensors, loaded with transformers in float32."""
import json
import re
from pathlib import Path

from .errors import ExportError
from .spec import ARCHITECTURES, ModelSpec, Source, source_name


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError as e:
        raise ExportError(f"unreadable {path.name} in {path.parent}: {e}") from None


def _first(value):
    return value[0] if isinstance(value, list) else value


def _license(path: Path) -> str:
    readme = path / "README.md"
    if readme.is_file():
        m = re.search(r"^license:\s*(\S+)", readme.read_text(encoding="utf-8", errors="replace"), re.M)
        if m:
            return m.group(1)
    return "unknown"


def _chat_template(path: Path, tok_config: dict) -> str:
    jinja = path / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    template = tok_config.get("chat_template") or ""
    return template if isinstance(template, str) else ""


def hf_spec(config, model) -> ModelSpec:
    arch = config.model_type
    heads = config.num_attention_heads
    spec = ModelSpec(
        architecture=arch, num_layers=config.num_hidden_layers, num_heads=heads,
        num_kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
        hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
        vocab_size=config.vocab_size, context_length=config.max_position_embeddings,
        rms_norm_eps=config.rms_norm_eps,
        rope_theta=float((getattr(config, "rope_parameters", None) or {}).get("rope_theta", 0)
                         or getattr(config, "rope_theta", 10000.0)),
        tie_word_embeddings=bool(getattr(config, "tie_word_embeddings", False)),
        parameters=sum(p.numel() for p in model.parameters()))
    if arch == "qwen3_5_text":
        rope = getattr(config, "rope_parameters", None) or {}
        spec.extra = {"layer_types": list(config.layer_types),
                      "partial_rotary_factor": float(rope.get("partial_rotary_factor", 1.0)),
                      **{k: int(getattr(config, k)) for k in (
                          "linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim",
                          "linear_value_head_dim", "linear_conv_kernel_dim")}}
    return spec


def load_hf(path: Path, sha256: str) -> Source:
    config = _read_json(path / "config.json")
    arch = config.get("model_type")
    if arch not in ARCHITECTURES:
        raise ExportError(f"unsupported architecture {arch!r} in {path / 'config.json'} "
                          f"(supported: {', '.join(ARCHITECTURES)})")
    if not (path / "tokenizer.json").is_file():
        raise ExportError(f"no tokenizer.json in {path}")
    import torch
    from transformers import AutoModelForCausalLM
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
    except Exception as e:  # transformers raises many kinds for a broken folder
        raise ExportError(f"cannot load the checkpoint in {path}: {str(e).splitlines()[0]}") from None
    spec = hf_spec(model.config, model)
    weights = {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}
    if any(k.endswith(".bias") for k in weights):
        raise ExportError(f"projection biases are not supported ({path})")
    rotary = getattr(model.model, "rotary_emb", None)
    inv_freq = None
    if rotary is not None:
        if float(getattr(rotary, "attention_scaling", 1.0)) != 1.0:
            raise ExportError(f"rope scaling with attention_scaling != 1 is not supported ({path})")
        inv_freq = rotary.inv_freq.detach().float().numpy()
    tok_config = _read_json(path / "tokenizer_config.json")
    gen = _read_json(path / "generation_config.json")
    pick = lambda key: _first(gen.get(key, config.get(key)))  # noqa: E731
    return Source(
        kind="hf", path=path, sha256=sha256, name=source_name("hf", path), license=_license(path),
        spec=spec, weights=weights,
        tokenizer_json=(path / "tokenizer.json").read_text(encoding="utf-8"),
        chat_template=_chat_template(path, tok_config),
        bos_id=pick("bos_token_id"), eos_id=pick("eos_token_id"), pad_id=pick("pad_token_id"),
        load_reference=lambda: model, inv_freq=inv_freq, torch_model=model)
