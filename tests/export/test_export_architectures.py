"""Each supported architecture, as a tiny random checkpoint: the exported graph's logits match
torch within 1e-4 for a prompt (one prefill call) and several one-token decode calls. The graph
returns the last position of each call, so each call is compared with torch's row there."""
import json

import numpy as np
import onnxruntime as ort
import pytest

import export
from export_tiny import save_tiny, torch_logits

PROMPT = [1, 5, 9, 14, 20, 33, 41]
DECODE = [7, 60, 12, 3]


def last_positions(ids_chunks):
    """The position of each chunk's last token in the whole sequence."""
    return (np.cumsum([len(c) for c in ids_chunks]) - 1).tolist()


def onnx_run(folder, ids_chunks, adapter_scale=1.0):
    """Last-position logits for each chunk [chunks, vocab], feeding the cache returned by the
    previous call (and the adapter switch, for a graph that has one)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    io = manifest["onnx"]
    session = ort.InferenceSession(str(folder / io["file"]), providers=["CPUExecutionProvider"])
    cache = {c["input"]: np.zeros([0 if d == "past" else d for d in c["shape"]], np.float32)
             for c in io["cache"]}
    names = [io["outputs"]["logits"]] + [c["output"] for c in io["cache"]]
    rows = []
    for chunk in ids_chunks:
        switch = io["inputs"].get("adapter_scale")
        extra = {switch: np.array([adapter_scale], np.float32)} if switch else {}
        logits, *caches = session.run(names, {io["inputs"]["input_ids"]: np.array([chunk]), **extra, **cache})
        assert logits.shape[:2] == (1, 1)
        rows.append(logits[0])
        cache = {c["input"]: v for c, v in zip(io["cache"], caches)}
    return np.concatenate(rows), manifest


@pytest.mark.parametrize("architecture", ["llama", "qwen3", "qwen3_5_text"])
def test_tiny_export_matches_torch(architecture, tmp_path):
    folder = save_tiny(architecture, tmp_path / architecture)
    out = export.build(folder, preset="fp32", out=tmp_path / "artifact", verify=False)
    chunks = [PROMPT] + [[t] for t in DECODE]
    got, manifest = onnx_run(out, chunks)
    want = torch_logits(folder, PROMPT + DECODE)[last_positions(chunks)]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert manifest["model"]["architecture"] == architecture
    assert manifest["onnx"]["ir_version"] == 10


@pytest.mark.parametrize("architecture", ["llama", "qwen3", "qwen3_5_text"])
def test_prefill_in_chunks_equals_one_prefill(architecture, tmp_path):
    """A second multi-token call on top of a cache (a new chat turn) sees the right positions."""
    folder = save_tiny(architecture, tmp_path / architecture)
    out = export.build(folder, preset="fp32", out=tmp_path / "artifact", verify=False)
    whole, _ = onnx_run(out, [PROMPT + DECODE])
    chunks = [PROMPT[:3], PROMPT[3:], DECODE]
    chunked, _ = onnx_run(out, chunks)
    np.testing.assert_allclose(chunked[-1], whole[-1], atol=1e-5, rtol=0)
    want = torch_logits(folder, PROMPT + DECODE)[last_positions(chunks)]
    np.testing.assert_allclose(chunked, want, atol=1e-4, rtol=0)


def test_q4_tiny_export_computes_with_its_quantized_weights(tmp_path):
    """The q4 preset of a float checkpoint: int4 round-to-nearest blocks for the layers, int8
    blocks for the tied embedding / lm_head. The graph equals torch running those same weights."""
    import torch
    from transformers import AutoModelForCausalLM

    from export.quantize import dequantize_nbits, rtn_q4, rtn_q8

    folder = save_tiny("llama", tmp_path / "llama")
    out = export.build(folder, preset="q4", out=tmp_path / "artifact", verify=False)
    chunks = [PROMPT] + [[t] for t in DECODE]
    got, manifest = onnx_run(out, chunks)
    assert manifest["onnx"]["quantization"]["method"] == "round-to-nearest"

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        for name, module in model.model.layers.named_modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.from_numpy(dequantize_nbits(rtn_q4(module.weight.numpy()))))
        embed = model.model.embed_tokens.weight
        embed.copy_(torch.from_numpy(rtn_q8(embed.numpy()).dequantize()))
        want = model(torch.tensor([PROMPT + DECODE])).logits[0].numpy()[last_positions(chunks)]
    # MatMulNBits and torch sum the same products in a different order: close, not bit-exact
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_qwen3_5_cache_layout_and_greedy_through_the_widgets_loop(tmp_path):
    """Linear-attention layers carry fixed-size conv and recurrent states (no "past" axis), full
    layers a growing key/value pair; the widgets' own loop on the artifact greedily picks the
    same tokens as transformers' generate."""
    import asyncio

    import torch
    from transformers import AutoModelForCausalLM

    from core.backend_native import NativeBackend
    from core.generation import GenerationConfig, Generator
    from core.sampling import GREEDY

    folder = save_tiny("qwen3_5_text", tmp_path / "qwen3_5")
    out = export.build(folder, preset="fp32", out=tmp_path / "artifact", verify=False)
    manifest = json.loads((out / "manifest.json").read_text())
    model = manifest["model"]
    kinds = {c["layer"]: set() for c in manifest["onnx"]["cache"]}
    for c in manifest["onnx"]["cache"]:
        kinds[c["layer"]].add(c["kind"])
        assert ("past" in c["shape"]) == (c["kind"] in ("key", "value"))
    assert [sorted(kinds[i]) for i in range(model["num_layers"])] == [
        ["conv", "recurrent"] if t == "linear_attention" else ["key", "value"] for t in model["layer_types"]]
    recurrent = next(c for c in manifest["onnx"]["cache"] if c["kind"] == "recurrent")
    assert recurrent["shape"] == [1, model["linear_num_value_heads"], model["linear_key_head_dim"],
                                  model["linear_value_head_dim"]]

    reference = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        want = reference.generate(torch.tensor([PROMPT]), max_new_tokens=8, min_new_tokens=8,
                                  do_sample=False, pad_token_id=0)[0, len(PROMPT):].tolist()
    backend = NativeBackend.from_artifact(out)
    generator = Generator(backend, lambda i: f"w{i} ".encode(), stop_ids=[])
    result = asyncio.run(generator.generate(PROMPT, GenerationConfig(8, GREEDY)))
    assert result.ids == want
    assert backend.truncate(len(PROMPT)) == 0      # a recurrent state cannot rewind: it restarts


def test_lora_adapter_is_applied_exactly_and_recorded(tmp_path):
    """An adapter folder on a tiny llama: the exported graph equals torch with B @ A * scale
    added to the weights, and the manifest names the adapter, takes its template (keeping the
    original), and carries the training curve and sample conversations."""
    import torch
    from transformers import AutoModelForCausalLM

    from export.posttrain import data, sft

    folder = save_tiny("llama", tmp_path / "llama")
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    base = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(0)
    rank, alpha = 4, 12.0          # scale 3: not a power of two
    names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight",
             "model.layers.1.mlp.up_proj.weight", "model.layers.1.mlp.down_proj.weight",
             "model.layers.1.self_attn.o_proj.weight"]
    arrays = {}
    for n in names:
        out_f, in_f = base[n].shape
        arrays[f"{n}|a"] = (rng.standard_normal((rank, in_f)) * 0.3).astype(np.float16)
        arrays[f"{n}|b"] = (rng.standard_normal((out_f, rank)) * 0.3).astype(np.float16)
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    np.savez(adapter / "adapter.npz", **arrays)
    (adapter / "recipe.json").write_text(json.dumps({"rank": rank, "alpha": alpha, "template": "qwen3_tools.jinja",
                                                     "seed": 3, "examples": 30, "steps": 130, "lr": 1e-3,
                                                     "trained_tokens": 999, "system": "Be brief.",
                                                     "chat_prompts": "distill", "mix": {"tool": 1, "think": 1},
                                                     "leading_brackets": 0.5}))
    losses = [round(1.0 / (1 + 0.1 * s), 5) for s in range(130)]
    tokens = [7 + s % 5 for s in range(130)]
    (adapter / "training_log.json").write_text(json.dumps({"steps": [
        {"step": s + 1, "loss": v, "tokens": t} for s, (v, t) in enumerate(zip(losses, tokens))]}))

    out = export.build(folder, preset="fp32", out=tmp_path / "artifact", verify=False, adapter=adapter)
    chunks = [PROMPT] + [[t] for t in DECODE]
    got, manifest = onnx_run(out, chunks)
    pairs = {n: (arrays[f"{n}|a"].astype(np.float32), arrays[f"{n}|b"].astype(np.float32)) for n in names}
    model.load_state_dict({k: torch.from_numpy(v) for k, v in sft.merge(base, pairs, alpha / rank).items()})
    with torch.no_grad():
        want = model(torch.tensor([PROMPT + DECODE])).logits[0].numpy()[last_positions(chunks)]
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    unadapted, _ = onnx_run(export.build(folder, preset="fp32", out=tmp_path / "plain", verify=False), chunks)
    assert np.abs(unadapted - want).max() > 0.01          # the adapter changed the output
    switched_off, _ = onnx_run(out, chunks, adapter_scale=0.0)
    assert np.array_equal(switched_off, unadapted)        # off, the branches add exact zeros
    assert manifest["onnx"]["inputs"]["adapter_scale"] == "adapter_scale"
    assert manifest["posttrain"]["sha256"] == __import__("hashlib").sha256(
        (adapter / "adapter.npz").read_bytes()).hexdigest()
    assert manifest["chat_template"]["features"] == {"think": True, "tools": True}
    post = manifest["posttrain"]
    plain_manifest = json.loads((tmp_path / "plain" / "manifest.json").read_text())
    assert post["original_chat_template"] == plain_manifest["chat_template"]
    training = post["training"]
    assert (training["steps"], training["trained_tokens"], training["loss_window"]) == (130, sum(tokens), 2)
    assert training["loss_curve"][0] == [2, pytest.approx((losses[0] + losses[1]) / 2, abs=1e-5)]
    assert training["loss_curve"][-1] == [130, pytest.approx((losses[128] + losses[129]) / 2, abs=1e-5)]
    assert len(training["loss_curve"]) == 65
    assert post["system"] == "Be brief."          # what the chat sends whenever the adapter is on
    train = data.examples("train", 30, 3, answer=lambda q: "", mix=(("tool", 1), ("think", 1)), system="Be brief.",
                          leading=0.5)
    trained_order = [train[i] for i in sft.order(30, 130, 3)]
    for kind in ("tool", "think"):
        first = next(e for e in trained_order if e.kind == kind)
        assert post["samples"][kind] == {"messages": first.messages, **first.render_options()}


def test_missing_or_foreign_adapter_fails_in_one_line(tmp_path, capsys):
    from export import cli
    folder = save_tiny("llama", tmp_path / "llama")
    assert cli.main([str(folder), "--no-verify", "--adapter", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err.strip().endswith("does not exist")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    np.savez(foreign / "adapter.npz", **{"model.layers.9.mlp.up_proj.weight|a": np.zeros((2, 64), np.float16),
                                         "model.layers.9.mlp.up_proj.weight|b": np.zeros((96, 2), np.float16)})
    (foreign / "recipe.json").write_text('{"rank": 2, "alpha": 4}')
    assert cli.main([str(folder), "--no-verify", "--adapter", str(foreign), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "export: error: adapter foreign: model.layers.9.mlp.up_proj.weight is not a weight of this model"
    assert not (tmp_path / "o").exists()
