"""Python time per generated token outside the model call, in CPython, with the default sampling
settings (target: at most 1 ms).

Two measurements in one run:

1. the loop over a stand-in backend whose model call costs nothing but serves a real-sized
   vocabulary (49,152 random logits, best candidates picked with numpy as the native backend
   does): everything measured is the loop, sampling and incremental decoding;
2. the loop over the real default artifact (native onnxruntime), split into the time awaiting the
   backend (model + picking candidates) and the rest.

    .venv/bin/python bench/bench_generation.py [--artifact artifacts/smollm2-135m-instruct-q4] [--tokens 128]
"""

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.generation import GenerationConfig, Generator  # noqa: E402
from core.sampling import Candidates, SamplingConfig  # noqa: E402

TARGET_MS = 1.0


class StandInBackend:
    """Free model calls over a fixed-size vocabulary of random scores."""

    def __init__(self, vocab_size=49152, max_length=8192, seed=0):
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.length = 0
        rng = np.random.default_rng(seed)
        self._rows = [rng.normal(0, 3, vocab_size).astype(np.float32) for _ in range(16)]
        self._row = self._rows[0]

    async def feed(self, ids):
        self.length += len(ids)
        self._row = self._rows[(self.length * 7 + ids[-1]) % len(self._rows)]

    async def top(self, n):
        row = self._row
        if n >= self.vocab_size:
            return Candidates(None, row.tolist())
        ids = np.flatnonzero(row >= np.partition(row, -n)[-n])  # as the native backend does
        return Candidates(ids.tolist(), row[ids].tolist())

    def truncate(self, n):
        self.length = min(self.length, n)
        return self.length

    def reset(self):
        self.length = 0


def per_token_ms(results):
    tokens = sum(len(r.ids) for r in results)
    outside = sum(r.seconds - r.model_seconds for r in results)
    model = sum(r.model_seconds for r in results)
    return tokens, 1000 * outside / tokens, 1000 * model / tokens


def bench_stand_in(tokens, token_bytes):
    gen = Generator(StandInBackend(), token_bytes, stop_ids=[])
    prompt = [random.Random(1).randrange(49152) for _ in range(200)]
    cfg = GenerationConfig(tokens, SamplingConfig(seed=0))
    asyncio.run(gen.generate(prompt, GenerationConfig(8, cfg.sampling)))  # warm up
    results = [asyncio.run(gen.generate(prompt + [i], cfg)) for i in range(5)]
    return per_token_ms(results)


def bench_artifact(folder, tokens):
    from core.backend_native import NativeBackend
    from core.chat import Chat
    from core.manifest import Manifest
    from core.tokenizer import Tokenizer

    manifest = Manifest.load(folder)
    tok = Tokenizer.from_file(Path(folder) / manifest.tokenizer.file)
    backend = NativeBackend.from_artifact(folder)
    chat = Chat.from_manifest(manifest, tok, backend, system="You are a helpful assistant.")
    cfg = GenerationConfig(tokens, SamplingConfig(seed=0))
    results = []
    for question in ["Write a short story about a lighthouse keeper.",
                     "Now tell it again from the point of view of the sea.",
                     "Give me three tips for learning to cook."]:
        results += asyncio.run(chat.send(question, cfg)).rounds
    # The backend's own share of picking candidates (numpy), inside the model time above.
    row_reads = 200
    t = time.perf_counter()
    for _ in range(row_reads):
        asyncio.run(backend.top(80))
    top_ms = 1000 * (time.perf_counter() - t) / row_reads
    return per_token_ms(results), top_ms, tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", help="artifact folder (default: export.build(), the q4 preset)")
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args()
    folder = args.artifact
    if folder is None:
        import export
        folder = export.build()
    (tokens, outside, model), top_ms, tok = bench_artifact(folder, args.tokens)
    s_tokens, s_outside, s_model = bench_stand_in(args.tokens, tok.id_to_bytes)
    d = SamplingConfig()
    print(f"default sampling: temperature {d.temperature}, top_k {d.top_k}, top_p {d.top_p}, "
          f"repetition_penalty {d.repetition_penalty}")
    print(f"stand-in backend (vocab 49152, free model): {s_tokens} tokens, "
          f"Python outside the model call {s_outside:.3f} ms/token "
          f"({s_outside / TARGET_MS:.2f}x the {TARGET_MS} ms target), candidate pick {s_model:.3f} ms/token")
    print(f"native onnxruntime, {folder}: {tokens} tokens, model call {model:.2f} ms/token "
          f"({1000 / (model + outside):.1f} tokens/s), Python outside the model call {outside:.3f} ms/token "
          f"({outside / TARGET_MS:.2f}x target); of the model call, numpy top-80 pick {top_ms:.3f} ms")


if __name__ == "__main__":
    main()
