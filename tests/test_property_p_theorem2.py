"""Theorem 2 (deep linear nets, Appendix B.2): non-increasing paths to the infimum.

Tolerances (float64), as for Theorem 1: the loss never rises by more than
1e-9·max(L(0), 1) along the path (flat float64 segments wobble by ~1e-15
relative), and the end is within 1e-8 of the infimum. The infimum is computed
here independently of the library: a least-squares fit on the used rows of X,
then (case 1) the best rank-r approximation of that fit (Eckart–Young), r the
narrowest hidden width.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import nets, paths
from landscape import property_p as pp

N_STARTS = 20

CASE1_MASK = np.zeros((10, 6))
CASE1_MASK[0:3, 0:2] = 1     # p_1 = 3 ≥ d_1 = 2
CASE1_MASK[3:6, 1:4] = 1     # p_2 = 3 ≥ d_2 = 3 (overlaps feature 1)
CASE1_MASK[6:10, 3:6] = 1    # p_3 = 4 ≥ d_3 = 3


def _masks(first, sizes):
    return ({"W": first},) + tuple({"W": np.ones((sizes[i + 1], sizes[i]))} for i in range(1, len(sizes) - 1))


def _infimum(X, Y, used, r):
    """½‖Y − F‖² for F the best rank-r approximation of the least-squares fit on X[used]."""
    Xu = X[used]
    F = np.linalg.lstsq(Xu.T, Y.T, rcond=None)[0].T @ Xu
    s = np.linalg.svd(F, compute_uv=False)
    return 0.5 * float(np.sum((Y - F) ** 2) + np.sum(s[r:] ** 2))


def _check(path, inf):
    rep = paths.verify(path, n=16, refine=1)
    assert rep.max_increase <= 1e-9 * max(abs(float(rep.losses[0])), 1.0), str(rep)
    assert abs(rep.infimum - inf) <= 1e-9 * max(inf, 1.0)  # library's closed form == independent one
    assert abs(rep.end_loss - inf) <= 1e-8, str(rep)
    for k, lab in enumerate(path.labels):  # the loss-invariant segments really keep the loss
        if "kept" in lab:
            a, b = path.loss_of(path.point(k)), path.loss_of(path.point(k + 1))
            assert abs(b - a) <= 1e-10 * max(a, 1.0), lab
    return rep


@pytest.mark.parametrize("sizes", [(6, 10, 5, 3), (6, 10, 4, 2, 3)])  # no bottleneck / width-2 bottleneck < d_y
def test_theorem2_case1_random_starts(sizes):
    net = nets.MLP(sizes, "linear")
    masks = _masks(CASE1_MASK, sizes)
    rng = np.random.default_rng(sum(sizes))
    X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
    inf = _infimum(X, Y, np.arange(6), min(sizes[1:-1]))
    for seed in range(N_STARTS):
        params = nets.init(jax.random.key(seed), net, masks, dtype=jnp.float64)
        if seed % 2:  # rank-deficient W_i (Lemma 1) and a degenerate second layer (two zero rows)
            params = (({"W": params[0]["W"].at[1].set(params[0]["W"][0])}, {"W": params[1]["W"].at[:2].set(0.0)})
                      + params[2:])
        if seed % 4 == 3:  # a whole layer zero: the output is 0 and every layer's gradient vanishes
            params = params[:2] + ({"W": jnp.zeros_like(params[2]["W"])},) + params[3:]
        path = pp.theorem2_path(net, params, X, Y, masks)
        assert path.theorem == "Theorem 2 case 1"
        np.testing.assert_array_equal(np.asarray(path.start[1]["W"]), np.asarray(params[1]["W"]))
        _check(path, inf)
    if min(sizes[1:-1]) < 3:
        assert inf > _infimum(X, Y, np.arange(6), 3) + 1e-3  # the bottleneck really costs loss


def _sparse_chain(rng, sizes, density=0.5):
    ms = [(rng.random((sizes[i + 1], sizes[i])) < density).astype(float) for i in range(len(sizes) - 1)]
    for m in ms:  # every unit has an input ...
        m[np.arange(m.shape[0]), rng.integers(0, m.shape[1], m.shape[0])] = 1
    for m in ms[1:]:  # ... and an output: an effective net
        m[rng.integers(0, m.shape[0], m.shape[1]), np.arange(m.shape[1])] = 1
    return tuple({"W": m} for m in ms)


@pytest.mark.parametrize("sizes", [(5, 6, 4, 1), (5, 6, 4, 3, 1)])
def test_theorem2_case2_random_starts(sizes):
    rng = np.random.default_rng(len(sizes))
    net = nets.MLP(sizes, "linear")
    masks = _sparse_chain(rng, sizes)
    masks[0]["W"][:, 4] = 0  # feature 4 unused: the infimum is a projection residual, not 0
    masks[0]["W"][masks[0]["W"].sum(axis=1) == 0, 0] = 1
    X, Y = rng.normal(size=(5, 9)), rng.normal(size=(1, 9))
    inf = _infimum(X, Y, np.arange(4), 1)
    assert inf > 1e-3
    n_induction = 0
    for seed in range(N_STARTS):
        params = nets.init(jax.random.key(seed), net, masks, dtype=jnp.float64)
        if seed % 2:  # zero output weights: c_j = 0 for the units below them
            params = params[:-1] + ({"W": params[-1]["W"].at[0, :2].set(0.0)},)
        if seed % 3 == 0:  # a zero second layer: c = 0, the proof's Case 2 recursion
            params = params[:1] + ({"W": jnp.zeros_like(params[1]["W"])},) + params[2:]
        path = pp.theorem2_path(net, params, X, Y, masks)
        assert path.theorem == "Theorem 2 case 2"
        n_induction += len(path.labels) > 1
        _check(path, inf)
    assert n_induction >= len(range(0, N_STARTS, 3))  # every zero-second-layer start ran the induction


def test_dispatch_deep_linear_goes_to_theorem2():
    rng = np.random.default_rng(11)
    sizes = (6, 10, 5, 3)
    net, masks = nets.MLP(sizes, "linear"), _masks(CASE1_MASK, sizes)
    X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
    path, rep = pp.verified_path(net, nets.init(jax.random.key(0), net, masks, dtype=jnp.float64), X, Y, masks)
    assert path.theorem == "Theorem 2 case 1" and rep.passed, str(rep)
    assert abs(rep.end_loss - _infimum(X, Y, np.arange(6), 5)) <= 1e-8


def test_theorem2_refusals_name_the_failed_condition():
    rng = np.random.default_rng(12)
    X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
    sizes = (6, 10, 5, 3)
    net, masks = nets.MLP(sizes, "linear"), _masks(CASE1_MASK, sizes)
    params = nets.init(jax.random.key(0), net, masks, dtype=jnp.float64)
    with pytest.raises(ValueError, match="linear networks"):
        pp.theorem2_path(nets.MLP(sizes, "tanh"), params, X, Y, masks)
    with pytest.raises(ValueError, match="without biases"):
        pp.theorem2_path(nets.MLP(sizes, "linear", bias=True), params, X, Y, masks)
    with pytest.raises(ValueError, match="hidden layer"):
        pp.theorem2_path(nets.MLP((6, 3), "linear"), ({"W": np.zeros((3, 6))},), X, Y)
    sparse2 = (masks[0], {"W": np.triu(np.ones((5, 10)))}, masks[2])
    with pytest.raises(ValueError, match=r"no condition of Theorem 2 holds: 1\).*layers \[2\] are sparse.*d_y = 1"):
        pp.theorem2_path(net, params, X, Y, sparse2)
    thin = np.zeros((3, 6)); thin[:2, :4] = 1; thin[2, 2:] = 1  # p_1 = 2 < d_1 = 4
    net3 = nets.MLP((6, 3, 5, 3), "linear")
    m3 = _masks(thin, net3.sizes)
    with pytest.raises(ValueError, match=r"groups with p_i < d_i: \[0, 1\]"):
        pp.theorem2_path(net3, nets.init(jax.random.key(0), net3, m3, dtype=jnp.float64), X, Y, m3)
    with pytest.raises(ValueError, match="case 2 needs d_y = 1"):
        pp.theorem2_path(net, params, X, Y, masks, case=2)
    # d_y = 1 but unit 0 of hidden layer 2 has no path to the output: not effective
    net1 = nets.MLP((6, 4, 3, 1), "linear")
    m1 = _masks(np.ones((4, 6)), net1.sizes)
    m1 = m1[:2] + ({"W": np.array([[0.0, 1.0, 1.0]])},)
    with pytest.raises(ValueError, match=r"effective network.*units \[0\] of hidden layer 2"):
        pp.theorem2_path(net1, nets.init(jax.random.key(0), net1, m1, dtype=jnp.float64), X, Y[:1], m1, case=2)
