"""dim*(σ, X) (Section 4.1): the polynomial lift, the three ways it is computed, dim* ≤ n, and the
Theorem 3 widths condition that uses it (the structure report shows the same numbers)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import conditions as C
from landscape import nets
from landscape import structure as S
from landscape.activations import polynomial


def _random_poly(rng, degree):
    a = rng.normal(size=degree + 1)
    a[:-1][rng.random(degree) < 0.3] = 0.0
    a[-1] = 1.0
    return polynomial(a)


@pytest.mark.parametrize("degree", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("d", [1, 3])
def test_lift_reproduces_sigma(degree, d):
    # ψ(W) φ(Z) = σ(WZ): the lift against σ evaluated directly (Horner, float64). Entries are O(1)-O(1e2);
    # rounding of the two ways differs by ~1e-13 relative, so rtol 1e-10.
    rng = np.random.default_rng(10 * degree + d)
    sig = _random_poly(rng, degree)
    W, Z = rng.normal(size=(7, d)), rng.normal(size=(d, 11))
    Psi, Phi = C.polynomial_lift(sig.coefficients, W), C.polynomial_features(sig.coefficients, Z)
    assert Psi.shape == (7, C.monomial_count(sig.coefficients, d)) and Phi.shape == (Psi.shape[1], 11)
    with jax.enable_x64(True):
        direct = np.asarray(sig(jnp.asarray(W @ Z)))
    np.testing.assert_allclose(Psi @ Phi, direct, rtol=1e-10, atol=1e-10)


def test_lift_of_the_papers_quadratic_example():
    # Section 4.1: σ = z², x = (x1, x2): φ(x) = (x1², x1x2, x2²) here, ψ(w) = (w1², 2w1w2, w2²).
    w, x = np.array([[2.0, 3.0]]), np.array([[5.0], [7.0]])
    np.testing.assert_array_equal(C.polynomial_lift((0, 0, 1), w), [[4.0, 12.0, 9.0]])
    np.testing.assert_array_equal(C.polynomial_features((0, 0, 1), x), [[25.0], [35.0], [49.0]])


@pytest.mark.parametrize("act", ["tanh", "relu", "elu", "sigmoid", "softplus", "leaky_relu", "quadratic", "cubic",
                                 "poly6", "callable"])
@pytest.mark.parametrize("d,n", [(1, 5), (2, 12), (6, 9)])
def test_dim_star_is_at_most_n(act, d, n):
    # V_σ(X) ⊂ Rⁿ: dim* ≤ n for every σ, including polynomials whose monomial count D exceeds n.
    rng = np.random.default_rng(d * 100 + n)
    sig = {"poly6": _random_poly(rng, 6), "callable": lambda z: jnp.sin(z) + 0.1 * z}.get(act, act)
    X = rng.normal(size=(d, n))
    ev = C.dim_star_evidence(sig, X)
    assert 0 <= ev.value <= ev.upper <= n and ev.n == n
    assert C.dim_star(sig, X) == ev.value == int(ev)


@pytest.mark.parametrize("degree,d,n", [(2, 2, 40), (3, 3, 30), (4, 2, 9), (5, 1, 12), (3, 4, 50)])
def test_polynomial_dim_star_equals_the_rank_of_sampled_rows(degree, d, n):
    # Independent reference: the rank of σ(w_jᵀX) for 3·min(D, n) random w_j, σ evaluated directly (no lift).
    # For data in general position both equal min(D, n) (D = monomial count).
    rng = np.random.default_rng(degree * 10 + d)
    sig = _random_poly(rng, degree)
    X = rng.normal(size=(d, n))
    D = C.monomial_count(sig.coefficients, d)
    W = rng.normal(size=(3 * min(D, n), d)) * rng.uniform(0.5, 2.0, size=(3 * min(D, n), 1))
    with jax.enable_x64(True):
        rows = np.asarray(sig(jnp.asarray(W @ X)))
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    ev = C.dim_star_evidence(sig, X)
    assert ev.method == "monomial features" and ev.exact
    assert ev.value == C.numerical_rank(rows, 1e-9) == min(D, n)


def test_assumption2_way_gives_n_and_needs_distinct_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 40))
    for act in ("tanh", "sigmoid", "shifted_sigmoid", "softplus"):
        ev = C.dim_star_evidence(act, X)
        assert (ev.value, ev.exact, ev.method) == (40, True, "Assumption 2")
    # Antipodal pairs (x, −x): |x| repeats in every feature, so the Vandermonde argument does not apply,
    # and indeed tanh is odd, so tanh(wᵀ(−x)) = −tanh(wᵀx): dim* ≤ 20. The sampled rank finds 20 (a lower
    # bound; the gap to the next singular value is 12 orders), reported as not exact (upper bound n).
    Xa = np.concatenate([X[:, :20], -X[:, :20]], axis=1)
    ev = C.dim_star_evidence("tanh", Xa)
    assert ev.method == "sampled" and ev.value == 20 and ev.upper == 40 and not ev.exact
    assert "≥ 20" in str(ev)


def test_sampled_way_is_a_lower_bound_and_exact_at_n():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 30))
    ev = C.dim_star_evidence("relu", X)  # ReLU is not analytic: sampled
    assert ev.method == "sampled" and ev.value == 30 and ev.exact
    # fewer draws than n can only give a lower bound
    few = C.dim_star_evidence("relu", X, draws=10)
    assert few.value == 10 and few.upper == 30 and not few.exact
    with pytest.raises(ValueError, match="draws"):
        C.dim_star_evidence("relu", X, draws=0)


def test_bad_input():
    with pytest.raises(ValueError, match="X: expected"):
        C.dim_star_evidence("tanh", np.ones(4))
    with pytest.raises(TypeError, match="coefficients"):
        C.polynomial_features(3, np.ones((2, 2)))
    with pytest.raises(ValueError, match="W: expected"):
        C.polynomial_lift((0, 1), np.ones(3))


def _two_layer(first, d_y, act):
    p, d = first.shape
    return nets.MLP((d, p, d_y), act), ({"W": np.asarray(first, float)}, {"W": np.ones((d_y, p))})


def test_theorem3_widths_for_any_sigma():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 12))
    # tanh: dim*(σ, Z_i) = n = 12 for each of the 3 patterns, so Theorem 3 needs p_i ≥ 12 (it used to
    # say "not a polynomial, dim* infinite")
    pats = [np.array([1, 0]), np.array([0, 1]), np.array([1, 1])]
    wide = np.array([p for p in pats for _ in range(12)])
    net, masks = _two_layer(wide, 2, "tanh")
    c = C.dim_star_widths(net, X, masks)
    assert c.holds is True and c.value == (12, 12, 12)
    assert C.theorem3_conditions(net, X, masks).applies is True
    net, masks = _two_layer(wide[:-1], 2, "tanh")           # the last pattern has 11 < 12 neurons
    c = C.dim_star_widths(net, X, masks)
    assert c.holds is False and c.detail.startswith("p_i >= dim* fails: groups [2]")
    # the structure report shows the same condition (it runs on the same, already effective, net)
    rep = S.structure_report(net, X, masks)
    t3 = [k for k in rep.checks if k.theorem == "Theorem 3"][0]
    assert t3.required[-1] == c and "[FAILS, proved] p_i ≥ dim*(σ, Z_i)" in str(rep)  # Assumption 2: proved


def test_theorem3_widths_undecided_between_a_sampled_bound_and_n():
    # ReLU on 2 features: the sampled dim* of each pattern is well below n = 40 (≥ 31 for [1, 1]) but not
    # proved equal; p_i = 35 lies between the bound and n, so the condition is undecided.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 40))
    net, masks = _two_layer(np.ones((35, 2)), 1, "relu")
    c = C.dim_star_widths(net, X, masks)
    assert c.holds is None and c.detail.startswith("undecided") and c.value[0] < 35
    net, masks = _two_layer(np.ones((40, 2)), 1, "relu")  # p_i = n: holds whatever dim* is
    assert C.dim_star_widths(net, X, masks).holds is True


def test_polynomial_widths_are_exact():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3, 30))
    sig = polynomial((0.5, 1.0, 0.0, -2.0))           # degrees 0, 1, 3 in 3 variables: 1 + 3 + 10 = 14
    net, masks = _two_layer(np.ones((14, 3)), 2, sig)
    c = C.dim_star_widths(net, X, masks)
    assert c.holds is True and c.value == (14,) and "monomial features" in c.detail
    net, masks = _two_layer(np.ones((13, 3)), 2, sig)
    assert C.dim_star_widths(net, X, masks).holds is False
