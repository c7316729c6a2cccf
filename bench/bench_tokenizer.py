"""Encode throughput of core.tokenizer against Hugging Face `tokenizers`, in one run.

    .venv/bin/python bench/bench_tokenizer.py [path/to/tokenizer.json]

Without a path it reads the default artifact's tokenizer.json, or else writes one from the
default GGUF checkpoint. Both tokenizers encode the same text (the test corpus, as one string per
sample); ours is timed cold (empty word cache) and warm (the same text again).
"""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "helpers")]

from tokenizers import Tokenizer as HFTokenizer  # noqa: E402

from tokenizer_corpus import corpus  # noqa: E402
from core.tokenizer import Tokenizer  # noqa: E402


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    else:
        path = ROOT / "artifacts" / "smollm2-135m-instruct-q4" / "tokenizer.json"
        if not path.exists():
            from gguf_tokenizer import tokenizer_files

            path = tokenizer_files()["digits"]
    texts = corpus()
    chars = sum(map(len, texts))
    reference = HFTokenizer.from_file(str(path))
    reference.encode_special_tokens = True

    def cold():
        ours = Tokenizer.from_file(path)
        start = time.perf_counter()
        for t in texts:
            ours.encode(t)
        return time.perf_counter() - start

    cold_s = min(cold() for _ in range(3))
    ours = Tokenizer.from_file(path)
    warm_s = best_of(lambda: [ours.encode(t) for t in texts])
    hf_s = best_of(lambda: [reference.encode(t, add_special_tokens=False) for t in texts])
    document = "\n".join(texts)  # one long text: no per-call overhead on either side
    doc_ours_s = best_of(lambda: ours.encode(document))
    doc_hf_s = best_of(lambda: reference.encode(document, add_special_tokens=False))
    load_s = best_of(lambda: Tokenizer.from_file(path), repeat=1)
    print(f"tokenizer.json: {path}")
    print(f"corpus: {len(texts)} strings, {chars} characters")
    print(f"ours, cold cache : {chars / cold_s:12,.0f} chars/s")
    print(f"ours, warm cache : {chars / warm_s:12,.0f} chars/s")
    print(f"HF tokenizers    : {chars / hf_s:12,.0f} chars/s (one thread, encode per string)")
    print(f"ratio ours/HF    : cold {hf_s / cold_s:.3f}, warm {hf_s / warm_s:.3f}")
    print(f"one document, ours warm {chars / doc_ours_s:,.0f} vs HF {chars / doc_hf_s:,.0f} chars/s: "
          f"ratio {doc_hf_s / doc_ours_s:.3f}")
    print(f"load tokenizer.json: {load_s * 1000:.0f} ms")


if __name__ == "__main__":
    main()
