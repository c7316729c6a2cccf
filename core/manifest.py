"""Typed view of an artifact's manifest.json (schema_version 1).

Export writes the manifest; everything downstream reads it through this module so that a
missing or renamed field fails in one place with a message that names it.

Example:

    >>> m = Manifest.from_dict({
    ...     "schema_version": 1,
    ...     "model": {"name": "SmolLM2-135M-Instruct", "num_layers": 30, "context_length": 8192,
    ...               "vocab_size": 49152},
    ...     "tokenizer": {"file": "tokenizer.json", "special_tokens": {"<|im_end|>": 2},
    ...                   "eos_id": 2, "stop_ids": [2]},
    ...     "chat_template": {"text": "{{ messages }}", "features": {"think": False}},
    ...     "onnx": {"file": "model.onnx", "inputs": {"input_ids": "input_ids"},
    ...              "outputs": {"logits": "logits"},
    ...              "cache": [{"layer": 0, "kind": "key", "input": "past.0.k",
    ...                         "output": "present.0.k", "shape": [1, 3, "past", 64]}]},
    ... })
    >>> m.model.num_layers, m.tokenizer.stop_ids, m.onnx.cache[0].past_axis
    (30, (2,), 2)

Only plain ``json`` is used, so this runs in Pyodide as well as CPython.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1


class ManifestError(ValueError):
    """The manifest is missing a field or has a value of the wrong kind."""


def _need(d: dict, key: str, where: str):
    if key not in d:
        raise ManifestError(f"manifest.json: missing {where}.{key}")
    return d[key]


def _template(tpl: dict, where: str) -> "ChatTemplateInfo":
    features = tpl.get("features", {})
    return ChatTemplateInfo(text=_need(tpl, "text", where), think=bool(features.get("think", False)),
                            tools=bool(features.get("tools", False)))


def _file(d: dict, where: str) -> "OnnxFile":
    return OnnxFile(file=_need(d, "file", where), sha256=_need(d, "sha256", where),
                    bytes=int(_need(d, "bytes", where)), quantization=dict(d.get("quantization", {})),
                    data=_file(d["data"], f"{where}.data") if d.get("data") else None,
                    session_options=_session_options(d, where))


def _session_options(d: dict, where: str) -> dict:
    options = d.get("session_options") or {}
    if not isinstance(options, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise ManifestError(f"manifest.json: {where}.session_options must map strings to strings")
    return dict(options)


@dataclass(frozen=True)
class ModelInfo:
    name: str  # display name, e.g. "SmolLM2-135M-Instruct"
    slug: str = ""  # folder-safe name used in URLs
    architecture: str = "llama"  # "llama" | "qwen3" | "qwen3_5_text"
    num_layers: int = 0
    num_heads: int = 0
    num_kv_heads: int = 0
    head_dim: int = 0
    hidden_size: int = 0
    intermediate_size: int = 0
    vocab_size: int = 0
    context_length: int = 0  # the most tokens the model may hold, prompt and reply together
    parameters: int = 0
    tie_word_embeddings: bool = False
    license: str = ""
    source: dict = field(default_factory=dict)  # {"kind", "path", "sha256"} of the checkpoint


@dataclass(frozen=True)
class TokenizerInfo:
    file: str  # tokenizer.json, relative to the artifact folder
    special_tokens: dict  # text -> id, e.g. {"<|im_start|>": 1}
    bos_id: int | None = None
    eos_id: int | None = None
    pad_id: int | None = None
    stop_ids: tuple = ()  # generation ends when one of these is sampled


@dataclass(frozen=True)
class ChatTemplateInfo:
    text: str  # the Jinja source
    think: bool = False  # template understands enable_thinking
    tools: bool = False  # template renders a tools block


@dataclass(frozen=True)
class CacheSpec:
    layer: int
    kind: str  # "key" | "value" (grow with tokens) | "conv" | "recurrent" (fixed-size state)
    input: str  # graph input name fed with the cache so far
    output: str  # graph output name holding the updated cache
    shape: tuple  # ints are fixed sizes, the string "past" marks the axis that grows
    dtype: str = "float32"

    @property
    def past_axis(self) -> int | None:
        """Index of the axis that grows with tokens, or None for a state cache."""
        return self.shape.index("past") if "past" in self.shape else None


@dataclass(frozen=True)
class OnnxFile:
    """One graph file of the artifact; every file of an artifact has the same inputs and outputs."""

    file: str  # relative to the artifact folder
    sha256: str = ""
    bytes: int = 0
    quantization: dict = field(default_factory=dict)
    data: OnnxFile | None = None  # the file holding its weights (ONNX external data), if apart
    # onnxruntime session config entries every runtime sets to open this file (the CPU file's
    # lm_head folds only with them: export/ops.py, FOLD_DEQUANTIZE)
    session_options: dict = field(default_factory=dict)

    @property
    def downloads(self) -> tuple:
        """What a runtime fetches to start this graph: the file, then its weights file.

        >>> cpu = OnnxFile("model.cpu.onnx", bytes=2, data=OnnxFile("model.cpu.onnx.data", bytes=245))
        >>> [(f.file, f.bytes) for f in cpu.downloads]
        [('model.cpu.onnx', 2), ('model.cpu.onnx.data', 245)]
        """
        return (self,) + ((self.data,) if self.data else ())


# Which file each runtime loads: WebGPU has kernels for the 4-bit MatMulNBits of model.onnx;
# WASM (and native CPU sessions) run the CPU file's int8 kernels, where the artifact has one.
GPU_BACKENDS = ("webgpu",)


@dataclass(frozen=True)
class OnnxInfo:
    file: str  # model.onnx, relative to the artifact folder
    input_ids: str  # graph input names...
    position_ids: str | None
    attention_mask: str | None
    logits: str  # ...and the logits output, [1, seq, vocab] float32
    cache: tuple  # CacheSpec per cache tensor, in graph order
    adapter_scale: str | None = None  # float32 [1] input switching the adapter off (0) or on (1)
    sha256: str = ""
    bytes: int = 0
    quantization: dict = field(default_factory=dict)
    cpu: OnnxFile | None = None  # the int8 file for CPU runtimes (None: model.onnx serves all)

    @property
    def main(self) -> OnnxFile:
        return OnnxFile(self.file, self.sha256, self.bytes, self.quantization)

    def file_for(self, backend: str) -> OnnxFile:
        """The file ``backend`` ("webgpu", "wasm" or "native") loads.

        >>> info = OnnxInfo("model.onnx", "ids", None, None, "logits", (), bytes=117,
        ...                 cpu=OnnxFile("model.cpu.onnx", bytes=246))
        >>> info.file_for("webgpu").file, info.file_for("wasm").bytes
        ('model.onnx', 246)
        """
        return self.main if backend in GPU_BACKENDS or self.cpu is None else self.cpu

    def file_named(self, name: str) -> OnnxFile | None:
        """The artifact's graph file called ``name``, if it has one.

        >>> info = OnnxInfo("model.onnx", "ids", None, None, "logits", (),
        ...                 cpu=OnnxFile("model.cpu.onnx", session_options={"a.b": "1"}))
        >>> info.file_named("model.cpu.onnx").session_options, info.file_named("x.onnx")
        ({'a.b': '1'}, None)
        """
        return next((f for f in (self.main, self.cpu) if f is not None and f.file == name), None)


@dataclass(frozen=True)
class PosttrainInfo:
    """The LoRA adapter an artifact was exported with; its graph can switch it off."""

    adapter: str  # the adapter folder's name
    bytes: int  # size of the adapter file
    parameters: int  # trained parameters
    rank: int
    system: str | None  # the system message every training conversation had (None: none)
    original_chat_template: ChatTemplateInfo  # the model's own template, for the adapter off


@dataclass(frozen=True)
class Manifest:
    model: ModelInfo
    tokenizer: TokenizerInfo
    chat_template: ChatTemplateInfo
    onnx: OnnxInfo
    raw: dict  # the whole parsed file, for fields this view does not type (verification, files...)
    posttrain: PosttrainInfo | None = None  # None for an export without an adapter

    @classmethod
    def from_dict(cls, d: dict) -> "Manifest":
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ManifestError(f"manifest.json: schema_version {version!r}, expected {SCHEMA_VERSION}")
        model = _need(d, "model", "")
        known = ModelInfo.__dataclass_fields__
        model_info = ModelInfo(**{k: v for k, v in model.items() if k in known})
        tok = _need(d, "tokenizer", "")
        tokenizer = TokenizerInfo(
            file=tok.get("file", "tokenizer.json"),
            special_tokens=dict(tok.get("special_tokens", {})),
            bos_id=tok.get("bos_id"),
            eos_id=tok.get("eos_id"),
            pad_id=tok.get("pad_id"),
            stop_ids=tuple(_need(tok, "stop_ids", "tokenizer")),
        )
        template = _template(_need(d, "chat_template", ""), "chat_template")
        ox = _need(d, "onnx", "")
        inputs = _need(ox, "inputs", "onnx")
        cache = tuple(
            CacheSpec(
                layer=c["layer"], kind=c["kind"], input=c["input"], output=c["output"],
                shape=tuple(c["shape"]), dtype=c.get("dtype", "float32"),
            )
            for c in ox.get("cache", [])
        )
        onnx = OnnxInfo(
            file=ox.get("file", "model.onnx"),
            input_ids=_need(inputs, "input_ids", "onnx.inputs"),
            position_ids=inputs.get("position_ids"),
            attention_mask=inputs.get("attention_mask"),
            logits=_need(_need(ox, "outputs", "onnx"), "logits", "onnx.outputs"),
            cache=cache,
            adapter_scale=inputs.get("adapter_scale"),
            sha256=ox.get("sha256", ""),
            bytes=ox.get("bytes", 0),
            quantization=dict(ox.get("quantization", {})),
            cpu=_file(ox["cpu"], "onnx.cpu") if ox.get("cpu") else None,
        )
        post = d.get("posttrain")
        posttrain = None
        if post:
            posttrain = PosttrainInfo(
                adapter=_need(post, "adapter", "posttrain"), bytes=int(post.get("bytes", 0)),
                parameters=int(post.get("parameters", 0)), rank=int(post.get("rank", 0)),
                system=post.get("system"),
                original_chat_template=_template(_need(post, "original_chat_template", "posttrain"),
                                                 "posttrain.original_chat_template"))
        return cls(model=model_info, tokenizer=tokenizer, chat_template=template, onnx=onnx, raw=d,
                   posttrain=posttrain)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path) -> "Manifest":
        """Read ``path`` (the manifest.json file, or the artifact folder holding it)."""
        p = Path(path)
        if p.is_dir():
            p = p / "manifest.json"
        return cls.from_json(p.read_text(encoding="utf-8"))
