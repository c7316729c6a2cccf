"""bench.compare end to end in its quick mode (one run, few tokens, short contexts): every row
produces numbers, the report files are written, and the two browser rows, one WASM session under
the Python and the plain-JS loop, give the same greedy tokens. No timing is asserted; the
benchmark only reports."""

import json
import re
import subprocess
import sys

from site_builder import ROOT

MODEL_JS = ROOT / "site_plugins" / "assets" / "llmb-model.js"


def test_compare_quick_mode_runs_every_row(default_artifact, tmp_path):
    out = tmp_path / "results"
    run = subprocess.run([sys.executable, "-m", "bench.compare", "--runs", "1", "--tokens", "4",
                          "--context", "16", "32", "--artifact", str(default_artifact), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads((out / "results.json").read_text())
    summary = data["summary"]
    assert set(summary["rows"]) == {"native", "pyodide", "plain_js", "wllama"}
    for row, metrics in summary["rows"].items():
        assert metrics["decode_tok_s"]["median"] > 0, row
        assert metrics["ttft_ms"]["median"] > 0, row
        assert metrics["peak_mb"]["median"] > 50, row
    assert summary["checks"]["pyodide_greedy_equals_plain_js"]
    for row in ("pyodide", "plain_js"):
        agreeing, of = summary["checks"][f"{row}_tokens_agreeing_with_native"].split("/")
        assert int(of) == 4 and 0 <= int(agreeing) <= 4
    assert summary["checks"]["turn2_feeds_only_new_tokens"]
    # Both browser rows time their phases after the session's warm-up has run all its steps.
    steps = int(re.search(r"WARM_UP_STEPS = (\d+);", MODEL_JS.read_text()).group(1))
    for row in ("pyodide", "plain_js"):
        assert [r["warm_up_steps"] for r in data["runs"][row]] == [steps], row
        assert summary["rows"][row]["warm_up_ms"]["median"] > 0, row
    assert summary["checks"]["isolated"] and summary["checks"]["threads"] >= 2
    # The model is fetched only when asked for, and is the bulk of what the page transfers.
    pyodide = summary["rows"]["pyodide"]
    assert pyodide["model_mb"]["median"] * 1e6 >= data["summary"]["meta"]["onnx_bytes"]
    assert pyodide["before_model_mb"]["median"] < pyodide["model_mb"]["median"]
    table = (out / "results.md").read_text()
    assert "| target | value | met |" in table and "wllama" in table
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "written:" in run.stdout


def test_warm_up_bench_runs_both_ways(default_artifact):
    """bench/bench_warmup.py in its quick mode: a first reply sent at once and one sent after the
    warm-up, each on a fresh page; the warm-up that was waited for ran all its steps."""
    run = subprocess.run([sys.executable, "bench/bench_warmup.py", "--rounds", "1", "--tokens", "4",
                          "--artifact", str(default_artifact)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    steps = int(re.search(r"WARM_UP_STEPS = (\d+);", MODEL_JS.read_text()).group(1))
    assert re.search(r"sent at once +decode +[\d.]+ tok/s", run.stdout), run.stdout
    assert re.search(rf"warm-up: \d+ ms after the load, {steps} runs", run.stdout), run.stdout
    assert "first reply after the warm-up / sent at once:" in run.stdout
