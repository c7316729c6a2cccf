"""Sampling against transformers' logits processors (repetition penalty, temperature, top-k,
top-p, in generate's order)."""

import random

import pytest
import torch
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from core.sampling import Candidates, SamplingConfig, distribution, penalise


def random_logits(n, seed):
    r = random.Random(seed)
    return [r.gauss(0.0, 3.0) for _ in range(n)]


def reference_distribution(logits, config, context_ids):
    """transformers' processors in generate's order; returns {id: probability} of the support."""
    scores = torch.tensor([logits], dtype=torch.float64)
    ids = torch.tensor([context_ids or [0]], dtype=torch.long)
    if config.repetition_penalty != 1.0 and context_ids:
        scores = RepetitionPenaltyLogitsProcessor(config.repetition_penalty)(ids, scores)
    scores = TemperatureLogitsWarper(config.temperature)(ids, scores)
    if config.top_k > 0:
        scores = TopKLogitsWarper(config.top_k)(ids, scores)
    if config.top_p < 1.0:
        scores = TopPLogitsWarper(config.top_p)(ids, scores)
    probs = torch.softmax(scores, dim=-1)[0]
    return {i: p for i, p in enumerate(probs.tolist()) if p > 0}


def test_repetition_penalty_matches_transformers():
    logits = random_logits(200, 1)
    context = [3, 3, 17, 42, 199, 0, 100]
    ref = RepetitionPenaltyLogitsProcessor(1.3)(torch.tensor([context]), torch.tensor([logits], dtype=torch.float64))
    ours = penalise(list(enumerate(logits)), set(context), 1.3)
    assert [s for _, s in ours] == pytest.approx(ref[0].tolist(), abs=1e-12)
    # Both signs move down: positive scores shrink, negative ones grow in size.
    for i in set(context):
        assert ours[i][1] < logits[i]


@pytest.mark.parametrize("config", [
    SamplingConfig(temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0),
    SamplingConfig(temperature=0.5, top_k=0, top_p=1.0, repetition_penalty=1.0),
    SamplingConfig(temperature=1.7, top_k=10, top_p=1.0, repetition_penalty=1.0),
    SamplingConfig(temperature=0.8, top_k=0, top_p=0.9, repetition_penalty=1.0),
    SamplingConfig(temperature=0.6, top_k=40, top_p=0.9, repetition_penalty=1.1),
    SamplingConfig(temperature=1.0, top_k=5, top_p=0.5, repetition_penalty=2.0),
])
def test_distribution_matches_transformers(config):
    for seed in range(5):
        logits = random_logits(300, seed)
        context = random.Random(seed).sample(range(300), 30)
        ref = reference_distribution(logits, config, context)
        ours = dict(distribution(Candidates(None, logits), config, set(context)))
        assert set(ours) == set(ref)
        for i, p in ours.items():
            assert p == pytest.approx(ref[i], rel=1e-9, abs=1e-12)
