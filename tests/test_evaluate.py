"""The one batched evaluator (landscape.evaluate): values and gradients, padding, batch sizes, the rule.

What is bit-identical and what is not (float64 on CPU, measured on nets of width 16-400):
* every point equals ``jax.jit(f)`` / ``jax.jit(jax.grad(f))`` of that one point, bit for bit, when
  points are looped or vmapped in groups of up to 8 (the CPU rule never vmaps wider for nets of
  more than 2**14 weights); a vmap of more points may round the loss's sums differently (measured:
  at most 4.3e-16 relative, width-400 net, 21 points vmapped), so across batch sizes the tests
  allow 1e-14 relative;
* for one ``batch_size``, the chunk size and the padding of the last chunk change nothing, bit for bit
  (every group of points runs the same compiled computation);
* eager (op-by-op) evaluation differs from the compiled one by an ulp (XLA fuses the ops), so
  eager == jit is checked to 1e-14 relative.
"""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from landscape import connectivity as K
from landscape import evaluate as ev
from landscape import nets

NET = nets.MLP((5, 16, 16, 3), "tanh", bias=True)
_P0 = nets.init(jax.random.key(0), NET, dtype=jnp.float64)
_Z0, _UNRAVEL = ravel_pytree(_P0)


def loss_of_flat(z, X, Y):
    """A module-level function of one point (hashable: keys the compilation cache)."""
    return nets.loss(NET, _UNRAVEL(z), X, Y)


def _data(m=37, seed=0):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(5, 20)), rng.normal(size=(3, 20))
    Z = np.asarray(_Z0)[None] + 0.3 * rng.normal(size=(m, _Z0.size))
    return Z, X, Y


def _per_point(Z, X, Y, jit=True):
    f = jax.jit(loss_of_flat) if jit else loss_of_flat
    g = jax.jit(jax.grad(loss_of_flat)) if jit else jax.grad(loss_of_flat)
    X, Y = jnp.asarray(X), jnp.asarray(Y)
    return (np.array([float(f(jnp.asarray(z), X, Y)) for z in Z]),
            np.stack([np.asarray(g(jnp.asarray(z), X, Y)) for z in Z]))


def test_values_and_gradients_equal_a_per_point_loop():
    Z, X, Y = _data()
    v_ref, g_ref = _per_point(Z, X, Y)
    for b in (1, 2, 4, 8):
        v = ev.evaluate_points(loss_of_flat, Z, X, Y, batch_size=b, chunk_size=16)
        v2, g = ev.evaluate_points(loss_of_flat, Z, X, Y, batch_size=b, chunk_size=16, grad=True)
        assert v.dtype == np.float64 and v.shape == (37,) and g.shape == Z.shape
        np.testing.assert_array_equal(v, v_ref)  # bit for bit (see the module docstring)
        np.testing.assert_array_equal(v2, v_ref)
        np.testing.assert_array_equal(g, g_ref)
    # gradients are right, not only consistent: central differences of the exact loss, error O(h²)
    h, i = 1e-6, 3
    e = np.zeros(_Z0.size)
    e[i] = h
    fd = (float(loss_of_flat(Z[0] + e, X, Y)) - float(loss_of_flat(Z[0] - e, X, Y))) / (2 * h)
    np.testing.assert_allclose(g_ref[0, i], fd, rtol=1e-6)


def test_eager_equals_jit():
    Z, X, Y = _data(m=9)
    v_eager, g_eager = _per_point(Z, X, Y, jit=False)
    v, g = ev.evaluate_points(loss_of_flat, Z, X, Y, grad=True)
    np.testing.assert_allclose(v, v_eager, rtol=1e-14)  # XLA's fusion rounds an ulp differently
    np.testing.assert_allclose(g, g_eager, rtol=1e-14, atol=1e-14 * np.abs(g_eager).max())
    # map_points inside jit == map_points called eagerly
    fn = lambda z: loss_of_flat(z, X, Y)  # noqa: E731
    for b in (1, 4, 9):
        eager = ev.map_points(fn, jnp.asarray(Z), batch_size=b)
        jitted = jax.jit(lambda zs: ev.map_points(fn, zs, batch_size=b))(jnp.asarray(Z))
        np.testing.assert_allclose(eager, jitted, rtol=1e-14)


def test_padding_and_chunking_change_nothing_for_one_batch_size():
    Z, X, Y = _data(m=37)
    for b in (1, 3, 8):
        ref = ev.evaluate_points(loss_of_flat, Z, X, Y, batch_size=b, chunk_size=b)  # every chunk padded differently
        for c in (2 * b, 5 * b, 64):
            e = ev.evaluator(loss_of_flat, X, Y, n_points=37, point_size=Z.shape[1], batch_size=b, chunk_size=c)
            assert e.plan.chunk_size % b == 0 and e.plan.batch_size == b
            np.testing.assert_array_equal(e(Z), ref)
        # a chunk of fewer points than chunk_size is padded with the last point and trimmed back
        e = ev.evaluator(loss_of_flat, X, Y, n_points=37, point_size=Z.shape[1], batch_size=b, chunk_size=16)
        np.testing.assert_array_equal(e.chunk(Z[:5]), ref[:5])


def test_any_batch_size_gives_the_same_values():
    Z, X, Y = _data(m=37)
    ref = ev.evaluate_points(loss_of_flat, Z, X, Y, batch_size=1)
    for b in (2, 5, 16, 37, 0):  # 0 = the whole chunk in one vmap
        np.testing.assert_allclose(ev.evaluate_points(loss_of_flat, Z, X, Y, batch_size=b), ref, rtol=1e-14)
    # pytree points (a params pytree with a leading axis) and pytree outputs
    P = jax.vmap(_UNRAVEL)(jnp.asarray(Z))

    def out(p, X, Y):
        return {"loss": nets.loss(NET, p, X, Y), "f": nets.apply(NET, p, X)}

    r = ev.evaluate_points(out, P, X, Y, batch_size=4, chunk_size=8)
    np.testing.assert_allclose(r["loss"], ref, rtol=1e-14)
    assert r["f"].shape == (37, 3, 20)


def test_the_rule():
    # CPU: the power of two at or below clip(2**17 // n_params, 1, 128), never more than the points there are
    assert ev.default_batch_size(8, 10_000, backend="cpu") == 128
    assert ev.default_batch_size(1376, 10_000, backend="cpu") == 64
    assert ev.default_batch_size(13_000, 10_000, backend="cpu") == 8
    assert ev.default_batch_size(524_000, 64, backend="cpu") == 1
    assert ev.default_batch_size(8, 20, backend="cpu") == 20
    # accelerators: all points of the chunk in one vmap
    for backend in ("gpu", "tpu"):
        assert ev.default_batch_size(524_000, 300, backend=backend) == 300
    # the chunk: bounded by host memory of the inputs, by work on CPU, by the working set on accelerators
    assert ev.default_chunk_size(12, backend="cpu") == ev.CPU_CHUNK
    assert ev.default_chunk_size(524_000, backend="cpu") == 2**31 // 524_000
    assert ev.default_chunk_size(100, point_size=262_169, backend="cpu") == 2**24 // 262_169
    assert ev.default_chunk_size(524_000, n_activations=640_000, backend="gpu") == 2**28 // (4 * 524_000 + 2 * 640_000)
    p = ev.plan(1000, n_params=8, chunk_size=300, n_devices=1, backend="cpu")
    assert (p.batch_size, p.chunk_size) == (128, 384)  # chunk rounded up to whole batches
    assert ev.plan(5, n_params=8, n_devices=1, backend="cpu").chunk_size == 8  # next power of two >= 5 points
    with pytest.raises(ValueError, match="n_params"):
        ev.default_batch_size(0, 10)
    with pytest.raises(ValueError, match="batch_size"):
        ev.plan(10, n_params=8, batch_size=-1)
    with pytest.raises(ValueError, match="n_devices"):
        ev.plan(10, n_params=8, n_devices=len(jax.local_devices()) + 1)
    with pytest.raises(ValueError, match="xs"):
        ev.evaluate_points(loss_of_flat, {"a": np.zeros((3, 2)), "b": np.zeros((4, 2))})
    with pytest.raises(TypeError, match="fn"):
        ev.evaluator(3, n_points=2)


def _loops(fn, *args) -> list:
    """The loops of ``fn``'s program: ``("scan", length)`` and ``("while", None)`` equations of its jaxpr,
    nested ones included (``lax.map`` is a scan; a loop over points would be one of the points' count)."""
    found = []

    def walk(jaxpr):
        for e in jaxpr.eqns:
            if e.primitive.name in ("scan", "while"):
                found.append((e.primitive.name, e.params.get("length")))
            for v in e.params.values():
                for sub in v if isinstance(v, (list, tuple)) else [v]:
                    inner = getattr(sub, "jaxpr", sub)
                    if hasattr(inner, "eqns"):
                        walk(inner)

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return found


def test_accelerator_setting_is_one_vmap_not_a_loop_over_points(monkeypatch):
    Z, X, Y = _data(m=64)
    z0, z1 = jnp.asarray(Z[0]), jnp.asarray(Z[1])
    f = lambda z: loss_of_flat(z, X, Y)  # noqa: E731
    cfg, n, steps = K.ProbeConfig(), 16, 3

    def programs():
        e = ev.evaluator(loss_of_flat, X, Y, n_points=64, n_params=10**6, point_size=Z.shape[1], n_devices=1)
        eg = ev.evaluator(loss_of_flat, X, Y, n_points=64, n_params=10**6, point_size=Z.shape[1], grad=True,
                          n_devices=1)
        band = K._neb_program(f, n, steps, 1, 1.0, cfg.opt(), K._batch(cfg, 10**6, n))
        curve = K._curve_program(f, "polyline", 5, n, steps, cfg.opt(), K._batch(cfg, 10**6, n), 0.03)
        return e, eg, [_loops(e.program(), jnp.asarray(Z), *e.operands), _loops(eg.program(), jnp.asarray(Z), *eg.operands),
                       _loops(band, jnp.stack([z0] * n), z0, z1, jnp.zeros(2)),
                       _loops(curve, jnp.stack([z0] * 3), z0, z1, jax.random.key(0))]

    # the check can fail: on CPU a big net is looped one point at a time (a scan over all 64 or 16 points)
    e, _, loops = programs()
    assert e.plan.batch_size == 1
    assert loops == [[("scan", 64)], [("scan", 64)], [("scan", steps), ("scan", n)], [("scan", steps), ("scan", n)]]
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    e, eg, loops = programs()
    assert e.plan.batch_size == e.plan.chunk_size == eg.plan.batch_size == 64
    # no loop over points: the evaluator is one vmap; the probes' only loop is over optimisation steps
    assert loops == [[], [], [("scan", steps)], [("scan", steps)]]


def test_four_devices_equal_one():
    """Sharding a chunk over 4 forced CPU devices gives the one-device values and gradients (subprocess)."""
    code = textwrap.dedent("""
        import jax, numpy as np
        jax.config.update("jax_enable_x64", True)
        import sys; sys.path.insert(0, "tests"); import test_evaluate as T
        from landscape import evaluate as ev
        Z, X, Y = T._data(m=37)
        assert len(jax.local_devices()) == 4
        for b in (1, 3):
            one = ev.evaluate_points(T.loss_of_flat, Z, X, Y, grad=True, batch_size=b, chunk_size=16, n_devices=1)
            e = ev.evaluator(T.loss_of_flat, X, Y, n_points=37, point_size=Z.shape[1], grad=True, batch_size=b,
                             chunk_size=16)
            assert e.plan.n_devices == 4 and e.plan.chunk_size % (4 * e.plan.batch_size) == 0
            four = e(Z)
            np.testing.assert_array_equal(four[0], one[0])
            np.testing.assert_array_equal(four[1], one[1])
        print("OK")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr[-2000:]
