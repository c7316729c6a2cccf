// The same ONNX model and KV-cache session as the site (runtime/llmb-model.js), driven by a
// minimal greedy loop in JavaScript: what the chat would cost without the Python layer.
import * as model from "../runtime/llmb-model.js";

export async function timed(session, prompt, n) {
  session.reset();
  const marks = [];
  const t0 = performance.now();
  await session.feed(Int32Array.from(prompt));
  const ids = [];
  for (;;) {
    const id = session.top(1).ids[0];
    marks.push(performance.now());
    ids.push(id);
    if (ids.length >= n) break;
    await session.feed(Int32Array.of(id));
  }
  const decode = marks.length > 1 ? (marks.length - 1) / ((marks.at(-1) - marks[0]) / 1000) : null;
  return { ttft_ms: marks[0] - t0, decode_tok_s: decode, ids, prompt_tokens: prompt.length,
           fed_tokens: prompt.length + n - 1, reused_tokens: 0, window_ms: [marks[0], marks.at(-1)] };
}

// `waitForWarmUp` false: the timed phases may start at once, as a reader who sends straight away.
export async function load(modelPath, waitForWarmUp = true) {
  const base = new URL(modelPath, new URL("../", import.meta.url)).href;
  const manifest = await (await fetch(base + "manifest.json", { cache: "no-cache" })).json();
  const graph = manifest.onnx.cpu || manifest.onnx; // the file the WASM backend loads, and its weights
  const files = [graph.file, ...(graph.data ? [graph.data.file] : [])].map((f) => ({ file: f, ...manifest.files[f] }));
  const t0 = performance.now();
  const { graph: onnx, externalData } = await model.fetchGraph(base, files); // as the page loads them
  const fetchMs = performance.now() - t0;
  const session = await model.createSession("wasm", onnx, manifest, externalData, graph.session_options);
  // The page warms the session up while the reader types (ModelSession.warmUp); the timed
  // phases start once that is over, as a reader's first message usually does.
  const t1 = performance.now();
  const warmUpSteps = waitForWarmUp ? await session.warmed : null;
  return { session, fetch_ms: fetchMs, session_ms: model.timings.session_ms,
           warm_up_ms: performance.now() - t1, warm_up_steps: warmUpSteps, threads: session.threads };
}

export async function suite(session, work) {
  const out = {};
  out.cold = await timed(session, work.ctx_short, 2);
  out.ctx_short = await timed(session, work.ctx_short, work.context_tokens);
  out.chat = await timed(session, work.chat, work.tokens);
  out.ctx_long = await timed(session, work.ctx_long, work.context_tokens);
  session.reset();
  return out;
}
