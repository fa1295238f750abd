"""The Path type, the chunked loss along a path, refinement and verify."""

import jax
import jax.numpy as jnp
import numpy as np

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
