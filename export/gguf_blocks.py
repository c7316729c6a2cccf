"""GGUF quantized blocks -> the block layouts of ONNX Runtime's quantized operators.

GGUF keeps each weight row as a run of 32-element blocks. Two block types matter here:

- Q4_1 (20 bytes): f16 scale d, f16 min m, 16 bytes of 4-bit codes; value = d * q + m.
  Byte j holds element j in its low nibble and element j + 16 in its high nibble.
- Q8_0 (34 bytes): f16 scale d, 32 signed bytes; value = d * q.

MatMulNBits wants, per row and block, a blob where byte i holds element 2i (low nibble) and
element 2i + 1 (high nibble), and computes (q - zero_point) * scale. With no zero point input
the zero point is 2^(bits-1), so a Q4_1 block maps exactly onto

    d * q + m  =  d * (q - 8)  +  (m + 8 d)

an unsigned 4-bit MatMulNBits term with the default zero point, plus a per-block offset that the
graph adds as blocksum(x) @ offsets (see graph.py). A Q8_0 block maps onto 8-bit codes q + 128
with the default zero point 128, shared by MatMulNBits (lm_head) and GatherBlockQuantized.
"""
from dataclasses import dataclass

import numpy as np

BLOCK = 32


@dataclass
class Q4Blocks:
    """A [rows, cols] matrix as Q4_1 blocks, already in MatMulNBits layout."""
    codes: np.ndarray   # uint8 [rows, cols // 32, 16], element 2i low nibble, 2i + 1 high
    scales: np.ndarray  # float16 [rows, cols // 32], d
    mins: np.ndarray    # float16 [rows, cols // 32], m (value = d * code + m)

    @property
    def shape(self):
        return (self.codes.shape[0], self.codes.shape[1] * BLOCK)

    def take_rows(self, order):
        return Q4Blocks(self.codes[order], self.scales[order], self.mins[order])

    def dequantize(self) -> np.ndarray:
        return dequantize_q4(self)


@dataclass
class Q8Blocks:
    """A [rows, cols] matrix as symmetric 8-bit blocks: value = scale * (code - 128)."""
    codes: np.ndarray   # uint8 [rows, cols // 32, 32]
    scales: np.ndarray  # float16 or float32 [rows, cols // 32]

    @property
    def shape(self):
        return (self.codes.shape[0], self.codes.shape[1] * BLOCK)

    def take_rows(self, order):
        return Q8Blocks(self.codes[order], self.scales[order])

    def dequantize(self) -> np.ndarray:
        q = self.codes.astype(np.float32) - 128.0
        return (q * self.scales.astype(np.float32)[..., None]).reshape(self.shape)


def q4_1_to_blocks(raw: np.ndarray) -> Q4Blocks:
    """Raw GGUF Q4_1 bytes [rows, 20 * nblocks] -> Q4Blocks.

    >>> raw = np.zeros((1, 20), np.uint8); raw[0, 4] = 0x21   # element 0 = 1, element 16 = 2
    >>> b = q4_1_to_blocks(raw); int(b.codes[0, 0, 0]), int(b.codes[0, 0, 8])
    (1, 2)
    """
    rows = raw.shape[0]
    blocks = raw.reshape(rows, -1, 20)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0]
    m = blocks[..., 2:4].copy().view(np.float16)[..., 0]
    qs = blocks[..., 4:20]
    elements = np.concatenate([qs & 0x0F, qs >> 4], axis=-1)  # [rows, nb, 32] in element order
    codes = (elements[..., 0::2] | (elements[..., 1::2] << 4)).astype(np.uint8)
    return Q4Blocks(np.ascontiguousarray(codes), np.ascontiguousarray(d), np.ascontiguousarray(m))


def q8_0_to_blocks(raw: np.ndarray) -> Q8Blocks:
    """Raw GGUF Q8_0 bytes [rows, 34 * nblocks] -> Q8Blocks (codes shifted to unsigned)."""
    rows = raw.shape[0]
    blocks = raw.reshape(rows, -1, 34)
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0]
    codes = (blocks[..., 2:34].view(np.int8).astype(np.int16) + 128).astype(np.uint8)
    return Q8Blocks(np.ascontiguousarray(codes), np.ascontiguousarray(d))


def dequantize_q4(b: Q4Blocks) -> np.ndarray:
    lo = (b.codes & 0x0F).astype(np.float32)
    hi = (b.codes >> 4).astype(np.float32)
    q = np.stack([lo, hi], axis=-1).reshape(b.codes.shape[0], b.codes.shape[1], BLOCK)
    d = b.scales.astype(np.float32)[..., None]
    m = b.mins.astype(np.float32)[..., None]
    return (d * q + m).reshape(b.shape)


def unpermute_rope_rows(n_rows: int, n_heads: int) -> np.ndarray:
    """Row order that undoes llama.cpp's rope permutation of q/k weights.

    llama.cpp stores each head's rows interleaved (pairs), Hugging Face keeps them as two halves;
    transformers' GGUF loader reverses it the same way.

    >>> unpermute_rope_rows(4, 1).tolist()
    [0, 2, 1, 3]
    """
    idx = np.arange(n_rows)
    dim = n_rows // n_heads // 2
    return idx.reshape(n_heads, dim, 2).swapaxes(2, 1).reshape(n_rows)
