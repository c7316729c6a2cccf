"""What the adapter switch costs per token: native decode speed of the plain export (no adapter in
the graph) against the site's artifact with its adapter switched off (0) and on (1), in one run,
the three interleaved round by round so the machine's noise falls on all of them alike.

    .venv/bin/python bench/bench_switch.py [--plain artifacts/smollm2-135m-instruct-q4]
        [--site artifacts/smollm2-135m-instruct-q4-smollm2-think-tools] [--tokens 64] [--rounds 3]

Prints decode tokens/s per row (median over rounds) and the ratios to the plain export.
"""

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export import site_model  # noqa: E402
from core.backend_native import NativeBackend  # noqa: E402
from core.manifest import Manifest  # noqa: E402
from core.tokenizer import Tokenizer  # noqa: E402

PROMPT = "Write a long story about a lighthouse keeper who befriends a seal."


async def decode_rate(backend, prompt: list, tokens: int) -> float:
    """Greedy decode steps per second after one prefill (ids from the backend's argmax)."""
    backend.reset()
    await backend.feed(prompt)
    start = time.perf_counter()
    for _ in range(tokens):
        token = (await backend.top(1)).ids[0]
        await backend.feed([token])
    return tokens / (time.perf_counter() - start)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plain", type=Path, default=ROOT / "artifacts/smollm2-135m-instruct-q4")
    p.add_argument("--site", type=Path, default=site_model.folder())
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    for folder in (args.plain, args.site):
        if not (folder / "manifest.json").is_file():
            print(f"bench_switch: {folder}/manifest.json not found (python -m export builds it)", file=sys.stderr)
            return 1
    if Manifest.load(args.site).onnx.adapter_scale is None:
        print(f"bench_switch: {args.site} has no adapter switch (export it with --adapter)", file=sys.stderr)
        return 1
    tokenizer = Tokenizer.from_file(args.plain / "tokenizer.json")
    prompt = tokenizer.encode(PROMPT)
    plain = NativeBackend.from_artifact(args.plain)
    switch = NativeBackend.from_artifact(args.site)
    rows = {"plain export": [], "adapter switched off": [], "adapter switched on": []}
    asyncio.run(decode_rate(plain, prompt, 8))   # warm both sessions up
    asyncio.run(decode_rate(switch, prompt, 8))
    for _ in range(args.rounds):
        rows["plain export"].append(asyncio.run(decode_rate(plain, prompt, args.tokens)))
        for name, scale in (("adapter switched off", 0.0), ("adapter switched on", 1.0)):
            switch.set_adapter_scale(scale)
            rows[name].append(asyncio.run(decode_rate(switch, prompt, args.tokens)))
    base = statistics.median(rows["plain export"])
    print(f"decode, {args.tokens} tokens after a {len(prompt)}-token prompt, median of {args.rounds} rounds")
    for name, rates in rows.items():
        rate = statistics.median(rates)
        print(f"  {name:22s} {rate:6.1f} tok/s  {rate / base:5.3f}x the plain export  "
              f"({1000 / rate - 1000 / base:+.2f} ms per token)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
