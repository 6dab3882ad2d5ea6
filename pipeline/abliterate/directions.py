"""Refusal directions from residual streams (worker only: torch).

Per layer: the difference of means of the last prompt token's residual between harmful and harmless
prompts (optionally orthogonalised against that layer's harmless mean). ``k > 1`` adds the top principal
components of the harmful residuals around that mean difference. Concept cones: harmful prompts are
clustered (k-means on the normalised residuals of a middle layer, seeded) into categories, and each
cone gets its own difference of means; the directions of all cones are ablated together.
"""

from __future__ import annotations

from typing import Any

import torch


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def mean_difference(harmful: torch.Tensor, harmless: torch.Tensor, orthogonalize: bool = False) -> torch.Tensor:
    """[n, L, d] × [m, L, d] → [L, d] unit directions."""
    diff = harmful.mean(0) - harmless.mean(0)
    if orthogonalize:
        h = _unit(harmless.mean(0))
        diff = diff - (diff * h).sum(-1, keepdim=True) * h
    return _unit(diff)


def with_components(harmful: torch.Tensor, harmless: torch.Tensor, k: int, orthogonalize: bool = False) -> torch.Tensor:
    """[L, k, d]: the mean difference, then k-1 principal components of the harmful residuals (each
    orthogonal to the ones before, per layer)."""
    first = mean_difference(harmful, harmless, orthogonalize)
    if k == 1:
        return first[:, None, :]
    centred = harmful - harmful.mean(0, keepdim=True)  # [n, L, d]
    comps = []
    for layer in range(harmful.shape[1]):
        x = centred[:, layer, :]
        x = x - (x @ first[layer])[:, None] * first[layer][None, :]
        _u, _s, vh = torch.linalg.svd(x, full_matrices=False)
        pcs = vh[: k - 1]
        if pcs.shape[0] < k - 1:  # fewer prompts than components: zeros, which the ablator's basis drops
            pcs = torch.cat([pcs, torch.zeros(k - 1 - pcs.shape[0], x.shape[1])])
        comps.append(pcs)
    stacked = torch.stack(comps)  # [L, k-1, d]
    return torch.cat([first[:, None, :], stacked], dim=1)


def kmeans(x: torch.Tensor, k: int, seed: int = 0, iters: int = 50) -> torch.Tensor:
    """Cluster labels [n] for x [n, d] (cosine k-means, k-means++ init with a fixed seed)."""
    g = torch.Generator().manual_seed(seed)
    x = _unit(x)
    centres = [x[int(torch.randint(len(x), (1,), generator=g))]]
    for _ in range(1, k):
        d = torch.stack([1 - x @ c for c in centres]).min(0).values.clamp_min(0)
        centres.append(x[int(torch.multinomial(d + 1e-12, 1, generator=g))])
    c = torch.stack(centres)
    labels = torch.zeros(len(x), dtype=torch.long)
    for _ in range(iters):
        new = (x @ c.T).argmax(1)
        if torch.equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            if (labels == j).any():
                c[j] = _unit(x[labels == j].mean(0))
    return labels


def cone_directions(harmful: torch.Tensor, harmless: torch.Tensor, k: int, seed: int = 0,
                    orthogonalize: bool = False) -> tuple[torch.Tensor, list[int]]:
    """[L, k, d] one direction per cluster of harmful prompts, and the cluster labels."""
    mid = harmful.shape[1] * 3 // 5
    labels = kmeans(harmful[:, mid, :], k, seed)
    dirs = []
    for j in range(k):
        members = harmful[labels == j]
        if len(members) == 0:
            members = harmful
        dirs.append(mean_difference(members, harmless, orthogonalize))
    return torch.stack(dirs, dim=1), [int(v) for v in labels]


def compute(engine: Any, harmful: list[str], harmless: list[str], k: int = 1, cones: int = 0,
            orthogonalize: bool = False, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Directions [L, k, d], each layer's harmless mean [L, d] (biprojection needs it) and facts for the
    report (per-layer separation, cone sizes)."""
    h = engine.residuals(harmful)
    b = engine.residuals(harmless)
    info: dict[str, Any] = {}
    if cones > 0:
        dirs, labels = cone_directions(h, b, cones, seed, orthogonalize)
        info["cone_sizes"] = [labels.count(j) for j in range(cones)]
        info["cone_examples"] = [next((p for p, lab in zip(harmful, labels, strict=False) if lab == j), "")
                                 for j in range(cones)]
    else:
        dirs = with_components(h, b, k, orthogonalize)
    first = mean_difference(h, b, orthogonalize)
    # How well the first direction separates the two sets, per layer (for picking a direction index).
    sep = ((h * first).sum(-1).mean(0) - (b * first).sum(-1).mean(0)).tolist()
    info["separation"] = [round(float(s), 4) for s in sep]
    return dirs, b.mean(0), info


def save(path: Any, directions: torch.Tensor, harmless_mean: torch.Tensor) -> None:
    torch.save({"directions": directions, "harmless_mean": harmless_mean}, path)


def load(path: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(directions, harmless mean); a file from before the mean was kept holds the directions alone.
    Tensors only (``weights_only``): a run folder is input, and no pickled code runs from it."""
    obj = torch.load(path, weights_only=True)
    if isinstance(obj, dict):
        return obj["directions"], obj.get("harmless_mean")
    return obj, None
