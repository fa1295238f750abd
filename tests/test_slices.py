"""Tests of landscape.slices: masked directions, planes, grids, resume, errors.

Tolerances: float64 throughout (conftest enables x64), so identities that hold
exactly in real arithmetic are checked to 1e-12 relative (a few hundred ulps of
sums over at most ~100 terms)."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import nets, paths, slices

NET = nets.MLP((4, 6, 5, 3), "tanh", bias=True)


def _setup(seed=0):
    k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
    leaves, tdef = jax.tree.flatten(nets.shapes(NET), is_leaf=nets._is_shape)
    ks = jax.random.split(k1, len(leaves))
    masks = jax.tree.unflatten(tdef, [(jax.random.uniform(k, s) < 0.6).astype(jnp.float64) for k, s in zip(ks, leaves)])
    masks[0]["W"] = masks[0]["W"].at[2].set(0.0)  # a neuron with every input pruned
    masks[0]["b"] = masks[0]["b"].at[2].set(0.0)
    params = nets.init(k2, NET, masks, dtype=jnp.float64)
    X = jax.random.normal(k3, (4, 12), jnp.float64)
    Y = jax.random.normal(k4, (3, 12), jnp.float64)
    return params, masks, X, Y


def _neuron_norms(tree):
    return [np.sqrt(np.sum(np.asarray(l["W"]) ** 2, axis=1) + np.asarray(l["b"]) ** 2) for l in tree]


def test_filter_normalised_direction_has_point_norms_per_neuron_and_zeros_on_pruned():
    params, masks, _, _ = _setup()
    d = slices.random_direction(jax.random.key(1), params, masks, norm="filter")
    for nd, npt in zip(_neuron_norms(d), _neuron_norms(params)):
        np.testing.assert_allclose(nd, npt, rtol=1e-12, atol=0)
    assert np.all(_neuron_norms(d)[0][2] == 0)  # the fully pruned neuron stays zero
    for a, m in zip(jax.tree.leaves(d), jax.tree.leaves(masks)):
        assert np.all(np.asarray(a)[np.asarray(m) == 0] == 0)
        assert np.any(np.asarray(a)[np.asarray(m) == 1] != 0)


def test_layer_and_none_norms():
    params, masks, _, _ = _setup()
    d = slices.random_direction(jax.random.key(2), params, masks, norm="layer")
    for ld, lp in zip(d, params):
        nd = np.sqrt(sum(np.sum(np.asarray(a) ** 2) for a in ld.values()))
        np_ = np.sqrt(sum(np.sum(np.asarray(a) ** 2) for a in lp.values()))
        np.testing.assert_allclose(nd, np_, rtol=1e-12)
    raw = slices.random_direction(jax.random.key(2), params, masks, norm="none")
    g = jax.random.normal(jax.random.split(jax.random.key(2), 6)[0], (6, 4), jnp.float64)
    np.testing.assert_array_equal(np.asarray(raw[0]["W"]), np.where(np.asarray(masks[0]["W"]) != 0, g, 0.0))


def test_grid_values_equal_direct_losses_at_sampled_points():
    params, masks, X, Y = _setup()
    plane = slices.random_plane(jax.random.key(3), params, masks)
    # chunk 7 does not divide 11*9 points: exercises the padded last chunk.
    grid = slices.evaluate(plane, NET, X, Y, masks=masks, axes=[(-1.0, 1.0, 11), (-0.5, 2.0, 9)], chunk_size=7, batch_size=3)
    assert grid.values.shape == (11, 9) and grid.complete
    rng = np.random.default_rng(0)
    for i, j in zip(rng.integers(0, 11, 8), rng.integers(0, 9, 8)):
        u, v = grid.axes[0][i], grid.axes[1][j]
        p = jax.tree.map(lambda o, a, b: o + u * a + v * b, params, *plane.directions)
        direct = float(nets.loss(NET, p, X, Y, masks))
        np.testing.assert_allclose(grid.values[i, j], direct, rtol=1e-12)
    # vmap over the whole chunk (the accelerator path) gives the same numbers.
    g0 = slices.evaluate(plane, NET, X, Y, masks=masks, axes=[(-1.0, 1.0, 11), (-0.5, 2.0, 9)], chunk_size=33, batch_size=0)
    np.testing.assert_allclose(g0.values, grid.values, rtol=1e-12)


def test_callable_surface_equals_plane():
    params, masks, X, Y = _setup()
    plane = slices.random_plane(jax.random.key(4), params, masks)
    axes = [(-1.0, 1.0, 5), (-1.0, 1.0, 4)]
    a = slices.evaluate(plane, NET, X, Y, masks=masks, axes=axes)
    b = slices.evaluate(lambda u, v: plane(u, v), NET, X, Y, masks=masks, axes=axes, dtype=jnp.float64)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-12)


def test_plane_through_three_points_contains_them_at_reported_coords():
    params, masks, _, _ = _setup()
    ps = [nets.apply_masks(nets.init(jax.random.key(10 + k), NET, masks, dtype=jnp.float64), masks) for k in range(3)]
    plane, coords = slices.plane_through(*ps, masks=masks)
    assert coords.shape == (3, 2)
    for p, c in zip(ps, coords):
        for a, b in zip(jax.tree.leaves(plane(*c)), jax.tree.leaves(p)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    e = [np.concatenate([np.ravel(a) for a in jax.tree.leaves(d)]) for d in plane.directions]
    np.testing.assert_allclose([[x @ y for y in e] for x in e], np.eye(2), atol=1e-12)


def test_line_interpolates_and_extrapolates():
    params, masks, X, Y = _setup()
    p1 = nets.init(jax.random.key(7), NET, masks, dtype=jnp.float64)
    line = slices.line_through(params, p1, masks)
    grid = slices.evaluate(line, NET, X, Y, masks=masks, axes=[(-1.0, 2.0, 7)])  # t = -1, -0.5, ..., 2
    np.testing.assert_allclose(grid.values[2], float(nets.loss(NET, params, X, Y, masks)), rtol=1e-12)
    np.testing.assert_allclose(grid.values[4], float(nets.loss(NET, p1, X, Y, masks)), rtol=1e-12)
    p2 = jax.tree.map(lambda a, b: a + 2 * (b - a), params, p1)
    np.testing.assert_allclose(grid.values[6], float(nets.loss(NET, p2, X, Y, masks)), rtol=1e-12)
    # the line is the library's one piecewise-linear type, and the grid rebuilds it
    assert isinstance(line, paths.Polyline) and line.num_segments == 1
    for a, b in zip(jax.tree.leaves(grid.surface()), jax.tree.leaves(line)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(paths.sample(paths._NetLoss(NET, "half_sum"), line, grid.axes[0], X, Y, masks),
                               grid.values, rtol=1e-12)
    with pytest.raises(ValueError, match="Plane"):
        grid.plane()


def test_pca_plane_recovers_a_planar_trajectory():
    params, masks, _, _ = _setup()
    d = [slices.random_direction(jax.random.key(20 + k), params, masks) for k in range(2)]
    s = np.linspace(0, 1, 30)
    c = np.stack([np.cos(3 * s) * 2, s**2], axis=1)  # a curve in span(d1, d2)
    traj = jax.tree.map(lambda o, a, b: o[None] + c[:, :1].reshape(-1, *([1] * o.ndim)) * a[None]
                        + c[:, 1:].reshape(-1, *([1] * o.ndim)) * b[None], params, *d)
    pca = slices.pca_plane(traj, masks)
    np.testing.assert_allclose(pca.explained.sum(), 1.0, atol=1e-12)  # planar: two components explain all
    for t in (0, 13, 29):
        rebuilt = pca.plane(*pca.coords[0][t])
        for a, b in zip(jax.tree.leaves(rebuilt), jax.tree.leaves(traj)):
            np.testing.assert_allclose(a, np.asarray(b)[t], atol=1e-12)
    np.testing.assert_allclose(pca.coords[0][-1], 0.0, atol=1e-12)  # origin: the last point


def test_save_load_and_resume(tmp_path):
    params, masks, X, Y = _setup()
    plane = slices.random_plane(jax.random.key(5), params, masks)
    kw = dict(masks=masks, axes=[(-1.0, 1.0, 6), (-1.0, 1.0, 5)], chunk_size=4)
    full = slices.evaluate(plane, NET, X, Y, **kw)
    path = str(tmp_path / "g.npz")

    class Stop(Exception):
        pass

    def interrupt(done, total):
        if done >= 12:
            raise Stop

    with pytest.raises(Stop):
        slices.evaluate(plane, NET, X, Y, path=path, progress=interrupt, **kw)
    part = slices.Grid.load(path)
    assert part.n_done == 12 and not part.complete and np.isnan(part.values.ravel()[12:]).all()
    calls = []
    resumed = slices.evaluate(plane, NET, X, Y, path=path, progress=lambda d, t: calls.append(d), **kw)
    assert calls == [16, 20, 24, 28, 30]  # only the missing chunks ran
    # how a grid is cut is no setting: an interrupted grid resumes with another chunk and batch size
    path2 = str(tmp_path / "g2.npz")
    with pytest.raises(Stop):
        slices.evaluate(plane, NET, X, Y, path=path2, progress=interrupt, **kw)
    kw2 = dict(kw, chunk_size=7, batch_size=2)
    calls = []
    again = slices.evaluate(plane, NET, X, Y, path=path2, progress=lambda d, t: calls.append(d), **kw2)
    assert calls == [20, 28, 30]  # chunks of 7 rounded up to whole batches of 2: 8
    np.testing.assert_allclose(again.values, full.values, rtol=1e-12)
    np.testing.assert_allclose(resumed.values, full.values, rtol=1e-12)
    loaded = slices.Grid.load(path)
    np.testing.assert_array_equal(loaded.values, full.values)
    assert loaded.config["net"] == NET.to_dict() and loaded.config["surface"]["type"] == "Plane"
    for a, b in zip(jax.tree.leaves(loaded.plane()), jax.tree.leaves(plane)):
        np.testing.assert_array_equal(a, b)
    # a different plane must not reuse the file, nor silently replace it
    other = slices.random_plane(jax.random.key(6), params, masks)
    with pytest.raises(ValueError, match="g.npz: written by another run"):
        slices.evaluate(other, NET, X, Y, path=path, **kw)
    g = slices.evaluate(other, NET, X, Y, path=path, overwrite=True, **kw)
    assert not np.allclose(g.values, full.values)


def test_bad_input_errors():
    params, masks, X, Y = _setup()
    d = slices.random_direction(jax.random.key(1), params, masks)
    dense = slices.random_direction(jax.random.key(1), params, None, norm="none")
    with pytest.raises(ValueError, match="pruned"):
        slices.make_plane(params, [dense], masks)
    with pytest.raises(ValueError, match="zero norm"):
        slices.make_plane(params, [d, jax.tree.map(jnp.zeros_like, d)], masks)
    with pytest.raises(ValueError, match="collinear"):
        p1 = jax.tree.map(lambda a, b: a + b, params, d)
        p2 = jax.tree.map(lambda a, b: a + 2.5 * b, params, d)
        slices.plane_through(params, p1, p2, masks)
    plane = slices.make_plane(params, [d], masks)
    for bad in [(1.0, -1.0, 5), (0.0, 0.0, 3), (0.0, 1.0, 0)]:
        with pytest.raises(ValueError, match="axes"):
            slices.evaluate(plane, NET, X, Y, masks=masks, axes=[bad])
    with pytest.raises(ValueError, match="axes"):
        slices.evaluate(plane, NET, X, Y, masks=masks, axes=[np.array([0.0, 2.0, 1.0])])
    with pytest.raises(ValueError, match="axes"):
        slices.evaluate(plane, NET, X, Y, masks=masks, axes=[np.array([])])
    with pytest.raises(ValueError, match="norm"):
        slices.random_direction(jax.random.key(0), params, masks, norm="spectral")
    with pytest.raises(ValueError, match="zero"):
        slices.random_direction(jax.random.key(0), jax.tree.map(jnp.zeros_like, params), masks)
    with pytest.raises(ValueError, match="pruned"):  # evaluate checks a hand-made Plane too
        slices.evaluate(slices.Plane(params, (dense,)), NET, X, Y, masks=masks, axes=[(0.0, 1.0, 3)])


def test_four_devices_equal_one():
    """Sharding over 4 forced CPU devices gives the one-device grid (subprocess)."""
    code = textwrap.dedent("""
        import jax, numpy as np
        jax.config.update("jax_enable_x64", True)
        import sys; sys.path.insert(0, "tests"); import test_slices as T
        from landscape import slices
        params, masks, X, Y = T._setup()
        plane = slices.random_plane(jax.random.key(3), params, masks)
        kw = dict(masks=masks, axes=[(-1.0, 1.0, 7), (-1.0, 1.0, 5)], chunk_size=10)
        a = slices.evaluate(plane, T.NET, X, Y, n_devices=1, **kw).values
        b = slices.evaluate(plane, T.NET, X, Y, **kw).values
        assert len(jax.local_devices()) == 4
        np.testing.assert_allclose(a, b, rtol=1e-12)
        print("OK")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-2000:]
