"""The generation loop and the chat over a pure-Python fake backend: streaming by whole
characters, stop ids, budgets, cancellation, cache reuse and the context window."""

import asyncio
import random

import pytest

from core.backend import Backend, CountingBackend
from core.chat import Chat
from core.generation import ContextOverflow, GenerationConfig, Generator, common_prefix
from core.sampling import GREEDY, SamplingConfig

STOP = 0  # byte 0 never occurs in the texts below, so it serves as the end-of-turn id


def script_scores(script):
    """Scores that make greedy decoding follow `script` (a list of ids, prompt included)."""
    def scores(ids, vocab):
        want = script[len(ids)] if len(ids) < len(script) else STOP
        return [1.0 if t == want else 0.0 for t in range(vocab)]
    return scores


class ByteTokenizer:
    """Ids are byte values: every multi-byte character spans several tokens."""

    def encode_with_special_tokens(self, text):
        return list(text.encode("utf-8"))

    def id_to_bytes(self, i):
        return bytes([i])


def run(coro):
    return asyncio.run(coro)


def generator_for(prompt_text, reply_text, max_length=1024):
    prompt = list(prompt_text.encode())
    backend = CountingBackend(vocab_size=256, max_length=max_length,
                              scores=script_scores(prompt + list(reply_text.encode())))
    return Generator(backend, ByteTokenizer().id_to_bytes, [STOP]), prompt


def test_fake_backend_satisfies_protocol():
    assert isinstance(CountingBackend(), Backend)


def test_streaming_never_splits_a_character():
    reply = "Grüße 👋🏽 from 東京, привет! 👨‍👩‍👧"
    gen, prompt = generator_for("Say hi: ", reply)
    pieces = []
    r = run(gen.generate(prompt, GenerationConfig(200, GREEDY), on_text=pieces.append))
    assert r.finish_reason == "stop" and r.ids[-1] == STOP
    assert "".join(pieces) == r.text == reply
    assert all("\ufffd" not in p for p in pieces)
    # A piece is emitted exactly when a character completes: one per character.
    assert pieces == list(reply)


def test_cut_inside_a_character_ends_with_replacement_char():
    gen, prompt = generator_for("x", "ab東")  # 東 is three bytes
    r = run(gen.generate(prompt, GenerationConfig(3, GREEDY)))
    assert r.finish_reason == "length" and r.text == "ab\ufffd"


def test_stop_id_ends_and_is_not_fed_or_shown():
    gen, prompt = generator_for("q", "done")
    r = run(gen.generate(prompt, GenerationConfig(50, GREEDY)))
    assert r.ids == list(b"done") + [STOP] and r.text == "done"
    assert gen.backend.ids == prompt + list(b"done")  # the stop id never ran
    assert r.fed_tokens == len(prompt) + 4 and gen.cached == gen.backend.ids


def test_async_callback_and_cancel_from_callback():
    gen, prompt = generator_for("q", "abcdefgh")
    cancel = asyncio.Event()
    got = []

    async def on_text(piece):
        got.append(piece)
        if len(got) == 3:
            cancel.set()

    r = run(gen.generate(prompt, GenerationConfig(50, GREEDY), on_text=on_text, cancel=cancel))
    assert r.finish_reason == "cancelled" and r.text == "abc" and got == ["a", "b", "c"]


def test_cancel_from_another_task_between_tokens():
    gen, prompt = generator_for("q", "x" * 500)

    async def main():
        flag = {"stop": False}
        task = asyncio.ensure_future(gen.generate(prompt, GenerationConfig(1000, GREEDY),
                                                  cancel=lambda: flag["stop"]))
        for _ in range(20):
            await asyncio.sleep(0)
        flag["stop"] = True
        return await task

    r = run(main())
    assert r.finish_reason == "cancelled" and 0 < len(r.ids) < 500


def test_context_window_is_never_exceeded():
    gen, prompt = generator_for("0123456789", "y" * 100, max_length=16)
    r = run(gen.generate(prompt, GenerationConfig(100, GREEDY)))
    assert r.finish_reason == "context" and len(prompt) + len(r.ids) == 16
    assert gen.backend.length <= 16
    with pytest.raises(ContextOverflow):
        run(gen.generate(list(range(1, 17)), GenerationConfig(5, GREEDY)))


def test_cache_reuse_feeds_only_new_tokens():
    backend = CountingBackend(vocab_size=50)
    gen = Generator(backend, lambda i: b"%d " % i, stop_ids=[49])
    first = [1, 2, 3, 10, 11]
    r1 = run(gen.generate(first, GenerationConfig(4, GREEDY)))
    assert r1.ids == [12, 13, 14, 15] and backend.fed == 5 + 3
    # Next turn: the old prompt, the reply (re-tokenized the same way), then new tokens.
    second = first + r1.ids + [40, 41, 42]
    r2 = run(gen.generate(second, GenerationConfig(2, GREEDY)))
    assert r2.reused_tokens == len(first) + 3  # the last reply token was never fed
    assert r2.fed_tokens == 4 + 1 and backend.fed == 8 + 5
    assert r2.ids == [43, 44]
    # A prompt that diverges early cuts the cache there.
    r3 = run(gen.generate([1, 2, 30], GenerationConfig(1, GREEDY)))
    assert r3.reused_tokens == 2 and r3.fed_tokens == 1 and r3.ids == [31]
    # The same prompt again still runs its last token, to get fresh scores.
    r4 = run(gen.generate([1, 2, 30], GenerationConfig(1, GREEDY)))
    assert r4.reused_tokens == 2 and r4.ids == [31]


class StateBackend(CountingBackend):
    """A backend with recurrent state: it cannot rewind, only start over."""

    def truncate(self, n):
        if n < self.length:
            super().truncate(0)
        return self.length


def test_backend_that_cannot_rewind_refeeds():
    backend = StateBackend(vocab_size=50)
    gen = Generator(backend, lambda i: b"", stop_ids=[49])
    run(gen.generate([1, 2, 3], GenerationConfig(3, GREEDY)))
    r = run(gen.generate([1, 2, 9], GenerationConfig(2, GREEDY)))
    assert r.reused_tokens == 0 and r.fed_tokens == 3 + 1 and r.ids == [10, 11]
    assert backend.ids == [1, 2, 9, 10]


def test_seeded_sampling_through_the_loop():
    def noisy(ids, vocab):
        r = random.Random(ids[-1] * 7919 + len(ids))
        return [r.gauss(0, 2) for _ in range(vocab)]

    def reply(seed):
        gen = Generator(CountingBackend(vocab_size=300, scores=noisy), lambda i: b"", stop_ids=[])
        cfg = GenerationConfig(40, SamplingConfig(seed=seed))
        return run(gen.generate([5, 6, 7], cfg)).ids

    assert reply(1) == reply(1)
    assert reply(1) != reply(2)


def test_each_choice_is_reported_with_what_it_was_drawn_from():
    """on_step hears every token with the candidates and penalised ids the sampler used; the
    sampler's own distribution over them gives the picked token a non-zero probability, and the
    raw probabilities from the backend's normaliser sum to one over the whole row."""
    import math

    from core.sampling import distribution

    def noisy(ids, vocab):
        r = random.Random(ids[-1] * 7919 + len(ids))
        return [r.gauss(0, 2) for _ in range(vocab)]

    backend = CountingBackend(vocab_size=300, scores=noisy)
    config = GenerationConfig(30, SamplingConfig(seed=3))
    steps = []

    async def on_step(cands, seen, token):
        dist = dict(distribution(cands, config.sampling, seen))
        full = (await backend.top(300)).logits
        z = backend.log_normalizer()
        steps.append((token, dist.get(token, 0.0), math.fsum(math.exp(s - z) for s in full), set(seen)))

    result = run(Generator(backend, lambda i: b"", stop_ids=[]).generate([5, 6, 7], config, on_step=on_step))
    assert [t for t, *_ in steps] == result.ids
    assert all(p > 0 for _, p, _, _ in steps)
    assert all(abs(total - 1.0) < 1e-9 for _, _, total, _ in steps)
    assert steps[0][3] == {5, 6, 7} and steps[1][3] == {5, 6, 7, result.ids[0]}


def test_external_use_of_the_backend_resets_the_cache():
    backend = CountingBackend(vocab_size=50)
    gen = Generator(backend, lambda i: b"", stop_ids=[])
    run(gen.generate([1, 2, 3], GenerationConfig(2, GREEDY)))
    run(backend.feed([7]))  # someone else used it
    r = run(gen.generate([1, 2, 3], GenerationConfig(1, GREEDY)))
    assert r.reused_tokens == 0 and backend.ids == [1, 2, 3]


# ---- the chat ----------------------------------------------------------------------------

def chat_render(template, messages, *, add_generation_prompt=True, enable_thinking=None, tools=None):
    """A ChatML-like template over bytes; byte 1 stands for the end of a turn."""
    out = "".join(f"<{m['role']}>{m['content']}\x01" for m in messages)
    return out + ("<assistant>" if add_generation_prompt else "")


def echo_scores(ids, vocab):
    """Answers "ok" + the last user character, then ends the turn (id 1)."""
    text = bytes(ids).decode("utf-8", "replace")
    head = text.rindex("<assistant>") + len("<assistant>")
    said = text[head:]
    user = text[:text.rindex("\x01<assistant>")]
    answer = ("ok" + user[-1]).encode()
    i = len(said.encode())
    want = answer[i] if i < len(answer) else 1
    return [1.0 if t == want else 0.0 for t in range(vocab)]


def make_chat(max_length=4096, **kw):
    backend = CountingBackend(vocab_size=256, max_length=max_length, scores=echo_scores)
    gen = Generator(backend, ByteTokenizer().id_to_bytes, stop_ids=[1])
    return Chat(gen, ByteTokenizer(), template="", render=chat_render, **kw), backend


def test_chat_turns_reuse_the_cache():
    chat, backend = make_chat(system="Be brief.")
    r1 = run(chat.send("Hello A", GenerationConfig(20, GREEDY)))
    assert r1.text == "okA" and r1.finish_reason == "stop"
    fed_before = backend.fed
    r2 = run(chat.send("Next B", GenerationConfig(20, GREEDY)))
    assert r2.text == "okB"
    prompt2 = chat_render("", chat.messages[:-1])
    new_part = len(prompt2.encode()) - r2.rounds[0].reused_tokens
    assert r2.rounds[0].reused_tokens == len(chat_render("", chat.messages[:2]).encode()) + len("okA")
    assert backend.fed - fed_before == new_part + len("okB")
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant", "user", "assistant"]


def test_chat_drops_oldest_turns_to_fit_and_says_so():
    chat, backend = make_chat(max_length=120, system="S")
    told = []
    dropped_total = []
    for n in range(8):
        r = run(chat.send(f"message number {n} X{n}", GenerationConfig(10, GREEDY), on_drop=told.append))
        assert r.text == f"ok{n}"
        dropped_total += r.dropped
        assert backend.length <= 120
        assert len(chat.prompt_ids()) <= 120
    assert dropped_total and told and sum(map(len, told)) == len(dropped_total)
    assert dropped_total[0] == {"role": "user", "content": "message number 0 X0"}
    assert chat.messages[0] == {"role": "system", "content": "S"}
    assert chat.messages[-2]["content"] == "message number 7 X7"


def test_chat_message_too_long_leaves_the_chat_unchanged():
    chat, _ = make_chat(max_length=60, system="S")
    run(chat.send("hi", GenerationConfig(5, GREEDY)))
    before = list(chat.messages)
    with pytest.raises(ContextOverflow):
        run(chat.send("x" * 100, GenerationConfig(5, GREEDY)))
    assert chat.messages == before


class Toolbox:
    """Answers a reply that starts with "ok" by a tool message, as a tool-call parser would."""

    schemas = [{"name": "noop"}]

    def __init__(self):
        self.calls = 0

    def answer(self, reply):
        self.calls += 1
        return [{"role": "tool", "content": f"result {self.calls} Z"}]


def test_tool_rounds_are_bounded_and_fed_back():
    box = Toolbox()
    chat, _ = make_chat(tools=box, max_tool_rounds=2)
    seen = []
    r = run(chat.send("call Q", GenerationConfig(20, GREEDY), on_tool=seen.append))
    assert box.calls == 2 and len(r.rounds) == 3 and len(seen) == 2
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert r.text == "okZ"  # the model answered after reading the last tool result


def test_worked_examples_in_docstrings():
    import doctest

    from core import backend, chat, generation, manifest, sampling

    for module in (sampling, backend, generation, chat, manifest):
        assert doctest.testmod(module).failed == 0


def test_common_prefix():
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2


def responder(respond):
    """Scores that make greedy decoding write `respond(last message)` and end the turn (id 1)."""
    def scores(ids, vocab):
        text = bytes(ids).decode("utf-8", "replace")
        head = text.rindex("<assistant>")
        said = text[head + len("<assistant>"):].encode()
        last = text[:head].rstrip("\x01")
        last = last[last.rindex("<"):]
        answer = respond(last).encode()
        want = answer[len(said)] if len(said) < len(answer) else 1
        return [1.0 if t == want else 0.0 for t in range(vocab)]
    return scores


def test_tool_calls_with_the_real_toolbox_and_errors_fed_back():
    from core.tools import default_toolbox

    def respond(last):
        if last.startswith("<user>multiply"):
            return '<tool_call>{"name": "calculate", "arguments": {"expression": "6*7"}}</tool_call>'
        if last.startswith("<user>fly"):
            return "<tool_call><function=fly></function></tool_call>"
        return "Result: " + last[len("<tool>"):][:20]

    backend = CountingBackend(vocab_size=256, scores=responder(respond))
    chat = Chat(Generator(backend, ByteTokenizer().id_to_bytes, [1]),
                ByteTokenizer(), template="", render=chat_render, tools=default_toolbox())
    r = run(chat.send("multiply six by seven", GenerationConfig(200, GREEDY)))
    assert [m["content"] for m in r.tool_messages] == ["42"] and r.text == "Result: 42"
    r = run(chat.send("fly me to the moon", GenerationConfig(200, GREEDY)))
    assert r.tool_messages[0]["content"].startswith("Error: unknown tool 'fly'")
    assert r.text.startswith("Result: Error") and r.finish_reason == "stop"
    assert [m["role"] for m in chat.messages].count("tool") == 2
