"""What the model predicted at each generated token: the best candidates with their raw softmax
probability and the probability the sampler actually drew from, after the chat's settings
(repetition penalty, temperature, top-k, top-p).

A ``Recorder`` is the generation loop's ``on_step`` (core/generation.py). At each token it
reads the ``TOP`` best raw scores and softmax's normaliser from the backend (a read of the row
the last feed left, no model run) and asks ``sampling.distribution`` (the function the sampler
draws from) for the probabilities it used. Each step becomes a small JSON-ready dict:

- ``t``: the token picked, ``s``: its text, ``x``: 1 when it is a special token;
- ``r``: its rank under the raw softmax (0: the model's own first choice);
- ``c``: the candidates, best raw first, as ``[id, text, special, raw probability, drawn-from
  probability]`` (0 when the settings cut it); the picked token is appended when it is not
  among them;
- ``k``: how many tokens the sampler could draw from.

Only the newest ``KEEP`` steps are kept.

    >>> import asyncio
    >>> from core.backend import CountingBackend
    >>> from core.generation import GenerationConfig, Generator
    >>> from core.sampling import GREEDY
    >>> backend = CountingBackend(vocab_size=50)
    >>> class Digits:                                       # token i reads as its number
    ...     def decode(self, ids): return ",".join(map(str, ids))
    >>> rec = Recorder(backend, GREEDY, Digits())
    >>> _ = asyncio.run(Generator(backend, lambda i: b"", []).generate([1, 2], GenerationConfig(2, GREEDY),
    ...                                                              on_step=rec.on_step))
    >>> [(s["t"], s["r"], s["k"], len(s["c"])) for s in rec.steps]
    [(3, 0, 1, 10), (4, 0, 1, 10)]
    >>> first = rec.steps[0]["c"]
    >>> first[0], first[1][4], sum(c[3] for c in first) < 1      # greedy draws the top one
    ([3, '3', 0, 0.4621, 1.0], 0.0, True)
"""

from __future__ import annotations

import html
import math

from core.sampling import SamplingConfig, best, distribution

from .markup import table

TOP = 10  # candidates shown per token
KEEP = 512  # steps kept per recorder (the newest)
DIGITS = 4  # probabilities are kept to this many decimals (shown as percentages with two)


class Recorder:
    def __init__(self, backend, sampling: SamplingConfig, tokenizer, keep: int = KEEP):
        self.backend = backend
        self.sampling = sampling
        self.tokenizer = tokenizer  # decode(ids); ``added`` names its special tokens, if any
        self._specials = set(getattr(tokenizer, "added", {}).values())
        self.keep = keep
        self.steps: list = []

    def _row(self, token: int, score: float, z: float, drawn: dict) -> list:
        return [token, self.tokenizer.decode([token]), int(token in self._specials), _round(math.exp(score - z)),
                _round(drawn.get(token, 0.0))]

    async def on_step(self, cands, seen, token) -> None:
        raw = best((await self.backend.top(TOP)).pairs(), TOP)
        z = self.backend.log_normalizer()
        drawn = dict(distribution(cands, self.sampling, seen))
        rows = [self._row(i, s, z, drawn) for i, s in raw]
        rank = next((n for n, (i, _) in enumerate(raw) if i == token), None)
        if rank is None:
            # Outside the shown ones: the candidates hold every better raw score than its own.
            pairs = cands.pairs()
            score = dict(pairs)[token]
            rank = sum(1 for i, s in pairs if s > score or (s == score and i < token))
            rows.append(self._row(token, score, z, drawn))
        self.steps.append({"t": token, "s": self.tokenizer.decode([token]), "x": int(token in self._specials),
                           "r": rank, "c": rows, "k": len(drawn)})
        del self.steps[:-self.keep]


def _round(p: float) -> float:
    return round(p, DIGITS)


def _shown(text: str) -> str:
    """A token's text for a label: escaped, a newline as ↵, nothing as ∅, and a token of spaces
    alone as ␣ (every label must be visible, and name its button); other spaces stay (CSS keeps
    them)."""
    if not text.strip():
        return "".join(_BLANK.get(c, "·") for c in text) or "∅"
    return html.escape(text).replace("\n", "↵")


_BLANK = {" ": "␣", "\n": "↵", "\t": "⇥"}


def _percent(p: float) -> str:
    return f"{100 * p:.2f}%"


def tokens_html(steps: list, message: int, open_at: int | None = None, focus: str = "") -> str:
    """A reply as its tokens, each a button that opens its predictions; a token the model did
    not rank first is marked. ``focus``: "TOKEN_INDEX@NONCE", the token to give the focus back to
    (once per nonce)."""
    back, _, nonce = focus.partition("@")
    out = []
    for i, st in enumerate(steps):
        cls = "llmb-tok" + (" llmb-tok--off" if st["r"] else "") + (" llmb-tok--special" if st["x"] else "")
        again = f' data-autofocus="{nonce}"' if back == str(i) else ""
        out.append(f'<button type="button" class="{cls}" data-action="inspect" data-value="{message}:{i}" '
                   f'data-rank="{st["r"]}" aria-expanded="{"true" if i == open_at else "false"}"{again}>'
                   f'{_shown(st["s"])}</button>')
        if st["s"].endswith("\n"):
            out.append("<br>")
    return f'<p class="llmb-toks" data-testid="chat-tokens">{"".join(out)}</p>'


def panel_html(step: dict, index: int, settings: dict, nonce: int = 0) -> str:
    """The open token's predictions in the live chat: a region holding the table, which takes
    the focus when it opens, and a Close button (Escape works too)."""
    return (f'<div class="llmb-pred" role="region" aria-label="Predictions for token {index + 1}" data-testid="chat-predictions" '
            f'data-token="{index}" tabindex="-1" data-autofocus="{nonce}">{table_html(step, index, settings)}'
            '<button type="button" class="md-button" data-action="inspect_close">Close (Esc)</button></div>')


def static_html(steps: list, settings: dict) -> str:
    """Every token of a precomputed reply, each a disclosure holding its table: the same view
    for a page read without JavaScript."""
    out = []
    for i, st in enumerate(steps):
        cls = "llmb-tokd" + (" llmb-tok--off" if st["r"] else "") + (" llmb-tok--special" if st["x"] else "")
        out.append(f'<details class="{cls}" data-rank="{st["r"]}"><summary class="llmb-tok">{_shown(st["s"])}</summary>'
                   # a region of its own that the keyboard can reach (it scrolls sideways when narrow)
                   f'<div class="llmb-pred" role="region" tabindex="0" aria-label="Predictions for token {i + 1}">'
                   f'{table_html(st, i, settings)}</div></details>')
    return f'<p class="llmb-toks">{"".join(out)}</p>'


def table_html(step: dict, index: int, settings: dict) -> str:
    """The candidates of one step: raw softmax, then what the sampler drew from, the picked token
    highlighted and the tokens the settings cut marked."""
    greedy = float(settings.get("temperature", 1.0)) <= 0
    rows = []
    first_cut = True
    for n, (i, text, special, raw, drawn) in enumerate(step["c"]):
        rank = n + 1 if n < TOP else step["r"] + 1
        classes = ["llmb-pred__picked"] if i == step["t"] else []
        if drawn == 0:
            classes.append("llmb-pred__cut" + (" llmb-pred__cut--first" if first_cut else ""))
            first_cut = False
        attrs = f' class="{" ".join(classes)}"' if classes else ""
        attrs += ' aria-current="true"' if i == step["t"] else ""
        label = f'<mark class="llmb-special">{_shown(text)}</mark>' if special else f"<code>{_shown(text)}</code>"
        rows.append(f'<tr{attrs} data-id="{i}" data-raw="{raw}" data-drawn="{drawn}"><td>{rank}</td><td>{label}</td>'
                    f'<td>{i}</td><td>{_percent(raw)}</td><td>{"cut" if drawn == 0 else _percent(drawn)}</td></tr>')
    picked = html.escape(step["s"].replace("\n", "↵"))
    where = "the model's own first choice" if step["r"] == 0 else f"its choice number {step['r'] + 1}"
    how = ("Temperature 0 is greedy: the first choice is always taken." if greedy else
           f"The sampler drew from {step['k']} token{'s' if step['k'] != 1 else ''}, after the repetition penalty, "
           f"temperature {float(settings['temperature']):.2f}, the top {SamplingConfig().top_k} and top-p "
           f"{float(settings['top_p']):.2f}.")
    return (f'<p>Token {index + 1}: “{picked}” (id {step["t"]}), {where} under the raw softmax. {how}</p>'
            + table(f"The model's top {TOP} candidates at this token",
                    ["Rank", "Token", "Id", "Raw softmax", "Drawn from"], rows, "llmb-pred__table"))
