"""Byte-level BPE tokenizer read from a Hugging Face ``tokenizer.json``, standard library only.

The same file runs in CPython and in Pyodide, so there is no ``regex`` module: the GPT-2
pre-tokenizer pattern is evaluated by classifying every character with ``unicodedata`` into a
one-letter class, then running the pattern, rewritten over those classes, with ``re``.

    >>> tok = Tokenizer.from_file("artifacts/smollm2-135m-instruct-q4/tokenizer.json")
    >>> tok.encode("Hello world")
    [19556, 905]
    >>> tok.decode([19556, 905])
    'Hello world'
    >>> tok.encode("<|im_end|>")                  # typed by a user: text, never the special token
    [44, 108, 306, 79, 486, 108, 46]
    >>> tok.encode_with_special_tokens("<|im_end|>\\n")      # only for what a template wrote
    [2, 198]
"""

import heapq
import json
import re
import unicodedata

# Unicode White_Space, which is what \s means in the Rust tokenizers' regex (Python's
# str.isspace differs: it also counts U+001C..U+001F).
_WHITE_SPACE = set("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
_WHITE_SPACE |= {chr(c) for c in range(0x2000, 0x200B)}

# Class letters: the ASCII letters the contractions need keep themselves, any other letter
# is "x", any number "0", space " ", other white space "\t", apostrophe "'", the rest "!".
_KEEP = set("derlmstv")
_LETTERS = "[derlmstvx]"
# 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ over classes.
_GPT2 = re.compile(rf"'(?:[stmd]|re|ve|ll)| ?{_LETTERS}+| ?0+| ?[!']+|[ \t]+(?![^ \t])|[ \t]+")
# With Digits(individual_digits=True) first, every number stands alone and splits the text
# into pieces: a digit never takes a leading space, and white space before it ends a piece.
_GPT2_DIGITS = re.compile(rf"'(?:[stmd]|re|ve|ll)| ?{_LETTERS}+|0| ?[!']+|[ \t]+(?![^ \t0])|[ \t]+")


class _Classes(dict):
    """str.translate table from code point to class letter, filled on first sight."""

    def __missing__(self, cp):
        c = chr(cp)
        if c == " " or c == "'" or c in _KEEP:
            cls = c
        elif c in _WHITE_SPACE:
            cls = "\t"
        else:
            # A character newer than this interpreter's Unicode tables is "Cn" here, so "other";
            # CPython 3.11 has Unicode 14, Pyodide 3.14 has 16, close to the Rust reference.
            cat = unicodedata.category(c)[0]
            cls = "x" if cat == "L" else "0" if cat == "N" else "!"
        self[cp] = cls
        return cls


def bytes_to_unicode():
    """GPT-2's map from the 256 byte values to printable characters: 32 -> 'Ġ', 10 -> 'Ċ'."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = (b for b in range(256) if b not in printable)
    table = {b: chr(b) for b in printable}
    table.update({b: chr(256 + n) for n, b in enumerate(extra)})
    return table


def _pre_tokenizer_digits(spec):
    """True for Sequence[Digits(individual_digits), ByteLevel], False for plain ByteLevel."""
    if spec and spec.get("type") == "ByteLevel" and spec.get("use_regex", True) and not spec.get("add_prefix_space"):
        return False
    steps = spec.get("pretokenizers", []) if spec else []
    if spec and spec.get("type") == "Sequence" and len(steps) == 2 and steps[0].get("type") == "Digits" \
            and steps[0].get("individual_digits") and _pre_tokenizer_digits(steps[1]) is False:
        return True
    raise ValueError(f"tokenizer.json: unsupported pre_tokenizer {json.dumps(spec)}")


class Tokenizer:
    def __init__(self, spec: dict):
        model = spec["model"]
        if model.get("type") != "BPE" or spec.get("normalizer") is not None:
            raise ValueError("tokenizer.json: only byte-level BPE without a normalizer is supported")
        self._split = (_GPT2_DIGITS if _pre_tokenizer_digits(spec.get("pre_tokenizer")) else _GPT2).finditer
        self.vocab = dict(model["vocab"])
        self.ignore_merges = model.get("ignore_merges", False)
        merges = (m.split(" ", 1) if isinstance(m, str) else m for m in model["merges"])
        self.ranks = {tuple(pair): rank for rank, pair in enumerate(merges)}
        self.added = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
        self.special_ids = {t["id"] for t in spec.get("added_tokens", []) if t.get("special")}
        self.vocab.update(self.added)
        self.inverse = {i: t for t, i in self.vocab.items()}
        byte_chars = bytes_to_unicode()
        # str.translate table from a latin-1 char (one byte) to its byte char. Bytes without a
        # token (SmolLM2 has none for 21 of the 256, e.g. 0x1d) are dropped before merging, as
        # the reference does when there is no unk token: their neighbours may then merge.
        self._byte_map = {b: c if c in self.vocab else None for b, c in byte_chars.items()}
        self._unbyte = {c: b for b, c in byte_chars.items()}
        self._classes = _Classes()
        self._cache = {}  # pre-token -> ids; words repeat a lot in any text
        by_length = sorted(self.added, key=len, reverse=True)  # longest first: leftmost-longest
        self._added_re = re.compile("|".join(map(re.escape, by_length))) if by_length else None

    @classmethod
    def from_file(cls, path) -> "Tokenizer":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    @classmethod
    def from_str(cls, text: str) -> "Tokenizer":
        return cls(json.loads(text))

    def token_to_id(self, token: str):
        return self.vocab.get(token)

    def id_to_token(self, token_id: int):
        return self.inverse.get(token_id)

    def pre_tokenize(self, text: str) -> list[str]:
        """Split into pre-tokens: "Hi  there's 42" -> ['Hi', ' ', ' there', "'s", ' 42']."""
        classes = text.translate(self._classes)
        return [text[m.start():m.end()] for m in self._split(classes)]

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, all of it plain text (special-token strings included)."""
        ids, cache = [], self._cache
        for piece in self.pre_tokenize(text):
            hit = cache.get(piece)
            if hit is None:
                hit = self._bpe(piece.encode("utf-8").decode("latin-1").translate(self._byte_map))
                if len(cache) < 100_000:
                    cache[piece] = hit
            ids.extend(hit)
        return ids

    def encode_with_special_tokens(self, text: str, plain: tuple = ()) -> list[int]:
        """Token ids of a rendered chat, where added-token strings such as <|im_start|> are
        single tokens where the chat template wrote them. ``plain``: (start, end) spans of
        ``text`` that someone else wrote (a user's message, a tool's result), where such strings
        stay text."""
        if self._added_re is None:
            return self.encode(text)
        ids, start = [], 0
        for m in self._added_re.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in plain):
                continue
            ids += self.encode(text[start:m.start()])
            ids.append(self.added[m.group()])
            start = m.end()
        return ids + self.encode(text[start:])

    def _bpe(self, word: str) -> tuple[int, ...]:
        """Merge the pair of lowest rank, leftmost first, until none is left:
        'Ġhello' -> h e l l o ... -> ('Ġhello',) as ids. A heap over a linked list of parts
        keeps a 4,000-letter word from costing a quadratic rescan after every merge."""
        if self.ignore_merges and word in self.vocab:
            return (self.vocab[word],)
        ranks, parts = self.ranks, list(word)
        nxt = [*range(1, len(parts)), -1]
        prv = list(range(-1, len(parts) - 1))
        heap = [(r, i) for i, pair in enumerate(zip(parts, parts[1:])) if (r := ranks.get(pair)) is not None]
        heapq.heapify(heap)
        while heap:
            rank, i = heapq.heappop(heap)
            j = nxt[i]
            # Stale entry: a neighbour has merged since it was pushed (ranks name pairs uniquely).
            if j < 0 or parts[i] is None or ranks.get((parts[i], parts[j])) != rank:
                continue
            parts[i] += parts[j]
            parts[j] = None
            nxt[i] = k = nxt[j]
            if k >= 0:
                prv[k] = i
                if (r := ranks.get((parts[i], parts[k]))) is not None:
                    heapq.heappush(heap, (r, i))
            if (p := prv[i]) >= 0 and (r := ranks.get((parts[p], parts[i]))) is not None:
                heapq.heappush(heap, (r, p))
        return tuple(self.vocab[p] for p in parts if p is not None)

    def id_to_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for (a piece of a UTF-8 character, possibly)."""
        token = self.inverse[token_id]
        if token in self.added:
            return token.encode("utf-8")
        return bytes(self._unbyte[c] for c in token)

    def decode(self, ids) -> str:
        """Text of `ids`; a byte sequence cut inside a character decodes to U+FFFD."""
        return b"".join(self.id_to_bytes(i) for i in ids).decode("utf-8", errors="replace")
