"""The Path type, the chunked loss along a path, refinement and verify."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import nets, paths


def _problem(act="tanh", seed=0):
    rng = np.random.default_rng(seed)
    net = nets.MLP((3, 6, 2), act)
    X, Y = rng.normal(size=(3, 8)), rng.normal(size=(2, 8))
    pts = [nets.init(jax.random.key(k), net, dtype=jnp.float64) for k in range(4)]
    return net, X, Y, pts


def test_breakpoints_and_interpolation():
    net, X, Y, pts = _problem()
    path = paths.from_points(net, pts, ["a", "b", "c"], X, Y)
    assert path.num_segments == 3
    for k in range(4):  # θ(k) is the k-th breakpoint, exactly
        for a, b in zip(jax.tree.leaves(path.at(float(k))), jax.tree.leaves(pts[k])):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    mid = path.at(1.25)
    want = jax.tree.map(lambda a, b: 0.75 * a + 0.25 * b, pts[1], pts[2])
    for a, b in zip(jax.tree.leaves(mid), jax.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-15)


def test_loss_at_matches_direct_loss_any_batch_size():
    net, X, Y, pts = _problem()
    path = paths.from_points(net, pts, ["a", "b", "c"], X, Y)
    s = np.random.default_rng(1).uniform(0, 3, size=37)
    direct = np.array([float(nets.loss(net, path.at(si), X, Y)) for si in s])
    for bs, chunk in ((1, 8), (4, 16), (16, 1024)):
        got = paths.loss_at(path, s, batch_size=bs, chunk_size=chunk)
        # same float64 arithmetic, different batching: equal to rounding (1e-13 relative)
        np.testing.assert_allclose(got, direct, rtol=1e-13)


def test_verify_passes_flat_and_fails_rising_path():
    net, X, Y, pts = _problem("linear")
    # a rising path: from a minimiser over U (Lemma 2 end) back to a random point
    from landscape import property_p as pp
    masks = nets.dense_masks(net, np.float64)
    seg = pp.lemma2_path(net, pts[0], X, Y, masks)
    up = paths.from_points(net, [seg.end, pts[1]], ["away"], X, Y, masks, infimum=seg.infimum)
    rep = paths.verify(up, n=16)
    assert not rep.passed and rep.max_increase > 1e-3
    down = paths.verify(seg, n=16)
    assert down.passed and down.max_increase <= down.rise_tol
    assert abs(rep.worst_position - 1.0) < 1e-12  # worst rise ends at the far end


def test_refinement_adds_points_where_loss_changes_fast():
    net, X, Y, pts = _problem()
    path = paths.from_points(net, pts[:2], ["a"], X, Y)
    s0, L0 = paths.loss_along(path, 16, refine=0)
    s1, L1 = paths.loss_along(path, 16, refine=2, refine_points=4)
    assert s0.size == 17 and s1.size > s0.size
    assert np.all(np.diff(s1) > 0)
    # refined points were placed in the intervals of largest |ΔL|
    d = np.abs(np.diff(L0))
    top = np.argmax(d)
    inside = np.sum((s1 > s0[top]) & (s1 < s0[top + 1]))
    assert inside >= 3


def test_report_save_load_roundtrip(tmp_path):
    net, X, Y, pts = _problem()
    path = paths.from_points(net, pts[:3], ["a", "b"], X, Y, infimum=0.0, theorem="demo")
    rep = paths.verify(path, n=8, refine=1)
    f = rep.save(str(tmp_path / "rep"))
    back = paths.PathReport.load(f)
    np.testing.assert_array_equal(back.losses, rep.losses)
    assert back.labels == rep.labels and back.passed == rep.passed and back.max_increase == rep.max_increase


def test_polyline_knots_extrapolation_segments():
    rng = np.random.default_rng(2)
    V = rng.normal(size=(4, 5))
    knots = np.array([0.0, 0.1, 0.5, 2.0])
    line = paths.Polyline.through(V, knots)
    assert line.num_segments == 3
    for j in range(4):  # exactly the vertex at its knot
        np.testing.assert_array_equal(np.asarray(line(knots[j])), V[j])
    # inside segment 2 and beyond both ends (the end segments extended)
    for t, j in ((1.25, 2), (-0.3, 0), (2.6, 2)):
        w = (t - knots[j]) / (knots[j + 1] - knots[j])
        np.testing.assert_allclose(np.asarray(line(t)), (1 - w) * V[j] + w * V[j + 1], rtol=1e-14, atol=1e-14)
    # the segment form (start, direction, t-interval) describes the same curve
    start, direction, lo, hi = line.segments()
    for j in range(3):
        for tau in (0.0, 0.3, 1.0):
            t = float(lo[j] + tau * (hi[j] - lo[j]))
            np.testing.assert_allclose(np.asarray(start[j] + tau * direction[j]), np.asarray(line(t)), atol=1e-14)
    # basis weights: B @ V is the curve at every position; rows sum to 1
    t = np.array([0.0, 0.05, 0.3, 1.9, 2.0])
    B = np.asarray(line.basis(t))
    np.testing.assert_allclose(B.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(B @ V, np.stack([np.asarray(line(s)) for s in t]), atol=1e-14)
    # padding to more vertices changes nothing on [t_0, t_K]
    padded = line.padded(8)
    assert padded.num_segments == 7
    for s in t:
        np.testing.assert_array_equal(np.asarray(padded(s)), np.asarray(line(s)))
    for bad, match in (([V[0]], "two vertices"), ((V, knots[:3]), "knots"), ((V, knots[::-1]), "knots"),
                       ((V, np.zeros(4)), "knots")):
        with pytest.raises(ValueError, match=match):
            paths.Polyline.through(*bad) if isinstance(bad, tuple) else paths.Polyline.through(bad)


def test_free_coordinates_view_and_one_sampling_code():
    """A connectivity polyline (free coordinates) and a Path (params) through the same vertices have the
    same loss profile: both are sampled by paths.sample (values to 1e-13 relative: float64, two
    mathematically equal functions, the free-coordinate one scatters into the params first)."""
    from landscape import connectivity as K
    from landscape import curvature as C

    net, X, Y, pts = _problem()
    rng = np.random.default_rng(3)
    masks = jax.tree.map(lambda p: (rng.random(np.shape(p)) < 0.7).astype(np.float64), pts[0])
    pts = [nets.apply_masks(p, masks) for p in pts]
    f, space = C.masked_objective(net, X, Y, masks, dtype=jnp.float64)
    poly = paths.Polyline.through(pts[:3])
    free = poly.to_free(space)
    assert np.shape(free.vertices) == (3, space.size)
    back = free.to_params(space)
    for a, b in zip(jax.tree.leaves(back.vertices), jax.tree.leaves(poly.vertices)):
        np.testing.assert_array_equal(a, b)  # exact: gather/scatter only
    r = K.chain_path(f, free.vertices[0], free.vertices[2], bends=1, steps=5, n_eval=33)
    path = paths.from_points(net, [r.curve.to_params(space).vertex(j) for j in range(3)], ["a", "b"], X, Y, masks)
    np.testing.assert_allclose(paths.loss_at(path, 2 * r.t), r.losses, rtol=1e-13)
    np.testing.assert_allclose(paths.sample(f, r.curve, r.t), r.losses, rtol=1e-13)
    with pytest.raises(TypeError, match="curve"):
        paths.sample(f, free.vertices, r.t)
