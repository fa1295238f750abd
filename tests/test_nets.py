"""Masked MLPs: gradients vs finite differences, masking, jit/vmap, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import landscape as ls
from landscape import nets, trials


def random_masks(rng, net, density=0.6):
    out = []
    for shp in nets.shapes(net):
        layer = {}
        for k, s in shp.items():
            m = (rng.random(s) < density).astype(np.float64)
            if k == "W":
                m[np.arange(s[0]), rng.integers(0, s[1], s[0])] = 1.0  # no all-zero row
            layer[k] = m
        out.append(layer)
    return tuple(out)


def flat(tree):
    return np.concatenate([np.ravel(x) for x in jax.tree.leaves(tree)])


@pytest.mark.parametrize("sizes,act,bias", [((3, 4, 2), "tanh", False), ((5, 6, 6, 3), "elu", True),
                                            ((4, 5, 5, 5, 5, 2), "softplus", False), ((3, 4, 2), "shifted_sigmoid", True)])
def test_grad_matches_finite_differences_float64(sizes, act, bias):
    # Central differences with h=1e-6 have truncation error O(h^2 * f''') ~ 1e-12 and rounding
    # error ~ eps*|L|/h ~ 1e-10: a relative tolerance of 1e-6 leaves a wide margin.
    rng = np.random.default_rng(0)
    net = ls.MLP(sizes, act, bias)
    masks = random_masks(rng, net)
    params = ls.init(jax.random.key(1), net, masks, dtype=jnp.float64)
    X = jnp.asarray(rng.normal(size=(sizes[0], 7)))
    Y = jnp.asarray(rng.normal(size=(sizes[-1], 7)))
    f = lambda p: ls.loss(net, p, X, Y, masks)  # noqa: E731
    g = jax.grad(f)(params)
    leaves, tdef = jax.tree.flatten(params)
    h = 1e-6
    for li, leaf in enumerate(leaves):
        for idx in np.ndindex(leaf.shape):
            def shifted(d):
                new = list(leaves)
                new[li] = leaf.at[idx].add(d)
                return float(f(jax.tree.unflatten(tdef, new)))
            fd = (shifted(h) - shifted(-h)) / (2 * h)
            an = float(jax.tree.leaves(g)[li][idx])
            mask = float(jax.tree.leaves(masks)[li][idx])
            if mask == 0:
                assert an == 0.0  # masked coordinates have exactly zero gradient
            else:
                assert abs(fd - an) <= 1e-6 * max(1.0, abs(fd)), (li, idx, fd, an)


def test_init_is_pytorch_default_and_masked():
    net = ls.MLP((50, 200, 3), "relu", bias=True)
    rng = np.random.default_rng(0)
    masks = random_masks(rng, net, 0.5)
    p = ls.init(jax.random.key(0), net, masks, dtype=jnp.float64)
    W = np.asarray(p[0]["W"])
    bound = 1 / np.sqrt(50)
    assert np.all(np.abs(W) <= bound)
    free = W[np.asarray(masks[0]["W"]) == 1]
    assert np.all(W[np.asarray(masks[0]["W"]) == 0] == 0)
    # U(-k, k) has std k/sqrt(3); with ~5000 samples the estimate is within 5% (about 5 standard errors).
    assert abs(free.std() / (bound / np.sqrt(3)) - 1) < 0.05
    p10 = ls.init(jax.random.key(0), net, masks, scale=10.0, dtype=jnp.float64)
    np.testing.assert_allclose(np.asarray(p10[0]["W"]), 10 * W, rtol=1e-12)


def test_init_masked_fan_in_counts_each_neurons_unmasked_inputs():
    # fan_in="masked": neuron j's bound is 1/sqrt(k_j), k_j its unmasked inputs; the same draw as
    # "dense" times sqrt(fan_in / k_j), so the ratio is exact (float64 round-off).
    net = ls.MLP((60, 80, 40, 3), "tanh", bias=True)
    rng = np.random.default_rng(1)
    masks = random_masks(rng, net, 0.3)
    dense = ls.init(jax.random.key(3), net, masks, dtype=jnp.float64)
    sparse = ls.init(jax.random.key(3), net, masks, dtype=jnp.float64, fan_in="masked")
    for l, (pd, ps, m) in enumerate(zip(dense, sparse, masks)):
        M = np.asarray(m["W"])
        k = np.maximum(M.sum(1), 1)
        ratio = np.sqrt(M.shape[1] / k)
        np.testing.assert_allclose(np.asarray(ps["W"]), np.asarray(pd["W"]) * ratio[:, None], rtol=1e-12, atol=0)
        np.testing.assert_allclose(np.asarray(ps["b"]), np.asarray(pd["b"]) * ratio * np.asarray(m["b"]), rtol=1e-12, atol=0)
        assert np.all(np.abs(np.asarray(ps["W"])) <= 1 / np.sqrt(k)[:, None] + 1e-15)
        assert np.all(np.asarray(ps["W"])[M == 0] == 0)
    # The point of it: a 20%-density layer keeps the dense layer's pre-activation scale. Over 400 neurons
    # of 500 unit-variance inputs the rms estimate is within a few % of sqrt(1/3) (the U(-1/sqrt(k), 1/sqrt(k))
    # variance times k); the dense-fan-in init gives about sqrt(0.2/3), 2.2x smaller.
    net2 = ls.MLP((500, 400, 1), "linear")
    m2 = random_masks(np.random.default_rng(2), net2, 0.2)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(500, 200)))
    rms = lambda fi: float(jnp.sqrt(jnp.mean((ls.init(jax.random.key(4), net2, m2, dtype=jnp.float64, fan_in=fi)[0]["W"] @ x) ** 2)))  # noqa: E731
    assert abs(rms("masked") / np.sqrt(1 / 3) - 1) < 0.05
    assert abs(rms("dense") / np.sqrt(0.2 / 3) - 1) < 0.1
    # Without masks the two agree; a bad choice names the argument.
    np.testing.assert_array_equal(np.asarray(ls.init(jax.random.key(0), net)[0]["W"]),
                                  np.asarray(ls.init(jax.random.key(0), net, fan_in="masked")[0]["W"]))
    with pytest.raises(ValueError, match="fan_in"):
        ls.init(jax.random.key(0), net, fan_in="sparse")
    # The trial engine passes it through (its recorded initial loss is that of the masked init).
    X = jnp.asarray(rng.normal(size=(60, 7)))
    Y = jnp.asarray(rng.normal(size=(3, 7)))
    res = ls.train(net, X, Y, masks=masks, n_trials=1, max_steps=1, learning_rate=1e-12, gtol=0.0, history_stride=1,
                   init_fan_in="masked")
    want = ls.loss(net, ls.init(trials.trial_key(0, 0), net, masks, fan_in="masked"), X, Y, masks)
    np.testing.assert_allclose(float(res.history[0][0]), float(want), rtol=1e-5)
    with pytest.raises(ValueError, match="init_fan_in"):
        ls.TrainConfig(init_fan_in="neuron")


def test_loss_conventions():
    net = ls.MLP((3, 4, 2), "tanh")
    p = ls.init(jax.random.key(0), net, dtype=jnp.float64)
    X = jnp.ones((3, 5)) * 0.3
    Y = jnp.zeros((2, 5))
    half = ls.loss(net, p, X, Y, loss="half_sum")
    mean = ls.loss(net, p, X, Y, loss="mean")
    F = np.asarray(ls.apply(net, p, X))
    np.testing.assert_allclose(half, 0.5 * np.sum(F**2), rtol=1e-12)
    np.testing.assert_allclose(mean, half * 2 / 10, rtol=1e-12)


def test_jit_and_vmap_equal_plain_calls():
    net = ls.MLP((4, 8, 8, 3), "elu")
    rng = np.random.default_rng(2)
    masks = random_masks(rng, net)
    X = jnp.asarray(rng.normal(size=(4, 6)))
    Y = jnp.asarray(rng.normal(size=(3, 6)))
    ps = jax.vmap(lambda k: ls.init(k, net, masks, dtype=jnp.float64))(jax.random.split(jax.random.key(0), 5))
    f = lambda p: ls.loss(net, p, X, Y, masks)  # noqa: E731
    batched = jax.vmap(f)(ps)
    looped = np.array([f(jax.tree.map(lambda a: a[i], ps)) for i in range(5)])
    np.testing.assert_allclose(batched, looped, rtol=1e-13)
    np.testing.assert_allclose(jax.jit(f)(jax.tree.map(lambda a: a[0], ps)), looped[0], rtol=1e-13)


def test_activations_by_name_and_callable():
    z = jnp.linspace(-3, 3, 13)
    np.testing.assert_allclose(ls.get_activation("shifted_sigmoid")(z), 1 / (1 + np.exp(-z)) - 0.5, atol=1e-7)
    np.testing.assert_allclose(ls.get_activation("leaky_relu")(z), np.where(z > 0, z, 0.01 * z), atol=1e-7)
    np.testing.assert_allclose(ls.polynomial([1, 0, 2])(z), 1 + 2 * z**2, atol=1e-6)
    for name in ls.ACTIVATIONS:
        assert ls.get_activation(name)(jnp.zeros(1)).shape == (1,)
    net = ls.MLP((2, 3, 1), jnp.sin)
    assert net.sigma is jnp.sin


def test_bad_input_errors():
    with pytest.raises(ValueError, match="activation: unknown name 'swishy'"):
        ls.MLP((2, 3, 1), "swishy")
    with pytest.raises(ValueError, match="sizes"):
        ls.MLP((2,), "tanh")
    net = ls.MLP((3, 2, 3), "tanh")
    good = ({"W": np.ones((2, 3))}, {"W": np.ones((3, 2))})
    with pytest.raises(ValueError, match=r"masks\[0\]\['W'\]: expected shape \(2, 3\) \(transposed\? W is \(out, in\)\), got \(3, 2\)"):
        nets.check_masks(net, ({"W": np.ones((3, 2))}, {"W": np.ones((3, 2))}))
    with pytest.raises(ValueError, match=r"masks\[0\]\['W'\]: expected entries exactly 0 or 1, got values \[0.5\]"):
        nets.check_masks(net, ({"W": np.full((2, 3), 0.5)}, good[1]))
    with pytest.raises(ValueError, match=r"masks\[1\]\['W'\]: .* got all zeros"):
        nets.check_masks(net, (good[0], {"W": np.zeros((3, 2))}))
    with pytest.raises(ValueError, match="masks: expected 2 layers"):
        nets.check_masks(net, (good[0],))
    with pytest.raises(ValueError, match="X: expected shape .* looks transposed"):
        nets.check_data(net, np.ones((5, 3)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="X: expected finite values, got NaN or Inf"):
        nets.check_data(net, np.full((3, 5), np.nan), np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"Y: expected shape \(3, n=5\) \(as many samples as X\), got \(3, 4\)"):
        nets.check_data(net, np.ones((3, 5)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"params\[1\]\['W'\]: expected shape \(3, 2\), got \(2, 2\)"):
        nets.check_params(net, ({"W": np.ones((2, 3))}, {"W": np.ones((2, 2))}))
    with pytest.raises(ValueError, match="loss: unknown convention"):
        nets.loss_from_output(jnp.ones(2), jnp.ones(2), "l1")
