"""The default artifact: SmolLM2-135M-Instruct from the embedded GGUF, preset q4 (and fp32)."""
import json
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from export.manifest import file_entry

LIMIT_BYTES = 110_000_000    # decimal megabytes: 110 MB


@pytest.fixture(scope="module")
def manifest(default_artifact):
    return json.loads((default_artifact / "manifest.json").read_text())


def test_manifest_contract(manifest):
    assert manifest["schema_version"] == 1
    model = manifest["model"]
    assert model["architecture"] == "llama" and model["num_layers"] == 30
    assert (model["num_heads"], model["num_kv_heads"], model["head_dim"]) == (9, 3, 64)
    assert (model["hidden_size"], model["vocab_size"], model["context_length"]) == (576, 49152, 8192)
    assert model["tie_word_embeddings"] and model["license"] == "apache-2.0"
    assert model["source"]["kind"] == "gguf" and len(model["source"]["sha256"]) == 64
    assert 134e6 < model["parameters"] < 136e6
    tok = manifest["tokenizer"]
    assert tok["special_tokens"]["<|im_start|>"] == 1 and tok["special_tokens"]["<|im_end|>"] == 2
    assert tok["eos_id"] == 2 and tok["stop_ids"][0] == 2
    assert "<|im_start|>" in manifest["chat_template"]["text"]
    onnx_ = manifest["onnx"]
    assert onnx_["ir_version"] == 10 and onnx_["quantization"]["preset"] == "q4"
    assert onnx_["quantization"]["method"] == "gguf-blocks-kept"
    assert [c["layer"] for c in onnx_["cache"]] == [i // 2 for i in range(60)]
    assert all(c["shape"] == [1, 3, "past", 64] for c in onnx_["cache"])
    assert set(manifest["toolchain"]) >= {"python", "torch", "transformers", "onnx", "onnxruntime"}


def test_files_match_their_hashes(default_artifact, manifest):
    for name, entry in manifest["files"].items():
        assert file_entry(default_artifact / name) == entry, name
    assert manifest["onnx"]["sha256"] == manifest["files"]["model.onnx"]["sha256"]


def test_verification_passed(manifest):
    v = manifest["verification"]
    assert v["prompts"] >= 16 and v["tokens_per_prompt"] == 64
    assert v["passed"] and v["top1_agreement"] >= 0.98 and v["threshold"] == 0.98
    assert 0 <= v["mean_kl"] < 0.01


def test_graph_matches_manifest_names(default_artifact, manifest):
    session = ort.InferenceSession(str(default_artifact / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    outputs = {o.name for o in session.get_outputs()}
    io = manifest["onnx"]
    assert inputs == {io["inputs"]["input_ids"]} | {c["input"] for c in io["cache"]}
    assert outputs == {io["outputs"]["logits"]} | {c["output"] for c in io["cache"]}


def test_size_and_embedding_stored_once_quantized(default_artifact):
    path = default_artifact / "model.onnx"
    assert path.stat().st_size <= LIMIT_BYTES
    model = onnx.load(str(path))
    floats = [i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT]
    assert max(int(np.prod(i.dims)) for i in floats) < 49152 * 576 // 8   # no float table
    gather = next(n for n in model.graph.node if n.op_type == "GatherBlockQuantized")
    head = next(n for n in model.graph.node if n.name == "/lm_head/Gemm")
    # the head's weight is computed from initializers only (folded when the session loads),
    # and the only table among them is the embedding's own int8 codes
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    leaves, todo = set(), [head.input[1]]
    while todo:
        name = todo.pop()
        if name in inits:
            leaves.add(name)
        else:
            todo.extend(i for i in producer[name].input if i)
    tables = {n for n in leaves if np.prod(inits[n].dims) >= 49152 * 576 // 8}
    assert tables == {gather.input[0]}
    assert inits[gather.input[0]].data_type == onnx.TensorProto.UINT8
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["MatMulNBits"] == 30 * 4 and ops["GroupQueryAttention"] == 30


def test_tokenizer_keeps_the_smollm_pre_tokenizer(default_artifact):
    from tokenizers import Tokenizer
    data = json.loads((default_artifact / "tokenizer.json").read_text())
    assert data["pre_tokenizer"]["pretokenizers"][0] == {"type": "Digits", "individual_digits": True}
    tok = Tokenizer.from_file(str(default_artifact / "tokenizer.json"))
    assert len(tok.encode("2024").ids) == 4


def test_greedy_decode_loop_follows_torch(default_artifact, manifest):
    """A greedy reply decoded token by token with the cache as the manifest describes it: torch,
    reading the same text, picks the same next token at (nearly) every step."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    from export.sources import default_source_path
    tok = Tokenizer.from_file(str(default_artifact / "tokenizer.json"))
    prompt = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
              "Face<|im_end|>\n<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n"
              "<|im_start|>assistant\n")
    io = manifest["onnx"]
    session = ort.InferenceSession(str(default_artifact / "model.onnx"), providers=["CPUExecutionProvider"])
    cache = {c["input"]: np.zeros((1, 3, 0, 64), np.float32) for c in io["cache"]}
    names = [io["outputs"]["logits"]] + [c["output"] for c in io["cache"]]
    ids = tok.encode(prompt).ids
    chunk, reply = ids, []
    for _ in range(16):
        logits, *caches = session.run(names, {"input_ids": np.array([chunk]), **cache})
        cache = {c["input"]: v for c, v in zip(io["cache"], caches)}
        chunk = [int(logits[0, -1].argmax())]
        reply += chunk
    assert tok.decode(reply).strip()
    gguf = default_source_path()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                 dtype=torch.float32).eval()
    with torch.no_grad():
        want = model(torch.tensor([ids + reply])).logits[0, len(ids) - 1:-1].argmax(-1).tolist()
    assert sum(a == b for a, b in zip(want, reply)) >= 15


def test_fp32_verification_is_exact(fp32_artifact):
    manifest = json.loads((fp32_artifact / "manifest.json").read_text())
    v = manifest["verification"]
    assert v["passed"] and v["top1_agreement"] == 1.0 and v["threshold"] == 1.0
    assert v["mean_kl"] < 1e-6
    assert manifest["onnx"]["quantization"]["weights"] == "float32"
