"""Pretraining tokens against instruction-tuning examples, as SVG bars on a linear or log axis.

The numbers are illustrative round figures (a 3-trillion-token corpus, a million SFT examples).
On the linear axis the SFT bar would be far below one pixel, so it is drawn at a floor width and
the true share is written next to it.

>>> round(100 * true_share(), 6)
3.3e-05
"""

import math
from html import escape

from .glossary import mark
from .markup import choices

BARS = (
    ("Pretraining", 3e12, "tokens", "3T tokens"),
    ("Instruction tuning", 1e6, "examples", "1M examples"),
)
FLOOR_PX = 3.0  # narrowest bar drawn on the linear axis
WIDTH, LEFT, RIGHT = 320, 8, 8
LOG_MAX = 13  # the log axis runs from 10^0 to 10^13


def true_share():
    """Width of the SFT bar as a fraction of the pretraining bar on a linear axis."""
    return BARS[1][1] / BARS[0][1]


def bar_width(value, scale):
    """Width in px of a bar; the longest linear bar fills the plot."""
    span = WIDTH - LEFT - RIGHT
    if scale == "log":
        return span * math.log10(value) / LOG_MAX
    return max(span * value / BARS[0][1], FLOOR_PX)


def initial_state(options, ctx):
    return {"scale": options.get("scale", "linear")}


def update(state, action, value):
    if action == "scale" and value in ("linear", "log"):
        return {"scale": value}
    return dict(state)


def _svg(scale):
    h = 150
    parts = [f'<svg class="llmb-scale-chart" viewBox="0 0 {WIDTH} {h}" role="img" '
             f'aria-label="Bar chart on a {scale} axis: pretraining 3 trillion tokens, instruction '
             f'tuning 1 million examples">']
    if scale == "log":
        for e in range(0, LOG_MAX + 1, 3):
            x = LEFT + bar_width(10 ** e, "log") if e else LEFT
            parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="10" y2="122"/>'
                         f'<text class="tick" x="{x:.1f}" y="136" text-anchor="middle">10^{e}</text>')
    else:
        for frac, label in ((0.0, "0"), (0.5, "1.5T"), (1.0, "3T")):
            x = LEFT + (WIDTH - LEFT - RIGHT) * frac
            parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="10" y2="122"/>'
                         f'<text class="tick" x="{x:.1f}" y="136" text-anchor="'
                         f'{"start" if frac == 0 else "end" if frac == 1 else "middle"}">{label}</text>')
    for i, (name, value, unit, words) in enumerate(BARS):
        y = 14 + i * 56
        w = bar_width(value, scale)
        floored = scale == "linear" and w == FLOOR_PX
        parts.append(f'<text class="label" x="{LEFT}" y="{y + 10}">{escape(name)}: {escape(words)}</text>'
                     + (f'<text class="floor-note" x="{LEFT + w + 6:.1f}" y="{y + 32}">← widened to '
                        f'be visible; true width {100 * true_share():.5f}%</text>' if floored else "")
                     + f'<rect class="bar bar-{i}{" floored" if floored else ""}" x="{LEFT}" y="{y + 16}" '
                     f'width="{w:.2f}" height="22" rx="2"/>')
    parts.append("</svg>")
    return "".join(parts)


def render(state):
    scale = state["scale"]
    buttons = choices("scale", scale, (("linear", "Linear axis"), ("log", "Log axis")))
    share = 100 * true_share()
    caption = (f"On this linear axis the instruction-tuning bar is drawn {FLOOR_PX:g} px wide so that "
               f"you can see it; at its true size it would be {share:.5f}% of the pretraining bar."
               if scale == "linear" else
               f"On a log axis each gridline is a thousand times the one before: the two bars sit "
               f"about {math.log10(1 / true_share()):.1f} orders of magnitude apart.")
    return (f'<figure class="llmb-scale"><div class="llmb-row" role="group" aria-label="Axis">'
            f'{buttons}</div>{_svg(scale)}'
            f'<figcaption><p data-scale-caption>{mark(escape(caption))}</p>'
            f'<p class="llmb-note">Illustrative round numbers, not the recipe of the shipped model. '
            f'The units differ (tokens against whole examples of hundreds of tokens each), so read '
            f'it as a story of scale, not an exact ratio.</p></figcaption></figure>')
