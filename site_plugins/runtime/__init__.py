"""Vendors Pyodide and onnxruntime-web into the site and bundles widgets/ for Pyodide."""
from .plugin import RuntimePlugin

__all__ = ["RuntimePlugin"]
