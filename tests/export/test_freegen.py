"""Scoring of free-running replies (export/posttrain/freegen.py): what counts as answered, as a
loop and as the wrong language, and the verdict against the original's figures."""

import doctest

from export.posttrain import freegen
from export.posttrain.plain import PlainItem

ITEM = PlainItem("What is the capital of Germany?", ("Berlin",), "en", "fact")


def test_answered_means_an_accepted_answer_early_in_the_visible_reply():
    assert freegen.score(ITEM, "The capital of Germany is Berlin.", "stop", False)["answered"]
    late = " ".join(["word"] * 40) + " Berlin"
    assert not freegen.score(ITEM, late, "stop", False)["answered"]
    # with Think on the reader reads what follows the think block
    assert freegen.score(ITEM, "Germany... Bonn?\n</think>\n\nIt is Berlin.", "stop", True)["answered"]
    assert not freegen.score(ITEM, "It is Berlin, I think, but", "length", True)["answered"]   # never closed
    assert not freegen.score(ITEM, "Berlin?\n</think>\n\nIt is Bonn.", "stop", True)["answered"]


def test_loops_are_repeated_word_runs_or_the_token_cap():
    assert freegen.looped("La France, la France, la France, la France", "stop")
    assert freegen.looped("A short reply.", "length")          # a one-line question needs no 200 tokens
    assert freegen.looped("Going on and on", "cancelled")       # cut by the loop check itself
    assert not freegen.looped("The sky is blue. The grass is green. The sea is blue too.", "stop")
    # three occurrences, not two
    assert not freegen.looped("I think it is. Yes, I think it is.", "stop")
    assert freegen.looped("I think it is. Yes, I think it is. Really, I think it is.", "stop")


def test_wrong_language_is_a_reply_recognisably_in_another_language():
    item = PlainItem("Quelle est la capitale de l'Espagne ?", ("Madrid",), "fr", "language")
    assert freegen.score(item, "The capital of Spain is Madrid, and it is a big city.", "stop", False)["wrong_language"]
    assert not freegen.score(item, "La capitale de l'Espagne est Madrid, une très grande ville.", "stop",
                             False)["wrong_language"]
    assert not freegen.score(item, "Madrid.", "stop", False)["wrong_language"]   # too short to tell


def row(answered, looped, of=100):
    counts = {"answered": answered, "looped": looped, "wrong_language": 0, "of": of}
    return {"counts": {"greedy": counts, "sampled": counts},
            "rates": {"sampled": {"answered": answered / of, "looped": looped / of}}}


def test_verdict_holds_adapter_rows_to_the_original_figures():
    rows = {"original": row(60, 10), "off": row(60, 10), "tools": row(57, 12), "think": row(56, 13)}
    v = freegen.verdict(rows)
    assert v["tools"] == {"answer_ratio": 0.95, "loop_points": 0.02, "passed": True}
    assert v["think"]["passed"] is False          # 56/60 < 0.95 and 3 points more loops
    result = {"rows": rows}
    lines = freegen.table(result).splitlines()
    assert len(lines) == 2 + len(rows) and "| 57/100 | 12/100 |" in lines[4]


def test_worked_examples():
    assert doctest.testmod(freegen).failed == 0


def test_evaluation_of_an_artifact_against_itself(default_artifact):
    """The whole evaluation on a few questions, the plain export on both sides: the toggles-off
    row is identical to the original (so it is not sampled again), every row counts each reply
    once, and a model without an adapter answers the same with its toggles on."""
    from export.posttrain.plain import HELDOUT
    items = HELDOUT[:3] + HELDOUT[-1:]
    result = freegen.evaluate(default_artifact, default_artifact, items=items, seeds=(1,), log=lambda m: None)
    rows = result["rows"]
    assert rows["off"]["identical_greedy"] == len(items) and rows["off"]["counts"] == rows["original"]["counts"]
    for name, row in rows.items():
        assert row["counts"]["greedy"]["of"] == len(items) and row["counts"]["sampled"]["of"] == len(items), name
        # each item's outcomes, greedy then the seed, add up to the counts
        assert [len(o) for o in row["outcomes"]] == [2] * len(items), name
        for run, kind in enumerate(("greedy", "sampled")):
            for key, letter in freegen.OUTCOME_LETTERS:
                assert sum(letter in o[run] for o in row["outcomes"]) == row["counts"][kind][key], (name, key)
    assert rows["tools"]["counts"] == rows["think"]["counts"] == rows["original"]["counts"]
    assert rows["original"]["counts"]["greedy"]["answered"] >= 2     # capitals and the like: the model knows them
    assert result["verdict"]["tools"]["passed"] and result["verdict"]["tools"]["answer_ratio"] == 1.0
