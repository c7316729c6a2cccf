"""What "Show predictions" costs per token: native decode through the chat's generation loop with
the live chat's default sampling, without and with the predictions recorder
(widgets/predictions.py), interleaved round by round in one run.

    .venv/bin/python bench/bench_predictions.py [--artifact artifacts/smollm2-135m-instruct-q4]
        [--tokens 64] [--rounds 5]

Prints decode tokens/s of each row (median over rounds) and the ratio. With the toggle off the
loop pays one ``is None`` test per token.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.backend_native import NativeBackend  # noqa: E402
from core.chat_mode import DEFAULT_SETTINGS, generation_config  # noqa: E402
from core.generation import GenerationConfig, Generator  # noqa: E402
from core.manifest import Manifest  # noqa: E402
from widgets.predictions import Recorder  # noqa: E402
from core.tokenizer import Tokenizer  # noqa: E402

PROMPT = "Write a long story about a lighthouse keeper who befriends a seal."


async def decode_rate(generator, tokenizer, prompt: list, tokens: int, record: bool) -> float:
    """Tokens per second after the first one (the prefill excluded)."""
    sampling = generation_config(DEFAULT_SETTINGS, seed=7).sampling
    recorder = Recorder(generator.backend, sampling, tokenizer) if record else None
    generator.forget()
    times = []

    def tick(piece):
        times.append(time.perf_counter())

    result = await generator.generate(prompt, GenerationConfig(tokens, sampling), on_text=tick,
                                      on_step=recorder.on_step if recorder else None)
    if recorder is not None:
        assert len(recorder.steps) == len(result.ids)
    return (len(times) - 1) / (times[-1] - times[0])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--artifact", type=Path, default=ROOT / "artifacts/smollm2-135m-instruct-q4")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    if not (args.artifact / "manifest.json").is_file():
        print(f"bench_predictions: {args.artifact}/manifest.json not found (python -m export builds it)", file=sys.stderr)
        return 1
    info = Manifest.load(args.artifact)
    tokenizer = Tokenizer.from_file(args.artifact / info.tokenizer.file)
    generator = Generator(NativeBackend.from_artifact(args.artifact), tokenizer.id_to_bytes, [])  # no stop: full length
    prompt = tokenizer.encode(PROMPT)
    asyncio.run(decode_rate(generator, tokenizer, prompt, 8, True))   # warm up
    rows = {"predictions off": [], "predictions on": []}
    for _ in range(args.rounds):
        for name in rows:
            rows[name].append(asyncio.run(decode_rate(generator, tokenizer, prompt, args.tokens, name.endswith("on"))))
    off, on = (statistics.median(rows[n]) for n in rows)
    print(f"decode, {args.tokens} sampled tokens after a {len(prompt)}-token prompt, median of {args.rounds} rounds")
    print(f"  predictions off {off:6.1f} tok/s")
    print(f"  predictions on  {on:6.1f} tok/s  {on / off:5.3f}x  ({1000 / on - 1000 / off:+.2f} ms per token)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
