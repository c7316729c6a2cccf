"""The plain-chat material of post-training: what the model should still do with no tools and no
thinking, just a question and a reply.

Two sets, never sharing a prompt or a subject:

- ``HELDOUT``: plain prompts with accepted answers, used to score free-running replies. A reply
  *answers* when one accepted form appears among its first words (``matches``), *loops* when it
  falls into repeating itself, and is in the *wrong language* when ``language_of`` names another
  language than the prompt's. Facts, small sums, one-line
  definitions, short instructions and requests in French, Spanish, German, Italian and
  Portuguese, chosen as things a 135M chat model often gets right, and none asking what
  ``data.PHRASES`` asks.
- ``DISTILL_PROMPTS``: a larger pool of varied everyday prompts (facts, how-to, advice, short
  creative requests, sums, comparisons, explanations for a child, chit-chat, and about one in ten
  in the other five languages). The training run asks the frozen original model each of them and
  trains on its replies, so that the new conventions are learnt without unlearning plain chat.

Disjointness is by construction: every held-out item names its subject in ``HELDOUT_SUBJECTS``
(groups of words, in the six languages, a prompt asking the same thing would contain, one from
each group; ``asks_about``), the pool's fillers leave those subjects out, and ``_fresh`` would
drop anything that still asked one, so a held-out score is never a score on distilled answers.
The subject words err on the wide side: a pool prompt that merely names "Germany" and "capital"
counts as asking the capital of Germany.

Everything is deterministic: no randomness, the pool is the same on every import.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class PlainItem:
    prompt: str                 # one line, as a reader would type it
    accept: tuple[str, ...]     # any one of these, found early in the reply, counts as answered
    language: str               # ISO code of the language the reply should be in: "en", "fr", "es", "de", "it", "pt"
    category: str               # "fact" | "arithmetic" | "definition" | "instruction" | "language"


LANGUAGES = ("en", "fr", "es", "de", "it", "pt")
CATEGORIES = ("fact", "arithmetic", "definition", "instruction", "language")


# ---------------------------------------------------------------------------------------------
# Matching replies

def _fold(text: str) -> str:
    """Lowercase, accents stripped (NFKD without combining marks), ``1,000`` -> ``1000``,
    hyphens between letters -> spaces (``fifty-six`` -> ``fifty six``), whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"(?<=\d)[,'\u2019](?=\d{3}(?!\d))", "", text)            # thousands separators
    text = re.sub(r"(?<=[^\W\d_])[-\u2010\u2011\u2013](?=[^\W\d_])", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=None)
def _pattern(forms: tuple) -> re.Pattern | None:
    """Any of ``forms`` as a whole word or phrase: no letter or digit right before or after it,
    no ``1.``/``1,`` before it or ``.5``/``,5`` after it (``7`` is not in ``17``, ``7.5`` or ``-7``)."""
    folded = sorted({_fold(form) for form in forms if form.strip()}, key=len, reverse=True)
    if not folded:
        return None
    either = "|".join(re.escape(form) for form in folded)
    return re.compile(r"(?<![^\W_])(?<!\d[.,])(?<!-)(?:" + either + r")(?![^\W_])(?![.,]\d)")


def _contains(folded_text: str, forms) -> bool:
    pattern = _pattern(tuple(forms))
    return pattern is not None and pattern.search(folded_text) is not None


def matches(reply: str, accept, words: int = 30) -> bool:
    """True when one of the ``accept`` forms appears in the first ``words`` words of ``reply``:
    case- and accent-insensitive, on word boundaries, markdown and punctuation around it ignored,
    digit groups joined (``1,000`` is ``1000``) and ``fifty-six`` the same as ``fifty six``.

    >>> matches("The answer is **56**.", ("56", "fifty-six")), matches("It is 156.", ("56",))
    (True, False)
    """
    text = _fold(" ".join(reply.split()[:words]))
    return _contains(text, accept)


def asks_about(text: str, groups) -> bool:
    """Whether ``text`` names a subject given as word groups: one word or phrase of every group
    (same matching as ``matches``, over the whole text).

    >>> asks_about("Quelle est la capitale de l'Allemagne ?", (("capital", "capitale"), ("germany", "allemagne")))
    True
    """
    return _names(_fold(text), groups)


def _names(folded_text: str, groups) -> bool:
    return all(_contains(folded_text, group) for group in groups)


def normalise(prompt: str) -> str:
    """A prompt compared loosely: lowercase, whitespace collapsed, trailing punctuation stripped.

    >>> normalise("  What is  a Verb ? ")
    'what is a verb'
    """
    return " ".join(prompt.lower().split()).rstrip(" ?!.。？！:;…")


# ---------------------------------------------------------------------------------------------
# Telling the six languages apart

# Common function words, lowercased, accents kept. English words that other languages also write
# ("a", "in", "an", "do", "no", "as", "die", "was", "will", "come", "per", "con", "son", "also",
# "hat", "man", "me", "se", "e", "i") are left out of every list, so an English sentence scores
# for another language only through a name or a quote ("da Vinci", "São Paulo"), never more than
# its own function words; words that several of the other languages share ("de", "la", "un",
# "que") score for each of them and leave the decision to the rest. A tie is no answer.
_STOPWORDS = {
    "en": """the is are was were be been being of and to it its that this these those with for you
             your what which who how why when where have has had not on by from at or can could
             does did my they their them there would should than into about very our""",
    "fr": """le les des du une est sont et pour dans avec qui que quel quelle quels quelles combien
             comment pourquoi où ou ce cette ces je tu il elle nous vous ils elles pas sur au aux
             mais très être ne qu leur de la un""",
    "es": """el los las del es está están qué cuál cuáles cuántos cuántas cuánto cómo dónde por para
             pero muy y una un hay tiene tienen este esta esto eso también más cuando porque sí yo
             tú usted al lo su sus mi que como cual cuantos cuantas de la""",
    "de": """der das und ist sind nicht ein eine einen einem einer mit für auf von zu den dem des im
             wie wer warum welche welcher welches wo ich du wir sie ihr es auch aber oder sehr haben
             wird werden kann bitte viele gibt sich dass nach bei""",
    "it": """il lo gli della delle degli dello dei del di è sono che chi cosa quale quali quanti
             quante quanto perché perche anche molto questo questa quello quella nel nella sul alla
             un una mi ti ci hai abbiamo essere qual al da la""",
    "pt": """o os da das dos na nas nos um uma é são não em com que qual quais quantos quantas quanto
             como onde quem porque você vocês eu ele ela eles isso isto este esta muito mais também
             tem têm ao pelo pela seu sua foi ser está ou de por para""",
}
_LANGUAGES_OF_WORD: dict[str, set] = {}
for _lang, _words in _STOPWORDS.items():
    for _word in _words.split():
        _LANGUAGES_OF_WORD.setdefault(_word, set()).add(_lang)


def language_of(text: str) -> str | None:
    """The language of ``text`` among en, fr, es, de, it, pt, by counting common function words;
    None when it is too short to tell (under 3 words, or under 2 function words in all) or two
    languages tie.

    >>> language_of("Le chat dort sur le canapé et il est content."), language_of("Paris.")
    ('fr', None)
    """
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 3:
        return None
    scores = dict.fromkeys(LANGUAGES, 0)
    hits = 0
    for word in words:
        langs = _LANGUAGES_OF_WORD.get(word)
        if langs:
            hits += 1
            for lang in langs:
                scores[lang] += 1
    if hits < 2:
        return None
    best = max(scores.values())
    leaders = [lang for lang, score in scores.items() if score == best]
    return leaders[0] if len(leaders) == 1 else None


# ---------------------------------------------------------------------------------------------
# Subjects, as words in the six languages

def _n(number: int) -> tuple[str, ...]:
    """A small number as digits and as a word in each of the six languages."""
    words = {3: "three trois tres drei tre três", 5: "five cinq cinco fünf cinque",
             6: "six seis sechs sei", 7: "seven sept siete sieben sette sete",
             8: "eight huit ocho acht otto oito", 9: "nine neuf nueve neun nove",
             10: "ten dix diez zehn dieci dez", 11: "eleven onze once elf undici",
             12: "twelve douze doce zwölf dodici doze", 13: "thirteen treize trece dreizehn tredici treze",
             15: "fifteen quinze quince fünfzehn quindici"}
    return (str(number), *words[number].split())


CAPITAL = ("capital", "capitals", "capitale", "capitales", "hauptstadt", "capitais")
HOW_MANY = ("how many", "number of", "combien", "cuantos", "cuantas", "wie viele", "quanti", "quante",
            "quantos", "quantas")
LARGEST = ("largest", "biggest", "greatest", "plus grand", "plus grande", "mas grande", "größte",
           "groesste", "piu grande", "maior")
CLOSEST = ("closest", "nearest", "plus proche", "mas cercano", "nächste", "piu vicino", "mais proximo")
INVENT = ("invent", "invented", "inventor", "invention", "inventé", "inventó", "erfand", "erfunden",
          "inventato", "inventou")
LEGS = ("leg", "legs", "pattes", "jambes", "patas", "beine", "zampe", "pernas")
COLOUR = ("colour", "color", "colours", "colors", "couleur", "farbe", "colore", "cor")
SYNONYM = ("means", "meaning", "synonym", "synonyms", "another word", "synonyme", "sinónimo", "sinonimo")
ANIMAL = ("animal", "animals", "animaux", "animales", "tier", "tiere", "animale", "animali", "animais")
DOG = ("dog", "dogs", "chien", "perro", "hund", "cane", "cachorro", "cão")
COUNTRY = ("country", "countries", "pays", "país", "land", "paese")
GERMANY = ("germany", "allemagne", "alemania", "deutschland", "germania", "alemanha")
RUSSIA = ("russia", "russie", "rusia", "russland")
CHINA = ("china", "chine", "cina")
BRITAIN = ("united kingdom", "uk", "britain", "great britain", "england", "royaume uni", "angleterre",
           "reino unido", "inglaterra", "großbritannien", "vereinigtes königreich", "regno unito",
           "inghilterra")
GREECE = ("greece", "grèce", "grecia", "griechenland", "grécia")
ITALY = ("italy", "italie", "italia", "italien", "itália")
PORTUGAL = ("portugal", "portogallo")
AUSTRIA = ("austria", "autriche", "österreich", "áustria")
SPAIN = ("spain", "espagne", "españa", "spanien", "spagna", "espanha")
ARGENTINA = ("argentina", "argentine", "argentinien")


# ---------------------------------------------------------------------------------------------
# Held-out items: (prompt, accepted forms, language, category, subject groups)

_HELDOUT = [
    # facts
    ("What is the capital of Germany?", ("Berlin",), "en", "fact", (CAPITAL, GERMANY)),
    ("What is the capital of Russia?", ("Moscow", "Moskva", "Moscou"), "en", "fact", (CAPITAL, RUSSIA)),
    ("What is the capital of China?", ("Beijing", "Peking"), "en", "fact", (CAPITAL, CHINA)),
    ("What is the capital of the United Kingdom?", ("London",), "en", "fact", (CAPITAL, BRITAIN)),
    ("What is the capital of Greece?", ("Athens", "Athina", "Athína"), "en", "fact", (CAPITAL, GREECE)),
    ("Who wrote the Harry Potter books?", ("Rowling", "J.K. Rowling", "J. K. Rowling"), "en", "fact",
     (("harry potter",),)),
    ("Who painted the Mona Lisa?", ("Leonardo", "da Vinci", "Vinci"), "en", "fact",
     (("mona lisa", "gioconda", "joconde"),)),
    ("Which planet is closest to the Sun?", ("Mercury",), "en", "fact",
     (("planet", "planets", "planète", "planeta", "pianeta"), CLOSEST)),
    ("Which planet is known as the Red Planet?", ("Mars",), "en", "fact",
     (("red planet", "planète rouge", "planeta rojo", "roter planet", "pianeta rosso", "planeta vermelho"),)),
    ("Who invented the telephone?", ("Bell", "Alexander Graham Bell", "Meucci"), "en", "fact",
     (INVENT, ("telephone", "phone", "téléphone", "teléfono", "telefon", "telefono", "telefone"))),
    ("What is the largest ocean on Earth?", ("Pacific",), "en", "fact",
     (LARGEST, ("ocean", "oceans", "océan", "océano", "ozean", "oceano"))),
    ("What is the largest mammal?", ("blue whale", "whale", "whales"), "en", "fact",
     (LARGEST, ("mammal", "mammals", "mammifère", "mamífero", "säugetier", "mammifero"))),
    ("What is the fastest land animal?", ("cheetah", "cheetahs"), "en", "fact",
     (("fastest", "plus rapide", "más rápido", "schnellste", "più veloce", "mais rápido"), ANIMAL)),
    ("Which animal is known as the king of the jungle?", ("lion", "lions"), "en", "fact",
     (("king of the jungle", "roi de la jungle", "rey de la selva", "könig des dschungels",
       "re della giungla", "rei da selva"),)),
    ("How many continents are there?", ("7", "seven"), "en", "fact",
     (HOW_MANY, ("continent", "continents", "continentes", "kontinente", "continenti"))),
    ("What gas do plants take in from the air?", ("carbon dioxide", "CO2"), "en", "fact",
     (("plant", "plants", "plante", "plantes", "planta", "plantas", "pflanze", "pflanzen", "pianta",
       "piante"), ("gas", "gases", "absorb", "take in", "breathe"))),
    ("What is the chemical symbol for gold?", ("Au",), "en", "fact",
     (("symbol", "symbole", "símbolo", "simbolo"), ("gold", "oro", "ouro"))),
    ("What is the chemical formula for water?", ("H2O",), "en", "fact",
     (("formula", "formule", "fórmula", "formel"), ("water", "eau", "agua", "wasser", "acqua", "água"))),
    ("How many legs does an insect have?", ("6", "six"), "en", "fact",
     (LEGS, ("insect", "insects", "insecte", "insecto", "insekt", "insetto", "inseto"))),
    ("What is the hardest natural substance?", ("diamond", "diamonds"), "en", "fact",
     (("hardest", "plus dur", "más duro", "härteste", "più duro", "mais duro"),)),
    ("Which is the largest country by area?", ("Russia",), "en", "fact", (LARGEST, COUNTRY)),
    ("In which country are the pyramids of Giza?", ("Egypt",), "en", "fact",
     (("pyramid", "pyramids", "giza", "pyramide", "pyramides", "pirámides", "pyramiden", "piramidi"),)),
    ("What is the tallest mountain in the world?", ("Everest",), "en", "fact",
     (("tallest", "highest", "everest", "plus haute", "más alta", "höchste", "più alta", "mais alta"),
      ("mountain", "mountains", "montagne", "montaña", "berg", "montagna", "montanha"))),
    ("Who was the first person to walk on the Moon?", ("Armstrong", "Neil Armstrong"), "en", "fact",
     (("moon", "lune", "luna", "mond", "lua"),
      ("walk", "walked", "first person", "first man", "marcher", "caminar", "betreten", "camminare", "pisar"))),
    ("How many sides does a hexagon have?", ("6", "six"), "en", "fact",
     (("hexagon", "hexagone", "hexágono", "sechseck", "esagono"),)),
    ("What is the largest organ of the human body?", ("skin",), "en", "fact",
     (("organ", "organs", "organe", "órgano", "organo", "órgão"),)),
    ("How many hours are in a day?", ("24", "twenty-four", "twenty four"), "en", "fact",
     (("hour", "hours", "heures", "horas", "stunden", "ore"), ("day", "jour", "día", "tag", "giorno", "dia"))),
    ("Who discovered penicillin?", ("Fleming", "Alexander Fleming"), "en", "fact",
     (("penicillin", "pénicilline", "penicilina", "penicillina"),)),
    ("Who developed the theory of relativity?", ("Einstein", "Albert Einstein"), "en", "fact",
     (("relativity", "relativité", "relatividad", "relativitätstheorie", "relatività", "relatividade"),)),
    ("What is the currency of Japan?", ("yen",), "en", "fact",
     (("currency", "money", "monnaie", "moneda", "währung", "valuta", "moeda"),
      ("japan", "japon", "japón", "giappone", "japão"))),

    # arithmetic
    ("What is 7 times 8?", ("56", "fifty-six"), "en", "arithmetic", (_n(7), _n(8))),
    ("What is 12 plus 15?", ("27", "twenty-seven"), "en", "arithmetic", (_n(12), _n(15))),
    ("What is 9 + 6?", ("15", "fifteen"), "en", "arithmetic", (_n(9), _n(6))),
    ("What is 100 minus 37?", ("63", "sixty-three"), "en", "arithmetic",
     (("100", "hundred", "cent", "cien", "hundert", "cento", "cem"), ("37", "thirty-seven"))),
    ("What is six times seven?", ("42", "forty-two"), "en", "arithmetic", (_n(6), _n(7))),
    ("What is 45 divided by 9?", ("5", "five"), "en", "arithmetic", (("45", "forty-five"), _n(9))),
    ("What is 13 times 3?", ("39", "thirty-nine"), "en", "arithmetic", (_n(13), _n(3))),
    ("What is 25 + 25?", ("50", "fifty"), "en", "arithmetic", (("25", "twenty-five"),)),
    ("How much is 11 times 11?", ("121", "one hundred twenty-one", "one hundred and twenty-one"), "en",
     "arithmetic", (_n(11),)),
    ("What is half of 50?", ("25", "twenty-five"), "en", "arithmetic",
     (("50", "fifty", "cinquante", "cincuenta", "fünfzig", "cinquanta", "cinquenta"),
      ("half", "moitié", "mitad", "hälfte", "metà", "metade"))),
    ("What is 8 squared?", ("64", "sixty-four"), "en", "arithmetic",
     (_n(8), ("squared", "square", "carré", "cuadrado", "quadrat", "quadrato", "quadrado"))),
    ("What is 1000 minus 1?", ("999", "nine hundred ninety-nine", "nine hundred and ninety-nine"), "en",
     "arithmetic", (("1000", "thousand", "mille", "mil", "tausend"),)),
    ("What is double 35?", ("70", "seventy"), "en", "arithmetic", (("35", "thirty-five"),)),
    ("What is ten plus nine?", ("19", "nineteen"), "en", "arithmetic", (_n(10), _n(9))),
    ("What is 72 divided by 8?", ("9", "nine"), "en", "arithmetic", (("72", "seventy-two"), _n(8))),

    # definitions: accepted forms are words any correct one-line definition would contain
    ("What is a mammal?", ("milk", "warm-blooded", "hair", "fur", "vertebrate", "vertebrates", "backbone"),
     "en", "definition", (("mammal", "mammals", "mammifère", "mamífero", "säugetier", "mammifero"),)),
    ("What is a volcano?", ("lava", "magma", "erupt", "erupts", "eruption", "eruptions", "mountain", "opening",
                            "vent"), "en", "definition",
     (("volcano", "volcanoes", "volcan", "volcán", "vulkan", "vulcano", "vulcão"),)),
    ("What is an island?", ("land", "surrounded", "water"), "en", "definition",
     (("island", "islands", "île", "isla", "insel", "isola", "ilha"),)),
    ("What is a thermometer?", ("temperature", "temperatures", "heat", "hot", "cold"), "en", "definition",
     (("thermometer", "thermomètre", "termómetro", "termometro"),)),
    ("What is a dictionary?", ("words", "word", "meaning", "meanings", "definition", "definitions"), "en",
     "definition", (("dictionary", "dictionnaire", "diccionario", "wörterbuch", "dizionario", "dicionário"),)),
    ("What is a desert?", ("dry", "rain", "rainfall", "arid", "sand", "sandy", "precipitation", "water"), "en",
     "definition", (("desert", "deserts", "désert", "desierto", "wüste", "deserto"),)),
    ("What is a calendar?", ("days", "dates", "date", "months", "month", "weeks", "year", "years"), "en",
     "definition", (("calendar", "calendrier", "calendario", "kalender", "calendário"),)),
    ("What is a reptile?", ("cold-blooded", "scales", "scaly", "eggs", "vertebrate", "vertebrates", "backbone"),
     "en", "definition", (("reptile", "reptiles", "reptil", "rettile", "rettili", "répteis"),)),
    ("What is a library?", ("books", "book", "borrow", "borrowed", "lend", "lends"), "en", "definition",
     (("library", "libraries", "bibliothèque", "biblioteca", "bibliothek"),)),
    ("What is a vaccine?", ("immune", "immunity", "disease", "diseases", "infection", "infections", "protect",
                            "protects", "protection", "virus", "antibodies"), "en", "definition",
     (("vaccine", "vaccines", "vaccination", "vaccin", "vacuna", "impfstoff", "vaccino", "vacina"),)),
    ("What is a bicycle?", ("wheels", "wheel", "pedal", "pedals", "two-wheeled", "vehicle"), "en", "definition",
     (("bicycle", "bicycles", "bike", "bicyclette", "vélo", "bicicleta", "fahrrad", "bicicletta"),)),
    ("What does the word 'democracy' mean?", ("people", "vote", "votes", "voting", "elect", "elected",
                                               "elections", "citizens", "government"), "en", "definition",
     (("democracy", "démocratie", "democracia", "demokratie", "democrazia"),)),
    ("Define the word 'glacier'.", ("ice", "snow"), "en", "definition",
     (("glacier", "glaciers", "glaciar", "gletscher", "ghiacciaio", "geleira"),)),
    ("What is an orchestra?", ("musicians", "instruments", "music", "musical"), "en", "definition",
     (("orchestra", "orchestre", "orquesta", "orchester", "orquestra"),)),
    ("What is a fraction in maths?", ("part", "parts", "whole", "numerator", "denominator", "divided",
                                      "division"), "en", "definition",
     (("fraction", "fractions", "fracción", "bruch", "frazione", "fração"),)),

    # short instructions
    ("Give me a word that means big.", ("large", "huge", "enormous", "giant", "gigantic", "massive", "vast",
                                        "immense", "great"), "en", "instruction", (SYNONYM, ("big",))),
    ("Give me a word that means fast.", ("quick", "quickly", "rapid", "rapidly", "swift", "speedy", "hasty",
                                         "fleet", "brisk"), "en", "instruction", (SYNONYM, ("fast",))),
    ("List three fruits.", ("apple", "apples", "banana", "bananas", "orange", "oranges", "grape", "grapes",
                            "strawberry", "strawberries", "pear", "pears", "mango", "mangoes", "cherry",
                            "cherries", "pineapple", "lemon", "peach", "kiwi", "watermelon", "plum", "blueberries"),
     "en", "instruction",
     (("fruit", "fruits", "fruta", "frutas", "frucht", "früchte", "obst", "frutta"),)),
    ("Write the word 'cat' backwards.", ("tac",), "en", "instruction",
     (("backwards", "backward", "reverse", "reversed", "à l'envers", "al revés", "rückwärts"),)),
    ("What is the opposite of 'up'?", ("down",), "en", "instruction",
     (("opposite", "antonym", "contraire", "contrario", "gegenteil", "opposto"), ("up",))),
    ("Name an animal that lives in the sea.", ("fish", "shark", "sharks", "whale", "whales", "dolphin", "dolphins",
                                               "octopus", "jellyfish", "seal", "seals", "crab", "crabs", "turtle",
                                               "turtles", "starfish", "squid", "lobster", "tuna", "eel"),
     "en", "instruction", (ANIMAL, ("sea", "ocean", "oceans", "mer", "mar", "meer", "mare"))),
    ("Write the number 12 in words.", ("twelve",), "en", "instruction",
     (("in words", "spell", "spelled", "spelt", "en lettres", "en letras", "in worten", "in lettere",
       "por extenso"), _n(12))),
    ("Give me a word that rhymes with 'dog'.", ("log", "fog", "frog", "hog", "jog", "bog", "cog", "clog", "blog",
                                                "smog", "slog"), "en", "instruction",
     (("rhyme", "rhymes", "rime", "rima", "reim", "reimt"), DOG)),
    ("Name a vegetable that is orange.", ("carrot", "carrots", "pumpkin", "pumpkins", "sweet potato",
                                          "sweet potatoes", "squash"), "en", "instruction",
     (("vegetable", "vegetables", "légume", "verdura", "gemüse", "legume", "hortaliza"),
      ("orange", "naranja", "arancione", "laranja"))),
    ("What is the plural of 'mouse'?", ("mice",), "en", "instruction",
     (("plural", "pluriel", "plurale", "mehrzahl"), ("mouse",))),
    ("What is the past tense of 'go'?", ("went",), "en", "instruction",
     (("past tense", "past form", "simple past", "preterite"), ("go",))),
    ("Name the first month of the year.", ("January",), "en", "instruction",
     (("month", "months", "mois", "mes", "monat", "mese", "mês"),
      ("first", "premier", "primer", "primero", "erste", "primo", "primeiro"))),
    ("Write the next number: 2, 4, 6, 8.", ("10", "ten"), "en", "instruction", (("2, 4, 6, 8",),)),
    ("Name a tool used to cut paper.", ("scissors",), "en", "instruction",
     (("cut", "cutting", "couper", "cortar", "schneiden", "tagliare"), ("paper", "papier", "papel", "carta"))),
    ("Name a country in South America.", ("Brazil", "Brasil", "Argentina", "Chile", "Peru", "Colombia",
                                          "Venezuela", "Ecuador", "Bolivia", "Uruguay", "Paraguay", "Guyana",
                                          "Suriname"), "en", "instruction",
     (("south america", "south american", "amérique du sud", "sudamérica", "südamerika", "sud america",
       "américa do sul", "america del sur"),)),

    # requests in the other languages: answered in the prompt's language, names in either
    ("Quelle est la capitale de l'Italie ?", ("Rome", "Roma"), "fr", "language", (CAPITAL, ITALY)),
    ("Combien de pattes a un chat ?", ("4", "quatre", "four"), "fr", "language",
     (LEGS, ("cat", "cats", "chat", "chats", "gato", "gatos", "katze", "gatto"))),
    ("Qui a écrit Les Misérables ?", ("Hugo", "Victor Hugo"), "fr", "language", (("misérables",),)),
    ("¿Cuál es la capital de Portugal?", ("Lisboa", "Lisbon", "Lisbonne"), "es", "language",
     (CAPITAL, PORTUGAL)),
    ("¿Cuántas patas tiene un perro?", ("4", "cuatro", "four"), "es", "language", (LEGS, DOG)),
    ("¿De qué color es la nieve?", ("blanca", "blanco", "white"), "es", "language",
     (COLOUR, ("snow", "neige", "nieve", "schnee", "neve"))),
    ("Was ist die Hauptstadt von Österreich?", ("Wien", "Vienna"), "de", "language", (CAPITAL, AUSTRIA)),
    ("Wie viele Minuten hat eine Stunde?", ("60", "sechzig", "sixty"), "de", "language",
     (("minute", "minutes", "minuten", "minutos", "minuti"), ("hour", "hours", "heure", "hora", "stunde", "ora"))),
    ("Welche Farbe hat eine Banane?", ("gelb", "yellow"), "de", "language",
     (COLOUR, ("banana", "bananas", "banane", "bananen"))),
    ("Qual è la capitale della Spagna?", ("Madrid",), "it", "language", (CAPITAL, SPAIN)),
    ("Quanti giorni ha un anno?", ("365", "trecentosessantacinque"), "it", "language",
     (("day", "days", "jours", "días", "tage", "giorni", "dias"),
      ("year", "année", "año", "jahr", "anno", "ano"))),
    ("Chi ha scritto la Divina Commedia?", ("Dante", "Alighieri"), "it", "language",
     (("divine comedy", "divina commedia", "divine comédie", "divina comedia", "göttliche komödie"),)),
    ("Qual é a capital da Argentina?", ("Buenos Aires",), "pt", "language", (CAPITAL, ARGENTINA)),
    ("Quantas patas tem uma galinha?", ("2", "duas", "dois", "two"), "pt", "language",
     (LEGS, ("chicken", "chickens", "hen", "poule", "gallina", "huhn", "galinha", "pollo"))),
    ("Quanto é dez mais cinco?", ("15", "quinze", "fifteen"), "pt", "language", (_n(10), _n(5))),
]

HELDOUT: tuple[PlainItem, ...] = tuple(PlainItem(p, a, lang, cat) for p, a, lang, cat, _ in _HELDOUT)
# What each held-out prompt asks, as word groups for ``asks_about``; no distill prompt asks one.
HELDOUT_SUBJECTS: dict[str, tuple[tuple[str, ...], ...]] = {p: about for p, _, _, _, about in _HELDOUT}


# ---------------------------------------------------------------------------------------------
# The distillation pool

def _cycle(templates, fillers):
    """Each filler in the next template in turn, so one subject is asked one way."""
    return [templates[i % len(templates)].format(*f if isinstance(f, tuple) else (f,))
            for i, f in enumerate(fillers)]


# Countries left out: the held-out capitals (Germany, Russia, China, the United Kingdom, Greece,
# Italy, Portugal, Austria, Spain, Argentina), the ones data.py asks (France, Japan) and Egypt, a
# held-out answer.
_CAPITAL_COUNTRIES = ["Canada", "Mexico", "Brazil", "India", "Kenya", "Nigeria", "Peru", "Chile",
                      "Sweden", "Norway", "Poland", "Ireland", "Turkey", "Thailand", "Vietnam", "South Korea",
                      "Australia", "the Netherlands", "Belgium", "Switzerland", "Denmark", "Finland",
                      "Morocco", "Cuba", "Colombia", "Indonesia", "the Philippines", "Iceland", "New Zealand",
                      "Hungary", "Ghana"]
_LANGUAGE_COUNTRIES = ["Mexico", "Sweden", "Iran", "Kenya", "the Netherlands", "Poland", "Chile",
                       "Turkey", "Vietnam", "Finland", "Switzerland"]
_CURRENCY_COUNTRIES = ["the United States", "India", "Mexico", "Switzerland", "South Africa", "Canada",
                       "Sweden", "Brazil", "Thailand", "Australia"]
_CONTINENT_COUNTRIES = ["Kenya", "Peru", "Thailand", "Norway", "Canada", "Morocco", "Vietnam", "Colombia",
                        "Ireland", "Nepal"]

_ANIMALS = [("an elephant", "elephants"), ("a giraffe", "giraffes"), ("a penguin", "penguins"),
            ("an owl", "owls"), ("a frog", "frogs"), ("a rabbit", "rabbits"), ("a horse", "horses"),
            ("a bear", "bears"), ("a fox", "foxes"), ("a wolf", "wolves"), ("a tiger", "tigers"),
            ("a kangaroo", "kangaroos"), ("a panda", "pandas"), ("a butterfly", "butterflies"), ("an ant", "ants"),
            ("a crocodile", "crocodiles"), ("a parrot", "parrots"), ("a zebra", "zebras"), ("a koala", "koalas"),
            ("a camel", "camels"), ("a snail", "snails"), ("a squirrel", "squirrels"),
            ("a hedgehog", "hedgehogs"), ("a goat", "goats"), ("a bat", "bats")]
_ANIMAL_TEMPLATES = ["What does {} eat?", "Where do {} live?", "How long does {} live?", "What sound does {} make?"]

_THINGS = ["a magnet", "a battery", "a computer", "the internet", "a museum", "a passport", "a recipe",
           "a poem", "a novel", "a circle", "a square", "a forest", "a lake", "an earthquake", "a tornado",
           "a hurricane", "a bridge", "a skyscraper", "a robot", "a dinosaur", "a fossil", "an atom",
           "a molecule", "a cell", "a muscle", "a germ", "a rocket", "a satellite", "a comet", "an eclipse",
           "a compass", "a map", "a piano", "a budget", "a loan", "a pronoun", "a sentence", "a paragraph",
           "a prime number", "an even number", "a percentage", "an equation", "an acronym", "a metaphor",
           "a proverb", "a spreadsheet", "a password", "a hobby", "an allergy", "a habit"]
_THING_TEMPLATES = ["What is {}?", "Explain what {} is in one sentence.", "Can you tell me what {} is?",
                    "Describe {} in simple words."]

_HOW_TO = ["boil an egg", "tie a shoelace", "make a cup of tea", "plant a seed", "write a thank-you note",
           "clean a keyboard", "start a small vegetable garden", "fold a paper plane", "make a paper boat",
           "learn to juggle", "remember people's names", "keep a houseplant alive", "cook rice",
           "make pancakes", "wrap a present", "sharpen a pencil", "make a simple budget",
           "write a good email subject line", "stay focused while working", "wake up earlier",
           "iron a shirt", "make a smoothie with yogurt", "sew on a button", "wash a wool jumper",
           "pack a suitcase neatly", "make a campfire safely", "read a map", "start running",
           "write a short speech", "make new friends at work"]
_HOW_TO_TEMPLATES = ["How do I {}?", "What is the easiest way to {}?", "Can you explain how to {}?"]

_TIPS = ["staying calm before an exam", "saving money", "learning a new language", "running my first 5 km",
         "keeping my desk tidy", "making friends in a new city", "drinking more water", "reading more books",
         "speaking in public", "cooking for beginners", "taking better photos", "writing a cover letter",
         "travelling on a budget", "working from home", "keeping a journal", "being more patient",
         "learning to draw", "getting up on cold mornings", "remembering birthdays", "planning a picnic"]
_TIP_TEMPLATES = ["Give me a tip for {}.", "Do you have any advice for {}?", "What is one good tip for {}?"]

_CREATIVE_TOPICS = ["rain", "autumn", "a lighthouse", "coffee", "a lost key", "a sleepy dragon", "snow",
                    "friendship", "a city at night", "a garden", "a train journey", "the wind", "a birthday",
                    "an old tree", "a rainy Monday", "a paper boat", "a cup of cocoa", "the first day of school"]
_CREATIVE_TEMPLATES = ["Write a two-line poem about {}.", "Write a one-sentence story about {}.",
                       "Write a short riddle about {}.", "Write a haiku about {}."]
_NAMES_FOR = ["a pet rabbit", "a goldfish", "a puppy", "a bakery", "a sailing boat", "a robot", "a book club",
              "a football team", "a hamster", "a coffee shop"]

_ARITHMETIC = (
    [f"What is {a} plus {b}?" for a, b in [(14, 23), (8, 5), (31, 46), (17, 4), (250, 125), (3, 4), (19, 21),
                                           (60, 40), (2, 9)]]
    + [f"What is {a} + {b}?" for a, b in [(16, 16), (123, 77), (5, 14)]]
    + [f"Add {a} and {b}." for a, b in [(48, 52), (7, 5), (99, 1)]]
    + [f"What is {a} times {b}?" for a, b in [(4, 5), (9, 3), (6, 8), (12, 4), (20, 5), (15, 3), (2, 50)]]
    + [f"Multiply {a} by {b}." for a, b in [(14, 2), (30, 3), (4, 4)]]
    + [f"What is {a} minus {b}?" for a, b in [(50, 18), (90, 45), (17, 9), (200, 75), (33, 12)]]
    + [f"Subtract {b} from {a}." for a, b in [(64, 14), (40, 27)]]
    + [f"What is {a} divided by {b}?" for a, b in [(36, 6), (100, 4), (81, 3), (56, 7), (24, 2)]]
    + [f"What is {a} percent of {b}?" for a, b in [(10, 200), (50, 80), (20, 30)]]
    + [f"Is {n} an even number?" for n in (14, 27, 108)]
    + [f"What is the square root of {n}?" for n in (49, 144, 16)]
    + [f"What is half of {n}?" for n in (18, 120, 7)]
)

_COMPARISONS = [f"What is the difference between {pair}?" for pair in
                ["a lake and a sea", "weather and climate", "a virus and a bacterium", "a frog and a toad",
                 "a crocodile and an alligator", "an ape and a monkey", "a city and a town", "speed and velocity",
                 "a hill and a mountain", "tea and coffee"]] + [
                "Which is heavier, a kilogram of feathers or a kilogram of bricks?",
                "Which is bigger, the Sun or the Moon?", "Which is colder, the North Pole or the South Pole?",
                "Which is longer, a mile or a kilometre?",
                "Which is healthier, an apple or a biscuit?", "Is a tomato a vegetable?",
                "Which is faster, light or sound?", "Are dolphins more like sharks or more like cows?",
                "What is better for a beginner, a guitar or a piano?", "Is it better to walk or to cycle to work?",
                "How is a pencil different from a pen?", "How is a bus different from a train?"]

_FOR_A_CHILD = ["why the sky is blue", "how rain forms", "what electricity is", "why we have seasons",
                "how a plane stays in the air", "why the ocean has waves", "how seeds grow", "what a dream is",
                "why we brush our teeth", "how the heart works", "what money is", "why ice floats",
                "what a shadow is", "how a rainbow forms", "why the Moon changes shape", "what a computer does"]
_FOR_A_CHILD_TEMPLATES = ["Explain {} to a five-year-old.", "How would you explain {} to a child?"]

_WHY = ["Why do we yawn?", "Why do stars twinkle?", "Why does bread rise?", "Why do onions make us cry?",
        "Why do we get hiccups?", "Why is grass green?", "Why do birds migrate?", "Why do zebras have stripes?",
        "Why do we dream?", "Why do boats float?", "Why does ice melt?", "Why do we have fingerprints?",
        "Why is the ocean blue?", "Why do some trees lose their leaves while others don't?",
        "Why does thunder follow lightning?", "Why do we get goosebumps?", "Why do bubbles pop?"]

_FACTS = ["Who wrote Pride and Prejudice?", "Who painted The Starry Night?", "What is the speed of light?",
          "How far away is the Moon?", "Who was Cleopatra?", "Which metal is liquid at room temperature?",
          "What is the longest river in Africa?", "Who wrote the music for The Nutcracker?",
          "Who was the first president of the United States?", "In which year did the Second World War end?",
          "How many bones are in the human body?", "How many players are on a football team?",
          "Who wrote The Odyssey?", "How many strings does a violin have?", "What is the hottest planet?",
          "What is the chemical symbol for iron?", "Who discovered gravity?", "Where is the Great Barrier Reef?",
          "What is the main gas in the air we breathe?", "Who built the first aeroplane?",
          "What do caterpillars turn into?", "What is the coldest place on Earth?", "Who was Marie Curie?",
          "How long does it take the Earth to go around the Sun?", "What is the national animal of Scotland?",
          "Which instrument has 88 keys?", "What are the three primary colours?",
          "How many teeth does an adult have?", "What is the capital city of Scotland?", "Who wrote Don Quixote?",
          "What is the largest bird?", "What is the Eiffel Tower?",
          "Which organelle is the powerhouse of the cell?", "What does DNA stand for?",
          "What is the loudest animal?", "How many hearts does an earthworm have?"]

_CHAT = ["Hi!", "Hello!", "Hello there.", "Good morning!", "Good evening!", "How are you today?",
         "What's your name?", "Who are you?", "What can you do?", "Thanks for your help!", "Tell me a joke.",
         "Tell me something interesting.", "I'm bored. Any ideas?", "Can you help me?", "Nice to meet you.",
         "Good night!", "What's up?", "Are you a robot?", "Do you like music?", "What is your favourite season?",
         "I had a long day.", "Tell me something cheerful.", "Hey, how's it going?", "Thank you!", "Bye!",
         "Can you keep a secret?", "Say something nice.", "What should I cook tonight?", "Recommend a good book.",
         "What should I do this weekend?", "I feel a bit nervous about tomorrow.", "Tell me a fun riddle.",
         "What's a good name for a blog about cooking?", "Give me a compliment.",
         "Can you recommend a board game for a family evening?", "What is a good hobby to start?",
         "I can't decide what to watch tonight.", "Do you have a favourite book?"]

# About one prompt in ten, in the other five languages, written to be told apart by ``language_of``.
_OTHER_LANGUAGES = [
    # French
    "Bonjour, comment allez-vous ?", "Quelle est la capitale du Canada ?",
    "Peux-tu me donner une recette simple de crêpes ?", "Pourquoi le ciel est-il bleu ?",
    "Écris un petit poème sur la mer.", "Quel est le plus long fleuve de France ?",
    "Comment est-ce qu'on dit « merci » en anglais ?", "Donne-moi un conseil pour apprendre une langue.",
    "Qu'est-ce qu'une étoile filante ?", "Raconte-moi une blague sur les chats.",
    # Spanish
    "Hola, ¿cómo estás? ¿Qué tal tu día?", "¿Cuál es la capital de México?",
    "¿Qué puedo cocinar para la cena de hoy?",
    "Escribe un poema corto sobre la luna y las estrellas.", "¿Por qué los pájaros cantan por la mañana?",
    "Dame un consejo para ahorrar dinero.", "¿Cuánto es ocho por tres?",
    "Explica qué es la lluvia a un niño.", "¿Qué es la energía solar?", "Recomiéndame un libro para el verano.",
    # German
    "Hallo, wie geht es dir?", "Was ist die Hauptstadt von Schweden?",
    "Kannst du mir ein einfaches Rezept für Pfannkuchen geben?", "Warum ist der Himmel blau?",
    "Schreib ein kurzes Gedicht über den Herbst.", "Wie viel ist zwanzig und dreißig?",
    "Gib mir einen Tipp, wie ich mehr Geld sparen kann.", "Was ist ein Regenbogen und wie entsteht er?",
    "Erkläre einem Kind, was Strom ist.", "Was kann ich am Wochenende mit der Familie machen?",
    # Italian
    "Ciao, come stai? Che cosa mi consigli di fare oggi?", "Qual è la capitale della Norvegia?",
    "Scrivi una breve poesia sul mare.", "Perché il cielo è azzurro di giorno?",
    "Dammi un consiglio per studiare meglio: sono sempre stanco la sera.",
    "Quanto fa otto per cinque? Mi spieghi il calcolo?",
    "Che cos'è un arcobaleno?", "Raccontami una barzelletta sul calcio.",
    "Come si prepara una pizza margherita nel forno di casa?", "Cosa posso fare in una giornata di pioggia?",
    # Portuguese
    "Olá, tudo bem com você?", "Qual é a capital do Chile?", "Escreva um poema curto sobre o sol.",
    "Por que as folhas são verdes?", "Me dê uma dica para acordar cedo.", "Quanto é doze mais oito?",
    "O que é um arco-íris?", "Conte-me uma piada sobre o mar.", "Como faço um bolo de cenoura?",
    "O que posso fazer num dia de chuva?",
]


def _fresh(prompt: str) -> bool:
    """Not a held-out prompt and not asking what one asks."""
    folded = _fold(prompt)
    return (normalise(prompt) not in _HELDOUT_NORMALISED
            and not any(_names(folded, about) for about in HELDOUT_SUBJECTS.values()))


_HELDOUT_NORMALISED = {normalise(item.prompt) for item in HELDOUT}


def _candidates() -> list[str]:
    """The pool before ``_distill_pool`` checks it: templates over fillers that leave the held-out
    subjects out, then hand-written prompts."""
    return (
        _cycle(["What is the capital of {}?", "Which city is the capital of {}?",
                "Tell me the capital city of {}."], _CAPITAL_COUNTRIES)
        + _cycle(["What language is spoken in {}?", "Which language do people speak in {}?"], _LANGUAGE_COUNTRIES)
        + _cycle(["What currency is used in {}?", "What money do people use in {}?"], _CURRENCY_COUNTRIES)
        + _cycle(["On which continent is {}?", "Which continent is {} in?"], _CONTINENT_COUNTRIES)
        + [f"Tell me a fun fact about {plural}." for _, plural in _ANIMALS]
        + _cycle(_ANIMAL_TEMPLATES, [plural if i % 4 == 1 else one for i, (one, plural) in enumerate(_ANIMALS)])
        + _cycle(_THING_TEMPLATES, _THINGS)
        + _cycle(_HOW_TO_TEMPLATES, _HOW_TO)
        + _cycle(_TIP_TEMPLATES, _TIPS)
        + [template.format(topic) for topic in _CREATIVE_TOPICS for template in _CREATIVE_TEMPLATES[:2]]
        + _cycle(_CREATIVE_TEMPLATES[2:], _CREATIVE_TOPICS)
        + [f"Suggest a name for {thing}." for thing in _NAMES_FOR]
        + _ARITHMETIC
        + _COMPARISONS
        + _cycle(_FOR_A_CHILD_TEMPLATES, _FOR_A_CHILD)
        + _WHY
        + _FACTS
        + _CHAT
        + _OTHER_LANGUAGES
    )


def _distill_pool() -> list[str]:
    """The candidates, each once, without any that is or asks a held-out prompt (none does: the
    check is a backstop, and the tests see that it drops nothing)."""
    seen, out = set(), []
    for prompt in _candidates():
        key = normalise(prompt)
        if key not in seen and _fresh(prompt):
            seen.add(key)
            out.append(prompt)
    return out


DISTILL_PROMPTS: tuple[str, ...] = tuple(_distill_pool())
