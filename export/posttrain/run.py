"""One SFT run: dataset -> token views -> LoRA training -> adapter folder.

The folder holds ``adapter.npz`` (float16 A and B per adapted weight), ``recipe.json`` (seed,
dataset mix and size, LoRA rank and alpha, steps, learning rate, template) and
``training_log.json`` (the loss of every step).
"""
import hashlib
import json
from pathlib import Path

from ..sources import file_sha256
from . import data, sft


def greedy_answer(model, tokenizer, template: str, max_new_tokens: int = 160):
    """The model's own greedy reply to a plain question under ``template`` (give it the model's
    original template: the reply it would give before post-training), computed once per question."""
    import functools

    import torch

    from widgets.chat_template import render

    end = tokenizer.token_to_id("<|im_end|>")

    @functools.lru_cache(maxsize=None)
    def answer(question: str) -> str:
        messages = [{"role": "system", "content": data.SYSTEM}, {"role": "user", "content": question}]
        prompt = render(template, messages, add_generation_prompt=True, enable_thinking=False)
        ids = tokenizer.encode_with_special_tokens(prompt)
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=end, pad_token_id=0)
        reply = out[0, len(ids):].tolist()
        return tokenizer.decode(reply[:reply.index(end)] if end in reply else reply).strip()
    return answer


def sft_run(model, tokenizer, template: str, out: Path, *, examples: int, steps: int, seed: int,
            template_name: str = "qwen3_tools.jinja", answer_template: str | None = None,
            lr: float = 2e-4, config: sft.LoraConfig = sft.LoraConfig(), distill: bool = False,
            answer=None, log=print) -> dict:
    """Train ``model`` (modified in place) and write the adapter folder; returns the recipe.

    ``distill``: the plain and no-tool conversations are learned as the frozen model's whole
    next-token distribution over the reply, read under ``answer_template`` (the model's own), so
    the new template changes as little as possible of everyday answers."""
    import numpy as np
    answer_template = answer_template or template
    answer = answer or greedy_answer(model, tokenizer, answer_template)
    log(f"sft: building {examples} examples (seed {seed})")
    train_set = data.examples("train", examples, seed, answer)
    sequences = [sft.encode(tokenizer, template, e) for e in train_set]
    teachers = {i: sft.encode_for_teacher(tokenizer, answer_template, e)
                for i, e in enumerate(train_set) if distill and e.kind in ("plain", "no_tool")}
    history = sft.train(model, sequences, steps=steps, lr=lr, seed=seed, config=config, teachers=teachers, log=log)
    out.mkdir(parents=True, exist_ok=True)
    adapter = sft.adapter_state(model)
    arrays = {f"{name}|{part}": m.astype(np.float16) for name, (a, b) in adapter.items()
              for part, m in (("a", a), ("b", b))}
    np.savez(out / "adapter.npz", **arrays)
    recipe = {"template": template_name, "seed": seed, "examples": examples, "mix": dict(data.MIX),
              "steps": steps, "lr": lr, "distill": distill, "rank": config.rank, "alpha": config.alpha,
              "targets": list(config.targets), "template_sha256": hashlib.sha256(template.encode()).hexdigest(),
              "adapter_sha256": file_sha256(out / "adapter.npz"),
              "trained_tokens": sum(sum(t[1:]) for _, t in sequences)}
    (out / "recipe.json").write_text(json.dumps(recipe, indent=1) + "\n", encoding="utf-8")
    sft.write_log(out / "training_log.json", history, {"seed": seed})
    return recipe
