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
    ab = Ablator(model, directions(2), variant, norm=norm, harmless_mean=harmless_means())
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


def harmless_means(seed: int = 7) -> torch.Tensor:
    return torch.randn(LAYERS, HIDDEN, generator=torch.Generator().manual_seed(seed)) * 3


def test_biprojected_direction_is_orthogonal_to_each_target_layers_harmless_mean(model):
    d, mean = directions(1), harmless_means()
    ab = Ablator(model, d, "biprojected", harmless_mean=mean)
    params = full(1.0)
    lo, hi, t = 1, 2, 0.5  # direction_index 0.5 of 4 layers: 1.5, halfway between layers 1 and 2
    source = (1 - t) * d[lo, 0] + t * d[hi, 0]
    for layer in range(LAYERS):
        r = ab.basis(params, layer)[:, 0]
        m = mean[layer].double() / mean[layer].double().norm()
        assert abs(float(r @ m)) < 1e-12  # no component along this layer's harmless mean
        # and it is the source direction with exactly that component removed, normalised
        expected = source.double() - (source.double() @ m) * m
        assert torch.allclose(r, expected / expected.norm(), atol=1e-12)
    # different target layers get different directions from the same source
    assert not torch.allclose(ab.basis(params, 0), ab.basis(params, 3))
    # the change is W' = W − w r rᵀ W with that direction: outputs have no r component, and a layer's
    # harmless mean passes through the ablation untouched
    o_proj = find_modules(model, ("attn",))["attn"][0]
    R = ab.basis(params, 0)
    W1 = ab.new_weight(o_proj, 1.0, R)
    assert torch.allclose(R.T @ W1, torch.zeros(1, W1.shape[1], dtype=torch.float64), atol=1e-10)
    P = torch.eye(HIDDEN, dtype=torch.float64) - R @ R.T
    m0 = mean[0].double()
    assert torch.allclose(P @ m0, m0, atol=1e-10)
    with pytest.raises(ConfigError, match="harmless mean"):
        Ablator(model, d, "biprojected")


def test_dependent_and_zero_directions_are_dropped(model):
    from pipeline.abliterate.ablate import orthonormal

    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(HIDDEN, generator=g), torch.randn(HIDDEN, generator=g)
    vecs = torch.stack([a, 2 * a, torch.zeros(HIDDEN), b, a - 3 * b + 1e-12 * torch.randn(HIDDEN, generator=g)])
    q = orthonormal(vecs)
    assert q.shape == (HIDDEN, 2)  # a and b only: the duplicate, the zero and the combination are dropped
    assert torch.allclose(q.T @ q, torch.eye(2, dtype=torch.float64), atol=1e-12)
    assert float(q[:, 0] @ a.double()) > 0  # the kept vectors point the way their directions do
    assert orthonormal(torch.zeros(3, HIDDEN)).shape == (HIDDEN, 0)
    # a layer whose directions are all zero is left alone; the others are ablated with a rank-1 change
    d = directions(3)
    d[:, 1] = d[:, 0] * -0.5  # a duplicate in every layer
    d[:, 2] = 0.0
    d[0] = 0.0
    ab = Ablator(model, d, "standard", scope="per_layer")
    ab.apply(full(1.0))
    ranks = {id(m): R.shape[1] for m, _w, R in ab.plan}
    layers = find_modules(model, ("attn", "mlp"))
    assert all(id(layers[c][0]) not in ranks for c in ("attn", "mlp"))
    assert all(ranks[id(layers[c][i])] == 1 for c in ("attn", "mlp") for i in range(1, LAYERS))
    ab.reset()


def test_trial_scope_overrides_the_configured_one(model):
    d = directions(1)
    ab = Ablator(model, d, "standard", scope="search")
    glob = TrialParams(0.0, full().kernels, scope="global")
    per = TrialParams(0.0, full().kernels, scope="per_layer")
    assert torch.allclose(ab.basis(glob, 3)[:, 0], d[0, 0].double() / d[0, 0].double().norm())
    assert torch.allclose(ab.basis(per, 3)[:, 0], d[3, 0].double() / d[3, 0].double().norm())


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
