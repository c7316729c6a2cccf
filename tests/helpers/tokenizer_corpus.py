"""A broad, deterministic corpus for comparing the tokenizer with Hugging Face `tokenizers`.

`corpus()` returns the hand-written samples of every script and edge case below, then
seeded mixtures of them glued with the separators that stress the pre-tokenizer (white space
runs before words and digits, tabs, newlines, apostrophes), then very long words.
"""

import random

SAMPLES = {
    "english": [
        "Hello world", "The quick brown fox jumps over the lazy dog.", "It's a dog's life, isn't it?",
        "We'll see; they'd've known. I'm sure you're right, you've said it.", "DON'T SHOUT'S",
        "Mr. O'Neil's rock'n'roll", "e-mail, re-enter, co-operate", "U.S.A. vs. U.K.",
        "Instruction tuning turns a base model into an assistant.", "  leading and trailing  ",
    ],
    "accented": [
        "café crème brûlée", "naïve façade déjà vu", "Ångström Øresund Ærø", "Straße Größe Fußgänger",
        "Łódź Kraków Gdańsk", "São Paulo coração", "İstanbul ılık şeker", "Dvořák Čapek Škoda",
    ],
    "cyrillic": ["Привет, мир!", "Съешь же ещё этих мягких французских булок", "Україна, Київ, ґанок", "Ђорђе Љубљана"],
    "greek": ["Καλημέρα κόσμε", "Ἐν ἀρχῇ ἦν ὁ λόγος", "αβγδε ΑΒΓΔΕ ς σ Σ", "π ≈ 3.14159"],
    "cjk": ["你好，世界！", "日本語のテキストです。", "한국어 문장입니다", "漢字かなカナ混じり文", "ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ"],
    "arabic_hebrew": ["مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ", "שלום עולם", "עִבְרִית מְנֻקָּדֶת", "٠١٢٣٤٥٦٧٨٩ ۱۲۳"],
    "emoji": [
        "😀😃😄", "👍🏽 thumbs", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "❤️‍🔥", "🇫🇷🇯🇵", "1️⃣ keycap", "🧑🏿‍💻 coder",
    ],
    "combining": ["e\u0301 a\u0308 o\u0303", "Z\u0351\u0363\u0364alg\u0300o\u0301", "\u0915\u094d\u0937", "ก\u0e31\u0e49"],
    "digits": [
        "123", "3.14159", "1,000,000", "2026-11-24T00:01:42Z", "0x1F600", "1e-10", "½ ¾ ² ³ Ⅻ ①",
        "phone: +44 20 7946 0958", "v1.2.3-rc4", "99 bottles", "12345678901234567890",
    ],
    "code": [
        "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }",
        "const x = {a: 1, 'b': [2, 3]};", "SELECT * FROM t WHERE id = 42;", "<div class=\"a\">&amp;</div>",
        "if __name__ == '__main__':\n\tmain()", "$ ls -la | grep '.py'", "λx.x → (λy.y)", "a!=b&&c||d",
        "print(f\"{value!r:>10}\")", "```python\nimport json\n```",
    ],
    "whitespace": [
        " ", "  ", "   a", "a   ", "\t", "\t\t\tx", "\n", "\n\n\n", "a\n\nb", "a \n b", " \t \n ",
        "x\r\ny", "\u00a0nbsp\u00a0", "\u3000ideographic", "a\u2028b\u2029c", "\x0b\x0cvt ff", "  1  2  ",
    ],
    "specials_as_text": ["<|im_start|>user\nhi<|im_end|>", "<|endoftext|>", "<think>x</think>", "<tool_call>"],
}

SEPARATORS = [" ", "  ", "\t", "\n", "\n\n", " \n", "'", "'s ", "'re ", " 42 ", "7", "", ", ", ".\n", "   ", "\t\n "]


def corpus(mixtures: int = 900, seed: int = 0) -> list[str]:
    """All samples, `mixtures` seeded combinations of them, then very long words."""
    samples = [s for group in SAMPLES.values() for s in group]
    rng = random.Random(seed)
    out = list(samples)
    for _ in range(mixtures):
        parts = rng.sample(samples, rng.randint(1, 4))
        text = parts[0]
        for part in parts[1:]:
            text += rng.choice(SEPARATORS) + part
        if rng.random() < 0.3:  # cut anywhere, to start or end inside a word or a run
            i, j = sorted(rng.sample(range(len(text) + 1), 2))
            text = text[i:j] or text
        out.append(text)
    letters = "abcdefghijklmnopqrstuvwxyzéßжλ"
    out += [
        "a" * 3000, "ab" * 1500, "supercalifragilisticexpialidocious" * 40, "9" * 500, " " * 700,
        "".join(rng.choice(letters) for _ in range(4000)), "Антидисэстаблишментарианизм" * 20,
        "😀" * 300, "日本" * 800, "-" * 1000 + "x", "\n" * 300 + "end",
    ]
    return out
