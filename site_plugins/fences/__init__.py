"""Turns ```widget fences into placeholders holding a static render made by the widget's own code."""
from .plugin import FencesPlugin

__all__ = ["FencesPlugin"]
