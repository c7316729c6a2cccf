"""The three training stages as cards: data, what the model learns, objective, share of compute.

One button per aspect highlights that row across the three cards, so the reader can compare the
stages on one thing at a time; with JavaScript off every row is simply shown.
"""

from html import escape

from .glossary import mark
from .markup import choices

ASPECTS = (
    ("data", "Data"),
    ("learns", "What it learns"),
    ("objective", "Objective"),
    ("compute", "Share of compute"),
)

STAGES = (
    {"name": "Pretraining", "result": "base model",
     "data": "Trillions of tokens of web pages, books and code",
     "learns": "Language and knowledge of the world: grammar, facts, code, reasoning patterns",
     "objective": "Next-token cross-entropy on every position",
     "compute": "Nearly all of it"},
    {"name": "Instruction tuning (SFT)", "result": "instruction follower",
     "data": "About 10K to 1M curated (instruction, response) pairs",
     "learns": "To answer as the assistant instead of continuing the text",
     "objective": "The same cross-entropy, scored on the response tokens only",
     "compute": "A small fraction"},
    {"name": "Preference tuning (RLHF or DPO)", "result": "assistant",
     "data": "People's comparisons of two candidate responses",
     "learns": "Which of several valid answers is more helpful, harmless and honest",
     "objective": "A new one: a preference or reward signal, not plain cross-entropy",
     "compute": "A small fraction"},
)


def initial_state(options, ctx):
    return {"focus": options.get("focus", "")}


def update(state, action, value):
    if action == "focus" and value in {key for key, _ in ASPECTS}:
        return {"focus": "" if state["focus"] == value else value}
    return dict(state)


def _cls(on):
    return ' class="focus"' if on else ""


def render(state):
    focus = state["focus"]
    buttons = choices("focus", focus, ASPECTS)
    cards = []
    for i, stage in enumerate(STAGES, 1):
        rows = "".join(
            f'<dt{_cls(focus == key)}>{escape(label)}</dt><dd{_cls(focus == key)}>{mark(escape(stage[key]))}</dd>'
            for key, label in ASPECTS)
        cards.append(f'<li class="llmb-stage"><h3 class="llmb-stage-name"><span class="n">{i}</span> '
                     f'{mark(escape(stage["name"]))}</h3><dl>{rows}</dl>'
                     f'<p class="llmb-stage-out">→ {escape(stage["result"])}</p></li>')
    return (f'<div class="llmb-stages{" focused" if focus else ""}">'
            f'<div class="llmb-row" role="group" aria-label="Compare the stages by">Compare by: {buttons}</div>'
            f'<ol class="llmb-stage-cards">{"".join(cards)}</ol>'
            f'<p class="llmb-note">Only the first stage needs data at internet scale. The other two '
            f'shape how the model uses what it already knows; the network itself never changes.</p></div>')
