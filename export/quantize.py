"""Weight formats for the presets, and round-to-nearest block quantization.

A linear weight reaches the graph builder as one of:
  - ``np.ndarray`` float32 [out, in]: a plain MatMul;
  - ``Q4Blocks`` (gguf_blocks.py): GGUF Q4_1 kept as it is (scale and min per block of 32);
  - ``NBits``: round-to-nearest blocks for MatMulNBits (4-bit asymmetric or 8-bit symmetric);
  - ``Q8Blocks``: 8-bit symmetric blocks (GGUF Q8_0, or ``rtn_q8``), used for the embedding;
  - ``Int8Rows``: the CPU file's int8 weights, per output row, in one or more terms
    (DynamicQuantizeMatMul, the int8 kernel onnxruntime-web's WASM build has).
"""
from dataclasses import dataclass

import numpy as np

from .gguf_blocks import BLOCK, Q4Blocks, Q8Blocks

PRESETS = ("q4", "q8", "fp32")


@dataclass
class NBits:
    """Blocks ready for MatMulNBits: value = (code - zero_point) * scale."""
    codes: np.ndarray                 # uint8 [rows, cols // 32, 32 * bits // 8]
    scales: np.ndarray                # float32 [rows, cols // 32]
    zero_points: np.ndarray | None    # uint8 [rows, ceil(nblocks * bits / 8)], None = 2^(bits-1)
    bits: int

    @property
    def shape(self):
        return (self.codes.shape[0], self.codes.shape[1] * BLOCK)


def rtn_q4(w: np.ndarray) -> NBits:
    """Asymmetric 4-bit round-to-nearest per block of 32 (MatMulNBits' own scheme).

    >>> q = rtn_q4(np.linspace(-1, 1, 32, dtype=np.float32)[None])
    >>> float(np.abs(dequantize_nbits(q) - np.linspace(-1, 1, 32)).max()) < 0.07
    True
    """
    rows, cols = w.shape
    b = w.astype(np.float32).reshape(rows, cols // BLOCK, BLOCK)
    lo = np.minimum(b.min(-1), 0.0)
    hi = np.maximum(b.max(-1), 0.0)
    scale = ((hi - lo) / 15.0).astype(np.float32)
    safe = np.where(scale == 0, 1.0, scale).astype(np.float32)
    zp = np.clip(np.rint(-lo / safe), 0, 15).astype(np.uint8)
    q = np.clip(np.rint(b / safe[..., None]) + zp[..., None], 0, 15).astype(np.uint8)
    codes = q[..., 0::2] | (q[..., 1::2] << 4)
    nb = zp.shape[1]
    zp_pad = np.concatenate([zp, np.zeros((rows, nb % 2), np.uint8)], axis=1)
    zp_packed = zp_pad[:, 0::2] | (zp_pad[:, 1::2] << 4)
    return NBits(np.ascontiguousarray(codes), scale, np.ascontiguousarray(zp_packed), 4)


def rtn_q8(w: np.ndarray) -> Q8Blocks:
    """Symmetric 8-bit round-to-nearest per block of 32; codes are q + 128, scales float32."""
    rows, cols = w.shape
    b = w.astype(np.float32).reshape(rows, cols // BLOCK, BLOCK)
    scale = (np.abs(b).max(-1) / 127.0).astype(np.float32)
    safe = np.where(scale == 0, 1.0, scale).astype(np.float32)
    q = np.clip(np.rint(b / safe[..., None]), -127, 127).astype(np.int16) + 128
    return Q8Blocks(np.ascontiguousarray(q.astype(np.uint8)), scale)


@dataclass
class Int8Rows:
    """value = sum over terms t of codes[t] * scales[t][:, None]: each term is symmetric int8 per
    output row, and each term after the first quantizes what the ones before left over."""
    codes: np.ndarray                 # int8 [terms, rows, cols]
    scales: np.ndarray                # float32 [terms, rows]

    @property
    def shape(self):
        return self.codes.shape[1:]

    def dequantize(self) -> np.ndarray:
        return (self.codes.astype(np.float32) * self.scales[..., None]).sum(0)


# The CPU file's linear weights: int8 per output row, in one term, or in two where measured to
# matter (the second term carries the first one's rounding error, as exact as 16 bits, at twice
# the work on WASM); down_proj stays float16: its input has the widest outliers (smooth.py).
# Measured on the default model, top-1 against torch at alpha 0.7 (docs/authors/export.md, "The
# CPU file"): every weight in one term 0.969; q/k/v in two 0.973; q/k/v and the last two layers'
# gate/up in two 0.978 (the first two layers' instead: 0.973); q/k/v and every int8 weight of
# the last two layers in two 0.979 (shipped); every weight in two 0.979 (alpha 0.85, the earlier
# file), 1.8x the one-term decode time on WASM.
CPU_TWO_TERMS = ("q_proj", "k_proj", "v_proj")
CPU_TWO_TERMS_LAST_LAYERS = 2
CPU_FLOAT16 = ("down_proj.weight",)
# Full-range codes, stored as uint8 with zero point 128 (ops._int8_rows): uint8 times uint8 runs
# on x86 kernels that widen both to int16 before multiplying, so the products are exact as they
# always are in the WASM kernel. int8 weights took the x86 path that sums pairs of products in
# int16 (vpmaddubsw), which saturates once 2 * 255 * |w| > 32767 and had limited codes to +-63.
CPU_CODE_MAX = 127


def cpu_terms(name: str, num_layers: int) -> int:
    """How many int8 terms the CPU file gives the weight ``name`` (model.layers.N.<module>.weight)
    of a model with ``num_layers`` layers.

    >>> [cpu_terms(f"model.layers.{n}", 30) for n in ("3.self_attn.k_proj.weight", "3.mlp.up_proj.weight",
    ...                                              "28.mlp.up_proj.weight")]
    [2, 1, 2]
    """
    _, _, layer, *_, module, _ = name.split(".")
    return 2 if module in CPU_TWO_TERMS or int(layer) >= num_layers - CPU_TWO_TERMS_LAST_LAYERS else 1


def rtn_int8_rows(w: np.ndarray, terms: int = 1, code_max: int = CPU_CODE_MAX) -> Int8Rows:
    """Symmetric int8 per output row (codes within +-``code_max``), ``terms`` deep.

    >>> w = np.random.default_rng(0).normal(size=(4, 64)).astype(np.float32)
    >>> err = [float(np.abs(rtn_int8_rows(w, t).dequantize() - w).max()) for t in (1, 2)]
    >>> err[1] < err[0] / 50
    True
    """
    rest = w.astype(np.float32)
    codes, scales = [], []
    for _ in range(terms):
        scale = (np.abs(rest).max(1) / code_max).astype(np.float32)
        safe = np.where(scale == 0, 1.0, scale).astype(np.float32)
        q = np.clip(np.rint(rest / safe[:, None]), -code_max, code_max).astype(np.int8)
        codes.append(q)
        scales.append(scale)
        rest = rest - q.astype(np.float32) * scale[:, None]
    return Int8Rows(np.stack(codes), np.stack(scales))


def for_cpu(name: str, w, num_layers: int):
    """The format a decoder matmul weight takes in the CPU file: float16 or ``Int8Rows``."""
    if name.endswith(CPU_FLOAT16):
        return dense(w).astype(np.float16)
    return rtn_int8_rows(dense(w), cpu_terms(name, num_layers))


def dequantize_nbits(q: NBits) -> np.ndarray:
    rows, nb, _ = q.codes.shape
    codes = np.stack([q.codes & 0x0F, q.codes >> 4], -1).reshape(rows, nb, BLOCK)
    zp = np.stack([q.zero_points & 0x0F, q.zero_points >> 4], -1).reshape(rows, -1)[:, :nb]
    return ((codes.astype(np.float32) - zp[..., None]) * q.scales[..., None]).reshape(q.shape)


def dense(w) -> np.ndarray:
    return w if isinstance(w, np.ndarray) else w.dequantize()


def for_linear(w, preset: str, keep_source_quant: bool):
    """The format a decoder matmul weight takes under ``preset``."""
    if preset == "fp32":
        return dense(w)
    if preset == "q4":
        if isinstance(w, Q4Blocks) and keep_source_quant:
            return w
        return rtn_q4(dense(w))
    if isinstance(w, Q8Blocks) and keep_source_quant:
        return w
    return rtn_q8(dense(w))


def for_embedding(w, preset: str, keep_source_quant: bool):
    """The embedding (and a tied lm_head): 8-bit blocks for the quantized presets."""
    if preset == "fp32":
        return dense(w)
    if isinstance(w, Q8Blocks) and keep_source_quant:
        return w
    return rtn_q8(dense(w))


def concat_rows(ws):
    """Stack several weights of one format along the output axis (fused q/k/v, gate/up)."""
    first = ws[0]
    if isinstance(first, np.ndarray):
        return np.concatenate(ws, axis=0)
    if isinstance(first, Q4Blocks):
        return Q4Blocks(*(np.concatenate([getattr(w, f) for w in ws]) for f in ("codes", "scales", "mins")))
    if isinstance(first, Q8Blocks):
        return Q8Blocks(*(np.concatenate([getattr(w, f) for w in ws]) for f in ("codes", "scales")))
    if isinstance(first, Int8Rows):
        return Int8Rows(np.concatenate([w.codes for w in ws], 1), np.concatenate([w.scales for w in ws], 1))
    return NBits(np.concatenate([w.codes for w in ws]), np.concatenate([w.scales for w in ws]),
                 np.concatenate([w.zero_points for w in ws]), first.bits)
