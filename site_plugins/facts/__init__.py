"""Fills `{{ model.FACT }}` placeholders in pages with facts read from the model manifest."""
from .plugin import FactsPlugin

__all__ = ["FactsPlugin"]
