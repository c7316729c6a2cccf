"""Three multiple-choice questions with feedback that explains the right answer.

Each option is a button (keyboard operable by default).  With JavaScript off, every question has
a <details> element holding its answer and explanation.
"""

from html import escape

from .glossary import mark
from .markup import button

QUESTIONS = (
    {"q": "You give a base model (no post-training) the text “What is 2 + 2?”. What does it do?",
     "options": ("It answers “4”, because it knows arithmetic.",
                 "It continues the text with whatever tends to follow such a line, which may be more questions.",
                 "It refuses, because it was never told it is an assistant."),
     "answer": 1,
     "why": "A base model predicts the next token of web-like text. After a line like this the web "
            "often has more exercises or a homework post, so that is a likely continuation; "
            "answering is only one possibility among many."},
    {"q": "How does instruction tuning (SFT) differ from pretraining?",
     "options": ("It adds new layers on top of the base model.",
                 "It replaces cross-entropy with a reward signal.",
                 "Same model and the same next-token loss; the data changes to curated instruction and "
                 "response pairs, with only the responses scored."),
     "answer": 2,
     "why": "SFT keeps training the same network with the same cross-entropy. What changes is the "
            "data, and the loss mask that scores only the assistant's reply. Reward signals belong "
            "to preference tuning."},
    {"q": "What do special tokens such as <|im_start|> and <|im_end|> do in a chat?",
     "options": ("They mark structure: where a turn starts, whose turn it is, and where it ends.",
                 "They encrypt the conversation so users cannot read the prompt.",
                 "They are ordinary words the model learned to like during pretraining."),
     "answer": 0,
     "why": "They are reserved vocabulary entries that ordinary text never produces. The template "
            "uses them to mark each turn; generation starts after the assistant marker and stops "
            "when the model emits the end-of-turn token."},
)


def initial_state(options, ctx):
    return {"chosen": [None] * len(QUESTIONS)}


def update(state, action, value):
    chosen = list(state["chosen"])
    if action == "answer" and value and ":" in value:
        q, _, i = value.partition(":")
        if q.isdigit() and i.isdigit() and int(q) < len(QUESTIONS) and int(i) < len(QUESTIONS[int(q)]["options"]):
            chosen[int(q)] = int(i)
    elif action == "reset":
        chosen = [None] * len(QUESTIONS)
    return {"chosen": chosen}


def score(state):
    """Number of questions answered correctly."""
    return sum(c == q["answer"] for c, q in zip(state["chosen"], QUESTIONS))


def _question(n, item, chosen):
    buttons = []
    for i, text in enumerate(item["options"]):
        state_cls = ""
        if chosen == i:
            state_cls = " correct" if i == item["answer"] else " wrong"
        buttons.append(f'<li>{button("answer", text, f"{n}:{i}", pressed=chosen == i, cls="llmb-option" + state_cls)}</li>')
    right = escape(item["options"][item["answer"]])
    if chosen is None:
        feedback = (f'<details class="llmb-answer"><summary>Show the answer</summary>'
                    f'<p><strong>{right}</strong> {mark(escape(item["why"]))}</p></details>')
    else:
        verdict = "Correct." if chosen == item["answer"] else f"Not quite. The answer: {right}"
        feedback = f'<p class="llmb-feedback"><strong>{verdict}</strong> {mark(escape(item["why"]))}</p>'
    return (f'<fieldset class="llmb-question"><legend>{n + 1}. {mark(escape(item["q"]))}</legend>'
            f'<ul class="llmb-options">{"".join(buttons)}</ul>'
            f'<div aria-live="polite">{feedback}</div></fieldset>')


def render(state):
    body = "".join(_question(n, q, c) for n, (q, c) in enumerate(zip(QUESTIONS, state["chosen"])))
    answered = sum(c is not None for c in state["chosen"])
    tally = (f'<p class="llmb-score" data-score="{score(state)}">{score(state)} of {len(QUESTIONS)} '
             f'correct</p>' if answered == len(QUESTIONS) else "")
    reset = ('<button type="button" class="llmb-btn" data-action="reset">Start again</button>'
             if answered else "")
    return f'<div class="llmb-quiz">{body}{tally}{reset}</div>'
