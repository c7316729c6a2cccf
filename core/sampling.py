"""Choosing the next token from the model's scores: greedy, temperature, top-k, top-p and
repetition penalty, seeded, in pure Python.

The model gives one score (logit) per vocabulary entry. Crossing 49,152 floats into Python per
token would cost more than the rest of the loop, so the backend hands over only its ``n`` best
candidates (``Candidates``) and ``candidates_needed`` says how many suffice for exact results:

- repetition penalty only *lowers* scores of tokens already in the context, so a token outside
  the backend's top ``n`` can never climb into the final top ``k`` as long as the top ``n`` holds
  at least ``k`` tokens the penalty leaves alone (``enough`` checks that; the loop asks again with
  a larger ``n`` when it fails);
- top-p over a top-k filtered distribution only needs those ``k`` tokens (transformers applies
  top-k before top-p, so the renormalised mass is the same).

Without top-k, top-p needs the whole distribution and ``n`` is the vocabulary size.

Example (greedy, then a seeded draw):

    >>> c = Candidates(ids=[5, 9, 2], logits=[3.0, 2.5, -1.0])
    >>> sample(c, SamplingConfig(temperature=0.0))
    5
    >>> cfg = SamplingConfig(temperature=1.0, top_k=2, top_p=1.0, repetition_penalty=1.0)
    >>> sample(c, cfg, rng=random.Random(0))
    9

Semantics follow transformers' logits processors (RepetitionPenaltyLogitsProcessor,
TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper, in that order). Ties go to the
lower token id, as ``argmax`` does.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 0.6  # 0 means greedy; below 1 sharpens, above 1 flattens
    top_k: int = 40  # keep the k best tokens; 0 keeps all
    top_p: float = 0.9  # keep the smallest set of best tokens whose probability reaches p
    repetition_penalty: float = 1.1  # 1 = off; >1 discourages tokens already in the context
    seed: int | None = None  # same seed, same prompt, same settings -> same reply

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


GREEDY = SamplingConfig(temperature=0.0, top_k=0, top_p=1.0, repetition_penalty=1.0)


@dataclass
class Candidates:
    """The scores of some vocabulary entries at the last position.

    ``ids`` is None when ``logits`` covers the whole vocabulary in id order.
    """

    ids: list | None
    logits: list

    def pairs(self):
        if self.ids is None:
            return list(enumerate(self.logits))
        return list(zip(self.ids, self.logits))


def candidates_needed(config: SamplingConfig, vocab_size: int) -> int:
    """How many of the best raw scores to ask the backend for at first.

    >>> candidates_needed(GREEDY, 49152), candidates_needed(SamplingConfig(top_k=40), 49152)
    (1, 80)
    """
    penalised = config.repetition_penalty != 1.0
    if config.greedy:
        k = 1
    elif config.top_k > 0:
        k = config.top_k
    else:
        # Without top-k every probability counts (top-p needs the total mass).
        return vocab_size
    # Room for tokens the penalty will push down; `enough` checks the guess afterwards.
    return min(vocab_size, 2 * k if penalised else k)


def enough(c: Candidates, config: SamplingConfig, seen: set, vocab_size: int) -> bool:
    """Whether ``c`` gives exact results: it holds the whole vocabulary, or at least k tokens
    the repetition penalty does not touch (so nothing outside can overtake them)."""
    if c.ids is None or len(c.ids) >= vocab_size:
        return True
    k = 1 if config.greedy else config.top_k
    if k <= 0:
        return False
    if config.repetition_penalty == 1.0:
        return len(c.ids) >= k
    free = 0
    for i in c.ids:
        if i not in seen:
            free += 1
            if free >= k:
                return True
    return False


def penalise(pairs: list, seen: set, penalty: float) -> list:
    """Repetition penalty as transformers applies it: scores of seen tokens are divided by
    ``penalty`` when positive and multiplied by it when negative (both move them down).

    >>> penalise([(1, 2.0), (2, -2.0), (3, 1.0)], {1, 2}, 2.0)
    [(1, 1.0), (2, -4.0), (3, 1.0)]
    """
    if penalty == 1.0:
        return pairs
    out = []
    for i, s in pairs:
        if i in seen:
            s = s * penalty if s < 0 else s / penalty
        out.append((i, s))
    return out


def best(pairs: list, k: int) -> list:
    """The ``k`` best (id, score) pairs, best first, ties to the lower id; no full sort
    when ``k`` is small.

    >>> best([(0, 1.0), (1, 3.0), (2, 3.0), (3, 2.0)], 2)
    [(1, 3.0), (2, 3.0)]
    """
    # A C sort wins on the few hundred candidates a backend hands over; a heap wins on a
    # whole vocabulary.
    if len(pairs) <= 512:
        return sorted(pairs, key=_rank)[:k]
    return heapq.nsmallest(k, pairs, key=_rank)


def _rank(pair):
    return (-pair[1], pair[0])


def top_p_filter(probs: list, p: float) -> int:
    """How many of ``probs`` (sorted best first, summing to 1) top-p keeps: a token stays when
    the mass of the tokens before it is below ``p`` (transformers' rule), at least one.

    >>> top_p_filter([0.5, 0.3, 0.2], 0.7), top_p_filter([0.5, 0.3, 0.2], 0.5)
    (2, 1)
    """
    if p >= 1.0:
        return len(probs)
    mass = 0.0
    for n, q in enumerate(probs):
        if mass >= p and n > 0:
            return n
        mass += q
    return len(probs)


def distribution(c: Candidates, config: SamplingConfig, seen: set | None = None) -> list:
    """The tokens that may come next and their probabilities, best first, as (id, p) pairs.

    >>> distribution(Candidates(ids=[5, 9, 2], logits=[3.0, 3.0, -1.0]),
    ...              SamplingConfig(temperature=1.0, top_k=2, top_p=1.0))
    [(5, 0.5), (9, 0.5)]
    """
    pairs = penalise(c.pairs(), seen or set(), config.repetition_penalty)
    if config.greedy:
        return [(best(pairs, 1)[0][0], 1.0)]
    k = config.top_k if config.top_k > 0 else len(pairs)
    kept = best(pairs, k)
    t = config.temperature
    top = kept[0][1] / t
    # Subtracting the best score keeps exp() in range, as softmax implementations do.
    weights = [math.exp(s / t - top) for _, s in kept]
    total = math.fsum(weights)
    probs = [w / total for w in weights]
    if config.top_p < 1.0:
        n = top_p_filter(probs, config.top_p)
        total = math.fsum(probs[:n])
        probs = [q / total for q in probs[:n]]
    return [(i, q) for (i, _), q in zip(kept, probs)]


def sample(c: Candidates, config: SamplingConfig, *, seen: set | None = None,
           rng: random.Random | None = None) -> int:
    """Pick the next token id from ``c`` under ``config``.

    ``seen`` holds the ids already in the context (for the repetition penalty); ``rng`` is the
    seeded generator, kept by the caller across tokens so a whole reply is reproducible
    (``random.Random`` is the same Mersenne Twister in CPython and Pyodide).
    """
    dist = distribution(c, config, seen)
    if len(dist) == 1:
        return dist[0][0]  # greedy draws no random number, so seeds stay aligned
    r = (rng or random).random()
    acc = 0.0
    for i, q in dist:
        acc += q
        if r < acc:
            return i
    return dist[-1][0]


def top_candidates(logits: list, n: int) -> Candidates:
    """The ``n`` best entries of a full logits list, for backends that hold the scores in Python.

    >>> top_candidates([0.1, 2.0, -1.0, 1.5], 2)
    Candidates(ids=[1, 3], logits=[2.0, 1.5])
    """
    if n >= len(logits):
        return Candidates(ids=None, logits=list(logits))
    if n == 1:
        i = max(range(len(logits)), key=logits.__getitem__)
        return Candidates(ids=[i], logits=[logits[i]])
    ids = heapq.nlargest(n, range(len(logits)), key=logits.__getitem__)
    return Candidates(ids=ids, logits=[logits[i] for i in ids])
