"""Loss-masked LoRA supervised fine-tuning of a causal LM in torch.

Each example is rendered with the chat template and split into tokens by ``core.token_view``,
the same code the template and loss-mask widgets show: a token is a training target exactly when
its record says ``trained`` (the assistant's own text and its end-of-turn token). Every other
position (system, user, tool results, the generation prompt the app writes) has no loss.

LoRA: each targeted ``nn.Linear`` keeps its weight frozen and adds ``(B @ A) * alpha / rank``
with A [rank, in] random and B [out, rank] zero, so training starts from the original model.
``merge`` folds an adapter into plain weight arrays for the exporter.
"""
import contextlib
import json
import math
import random
from dataclasses import dataclass

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IGNORE = -100


@dataclass
class LoraConfig:
    rank: int = 8
    alpha: float = 16.0
    targets: tuple = TARGETS

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


def encode(tokenizer, template: str, example) -> tuple[list[int], list[bool]]:
    """(ids, trained) of one example, from the token view the widgets show, with each reply
    tokenized apart from the prompt before it (the tokens the chat loop gives the model)."""
    from core.token_view import token_view
    records = token_view(tokenizer, template, example.messages, split_replies=True, **example.render_options())
    return [r.id for r in records], [r.trained for r in records]


def encode_for_teacher(tokenizer, template: str, example) -> tuple[list[int], list[bool]]:
    """``encode`` as the frozen model reads the example for distillation: under ``template`` (its
    own), which knows neither tools nor thinking, so neither is passed, and the reply without the
    think block the new template adds."""
    import dataclasses

    from .data import teacher_messages
    return encode(tokenizer, template, dataclasses.replace(example, messages=teacher_messages(example),
                                                           tools=None, enable_thinking=None))


def add_lora(model, config: LoraConfig, seed: int) -> list:
    """Wrap the target linears of ``model`` in place; return the new trainable parameters."""
    import torch
    from torch import nn

    class LoraLinear(nn.Module):
        enabled = True   # off while the frozen model is the teacher (``frozen``)

        def __init__(self, base: nn.Linear, generator):
            super().__init__()
            self.base = base
            self.lora_a = nn.Parameter(torch.empty(config.rank, base.in_features))
            self.lora_b = nn.Parameter(torch.zeros(base.out_features, config.rank))
            bound = 1.0 / math.sqrt(base.in_features)
            with torch.no_grad():
                self.lora_a.uniform_(-bound, bound, generator=generator)

        def forward(self, x):
            if not self.enabled:
                return self.base(x)
            return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * config.scale

    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for name, module in sorted(model.named_modules(), key=lambda item: item[0]):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child_name in config.targets:
                wrapped = LoraLinear(child, generator)
                setattr(module, child_name, wrapped)
                params += [wrapped.lora_a, wrapped.lora_b]
    if not params:
        raise ValueError(f"no linear layer named {', '.join(config.targets)} in the model")
    return params


def adapter_state(model) -> dict:
    """{"<module path>.weight": (A, B)} as float32 numpy arrays, in module order."""
    out = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_a"):
            out[f"{name}.weight"] = (module.lora_a.detach().float().numpy().copy(),
                                     module.lora_b.detach().float().numpy().copy())
    return out


def merge(weights: dict, adapter: dict, scale: float) -> dict:
    """Plain weights with every adapted ``W`` replaced by ``W + (B @ A) * scale``."""
    import numpy as np
    merged = dict(weights)
    for name, (a, b) in adapter.items():
        if name not in weights:
            raise KeyError(f"adapter weight {name} has no base weight")
        merged[name] = (weights[name].astype(np.float32) + (b @ a) * np.float32(scale)).astype(np.float32)
    return merged


def masked_loss(model, ids: list[int], trained: list[bool]):
    """Mean cross-entropy over the trained targets of one sequence."""
    return _cross_entropy(_logits(model, ids), ids, trained)


def _logits(model, ids: list[int]):
    """Next-token logits after each prefix of ``ids`` but the whole: [len(ids) - 1, vocab]."""
    import torch
    return model(torch.tensor([ids])).logits[0, :-1]


def _cross_entropy(logits, ids: list[int], trained: list[bool]):
    import torch
    labels = torch.tensor([t if keep else IGNORE for t, keep in zip(ids[1:], trained[1:])])
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=IGNORE)


@contextlib.contextmanager
def frozen(model):
    """The model without its LoRA branches: the original model, as a teacher."""
    modules = [m for m in model.modules() if hasattr(m, "lora_a")]
    for m in modules:
        m.enabled = False
    try:
        yield model
    finally:
        for m in modules:
            m.enabled = True


def distill_loss(model, logits, ids: list[int], trained: list[bool], teacher: tuple):
    """KL(teacher || model) over the reply's next-token distributions.

    ``teacher`` is (ids, trained) of the same conversation as the frozen model should read it
    (its original template); the trained tokens end with the same reply in both, so each trained
    position of the teacher lines up with one of the student's last trained positions. Student
    tokens before those (the ``</think>`` that closes an empty think block) are new conventions
    the teacher never wrote: they get cross-entropy. The loss is the mean over all of them.
    """
    import torch
    t_ids, t_trained = teacher
    mine = [k - 1 for k in range(1, len(ids)) if trained[k]]
    theirs = [k - 1 for k in range(1, len(t_ids)) if t_trained[k]]
    extra = len(mine) - len(theirs)
    if extra < 0 or [ids[k + 1] for k in mine[extra:]] != [t_ids[k + 1] for k in theirs]:
        raise ValueError("the teacher's reply tokens differ from the student's")
    with torch.no_grad(), frozen(model):
        target = torch.log_softmax(_logits(model, t_ids)[theirs].float(), -1)
    log_p = torch.log_softmax(logits[mine], -1)
    kl = torch.nn.functional.kl_div(log_p[extra:], target, log_target=True, reduction="sum")
    new = -log_p[torch.arange(extra), torch.tensor([ids[k + 1] for k in mine[:extra]], dtype=torch.long)].sum()
    return (kl + new) / len(mine)


def rollout_prompt(student: tuple, teacher: tuple) -> list[int]:
    """The ids the model continues from in ``rollout``: the student's prompt and the trained
    tokens the teacher lacks (the ``</think>`` that closes an empty think block)."""
    ids, trained = student
    extra = sum(trained[1:]) - sum(teacher[1][1:])
    return ids[:trained.index(True, 1) + extra]


def rollout(student: tuple, teacher: tuple, reply: list[int]) -> tuple[tuple, tuple]:
    """On-policy distillation: ``student`` and ``teacher`` ((ids, trained) of one conversation as
    ``distill_loss`` takes them) with the reply replaced by ``reply``, one the model being
    trained wrote from ``rollout_prompt``.

    Learning the frozen model's distribution only along its own replies never shows the adapted
    model the states it walks into itself: under the think/tools prompt it opens answers
    differently and loops (docs/authors/posttrain.md, "Is it the prompt?"). Along the model's
    own reply, the teacher says at each step what the original would write there."""
    prompt = rollout_prompt(student, teacher)
    t_ids, t_trained = teacher
    t_prompt = t_ids[:t_trained.index(True, 1)]
    return ((prompt + reply, student[1][:len(prompt)] + [True] * len(reply)),
            (t_prompt + reply, t_trained[:len(t_prompt)] + [True] * len(reply)))


def order(n: int, steps: int, seed: int) -> list[int]:
    """The example each step trains on: passes over all ``n`` examples, each pass in a seeded
    shuffled order.

    >>> order(3, 7, 0)
    [1, 2, 0, 0, 1, 2, 2]
    """
    rng, queue, out = random.Random(seed), [], []
    for _ in range(steps):
        if not queue:
            queue = list(range(n))
            rng.shuffle(queue)
        out.append(queue.pop())
    return out


def train(model, sequences: list, *, steps: int, lr: float = 2e-4, seed: int = 0,
          config: LoraConfig = LoraConfig(), teachers: dict | None = None, generate=None,
          batch: int = 16, log=print) -> list[dict]:
    """LoRA-train ``model`` on ``sequences`` [(ids, trained)], one sequence per step in a seeded
    shuffled order; returns the training log, one {"step", "loss", "tokens"} per step.

    ``teachers`` maps a sequence's index to (ids, trained) for the frozen model: that sequence is
    trained by ``distill_loss`` instead of cross-entropy (the log still records its
    cross-entropy, and the KL under "kl"). With ``generate(model, prompts) -> replies`` its
    reply is first replaced by one the model being trained writes (``rollout``), ``batch`` of
    them at a time, for the next ``batch`` distilled steps: on this CPU a decoding step reads all
    the float32 weights whatever the batch, so one reply alone costs about as much as sixteen."""
    teachers = teachers or {}
    import torch
    torch.manual_seed(seed)
    params = add_lora(model, config, seed)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    history = []
    model.train()
    plan, rolled = order(len(sequences), steps, seed), {}
    for step, index in enumerate(plan, start=1):
        ids, trained = sequences[index]
        teacher = teachers.get(index)
        if teacher is not None and generate is not None:
            if step not in rolled:
                ahead = [(s, i) for s, i in enumerate(plan[step - 1:], start=step) if i in teachers][:batch]
                pairs = [(sequences[i], teachers[i]) for _, i in ahead]
                with torch.no_grad():
                    replies = generate(model, [rollout_prompt(*pair) for pair in pairs])
                rolled.update({s: rollout(*pair, reply) for (s, _), pair, reply in zip(ahead, pairs, replies)})
            (ids, trained), teacher = rolled.pop(step)
        logits = _logits(model, ids)
        loss = cross_entropy = _cross_entropy(logits, ids, trained)
        record = {"step": step}
        if teacher is not None:
            loss = distill_loss(model, logits, ids, trained, teacher)
            record["kl"] = round(float(loss.detach()), 5)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        history.append(record | {"loss": round(float(cross_entropy.detach()), 5), "tokens": sum(trained[1:])})
        if step == 1 or step % 10 == 0 or step == steps:
            log(f"sft: step {step}/{steps} loss {history[-1]['loss']:.4f}")
    model.eval()
    return history


def write_log(path, history: list, meta: dict):
    path.write_text(json.dumps({**meta, "steps": history}, indent=1) + "\n", encoding="utf-8")
