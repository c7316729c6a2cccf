// The peer: wllama (llama.cpp in WebAssembly) on the GGUF file the artifact was exported from,
// with the same greedy workload as the other rows (prompts as text; wllama tokenizes them).
import { Wllama } from "./wllama/index.js";

export async function load(ggufURL, threads) {
  const t0 = performance.now();
  const w = new Wllama({ default: new URL("./wllama/wllama.wasm", import.meta.url).href }, { suppressNativeLog: true });
  await w.loadModelFromUrl(new URL(ggufURL, import.meta.url).href, { n_ctx: 2048, n_threads: threads, useCache: false });
  return { w, load_ms: performance.now() - t0 };
}

async function timed(w, prompt, n) {
  const marks = [];
  let timings = null;
  let text = "";
  const t0 = performance.now();
  await w.createCompletion({
    prompt, max_tokens: n, temp: 0, ignore_eos: true, stream: true,
    onData: (chunk) => {
      marks.push(performance.now());
      text += chunk.choices?.[0]?.text ?? "";
      if (chunk.timings) timings = chunk.timings;
    },
  });
  const got = timings?.predicted_n ?? marks.length;
  // Decode from wllama's own timings when it reports them (chunks may carry several tokens).
  const decode = timings && timings.predicted_n > 1 ? timings.predicted_per_second
    : marks.length > 1 ? (marks.length - 1) / ((marks.at(-1) - marks[0]) / 1000) : null;
  return { ttft_ms: marks[0] - t0, decode_tok_s: decode, tokens: got, text,
           prompt_tokens: timings?.prompt_n ?? null, reused_tokens: timings?.cache_n ?? null,
           window_ms: [marks[0], marks.at(-1)] };
}

export async function suite(w, work) {
  const out = {};
  out.cold = await timed(w, work.ctx_short, 2);
  out.ctx_short = await timed(w, work.ctx_short + " ", work.context_tokens);
  out.chat = await timed(w, work.chat, work.tokens);
  out.turn2 = await timed(w, work.chat + out.chat.text + work.turn2_suffix, 4);
  out.ctx_long = await timed(w, work.ctx_long, work.context_tokens);
  return out;
}
