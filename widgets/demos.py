"""Build-time precompute for the chapter's widgets: what needs the model, done once per model.

``demos.json`` sits in the artifact folder next to model.onnx and holds
  - ``lanes``: for each base-vs-assistant prompt, the shipped model's greedy continuation of the
    raw prompt and of the chat-formatted prompt (ids and text), made by the same generation loop
    the browser runs, here over the browser's WASM session under Node; the chat lane also keeps what the model
    predicted at each token (``steps``, widgets/predictions.py);
  - ``preference``: the log-likelihood the model gives each of the two answers of the preference
    widget, after the chat-formatted prompt, with their token counts;
  - ``adapter_lanes`` (a model exported with a post-training adapter): for each request of the
    before/after widget, the greedy answer with the adapter switched off and on, both reading the
    same think/tools prompt.
It is computed on the graph file a WASM reader's "Run live" loads (the CPU file where the
artifact has one: ``RUNTIME``), keyed by that file's sha256 and the inputs below, so changing
either recomputes it.

    python -m widgets.demos artifacts/smollm2-135m-instruct-q4     # (re)compute and print

In the browser nothing here runs: the widgets' states were rendered into the page at build time.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from pathlib import Path

from core.chat import Chat
from core.chat_mode import mode_for
from core.chat_template import render
from core.generation import GenerationConfig, Generator
from core.manifest import Manifest
from .predictions import Recorder
from core.sampling import GREEDY
from core.tokenizer import Tokenizer
from core.tools import default_toolbox

VERSION = 6
# The runtime the demos run as: WASM, which every reader has, on its own arithmetic
# (backend_node.py). WebGPU readers run model.onnx, whose greedy text can differ at a near-tie;
# the lanes then say so.
RUNTIME = "wasm"
FILE = "demos.json"
MAX_NEW_TOKENS = 40  # per lane; enough to see where each lane is heading

# Requests of the before/after widget: (label, prompt, think, tools). Held-out shapes and phrasings
# (export/posttrain/data.py): the adapter never trained on these.
ADAPTER_REQUESTS = (
    ("Tools: arithmetic", "How much is (17 + 9) * 3?", False, True),
    ("Tools: local time", "Which time is it now in Denver?", False, True),
    ("Think: a word problem", "A shelf holds 24 books and there are 7 shelves. How many books are there?", True, False),
)
ADAPTER_MAX_NEW_TOKENS = 40

# Prompts of the base-vs-assistant widget.
PROMPTS = (
    "What is 2 + 2?",
    "Name three primary colors.",
    "How many legs does a spider have?",
)

# The preference widget's request and its two answers (widgets/preference.py), scored by the model.
PREFERENCE_PROMPT = "Explain recursion to a 5-year-old."
PREFERENCE_ANSWERS = {
    "A": ("Imagine you have to tidy up a big pile of blocks. You put one block in the box, then "
          "ask a helper to tidy the rest. The helper is a smaller copy of you, and does the same: "
          "one block in the box, then asks an even smaller helper. When a helper finds no blocks "
          "left, it says \"done!\" and everyone is finished. That is recursion."),
    "B": ("Recursion is when something uses recursion. To understand recursion, you first have to "
          "understand recursion. It is honestly very simple, so if you still don't get it, you are "
          "probably too little for computers."),
}


def inputs_key(model_sha256: str) -> str:
    """Hash of everything demos.json depends on."""
    blob = json.dumps([VERSION, model_sha256, PROMPTS, MAX_NEW_TOKENS, PREFERENCE_PROMPT,
                       PREFERENCE_ANSWERS, ADAPTER_REQUESTS, ADAPTER_MAX_NEW_TOKENS], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _weights_sha(folder) -> str:
    """The sha256 of what the demos' runtime loads: its graph, and its weights file where the
    graph keeps them apart (``OnnxFile.downloads``)."""
    return "+".join(f.sha256 for f in Manifest.load(folder).onnx.file_for(RUNTIME).downloads)


def lane_prompts(tokenizer, template: str, prompt: str) -> dict:
    """Token ids of both lanes: the bare text, and the text as a user turn of the chat template.

    Only the template may produce special tokens; the user's text is encoded as plain text.
    """
    # Thinking off, as the live chat with its toggle off (templates without the switch ignore it).
    chat = render(template, [{"role": "user", "content": prompt}], add_generation_prompt=True,
                  enable_thinking=False)
    return {"raw": tokenizer.encode(prompt), "chat": tokenizer.encode_with_special_tokens(chat)}


def lane_stop_ids(manifest) -> dict:
    """Stop ids per lane. The chat lane stops where a chat app stops (the manifest's stop ids,
    end-of-turn included). Bare text has no turns to end, so, as when prompting a base model,
    only the end-of-text token stops it."""
    specials = manifest.tokenizer.special_tokens
    end_of_text = specials.get("<|endoftext|>", manifest.tokenizer.eos_id)
    return {"raw": [end_of_text], "chat": list(manifest.tokenizer.stop_ids)}


async def greedy_lane(backend, tokenizer, ids: list, stop_ids: list, max_new_tokens: int = MAX_NEW_TOKENS,
                      record: bool = False) -> dict:
    """The greedy continuation of ``ids``, as the widget stores and compares it (``record``: with
    each token's predictions)."""
    generator = Generator(backend, tokenizer.id_to_bytes, stop_ids)
    recorder = Recorder(backend, GREEDY, tokenizer) if record else None
    result = await generator.generate(ids, GenerationConfig(max_new_tokens, GREEDY),
                                      on_step=recorder.on_step if recorder else None)
    return {"prompt_ids": list(ids), "stop_ids": list(stop_ids), "ids": result.ids, "text": result.text,
            "finish": result.finish_reason, **({"steps": recorder.steps} if recorder else {})}


def adapter_prompt(manifest, tokenizer, prompt: str, think: bool, tools: bool) -> list:
    """Token ids of a before/after request: the live chat's prompt with Think or Tools on."""
    mode = mode_for(manifest, think, tools)
    chat = Chat(None, tokenizer, mode.template, system=mode.system, enable_thinking=mode.enable_thinking,
                tools=default_toolbox() if mode.tools else None)
    chat.messages.append({"role": "user", "content": prompt})
    return chat.prompt_ids()


async def adapter_lane(backend, tokenizer, ids: list, stop_ids: list, scale: float,
                       max_new_tokens: int = ADAPTER_MAX_NEW_TOKENS, on_text=None, cancel=None) -> dict:
    """The greedy answer to ``ids`` with the adapter at ``scale`` (0 off, 1 on)."""
    backend.set_adapter_scale(scale)
    generator = Generator(backend, tokenizer.id_to_bytes, stop_ids)
    result = await generator.generate(ids, GenerationConfig(max_new_tokens, GREEDY), on_text=on_text,
                                      cancel=cancel)
    return {"prompt_ids": list(ids), "stop_ids": list(stop_ids), "ids": result.ids, "text": result.text,
            "finish": result.finish_reason}


def log_softmax_at(logits: list, index: int) -> float:
    """log p(index) from raw logits, in plain Python (stable)."""
    top = max(logits)
    return logits[index] - top - math.log(sum(math.exp(x - top) for x in logits))


async def sequence_logprob(backend, prompt: list, continuation: list) -> float:
    """Sum of log p(token) over ``continuation``, each given the prompt and the tokens before it."""
    backend.reset()
    await backend.feed(prompt)
    total = 0.0
    for i, token in enumerate(continuation):
        row = await backend.top(backend.vocab_size)
        total += log_softmax_at(row.logits, token)
        if i + 1 < len(continuation):
            await backend.feed([token])
    backend.reset()
    return total


async def compute(artifact_dir) -> dict:
    """Run the model over every demo input, on the browser's WASM session under Node
    (backend_node.py), so that a WASM reader's "Run live" reproduces every token."""
    from core.backend_node import NodeBackend   # a Node child process: not in the browser

    folder = Path(artifact_dir)
    backend = NodeBackend.from_artifact(folder, runtime=RUNTIME)
    try:
        return await _compute(folder, backend)
    finally:
        backend.close()


async def _compute(folder: Path, backend) -> dict:
    manifest = Manifest.load(folder)
    tokenizer = Tokenizer.from_file(folder / manifest.tokenizer.file)
    # The lanes and the preference scores are the model a reader chats with by default: Think
    # and Tools off, which is the original model (adapter off) under its own template.
    template = mode_for(manifest).template
    backend.set_adapter_scale(0.0)
    stops = lane_stop_ids(manifest)
    lanes = {}
    for prompt in PROMPTS:
        lanes[prompt] = {}
        for lane, ids in lane_prompts(tokenizer, template, prompt).items():
            lanes[prompt][lane] = await greedy_lane(backend, tokenizer, ids, stops[lane], record=lane == "chat")

    adapter_lanes = {}
    if manifest.posttrain is not None:
        for _, prompt, think, tools in ADAPTER_REQUESTS:
            ids = adapter_prompt(manifest, tokenizer, prompt, think, tools)
            adapter_lanes[prompt] = {lane: await adapter_lane(backend, tokenizer, ids, stops["chat"], scale)
                                     for lane, scale in (("off", 0.0), ("on", 1.0))}
        backend.set_adapter_scale(0.0)

    end = manifest.tokenizer.special_tokens.get("<|im_end|>", manifest.tokenizer.stop_ids[0])
    prompt_ids = lane_prompts(tokenizer, template, PREFERENCE_PROMPT)["chat"]
    logp, tokens = {}, {}
    for key, answer in PREFERENCE_ANSWERS.items():
        ids = tokenizer.encode(answer) + [end]
        logp[key] = await sequence_logprob(backend, prompt_ids, ids)
        tokens[key] = len(ids)
    return {
        "key": inputs_key(_weights_sha(folder)),
        "model": {"name": manifest.model.name, "file": manifest.onnx.file_for(RUNTIME).file,
                  "sha256": manifest.onnx.file_for(RUNTIME).sha256},
        "max_new_tokens": MAX_NEW_TOKENS,
        "lanes": lanes,
        "adapter_lanes": adapter_lanes,
        "adapter_max_new_tokens": ADAPTER_MAX_NEW_TOKENS,
        "preference": {"prompt": PREFERENCE_PROMPT, "answers": PREFERENCE_ANSWERS,
                       "logp": logp, "tokens": tokens},
    }


def ensure(artifact_dir) -> dict:
    """demos.json of ``artifact_dir``, recomputed when missing or made for other inputs."""
    folder = Path(artifact_dir)
    path = folder / FILE
    key = inputs_key(_weights_sha(folder))
    if path.is_file():
        demos = json.loads(path.read_text(encoding="utf-8"))
        if demos.get("key") == key:
            return demos
    demos = asyncio.run(compute(folder))
    path.write_text(json.dumps(demos, ensure_ascii=False, indent=1), encoding="utf-8")
    return demos


def from_ctx(ctx) -> dict:
    """The demos for a widget's build context (``widgets.build_context``): its own if given,
    else the artifact's."""
    if ctx.demos is not None:
        return ctx.demos
    if ctx.artifact_dir is None:
        raise ValueError("no artifact in the build context: the llmb-models plugin is off")
    return ensure(ctx.artifact_dir)


if __name__ == "__main__":
    import sys
    folder = sys.argv[1] if len(sys.argv) > 1 else "artifacts/smollm2-135m-instruct-q4"
    out = Path(folder) / FILE
    if out.exists():
        out.unlink()
    print(json.dumps(ensure(folder), ensure_ascii=False, indent=1))
