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
- ``biprojected`` (seed 004): W' = W − w·P W P, only the r→r part; defined for square modules (the
  input space has the residual's size), non-square ones fall back to ``standard``.

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


def orthonormal(vectors: torch.Tensor) -> torch.Tensor:
    """[k, d] directions → an orthonormal [d, k] basis of their span (QR, sign-stable)."""
    q, r = torch.linalg.qr(vectors.T.to(torch.float64))
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, torch.ones(1, dtype=q.dtype))
    return q


class Ablator:
    """Hooks a trial's change onto a model; ``directions`` is [n_layers, k, d] (k directions a layer)."""

    def __init__(self, model: nn.Module, directions: torch.Tensor, variant: str = "standard",
                 norm: str = "rows", components: tuple[str, ...] = ("attn", "mlp"),
                 scope: str = "global") -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"abliterate.variant: {variant!r} (expected one of {', '.join(VARIANTS)})")
        if norm not in ("rows", "frobenius"):
            raise ConfigError(f"abliterate.norm: {norm!r} (expected rows or frobenius)")
        self.model, self.variant, self.norm, self.scope = model, variant, norm, scope
        self.modules = find_modules(model, components)
        self.n_layers = len(next(iter(self.modules.values())))
        if directions.shape[0] != self.n_layers:
            raise ValueError(f"directions for {directions.shape[0]} layers, the model has {self.n_layers}")
        self.directions = directions.to(torch.float64)
        self.handles: list[Any] = []
        self.plan: list[tuple[nn.Module, float, torch.Tensor]] = []  # (module, weight, basis [d, k])

    # -- a trial ---------------------------------------------------------------------------------------
    def basis(self, params: TrialParams, layer: int) -> torch.Tensor:
        if self.scope == "per_layer":
            return orthonormal(self.directions[layer])
        lo, hi, t = interpolation(params.direction_layer(self.n_layers), self.n_layers)
        return orthonormal((1 - t) * self.directions[lo] + t * self.directions[hi])

    def apply(self, params: TrialParams) -> None:
        self.reset()
        weights = params.layer_weights(self.n_layers)
        shared = None if self.scope == "per_layer" else self.basis(params, 0)
        for comp, mods in self.modules.items():
            for i, mod in enumerate(mods):
                w = weights.get(comp, [0.0] * self.n_layers)[i]
                if w == 0.0:
                    continue
                basis = shared if shared is not None else self.basis(params, i)
                self.plan.append((mod, w, basis))
                self._hook(mod, w, basis)

    def reset(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()
        self.plan.clear()

    # -- the maths, shared by hooks and materialisation --------------------------------------------------
    def _factors(self, mod: nn.Module, w: float, R: torch.Tensor) -> dict[str, torch.Tensor]:
        W = weight_oi(mod).detach().to(torch.float64)
        square = W.shape[0] == W.shape[1]
        variant = self.variant if (self.variant != "biprojected" or square) else "standard"
        out: dict[str, Any] = {"variant": variant}
        if variant == "biprojected":
            out["M"] = R.T @ W @ R  # [k, k]
        elif variant == "norm_preserving":
            shrink = (2 * w - w * w)
            if self.norm == "rows":
                col2 = (W * W).sum(0)
                proj2 = ((R.T @ W) ** 2).sum(0)
                out["s"] = torch.sqrt(col2 / (col2 - shrink * proj2).clamp_min(EPS))
            else:
                f2 = (W * W).sum()
                out["f"] = torch.sqrt(f2 / (f2 - shrink * ((R.T @ W) ** 2).sum()).clamp_min(EPS))
        return out

    def _hook(self, mod: nn.Module, w: float, R64: torch.Tensor) -> None:
        dtype = mod.weight.dtype
        fac = self._factors(mod, w, R64)
        R = R64.to(dtype)
        bias = getattr(mod, "bias", None)
        if "s" in fac:
            s = fac["s"].to(dtype)
            self.handles.append(mod.register_forward_pre_hook(lambda _m, args: (args[0] * s, *args[1:])))
        M = fac["M"].T.to(dtype) if "M" in fac else None
        f = float(fac["f"]) if "f" in fac else None

        def hook(_m: nn.Module, args: tuple[Any, ...], y: torch.Tensor) -> torch.Tensor:
            z = y - bias if bias is not None else y
            if M is not None:
                z = z - w * ((args[0] @ R) @ M) @ R.T
            else:
                z = z - w * (z @ R) @ R.T
                if f is not None:
                    z = z * f
            return z + bias if bias is not None else z

        self.handles.append(mod.register_forward_hook(hook))

    def new_weight(self, mod: nn.Module, w: float, R: torch.Tensor) -> torch.Tensor:
        """The materialised [out, in] weight of ``mod`` under this trial (float64)."""
        fac = self._factors(mod, w, R)
        W = weight_oi(mod).detach().to(torch.float64)
        if fac["variant"] == "biprojected":
            return W - w * R @ fac["M"] @ R.T
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
