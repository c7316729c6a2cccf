import re

from widgets import quick_check as Q
from widgets.build_context import BuildContext


def text(html):
    return re.sub(r"<[^>]+>", "", html)


def test_three_questions_each_with_an_answer_and_explanation_without_javascript():
    html = Q.render(Q.initial_state({}, BuildContext()))
    assert html.count("<fieldset") == 3
    assert html.count("<details") == 3
    for q in Q.QUESTIONS:
        assert q["why"][:40] in text(html)


def test_answering_gives_feedback_and_a_score():
    s = Q.initial_state({}, BuildContext())
    s = Q.update(s, "answer", "0:1")
    html = Q.render(s)
    assert "Correct." in html and html.count("<details") == 2
    assert '<abbr tabindex="0" title="Supervised fine-tuning' in Q.render(Q.update(s, "answer", "1:2"))
    s = Q.update(s, "answer", "1:0")
    assert "Not quite" in Q.render(s)
    s = Q.update(s, "answer", "2:0")
    assert Q.score(s) == 2
    assert "2 of 3 correct" in Q.render(s)
    assert Q.update(s, "reset", None) == Q.initial_state({}, BuildContext())


def test_malformed_answers_are_ignored():
    s = Q.initial_state({}, BuildContext())
    for value in ("9:0", "0:9", "x", None, "1:-1"):
        assert Q.update(s, "answer", value) == s
