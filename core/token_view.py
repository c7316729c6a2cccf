"""A rendered conversation as tokens: each with its id, text, role, whether it is a special token,
and whether supervised fine-tuning trains on it (the template and loss-mask widgets show this).

    >>> view = token_view(tok, smollm2_template, [{"role": "user", "content": "Hi"},
    ...                                          {"role": "assistant", "content": "Hello!"}])
    >>> [(r.text, r.role, r.special, r.trained) for r in view][-8:]  # doctest: +NORMALIZE_WHITESPACE
    [('<|im_start|>', 'assistant', True, False), ('ass', 'assistant', False, False),
     ('istant', 'assistant', False, False), ('\\n', 'assistant', False, False),
     ('Hello', 'assistant', False, True), ('!', 'assistant', False, True),
     ('<|im_end|>', 'assistant', True, True), ('\\n', 'assistant', False, False)]

How it is computed, for any template: rendering the first k messages marks where message k's
turn starts; rendering them with the generation prompt marks where the model's own text starts
(what the prompt already holds, such as ``<|im_start|>assistant\\n``, is not trained); the
model's text ends with the end-of-turn token. The ids are those of the whole rendered string
with special tokens recognised, except that a special-token string inside a message stays
text, split out as transformers' ``sanitize_control_tokens`` does.

``split_replies=True`` tokenizes each reply apart from the text before it, as the chat loop
does: it encodes the prompt alone, and the model then writes its reply token by token. The
whole string can merge across that seam (``</think>\n\n<tool_call>`` gives ``\n``, ``\n<``
where a prompt that ends the line gives one ``\n\n`` token), so SFT trains on this form.
"""

from dataclasses import dataclass

from .chat_template import render

_MARK_START, _MARK_END = "\U000f0000", "\U000f0001"  # private use: transformers' markers


@dataclass
class TokenRecord:
    id: int
    text: str  # the token's bytes as text (U+FFFD for a piece of a character)
    role: str  # of the turn it belongs to: system, user, assistant, tool
    special: bool  # a special token the template wrote
    trained: bool  # in the SFT loss: the model's own reply and its end-of-turn token


def _common(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _mark(value, tokens):
    """Wrap every special-token string in message values with the private-use markers."""
    if isinstance(value, str):
        value = value.replace(_MARK_START, "").replace(_MARK_END, "")
        for token in tokens:
            value = value.replace(token, f"{_MARK_START}{token}{_MARK_END}")
        return value
    if isinstance(value, dict):
        return {k: _mark(v, tokens) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark(v, tokens) for v in value]
    return value


def _encode_marked(tokenizer, chat: str) -> list:
    """transformers' encode_marked_chat: marked pieces as text, the rest with special tokens;
    pieces after the first are encoded behind a newline that is then removed."""
    pieces, rest = [], chat
    while _MARK_START in rest or _MARK_END in rest:
        i = min(p for p in (rest.find(_MARK_START), rest.find(_MARK_END)) if p >= 0)
        j = rest.find(_MARK_END, i + 1) if rest[i] == _MARK_START else -1
        inner = rest[i + 1:j] if j >= 0 else ""
        if j >= 0 and inner in tokenizer.added and _MARK_START not in inner:
            pieces += [(rest[:i], False), (inner, True)]
            rest = rest[j + 1:]
        else:  # a lone marker: dropped, but it still separates the text on either side
            pieces.append((rest[:i], False))
            rest = rest[i + 1:]
    pieces.append((rest, False))
    newline = tokenizer.encode_with_special_tokens("\n")
    ids = tokenizer.encode_with_special_tokens(pieces[0][0])
    for piece, as_text in pieces[1:]:
        if piece:
            encode = tokenizer.encode if as_text else tokenizer.encode_with_special_tokens
            piece_ids = encode("\n" + piece)
            ids += piece_ids[len(newline):] if piece_ids[:len(newline)] == newline else encode(piece)
    return ids


def token_view(tokenizer, template: str, messages: list, *, add_generation_prompt: bool = False,
               end_of_turn: str = "<|im_end|>", split_replies: bool = False, **kwargs) -> list:
    """TokenRecords of the rendered conversation; ``kwargs`` go to ``render`` (tools, enable_thinking)."""
    def draw(msgs, prompt):
        return render(template, msgs, add_generation_prompt=prompt, **kwargs)

    text = draw(messages, add_generation_prompt)
    n = len(messages)
    # Where each message's turn starts (a prefix that fails to render joins the next turn).
    starts = [0]
    for k in range(1, n + 1):
        try:
            starts.append(max(starts[-1], _common(draw(messages[:k], False), text)))
        except Exception:
            starts.append(starts[-1])
    roles = [""] * len(text)
    trained = [False] * len(text)
    replies = []  # where the model's own text of each assistant message starts
    for k, message in enumerate(messages):
        begin, end = starts[k], starts[k + 1]
        roles[begin:end] = [message["role"]] * (end - begin)
        content = message.get("content") if isinstance(message.get("content"), str) else ""
        if k == 0:
            # Text the template writes before the first turn (a default system prompt, a tools
            # block) is system text: it ends at the last turn marker before message 0's content
            # (its last occurrence: a header may repeat a short content such as "user").
            at = text.rfind(content, begin, end) if content else end
            marker = _turn_marker(draw, messages, tokenizer)
            first = max(text.rfind(marker, 0, at), 0) if marker else 0
            roles[:first] = ["system"] * first
        if message["role"] == "assistant":
            try:
                own = max(begin, min(end, _common(draw(messages[:k], True), text))) if k else begin
            except Exception:
                own = begin
            # The reply's end-of-turn token follows its content (which may contain that string).
            at = text.find(content, own, end) if content else -1
            stop = text.find(end_of_turn, at + len(content) if at >= 0 else own, end)
            stop = end if stop < 0 else stop + len(end_of_turn)
            trained[own:stop] = [True] * (stop - own)
            replies.append(own)
    roles[starts[n]:] = ["assistant" if add_generation_prompt else messages[-1]["role"]] * (len(text) - starts[n])
    cuts = sorted(set(replies) - {0}) if split_replies else []
    return _records(tokenizer, template, messages, kwargs, add_generation_prompt, text, roles, trained, cuts)


def _turn_marker(draw, messages, tokenizer) -> str:
    """The special token that opens a turn: the one the generation prompt starts with."""
    prompt = draw(messages, True)[len(draw(messages, False)):]
    return next((t for t in tokenizer.added if prompt.startswith(t)), "")


def _split(marked: str, cuts: list) -> list:
    """``marked`` cut at the unmarked positions ``cuts``; a marker goes with the text after it."""
    if not cuts:
        return [marked]
    pieces, start, plain = [], 0, 0
    for i, ch in enumerate(marked):
        if ch in (_MARK_START, _MARK_END):
            continue
        if len(pieces) < len(cuts) and plain == cuts[len(pieces)]:
            j = i
            while j > start and marked[j - 1] in (_MARK_START, _MARK_END):
                j -= 1
            pieces.append(marked[start:j])
            start = j
        plain += 1
    return pieces + [marked[start:]]


def _records(tokenizer, template, messages, kwargs, prompt, text, roles, trained, cuts=()) -> list:
    special = list(tokenizer.added)
    marked = _mark(messages, special)
    if marked == messages:
        ids = [i for piece in _split(text, cuts) for i in tokenizer.encode_with_special_tokens(piece)]
    else:
        chat = render(template, marked, add_generation_prompt=prompt, **kwargs)
        ids = [i for piece in _split(chat, cuts) for i in _encode_marked(tokenizer, piece)]
    # Character attributes, spread over that character's UTF-8 bytes.
    data = text.encode("utf-8")
    byte_roles, byte_trained = [], []
    for ch, role, train in zip(text, roles, trained):
        width = len(ch.encode("utf-8"))
        byte_roles += [role] * width
        byte_trained += [train] * width
    # Plain text never encodes to an added token's id (no merge builds one), so an added id in
    # the ids is a special token the template wrote.
    added_ids = set(tokenizer.added.values())
    records, at = [], 0
    for i in ids:
        piece = tokenizer.id_to_bytes(i)
        while data[at:at + len(piece)] != piece and at < len(data):
            at += 1  # a byte without a token (the tokenizer drops it) sits here
        # A token that straddles the prompt and the reply (header "\n" + reply " ") is trained,
        # as in transformers' assistant mask: the model has to produce part of it.
        records.append(TokenRecord(i, piece.decode("utf-8", errors="replace"), byte_roles[at],
                                   i in added_ids, any(byte_trained[at:at + len(piece)])))
        at += len(piece)
    return records
