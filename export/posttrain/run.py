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


def sample(model, prompts: list, max_new_tokens: int, end: int) -> list:
    """The new ids of each prompt's reply (token ids, left-padded into one batch), sampled as the
    live chat samples by default, cut after its end-of-turn token ``end`` when it has one."""
    import torch

    from core.chat_mode import DEFAULT_SETTINGS
    from core.sampling import SamplingConfig

    width = max(len(p) for p in prompts)
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    rows = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                          do_sample=True, temperature=DEFAULT_SETTINGS["temperature"],
                          top_p=DEFAULT_SETTINGS["top_p"], top_k=SamplingConfig().top_k,
                          repetition_penalty=DEFAULT_SETTINGS["repetition_penalty"],
                          eos_token_id=end, pad_token_id=0)[:, width:].tolist()
    return [row[:row.index(end) + 1] if end in row else row for row in rows]


def frozen_replies(model, tokenizer, template: str, questions: list, seed: int,
                   max_new_tokens: int = 96, batch: int = 16, log=print) -> dict:
    """{question: reply}: the model's own free-running replies under ``template`` (give it the
    model's original template and an unmodified model: the replies it gave before
    post-training), sampled as the live chat samples by default, in seeded batches."""
    import torch

    from core.chat_template import render

    end = tokenizer.token_to_id("<|im_end|>")
    out = {}
    for start in range(0, len(questions), batch):
        chunk = questions[start:start + batch]
        prompts = [tokenizer.encode_with_special_tokens(render(
            template, [{"role": "system", "content": data.SYSTEM}, {"role": "user", "content": q}],
            add_generation_prompt=True)) for q in chunk]
        torch.manual_seed(seed * 100_003 + start)
        with torch.no_grad():
            rows = sample(model, prompts, max_new_tokens, end)
        for q, row in zip(chunk, rows):
            if row and row[-1] == end:
                out[q] = tokenizer.decode(row[:-1]).strip()
            else:   # cut off: keep it up to its last finished sentence, so it still ends
                out[q] = last_sentence(tokenizer.decode(row).strip())
        log(f"sft: original replies {min(start + batch, len(questions))}/{len(questions)}")
    return out


def sampler(tokenizer, max_new_tokens: int):
    """``generate(model, prompts) -> replies`` for on-policy distillation (``sample`` with the
    end-of-turn token)."""
    end = tokenizer.token_to_id("<|im_end|>")
    return lambda model, prompts: sample(model, prompts, max_new_tokens, end)


def last_sentence(text: str) -> str:
    """``text`` up to the end of its last finished sentence (all of it when none has finished).

    >>> last_sentence("Bread is old. It was baked in Egypt and")
    'Bread is old.'
    >>> last_sentence("No stop here")
    'No stop here'
    """
    ends = [i for i, c in enumerate(text) if c in ".!?\n" and (i + 1 == len(text) or text[i + 1] in " \n")]
    return text[:ends[-1] + 1].rstrip() if ends else text


def sft_run(model, tokenizer, template: str, out: Path, *, examples: int, steps: int, seed: int,
            template_name: str = "qwen3_tools.jinja", answer_template: str | None = None,
            lr: float = 2e-4, config: sft.LoraConfig = sft.LoraConfig(), distill: bool = False,
            reply_tokens: int = 96, on_policy: bool = False, answer=None, log=print) -> dict:
    """Train ``model`` (modified in place) and write the adapter folder; returns the recipe.

    The everyday replies are the untrained model's own free-running ones under
    ``answer_template`` (its original template), at most ``reply_tokens`` long, unless
    ``answer(question)`` is given. (The seventh run's 160 made its steps cost 47 minutes, against 25
    for the sixth's short greedy answers: each step's cost grows with its reply.)
    ``distill``: those conversations are learned as the frozen model's whole next-token
    distribution over the reply, read under ``answer_template``, so the new template changes as
    little as possible of everyday answers. ``on_policy`` (with ``distill``): each of those steps
    learns that distribution along a reply the model being trained samples at that step, at most
    ``reply_tokens`` long, so the original's replies are not generated beforehand."""
    import numpy as np
    answer_template = answer_template or template
    on_policy = on_policy and distill
    if answer is None and on_policy:
        answer = lambda question: ""   # noqa: E731  (replaced at each step by the model's own reply)
    if answer is None:
        wanted = sorted({e.messages[1]["content"] for e in data.examples("train", examples, seed, lambda q: "")
                         if e.kind in data.DISTILLED})
        log(f"sft: the original model answers {len(wanted)} everyday prompts")
        answer = frozen_replies(model, tokenizer, answer_template, wanted, seed, reply_tokens, log=log).__getitem__
    log(f"sft: building {examples} examples (seed {seed})")
    train_set = data.examples("train", examples, seed, answer)
    sequences = [sft.encode(tokenizer, template, e) for e in train_set]
    teachers = {i: sft.encode_for_teacher(tokenizer, answer_template, e)
                for i, e in enumerate(train_set) if distill and e.kind in data.DISTILLED}
    history = sft.train(model, sequences, steps=steps, lr=lr, seed=seed, config=config, teachers=teachers,
                        generate=sampler(tokenizer, reply_tokens) if on_policy else None, log=log)
    out.mkdir(parents=True, exist_ok=True)
    adapter = sft.adapter_state(model)
    arrays = {f"{name}|{part}": m.astype(np.float16) for name, (a, b) in adapter.items()
              for part, m in (("a", a), ("b", b))}
    np.savez(out / "adapter.npz", **arrays)
    recipe = {"template": template_name, "seed": seed, "examples": examples, "mix": dict(data.MIX),
              "steps": steps, "lr": lr, "distill": distill, "system": data.SYSTEM, "chat_prompts": data.POOL,
              "leading_brackets": data.LEADING, "reply_tokens": reply_tokens, "on_policy": on_policy,
              "rank": config.rank, "alpha": config.alpha,
              "targets": list(config.targets), "template_sha256": hashlib.sha256(template.encode()).hexdigest(),
              "adapter_sha256": file_sha256(out / "adapter.npz"),
              "trained_tokens": sum(sum(t[1:]) for _, t in sequences)}
    (out / "recipe.json").write_text(json.dumps(recipe, indent=1) + "\n", encoding="utf-8")
    sft.write_log(out / "training_log.json", history, {"seed": seed})
    return recipe
