"""Replaces `{{ model.FACT }}` in Markdown with a fact of the shipped model, so no page types
a number that the export could change.

    The model has {{ model.num_layers }} layers.   ->   The model has 30 layers.
    Its end-of-turn token has id {{ model.id <|im_end|> }}.   ->   ... id 2.

Unknown facts stop the build with one line naming the page and the placeholder.
"""
from __future__ import annotations

import re

from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin

from core.manifest import Manifest

from .config import FactsConfig

PLACEHOLDER = re.compile(r"\{\{\s*model\.([a-z][a-z0-9_]*)(?:\s+(\S+))?\s*\}\}")


def facts_from_manifest(manifest: dict) -> dict:
    """Plain-text facts: {"num_layers": "30", "parameters_m": "134.5", ...}."""
    m, onnx, tok = manifest["model"], manifest["onnx"], manifest["tokenizer"]
    wasm = Manifest.from_dict(manifest).onnx.file_for("wasm")
    facts = {key: f"{m[key]:,}" for key in ("num_layers", "num_heads", "num_kv_heads", "hidden_size",
                                            "intermediate_size", "vocab_size", "context_length")}
    facts.update(
        name=m["name"],
        architecture=m["architecture"],
        parameters_m=f"{m['parameters'] / 1e6:.1f}",
        file_mb=f"{onnx['bytes'] / 1e6:.0f}",
        quantization=onnx["quantization"]["weight_format"],
        # what WASM readers load (model.onnx when the export has no CPU file): graph and weights
        cpu_file_mb=f"{sum(f.bytes for f in wasm.downloads) / 1e6:.0f}",
        cpu_quantization=wasm.quantization["weight_format"],
        special_tokens_count=str(len(tok["special_tokens"])),
    )
    facts.update(posttrain_facts(manifest))
    rows = "\n".join(f"| `{t}` | {i} |" for t, i in sorted(tok["special_tokens"].items(), key=lambda kv: kv[1]))
    facts["special_tokens_table"] = "| Special token | Id |\n|---|---|\n" + rows
    return facts


def posttrain_facts(manifest: dict) -> dict:
    """Facts of the post-training run ({} for an export without an adapter): its size, the loss
    at the start and end of the training log, and the held-out rates."""
    post = manifest.get("posttrain")
    if not post:
        return {}
    training = post["training"]
    curve = training["loss_curve"]
    facts = {
        "posttrain_examples": f"{training['examples']:,}",
        "posttrain_steps": f"{training['steps']:,}",
        "posttrain_trained_tokens": f"{training['trained_tokens']:,}",
        "posttrain_loss_start": f"{curve[0][1]:.2f}",
        "posttrain_loss_end": f"{curve[-1][1]:.3f}",
        "posttrain_rank": str(post["rank"]),
        "posttrain_parameters_m": f"{post['parameters'] / 1e6:.1f}",
        "posttrain_parameters_share": f"{100 * post['parameters'] / manifest['model']['parameters']:.1f}",
        "posttrain_adapter_mb": f"{post['bytes'] / 1e6:.1f}",
    }
    if training.get("distill_prompts") is not None:
        facts["posttrain_distill_prompts"] = f"{training['distill_prompts']:,}"
    for key, count in (post.get("evaluation") or {}).get("counts", {}).items():
        facts[f"posttrain_{key}"] = f"{100 * count['passed'] / max(count['of'], 1):.0f}%"
    free = post.get("free_generation")
    if free:
        facts["posttrain_free_items"] = str(free["items"])
        for name, row in free["rows"].items():
            sampled = row["counts"]["sampled"]
            for key in ("answered", "looped"):
                facts[f"posttrain_free_{name}_{key}"] = f"{100 * sampled[key] / max(sampled['of'], 1):.0f}%"
    return facts


def fill(markdown: str, manifest: dict, page: str = "page") -> str:
    facts = facts_from_manifest(manifest)
    specials = manifest["tokenizer"]["special_tokens"]

    def one(match):
        key, arg = match.group(1), match.group(2)
        if key == "id":
            if arg not in specials:
                raise PluginError(f"llmb-facts: {page}: {match.group(0)} names no special token of the manifest")
            return str(specials[arg])
        if key.startswith("posttrain_") and not manifest.get("posttrain"):
            raise PluginError(f"llmb-facts: {page}: {match.group(0)} needs a model exported with --adapter "
                              f"(its manifest has no posttrain section)")
        if key not in facts or arg is not None:
            raise PluginError(f"llmb-facts: {page}: unknown placeholder {match.group(0)}; "
                              f"known: {', '.join(sorted(facts))}, id <token>")
        return facts[key]

    return PLACEHOLDER.sub(one, markdown)


class FactsPlugin(BasePlugin[FactsConfig]):
    def on_page_markdown(self, markdown, *, page, config, files):
        if not self.config.enabled or "{{" not in markdown:
            return markdown
        models = config.plugins.get(self.config.models_plugin)
        if models is None or not models.config.enabled or models.manifest is None:
            raise PluginError(f"llmb-facts: {page.file.src_uri} uses {{{{ model.* }}}} but "
                              f"plugin {self.config.models_plugin} has no manifest loaded")
        return fill(markdown, models.manifest, page.file.src_uri)
