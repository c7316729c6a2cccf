"""Markup shared by the page widgets: the controls ``page`` wires up.

A control is a ``<button type="button" class="llmb-btn">`` with ``data-action`` (what ``update``
receives) and, for a choice, ``data-value`` and ``aria-pressed``; a run of choices sits in a
labelled group so a screen reader says what is being chosen.

>>> button("scale", "Log axis", "log", pressed=False)
'<button type="button" class="llmb-btn" data-action="scale" data-value="log" aria-pressed="false">Log axis</button>'
>>> table("Two <rows>", ["Check", "Result"], ["<tr><td>a</td><td>1</td></tr>"])
'<table><caption>Two &lt;rows&gt;</caption><thead><tr><th scope="col">Check</th><th scope="col">Result</th></tr></thead><tbody><tr><td>a</td><td>1</td></tr></tbody></table>'
>>> choices("view", "raw", [("chat", "Chat"), ("raw", "Raw <tokens>")])
'<button type="button" class="llmb-btn" data-action="view" data-value="chat" aria-pressed="false">Chat</button><button type="button" class="llmb-btn" data-action="view" data-value="raw" aria-pressed="true">Raw &lt;tokens&gt;</button>'
"""

from __future__ import annotations

from html import escape


def button(action: str, label: str, value=None, *, pressed: bool | None = None, disabled: bool = False,
           cls: str = "", extra: str = "") -> str:
    """A button that sends ``action`` (and ``value``); ``pressed`` makes it a toggle. ``label``
    is text (escaped here); ``extra`` is further attributes, already escaped."""
    attrs = f' data-value="{escape(str(value))}"' if value is not None else ""
    if pressed is not None:
        attrs += f' aria-pressed="{"true" if pressed else "false"}"'
    return (f'<button type="button" class="llmb-btn{" " + cls if cls else ""}" data-action="{escape(action)}"'
            f'{attrs}{" disabled" if disabled else ""}{extra}>{escape(label)}</button>')


def choices(action: str, current, options, *, disabled: bool = False) -> str:
    """One toggle per ``(value, label)`` of ``options``, the one equal to ``current`` pressed."""
    return "".join(button(action, label, value, pressed=value == current, disabled=disabled)
                   for value, label in options)


def group(label: str, inner: str, cls: str = "llmb-row") -> str:
    """Controls in a group a screen reader names."""
    return f'<div class="{cls}" role="group" aria-label="{escape(label)}">{inner}</div>'


def table(caption: str, headers, rows, cls: str = "") -> str:
    """A table with a caption and a column header for each of ``headers`` (both text, escaped
    here); ``rows`` are its ``<tr>`` elements, already markup."""
    head = "".join(f'<th scope="col">{escape(h, quote=False)}</th>' for h in headers)
    return (f'<table{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}><caption>{escape(caption, quote=False)}</caption>'
            f'<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')
