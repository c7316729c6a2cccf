"""GGUF reader: makes a GGUF file look like a Hugging Face checkpoint.

Tensors are renamed to Hugging Face names; Q4_1 and Q8_0 blocks are kept as blocks (the q4 preset
uses them as they are), every other type is dequantized to float32. llama.cpp's rope permutation of
the llama q/k rows is undone, as transformers' own GGUF loader does.
"""
import json
import tempfile
from pathlib import Path

import numpy as np

from .errors import ExportError
from .gguf_blocks import q4_1_to_blocks, q8_0_to_blocks, unpermute_rope_rows
from .spec import ModelSpec, Source, count_parameters, source_name

SUPPORTED = ("llama", "qwen3")
LAYER_NAMES = {
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
GLOBAL_NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
# The original tokenizer.json of the "smollm" pre-tokenizer type splits digits one by one first;
# transformers' GGUF conversion writes a plain ByteLevel instead.
PRE_TOKENIZERS = {
    "smollm": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
}


def _field(reader, key, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


def _hf_name(gguf_name: str) -> str:
    base, _, suffix = gguf_name.rpartition(".")
    if base.startswith("blk."):
        _, layer, kind = base.split(".", 2)
        if kind not in LAYER_NAMES:
            raise ExportError(f"unexpected GGUF tensor {gguf_name}")
        return f"model.layers.{layer}.{LAYER_NAMES[kind]}.{suffix}"
    if base not in GLOBAL_NAMES:
        raise ExportError(f"unexpected GGUF tensor {gguf_name}")
    return f"{GLOBAL_NAMES[base]}.{suffix}"


def _tensor(t):
    from gguf import GGMLQuantizationType as Q, dequantize
    data = np.asarray(t.data)
    if t.tensor_type == Q.Q4_1:
        return q4_1_to_blocks(data)
    if t.tensor_type == Q.Q8_0:
        return q8_0_to_blocks(data)
    return np.ascontiguousarray(dequantize(data, t.tensor_type).astype(np.float32))


def read_gguf(path: Path):
    from gguf import GGUFReader
    try:
        reader = GGUFReader(path)
        size = path.stat().st_size
        for t in reader.tensors:
            if t.data_offset + t.n_bytes > size or np.asarray(t.data).nbytes != t.n_bytes:
                raise ValueError(f"tensor {t.name} runs past the end of the file")
    except ExportError:
        raise
    except Exception as e:  # the reader raises many kinds on damaged files
        raise ExportError(f"corrupt or truncated GGUF {path}: {e}") from None
    return reader


def gguf_spec(reader, path: Path) -> ModelSpec:
    arch = _field(reader, "general.architecture")
    if arch not in SUPPORTED:
        raise ExportError(f"unsupported architecture {arch!r} in {path} (supported: {', '.join(SUPPORTED)})")
    k = lambda name, default=None: _field(reader, f"{arch}.{name}", default)  # noqa: E731
    hidden, heads = int(k("embedding_length")), int(k("attention.head_count"))
    names = {t.name for t in reader.tensors}
    return ModelSpec(
        architecture=arch, num_layers=int(k("block_count")), num_heads=heads,
        num_kv_heads=int(k("attention.head_count_kv", heads)),
        head_dim=int(k("attention.key_length", hidden // heads)), hidden_size=hidden,
        intermediate_size=int(k("feed_forward_length")),
        vocab_size=int(k("vocab_size", len(reader.fields["tokenizer.ggml.tokens"].data))),
        context_length=int(k("context_length")), rms_norm_eps=float(k("attention.layer_norm_rms_epsilon")),
        rope_theta=float(k("rope.freq_base", 10000.0)), tie_word_embeddings="output.weight" not in names)


def gguf_tokenizer(path: Path, reader) -> str:
    from transformers import AutoTokenizer
    with tempfile.TemporaryDirectory() as tmp:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        tok.save_pretrained(tmp)
        data = json.loads(Path(tmp, "tokenizer.json").read_text(encoding="utf-8"))
    pre = _field(reader, "tokenizer.ggml.pre")
    if pre in PRE_TOKENIZERS:
        data["pre_tokenizer"] = PRE_TOKENIZERS[pre]
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def load_gguf(path: Path, sha256: str) -> Source:
    reader = read_gguf(path)
    spec = gguf_spec(reader, path)
    weights = {}
    for t in reader.tensors:
        name = _hf_name(t.name)
        w = _tensor(t)
        if spec.architecture == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
            heads = spec.num_heads if "q_proj" in name else spec.num_kv_heads
            order = unpermute_rope_rows(w.shape[0], heads)
            w = w[order] if isinstance(w, np.ndarray) else w.take_rows(order)
        weights[name] = w
    spec.parameters = count_parameters(weights)

    def load_reference():
        import torch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                     dtype=torch.float32)
        return model.eval()

    opt = lambda key: None if _field(reader, key) is None else int(_field(reader, key))  # noqa: E731
    return Source(
        kind="gguf", path=path, sha256=sha256, name=source_name("gguf", path),
        license=str(_field(reader, "general.license", "unknown")), spec=spec, weights=weights,
        tokenizer_json=gguf_tokenizer(path, reader),
        chat_template=str(_field(reader, "tokenizer.chat_template", "")),
        bos_id=opt("tokenizer.ggml.bos_token_id"), eos_id=opt("tokenizer.ggml.eos_token_id"),
        pad_id=opt("tokenizer.ggml.padding_token_id"), load_reference=load_reference)
