"""The CPU file (export/smooth.py, quantize.for_cpu): int8 kernels that onnxruntime-web's WASM
build has, accuracy recovered by smoothing, the embedding kept as GGUF Q8_0 blocks, and the
adapter's branches carried over exactly."""
import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper, TensorProto

from export import smooth
from export.decoder import build_decoder, cache_io
from export.hf_source import load_hf
from export.lora import Adapter
from export.graph import Graph
from export.ops import linear
from export.quantize import CPU_CODE_MAX, rtn_int8_rows
from export_tiny import save_tiny


def _logits(model, io, ids, scale):
    """Logits after each of ``ids``: a prefill of four, then one decode call per token (the two
    paths the site uses), with the adapter switch at ``scale``."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    past = {c["input"]: np.zeros([0 if d == "past" else d for d in c["shape"]], np.float32) for c in io["cache"]}
    names = [io["outputs"]["logits"]] + [c["output"] for c in io["cache"]]
    rows = []
    for chunk in [ids[:4]] + [[t] for t in ids[4:]]:
        feeds = {"input_ids": np.array([chunk], np.int64), "adapter_scale": np.array([scale], np.float32), **past}
        logits, *caches = session.run(names, feeds)
        rows.append(logits[0, -1])
        past = {c["input"]: v for c, v in zip(io["cache"], caches)}
    return np.stack(rows)


def _random_adapter(spec, weights, rank=2, seed=0) -> Adapter:
    rng = np.random.default_rng(seed)
    pairs = {}
    for i in range(spec.num_layers):
        for name in ("self_attn.q_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.up_proj", "mlp.down_proj"):
            out, inp = weights[f"model.layers.{i}.{name}.weight"].shape
            pairs[f"model.layers.{i}.{name}.weight"] = (rng.normal(0, 0.3, (rank, inp)).astype(np.float32),
                                                        rng.normal(0, 0.3, (out, rank)).astype(np.float32))
    return Adapter("random", "0" * 64, 0, rank, 4.0, "qwen3_tools.jinja", pairs, {}, [], 0, Path("."))


@pytest.mark.parametrize("architecture", ["llama", "qwen3"])
def test_smoothing_changes_no_product_in_float(tmp_path, architecture):
    """Folded into the norms and v_proj rows, with the LoRA branches moved alike, the smoothed
    float graph computes what the original does: adapter off, and adapter on."""
    folder = save_tiny(architecture, tmp_path / "ckpt")
    src = load_hf(folder, "0" * 64)
    spec, weights = src.spec, src.weights
    rng = np.random.default_rng(1)
    # factors far from 1 (as real outliers give), from made-up maxima
    maxima = {}
    for i in range(spec.num_layers):
        maxima[i, "qkv"] = rng.uniform(0.01, 50, spec.hidden_size).astype(np.float32)
        maxima[i, "gate_up"] = rng.uniform(0.01, 50, spec.hidden_size).astype(np.float32)
        maxima[i, "o"] = rng.uniform(0.01, 50, spec.num_heads * spec.head_dim).astype(np.float32)
    f = smooth.factors(spec, weights, maxima)
    assert max(float(np.abs(np.log(v)).max()) for v in f.values()) > 1.0
    adapter = _random_adapter(spec, weights)
    io = cache_io(spec, adapter)
    ids = [5, 9, 17, 3, 44, 61, 8, 2, 30]
    plain = build_decoder(spec, weights, "fp32", True, src.inv_freq, adapter)
    smoothed = build_decoder(spec, smooth.smooth_weights(spec, weights, f), "fp32", True, src.inv_freq,
                             smooth.smooth_adapter(spec, adapter, f))
    off, on = _logits(plain, io, ids, 0.0), _logits(plain, io, ids, 1.0)
    assert np.abs(_logits(smoothed, io, ids, 0.0) - off).max() < 1e-4 * np.abs(off).max()
    # the graph stores the branches in float16, like the adapter file, so the smoothed A
    # rounds differently there: agreement to float16's precision
    assert np.abs(_logits(smoothed, io, ids, 1.0) - on).max() < 4e-3 * np.abs(on).max()
    # and the factors matter: the unsmoothed adapter on smoothed weights answers otherwise
    wrong = build_decoder(spec, smooth.smooth_weights(spec, weights, f), "fp32", True, src.inv_freq, adapter)
    assert np.abs(_logits(wrong, io, ids, 1.0) - on).max() > 0.1 * np.abs(on - off).max()


def _int8_linear(rows, k):
    """A one-node graph: the CPU file's linear layer (ops.linear) over ``rows``."""
    g = Graph("int8")
    g.output(linear(g, g.input("x", TensorProto.FLOAT, [1, k]), rows, "/lin"), "y", TensorProto.FLOAT, None)
    return ort.InferenceSession(g.model().SerializeToString(), providers=["CPUExecutionProvider"])


def _uint8_activations(x):
    """(codes, scale) of a non-negative ``x`` as DynamicQuantizeMatMul quantizes it: per tensor,
    zero point 0."""
    scale = x.max() / 255
    return np.clip(np.rint(x / scale), 0, 255), scale


def test_int8_rows_run_exactly_on_this_cpu():
    """The CPU file's linear layer, with full-range codes, equals exact integer arithmetic here, as
    the WASM kernel always does: the codes go in as uint8 with zero point 128, which x86 kernels
    multiply in int16 without saturating (signed codes this wide did not, here)."""
    rng = np.random.default_rng(0)
    k, n = 576, 64
    # the worst case for pairs summed in int16: wide codes side by side, large activations
    w = rng.uniform(-1, 1, size=(n, k)).astype(np.float32)
    rows = rtn_int8_rows(w, terms=1)
    assert np.abs(rows.codes).max() == CPU_CODE_MAX == 127
    x = rng.uniform(0.7, 1.0, size=(1, k)).astype(np.float32)       # uint8 codes 178 to 255
    y = _int8_linear(rows, k).run(None, {"x": x})[0]
    xq, scale = _uint8_activations(x)
    exact = (xq.astype(np.int64) @ rows.codes[0].T.astype(np.int64)) * scale * rows.scales[0]
    assert np.abs(y - exact).max() < 1e-5 * np.abs(exact).max()


def test_two_term_layers_add_their_halves():
    """Two terms in one DynamicQuantizeMatMul, twice as wide: the sum of the halves is the
    product with the weight to about 16 bits (float activations quantized as the kernel does)."""
    rng = np.random.default_rng(3)
    k, n = 256, 32
    w = rng.normal(size=(n, k)).astype(np.float32)
    x = np.abs(rng.normal(size=(1, k)).astype(np.float32))
    codes, scale = _uint8_activations(x)
    xq = codes * scale                                               # what the kernel multiplies
    one, two = (_int8_linear(rtn_int8_rows(w, terms=t), k).run(None, {"x": x})[0] for t in (1, 2))
    reference = xq @ w.T
    assert np.abs(two - reference).max() < np.abs(one - reference).max() / 20


@pytest.mark.parametrize("dequantize", [False, True])
def test_both_forms_of_the_lm_head_table_hold_the_same_floats(dequantize):
    """model.onnx's four folded nodes and the CPU file's one DequantizeLinear (ops._q8_table)
    compute (code - 128) * scale for every weight, bit for bit, folded or run."""
    from export.ops import FOLD_DEQUANTIZE, _q8_table
    rng = np.random.default_rng(4)
    rows, cols = 40, 96
    codes = rng.integers(0, 256, size=(rows, cols // 32, 32), dtype=np.uint8)
    scales = rng.uniform(1e-4, 1e-1, size=(rows, cols // 32)).astype(np.float32)
    g = Graph("table")
    table = _q8_table(g, g.init("codes", codes), g.init("scales", scales), rows, cols, "/t", dequantize)
    g.output(table, "table", TensorProto.FLOAT, None)
    want = ((codes.astype(np.float32) - 128) * scales[..., None]).reshape(rows, cols)
    for options in ({}, FOLD_DEQUANTIZE):
        so = ort.SessionOptions()
        for key, value in options.items():
            so.add_session_config_entry(key, value)
        got = ort.InferenceSession(g.model().SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {})[0]
        assert got.dtype == np.float32 and np.array_equal(got, want)


def test_two_terms_hold_the_weights_to_16_bits():
    w = np.random.default_rng(2).normal(size=(8, 256)).astype(np.float32)
    w[:, 3] *= 40                                               # a smoothed outlier column
    one, two = (np.abs(rtn_int8_rows(w, t).dequantize() - w).max(1) / np.abs(w).max(1) for t in (1, 2))
    assert (one > 1 / (4 * CPU_CODE_MAX)).all() and (two < 1 / CPU_CODE_MAX ** 2).all()


@pytest.fixture(scope="module")
def manifest(default_artifact):
    return json.loads((default_artifact / "manifest.json").read_text())


def test_the_default_export_has_a_verified_cpu_file(default_artifact, manifest):
    cpu = manifest["onnx"]["cpu"]
    assert cpu["file"] == "model.cpu.onnx"
    assert manifest["files"][cpu["file"]] == {"sha256": cpu["sha256"], "bytes": cpu["bytes"]}
    v = cpu["verification"]
    assert v["passed"] and v["threshold"] == 0.97 and v["top1_agreement"] >= 0.97 and v["mean_kl"] < 0.005
    assert (v["prompts"], v["tokens_per_prompt"]) == (manifest["verification"]["prompts"], 64)
    q = cpu["quantization"]
    assert q["weight_format"] == "int8" and "GGUF Q8_0 blocks kept" in q["embedding"]
    proto = onnx.load(str(default_artifact / cpu["file"]))
    ops = {n.op_type for n in proto.graph.node}
    assert "DynamicQuantizeMatMul" in ops and "GatherBlockQuantized" in ops and "MatMulNBits" not in ops
    # the embedding table is stored once, as 8-bit codes: no float copy of its 49,152 x 576 values
    vocab, hidden = manifest["model"]["vocab_size"], manifest["model"]["hidden_size"]
    big = [(i.name, i.data_type) for i in proto.graph.initializer if np.prod(i.dims) >= vocab * hidden]
    assert big == [("model.embed_tokens.codes", TensorProto.UINT8)]
    # every int8 weight as full-range uint8 codes around zero point 128 (see the test above)
    inits = {i.name: i for i in proto.graph.initializer}
    layers = [n for n in proto.graph.node if n.op_type == "DynamicQuantizeMatMul"]
    assert len(layers) == 3 * manifest["model"]["num_layers"]
    for node in layers:
        codes, zero = (numpy_helper.to_array(inits[name]) for name in (node.input[1], node.input[3]))
        assert codes.dtype == np.uint8 and codes.min() >= 1 and codes.max() == 255 and (zero == 128).all()


def test_the_cpu_file_keeps_its_weights_in_a_data_file_the_manifest_lists(default_artifact, manifest):
    """onnxruntime-web copies external weights once, straight into their tensors: the graph
    file holds no weight of any size, and the data file is listed like every other file."""
    cpu = manifest["onnx"]["cpu"]
    data = cpu["data"]
    assert data["file"] == "model.cpu.onnx.data"
    assert manifest["files"][data["file"]] == {"sha256": data["sha256"], "bytes": data["bytes"]}
    path = default_artifact / data["file"]
    assert path.stat().st_size == data["bytes"] and hashlib.sha256(path.read_bytes()).hexdigest() == data["sha256"]
    # as readable as its neighbours (onnx writes external data for its owner only)
    assert path.stat().st_mode & 0o777 == (default_artifact / "model.onnx").stat().st_mode & 0o777
    graph = onnx.load(str(default_artifact / cpu["file"]), load_external_data=False)
    inline = [i.name for i in graph.graph.initializer
              if i.data_location != TensorProto.EXTERNAL
              and np.prod(i.dims) * helper.tensor_dtype_to_np_dtype(i.data_type).itemsize > 1024]
    assert inline == []
    # every byte of the data file belongs to one weight
    spans = sorted((int(e["offset"]), int(e["length"]))
                   for i in graph.graph.initializer if i.data_location == TensorProto.EXTERNAL
                   for e in [{x.key: x.value for x in i.external_data}])
    assert sum(length for _, length in spans) <= data["bytes"] < sum(length for _, length in spans) + 4096 * len(spans)
    assert all(a + la <= b for (a, la), (b, _) in zip(spans, spans[1:]))
    assert cpu["bytes"] < 1_000_000 < data["bytes"]


def _executed_ops(path, options, io, folder):
    """The op types onnxruntime runs for one token, from its profile: nodes folded when the
    session started are not among them."""
    so = ort.SessionOptions()
    so.enable_profiling, so.profile_file_prefix = True, str(folder / "profile")
    for key, value in options.items():
        so.add_session_config_entry(key, value)
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    past = {c["input"]: np.zeros([0 if d == "past" else d for d in c["shape"]], np.float32) for c in io["cache"]}
    session.run(None, {io["inputs"]["input_ids"]: np.array([[1]], np.int64), **past})
    events = json.loads(Path(session.end_profiling()).read_text())
    return {e["args"]["op_name"] for e in events if e.get("cat") == "Node"}


def test_the_lm_head_table_is_folded_once_with_the_files_session_options(default_artifact, manifest, tmp_path):
    """The lm_head's float table comes from one DequantizeLinear of the embedding's 8-bit codes.
    onnxruntime folds it when the session starts only with the options the manifest lists for
    the file; without them it dequantizes all 49,152 rows on every run. The native backend sets
    them from the manifest."""
    from core.backend_native import NativeBackend
    from export.ops import FOLD_DEQUANTIZE
    cpu = manifest["onnx"]["cpu"]
    assert cpu["session_options"] == FOLD_DEQUANTIZE
    proto = onnx.load(str(default_artifact / cpu["file"]), load_external_data=False)
    dq = [n for n in proto.graph.node if n.op_type == "DequantizeLinear"]
    assert len(dq) == 1 and [n.input[0] for n in proto.graph.node if n.output[0] == dq[0].input[0]] == [
        "model.embed_tokens.codes"]
    path = default_artifact / cpu["file"]
    assert "DequantizeLinear" not in _executed_ops(path, cpu["session_options"], manifest["onnx"], tmp_path)
    assert "DequantizeLinear" in _executed_ops(path, {}, manifest["onnx"], tmp_path)
    backend = NativeBackend.from_artifact(default_artifact, runtime="wasm")
    got = backend.session.get_session_options()
    assert all(got.get_session_config_entry(k) == v for k, v in cpu["session_options"].items())


HEAP_PROBE = """
let most = 0;
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function (pages) {
  const before = grow.call(this, pages);
  most = Math.max(most, this.buffer.byteLength);
  return before;
};
process.on("exit", () => process.stderr.write(`wasm memory ${most}\n`));
"""


def test_the_wasm_session_folds_the_table_when_it_starts_too(default_artifact, manifest, tmp_path):
    """onnxruntime-web started by core/backend_node.mjs (which passes the file's session options
    as the page's createSession does) builds the float32 table once, while the session starts:
    its WASM memory holds one table more than with the options dropped from the manifest, where
    the DequantizeLinear is left to run on every token (the native test above)."""
    import subprocess
    from core.backend_node import MODEL_JS, SESSION
    probe, module = tmp_path / "probe.mjs", tmp_path / "llmb-model.mjs"
    probe.write_text(HEAP_PROBE)
    module.write_text(MODEL_JS.read_text())
    plain = json.loads(json.dumps(manifest))
    del plain["onnx"]["cpu"]["session_options"]
    (tmp_path / "plain.json").write_text(json.dumps(plain))

    def wasm_memory(manifest_path):
        out = subprocess.run(["node", "--import", probe.as_uri(), str(SESSION), str(module),
                              str(default_artifact / manifest["onnx"]["cpu"]["file"]), str(manifest_path)],
                             input="", capture_output=True, text=True, timeout=300)
        assert '"ready":true' in out.stdout, out.stderr[-2000:]
        return int(out.stderr.rsplit("wasm memory ", 1)[1].split()[0])

    table = manifest["model"]["vocab_size"] * manifest["model"]["hidden_size"] * 4
    assert wasm_memory(default_artifact / "manifest.json") - wasm_memory(tmp_path / "plain.json") >= table


def test_the_cpu_file_agrees_with_torch_on_unseen_chats(default_artifact):
    """An independent check on chats that neither calibration nor verification used: the CPU
    file's teacher-forced top-1 against the torch reference."""
    from export.sources import load_source, source_hash, source_kind
    from export.verify import verify
    manifest = json.loads((default_artifact / "manifest.json").read_text())
    kind, path = source_kind(None)
    src = load_source(kind, path, source_hash(kind, path))
    chats = [[{"role": "user", "content": text}] for text in (
        "Name three animals that live in the desert.", "What is a prime number?",
        "Write one sentence about the moon.", "How do magnets work?")]
    assert not {c[0]["content"] for c in chats} & set(smooth.CALIBRATION)
    result = verify(default_artifact / "model.cpu.onnx", manifest["onnx"], src.reference(), src.tokenizer_json,
                    src.chat_template, "cpu", n_tokens=32, log=lambda m: None, conversations=chats,
                    session_options=manifest["onnx"]["cpu"]["session_options"])
    assert result.top1_agreement >= 0.95, result
