"""Sampling in pure Python (this file also runs inside Pyodide): seeds, supports, temperature,
greedy ties and the backend-candidates shortcut. Equality with transformers' logits processors
is in test_sampling_reference.py."""

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sampling import (
    GREEDY,
    Candidates,
    SamplingConfig,
    best,
    candidates_needed,
    distribution,
    enough,
    penalise,
    sample,
    top_candidates,
)


def random_logits(n, seed):
    r = random.Random(seed)
    return [r.gauss(0.0, 3.0) for _ in range(n)]


def test_top_k_and_top_p_supports():
    logits = [0.0, 5.0, 4.0, 3.0, 2.0, 1.0]
    seen = {sample(Candidates(None, logits), SamplingConfig(temperature=2.0, top_k=3, top_p=1.0, repetition_penalty=1.0),
                   rng=random.Random(s)) for s in range(300)}
    assert seen == {1, 2, 3}
    # p(1)=0.5, p(2)=0.3, p(3)=0.2 after softmax of these logs: top-p 0.7 keeps the first two.
    logs = [math.log(0.5), math.log(0.3), math.log(0.2)]
    cfg = SamplingConfig(temperature=1.0, top_k=0, top_p=0.7, repetition_penalty=1.0)
    assert [i for i, _ in distribution(Candidates(None, logs), cfg)] == [0, 1]
    drawn = {sample(Candidates(None, logs), cfg, rng=random.Random(s)) for s in range(300)}
    assert drawn == {0, 1}


def test_temperature_sharpens_and_flattens():
    logits = [2.0, 1.0, 0.0]
    p = {t: dict(distribution(Candidates(None, logits), SamplingConfig(temperature=t, top_k=0, top_p=1.0,
                                                                       repetition_penalty=1.0)))
         for t in (0.25, 1.0, 4.0)}
    assert p[0.25][0] > p[1.0][0] > p[4.0][0] > 1 / 3
    assert p[1.0][0] == pytest.approx(math.exp(2) / (math.exp(2) + math.exp(1) + 1))


def test_frequencies_follow_probabilities():
    logits = [1.0, 0.0, -1.0, 0.5]
    cfg = SamplingConfig(temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0)
    probs = dict(distribution(Candidates(None, logits), cfg))
    rng = random.Random(7)
    n = 20000
    counts = [0] * 4
    for _ in range(n):
        counts[sample(Candidates(None, logits), cfg, rng=rng)] += 1
    for i in range(4):
        assert counts[i] / n == pytest.approx(probs[i], abs=0.015)


def test_seed_reproducible():
    logits = random_logits(1000, 3)
    cfg = SamplingConfig(seed=123)
    draw = lambda seed: [sample(Candidates(None, logits), cfg, rng=r) for r in [random.Random(seed)] for _ in range(50)]
    assert draw(123) == draw(123)
    assert draw(123) != draw(124)
    # Mersenne Twister seeded by an int is specified by CPython and identical in Pyodide.
    assert random.Random(123).random() == 0.052363598850944326


def test_greedy_is_argmax_with_ties_to_lower_id():
    assert sample(Candidates(None, [1.0, 3.0, 3.0, 2.0]), GREEDY) == 1
    assert sample(Candidates([9, 4, 7], [3.0, 3.0, 1.0]), GREEDY) == 4
    # With a penalty, greedy follows the penalised scores, as transformers does.
    cfg = SamplingConfig(temperature=0.0, repetition_penalty=2.0)
    assert sample(Candidates(None, [1.0, 3.0, 2.0]), cfg, seen={1}) == 2


def test_best_and_top_candidates():
    logits = random_logits(5000, 4)
    order = sorted(range(5000), key=lambda i: (-logits[i], i))
    c = top_candidates(logits, 50)
    assert c.ids == order[:50] and c.logits == [logits[i] for i in order[:50]]
    assert top_candidates(logits, 1).ids == order[:1]
    assert top_candidates(logits, 6000).ids is None
    assert [i for i, _ in best(list(enumerate(logits)), 7)] == order[:7]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    top_k=st.integers(1, 60),
    top_p=st.sampled_from([1.0, 0.95, 0.8, 0.5]),
    penalty=st.sampled_from([1.0, 1.1, 1.5, 3.0]),
    temperature=st.sampled_from([0.0, 0.3, 1.0, 1.5]),
    n_seen=st.integers(0, 150),
)
def test_candidate_shortcut_is_exact(seed, top_k, top_p, penalty, temperature, n_seen):
    """Growing the backend's top-n until `enough` gives the same distribution and the same draw
    as sampling over the whole vocabulary."""
    vocab = 400
    logits = random_logits(vocab, seed)
    r = random.Random(seed)
    seen = set(r.sample(range(vocab), n_seen))
    cfg = SamplingConfig(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=penalty)
    n = candidates_needed(cfg, vocab)
    c = top_candidates(logits, n)
    while not enough(c, cfg, seen, vocab):
        n = min(vocab, n * 4)
        c = top_candidates(logits, n)
    full = Candidates(None, logits)
    short, whole = distribution(c, cfg, seen), distribution(full, cfg, seen)
    assert [i for i, _ in short] == [i for i, _ in whole]
    assert [q for _, q in short] == pytest.approx([q for _, q in whole], rel=1e-12)
    assert sample(c, cfg, seen=seen, rng=random.Random(seed)) == sample(full, cfg, seen=seen, rng=random.Random(seed))


def test_penalty_moves_seen_tokens_down_only():
    pairs = [(0, 2.0), (1, -2.0), (2, 0.5), (3, 1.0)]
    assert penalise(pairs, {0, 1}, 2.0) == [(0, 1.0), (1, -4.0), (2, 0.5), (3, 1.0)]
    assert penalise(pairs, {0, 1}, 1.0) == pairs
    # A penalised token loses the top spot it held.
    assert sample(Candidates(None, [2.0, 1.5]), SamplingConfig(temperature=0.0, repetition_penalty=1.5), seen={0}) == 1


def test_candidates_needed():
    assert candidates_needed(GREEDY, 49152) == 1
    assert candidates_needed(SamplingConfig(top_k=40, repetition_penalty=1.0), 49152) == 40
    assert candidates_needed(SamplingConfig(top_k=40, repetition_penalty=1.1), 49152) == 80
    assert candidates_needed(SamplingConfig(top_k=0), 49152) == 49152
