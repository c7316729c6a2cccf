"""The SFT dataset: seeded conversations in the site's think/tools chat template.

Five kinds, each a list of messages plus the template options it is rendered with:

- ``tool``: tools listed, the question needs one; the assistant calls it, the real tool from
  ``core.tools`` answers, the assistant states the result.
- ``no_tool``: tools listed, the question needs none; a plain answer, no call.
- ``think``: thinking on; a short worked reasoning in the think block, then the answer.
- ``think_plain``: thinking on, an everyday question; the block closes at once, a plain answer.
- ``plain``: both off; a plain answer. Training has none: with both toggles off the chat switches
  the adapter off (core/chat_mode.py). The held-out split keeps them for the teacher-forced
  agreement figure.

Plain answers come from ``answer(question)``, which the training run points at the original
model's own free-running reply (a pool of hundreds of everyday prompts, ``plain.DISTILL_PROMPTS``),
so that learning the new conventions does not teach it different everyday answers. Everything
else is computed here. Every conversation has the system message the original template writes
when it is given none, so the adapter is trained under the system prompt the original answers under.

Held-out material: the evaluation split uses other cities, time zones, expression shapes and
question phrasings than the training split, so a passing evaluation is not recall.
"""
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core.tools import SAMPLE_WEATHER, calculate, default_toolbox, get_time, get_weather

from .plain import DISTILL_PROMPTS

# Tool results that depend on the clock are computed at this instant, so the data is reproducible.
FIXED_NOW = datetime(2026, 3, 14, 9, 30, tzinfo=timezone.utc)

CITIES = {"train": ["paris", "london", "new york", "tokyo", "berlin", "sydney", "cairo"],
          "heldout": ["moscow", "rio de janeiro", "mumbai", "san francisco", "toronto"]}
ZONES = {"train": ["Europe/Paris", "Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Sydney",
                   "America/Chicago", "Asia/Kolkata", "America/Los_Angeles", "America/Mexico_City",
                   "America/Bogota", "America/Lima", "Europe/Madrid", "Asia/Singapore", "Africa/Nairobi",
                   "Asia/Dubai", "America/Argentina/Buenos_Aires", "America/Santiago", "America/Caracas",
                   "America/Montevideo", "America/Asuncion", "America/Manaus", "America/Recife",
                   "America/Belem", "America/Phoenix", "America/Vancouver", "Europe/Rome", "Europe/Athens",
                   "Europe/Istanbul", "Europe/Zurich", "Europe/Lisbon", "Asia/Seoul", "Asia/Bangkok",
                   "Asia/Hong_Kong", "Africa/Lagos", "Africa/Johannesburg", "Pacific/Auckland"],
         "heldout": ["Europe/Moscow", "America/Sao_Paulo", "Asia/Shanghai", "America/Denver", "Africa/Cairo"]}
# The place a question names for each zone; accented names teach the zone's unaccented spelling.
ZONE_PLACES = {"Europe/Paris": "Paris", "Asia/Tokyo": "Tokyo", "America/New_York": "New York",
               "Europe/London": "London", "Australia/Sydney": "Sydney", "America/Chicago": "Chicago",
               "Asia/Kolkata": "Kolkata", "America/Los_Angeles": "Los Angeles",
               "America/Mexico_City": "Mexico City", "America/Bogota": "Bogotá", "America/Lima": "Lima",
               "Europe/Madrid": "Madrid", "Asia/Singapore": "Singapore", "Africa/Nairobi": "Nairobi",
               "Asia/Dubai": "Dubai", "America/Argentina/Buenos_Aires": "Buenos Aires",
               "America/Santiago": "Santiago", "America/Caracas": "Caracas", "America/Montevideo": "Montevideo",
               "America/Asuncion": "Asunción", "America/Manaus": "Manaus", "America/Recife": "Recife",
               "America/Belem": "Belém", "America/Phoenix": "Phoenix", "America/Vancouver": "Vancouver",
               "Europe/Rome": "Rome", "Europe/Athens": "Athens", "Europe/Istanbul": "Istanbul",
               "Europe/Zurich": "Zürich", "Europe/Lisbon": "Lisbon", "Asia/Seoul": "Seoul",
               "Asia/Bangkok": "Bangkok", "Asia/Hong_Kong": "Hong Kong", "Africa/Lagos": "Lagos",
               "Africa/Johannesburg": "Johannesburg", "Pacific/Auckland": "Auckland",
               "Europe/Moscow": "Moscow", "America/Sao_Paulo": "São Paulo",
               "Asia/Shanghai": "Shanghai", "America/Denver": "Denver", "Africa/Cairo": "Cairo"}

PHRASES = {
    "train": {
        "weather": ["What's the weather like in {place}?", "How is the weather in {place} right now?",
                    "Is it warm in {place} today?", "Weather in {place}?", "Should I take a coat in {place}?",
                    "Tell me the weather for {place}.", "Is it raining in {place}?",
                    "What temperature is it in {place}?", "I'm flying to {place} tomorrow. What's the weather there?",
                    "My brother lives in {place}; is it sunny there?"],
        "calculate": ["What is {expr}?", "Calculate {expr}.", "Compute {expr} for me.", "{expr} = ?",
                      "Please evaluate {expr}.", "What do you get for {expr}?", "How much does {expr} come to?",
                      "Solve {expr}."],
        "time": ["What time is it in {place}?", "Tell me the current time in {place}.",
                 "Current time in {place}?", "What's the local time in {place}?",
                 "Is it morning or evening in {place} now?", "Give me the time in {place}, please.",
                 "My sister lives in {place}. What time is it there?",
                 "I want to phone a friend in {place}; what is the time there now?",
                 "Is it too late to ring my colleague in {place}? What's the time there?",
                 "Local time in {place}, please.", "My cousin is in {place}. What is the local time for her?",
                 "I'm about to message a client in {place}; what time is it for them?",
                 "We have a meeting with a team in {place}. What is their time right now?",
                 "What is the local time over in {place} at the moment?",
                 "Before I call my friend in {place}, tell me their local time.",
                 "How late is it in {place} now?", "Do you know the hour in {place}?"],
        "think": ["A train travels at {a} km per hour for {b} hours. How far does it go?",
                  "I buy {b} boxes with {a} pencils in each. How many pencils do I have?",
                  "There are {b} rows of {a} chairs. How many chairs are there?"],
        "chat": ["What is the capital of France?", "Give me a tip for sleeping better.",
                 "Name three colours of the rainbow.", "What is a noun?", "Why do leaves fall in autumn?",
                 "Suggest a name for a pet cat.", "What does a bee make?", "How many legs does a spider have?",
                 "What is the boiling point of water?", "Who wrote Romeo and Juliet?", "What is photosynthesis?",
                 "Give me a synonym for 'happy'.", "What is the opposite of 'cold'?", "How many days are in a week?",
                 "What colour is the sky on a clear day?", "What is an adjective?", "Why do we need sleep?",
                 "Suggest a healthy breakfast.", "What is the tallest animal?", "What language is spoken in Brazil?",
                 "Name a famous painter.", "What is gravity?", "How do birds fly?", "What is a triangle?",
                 "Tell me a fun fact about octopuses.", "What is the capital of Japan?", "What does a doctor do?",
                 "How can I save water at home?", "What is the main ingredient of bread?", "What is a river?",
                 "Why do cats purr?", "Give me a short tip for studying.", "What is the smallest prime number?",
                 "What is the freezing point of water?", "Say thank you in French.", "What is a haiku?",
                 "What do cows eat?", "Why is exercise good for you?", "What is the moon made of?",
                 "Describe a rainbow in one sentence."],
    },
    "heldout": {
        "weather": ["Could you check the weather for {place}?", "Do I need an umbrella in {place} today?"],
        "calculate": ["Work out {expr}, please.", "How much is {expr}?"],
        "time": ["Which time is it now in {place}?", "I have a call with someone in {place}: what is their local time?"],
        "think": ["A shelf holds {a} books and there are {b} shelves. How many books are there?",
                  "A runner covers {a} metres each lap and runs {b} laps. What is the total distance?"],
        "chat": ["What is the largest planet?", "Give me one word that rhymes with 'cat'.",
                 "What do plants need to grow?", "Say hello in Spanish.", "What is a verb?",
                 "Why is the sea salty?"],
    },
}

# The default system message of SmolLM2's own template (what the original model answers under).
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
# Everyday prompts of the training split: the 40 phrases and the distillation pool.
POOL = "distill"
# What runs up to the sixth used, for a recipe that does not say (its samples are regenerated).
LEGACY = {"system": "You are a helpful assistant.", "chat_prompts": "phrases"}
MIX = (("tool", 6), ("think", 2), ("no_tool", 3), ("think_plain", 2))   # relative weights of the kinds
# Share of bracketed training expressions made to open with their bracket, ``(a op b) op c``:
# held-out calculations start with one, and the seventh run dropped what follows it in two of
# them. With no preference (recipes that do not say) about half the bracketed expressions open
# with it, a quarter of all; with 0.5 about five in six, nearly two in five of all.
LEADING = 0.5
# The held-out split is drawn with the mix every run has been evaluated on, so runs compare.
HELDOUT_MIX = (("tool", 4), ("think", 3), ("no_tool", 2), ("plain", 2))
DISTILLED = ("plain", "no_tool", "think_plain")   # kinds whose reply is the original model's own


@dataclass
class Example:
    kind: str                         # tool | no_tool | think | think_plain | plain
    messages: list
    tools: list | None = None         # tool schemas when tools are on
    enable_thinking: bool | None = None
    expect: dict = field(default_factory=dict)   # what the evaluation checks (tool name, arguments)

    def render_options(self) -> dict:
        return {"tools": self.tools, "enable_thinking": self.enable_thinking}


# The held-out expression shape: a bracketed sum or difference, then a product.
HELDOUT_SHAPE = re.compile(r"\(\d+ [+-] \d+\) \* \d+")


def _expression(rng: random.Random, split: str, leading: float = 0.0) -> str:
    """Training: two to four numbers joined by + - * /, with a bracket around any inner run of
    them, in any position, except the held-out shape ``(a ± b) * c``.

    >>> _expression(random.Random(1), "heldout")
    '(10 - 38) * 3'
    """
    if split == "train":
        while True:
            expr = _random_expression(rng, leading)
            if not HELDOUT_SHAPE.fullmatch(expr):
                return expr
    a, b, c = rng.randint(2, 40), rng.randint(2, 40), rng.randint(2, 9)
    return f"({a} {rng.choice(['+', '-'])} {b}) * {c}"


def _random_expression(rng: random.Random, leading: float = 0.0) -> str:
    """``a op b``, ``a op b op c`` or ``a op b op c op d``, maybe with one bracketed inner run:
    ``(a op b) op c``, ``a op (b op c)``, ``a op (b op c) op d``... With ``leading`` > 0, that
    share of the bracketed ones open with their bracket."""
    count = rng.choice([2, 2, 3, 3, 3, 4])
    numbers = [str(rng.randint(2, 99)) for _ in range(count)]
    ops = [rng.choice(["+", "-", "*", "+", "-", "*", "/"]) for _ in range(count - 1)]
    if count > 2 and rng.random() < 0.7:
        # every inner run is equally likely; a bracket around everything would say nothing
        runs = [(i, j) for i in range(count) for j in range(i + 1, count) if j - i < count - 1]
        if leading and rng.random() < leading:
            runs = [(i, j) for i, j in runs if i == 0]
        start, end = rng.choice(runs)
        numbers[start], numbers[end] = "(" + numbers[start], numbers[end] + ")"
    return " ".join(n for pair in zip(numbers, ops + [""]) for n in pair if n)


def _tool_example(rng, split, tools, system=SYSTEM, leading=0.0) -> Example:
    which = rng.choice(["weather", "calculate", "time"])
    if which == "weather":
        city = rng.choice(CITIES[split])
        place = city.title()
        name, args, result = "get_weather", {"city": place}, get_weather(place)
        temp, sky = SAMPLE_WEATHER[city]
        final = f"In {place} it is {temp} °C and {sky} (sample data, not a live forecast)."
    elif which == "calculate":
        expr = _expression(rng, split, leading)
        place = None
        name, args, result = "calculate", {"expression": expr}, calculate(expr)
        final = f"{expr} = {result}."
    else:
        zone = rng.choice(ZONES[split])
        place = ZONE_PLACES[zone]
        name, args, result = "get_time", {"timezone": zone}, get_time(zone, now=FIXED_NOW)
        date, clock = result.split(" ")[:2]          # "2026-03-14 10:30 in Europe/Paris (UTC+0100)"
        final = f"In {place} it is {clock} on {date}."
    question = rng.choice(PHRASES[split][which]).format(place=place, expr=args.get("expression"))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question},
                {"role": "assistant", "content": "", "tool_calls": [{"name": name, "arguments": args}]},
                {"role": "tool", "content": result},
                {"role": "assistant", "content": final}]
    return Example("tool", messages, tools, False, {"tool": name, "arguments": args})


def _think_example(rng, split, system=SYSTEM) -> Example:
    a, b = rng.randint(3, 60), rng.randint(2, 12)
    phrase = rng.choice(PHRASES[split]["think"])
    question = phrase.format(a=a, b=b)
    total = a * b
    reasoning = f"There are {b} groups of {a}, so I multiply: {a} * {b} = {total}."
    answer = f"The answer is {total}."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question},
                {"role": "assistant", "content": f"<think>\n{reasoning}\n</think>\n\n{answer}"}]
    return Example("think", messages, None, True, {"answer": str(total)})


def chat_prompts(split: str, pool: str = POOL) -> list[str]:
    """The everyday questions of a split: training draws from the distillation pool too
    (``pool="distill"``), or only from the 40 phrases (``"phrases"``, runs up to the sixth)."""
    return PHRASES[split]["chat"] + (list(DISTILL_PROMPTS) if split == "train" and pool == "distill" else [])


def _chat_example(rng, split, kind, tools, answer, system=SYSTEM, pool=POOL) -> Example:
    question = rng.choice(chat_prompts(split, pool))
    reply = answer(question)
    if kind == "think_plain":
        # an everyday question needs no reasoning: the block closes at once (``teacher_messages``)
        reply = f"<think>\n\n</think>\n\n{reply}"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question},
                {"role": "assistant", "content": reply}]
    return Example(kind, messages, tools if kind == "no_tool" else None,
                   True if kind == "think_plain" else False)


def teacher_messages(example: Example) -> list:
    r"""The conversation as the original model would have had it: no think block in the reply.

    >>> e = Example("think_plain", [{"role": "user", "content": "Hi"},
    ...                             {"role": "assistant", "content": "<think>\n\n</think>\n\nHello!"}])
    >>> teacher_messages(e)[-1]["content"]
    'Hello!'
    """
    return [{**m, "content": m["content"].partition("</think>")[2].lstrip("\n")}
            if m["role"] == "assistant" and "</think>" in m["content"] else m for m in example.messages]


def examples(split: str, n: int, seed: int, answer, mix=None, system: str = SYSTEM,
             pool: str = POOL, leading: float = LEADING) -> list[Example]:
    """``n`` examples of ``split`` ("train" or "heldout"), drawn with ``seed`` in the ``mix`` ratio
    (default: ``MIX`` for training, ``HELDOUT_MIX`` for the held-out split), each with the
    ``system`` message, everyday questions from ``chat_prompts(split, pool)``, training
    expressions with the ``leading`` share of opening brackets."""
    if split not in PHRASES:
        raise ValueError(f"unknown split {split!r} (train or heldout)")
    mix = mix or (MIX if split == "train" else HELDOUT_MIX)
    rng = random.Random(seed)
    tools = default_toolbox().schemas
    kinds = [k for k, weight in mix for _ in range(weight)]
    out = []
    for _ in range(n):
        kind = rng.choice(kinds)
        if kind == "tool":
            out.append(_tool_example(rng, split, tools, system, leading))
        elif kind == "think":
            out.append(_think_example(rng, split, system))
        else:
            out.append(_chat_example(rng, split, kind, tools, answer, system, pool))
    return out
