"""What the WASM session's warm-up (ModelSession.warmUp in site_plugins/assets/llmb-model.js)
gives a reader's first reply, in one run: fresh chromiums on the plain-JS bench page, each loading
the model and at once either sending the chat prompt (the warm-up gives way after its run in
flight) or waiting for the warm-up first, round by round so the machine's noise falls on both.

    .venv/bin/python bench/bench_warmup.py [--artifact artifacts/smollm2-135m-instruct-q4]
        [--site an already built site/] [--rounds 2] [--tokens 64]

Prints the first reply's decode speed and time to first token both ways, the second reply of the
page that sent at once (a warm session), and the ratios.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "helpers")]

from chromium import Server, launch  # noqa: E402

from bench import compare, rows  # noqa: E402

REPLIES = """async ([path, wait, prompt, n]) => {
    const loaded = await bench.load(path, wait);
    const first = await bench.timed(loaded.session, prompt, n);
    const second = await bench.timed(loaded.session, prompt, n);
    return { warm_up_ms: loaded.warm_up_ms, warm_up_steps: loaded.warm_up_steps, first, second };
}"""


def page_run(playwright, url: str, path: str, wait: bool, prompt: list, tokens: int) -> dict:
    context = launch(playwright, profile=tempfile.mkdtemp(prefix="llmb-bench-chromium-"))
    try:
        page = context.new_page()
        page.goto(url + "bench/plain.html")
        page.wait_for_function("window.bench !== undefined")
        return page.evaluate(REPLIES, [path, wait, prompt, tokens])
    finally:
        context.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--artifact", type=Path, default=ROOT / "artifacts/smollm2-135m-instruct-q4")
    p.add_argument("--site", type=Path, help="an already built site/ (default: build one)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--tokens", type=int, default=64)
    args = p.parse_args(argv)
    if not (args.artifact / "manifest.json").is_file():
        print(f"bench_warmup: {args.artifact}/manifest.json not found (python -m export builds it)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    import json
    slug = json.loads((args.artifact / "manifest.json").read_text())["model"]["slug"]
    work, _ = compare.workload(args.artifact, args.tokens, 64, 64)
    site = args.site or compare.build_site(args.artifact)
    rows.stage_bench_pages(site)
    server = Server(site)
    runs = {"at once": [], "after the warm-up": []}
    started = time.time()
    try:
        with sync_playwright() as pw:
            for _ in range(args.rounds):
                for name, wait in (("at once", False), ("after the warm-up", True)):
                    runs[name].append(page_run(pw, server.url, f"models/{slug}/", wait, work["chat"], args.tokens))
    finally:
        server.close()

    def med(name, reply, key):
        return statistics.median(r[reply][key] for r in runs[name])
    print(f"first reply ({args.tokens} tokens after a {len(work['chat'])}-token prompt) on a fresh page, "
          f"median of {args.rounds} rounds, {time.time() - started:.0f} s")
    for name in runs:
        print(f"  sent {name:18s} decode {med(name, 'first', 'decode_tok_s'):5.1f} tok/s, "
              f"first token {med(name, 'first', 'ttft_ms'):6.0f} ms")
    warm = runs["after the warm-up"]
    print(f"  warm-up: {statistics.median(r['warm_up_ms'] for r in warm):.0f} ms after the load, "
          f"{statistics.median(r['warm_up_steps'] for r in warm):.0f} runs")
    print(f"  second reply of the page that sent at once: {med('at once', 'second', 'decode_tok_s'):5.1f} tok/s")
    print(f"  first reply after the warm-up / sent at once: "
          f"{med('after the warm-up', 'first', 'decode_tok_s') / med('at once', 'first', 'decode_tok_s'):.2f}x decode")
    print(f"  first reply sent at once / its second reply: "
          f"{med('at once', 'first', 'decode_tok_s') / med('at once', 'second', 'decode_tok_s'):.2f}x decode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
