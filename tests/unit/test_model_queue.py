"""One model, one run at a time (core/model_queue.py): runs of different widgets on one shared
backend take turns, each sees only its own context, a waiting widget says so, and Stop while
waiting leaves the model alone. Pure Python, on the counting backend."""

import asyncio

import pytest

from widgets import adapter_compare, live_chat
from core.backend import CountingBackend
from widgets.build_context import BuildContext
from core.generation import GenerationConfig, Generator
from core.model_queue import WAITING, ModelQueue, StoppedWaiting
from core.sampling import GREEDY

from test_live_chat import MANIFEST, Model, Runtime, unseeded
from test_widget_adapter_compare import ctx

CONFIG = GenerationConfig(6, GREEDY)


def token_bytes(i):
    return bytes([i % 256])


async def interleaved(a, b, queue=None):
    """Two generators on one backend, started together; each yields between tokens."""
    async def one(gen, prompt, who):
        if queue is None:
            return (await gen.generate(prompt, CONFIG)).ids
        async with queue.turn(who):
            return (await gen.generate(prompt, CONFIG)).ids
    return await asyncio.gather(one(a, [1, 2, 3], "a"), one(b, [20, 21], "b"))


def test_two_runs_on_one_backend_interleave_without_the_queue_and_not_with_it():
    alone = asyncio.run(Generator(CountingBackend(64), token_bytes, []).generate([1, 2, 3], CONFIG)).ids
    assert alone == [4, 5, 6, 7, 8, 9]
    backend = CountingBackend(64)
    mixed = asyncio.run(interleaved(Generator(backend, token_bytes, []), Generator(backend, token_bytes, [])))
    assert mixed[0] != alone            # the bug the queue exists for
    backend = CountingBackend(64)
    shared = Generator(backend, token_bytes, [])   # the widgets share the model's generator
    ordered = asyncio.run(interleaved(shared, shared, ModelQueue()))
    assert ordered == [alone, [22, 23, 24, 25, 26, 27]]
    # the second run re-fed its own prompt: nothing of the first run's context leaked into it
    assert backend.ids == [20, 21, 22, 23, 24, 25, 26]


def test_a_waiting_run_hears_who_holds_the_model_and_can_be_stopped():
    queue, heard, stop = ModelQueue(), [], asyncio.Event()

    async def go():
        async def holder():
            async with queue.turn("live_chat"):
                await asyncio.sleep(0.3)
                return "held"

        async def waiter():
            try:
                async with queue.turn("base_vs_assistant", on_wait=heard.append, cancel=stop):
                    return "ran"
            except StoppedWaiting as e:
                return str(e)

        async def press_stop():
            await asyncio.sleep(0.1)
            stop.set()

        results = await asyncio.gather(holder(), waiter(), press_stop())
        # the model is free again and the next run gets it at once
        async with queue.turn("live_chat", on_wait=heard.append):
            after = queue.holder
        return results[:2], after

    (first, second), after = asyncio.run(go())
    assert (first, second) == ("held", "stopped while waiting for the model")
    assert heard == ["live_chat"] and after == "live_chat" and not queue.busy


class Shared(Runtime):
    """Two widgets' runtimes over one model and its queue, as widgets/page.py gives them."""

    def __init__(self, model, queue, name):
        super().__init__()
        self.model, self.queue, self.name, self.statuses = model, queue, name, []

    def turn(self, model, on_wait=None):
        return self.queue.turn(self.name, on_wait, self.cancel)

    def show(self, state):
        self.statuses.append(state["status"])


def test_the_chat_and_the_lanes_at_once_both_answer_as_they_would_alone():
    """The reader sends a chat message and clicks Run live in the before/after widget while it
    streams: the lanes wait (and say so), then match the build; the chat's reply is the one it
    gives alone."""
    model = Model(MANIFEST)
    model.backend = CountingBackend(vocab_size=256, max_length=4096, adapter=True)
    model.generator = Generator(model.backend, model.tokenizer.id_to_bytes, [101])
    lanes_state = adapter_compare.initial_state({}, ctx(CountingBackend(vocab_size=256, adapter=True)))
    chat_state = live_chat.update(live_chat.initial_state({"temperature": 0}, BuildContext(manifest=MANIFEST, model_path="m/")),
                                  "draft", "hi")
    chat_state["phase"] = "ready"
    queue = ModelQueue()
    chat_rt, lanes_rt = Shared(model, queue, "live_chat"), Shared(model, queue, "adapter_compare")

    async def drain(gen):
        return [s async for s in gen]

    async def both():
        chat = asyncio.ensure_future(drain(live_chat.run(chat_state, "send", None, chat_rt)))
        await asyncio.sleep(0)   # the chat takes the model first
        lanes = asyncio.ensure_future(drain(adapter_compare.run(lanes_state, "run", None, lanes_rt)))
        return (await chat)[-1], (await lanes)[-1]

    chat, lanes = asyncio.run(both())
    alone = live_chat.initial_state({"temperature": 0}, BuildContext(manifest=MANIFEST, model_path="m/"))
    alone.update(phase="ready", draft="hi")
    solo_model = Model(MANIFEST)
    [solo] = asyncio.run(drain(live_chat.run(alone, "send", None, Shared(solo_model, ModelQueue(), "live_chat"))))
    assert unseeded(chat["messages"]) == unseeded(solo["messages"]) and chat["messages"][-1]["ids"]
    assert lanes["status"] == "Both lanes match the build-time text, token for token."
    assert WAITING in lanes_rt.statuses
