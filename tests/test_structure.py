"""Appendix-A clean-up, Definition 1, D/SD/SS and the theorem checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from landscape.activations import derivatives_at_zero, zero_at_origin

from landscape import conditions as C
from landscape import masks as M
from landscape import nets, structure as S


# ----------------------------------------------------------------------------- Figure 6, by hand
# Appendix A describes Figure 6 node by node (the picture itself is not in the text):
#   h(2)_1 has zero out-degree (rule 1);  h(1)_1's only output goes to h(2)_1 (rule 2);
#   h(1)_4 and h(2)_4 have zero in-degree (rule 3);  h(2)_3's only input is h(1)_4 (rule 4).
# Nodes are 0-based below: h_1 -> 0, ..., h_4 -> 3. Three inputs, two outputs.
W1 = np.array([[1, 1, 0],   # h1_1 <- x1, x2
               [1, 0, 1],   # h1_2 <- x1, x3
               [0, 1, 1],   # h1_3 <- x2, x3
               [0, 0, 0]])  # h1_4: zero in-degree
W2 = np.array([[1, 1, 0, 0],   # h2_1 <- h1_1, h1_2 (but h2_1 feeds nothing)
               [0, 1, 1, 0],   # h2_2 <- h1_2, h1_3
               [0, 0, 0, 1],   # h2_3 <- h1_4 only
               [0, 0, 0, 0]])  # h2_4: zero in-degree
W3 = np.array([[0, 1, 1, 0],   # y1 <- h2_2, h2_3
               [0, 1, 0, 1]])  # y2 <- h2_2, h2_4
FIG6 = ({"W": W1.astype(np.float32)}, {"W": W2.astype(np.float32)}, {"W": W3.astype(np.float32)})


def fig6_net(act, bias=False):
    return nets.MLP((3, 4, 4, 2), act, bias=bias)


def test_figure6_removals():
    c = S.effective_masks(fig6_net("tanh"), FIG6)
    got = {(r.layer, r.node, r.rule, r.connections, r.side) for r in c.removals}
    assert got == {
        (2, 0, "zero out-degree I", 2, "in"),    # h(2)_1
        (1, 0, "zero out-degree II", 2, "in"),   # h(1)_1
        (1, 3, "zero in-degree I", 1, "out"),    # h(1)_4
        (2, 3, "zero in-degree I", 1, "out"),    # h(2)_4
        (2, 2, "zero in-degree II", 1, "out"),   # h(2)_3
    }
    np.testing.assert_array_equal(c.masks[0]["W"], [[0, 0, 0], [1, 0, 1], [0, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(c.masks[1]["W"], [[0, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(c.masks[2]["W"], [[0, 1, 0, 0], [0, 1, 0, 0]])
    assert (c.n_before, c.n_after) == (15, 8)
    assert not S.is_effective(FIG6) and S.is_effective(c.masks)
    assert S.compact(c.masks).sizes == (3, 2, 1, 2)
    assert c.unused_inputs.size == 0 and c.dead_outputs.size == 0
    # Same function through the library's forward pass (float64; removed terms were exact zeros).
    net = nets.MLP((3, 4, 4, 2), "tanh")
    params = nets.init(jax.random.key(0), net, dtype=jnp.float64)
    X = np.random.default_rng(0).standard_normal((3, 6))
    np.testing.assert_allclose(nets.apply(net, params, X, c.masks), nets.apply(net, params, X, FIG6), rtol=1e-12, atol=1e-12)


def test_figure6_bias_and_sigma0_caveat():
    # With a bias (rules 3-4 do not apply) or σ(0) ≠ 0, zero in-degree neurons feed a constant: kept.
    biased = tuple({"W": l["W"], "b": np.ones(l["W"].shape[0], np.float32)} for l in FIG6)
    c = S.effective_masks(fig6_net("tanh", bias=True), biased)
    assert {r.rule for r in c.removals} == {"zero out-degree I", "zero out-degree II"}
    c2 = S.effective_masks(fig6_net("sigmoid"), FIG6)
    assert {r.rule for r in c2.removals} == {"zero out-degree I", "zero out-degree II"}
    # h(1)_4, h(2)_4 output σ(0) = ½; h(2)_3 is fed only by h(1)_4: all three are constants.
    assert set(c2.constant_nodes) == {(1, 3), (2, 2), (2, 3)}


def test_cleanup_idempotent():
    c = S.effective_masks(fig6_net("relu"), FIG6)
    c2 = S.effective_masks(fig6_net("relu"), c.masks)
    assert c2.removals == () and c2.passes == 1
    for a, b in zip(c.masks, c2.masks):
        np.testing.assert_array_equal(a["W"], b["W"])


NP_ACT = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z,
          "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0)))}


def np_apply(params, masks, X, act):
    """A plain numpy forward pass (an independent reference, and no compile per shape)."""
    h = X
    for l, (p, m) in enumerate(zip(params, masks)):
        z = (p["W"] * m["W"]) @ h + ((p["b"] * m["b"])[:, None] if "b" in m else 0)
        h = z if l == len(params) - 1 else NP_ACT[act](z)
    return h


def _random_net(draw):
    depth = draw(st.integers(2, 4))
    sizes = [draw(st.integers(1, 6)) for _ in range(depth + 1)]
    bias = draw(st.booleans())
    density = draw(st.floats(0.15, 1.0))
    seed = draw(st.integers(0, 2**20))
    act = draw(st.sampled_from(["relu", "tanh", "linear", "sigmoid", "elu"]))
    return sizes, bias, density, seed, act


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cleaned_random_network_is_effective_and_same_function(data):
    sizes, bias, density, seed, act = _random_net(data.draw)
    rng = np.random.default_rng(seed)
    masks = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        W = (rng.random((o, i)) < density).astype(np.float64)
        W[rng.integers(o), rng.integers(i)] = 1.0  # no all-zero layer
        layer = {"W": W}
        if bias:
            layer["b"] = (rng.random(o) < density).astype(np.float64)
        masks.append(layer)
    masks = tuple(masks)
    net = nets.MLP(sizes, act, bias=bias)
    reach = np.ones(sizes[-1], bool)
    for layer in reversed(masks):
        reach = layer["W"].T @ reach > 0
    if not reach.any():  # no input -> output path: a clear error, not an empty network
        with pytest.raises(ValueError, match="no input has a path"):
            S.effective_masks(net, masks)
        return
    c = S.effective_masks(net, masks)
    # Every neuron that keeps a connection lies on an input -> output path (Definition 1),
    # except constant neurons (only reached from neurons that output σ(0) ≠ 0).
    eff, iso = S.effective_neurons(c.masks), S.isolated_neurons(c.masks)
    const = {(l, j) for l, j in c.constant_nodes}
    for l in range(1, len(masks)):
        for j in range(sizes[l]):
            assert eff[l][j] or iso[l - 1][j] or (l, j) in const
    if zero_at_origin(act) and not bias:
        assert not const
    # Same function on any input and params (float64; removed terms were exact zeros,
    # so only summation order can differ: rtol 1e-12).
    params = tuple({k: rng.standard_normal(v.shape) for k, v in layer.items()} for layer in masks)
    X = rng.standard_normal((sizes[0], 7))
    f0 = np_apply(params, masks, X, act)
    f1 = np_apply(params, c.masks, X, act)
    np.testing.assert_allclose(f1, f0, rtol=1e-12, atol=1e-12)
    # Idempotent.
    assert S.effective_masks(net, c.masks).removals == ()
    # The compact network computes the same function of the kept inputs.
    k = S.compact(c.masks, params)
    f2 = np_apply(k.params, k.masks, X[k.kept[0]], act)
    np.testing.assert_allclose(f2, f0, rtol=1e-12, atol=1e-12)


def test_pattern_decomposition_reproduces_WX():
    rng = np.random.default_rng(0)
    mask = (rng.random((12, 5)) < 0.5).astype(np.int8)
    mask[np.arange(12), rng.integers(0, 5, 12)] = 1  # every row non-zero ...
    mask[3] = mask[7]  # repeated pattern
    mask[9] = 0        # ... but this one
    W = rng.standard_normal((12, 5)) * mask
    X = rng.standard_normal((5, 9))
    dec = M.pattern_decomposition(mask, X)
    out = np.zeros((12, 9))
    for i in range(dec.s):
        cols = dec.patterns[i] == 1
        out[dec.groups[i]] = W[np.ix_(dec.groups[i], cols)] @ dec.Z[i]   # W_i Z_i, Eq. (2)
    np.testing.assert_allclose(out, W @ X, rtol=1e-12, atol=1e-12)
    assert dec.p.sum() == 11 and list(dec.zero_rows) == [9]
    assert np.all(dec.d == dec.patterns.sum(1))


def test_network_class():
    d = lambda *s: np.ones(s, np.float32)  # noqa: E731
    sp = lambda *s: np.eye(*s, dtype=np.float32)  # noqa: E731
    assert S.network_class([d(3, 2), d(1, 3)]) == "dense"
    assert S.network_class([sp(3, 2), d(1, 3)]) == "SD"
    assert S.network_class([sp(3, 2), sp(2, 3)]) == "SS"
    assert S.network_class([d(3, 2), sp(2, 3)]) == "DS"


# ----------------------------------------------------------------------------- theorem checks


def _two_layer(first, d_y):
    return ({"W": first.astype(np.float32)}, {"W": np.ones((d_y, first.shape[0]), np.float32)})


def _net(masks, act):
    sizes = (np.shape(masks[0]["W"])[1],) + tuple(np.shape(m["W"])[0] for m in masks)
    return nets.MLP(sizes, act)


def _applies(masks, act, X, name):
    return {c.theorem: c for c in S.check_theorems(_net(masks, act), X, masks)}[name]


def test_theorem1():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 20))
    good = _two_layer(M.overparameterized_patterns(0, 12, 6, 0.5), 3)     # p_i ≥ d_i
    assert _applies(good, "linear", X, "Theorem 1").applies is True
    bad = _two_layer((rng.random((6, 6)) < 0.5) | np.eye(6, dtype=bool), 3)  # p_i = 1 < d_i, overlapping
    c = _applies(bad, "linear", X, "Theorem 1")
    assert c.applies is False and any("p_i ≥ d_i" in f.name for f in c.failing())
    # Condition 2: disjoint patterns on orthogonal data (X = I).
    block = np.kron(np.eye(3), np.ones((1, 2)))  # 3 rows, patterns {0,1}, {2,3}, {4,5}
    assert _applies(_two_layer(block, 3), "linear", np.eye(6), "Theorem 1").applies is True
    assert _applies(_two_layer(block, 3), "tanh", np.eye(6), "Theorem 1").applies is False


def test_theorem2_deep_linear():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 30))
    net = nets.MLP((5, 8, 8, 1), "linear")
    sparse_all = S.effective_masks(net, M.random_masks(0, net, 0.5)).masks
    assert _applies(sparse_all, "linear", X, "Theorem 2").applies is True        # d_y = 1
    net3 = nets.MLP((5, 8, 8, 3), "linear")
    m3 = S.effective_masks(net3, M.random_masks(0, net3, 0.5)).masks
    c = _applies(m3, "linear", X, "Theorem 2")
    assert c.applies is False and {f.name for f in c.failing()} >= {"d_y = 1"}
    assert _applies(sparse_all, "relu", X, "Theorem 2").applies is False


def test_theorem3_and_dim_star():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((2, 40))
    # Quadratic σ on d = 2 inputs: dim* = #degree-2 monomials = C(3, 2) = 3 (Sec. 4.1 without bias).
    assert C.dim_star("quadratic", X) == 3
    assert C.dim_star("linear", X) == 2
    assert C.dim_star("cubic", X) == 4
    assert C.dim_star("tanh", X) == 40  # not a polynomial: saturates at n (Theorem 3 does not apply)
    assert _applies(_two_layer(np.ones((3, 2)), 2), "quadratic", X, "Theorem 3").applies is True
    c = _applies(_two_layer(np.ones((2, 2)), 2), "quadratic", X, "Theorem 3")
    assert c.applies is False and c.failing()[0].name == "p_i ≥ dim*(σ, Z_i)"


def test_assumption2_derivatives_autodiff():
    # tanh: 0, 1, 0, -2, 0 (tangent numbers). softplus' = s (sigmoid): s(0) = 1/2, s' = s(1-s) = 1/4,
    # s'' = s(1-s)(1-2s) = 0, s''' = s(1-s)(1-6s+6s²) = -1/8. Float64 autodiff: atol 1e-12.
    np.testing.assert_allclose(derivatives_at_zero("tanh", 4), [0, 1, 0, -2, 0], atol=1e-12)
    np.testing.assert_allclose(derivatives_at_zero("softplus", 4), [np.log(2), 0.5, 0.25, 0, -1 / 8], atol=1e-12)
    assert C.assumption2("tanh", 400).holds is True
    assert C.assumption2("relu", 5).holds is False
    assert C.assumption2("linear", 1).holds is True and C.assumption2("linear", 2).holds is False
    assert C.assumption2("cubic", 2).holds is False   # only order 3 is non-zero


def test_theorem4():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, 10))
    first = (rng.random((12, 4)) < 0.6) | np.eye(12, 4, dtype=bool)
    assert _applies(_two_layer(first, 2), "tanh", X, "Theorem 4").applies is True      # p = 12 ≥ n = 10
    c = _applies(_two_layer(first[:8], 2), "tanh", X, "Theorem 4")                    # p = 8 < n
    assert c.applies is False and [f.name for f in c.failing()] == ["last hidden width p ≥ n"]
    c = _applies(_two_layer(first, 2), "relu", X, "Theorem 4")
    assert c.applies is False and "Assumption 2" in c.failing()[0].name
    Xdup = X.copy()
    Xdup[0, 1] = -Xdup[0, 0]  # |x_1k| = |x_2k| breaks Assumption 1
    assert _applies(_two_layer(first, 2), "tanh", Xdup, "Theorem 4").applies is False


def test_theorem5_and_6():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((4, 10))
    net = nets.MLP((4, 16, 12, 3), "tanh")
    m = M.random_masks(0, net, [0.3, 0.3, 0.0])   # final layer dense: 12 ≥ n connections per output
    assert _applies(m, "tanh", X, "Theorem 5").applies is True
    assert _applies(m, "tanh", X, "Theorem 6").applies is False
    m_ss = M.random_masks(0, net, [0.3, 0.3, 0.5])  # 6 < n connections per output
    c5 = _applies(m_ss, "tanh", X, "Theorem 5")
    assert c5.applies is False and c5.failing()[0].name.startswith("every output connected")
    assert _applies(m_ss, "tanh", X, "Theorem 6").applies is True
    r = S.structure_report(net, X, m_ss)
    assert "Theorem 6" in r.applicable() and r.kind == "SS"
    assert "FAILS, proved] every output connected" in str(r) and "Theorem 6: WARNING [proved" in str(r)


def test_report_save_load(tmp_path):
    r = S.structure_report(fig6_net("relu"), np.random.default_rng(0).standard_normal((3, 5)), FIG6)
    path = r.save(str(tmp_path / "rep"))
    back = S.StructureReport.load(path)  # a StructureReport, like every other load
    assert back.to_dict() == r.to_dict() and back.cleanup.n_after == 8 and back.kind == r.kind
    np.testing.assert_array_equal(back.cleanup.masks[1]["W"], r.cleanup.masks[1]["W"])


# ----------------------------------------------------------------------------- bad input


def test_bad_masks():
    net = nets.MLP((2, 3, 1), "relu")
    with pytest.raises(ValueError, match="do not chain"):
        S.effective_masks(net, [np.ones((3, 2)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="all zeros"):
        S.structure_report(net, masks=[np.ones((3, 2)), np.zeros((1, 3))])
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        S.network_class([np.full((3, 2), 0.5), np.ones((1, 3))])
    with pytest.raises(ValueError, match="X: expected shape"):
        S.structure_report(net, np.ones((5, 4)), [np.ones((3, 2)), np.ones((1, 3))])
    with pytest.raises(ValueError, match="do not match the net"):
        S.structure_report(nets.MLP((2, 4, 1), "relu"), masks=[np.ones((3, 2)), np.ones((1, 3))])
