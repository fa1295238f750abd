"""The batched trial engine: masking under optimisers, equivalences, divergence, checkpoints."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import landscape as ls
from landscape import nets, trials

NET = ls.MLP((4, 6, 5, 2), "tanh")


def data(seed=0, n=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, n)), rng.normal(size=(2, n))


def masks(seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for shp in nets.shapes(NET):
        m = (rng.random(shp["W"]) < 0.5).astype(float)
        m[np.arange(shp["W"][0]), rng.integers(0, shp["W"][1], shp["W"][0])] = 1
        out.append({"W": m})
    return tuple(out)


def assert_same(a, b, rtol=0.0):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        if rtol == 0:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("optimizer,kw", [("sgd", ()), ("adam", ()), ("adamw", (("weight_decay", 0.1),)), ("momentum", ())])
def test_masked_weights_stay_exactly_zero(optimizer, kw):
    X, Y = data()
    m = masks()
    res = ls.train(NET, X, Y, masks=m, n_trials=3, max_steps=200, optimizer=optimizer, optimizer_kwargs=kw,
                   learning_rate=0.05, gtol=0, chunk_steps=100, history_stride=50)
    for p, mk in zip(jax.tree.leaves(res.params), jax.tree.leaves(m)):
        assert np.all(np.asarray(p)[:, np.asarray(mk) == 0] == 0.0)
        assert np.any(np.asarray(p)[:, np.asarray(mk) == 1] != 0.0)
    assert np.all(res.loss < res.history[:, 0])  # it did train


def test_custom_optax_optimizer_is_masked_too():
    X, Y = data()
    m = masks()
    opt = optax.chain(optax.add_noise(0.1, 0.5, key=0), optax.sgd(0.01))  # noise would leak into masked entries
    res = ls.train(NET, X, Y, masks=m, n_trials=2, max_steps=50, optimizer=opt, gtol=0, chunk_steps=50, history_stride=10)
    for p, mk in zip(jax.tree.leaves(res.params), jax.tree.leaves(m)):
        assert np.all(np.asarray(p)[:, np.asarray(mk) == 0] == 0.0)


def test_vmapped_trials_equal_a_per_trial_loop_float64():
    X, Y = data()
    m = masks()
    steps = 60
    res = ls.train(NET, X, Y, masks=m, n_trials=3, seed=5, max_steps=steps, learning_rate=0.05, gtol=0,
                   dtype="float64", chunk_steps=20, history_stride=20)
    opt = optax.sgd(0.05)
    for i in range(3):
        p = ls.init(trials.trial_key(5, i), NET, m, dtype=jnp.float64)
        state = opt.init(p)
        for _ in range(steps):
            g = jax.grad(lambda q: ls.loss(NET, q, X, Y, m))(p)
            u, state = opt.update(g, state, p)
            p = optax.apply_updates(p, u)
        # Same operations in a different program: allow a few ulps of drift over 60 steps.
        assert_same(jax.tree.map(lambda a: a[i], res.params), p, rtol=1e-12)
    assert res.steps.tolist() == [steps] * 3
    assert set(res.status.tolist()) == {trials.MAX_STEPS}


def test_jit_equals_no_jit():
    X, Y = data()
    kw = dict(masks=masks(), n_trials=2, max_steps=10, learning_rate=0.05, gtol=0, dtype="float64", chunk_steps=10,
              history_stride=5, batch_size=0)
    res = ls.train(NET, X, Y, **kw)
    trials._programs.cache_clear()
    trials._init_program.cache_clear()
    with jax.disable_jit():
        ref = ls.train(NET, X, Y, **kw)
    trials._programs.cache_clear()
    trials._init_program.cache_clear()
    assert_same(res.params, ref.params, rtol=1e-13)
    np.testing.assert_allclose(res.history, ref.history, rtol=1e-13)


@pytest.mark.parametrize("program", ["vmap", "unrolled"])
def test_results_do_not_depend_on_batching(program):
    """What train's docstring guarantees: bit for bit for any chunk_size and trial grouping; for any
    batch_size too with "unrolled"; with "vmap" another batch_size is another program: equal to rounding
    (float64, checked after 10 steps: 1e-13 relative; over 300 steps at this learning rate some
    trajectories are chaotic and amplify a last-bit difference to O(1), so it is not checked there)."""
    X, Y = data()
    base = dict(masks=masks(), n_trials=7, seed=3, max_steps=300, learning_rate=0.05, gtol=1e-3, chunk_steps=100,
                history_stride=50, dtype="float64", program=program)
    short = {**base, "max_steps": 10, "chunk_steps": 10, "history_stride": 5}
    ref, ref_short = ls.train(NET, X, Y, **base), ls.train(NET, X, Y, **short)
    for kw in ({"chunk_size": 3}, {"chunk_size": 2}, {"batch_size": 1}, {"batch_size": 0}, {"chunk_size": 2, "batch_size": 1}):
        exact = program == "unrolled" or "batch_size" not in kw
        res = ls.train(NET, X, Y, **(base if exact else short), **kw)
        want = ref if exact else ref_short
        assert_same(res.params, want.params, rtol=0.0 if exact else 1e-13)
        np.testing.assert_array_equal(res.steps, want.steps)
        np.testing.assert_array_equal(res.status, want.status)
        np.testing.assert_allclose(res.history, want.history, rtol=0.0 if exact else 1e-13)
    sub = ls.train(NET, X, Y, **{**base, "n_trials": 3}, trial_ids=[4, 5, 6])
    assert_same(sub.params, jax.tree.map(lambda a: a[4:], ref.params))


SCRIPT = r"""
import sys, numpy as np, jax
jax.config.update("jax_enable_x64", True)
import landscape as ls
sys.path.insert(0, {testdir!r})
from test_trials import NET, data, masks
X, Y = data()
res = ls.train(NET, X, Y, masks=masks(), n_trials=10, seed=1, max_steps=200, learning_rate=0.05, gtol=1e-3,
               chunk_steps=100, history_stride=50, dtype="float64")
assert res.config["n_devices"] == len(jax.local_devices()), res.config
res.save({out!r})
"""


def test_four_cpu_devices_give_the_same_numbers(tmp_path):
    X, Y = data()
    ref = ls.train(NET, X, Y, masks=masks(), n_trials=10, seed=1, max_steps=200, learning_rate=0.05, gtol=1e-3,
                   chunk_steps=100, history_stride=50, dtype="float64")
    out = str(tmp_path / "four.npz")
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    code = SCRIPT.format(testdir=os.path.dirname(__file__), out=out)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    four = trials.TrialsResult.load(out)
    assert four.config["n_devices"] == 4 and ref.config["n_devices"] == 1
    assert_same(four.params, ref.params)
    np.testing.assert_array_equal(four.steps, ref.steps)
    np.testing.assert_allclose(four.history, ref.history)


def test_diverging_trial_is_flagged_and_others_unchanged():
    X, Y = data()
    m = masks()
    p0 = jax.vmap(lambda k: ls.init(k, NET, m, dtype=jnp.float64))(jax.random.split(jax.random.key(0), 4))
    lin = ls.MLP(NET.sizes, "linear")
    p0 = jax.tree.map(lambda a: np.asarray(a).copy(), p0)
    for leaf in jax.tree.leaves(p0):
        leaf[2] *= 300.0  # a linear net this large explodes under lr 0.05
    kw = dict(masks=m, max_steps=300, learning_rate=0.05, gtol=0, chunk_steps=100, history_stride=50, dtype="float64")
    res = ls.train(lin, X, Y, n_trials=4, params0=p0, **kw)
    keep = [0, 1, 3]
    ref = ls.train(lin, X, Y, n_trials=3, params0=jax.tree.map(lambda a: a[keep], p0), **kw)
    assert res.status[2] == trials.DIVERGED
    assert not np.isfinite(res.loss[2])
    assert res.steps[2] < 300
    assert list(res.status[keep]) == [trials.MAX_STEPS] * 3
    assert_same(jax.tree.map(lambda a: a[keep], res.params), ref.params)
    assert res.status_counts() == {"converged": 0, "max_steps": 3, "diverged": 1}


def test_stopping_rule_and_history():
    X, Y = data()
    res = ls.train(ls.MLP((4, 2), "linear"), X, Y, n_trials=3, max_steps=20_000, learning_rate=0.05, gtol=1e-6,
                   chunk_steps=500, history_stride=100, dtype="float64")
    assert set(res.status.tolist()) == {trials.CONVERGED}
    assert np.all(res.grad_norm <= 1e-6) and np.all(res.steps < 20_000)
    # a linear regression: the converged loss is the least-squares value.
    W = np.linalg.lstsq(X.T, Y.T, rcond=None)[0].T
    np.testing.assert_allclose(res.loss, 0.5 * np.sum((W @ X - Y) ** 2), rtol=1e-9)
    # history: column 0 is the initial loss; stopped trials repeat their last loss.
    p0 = ls.init(trials.trial_key(0, 0), ls.MLP((4, 2), "linear"), dtype=jnp.float64)
    np.testing.assert_allclose(res.history[0, 0], ls.loss(ls.MLP((4, 2), "linear"), p0, X, Y), rtol=1e-12)
    last = res.steps[0] // 100 + 1
    np.testing.assert_allclose(res.history[0, last:], res.loss[0], rtol=1e-12)
    assert np.all(np.diff(res.history[0, :last]) <= 1e-12)  # GD with a small step decreases a convex loss


@pytest.mark.parametrize("program", ["vmap", "unrolled"])
def test_per_trial_masks_equal_separate_runs(program):
    X, Y = data()
    ms = [masks(s) for s in range(3)]
    stacked = jax.tree.map(lambda *a: np.stack(a), *ms)
    kw = dict(max_steps=100, learning_rate=0.05, gtol=0, chunk_steps=50, history_stride=50, dtype="float64")
    res = ls.train(NET, X, Y, masks=stacked, n_trials=3, program=program, **kw)
    assert res.config["program"] == program
    for i, m in enumerate(ms):
        one = ls.train(NET, X, Y, masks=m, n_trials=1, trial_ids=[i], **kw)
        assert one.config["program"] == "vmap"  # this net is above the "unrolled" size limit
        # "vmap": the same program with the masks as data: bit for bit. "unrolled": masked entries are
        # computed (as zeros) and summed entry by entry, a different summation order from the matrix
        # products of "vmap": equal to rounding only (float64, 100 steps: a few ulps).
        assert_same(jax.tree.map(lambda a: a[i:i + 1], res.params), one.params, rtol=0.0 if program == "vmap" else 1e-12)
        for p, mk in zip(jax.tree.leaves(res.params), jax.tree.leaves(m)):
            assert np.all(np.asarray(p)[i][np.asarray(mk) == 0] == 0.0)  # exactly zero where masked


def test_interrupted_run_resumes_from_checkpoint(tmp_path):
    X, Y = data()
    kw = dict(masks=masks(), n_trials=5, max_steps=400, learning_rate=0.05, gtol=0, chunk_steps=100, history_stride=50,
              dtype="float64", chunk_size=3)
    ref = ls.train(NET, X, Y, **kw)
    ck = str(tmp_path / "ck.npz")
    calls = []

    def interrupt(info):
        calls.append(info)
        if len(calls) == 6:  # second batch, second chunk
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ls.train(NET, X, Y, checkpoint=ck, progress=interrupt, **kw)
    seen = []
    res = ls.train(NET, X, Y, checkpoint=ck, progress=seen.append, **kw)
    assert len(seen) == 2  # only the two chunks left were run
    assert_same(res.params, ref.params)
    np.testing.assert_array_equal(res.history, ref.history)


def test_chunks_run_separately_and_merged_equal_train():
    # The engine's three steps used by hand (as a multi-host run would): chunks run in any
    # order, each on its own, merge to exactly what train returns (float64, exact equality).
    X, Y = data()
    kw = dict(masks=masks(), n_trials=7, seed=2, max_steps=200, learning_rate=0.05, gtol=1e-3, chunk_steps=100,
              history_stride=50, dtype="float64", history_params=True)
    ref = ls.train(NET, X, Y, chunk_size=3, **kw)
    plan = trials.prepare(NET, X, Y, chunk_size=3, **kw)
    assert plan.n_chunks == 3 and plan.chunk_rows(2).tolist() == [6]
    calls = []
    parts = {c: trials.run_chunk(plan, plan.chunk_rows(c), after_steps=lambda cs, n: calls.append((cs.steps_done, n)))
             for c in (2, 0, 1)}
    res = trials.merge(plan, [parts[c] for c in range(plan.n_chunks)])
    assert_same(res.params, ref.params)
    assert_same(res.param_history, ref.param_history)
    np.testing.assert_array_equal(res.history, ref.history)
    np.testing.assert_array_equal(res.status, ref.status)
    assert res.config["fingerprint"] == ref.config["fingerprint"]
    assert calls and all(steps % 100 == 0 and 0 <= n <= 3 for steps, n in calls)
    with pytest.raises(ValueError, match="c: expected a chunk index in 0..2, got 3"):
        plan.chunk_rows(3)
    with pytest.raises(ValueError, match="rows: expected 1..3 positions"):
        trials.run_chunk(plan, np.arange(4))
    with pytest.raises(ValueError, match="parts: hold 3 trials, expected n_trials=7"):
        trials.merge(plan, [parts[0]])


def test_save_load_roundtrip(tmp_path):
    X, Y = data()
    res = ls.train(NET, X, Y, masks=masks(), n_trials=2, max_steps=20, chunk_steps=10, history_stride=10,
                   history_params=True)
    path = res.save(str(tmp_path / "r"))
    back = trials.TrialsResult.load(path)
    assert_same(back.params, res.params)
    assert_same(back.param_history, res.param_history)
    assert back.param_history[0]["W"].shape == (2, 2, 6, 4)
    # the recorded params are those the recorded losses were computed at
    for i in range(2):
        for k in range(2):
            p = jax.tree.map(lambda a: a[i, k], res.param_history)
            np.testing.assert_allclose(ls.loss(NET, p, X, Y, masks()), res.history[i, k], rtol=1e-5)
    assert back.config["net"] == NET.to_dict() and back.config["seed"] == 0
    assert "jax" in back.config["versions"]


def test_bad_train_arguments():
    X, Y = data()
    with pytest.raises(ValueError, match="learning_rate: expected a finite number > 0"):
        ls.train(NET, X, Y, learning_rate=0.0)
    with pytest.raises(ValueError, match="learning_rate"):
        ls.train(NET, X, Y, learning_rate=-1.0)
    with pytest.raises(ValueError, match="n_trials: expected an integer >= 1"):
        ls.train(NET, X, Y, n_trials=0)
    with pytest.raises(ValueError, match="optimizer: unknown name 'sgdd'"):
        ls.train(NET, X, Y, optimizer="sgdd")
    with pytest.raises(ValueError, match="X: expected shape"):
        ls.train(NET, X.T, Y)
    with pytest.raises(ValueError, match="masks: a per-trial mask needs a leading axis of n_trials=4"):
        ls.train(NET, X, Y, n_trials=4, masks=jax.tree.map(lambda a: np.stack([a, a]), masks()))
    with pytest.raises(ValueError, match="max_steps"):
        ls.train(NET, X, Y, max_steps=0)
    with pytest.raises(ValueError, match="chunk_size: expected an integer >= 1, got 0"):
        ls.train(NET, X, Y, chunk_size=0)
    with pytest.raises(ValueError, match="batch_size: expected an integer >= 0, got -1"):
        ls.train(NET, X, Y, batch_size=-1)
    with pytest.raises(TypeError, match="'micro_batch' \\(renamed to 'batch_size'\\)"):
        ls.train(NET, X, Y, micro_batch=4)
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rat'"):
        ls.train(NET, X, Y, learning_rat=0.1)


def test_keep_masked_zero_in_a_users_own_loop():
    X, Y = data()
    m = masks()
    p = ls.init(jax.random.key(0), NET, m, dtype=jnp.float64)
    opt = optax.chain(optax.add_noise(0.1, 0.5, key=0), optax.adamw(1e-2, weight_decay=0.1), ls.keep_masked_zero(m))
    state = opt.init(p)
    for _ in range(20):
        g = jax.grad(lambda q: ls.loss(NET, q, X, Y))(p)  # unmasked loss: masked entries get gradients too
        u, state = opt.update(g, state, p)
        p = optax.apply_updates(p, u)
    for leaf, mk in zip(jax.tree.leaves(p), jax.tree.leaves(m)):
        assert np.all(np.asarray(leaf)[np.asarray(mk) == 0] == 0.0)
        assert np.any(np.asarray(leaf)[np.asarray(mk) == 1] != 0.0)
