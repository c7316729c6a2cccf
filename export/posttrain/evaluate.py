"""Evaluation of a post-trained artifact on held-out prompts, through the widgets loop.

Rates, each over held-out examples (other cities, time zones, expression shapes and phrasings
than training):

- ``tool_call``: tools on and a tool needed: the reply's first tool call parses, names the
  right tool and carries arguments that pass the tool's schema and mean the same thing (the city
  or time zone asked for; an expression with the same value).
- ``no_call``: tools on and no tool needed: the reply makes no tool call.
- ``think``: thinking on: the reply closes the think block and then says something.
- ``plain_top1`` (a secondary figure, not a gate): tools on and no tool needed, teacher-forced
  top-1 agreement with the original artifact on the original's own greedy replies to plain chat
  prompts (the original under its own template). Teacher forcing never lets a model walk into its
  own loops; ``freegen`` judges plain chat by replies generated freely.
"""
import asyncio

from core.backend_native import NativeBackend
from core.chat_template import render
from core.generation import GenerationConfig, Generator
from core.manifest import Manifest
from core.sampling import GREEDY
from core.tokenizer import Tokenizer
from core.tool_calls import ToolCallError, check_arguments, parse_tool_calls
from core.tools import calculate, default_toolbox, zone_name

from . import data

MAX_NEW_TOKENS = 96


class Runner:
    """Greedy replies from one artifact folder."""

    def __init__(self, folder):
        self.manifest = Manifest.load(folder)
        self.tokenizer = Tokenizer.from_file(f"{folder}/{self.manifest.tokenizer.file}")
        self.backend = NativeBackend.from_artifact(folder)
        self.generator = Generator(self.backend, self.tokenizer.id_to_bytes, list(self.manifest.tokenizer.stop_ids))

    def prompt_ids(self, messages, **options) -> list[int]:
        text = render(self.manifest.chat_template.text, messages, add_generation_prompt=True, **options)
        return self.tokenizer.encode_with_special_tokens(text)

    def reply(self, messages, **options) -> str:
        self.backend.set_adapter_scale(1.0 if self.manifest.posttrain else 0.0)
        self.backend.reset()
        result = asyncio.run(self.generator.generate(self.prompt_ids(messages, **options),
                                                     GenerationConfig(MAX_NEW_TOKENS, GREEDY)))
        return result.text

    def top1(self, ids: list[int]) -> list[int]:
        """Argmax after each prefix ids[:k], k = 1..len(ids) (one prefill then decode steps)."""
        async def go():
            self.backend.set_adapter_scale(1.0 if self.manifest.posttrain else 0.0)
            self.backend.reset()
            out = []
            await self.backend.feed(ids[:1])
            for token in ids[1:] + [None]:
                out.append((await self.backend.top(1)).ids[0])
                if token is not None:
                    await self.backend.feed([token])
            return out
        return asyncio.run(go())


def call_is_right(reply: str, expect: dict) -> bool:
    calls = parse_tool_calls(reply)
    if not calls or isinstance(calls[0], ToolCallError):
        return False
    call = calls[0]
    tools = default_toolbox().tools
    if call.name != expect["tool"] or call.name not in tools:
        return False
    try:
        args = check_arguments(tools[call.name].parameters, call.arguments)
    except ToolCallError:
        return False
    (key, want), = expect["arguments"].items()
    got = str(args.get(key, ""))
    if call.name == "calculate":
        return calculate(got) == calculate(want)
    if call.name == "get_time":   # the tool reads a zone as zone_name spells it
        got, want = zone_name(got), zone_name(want)
    return " ".join(got.lower().split()) == " ".join(str(want).lower().split())


def think_is_closed(reply: str) -> bool:
    """The prompt opened the block; the reply must close it once and then answer."""
    head, sep, tail = reply.partition("</think>")
    return bool(sep) and "<think>" not in tail and bool(tail.strip())


def heldout(n: int, seed: int, system: str | None) -> list:
    """The held-out examples, carrying the system message the adapter was trained with."""
    return data.examples("heldout", n, seed, answer=lambda q: "", system=system or data.SYSTEM)


def check(runner: Runner, e) -> tuple | None:
    """(rate, passed, reply) of one held-out example, or None for a kind no rate checks."""
    prompt = e.messages[:2]
    if e.kind == "tool":
        reply = runner.reply(prompt, tools=e.tools, enable_thinking=False)
        return "tool_call", call_is_right(reply, e.expect), reply
    if e.kind == "no_tool":
        reply = runner.reply(prompt, tools=e.tools, enable_thinking=False)
        return "no_call", not parse_tool_calls(reply), reply
    if e.kind == "think":
        reply = runner.reply(prompt, enable_thinking=True)
        return "think", think_is_closed(reply), reply
    return None


def evaluate(adapted_folder, original_folder, n: int = 40, seed: int = 1, log=print) -> dict:
    """The four rates on ``n`` held-out examples (plain-chat agreement on every held-out
    chat question), and whether each example passed (None for kinds not checked)."""
    adapted, original = Runner(adapted_folder), Runner(original_folder)
    post = adapted.manifest.posttrain
    examples = heldout(n, seed, post.system if post else None)
    counts = {"tool_call": [0, 0], "no_call": [0, 0], "think": [0, 0]}
    samples, passed = {}, []
    for e in examples:
        checked = check(adapted, e)
        passed.append(checked and checked[1])
        if checked is None:
            continue
        key, ok, reply = checked
        prompt = e.messages[:2]
        counts[key][0] += ok
        counts[key][1] += 1
        samples.setdefault(key, {"prompt": prompt[1]["content"], "reply": reply, "passed": ok})
        log(f"eval: {key} {'ok ' if ok else 'NO '} {prompt[1]['content'][:50]!r} -> {reply[:60]!r}")
    agree = total = 0
    for question in data.PHRASES["heldout"]["chat"]:
        messages = [{"role": "system", "content": data.SYSTEM}, {"role": "user", "content": question}]
        want_reply = original.reply(messages)
        reply_ids = original.tokenizer.encode(want_reply) + [original.manifest.tokenizer.stop_ids[0]]
        base_prompt = original.prompt_ids(messages)
        new_prompt = adapted.prompt_ids(messages, enable_thinking=False, tools=default_toolbox().schemas)
        want = original.top1(base_prompt + reply_ids)[len(base_prompt) - 1:-1]
        got = adapted.top1(new_prompt + reply_ids)[len(new_prompt) - 1:-1]
        agree += sum(a == b for a, b in zip(want, got))
        total += len(want)
    rates = {k: round(ok / max(seen, 1), 4) for k, (ok, seen) in counts.items()}
    rates["plain_top1"] = round(agree / max(total, 1), 4)
    return {"rates": rates, "counts": {k: {"passed": ok, "of": seen} for k, (ok, seen) in counts.items()}
            | {"plain_top1": {"passed": agree, "of": total}}, "targets": dict(TARGETS), "examples": n, "seed": seed,
            "samples": samples, "passed": passed}


TARGETS = {"tool_call": 0.8, "no_call": 0.8, "think": 0.8}


def table(result: dict) -> str:
    lines = ["| check | rate | target |", "|---|---:|---:|"]
    for key in result["counts"]:
        c, target = result["counts"][key], TARGETS.get(key)
        lines.append(f"| {key} | {result['rates'][key]:.3f} ({c['passed']}/{c['of']}) | "
                     f"{f'{target:.2f}' if target is not None else 'secondary'} |")
    return "\n".join(lines)
