"""Abliteration as forward hooks over untouched weights (worker only: imports torch).

A trial never writes a weight: each ablated module gets a hook that applies the rank-k change to its
output (and, for norm preservation by rows, a pre-hook that rescales its input). ``reset()`` removes
the hooks, so the original weights are restored bit for bit, in microseconds, never by a reload.
``materialised()`` writes the same change into the weights for saving, then puts the original
parameters back.

Variants (W: the module's [out, in] weight, R: an orthonormal [out, k] basis of the refusal directions,
P = R Rᵀ, w: the layer's kernel weight):

- ``standard``: W' = W − w·P W
- ``norm_preserving``, ``norm = "rows"``: W' = (W − w·P W)·diag(s), s restoring each input unit's
  write vector (each column of nn.Linear.weight, i.e. each row of Wᵀ) to its original norm;
  ``norm = "frobenius"`` (seed 004): W' = f·(W − w·P W), f = ‖W‖_F / ‖W − w·P W‖_F.
- ``biprojected`` (grimjim's "biprojected abliteration"): the refusal direction, measured at its source
  layer, is made orthogonal to the harmless mean of each *target* layer before that layer's weights
  are changed as in ``standard``, so no target layer loses any of its harmless mean direction.

Directions that are zero or linearly dependent on the ones before them are dropped from the basis
(never turned into arbitrary unit vectors); a layer left with none is not changed. The basis is built
in float64 (a few vectors); the hooks run in the module's dtype, and only the norm factors, which
subtract nearly equal sums of squares, are computed in float64.

A module's bias is never changed (the hook removes it before the change and adds it back).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from pipeline.abliterate.kernel import TrialParams, interpolation
from pipeline.errors import ConfigError

LAYER_PATHS = ("model.layers", "model.language_model.layers", "transformer.h", "gpt_neox.layers",
               "model.decoder.layers")
COMPONENT_PATHS: dict[str, tuple[str, ...]] = {
    "attn": ("self_attn.o_proj", "attn.o_proj", "self_attn.out_proj", "attn.out_proj", "self_attn.dense",
             "attention.dense", "self_attention.dense", "attn.c_proj"),
    "mlp": ("mlp.down_proj", "mlp.fc2", "mlp.dense_4h_to_h", "mlp.c_proj", "feed_forward.w2", "fc2"),
}
VARIANTS = ("standard", "norm_preserving", "biprojected")
EPS = 1e-8


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def find_layers(model: nn.Module) -> list[nn.Module]:
    for path in LAYER_PATHS:
        layers = _get(model, path)
        if isinstance(layers, nn.ModuleList | list) and len(layers):
            return list(layers)
    raise ConfigError(f"abliterate: {type(model).__name__} is not supported: no decoder layer list found "
                      f"(looked for {', '.join(LAYER_PATHS)})")


def find_modules(model: nn.Module, components: tuple[str, ...]) -> dict[str, list[nn.Module]]:
    """component → its module in each layer; a clear error names what was looked for."""
    layers = find_layers(model)
    out: dict[str, list[nn.Module]] = {}
    for comp in components:
        if comp not in COMPONENT_PATHS:
            raise ConfigError(f"abliterate.components: unknown component {comp!r} (expected attn, mlp)")
        mods = []
        for i, layer in enumerate(layers):
            mod = next((m for p in COMPONENT_PATHS[comp] if (m := _get(layer, p)) is not None), None)
            if mod is None or not hasattr(mod, "weight"):
                names = ", ".join(n for n, _ in layer.named_modules() if n)[:400]
                raise ConfigError(f"abliterate: {type(model).__name__} layer {i} has no {comp} output projection "
                                  f"(looked for {', '.join(COMPONENT_PATHS[comp])}; the layer has: {names})")
            mods.append(mod)
        out[comp] = mods
    return out


def weight_oi(mod: nn.Module) -> torch.Tensor:
    """The module's weight as [out, in] (GPT-2's Conv1D stores [in, out])."""
    w = mod.weight
    return w.T if type(mod).__name__ == "Conv1D" else w


RANK_TOL = 1e-6  # a direction whose part orthogonal to the ones kept is below this fraction of its norm


def orthonormal(vectors: torch.Tensor, tol: float = RANK_TOL) -> torch.Tensor:
    """[k, d] directions → an orthonormal [d, k'] basis of their span, k' ≤ k: each direction in turn,
    minus its projection on the kept ones (twice, for accuracy), kept when what remains is more than
    ``tol`` of its own norm; zero and dependent directions are dropped. The kept vectors point the way
    their directions do (sign-stable)."""
    v = vectors.to(torch.float64).reshape(-1, vectors.shape[-1])
    kept: list[torch.Tensor] = []
    for x in v:
        n0 = float(x.norm())
        if n0 == 0.0 or not torch.isfinite(x).all():
            continue
        y = x.clone()
        for _ in range(2):
            for q in kept:
                y = y - (y @ q) * q
        if float(y.norm()) > tol * n0:
            kept.append(y / y.norm())
    if not kept:
        return torch.zeros(v.shape[-1], 0, dtype=torch.float64)
    return torch.stack(kept, dim=1)


def orthogonal_to(vectors: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """[k, d] directions with their component along ``mean`` [d] removed (a zero mean removes nothing)."""
    m = mean.to(torch.float64)
    if float(m.norm()) == 0.0:
        return vectors.to(torch.float64)
    m = m / m.norm()
    v = vectors.to(torch.float64)
    return v - (v @ m)[:, None] * m[None, :]


class Ablator:
    """Hooks a trial's change onto a model; ``directions`` is [n_layers, k, d] (k directions a layer),
    ``harmless_mean`` [n_layers, d] (each layer's mean harmless residual; needed by ``biprojected``)."""

    def __init__(self, model: nn.Module, directions: torch.Tensor, variant: str = "standard",
                 norm: str = "rows", components: tuple[str, ...] = ("attn", "mlp"),
                 scope: str = "global", harmless_mean: torch.Tensor | None = None) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"abliterate.variant: {variant!r} (expected one of {', '.join(VARIANTS)})")
        if norm not in ("rows", "frobenius"):
            raise ConfigError(f"abliterate.norm: {norm!r} (expected rows or frobenius)")
        if variant == "biprojected" and harmless_mean is None:
            raise ConfigError("abliterate.variant = biprojected needs each layer's harmless mean, which this run's "
                              "directions file lacks (it predates it): start a new run")
        self.model, self.variant, self.norm, self.scope = model, variant, norm, scope
        self.modules = find_modules(model, components)
        self.n_layers = len(next(iter(self.modules.values())))
        if directions.shape[0] != self.n_layers:
            raise ValueError(f"directions for {directions.shape[0]} layers, the model has {self.n_layers}")
        self.directions = directions.to(torch.float64)
        self.harmless_mean = None if harmless_mean is None else harmless_mean.to(torch.float64)
        self.handles: list[Any] = []
        self.plan: list[tuple[nn.Module, float, torch.Tensor]] = []  # (module, weight, basis [d, k])
        self._norms: dict[int, torch.Tensor] = {}  # per module: column sums of squares (rows) or ‖W‖²

    # -- a trial ---------------------------------------------------------------------------------------
    def trial_scope(self, params: TrialParams) -> str:
        return params.scope or ("global" if self.scope == "search" else self.scope)

    def source(self, params: TrialParams, layer: int) -> torch.Tensor:
        """The [k, d] directions ablated in ``layer`` before orthonormalisation."""
        if self.trial_scope(params) == "per_layer":
            vecs = self.directions[layer]
        else:
            lo, hi, t = interpolation(params.direction_layer(self.n_layers), self.n_layers)
            vecs = (1 - t) * self.directions[lo] + t * self.directions[hi]
        if self.variant == "biprojected" and self.harmless_mean is not None:
            vecs = orthogonal_to(vecs, self.harmless_mean[layer])
        return vecs

    def basis(self, params: TrialParams, layer: int) -> torch.Tensor:
        return orthonormal(self.source(params, layer))

    def apply(self, params: TrialParams) -> None:
        self.reset()
        weights = params.layer_weights(self.n_layers)
        cache: dict[int, torch.Tensor] = {}
        for comp, mods in self.modules.items():
            for i, mod in enumerate(mods):
                w = weights.get(comp, [0.0] * self.n_layers)[i]
                if w == 0.0:
                    continue
                if i not in cache:
                    cache[i] = self.basis(params, i)
                basis = cache[i]
                if basis.shape[1] == 0:
                    continue  # nothing independent left to remove in this layer
                self.plan.append((mod, w, basis))
                self._hook(mod, w, basis)

    def reset(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        self.plan.clear()

    # -- the maths, shared by hooks and materialisation --------------------------------------------------
    def _sumsq(self, mod: nn.Module) -> torch.Tensor:
        """Per input column sums of squares of W (rows) or ‖W‖² (frobenius), float64, once per module."""
        key = id(mod)
        if key not in self._norms:
            W = weight_oi(mod).detach()
            sq = (W.float() * W.float())
            self._norms[key] = (sq.sum(0) if self.norm == "rows" else sq.sum()).to(torch.float64)
        return self._norms[key]

    def _factors(self, mod: nn.Module, w: float, R: torch.Tensor) -> dict[str, torch.Tensor]:
        """The norm factor of ``norm_preserving`` (empty for the other variants: they need no weight)."""
        if self.variant != "norm_preserving":
            return {}
        W = weight_oi(mod).detach()
        proj2 = ((R.T.to(W.dtype) @ W).to(torch.float64) ** 2)  # [k, in]
        shrink = 2 * w - w * w  # ‖(I − wP)x‖² = ‖x‖² − (2w − w²)‖Px‖²
        total = self._sumsq(mod)
        if self.norm == "rows":
            return {"s": torch.sqrt(total / (total - shrink * proj2.sum(0)).clamp_min(EPS))}
        return {"f": torch.sqrt(total / (total - shrink * proj2.sum()).clamp_min(EPS))}

    def _hook(self, mod: nn.Module, w: float, R64: torch.Tensor) -> None:
        dtype = mod.weight.dtype
        fac = self._factors(mod, w, R64)
        R = R64.to(dtype)
        bias = getattr(mod, "bias", None)
        if "s" in fac:
            s = fac["s"].to(dtype)
            self.handles.append(mod.register_forward_pre_hook(lambda _m, args: (args[0] * s, *args[1:])))
        f = float(fac["f"]) if "f" in fac else None

        def hook(_m: nn.Module, args: tuple[Any, ...], y: torch.Tensor) -> torch.Tensor:
            z = y - bias if bias is not None else y
            z = z - w * (z @ R) @ R.T
            if f is not None:
                z = z * f
            return z + bias if bias is not None else z

        self.handles.append(mod.register_forward_hook(hook))

    def new_weight(self, mod: nn.Module, w: float, R: torch.Tensor) -> torch.Tensor:
        """The materialised [out, in] weight of ``mod`` under this trial (float64, once, for saving)."""
        fac = self._factors(mod, w, R)
        W = weight_oi(mod).detach().to(torch.float64)
        Wn = W - w * R @ (R.T @ W)
        if "s" in fac:
            Wn = Wn * fac["s"][None, :]
        if "f" in fac:
            Wn = Wn * fac["f"]
        return Wn

    @contextmanager
    def suspended(self) -> Iterator[nn.Module]:
        """The original model for a moment (hooks off), the current trial back afterwards."""
        plan = list(self.plan)
        self.reset()
        try:
            yield self.model
        finally:
            for mod, w, R in plan:
                self._hook(mod, w, R)
            self.plan = plan

    @contextmanager
    def materialised(self) -> Iterator[nn.Module]:
        """The current trial written into the weights (hooks off); the original parameters come back after."""
        plan = list(self.plan)
        saved: list[tuple[nn.Module, nn.Parameter]] = []
        for h in self.handles:
            h.remove()
        self.handles.clear()
        try:
            new = [(mod, self.new_weight(mod, w, R)) for mod, w, R in plan]
            for mod, Wn in new:
                orig = mod.weight
                Wn = Wn.T if type(mod).__name__ == "Conv1D" else Wn
                saved.append((mod, orig))
                mod.weight = nn.Parameter(Wn.to(orig.dtype).contiguous(), requires_grad=orig.requires_grad)
            yield self.model
        finally:
            for mod, orig in saved:
                mod.weight = orig
            for mod, w, R in plan:
                self._hook(mod, w, R)
            self.plan = plan
