"""Theorem 5 (Appendix C.3): deep sparse nets, last hidden width p ≥ n, every output with ≥ n connections.

Ten random problems (depth 3 and 4; tanh, shifted sigmoid, softplus; hidden layers pruned 30-60 %, a
sparse final layer with n to p connections per output), odd seeds starting where the last hidden output
has rank < n. Each path passes ``paths.verify`` (no rise above 1e-9·max(L0, 1), end within 1e-8 of 0).
Independent checks here: the last hidden output, recomputed with ``nets.hidden_outputs``, has rank n on
every output's connections where the final segment starts, and masked weights stay zero.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from landscape import cli, nets, paths
from landscape import property_p as pp
from landscape.experiments import property_p_demo as demo


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _blocks_full_rank(net, params, X, masks):
    G = np.asarray(nets.hidden_outputs(net, params, jnp.asarray(X), masks)[-2])
    n = X.shape[1]
    return all(np.linalg.matrix_rank(G[np.asarray(row) != 0]) == n for row in np.asarray(masks[-1]["W"]))


@pytest.mark.parametrize("seed", range(10))
def test_theorem5_path_from_random_starts(seed):
    net, params, X, Y, masks, kw = demo.problem("theorem5", seed)
    assert net.activation == ("tanh", "shifted_sigmoid", "softplus")[seed % 3]
    last = np.asarray(masks[-1]["W"])
    assert not last.all() and last.sum(axis=1).min() >= X.shape[1]      # sparse final layer, Remark 2 holds
    path = pp.theorem5_path(net, params, X, Y, masks, **kw)
    rep = paths.verify(path, n=16, refine=1)
    assert rep.passed and rep.infimum == 0.0, str(rep)
    assert _blocks_full_rank(net, path.point(path.num_segments - 1), X, masks)
    assert _blocks_full_rank(net, params, X, masks) is (seed % 2 == 0)   # odd seeds: rank < n at the start
    for l, m in enumerate(masks):
        assert np.all(np.asarray(path.points[l]["W"])[:, np.asarray(m["W"]) == 0] == 0)
    L = [path.loss_of(path.point(k)) for k in range(path.num_segments + 1)]
    np.testing.assert_allclose(L[:-1], L[0], rtol=1e-10)                  # the moves before Lemma 2 keep the loss
    assert path.num_segments == (3 if seed % 2 else 1)


def test_theorem5_dense_final_layer_and_zero_hidden_layer():
    # The proof's first case (dense final layer); the start has a zero first layer, so the last hidden
    # output is 0: every outgoing weight is freed (U0 = 0) and all hidden layers are redrawn.
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(4, 7)), rng.normal(size=(2, 7))
    net = nets.MLP((4, 9, 8, 2), "tanh")
    params = nets.init(jax.random.key(0), net, dtype=jnp.float64)
    params = ({"W": jnp.zeros_like(params[0]["W"])},) + params[1:]
    path = pp.theorem5_path(net, params, X, Y)
    assert paths.verify(path, n=16, refine=1).passed
    assert path.labels[1].startswith("every hidden layer -> a random draw")


def test_theorem5_refuses_a_start_in_the_measure_zero_set():
    # Every first-layer row orthogonal to x_1 − x_2: samples 1 and 2 reach the same h_1, so every later
    # output has two equal columns and no move of the last hidden layer gives rank n. The theorem says
    # nothing from here (no spurious valleys *with non-empty interior*), and the refusal says so.
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(4, 7)), rng.normal(size=(2, 7))
    net = nets.MLP((4, 9, 8, 2), "tanh")
    params = nets.init(jax.random.key(1), net, dtype=jnp.float64)
    v = (X[:, 0] - X[:, 1]) / np.linalg.norm(X[:, 0] - X[:, 1])
    W1 = np.asarray(params[0]["W"])
    params = ({"W": jnp.asarray(W1 - np.outer(W1 @ v, v))},) + params[1:]
    with pytest.raises(ValueError, match=r"params: this start lies in the measure-zero set .*non-empty interior"):
        pp.theorem5_path(net, params, X, Y)


def test_theorem5_refuses_outside_the_theorem():
    net, params, X, Y, masks, _ = demo.problem("theorem5", 0)
    few = np.asarray(masks[-1]["W"]).copy()
    few[0, np.flatnonzero(few[0])[X.shape[1] - 1:]] = 0          # output 0 keeps n − 1 connections
    bad = masks[:-1] + ({"W": few},)
    with pytest.raises(ValueError, match=r"masks: Theorem 5 needs every output connected to ≥ n"):
        pp.theorem5_path(net, params, X, Y, bad)
    relu = nets.MLP(net.sizes, "relu")
    with pytest.raises(ValueError, match=r"activation: Theorem 5 needs Assumption 2"):
        pp.theorem5_path(relu, params, X, Y, masks)
    narrow = nets.MLP((5, 6, 3), "tanh")                          # p = 6 < n = 8
    with pytest.raises(ValueError, match=r"net: Theorem 5 needs last hidden width p ≥ n"):
        pp.theorem5_path(narrow, nets.init(jax.random.key(0), narrow, dtype=jnp.float64), X, Y)


def test_cli_theorem5_states_the_caveat(tmp_path, capsys):
    import json

    out = str(tmp_path / "t5")
    assert cli.main(["property-p", "--case", "theorem5", "--seed", "1", "--n", "16", "--refine", "1", "--out", out]) == 0
    text = capsys.readouterr().out
    assert "PASS Theorem 5" in text and "caveat: Theorem 5 excludes spurious valleys with non-empty interior only" in text
    summary = json.load(open(f"{out}/report.json"))
    assert summary["passed"] and summary["caveat"] == pp.THEOREM5_CAVEAT
