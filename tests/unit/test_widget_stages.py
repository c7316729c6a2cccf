from widgets import stages as S
from widgets.build_context import BuildContext


def test_every_stage_shows_every_aspect():
    html = S.render(S.initial_state({}, BuildContext()))
    assert html.count('<li class="llmb-stage">') == 3
    for stage in S.STAGES:
        for key, _ in S.ASPECTS:
            assert stage[key].replace("'", "&#x27;") in html
    assert "Nearly all of it" in html and "10K to 1M" in html


def test_focus_toggles_one_aspect():
    s = S.update(S.initial_state({}, BuildContext()), "focus", "objective")
    html = S.render(s)
    assert html.count('class="focus"') == 6  # dt and dd in each of three cards
    assert 'data-value="objective" aria-pressed="true"' in html
    assert S.update(s, "focus", "objective") == {"focus": ""}
    assert S.update(s, "focus", "nonsense") == s
