// The browser's WASM model session (ModelSession of site_plugins/assets/llmb-model.js, on
// onnxruntime-web's own WASM build) run by Node for core/backend_node.py: one JSON request
// per line on stdin, one JSON reply per line on stdout.
//   node backend_node.mjs LLMB_MODEL_MJS MODEL.onnx MANIFEST.json
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";
import * as ort from "onnxruntime-web";

const [modulePath, modelPath, manifestPath] = process.argv.slice(2);
const { ModelSession } = await import(pathToFileURL(modulePath).href);
const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8"));
ort.env.wasm.numThreads = 1; // the same products as the page's threads (work is split by rows, not sums)
ort.env.logLevel = "error";
// the graph's external weights, as the page passes them (llmb-model.js createSession)
const graph = [manifest.onnx, manifest.onnx.cpu].find((f) => f && modelPath.endsWith("/" + f.file));
const externalData = graph?.data
  ? [{ path: graph.data.file, data: fs.readFileSync(path.join(path.dirname(modelPath), graph.data.file)) }] : [];
const session = await ort.InferenceSession.create(fs.readFileSync(modelPath), {
  executionProviders: ["wasm"], graphOptimizationLevel: "all", logSeverityLevel: 3,
  ...(externalData.length ? { externalData } : {}),
  extra: { ...graph?.session_options },
});
const model = new ModelSession(ort, session, manifest.onnx, "wasm");

const ops = {
  feed: async ({ ids }) => { await model.feed(Int32Array.from(ids)); return model.length; },
  top: ({ n }) => {
    const best = model.top(n);
    return { ids: best.ids ? Array.from(best.ids) : null, logits: Array.from(best.logits) };
  },
  log_normalizer: () => model.logNormalizer(),
  truncate: ({ n }) => model.truncate(n),
  reset: () => { model.reset(); return 0; },
  set_adapter_scale: ({ scale }) => model.setAdapterScale(scale),
  state: () => ({ length: model.length, adapter_scale: model.adapterScale, has_adapter: model.hasAdapter }),
};

console.log(JSON.stringify({ ready: true }));
for await (const line of readline.createInterface({ input: process.stdin })) {
  const request = JSON.parse(line);
  try {
    console.log(JSON.stringify({ value: await ops[request.op](request) }));
  } catch (e) {
    console.log(JSON.stringify({ error: String(e?.message ?? e) }));
  }
}
