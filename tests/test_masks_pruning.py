"""Pruning (random, magnitude), layer distributions, Fig. 3a patterns, flax interop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import masks as M
from landscape import nets


NET = nets.MLP((10, 20, 30, 4), "tanh")


def test_random_masks_exact_counts_and_reproducible():
    m = M.random_masks(jax.random.key(3), NET, [0.5, 0.9, 0.25])
    assert [int(l["W"].sum()) for l in m] == [200 - 100, 600 - 540, 120 - 30]
    m2 = M.random_masks(jax.random.key(3), NET, [0.5, 0.9, 0.25])
    m3 = M.random_masks(jax.random.key(4), NET, [0.5, 0.9, 0.25])
    assert all(np.array_equal(a["W"], b["W"]) for a, b in zip(m, m2))
    assert not all(np.array_equal(a["W"], b["W"]) for a, b in zip(m, m3))
    # One rate for every layer; at least one weight kept even at a rate close to 1.
    assert [int(l["W"].sum()) for l in M.random_masks(0, NET, 0.999)] == [1, 1, 1]
    assert "b" in M.random_masks(0, nets.MLP((3, 2), bias=True), 0.5)[0]


def test_magnitude_masks():
    params = nets.init(jax.random.key(0), NET, dtype=jnp.float64)
    m = M.magnitude_masks(params, 0.5)
    for p, k in zip(params, m):
        W = np.abs(np.asarray(p["W"]))
        assert k["W"].sum() == W.size - round(0.5 * W.size)
        assert W[k["W"] == 1].min() >= W[k["W"] == 0].max()  # kept entries are the largest
    # Iterative: pruned stays pruned; the rate applies to the free weights.
    m2 = M.magnitude_masks(params, 0.5, m)
    for a, b in zip(m, m2):
        assert np.all(b["W"] <= a["W"]) and b["W"].sum() == a["W"].sum() - round(0.5 * a["W"].sum())
    g = M.magnitude_masks(params, 0.7, scope="global")
    total = sum(np.size(p["W"]) for p in params)
    assert sum(int(l["W"].sum()) for l in g) == total - round(0.7 * total)
    thr = min(np.abs(np.asarray(p["W"]))[l["W"] == 1].min() for p, l in zip(params, g))
    assert all(np.abs(np.asarray(p["W"]))[l["W"] == 0].max() <= thr for p, l in zip(params, g))


def test_layer_rates_uniform_and_erdos_renyi():
    net = nets.MLP((100, 400, 400, 400, 400, 10))
    sizes = np.array([100 * 400, 400 * 400, 400 * 400, 400 * 400, 4000])
    assert M.layer_rates(net, 0.8) == (0.8,) * 5
    for dist in ("erdos_renyi", "erdos_renyi_kernel"):
        r = np.array(M.layer_rates(net, 0.9, dist))
        kept = ((1 - r) * sizes).sum()
        np.testing.assert_allclose(kept, 0.1 * sizes.sum(), rtol=1e-12)  # overall density exact before rounding
        assert r[-1] == 0.0  # the small last layer would exceed density 1: made dense
        dens = 1 - r[:-1]
        raw = np.array([(100 + 400) / (100 * 400)] + [(800) / 400**2] * 3)
        np.testing.assert_allclose(dens / dens[0], raw / raw[0], rtol=1e-12)  # ∝ (in + out)/(in·out)
    # ERK on a conv kernel (h, w, in, out) differs from ER: sum of all dims over their product.
    r = M.layer_rates([(3, 3, 16, 32), (3, 3, 32, 64)], 0.5, "erdos_renyi_kernel")
    d = 1 - np.array(r)
    np.testing.assert_allclose(d[0] / d[1], (54 / (9 * 16 * 32)) / (102 / (9 * 32 * 64)), rtol=1e-12)
    assert M.layer_rates(net, 0.5, dense_layers=(0,))[0] == 0.0


def test_overparameterized_patterns():
    for dens in (1.0, 0.5, 0.2, 0.1, 0.03):
        m = M.overparameterized_patterns(1, 40, 10, dens)
        dec = M.pattern_decomposition(m)
        assert np.all(dec.p >= dec.d), dens          # p_i ≥ d_i: Theorem 2, condition 1
        assert m.any(axis=0).all() and m.any(axis=1).all()  # every input and row used


def test_flax_round_trip_and_same_output():
    nn = pytest.importorskip("flax.linen")  # optional (the test extra): from_flax/to_flax themselves need no flax

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = jnp.tanh(nn.Dense(6, param_dtype=jnp.float64)(x))
            return nn.Dense(3, param_dtype=jnp.float64)(x)

    x = np.random.default_rng(0).standard_normal((5, 4))  # flax: rows are samples
    variables = Net().init(jax.random.key(0), x)
    params = M.from_flax(variables)
    assert params[0]["W"].shape == (6, 4) and params[1]["b"].shape == (3,)
    net = nets.MLP((4, 6, 3), "tanh", bias=True)
    np.testing.assert_allclose(nets.apply(net, params, x.T), Net().apply(variables, x).T, rtol=1e-12)
    back = M.to_flax(params)
    np.testing.assert_array_equal(back["params"]["Dense_1"]["kernel"], variables["params"]["Dense_1"]["kernel"])
    # Masks for flax params: a flax-layout 0/1 tree converts the same way (transposed).
    fmask = jax.tree.map(lambda a: (np.abs(np.asarray(a)) > 0.2).astype(np.float64), variables)
    mk = M.from_flax(fmask)
    np.testing.assert_array_equal(mk[0]["W"], np.asarray(fmask["params"]["Dense_0"]["kernel"]).T)


def test_flax_interop_needs_no_flax():
    # flax is optional (the test extra): with it unimportable, the dict conversions still work.
    import subprocess
    import sys

    code = ("import sys; sys.modules['flax'] = None\n"
            "import numpy as np, landscape as ls\n"
            "tree = {'params': {'Dense_1': {'kernel': np.ones((2, 3))}, 'Dense_0': {'kernel': np.arange(8.).reshape(4, 2), 'bias': np.zeros(2)}}}\n"
            "p = ls.from_flax(tree)\n"
            "assert p[0]['W'].shape == (2, 4) and p[1]['W'].shape == (3, 2) and 'b' in p[0]\n"
            "np.testing.assert_array_equal(ls.to_flax(p)['params']['Dense_0']['kernel'], tree['params']['Dense_0']['kernel'])\n"
            "print('flax' in sys.modules and sys.modules['flax'] is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_bad_rates_and_shapes():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="rate"):
            M.random_masks(0, NET, bad)
        with pytest.raises(ValueError, match="rate"):
            M.layer_rates(NET, bad)
    with pytest.raises(ValueError, match="one rate per layer"):
        M.random_masks(0, NET, [0.1, 0.2])
    with pytest.raises(ValueError, match="distribution"):
        M.layer_rates(NET, 0.5, "lognormal")
    with pytest.raises(ValueError, match="scope"):
        M.magnitude_masks(nets.init(jax.random.key(0), NET), 0.5, scope="row")
    with pytest.raises(ValueError, match="do not chain"):
        M.check_chain([np.ones((3, 2)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="all zeros"):
        M.check_chain([np.ones((3, 2)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="Dense"):
        M.from_flax({"params": {"Conv_0": {"weight": np.ones((3, 3))}}})
