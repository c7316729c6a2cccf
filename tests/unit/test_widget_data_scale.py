import re

import pytest

from widgets import data_scale as D
from widgets.build_context import BuildContext


def widths(html):
    return [float(w) for w in re.findall(r'<rect class="bar[^"]*" [^>]*width="([0-9.]+)"', html)]


def test_linear_floors_the_sft_bar_and_states_its_true_share():
    html = D.render(D.initial_state({}, BuildContext()))
    pre, sft = widths(html)
    assert pre == pytest.approx(D.WIDTH - D.LEFT - D.RIGHT)
    assert sft == D.FLOOR_PX
    assert D.true_share() == pytest.approx(1e6 / 3e12)
    assert "0.00003%" in html and "floored" in html
    assert "Illustrative" in html and "units differ" in html


def test_log_axis_shows_true_proportions_of_the_exponents():
    html = D.render(D.update(D.initial_state({}, BuildContext()), "scale", "log"))
    pre, sft = widths(html)
    assert pre / sft == pytest.approx(12.477 / 6, rel=1e-3)  # log10(3e12) / log10(1e6)
    assert "floored" not in html
    assert "6.5 orders of magnitude" in html
    assert 'aria-pressed="true">Log axis' in html


def test_unknown_actions_leave_the_state_alone():
    s = D.initial_state({}, BuildContext())
    assert D.update(s, "scale", "cubic") == s
    assert D.update(s, "zoom", None) == s
