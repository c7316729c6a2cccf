"""The narrow interface between the generation loop and a model runtime.

Two implementations exist: ``backend_native.py`` (onnxruntime, CPython) and
``backend_browser.py`` (onnxruntime-web through Pyodide's ``js``). Tests use a pure-Python
fake. The loop sees token ids and a handful of scores; tensors (logits, KV caches) never leave
the backend.

A backend holds one conversation's cache: the tokens fed so far, in order. ``feed`` appends
tokens (prefill is a feed of many, decoding a feed of one), ``top`` reads the scores the last
``feed`` produced for the position after its last token, ``truncate`` forgets the tail.

Example with the fake backend from the tests (scores favour ``last id + 1``):

    >>> import asyncio
    >>> b = CountingBackend(vocab_size=10)
    >>> asyncio.run(b.feed([1, 2, 3]))
    >>> asyncio.run(b.top(1)).ids, b.length
    ([4], 3)
    >>> b.truncate(1), b.length
    (1, 1)
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from .sampling import Candidates, top_candidates


@runtime_checkable
class Backend(Protocol):
    """What the generation loop needs from a model runtime."""

    vocab_size: int  # number of scores per position (the width of the logits)
    adapter_scale: float  # the post-training adapter's switch: 0 = the original model, 1 = adapted

    def set_adapter_scale(self, scale: float) -> bool:
        """Switch the adapter branch (see ``check_adapter_scale``). The cache was computed under
        the old setting, so a change empties it; returns whether it changed."""
        ...

    @property
    def length(self) -> int:
        """Tokens the cache holds now (positions 0 .. length-1 are computed)."""
        ...

    @property
    def max_length(self) -> int:
        """The most tokens the cache may ever hold (the model's context window, or less when
        the runtime sets a lower memory bound)."""
        ...

    async def feed(self, ids: list) -> None:
        """Run ``ids`` (at least one) at positions ``length .. length+len(ids)-1``, appending
        them to the cache, and keep the scores of the last one for ``top``.

        Position ids continue from ``length``; no attention mask is needed because the batch is
        always one sequence with no padding. Raises ValueError past ``max_length``.
        """
        ...

    async def top(self, n: int) -> Candidates:
        """The ``n`` highest scores after the last ``feed``, as ``Candidates(ids, logits)`` with
        ``ids`` in any order. When ``n >= vocab_size`` return the whole row as
        ``Candidates(ids=None, logits=[...])`` in id order. Scores are raw logits (no softmax,
        no temperature). Called possibly more than once after the same feed with a larger ``n``;
        it must not run the model again."""
        ...

    def log_normalizer(self) -> float:
        """The log of the summed exponentials of the whole row ``top`` reads (softmax's
        denominator, in log space), so that a candidate's raw probability is
        ``exp(logit - log_normalizer())`` without the row crossing into Python."""
        ...

    def truncate(self, n: int) -> int:
        """Keep only the first ``n`` cached tokens and return how many are kept.

        Key/value caches are cut along their "past" axis, so the result is ``n``. A model with
        state caches (conv/recurrent) cannot rewind; it resets and returns 0, and the loop feeds
        the whole prompt again. ``n`` larger than ``length`` keeps everything."""
        ...

    def reset(self) -> None:
        """Forget every cached token (``length`` becomes 0)."""
        ...


def check_feed(length: int, n: int, max_length: int) -> None:
    """The one rule every backend's ``feed`` enforces before running anything.

    >>> check_feed(10, 5, 16)
    >>> check_feed(10, 7, 16)
    Traceback (most recent call last):
    ValueError: cache would hold 17 > 16 tokens
    """
    if n == 0:
        raise ValueError("feed needs at least one token")
    if length + n > max_length:
        raise ValueError(f"cache would hold {length + n} > {max_length} tokens")


def check_adapter_scale(has_adapter: bool, scale: float) -> None:
    """The one rule for switching an adapter: 0 is always allowed (the model as it was before
    post-training), anything else needs a graph exported with an adapter.

    >>> check_adapter_scale(True, 1.0)
    >>> check_adapter_scale(False, 1.0)
    Traceback (most recent call last):
    ValueError: this model was exported without an adapter; its adapter scale can only be 0
    """
    if not has_adapter and scale != 0:
        raise ValueError("this model was exported without an adapter; its adapter scale can only be 0")


class CountingBackend:
    """A deterministic pure-Python backend for tests and docs: the score of token ``t`` after a
    last token ``x`` is high for ``t == (x + 1) % vocab_size`` and falls with distance. It
    counts every token fed, so tests can check cache reuse. With ``adapter=True`` it has a
    switchable "adapter" (off at first, like an exported adapter) that favours ``x + 2`` instead."""

    def __init__(self, vocab_size: int = 32, max_length: int = 1024, scores=None, adapter: bool = False):
        self.vocab_size = vocab_size
        self._adapter = adapter
        self.adapter_scale = 0.0
        self._max_length = max_length
        self._scores = scores or _next_id_scores
        self.ids: list = []
        self.fed = 0  # tokens run through the "model", over the backend's lifetime
        self.feeds = 0  # feed calls
        self._last: list | None = None

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def max_length(self) -> int:
        return self._max_length

    async def feed(self, ids: list) -> None:
        check_feed(len(self.ids), len(ids), self._max_length)
        self.ids.extend(ids)
        self.fed += len(ids)
        self.feeds += 1
        self._last = self._scores(self.ids + [self.ids[-1] + 1] if self.adapter_scale else self.ids,
                                  self.vocab_size)

    async def top(self, n: int) -> Candidates:
        if self._last is None:
            raise RuntimeError("top() before feed()")
        return top_candidates(self._last, n)

    def log_normalizer(self) -> float:
        if self._last is None:
            raise RuntimeError("log_normalizer() before feed()")
        top = max(self._last)
        return top + math.log(math.fsum(math.exp(s - top) for s in self._last))

    def truncate(self, n: int) -> int:
        del self.ids[n:]
        self._last = None
        return len(self.ids)

    def reset(self) -> None:
        self.truncate(0)

    def set_adapter_scale(self, scale: float) -> bool:
        check_adapter_scale(self._adapter, scale)
        if scale == self.adapter_scale:
            return False
        self.adapter_scale = scale
        self.reset()
        return True


def _next_id_scores(ids: list, vocab_size: int) -> list:
    nxt = (ids[-1] + 1) % vocab_size
    return [-float(min((t - nxt) % vocab_size, (nxt - t) % vocab_size)) for t in range(vocab_size)]
