"""Strategy B for real, short: a merge run trains two GRPO branches (each on one dimension) through the
supervisor, checks that their adapters moved, merges their weight changes with TIES on ΔW, and the merged
adapter's ΔW is checked here against the branches' ΔW with a TIES written independently of PEFT."""

from __future__ import annotations

import json

import pytest

from pipeline.checkpoints.store import read_checkpoint
from pipeline.config.run import build_config
from pipeline.runs.layout import BRANCHES_FILE, CHECKPOINTS_DIR, EVENTS_FILE, FINAL, STDOUT_LOG
from pipeline.runs.store import RunStore

torch = pytest.importorskip("torch")


def ties_by_hand(deltas: list[torch.Tensor], density: float) -> torch.Tensor:
    """TIES-merging (Yadav et al. 2023) of task vectors with weight 1 each: keep each one's top-k by
    magnitude, elect a sign per entry from the sum of what was kept, average the kept entries that agree."""
    kept = []
    for d in deltas:
        k = int(density * d.numel())
        cut = d.abs().flatten().kthvalue(d.numel() - k + 1).values if k else float("inf")
        kept.append(torch.where(d.abs() >= cut, d, torch.zeros_like(d)))
    stack = torch.stack(kept)
    sign = torch.where(stack.sum(0) >= 0, 1.0, -1.0)
    agree = (torch.sign(stack) == sign) & (stack != 0)
    return (stack * agree).sum(0) / agree.sum(0).clamp(min=1)


def rank_k(m: torch.Tensor, k: int) -> torch.Tensor:
    u, s, vh = torch.linalg.svd(m.double(), full_matrices=False)
    return (u[:, :k] * s[:k]) @ vh[:k]


@pytest.mark.slow
@pytest.mark.long  # ~10 min on 2 cores, most of it PEFT's ties_svd over every module; the ΔW maths alone is
# test_merge_maths.py, the branch runs test_merge_branches.py
def test_a_short_strategy_b_chain_trains_moving_branches_and_merges_their_weight_changes(store: RunStore) -> None:
    from pipeline.merge.delta import Adapter
    from pipeline.runs.launcher import launch, wait_for
    from pipeline.train.preflight import preflight_chain

    # Two dimensions the rubric scores differently even on 16-token answers (on entropy_reduction every short
    # answer scores the same: zero advantage, no gradient, an adapter that never moves; the merge refuses it).
    cfg = build_config("merge", sets=[
        'merge.train=["context_faithfulness", "helpfulness"]', "merge.joint=off", "merge.compare=false",
        "merge.method=ties_svd", "merge.density=0.5", "model.lora_r=4", "model.lora_alpha=8",
        "grpo.scorer=rubric", "grpo.max_steps=3", "grpo.num_generations=4", "grpo.batch_size=4", "grpo.grad_accum=1",
        "grpo.max_completion_length=16", "grpo.max_length=128", "grpo.learning_rate=1e-3",
        "grpo.checkpoint_every=0"])
    preflight_chain(cfg, store.root)
    rid, path = launch(store, cfg)
    state = wait_for(store, rid, {"succeeded", "failed", "oom", "stopped", "lost"}, timeout=900)
    assert state == "succeeded", (path / STDOUT_LOG).read_text()[-3000:]

    branches = json.loads((path / BRANCHES_FILE).read_text())
    sources = [Adapter(store.root / branches[b]["run_id"] / CHECKPOINTS_DIR / FINAL)  # merge.branch_checkpoint
               for b in ("context", "helpfulness")]
    merged = Adapter(path / CHECKPOINTS_DIR / FINAL)
    norms = [s.norm() for s in sources]
    assert all(n > 1e-4 for n in norms), norms  # each branch's adapter left its zero initialisation
    meta = read_checkpoint(path / CHECKPOINTS_DIR / FINAL).meta
    assert meta["delta"]["source_norms"] == [pytest.approx(n, rel=1e-4) for n in norms]
    assert meta["r"] == 8  # 0 means the sum of the source ranks (4 + 4)
    kept = meta["delta"]["vs_rule_on_delta"]["kept"]
    assert 0.0 < kept <= 1.0
    ev = [json.loads(x) for x in (path / EVENTS_FILE).read_text().splitlines()]
    (merge_ev,) = [e for e in ev if e["type"] == "merge"]
    assert merge_ev["kept"] == kept and merge_ev["source_norms"] == meta["delta"]["source_norms"]

    # The merged ΔW is the best rank-8 approximation of TIES applied to the branches' ΔW, module by module.
    worst = 0.0
    for module in sources[0].modules()[::17]:  # a spread of layers and projections
        target = ties_by_hand([s.delta(module) for s in sources], 0.5)
        want = rank_k(target, 8)
        got = merged.delta(module).double()
        worst = max(worst, float((got - want).norm() / want.norm().clamp(min=1e-12)))
    assert worst < 1e-3, worst
