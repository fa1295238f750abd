"""The trial engine's compiled programs (issue 12): what runs on an accelerator, and reproducibility
of float32 results on a realistic (width-48) net across chunk sizes and device counts."""

import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import landscape as ls
from landscape import trials
from landscape.theory import Theorem6


def _sub_jaxprs(value):
    """The jaxprs nested in one equation parameter (scan/while bodies, pjit/shard_map calls, cond branches)."""
    if hasattr(value, "eqns"):
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _sub_jaxprs(v)


def loops(jaxpr) -> list:
    """Every loop in ``jaxpr``, nested ones included: ``("scan", length)`` or ``("while", None)``.

    ``lax.map`` (also ``lax.map(batch_size=None)``) and ``lax.fori_loop`` with static bounds lower to
    ``scan``, other loops to ``while``: a loop over trials cannot hide from this walk.
    """
    out = []
    stack = [jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") else jaxpr]
    while stack:
        j = stack.pop()
        for eqn in j.eqns:
            name = eqn.primitive.name
            if name == "scan":
                out.append(("scan", int(eqn.params["length"])))
            elif name == "while":
                out.append(("while", None))
            for v in eqn.params.values():
                stack.extend(_sub_jaxprs(v))
    return out


def scan_carry_widths(jaxpr) -> set:
    """Leading/trailing dims of the arrays the (steps) scans carry."""
    widths = set()
    stack = [jaxpr.jaxpr]
    while stack:
        j = stack.pop()
        for eqn in j.eqns:
            if eqn.primitive.name == "scan":
                for v in eqn.invars:
                    shape = getattr(v.aval, "shape", ())
                    widths.update(shape[:1] + shape[-1:])
            for v in eqn.params.values():
                stack.extend(_sub_jaxprs(v))
    return widths


def _wide_net():
    net = ls.MLP((8, 48, 48, 4), "tanh", bias=True)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(8, 32)), rng.normal(size=(4, 32))
    return net, X, Y


@pytest.fixture
def accelerator(monkeypatch):
    """``prepare`` sees an accelerator backend (it picks programs and widths from ``jax.default_backend()``)."""
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")


@pytest.mark.parametrize("which", ["vmap", "unrolled"])
def test_accelerator_setting_is_one_vmap_not_a_loop_over_trials(accelerator, which):
    steps = 20
    if which == "vmap":  # width 48: the "vmap" program (matrix products)
        net, X, Y = _wide_net()
        kw = dict(n_trials=300)
    else:  # Table 3: the "unrolled" program (one array per weight, trial axis last)
        thm = Theorem6()
        net, X, Y = thm.net("tanh"), thm.X, thm.Y
        kw = dict(masks=thm.masks(), n_trials=3000)
    plan = trials.prepare(net, X, Y, max_steps=steps, chunk_steps=steps, history_stride=5, **kw)
    assert plan.program == which
    # every trial of the chunk in one block (the default accelerator widths are far above these counts)
    assert plan.block == plan.width >= kw["n_trials"], (plan.block, plan.width)
    jaxpr = trials.chunk_jaxpr(plan)
    found = loops(jaxpr)
    # the only loop is the one over steps (chunk_steps updates + one last evaluation); no loop over trials
    assert found == [("scan", steps + 1)], found
    assert plan.width in scan_carry_widths(jaxpr)  # the steps loop carries all trials at once


def test_loop_detector_sees_a_loop_over_trials():
    # Negative control for the test above: blocks of 16 trials on CPU are a lax.map (scan) over blocks.
    net, X, Y = _wide_net()
    plan = trials.prepare(net, X, Y, n_trials=64, batch_size=16, max_steps=10, chunk_steps=10, history_stride=5)
    found = loops(trials.chunk_jaxpr(plan))
    assert ("scan", 4) in found and ("scan", 11) in found, found
    # and lax.map without batch_size (one trial at a time, the old accelerator default) is caught too
    one_at_a_time = jax.make_jaxpr(lambda xs: jax.lax.map(lambda x: x * 2.0, xs))(np.ones((300, 3), np.float32))
    assert loops(one_at_a_time) == [("scan", 300)]


def test_default_block_width_depends_on_net_and_backend_only():
    # Reproducibility rests on this: every trial runs in a block of the same width, whatever the run.
    net, X, Y = _wide_net()
    blocks = {trials.prepare(net, X, Y, n_trials=n, chunk_size=c, max_steps=10).block
              for n, c in ((5, None), (100, None), (100, 7), (1000, 300))}
    assert len(blocks) == 1, blocks


WIDE_SCRIPT = r"""
import sys, numpy as np, jax
import landscape as ls
sys.path.insert(0, {testdir!r})
from test_trials_engine import _wide_net
net, X, Y = _wide_net()
rng = np.random.default_rng(1)
masks = tuple({{"W": (rng.random(s["W"]) < 0.6).astype(np.float32), "b": np.ones(s["b"], np.float32)}}
              for s in ls.nets.shapes(net))
kw = dict(masks=masks, n_trials=40, seed=5, max_steps=120, chunk_steps=40, history_stride=20, learning_rate=0.05, loss="mean",
          gtol=1e-4, dtype="float32")
out = {{}}
for name, extra in {runs!r}:
    res = ls.train(net, X, Y, **kw, **extra)
    assert res.config["program"] == "vmap", res.config["program"]
    leaves = [res.loss, res.grad_norm, res.steps, res.status, res.history, *jax.tree.leaves(res.params)]
    for i, a in enumerate(leaves):
        out[f"{{name}}_{{i}}"] = np.asarray(a)
    out[f"{{name}}_n"] = np.asarray(len(leaves))
    out[f"{{name}}_devices"] = np.asarray(res.config["n_devices"])
sub = ls.train(net, X, Y, **{{**kw, "n_trials": 9}}, trial_ids=np.arange(31, 40), n_devices=2, chunk_size=4)
for i, a in enumerate([sub.loss, sub.grad_norm, sub.history, *jax.tree.leaves(sub.params)]):
    out[f"sub_{{i}}"] = np.asarray(a)
np.savez({out!r}, **out)
"""


def test_width48_float32_bit_identical_for_any_chunk_size_and_device_count(tmp_path):
    """float32, width 48 (the "vmap" program, matrix products): bit-identical (``array_equal``) for any
    ``chunk_size``, 1/2/4 devices, and a subset of trial ids run alone (issue 14 relies on it).
    Four CPU devices are forced in a subprocess (``--xla_force_host_platform_device_count=4``)."""
    runs = [("one", {"n_devices": 1}), ("chunk7", {"n_devices": 1, "chunk_size": 7}),
            ("chunk13_two", {"n_devices": 2, "chunk_size": 13}), ("four", {"n_devices": 4}),
            ("chunk10_four", {"n_devices": 4, "chunk_size": 10}), ("batch8", {"n_devices": 1, "batch_size": 8})]
    out = str(tmp_path / "wide.npz")
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    code = WIDE_SCRIPT.format(testdir=os.path.dirname(__file__), runs=runs, out=out)
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=600)
    r = np.load(out)
    assert [int(r[f"{n}_devices"]) for n, _ in runs] == [1, 1, 2, 4, 4, 1]
    n = int(r["one_n"])
    assert not np.any(r["one_3"] == trials.DIVERGED) and np.all(np.isfinite(r["one_0"]))  # real trajectories
    for name, _ in runs[1:-1]:
        for i in range(n):
            np.testing.assert_array_equal(r[f"{name}_{i}"], r[f"one_{i}"], err_msg=f"{name}, output {i}")
    # another batch_size is another "vmap" program: documented as equal to rounding only (float32, 120 steps)
    for i in range(n):
        np.testing.assert_allclose(r[f"batch8_{i}"], r[f"one_{i}"], rtol=1e-4, atol=1e-6, err_msg=f"batch8, output {i}")
    # trials 31..39 run alone (other ids, 2 devices, chunks of 4) give the same bits as inside the 40
    picks = [r["one_0"], r["one_1"], r["one_4"]] + [r[f"one_{i}"] for i in range(5, n)]
    for i, ref in enumerate(picks):
        np.testing.assert_array_equal(r[f"sub_{i}"], ref[31:40], err_msg=f"subset, output {i}")


def test_unrolled_float32_bit_identical_for_any_block_width():
    """The "unrolled" program is elementwise over trials, so even the block width (``batch_size``) does
    not change a bit (float32, Table 3 net, blocks of 16 .. all)."""
    thm = Theorem6()
    kw = dict(masks=thm.masks(), n_trials=200, seed=2, max_steps=300, chunk_steps=100, history_stride=50,
              gtol=1e-4)
    ref = ls.train(thm.net("tanh"), thm.X, thm.Y, **kw)
    assert ref.config["program"] == "unrolled"
    for extra in ({"batch_size": 16}, {"batch_size": 48, "chunk_size": 150}, {"batch_size": 0, "chunk_size": 37}):
        res = ls.train(thm.net("tanh"), thm.X, thm.Y, **kw, **extra)
        for a, b in zip([res.loss, res.grad_norm, res.steps, res.history, *jax.tree.leaves(res.params)],
                        [ref.loss, ref.grad_norm, ref.steps, ref.history, *jax.tree.leaves(ref.params)]):
            np.testing.assert_array_equal(a, b, err_msg=str(extra))


def test_vmap_and_unrolled_programs_agree_float64():
    """The two programs compute the same math (summation order differs: equal to rounding, float64)."""
    thm = Theorem6()  # (x64 is on for the test session: tests/conftest.py)
    kw = dict(masks=thm.masks(), n_trials=20, seed=4, max_steps=400, chunk_steps=200, history_stride=100,
              gtol=1e-6, dtype="float64", optimizer="adam", learning_rate=1e-2)
    a = ls.train(thm.net("elu"), thm.X, thm.Y, program="unrolled", **kw)
    b = ls.train(thm.net("elu"), thm.X, thm.Y, program="vmap", **kw)
    np.testing.assert_array_equal(a.steps, b.steps)
    np.testing.assert_array_equal(a.status, b.status)
    # 400 Adam steps amplify rounding differences a little: 1e-9 relative is far below any result we quote
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.history, b.history, rtol=1e-9)
