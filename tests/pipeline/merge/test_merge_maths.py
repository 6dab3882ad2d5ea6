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
