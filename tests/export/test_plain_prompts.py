"""The plain-chat material of post-training: the held-out set is big and varied enough to score
with, it shares no prompt and no subject with the distillation pool or the SFT data, and the
language identifier and the answer matcher it is scored with behave as documented."""
import doctest
import re
from collections import Counter

import pytest

from export.posttrain import data, plain
from export.posttrain.plain import DISTILL_PROMPTS, HELDOUT, HELDOUT_SUBJECTS, language_of, matches

LANGUAGES = {"en", "fr", "es", "de", "it", "pt"}


def norm(prompt: str) -> str:
    """Written here independently of plain.normalise: lowercase, whitespace collapsed, trailing
    punctuation stripped."""
    return re.sub(r"[\s?!.:;…]+$", "", " ".join(prompt.lower().split()))


def data_prompts() -> list[str]:
    return [p for split in data.PHRASES.values() for phrases in split.values() for p in phrases]


# --- the held-out set ---------------------------------------------------------------------------

def test_heldout_size_and_spread():
    assert len(HELDOUT) >= 90
    categories = Counter(item.category for item in HELDOUT)
    assert set(categories) == {"fact", "arithmetic", "definition", "instruction", "language"}
    assert min(categories.values()) >= 12, categories
    assert sum(item.language != "en" for item in HELDOUT) >= 12
    assert {item.language for item in HELDOUT} == LANGUAGES          # all six, each used


def test_heldout_items_are_well_formed():
    assert len({norm(item.prompt) for item in HELDOUT}) == len(HELDOUT)
    for item in HELDOUT:
        assert item.prompt == item.prompt.strip() and "\n" not in item.prompt
        assert item.accept and all(form.strip() for form in item.accept), item
        assert item.language in LANGUAGES, item
        # the English ones are the English categories; the language category is the other five
        assert (item.language == "en") == (item.category != "language"), item


def test_every_heldout_item_has_a_subject_that_names_its_own_prompt():
    assert set(HELDOUT_SUBJECTS) == {item.prompt for item in HELDOUT}
    for item in HELDOUT:
        assert plain.asks_about(item.prompt, HELDOUT_SUBJECTS[item.prompt]), item.prompt


def test_heldout_prompts_are_not_training_or_distill_prompts():
    heldout = {norm(item.prompt) for item in HELDOUT}
    assert heldout.isdisjoint(norm(p) for p in data_prompts())
    assert heldout.isdisjoint(norm(p) for p in DISTILL_PROMPTS)


def test_heldout_does_not_ask_what_the_sft_data_asks():
    # data.py asks e.g. the capital of France and Japan, the largest planet, the days in a week
    for item in HELDOUT:
        for prompt in data_prompts():
            assert not plain.asks_about(prompt, HELDOUT_SUBJECTS[item.prompt]), (item.prompt, prompt)


def test_no_distill_prompt_asks_a_heldout_subject():
    for item in HELDOUT:
        about = HELDOUT_SUBJECTS[item.prompt]
        hits = [p for p in DISTILL_PROMPTS if plain.asks_about(p, about)]
        assert not hits, (item.prompt, hits)


def test_the_pool_is_disjoint_by_its_fillers_not_by_the_backstop():
    # every candidate the templates and lists make is already fresh: the check drops nothing
    candidates = plain._candidates()
    assert [p for p in candidates if not plain._fresh(p)] == []
    assert len(candidates) == len(DISTILL_PROMPTS)


def test_no_distill_prompt_names_a_heldout_answer():
    # a fact the pool never mentions cannot be taught by the prompt; numbers-as-words included
    for item in HELDOUT:
        if item.category not in ("fact", "language"):
            continue
        for form in item.accept:
            if len(form) >= 4:
                hits = [p for p in DISTILL_PROMPTS if matches(p, (form,), words=10_000)]
                assert not hits, (item.prompt, form, hits)


def test_subject_check_catches_rephrasings_in_other_languages():
    about = HELDOUT_SUBJECTS["What is the capital of Germany?"]
    assert plain.asks_about("Was ist die Hauptstadt von Deutschland?", about)
    assert plain.asks_about("Which city is Germany's capital?", about)
    assert not plain.asks_about("What is the capital of Canada?", about)
    assert not plain.asks_about("What language is spoken in Germany?", about)


# --- the distillation pool ----------------------------------------------------------------------

def test_distill_pool_size_and_distinctness():
    assert len(DISTILL_PROMPTS) >= 400
    assert len({norm(p) for p in DISTILL_PROMPTS}) == len(DISTILL_PROMPTS)
    for p in DISTILL_PROMPTS:
        assert p == p.strip() and p and "\n" not in p and "{" not in p, p


def test_distill_pool_is_not_sft_data():
    assert {norm(p) for p in DISTILL_PROMPTS}.isdisjoint(norm(p) for p in data_prompts())


def test_distill_pool_has_the_other_languages():
    languages = Counter(language_of(p) for p in DISTILL_PROMPTS)
    assert sum(languages[lang] for lang in LANGUAGES - {"en"}) >= 30, languages
    assert all(languages[lang] >= 5 for lang in LANGUAGES - {"en"}), languages


def test_distill_pool_is_deterministic():
    assert plain._distill_pool() == list(DISTILL_PROMPTS)


# --- language_of --------------------------------------------------------------------------------

def test_heldout_foreign_prompts_are_identified():
    checked = 0
    for item in HELDOUT:
        if item.language != "en" and len(item.prompt.split()) >= 4:
            assert language_of(item.prompt) == item.language, item.prompt
            checked += 1
    assert checked >= 12


ENGLISH_REPLIES = [
    "The capital of Germany is Berlin, a city with a long history.",
    "Don Quixote was written by Miguel de Cervantes.",
    "Leonardo da Vinci painted the Mona Lisa in the early sixteenth century.",
    "Pour the milk into a bowl and stir it gently.",
    "São Paulo is the largest city in Brazil.",
    "Sure! Here is a two-line poem about rain: soft drops fall, the garden drinks them all.",
    "A mammal is a warm-blooded animal that feeds its young with milk.",
    "7 times 8 is 56.",
    "The Eiffel Tower is in Paris, France.",
    "You can say merci in French, gracias in Spanish and danke in German.",
    "El Niño is a climate pattern that warms the Pacific Ocean.",
    "I am a helpful assistant. How can I help you today?",
    "Hello! I'm doing well, thank you for asking.",
    "The answer is 42.",
    "Plants die without water and sunlight.",
    "Once upon a time, a little fox lived in a forest.",
    "The Divine Comedy was written by Dante Alighieri.",
    "Vienna is the capital of Austria and a city of music.",
    "Mix the flour, sugar and eggs, then bake for 20 minutes.",
    "The EU has 27 member states.",
    "To be or not to be, that is the question.",
    "Buenos Aires is the capital of Argentina, and Lisbon is the capital of Portugal.",
]


@pytest.mark.parametrize("reply", ENGLISH_REPLIES)
def test_english_is_never_another_language(reply):
    assert language_of(reply) in ("en", None)


def test_most_english_replies_are_english():
    assert sum(language_of(r) == "en" for r in ENGLISH_REPLIES) >= 15


@pytest.mark.parametrize("text, language", [
    ("La capitale de l'Italie est Rome, une ville très ancienne.", "fr"),
    ("Un chat a quatre pattes et une queue.", "fr"),
    ("La capital de Portugal es Lisboa y está junto al mar.", "es"),
    ("Un perro tiene cuatro patas.", "es"),
    ("Die Hauptstadt von Österreich ist Wien.", "de"),
    ("Eine Stunde hat sechzig Minuten und ein Tag hat vierundzwanzig Stunden.", "de"),
    ("La capitale della Spagna è Madrid.", "it"),
    ("Dante Alighieri ha scritto la Divina Commedia nel Trecento.", "it"),
    ("A capital da Argentina é Buenos Aires.", "pt"),
    ("Uma galinha tem duas patas e não voa muito.", "pt"),
])
def test_other_languages_are_identified(text, language):
    assert language_of(text) == language


@pytest.mark.parametrize("text", ["Paris.", "56", "Berlin!", "Oui, Paris.", "", "**Roma**"])
def test_too_short_to_tell(text):
    assert language_of(text) is None


# --- matches ------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, accept", [
    ("The capital of Germany is Berlin.", ("Berlin",)),
    ("**Berlin**", ("Berlin",)),
    ("BERLIN is the capital.", ("berlin",)),
    ("La capitale est Bogotá.", ("Bogota",)),
    ("Bogota", ("Bogotá",)),
    ("Die Hauptstadt ist WIEN", ("Wien", "Vienna")),
    ("56.", ("56",)),
    ("7 x 8 = 56, so the answer is 56!", ("56",)),
    ("The answer is fifty-six.", ("fifty six",)),
    ("fifty six", ("fifty-six",)),
    ("The wall is 1,000 metres long.", ("1000",)),
    ("1000 metres", ("1,000",)),
    ("Written backwards, 'cat' is 'tac'.", ("tac",)),
    ("The formula is H₂O.", ("H2O",)),
    ("It is Buenos  Aires, of course.", ("Buenos Aires",)),
    ("A mammal is warm-blooded and has fur.", ("milk", "warm-blooded")),
    ("(Rome)", ("Rome", "Roma")),
])
def test_matches(reply, accept):
    assert matches(reply, accept)


@pytest.mark.parametrize("reply, accept", [
    ("There are 17 of them.", ("7",)),
    ("It has 70 pages.", ("7",)),
    ("That belongs in another category.", ("cat",)),
    ("About 7.5 on average.", ("7",)),
    ("About 3.7 on average.", ("7",)),
    ("The result is -7.", ("7",)),
    ("The wall is 1,000 metres long.", ("1",)),
    ("The capital is Paris.", ("Berlin",)),
    ("Berliner Luft is a song.", ("Berlin",)),
    ("", ("Berlin",)),
])
def test_does_not_match(reply, accept):
    assert not matches(reply, accept)


def test_matches_looks_only_at_the_first_words():
    filler = " ".join(["word"] * 29)
    assert matches(f"{filler} Berlin", ("Berlin",))             # the 30th word
    assert not matches(f"{filler} more Berlin", ("Berlin",))    # the 31st
    assert matches(f"{filler} more Berlin", ("Berlin",), words=31)
    assert not matches("so it is Berlin", ("Berlin",), words=3)


def test_every_heldout_item_accepts_a_reply_made_of_its_first_form():
    for item in HELDOUT:
        assert matches(f"Sure! It is **{item.accept[0]}**.", item.accept), item


# --- docs -----------------------------------------------------------------------------------------

def test_doctests():
    assert doctest.testmod(plain).failed == 0
