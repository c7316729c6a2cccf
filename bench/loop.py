"""The timed greedy workload shared by every Python row of bench/compare.py: the widgets'
``Generator`` over any backend (native onnxruntime in CPython, onnxruntime-web in Pyodide).

Stop ids are off, so every run generates exactly the tokens asked for. A token counts as known
when ``top`` returns; time to first token runs from the call to the first such moment, decode
tokens/s over the tokens after it. ``clock()`` is seconds: ``time.perf_counter`` in CPython,
``performance.now() / 1000`` in the page, so marks line up with the page's long tasks.
"""

from __future__ import annotations

import time

from core.generation import GenerationConfig, Generator
from core.sampling import GREEDY


class Clocked:
    """A backend that notes when each ``top`` returns."""

    def __init__(self, backend, clock):
        self.backend, self.clock, self.marks = backend, clock, []
        self.vocab_size = backend.vocab_size

    length = property(lambda self: self.backend.length)
    max_length = property(lambda self: self.backend.max_length)

    async def feed(self, ids):
        await self.backend.feed(ids)

    async def top(self, n):
        out = await self.backend.top(n)
        self.marks.append(self.clock())
        return out

    def truncate(self, n):
        return self.backend.truncate(n)

    def reset(self):
        self.backend.reset()


async def timed(gen: Generator, prompt: list, n: int) -> dict:
    clocked = gen.backend
    clocked.marks = []
    t0 = clocked.clock()
    r = await gen.generate(prompt, GenerationConfig(n, GREEDY))
    m = clocked.marks
    return {"ttft_ms": 1000 * (m[0] - t0), "decode_tok_s": (len(m) - 1) / (m[-1] - m[0]) if len(m) > 1 else None,
            "ids": r.ids, "prompt_tokens": len(prompt), "fed_tokens": r.fed_tokens,
            "reused_tokens": r.reused_tokens, "window_ms": [1000 * m[0], 1000 * m[-1]]}


async def suite(backend, token_bytes, work: dict, clock=time.perf_counter) -> dict:
    """``work``: {"chat": ids, "turn2_suffix": ids, "ctx_short": ids, "ctx_long": ids,
    "tokens": n, "context_tokens": n}. Returns one measurement dict per phase."""
    gen = Generator(Clocked(backend, clock), token_bytes, stop_ids=[])
    out = {}
    out["cold"] = await timed(gen, work["ctx_short"], 2)  # the session's first run
    gen.forget()
    out["ctx_short"] = await timed(gen, work["ctx_short"], work["context_tokens"])
    gen.forget()
    out["chat"] = await timed(gen, work["chat"], work["tokens"])
    turn2 = work["chat"] + out["chat"]["ids"] + work["turn2_suffix"]
    out["turn2"] = await timed(gen, turn2, 4)  # reuses the cache of the first turn
    gen.forget()
    out["turn2_fresh"] = await timed(gen, turn2, 4)
    gen.forget()
    out["ctx_long"] = await timed(gen, work["ctx_long"], work["context_tokens"])
    gen.forget()
    return out
