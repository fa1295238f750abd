"""Curvature on free coordinates: Hessian, Lanczos, Hutchinson, SLQ, classification."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import curvature as C
from landscape import nets


def _masked_problem(sizes=(4, 6, 5, 3), act="tanh", density=0.6, n=10, seed=0, bias=True):
    net = nets.MLP(sizes, act, bias=bias)
    rng = np.random.default_rng(seed)
    masks = jax.tree.map(lambda s: (rng.random(s) < density).astype(np.float64), nets.shapes(net), is_leaf=nets._is_shape)
    for layer in masks:  # keep every layer non-empty
        layer["W"][0, 0] = 1.0
    X = rng.normal(size=(sizes[0], n))
    Y = rng.normal(size=(sizes[-1], n))
    p = nets.init(jax.random.key(seed), net, masks, dtype=jnp.float64)
    return net, masks, X, Y, p


def test_free_space_roundtrip_and_masked_entries():
    net, masks, X, Y, p = _masked_problem()
    f, sp = C.masked_objective(net, X, Y, masks, dtype=jnp.float64)
    z = sp.flatten(p)
    assert sp.size == nets.num_free(masks) == z.shape[0]
    back = sp.unflatten(z)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(p)):
        np.testing.assert_array_equal(a, b)  # exact: a pure gather/scatter
    assert float(f(z)) == pytest.approx(float(nets.loss(net, p, X, Y, masks)), rel=1e-14)
    bad = jax.tree.map(lambda a: a + 1.0, p)  # non-zero where masked
    with pytest.raises(ValueError, match="masks are 0"):
        sp.flatten(bad)


def test_hessian_matches_finite_differences_and_full_hessian_block():
    net, masks, X, Y, p = _masked_problem()
    f, sp = C.masked_objective(net, X, Y, masks, dtype=jnp.float64)
    z = sp.flatten(p)
    H = np.asarray(C.hessian(f, z))
    g = jax.jit(jax.grad(f))
    h = 1e-5  # central differences of the exact gradient: error O(h²)·|∇⁴f| ~ 1e-9
    fd = np.stack([(np.asarray(g(z + h * e)) - np.asarray(g(z - h * e))) / (2 * h) for e in np.eye(sp.size)])
    np.testing.assert_allclose(H, fd, atol=1e-6 * max(1.0, np.abs(H).max()))
    # the free-coordinate Hessian is the free block of the full Hessian (no masked rows leak in)
    full_f = lambda w: nets.loss(net, jax.flatten_util.ravel_pytree(p)[1](w), X, Y, masks)  # noqa: E731
    Hfull = np.asarray(jax.jit(jax.hessian(full_f))(jax.flatten_util.ravel_pytree(p)[0]))
    np.testing.assert_allclose(H, Hfull[np.ix_(sp.index, sp.index)], atol=1e-10)
    np.testing.assert_allclose(C.hvp(f, z, jnp.ones(sp.size)), H @ np.ones(sp.size), atol=1e-10)


def test_lanczos_extremes_match_eigh_on_midsize_masked_net():
    net, masks, X, Y, p = _masked_problem(sizes=(8, 24, 24, 4), density=0.5, n=30, seed=3)
    f, sp = C.masked_objective(net, X, Y, masks, dtype=jnp.float64)
    z = sp.flatten(p)
    assert sp.size > 400
    lam = np.linalg.eigvalsh(np.asarray(jax.jit(lambda z: C.hessian(f, z))(z)))
    r = C.lanczos(f, z, num_steps=100)
    # extremes converge first; 100 steps with full re-orthogonalisation pin them to ~1e-8 here
    scale = np.abs(lam).max()
    assert abs(r.min - lam[0]) <= 1e-6 * scale
    assert abs(r.max - lam[-1]) <= 1e-6 * scale
    # Ritz values never leave the spectrum interval; weights are a probability vector
    assert r.ritz_values.min() >= lam[0] - 1e-9 * scale and r.ritz_values.max() <= lam[-1] + 1e-9 * scale
    assert r.weights.sum() == pytest.approx(1.0, abs=1e-10)


def test_lanczos_stops_at_invariant_subspace():
    f = lambda z: 0.5 * jnp.sum(jnp.array([1.0, 2.0, 3.0]) * z * z)  # noqa: E731
    r = C.lanczos(f, jnp.zeros(3), num_steps=50)  # clipped to k = 3 steps
    np.testing.assert_allclose(np.sort(r.ritz_values), [1.0, 2.0, 3.0], atol=1e-12)


def test_hutchinson_trace_and_slq_density():
    net, masks, X, Y, p = _masked_problem(seed=5)
    f, sp = C.masked_objective(net, X, Y, masks, dtype=jnp.float64)
    z = sp.flatten(p)
    H = np.asarray(C.hessian(f, z))
    est, se = C.hutchinson_trace(f, z, num_samples=200, key=jax.random.key(1))
    assert abs(est - np.trace(H)) <= 4 * se  # unbiased estimator; 4 standard errors
    d = C.spectral_density(f, z, num_probes=4, num_steps=sp.size)
    assert np.trapezoid(d.density, d.grid) == pytest.approx(1.0, abs=1e-3)
    # SLQ with a full Krylov space integrates x exactly per probe: vᵀHv/‖v‖² (Rademacher: ‖v‖² = k)
    mean_est = np.nansum(d.nodes * d.weights) / d.nodes.shape[0]
    assert mean_est == pytest.approx(np.trace(H) / sp.size, abs=0.5 * np.abs(H).max())


@pytest.mark.parametrize("fn,label,counts", [
    (lambda z: z[0] ** 2 + 3 * z[1] ** 2, "strict_minimum", (0, 0, 2)),
    (lambda z: z[0] ** 2 - z[1] ** 2, "saddle", (1, 0, 1)),
    (lambda z: z[0] ** 2 + z[1] ** 4, "flat_minimum", (0, 1, 1)),
    (lambda z: -(z[0] ** 2) - z[1] ** 2, "local_maximum", (2, 0, 0)),
])
def test_classify_hand_built_points(fn, label, counts):
    c = C.classify_critical_point(fn, jnp.zeros(2))
    assert c.label == label
    assert (c.n_negative, c.n_flat, c.n_positive) == counts
    assert C.classify_critical_point(fn, jnp.array([0.1, 0.0])).label == "not_critical"  # gradient 0.2 > gtol


def test_classify_lanczos_path_for_large_nets():
    f = lambda z: jnp.sum(jnp.linspace(-1.0, 2.0, z.shape[0]) * z * z)  # noqa: E731
    c = C.classify_critical_point(f, jnp.zeros(50), dense_max=10, num_steps=50)
    assert c.method == "lanczos" and c.label == "saddle" and c.n_flat is None
    assert c.min_eig == pytest.approx(-2.0, abs=1e-8) and c.max_eig == pytest.approx(4.0, abs=1e-8)


def test_bad_input():
    with pytest.raises(ValueError, match="num_steps"):
        C.lanczos(lambda z: jnp.sum(z * z), jnp.zeros(3), num_steps=0)
    with pytest.raises(ValueError, match="z"):
        C.classify_critical_point(lambda z: jnp.sum(z * z), jnp.zeros((2, 2)))
    with pytest.raises(ValueError, match="loss"):
        C.masked_objective(nets.MLP((2, 2, 1)), np.ones((2, 3)), np.ones((1, 3)), loss="l1")
