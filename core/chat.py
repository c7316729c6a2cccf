"""A chat: the messages so far, rendered with the model's template and continued by a
``Generator`` that reuses the cache of the earlier turns.

Each ``send`` appends the user's message, renders the whole conversation, tokenizes it (special
tokens only where the template wrote them), drops the oldest turns if the window would overflow,
and generates. When the model asks for tools, their results are appended as ``tool`` messages and
the model continues, at most ``max_tool_rounds`` times per turn.

Example with the fake backend and a two-line template (the real ones come from the manifest):

    >>> import asyncio
    >>> from core.backend import CountingBackend
    >>> from core.sampling import GREEDY
    >>> class Bytes:                      # a tokenizer whose ids are byte values
    ...     def encode_with_special_tokens(self, text): return list(text.encode())
    ...     def id_to_bytes(self, i): return bytes([i])
    >>> render = lambda tpl, msgs, **kw: "".join(m["content"] for m in msgs) + "a"
    >>> chat = Chat(Generator(CountingBackend(vocab_size=256), Bytes().id_to_bytes, [ord("e")]),
    ...             Bytes(), template="", render=render)
    >>> reply = asyncio.run(chat.send("Hi ", GenerationConfig(5, GREEDY)))
    >>> reply.text, reply.finish_reason, chat.messages[-1]
    ('bcd', 'stop', {'role': 'assistant', 'content': 'bcd'})
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .chat_template import render as render_template
from .generation import ContextOverflow, GenerationConfig, Generator, _call

_MARK = "\ue000"  # a private-use character: where a message's own text goes back into the prompt


@dataclass
class Reply:
    text: str  # the last assistant message of the turn
    finish_reason: str  # of the last model call: "stop" | "length" | "context" | "cancelled"
    rounds: list = field(default_factory=list)  # GenerationResult of every model call this turn
    tool_messages: list = field(default_factory=list)  # tool results fed back this turn
    dropped: list = field(default_factory=list)  # oldest messages removed to fit the window


class Chat:
    def __init__(self, generator: Generator, tokenizer, template: str, *, system: str | None = None,
                 tools=None, enable_thinking: bool | None = None, max_tool_rounds: int = 3, render=None):
        self.generator = generator
        self.tokenizer = tokenizer  # needs encode_with_special_tokens and id_to_bytes
        self.template = template
        self.tools = tools  # None, or a Toolbox: .schemas for the template, .answer(reply) -> messages
        self.enable_thinking = enable_thinking
        self.max_tool_rounds = max_tool_rounds
        self._render = render or render_template  # tests and docs may pass a simpler one
        self.messages: list = [{"role": "system", "content": system}] if system else []

    @classmethod
    def from_manifest(cls, manifest, tokenizer, backend, **kwargs) -> "Chat":
        """A chat on ``backend`` with the artifact's template and stop ids. Tools are only
        offered when the template can render them."""
        if not manifest.chat_template.tools:
            kwargs.pop("tools", None)
        gen = Generator(backend, tokenizer.id_to_bytes, manifest.tokenizer.stop_ids)
        return cls(gen, tokenizer, manifest.chat_template.text, **kwargs)

    def render(self, messages: list | None = None) -> str:
        """The conversation (or ``messages``) as the template writes it, ending with the
        assistant's header."""
        render = self._render
        schemas = self.tools.schemas if self.tools is not None else None
        return render(self.template, self.messages if messages is None else messages, add_generation_prompt=True,
                      enable_thinking=self.enable_thinking, tools=schemas)

    def prompt_ids(self) -> list:
        """The rendered conversation as ids. Special-token strings that a user typed or a tool
        returned stay text: only the template's own become special tokens."""
        specials = getattr(self.tokenizer, "added", None) or ()
        outside = {i for i, m in enumerate(self.messages) if m["role"] in ("user", "tool")
                   and isinstance(m.get("content"), str) and any(s in m["content"] for s in specials)}
        if not outside:
            return self.tokenizer.encode_with_special_tokens(self.render())
        # Render with a marker in place of each such message, then put the text back and note
        # where it went.
        marked = [{**m, "content": f"{_MARK}{i}{_MARK}"} if i in outside else m for i, m in enumerate(self.messages)]
        pieces = self.render(marked).split(_MARK)
        text, spans = pieces[0], []
        for n in range(1, len(pieces), 2):
            if not pieces[n].isdigit() or int(pieces[n]) not in outside:
                break
            content = self.messages[int(pieces[n])]["content"]
            spans.append((len(text), len(text) + len(content)))
            text += content + pieces[n + 1]
        if text != self.render():
            raise ValueError("the chat template changed a message that holds a special-token string")
        return self.tokenizer.encode_with_special_tokens(text, plain=tuple(spans))

    def _first_turn(self) -> int:
        return 1 if self.messages and self.messages[0]["role"] == "system" else 0

    def _drop_oldest_turn(self) -> list:
        """Remove the oldest user turn (the user message and every answer up to the next user
        message), never the system message or the turn in progress. Returns what was removed."""
        start = self._first_turn()
        for end in range(start + 1, len(self.messages)):
            if self.messages[end]["role"] == "user":
                dropped = self.messages[start:end]
                del self.messages[start:end]
                return dropped
        return []

    def _fit(self, reserve: int) -> tuple:
        """Prompt ids that leave ``reserve`` tokens for the reply, dropping old turns as needed."""
        window = self.generator.backend.max_length
        dropped = []
        while True:
            ids = self.prompt_ids()
            if len(ids) + reserve <= window:
                return ids, dropped
            gone = self._drop_oldest_turn()
            if not gone:
                if len(ids) < window:
                    return ids, dropped  # the reply gets what room is left
                raise ContextOverflow(f"the conversation needs {len(ids)} tokens; the window holds {window}")
            dropped += gone

    async def send(self, text: str, config: GenerationConfig = GenerationConfig(), *, on_text=None,
                   on_tool=None, on_drop=None, on_step=None, cancel=None) -> Reply:
        """Add the user's ``text`` and generate the answer.

        ``on_text(piece)`` streams the model's text (every round), ``on_tool(message)`` gets each
        tool result, ``on_drop(messages)`` hears about turns dropped to fit the window,
        ``on_step`` hears each token's choice (``Generator.generate``), ``cancel`` stops between
        tokens. Callbacks may be plain or async functions.
        """
        before = list(self.messages)
        self.messages.append({"role": "user", "content": text})
        reply = Reply(text="", finish_reason="stop")
        reserve = min(config.max_new_tokens, self.generator.backend.max_length // 2)
        for round_ in range(self.max_tool_rounds + 1):
            try:
                ids, dropped = self._fit(reserve)
            except ContextOverflow:
                if round_ > 0:  # tool results filled the window: the turn ends with what it has
                    reply.finish_reason = "context"
                    break
                self.messages[:] = before  # the chat stays as it was before this message
                raise
            if dropped:
                reply.dropped += dropped
                await _call(on_drop, dropped)
            result = await self.generator.generate(ids, config, on_text=on_text, on_step=on_step, cancel=cancel)
            reply.rounds.append(result)
            reply.text, reply.finish_reason = result.text, result.finish_reason
            self.messages.append({"role": "assistant", "content": result.text})
            if result.finish_reason != "stop" or self.tools is None or round_ == self.max_tool_rounds:
                break
            answers = self.tools.answer(result.text)
            if not answers:
                break
            for message in answers:
                self.messages.append(message)
                reply.tool_messages.append(message)
                await _call(on_tool, message)
        return reply

    def reset(self) -> None:
        """Start over, keeping the system message (the backend cache is reused where it can)."""
        del self.messages[self._first_turn():]
