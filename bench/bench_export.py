"""Native onnxruntime CPU decode speed and time to first token per preset, against torch eager
float32 on the same weights, measured in one run and printed as a table of ratios.

    .venv/bin/python bench/bench_export.py [--presets q4,q8,fp32] [--tokens 64] [--repeats 3]

Builds missing artifacts through export.build (cached). Writes bench/results/export.json.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

PROMPT = [{"role": "user", "content": "Explain in a few sentences why the sky is blue."}]


def prompt_ids(folder: Path) -> list[int]:
    from export.verify import prompt_ids as encode
    manifest = json.loads((folder / "manifest.json").read_text())
    tokenizer_json = (folder / "tokenizer.json").read_text(encoding="utf-8")
    return encode(tokenizer_json, manifest["chat_template"]["text"], [PROMPT])[0]


def onnx_run(folder: Path, ids: list[int], tokens: int):
    """(seconds to first token, decode tokens per second) for one greedy generation."""
    import onnxruntime as ort
    io = json.loads((folder / "manifest.json").read_text())["onnx"]
    session = ort.InferenceSession(str(folder / io["file"]), providers=["CPUExecutionProvider"])
    names = [io["outputs"]["logits"]] + [c["output"] for c in io["cache"]]

    def generate(n):
        cache = {c["input"]: np.zeros([0 if d == "past" else d for d in c["shape"]], np.float32)
                 for c in io["cache"]}
        chunk, stamps = ids, [time.perf_counter()]
        for _ in range(n):
            logits, *caches = session.run(names, {io["inputs"]["input_ids"]: np.array([chunk]), **cache})
            cache = {c["input"]: v for c, v in zip(io["cache"], caches)}
            chunk = [int(logits[0, -1].argmax())]
            stamps.append(time.perf_counter())
        return stamps
    generate(2)   # warm-up: first-run allocations and weight prepacking
    stamps = generate(tokens + 1)
    return stamps[1] - stamps[0], tokens / (stamps[-1] - stamps[1])


def torch_run(model, ids: list[int], tokens: int):
    import torch
    from transformers import DynamicCache

    def generate(n):
        cache, chunk, stamps = DynamicCache(), torch.tensor([ids]), [time.perf_counter()]
        with torch.no_grad():
            for _ in range(n):
                out = model(input_ids=chunk, past_key_values=cache, use_cache=True)
                cache, chunk = out.past_key_values, out.logits[:, -1:].argmax(-1)
                stamps.append(time.perf_counter())
        return stamps
    generate(2)
    stamps = generate(tokens + 1)
    return stamps[1] - stamps[0], tokens / (stamps[-1] - stamps[1])


def median_run(fn, repeats):
    runs = [fn() for _ in range(repeats)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="q4,q8,fp32")
    p.add_argument("--tokens", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    import export
    folders = {preset: export.build(preset=preset) for preset in args.presets.split(",")}
    ids = prompt_ids(next(iter(folders.values())))
    from export.sources import load_source, source_hash, source_kind
    kind, path = source_kind(None)
    reference = load_source(kind, path, source_hash(kind, path)).load_reference()
    rows = {"torch eager fp32": median_run(lambda: torch_run(reference, ids, args.tokens), args.repeats)}
    for preset, folder in folders.items():
        rows[f"onnxruntime {preset}"] = median_run(lambda: onnx_run(folder, ids, args.tokens), args.repeats)
    base_ttft, base_tps = rows["torch eager fp32"]
    print(f"\nprompt {len(ids)} tokens, {args.tokens} decoded tokens, median of {args.repeats} runs\n")
    print(f"{'backend':<20} {'TTFT ms':>9} {'decode tok/s':>13} {'decode x torch':>15} {'TTFT x torch':>13}")
    results = {}
    for name, (ttft, tps) in rows.items():
        print(f"{name:<20} {ttft * 1000:>9.1f} {tps:>13.1f} {tps / base_tps:>15.2f} {base_ttft / ttft:>13.2f}")
        results[name] = {"ttft_s": ttft, "decode_tok_s": tps, "decode_ratio": tps / base_tps,
                         "ttft_ratio": base_ttft / ttft}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "export.json").write_text(json.dumps({"prompt_tokens": len(ids), "tokens": args.tokens,
                                                 "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
