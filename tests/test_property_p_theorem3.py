"""Theorem 3 (Appendix C.1): polynomial σ of any degree and coefficients, p_i ≥ dim*(σ, Z_i).

The path is verified by ``paths.verify`` (no rise above 1e-9·max(L0, 1), end within 1e-8 of the
infimum), and the infimum it is checked against is recomputed here without the lift: the projection of
``Y`` on the row space of ``σ(W X)`` for many random masked rows (σ evaluated directly). Ten random
problems: degrees 2, 3, 4 with random coefficients (some zero, a constant term on some), patterns of 1-3
of the 4 inputs (first-layer densities 0.25-0.75), odd seeds starting from a degenerate point.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import conditions as C
from landscape import nets, paths
from landscape import property_p as pp
from landscape.activations import polynomial
from landscape.experiments import property_p_demo as demo
from landscape.masks import pattern_decomposition


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _infimum_without_lift(net, X, Y, mask, seed):
    """½‖Y − Y Π‖², Π the projector on the row space of σ(W X) for 4·(D + 2) random rows per pattern."""
    rng = np.random.default_rng(seed + 1000)
    dec = pattern_decomposition(mask, X)
    rows = []
    for pat in dec.patterns:
        D = C.monomial_count(net.activation.coefficients, int(pat.sum()))
        W = rng.normal(size=(4 * (D + 2), X.shape[0])) * pat * rng.uniform(0.5, 2.0, size=(4 * (D + 2), 1))
        H = np.asarray(net.sigma(jnp.asarray(W @ X)))
        rows.append(H / np.linalg.norm(H, axis=1, keepdims=True))
    H = np.concatenate(rows)
    _, s, Vt = np.linalg.svd(H, full_matrices=False)
    Q = Vt[: int(np.sum(s > 1e-9 * s[0]))]
    return 0.5 * float(np.sum((Y - Y @ Q.T @ Q) ** 2))


@pytest.mark.parametrize("seed", range(10))
def test_theorem3_path_from_random_starts(seed):
    net, params, X, Y, masks, kw = demo.problem("theorem3", seed)
    assert len(net.activation.coefficients) - 1 == 2 + seed % 3       # degrees 2, 3, 4
    path = pp.theorem3_path(net, params, X, Y, masks, **kw)
    rep = paths.verify(path, n=16, refine=1)
    assert rep.passed, str(rep)
    mask = np.asarray(masks[0]["W"])
    ref = _infimum_without_lift(net, X, Y, mask, seed)
    assert abs(path.infimum - ref) <= 1e-8 * max(1.0, ref), (path.infimum, ref)
    # the start is the given point; masked weights stay zero at every breakpoint
    np.testing.assert_array_equal(np.asarray(path.start[0]["W"]), np.asarray(params[0]["W"]))
    assert np.all(np.asarray(path.points[0]["W"])[:, mask == 0] == 0)
    # the loss-invariant segments keep the loss (the vertices before the Lemma 2 segment), to 1e-10 relative
    L = [path.loss_of(path.point(k)) for k in range(path.num_segments + 1)]
    np.testing.assert_allclose(L[:-1], L[0], rtol=1e-10)
    if seed % 2:  # degenerate start: rank ψ(W_1) = 1, so Lemma 1 and the new rows come first
        assert path.num_segments == 3 and path.labels[0].startswith("Lemma 1 (lifted)")
    # at the end, ψ(W̃) has full column rank in every group: rank σ(W_i Z_i) = dim*(σ, Z_i)
    dec = pattern_decomposition(mask, X)
    W_end = np.asarray(path.end[0]["W"])
    for i, rows in enumerate(dec.groups):
        Z = X[dec.patterns[i] == 1]
        H = np.asarray(net.sigma(jnp.asarray(W_end[rows][:, dec.patterns[i] == 1] @ Z)))
        assert C.numerical_rank(H / np.linalg.norm(H, axis=1, keepdims=True), 1e-9) == C.dim_star(net.activation, Z)


def test_theorem3_infimum_is_zero_when_the_lift_spans_rn():
    # n = 6 samples on 2 features, cubic with all degrees: D = 1 + 2 + 3 + 4 = 10 ≥ n, so dim* = n = 6
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(2, 6)), rng.normal(size=(3, 6))
    sig = polynomial((0.3, 1.0, -0.5, 0.2))
    net = nets.MLP((2, 6, 3), sig)
    masks = ({"W": np.ones((6, 2))}, {"W": np.ones((3, 6))})
    params = nets.init(jax.random.key(1), net, masks, dtype=jnp.float64)
    path = pp.theorem3_path(net, params, X, Y, masks)
    assert abs(path.infimum) < 1e-20 and paths.verify(path, n=16, refine=1).passed


def test_theorem3_refuses_outside_the_theorem():
    net, params, X, Y, masks, _ = demo.problem("theorem3", 0)
    mask = np.asarray(masks[0]["W"])
    # one neuron fewer in the largest pattern than dim*(σ, Z_i)
    dec = pattern_decomposition(mask, X)
    i = int(np.argmax(dec.p))
    drop = dec.groups[i][: dec.p[i] - C.dim_star(net.activation, X[dec.patterns[i] == 1]) + 1]
    keep = np.setdiff1d(np.arange(mask.shape[0]), drop)
    small = nets.MLP((4, keep.size, 2), net.activation)
    sm = ({"W": mask[keep]}, {"W": np.ones((2, keep.size))})
    sp = ({"W": params[0]["W"][keep]}, {"W": params[1]["W"][:, keep]})
    with pytest.raises(ValueError, match=r"masks: Theorem 3 needs p_i ≥ dim\*\(σ, Z_i\); p_i >= dim\* fails"):
        pp.theorem3_path(small, sp, X, Y, sm)
    tanh = nets.MLP(net.sizes, "tanh")
    with pytest.raises(ValueError, match=r"net: Theorem 3 needs σ polynomial"):
        pp.theorem3_path(tanh, params, X, Y, masks)
    deep = nets.MLP((4, 5, 5, 2), net.activation)
    with pytest.raises(ValueError, match="two-layer"):
        pp.theorem3_path(deep, nets.init(jax.random.key(0), deep, dtype=jnp.float64), X, Y)


def test_dispatch_picks_theorem3_for_a_polynomial():
    net, params, X, Y, masks, kw = demo.problem("theorem3", 2)
    assert pp.property_p_path(net, params, X, Y, masks, **kw).theorem == "Theorem 3"


def test_theorem3_with_linear_sigma_is_theorem1_case1():
    # σ(z) = z: φ(z) = z, dim*(σ, Z_i) = rank Z_i = d_i, so p_i ≥ dim* is Theorem 1's p_i ≥ d_i, and both
    # constructions must end at the same infimum (Theorem 1's is computed from projections, independently).
    net, params, X, Y, masks, _ = demo.problem("theorem1.1", 1)
    p3 = pp.theorem3_path(net, params, X, Y, masks)
    p1 = pp.theorem1_path(net, params, X, Y, masks, case=1)
    assert abs(p3.infimum - p1.infimum) <= 1e-10 * max(1.0, p1.infimum)
    assert paths.verify(p3, n=16, refine=1).passed
