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
    rank: int
    alpha: float
    template: str             # file name in widgets/templates/ the adapter was trained with
    weights: dict             # weight name -> (A [rank, in], B [out, rank]) float32

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def pair(self, name: str):
        return self.weights.get(name)

    def facts(self) -> dict:
        return {"adapter": self.name, "sha256": self.sha256, "rank": self.rank, "alpha": self.alpha,
                "weights": len(self.weights), "template": self.template}


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
    except (ValueError, KeyError, OSError, EOFError) as e:
        raise ExportError(f"adapter: unreadable {folder}: {e}") from None
    for n, (a, b) in weights.items():
        if a.shape[0] != rank or b.shape[1] != rank:
            raise ExportError(f"adapter: {n} has rank {a.shape[0]}x{b.shape[1]}, recipe says {rank}")
    sha = file_sha256(npz)
    return Adapter(folder.name, sha, rank, alpha, recipe.get("template", "qwen3_tools.jinja"), weights)
