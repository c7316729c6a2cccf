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


def frozen_replies(model, tokenizer, template: str, questions: list, seed: int,
                   max_new_tokens: int = 160, batch: int = 16, log=print) -> dict:
    """{question: reply}: the model's own free-running replies under ``template`` (give it the
    model's original template and an unmodified model: the replies it gave before
    post-training), sampled as the live chat samples by default, in seeded batches."""
    import torch

    from widgets.chat_mode import DEFAULT_SETTINGS
    from widgets.chat_template import render
    from widgets.sampling import SamplingConfig

    end = tokenizer.token_to_id("<|im_end|>")
    sampling = SamplingConfig()
    out = {}
    for start in range(0, len(questions), batch):
        chunk = questions[start:start + batch]
        prompts = [tokenizer.encode_with_special_tokens(render(
            template, [{"role": "system", "content": data.SYSTEM}, {"role": "user", "content": q}],
            add_generation_prompt=True)) for q in chunk]
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        torch.manual_seed(seed * 100_003 + start)
        with torch.no_grad():
            rows = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                  do_sample=True, temperature=DEFAULT_SETTINGS["temperature"],
                                  top_p=DEFAULT_SETTINGS["top_p"], top_k=sampling.top_k,
                                  repetition_penalty=DEFAULT_SETTINGS["repetition_penalty"],
                                  eos_token_id=end, pad_token_id=0)
        for q, row in zip(chunk, rows[:, width:].tolist()):
            reply = row[:row.index(end)] if end in row else row
            out[q] = tokenizer.decode(reply).strip()
        log(f"sft: original replies {min(start + batch, len(questions))}/{len(questions)}")
    return out


def sft_run(model, tokenizer, template: str, out: Path, *, examples: int, steps: int, seed: int,
            template_name: str = "qwen3_tools.jinja", answer_template: str | None = None,
            lr: float = 2e-4, config: sft.LoraConfig = sft.LoraConfig(), distill: bool = False,
            answer=None, log=print) -> dict:
    """Train ``model`` (modified in place) and write the adapter folder; returns the recipe.

    The everyday replies are the untrained model's own free-running ones under
    ``answer_template`` (its original template), unless ``answer(question)`` is given.
    ``distill``: those conversations are learned as the frozen model's whole next-token
    distribution over the reply, read under ``answer_template``, so the new template changes as
    little as possible of everyday answers."""
    import numpy as np
    answer_template = answer_template or template
    if answer is None:
        wanted = sorted({e.messages[1]["content"] for e in data.examples("train", examples, seed, lambda q: "")
                         if e.kind in data.DISTILLED})
        log(f"sft: the original model answers {len(wanted)} everyday prompts")
        answer = frozen_replies(model, tokenizer, answer_template, wanted, seed, log=log).__getitem__
    log(f"sft: building {examples} examples (seed {seed})")
    train_set = data.examples("train", examples, seed, answer)
    sequences = [sft.encode(tokenizer, template, e) for e in train_set]
    teachers = {i: sft.encode_for_teacher(tokenizer, answer_template, e)
                for i, e in enumerate(train_set) if distill and e.kind in data.DISTILLED}
    history = sft.train(model, sequences, steps=steps, lr=lr, seed=seed, config=config, teachers=teachers, log=log)
    out.mkdir(parents=True, exist_ok=True)
    adapter = sft.adapter_state(model)
    arrays = {f"{name}|{part}": m.astype(np.float16) for name, (a, b) in adapter.items()
              for part, m in (("a", a), ("b", b))}
    np.savez(out / "adapter.npz", **arrays)
    recipe = {"template": template_name, "seed": seed, "examples": examples, "mix": dict(data.MIX),
              "steps": steps, "lr": lr, "distill": distill, "system": data.SYSTEM, "chat_prompts": data.POOL,
              "rank": config.rank, "alpha": config.alpha,
              "targets": list(config.targets), "template_sha256": hashlib.sha256(template.encode()).hexdigest(),
              "adapter_sha256": file_sha256(out / "adapter.npz"),
              "trained_tokens": sum(sum(t[1:]) for _, t in sequences)}
    (out / "recipe.json").write_text(json.dumps(recipe, indent=1) + "\n", encoding="utf-8")
    sft.write_log(out / "training_log.json", history, {"seed": seed})
    return recipe
