"""The llama / qwen3 / qwen3_5_text decoder as one ONNX graph serving prefill and decode.

Inputs: ``input_ids`` [1, seq] and per layer ``past_key_values.N.key|value`` [1, kv_heads, past,
head_dim] (length 0 on the first call); a Qwen3.5 linear-attention layer has fixed-size
``past_key_values.N.conv|recurrent`` states instead (zeros on the first call, qwen3_5.py). Outputs: ``logits`` [1, 1, vocab] (the last position only) and
``present.N.key|value`` [1, kv_heads, past + seq, head_dim]. Positions come from the cache length:
GroupQueryAttention applies rotary embeddings at past_len + i, so no position input is needed.
Qwen3 differs from llama only by an RMS norm over each head of q and k before the rotation.
"""
import numpy as np

from .graph import FLOAT, INT32, INT64, MS_DOMAIN, Graph
from . import qwen3_5
from .errors import ExportError
from .ops import block_sum_cache, embedding, linear, tied_lm_head, untied_lm_head
from .quantize import concat_rows, for_cpu, for_embedding, for_linear
from .spec import ModelSpec


def rotary_tables(spec: ModelSpec, inv_freq: np.ndarray | None = None):
    """cos/sin [context_length, head_dim / 2] of the float32 angles transformers computes.

    The powers, cosines and sines are taken in float64 and rounded once to float32: numpy's
    float32 versions dispatch to SIMD code that differs by CPU (AVX2 and AVX-512 gave other last
    bits), which made the file's bytes, and every sha256 keyed on them, depend on the machine.

    >>> cos, sin = rotary_tables(ModelSpec("llama", 1, 1, 1, 32, 32, 32, 8, 4, 1e-5, 10000.0, True))
    >>> cos.shape, cos.dtype, float(cos[0, 0]), float(sin[1, 0]) == float(np.float32(np.sin(1.0)))
    ((4, 16), dtype('float32'), 1.0, True)
    """
    if inv_freq is None:
        exponents = np.arange(0, spec.head_dim, 2, dtype=np.float64) / spec.head_dim
        inv_freq = (1.0 / (float(spec.rope_theta) ** exponents)).astype(np.float32)
    positions = np.arange(spec.context_length, dtype=np.float32)
    freqs = np.outer(positions, inv_freq.astype(np.float32)).astype(np.float32).astype(np.float64)
    return np.cos(freqs).astype(np.float32), np.sin(freqs).astype(np.float32)


def layer_types(spec: ModelSpec) -> list[str]:
    return spec.extra.get("layer_types") or ["full_attention"] * spec.num_layers


def cache_entries(spec: ModelSpec):
    """(layer, kind, graph input, graph output, shape) per cache tensor, in graph order. A
    "past" dimension grows with the tokens read; a shape without one is a fixed-size state."""
    kv = [1, spec.num_kv_heads, "past", spec.head_dim]
    entries = []
    for i, layer_type in enumerate(layer_types(spec)):
        kinds = (qwen3_5.state_shapes(spec).items() if layer_type == "linear_attention"
                 else (("key", kv), ("value", kv)))
        entries += [(i, kind, f"past_key_values.{i}.{kind}", f"present.{i}.{kind}", shape)
                    for kind, shape in kinds]
    return entries


def lora_for(adapter, names, out_sizes):
    """One low-rank branch for a fused projection: the adapters of ``names`` stacked (A rows,
    block-diagonal B) with the adapter's scale and the graph's switch input, or None when none
    of them is adapted."""
    pairs = [adapter.pair(n) if adapter else None for n in names]
    if not any(p is not None for p in pairs):
        return None
    rank = adapter.rank
    in_size = next(p[0].shape[1] for p in pairs if p is not None)
    a = np.zeros((rank * len(names), in_size), np.float32)
    b = np.zeros((sum(out_sizes), rank * len(names)), np.float32)
    row = 0
    for i, (pair, size) in enumerate(zip(pairs, out_sizes)):
        if pair is not None:
            a[i * rank:(i + 1) * rank] = pair[0]
            b[row:row + size, i * rank:(i + 1) * rank] = pair[1]
        row += size
    return a, b, adapter.scale, ADAPTER_SWITCH


# The graph input that turns an adapter's branches on (1.0) or off (0.0: exactly the original model),
# float32 [1]; present only in graphs exported with an adapter.
ADAPTER_SWITCH = "adapter_scale"


def build_decoder(spec: ModelSpec, weights: dict, preset: str, keep_source_quant=True,
                  inv_freq=None, adapter=None, cpu=False) -> "onnx.ModelProto":
    """``cpu``: the CPU file's weight formats (quantize.for_cpu) for the decoder's matmuls, with
    ``weights`` (and ``adapter``) already smoothed (smooth.py); the embedding and lm_head are
    ``preset``'s as in the main file, the lm_head's table from one DequantizeLinear (which a
    session folds only with ``ops.FOLD_DEQUANTIZE`` set)."""
    if adapter is not None and spec.architecture == "qwen3_5_text":
        raise ExportError("LoRA adapters are supported for llama and qwen3 models, not qwen3_5_text")
    g = Graph(f"{spec.architecture}-decoder")
    types = layer_types(spec)
    ids = g.input("input_ids", INT64, [1, "sequence"])
    if adapter is not None:
        g.input(ADAPTER_SWITCH, FLOAT, [1])
    for _, _, past, _, shape in cache_entries(spec):
        g.input(past, FLOAT, shape)
    if cpu:
        lin = lambda name: for_cpu(name, weights[name], spec.num_layers)  # noqa: E731
    else:
        lin = lambda name: for_linear(weights[name], preset, keep_source_quant)  # noqa: E731

    # Lengths GroupQueryAttention needs, from the first key cache's length and the new tokens.
    p = "/model/lengths"
    first_key = f"past_key_values.{types.index('full_attention')}.key" if "full_attention" in types else None
    past_len = g.node("Shape", [first_key], f"{p}/past", start=2, end=3) if first_key else g.const_i64("zero", [0])
    new_len = g.node("Shape", [ids], f"{p}/new", start=1, end=2)
    total = g.node("Add", [past_len, new_len], f"{p}/total")
    seqlens_k = g.node("Cast", [g.node("Sub", [total, g.const_i64("one", [1])], f"{p}/seqlens_k")],
                       f"{p}/seqlens_k", to=INT32)
    total_len = g.node("Cast", [total], f"{p}/total", to=INT32)
    cos, sin = rotary_tables(spec, inv_freq)
    if cos.shape[1] % 8 or 2 * cos.shape[1] > spec.head_dim:
        raise ExportError(f"rotary width {2 * cos.shape[1]} of head_dim {spec.head_dim} is not supported "
                          "(GroupQueryAttention rotates a multiple of 16 dims, at most head_dim)")
    cos, sin = g.init("rotary.cos_cache", cos), g.init("rotary.sin_cache", sin)

    centred = spec.architecture == "qwen3_5_text"     # norms scale by 1 + weight
    norm_weight = lambda name: qwen3_5.centred_norm(weights, name) if centred else weights[name]  # noqa: E731
    embed_w = for_embedding(weights["model.embed_tokens.weight"], preset, keep_source_quant)
    hidden, embed_handle = embedding(g, ids, embed_w)
    eps = float(spec.rms_norm_eps)
    residual, mlp_out = hidden, None
    for i in range(spec.num_layers):
        lp, hp = f"model.layers.{i}", f"/model/layers.{i}"
        sums = block_sum_cache(g, f"{hp}/block_sums")
        ln1 = g.init(f"{lp}.input_layernorm.weight", norm_weight(f"{lp}.input_layernorm.weight"))
        if mlp_out is None:
            x = g.node("SimplifiedLayerNormalization", [residual, ln1], f"{hp}/input_layernorm",
                       axis=-1, epsilon=eps, stash_type=1)
        else:
            x, _, _, residual = g.node("SkipSimplifiedLayerNormalization", [mlp_out, residual, ln1],
                                       f"{hp}/input_layernorm", outputs=4, domain=MS_DOMAIN, epsilon=eps)
        if types[i] == "linear_attention":
            attn = qwen3_5.linear_attention(g, spec, weights, lin, x, sums, lp, hp,
                                            f"past_key_values.{i}.conv", f"past_key_values.{i}.recurrent",
                                            f"present.{i}.conv", f"present.{i}.recurrent")
        else:
            attn = _attention(g, spec, weights, lin, x, sums, lp, hp, i, seqlens_k, total_len, cos, sin,
                              adapter)
        ln2 = g.init(f"{lp}.post_attention_layernorm.weight",
                     norm_weight(f"{lp}.post_attention_layernorm.weight"))
        x, _, _, residual = g.node("SkipSimplifiedLayerNormalization", [attn, residual, ln2],
                                   f"{hp}/post_attention_layernorm", outputs=4, domain=MS_DOMAIN,
                                   epsilon=eps)
        mlp_out = _mlp(g, spec, lin, x, sums, lp, hp, adapter)

    # Only the last position's next-token scores leave the graph: a prefill of n tokens would
    # otherwise run the vocabulary-wide head n times for rows nobody reads.
    last = [g.node("Slice", [t, g.const_i64(f"/model/last/{name}.starts", [-1]),
                             g.const_i64(f"/model/last/{name}.ends", [np.iinfo(np.int64).max]),
                             g.const_i64(f"/model/last/{name}.axes", [1])], f"/model/last/{name}")
            for t, name in ((mlp_out, "mlp_out"), (residual, "residual"))]
    norm = g.init("model.norm.weight", norm_weight("model.norm.weight"))
    x, _, _, _ = g.node("SkipSimplifiedLayerNormalization", last + [norm], "/model/norm",
                        outputs=4, domain=MS_DOMAIN, epsilon=eps)
    if spec.tie_word_embeddings:
        logits = tied_lm_head(g, x, embed_handle, dequantize=cpu)
    else:
        head = for_embedding(weights["lm_head.weight"], preset, keep_source_quant)
        logits = untied_lm_head(g, x, head, dequantize=cpu)
    g.output(logits, "logits", FLOAT, [1, 1, spec.vocab_size])
    for _, _, _, present, shape in cache_entries(spec):
        g.output(present, present, FLOAT, ["total_sequence" if d == "past" else d for d in shape])
    return g.model()


def _attention(g, spec, weights, lin, x, sums, lp, hp, i, seqlens_k, total_len, cos, sin, adapter=None):
    a = f"{lp}.self_attn"
    gate = None
    if spec.architecture == "qwen3_5_text":
        qkv_inputs, gate = qwen3_5.gated_attention_inputs(g, spec, weights, lin, x, sums, lp, hp, _head_norm)
    else:
        names = [f"{a}.{n}_proj.weight" for n in ("q", "k", "v")]
        qkv_w = concat_rows([lin(n) for n in names])
        sizes = [spec.num_heads * spec.head_dim] + [spec.num_kv_heads * spec.head_dim] * 2
        qkv = linear(g, x, qkv_w, f"{hp}/attn/qkv_proj", sums, lora_for(adapter, names, sizes))
        qkv_inputs = [qkv, "", ""]          # llama: GroupQueryAttention splits the packed q/k/v
    if spec.architecture == "qwen3":
        q_size, kv_size = spec.num_heads * spec.head_dim, spec.num_kv_heads * spec.head_dim
        split = g.const_i64(f"{lp}.qkv_split", [q_size, kv_size, kv_size])
        q, k, v = g.node("Split", [qkv, split], f"{hp}/attn/qkv_split", outputs=3, axis=-1)
        q = _head_norm(g, spec, q, weights[f"{a}.q_norm.weight"], f"{a}.q_norm", f"{hp}/attn/q_norm")
        k = _head_norm(g, spec, k, weights[f"{a}.k_norm.weight"], f"{a}.k_norm", f"{hp}/attn/k_norm")
        qkv_inputs = [q, k, v]
    past_k, past_v = f"past_key_values.{i}.key", f"past_key_values.{i}.value"
    out, present_k, present_v = g.node(
        "GroupQueryAttention", qkv_inputs + [past_k, past_v, seqlens_k, total_len, cos, sin],
        f"{hp}/attn/GroupQueryAttention", outputs=3, domain=MS_DOMAIN,
        names=[None, f"present.{i}.key", f"present.{i}.value"],
        num_heads=spec.num_heads, kv_num_heads=spec.num_kv_heads, do_rotary=1)
    if gate is not None:
        out = qwen3_5.output_gate(g, out, gate, hp)
    return linear(g, out, lin(f"{a}.o_proj.weight"), f"{hp}/attn/o_proj",
                  lora=lora_for(adapter, [f"{a}.o_proj.weight"], [spec.hidden_size]))


def _head_norm(g, spec, x, weight, name, path):
    heads = g.node("Reshape", [x, g.const_i64(f"{name}.heads_shape", [0, 0, -1, spec.head_dim])], path)
    normed = g.node("SimplifiedLayerNormalization", [heads, g.init(f"{name}.weight", weight)], path,
                    axis=-1, epsilon=float(spec.rms_norm_eps), stash_type=1)
    return g.node("Reshape", [normed, g.const_i64(f"{name}.flat_shape", [0, 0, -1])], f"{path}/flat")


def _mlp(g, spec, lin, x, sums, lp, hp, adapter=None):
    m = f"{lp}.mlp"
    names = [f"{m}.gate_proj.weight", f"{m}.up_proj.weight"]
    gate_up = linear(g, x, concat_rows([lin(n) for n in names]), f"{hp}/mlp/gate_up_proj", sums,
                     lora_for(adapter, names, [spec.intermediate_size] * 2))
    gate, up = g.node("Split", [gate_up, g.const_i64(f"{lp}.mlp_split", [spec.intermediate_size] * 2)],
                      f"{hp}/mlp/split", outputs=2, axis=-1)
    act = g.node("Mul", [gate, g.node("Sigmoid", [gate], f"{hp}/mlp/act")], f"{hp}/mlp/act")
    return linear(g, g.node("Mul", [act, up], f"{hp}/mlp/gate_mul"), lin(f"{m}.down_proj.weight"),
                  f"{hp}/mlp/down_proj", sums, lora_for(adapter, [f"{m}.down_proj.weight"], [spec.hidden_size]))


def cache_io(spec: ModelSpec, adapter=None) -> dict:
    """The manifest's names and cache layout for this graph."""
    return {"inputs": {"input_ids": "input_ids", "position_ids": None, "attention_mask": None,
                       "adapter_scale": ADAPTER_SWITCH if adapter is not None else None},
            "outputs": {"logits": "logits"},
            "cache": [{"layer": i, "kind": kind, "input": past, "output": present, "dtype": "float32",
                       "shape": shape}
                      for i, kind, past, present, shape in cache_entries(spec)]}
