"""Abliteration weight maths on a tiny random Llama (hidden 32): no download, a second or two."""

from __future__ import annotations

import time

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pipeline.abliterate.ablate import Ablator, find_modules  # noqa: E402
from pipeline.abliterate.kernel import ComponentKernel, TrialParams  # noqa: E402
from pipeline.errors import ConfigError  # noqa: E402

LAYERS, HIDDEN = 4, 32


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=64, hidden_size=HIDDEN, intermediate_size=48, num_hidden_layers=LAYERS,
                                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return transformers.LlamaForCausalLM(cfg).eval()


def full(weight: float = 1.0) -> TrialParams:
    k = ComponentKernel(max_weight=weight, max_weight_position=0.5, min_weight=weight, min_weight_distance=1.0)
    return TrialParams(direction_index=0.5, kernels={"attn": k, "mlp": k})


def directions(k: int = 1, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(LAYERS, k, HIDDEN, generator=g)


def capture(model, ids):
    outs: dict[str, list] = {"attn": [], "mlp": []}
    mods = find_modules(model, ("attn", "mlp"))
    hs = [m.register_forward_hook(lambda _m, _a, y, c=c: outs[c].append(y.detach().clone()))
          for c, ms in mods.items() for m in ms]
    with torch.no_grad():
        logits = model(ids).logits
    for h in hs:
        h.remove()
    return logits, outs


IDS = torch.tensor([[1, 5, 9, 17, 33, 2, 40, 41]])


@pytest.mark.parametrize("k", [1, 3])
def test_direction_gone_from_outputs(model, k):
    ab = Ablator(model, directions(k), "standard")
    ab.apply(full())
    _, outs = capture(model, IDS)  # our capture hook runs after the ablation hook
    R = ab.basis(full(), 0).to(torch.float32)
    for comp in ("attn", "mlp"):
        for y in outs[comp]:
            assert (y @ R).abs().max() < 1e-7
    # and it was there before
    ab.reset()
    _, before = capture(model, IDS)
    assert max((y @ R).abs().max() for y in before["mlp"]) > 1e-3


def test_reset_restores_bit_for_bit_and_fast(model):
    before = {n: p.detach().clone() for n, p in model.state_dict().items()}
    logits0, _ = capture(model, IDS)
    ab = Ablator(model, directions(2), "norm_preserving", norm="rows")
    ab.apply(full(1.2))
    logits1, _ = capture(model, IDS)
    assert not torch.equal(logits0, logits1)
    with ab.materialised():
        assert any(not torch.equal(before[n], p) for n, p in model.state_dict().items())
    with ab.suspended():
        assert torch.equal(capture(model, IDS)[0], logits0)  # the original model, for a moment
    assert torch.equal(capture(model, IDS)[0], logits1)  # and the trial is back
    t0 = time.perf_counter()
    ab.reset()
    assert time.perf_counter() - t0 < 0.5
    assert all(torch.equal(before[n], p) for n, p in model.state_dict().items())
    logits2, _ = capture(model, IDS)
    assert torch.equal(logits0, logits2)


@pytest.mark.parametrize("variant,norm", [("standard", "rows"), ("norm_preserving", "rows"),
                                          ("norm_preserving", "frobenius"), ("biprojected", "rows")])
def test_hooks_equal_materialised_weights(model, variant, norm):
    ab = Ablator(model, directions(2), variant, norm=norm)
    ab.apply(full(0.9))
    hooked, _ = capture(model, IDS)
    with ab.materialised():
        written, _ = capture(model, IDS)
    ab.reset()
    assert torch.allclose(hooked, written, atol=1e-4), (hooked - written).abs().max()


def test_norm_preservation(model):
    mods = find_modules(model, ("attn", "mlp"))
    orig = {id(m): m.weight.detach().clone() for ms in mods.values() for m in ms}
    for norm in ("rows", "frobenius"):
        ab = Ablator(model, directions(1), "norm_preserving", norm=norm)
        ab.apply(full(1.0))
        with ab.materialised():
            for ms in mods.values():
                for m in ms:
                    W0, W1 = orig[id(m)], m.weight.detach()
                    assert not torch.allclose(W0, W1)
                    if norm == "rows":  # each input unit's write vector keeps its norm
                        assert torch.allclose(W1.norm(dim=0), W0.norm(dim=0), rtol=1e-4)
                    else:
                        assert torch.allclose(W1.norm(), W0.norm(), rtol=1e-5)
        ab.reset()
    # standard abliteration does shrink them (so the test above can fail)
    ab = Ablator(model, directions(1), "standard")
    ab.apply(full(1.0))
    with ab.materialised():
        m = mods["mlp"][0]
        assert m.weight.detach().norm() < orig[id(m)].norm() * (1 - 1e-4)
    ab.reset()


def test_biprojection_leaves_complement_unchanged(model):
    ab = Ablator(model, directions(1), "biprojected")
    ab.apply(full(1.0))
    o_proj = find_modules(model, ("attn",))["attn"][0]  # 4 heads × 8 = 32: square
    R = ab.basis(full(), 0)
    W0 = o_proj.weight.detach().to(torch.float64)
    W1 = ab.new_weight(o_proj, 1.0, R)
    x = torch.randn(10, HIDDEN, dtype=torch.float64)
    x_perp = x - (x @ R) @ R.T
    assert torch.allclose(x_perp @ W1.T, x_perp @ W0.T, atol=1e-10)  # orthogonal inputs: unchanged
    assert torch.allclose((R.T @ W1 @ R), torch.zeros(1, 1, dtype=torch.float64), atol=1e-10)  # r→r removed
    assert not torch.allclose(R.T @ W0 @ R, torch.zeros(1, 1, dtype=torch.float64), atol=1e-6)
    # off-diagonal parts (r→⊥ and ⊥→r) are kept, unlike the standard projection
    assert torch.allclose(R.T @ W1 @ x_perp.T, R.T @ W0 @ x_perp.T, atol=1e-10)
    ab.reset()


def test_unsupported_architecture_names_what_it_looked_for():
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4)])

    with pytest.raises(ConfigError, match=r"model.layers.*transformer.h"):
        find_modules(Tiny(), ("attn",))


def test_directions_from_residuals():
    from pipeline.abliterate.directions import cone_directions, kmeans, mean_difference, with_components

    g = torch.Generator().manual_seed(0)
    L, d = 3, 16
    shift = torch.zeros(d)
    shift[0] = 5.0
    harmless = torch.randn(20, L, d, generator=g)
    harmful = torch.randn(20, L, d, generator=g) + shift
    r = mean_difference(harmful, harmless)
    assert r.shape == (L, d) and torch.allclose(r.norm(dim=-1), torch.ones(L))
    assert (r[:, 0] > 0.8).all()  # the planted direction is found
    ro = mean_difference(harmful, harmless, orthogonalize=True)
    hm = harmless.mean(0) / harmless.mean(0).norm(dim=-1, keepdim=True)
    assert torch.allclose((ro * hm).sum(-1), torch.zeros(L), atol=1e-5)
    k3 = with_components(harmful, harmless, 3)
    assert k3.shape == (L, 3, d) and torch.allclose(k3[:, 0], r)
    assert torch.allclose((k3[:, 1] * r).sum(-1), torch.zeros(L), atol=1e-5)
    # two obvious clusters of harmful prompts → two cones, each with its own direction
    a, b = torch.zeros(d), torch.zeros(d)
    a[1], b[2] = 6.0, 6.0
    two = torch.cat([torch.randn(10, L, d, generator=g) * 0.3 + a, torch.randn(10, L, d, generator=g) * 0.3 + b])
    labels = kmeans(two[:, 1, :], 2, seed=1)
    assert len(set(labels[:10].tolist())) == 1 and len(set(labels[10:].tolist())) == 1 and labels[0] != labels[10]
    cones, lab = cone_directions(two, harmless * 0.3, 2, seed=1)
    assert cones.shape == (L, 2, d) and sorted(lab.count(j) for j in (0, 1)) == [10, 10]
    assert {int(cones[1, j].abs().argmax()) for j in (0, 1)} == {1, 2}
