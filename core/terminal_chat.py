"""``llm-book-chat``: the live chat in a terminal, for authors, on the live chat's own code path.

    llm-book-chat ARTIFACT [--think] [--tools] [--temperature T] [--top-p P] [--seed N]
                  [--max-new-tokens N] [PROMPT | --jsonl FILE]

The chat is configured by ``core.chat_mode`` exactly as the page's chat is: which model
answers (the original, or the adapter when Think or Tools is on), its template and system
prompt, the sampling defaults, the toolbox and its rounds; it generates with the same
``Chat`` and ``Generator`` over native onnxruntime instead of onnxruntime-web.

- With PROMPT: one answer, streamed to standard output.
- With ``--jsonl FILE``: one ``{"prompt": ...}`` per line, each a new conversation; one
  ``{"prompt", "reply", "finish_reason", "tokens"}`` per line on standard output.
- With neither: a conversation read line by line from standard input.

Which model answers, and tool results, go to standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from .chat_mode import DEFAULT_SETTINGS, generation_config, mode_for, open_chat
from .generation import Generator
from .manifest import Manifest, ManifestError
from .tokenizer import Tokenizer
from .tools import default_toolbox


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llm-book-chat", description="The live chat in a terminal, on its own code path.")
    p.add_argument("artifact", type=Path, help="an artifact folder written by python -m export")
    p.add_argument("prompt", nargs="?", help="one message to answer (else read standard input)")
    p.add_argument("--think", action="store_true", help="turn Think on (needs a template that has it)")
    p.add_argument("--tools", action="store_true", help="turn Tools on (needs a template that has them)")
    p.add_argument("--temperature", type=float, default=DEFAULT_SETTINGS["temperature"],
                   help=f"0 is greedy (default {DEFAULT_SETTINGS['temperature']})")
    p.add_argument("--top-p", type=float, default=DEFAULT_SETTINGS["top_p"],
                   help=f"default {DEFAULT_SETTINGS['top_p']}")
    p.add_argument("--seed", type=int, default=None, help="seed of the sampler (same seed, same reply)")
    p.add_argument("--max-new-tokens", type=int, default=DEFAULT_SETTINGS["max_new_tokens"],
                   help=f"reply length cap per model call (default {DEFAULT_SETTINGS['max_new_tokens']})")
    p.add_argument("--jsonl", type=Path, help='a file of {"prompt": ...} lines to answer one by one')
    return p


def read_jsonl(path: Path) -> list[str]:
    """The prompts of a JSONL file, all checked before anything runs."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read ({e})") from None
    prompts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{number}: not JSON ({e.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
            raise ValueError(f'{path}:{number}: needs {{"prompt": "<text>"}}')
        prompts.append(record["prompt"])
    return prompts


class TerminalChat:
    def __init__(self, args):
        folder = args.artifact
        if not (folder / "manifest.json").is_file():
            raise ValueError(f"{folder}: no manifest.json (an artifact folder is written by python -m export)")
        self.manifest = Manifest.load(folder)
        features = self.manifest.chat_template
        for name, asked, has in (("--think", args.think, features.think), ("--tools", args.tools, features.tools)):
            if asked and not has:
                raise ValueError(f"{name}: the chat template of {folder} has no such feature")
        self.mode = mode_for(self.manifest, args.think, args.tools)
        self.tokenizer = Tokenizer.from_file(folder / self.manifest.tokenizer.file)
        from .backend_native import NativeBackend  # onnxruntime: CPython only
        self.generator = Generator(NativeBackend.from_artifact(folder), self.tokenizer.id_to_bytes,
                                   list(self.manifest.tokenizer.stop_ids))
        settings = dict(DEFAULT_SETTINGS, temperature=args.temperature, top_p=args.top_p,
                        max_new_tokens=args.max_new_tokens)
        self.config = generation_config(settings, args.seed)

    def new(self):
        return open_chat(self.mode, self.generator, self.tokenizer, default_toolbox())[0]

    async def answer(self, chat, prompt: str, stream=None) -> dict:
        def tool(message):
            print(f"[tool result] {message['content']}", file=sys.stderr, flush=True)

        reply = await chat.send(prompt, self.config, on_text=stream, on_tool=tool)
        return {"prompt": prompt, "reply": reply.text, "finish_reason": reply.finish_reason,
                "tokens": sum(len(r.ids) for r in reply.rounds)}


def _stream(piece: str):
    sys.stdout.write(piece)
    sys.stdout.flush()


def main(argv=None) -> int:
    # intermixed: the prompt may come after the options (llm-book-chat DIR --tools "question")
    args = parser().parse_intermixed_args(argv)
    if args.jsonl and args.prompt:
        print("llm-book-chat: error: give a PROMPT or --jsonl, not both", file=sys.stderr)
        return 2
    try:
        prompts = read_jsonl(args.jsonl) if args.jsonl else None
        term = TerminalChat(args)
    except (ValueError, ManifestError) as e:
        print(f"llm-book-chat: error: {e}", file=sys.stderr)
        return 2
    print(f"Answering: {term.mode.who}", file=sys.stderr, flush=True)
    if prompts is not None:
        for prompt in prompts:
            record = asyncio.run(term.answer(term.new(), prompt))
            print(json.dumps(record, ensure_ascii=False), flush=True)
        return 0
    chat = term.new()
    lines = [args.prompt] if args.prompt else (line.rstrip("\n") for line in sys.stdin)
    for line in lines:
        if line.strip():
            asyncio.run(term.answer(chat, line, _stream))
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
