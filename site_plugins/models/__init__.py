"""Copies an exported model artifact into the site after checking it against its manifest."""
from .plugin import ModelsPlugin

__all__ = ["ModelsPlugin"]
