"""The post-training step on a tiny random model: the loss mask is exactly the assistant's own
tokens, training lowers the masked loss, runs are reproducible, and a merged adapter computes
what the trained model computes."""
import dataclasses
import hashlib

import numpy as np
import pytest
import torch

from export.lora import load as load_adapter
from export.posttrain import data, run, sft
from gguf_tokenizer import tokenizer_files
from core.chat_template import load
from core.tokenizer import Tokenizer

TEMPLATE = load("qwen3_tools.jinja")
TOK = Tokenizer.from_file(tokenizer_files()["digits"])


def tiny_model(seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=49152, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         tie_word_embeddings=True, initializer_range=0.3)   # logits with room to move
    return LlamaForCausalLM(config).eval()


def set_loss(model, sequences):
    with torch.no_grad():
        return float(np.mean([float(sft.masked_loss(model, ids, trained)) for ids, trained in sequences]))


def test_mask_is_exactly_the_assistant_text():
    tool = next(e for e in data.examples("train", 20, 1, answer=lambda q: "Sure.") if e.kind == "tool")
    ids, trained = sft.encode(TOK, TEMPLATE, tool)
    call = tool.messages[2]["tool_calls"][0]
    # the format the chapter describes, written out here independently of the template
    params = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in call["arguments"].items())
    expected = (f"<tool_call>\n<function={call['name']}>\n{params}</function>\n</tool_call><|im_end|>"
                f"{tool.messages[4]['content']}<|im_end|>")
    assert TOK.decode([i for i, t in zip(ids, trained) if t]) == expected
    # nothing of the system prompt, the tools block, the question or the tool result is trained
    untrained = TOK.decode([i for i, t in zip(ids, trained) if not t])
    for text in (data.SYSTEM, tool.messages[1]["content"], tool.messages[3]["content"], "<tools>"):
        assert text in untrained


def test_think_example_trains_the_reasoning_and_answer_not_the_open_tag():
    think = next(e for e in data.examples("train", 20, 2, answer=lambda q: "Sure.") if e.kind == "think")
    ids, trained = sft.encode(TOK, TEMPLATE, think)
    got = TOK.decode([i for i, t in zip(ids, trained) if t])
    reasoning, answer = think.messages[2]["content"].split("</think>")
    assert got == reasoning.removeprefix("<think>\n") + "</think>" + answer + "<|im_end|>"


def test_heldout_split_shares_no_city_zone_or_phrasing_with_training():
    train = data.examples("train", 300, 3, answer=lambda q: "Sure.")
    held = data.examples("heldout", 100, 3, answer=lambda q: "Sure.")
    questions = lambda xs: {e.messages[1]["content"] for e in xs}  # noqa: E731
    assert not questions(train) & questions(held)
    args = lambda xs: {str(v) for e in xs if e.kind == "tool" for v in e.expect["arguments"].values()}  # noqa: E731
    assert not args(train) & args(held)


def test_the_share_of_leading_brackets_is_the_recipes_and_never_the_heldout_shape():
    def leading(share):
        exprs = [e.expect["arguments"]["expression"] for e in data.examples("train", 1500, 4, lambda q: "", leading=share)
                 if e.expect.get("tool") == "calculate"]
        bracketed = [x for x in exprs if "(" in x]
        assert not any(data.HELDOUT_SHAPE.fullmatch(x) for x in exprs)
        return sum(x.startswith("(") for x in bracketed) / len(bracketed)
    assert leading(0.0) < 0.6 < 0.7 < leading(0.5)


def test_a_run_learns_the_original_replies_capped_and_records_how(tmp_path, monkeypatch):
    """Without ``answer`` the run asks the frozen model itself (sampled, at most ``reply_tokens``
    each); the recipe says so, and the export regenerates the same conversations from it."""
    asked, real = {}, run.frozen_replies

    def spy(*args, **kwargs):
        asked.update(real(*args, **kwargs))
        return asked
    monkeypatch.setattr(run, "frozen_replies", spy)
    recipe = run.sft_run(tiny_model(), TOK, TEMPLATE, tmp_path / "a", examples=6, steps=3, seed=1, lr=1e-3,
                         reply_tokens=5, log=lambda m: None)
    assert asked and all(len(TOK.encode(reply)) <= 6 for reply in asked.values())   # 5 tokens, re-tokenized
    assert (recipe["reply_tokens"], recipe["leading_brackets"]) == (5, data.LEADING)
    adapter = load_adapter(tmp_path / "a")
    assert adapter.data_options()["leading"] == data.LEADING
    assert data.examples("train", 6, 1, lambda q: "", **adapter.data_options()) == data.examples("train", 6, 1, lambda q: "")


def test_training_lowers_the_masked_loss_and_is_reproducible(tmp_path):
    answer = lambda q: "Sure, here it is."  # noqa: E731
    sequences = [sft.encode(TOK, TEMPLATE, e) for e in data.examples("train", 8, 0, answer)]
    model = tiny_model()
    before = set_loss(model, sequences)
    recipe = run.sft_run(model, TOK, TEMPLATE, tmp_path / "a", examples=8, steps=40, seed=0, lr=3e-3,
                         answer=answer, log=lambda m: None)
    after = set_loss(model, sequences)
    assert after < 0.8 * before, (before, after)

    again = tiny_model()
    run.sft_run(again, TOK, TEMPLATE, tmp_path / "b", examples=8, steps=40, seed=0, lr=3e-3,
                answer=answer, log=lambda m: None)
    digest = lambda p: hashlib.sha256((p / "adapter.npz").read_bytes()).hexdigest()  # noqa: E731
    assert digest(tmp_path / "a") == digest(tmp_path / "b") == recipe["adapter_sha256"]
    assert (tmp_path / "a" / "adapter.npz").stat().st_size < 10_000_000


def test_merged_adapter_computes_what_the_trained_model_computes(tmp_path):
    answer = lambda q: "Sure."  # noqa: E731
    model = tiny_model()
    base = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    run.sft_run(model, TOK, TEMPLATE, tmp_path, examples=4, steps=5, seed=1, lr=3e-3, answer=answer,
                log=lambda m: None)
    adapter = load_adapter(tmp_path).weights        # float16 on disk
    assert len(adapter) == 2 * 7
    merged = sft.merge(base, adapter, sft.LoraConfig().scale)
    plain = tiny_model()
    plain.load_state_dict({k: torch.from_numpy(v) for k, v in merged.items()})
    ids = torch.tensor([TOK.encode("The capital of France is")])
    with torch.no_grad():
        want, got = model(ids).logits, plain(ids).logits
    assert float((want - got).abs().max()) < 1e-3 * float(want.abs().max())
    with pytest.raises(KeyError, match="no base weight"):
        sft.merge({}, adapter, 1.0)


def test_evaluation_checks_read_replies_as_the_chat_would():
    from export.posttrain.evaluate import call_is_right, think_is_closed
    weather = {"tool": "get_weather", "arguments": {"city": "Moscow"}}
    good = "<tool_call>\n<function=get_weather>\n<parameter=city>\nmoscow\n</parameter>\n</function>\n</tool_call>"
    assert call_is_right(good, weather)
    assert not call_is_right(good.replace("moscow", "Paris"), weather)           # wrong argument
    assert not call_is_right(good.replace("get_weather", "get_time"), weather)  # wrong tool
    assert not call_is_right(good.replace("</function>", ""), weather)          # malformed
    assert not call_is_right("It is cold in Moscow.", weather)                 # no call
    calc = {"tool": "calculate", "arguments": {"expression": "(3 + 4) * 2"}}
    same_value = '<tool_call>{"name": "calculate", "arguments": {"expression": "2 * (4 + 3)"}}</tool_call>'
    assert call_is_right(same_value, calc)
    zone = {"tool": "get_time", "arguments": {"timezone": "America/Sao_Paulo"}}
    accented = "<tool_call>\n<function=get_time>\n<parameter=timezone>\nAmerica/São_Paulo\n</parameter>\n</function>\n</tool_call>"
    assert call_is_right(accented, zone)                                        # the tool reads it so
    assert not call_is_right(accented.replace("São_Paulo", "Santiago"), zone)
    assert not call_is_right(accented.replace("America", "Europe"), zone)
    assert not call_is_right(same_value.replace("2 *", "3 *"), calc)
    assert think_is_closed("7 * 3 = 21.\n</think>\n\nThe answer is 21.")
    assert not think_is_closed("7 * 3 = 21, so the answer is 21.")              # never closed
    assert not think_is_closed("Done.\n</think>\n\n")                           # nothing after
    assert not think_is_closed("a</think>b<think>c")                            # reopened


def test_evaluation_of_an_artifact_against_itself(default_artifact):
    """Plain-chat agreement of a model with itself is exact, and every held-out example of the
    checked kinds is counted once."""
    from export.posttrain.evaluate import evaluate
    result = evaluate(default_artifact, default_artifact, n=6, seed=5, log=lambda m: None)
    assert result["rates"]["plain_top1"] == 1.0
    assert result["counts"]["plain_top1"]["of"] > 50
    kinds = [e.kind for e in data.examples("heldout", 6, 5, answer=lambda q: "")]
    checked = {"tool": "tool_call", "no_tool": "no_call", "think": "think"}
    for kind, key in checked.items():
        assert result["counts"][key]["of"] == kinds.count(kind)


def test_distillation_matches_the_frozen_model_under_its_own_template():
    """--distill: KL from the frozen model reading the original template to the adapted model
    reading the new one is zero for identical sequences, and training shrinks it."""
    from gguf_tokenizer import hf_tokenizer
    original = hf_tokenizer().chat_template
    answer = lambda q: "Sure, here it is."  # noqa: E731
    plain = [dataclasses.replace(e, kind="plain") for e in data.examples("train", 30, 0, answer)
             if e.kind in ("plain", "no_tool")][:6]
    sequences = [sft.encode(TOK, TEMPLATE, e) for e in plain]
    teachers = {i: sft.encode_for_teacher(TOK, original, e) for i, e in enumerate(plain)}
    assert all(teachers[i][0] != sequences[i][0] for i in teachers)     # the templates differ

    def kl(model):
        with torch.no_grad():
            return np.mean([float(sft.distill_loss(model, sft._logits(model, ids), ids, trained, teachers[i]))
                            for i, (ids, trained) in enumerate(sequences)])

    model = tiny_model()
    sft.add_lora(model, sft.LoraConfig(), seed=0)
    ids, trained = sequences[0]
    with torch.no_grad():
        same = sft.distill_loss(model, sft._logits(model, ids), ids, trained, (ids, trained))
    assert abs(float(same)) < 1e-6
    before = kl(model)
    assert before > 0.01
    model = tiny_model()
    history = sft.train(model, sequences, steps=30, lr=3e-3, seed=0, teachers=teachers, log=lambda m: None)
    assert all("kl" in h for h in history)
    assert kl(model) < 0.5 * before, (before, kl(model))
    other = sft.encode_for_teacher(TOK, original, dataclasses.replace(plain[0], messages=plain[0].messages[:2] + [
        {"role": "assistant", "content": "Something else entirely."}]))
    with pytest.raises(ValueError, match="reply tokens differ"):
        sft.distill_loss(model, sft._logits(model, ids), ids, trained, other)


def test_on_policy_distillation_learns_along_the_replies_the_model_writes(tmp_path, monkeypatch):
    """--on-policy: each distilled step's reply is one the model being trained wrote from the
    student's prompt (with the ``</think>`` a think_plain reply opens with), in batches; the
    teacher reads the same reply after its own prompt, and no original replies are generated first."""
    from gguf_tokenizer import hf_tokenizer
    original = hf_tokenizer().chat_template
    train_set = data.examples("train", 40, 0, lambda q: "")
    distilled = [i for i, e in enumerate(train_set) if e.kind in data.DISTILLED]
    assert {train_set[i].kind for i in distilled} == {"no_tool", "think_plain"}
    sequences = [sft.encode(TOK, TEMPLATE, e) for e in train_set]
    teachers = {i: sft.encode_for_teacher(TOK, original, train_set[i]) for i in distilled}

    think_plain = next(i for i in distilled if train_set[i].kind == "think_plain")
    prompt = sft.rollout_prompt(sequences[think_plain], teachers[think_plain])
    assert TOK.decode(prompt).endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    reply = TOK.encode("Bread is old.") + [TOK.token_to_id("<|im_end|>")]
    (ids, trained), (t_ids, t_trained) = sft.rollout(sequences[think_plain], teachers[think_plain], reply)
    assert ids[len(prompt):] == t_ids[-len(reply):] == reply
    assert TOK.decode([i for i, t in zip(t_ids, t_trained) if t]) == "Bread is old.<|im_end|>"
    assert TOK.decode(t_ids).endswith("<|im_start|>assistant\nBread is old.<|im_end|>")   # its own template
    model = tiny_model()
    sft.add_lora(model, sft.LoraConfig(), seed=0)
    with torch.no_grad():   # the trained tokens line up: no "reply tokens differ"
        assert float(sft.distill_loss(model, sft._logits(model, ids), ids, trained, (t_ids, t_trained))) > 0

    calls = []

    def generate(model, prompts):
        calls.append(prompts)
        return [TOK.encode(f"Reply {len(calls)}.{' more' * k}") for k, _ in enumerate(prompts)]
    steps = 30
    history = sft.train(tiny_model(), sequences, steps=steps, lr=1e-3, seed=0, teachers=teachers,
                        generate=generate, batch=4, log=lambda m: None)
    plan = sft.order(len(sequences), steps, 0)
    wanted = [sft.rollout_prompt(sequences[i], teachers[i]) for i in plan if i in teachers]
    assert [p for batch in calls for p in batch] == wanted and all(len(b) <= 4 for b in calls)
    rolled = [h for h in history if "kl" in h]
    assert len(rolled) == len(wanted) and len(calls) == -(-len(wanted) // 4)
    extra = lambda i: sum(sequences[i][1][1:]) - sum(teachers[i][1][1:])  # noqa: E731
    written = [len(TOK.encode(f"Reply {n}.{' more' * k}")) for n, batch in enumerate(calls, 1) for k, _ in enumerate(batch)]
    assert [h["tokens"] for h in rolled] == [w + extra(i) for w, i in zip(written, [i for i in plan if i in teachers])]

    asked = []
    monkeypatch.setattr(run, "frozen_replies", lambda *a, **k: asked.append(a) or {})
    recipe = run.sft_run(tiny_model(), TOK, TEMPLATE, tmp_path / "a", examples=12, steps=6, seed=1, lr=1e-3,
                         answer_template=original, distill=True, on_policy=True, reply_tokens=4, log=lambda m: None)
    assert recipe["on_policy"] is True and not asked
    log = (tmp_path / "a" / "training_log.json").read_text()
    assert '"kl"' in log


def test_every_zone_the_model_learns_works_without_a_time_zone_database():
    """The browser's Pyodide has no tz database: the fallback table must know every zone of the
    training and held-out data, at the database's standard (non-daylight-saving) offset."""
    from zoneinfo import ZoneInfo

    from core.tools import FALLBACK_OFFSETS
    for zone in data.ZONES["train"] + data.ZONES["heldout"]:
        local = data.FIXED_NOW.astimezone(ZoneInfo(zone))
        standard = (local.utcoffset() - local.dst()).total_seconds() / 60
        assert FALLBACK_OFFSETS.get(zone) == standard, zone
        assert zone in data.ZONE_PLACES


def test_the_committed_adapter_meets_the_targets_on_held_out_prompts(site_artifact):
    """The site's model (q4 with the committed adapter), evaluated by its own export through the
    widgets loop on held-out prompts: the issue's targets, on every held-out example checked."""
    import json

    from export.site_model import ADAPTER as SITE_ADAPTER
    from export.posttrain.evaluate import TARGETS
    from export.sources import file_sha256
    manifest = json.loads((site_artifact / "manifest.json").read_text())
    post = manifest["posttrain"]
    recipe = json.loads((SITE_ADAPTER / "recipe.json").read_text())
    assert post["sha256"] == recipe["adapter_sha256"] == file_sha256(SITE_ADAPTER / "adapter.npz")
    assert (SITE_ADAPTER / "adapter.npz").stat().st_size <= 10_000_000
    assert manifest["chat_template"]["features"] == {"think": True, "tools": True}
    result = post["evaluation"]
    assert result["targets"] == TARGETS
    kinds = [e.kind for e in data.examples("heldout", result["examples"], result["seed"], answer=lambda q: "")]
    assert result["counts"]["tool_call"]["of"] == kinds.count("tool") > 10
    assert result["counts"]["think"]["of"] == kinds.count("think") > 5
    for key, target in TARGETS.items():
        assert result["rates"][key] >= target, (key, result["rates"][key], result["counts"][key])


def test_the_site_chat_is_never_worse_than_the_checkpoint_on_free_running_replies(site_artifact):
    """The export's free-generation evaluation of the committed adapter: with both toggles off
    the chat is the original model (every greedy reply identical, so the same figures), every
    configuration is scored on every held-out question and seed, the verdict on the adapter-on
    rows is the one their figures give, and it meets the targets."""
    import json

    from export.posttrain import freegen
    from export.posttrain.plain import HELDOUT
    free = json.loads((site_artifact / "manifest.json").read_text())["posttrain"]["free_generation"]
    assert free["items"] == len(HELDOUT) >= 80 and len(free["seeds"]) >= 3
    assert free["targets"] == freegen.TARGETS and free["cap"] == freegen.CAP
    rows = free["rows"]
    assert list(rows) == list(freegen.LABELS)          # the table's order, as measured
    assert rows["off"]["identical_greedy"] == free["items"]
    assert rows["off"]["counts"] == rows["original"]["counts"]
    for name in ("original", "tools", "think"):
        assert rows[name]["counts"]["greedy"]["of"] == free["items"]
        assert rows[name]["counts"]["sampled"]["of"] == free["items"] * len(free["seeds"])
    assert freegen.verdict(rows) == free["verdict"]
    # the targets: with the adapter on, Tools or Think, answers at least 0.95x as often as
    # the original and loops at most 2 points more, on the sampled runs a reader gets by default
    assert set(free["verdict"]) == {"tools", "think"}
    assert all(v["passed"] for v in free["verdict"].values()), free["verdict"]


def test_worked_examples_in_docstrings():
    import doctest
    from export.posttrain import freegen, plain
    for module in (data, sft, plain, freegen, run):
        assert doctest.testmod(module).failed == 0, module.__name__


# Held-out questions whose recorded replies are generated again (spread over the kinds).
REPLAYED = (0, 31, 62)


def test_the_recorded_evaluation_is_what_the_site_model_does(site_artifact, default_artifact):
    """The site export's evaluation is keyed by every input that decides it (and reused from the
    adapter's record when that key matches). A sample of its replies, generated again here,
    scores exactly as recorded: free-running replies of each row, greedy and seeded, and one
    held-out example of each tool/think rate."""
    import json

    from export.site_model import ADAPTER as SITE_ADAPTER
    from export.posttrain import evaluate as ev, freegen, record
    from export.posttrain.plain import HELDOUT
    post = json.loads((site_artifact / "manifest.json").read_text())["posttrain"]
    facts = record.inputs(site_artifact, default_artifact)
    assert post["evaluation_key"] == record.key(facts)
    assert record.load(SITE_ADAPTER, facts) == {"evaluation": post["evaluation"],
                                                "free_generation": post["free_generation"]}
    free = post["free_generation"]
    items = [HELDOUT[i] for i in REPLAYED]
    for name, folder in (("original", default_artifact), ("tools", site_artifact), ("think", site_artifact)):
        think, tools = freegen.CONDITIONS.get(name, (False, False))
        got = freegen.run_condition(freegen.Chatter(folder, threads=1), think, tools, items, free["seeds"][:1])
        want = [free["rows"][name]["outcomes"][i][:2] for i in REPLAYED]
        assert got["outcomes"] == want, name
    result = post["evaluation"]
    examples = ev.heldout(result["examples"], result["seed"], post["system"])
    runner = ev.Runner(site_artifact)
    for kind in ("tool", "no_tool", "think"):
        i = next(i for i, e in enumerate(examples) if e.kind == kind)
        assert ev.check(runner, examples[i])[1] == result["passed"][i], kind


def test_an_evaluation_record_is_used_only_for_the_inputs_it_was_measured_with(tmp_path):
    from export.posttrain import record
    facts = {"model": "a" * 64, "code": "c", "onnxruntime": "1.30.0"}
    path = record.save(tmp_path, facts, {"rates": {"think": 1.0}}, {"rows": {}})
    assert path == tmp_path / record.FILE and [p.name for p in tmp_path.iterdir()] == [record.FILE]
    assert record.load(tmp_path, facts) == {"evaluation": {"rates": {"think": 1.0}}, "free_generation": {"rows": {}}}
    for changed in ({"model": "b" * 64}, {"onnxruntime": "1.31.0"}, {"code": "d"}):
        assert record.load(tmp_path, facts | changed) is None, changed
    path.write_text("{not json")
    assert record.load(tmp_path, facts) is None
    assert record.load(tmp_path / "missing", facts) is None


def test_the_training_command_starts_and_writes_the_site_adapter_by_default():
    """`python -m export.posttrain` loads (its imports are not run by the other tests) and, unless
    told otherwise, writes the adapter the site's model is exported with."""
    import json
    import subprocess
    import sys

    from export.posttrain.__main__ import parser
    from export.site_model import ADAPTER

    run = subprocess.run([sys.executable, "-m", "export.posttrain", "sft", "--help"], capture_output=True, text=True)
    assert run.returncode == 0 and "--steps" in run.stdout, run.stderr[-2000:]
    args = parser().parse_args(["sft"])
    assert args.out == ADAPTER
    # the default command makes the committed adapter's recipe
    recipe = json.loads((ADAPTER / "recipe.json").read_text())
    assert {k: recipe[k] for k in ("examples", "steps", "seed", "lr", "distill", "reply_tokens", "on_policy")} == \
        {"examples": args.examples, "steps": args.steps, "seed": args.seed, "lr": args.lr, "distill": args.distill,
         "reply_tokens": args.reply_tokens, "on_policy": args.on_policy}
