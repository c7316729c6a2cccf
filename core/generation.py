"""The token-by-token generation loop, over any ``Backend`` (native onnxruntime, the browser's
onnxruntime-web, or a fake in tests).

A ``Generator`` keeps the ids its backend's cache holds. Given a new prompt it keeps the longest
common prefix, cuts the cache there and runs only the rest, so the second turn of a chat costs
its new tokens, not the whole conversation again. Then it samples until a stop id, the token
budget, the context window or a cancel request, streaming text as it goes. Text is decoded
incrementally by bytes, so a character split over two tokens (most emoji, many CJK characters)
is never shown half-made.

Example with the pure-Python fake backend (its scores favour ``last id + 1``):

    >>> import asyncio
    >>> from core.backend import CountingBackend
    >>> from core.sampling import GREEDY
    >>> gen = Generator(CountingBackend(vocab_size=100), token_bytes=lambda i: b"%d," % i,
    ...                 stop_ids=[7])
    >>> greedy = GenerationConfig(max_new_tokens=10, sampling=GREEDY)
    >>> r = asyncio.run(gen.generate([1, 2, 3], greedy))
    >>> r.ids, r.text, r.finish_reason
    ([4, 5, 6, 7], '4,5,6,', 'stop')
    >>> r = asyncio.run(gen.generate([1, 2, 3, 4, 5, 9], GenerationConfig(2, GREEDY)))
    >>> r.ids, r.reused_tokens, r.fed_tokens      # 1..5 came from the cache
    ([10, 11], 5, 2)
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import random
import time
from dataclasses import dataclass

from .sampling import SamplingConfig, candidates_needed, enough, sample


class ContextOverflow(ValueError):
    """The prompt alone does not fit in the context window."""


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 256  # reply length cap, stop token included
    sampling: SamplingConfig = SamplingConfig()  # see sampling.py; GREEDY for reproducible demos


@dataclass
class GenerationResult:
    ids: list  # generated ids, with the stop id that ended them (if one did)
    text: str  # what was streamed: the decoded reply without the stop token
    finish_reason: str  # "stop" | "length" (max_new_tokens) | "context" (window full) | "cancelled"
    prompt_tokens: int  # length of the prompt
    reused_tokens: int  # prompt tokens the cache already held
    fed_tokens: int  # tokens run through the model by this call (prefill + decode)
    seconds: float = 0.0  # wall time of the call
    model_seconds: float = 0.0  # part of it spent awaiting the backend


def common_prefix(a: list, b: list) -> int:
    """Length of the longest common prefix.

    >>> common_prefix([1, 2, 3, 4], [1, 2, 5])
    2
    """
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def is_cancelled(cancel) -> bool:
    """``cancel`` may be None, anything with ``is_set()`` (asyncio/threading Event) or a callable."""
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return cancel.is_set()
    return bool(cancel())


async def _call(callback, *args):
    if callback is not None:
        out = callback(*args)
        if inspect.isawaitable(out):
            await out


class Generator:
    """Runs generation on one backend and remembers what its cache holds between calls."""

    def __init__(self, backend, token_bytes, stop_ids):
        self.backend = backend
        self.token_bytes = token_bytes  # id -> the bytes it stands for (Tokenizer.id_to_bytes)
        self.stop_ids = frozenset(stop_ids)
        self.cached: list = []  # ids in the backend's cache, in order

    def forget(self) -> None:
        """Drop the cache (for instance after the backend was used for something else)."""
        self.backend.reset()
        self.cached = []

    async def _prefill(self, prompt: list) -> int:
        """Bring the cache to exactly ``prompt`` and return how many prompt tokens were reused."""
        if self.backend.length != len(self.cached):
            self.forget()  # someone else fed the backend; its contents are unknown
        # At least one token must run to get scores for the position after the prompt.
        keep = min(common_prefix(self.cached, prompt), len(prompt) - 1)
        kept = self.backend.truncate(keep)
        self.cached = self.cached[:kept]
        await self.backend.feed(prompt[kept:])
        self.cached = list(prompt)
        return kept

    async def generate(self, prompt: list, config: GenerationConfig = GenerationConfig(), *,
                       on_text=None, on_step=None, cancel=None) -> GenerationResult:
        """Continue ``prompt`` (token ids); ``on_text(piece)`` (sync or async) receives each new
        piece of text, ``cancel`` is checked between tokens (see ``is_cancelled``).

        ``on_step(candidates, seen, token)`` hears every choice: the scores it was made from,
        the ids the repetition penalty counted (a live set: copy what you keep) and the id
        picked; ``sampling.distribution(candidates, config.sampling, seen)`` is what the token
        was drawn from."""
        backend, sampling = self.backend, config.sampling
        window = backend.max_length
        if not prompt or len(prompt) >= window:
            raise ContextOverflow(f"prompt of {len(prompt)} tokens; the context window holds {window}")
        start = time.perf_counter()
        model = 0.0
        t = time.perf_counter()
        reused = await self._prefill(prompt)
        model += time.perf_counter() - t
        fed = len(prompt) - reused

        rng = random.Random(sampling.seed)
        seen = set(prompt)  # transformers penalises every token of the sequence, prompt included
        vocab = backend.vocab_size
        first_n = candidates_needed(sampling, vocab)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        ids, pieces = [], []
        # The reply and its prompt together never exceed the window, so the next turn can still
        # feed the last token.
        budget = min(config.max_new_tokens, window - len(prompt))
        reason = "length" if budget == config.max_new_tokens else "context"
        while True:
            if is_cancelled(cancel):
                reason = "cancelled"
                break
            t = time.perf_counter()
            n = first_n
            cands = await backend.top(n)
            while not enough(cands, sampling, seen, vocab):
                n = min(vocab, n * 4)
                cands = await backend.top(n)
            model += time.perf_counter() - t
            token = sample(cands, sampling, seen=seen, rng=rng)
            if on_step is not None:
                await _call(on_step, cands, seen, token)
            ids.append(token)
            if token in self.stop_ids:
                reason = "stop"
                break
            piece = decoder.decode(self.token_bytes(token))
            if piece:
                pieces.append(piece)
                await _call(on_text, piece)
            if len(ids) >= budget:
                break
            seen.add(token)
            t = time.perf_counter()
            await backend.feed([token])
            model += time.perf_counter() - t
            self.cached.append(token)
            fed += 1
            # Let other tasks (a cancel button, the page) run between tokens.
            await asyncio.sleep(0)
        tail = decoder.decode(b"", final=True)  # an unfinished character shows as U+FFFD
        if tail:
            pieces.append(tail)
            await _call(on_text, tail)
        return GenerationResult(
            ids=ids, text="".join(pieces), finish_reason=reason, prompt_tokens=len(prompt),
            reused_tokens=reused, fed_tokens=fed, seconds=time.perf_counter() - start,
            model_seconds=model,
        )
