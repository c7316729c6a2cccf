"""Makes glossary terms (Markdown abbreviations) reachable by keyboard, so their tooltips show on
focus as well as on hover."""
from .plugin import GlossaryPlugin

__all__ = ["GlossaryPlugin"]
