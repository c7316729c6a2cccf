"""The chat core (tokenizer, chat template, token view, tools) in Pyodide 3.14 under Node, the
interpreter the reader's browser runs, against expectations computed here with the Hugging Face
references. Pyodide's unicodedata is newer than CPython 3.11's, so this also checks the
pre-tokenizer's character classes with the Unicode version the browser will use."""

import json
import shutil
import subprocess
from pathlib import Path

import jinja2

from gguf_tokenizer import hf_tokenizer, tokenizer_files
from test_chat_template import CONVERSATIONS, QWEN3, TOOLS
from tokenizer_corpus import corpus
from tokenizers import Tokenizer as HFTokenizer

ROOT = Path(__file__).resolve().parents[2]
PYODIDE = ROOT / "node_modules" / "pyodide"

CHECK = """
import json, sys, unicodedata
from core.tokenizer import Tokenizer
from core.chat_template import render
from core.token_view import token_view
from core.tool_calls import run_tool_call
from core.tools import default_toolbox, get_time

exp = json.load(open("/data/expected.json"))
out = {"python": sys.version_info[:2], "unicode": unicodedata.unidata_version, "ids": {}}
for form in ("plain", "digits"):
    tok = Tokenizer.from_file(f"/data/{form}.json")
    out["ids"][form] = [tok.encode(s) for s in exp["texts"]]
    out[form + "_round_trips"] = all(tok.decode(tok.encode(s)) == s for s in exp["texts"])
schemas = default_toolbox().schemas
out["renders"] = [render(exp["qwen3"], m, enable_thinking=t, tools=schemas) for m, t, _ in exp["renders"]]
view = token_view(tok, exp["smol"], exp["chat"])
out["view"] = [[r.id, r.role, r.special, r.trained] for r in view]
out["calc"] = run_tool_call("<tool_call><function=calculate><parameter=expression>2**10</parameter></function></tool_call>", default_toolbox()).content
out["time"] = get_time("Asia/Tokyo")
json.dumps(out)
"""


def test_chat_core_in_pyodide(tmp_path):
    node = shutil.which("node")
    assert node and (PYODIDE / "pyodide.mjs").exists(), "needs Node.js and node_modules/pyodide (scripts/bootstrap.sh)"
    texts = corpus(mixtures=300)
    expected = {"texts": texts, "ids": {}, "renders": [], "smol": hf_tokenizer().chat_template, "qwen3": QWEN3,
                "chat": CONVERSATIONS["system_multi_turn"]}
    for form, path in tokenizer_files().items():
        shutil.copy(path, tmp_path / f"{form}.json")
        reference = HFTokenizer.from_file(str(path))
        reference.encode_special_tokens = True
        expected["ids"][form] = [e.ids for e in reference.encode_batch(texts, add_special_tokens=False)]
    for name, messages in sorted(CONVERSATIONS.items()):
        for thinking in (None, False, True):
            kwargs = {} if thinking is None else {"enable_thinking": thinking}
            text = hf_tokenizer().apply_chat_template(messages, chat_template=QWEN3, tools=TOOLS, tokenize=False,
                                                      add_generation_prompt=True, **kwargs)
            expected["renders"].append([messages, thinking, text])
    (tmp_path / "expected.json").write_text(json.dumps(expected), encoding="utf-8")
    (tmp_path / "check.py").write_text(CHECK, encoding="utf-8")
    site_packages = Path(jinja2.__file__).parents[1]
    run = subprocess.run([node, str(Path(__file__).with_name("pyodide_run.mjs")), str(PYODIDE), str(site_packages),
                          str(tmp_path), str(tmp_path / "check.py")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["python"] == [3, 14]
    for form in ("plain", "digits"):
        assert got["ids"][form] == expected["ids"][form]
        assert got[form + "_round_trips"]
    assert got["renders"] == [text for _, _, text in expected["renders"]]
    from core.token_view import token_view
    from core.tokenizer import Tokenizer

    native = token_view(Tokenizer.from_file(tokenizer_files()["digits"]), expected["smol"], expected["chat"])
    assert got["view"] == [[r.id, r.role, r.special, r.trained] for r in native]
    assert got["calc"] == "1024"
    assert " in Asia/Tokyo (UTC+0900" in got["time"]
