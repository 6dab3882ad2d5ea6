"""The weight change ΔW = B·A·scaling of a LoRA adapter, read from its files, and what a merge did to it.

Worker-only (torch, safetensors; imported inside functions). Used to check that a trained branch moved
at all (a LoRA initialises B = 0, so ΔW = 0 until a step has a gradient: a GRPO group whose completions
all got the same reward has none), to report each adapter's ‖ΔW‖, and to measure how much of the merge
rule's result the saved merged adapter holds (an SVD-based merge stores a rank-limited factorisation).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_model.bin")
MOVED = 1e-8  # ‖ΔW‖ below this is an adapter that never left its initialisation


def _scaling(cfg: Mapping[str, Any], module: str, rank: int) -> float:
    alpha = float((cfg.get("alpha_pattern") or {}).get(module, cfg.get("lora_alpha", rank)))
    return alpha / math.sqrt(rank) if cfg.get("use_rslora") else alpha / rank


def _rank(cfg: Mapping[str, Any], module: str) -> int:
    pattern: Mapping[str, int] = cfg.get("rank_pattern") or {}
    for key, r in pattern.items():
        if module.endswith(key):
            return int(r)
    return int(cfg.get("r", 0))


class Adapter:
    """A LoRA adapter's A and B matrices (small), giving each module's ΔW on demand (ΔW can be large: an 8B
    model's MLP ΔW is 4096 × 12288, so they are made one module at a time, never all at once)."""

    def __init__(self, folder: Path) -> None:
        import torch

        self.folder = Path(folder)
        self.cfg: dict[str, Any] = json.loads((self.folder / "adapter_config.json").read_text(encoding="utf-8"))
        if (self.folder / ADAPTER_FILES[0]).is_file():
            from safetensors.torch import load_file

            weights = load_file(str(self.folder / ADAPTER_FILES[0]))
        else:
            weights = torch.load(str(self.folder / ADAPTER_FILES[1]), map_location="cpu", weights_only=True)
        self.pairs: dict[str, tuple[Any, Any]] = {}
        for key, a in weights.items():
            if ".lora_A." in key:
                module = key.split(".lora_A.")[0].removeprefix("base_model.model.")
                self.pairs[module] = (a, weights[key.replace(".lora_A.", ".lora_B.")])

    def modules(self) -> list[str]:
        return list(self.pairs)

    def delta(self, module: str) -> Any:
        """ΔW = B·A·scaling of one module (out × in, float32)."""
        a, b = self.pairs[module]
        d = b.float() @ a.float() * _scaling(self.cfg, module, _rank(self.cfg, module) or a.shape[0])
        return d.T if self.cfg.get("fan_in_fan_out") else d

    def norm(self) -> float:
        """‖ΔW‖ over the whole adapter: every module's ΔW taken together (Frobenius)."""
        return math.sqrt(sum(float((self.delta(m).double() ** 2).sum()) for m in self.pairs))


def rule_on_delta(deltas: Sequence[Any], weights: Sequence[float], method: str, density: float,
                  majority_sign: str) -> Any:
    """What the merge rule gives applied to full ΔW matrices: PEFT's own merge functions
    (``peft.utils.merge_utils``), as its ``*_svd`` methods call them, before any re-factorisation."""
    import torch
    from peft.utils import merge_utils

    rule = method.removesuffix("_svd")
    w = torch.tensor([float(x) for x in weights])
    if rule == "ties":
        return merge_utils.ties(list(deltas), w, density, majority_sign)
    if rule == "magnitude_prune":
        return merge_utils.magnitude_prune(list(deltas), w, density)
    if rule in ("linear", "svd"):
        return merge_utils.task_arithmetic(list(deltas), w)
    raise ValueError(f"no deterministic ΔW rule for {method} (DARE drops at random)")


def fidelity(sources: Sequence[Adapter], merged: Adapter, weights: Sequence[float], method: str, density: float,
             majority_sign: str) -> dict[str, float]:
    """How close the saved adapter's ΔW is to the rule applied to the sources' ΔW: the share of the rule's
    energy it holds (1 − ‖T − M‖² / ‖T‖², over every module), the relative error, the worst module's."""
    err = tot = worst = 0.0
    for module in sources[0].modules():
        t = rule_on_delta([s.delta(module) for s in sources], weights, method, density, majority_sign).double()
        e = float(((t - merged.delta(module).double()) ** 2).sum())
        n = float((t ** 2).sum())
        err, tot = err + e, tot + n
        if n > 0:
            worst = max(worst, math.sqrt(e / n))
    return {"kept": round(1.0 - err / tot, 6) if tot > 0 else 1.0,
            "relative_error": round(math.sqrt(err / tot), 6) if tot > 0 else 0.0,
            "worst_module_error": round(worst, 6), "rule_norm": round(math.sqrt(tot), 6)}
