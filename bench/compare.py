"""One benchmark run that puts the chat's in-browser stack beside native onnxruntime and the
peer wllama, on the same model and workload, in the same headless chromium.

    .venv/bin/python -m bench.compare                 # 3 runs of each row, 64 tokens
    .venv/bin/python -m bench.compare --runs 1 --tokens 8 --context 64 256    # quick check

Rows: native onnxruntime through the widgets loop; the site's Pyodide loop on onnxruntime-web
WASM (threads on, cross-origin isolated); the same session under a plain JavaScript loop; wllama
on the GGUF file. Prints, and writes to bench/results/: results.json, results.md, results.png.
Every ratio compares numbers from this one run; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import report, rows
from chromium import Server

ROOT = rows.ROOT
SYSTEM = "You are a helpful assistant."
QUESTION = "Write a short story about a lighthouse keeper."
FOLLOW_UP = "Now tell it again from the point of view of the sea."
# Filler for the context-length runs: any text will do, only its length matters.
PASSAGES = [
    "The tide came in slowly over the flat grey sand, and the gulls rose and settled again. ",
    "Mountains hold their snow long into spring, feeding rivers that carve the valleys below. ",
]


def workload(folder: Path, tokens: int, short: int, long: int) -> tuple[dict, dict]:
    """The same work as token ids (the ONNX rows) and as text (wllama tokenizes its own)."""
    from core.chat_template import render
    from core.manifest import Manifest
    from core.tokenizer import Tokenizer

    manifest = Manifest.load(folder)
    tok = Tokenizer.from_file(folder / manifest.tokenizer.file)
    chat_text = render(manifest.chat_template.text, [{"role": "system", "content": SYSTEM},
                                                     {"role": "user", "content": QUESTION}], add_generation_prompt=True)
    suffix_text = f"<|im_end|>\n<|im_start|>user\n{FOLLOW_UP}<|im_end|>\n<|im_start|>assistant\n"

    def filler(text, n):
        ids = tok.encode_with_special_tokens(text * (1 + 2 * n // len(text.split())))[:n]
        return ids, b"".join(tok.id_to_bytes(i) for i in ids).decode("utf-8", "replace")

    short_ids, short_text = filler(PASSAGES[0], short)
    long_ids, long_text = filler(PASSAGES[1], long)
    ids = {"chat": tok.encode_with_special_tokens(chat_text), "turn2_suffix": tok.encode_with_special_tokens(suffix_text),
           "ctx_short": short_ids, "ctx_long": long_ids, "tokens": tokens, "context_tokens": 32 if tokens >= 32 else tokens}
    text = {"chat": chat_text, "turn2_suffix": suffix_text, "ctx_short": short_text, "ctx_long": long_text,
            "tokens": tokens, "context_tokens": ids["context_tokens"]}
    return ids, text


def build_site(artifact: Path) -> Path:
    """The site's pages and runtime with a chapter page that holds only the live chat: the
    compared model may be any artifact (the plain export, to match wllama's GGUF), while the real
    chapter needs the post-trained one for its facts."""
    from site_builder import config_with, mkdocs_build

    out = Path(tempfile.mkdtemp(prefix="llmb-bench-"))
    docs = out / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Benchmark\n\n[The chat](chapter.md)\n", encoding="utf-8")
    (docs / "chapter.md").write_text("# Chat\n\n```widget\nname: live_chat\n```\n", encoding="utf-8")
    run = mkdocs_build(config_with(out, artifact=artifact, docs=docs))
    if run.returncode:
        sys.exit(run.stderr[-3000:])
    return out / "site"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="repeated runs of each row (min/median/max)")
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated for the chat prompt")
    ap.add_argument("--context", type=int, nargs=2, default=[64, 1024], metavar=("SHORT", "LONG"),
                    help="context lengths at which decode speed is compared")
    ap.add_argument("--rows", default="native,pyodide,plain_js,wllama", help="comma-separated subset")
    ap.add_argument("--artifact", type=Path, help="artifact folder (default: export.build())")
    ap.add_argument("--site", type=Path, help="an already built site/ (default: build one)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    import export
    from playwright.sync_api import sync_playwright

    artifact = args.artifact or export.build()
    manifest = json.loads((artifact / "manifest.json").read_text())
    slug = manifest["model"]["slug"]
    work, text_work = workload(artifact, args.tokens, *args.context)
    wanted = args.rows.split(",")
    results = {name: [] for name in wanted}
    started, load_before = time.time(), os.getloadavg()[0]
    if "native" in wanted:
        for i in range(args.runs):
            print(f"native run {i + 1}/{args.runs}", flush=True)
            results["native"].append(rows.native(artifact, work))
    if set(wanted) - {"native"}:
        site = args.site or build_site(artifact)
        rows.stage_bench_pages(site)
        server = Server(site)
        try:
            with sync_playwright() as p:
                for i in range(args.runs):
                    for name in [n for n in wanted if n != "native"]:
                        print(f"{name} run {i + 1}/{args.runs}", flush=True)
                        if name == "pyodide":
                            results[name].append(rows.pyodide(p, server.url, work, slug))
                        elif name == "plain_js":
                            results[name].append(rows.plain_js(p, server.url, work, slug))
                        elif name == "wllama":
                            threads = results.get("pyodide", [{}])[-1].get("threads", 2) if results.get("pyodide") else 2
                            results[name].append(rows.wllama(p, server.url, text_work, threads))
        finally:
            server.close()
    wasm_file = manifest["onnx"].get("cpu") or manifest["onnx"]   # the file WASM loads
    meta = {"runs": args.runs, "tokens": args.tokens, "context": args.context, "artifact": str(artifact),
            "model": manifest["model"]["name"], "onnx_bytes": wasm_file["bytes"],
            "wasm_file_top1": (wasm_file.get("verification") or manifest.get("verification") or {}).get("top1_agreement"),
            "seconds": time.time() - started, "cpus": os.cpu_count(),
            "load_average": [load_before, os.getloadavg()[0]], "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    summary = report.summarise(results, work, meta)
    report.write(summary, results, args.out)
    print(report.markdown(summary))
    print(f"written: {args.out}/results.json, results.md, results.png")
    return summary


if __name__ == "__main__":
    main()
