"""No result claims more than it checked (issue 10).

Each test below is a case where 0.2's first cut printed a claim stronger than its check:
a PASS or "connected" decided on samples that miss a narrow bump, degenerate critical points
labelled minima, a Lanczos "strict minimum" with a negative eigenvalue it never saw, a
"proved" verdict from any truthy certificate or from one issued for another question, a
certificate for a point off the valley. The bounds are checked against brute force
(200,001-point profiles) and the labels against the closed forms of the test functions.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import bounds, conditions, nets, paths, structure
from landscape import connectivity as K
from landscape import curvature as C
from landscape import theory as th
from landscape.verdicts import Evidence, check_wording

THM = th.Theorem6()


# ----------------------------------------------------------------------------- a bump between samples

def _bump_net():
    return nets.MLP((1, 3, 1), "tanh"), np.ones((1, 1)), np.ones((1, 1))


def _bump_params(c, t1, t2, at_end):
    """Units tanh(c(t − t1)) − tanh(c(t − t2)): a bump of height ~2 on (t1, t2), saturated (exactly ±1) elsewhere;
    plus a slowly rising third unit so the profile decreases smoothly outside the bump."""
    t = 1.0 if at_end else 0.0
    return ({"W": jnp.array([[c * (t - t1)], [c * (t - t2)], [0.5 * t]])}, {"W": jnp.array([[1.0, -1.0, 1.0]])})


def test_verify_sees_a_bump_between_samples():
    net, X, Y = _bump_net()
    c = 5000.0
    mk = lambda t1, t2: paths.from_points(net, [_bump_params(c, t1, t2, False), _bump_params(c, t1, t2, True)],  # noqa: E731
                                          ["bump"], X, Y)
    # the bump 0.002 wide in the middle of the widest gap of the sampled profile (spacing 1/64 there)
    s = paths.verify(mk(0.5, 0.5), certify=False).s
    gaps = np.where((s[:-1] > 0.3) & (s[:-1] < 0.7), np.diff(s), 0)
    mid = 0.5 * (s[np.argmax(gaps)] + s[np.argmax(gaps) + 1])
    path = mk(mid - 0.001, mid + 0.001)
    L = paths.loss_at(path, np.linspace(0, 1, 200_001))
    true_rise = float(np.max(L - np.minimum.accumulate(L)))  # brute force: ~0.84
    sampled = paths.verify(path, certify=False)
    assert sampled.max_increase == 0.0 and sampled.verdict == "no rise seen" and sampled.evidence == "sampled"
    assert not sampled.passed
    rep = paths.verify(path)
    assert rep.verdict == "FAIL" and rep.evidence == "certified" and not rep.passed
    # the bound covers the brute-force rise (tolerance: the rounding margin)
    assert rep.rise_bound >= true_rise - 1e-12 and true_rise > 0.5
    check_wording(str(rep), rep.evidence)


def test_connect_sees_a_bump_between_samples():
    net, X, Y = _bump_net()
    c = 20000.0
    mid = 0.5 + 0.5 / 128  # halfway between two of the 129 dense points
    f, space = C.masked_objective(net, X, Y, dtype=jnp.float64)
    z0, z1 = (space.flatten(_bump_params(c, mid - 0.001, mid + 0.001, e)) for e in (False, True))
    r = K.connect(f, z0, z1, methods=("linear",))
    # the dense profile stays at the endpoint level; the bound's refinement finds the bump
    assert np.max(r.losses) <= r.alpha + r.tol
    assert r.verdict == K.NOT_FOUND and not r.connected and r.max_loss > r.alpha + r.tol
    # a smooth path of the same kind is certified
    z1b = space.flatten(_bump_params(c, mid - 0.001, mid - 0.001, True))
    z0b = space.flatten(_bump_params(c, mid - 0.001, mid - 0.001, False))
    ok = K.linear_path(f, z0b, z1b)
    assert ok.verdict == K.CONNECTED and ok.evidence == "certified"


def test_bound_encloses_a_smooth_tanh_path():
    """The interval enclosure holds against a 200,001-point profile, for a segment moving every layer."""
    net = nets.MLP((3, 5, 2), "tanh", bias=True)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(3, 7)), rng.normal(size=(2, 7))
    p0 = nets.init(jax.random.key(1), net, dtype=jnp.float64)
    p1 = jax.tree.map(lambda a: a + jnp.asarray(rng.normal(size=a.shape)), p0)
    path = paths.from_points(net, [p0, p1], ["random"], X, Y)
    t = np.linspace(0, 1, 200_001)
    L = paths.loss_at(path, t)
    enc = bounds.enclose(net, path.polyline, X, Y, None, "half_sum", values=lambda s: paths.loss_at(path, s),
                         goal="max", target=-np.inf, max_intervals=256)
    assert enc.evidence == Evidence.CERTIFIED and enc.methods == ("interval",)
    piece = np.clip(np.searchsorted(enc.t_hi, t), 0, enc.t_hi.size - 1)
    assert np.all(L >= enc.lo[piece] - 1e-12) and np.all(L <= enc.hi[piece] + 1e-12)


# ----------------------------------------------------------------------------- critical points

@pytest.mark.parametrize("fn,label", [
    (lambda z: z[0] ** 2 + z[1] ** 3, "saddle"),                 # odd order along the null line
    (lambda z: z[0] ** 2 - z[1] ** 4, "saddle"),                 # descent at order 4
    (lambda z: -(z[0] ** 2) - z[1] ** 4, "local_maximum"),       # a maximum is labelled a maximum
    (lambda z: z[0] ** 3 - 3 * z[0] * z[1] ** 2, "saddle"),      # monkey saddle: zero Hessian
    (lambda z: z[0] ** 2 * z[1] - z[0] * z[1] ** 2, "saddle"),   # cubic vanishing on both eigen-directions
    (lambda z: z[0] ** 2 + z[1] ** 4, "flat_minimum"),           # a higher-order minimum along the line
    (lambda z: z[0] ** 2 - 1e-5 * z[1] ** 2, "degenerate"),      # −2e-5 hides in the band: not a minimum
])
def test_degenerate_critical_points(fn, label):
    c = C.classify_critical_point(fn, jnp.zeros(2, jnp.float64))
    assert c.label == label, str(c)
    assert c.evidence == "sampled"
    check_wording(str(c), c.evidence)


def test_lanczos_never_certifies_a_minimum_it_cannot_see():
    # 2,999 eigenvalues in [1e-3, 1e3] and one at −1e-2: 100 Lanczos steps do not resolve the bottom
    lam = np.concatenate([[-1e-2], np.geomspace(1e-3, 1e3, 2999)])
    f = lambda z: 0.5 * jnp.sum(jnp.asarray(lam) * z * z)  # noqa: E731
    c = C.classify_critical_point(f, jnp.zeros(3000, jnp.float64), dense_max=100, num_steps=100)
    assert c.min_eig > 0  # the smallest Ritz value missed the negative eigenvalue...
    assert c.label == "undecided" and c.evidence == "none"  # ...so nothing is claimed
    r = C.lanczos(f, jnp.zeros(3000, jnp.float64), num_steps=100)
    assert np.all(r.residuals >= 0) and r.ritz_values[0] >= lam.min()  # Ritz values are upper bounds of λ_min


def test_lanczos_brackets_certify_a_saddle():
    f = lambda z: jnp.sum(jnp.linspace(-1.0, 2.0, z.shape[0]) * z * z)  # noqa: E731
    c = C.classify_critical_point(f, jnp.zeros(50, jnp.float64), dense_max=10, num_steps=50)
    assert c.label == "saddle" and c.eig_error < 1e-8


# ----------------------------------------------------------------------------- certificates

@pytest.fixture(scope="module")
def t6():
    f, sp = C.masked_objective(THM.net("tanh"), THM.X, THM.Y, THM.masks(), dtype=jnp.float64)
    v1 = th.valley_point(THM, "tanh", a=4.0)
    v2 = th.valley_point(THM, "tanh", a=8.0)
    bt = th.better_point(THM, "tanh", a=4.0)
    return f, sp, v1, v2, bt


def test_forged_and_mismatched_certificates_are_refused(t6):
    f, sp, v1, v2, bt = t6
    z1, z2, zb = sp.flatten(v1), sp.flatten(v2), sp.flatten(bt)
    with pytest.raises(TypeError, match="Theorem6Certificate"):
        K.connect(f, z1, zb, certificate="my proof", methods=("linear",))
    cert = th.theorem6_certificate(THM, "tanh", v1, bt, THM.valley_loss)
    assert cert.judgement.evidence == Evidence.PROVED
    with pytest.raises(ValueError, match="endpoints"):  # issued for (v1, better), used on (v2, better)
        K.connect(f, z2, zb, certificate=cert, methods=("linear",))
    with pytest.raises(ValueError, match="alpha"):  # above y4²/2 the proof does not hold
        K.connect(f, z1, zb, certificate=cert, alpha=THM.valley_loss + 0.5, methods=("linear",))
    g, _ = C.masked_objective(THM.net("elu"), THM.X, THM.Y, THM.masks(), dtype=jnp.float64)
    with pytest.raises(ValueError, match="net"):  # another activation: another objective
        K.connect(g, z1, zb, certificate=cert, methods=("linear",))
    with pytest.raises(TypeError, match="Objective"):  # a plain function cannot be checked
        K.connect(lambda z: f(z), z1, zb, certificate=cert, methods=("linear",))
    with pytest.raises(ValueError, match="alpha"):
        th.theorem6_certificate(THM, "tanh", v1, bt, THM.valley_loss + 0.5)


def test_off_valley_point_gets_no_certificate(t6):
    _, _, v1, _, bt = t6
    w = th.w_from_params(v1)
    off = th.params_from_w(w.at[0].multiply(1.001))  # w1 × 1.001: loss 2 + 5e-7, equations off by 1e-3
    with pytest.raises(ValueError, match="equations"):
        th.theorem6_certificate(THM, "tanh", off, bt, THM.valley_loss)
    c = th.certify_valley(THM, "tanh", off, n_perturbations=100)
    assert c.verdict == "not shown to be in a spurious valley" and c.evidence == Evidence.NONE and not c.passed
    check_wording(str(c), c.evidence)


def test_certify_valley_wording(t6):
    c = th.certify_valley(THM, "tanh", n_perturbations=100)
    assert c.passed and c.verdict == "in a spurious valley (Theorem 6)" and c.evidence == Evidence.PROVED
    assert "[sampled:" in c.local and "Theorem 6" in c.judgement.how
    check_wording(str(c), c.evidence)
    # a critical point where the Hessian check fails: the origin (σ(0) = 0, so ∇L = 0 there; the Hessian is indefinite)
    z = th.certify_valley(THM, "tanh", th.params_from_w(jnp.zeros(8, jnp.float64)), n_perturbations=100)
    assert z.grad_norm == 0.0 and any("Hessian eigenvalue" in f for f in z.failures) and not z.passed


# ----------------------------------------------------------------------------- structure report

def test_dense_net_is_dense_before_any_theorem_line():
    X = np.random.default_rng(0).normal(size=(3, 10))
    r = structure.structure_report(nets.MLP((3, 4, 2), "tanh"), X)  # every output has 4 < n = 10 connections
    text = str(r)
    assert r.kind == "dense" and text.splitlines()[0].startswith("network: dense")
    t6 = r.checks[5]
    assert t6.theorem == "Theorem 6" and t6.applies is False and t6.verdict == "does not apply"
    assert "Theorem 6" not in r.applicable()
    for chk in r.checks:
        check_wording(str(chk).splitlines()[0], chk.evidence)


def test_sampled_conditions_never_say_applies():
    X = np.random.default_rng(1).normal(size=(3, 40))
    net = nets.MLP((3, 12, 1), "quadratic")
    chk = conditions.theorem3_conditions(net, X)  # dim* is a numerical rank of random draws
    assert chk.applies is True and chk.evidence == Evidence.SAMPLED and chk.verdict == "conditions hold numerically"
    check_wording(str(chk).splitlines()[0], chk.evidence)
    for cond in chk.required:
        check_wording(str(cond), cond.evidence)
