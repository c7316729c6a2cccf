"""Verification: the exported graph against the torch reference of the same weights.

For each fixed chat prompt the torch reference writes a 64-token greedy continuation. The ONNX
model then reads the prompt in one prefill call and the continuation one token per decode call
(the two paths the site uses), and at each of the 64 positions its next-token
distribution is compared with torch's on the same text (teacher forcing): top-1 agreement and
KL(torch || onnx).
"""
from dataclasses import dataclass

import numpy as np

from .errors import ExportError
from .prompts import chats

# fp32 and q4 as the project requires. q8 re-quantizes the dequantized GGUF weights to 8 bits
# (a second rounding) and runs them with int8 activations (ops.ACCURACY_LEVEL): measured 0.970
# on the default model; 0.96 leaves a point for other CPUs' int8 kernels.
# "cpu": the q4 export's CPU file (int8 activations, build.CPU_FILE): 0.980 on the default
# model, 0.975 with its adapter; 0.97 is the floor for the site's WASM readers.
THRESHOLDS = {"fp32": 1.0, "q8": 0.96, "q4": 0.98, "cpu": 0.97}


@dataclass
class Verification:
    prompts: int
    tokens_per_prompt: int
    top1_agreement: float
    mean_kl: float
    threshold: float
    passed: bool

    def as_dict(self):
        return {"prompts": self.prompts, "tokens_per_prompt": self.tokens_per_prompt,
                "top1_agreement": self.top1_agreement, "mean_kl": self.mean_kl,
                "threshold": self.threshold, "passed": self.passed}


def prompt_ids(tokenizer_json: str, chat_template: str, conversations) -> list[list[int]]:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer_json))
    if not chat_template:
        return [tok.encode(c[-1]["content"]) for c in conversations]
    tok.chat_template = chat_template
    return [list(tok.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False))
            for c in conversations]


def reference_continuations(model, prompts, n_tokens):
    """Greedy continuations from torch, batched with left padding; end-of-text is suppressed so
    every continuation has exactly ``n_tokens`` tokens."""
    import torch
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=n_tokens,
                             min_new_tokens=n_tokens, do_sample=False, pad_token_id=0)
    return [row[width:].tolist() for row in out]


def torch_logits(model, ids):
    import torch
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].double().numpy()


def adapter_feeds(io, scale: float = 1.0) -> dict:
    """The adapter switch input of a graph exported with an adapter ({} for one without):
    verification compares the adapted graph, switch on, with the adapted torch reference."""
    name = io["inputs"].get("adapter_scale")
    return {name: np.array([scale], np.float32)} if name else {}


def onnx_logits(session, io, prompt, continuation):
    """Logits predicting each continuation token: one prefill call reads the prompt, then
    one-token decode calls on the returned cache read the continuation (teacher forcing), so
    both paths the site uses are compared. The graph returns the last position only."""
    switch = adapter_feeds(io)
    past = {c["input"]: np.zeros([0 if d == "past" else d for d in c["shape"]], np.float32)
            for c in io["cache"]}
    out_names = [io["outputs"]["logits"]] + [c["output"] for c in io["cache"]]
    rows = []
    for chunk in [prompt] + [[t] for t in continuation[:-1]]:
        feeds = {io["inputs"]["input_ids"]: np.array([chunk], np.int64), **switch, **past}
        logits, *caches = session.run(out_names, feeds)
        rows.append(logits[0, -1].astype(np.float64))
        past = {c["input"]: v for c, v in zip(io["cache"], caches)}
    return np.stack(rows)


def compare(ref: np.ndarray, got: np.ndarray):
    """(top-1 matches, sum of KL(ref || got)) over rows of logits."""
    def log_softmax(x):
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))
    lp, lq = log_softmax(ref), log_softmax(got)
    kl = (np.exp(lp) * (lp - lq)).sum(-1)
    return int((ref.argmax(-1) == got.argmax(-1)).sum()), float(kl.sum())


def verify(model_path, io, reference, tokenizer_json, chat_template, preset, n_tokens=64,
           log=print, conversations=None, reference_cache=None, session_options=None) -> Verification:
    """``reference_cache``: a dict that keeps torch's continuations and logits between calls on
    the same reference (the CPU file is verified on the same text as model.onnx).
    ``session_options``: the file's session config entries (its manifest ``session_options``)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # shared CPU
    for key, value in (session_options or {}).items():
        options.add_session_config_entry(key, value)
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    prompts = prompt_ids(tokenizer_json, chat_template, conversations or chats())
    cache = reference_cache if reference_cache is not None else {}
    if cache.get("prompts") != (prompts, n_tokens):
        log(f"verify: torch reference continuations ({len(prompts)} prompts x {n_tokens} tokens)")
        cache.clear()
        cache.update(prompts=(prompts, n_tokens), continuations=reference_continuations(reference, prompts, n_tokens))
    continuations = cache["continuations"]
    matches, kl_sum = 0, 0.0
    for i, (prompt, cont) in enumerate(zip(prompts, continuations)):
        if i not in cache:
            cache[i] = torch_logits(reference, prompt + cont)[len(prompt) - 1:len(prompt) - 1 + n_tokens]
        ref = cache[i]
        got = onnx_logits(session, io, prompt, cont)
        m, kl = compare(ref, got)
        matches, kl_sum = matches + m, kl_sum + kl
        log(f"verify: prompt {i + 1}/{len(prompts)}: top-1 {m}/{n_tokens}")
    total = len(prompts) * n_tokens
    threshold = THRESHOLDS.get(preset, 0.98)
    agreement = round(matches / total, 6)
    return Verification(len(prompts), n_tokens, agreement, round(kl_sum / total, 8), threshold,
                        agreement >= threshold)


def require(result: Verification, preset: str):
    if not result.passed:
        what = "the CPU file" if preset == "cpu" else f"preset {preset}"
        raise ExportError(f"verification failed for {what}: top-1 agreement "
                          f"{result.top1_agreement:.4f} < threshold {result.threshold:.3f} "
                          f"(mean KL {result.mean_kl:.5f})")
