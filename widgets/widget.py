"""The widget contract, stated once: a page widget is a module of widgets/ named by its fence
(``name: <module>``) with these three functions (docs/authors/widgets.md explains them). A widget
with a live mode adds ``run`` and its ``RUN_ACTIONS`` (widgets/page.py drives them).

    >>> from widgets import stages, markup
    >>> isinstance(stages, Widget), isinstance(markup, Widget)
    (True, False)
    >>> missing(markup)
    ['initial_state', 'update', 'render']
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from .build_context import BuildContext


@runtime_checkable
class Widget(Protocol):
    def initial_state(self, options: dict, ctx: BuildContext) -> dict:
        """Build time only: the fence's options and the build context -> the first state (JSON)."""

    def update(self, state: dict, action: str, value) -> dict:
        """A control was used: the next state."""

    def render(self, state: dict) -> str:
        """The widget's HTML for a state, every value escaped."""


# The contract's functions, in the order they are declared above.
FUNCTIONS = tuple(name for name in vars(Widget) if not name.startswith("_"))


def missing(module) -> list[str]:
    """The contract's functions ``module`` lacks, in the contract's order."""
    return [name for name in FUNCTIONS if not callable(getattr(module, name, None))]
