"""The per-layer weight kernel and the direction index (pure Python: the study, reports and tests share it).

A component (attention output, MLP down projection) is ablated in layer ``i`` with weight::

    d = |i - max_weight_position|
    w = max_weight + (d / min_weight_distance) * (min_weight - max_weight)   if d <= min_weight_distance
    w = 0                                                                    otherwise

Positions and distances are fractions of the layer count in the trial parameters (so one search space
fits any depth) and are scaled here; the reach is at least one layer, so every kernel ablates some
layer. The direction index is a float: layer ``floor(idx)``'s direction interpolated toward the next
one, the direction shared by every ablated layer (scope ``global``); with scope ``per_layer`` each layer
uses its own direction and the index is unused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

COMPONENTS = ("attn", "mlp")


@dataclass(frozen=True)
class ComponentKernel:
    max_weight: float
    max_weight_position: float  # fraction of the layers, 0..1
    min_weight: float
    min_weight_distance: float  # fraction of the layers, > 0

    def weights(self, n_layers: int) -> list[float]:
        pos = self.max_weight_position * (n_layers - 1)
        dist = max(self.min_weight_distance * n_layers, 1.0)  # reaches at least one layer (as heretic's)
        out = []
        for i in range(n_layers):
            d = abs(i - pos)
            out.append(0.0 if d > dist else self.max_weight + (d / dist) * (self.min_weight - self.max_weight))
        return out


@dataclass(frozen=True)
class TrialParams:
    direction_index: float  # fraction of the layers, 0..1
    kernels: Mapping[str, ComponentKernel]
    scope: str = ""  # global | per_layer when the trial chose it; "" → the ablator's configured scope

    def layer_weights(self, n_layers: int) -> dict[str, list[float]]:
        return {name: k.weights(n_layers) for name, k in self.kernels.items()}

    def direction_layer(self, n_layers: int) -> float:
        return self.direction_index * (n_layers - 1)

    def as_flat(self) -> dict[str, float | str]:
        out: dict[str, float | str] = {"direction_index": self.direction_index}
        if self.scope:
            out["scope"] = self.scope
        for name, k in self.kernels.items():
            out.update({f"{name}.max_weight": k.max_weight, f"{name}.max_weight_position": k.max_weight_position,
                        f"{name}.min_weight": k.min_weight, f"{name}.min_weight_distance": k.min_weight_distance})
        return out

    @classmethod
    def from_flat(cls, flat: Mapping[str, float | str], components: tuple[str, ...] = COMPONENTS) -> TrialParams:
        """From Optuna's params: ``min_weight`` may be stored as ``min_weight_frac`` of max_weight."""
        kernels = {}
        for c in components:
            mx = float(flat[f"{c}.max_weight"])
            mn = (float(flat[f"{c}.min_weight"]) if f"{c}.min_weight" in flat
                  else mx * float(flat[f"{c}.min_weight_frac"]))
            kernels[c] = ComponentKernel(mx, float(flat[f"{c}.max_weight_position"]), mn,
                                         float(flat[f"{c}.min_weight_distance"]))
        return cls(float(flat["direction_index"]), kernels, str(flat.get("scope", "")))


def interpolation(idx: float, n: int) -> tuple[int, int, float]:
    """(lower, upper, t): the direction at float index ``idx`` is (1-t)·dir[lower] + t·dir[upper]."""
    idx = min(max(idx, 0.0), n - 1)
    lo = math.floor(idx)
    hi = min(lo + 1, n - 1)
    return lo, hi, idx - lo


# Heretic-style defaults: strongest in the upper-middle layers, both components. The study's first
# (warm-start) trial uses these.
DEFAULT_FLAT: dict[str, float | str] = {
    "direction_index": 0.6, "scope": "global",
    **{f"{c}.{k}": v for c in COMPONENTS for k, v in (
        ("max_weight", 1.0), ("max_weight_position", 0.65), ("min_weight_frac", 0.3), ("min_weight_distance", 0.45))},
}
