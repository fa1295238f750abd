"""Connectivity probes: Müller–Brown saddle heights, Theorem 6, barrier matrix, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from landscape import connectivity as K
from landscape import evaluate as ev
from landscape import curvature as C
from landscape import theory

# Müller–Brown potential (Müller & Brown 1979), the classic 2D test surface.
_A = jnp.array([-200.0, -100.0, -170.0, 15.0])
_a = jnp.array([-1.0, -1.0, -6.5, 0.7])
_b = jnp.array([0.0, 0.0, 11.0, 0.6])
_c = jnp.array([-10.0, -10.0, -6.5, 0.7])
_x0 = jnp.array([1.0, 0.0, -0.5, -1.0])
_y0 = jnp.array([0.0, 0.5, 1.5, 1.0])


def muller_brown(z):
    x, y = z[0], z[1]
    return jnp.sum(_A * jnp.exp(_a * (x - _x0) ** 2 + _b * (x - _x0) * (y - _y0) + _c * (y - _y0) ** 2))


def _critical(guess):
    """Newton (scipy root) on the exact gradient: minima and saddles to ~1e-12."""
    g, H = jax.jit(jax.grad(muller_brown)), jax.jit(jax.hessian(muller_brown))
    x = optimize.root(lambda q: np.asarray(g(jnp.array(q))), guess, jac=lambda q: np.asarray(H(jnp.array(q))), tol=1e-14).x
    return jnp.array(x)


@pytest.fixture(scope="module")
def mb():
    pts = {n: _critical(p) for n, p in dict(A=(-0.558, 1.442), B=(0.623, 0.028), C=(-0.05, 0.467),
                                             S1=(-0.822, 0.624), S2=(0.212, 0.293)).items()}
    E = {n: float(muller_brown(p)) for n, p in pts.items()}
    # the literature values (Müller & Brown 1979): -146.70, -108.17, -80.77, saddles -40.66, -72.25
    assert E["A"] == pytest.approx(-146.70, abs=0.01) and E["S1"] == pytest.approx(-40.66, abs=0.01)
    assert C.classify_critical_point(muller_brown, pts["S1"]).label == "saddle"
    assert C.classify_critical_point(muller_brown, pts["A"]).label == "strict_minimum"
    return pts, E


def test_elastic_band_recovers_saddle_height(mb):
    pts, E = mb
    # A -> B runs over both saddles; its barrier top is S1. The climbing image sits on it.
    r = K.elastic_band(muller_brown, pts["A"], pts["B"], n_images=16, steps=1000, alpha=0.0)
    assert r.max_loss == pytest.approx(E["S1"], abs=0.05)
    top = r.controls[1 + np.argmax(ev.evaluate_points(muller_brown, r.controls[1:-1]))]
    np.testing.assert_allclose(top, pts["S1"], atol=0.01)  # the climbing image found the saddle point
    r = K.elastic_band(muller_brown, pts["C"], pts["B"], n_images=8, steps=1000, alpha=0.0)
    assert r.max_loss == pytest.approx(E["S2"], abs=0.05)


@pytest.mark.parametrize("probe", [K.bezier_path, K.chain_path])
def test_curves_recover_saddle_height(mb, probe):
    pts, E = mb
    # A minimax path must cross S1, so max >= E(S1) up to the dense-grid sampling error (129 points);
    # the smoothed-max objective (temperature 0.03) gets within 0.5 of it (measured: 0.1-0.25).
    r = probe(muller_brown, pts["A"], pts["C"], steps=1000, alpha=0.0)
    assert E["S1"] - 0.5 <= r.max_loss <= E["S1"] + 0.5
    # Müller–Brown is a plain function, not a network Objective: connected at every sampled point only
    assert r.verdict == K.CONNECTED_SAMPLED and r.evidence == "sampled" and r.connected
    lin = K.linear_path(muller_brown, pts["A"], pts["C"], alpha=0.0)
    assert lin.max_loss > 0 and lin.verdict == K.NOT_FOUND  # the straight line crosses a ridge


def test_barrier_matrix_mst_and_components(mb):
    pts, E = mb
    Z = jnp.stack([pts["A"], pts["B"], pts["C"]])
    bm = K.barrier_matrix(muller_brown, Z, methods=("linear", "neb"), n_images=8, steps=600)
    np.testing.assert_allclose(bm.losses, [E["A"], E["B"], E["C"]], rtol=1e-12)
    edges = {(int(i), int(j)): h for i, j, h in bm.mst}
    # C-B meets at S2; A joins through S1 (A-C and A-B tie there: the A-B path runs over C)
    assert edges[(1, 2)] == pytest.approx(E["S2"], abs=0.05)
    assert bm.heights[0, 1] == pytest.approx(E["S1"], abs=0.05) and bm.heights[0, 2] == pytest.approx(E["S1"], abs=0.05)
    assert sorted(h for (i, j), h in edges.items() if 0 in (i, j)) == [pytest.approx(E["S1"], abs=0.05)]
    lab = bm.components(-60.0)
    assert lab[0] != lab[1] and lab[1] == lab[2]
    assert len(set(bm.components(-40.0))) == 1
    lab = bm.components(-100.0)
    assert lab[2] == -1 and lab[0] != lab[1] >= 0  # C lies above the level; A and B are apart


@pytest.fixture(scope="module")
def t6():
    thm = theory.Theorem6()
    f, sp = C.masked_objective(thm.net("tanh"), thm.X, thm.Y, thm.masks(), dtype=jnp.float64)
    v1 = sp.flatten(theory.valley_point(thm, "tanh", a=4.0))
    v2 = sp.flatten(theory.valley_point(thm, "tanh", a=8.0))
    bt = sp.flatten(theory.better_point(thm, "tanh", a=4.0))
    return thm, f, sp, v1, v2, bt


def test_theorem6_valley_to_better_point_no_path(t6):
    thm, f, sp, v1, v2, bt = t6
    assert float(f(v1)) == pytest.approx(thm.valley_loss, abs=1e-12)
    assert float(f(bt)) == pytest.approx(thm.better_loss, abs=1e-12)
    cert = theory.theorem6_certificate(thm, "tanh", sp.unflatten(v1), sp.unflatten(bt), thm.valley_loss)
    assert "Theorem 6" in str(cert) and cert.judgement.evidence == "proved"
    r = K.connect(f, v1, bt, certificate=cert, stop_when_connected=False, steps=800)
    # default level = larger endpoint loss = y4²/2; every method stays above it (measured: NEB 2.193)
    assert r.alpha == thm.valley_loss
    assert set(r.tried) == set(K.METHODS) and min(r.tried.values()) > thm.valley_loss + r.tol
    assert r.verdict == K.CERTIFIED_DISCONNECTED and r.certificate == str(cert) and r.evidence == "proved"
    # without a proof the verdict is only "not found", with no evidence
    plain = K.linear_path(f, v1, bt)
    assert plain.verdict == K.NOT_FOUND and plain.evidence == "none"
    # and no certificate is issued for two valley points (w4 = 0 at both)
    with pytest.raises(ValueError, match="w4"):
        theory.theorem6_certificate(thm, "tanh", sp.unflatten(v1), sp.unflatten(v2), thm.valley_loss)


def test_theorem6_two_valley_points_connected(t6):
    thm, f, sp, v1, v2, bt = t6
    lin = K.linear_path(f, v1, v2)
    assert lin.barrier > 0.05  # the straight line leaves the curved valley
    r = K.elastic_band(f, v1, v2, steps=800)
    # ≈ zero barrier: within the default tol = 1e-3·α (measured 4e-6)
    assert r.connected and abs(r.barrier) <= 1e-3 * thm.valley_loss


def test_paths_stay_in_masked_subspace_and_save_load(t6, tmp_path):
    thm, f, sp, v1, v2, bt = t6
    r = K.chain_path(f, v1, bt, bends=2, steps=50)
    for z in r.points(np.linspace(0, 1, 7)):
        p = sp.unflatten(jnp.asarray(z))
        for w, m in zip(jax.tree.leaves(p), jax.tree.leaves(thm.masks())):
            assert np.all(np.asarray(w)[np.asarray(m) == 0] == 0)
    path = r.save(str(tmp_path / "path"))
    r2 = K.PathResult.load(path)
    np.testing.assert_array_equal(r2.losses, r.losses)
    assert r2.verdict == r.verdict and r2.barrier == r.barrier
    np.testing.assert_allclose(r2.points([0.3]), r.points([0.3]))


def test_evaluate_lax_map_equals_vmap():
    Z = jax.random.normal(jax.random.key(0), (6, 2))
    one = ev.evaluate_points(muller_brown, Z, batch_size=1)
    allv = jax.vmap(muller_brown)(Z)
    np.testing.assert_allclose(one, allv, rtol=1e-12)
    v, g = ev.evaluate_points(muller_brown, Z, batch_size=3, grad=True)
    np.testing.assert_allclose(g, jax.vmap(jax.grad(muller_brown))(Z), rtol=1e-12)


def test_bad_input(t6):
    thm, f, sp, v1, v2, bt = t6
    with pytest.raises(ValueError, match=r"z1: expected shape \(8,\)"):
        K.linear_path(f, v1, jnp.zeros(5))
    with pytest.raises(ValueError, match="alpha.*both endpoint"):
        K.linear_path(f, v1, bt, alpha=0.1)
    with pytest.raises(ValueError, match="alpha.*one endpoint"):
        K.linear_path(f, v1, bt, alpha=1.0)
    with pytest.raises(ValueError, match="bends"):
        K.chain_path(f, v1, bt, bends=0)
    with pytest.raises(ValueError, match="n_images"):
        K.elastic_band(f, v1, bt, n_images=0)
    with pytest.raises(ValueError, match="methods"):
        K.connect(f, v1, bt, methods=("autoneb",))
    # a point of another masked subspace (different masks) is refused
    dense = tuple({"W": jnp.ones_like(layer["W"])} for layer in sp.unflatten(v1))
    with pytest.raises(ValueError, match="masks are 0"):
        sp.flatten(dense)


def test_nonfinite_losses_are_flagged():
    f = lambda z: jnp.where(jnp.abs(z[0] - 0.5) < 0.1, jnp.nan, jnp.sum(z * z))  # noqa: E731
    r = K.linear_path(f, jnp.zeros(2), jnp.array([1.0, 0.0]), alpha=10.0)
    assert r.n_nonfinite > 0 and r.max_loss == np.inf and r.verdict == K.NOT_FOUND
    assert "non-finite" in r.summary()
    with pytest.raises(ValueError, match="not finite"):
        K.linear_path(f, jnp.array([0.5, 0.0]), jnp.zeros(2))


def test_probe_config_and_overrides(mb):
    pts, E = mb
    cfg = K.ProbeConfig(steps=40, n_points=8, seed=3)
    a = K.bezier_path(muller_brown, pts["A"], pts["C"], config=cfg, alpha=0.0)
    b = K.bezier_path(muller_brown, pts["A"], pts["C"], steps=40, n_points=8, seed=3, alpha=0.0)
    np.testing.assert_array_equal(a.losses, b.losses)  # a config object and keyword overrides are the same settings
    c = K.bezier_path(muller_brown, pts["A"], pts["C"], config=cfg, seed=4, alpha=0.0)  # override on top of a config
    assert c.history.shape == (40,) and not np.array_equal(c.history, a.history)
    assert isinstance(a.curve, K.Bezier) and a.knots is None and a.controls.shape == (3, 2)
    with pytest.raises(TypeError, match="stpes"):
        K.connect(muller_brown, pts["A"], pts["C"], stpes=10)
    with pytest.raises(TypeError, match="config"):
        K.linear_path(muller_brown, pts["A"], pts["C"], config={"steps": 3})
    for bad, match in (({"steps": 0}, "steps"), ({"n_points": 1}, "n_points"), ({"climb_after": 2.0}, "climb_after"),
                       ({"learning_rate": 0.0}, "learning_rate"), ({"batch_size": -1}, "batch_size")):
        with pytest.raises(ValueError, match=match):
            K.ProbeConfig(**bad)
