"""Numerical and stable ranks of hidden outputs; training in segments."""

import jax.numpy as jnp
import numpy as np

from landscape import nets, ranks, trials


def test_ranks_of_known_matrices():
    rng = np.random.default_rng(0)
    for r in (0, 1, 3, 7):
        H = rng.standard_normal((9, r)) @ rng.standard_normal((r, 12))
        assert int(ranks.numerical_rank(jnp.asarray(H))) == r
        assert int(ranks.numerical_rank(jnp.asarray(H, jnp.float32))) == r
    # Stable rank = Σs² / s_max²: singular values (3, 2, 1) give 14/9.
    U, _ = np.linalg.qr(rng.standard_normal((6, 3)))
    V, _ = np.linalg.qr(rng.standard_normal((5, 3)))
    H = U @ np.diag([3.0, 2.0, 1.0]) @ V.T
    np.testing.assert_allclose(float(ranks.stable_rank(H)), 14 / 9, rtol=1e-12)
    # rtol: a singular value of 1e-6 · s_max counts at rtol 1e-8 and not at 1e-4.
    H2 = U @ np.diag([1.0, 1.0, 1e-6]) @ V.T
    assert int(ranks.numerical_rank(H2, 1e-8)) == 3 and int(ranks.numerical_rank(H2, 1e-4)) == 2


def test_hidden_ranks_of_known_rank():
    # Linear net: h_1 = W_1 X with rank(W_1) = 2 (rows 2.. repeat rows 0-1), h_2 = W_2 h_1 has rank ≤ 2.
    net = nets.MLP((6, 5, 4, 2), "linear")
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((5, 6))
    W1[2:] = rng.standard_normal((3, 2)) @ W1[:2]
    params = ({"W": W1}, {"W": rng.standard_normal((4, 5))}, {"W": rng.standard_normal((2, 4))})
    r, s = ranks.hidden_ranks(net, params, rng.standard_normal((6, 20)))
    assert r.tolist() == [2, 2]
    assert np.all(np.asarray(s) <= 2 + 1e-12) and np.all(np.asarray(s) >= 1)


def test_train_with_ranks_matches_one_run():
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((4, 12)), rng.standard_normal((2, 12))
    net = nets.MLP((4, 16, 16, 2), "tanh")
    kw = dict(learning_rate=0.05, loss="mean", history_stride=10, dtype="float64")
    tr = ranks.train_with_ranks(net, X, Y, n_trials=2, seed=1, segments=4, max_steps=200, **kw)
    one = trials.train(net, X, Y, n_trials=2, seed=1, max_steps=200, gtol=0.0, **kw)
    # Plain GD is stateless: four segments follow the same trajectory (float64; program
    # boundaries may reorder sums, so rtol 1e-10 rather than bit equality).
    np.testing.assert_allclose(tr.loss[:, -1], one.loss, rtol=1e-10)
    np.testing.assert_allclose(tr.history, one.history, rtol=1e-10)
    assert tr.rank.shape == (2, 5, 2) and tr.steps.tolist() == [0, 50, 100, 150, 200]
    assert np.all(tr.rank <= 12) and np.all(tr.rank >= 1)
    # The step-0 ranks are those of the initial params of each trial.
    p0 = nets.init(trials.trial_key(1, 0), net, dtype=jnp.float64)
    assert np.asarray(ranks.hidden_ranks(net, p0, X)[0]).tolist() == tr.rank[0, 0].tolist()
    np.testing.assert_allclose(tr.loss[:, 0], one.history[:, 0], rtol=1e-12)
