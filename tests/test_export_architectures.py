"""Each supported architecture, as a tiny random checkpoint: the exported graph's logits match
torch within 1e-4 for a prompt (one prefill call) and several one-token decode calls."""
import json

import numpy as np
import onnxruntime as ort
import pytest

import export
from export_tiny import save_tiny, torch_logits

PROMPT = [1, 5, 9, 14, 20, 33, 41]
DECODE = [7, 60, 12, 3]


def onnx_run(folder, ids_chunks):
    """Logits for each chunk, feeding the cache returned by the previous call."""
    manifest = json.loads((folder / "manifest.json").read_text())
    io = manifest["onnx"]
    session = ort.InferenceSession(str(folder / io["file"]), providers=["CPUExecutionProvider"])
    cache = {c["input"]: np.zeros([0 if d == "past" else d for d in c["shape"]], np.float32)
             for c in io["cache"]}
    names = [io["outputs"]["logits"]] + [c["output"] for c in io["cache"]]
    rows = []
    for chunk in ids_chunks:
        logits, *caches = session.run(names, {io["inputs"]["input_ids"]: np.array([chunk]), **cache})
        rows.append(logits[0])
        cache = {c["input"]: v for c, v in zip(io["cache"], caches)}
    return np.concatenate(rows), manifest


@pytest.mark.parametrize("architecture", ["llama", "qwen3"])
def test_tiny_export_matches_torch(architecture, tmp_path):
    folder = save_tiny(architecture, tmp_path / architecture)
    out = export.build(folder, preset="fp32", out=tmp_path / "artifact", verify=False)
    got, manifest = onnx_run(out, [PROMPT] + [[t] for t in DECODE])
    want = torch_logits(folder, PROMPT + DECODE)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)
    assert manifest["model"]["architecture"] == architecture
    assert manifest["onnx"]["ir_version"] == 10


@pytest.mark.parametrize("architecture", ["llama", "qwen3"])
def test_prefill_in_chunks_equals_one_prefill(architecture, tmp_path):
    """A second multi-token call on top of a cache (a new chat turn) sees the right positions."""
    folder = save_tiny(architecture, tmp_path / architecture)
    out = export.build(folder, preset="fp32", out=tmp_path / "artifact", verify=False)
    whole, _ = onnx_run(out, [PROMPT + DECODE])
    chunked, _ = onnx_run(out, [PROMPT[:3], PROMPT[3:], DECODE])
    np.testing.assert_allclose(chunked, whole, atol=1e-5, rtol=0)


def test_q4_tiny_export_computes_with_its_quantized_weights(tmp_path):
    """The q4 preset of a float checkpoint: int4 round-to-nearest blocks for the layers, int8
    blocks for the tied embedding / lm_head. The graph equals torch running those same weights."""
    import torch
    from transformers import AutoModelForCausalLM

    from export.quantize import dequantize_nbits, rtn_q4, rtn_q8

    folder = save_tiny("llama", tmp_path / "llama")
    out = export.build(folder, preset="q4", out=tmp_path / "artifact", verify=False)
    got, manifest = onnx_run(out, [PROMPT] + [[t] for t in DECODE])
    assert manifest["onnx"]["quantization"]["method"] == "round-to-nearest"

    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    with torch.no_grad():
        for name, module in model.model.layers.named_modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.copy_(torch.from_numpy(dequantize_nbits(rtn_q4(module.weight.numpy()))))
        embed = model.model.embed_tokens.weight
        embed.copy_(torch.from_numpy(rtn_q8(embed.numpy()).dequantize()))
        want = model(torch.tensor([PROMPT + DECODE])).logits[0].numpy()
    # the 8-bit lm_head quantizes its activations to int8 (accuracy_level 4): close, not exact
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 0.02
