"""core.tokenizer against Hugging Face `tokenizers` on the checkpoint's own tokenizer.json,
in both pre-tokenizer forms (plain ByteLevel, and Digits + ByteLevel as the artifact ships)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as HFTokenizer

from gguf_tokenizer import tokenizer_files
from tokenizer_corpus import SAMPLES, corpus
from core.tokenizer import Tokenizer

CORPUS = corpus()


class Pair(tuple):
    def __repr__(self):  # hypothesis prints its arguments; the vocabulary would fill pages
        return "Pair(ours, reference)"


@pytest.fixture(scope="module", params=["plain", "digits"])
def pair(request):
    """(ours, reference) with added tokens read as text in the reference, as `encode` does."""
    path = tokenizer_files()[request.param]
    reference = HFTokenizer.from_file(str(path))
    reference.encode_special_tokens = True
    return Pair((Tokenizer.from_file(path), reference))


def test_corpus_is_broad():
    assert len(CORPUS) >= 1000
    assert len(SAMPLES) >= 12


def test_corpus_ids_equal_reference(pair):
    ours, reference = pair
    expected = [e.ids for e in reference.encode_batch(CORPUS, add_special_tokens=False)]
    mismatches = [text for text, ids in zip(CORPUS, expected) if ours.encode(text) != ids]
    assert mismatches == []


def test_decode_round_trips(pair):
    ours, reference = pair
    for text in CORPUS:
        ids = ours.encode(text)
        assert ours.decode(ids) == text
        assert reference.decode(ids, skip_special_tokens=False) == text


def test_bytes_without_a_token_are_dropped(pair):
    ours, reference = pair
    for text in ["\x1d", "a\x1db", ":\x16/", "\x04\x06x\x13", "-\x14-"]:
        assert ours.encode(text) == reference.encode(text).ids
    assert ours.encode(":\x16/") == ours.encode(":/")


# Any assigned character (the Rust side may know a newer Unicode than this Python's unicodedata,
# so unassigned code points can legitimately be classified differently), and a small alphabet
# that keeps hitting the pattern's edge cases: contractions, white space runs, digits.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=60)
EDGE_TEXT = st.text(st.sampled_from(list(" \t\n'sdtrevmlSx7½é😀\u0301\u00a0-.")), max_size=40)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(ANY_TEXT, EDGE_TEXT))
def test_hypothesis_ids_equal_reference(pair, text):
    ours, reference = pair
    assert ours.encode(text) == reference.encode(text, add_special_tokens=False).ids
    ids = ours.encode(text)
    assert ours.decode(ids) == reference.decode(ids, skip_special_tokens=False)


def test_golden_table():
    ours = Tokenizer.from_file(tokenizer_files()["digits"])
    table = {
        "Hello world": [19556, 905],
        "Hi  there's 42": [26843, 216, 665, 506, 216, 36, 34],
        "a \tb\n\n c  ": [81, 216, 197, 82, 1116, 265, 256],
    }
    for text, ids in table.items():
        assert ours.encode(text) == ids
        assert ours.decode(ids) == text


def test_digits_form_isolates_numbers():
    plain = Tokenizer.from_file(tokenizer_files()["plain"])
    digits = Tokenizer.from_file(tokenizer_files()["digits"])
    assert plain.pre_tokenize("x 42") == ["x", " 42"]
    assert digits.pre_tokenize("x 42") == ["x", " ", "4", "2"]


def test_typed_special_tokens_stay_text():
    ours = Tokenizer.from_file(tokenizer_files()["digits"])
    end = ours.token_to_id("<|im_end|>")
    assert end == 2 and ours.id_to_token(2) == "<|im_end|>"
    assert end not in ours.encode("<|im_end|>")
    assert ours.decode(ours.encode("<|im_end|>")) == "<|im_end|>"


def test_encode_with_special_tokens_equals_reference():
    path = tokenizer_files()["digits"]
    ours, reference = Tokenizer.from_file(path), HFTokenizer.from_file(str(path))
    chat = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n"
    for text in [chat, "a<|im_end|><|im_start|>b", "<|endoftext|>", "plain text only", ""]:
        assert ours.encode_with_special_tokens(text) == reference.encode(text, add_special_tokens=False).ids


def test_id_to_bytes_pieces_of_a_character():
    ours = Tokenizer.from_file(tokenizer_files()["digits"])
    ids = ours.encode("😀")
    assert b"".join(ours.id_to_bytes(i) for i in ids) == "😀".encode()
    assert len(ids) > 1 and "\ufffd" in ours.decode(ids[:1])


def test_from_str_and_unsupported_pre_tokenizer():
    spec = json.loads(tokenizer_files()["plain"].read_text(encoding="utf-8"))
    assert Tokenizer.from_str(json.dumps(spec)).encode("ok") == Tokenizer(spec).encode("ok")
    spec["pre_tokenizer"] = {"type": "Whitespace"}
    with pytest.raises(ValueError, match="pre_tokenizer"):
        Tokenizer(spec)


def test_artifact_tokenizer_equals_reference(default_artifact):
    """The exported tokenizer.json (Digits + ByteLevel), its manifest facts and its template."""
    manifest = json.loads((default_artifact / "manifest.json").read_text(encoding="utf-8"))
    path = default_artifact / manifest["tokenizer"]["file"]
    ours, reference = Tokenizer.from_file(path), HFTokenizer.from_file(str(path))
    assert json.loads(path.read_text(encoding="utf-8"))["pre_tokenizer"]["type"] == "Sequence"
    reference.encode_special_tokens = True
    expected = [e.ids for e in reference.encode_batch(CORPUS, add_special_tokens=False)]
    assert [ours.encode(text) for text in CORPUS] == expected
    for token, token_id in manifest["tokenizer"]["special_tokens"].items():
        assert ours.token_to_id(token) == token_id and ours.id_to_token(token_id) == token
    assert ours.id_to_bytes(manifest["tokenizer"]["eos_id"]) == b"<|im_end|>"

    from gguf_tokenizer import hf_tokenizer
    from core.chat_template import render

    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello 123"}]
    template = manifest["chat_template"]["text"]
    assert render(template, messages) == hf_tokenizer().apply_chat_template(
        messages, chat_template=template, tokenize=False, add_generation_prompt=True)
