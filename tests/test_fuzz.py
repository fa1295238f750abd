"""Property-based fuzzing of the public API with wrong inputs (hypothesis; issue 11).

For generated arguments -- wrong shapes, dtypes, mask values, NaN/Inf, floats where integers
belong, booleans, strings, negative or huge seeds, repeated trial ids, bad option text on the
command line -- every call either

* raises a ``ValueError`` / ``TypeError`` from ``landscape`` code (not from deep inside JAX or
  NumPy) whose message starts by naming one of the call's arguments and says what was
  expected, or
* returns a result that is finite and within the argument's contract (the value
  ``validate`` promised: a seed in ``[0, 2**32)``, distinct trial ids, a positive learning
  rate, ...).

Examples are bounded (``max_examples`` per property) so the file runs in seconds; no property
compiles a training program (``trials.prepare`` validates exactly what ``train`` does, before
any compilation).
"""

from __future__ import annotations

import contextlib
import io as _io
import math
import os
import re
import traceback

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import landscape as ls
from landscape import slices, trials

LANDSCAPE_DIR = os.path.dirname(os.path.abspath(ls.__file__))
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

NET = ls.MLP((3, 2, 3), "tanh")
MASKS = tuple({"W": np.asarray(m["W"], np.float32)} for m in ls.Theorem6().masks())
PARAMS = ls.init(jax.random.key(0), NET, MASKS)
X = np.eye(3, dtype=np.float32)
Y = np.asarray(ls.Theorem6().Y, np.float32)


def clear_error(e: BaseException, names) -> bool:
    """A ValueError/TypeError raised in landscape code, naming one of ``names`` first, saying what was expected."""
    if not isinstance(e, (ValueError, TypeError)):
        return False
    frames = traceback.extract_tb(e.__traceback__)
    ours = bool(frames) and os.path.abspath(frames[-1].filename).startswith(LANDSCAPE_DIR)
    msg = str(e)
    named = any(re.match(re.escape(n) + r"(\[|:| )", msg) for n in names)
    return ours and named and "expected" in msg


def outcome(call, names):
    """``("error", e)`` for a clear error (asserted), else ``("ok", value)``."""
    try:
        return "ok", call()
    except (ValueError, TypeError) as e:
        assert clear_error(e, names), f"unclear error: {type(e).__name__}: {e}"
        return "error", e


# ----------------------------------------------------------------------------- strategies
# Each argument is valid three times out of four and wrong otherwise, so that calls with one
# or two wrong arguments (the interesting ones) and fully valid calls are both frequent.


def mostly(valid, wrong):
    # (st.one_of(valid, valid, valid, wrong) would not do: hypothesis merges equal branches)
    return st.integers(0, 3).flatmap(lambda i: valid if i < 3 else wrong)


VALUES = st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0])
BAD_VALUES = st.sampled_from([np.nan, np.inf, -np.inf])
SHAPES = st.sampled_from([(3, 1), (1, 3), (3, 0), (4, 3), (3,), (3, 3, 1), (5, 3), ()])
DTYPES = st.sampled_from([np.float64, np.int32, np.complex64, np.bool_, np.str_])


@st.composite
def arrays(draw, good_shape=(3, 3)):
    shape = draw(mostly(st.just(good_shape), SHAPES))
    dtype = draw(mostly(st.just(np.float32), DTYPES))
    a = np.asarray(draw(st.lists(VALUES, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))), np.float64)
    a = a.reshape(shape)
    if a.size and draw(st.integers(0, 7)) == 0:
        a.ravel()[draw(st.integers(0, a.size - 1))] = draw(BAD_VALUES)
    with np.errstate(invalid="ignore"):
        return a != 0 if dtype is np.bool_ else a.astype(dtype)


@st.composite
def mask_trees(draw):
    kind = draw(st.sampled_from(["none", "good", "good", "good", "good", "good", "value", "shape", "layers", "bias", "list"]))
    if kind == "none":
        return None
    layers = [dict(m) for m in MASKS]
    if kind == "value":
        W = np.array(layers[0]["W"], np.float64)
        W[0, 0] = draw(st.sampled_from([2.0, 0.5, np.nan, -1.0, np.inf]))
        layers[0]["W"] = W
    elif kind == "shape":
        layers[0]["W"] = np.ones(draw(st.sampled_from([(1, 3), (3, 2), (2, 3, 1), (2,)])), np.float32)
    elif kind == "layers":
        layers = layers[: draw(st.integers(0, 1))] + ([layers[0]] if draw(st.booleans()) else [])
    elif kind == "bias":
        layers[0]["b"] = np.ones(2, np.float32)
    elif kind == "list":
        return [m["W"] for m in MASKS]
    return tuple(layers)


@st.composite
def param_trees(draw):
    kind = draw(st.sampled_from(["good"] * 6 + ["transposed", "shape", "dict", "none"]))
    p = [dict(layer) for layer in PARAMS]
    if kind == "transposed":
        p[0]["W"] = p[0]["W"].T
    elif kind == "shape":
        p[1]["W"] = jnp.ones(draw(st.sampled_from([(3, 1), (1, 2), (3,)])))
    elif kind == "dict":
        return {"W": PARAMS[0]["W"]}
    elif kind == "none":
        return None
    return tuple(p)


WRONG = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**33), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=3), st.sampled_from([1j, np.float64(2.5), np.int64(-1), "0.1", [1], np.array([1.0, 2.0])]))
"""Anything: some of it happens to be valid for some arguments (e.g. 3 for max_steps), which is fine."""
POSITIVE = mostly(st.sampled_from([0.01, 0.1, 1.0, np.float32(0.5), np.float64(0.25), 3]), WRONG)
NONNEG = mostly(st.sampled_from([0.0, 1e-5, 0.5, np.float32(0.125)]), WRONG)
COUNT = mostly(st.one_of(st.integers(1, 6), st.sampled_from([np.int64(4), np.int32(2)])),
               st.sampled_from([0, -1, 2.0, 2.5, True, "3", None, 2**40, np.float64(3.0)]))
SEED = mostly(st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([np.uint32(7), np.int64(3)])), WRONG)


@st.composite
def trial_plans(draw):
    """``(n_trials, trial_ids)``: mostly consistent, sometimes not."""
    n = draw(COUNT)
    kind = draw(st.sampled_from(["none", "none", "ids", "ids", "wrong"]))
    if kind == "none":
        return n, None
    if kind == "ids" and isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 6:
        base = draw(st.sampled_from([0, 5, 2**32 - 8]))
        return n, draw(st.permutations([base + i for i in range(n)]))
    return n, draw(st.one_of(st.lists(st.one_of(st.integers(-2, 2**33), st.floats(0, 4)), max_size=4),
                             st.just([3, 3]), st.just("ab"), st.just([[0], [1]])))


# ----------------------------------------------------------------------------- properties


@FUZZ
@given(X_=arrays(), Y_=arrays(), masks=mask_trees(), params=param_trees(),
       loss=mostly(st.sampled_from(["half_sum", "mean"]), st.sampled_from(["mse", "sum", 2, None])))
def test_loss_raises_clearly_or_returns_a_finite_number(X_, Y_, masks, params, loss):
    kind, value = outcome(lambda: ls.loss(NET, params, X_, Y_, masks, loss=loss), ["X", "Y", "masks", "params", "loss"])
    if kind == "ok":
        assert np.shape(value) == () and np.isfinite(float(value))


@settings(FUZZ, max_examples=25)
@given(key=mostly(st.sampled_from(["key", "raw"]), st.sampled_from([0, 1.5, None, "seed"])), masks=mask_trees(),
       scale=POSITIVE, dtype=mostly(st.sampled_from(["float32", np.float32]),
                                    st.sampled_from(["float16", "int32", "float65", None, 3, np.float64])))
def test_init_raises_clearly_or_returns_finite_masked_params(key, masks, scale, dtype):
    k = {"key": jax.random.key(1), "raw": jax.random.PRNGKey(1)}.get(key, key)
    kind, p = outcome(lambda: ls.init(k, NET, masks, scale=scale, dtype=dtype), ["key", "masks", "scale", "dtype"])
    if kind == "ok":
        assert all(np.all(np.isfinite(np.asarray(a))) for a in jax.tree.leaves(p))
        if masks is not None:  # masked entries exactly zero
            for a, m in zip(jax.tree.leaves(p), jax.tree.leaves(masks)):
                assert np.all(np.asarray(a)[np.asarray(m) == 0] == 0)


@FUZZ
@given(lr=POSITIVE, max_steps=COUNT, gtol=NONNEG, diverge=mostly(st.sampled_from([float("inf"), 1e6, 10]), WRONG),
       stride=COUNT, init_scale=POSITIVE)
def test_train_config_raises_clearly_or_holds_valid_settings(lr, max_steps, gtol, diverge, stride, init_scale):
    kind, c = outcome(lambda: ls.TrainConfig(learning_rate=lr, max_steps=max_steps, gtol=gtol, diverge_loss=diverge,
                                             history_stride=stride, init_scale=init_scale),
                      ["learning_rate", "max_steps", "gtol", "diverge_loss", "history_stride", "init_scale"])
    if kind == "ok":
        assert type(c.max_steps) is int and c.max_steps >= 1 and type(c.history_stride) is int and c.history_stride >= 1
        assert math.isfinite(c.learning_rate) and c.learning_rate > 0 and math.isfinite(c.gtol) and c.gtol >= 0
        assert c.diverge_loss > 0 and math.isfinite(c.init_scale) and c.init_scale > 0


@FUZZ
@given(seed=SEED, plan=trial_plans(), chunk=st.one_of(st.none(), COUNT), batch=st.one_of(st.none(), COUNT),
       X_=arrays(), Y_=arrays())
def test_prepare_raises_clearly_or_plans_valid_trials(seed, plan, chunk, batch, X_, Y_):
    n_trials, ids = plan
    kind, p = outcome(lambda: trials.prepare(NET, X_, Y_, masks=MASKS, seed=seed, trial_ids=ids, n_trials=n_trials,
                                             chunk_size=chunk, batch_size=batch, max_steps=4, chunk_steps=2,
                                             history_stride=2),
                      ["seed", "trial_ids", "n_trials", "chunk_size", "batch_size", "X", "Y"])
    if kind == "ok":
        assert 0 <= p.seed < 2**32 and p.trial_ids.shape == (p.n_trials,)
        assert len(set(p.trial_ids.tolist())) == p.n_trials and p.trial_ids.min() >= 0 and p.trial_ids.max() < 2**32
        assert np.all(np.isfinite(p.X)) and p.X.shape[1] == p.Y.shape[1] >= 1


@FUZZ
@given(steps=COUNT, n_eval=mostly(st.integers(2, 9), st.sampled_from([1, 0, 2.5, True])), lr=POSITIVE, seed=SEED,
       rtol=NONNEG, temperature=NONNEG, climb_after=mostly(st.sampled_from([0.0, 0.5, 1.0]), WRONG))
def test_probe_config_raises_clearly_or_holds_valid_settings(steps, n_eval, lr, seed, rtol, temperature, climb_after):
    kind, c = outcome(lambda: ls.ProbeConfig(steps=steps, n_eval=n_eval, learning_rate=lr, seed=seed, rtol=rtol,
                                             temperature=temperature, climb_after=climb_after),
                      ["steps", "n_eval", "learning_rate", "seed", "rtol", "temperature", "climb_after"])
    if kind == "ok":  # validated settings are plain Python numbers within their ranges
        assert type(c.steps) is int and c.steps >= 1 and type(c.n_eval) is int and c.n_eval >= 2
        assert type(c.seed) is int and 0 <= c.seed < 2**32
        for v in (c.learning_rate, c.rtol, c.temperature, c.climb_after):
            assert type(v) is float and math.isfinite(v)
        assert c.learning_rate > 0 and c.rtol >= 0 and c.temperature >= 0 and 0 <= c.climb_after <= 1


@FUZZ
@given(lo=mostly(st.sampled_from([-1.0, 0, -2.5]), WRONG), hi=mostly(st.sampled_from([1.0, 3, 2.5]), WRONG), n=COUNT)
def test_grid_axes_raise_clearly_or_are_increasing(lo, hi, n):
    kind, a = outcome(lambda: slices.axis(lo, hi, n), ["axes"])
    if kind == "ok":
        assert a.ndim == 1 and a.size >= 1 and np.all(np.isfinite(a)) and (a.size == 1 or np.all(np.diff(a) > 0))


OPTION_TEXT = st.one_of(st.integers(-5, 2**33).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                        st.text(alphabet="0123456789.-e,xnaintfh", max_size=6), st.sampled_from(["tanh", "tanh,relu", "tanh,tanh", ""]))


@pytest.fixture(scope="module")
def parser():
    from landscape import cli

    return cli.build_parser()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          derandomize=True)
@given(option=st.sampled_from(["--seed", "--trials", "--steps", "--lr", "--activations"]), text=OPTION_TEXT)
def test_cli_options_are_refused_in_one_line_or_parsed_valid(parser, option, text):
    err = _io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = parser.parse_args(["table3", option, text])
    except SystemExit as e:
        lines = err.getvalue().strip().splitlines()
        assert e.code == 2 and len(lines) == 1 and f"argument {option}: expected" in lines[0], err.getvalue()
        return
    if option == "--seed":
        assert 0 <= args.seed < 2**32
    elif option in ("--trials", "--steps"):
        assert args.trials >= 1 and args.steps >= 1
    elif option == "--lr":
        assert math.isfinite(args.lr) and args.lr > 0
    else:
        assert args.activations and len(set(args.activations)) == len(args.activations)
