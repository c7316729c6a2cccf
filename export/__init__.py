"""Export toolchain: a checkpoint becomes a verified, quantized ONNX artifact folder."""
from .build import build
from .errors import ExportError

__all__ = ["build", "ExportError"]
