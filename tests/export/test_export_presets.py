"""The q8 preset, and the GGUF keep-the-blocks choice measured against re-quantizing."""
import json

import export
from export.sources import default_source_path
from export.verify import verify


def manifest_of(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_q8_preset_passes_its_threshold():
    m = manifest_of(export.build(preset="q8"))
    assert m["onnx"]["quantization"]["preset"] == "q8"
    assert m["verification"]["passed"] and m["verification"]["top1_agreement"] >= 0.95


def test_keeping_gguf_blocks_beats_requantizing(default_artifact, tmp_path):
    """Both ways verified against the same torch reference: the kept Q4_1 blocks (the preset's
    choice) diverge less than round-to-nearest re-quantization of the dequantized weights."""
    import torch
    from transformers import AutoModelForCausalLM

    kept = manifest_of(default_artifact)
    folder = export.build(preset="q4", keep_source_quant=False, verify=False, out=tmp_path / "rq")
    requant = manifest_of(folder)
    assert requant["onnx"]["quantization"]["method"] == "round-to-nearest"
    assert kept["onnx"]["quantization"]["method"] == "gguf-blocks-kept"
    gguf = default_source_path()
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name,
                                                     dtype=torch.float32).eval()
    measured = verify(folder / "model.onnx", requant["onnx"], reference,
                      (folder / "tokenizer.json").read_text(encoding="utf-8"),
                      requant["chat_template"]["text"], "q4", log=lambda line: None)
    assert kept["verification"]["mean_kl"] < measured.mean_kl
    assert kept["verification"]["top1_agreement"] >= measured.top1_agreement
