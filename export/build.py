"""export.build(): source -> verified artifact folder, cached by content hash."""
import hashlib
import json
import sys
from pathlib import Path

from . import fingerprint, folders, manifest as mf
from .errors import ExportError
from .gguf_blocks import Q4Blocks, Q8Blocks
from .quantize import PRESETS
from .sources import load_source, source_hash, source_kind
from .spec import source_name

# The graph builder, verification, the post-training evaluation and the libraries only they need
# are imported inside the functions that use them: a folder that is already current is returned
# without loading them.

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"
CACHE_FORMAT = 1   # bump when the cache key's meaning changes


def log_stderr(message: str):
    print(message, file=sys.stderr, flush=True)


# The modules whose code decides an artifact's bytes, per source kind and architecture path.
COMMON_CODE = ("build.py", "decoder.py", "fingerprint.py", "gguf_blocks.py", "graph.py", "lora.py", "manifest.py", "ops.py",
               "prompts.py", "quantize.py", "qwen3_5.py", "smooth.py", "sources.py", "spec.py", "verify.py")
KIND_CODE = {"gguf": ("gguf_source.py",), "hf": ("hf_source.py",)}
# the evaluation an adapter export runs (its chat configuration included)
ADAPTER_CODE = ("posttrain/data.py", "posttrain/evaluate.py", "posttrain/freegen.py", "posttrain/plain.py",
                "posttrain/record.py", "../core/chat_mode.py")


def code_hash(kind: str, adapter: bool = False) -> str:
    """Hash of the export code that decides an artifact of ``kind`` (docstrings and comments
    aside)."""
    return fingerprint.code_hash(Path(__file__).parent, COMMON_CODE + KIND_CODE[kind] + (ADAPTER_CODE if adapter else ()))


def default_out(name: str, preset: str, keep_source_quant: bool, adapter=None) -> Path:
    slug = name.lower().replace("_", "-").replace(" ", "-")
    return ARTIFACTS / (f"{slug}-{preset}{'' if keep_source_quant else '-requant'}"
                        f"{'-' + adapter.name if adapter else ''}")


def cache_key(kind, source_sha, preset, keep_source_quant, verify, adapter_sha=None) -> str:
    options = {"format": CACHE_FORMAT, "source": source_sha, "preset": preset,
               "keep_source_quant": keep_source_quant, "verify": verify,
               "code": code_hash(kind, adapter_sha is not None),
               "toolchain": mf.toolchain(), "adapter": adapter_sha}
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


def is_current(out: Path, key: str) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        return manifest.get("cache_key") == key and all(
            (out / name).stat().st_size == entry["bytes"] for name, entry in manifest["files"].items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def build(source=None, preset="q4", out=None, *, keep_source_quant=True, verify=True, adapter=None,
          reevaluate=False, log=log_stderr) -> Path:
    """Export ``source`` (None: the embedded SmolLM2 GGUF; or a GGUF file / HF folder path) with
    ``preset`` into ``out`` and return the folder. A current folder is returned as it is.
    ``adapter``: a LoRA adapter folder from ``python -m export.posttrain sft`` to apply; its
    held-out evaluation is reused from the adapter's record when that matches exactly
    (``export.posttrain.record``), unless ``reevaluate``, which also rebuilds a current folder."""
    if preset not in PRESETS:
        raise ExportError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    kind, path = source_kind(source)
    if adapter is not None:
        from .lora import load as load_adapter
        adapter = load_adapter(adapter)
    out = Path(out) if out is not None else default_out(source_name(kind, path), preset,
                                                        keep_source_quant, adapter)
    log(f"export: hashing {path}")
    sha = source_hash(kind, path)
    key = cache_key(kind, sha, preset, keep_source_quant, verify, adapter.sha256 if adapter else None)
    with folders.exclusive(out, log):
        if is_current(out, key) and not (reevaluate and adapter is not None):
            log(f"export: {out} is up to date")
            return out
        with folders.staging(out) as tmp:
            _export_into(tmp, kind, path, sha, preset, keep_source_quant, verify, key, log, adapter, reevaluate)
            folders.replace(tmp, out)
    log(f"export: wrote {out}")
    return out


def _export_into(tmp, kind, path, sha, preset, keep_source_quant, verify, key, log, adapter=None,
                 reevaluate=False):
    log(f"export: loading {kind} source {path.name}")
    src = load_source(kind, path, sha)
    original_template = src.chat_template
    # the CPU file's smoothing factors come from the original weights (smooth.py)
    maxima = _smoothing_maxima(src, log) if has_cpu_file(src.spec, preset) else None
    if adapter is not None:
        _apply_adapter(src, adapter, log)
    (tmp / "tokenizer.json").write_text(src.tokenizer_json, encoding="utf-8")
    log(f"export: building the {src.spec.architecture} graph ({preset})")
    model_bytes, io = _graph(src, preset, keep_source_quant, log, adapter)
    (tmp / "model.onnx").write_bytes(model_bytes)
    del model_bytes
    manifest = {
        "schema_version": mf.SCHEMA_VERSION,
        "model": mf.model_section(src),
        "tokenizer": mf.tokenizer_section(src),
        "chat_template": {"text": src.chat_template, "features": mf.template_features(src.chat_template)},
        "posttrain": {**adapter.facts(), "original_chat_template": {
            "text": original_template, "features": mf.template_features(original_template)}} if adapter else None,
        "onnx": None, "files": None, "verification": None,
        "toolchain": mf.toolchain(), "cache_key": key,
    }
    import onnx
    proto = onnx.load(str(tmp / "model.onnx"), load_external_data=False)
    manifest["onnx"] = {"file": "model.onnx", **mf.file_entry(tmp / "model.onnx"),
                        "ir_version": proto.ir_version,
                        "opset": next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                        "quantization": quantization(src, preset, keep_source_quant), **io}
    del proto
    reference_cache = {}
    if verify:
        log("export: verifying against the torch reference")
        from .verify import require, verify as run_verify
        result = run_verify(tmp / "model.onnx", manifest["onnx"], src.reference(), src.tokenizer_json,
                            src.chat_template, preset, log=log, reference_cache=reference_cache)
        manifest["verification"] = result.as_dict()
        log(f"export: top-1 agreement {result.top1_agreement:.4f}, mean KL {result.mean_kl:.6f}")
        require(result, preset)
    else:
        import onnxruntime as ort
        ort.InferenceSession(str(tmp / "model.onnx"), providers=["CPUExecutionProvider"])
    names = ["model.onnx", "tokenizer.json"]
    if maxima is not None:
        manifest["onnx"]["cpu"] = _cpu_file(tmp, src, maxima, manifest["onnx"], adapter, verify,
                                           reference_cache, log)
        names[1:1] = [CPU_FILE, CPU_DATA]
    manifest["files"] = {name: mf.file_entry(tmp / name) for name in names}
    (tmp / "manifest.json").write_text(mf.dumps(manifest), encoding="utf-8")
    if adapter is not None and verify:
        _evaluate_posttrain(tmp, manifest, path, preset, keep_source_quant, log, adapter, reevaluate)


def _evaluate_posttrain(tmp, manifest, path, preset, keep_source_quant, log, adapter, reevaluate=False):
    """Held-out think/tools rates of the adapted artifact, and free-running plain replies in each
    chat configuration against the same export without the adapter, printed and recorded in the
    manifest's posttrain section and in the adapter's evaluation record (reused when it matches
    these exact inputs)."""
    from .posttrain import freegen, record
    from .posttrain.evaluate import evaluate, table
    original = build(path, preset, keep_source_quant=keep_source_quant, log=log)
    facts = record.inputs(tmp, original)
    recorded = None if reevaluate else record.load(adapter.folder, facts)
    if recorded is not None:
        log(f"export: held-out evaluation recorded for these exact model files, runtime and code "
            f"({adapter.folder / record.FILE}); --reevaluate measures again")
        result, free = recorded["evaluation"], recorded["free_generation"]
    else:
        log("export: evaluating the adapter on held-out prompts")
        result = evaluate(tmp, original, log=log)
        log("export: free generation on held-out plain questions")
        free = freegen.evaluate(tmp, original, log=log)
        log(f"export: recorded the evaluation in {record.save(adapter.folder, facts, result, free)}")
    log("export: post-training evaluation\n" + table(result))
    log("export: free generation (answered / looped / wrong language)\n" + freegen.table(free))
    manifest["posttrain"]["evaluation"] = result
    manifest["posttrain"]["evaluation_key"] = record.key(facts)
    manifest["posttrain"]["free_generation"] = free
    (tmp / "manifest.json").write_text(mf.dumps(manifest), encoding="utf-8")


def _apply_adapter(src, adapter, log):
    """The adapter's template becomes the artifact's, and the torch reference that verification
    compares with gets the adapter folded into its float32 weights."""
    from core.chat_template import load as load_template
    missing = sorted(n for n in adapter.weights if n not in src.weights)
    if missing:
        raise ExportError(f"adapter {adapter.name}: {missing[0]} is not a weight of this model")
    log(f"export: applying adapter {adapter.name} ({len(adapter.weights)} weights, rank {adapter.rank})")
    src.chat_template = load_template(adapter.template)
    import torch
    params = dict(src.reference().named_parameters())
    with torch.no_grad():
        for name, (a, b) in adapter.weights.items():
            params[name].add_(torch.from_numpy(b @ a) * adapter.scale)


# The file the WASM backend and native CPU sessions load: int8 weights for the int8 kernels
# onnxruntime-web's WASM build has (it has none for MatMulNBits, and expands every 4-bit weight
# to float32 on every call). WebGPU keeps model.onnx. docs/authors/export.md, "The CPU file".
CPU_FILE = "model.cpu.onnx"
# Its weights live beside the graph, as ONNX external data. onnxruntime-web then copies each weight
# once, from a JavaScript buffer into the tensor that keeps it; from one file it held the file, its
# parsed copy and the tensors in WASM memory at once (which never shrinks). Measured with
# onnxruntime-web in Node on the default model: 1,771 MB resident after the session started from
# one file, 1,282 MB from graph plus data (docs/authors/performance.md).
CPU_DATA = CPU_FILE + ".data"


def has_cpu_file(spec, preset: str) -> bool:
    return preset == "q4" and spec.architecture in ("llama", "qwen3")


def _smoothing_maxima(src, log):
    from .smooth import activation_maxima, calibration_chats
    from .verify import prompt_ids
    prompts = prompt_ids(src.tokenizer_json, src.chat_template, calibration_chats())
    log(f"export: activation maxima for the CPU file ({len(prompts)} calibration chats)")
    return activation_maxima(src.reference(), prompts)


def _cpu_file(tmp, src, maxima, io, adapter, verify, reference_cache, log) -> dict:
    """Write the CPU file, verify it like model.onnx, and return its manifest entry."""
    from . import smooth
    from .decoder import build_decoder
    log("export: building the CPU file (smoothed int8 rows)")
    f = smooth.factors(src.spec, src.weights, maxima)
    model = build_decoder(src.spec, smooth.smooth_weights(src.spec, src.weights, f), "q4", True,
                          src.inv_freq, smooth.smooth_adapter(src.spec, adapter, f), cpu=True)
    import onnx
    onnx.save_model(model, tmp / CPU_FILE, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=CPU_DATA, size_threshold=1024)
    del model
    from .ops import FOLD_DEQUANTIZE
    entry = {"file": CPU_FILE, **mf.file_entry(tmp / CPU_FILE),
             "data": {"file": CPU_DATA, **mf.file_entry(tmp / CPU_DATA)}, "quantization": cpu_quantization(src),
             "session_options": FOLD_DEQUANTIZE}
    if verify:
        from .verify import require, verify as run_verify
        log("export: verifying the CPU file against the torch reference")
        result = run_verify(tmp / CPU_FILE, io, src.reference(), src.tokenizer_json, src.chat_template,
                            "cpu", log=log, reference_cache=reference_cache, session_options=FOLD_DEQUANTIZE)
        log(f"export: CPU file top-1 agreement {result.top1_agreement:.4f}, mean KL {result.mean_kl:.6f}")
        entry["verification"] = result.as_dict()
        require(result, "cpu")
    else:
        import onnxruntime as ort
        ort.InferenceSession(str(tmp / CPU_FILE), providers=["CPUExecutionProvider"])
        entry["verification"] = None
    return entry


def cpu_quantization(src) -> dict:
    from .quantize import CPU_TWO_TERMS, CPU_TWO_TERMS_LAST_LAYERS
    from .smooth import ALPHA, CALIBRATION
    main = quantization(src, "q4", True)
    return {"weight_format": "int8",
            "weights": ("int8 per output row, stored as uint8 with zero point 128 (DynamicQuantizeMatMul: "
                        "uint8 activations per tensor), smoothed; one term, two (the second holding the "
                        f"first one's rounding error) for {'/'.join(m.split('_')[0] for m in CPU_TWO_TERMS)} "
                        f"and every weight of the last {CPU_TWO_TERMS_LAST_LAYERS} layers"),
            "down_proj": "float16, float32 once the session loads (MatMul)",
            "smoothing": {"alpha": ALPHA, "calibration_chats": len(CALIBRATION),
                          "folded_into": "RMS norm weights (q/k/v, gate/up) and v_proj rows (o_proj)"},
            "embedding": main["embedding"],
            "lm_head": main["lm_head"].replace("(Gemm)", "(one DequantizeLinear, then Gemm)"),
            "method": "smoothquant-int8-rows"}


def _graph(src, preset, keep_source_quant, log, adapter=None):
    from .decoder import build_decoder, cache_io
    model = build_decoder(src.spec, src.weights, preset, keep_source_quant, src.inv_freq, adapter)
    return model.SerializeToString(), cache_io(src.spec, adapter)


def quantization(src, preset, keep_source_quant) -> dict:
    from .ops import ACCURACY_LEVEL
    if preset == "fp32":
        return {"preset": preset, "weight_format": "float32", "weights": "float32", "embedding": "float32",
                "lm_head": "tied: the embedding table" if src.spec.tie_word_embeddings else "float32",
                "method": "none", "accuracy_level": None}
    kept = keep_source_quant and any(isinstance(w, Q4Blocks if preset == "q4" else Q8Blocks)
                                     for w in src.weights.values())
    bits = 4 if preset == "q4" else 8
    weights = (f"int{bits} blocks of 32 (MatMulNBits), GGUF Q4_1 blocks kept: float16 scale and min"
               " per block" if kept and preset == "q4" else
               f"int{bits} blocks of 32 (MatMulNBits), round-to-nearest "
               + ("asymmetric, uint8 zero points" if bits == 4 else "symmetric"))
    emb = src.weights["model.embed_tokens.weight"]
    emb_kept = keep_source_quant and isinstance(emb, Q8Blocks)
    embedding = ("int8 blocks of 32 (GatherBlockQuantized), " +
                 ("GGUF Q8_0 blocks kept" if emb_kept else "round-to-nearest symmetric"))
    return {"preset": preset, "weight_format": f"int{bits}", "weights": weights, "embedding": embedding,
            "lm_head": ("tied: the embedding's own int8 blocks, expanded to float32 when the session "
                        "loads (Gemm)" if src.spec.tie_word_embeddings else
                        "int8 blocks of 32, expanded to float32 when the session loads (Gemm)"),
            "method": "gguf-blocks-kept" if kept else "round-to-nearest",
            "accuracy_level": {f"int{bits}": ACCURACY_LEVEL[bits]}}
