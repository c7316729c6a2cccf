"""A LoRA adapter folder (written by ``python -m export.posttrain sft``) as the exporter reads it.

The graph applies it as a low-rank branch beside each adapted projection,
``y = x W^T + ((x A^T) B^T) * alpha / rank``: exact for every preset. Folding ``B A`` into the
weights instead would force the GGUF's Q4_1 blocks to be re-quantized, which measured 0.751
top-1 agreement (docs/authors/export.md).
"""
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ExportError
from .sources import file_sha256


@dataclass
class Adapter:
    name: str                 # the folder's name
    sha256: str               # of adapter.npz
    bytes: int                # size of adapter.npz
    rank: int
    alpha: float
    template: str             # file name in core/templates/ the adapter was trained with
    weights: dict             # weight name -> (A [rank, in], B [out, rank]) float32
    recipe: dict              # recipe.json: seed, data, LoRA and optimizer settings
    losses: list              # the masked loss of every training step (training_log.json)
    trained_tokens: int       # tokens that carried loss, summed over the training steps
    folder: Path              # where it was read from (its evaluation record is written there)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def pair(self, name: str):
        return self.weights.get(name)

    def facts(self) -> dict:
        """The manifest's ``posttrain`` section: what was applied, how it was trained (with the
        loss curve in window means), and one training conversation of each new convention."""
        return {"adapter": self.name, "sha256": self.sha256, "bytes": self.bytes, "rank": self.rank,
                "alpha": self.alpha, "weights": len(self.weights),
                "parameters": sum(a.size + b.size for a, b in self.weights.values()), "template": self.template,
                "system": self.data_options()["system"],
                "training": self.training(), "samples": self.samples()}

    def training(self) -> dict:
        r = self.recipe
        window = max(1, len(self.losses) // CURVE_POINTS)
        curve = [[min(i + window, len(self.losses)), round(sum(chunk) / len(chunk), 5)]
                 for i in range(0, len(self.losses), window) for chunk in [self.losses[i:i + window]]]
        return {"examples": r.get("examples"), "steps": len(self.losses), "lr": r.get("lr"),
                "distill": r.get("distill", False), "distill_prompts": self.distill_prompts(),
                "seed": r.get("seed"), "mix": r.get("mix"), "trained_tokens": self.trained_tokens,
                "loss_window": window, "loss_curve": curve}

    def data_options(self) -> dict:
        """How ``posttrain.data`` regenerates the run's examples: its mix, system message and
        everyday prompt pool and share of leading brackets, from the recipe (runs that predate a
        field used ``data.LEGACY``, and no preference for leading brackets)."""
        from .posttrain import data
        r = self.recipe
        mix = tuple(r["mix"].items()) if isinstance(r.get("mix"), dict) else None
        return {"mix": mix, "system": r.get("system", data.LEGACY["system"]),
                "pool": r.get("chat_prompts", data.LEGACY["chat_prompts"]),
                "leading": r.get("leading_brackets", 0.0)}

    def _trained(self) -> list:
        """The examples the run's steps trained on, in order (regenerated: their text does not
        depend on the model), or [] when the recipe cannot say."""
        from .posttrain import data, sft
        r = self.recipe
        if not {"seed", "examples", "steps"} <= r.keys():
            return []
        examples = data.examples("train", int(r["examples"]), int(r["seed"]), lambda q: "", **self.data_options())
        return [examples[i] for i in sft.order(len(examples), int(r["steps"]), int(r["seed"]))]

    def distill_prompts(self) -> int | None:
        """How many distinct everyday prompts the run's steps learned the original's replies to."""
        from .posttrain import data
        if not self.recipe.get("distill"):
            return None
        return len({e.messages[1]["content"] for e in self._trained() if e.kind in data.DISTILLED}) or None

    def samples(self) -> dict:
        """The first conversation of the tool and think kinds that the run trained on, exactly
        as it was trained."""
        out = {}
        for e in self._trained():
            if e.kind in ("tool", "think") and e.kind not in out:
                out[e.kind] = {"messages": e.messages, **e.render_options()}
        return out


CURVE_POINTS = 60   # the loss curve in the manifest: about this many window means


def load(folder) -> Adapter:
    folder = Path(folder)
    npz, recipe_path = folder / "adapter.npz", folder / "recipe.json"
    for path in (folder, npz, recipe_path):
        if not path.exists():
            raise ExportError(f"adapter: {path} does not exist")
    try:
        recipe = json.loads(recipe_path.read_text(encoding="utf-8"))
        with np.load(npz) as z:
            names = sorted({key.split("|")[0] for key in z.files})
            weights = {n: (z[f"{n}|a"].astype(np.float32), z[f"{n}|b"].astype(np.float32)) for n in names}
        rank, alpha = int(recipe["rank"]), float(recipe["alpha"])
        log_path = folder / "training_log.json"
        steps = json.loads(log_path.read_text(encoding="utf-8"))["steps"] if log_path.exists() else []
        losses = [float(s["loss"]) for s in steps]
        trained_tokens = sum(int(s["tokens"]) for s in steps)
    except (ValueError, KeyError, TypeError, OSError, EOFError) as e:
        raise ExportError(f"adapter: unreadable {folder}: {e}") from None
    for n, (a, b) in weights.items():
        if a.shape[0] != rank or b.shape[1] != rank:
            raise ExportError(f"adapter: {n} has rank {a.shape[0]}x{b.shape[1]}, recipe says {rank}")
    sha = file_sha256(npz)
    return Adapter(folder.name, sha, npz.stat().st_size, rank, alpha, recipe.get("template", "qwen3_tools.jinja"),
                   weights, recipe, losses, trained_tokens, folder)
