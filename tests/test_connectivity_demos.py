"""The issue's connectivity demonstrations as tests (issue 5, item 5).

1. Two independently trained wide SD tanh nets (Theorem 4's setting) are joined
   at ≈ zero barrier.
2. The barrier matrix of Table 3's tanh and ELU solutions: valley points join
   valley points at y4²/2, global minima join global minima at L*, and no
   path from the valley to a global minimum stays below y4²/2; the Theorem 6
   certificate (a theory.Theorem6Certificate, re-checked against the question) is what turns that
   into "not connected below alpha" with evidence "proved".

Both run in float64 (x64 is on for the test session, tests/conftest.py).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from landscape import connectivity as K
from landscape import curvature as C
from landscape import nets, theory, trials
from landscape.experiments import table3

# ----------------------------------------------------------------------------- 1. wide SD tanh nets


@pytest.fixture(scope="module")
def sd_pair():
    """Two nets trained to ~1e-19 loss on random data, width 128 >= n = 20.

    Theorem 4's conditions: tanh is real analytic with tanh^(2j+1)(0) != 0
    (Assumption 2); Gaussian data have distinct |entries| a.s. and every hidden
    row keeps at least one first-layer weight (Assumption 1); the final layer
    is dense (SD) and the width p = 128 >= n = 20.
    """
    rng = np.random.default_rng(0)
    d_x, n, width = 5, 20, 128
    X, Y = rng.normal(size=(d_x, n)), rng.normal(size=(2, n))
    M1 = (rng.random((width, d_x)) < 0.5).astype(np.float64)
    M1[np.arange(width), rng.integers(0, d_x, width)] = 1.0  # no empty hidden row
    masks = ({"W": M1}, {"W": np.ones((2, width))})
    net = nets.MLP((d_x, width, 2), "tanh")
    steps = 20_000
    opt = optax.adam(optax.cosine_decay_schedule(1e-2, steps, alpha=1e-3))
    res = trials.train(net, X, Y, masks=masks, n_trials=2, seed=1, optimizer=opt, max_steps=steps, gtol=1e-8,
                       dtype="float64")
    f, space = C.masked_objective(net, X, Y, masks, dtype=jnp.float64)
    za, zb = (space.flatten(jax.tree.map(lambda p: p[i], res.params)) for i in (0, 1))
    return f, za, zb, 0.5 * float(np.sum(Y**2)), res


def test_wide_sd_tanh_nets_connected_at_zero_barrier(sd_pair):
    f, za, zb, L0, res = sd_pair
    # "Near-zero loss": both ends below 1e-12 of the zero predictor's loss L0 = ½‖Y‖² (measured ~2e-19).
    assert np.all(res.loss <= 1e-12 * L0) and float(jnp.linalg.norm(za - zb)) > 1.0  # two different points
    # Tolerance: the ends have loss ~0, so "barrier ≈ 0" is measured against the loss scale L0 ≈ 19.5:
    # tol = 1e-4·L0 ≈ 2e-3, against a straight-line barrier of ~39 (2·L0). Measured over three data/training
    # seeds with this band: max loss 1.5e-4, 7.6e-4, 8.0e-4. A decaying step (cosine) lets the images settle:
    # with constant Adam steps they jitter at the step size, and one of the three seeds ended at 0.2-1.2.
    tol = 1e-4 * L0
    opt64 = optax.adam(optax.cosine_decay_schedule(3e-3, 3000, alpha=1e-2))
    r = K.connect(f, za, zb, methods=("linear", "neb"), n_images=64, steps=3000, optimizer=opt64, tol=tol)
    assert r.verdict == K.CONNECTED, r.summary()
    assert r.method == "neb" and r.n_nonfinite == 0
    assert r.max_loss <= r.alpha + tol and abs(r.barrier) <= tol
    assert r.tried["linear"] > L0  # the straight line is no answer: its barrier exceeds the loss of f = 0
    # The residual is the polygon cutting the corners of a curved zero-loss valley, not a ridge: halving the
    # images raises it (measured 4-9x for 32 vs 64 images over three seeds; asserted > 2x).
    opt32 = optax.adam(optax.cosine_decay_schedule(3e-3, 3000, alpha=1e-2))
    r32 = K.elastic_band(f, za, zb, n_images=32, steps=3000, optimizer=opt32, tol=tol)
    assert r32.max_loss > 2 * r.max_loss


# ----------------------------------------------------------------------------- 2. Table 3 barrier matrix

THM = theory.Theorem6()
L_STAR = theory.theorem6_global_min(THM)[0]  # 0.25906...
VALLEY = THM.valley_loss  # y4²/2 = 2
TOL = 1e-3 * VALLEY  # the library's default slack at level y4²/2 (rtol 1e-3 · |alpha|)
N_TRIALS = {"tanh": 100, "elu": 40}  # tanh reaches the global minimum rarely (paper: 1/100; here 7/100)


def _sign_class(w):
    """Sign of w1 (first hidden unit's output weight) and of the second unit's nonzero output weight
    (w3 on the valley, w4 at a global minimum). Entry F11 = w1·σ(w5) of the output is ±y1 on both, so
    flipping the sign of w1 moves F11 through 0: these are different branches of the solution set."""
    return int(np.sign(w[0])), int(np.sign(w[2] + w[3]))


@pytest.fixture(scope="module", params=["tanh", "elu"])
def table3_matrix(request):
    act = request.param
    cfg = table3.Table3Config(activations=(act,), n_trials=N_TRIALS[act], dtype="float64")
    run = table3.run_activation(cfg, act, L_STAR)
    params = jax.tree.map(np.asarray, run.trials.params)
    w = theory.w_from_params(params)
    groups = {s["label"]: s["members"] for s in run.solutions}
    assert set(groups) == {"global", "valley"}, [(s["label"], s["count"]) for s in run.solutions]
    # two members of every (group, sign class): pairs inside a class and pairs across classes
    idx, label, cls = [], [], []
    for lab in ("valley", "global"):
        by = {}
        for i in groups[lab]:
            by.setdefault(_sign_class(w[i]), []).append(i)
        for c, members in sorted(by.items()):
            idx += members[:2]
            label += [lab] * len(members[:2])
            cls += [c] * len(members[:2])
    f, space = C.masked_objective(THM.net(act), THM.X, THM.Y, THM.masks(), dtype=jnp.float64)
    Z = jnp.stack([space.flatten(jax.tree.map(lambda p: p[i], params)) for i in idx])
    bm = K.barrier_matrix(f, Z, methods=("linear", "neb"), steps=1000)
    return act, f, space, Z, np.array(label), cls, bm


def test_table3_barrier_matrix(table3_matrix):
    act, f, space, Z, label, cls, bm = table3_matrix
    m = len(label)
    val, glo = label == "valley", label == "global"
    same = np.array([[cls[i] == cls[j] for j in range(m)] for i in range(m)])
    off = ~np.eye(m, dtype=bool)
    # the end points themselves: valley at y4²/2, global at L* (trained to gtol 1e-5 in float64)
    np.testing.assert_allclose(bm.losses[val], VALLEY, atol=1e-6)
    np.testing.assert_allclose(bm.losses[glo], L_STAR, atol=1e-6)
    assert np.any(val[:, None] & val[None, :] & same & off), "need two valley points of one sign class"
    assert np.any(glo[:, None] & glo[None, :] & same & off), "need two global minima of one sign class"
    # valley points of one sign class: connected at level y4²/2 + TOL (measured: height 2 + <1e-7)
    assert np.all(bm.heights[val[:, None] & val[None, :] & same] <= VALLEY + TOL), bm.heights
    # global minima of one sign class: connected at L* + 1e-3, the default slack at a level < 1 (measured: L* + <1e-8)
    assert np.all(bm.heights[glo[:, None] & glo[None, :] & same] <= L_STAR + 1e-3), bm.heights
    # no path from a valley point to a global minimum stays below y4²/2 (measured: heights 2.193-4.5; 2.193 is
    # also the height Theorem 6's valley point -> better point shows)
    assert np.all(bm.heights[val[:, None] & glo[None, :]] > VALLEY + TOL), bm.heights
    # Observed, not proved: across sign classes no path was found at the group's own level either
    # (measured heights: valley 2.2-5.7, global 2.19-5.13).
    assert np.all(bm.heights[val[:, None] & val[None, :] & ~same] > VALLEY + TOL)
    assert np.all(bm.heights[glo[:, None] & glo[None, :] & ~same] > VALLEY + TOL)
    # so the components at level y4²/2 are exactly the (group, sign class) cells
    lab = bm.components(VALLEY, tol=TOL)
    cell = [(label[i], cls[i]) for i in range(m)]
    for i in range(m):
        for j in range(m):
            assert (lab[i] == lab[j]) == (cell[i] == cell[j]), (i, j, lab)
    # the MST joins the valley to the global minima only through an edge above y4²/2
    assert np.max(bm.mst[:, 2]) > VALLEY + TOL


def test_table3_theorem6_certificate_makes_the_verdict(table3_matrix):
    act, f, space, Z, label, cls, bm = table3_matrix
    v = int(np.flatnonzero(label == "valley")[0])
    g = int(np.flatnonzero(label == "global")[0])
    v2 = next(j for j in np.flatnonzero(label == "valley") if j != v and cls[j] == cls[v])
    pv, pg, pv2 = (space.unflatten(Z[i]) for i in (v, g, v2))
    # a trained point is near the valley, not on it: the proof's equations hold only to training accuracy,
    # so no certificate is issued for it; the exact valley point θ(a, b) with the trained point's a, b gets one
    wv = np.asarray(theory.w_from_params(jax.tree.map(np.asarray, pv)))
    exact = theory.valley_point(THM, act, a=float(wv[0] / THM.y1), b=float(wv[2] / THM.y3))
    try:
        theory.theorem6_certificate(THM, act, pv, pg, VALLEY)
    except ValueError as e:
        assert "equations" in str(e) or "loss" in str(e)
    cert = theory.theorem6_certificate(THM, act, exact, pg, VALLEY)
    assert "Theorem 6" in str(cert)
    # it is not issued valley -> valley point (w4 = 0 at both ends), nor from the global minimum's side
    with pytest.raises(ValueError, match="w4"):
        theory.theorem6_certificate(THM, act, exact, exact, VALLEY)
    with pytest.raises(ValueError, match="params_valley"):
        theory.theorem6_certificate(THM, act, pg, pv, VALLEY)
    ze = space.flatten(exact)
    kw = dict(alpha=VALLEY, methods=("linear", "neb"), steps=1000)
    plain = K.connect(f, ze, Z[g], **kw)
    proved = K.connect(f, ze, Z[g], certificate=cert, **kw)
    # the same search, the same failure; only the certificate turns "not found" into "not connected"
    assert plain.verdict == K.NOT_FOUND and plain.certificate is None and plain.evidence == "none"
    assert proved.verdict == K.CERTIFIED_DISCONNECTED and proved.evidence == "proved" and "Theorem 6" in proved.summary()
    assert proved.max_loss == pytest.approx(plain.max_loss, rel=1e-12) and plain.max_loss > VALLEY + TOL
    # a certificate issued for one pair is refused for another pair (valley -> valley in one sign class)
    with pytest.raises(ValueError, match="endpoints"):
        K.connect(f, ze, Z[v2], certificate=cert, **kw)


# ----------------------------------------------------------------------------- plot: log colour bar ticks
# (the colour-bar fix of this task, in landscape/plot.py; tests/test_plot.py is another helper's file)


def _visible_colorbar_labels(lo, hi):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from landscape import plot, slices

    u, v = np.linspace(-1, 1, 21), np.linspace(-2, 2, 17)
    U, V = np.meshgrid(u, v, indexing="ij")
    grid = slices.Grid((u, v), lo + (hi - lo) * (U**2 + V**2) / 5, {}, n_done=U.size)
    fig = plot.contour(grid, log=True)
    fig.canvas.draw()
    cax = fig.axes[-1]
    a, b = sorted(cax.get_ylim())
    ticks = list(cax.yaxis.get_major_ticks()) + list(cax.yaxis.get_minor_ticks())
    locs = list(cax.yaxis.get_majorticklocs()) + list(cax.yaxis.get_minorticklocs())
    labels = [t.label1.get_text() for t, x in zip(ticks, locs) if t.label1.get_text() and a * (1 - 1e-9) <= x <= b * (1 + 1e-9)]
    import matplotlib.pyplot as plt

    plt.close(fig)
    return labels, (a, b)


def test_log_colorbar_narrow_range_reads_plainly():
    # a loss range of 10.2-10.6 (the trajectory picture's kind): the bar spans the data (it used to be
    # stretched to a full decade, 10.2-102, painting the whole plot one colour) and its labels are plain
    # numbers like "10.3", not "1.02073x10^1"
    labels, (a, b) = _visible_colorbar_labels(10.2, 10.6)
    assert a == pytest.approx(10.2, rel=1e-6) and b == pytest.approx(10.6, rel=1e-6)
    assert len(labels) >= 3
    vals = [float(s) for s in labels]  # plain numbers parse
    assert all(10.2 - 1e-9 <= x <= 10.6 + 1e-9 for x in vals) and len(set(vals)) == len(vals)
    assert all(len(s) <= 6 for s in labels)


def test_log_colorbar_wide_range_keeps_powers_of_ten():
    labels, (a, b) = _visible_colorbar_labels(1e-4, 30.0)
    assert sum("10^{" in s for s in labels) >= 4 and all("10^{" in s for s in labels)


def test_log_colorbar_one_to_three_decades_labels_every_tick():
    # 1.7-45 (the tanh trajectory picture): 2, 5, 10, 20 -- every tick labelled, as a plain number
    labels, _ = _visible_colorbar_labels(1.7, 45.0)
    assert [float(s) for s in labels] == [2.0, 5.0, 10.0, 20.0]
