"""The merge maths on tiny adapters, against values worked out by hand (PEFT's add_weighted_adapter)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from pipeline.merge.combine import MERGED, combine  # noqa: E402

# Two adapters on one Linear(4 → 3), r = 2. Values chosen so that pruning, sign election and the
# disjoint mean each change the answer.
A1 = [[4.0, -1.0, 3.0, -0.5], [2.0, -6.0, 0.1, 1.0]]
A2 = [[-5.0, 2.0, 1.0, 0.2], [3.0, -1.0, -4.0, 0.3]]
B1 = [[1.0, -2.0], [0.5, 3.0], [-0.1, 0.2]]
B2 = [[2.0, 1.0], [-4.0, 0.5], [0.3, -0.2]]


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


def tiny_pair(alpha: int = 2) -> peft.PeftModel:
    torch.manual_seed(0)
    cfg = peft.LoraConfig(r=2, lora_alpha=alpha, target_modules=["lin"], lora_dropout=0.0)
    model = peft.get_peft_model(Tiny(), cfg, adapter_name="one")
    model.add_adapter("two", cfg)
    lin = model.base_model.model.lin
    with torch.no_grad():
        for name, a, b in (("one", A1, B1), ("two", A2, B2)):
            lin.lora_A[name].weight.copy_(torch.tensor(a))
            lin.lora_B[name].weight.copy_(torch.tensor(b))
    return model


def merged_ab(model: peft.PeftModel) -> tuple[list[list[float]], list[list[float]]]:
    lin = model.base_model.model.lin
    return lin.lora_A[MERGED].weight.tolist(), lin.lora_B[MERGED].weight.tolist()


def approx(rows: list[list[float]]) -> object:
    return [pytest.approx(r) for r in rows]


def test_ties_prunes_by_magnitude_elects_the_sign_and_averages_agreeing_values() -> None:
    model = tiny_pair()  # scaling alpha/r = 1, so PEFT's per-matrix weight sqrt(1 × 1) = 1
    combine(model, ["one", "two"], [1.0, 1.0], "ties", density=0.5)
    a, b = merged_ab(model)
    # By hand, A (8 values, density 0.5 keeps the 4 largest |v| of each adapter):
    #   A1 → [[4, 0, 3, 0], [2, -6, 0, 0]]      A2 → [[-5, 2, 0, 0], [3, 0, -4, 0]]
    #   elected sign of the sum: [[-, +, +, +], [+, -, -, +]]
    #   (0,0): 4 disagrees, only -5 stays; (1,0): 2 and 3 agree → 2.5; (0,3): both pruned → 0
    assert a == approx([[-5.0, 2.0, 3.0, 0.0], [2.5, -6.0, -4.0, 0.0]])
    # B (6 values, keeps 3): B1 → [[1, -2], [0, 3], [0, 0]]   B2 → [[2, 1], [-4, 0], [0, 0]]
    #   sum [[3, -1], [-4, 3], [0, 0]] → (0,0): (1 + 2)/2; (0,1): only -2 agrees with −; (1,0): -4
    assert b == approx([[1.5, -2.0], [-4.0, 3.0], [0.0, 0.0]])
    cfg = model.peft_config[MERGED]
    assert (cfg.r, cfg.lora_alpha) == (2, 2)


def test_ties_frequency_election_counts_signs_instead_of_summing() -> None:
    model = tiny_pair()
    combine(model, ["one", "two"], [1.0, 1.0], "ties", density=0.5, majority_sign="frequency")
    a, _b = merged_ab(model)
    # (0,0): 4 and -5 → one + one − → tie → + wins (PEFT: ≥ 0), so 4 stays where "total" kept -5
    assert a[0][0] == pytest.approx(4.0)
    assert a[1] == pytest.approx([2.5, -6.0, -4.0, 0.0])


def test_ties_with_density_one_keeps_every_value() -> None:
    model = tiny_pair()
    combine(model, ["one", "two"], [1.0, 1.0], "ties", density=1.0)
    a, _b = merged_ab(model)
    # (0,3): -0.5 and 0.2 → sum -0.3 → only -0.5; (1,2): 0.1 and -4 → only -4
    assert a[0][3] == pytest.approx(-0.5) and a[1][2] == pytest.approx(-4.0)
    assert a[1][3] == pytest.approx((1.0 + 0.3) / 2)


def test_linear_with_weights_one_zero_reproduces_the_first_adapter() -> None:
    model = tiny_pair(alpha=8)  # scaling 4: PEFT folds sqrt(4) into each of A and B, the merge's scaling is 1
    combine(model, ["one", "two"], [1.0, 0.0], "linear")
    lin = model.base_model.model.lin
    a, b = merged_ab(model)
    assert a == approx([[2 * v for v in row] for row in A1])
    assert b == approx([[2 * v for v in row] for row in B1])
    assert torch.allclose(lin.get_delta_weight(MERGED), lin.get_delta_weight("one"))
    x = torch.randn(5, 4)
    model.set_adapter("one")
    want = model(x)
    model.set_adapter(MERGED)
    assert torch.allclose(model(x), want, atol=1e-6)


def test_magnitude_prune_keeps_the_top_fraction_and_sums_weighted() -> None:
    model = tiny_pair()
    combine(model, ["one", "two"], [0.25, 0.25], "magnitude_prune", density=0.5)
    a, _b = merged_ab(model)
    # weights 0.25 → sqrt 0.5 per matrix; pruned A1 + pruned A2, times 0.5, no sign election
    assert a == approx([[-0.5, 1.0, 1.5, 0.0], [2.5, -3.0, -2.0, 0.0]])


# ΔW = B·A (scaling alpha/r = 1), worked out by hand from A1, B1, A2, B2 above:
DW1 = [[0.0, 11.0, 2.8, -2.5], [8.0, -18.5, 1.8, 2.75], [0.0, -1.1, -0.28, 0.25]]
DW2 = [[-7.0, 3.0, -2.0, 0.7], [21.5, -8.5, -6.0, -0.65], [-2.1, 0.8, 1.1, 0.0]]
# TIES on the ΔW (density 0.5 keeps the 6 largest |v| of the 12 each):
#   DW1 keeps 18.5, 11, 8, 2.8, 2.75, 2.5      → [[0, 11, 2.8, -2.5], [8, -18.5, 0, 2.75], [0, 0, 0, 0]]
#   DW2 keeps 21.5, 8.5, 7, 6, 3, 2.1          → [[-7, 3, 0, 0], [21.5, -8.5, -6, 0], [-2.1, 0, 0, 0]]
#   sign of the sum, then the mean of the agreeing kept values (a pruned 0 counts for neither side):
#   (0,0): −7 alone; (0,1): (11 + 3)/2; (1,0): (8 + 21.5)/2; (1,1): (−18.5 − 8.5)/2; (1,2): −6 alone …
TIES_DW = [[-7.0, 7.0, 2.8, -2.5], [14.75, -13.5, -6.0, 2.75], [-2.1, 0.0, 0.0, 0.0]]


def test_ties_svd_merges_the_weight_changes_themselves() -> None:
    model = tiny_pair()
    lin = model.base_model.model.lin
    assert lin.get_delta_weight("one").tolist() == [pytest.approx(r, abs=1e-5) for r in DW1]
    assert lin.get_delta_weight("two").tolist() == [pytest.approx(r, abs=1e-5) for r in DW2]
    combine(model, ["one", "two"], [1.0, 1.0], "ties_svd", density=0.5, svd_rank=3)  # rank 3: no truncation
    assert lin.get_delta_weight(MERGED).tolist() == [pytest.approx(r, abs=1e-5) for r in TIES_DW]
    # PEFT's plain `ties` merges A and B apart: its B·A is not TIES of the ΔW (cross terms B₁A₂, B₂A₁).
    plain = tiny_pair()
    combine(plain, ["one", "two"], [1.0, 1.0], "ties", density=0.5)
    got = plain.base_model.model.lin.get_delta_weight(MERGED)
    assert got[0].tolist() == pytest.approx([-12.5, 15.0, 12.5, 0.0])  # by hand from the merged A, B above
    assert not torch.allclose(got, torch.tensor(TIES_DW), atol=1.0)


def test_a_lower_svd_rank_keeps_the_best_approximation_and_the_report_says_how_much(tmp_path) -> None:
    from pipeline.merge.combine import save_adapter
    from pipeline.merge.delta import Adapter, fidelity

    model = tiny_pair()
    combine(model, ["one", "two"], [1.0, 1.0], "ties_svd", density=0.5, svd_rank=2)
    u, s, vh = torch.linalg.svd(torch.tensor(TIES_DW))
    best = u[:, :2] @ torch.diag(s[:2]) @ vh[:2]  # Eckart–Young: the closest rank-2 matrix
    assert torch.allclose(model.base_model.model.lin.get_delta_weight(MERGED), best, atol=1e-5)
    for name in ("one", "two", MERGED):
        save_adapter(model, name, tmp_path / name)
    one, two, merged = (Adapter(tmp_path / n) for n in ("one", "two", MERGED))
    assert one.delta("lin").tolist() == [pytest.approx(r, abs=1e-5) for r in DW1]  # ΔW read back from the files
    assert one.norm() == pytest.approx(sum(v * v for r in DW1 for v in r) ** 0.5)
    fid = fidelity([one, two], merged, [1.0, 1.0], "ties_svd", 0.5, "total")
    energy = float((s**2).sum())
    assert fid["kept"] == pytest.approx(float((s[:2] ** 2).sum()) / energy, abs=1e-5)  # what rank 2 leaves out
    assert fid["rule_norm"] == pytest.approx(energy**0.5, abs=1e-4)
