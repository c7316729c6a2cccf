"""The llama / qwen3 decoder as one ONNX graph serving prefill and decode.

Inputs: ``input_ids`` [1, seq] and per layer ``past_key_values.N.key|value`` [1, kv_heads, past,
head_dim] (length 0 on the first call). Outputs: ``logits`` [1, seq, vocab] and
``present.N.key|value`` [1, kv_heads, past + seq, head_dim]. Positions come from the cache length:
GroupQueryAttention applies rotary embeddings at past_len + i, so no position input is needed.
Qwen3 differs from llama only by an RMS norm over each head of q and k before the rotation.
"""
import numpy as np

from .graph import FLOAT, INT32, INT64, MS_DOMAIN, Graph
from .ops import block_sum_cache, embedding, linear, tied_lm_head
from .quantize import concat_rows, for_embedding, for_linear
from .spec import ModelSpec


def rotary_tables(spec: ModelSpec, inv_freq: np.ndarray | None = None):
    """cos/sin [context_length, head_dim / 2] as transformers computes them (float32)."""
    if inv_freq is None:
        exponents = np.arange(0, spec.head_dim, 2, dtype=np.int64).astype(np.float32) / spec.head_dim
        inv_freq = (1.0 / (np.float32(spec.rope_theta) ** exponents)).astype(np.float32)
    positions = np.arange(spec.context_length, dtype=np.float32)
    freqs = np.outer(positions, inv_freq.astype(np.float32)).astype(np.float32)
    return np.cos(freqs).astype(np.float32), np.sin(freqs).astype(np.float32)


def cache_names(n_layers):
    return [(i, kind, f"past_key_values.{i}.{kind}", f"present.{i}.{kind}")
            for i in range(n_layers) for kind in ("key", "value")]


def build_decoder(spec: ModelSpec, weights: dict, preset: str, keep_source_quant=True,
                  inv_freq=None) -> "onnx.ModelProto":
    g = Graph(f"{spec.architecture}-decoder")
    kvh, hd = spec.num_kv_heads, spec.head_dim
    ids = g.input("input_ids", INT64, [1, "sequence"])
    for _, _, past, _ in cache_names(spec.num_layers):
        g.input(past, FLOAT, [1, kvh, "past", hd])
    lin = lambda name: for_linear(weights[name], preset, keep_source_quant)  # noqa: E731

    # Lengths GroupQueryAttention needs, from the first cache's length and the new tokens.
    p = "/model/lengths"
    past_len = g.node("Shape", ["past_key_values.0.key"], f"{p}/past", start=2, end=3)
    new_len = g.node("Shape", [ids], f"{p}/new", start=1, end=2)
    total = g.node("Add", [past_len, new_len], f"{p}/total")
    seqlens_k = g.node("Cast", [g.node("Sub", [total, g.const_i64("one", [1])], f"{p}/seqlens_k")],
                       f"{p}/seqlens_k", to=INT32)
    total_len = g.node("Cast", [total], f"{p}/total", to=INT32)
    cos, sin = rotary_tables(spec, inv_freq)
    cos, sin = g.init("rotary.cos_cache", cos), g.init("rotary.sin_cache", sin)

    embed_w = for_embedding(weights["model.embed_tokens.weight"], preset, keep_source_quant)
    hidden, embed_handle = embedding(g, ids, embed_w)
    eps = float(spec.rms_norm_eps)
    residual, mlp_out = hidden, None
    for i in range(spec.num_layers):
        lp, hp = f"model.layers.{i}", f"/model/layers.{i}"
        sums = block_sum_cache(g, f"{hp}/block_sums")
        ln1 = g.init(f"{lp}.input_layernorm.weight", weights[f"{lp}.input_layernorm.weight"])
        if mlp_out is None:
            x = g.node("SimplifiedLayerNormalization", [residual, ln1], f"{hp}/input_layernorm",
                       axis=-1, epsilon=eps, stash_type=1)
        else:
            x, _, _, residual = g.node("SkipSimplifiedLayerNormalization", [mlp_out, residual, ln1],
                                       f"{hp}/input_layernorm", outputs=4, domain=MS_DOMAIN, epsilon=eps)
        attn = _attention(g, spec, weights, lin, x, sums, lp, hp, i, seqlens_k, total_len, cos, sin)
        ln2 = g.init(f"{lp}.post_attention_layernorm.weight",
                     weights[f"{lp}.post_attention_layernorm.weight"])
        x, _, _, residual = g.node("SkipSimplifiedLayerNormalization", [attn, residual, ln2],
                                   f"{hp}/post_attention_layernorm", outputs=4, domain=MS_DOMAIN,
                                   epsilon=eps)
        mlp_out = _mlp(g, spec, lin, x, sums, lp, hp)

    norm = g.init("model.norm.weight", weights["model.norm.weight"])
    x, _, _, _ = g.node("SkipSimplifiedLayerNormalization", [mlp_out, residual, norm], "/model/norm",
                        outputs=4, domain=MS_DOMAIN, epsilon=eps)
    if spec.tie_word_embeddings:
        logits = tied_lm_head(g, x, embed_handle)
    else:
        head = for_embedding(weights["lm_head.weight"], preset, keep_source_quant)
        logits = linear(g, x, head, "/lm_head")
    g.output(logits, "logits", FLOAT, [1, "sequence", spec.vocab_size])
    for _, _, _, present in cache_names(spec.num_layers):
        g.output(present, present, FLOAT, [1, kvh, "total_sequence", hd])
    return g.model()


def _attention(g, spec, weights, lin, x, sums, lp, hp, i, seqlens_k, total_len, cos, sin):
    a = f"{lp}.self_attn"
    qkv_w = concat_rows([lin(f"{a}.{n}_proj.weight") for n in ("q", "k", "v")])
    qkv = linear(g, x, qkv_w, f"{hp}/attn/qkv_proj", sums)
    q_size, kv_size = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
    if spec.architecture == "qwen3":
        split = g.const_i64(f"{lp}.qkv_split", [q_size, kv_size, kv_size])
        q, k, v = g.node("Split", [qkv, split], f"{hp}/attn/qkv_split", outputs=3, axis=-1)
        q = _head_norm(g, spec, q, weights[f"{a}.q_norm.weight"], f"{a}.q_norm", f"{hp}/attn/q_norm")
        k = _head_norm(g, spec, k, weights[f"{a}.k_norm.weight"], f"{a}.k_norm", f"{hp}/attn/k_norm")
        qkv_inputs = [q, k, v]
    else:
        qkv_inputs = [qkv, "", ""]
    past_k, past_v = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
    out, present_k, present_v = g.node(
        "GroupQueryAttention", qkv_inputs + [past_k, past_v, seqlens_k, total_len, cos, sin],
        f"{hp}/attn/GroupQueryAttention", outputs=3, domain=MS_DOMAIN,
        names=[None, f"present.{i}.key", f"present.{i}.value"],
        num_heads=spec.num_heads, kv_num_heads=spec.num_kv_heads, do_rotary=1)
    return linear(g, out, lin(f"{a}.o_proj.weight"), f"{hp}/attn/o_proj")


def _head_norm(g, spec, x, weight, name, path):
    heads = g.node("Reshape", [x, g.const_i64(f"{name}.heads_shape", [0, 0, -1, spec.head_dim])], path)
    normed = g.node("SimplifiedLayerNormalization", [heads, g.init(f"{name}.weight", weight)], path,
                    axis=-1, epsilon=float(spec.rms_norm_eps), stash_type=1)
    return g.node("Reshape", [normed, g.const_i64(f"{name}.flat_shape", [0, 0, -1])], f"{path}/flat")


def _mlp(g, spec, lin, x, sums, lp, hp):
    m = f"{lp}.mlp"
    gate_up = linear(g, x, concat_rows([lin(f"{m}.gate_proj.weight"), lin(f"{m}.up_proj.weight")]),
                     f"{hp}/mlp/gate_up_proj", sums)
    gate, up = g.node("Split", [gate_up, g.const_i64(f"{lp}.mlp_split", [spec.intermediate_size] * 2)],
                      f"{hp}/mlp/split", outputs=2, axis=-1)
    act = g.node("Mul", [gate, g.node("Sigmoid", [gate], f"{hp}/mlp/act")], f"{hp}/mlp/act")
    return linear(g, g.node("Mul", [act, up], f"{hp}/mlp/gate_mul"), lin(f"{m}.down_proj.weight"),
                  f"{hp}/mlp/down_proj", sums)


def cache_io(spec: ModelSpec) -> dict:
    """The manifest's names and cache layout for this graph."""
    return {"inputs": {"input_ids": "input_ids", "position_ids": None, "attention_mask": None},
            "outputs": {"logits": "logits"},
            "cache": [{"layer": i, "kind": kind, "input": past, "output": present, "dtype": "float32",
                       "shape": [1, spec.num_kv_heads, "past", spec.head_dim]}
                      for i, kind, past, present in cache_names(spec.num_layers)]}
