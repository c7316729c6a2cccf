"""The chat in a real browser, timed: page load to readable text, Pyodide boot, model fetch and
session create (first visit: network; second: Cache API), time to first token and decode tokens/s.

    python bench/bench_browser.py                 # WASM, the site's model (the export with its adapter)
    python bench/bench_browser.py --webgpu        # also WebGPU (SwiftShader here: correctness, not speed)
    python bench/bench_browser.py --site site     # an existing build instead of building one

Numbers come from one run on this machine; they are printed, not asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "helpers")]

PROMPT = "Explain in three sentences why the sky is blue."
STATUS = '[data-testid="chat-status"]'


def build_site(out: Path) -> Path:
    from export import site_model
    from site_builder import config_with, mkdocs_build

    run = mkdocs_build(config_with(out, artifact=site_model.export()))
    if run.returncode:
        sys.exit(run.stderr)
    return out / "site"


def visit(context, url: str, backend: str, ask: bool) -> dict:
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url + "chapter/")
    page.wait_for_selector('.llmb-widget[data-widget="live_chat"][data-llmb-mounted="live"]', timeout=300_000)
    paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
    row = {"first paint (ms)": paint, "mounted after (s)": time.perf_counter() - t0}
    page.select_option('select[data-action="backend"]', backend)
    page.locator('[data-testid="chat-load"]').click()
    page.wait_for_function(f"document.querySelector('{STATUS}').dataset.phase === 'ready'"
                           f" || document.querySelector('{STATUS}').textContent.startsWith('Could')", timeout=600_000)
    row["status"] = page.inner_text(STATUS)
    if ask:
        page.eval_on_selector('input[data-action="temperature"]',
                              "el => { el.value = 0; el.dispatchEvent(new Event('change', {bubbles: true})); }")
        page.fill('[data-testid="chat-input"]', PROMPT)
        page.press('[data-testid="chat-input"]', "Enter")
        page.wait_for_function("document.querySelector('[data-testid=chat-message-assistant][data-token-ids]')"
                               f" && document.querySelector('{STATUS}').dataset.phase === 'ready'", timeout=900_000)
    row.update(page.evaluate("({...llmb.timings})"))
    page.close()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="serve this built site instead of building one")
    parser.add_argument("--webgpu", action="store_true", help="also time WebGPU (SwiftShader)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from chromium import WEBGPU_ARGS, Server, launch

    site = args.site or build_site(Path(tempfile.mkdtemp(prefix="llmb-bench-")))
    server = Server(site)
    url = server.url
    runs = [("wasm", [])] + ([("webgpu", WEBGPU_ARGS)] if args.webgpu else [])
    with sync_playwright() as p:
        for backend, extra in runs:
            context = launch(p, extra)
            first = visit(context, url, backend, ask=True)
            second = visit(context, url, backend, ask=False)
            context.close()
            print(f"\n== {backend} ==  {first['status']}")
            print(f"page load to readable text (first contentful paint): {first['first paint (ms)']:.0f} ms")
            print(f"text visible -> Pyodide boot starts: {first['text_visible_ms']:.0f} ms after navigation")
            print(f"Pyodide boot (core + widgets bundle + imports): {first['pyodide_boot_ms'] / 1000:.2f} s")
            print(f"model fetch, first visit (network + sha256): {first['fetch_ms'] / 1000:.2f} s")
            print(f"model fetch, second visit (Cache API + sha256): {second['fetch_ms'] / 1000:.2f} s  [{second['status']}]")
            print(f"session create: {first['session_ms'] / 1000:.2f} s (second visit {second['session_ms'] / 1000:.2f} s)")
            print(f"time to first token: {first['ttft_ms']:.0f} ms; decode: {first['decode_tok_s']:.1f} tokens/s "
                  f"over {first['reply_tokens']} tokens")
    server.close()


if __name__ == "__main__":
    main()
