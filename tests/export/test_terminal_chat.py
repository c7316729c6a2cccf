"""llm-book-chat, the terminal chat for authors: the live chat's configuration on native
onnxruntime, one prompt, a JSONL batch, tools, and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

from core import terminal_chat

QUESTION = "What is the capital of France?"
GREEDY = ["--temperature", "0", "--max-new-tokens", "40"]


def chat(capsys, *argv):
    code = terminal_chat.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_console_script_answers_as_the_original_model_with_toggles_off(default_artifact, site_artifact):
    """The installed command on the site's artifact, both toggles off, gives the plain export's
    reply: the adapter is switched off and the original template is used."""
    script = Path(sys.executable).parent / "llm-book-chat"
    runs = [subprocess.run([str(script), str(folder), *GREEDY, QUESTION], capture_output=True, text=True, timeout=300)
            for folder in (site_artifact, default_artifact)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout and "Paris" in runs[0].stdout
    assert runs[0].stderr.splitlines()[0] == "Answering: the original SmolLM2-135M-Instruct"


def test_jsonl_answers_each_prompt_in_a_new_conversation(default_artifact, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": QUESTION}) + "\n\n" + json.dumps({"prompt": "Say hi."}) + "\n")
    code, out, _ = chat(capsys, default_artifact, *GREEDY, "--jsonl", prompts)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["prompt"] for r in records] == [QUESTION, "Say hi."]
    assert all(set(r) == {"prompt", "reply", "finish_reason", "tokens"} for r in records)
    assert records[0]["finish_reason"] in ("stop", "length") and records[0]["tokens"] > 0
    # the first record is what a single-prompt run answers
    code, single, _ = chat(capsys, default_artifact, *GREEDY, QUESTION)
    assert single.strip() == records[0]["reply"].strip()


def test_tools_on_runs_the_calculator_like_the_live_chat(site_artifact, capsys):
    code, out, err = chat(capsys, site_artifact, "--tools", "--temperature", "0", "How much is (34 - 8) * 4?")
    assert code == 0
    assert "<function=calculate>" in out and "[tool result] 104" in err
    assert err.splitlines()[0].startswith("Answering: SmolLM2-135M-Instruct with the post-training adapter (")


def test_bad_input_fails_in_one_line_before_anything_runs(default_artifact, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "fine"}) + "\n{oops\n")
    code, out, err = chat(capsys, default_artifact, "--jsonl", bad)
    assert (code, out) == (2, "")
    assert err.strip().startswith(f"llm-book-chat: error: {bad}:2: not JSON") and len(err.strip().splitlines()) == 1
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"text": "no prompt key"}\n')
    code, out, err = chat(capsys, default_artifact, "--jsonl", missing)
    assert (code, out, err.strip()) == (2, "", f'llm-book-chat: error: {missing}:1: needs {{"prompt": "<text>"}}')
    code, out, err = chat(capsys, default_artifact, "--think", QUESTION)
    assert (code, out) == (2, "")
    assert err.strip() == f"llm-book-chat: error: --think: the chat template of {default_artifact} has no such feature"
    code, _, err = chat(capsys, tmp_path, QUESTION)
    assert code == 2 and err.strip() == (f"llm-book-chat: error: {tmp_path}: no manifest.json "
                                         "(an artifact folder is written by python -m export)")
