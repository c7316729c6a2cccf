// The model side of the browser runtime: fetching the ONNX file into the Cache API under its
// sha256, picking an onnxruntime-web build, and one session object that keeps the KV cache in
// JavaScript. core/backend_browser.py drives it through Pyodide's `js` module; only token
// ids and a few scores cross into Python.

const RUNTIME = new URL(".", import.meta.url);
const ORT_BUILDS = { webgpu: "ort/ort.webgpu.min.mjs", wasm: "ort/ort.wasm.min.mjs" };
const CACHE_NAME = "llmb-models-v1";
const orts = {};
const ortAttempts = { webgpu: 0, wasm: 0 };

export const timings = {};

// Threads need SharedArrayBuffer, which only cross-origin isolated pages get.
export function threads() {
  if (!self.crossOriginIsolated) return 1;
  return Math.max(2, Math.min(4, navigator.hardwareConcurrency || 2));
}

// A build whose start failed keeps failing (onnxruntime-web remembers a failed initialisation),
// so a retry imports a fresh instance of the module.
export function loadOrt(kind) {
  const url = new URL(ORT_BUILDS[kind], RUNTIME);
  if (ortAttempts[kind]) url.searchParams.set("attempt", ortAttempts[kind]);
  orts[kind] ??= import(url.href).then((ort) => {
    ort.env.wasm.wasmPaths = new URL("ort/", RUNTIME).href;
    ort.env.wasm.numThreads = threads();
    // On WASM the model runs in a worker, so the page (and its Stop button) stays responsive
    // while a token is computed; WebGPU work is already off the main thread.
    ort.env.wasm.proxy = kind === "wasm";
    ort.env.logLevel = "error";
    return ort;
  });
  return orts[kind];
}

// "" when WebGPU can run here, else the reason it cannot.
export async function webgpuProblem() {
  if (!navigator.gpu) return "this browser has no WebGPU";
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? "" : "WebGPU is present but found no GPU adapter";
  } catch (e) {
    return `WebGPU adapter request failed (${e.message})`;
  }
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function cacheKey(sha256) {
  // A key, never fetched: the Cache API wants a URL on this origin.
  return new URL(`llmb-cache/sha256/${sha256}`, RUNTIME).href;
}

function fileName(url) {
  return new URL(url).pathname.split("/").pop();
}

function mb(n) {
  return (n / 1e6).toFixed(1);
}

// The body of `response` into `buffer` (exactly buffer.length bytes), with progress.
async function readInto(response, buffer, name, source, onProgress) {
  const total = buffer.length;
  const reader = response.body.getReader();
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw new Error(`the download of ${name} broke off at ${mb(loaded)} of ${mb(total)} MB (${e.message})`);
    }
    const { done, value } = chunk;
    if (done) break;
    if (loaded + value.length > total) {
      reader.cancel().catch(() => {});
      throw new Error(`${name} is larger than its manifest says (${total} bytes)`);
    }
    buffer.set(value, loaded);
    loaded += value.length;
    if (performance.now() - lastReport > 100) {
      lastReport = performance.now();
      onProgress?.(loaded, total, source);
    }
  }
  if (loaded !== total) throw new Error(`the download of ${name} stopped at ${mb(loaded)} of ${mb(total)} MB`);
  onProgress?.(loaded, total, source);
  return buffer;
}

async function download(url, buffer, onProgress) {
  const name = fileName(url);
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${name} could not be downloaded (${e.message})`);
  }
  if (!response.ok) throw new Error(`${name} could not be downloaded: HTTP ${response.status}`);
  return readInto(response, buffer, name, "network", onProgress);
}

// The file at `url` as bytes whose sha256 is `sha256`: from the Cache API when a good copy is
// there, else downloaded with progress and stored. Returns {data, source, note}. `into`, a
// Uint8Array of `total` bytes, receives them instead of a new array (several files can then share
// one buffer, which onnxruntime-web hands to its worker without copying).
export async function fetchVerified(url, sha256, total, onProgress, into = null) {
  const t0 = performance.now();
  let cache = null;
  let note = "";
  try {
    cache = await caches.open(CACHE_NAME);
  } catch (e) {
    note = "browser storage is unavailable: the model is kept in memory only";
  }
  if (cache) {
    const hit = await cache.match(cacheKey(sha256));
    if (hit) {
      let data = null;
      try {
        data = await readInto(hit, into ?? new Uint8Array(total), fileName(url), "cache", onProgress);
      } catch (e) {
        // a cached copy of another length: damaged, like one with another sha256
      }
      if (data && (await sha256Hex(data)) === sha256) {
        onProgress?.(data.length, total, "cache");
        timings.fetch_ms = performance.now() - t0;
        return { data, source: "cache", note };
      }
      await cache.delete(cacheKey(sha256));
      note = "the cached copy was damaged, so it was downloaded again";
    }
  }
  const data = await download(url, into ?? new Uint8Array(total), onProgress);
  const got = await sha256Hex(data);
  if (got !== sha256) throw new Error(`the downloaded ${fileName(url)} is damaged: its sha256 is ${got.slice(0, 12)}…, the manifest says ${sha256.slice(0, 12)}…`);
  if (cache) {
    try {
      await cache.put(cacheKey(sha256), new Response(data, { headers: { "Content-Type": "application/octet-stream" } }));
    } catch (e) {
      note = e.name === "QuotaExceededError"
        ? "browser storage is full: the model is kept in memory only and downloads again next visit"
        : `could not store the model (${e.message}): it is kept in memory only`;
    }
  }
  timings.fetch_ms = performance.now() - t0;
  return { data, source: "network", note };
}

// A graph file and its external weights (`files`: [{file, sha256, bytes}], the graph first), each
// as fetchVerified gives it, in views of one buffer: onnxruntime-web transfers the graph's buffer
// to its proxy worker (not a copy) and the weights' views travel with it, so each weight is copied
// once, into its tensor. `onProgress(file, loaded, total, source)`. Returns {graph, externalData,
// files}: the graph's bytes and the [{path, data}] createSession takes, and fetchVerified's result
// per file (its source and note).
export async function fetchGraph(base, files, onProgress = null) {
  const buffer = new Uint8Array(files.reduce((n, f) => n + f.bytes, 0));
  const got = [];
  let start = 0;
  for (const f of files) {
    const view = buffer.subarray(start, (start += f.bytes));
    const report = onProgress && ((loaded, total, source) => onProgress(f.file, loaded, total, source));
    got.push(await fetchVerified(base + f.file, f.sha256, f.bytes, report, view));
  }
  return { graph: got[0].data, externalData: files.slice(1).map((f, i) => ({ path: f.file, data: got[i + 1].data })),
           files: got };
}

// A failure as one sentence for the reader.
export function explain(error) {
  const text = String(error?.message ?? error);
  if (/out of memory|OOM|Array buffer allocation failed|RangeError: .*(memory|allocation)/i.test(text)) {
    return `not enough memory to run the model here (${text.slice(0, 120)})`;
  }
  return text;
}

function size(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

// `externalData`: [{path, data}] for a graph whose weights are in a file of their own (the CPU
// file's model.cpu.onnx.data): onnxruntime copies each weight from it straight into its tensor.
// `sessionOptions`: the file's `session_options` from the manifest, onnxruntime config entries
// it needs (the CPU file's lm_head table folds once only with them: export/ops.py).
export async function createSession(kind, modelBytes, manifest, externalData = [], sessionOptions = {}) {
  const t0 = performance.now();
  let session;
  try {
    const ort = await loadOrt(kind);
    session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: [kind],
      ...(externalData.length ? { externalData } : {}),
      extra: { ...sessionOptions },
      graphOptimizationLevel: "all",
      // ORT's native warnings (a few nodes kept on the CPU under WebGPU) reach console.error.
      logSeverityLevel: 3,
    });
  } catch (e) {
    delete orts[kind];
    ortAttempts[kind] += 1;
    throw new Error(`onnxruntime-web could not start the model on ${kind === "wasm" ? "WASM" : "WebGPU"}: ${explain(e)}`);
  }
  const ort = await orts[kind];
  timings.session_ms = performance.now() - t0;
  const modelSession = new ModelSession(ort, session, manifest.onnx, kind);
  if (kind === "wasm") modelSession.warmUp();
  if (kind === "webgpu") {
    // A lost device (driver reset, GPU reclaimed) never comes back to this onnxruntime instance:
    // the session says so, and the next WebGPU start imports a fresh one.
    modelSession.lostSignal = (await ort.env.webgpu.device).lost.then((info) => {
      modelSession.lost = info.message || info.reason || "device lost";
      delete orts.webgpu;
      ortAttempts.webgpu += 1;
    });
  }
  return modelSession;
}

// The most tokens one WebGPU run reads (ModelSession.feed).
export const WEBGPU_RUN = 16;

// The single-token runs ModelSession.warmUp spends on a scratch cache. Chromium first runs a
// page's WebAssembly from its baseline compiler and recompiles the functions that turn out hot in
// the background; on a two-core machine that recompilation competes with the model for about 30
// runs, and a reader's first reply decoded at half the speed of the second (bench/bench_warmup.py).
export const WARM_UP_STEPS = 32;

// One conversation's KV cache on top of an InferenceSession (see core/backend.py for the
// interface this serves: feed, top, truncate, reset, length).
export class ModelSession {
  constructor(ort, session, io, kind) {
    this.ort = ort;
    this.session = session;
    this.io = io;
    this.kind = kind;
    this.threads = kind === "wasm" ? ort.env.wasm.numThreads : 0;
    // The adapter switch (core/backend.py): off at first, the original model, as the chat's
    // toggles start.
    this.hasAdapter = Boolean(io.inputs.adapter_scale);
    this.adapterScale = 0;
    this.lost = ""; // why the WebGPU device was lost, once it was
    this.lostSignal = null; // settles when it is
    this.warmed = Promise.resolve(0); // warmUp's runs: settles with how many it made
    this.warming = false;
    this.reset();
  }

  // Up to `steps` single-token runs on a cache of their own, thrown away, so that the engine has
  // compiled its hot code before the reader's first reply (WARM_UP_STEPS). The conversation's cache
  // is never touched, and the next feed stops the warm-up after the run in flight.
  warmUp(steps = WARM_UP_STEPS) {
    if (this.warming) return this.warmed;
    this.warming = true;
    this.warmed = (async () => {
      let past = this.emptyCache();
      let done = 0;
      try {
        while (done < steps && this.warming) {
          const out = await this.session.run(this.feeds([done % 64 + 32], done, past));
          past.forEach((t) => t.dispose?.());
          past = this.io.cache.map((c) => out[c.output]);
          out[this.io.outputs.logits].dispose?.();
          done += 1;
        }
      } catch (e) {
        // The reader's own runs will meet the same failure and say it; a warm-up stays quiet.
      } finally {
        past.forEach((t) => t.dispose?.());
        this.warming = false;
      }
      return done;
    })();
    return this.warmed;
  }

  // A new scale makes the cache stale: it was computed with the other weights. Returns whether it changed.
  setAdapterScale(scale) {
    if (scale === this.adapterScale) return false;
    this.adapterScale = scale;
    this.reset();
    return true;
  }

  get length() {
    return this._length;
  }

  emptyCache() {
    return this.io.cache.map((c) => {
      const shape = c.shape.map((d) => (d === "past" ? 0 : d));
      return new this.ort.Tensor("float32", new Float32Array(size(shape)), shape);
    });
  }

  reset() {
    this.past?.forEach((t) => t.dispose?.());
    this.past = this.emptyCache();
    this._length = 0;
    this.last = null;
  }

  async feed(ids) {
    ids = Array.from(ids);
    if (this.warming) {
      this.warming = false; // one session runs one thing at a time: the warm-up gives way
      await this.warmed;
    }
    // On WebGPU a prefill of 32 tokens or more in one run computes wrong scores (onnxruntime-web
    // 1.30, SwiftShader: 34 tokens at once gave another top-1 margin than WASM, the same tokens fed
    // as 21 + 13 matched WASM exactly), so it goes in runs of at most WEBGPU_RUN tokens.
    const step = this.kind === "webgpu" ? WEBGPU_RUN : ids.length;
    for (let i = 0; i < ids.length; i += step) await this.feedOnce(ids.slice(i, i + step));
  }

  async feedOnce(ids) {
    if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
    const { io } = this;
    const n = ids.length;
    const start = this._length;
    let out;
    try {
      out = await this.session.run(this.feeds(ids, start, this.past));
    } catch (e) {
      // A run that fails because the device went away may fail before the device says so.
      if (this.lostSignal) await Promise.race([this.lostSignal, new Promise((r) => setTimeout(r, 500))]);
      if (this.lost) throw new Error(`the WebGPU device was lost (${this.lost})`);
      throw e;
    }
    this.past.forEach((t) => t.dispose?.());
    this.past = io.cache.map((c) => out[c.output]);
    const logits = out[io.outputs.logits];
    const [, rows, width] = logits.dims;
    this.last = logits.data.slice((rows - 1) * width, rows * width);
    logits.dispose?.();
    this._length = start + n;
  }

  // The inputs of one run: `ids` at positions from `start`, on the cache tensors `past`.
  feeds(ids, start, past) {
    const { ort, io } = this;
    const n = ids.length;
    const feeds = { [io.inputs.input_ids]: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, n]) };
    if (io.inputs.position_ids) {
      feeds[io.inputs.position_ids] = new ort.Tensor("int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(start + i)), [1, n]);
    }
    if (io.inputs.attention_mask) {
      feeds[io.inputs.attention_mask] = new ort.Tensor("int64", new BigInt64Array(start + n).fill(1n), [1, start + n]);
    }
    if (this.hasAdapter) {
      feeds[io.inputs.adapter_scale] = new ort.Tensor("float32", Float32Array.of(this.adapterScale), [1]);
    }
    io.cache.forEach((c, i) => { feeds[c.input] = past[i]; });
    return feeds;
  }

  // The n best scores of the last position: {ids: Int32Array|null, logits: Float64Array}.
  // Ties go to the lower id, as argmax does.
  top(n) {
    const row = this.last;
    if (!row) throw new Error("top() before feed()");
    if (n >= row.length) return { ids: null, logits: Float64Array.from(row) };
    if (n > 256) {
      const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, n);
      return { ids: Int32Array.from(order), logits: Float64Array.from(order, (i) => row[i]) };
    }
    const ids = new Int32Array(n).fill(-1);
    const vals = new Float64Array(n).fill(-Infinity);
    let filled = 0;
    // Keep the best n sorted descending; a candidate enters only when strictly better than the
    // worst kept, so among equal scores the earlier (lower) id stays.
    for (let id = 0; id < row.length; id++) {
      const v = row[id];
      if (filled === n && !(v > vals[n - 1])) continue;
      let j = filled < n ? filled++ : n - 1;
      while (j > 0 && vals[j - 1] < v) {
        vals[j] = vals[j - 1];
        ids[j] = ids[j - 1];
        j--;
      }
      vals[j] = v;
      ids[j] = id;
    }
    return { ids, logits: vals };
  }

  // log(sum(exp(row))) of the last position, in float64: softmax's denominator, so Python can
  // compute exact raw probabilities of the few candidates it reads.
  logNormalizer() {
    const row = this.last;
    if (!row) throw new Error("logNormalizer() before feed()");
    let top = -Infinity;
    for (let i = 0; i < row.length; i++) if (row[i] > top) top = row[i];
    let sum = 0;
    for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - top);
    return top + Math.log(sum);
  }

  // Keep the first n cached tokens; state caches cannot rewind, so they reset (returns 0).
  truncate(n) {
    if (n >= this._length) return this._length;
    if (this.io.cache.some((c) => !c.shape.includes("past"))) {
      this.reset();
      return 0;
    }
    this.past = this.past.map((t, i) => {
      const axis = this.io.cache[i].shape.indexOf("past");
      const dims = t.dims;
      const outer = size(dims.slice(0, axis));
      const inner = size(dims.slice(axis + 1));
      const old = dims[axis];
      const data = new Float32Array(outer * n * inner);
      for (let o = 0; o < outer; o++) {
        data.set(t.data.subarray(o * old * inner, (o * old + n) * inner), o * n * inner);
      }
      const shape = dims.slice();
      shape[axis] = n;
      t.dispose?.();
      return new this.ort.Tensor("float32", data, shape);
    });
    this._length = n;
    this.last = null;
    return n;
  }
}
