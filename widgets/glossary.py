"""The chapter's seven glossary terms, for widgets: their text marks each term with a tooltip
(<abbr>, focusable) as the chapter's prose does through docs/includes/glossary.md.

    >>> mark("SFT uses the same loss")
    '<abbr tabindex="0" title="Supervised fine-tuning on curated (instruction, response) pairs; teaches the model to answer as the assistant.">SFT</abbr> uses the same loss'

``mark`` takes HTML-escaped text; never use it inside a button or link (no nested controls).
"""

import re
from html import escape

DEFINITIONS = {
    "pretraining": "Next-token prediction over trillions of tokens of generic text; where the model's knowledge comes from.",
    "instruction tuning": "Supervised fine-tuning (SFT) on curated (instruction, response) pairs; teaches the model to answer as the assistant.",
    "SFT": "Supervised fine-tuning on curated (instruction, response) pairs; teaches the model to answer as the assistant.",
    "RLHF": "Reinforcement learning from human feedback: a reward model trained on human comparisons, then the model optimised against it.",
    "DPO": "Direct preference optimisation: a loss on (preferred, rejected) pairs, with no separate reward model.",
    "chat template": "The convention that flattens a multi-turn conversation into one string of tokens.",
    "special token": "A reserved token that marks structure (turn start, role, turn end) rather than text, such as <|im_start|> and <|im_end|>.",
    "tool calling": "The template lists tools in a <tools> block; the model answers with a structured <tool_call>; the app runs it and feeds the result back.",
}
# Whole words, case-insensitive on the first letter, plural "s" allowed; longest terms first.
_TERMS = sorted(DEFINITIONS, key=len, reverse=True)
_PATTERN = re.compile(r"\b(" + "|".join(
    f"[{t[0].upper()}{t[0].lower()}]{re.escape(t[1:])}s?" for t in _TERMS) + r")\b")


def definition(word):
    """The definition of a term as written in text ("Special tokens" -> special token's)."""
    for term in _TERMS:
        if word.lower() in (term.lower(), term.lower() + "s"):
            return DEFINITIONS[term]
    return None


def mark(escaped_text):
    """Wrap each glossary term of already escaped text in a focusable <abbr> with its definition."""
    def one(m):
        return f'<abbr tabindex="0" title="{escape(definition(m.group(1)))}">{m.group(1)}</abbr>'
    return _PATTERN.sub(one, escaped_text)
