"""Evaluation by free generation: what a reader of the live chat would see on held-out plain
questions, for each way the chat can be configured.

Teacher forcing feeds the model the right tokens and asks only for the next one, so it never
lets a model walk into its own loops. Here each reply is generated freely through the widgets
loop, configured by ``core.chat_mode`` exactly as the live chat is, greedy and with the live
chat's default sampling over several seeds, and scored on what the reader gets:

- ``answered``: an accepted answer among the first words of the visible reply (after the think
  block, when thinking is on);
- ``looped``: the same run of ``LOOP_WORDS`` words three times or more, or the reply reached the
  token cap on a one-line question (the run is cut as soon as a loop shows);
- ``wrong_language``: the visible reply is recognisably in another language than the question.

    >>> looped("I like it. I like it. I like it. I like it.", "stop")
    True
    >>> looped("The capital of Germany is Berlin.", "stop"), looped("Berlin", "length")
    (False, True)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor

from core.backend_native import NativeBackend
from core.chat_mode import DEFAULT_SETTINGS, generation_config, mode_for, open_chat
from core.generation import Generator
from core.manifest import Manifest
from core.tokenizer import Tokenizer
from core.tools import default_toolbox

from .plain import HELDOUT, language_of, matches

CAP = 200  # new tokens; a one-line question that needs this many has lost its way
SEEDS = (1, 2, 3)  # sampled runs per question, besides the greedy one
LOOP_WORDS, LOOP_REPEATS = 4, 3
# Processes, one onnxruntime thread each. On the 2-core build machine two single-threaded
# decoders gave 2 x 19.3 tokens/s against 30.3 for one process with two threads.
WORKERS = 2
ANSWER_WORDS = 30  # an accepted answer must come this early
# Condition -> (think, tools) toggles of the live chat.
CONDITIONS = {"off": (False, False), "tools": (False, True), "think": (True, False)}
LABELS = {"original": "Original model, its own template (plain export)",
          "off": "Site's chat, Think and Tools off (adapter off)",
          "tools": "Tools on, no tool needed (adapter on)",
          "think": "Think on (adapter on)"}
_WORD = re.compile(r"\w+")


def looped(text: str, finish: str) -> bool:
    """A word run repeated ``LOOP_REPEATS`` times, or a reply cut by the token cap (or by the
    loop check itself, which cancels it)."""
    if finish in ("length", "cancelled"):
        return True
    words = _WORD.findall(text.lower())
    seen: dict = {}
    for i in range(len(words) - LOOP_WORDS + 1):
        key = tuple(words[i:i + LOOP_WORDS])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] >= LOOP_REPEATS:
            return True
    return False


def visible(text: str, thinking: bool) -> str:
    """What the reader reads as the answer: after ``</think>`` when the prompt opened a think
    block (nothing, if the block never closed)."""
    if not thinking:
        return text
    head, sep, tail = text.partition("</think>")
    return tail if sep else ""


def outcome(s: dict) -> str:
    """One reply's score in a few letters: ``a`` answered, ``l`` looped, ``w`` wrong language,
    ``.`` none of them.

    >>> outcome({"answered": True, "looped": True, "wrong_language": False})
    'al'
    """
    return "".join(letter for key, letter in OUTCOME_LETTERS if s[key]) or "."


OUTCOME_LETTERS = (("answered", "a"), ("looped", "l"), ("wrong_language", "w"))


def score(item, text: str, finish: str, thinking: bool) -> dict:
    answer = visible(text, thinking)
    found = language_of(answer)
    return {"answered": matches(answer, item.accept, ANSWER_WORDS), "looped": looped(text, finish),
            "wrong_language": found is not None and found != item.language}


class Chatter:
    """Fresh one-question chats on one artifact, configured as the live chat is."""

    def __init__(self, folder, threads: int | None = None):
        self.manifest = Manifest.load(folder)
        self.tokenizer = Tokenizer.from_file(f"{folder}/{self.manifest.tokenizer.file}")
        self.generator = Generator(NativeBackend.from_artifact(folder, threads=threads), self.tokenizer.id_to_bytes,
                                   list(self.manifest.tokenizer.stop_ids))

    async def ask(self, prompt: str, think: bool, tools: bool, seed: int | None) -> tuple:
        """(reply text, finish reason, token ids) of a new chat's first answer."""
        mode = mode_for(self.manifest, think, tools)
        chat, _ = open_chat(mode, self.generator, self.tokenizer, default_toolbox())
        settings = dict(DEFAULT_SETTINGS, max_new_tokens=CAP, temperature=0.0 if seed is None else
                        DEFAULT_SETTINGS["temperature"])
        pieces = []
        reply = await chat.send(prompt, generation_config(settings, seed), on_text=pieces.append,
                                cancel=lambda: len(pieces) % 8 == 0 and looped("".join(pieces), "stop"))
        ids = [i for r in reply.rounds for i in r.ids]
        return reply.text, reply.finish_reason, ids


def run_condition(chatter: Chatter, think: bool, tools: bool, items=HELDOUT, seeds=SEEDS) -> dict:
    """Greedy and seeded replies to every item, scored: counts, each item's outcomes (greedy
    first, then each seed), the greedy replies' ids and the greedy misses."""
    runs = {"greedy": [None], "sampled": list(seeds)}
    counts = {kind: {"answered": 0, "looped": 0, "wrong_language": 0, "of": 0} for kind in runs}
    greedy_ids, misses, outcomes = [], [], []
    for item in items:
        outcomes.append([])
        for kind, seed_list in runs.items():
            for seed in seed_list:
                text, finish, ids = asyncio.run(chatter.ask(item.prompt, think, tools, seed))
                s = score(item, text, finish, think and chatter.manifest.chat_template.think)
                outcomes[-1].append(outcome(s))
                c = counts[kind]
                c["of"] += 1
                for key in ("answered", "looped", "wrong_language"):
                    c[key] += s[key]
                if kind == "greedy":
                    greedy_ids.append(ids)
                    if s["looped"] or not s["answered"]:
                        misses.append({"prompt": item.prompt, "reply": text[:200], **s})
    return {"counts": counts, "outcomes": outcomes, "greedy_ids": greedy_ids, "misses": misses}


def _share(task) -> dict:
    folder, think, tools, items, seeds = task
    return run_condition(Chatter(folder, threads=1), think, tools, items, seeds)


def _condition(pool, folder, think, tools, items, seeds) -> dict:
    """``run_condition`` with the items dealt out to the pool's workers, merged in item order."""
    parts = list(pool.map(_share, [(str(folder), think, tools, items[w::WORKERS], seeds) for w in range(WORKERS)]))
    counts = {kind: {key: sum(p["counts"][kind][key] for p in parts) for key in parts[0]["counts"][kind]}
              for kind in parts[0]["counts"]}
    ids, outcomes = [None] * len(items), [None] * len(items)
    for w, part in enumerate(parts):
        ids[w::WORKERS] = part["greedy_ids"]
        outcomes[w::WORKERS] = part["outcomes"]
    rates = {kind: {key: round(c[key] / max(c["of"], 1), 4) for key in ("answered", "looped", "wrong_language")}
             for kind, c in counts.items()}
    return {"rates": rates, "counts": counts, "outcomes": outcomes, "greedy_ids": ids,
            "misses": [m for part in parts for m in part["misses"]][:8]}


def evaluate(adapted_folder, original_folder, items=HELDOUT, seeds=SEEDS, log=print) -> dict:
    """The table's rows: the original export under its own template, then the site's chat with
    each configuration. With both toggles off the chat switches the adapter off, so that row must
    equal the original token for token; it is checked greedily (the same logits and seeds then
    give the same sampled replies) and only sampled again if it differs."""
    items = list(items)
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        log(f"freegen: the original model, {len(items)} questions x {1 + len(seeds)} runs")
        rows = {"original": _condition(pool, original_folder, False, False, items, seeds)}
        log("freegen: the site's chat, both toggles off, greedy")
        off = _condition(pool, adapted_folder, False, False, items, ())
        identical = sum(a == b for a, b in zip(off["greedy_ids"], rows["original"]["greedy_ids"]))
        log(f"freegen: {identical}/{len(items)} greedy replies identical to the original's")
        rows["off"] = dict(rows["original"]) if identical == len(items) else \
            _condition(pool, adapted_folder, False, False, items, seeds)
        rows["off"]["identical_greedy"] = identical
        for name in ("tools", "think"):
            log(f"freegen: {LABELS[name]}")
            think, tools = CONDITIONS[name]
            rows[name] = _condition(pool, adapted_folder, think, tools, items, seeds)
    for row in rows.values():
        row.pop("greedy_ids", None)
    return {"items": len(items), "seeds": list(seeds), "cap": CAP, "answer_words": ANSWER_WORDS,
            "loop_words": LOOP_WORDS, "sampling": {k: DEFAULT_SETTINGS[k] for k in ("temperature", "top_p",
                                                                                     "repetition_penalty")},
            "rows": rows, "targets": dict(TARGETS), "verdict": verdict(rows)}


# Adapter-on rows against the original: answer rate at least this share of the original's, loop
# rate at most the original's plus this many points (sampled runs, which readers get by default).
TARGETS = {"answer_ratio": 0.95, "loop_points": 0.02}


def verdict(rows: dict) -> dict:
    base = rows["original"]["rates"]["sampled"]
    out = {}
    for name in ("tools", "think"):
        r = rows[name]["rates"]["sampled"]
        out[name] = {"answer_ratio": round(r["answered"] / max(base["answered"], 1e-9), 4),
                     "loop_points": round(r["looped"] - base["looped"], 4)}
        out[name]["passed"] = (out[name]["answer_ratio"] >= TARGETS["answer_ratio"]
                               and out[name]["loop_points"] <= TARGETS["loop_points"])
    return out


def table(result: dict) -> str:
    lines = ["| configuration | answered (greedy) | looped (greedy) | answered (sampled) | looped (sampled) "
             "| wrong language (sampled) |", "|---|---:|---:|---:|---:|---:|"]
    for name, row in result["rows"].items():
        g, s = row["counts"]["greedy"], row["counts"]["sampled"]
        lines.append(f"| {LABELS[name]} | {g['answered']}/{g['of']} | {g['looped']}/{g['of']} | "
                     f"{s['answered']}/{s['of']} | {s['looped']}/{s['of']} | {s['wrong_language']}/{s['of']} |")
    return "\n".join(lines)
