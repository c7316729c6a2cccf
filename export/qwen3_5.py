"""Qwen3.5 (``qwen3_5_text``) layers for the decoder graph: gated full attention and the
Gated DeltaNet linear attention with its fixed-size cache state.

Three of every four Qwen3.5 layers replace attention with a linear recurrence. Per value head it
keeps a state matrix ``S`` [key_dim, value_dim] and, per token, with ``k`` and ``q`` L2-normalised
(``q`` also scaled by 1/sqrt(key_dim)):

    S <- S * exp(g)                         decay, g = -exp(A_log) * softplus(a + dt_bias)
    S <- S + k^T ((v - k S) * beta)         delta rule, beta = sigmoid(b)
    o  = q S

before that, q, k and v pass a causal depthwise convolution (kernel 4, SiLU) over the sequence.
The cache of such a layer is therefore two fixed-size tensors instead of a growing key/value
pair: the convolution's last ``kernel - 1`` inputs and ``S``. A prefill runs the recurrence with
ONNX Scan, one step per token; decode is the same Scan with one step. Torch computes prefill in
chunks (the same sums in another order) and decode one token at a time.

The full-attention layers differ from Qwen3 by an output gate (the q projection also yields
``gate``; the attention output is multiplied by sigmoid(gate)) and by rotating only the first
``partial_rotary_factor`` of each head. Every RMS norm of the model multiplies by ``1 + weight``
(the weights are stored centred on zero) except the gated norm inside the linear layers.
"""
import numpy as np
from onnx import helper, numpy_helper

from .graph import FLOAT, Graph
from .ops import linear
from .quantize import concat_rows
from .spec import ModelSpec

L2_EPS = 1e-6   # transformers' l2norm inside the gated delta rule


def linear_dims(spec: ModelSpec) -> dict:
    e = spec.extra
    hk, hv = e["linear_num_key_heads"], e["linear_num_value_heads"]
    dk, dv = e["linear_key_head_dim"], e["linear_value_head_dim"]
    return {"hk": hk, "hv": hv, "dk": dk, "dv": dv, "kernel": e["linear_conv_kernel_dim"],
            "conv": 2 * hk * dk + hv * dv}


def state_shapes(spec: ModelSpec) -> dict:
    """The two fixed-size cache tensors of a linear-attention layer."""
    d = linear_dims(spec)
    return {"conv": [1, d["conv"], d["kernel"] - 1], "recurrent": [1, d["hv"], d["dk"], d["dv"]]}


def centred_norm(weights: dict, name: str) -> np.ndarray:
    """Qwen3.5's RMS norms scale by 1 + weight."""
    return (weights[name].astype(np.float32) + np.float32(1.0)).astype(np.float32)


def gated_attention_inputs(g: Graph, spec: ModelSpec, weights, lin, x, sums, lp, hp, head_norm):
    """q, k, v for GroupQueryAttention and the output gate, from one fused projection."""
    a = f"{lp}.self_attn"
    hd, nh, kvh = spec.head_dim, spec.num_heads, spec.num_kv_heads
    w = concat_rows([lin(f"{a}.{n}_proj.weight") for n in ("q", "k", "v")])
    qkv = linear(g, x, w, f"{hp}/attn/qkv_proj", sums)
    split = g.const_i64(f"{lp}.qkv_split", [2 * nh * hd, kvh * hd, kvh * hd])
    q_gate, k, v = g.node("Split", [qkv, split], f"{hp}/attn/qkv_split", outputs=3, axis=-1)
    # the q projection interleaves, per head, head_dim query values then head_dim gate values
    heads = g.node("Reshape", [q_gate, g.const_i64(f"{lp}.q_gate_shape", [0, 0, nh, 2 * hd])],
                   f"{hp}/attn/q_gate")
    q, gate = g.node("Split", [heads, g.const_i64(f"{lp}.q_gate_split", [hd, hd])], f"{hp}/attn/q_gate",
                     outputs=2, axis=-1)
    gate = g.node("Reshape", [gate, g.const_i64(f"{lp}.gate_shape", [0, 0, nh * hd])], f"{hp}/attn/gate")
    q = head_norm(g, spec, q, centred_norm(weights, f"{a}.q_norm.weight"), f"{a}.q_norm", f"{hp}/attn/q_norm")
    k = head_norm(g, spec, k, centred_norm(weights, f"{a}.k_norm.weight"), f"{a}.k_norm", f"{hp}/attn/k_norm")
    return [q, k, v], gate


def output_gate(g: Graph, attn, gate, hp):
    return g.node("Mul", [attn, g.node("Sigmoid", [gate], f"{hp}/attn/gate")], f"{hp}/attn/gate")


def linear_attention(g: Graph, spec: ModelSpec, weights, lin, x, sums, lp, hp, past_conv, past_state,
                     present_conv, present_state):
    """One Gated DeltaNet mixer: x [1, s, hidden] -> [1, s, hidden], with its two cache states."""
    d = linear_dims(spec)
    hk, hv, dk, dv, kernel, conv_dim = d["hk"], d["hv"], d["dk"], d["dv"], d["kernel"], d["conv"]
    a, p = f"{lp}.linear_attn", f"{hp}/linear_attn"
    w = concat_rows([lin(f"{a}.in_proj_{n}.weight") for n in ("qkv", "z", "b", "a")])
    proj = linear(g, x, w, f"{p}/in_proj", sums)
    mixed, z, b, a_in = g.node("Split", [proj, g.const_i64(f"{lp}.in_proj_split", [conv_dim, hv * dv, hv, hv])],
                               f"{p}/in_proj_split", outputs=4, axis=-1)

    # causal depthwise convolution over [cached inputs, new inputs]
    channels = g.node("Transpose", [mixed], f"{p}/conv/channels", perm=[0, 2, 1])        # [1, C, s]
    window = g.node("Concat", [past_conv, channels], f"{p}/conv/window", axis=2)         # [1, C, K-1+s]
    g.node("Slice", [window, g.const_i64(f"{lp}.conv_keep", [1 - kernel]),
                     g.const_i64(f"{lp}.conv_end", [np.iinfo(np.int64).max]),
                     g.const_i64(f"{lp}.conv_axis", [2])], f"{p}/conv/state", names=[present_conv])
    conv_w = g.init(f"{a}.conv1d.weight", weights[f"{a}.conv1d.weight"].astype(np.float32))
    conv = g.node("Conv", [window, conv_w], f"{p}/conv", group=conv_dim, kernel_shape=[kernel])
    conv = g.node("Mul", [conv, g.node("Sigmoid", [conv], f"{p}/conv/act")], f"{p}/conv/act")
    conv = g.node("Transpose", [conv], f"{p}/conv/rows", perm=[0, 2, 1])                 # [1, s, C]
    q, k, v = g.node("Split", [conv, g.const_i64(f"{lp}.qkv_split", [hk * dk, hk * dk, hv * dv])],
                     f"{p}/qkv_split", outputs=3, axis=-1)

    q = _value_heads(g, _l2norm(g, _heads(g, q, hk, dk, f"{lp}.q", f"{p}/q"), f"{p}/q"), hk, hv, dk, f"{lp}.q", f"{p}/q")
    q = g.node("Mul", [q, g.init(f"{lp}.q_scale", np.array(1.0 / np.sqrt(dk), np.float32))], f"{p}/q/scale")
    k = _value_heads(g, _l2norm(g, _heads(g, k, hk, dk, f"{lp}.k", f"{p}/k"), f"{p}/k"), hk, hv, dk, f"{lp}.k", f"{p}/k")
    v = _heads(g, v, hv, dv, f"{lp}.v", f"{p}/v")

    beta = g.node("Sigmoid", [b], f"{p}/beta")                                          # [1, s, hv]
    dt_bias = g.init(f"{a}.dt_bias", weights[f"{a}.dt_bias"].astype(np.float32))
    neg_a = g.init(f"{a}.neg_A", -np.exp(weights[f"{a}.A_log"].astype(np.float32)))
    rate = g.node("Softplus", [g.node("Add", [a_in, dt_bias], f"{p}/dt")], f"{p}/dt")
    decay = g.node("Exp", [g.node("Mul", [rate, neg_a], f"{p}/decay")], f"{p}/decay")   # [1, s, hv]

    # Scan walks axis 0: drop the batch axis of every per-token input and of the state
    axis0 = g.const_i64(f"{lp}.axis0", [0])
    seq = [g.node("Squeeze", [t, axis0], f"{p}/scan/{n}") for t, n in
           ((q, "q"), (k, "k"), (v, "v"), (beta, "beta"), (decay, "decay"))]
    state = g.node("Squeeze", [past_state, axis0], f"{p}/scan/state")
    final, outs = g.node("Scan", [state] + seq, f"{p}/scan", outputs=2,
                         body=_delta_rule_step(hv, dk, dv), num_scan_inputs=5)
    g.node("Unsqueeze", [final, axis0], f"{p}/state", names=[present_state])
    core = g.node("Unsqueeze", [outs, axis0], f"{p}/core")                              # [1, s, hv, dv]

    # gated RMS norm per value head, then the output projection
    norm_w = g.init(f"{a}.norm.weight", weights[f"{a}.norm.weight"].astype(np.float32))
    normed = g.node("SimplifiedLayerNormalization", [core, norm_w], f"{p}/norm", axis=-1,
                    epsilon=float(spec.rms_norm_eps), stash_type=1)
    z = _heads(g, z, hv, dv, f"{lp}.z", f"{p}/z")
    gated = g.node("Mul", [normed, g.node("Mul", [z, g.node("Sigmoid", [z], f"{p}/z/act")], f"{p}/z/act")],
                   f"{p}/norm/gate")
    flat = g.node("Reshape", [gated, g.const_i64(f"{lp}.core_shape", [0, 0, hv * dv])], f"{p}/core/flat")
    return linear(g, flat, lin(f"{a}.out_proj.weight"), f"{p}/out_proj")


def _heads(g, x, heads, dim, name, path):
    return g.node("Reshape", [x, g.const_i64(f"{name}.heads_shape", [0, 0, heads, dim])], f"{path}/heads")


def _l2norm(g, x, path):
    """x / sqrt(sum(x^2) + eps) over the last axis."""
    sq = g.node("ReduceSumSquare", [x, g.const_i64(f"{path}.last_axis", [-1])], f"{path}/l2", keepdims=1)
    eps = g.init(f"{path}.l2_eps", np.array(L2_EPS, np.float32))
    return g.node("Div", [x, g.node("Sqrt", [g.node("Add", [sq, eps], f"{path}/l2")], f"{path}/l2")],
                  f"{path}/l2")


def _value_heads(g, x, hk, hv, dim, name, path):
    """Each key head serves hv / hk consecutive value heads (repeat_interleave on the head axis)."""
    if hk == hv:
        return x
    wide = g.node("Unsqueeze", [x, g.const_i64(f"{name}.group_axis", [3])], f"{path}/groups")
    wide = g.node("Expand", [wide, g.const_i64(f"{name}.group_shape", [1, 1, hk, hv // hk, dim])],
                  f"{path}/groups")
    return g.node("Reshape", [wide, g.const_i64(f"{name}.value_heads_shape", [0, 0, hv, dim])],
                  f"{path}/groups")


def _delta_rule_step(hv, dk, dv):
    """Scan body: (S [hv, dk, dv]; q, k [hv, dk], v [hv, dv], beta, decay [hv]) -> (S', o [hv, dv])."""
    def vi(name, shape):
        return helper.make_tensor_value_info(name, FLOAT, shape)

    consts = [numpy_helper.from_array(np.array(v, np.int64), n)
              for n, v in (("ax1", [1]), ("ax2", [2]), ("ax12", [1, 2]))]
    n = helper.make_node
    nodes = [
        n("Unsqueeze", ["decay", "ax12"], ["decay3"]),
        n("Mul", ["S", "decay3"], ["S1"]),                     # decayed state
        n("Unsqueeze", ["k", "ax1"], ["k_row"]),               # [hv, 1, dk]
        n("MatMul", ["k_row", "S1"], ["kS"]),                  # [hv, 1, dv]: the state's guess for v
        n("Unsqueeze", ["v", "ax1"], ["v_row"]),
        n("Sub", ["v_row", "kS"], ["error"]),
        n("Unsqueeze", ["beta", "ax12"], ["beta3"]),
        n("Mul", ["error", "beta3"], ["delta"]),
        n("Unsqueeze", ["k", "ax2"], ["k_col"]),               # [hv, dk, 1]
        n("MatMul", ["k_col", "delta"], ["update"]),           # [hv, dk, dv]
        n("Add", ["S1", "update"], ["S_next"]),
        n("Unsqueeze", ["q", "ax1"], ["q_row"]),
        n("MatMul", ["q_row", "S_next"], ["o_row"]),           # [hv, 1, dv]
        n("Squeeze", ["o_row", "ax1"], ["o"]),
    ]
    return helper.make_graph(
        nodes, "gated_delta_rule_step",
        [vi("S", [hv, dk, dv]), vi("q", [hv, dk]), vi("k", [hv, dk]), vi("v", [hv, dv]),
         vi("beta", [hv]), vi("decay", [hv])],
        [vi("S_next", [hv, dk, dv]), vi("o", [hv, dv])], consts)

