"""SmoothQuant-style smoothing for the CPU file (int8 activations, docs/authors/export.md).

A linear layer quantizes its input per tensor to 8 bits on every call. A few input channels
carry values a hundred times the median, so one scale for the whole vector leaves the others
a handful of levels. Smoothing divides each input channel j by a factor s_j and multiplies
column j of the weight by the same s_j: the product is unchanged in exact arithmetic, while
the activation's outliers shrink and the weight (quantized per output row, where it has
room) takes them over. The division is folded into whatever writes the activation:

- the input of q/k/v and of gate/up is an RMS norm's output: divide the norm's weight;
- the input of o_proj is attention's output, a mix of v_proj's rows: divide those rows
  (grouped-query attention shares a v head among several q heads, so one factor per v
  channel serves all the q heads that read it).

down_proj is not smoothed: its input (after the SiLU gate) is the widest (3,065 against a
median of 1.2 at layer 11 of SmolLM2) and it stays in float16 (quantize.for_cpu).

The factors come from per-channel maxima of |x| on the calibration chats below (not the
verification prompts) read from the torch reference of the ORIGINAL weights, so an adapter
export with its adapter switched off is the plain export's CPU file.
"""
from dataclasses import replace

import numpy as np

# Smoothing strength: s_j = max|x_j|^ALPHA / max|W_j|^(1 - ALPHA). Measured on the default
# model (18 prompts x 64 tokens, top-1 against torch, down_proj float16, full-range codes), with
# every weight in one int8 term: 0.6 -> 0.957, 0.65 -> 0.968, 0.7 -> 0.969, 0.75 -> 0.966,
# 0.8 -> 0.956, 0.85 -> 0.953, 0.95 -> 0.951; with q/k/v in two terms 0.65 -> 0.969,
# 0.7 -> 0.973, 0.75 -> 0.971. Fewer bits in the weights favour a lower alpha than the two-term
# file did (0.85 -> 0.979 there).
ALPHA = 0.7

CALIBRATION = [
    "What should I pack for a weekend of hiking in the mountains?",
    "Rewrite this sentence in the passive voice: The dog chased the ball.",
    "How many minutes are there in three and a half hours?",
    "Write a limerick about a forgetful robot.",
    "What is the difference between weather and climate?",
    "Give me a recipe for a simple tomato soup.",
    "Explain what a variable is in programming, with an example in JavaScript.",
    "Who painted the Mona Lisa, and when?",
    "Convert 25 degrees Celsius to Fahrenheit.",
    "Write a two-line dialogue between a pirate and a librarian.",
    "What are three ways to save water at home?",
    "Describe the water cycle in four steps.",
]


def calibration_chats():
    return [[{"role": "user", "content": text}] for text in CALIBRATION]


def activation_maxima(model, prompts) -> dict:
    """Per layer, the largest |x| of each input channel of q_proj (= k, v), o_proj and gate_proj
    (= up) over every position of ``prompts`` (lists of token ids): {(layer, "qkv"|"o"|"gate_up"):
    float32 [in]}."""
    import torch
    maxima, hooks = {}, []

    def watch(key):
        def hook(_module, args):
            x = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(0).float().numpy()
            maxima[key] = x if key not in maxima else np.maximum(maxima[key], x)
        return hook
    for i, layer in enumerate(model.model.layers):
        for key, module in ((("qkv"), layer.self_attn.q_proj), ("o", layer.self_attn.o_proj),
                            ("gate_up", layer.mlp.gate_proj)):
            hooks.append(module.register_forward_pre_hook(watch((i, key))))
    try:
        with torch.no_grad():
            for ids in prompts:
                model(torch.tensor([ids]))
    finally:
        for h in hooks:
            h.remove()
    return maxima


def factor(x_max: np.ndarray, w_max: np.ndarray, alpha: float = ALPHA) -> np.ndarray:
    """s_j = max|x_j|^alpha / max|W_j|^(1 - alpha), with channels that never fire left alone.

    >>> factor(np.array([100.0, 1.0, 0.0]), np.array([0.1, 1.0, 0.5]), 0.5).round(3).tolist()
    [31.623, 1.0, 1.0]
    """
    x = np.maximum(x_max.astype(np.float64), 1e-5)
    w = np.maximum(w_max.astype(np.float64), 1e-5)
    s = x ** alpha / w ** (1 - alpha)
    return np.where(x_max > 0, s, 1.0).astype(np.float32)


def factors(spec, weights: dict, maxima: dict, alpha: float = ALPHA) -> dict:
    """{(layer, "qkv"|"v"|"gate_up"): float32 factors}; "v" is per v_proj output channel."""
    group = spec.num_heads // spec.num_kv_heads
    hd = spec.head_dim
    out = {}
    for i in range(spec.num_layers):
        lp = f"model.layers.{i}"
        qkv = np.concatenate([_dense(weights[f"{lp}.self_attn.{n}_proj.weight"]) for n in "qkv"])
        out[i, "qkv"] = factor(maxima[i, "qkv"], np.abs(qkv).max(0), alpha)
        gate_up = np.concatenate([_dense(weights[f"{lp}.mlp.{n}_proj.weight"]) for n in ("gate", "up")])
        out[i, "gate_up"] = factor(maxima[i, "gate_up"], np.abs(gate_up).max(0), alpha)
        # o_proj's input channel h * hd + d reads v channel (h // group) * hd + d
        by_v = lambda a: a.reshape(spec.num_kv_heads, group, hd).max(1).reshape(-1)  # noqa: E731
        o_cols = np.abs(_dense(weights[f"{lp}.self_attn.o_proj.weight"])).max(0)
        out[i, "v"] = factor(by_v(maxima[i, "o"]), by_v(o_cols), alpha)
    return out


def o_factor(spec, v_factor: np.ndarray) -> np.ndarray:
    """The factor of each o_proj input channel, from the factor of the v channel it reads."""
    group = spec.num_heads // spec.num_kv_heads
    v = v_factor.reshape(spec.num_kv_heads, 1, spec.head_dim)
    return np.broadcast_to(v, (spec.num_kv_heads, group, spec.head_dim)).reshape(-1)


def smooth_weights(spec, weights: dict, f: dict) -> dict:
    """A copy of ``weights`` with the factors folded in (the products are unchanged in exact
    arithmetic); smoothed matrices become float32, the rest is shared as it was."""
    out = dict(weights)
    for i in range(spec.num_layers):
        lp = f"model.layers.{i}"
        s = f[i, "qkv"]
        out[f"{lp}.input_layernorm.weight"] = _dense(weights[f"{lp}.input_layernorm.weight"]) / s
        for n in "qkv":
            out[f"{lp}.self_attn.{n}_proj.weight"] = _dense(weights[f"{lp}.self_attn.{n}_proj.weight"]) * s
        s = f[i, "gate_up"]
        out[f"{lp}.post_attention_layernorm.weight"] = _dense(weights[f"{lp}.post_attention_layernorm.weight"]) / s
        for n in ("gate", "up"):
            out[f"{lp}.mlp.{n}_proj.weight"] = _dense(weights[f"{lp}.mlp.{n}_proj.weight"]) * s
        sv = f[i, "v"]
        name = f"{lp}.self_attn.v_proj.weight"
        out[name] = out[name] / sv[:, None]
        name = f"{lp}.self_attn.o_proj.weight"
        out[name] = _dense(weights[name]) * o_factor(spec, sv)
    return {k: v.astype(np.float32) if isinstance(v, np.ndarray) else v for k, v in out.items()}


def smooth_adapter(spec, adapter, f: dict):
    """The adapter's branches with the same factors: A's columns take an input's factor, and
    v_proj's B rows are divided like v_proj's rows, so each branch adds what it added before."""
    if adapter is None:
        return None
    weights = {}
    for name, (a, b) in adapter.weights.items():
        i = int(name.split(".")[2])
        if ".self_attn." in name and name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight")):
            a = a * f[i, "qkv"]
            if name.endswith("v_proj.weight"):
                b = b / f[i, "v"][:, None]
        elif name.endswith("o_proj.weight"):
            a = a * o_factor(spec, f[i, "v"])
        elif name.endswith(("gate_proj.weight", "up_proj.weight")):
            a = a * f[i, "gate_up"]
        weights[name] = (a.astype(np.float32), b.astype(np.float32))
    return replace(adapter, weights=weights)


def _dense(w) -> np.ndarray:
    return (w if isinstance(w, np.ndarray) else w.dequantize()).astype(np.float32)
