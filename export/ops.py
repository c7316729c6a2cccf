"""Graph pieces shared by the decoders: linear layers, the embedding and the lm_head,
each emitted for whichever weight format the preset chose (quantize.py)."""
import numpy as np
from onnx import TensorProto

from .gguf_blocks import BLOCK, Q4Blocks, Q8Blocks
from .graph import MS_DOMAIN, Graph
from .quantize import Int8Rows, NBits

# MatMulNBits' accuracy_level, by weight bits. For 4 bits (the site's q4) level 4 (int8
# activations) gave 68.7 instead of 53.9 tokens/s natively but moved top-1 agreement to 0.969,
# below 0.98, and onnxruntime-web has no int8-activation kernel, so browser and native greedy
# output would differ: level 1 (float32 activations). 8-bit MatMulNBits serves only the q8
# preset's layers (the lm_head is a float32 Gemm, see tied_lm_head); its level-1 kernel
# dequantizes the whole weight on every call, so q8 uses the native int8 kernel.
ACCURACY_LEVEL = {4: 1, 8: 4}


def _nbits(g: Graph, x, path, codes, scales, zero_points, bits, n, k):
    inputs = [x, codes, scales] + ([zero_points] if zero_points else [])
    return g.node("MatMulNBits", inputs, path, domain=MS_DOMAIN, K=k, N=n, bits=bits,
                  block_size=BLOCK, accuracy_level=ACCURACY_LEVEL[bits])


def _f32(g: Graph, name, path):
    return g.node("Cast", [name], path, to=TensorProto.FLOAT)


def linear(g: Graph, x, w, path, block_sums=None, lora=None):
    """y = x @ w.T for any weight format. ``block_sums`` caches sum-over-blocks of ``x``;
    ``lora`` = (A [r, k], B [n, r], scale, switch) adds the low-rank branch
    ((x @ A.T) * switch) @ B.T * scale, where ``switch`` is a graph input: 0 gives exactly
    ``y`` (the branch adds zeros), 1 the adapted projection."""
    y = _linear(g, x, w, path, block_sums)
    if lora is None:
        return y
    a, b, scale, switch = lora
    # float16 in the file like the adapter itself; the casts and the constant scaling are
    # nodes that the session folds once when it loads
    a_t = _f32(g, g.init(f"{path}.lora_a_t", np.ascontiguousarray(a.T.astype(np.float16))), f"{path}/lora_a")
    b_t = _f32(g, g.init(f"{path}.lora_b_t", np.ascontiguousarray(b.T.astype(np.float16))), f"{path}/lora_b")
    b_t = g.node("Mul", [b_t, g.init(f"{path}.lora_scale", np.array(scale, np.float32))], f"{path}/lora_b")
    # the switch scales the rank-wide intermediate, the cheapest place in the branch
    down = g.node("Mul", [g.node("MatMul", [x, a_t], f"{path}/lora_down"), switch], f"{path}/lora_switch")
    return g.node("Add", [y, g.node("MatMul", [down, b_t], f"{path}/lora_up")], f"{path}/lora")


def _linear(g: Graph, x, w, path, block_sums=None):
    n, k = w.shape
    if isinstance(w, np.ndarray) and w.dtype == np.float16:
        # float16 in the file, float32 once the session folds the Cast
        wt = _f32(g, g.init(f"{path}.weight_t_f16", np.ascontiguousarray(w.T)), f"{path}/weight")
        return g.node("MatMul", [x, wt], path)
    if isinstance(w, np.ndarray):
        wt = g.init(f"{path}.weight_t", np.ascontiguousarray(w.T.astype(np.float32)))
        return g.node("MatMul", [x, wt], path)
    if isinstance(w, Int8Rows):
        return _int8_rows(g, x, w, path)
    if isinstance(w, NBits):
        codes = g.init(f"{path}.codes", w.codes)
        scales = g.init(f"{path}.scales", w.scales.reshape(-1))
        zp = g.init(f"{path}.zero_points", w.zero_points) if w.zero_points is not None else None
        return _nbits(g, x, path, codes, scales, zp, w.bits, n, k)
    if isinstance(w, Q8Blocks):
        codes = g.init(f"{path}.codes", w.codes)
        scales = g.init(f"{path}.scales", w.scales.reshape(-1))
        if w.scales.dtype != np.float32:
            scales = _f32(g, scales, f"{path}/scales")
        return _nbits(g, x, path, codes, scales, None, 8, n, k)
    assert isinstance(w, Q4Blocks)
    # Q4_1: d * q + m = d * (q - 8) + (m + 8 d). MatMulNBits does the first term with its
    # default zero point 8; the second is blocksum(x) @ offsets. The scales and mins stay
    # float16 in the file (as in the GGUF) and are cast once when the session folds constants.
    codes = g.init(f"{path}.codes", w.codes)
    d16 = g.init(f"{path}.scales_f16", w.scales)
    m16 = g.init(f"{path}.mins_f16", w.mins)
    d = _f32(g, d16, f"{path}/scales")
    flat = g.node("Reshape", [d, g.const_i64(f"{path}.flat_shape", [-1])], f"{path}/scales")
    main = _nbits(g, x, path, codes, flat, None, 4, n, k)
    eight = g.init(f"{path}.eight", np.array(8.0, np.float32))
    offsets = g.node("Add", [_f32(g, m16, f"{path}/mins"), g.node("Mul", [d, eight], f"{path}/offsets")],
                     f"{path}/offsets")
    offsets_t = g.node("Transpose", [offsets], f"{path}/offsets", perm=[1, 0])
    sums = block_sums(x, k) if block_sums else _block_sums(g, x, k, path)
    return g.node("Add", [main, g.node("MatMul", [sums, offsets_t], f"{path}/offsets")], path)


def _int8_rows(g: Graph, x, w: Int8Rows, path):
    """All terms in one DynamicQuantizeMatMul, side by side: x is quantized to uint8 once, the
    output is [..., terms * n], and the terms' slices are added. The codes go in as uint8 with
    zero point 128 (code + 128): uint8 x uint8 is exact on every CPU kernel (quantize.CPU_CODE_MAX)."""
    terms, n, k = w.codes.shape
    codes = w.codes.transpose(2, 0, 1).reshape(k, terms * n).astype(np.int16) + 128   # [k, terms * n]
    y = g.node("DynamicQuantizeMatMul", [x, g.init(f"{path}.codes", np.ascontiguousarray(codes.astype(np.uint8))),
                                         g.init(f"{path}.scales", np.ascontiguousarray(w.scales.reshape(-1))),
                                         g.init(f"{path}.zero_points", np.full(terms * n, 128, np.uint8))],
               path, domain=MS_DOMAIN)
    if terms == 1:
        return y
    parts = g.node("Split", [y, g.const_i64(f"{path}.terms", [n] * terms)], f"{path}/terms",
                   outputs=terms, axis=-1)
    total = parts[0]
    for t, part in enumerate(parts[1:], 1):
        total = g.node("Add", [total, part], f"{path}/term{t}")
    return total


def _block_sums(g: Graph, x, k, path):
    shape = g.const_i64(f"{path}.block_shape", [0, 0, k // BLOCK, BLOCK])
    blocks = g.node("Reshape", [x, shape], f"{path}/block_sums")
    return g.node("ReduceSum", [blocks, g.const_i64(f"{path}.last_axis", [-1])], f"{path}/block_sums",
                  keepdims=0)


def block_sum_cache(g: Graph, path):
    """Sum-over-blocks of an activation, computed once per activation for all its consumers."""
    cache = {}

    def get(x, k):
        if x not in cache:
            cache[x] = _block_sums(g, x, k, f"{path}/{len(cache)}")
        return cache[x]
    return get


def embedding(g: Graph, ids, w, path="/model/embed_tokens"):
    """Token embedding, returning (hidden [1, s, H], lm_head weight handle for a tied head)."""
    if isinstance(w, np.ndarray):
        table = g.init("model.embed_tokens.weight", w.astype(np.float32))
        return g.node("Gather", [table, ids], path), ("dense", table)
    rows, cols = w.shape
    codes = g.init("model.embed_tokens.codes", w.codes)            # [V, H / 32, 32]
    scales = g.init("model.embed_tokens.scales", w.scales)          # [V, H / 32]
    if w.scales.dtype != np.float32:
        scales = _f32(g, scales, f"{path}/scales")
    gather_scales = g.node("Unsqueeze", [scales, g.const_i64(f"{path}.axis2", [2])], f"{path}/scales")
    rows_out = g.node("GatherBlockQuantized", [codes, ids, gather_scales], path, domain=MS_DOMAIN,
                      bits=8, block_size=BLOCK, gather_axis=0, quantize_axis=2)
    hidden = g.node("Reshape", [rows_out, g.const_i64(f"{path}.hidden_shape", [0, 0, cols])], path)
    return hidden, ("q8", codes, scales, rows, cols)


def tied_lm_head(g: Graph, x, handle, path="/lm_head", dequantize=False):
    """lm_head reading the embedding's own storage: no second copy of the table in the file.
    ``dequantize``: the table as one DequantizeLinear (``_q8_table``)."""
    if handle[0] == "dense":
        return _head_matmul(g, x, handle[1], path)
    _, codes, scales, rows, cols = handle
    return _head_matmul(g, x, _q8_table(g, codes, scales, rows, cols, path, dequantize), path)


def untied_lm_head(g: Graph, x, w, path="/lm_head", dequantize=False):
    if isinstance(w, np.ndarray):
        return _head_matmul(g, x, g.init("lm_head.weight", w.astype(np.float32)), path)
    codes = g.init("lm_head.codes", w.codes)
    scales = g.init("lm_head.scales", w.scales)
    if w.scales.dtype != np.float32:
        scales = _f32(g, scales, f"{path}/scales")
    return _head_matmul(g, x, _q8_table(g, codes, scales, *w.shape, path, dequantize), path)


# What a session must be told to fold a DequantizeLinear of initializers (``_q8_table``) when it
# loads: onnxruntime keeps DequantizeLinear nodes unfolded for its QDQ fusions unless these are
# off, and would then dequantize the whole table on every run. The manifest lists them with the
# file that needs them (``session_options``), and every runtime that opens the file sets them.
FOLD_DEQUANTIZE = {"session.disable_quant_qdq": "1"}


def _q8_table(g: Graph, codes, scales, rows, cols, path, dequantize=False):
    """The float32 table of 8-bit blocks (code - 128) * scale, built only from initializers.

    onnxruntime folds these constant nodes once when the session is created, so the head runs
    as a plain float32 matmul in every runtime. An 8-bit MatMulNBits at float32 activations
    (accuracy_level 1) instead dequantized the whole table on every call: 150 ms per token
    natively, about a tenth of this; its int8-activation kernel (level 4) is fast natively but
    onnxruntime-web has none, and the two then disagreed on greedy tokens. The cost is memory:
    the folded table takes rows * cols * 4 bytes (113 MB for SmolLM2) while the file keeps 8 bits.

    Folded as Cast, Sub, Mul and Reshape, each step's whole output is alive until the session has
    started: onnxruntime-web's memory, which never shrinks, peaked 458 MB higher than with the
    same table from one blocked DequantizeLinear (1,093 MB against 635 MB for the default CPU
    file, in Node), which folds only with ``FOLD_DEQUANTIZE`` set. ``dequantize`` builds that
    form; the manifest then carries the options for the file.
    """
    if dequantize:
        flat = g.node("Reshape", [codes, g.const_i64(f"{path}.codes_shape", [rows, cols])], f"{path}/table/codes")
        shape = g.const_i64(f"{path}.scales_shape", [rows, cols // BLOCK])
        zero_points = g.node("Expand", [g.init(f"{path}.zero_point", np.array(128, np.uint8)), shape],
                             f"{path}/table/zero_points")
        return g.node("DequantizeLinear", [flat, scales, zero_points], f"{path}/table", axis=1, block_size=BLOCK)
    values = g.node("Cast", [codes], f"{path}/table/codes", to=TensorProto.FLOAT)
    centred = g.node("Sub", [values, g.init(f"{path}.code_offset", np.array(128.0, np.float32))],
                     f"{path}/table/centred")
    block_scales = g.node("Unsqueeze", [scales, g.const_i64(f"{path}.scale_axis", [2])], f"{path}/table/scales")
    blocks = g.node("Mul", [centred, block_scales], f"{path}/table")
    return g.node("Reshape", [blocks, g.const_i64(f"{path}.table_shape", [rows, cols])], f"{path}/table")


def _head_matmul(g: Graph, x, table, path):
    """[1, s, H] @ table[V, H].T -> [1, s, V] as one Gemm."""
    flat = g.node("Flatten", [x], f"{path}/rows", axis=2)                # [s, H]
    logits = g.node("Gemm", [flat, table], path, transB=1)               # [s, V]
    return g.node("Unsqueeze", [logits, g.const_i64(f"{path}.axis0", [0])], path)
