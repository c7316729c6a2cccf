"""Turns the runs of bench/compare.py into a summary (min/median/max of each metric per row),
the ratios between rows, the issue's targets marked met / not met, and writes them as JSON, a
Markdown table and a PNG chart."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

LABELS = {"native": "native onnxruntime (CPython, widgets loop)",
          "pyodide": "browser: site's Pyodide loop, ORT-web WASM",
          "plain_js": "browser: plain-JS loop, same ORT-web session",
          "wllama": "browser: wllama 3.8.1, same GGUF"}
# metric -> (heading, unit, function of one run)
METRICS = {
    "decode_tok_s": ("decode", "tok/s", lambda r: r["phases"]["chat"]["decode_tok_s"]),
    "ttft_ms": ("time to first token", "ms", lambda r: r["phases"]["chat"]["ttft_ms"]),
    "ttft_cold_ms": ("first token, session's first run", "ms", lambda r: r["phases"]["cold"]["ttft_ms"]),
    "decode_short_tok_s": ("decode at short context", "tok/s", lambda r: r["phases"]["ctx_short"]["decode_tok_s"]),
    "decode_long_tok_s": ("decode at long context", "tok/s", lambda r: r["phases"]["ctx_long"]["decode_tok_s"]),
    "turn2_ttft_ms": ("2nd turn first token (cache reused)", "ms",
                      lambda r: r["phases"]["turn2"]["ttft_ms"] if "turn2" in r["phases"] else None),
    "turn2_fresh_ttft_ms": ("2nd turn first token (no cache)", "ms",
                            lambda r: r["phases"]["turn2_fresh"]["ttft_ms"] if "turn2_fresh" in r["phases"] else None),
    "boot_ms": ("Pyodide boot", "ms", lambda r: r.get("boot_ms")),
    "load_ms": ("model fetch + session create", "ms",
                lambda r: r["load_ms"] if "load_ms" in r else r.get("fetch_ms", 0) + r["session_ms"]),
    "session_ms": ("session create", "ms", lambda r: r.get("session_ms")),
    "warm_up_ms": ("warm-up runs after the load (while a reader types)", "ms", lambda r: r.get("warm_up_ms")),
    "peak_mb": ("peak memory (RSS)", "MB", lambda r: r["peak_bytes"] / 1e6),
    "before_model_mb": ("transferred before the model", "MB",
                        lambda r: r["bytes"].get("page", 0) / 1e6 if "bytes" in r else None),
    "model_mb": ("transferred loading the model", "MB",
                 lambda r: r["bytes"].get("model", 0) / 1e6 if "bytes" in r else None),
    "longest_task_ms": ("longest main-thread task while decoding", "ms", lambda r: r.get("longest_task_ms")),
}


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _med(summary, row, metric):
    cell = summary["rows"].get(row, {}).get(metric)
    return cell["median"] if cell else None


def _ratio(a, b):
    return a / b if a is not None and b else None


def summarise(results: dict, work: dict, meta: dict) -> dict:
    table = {row: {m: spread([f(r) for r in runs]) for m, (_, _, f) in METRICS.items()}
             for row, runs in results.items() if runs}
    summary = {"meta": meta, "rows": table}
    py, js, nat, peer = (lambda m, row=row: _med(summary, row, m) for row in ("pyodide", "plain_js", "native", "wllama"))
    ratios = {
        "pyodide / wllama decode": _ratio(py("decode_tok_s"), peer("decode_tok_s")),
        "pyodide / native decode": _ratio(py("decode_tok_s"), nat("decode_tok_s")),
        "plain_js / native decode": _ratio(js("decode_tok_s"), nat("decode_tok_s")),
        "wllama / native decode": _ratio(peer("decode_tok_s"), nat("decode_tok_s")),
        "Python layer cost per token vs plain JS": (_ratio(js("decode_tok_s"), py("decode_tok_s")) - 1)
        if _ratio(js("decode_tok_s"), py("decode_tok_s")) is not None else None,
        "pyodide decode long / short context": _ratio(py("decode_long_tok_s"), py("decode_short_tok_s")),
        "native decode long / short context": _ratio(nat("decode_long_tok_s"), nat("decode_short_tok_s")),
        "pyodide 2nd turn TTFT reused / fresh": _ratio(py("turn2_ttft_ms"), py("turn2_fresh_ttft_ms")),
        "pyodide / wllama TTFT": _ratio(py("ttft_ms"), peer("ttft_ms")),
        "pyodide / wllama peak memory": _ratio(py("peak_mb"), peer("peak_mb")),
    }
    summary["ratios"] = ratios
    summary["checks"] = checks(results, work)
    short, long = meta["context"]
    t = summary["targets"] = []

    def target(name, value, ok):
        t.append({"target": name, "value": value, "met": None if ok is None else bool(ok)})

    r = ratios

    def at_least(name, ratio, bound):
        target(name, r[ratio], None if r[ratio] is None else r[ratio] >= bound)

    def at_most(name, ratio, bound):
        target(name, r[ratio], None if r[ratio] is None else r[ratio] <= bound)
    at_least("browser decode >= 2x wllama", "pyodide / wllama decode", 2)
    at_least("browser decode >= 0.45x native", "pyodide / native decode", 0.45)
    at_most("time to first token <= 0.5x wllama", "pyodide / wllama TTFT", 0.5)
    at_most("browser peak memory <= wllama", "pyodide / wllama peak memory", 1)
    top1 = meta.get("wasm_file_top1")
    target("top-1 against torch >= 0.97 (the file WASM loads)", top1, None if top1 is None else top1 >= 0.97)
    at_most("Python layer <= 10% vs plain JS", "Python layer cost per token vs plain JS", 0.10)
    at_least(f"decode at {long} >= 0.8x decode at {short} context", "pyodide decode long / short context", 0.8)
    reuse = summary["checks"].get("turn2_feeds_only_new_tokens")
    target("2nd turn feeds only its new tokens", r["pyodide 2nd turn TTFT reused / fresh"], reuse)
    task = py("longest_task_ms")
    target("no main-thread task > 100 ms while generating", task, None if task is None else task <= 100)
    early = summary["checks"].get("nothing_but_page_before_python")
    target("nothing but text and styles before Python", None, early)
    return summary


def checks(results: dict, work: dict) -> dict:
    out = {}
    ids = {row: [r["phases"]["chat"]["ids"] for r in results.get(row, [])] for row in ("native", "pyodide", "plain_js")}
    # Both browser rows run the same WASM session, so the Python loop must not change a token.
    if ids["pyodide"] and ids["plain_js"]:
        out["pyodide_greedy_equals_plain_js"] = all(g == ids["plain_js"][0] for g in ids["pyodide"])
    # Native x86 kernels round the CPU file's float parts otherwise, and its int8 activations
    # carry that into the reply (docs/authors/export.md): how far the browser's reply follows
    # native's is reported, not required.
    for row in ("pyodide", "plain_js"):
        if ids[row] and ids["native"]:
            a, b = ids[row][0], ids["native"][0]
            same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            out[f"{row}_tokens_agreeing_with_native"] = f"{same}/{len(b)}"
    runs = results.get("pyodide") or results.get("native") or []
    if runs:
        ok = True
        for r in runs:
            t2 = r["phases"]["turn2"]
            held = len(work["chat"]) + len(r["phases"]["chat"]["ids"]) - 1  # the last reply token is never fed
            ok &= t2["reused_tokens"] == held and t2["fed_tokens"] == t2["prompt_tokens"] - held + len(t2["ids"]) - 1
        out["turn2_feeds_only_new_tokens"] = ok
    if results.get("pyodide"):
        out["nothing_but_page_before_python"] = all(not r["before_python"]["runtime"] for r in results["pyodide"])
        out["before_python_kb"] = spread([r["before_python"]["bytes"] / 1e3 for r in results["pyodide"]])
        out["isolated"] = all(r["isolated"] for r in results["pyodide"])
        out["threads"] = results["pyodide"][0]["threads"]
    return out


def _cell(s, digits):
    if s is None:
        return "–"
    f = f"{{:.{digits}f}}"
    return f"{f.format(s['median'])} ({f.format(s['min'])}–{f.format(s['max'])})"


def markdown(summary: dict) -> str:
    meta = summary["meta"]
    rows = list(summary["rows"])
    lines = [f"{meta['model']}, {meta['runs']} run(s) per row, {meta['tokens']} tokens generated, "
             f"{meta['when']}, {meta['cpus']} CPUs, load average {meta['load_average'][0]:.1f} before and "
             f"{meta['load_average'][1]:.1f} after. Cells: median (min–max).", "",
             "| metric | " + " | ".join(LABELS[r] for r in rows) + " |",
             "|---|" + "---:|" * len(rows)]
    for m, (heading, unit, _) in METRICS.items():
        cells = [summary["rows"][r][m] for r in rows]
        if all(c is None for c in cells):
            continue
        digits = 1 if unit in ("tok/s", "MB") else 0
        lines.append(f"| {heading} ({unit}) | " + " | ".join(_cell(c, digits) for c in cells) + " |")
    lines += ["", "| ratio (medians) | value |", "|---|---:|"]
    for name, v in summary["ratios"].items():
        if v is not None:
            lines.append(f"| {name} | {v:.2f} |")
    lines += ["", "| target | value | met |", "|---|---:|---|"]
    for t in summary["targets"]:
        v = "–" if t["value"] is None else f"{t['value']:.2f}"
        met = {True: "met", False: "**not met**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {v} | {met} |")
    c = summary["checks"]
    if c:
        lines += ["", "Checks: " + ", ".join(f"{k} = {v}" for k, v in c.items() if not isinstance(v, dict))]
    return "\n".join(lines) + "\n"


def chart(summary: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(summary["rows"])
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, (metric, title) in zip(axes, [("decode_tok_s", "decode (tokens/s, higher is better)"),
                                          ("ttft_ms", "time to first token (ms)"),
                                          ("peak_mb", "peak memory (MB)")]):
        cells = [summary["rows"][r][metric] for r in rows]
        med = [c["median"] if c else 0 for c in cells]
        err = [[c["median"] - c["min"] if c else 0 for c in cells], [c["max"] - c["median"] if c else 0 for c in cells]]
        ax.bar(range(len(rows)), med, yerr=err, capsize=4, color=["#555", "#1f77b4", "#7fb3e0", "#d98c3a"][:len(rows)])
        ax.set_xticks(range(len(rows)), [r.replace("_", " ") for r in rows])
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{summary['meta']['model']}: min–max bars over {summary['meta']['runs']} run(s)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(summary: dict, results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
    (out / "results.md").write_text(markdown(summary))
    chart(summary, out / "results.png")
