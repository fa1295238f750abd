"""Theorem 6 certificate (theory), dim*, Assumptions 1-2 and the Theorem 4 rank check (conditions)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import conditions as C
from landscape import nets
from landscape import theory as th
from landscape.activations import get_activation, polynomial

THM = th.Theorem6()  # Table 3's targets (1, 2, 6, 2)


@pytest.mark.parametrize("act", ["tanh", "elu", "leaky_relu", "shifted_sigmoid", "linear"])
def test_certificate_holds_on_the_valley(act):
    c = th.certify_valley(THM, act, n_perturbations=400)
    assert c.passed, str(c)
    assert abs(c.loss - 2.0) < 1e-12  # y4²/2 = 2
    # the better point's loss is the paper's formula y1² y3² / (2 (y2+y3)²) = 0.28125
    assert abs(c.better_loss - THM.better_loss) < 1e-12 and c.better_loss < c.valley_loss
    assert np.all(c.min_change >= 0.0 - 1e-12)


def test_certificate_other_valley_points_and_targets():
    thm = th.Theorem6(1.0, 1.5, 9.0, 2.0)
    thm.check(strict=True)  # y3 > 4 y4: the proof's inequality
    for a, b in ((3.0, 5.0), (7.0, 20.0)):
        assert th.certify_valley(thm, "tanh", a=a, b=b, n_perturbations=300).passed


def test_certificate_fails_off_the_valley():
    p = th.valley_point(THM, "tanh")
    w = th.w_from_params(p)
    for i, dv in ((3, 0.05), (0, 0.01)):  # w4 off zero; w1 off y1·a
        c = th.certify_valley(THM, "tanh", th.params_from_w(w.at[i].add(dv)), n_perturbations=300)
        assert not c.passed
        assert any("gradient" in f for f in c.failures)
        assert any("lowers the loss" in f for f in c.failures)


def test_certificate_refuses_sigma0_nonzero_and_bad_targets(tmp_path):
    with pytest.raises(ValueError, match="σ\\(0\\) = 0"):
        th.certify_valley(THM, "sigmoid")
    with pytest.raises(ValueError, match="y3 > y4 > y1 > 0"):
        th.certify_valley(th.Theorem6(1.0, 2.0, 1.5, 2.0), "tanh")
    c = th.certify_valley(THM, "linear", n_perturbations=50)
    back = th.ValleyCertificate.load(c.save(str(tmp_path / "cert")))
    np.testing.assert_array_equal(back.hessian_eigs, c.hessian_eigs)
    assert back.passed == c.passed and back.y == c.y


@pytest.mark.parametrize("act,coeffs,d", [("quadratic", (0, 0, 1), 3), ("cubic", (0, 0, 0, 1), 3),
                                           ("cubic", (0, 0, 0, 1), 4)])
def test_dim_star_equals_monomial_count(act, coeffs, d):
    X = np.random.default_rng(d).normal(size=(d, 60))
    count = C.monomial_count(coeffs, d)  # C(d+k-1, k): 6, 10, 20
    assert count == {(2, 3): 6, (3, 3): 10, (3, 4): 20}[(len(coeffs) - 1, d)]
    assert C.dim_star(act, X) == count


def test_dim_star_general_polynomial_and_saturation():
    X = np.random.default_rng(0).normal(size=(2, 40))
    sig = polynomial((0.0, 1.0, 0.5, 0.0, 2.0))  # degrees 1, 2, 4 in 2 variables: 2 + 3 + 5
    assert C.monomial_count(sig.coefficients, 2) == 10
    assert C.dim_star(sig, X) == 10
    assert C.dim_star("tanh", X) == 40  # not a polynomial: saturates at n


def test_rank_check_theorem4():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 10))
    mask = (rng.random((12, 4)) < 0.5).astype(float)
    mask[np.arange(12), rng.integers(0, 4, 12)] = 1
    masks = ({"W": mask}, {"W": np.ones((1, 12))})
    assert C.assumption1(X, masks).holds
    c = C.rank_check(nets.MLP((4, 12, 1), "tanh"), X, masks, n_draws=30)
    assert c.holds and np.all(np.array(c.value) == 10)  # p = 12 ≥ n = 10
    c = C.rank_check(nets.MLP((4, 12, 1), "linear"), X, masks, n_draws=5)
    assert c.holds is False and np.all(np.array(c.value) == 4)  # rank ≤ d_x: Assumption 2 fails


def test_assumption2_orders_match_derivatives():
    # the orders claimed non-zero really are, and the skipped ones vanish (nested autodiff in float64)
    for name in ("tanh", "shifted_sigmoid", "softplus"):
        orders = C.assumption2(name, 3).value
        f = get_activation(name)
        derivs = []
        g = f
        for k in range(6):
            derivs.append(float(g(jnp.float64(0.0))))
            g = jax.grad(g)
        for k in orders:
            assert abs(derivs[k]) > 1e-3, (name, k)
        assert len(set(np.diff(orders))) == 1  # arithmetic progression
        if name != "softplus":  # odd functions: even derivatives vanish exactly
            assert all(abs(derivs[k]) < 1e-12 for k in (0, 2, 4))
    assert C.assumption2(polynomial((0, 1, 0, 1, 0, 1)), 3).value == (1, 3, 5)
    c = C.assumption2("relu", 2)
    assert c.holds is False and "not analytic" in c.detail
    c = C.assumption2("quadratic", 2)
    assert c.holds is False and "no arithmetic sequence" in c.detail
    c = C.assumption2(lambda z: jnp.sin(z), 2)  # a callable: analyticity unknown, undecided
    assert c.holds is None and "cannot check" in c.detail


def test_assumption1_parts():
    X = np.array([[1.0, -2.0, 3.0], [0.5, 1.5, -2.5]])
    assert C.assumption1(X, [np.ones((2, 2)), np.ones((1, 2))]).holds
    c = C.assumption1(np.array([[1.0, -1.0, 3.0]]))
    assert c.holds is False and c.value == (1,) and re.search("part 1.*equal", c.detail)
    c = C.assumption1(X, [np.array([[1, 0], [0, 0]]), np.ones((1, 2))])
    assert c.holds is False and c.value == (2,) and "part 2" in c.detail
