"""Property P constructions (Lemma 1, Lemma 2, Theorem 1 cases 1-3, Theorem 4).

Tolerances (float64): a path "never rises" when max_{i<j} L_j − L_i ≤ 1e-9·max(L(0), 1)
(flat float64 segments wobble by ~1e-15 relative); the end is within 1e-8 of the
infimum, which each constructor computes in closed form from X, Y and the mask
(projections / Eckart–Young), independently of the path.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import conditions as C
from landscape import nets, paths
from landscape import property_p as pp

N_STARTS = 20


def _sd(d, p, dy, mask, act="linear"):
    net = nets.MLP((d, p, dy), act)
    return net, ({"W": np.asarray(mask, np.float64)}, {"W": np.ones((dy, p))})


def _start(net, masks, seed, scale=1.0):
    return nets.init(jax.random.key(seed), net, masks, scale=scale, dtype=jnp.float64)


def _check(path, rtol=1e-9, end_atol=1e-8):
    rep = paths.verify(path, n=32, refine=2, rtol=rtol, end_atol=end_atol)
    assert rep.max_increase <= rep.rise_tol, str(rep)
    assert abs(rep.end_gap) <= 1e-8, str(rep)
    # the path starts at the given point
    return rep


def test_lemma1_keeps_UW_and_zeroes_p_minus_r_columns():
    rng = np.random.default_rng(0)
    for trial in range(N_STARTS):
        p, n, r = 7, 5, int(rng.integers(1, 5))
        W = rng.normal(size=(p, r)) @ rng.normal(size=(r, n))  # rank r
        U = rng.normal(size=(3, p))
        U0, basis = pp.lemma1(U, W)
        assert basis.size == r
        assert np.sum(np.all(U0 == 0, axis=0)) == p - r  # exactly zero columns
        # U0 W = U W up to float64 rounding of the least-squares Q (1e-12 relative)
        np.testing.assert_allclose(U0 @ W, U @ W, rtol=0, atol=1e-12 * np.abs(U @ W).max())


CASE1_MASK = np.zeros((10, 6))
CASE1_MASK[0:3, 0:2] = 1     # p_1 = 3 ≥ d_1 = 2
CASE1_MASK[3:6, 1:4] = 1     # p_2 = 3 ≥ d_2 = 3 (overlaps feature 1)
CASE1_MASK[6:10, 3:6] = 1    # p_3 = 4 ≥ d_3 = 3


def test_theorem1_case1_random_starts():
    net, masks = _sd(6, 10, 3, CASE1_MASK)
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
    n_lemma1 = 0
    for seed in range(N_STARTS):
        params = _start(net, masks, seed)
        if seed % 2:  # rank-deficient W_i: one row copied, one zeroed (exercises Lemma 1)
            W = params[0]["W"].at[1].set(params[0]["W"][0]).at[4].set(0.0)
            params = ({"W": W}, params[1])
        path = pp.theorem1_path(net, params, X, Y, masks)
        assert path.theorem == "Theorem 1 case 1"
        n_lemma1 += any("Lemma 1" in lab for lab in path.labels)
        for k, lab in enumerate(path.labels):  # the loss-invariant segments really keep the loss
            if "kept" in lab:
                assert abs(path.loss_of(path.point(k + 1)) - path.loss_of(path.point(k))) <= 1e-10 * path.loss_of(path.point(k))
        np.testing.assert_array_equal(np.asarray(path.start[0]["W"]), np.asarray(params[0]["W"]))
        _check(path)
    assert n_lemma1 == N_STARTS // 2


def test_theorem1_case2_random_starts():
    # disjoint patterns, orthogonal data rows across groups, p_i < d_i (so case 1 does not apply)
    d, n = 6, 10
    mask = np.zeros((4, d)); mask[:2, :3] = 1; mask[2:, 3:] = 1
    net, masks = _sd(d, 4, 4, mask)
    rng = np.random.default_rng(2)
    X = np.linalg.qr(rng.normal(size=(n, d)))[0].T * rng.uniform(1, 3, size=(d, 1))
    Y = rng.normal(size=(4, n))
    cond = C.theorem1_conditions(net, X, Y, masks)
    assert [c.holds for c in cond.any_of] == [False, True, False]
    for seed in range(N_STARTS):
        params = _start(net, masks, seed)
        if seed % 2:  # a copied row: rank W_1 < p_1, a saddle where plain alternating minimisation stalled
            params = ({"W": params[0]["W"].at[1].set(params[0]["W"][0])}, params[1])
        path = pp.theorem1_path(net, params, X, Y, masks)
        assert path.theorem == "Theorem 1 case 2"
        assert (seed % 2 == 1) == any("Lemma 1" in lab for lab in path.labels)
        _check(path)


def test_theorem1_case3_random_starts():
    d, p, n = 5, 6, 9
    rng = np.random.default_rng(3)
    mask = (rng.random((p, d)) < 0.4).astype(float)
    mask[np.arange(p), rng.integers(0, d, p)] = 1
    mask[:, 4] = 0  # feature 4 unused: the infimum is a projection residual, not 0
    net, masks = _sd(d, p, 1, mask)
    X, Y = rng.normal(size=(d, n)), rng.normal(size=(1, n))
    assert C.theorem1_conditions(net, X, Y, masks).any_of[2].holds
    for seed in range(N_STARTS):
        params = _start(net, masks, seed)
        if seed % 2:  # some output weights exactly zero: the proof's u_j = 0 moves
            params = (params[0], {"W": params[1]["W"].at[0, :3].set(0.0)})
        path = pp.theorem1_path(net, params, X, Y, masks, case=3)
        rep = _check(path)
        assert rep.infimum > 1e-3  # a non-trivial infimum
        if seed % 2:
            assert len(path.labels) == 3


def test_theorem4_random_starts():
    d, p, n = 4, 14, 10
    rng = np.random.default_rng(4)
    mask = (rng.random((p, d)) < 0.5).astype(float)
    mask[np.arange(p), rng.integers(0, d, p)] = 1
    X, Y = rng.normal(size=(d, n)), rng.normal(size=(2, n))
    assert C.assumption1(X, ({"W": mask}, {"W": np.ones((2, p))})).holds
    for seed in range(N_STARTS):
        act = ("tanh", "softplus")[seed % 2]
        net, masks = _sd(d, p, 2, mask, act)
        params = _start(net, masks, seed, scale=3.0)
        if seed % 4 < 2:  # p − n + 3 dead units: rank σ(W̃X) < n, exercising Lemma 1 and the redraw
            W = params[0]["W"].at[: p - n + 3].set(params[0]["W"][p - 1])
            params = ({"W": W}, params[1])
        path = pp.theorem4_path(net, params, X, Y, masks, key=jax.random.key(seed))
        assert len(path.labels) == (3 if seed % 4 < 2 else 1)
        rep = _check(path)
        assert rep.infimum == 0.0 and rep.end_loss < 1e-8


def test_lemma2_segment_reaches_min_over_U():
    d, p, n = 3, 5, 12
    rng = np.random.default_rng(5)
    net, masks = _sd(d, p, 2, np.ones((p, d)), "tanh")
    X, Y = rng.normal(size=(d, n)), rng.normal(size=(2, n))
    params = _start(net, masks, 0)
    path = pp.lemma2_path(net, params, X, Y, masks)
    rep = _check(path)
    # the end is a stationary point in U: gradient w.r.t. U vanishes (1e-10, float64 lstsq)
    g = jax.grad(lambda q: nets.loss(net, q, X, Y, masks))(path.end)[1]["W"]
    assert float(jnp.max(jnp.abs(g))) < 1e-10
    assert rep.end_loss < path.loss_of(params)


def test_property_p_dispatch_and_verified_path():
    net, masks = _sd(6, 10, 3, CASE1_MASK)
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
    path, rep = pp.verified_path(net, _start(net, masks, 0), X, Y, masks)
    assert rep.passed and path.theorem.startswith("Theorem 1")


# ----------------------------------------------------------------------------- refusals


def test_refusals_name_the_failed_condition():
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
    net, masks = _sd(6, 10, 3, CASE1_MASK)
    params = _start(net, masks, 0)
    with pytest.raises(ValueError, match="linear"):
        pp.theorem1_path(nets.MLP((6, 10, 3), "tanh"), params, X, Y, masks)
    ss = (masks[0], {"W": np.eye(3, 10)})
    with pytest.raises(ValueError, match="dense final layer"):
        pp.theorem1_path(net, params, X, Y, ss)
    with pytest.raises(ValueError, match="case 3 needs d_y = 1"):
        pp.theorem1_path(net, params, X, Y, masks, case=3)
    # two overlapping groups (Z_1 Z_2^T != 0) with p_i < d_i, and d_y = 3: no case applies
    thin = np.zeros((3, 6)); thin[:2, :4] = 1; thin[2, 2:] = 1
    net3, masks3 = _sd(6, 3, 3, thin)
    with pytest.raises(ValueError, match=r"no condition of Theorem 1 holds: 1\) p_i >= d_i fails"):
        pp.theorem1_path(net3, _start(net3, masks3, 0), X, Y, masks3)
    with pytest.raises(ValueError, match="two-layer"):
        deep = nets.MLP((6, 4, 4, 3), "linear")
        pp.theorem1_path(deep, _start(deep, None, 0), X, Y)
    # Theorem 4
    net4, masks4 = _sd(6, 10, 3, CASE1_MASK, "tanh")
    p4 = _start(net4, masks4, 0)
    with pytest.raises(ValueError, match="p >= n"):
        pp.theorem4_path(net4, p4, X, Y, masks4)  # p = 10 < n = 12
    Xs, Ys = X[:, :8], Y[:, :8]
    with pytest.raises(ValueError, match="Assumption 2 needs a real-analytic"):
        pp.theorem4_path(nets.MLP((6, 10, 3), "relu"), p4, Xs, Ys, masks4)
    with pytest.raises(ValueError, match="Assumption 2 fails for 'linear'"):
        pp.theorem4_path(nets.MLP((6, 10, 3), "linear"), p4, Xs, Ys, masks4)
    with pytest.raises(ValueError, match="Assumption 1 part 1"):
        X0 = Xs.copy(); X0[0, 0] = 0.0
        pp.theorem4_path(net4, p4, X0, Ys, masks4)
    empty = CASE1_MASK.copy(); empty[9] = 0
    with pytest.raises(ValueError, match="Assumption 1 part 2"):
        pp.theorem4_path(net4, p4, Xs, Ys, ({"W": empty}, masks4[1]))
