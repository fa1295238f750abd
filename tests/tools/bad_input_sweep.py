"""A sweep of bad inputs across the public API, each classified as clear / unclear / silent.

Run it (from the repository root) to count the outcomes::

    python tests/tools/bad_input_sweep.py            # counts per class and overall
    python tests/tools/bad_input_sweep.py -v         # plus every unclear or silent case
    python tests/tools/bad_input_sweep.py --json out.json

``tests/test_validation.py`` imports ``CASES`` and ``classify`` and requires every case
to be clear.

Outcomes, for a call that is given one wrong argument:

* **clear**: a ``ValueError`` / ``TypeError`` (or, for files, ``FileExistsError`` /
  ``FileNotFoundError`` / ``PermissionError``) raised by ``landscape`` code itself (the
  innermost frame of the traceback is in the ``landscape`` package, not deep in JAX or
  NumPy), whose message names the argument and says what was expected (it contains
  ``expected`` or, for a file, names the file). For the command line: exit status 2, exactly
  one line on stderr naming the option, no traceback, nothing written.
* **unclear**: any other exception (a JAX/NumPy error from deep inside, a message that
  names nothing, a ``KeyError``), or, on the command line, a traceback or several lines.
* **silent**: the call returned (a bad input was accepted; some of these return wrong numbers).

Also checked: a few *valid* edge inputs that must be accepted (``VALID``; e.g.
``learning_rate=np.float32(0.01)``); a refusal of one of them is reported separately.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io as _io
import json
import os
import re
import sys
import tempfile
import traceback
from typing import Callable

os.environ.setdefault("LANDSCAPE_CACHE", "off")
os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import landscape as ls  # noqa: E402
from landscape import io  # noqa: E402

CLEAR_TYPES = (ValueError, TypeError, FileExistsError, FileNotFoundError, PermissionError)
LANDSCAPE_DIR = os.path.dirname(os.path.abspath(ls.__file__))


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad input: ``call(F)`` should raise a clear error naming ``arg``.

    Attributes:
      cls: the class of mistake (``data``, ``masks``, ``params``, ``dtype``, ``integer``,
        ``seed``, ``trial_ids``, ``scalar``, ``choice``, ``type``, ``path``, ``saved``, ``cli``).
      name: a short description (unique).
      arg: the argument the error must name (a CLI option for ``cli`` cases).
      call: ``call(F)`` with the fixtures ``F``; for ``cli`` cases the argv list.
    """

    cls: str
    name: str
    arg: str
    call: Callable


class Fixtures:
    """The small problems every case starts from (the Table 3 net of Eq. (3))."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.thm = ls.Theorem6()
        self.net = ls.MLP((3, 2, 3), "tanh")
        self.net_b = ls.MLP((3, 2, 3), "tanh", bias=True)
        self.masks = tuple({"W": np.asarray(layer["W"], np.float32)} for layer in self.thm.masks())
        self.X = np.eye(3, dtype=np.float32)
        self.Y = np.asarray(self.thm.Y, np.float32)
        self.params = ls.init(jax.random.key(0), self.net, self.masks)
        self.params1 = ls.init(jax.random.key(1), self.net, self.masks)
        self.f, self.space = ls.masked_objective(self.net, self.X, self.Y, self.masks)
        self.z0 = self.space.flatten(self.params)
        self.z1 = self.space.flatten(self.params1)
        self.plane = ls.random_plane(jax.random.key(2), self.params, self.masks)
        self.tiny = dict(n_trials=2, max_steps=4, chunk_steps=2, history_stride=2)
        self.axes = [(-1.0, 1.0, 3), (-1.0, 1.0, 3)]

    def masks_with(self, layer: int, value) -> tuple:
        """The Eq. (3) masks with ``masks[layer]["W"]`` replaced by ``value``."""
        out = [dict(m) for m in self.masks]
        out[layer]["W"] = value
        return tuple(out)

    def masks_entry(self, value) -> tuple:
        """The Eq. (3) masks with one kept entry set to ``value``."""
        W = np.array(self.masks[0]["W"], np.float64)
        W[0, 0] = value
        return self.masks_with(0, W)

    def params_with(self, layer: int, value) -> tuple:
        out = [dict(p) for p in self.params]
        out[layer]["W"] = value
        return tuple(out)

    def train(self, **kw):
        args = {"masks": self.masks, **self.tiny}
        args.update(kw)
        X, Y = args.pop("X", self.X), args.pop("Y", self.Y)
        return ls.train(self.net, X, Y, **args)

    def grid(self, **kw):
        args = dict(axes=self.axes, masks=self.masks)
        args.update(kw)
        X, Y = args.pop("X", self.X), args.pop("Y", self.Y)
        return ls.evaluate_grid(self.plane, self.net, X, Y, **args)

    def connect(self, **kw):
        args = dict(methods=("linear",), n_eval=5)
        args.update(kw)
        z0, z1 = args.pop("z0", self.z0), args.pop("z1", self.z1)
        return ls.connect(self.f, z0, z1, **args)

    def file(self, name: str, content: bytes = b"") -> str:
        p = os.path.join(self.tmp, name)
        with open(p, "wb") as fh:
            fh.write(content)
        return p


def _no_x64(fn):
    """Runs ``fn`` with float64 disabled (as in a fresh Python session)."""
    def call(F):
        with jax.enable_x64(False):
            return fn(F)
    return call


def _cases() -> list:
    C = []

    def add(cls, name, arg, call):
        C.append(Case(cls, name, arg, call))

    # ------------------------------------------------------------------ data: X/Y against the net
    Y31, Y13 = np.ones((3, 1), np.float32), np.ones((1, 3), np.float32)
    for fname, fn in (("loss", lambda F, X, Y: ls.loss(F.net, F.params, X, Y, F.masks)),
                      ("train", lambda F, X, Y: F.train(X=X, Y=Y)),
                      ("masked_objective", lambda F, X, Y: ls.masked_objective(F.net, X, Y, F.masks)),
                      ("evaluate_grid", lambda F, X, Y: F.grid(X=X, Y=Y))):
        add("data", f"{fname}: Y (3,1) for n=3", "Y", lambda F, fn=fn: fn(F, F.X, Y31))
        add("data", f"{fname}: Y (1,3) for n=3", "Y", lambda F, fn=fn: fn(F, F.X, Y13))
        add("data", f"{fname}: Y 1-D", "Y", lambda F, fn=fn: fn(F, F.X, np.ones(3, np.float32)))
        add("data", f"{fname}: n = 0 samples", "X", lambda F, fn=fn: fn(F, np.zeros((3, 0), np.float32), np.zeros((3, 0), np.float32)))
        add("data", f"{fname}: X with a NaN", "X", lambda F, fn=fn: fn(F, np.where(np.eye(3) > 0, np.nan, 0).astype(np.float32), F.Y))
        add("data", f"{fname}: Y with an Inf", "Y", lambda F, fn=fn: fn(F, F.X, np.full((3, 3), np.inf, np.float32)))
        add("data", f"{fname}: X (4, 3) for d_x = 3", "X", lambda F, fn=fn: fn(F, np.ones((4, 3), np.float32), F.Y))
        add("data", f"{fname}: X complex", "X", lambda F, fn=fn: fn(F, F.X.astype(np.complex64), F.Y))
    add("data", "apply: X 1-D", "X", lambda F: ls.apply(F.net, F.params, np.ones(3, np.float32), F.masks))
    add("data", "apply: X 3-D", "X", lambda F: ls.apply(F.net, F.params, np.ones((1, 3, 3), np.float32), F.masks))
    add("data", "apply: X (5, 3) transposed", "X", lambda F: ls.apply(F.net, F.params, np.ones((5, 3), np.float32), F.masks))
    add("data", "apply: X strings", "X", lambda F: ls.apply(F.net, F.params, np.array([["a"] * 3] * 3), F.masks))
    add("data", "hidden_outputs: X (2, 3)", "X", lambda F: ls.hidden_outputs(F.net, F.params, np.ones((2, 3), np.float32)))
    add("data", "loss: X and Y sample counts differ", "Y", lambda F: ls.loss(F.net, F.params, F.X, np.ones((3, 4), np.float32)))
    add("data", "loss: X None", "X", lambda F: ls.loss(F.net, F.params, None, F.Y))
    add("data", "train: X and Y sample counts differ", "Y", lambda F: F.train(Y=np.ones((3, 4), np.float32)))
    add("data", "structure_report: X (4, 3)", "X", lambda F: ls.structure_report(F.net, np.ones((4, 3)), F.masks))
    add("data", "structure_report: X with NaN", "X", lambda F: ls.structure_report(F.net, np.full((3, 3), np.nan), F.masks))
    add("data", "group_solutions: Y (3, 1)", "Y",
        lambda F: ls.group_solutions(F.net, jax.tree.map(lambda p: p[None], F.params), F.X, Y31, F.masks))
    add("data", "least_squares_loss: Y (3, 1)", "Y", lambda F: ls.least_squares_loss(F.X, Y31))
    add("data", "least_squares_loss: n = 0", "X", lambda F: ls.least_squares_loss(np.zeros((3, 0)), np.zeros((3, 0))))
    add("data", "assumption1: X 1-D", "X", lambda F: ls.assumption1(np.ones(3)))
    add("data", "train_with_ranks: Y (1, 3)", "Y", lambda F: ls.train_with_ranks(F.net, F.X, Y13, segments=2, max_steps=4))
    add("data", "hidden_ranks: X (4, 3)", "X", lambda F: ls.hidden_ranks(F.net, F.params, np.ones((4, 3), np.float32)))

    # ------------------------------------------------------------------ masks: structure, shape, exactly 0/1, finite
    for fname, fn in (("init", lambda F, m: ls.init(jax.random.key(0), F.net, m)),
                      ("loss", lambda F, m: ls.loss(F.net, F.params, F.X, F.Y, m)),
                      ("train", lambda F, m: F.train(masks=m)),
                      ("evaluate_grid", lambda F, m: F.grid(masks=m)),
                      ("masked_objective", lambda F, m: ls.masked_objective(F.net, F.X, F.Y, m))):
        add("masks", f"{fname}: a mask entry 2", "masks", lambda F, fn=fn: fn(F, F.masks_entry(2.0)))
        add("masks", f"{fname}: a mask entry 0.5", "masks", lambda F, fn=fn: fn(F, F.masks_entry(0.5)))
        add("masks", f"{fname}: a mask entry NaN", "masks", lambda F, fn=fn: fn(F, F.masks_entry(np.nan)))
        add("masks", f"{fname}: mask (1,3) for a (2,3) layer", "masks", lambda F, fn=fn: fn(F, F.masks_with(0, np.ones((1, 3), np.float32))))
        add("masks", f"{fname}: one layer missing", "masks", lambda F, fn=fn: fn(F, F.masks[:1]))
    add("masks", "apply: a mask entry -1", "masks", lambda F: ls.apply(F.net, F.params, F.X, F.masks_entry(-1.0)))
    add("masks", "apply: mask transposed (3,2) for (2,3)", "masks", lambda F: ls.apply(F.net, F.params, F.X, F.masks_with(0, np.ones((3, 2)))))
    add("masks", "loss: masks a list of arrays", "masks", lambda F: ls.loss(F.net, F.params, F.X, F.Y, [m["W"] for m in F.masks]))
    add("masks", "loss: mask dict key 'w'", "masks", lambda F: ls.loss(F.net, F.params, F.X, F.Y, ({"w": F.masks[0]["W"]}, F.masks[1])))
    add("masks", "loss: masks with 'b' for a net without bias", "masks",
        lambda F: ls.loss(F.net, F.params, F.X, F.Y, tuple(dict(m, b=np.ones(m["W"].shape[0])) for m in F.masks)))
    add("masks", "loss: masks of strings", "masks", lambda F: ls.loss(F.net, F.params, F.X, F.Y, F.masks_with(0, np.full((2, 3), "1"))))
    add("masks", "init: masks an int", "masks", lambda F: ls.init(jax.random.key(0), F.net, 5))
    add("masks", "structure_report: mask entry 2", "masks", lambda F: ls.structure_report(F.net, F.X, F.masks_entry(2.0)))
    add("masks", "effective_masks: mask entry 0.5", "masks", lambda F: ls.effective_masks(F.net, F.masks_entry(0.5)))
    add("masks", "network_class: mask entry 0.5", "masks", lambda F: ls.network_class(F.masks_entry(0.5)))
    add("masks", "random_plane: mask (1,3) for (2,3)", "masks",
        lambda F: ls.random_plane(jax.random.key(0), F.params, F.masks_with(0, np.ones((1, 3)))))
    add("masks", "random_plane: mask entry 2", "masks", lambda F: ls.random_plane(jax.random.key(0), F.params, F.masks_entry(2.0)))
    add("masks", "group_solutions: mask entry NaN", "masks",
        lambda F: ls.group_solutions(F.net, jax.tree.map(lambda p: p[None], F.params), F.X, F.Y, F.masks_entry(np.nan)))
    add("masks", "train: per-trial masks with 3 rows for 2 trials", "masks",
        lambda F: F.train(masks=jax.tree.map(lambda m: np.stack([m] * 3), F.masks)))
    add("masks", "magnitude_masks: masks entry 2", "masks", lambda F: ls.magnitude_masks(F.params, 0.5, F.masks_entry(2.0)))
    add("masks", "keep_masked_zero: mask entry 0.5", "masks", lambda F: ls.keep_masked_zero(F.masks_entry(0.5)))
    add("masks", "free_space: mask (1,3)", "masks", lambda F: ls.free_space(F.net, F.masks_with(0, np.ones((1, 3)))))

    # ------------------------------------------------------------------ params: structure, shapes
    add("params", "loss: W transposed", "params", lambda F: ls.loss(F.net, F.params_with(0, F.params[0]["W"].T), F.X, F.Y))
    add("params", "loss: one layer missing", "params", lambda F: ls.loss(F.net, F.params[:1], F.X, F.Y))
    add("params", "loss: a (1,3) weight for a (2,3) layer", "params",
        lambda F: ls.loss(F.net, F.params_with(0, jnp.ones((1, 3))), F.X, F.Y))
    add("params", "apply: params None", "params", lambda F: ls.apply(F.net, None, F.X))
    add("params", "apply: 'b' for a net without bias", "params",
        lambda F: ls.apply(F.net, tuple(dict(p, b=jnp.ones(p["W"].shape[0])) for p in F.params), F.X))
    add("params", "apply: params without 'b' for a net with bias", "params", lambda F: ls.apply(F.net_b, F.params, F.X))
    add("params", "apply: params a dict", "params", lambda F: ls.apply(F.net, {"W": F.params[0]["W"]}, F.X))
    add("params", "train: params0 without trial axis", "params0", lambda F: F.train(params0=F.params))
    add("params", "train: params0 with NaN", "params0",
        lambda F: F.train(params0=jax.tree.map(lambda p: jnp.full((2,) + p.shape, jnp.nan), F.params)))
    add("params", "random_plane: params transposed", "params",
        lambda F: ls.random_plane(jax.random.key(0), F.params_with(0, F.params[0]["W"].T), F.masks))
    add("params", "group_solutions: params without a leading axis", "params_batch",
        lambda F: ls.group_solutions(F.net, F.params, F.X, F.Y, F.masks))
    add("params", "hidden_ranks: W transposed", "params", lambda F: ls.hidden_ranks(F.net, F.params_with(0, F.params[0]["W"].T), F.X))
    add("params", "magnitude_masks: params a list of arrays", "params", lambda F: ls.magnitude_masks([p["W"] for p in F.params], 0.5))

    # ------------------------------------------------------------------ dtypes and x64
    add("dtype", "init: float64 without x64", "dtype", _no_x64(lambda F: ls.init(jax.random.key(0), F.net, F.masks, dtype=jnp.float64)))
    add("dtype", "init: dtype int32", "dtype", lambda F: ls.init(jax.random.key(0), F.net, F.masks, dtype=jnp.int32))
    add("dtype", "init: dtype 'float65'", "dtype", lambda F: ls.init(jax.random.key(0), F.net, F.masks, dtype="float65"))
    add("dtype", "train: dtype float64 without x64", "dtype", _no_x64(lambda F: F.train(dtype="float64")))
    add("dtype", "train: dtype float16", "dtype", lambda F: F.train(dtype="float16"))
    add("dtype", "masked_objective: float64 without x64", "dtype",
        _no_x64(lambda F: ls.masked_objective(F.net, F.X, F.Y, F.masks, dtype=np.float64)))
    add("dtype", "masked_objective: dtype int32", "dtype", lambda F: ls.masked_objective(F.net, F.X, F.Y, F.masks, dtype=np.int32))
    add("dtype", "evaluate_grid: float64 without x64", "dtype", _no_x64(lambda F: F.grid(dtype=np.float64)))
    add("dtype", "evaluate_grid: dtype int32", "dtype", lambda F: F.grid(dtype=np.int32))
    add("dtype", "structure_report: float64 without x64", "dtype",
        _no_x64(lambda F: ls.structure_report(F.net, F.X, F.masks, dtype=np.float64)))
    add("dtype", "free_space: dtype int8", "dtype", lambda F: ls.free_space(F.net, F.masks, dtype=np.int8))
    add("dtype", "group_solutions: float64 without x64", "dtype",
        _no_x64(lambda F: ls.group_solutions(F.net, jax.tree.map(lambda p: p[None], F.params), F.X, F.Y, F.masks, dtype=jnp.float64)))

    # ------------------------------------------------------------------ integers that must be integers
    add("integer", "train: max_steps 2.7", "max_steps", lambda F: F.train(max_steps=2.7))
    add("integer", "train: max_steps True", "max_steps", lambda F: F.train(max_steps=True))
    add("integer", "train: max_steps '4'", "max_steps", lambda F: F.train(max_steps="4"))
    add("integer", "train: max_steps 0", "max_steps", lambda F: F.train(max_steps=0))
    add("integer", "train: history_stride 1.5", "history_stride", lambda F: F.train(history_stride=1.5))
    add("integer", "train: history_stride 0", "history_stride", lambda F: F.train(history_stride=0))
    add("integer", "train: chunk_steps 2.5", "chunk_steps", lambda F: F.train(chunk_steps=2.5))
    add("integer", "train: chunk_steps -1", "chunk_steps", lambda F: F.train(chunk_steps=-1))
    add("integer", "train: n_trials 2.5", "n_trials", lambda F: F.train(n_trials=2.5))
    add("integer", "train: n_trials True", "n_trials", lambda F: F.train(n_trials=True))
    add("integer", "train: n_trials 0", "n_trials", lambda F: F.train(n_trials=0))
    add("integer", "train: batch_size -1", "batch_size", lambda F: F.train(batch_size=-1))
    add("integer", "train: batch_size 1.5", "batch_size", lambda F: F.train(batch_size=1.5))
    add("integer", "train: chunk_size 0", "chunk_size", lambda F: F.train(chunk_size=0))
    add("integer", "train: n_devices 0", "n_devices", lambda F: F.train(n_devices=0))
    add("integer", "train: n_devices 1.5", "n_devices", lambda F: F.train(n_devices=1.5))
    add("integer", "TrainConfig: max_steps 2.7", "max_steps", lambda F: ls.TrainConfig(max_steps=2.7))
    add("integer", "MLP: sizes (3, 2.5, 3)", "sizes", lambda F: ls.MLP((3, 2.5, 3)))
    add("integer", "MLP: sizes (3, True, 3)", "sizes", lambda F: ls.MLP((3, True, 3)))
    add("integer", "MLP: sizes (3, 0, 3)", "sizes", lambda F: ls.MLP((3, 0, 3)))
    add("integer", "MLP: sizes '323'", "sizes", lambda F: ls.MLP("323"))
    add("integer", "MLP: sizes (3,)", "sizes", lambda F: ls.MLP((3,)))
    add("integer", "MLP: sizes 3", "sizes", lambda F: ls.MLP(3))
    add("integer", "connect: steps 2.5", "steps", lambda F: F.connect(methods=("bezier",), steps=2.5))
    add("integer", "connect: n_eval 1", "n_eval", lambda F: F.connect(n_eval=1))
    add("integer", "connect: bends 0", "bends", lambda F: F.connect(methods=("chain",), bends=0))
    add("integer", "connect: n_images 2.0", "n_images", lambda F: F.connect(methods=("neb",), n_images=2.0, steps=2))
    add("integer", "connect: batch_size -1", "batch_size", lambda F: F.connect(batch_size=-1))
    add("integer", "evaluate_grid: chunk_size 0", "chunk_size", lambda F: F.grid(chunk_size=0))
    add("integer", "evaluate_grid: chunk_size 2.5", "chunk_size", lambda F: F.grid(chunk_size=2.5))
    add("integer", "evaluate_grid: batch_size -1", "batch_size", lambda F: F.grid(batch_size=-1))
    add("integer", "evaluate_grid: axis n 2.5", "axes", lambda F: F.grid(axes=[(-1.0, 1.0, 2.5), (-1.0, 1.0, 3)]))
    add("integer", "evaluate_grid: axis n 0", "axes", lambda F: F.grid(axes=[(-1.0, 1.0, 0), (-1.0, 1.0, 3)]))
    add("integer", "evaluate_grid: three axes", "axes", lambda F: F.grid(axes=[(-1.0, 1.0, 3)] * 3))
    add("integer", "evaluate_points: batch_size -1", "batch_size",
        lambda F: ls.evaluate_points(F.f, jnp.stack([F.z0, F.z1]), batch_size=-1))
    add("integer", "evaluate_points: chunk_size 0", "chunk_size",
        lambda F: ls.evaluate_points(F.f, jnp.stack([F.z0, F.z1]), chunk_size=0))
    add("integer", "synthetic: n 2.5", "n", lambda F: ls.synthetic(0, n=2.5, d_x=3, d_y=2))
    add("integer", "synthetic: d_x 0", "d_x", lambda F: ls.synthetic(0, n=4, d_x=0, d_y=2))
    add("integer", "synthetic: n True", "n", lambda F: ls.synthetic(0, n=True, d_x=3, d_y=2))
    add("integer", "digits: n 0", "n", lambda F: ls.digits(0))
    add("integer", "lanczos: num_steps 0", "num_steps", lambda F: ls.lanczos(F.f, F.z0, num_steps=0, key=jax.random.key(0)))
    add("integer", "lanczos: num_steps 2.5", "num_steps", lambda F: ls.lanczos(F.f, F.z0, num_steps=2.5, key=jax.random.key(0)))
    add("integer", "hutchinson_trace: num_samples 0", "num_samples",
        lambda F: ls.hutchinson_trace(F.f, F.z0, num_samples=0, key=jax.random.key(0)))
    add("integer", "spectral_density: grid_size 1.5", "grid_size",
        lambda F: ls.spectral_density(F.f, F.z0, num_probes=1, num_steps=3, grid_size=1.5, key=jax.random.key(0)))
    add("integer", "random_plane: ndim 3", "ndim", lambda F: ls.random_plane(jax.random.key(0), F.params, F.masks, ndim=3))
    add("integer", "train_with_ranks: segments 0", "segments", lambda F: ls.train_with_ranks(F.net, F.X, F.Y, segments=0, max_steps=4))
    add("integer", "train_with_ranks: segments 2.5", "segments", lambda F: ls.train_with_ranks(F.net, F.X, F.Y, segments=2.5, max_steps=4))
    add("integer", "overparameterized_patterns: p 2.5", "p", lambda F: ls.overparameterized_patterns(jax.random.key(0), 2.5, 4, 0.5))
    add("integer", "assumption2: n 0", "n", lambda F: ls.assumption2("tanh", 0))
    add("integer", "assumption2: n 1.5", "n", lambda F: ls.assumption2("tanh", 1.5))
    add("integer", "certify_valley: n_perturbations 1.5", "n_perturbations",
        lambda F: ls.certify_valley(F.thm, "tanh", n_perturbations=1.5))

    # ------------------------------------------------------------------ seeds and trial ids
    for v, what in ((1.5, "1.5"), ("0", "'0'"), (-1, "-1"), (2**32, "2**32"), (True, "True"), (None, "None")):
        add("seed", f"train: seed {what}", "seed", lambda F, v=v: F.train(seed=v))
    add("seed", "synthetic: seed -1", "seed", lambda F: ls.synthetic(-1, n=4, d_x=3, d_y=2))
    add("seed", "synthetic: seed 1.5", "seed", lambda F: ls.synthetic(1.5, n=4, d_x=3, d_y=2))
    add("seed", "digits: seed 'a'", "seed", lambda F: ls.digits(10, "a"))
    add("seed", "connect: seed 1.5", "seed", lambda F: F.connect(methods=("bezier",), steps=2, seed=1.5))
    add("seed", "connect: seed 2**32", "seed", lambda F: F.connect(methods=("bezier",), steps=2, seed=2**32))
    add("seed", "random_masks: key -1", "key", lambda F: ls.random_masks(-1, F.net, 0.5))
    add("seed", "random_masks: key 2**32", "key", lambda F: ls.random_masks(2**32, F.net, 0.5))
    add("seed", "random_masks: key 1.5", "key", lambda F: ls.random_masks(1.5, F.net, 0.5))
    add("seed", "init: key an int 0", "key", lambda F: ls.init(0, F.net, F.masks))
    add("seed", "init: key a float", "key", lambda F: ls.init(0.5, F.net, F.masks))
    add("seed", "random_plane: key None", "key", lambda F: ls.random_plane(None, F.params, F.masks))
    add("seed", "train_with_ranks: seed -1", "seed", lambda F: ls.train_with_ranks(F.net, F.X, F.Y, seed=-1, segments=2, max_steps=4))
    add("trial_ids", "train: trial_ids >= 2**32", "trial_ids", lambda F: F.train(trial_ids=[0, 2**32]))
    add("trial_ids", "train: duplicated trial_ids", "trial_ids", lambda F: F.train(trial_ids=[3, 3]))
    add("trial_ids", "train: negative trial_ids", "trial_ids", lambda F: F.train(trial_ids=[-1, 0]))
    add("trial_ids", "train: trial_ids 1.5", "trial_ids", lambda F: F.train(trial_ids=[0.0, 1.5]))
    add("trial_ids", "train: trial_ids strings", "trial_ids", lambda F: F.train(trial_ids=["a", "b"]))
    add("trial_ids", "train: trial_ids of the wrong length", "trial_ids", lambda F: F.train(trial_ids=[0, 1, 2]))
    add("trial_ids", "train: trial_ids 2-D", "trial_ids", lambda F: F.train(trial_ids=[[0], [1]]))

    # ------------------------------------------------------------------ positive finite scalars
    for v, what in ((True, "True"), (-1.0, "-1"), (0.0, "0"), (float("nan"), "NaN"), (float("inf"), "inf"), ("0.01", "'0.01'"),
                    (None, "None"), (1j, "1j")):
        add("scalar", f"train: learning_rate {what}", "learning_rate", lambda F, v=v: F.train(learning_rate=v))
    add("scalar", "train: gtol NaN", "gtol", lambda F: F.train(gtol=float("nan")))
    add("scalar", "train: gtol -1", "gtol", lambda F: F.train(gtol=-1.0))
    add("scalar", "train: gtol '1e-5'", "gtol", lambda F: F.train(gtol="1e-5"))
    add("scalar", "train: diverge_loss -1", "diverge_loss", lambda F: F.train(diverge_loss=-1.0))
    add("scalar", "train: diverge_loss 0", "diverge_loss", lambda F: F.train(diverge_loss=0.0))
    add("scalar", "train: diverge_loss NaN", "diverge_loss", lambda F: F.train(diverge_loss=float("nan")))
    add("scalar", "train: init_scale NaN", "init_scale", lambda F: F.train(init_scale=float("nan")))
    add("scalar", "train: init_scale inf", "init_scale", lambda F: F.train(init_scale=float("inf")))
    add("scalar", "init: scale -1", "scale", lambda F: ls.init(jax.random.key(0), F.net, F.masks, scale=-1.0))
    add("scalar", "init: scale NaN", "scale", lambda F: ls.init(jax.random.key(0), F.net, F.masks, scale=float("nan")))
    add("scalar", "init: scale 'big'", "scale", lambda F: ls.init(jax.random.key(0), F.net, F.masks, scale="big"))
    add("scalar", "connect: learning_rate -1", "learning_rate", lambda F: F.connect(methods=("bezier",), steps=2, learning_rate=-1.0))
    add("scalar", "connect: learning_rate True", "learning_rate", lambda F: F.connect(methods=("bezier",), steps=2, learning_rate=True))
    add("scalar", "connect: alpha NaN", "alpha", lambda F: F.connect(alpha=float("nan")))
    add("scalar", "connect: tol -1", "tol", lambda F: F.connect(tol=-1.0))
    add("scalar", "connect: rtol NaN", "rtol", lambda F: F.connect(rtol=float("nan")))
    add("scalar", "connect: temperature inf", "temperature", lambda F: F.connect(methods=("bezier",), steps=2, temperature=float("inf")))
    add("scalar", "connect: climb_after 2", "climb_after", lambda F: F.connect(climb_after=2.0))
    add("scalar", "connect: spring NaN", "spring", lambda F: F.connect(spring=float("nan")))
    add("scalar", "evaluate_grid: axis range (nan, 1)", "axes", lambda F: F.grid(axes=[(float("nan"), 1.0, 3), (-1.0, 1.0, 3)]))
    add("scalar", "evaluate_grid: axis range inverted", "axes", lambda F: F.grid(axes=[(1.0, -1.0, 3), (-1.0, 1.0, 3)]))
    add("scalar", "group_solutions: out_tol -1", "out_tol",
        lambda F: ls.group_solutions(F.net, jax.tree.map(lambda p: p[None], F.params), F.X, F.Y, F.masks, out_tol=-1.0))
    add("scalar", "group_solutions: loss_tol NaN", "loss_tol",
        lambda F: ls.group_solutions(F.net, jax.tree.map(lambda p: p[None], F.params), F.X, F.Y, F.masks, loss_tol=float("nan")))
    add("scalar", "classify_critical_point: gtol -1", "gtol", lambda F: ls.classify_critical_point(F.f, F.z0, gtol=-1.0))
    add("scalar", "classify_critical_point: eig_atol NaN", "eig_atol", lambda F: ls.classify_critical_point(F.f, F.z0, eig_atol=float("nan")))
    add("scalar", "theorem6_labels: global_tol -1", "global_tol",
        lambda F: ls.theorem6_labels(F.thm, np.zeros((1, 8)), np.ones(1), np.ones(1), global_tol=-1.0))
    add("scalar", "theorem6_labels: grad_tol NaN", "grad_tol",
        lambda F: ls.theorem6_labels(F.thm, np.zeros((1, 8)), np.ones(1), np.ones(1), grad_tol=float("nan")))
    add("scalar", "Theorem6: y1 NaN", "y", lambda F: ls.Theorem6(float("nan"), 2.0, 6.0, 2.0).check())
    add("scalar", "valley_point: b NaN", "b", lambda F: ls.valley_point(F.thm, "tanh", b=float("nan")))
    add("scalar", "valley_point: b 0", "b", lambda F: ls.valley_point(F.thm, "tanh", b=0.0))
    add("scalar", "invert_activation: zmax -1", "zmax", lambda F: ls.invert_activation("tanh", 0.5, zmax=-1.0))
    add("scalar", "random_masks: rate 1.5", "rate", lambda F: ls.random_masks(0, F.net, 1.5))
    add("scalar", "random_masks: rate NaN", "rate", lambda F: ls.random_masks(0, F.net, float("nan")))
    add("scalar", "random_masks: rate True", "rate", lambda F: ls.random_masks(0, F.net, True))
    add("scalar", "synthetic: noise NaN", "noise", lambda F: ls.synthetic(0, n=4, d_x=3, d_y=2, noise=float("nan")))
    add("scalar", "synthetic: a_norm -1", "a_norm", lambda F: ls.synthetic(0, n=4, d_x=3, d_y=2, a_norm=-1.0))
    add("scalar", "numerical_rank: rtol -1", "rtol", lambda F: ls.numerical_rank(np.eye(3), rtol=-1.0))
    add("scalar", "hidden_ranks: rtol NaN", "rtol", lambda F: ls.hidden_ranks(F.net, F.params, F.X, rtol=float("nan")))

    # ------------------------------------------------------------------ names and choices
    add("choice", "MLP: activation 'tanhh'", "activation", lambda F: ls.MLP((3, 2, 3), "tanhh"))
    add("choice", "MLP: activation 3", "activation", lambda F: ls.MLP((3, 2, 3), 3))
    add("choice", "MLP: bias 'yes'", "bias", lambda F: ls.MLP((3, 2, 3), "tanh", bias="yes"))
    add("choice", "loss: loss 'mse'", "loss", lambda F: ls.loss(F.net, F.params, F.X, F.Y, F.masks, loss="mse"))
    add("choice", "train: optimizer 'sgdd'", "optimizer", lambda F: F.train(optimizer="sgdd"))
    add("choice", "train: optimizer 3", "optimizer", lambda F: F.train(optimizer=3))
    add("choice", "train: loss 'sum'", "loss", lambda F: F.train(loss="sum"))
    add("choice", "train: optimizer_kwargs a dict with a bad key", "optimizer_kwargs",
        lambda F: F.train(optimizer="adam", optimizer_kwargs=(("bogus", 1),)))
    add("choice", "train: unknown keyword", "lr", lambda F: F.train(lr=0.1))
    add("choice", "connect: methods 'linear' (a string)", "methods", lambda F: F.connect(methods="linear"))
    add("choice", "connect: methods ('foo',)", "methods", lambda F: F.connect(methods=("foo",)))
    add("choice", "connect: unknown setting", "stepz", lambda F: F.connect(stepz=3))
    add("choice", "random_plane: norm 'filtr'", "norm", lambda F: ls.random_plane(jax.random.key(0), F.params, F.masks, norm="filtr"))
    add("choice", "evaluate_grid: loss 'sum'", "loss", lambda F: F.grid(loss="sum"))
    add("choice", "masked_objective: loss 'sum'", "loss", lambda F: ls.masked_objective(F.net, F.X, F.Y, F.masks, loss="sum"))
    add("choice", "magnitude_masks: scope 'all'", "scope", lambda F: ls.magnitude_masks(F.params, 0.5, scope="all"))
    add("choice", "layer_rates: distribution 'er'", "distribution", lambda F: ls.layer_rates(F.net, 0.5, "er"))
    add("choice", "get_activation: 'Tanh '", "activation", lambda F: ls.get_activation("Tanh "))
    add("choice", "assumption2: activation 'foo'", "activation", lambda F: ls.assumption2("foo", 2))
    add("choice", "certify_valley: activation 'relu6'", "activation", lambda F: ls.certify_valley(F.thm, "relu6"))

    # ------------------------------------------------------------------ wrong types of objects
    add("type", "loss: net a tuple of sizes", "net", lambda F: ls.loss((3, 2, 3), F.params, F.X, F.Y))
    add("type", "init: net a list", "net", lambda F: ls.init(jax.random.key(0), [3, 2, 3]))
    add("type", "train: net a string", "net", lambda F: ls.train("tanh", F.X, F.Y, **F.tiny))
    add("type", "train: config a dict", "config", lambda F: F.train(config={"learning_rate": 0.1}))
    add("type", "train: progress not callable", "progress", lambda F: F.train(progress=3))
    add("type", "connect: f not callable", "f", lambda F: ls.connect(3, F.z0, F.z1, methods=("linear",)))
    add("type", "connect: z1 of another length", "z1", lambda F: F.connect(z1=F.z1[:3]))
    add("type", "connect: z0 with NaN", "z0", lambda F: F.connect(z0=jnp.full_like(F.z0, jnp.nan)))
    add("type", "connect: z0 2-D", "z0", lambda F: F.connect(z0=F.z0[None]))
    add("type", "connect: config a dict", "config", lambda F: F.connect(config={"steps": 3}))
    add("type", "evaluate_grid: surface a string", "surface", lambda F: ls.evaluate_grid("plane", F.net, F.X, F.Y, axes=F.axes))
    add("type", "evaluate_grid: net a tuple", "net", lambda F: ls.evaluate_grid(F.plane, (3, 2, 3), F.X, F.Y, axes=F.axes))
    add("type", "classify_critical_point: z of the wrong length", "z", lambda F: ls.classify_critical_point(F.f, F.z0[:3]))
    add("type", "hessian: z 2-D", "z", lambda F: ls.hessian(F.f, F.z0[None]))
    add("type", "line_through: p1 of another structure", "p1", lambda F: ls.line_through(F.params, F.params[:1]))
    add("type", "plane_through: p2 with another shape", "p2",
        lambda F: ls.plane_through(F.params, F.params1, F.params_with(0, jnp.ones((1, 3)))))
    add("type", "structure_report: net a dict", "net", lambda F: ls.structure_report({"sizes": (3, 2, 3)}, F.X, F.masks))
    add("type", "Theorem6: y a string", "y", lambda F: ls.Theorem6("1", 2.0, 6.0, 2.0).check())

    # ------------------------------------------------------------------ paths and files
    add("path", "TrialsResult.save: a directory", "path", lambda F: F.train().save(F.tmp))
    add("path", "TrialsResult.save: path 3", "path", lambda F: F.train().save(3))
    add("path", "TrialsResult.save: empty path", "path", lambda F: F.train().save(""))
    add("path", "TrialsResult.save: into a read-only folder", os.path.join("ro", "res.npz"), lambda F: _save_read_only(F))
    add("path", "TrialsResult.load: missing file", "missing.npz", lambda F: ls.TrialsResult.load(os.path.join(F.tmp, "missing")))
    add("path", "TrialsResult.load: a plain npz", "plain.npz", lambda F: ls.TrialsResult.load(_plain_npz(F)))
    add("path", "TrialsResult.load: a text file", "text.npz", lambda F: ls.TrialsResult.load(F.file("text.npz", b"hello")))
    add("path", "TrialsResult.load: a truncated file", "trunc.npz", lambda F: ls.TrialsResult.load(_truncated(F)))
    add("path", "Grid.load: a TrialsResult file", "trials.npz", lambda F: ls.Grid.load(_trials_file(F)))
    add("path", "StructureReport.load: a text file", "text2.npz", lambda F: ls.StructureReport.load(F.file("text2.npz", b"x")))
    add("path", "train: checkpoint a directory", "checkpoint", lambda F: F.train(checkpoint=F.tmp))
    add("path", "train: checkpoint 3", "checkpoint", lambda F: F.train(checkpoint=3))
    add("path", "train: checkpoint a text file", "ckpt.npz", lambda F: F.train(checkpoint=F.file("ckpt.npz", b"junk")))
    add("path", "evaluate_grid: path '/tmp'", "path", lambda F: F.grid(path=F.tmp))
    add("path", "evaluate_grid: path a truncated file", "trunc_grid.npz", lambda F: F.grid(path=_truncated(F, "trunc_grid.npz")))
    add("path", "io.load: bytes path", "path", lambda F: io.load(b"x.npz"))

    # ------------------------------------------------------------------ saved data never replaced silently
    add("saved", "evaluate_grid: other axes over a complete grid", "g.npz", lambda F: _grid_other_axes(F))
    add("saved", "train: checkpoint of another learning rate", "ck_lr.npz", lambda F: _checkpoint_other(F, "ck_lr.npz", learning_rate=0.05))
    add("saved", "train: checkpoint of another chunk_steps", "ck_cs.npz", lambda F: _checkpoint_other(F, "ck_cs.npz", chunk_steps=4))
    add("saved", "TrialsResult.save over another result", "r.npz", lambda F: _save_over(F))
    add("saved", "Grid.save over a TrialsResult", "t.npz", lambda F: _grid_over_trials(F))
    return C


# ------------------------------------------------------------------ helpers of the file cases


def _plain_npz(F) -> str:
    p = os.path.join(F.tmp, "plain.npz")
    np.savez(p, a=np.ones(2))
    return p


def _truncated(F, name: str = "trunc.npz") -> str:
    good = io.save(os.path.join(F.tmp, "whole_" + name), {"a": np.ones(1000)}, {}, tag="TrialsResult", overwrite=True)
    data = open(good, "rb").read()
    return F.file(name, data[: len(data) // 2])


def _trials_file(F) -> str:
    return F.train().save(os.path.join(F.tmp, "trials.npz"), overwrite=True)


def _save_read_only(F):
    ro = os.path.join(F.tmp, "ro")
    os.makedirs(ro, exist_ok=True)
    os.chmod(ro, 0o500)
    try:
        if os.access(ro, os.W_OK):  # running as root: permissions do not bind; count as clear
            raise PermissionError(f"{os.path.join(ro, 'res.npz')}: (root ignores read-only folders; skipped) expected")
        return F.train().save(os.path.join(ro, "res.npz"))
    finally:
        os.chmod(ro, 0o700)


def _grid_other_axes(F):
    p = os.path.join(F.tmp, "g.npz")
    if os.path.exists(p):
        os.remove(p)
    F.grid(path=p)
    before = open(p, "rb").read()
    try:
        return F.grid(path=p, axes=[(-2.0, 2.0, 3), (-1.0, 1.0, 3)])
    finally:
        if open(p, "rb").read() != before:
            raise AssertionError("g.npz was replaced silently")  # counted as unclear


def _checkpoint_other(F, name, **other):
    p = os.path.join(F.tmp, name)
    if os.path.exists(p):
        os.remove(p)
    F.train(checkpoint=p, gtol=0.0, learning_rate=0.1)
    return F.train(checkpoint=p, **{"gtol": 0.0, "learning_rate": 0.1, **other})


def _save_over(F):
    p = os.path.join(F.tmp, "r.npz")
    if os.path.exists(p):
        os.remove(p)
    F.train(seed=0).save(p)
    return F.train(seed=1).save(p)


def _grid_over_trials(F):
    p = os.path.join(F.tmp, "t.npz")
    if os.path.exists(p):
        os.remove(p)
    F.train().save(p)
    return F.grid().save(p)


# ------------------------------------------------------------------ the command line


def cli_cases(tmp: str) -> list:
    """``(name, option, argv)`` of bad command lines (each should exit 2 with one line naming ``option``)."""
    quick = ["--trials", "2", "--steps", "10", "--activations", "tanh", "--no-progress"]
    a_file = os.path.join(tmp, "a_file")
    with open(a_file, "w") as fh:
        fh.write("x")
    ro = os.path.join(tmp, "ro_out")
    os.makedirs(ro, exist_ok=True)
    os.chmod(ro, 0o500)
    other = os.path.join(tmp, "other_settings")
    out = lambda name: ["--out", os.path.join(tmp, name)]  # noqa: E731
    C = [
        ("table3 --seed -1", "--seed", ["table3", *quick, "--seed", "-1", *out("c1")]),
        ("table3 --seed 1.5", "--seed", ["table3", *quick, "--seed", "1.5", *out("c2")]),
        ("table3 --seed 2**32", "--seed", ["table3", *quick, "--seed", str(2**32), *out("c3")]),
        ("table3 --trials 0", "--trials", ["table3", "--trials", "0", "--steps", "10", "--no-progress", *out("c4")]),
        ("table3 --trials -5", "--trials", ["table3", "--trials", "-5", "--steps", "10", "--no-progress", *out("c5")]),
        ("table3 --steps 0", "--steps", ["table3", "--trials", "2", "--steps", "0", "--no-progress", *out("c6")]),
        ("table3 --lr -1", "--lr", ["table3", *quick, "--lr", "-1", *out("c7")]),
        ("table3 --lr nan", "--lr", ["table3", *quick, "--lr", "nan", *out("c8")]),
        ("table3 --lr inf", "--lr", ["table3", *quick, "--lr", "inf", *out("c9")]),
        ("table3 --activations tanhh", "--activations", ["table3", "--trials", "2", "--steps", "10", "--activations", "tanhh",
                                                         "--no-progress", *out("c10")]),
        ("table3 --activations ''", "--activations", ["table3", "--trials", "2", "--steps", "10", "--activations", ",",
                                                       "--no-progress", *out("c11")]),
        ("table3 --activations tanh,tanh", "--activations", ["table3", "--trials", "2", "--steps", "10", "--activations",
                                                              "tanh,tanh", "--no-progress", *out("c12")]),
        ("table3 --out an existing file", "--out", ["table3", *quick, "--out", a_file]),
        ("table3 --out a read-only folder", "--out", ["table3", *quick, "--out", ro]),
        ("table3 --out under a file", "--out", ["table3", *quick, "--out", os.path.join(a_file, "sub")]),
        ("table3 --out '' (empty)", "--out", ["table3", *quick, "--out", ""]),
        ("table3 --out of other settings", "--out", ["table3", *quick, "--seed", "1", "--out", other]),
        ("table3 --trials x", "--trials", ["table3", "--trials", "x", *out("c13")]),
        ("table3 --bogus", "--bogus", ["table3", "--bogus", *out("c14")]),
        ("table3 --loss mse", "--loss", ["table3", *quick, "--loss", "mse", *out("c15")]),
        ("fig3 --steps 0", "--steps", ["fig3", "--quick", "--steps", "0", "--no-progress", *out("c16")]),
        ("fig3 --seed -1", "--seed", ["fig3", "--quick", "--seed", "-1", "--no-progress", *out("c17")]),
        ("fig4 --check-every 0", "--check-every", ["fig4", "--quick", "--check-every", "0", "--no-progress", *out("c18")]),
        ("fig4 --init-scale -1", "--init-scale", ["fig4", "--quick", "--init-scale", "-1", "--no-progress", *out("c19")]),
        ("fig4 --activations tanhh", "--activations", ["fig4", "--quick", "--activations", "tanhh", "--no-progress", *out("c20")]),
        ("fig5 --n 0", "--n", ["fig5", "--n", "0", "--activations", "tanh", *out("c21")]),
        ("fig5 --b nan", "--b", ["fig5", "--n", "5", "--b", "nan", "--activations", "tanh", *out("c22")]),
        ("fig5 --formats jpg", "--formats", ["fig5", "--n", "5", "--formats", "jpg", "--activations", "tanh", *out("c23")]),
        ("fig5 --activations foo", "--activations", ["fig5", "--n", "5", "--activations", "foo", *out("c24")]),
        ("fig5 --t-range 1 -1", "--t-range", ["fig5", "--n", "5", "--t-range", "1", "-1", "--activations", "tanh", *out("c25")]),
        ("property-p --seed -1", "--seed", ["property-p", "--seed", "-1", *out("c26")]),
        ("property-p --n 0", "--n", ["property-p", "--n", "0", *out("c27")]),
        ("property-p --refine -1", "--refine", ["property-p", "--refine", "-1", *out("c28")]),
    ]
    return C


def _prepare_other_settings(tmp: str) -> None:
    """A folder holding a finished ``table3`` run of seed 0 (the case above reruns it with seed 1)."""
    from landscape import cli

    other = os.path.join(tmp, "other_settings")
    with contextlib.redirect_stdout(_io.StringIO()), contextlib.redirect_stderr(_io.StringIO()):
        cli.main(["table3", "--trials", "2", "--steps", "10", "--activations", "tanh", "--no-progress", "--out", other])


def classify_cli(argv: list, option: str, out_dir=None) -> tuple:
    """``(outcome, detail)`` of ``landscape <argv>`` run in this process (stderr captured)."""
    from landscape import cli

    err, out = _io.StringIO(), _io.StringIO()
    before = _listing(out_dir)
    x64 = jax.config.read("jax_enable_x64")  # a float64 command turns x64 on for the process
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = cli.main(argv)
    except SystemExit as e:
        status = e.code
    except BaseException as e:  # noqa: BLE001 - an escaped exception is what we count
        return "unclear", f"{type(e).__name__}: {str(e)[:200]}"
    finally:
        jax.config.update("jax_enable_x64", x64)
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    if status in (0, None):
        return "silent", "exit 0"
    written = _listing(out_dir) - before
    ok = (status == 2 and len(lines) == 1 and "Traceback" not in err.getvalue() and option in lines[0] and not written)
    return ("clear" if ok else "unclear"), f"exit {status}: {' | '.join(lines)[:300]}" + (f" (wrote {sorted(written)})" if written else "")


def _listing(folder) -> set:
    if folder is None or not os.path.isdir(folder):
        return set()
    return {os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs}


# ------------------------------------------------------------------ classification


def classify(case: Case, F: Fixtures) -> tuple:
    """``(outcome, detail)`` of one case: ``"clear"``, ``"unclear"`` or ``"silent"``."""
    try:
        out = case.call(F)
    except CLEAR_TYPES as e:
        msg = str(e)
        frames = traceback.extract_tb(e.__traceback__)
        inner = frames[-1].filename if frames else ""
        ours = os.path.abspath(inner).startswith(LANDSCAPE_DIR) or os.path.basename(inner) == os.path.basename(__file__)
        named = re.search(r"(^|[^A-Za-z0-9_])" + re.escape(case.arg) + r"($|[^A-Za-z0-9_])", msg) is not None
        says = "expected" in msg or isinstance(e, (FileExistsError, FileNotFoundError, PermissionError)) or "refus" in msg
        if ours and named and says:
            return "clear", f"{type(e).__name__}: {msg[:200]}"
        why = [w for w, ok in (("raised outside landscape", ours), (f"does not name {case.arg!r}", named),
                               ("says nothing expected", says)) if not ok]
        return "unclear", f"{type(e).__name__} ({', '.join(why)}): {msg[:200]}"
    except Exception as e:  # noqa: BLE001
        return "unclear", f"{type(e).__name__}: {str(e)[:200]}"
    return "silent", f"returned {type(out).__name__}"


CASES = _cases()

VALID = [
    ("TrainConfig: learning_rate np.float32(0.01)", lambda F: ls.TrainConfig(learning_rate=np.float32(0.01))),
    ("train: max_steps np.int64(4)", lambda F: F.train(max_steps=np.int64(4))),
    ("train: seed np.uint32(7)", lambda F: F.train(seed=np.uint32(7))),
    ("train: trial_ids np.array([5, 2**32 - 1])", lambda F: F.train(trial_ids=np.array([5, 2**32 - 1]))),
    ("train: masks as bool arrays", lambda F: F.train(masks=jax.tree.map(lambda m: m.astype(bool), F.masks))),
    ("loss: X and Y as nested lists", lambda F: ls.loss(F.net, F.params, F.X.tolist(), F.Y.tolist(), F.masks)),
    ("loss: under jit", lambda F: jax.jit(ls.loss, static_argnums=0)(F.net, F.params, F.X, F.Y, F.masks)),
    ("loss: under vmap over params", lambda F: jax.vmap(ls.loss, in_axes=(None, 0, None, None, None))(
        F.net, jax.tree.map(lambda p: jnp.stack([p, p]), F.params), F.X, F.Y, F.masks)),
    ("MLP: sizes of numpy integers", lambda F: ls.MLP(tuple(np.array([3, 2, 3])))),
    ("ProbeConfig: learning_rate np.float64(0.01)", lambda F: ls.ProbeConfig(learning_rate=np.float64(0.01)).opt()),
]


def run(verbose: bool = False, cli: bool = True) -> dict:
    """Runs every case; returns ``{"counts": ..., "by_class": ..., "cases": [...], "valid": [...]}``."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        F = Fixtures(tmp)
        for case in CASES:
            outcome, detail = classify(case, F)
            results.append({"class": case.cls, "name": case.name, "outcome": outcome, "detail": detail})
        if cli:
            _prepare_other_settings(tmp)
            for name, option, argv in cli_cases(tmp):
                out_dir = argv[argv.index("--out") + 1] if "--out" in argv else None
                if "read-only" in name and os.access(out_dir, os.W_OK):
                    results.append({"class": "cli", "name": name, "outcome": "clear",
                                    "detail": "skipped: running as root, a read-only folder is writable (counted clear)"})
                    continue
                outcome, detail = classify_cli(argv, option, out_dir)
                results.append({"class": "cli", "name": name, "outcome": outcome, "detail": detail})
            os.chmod(os.path.join(tmp, "ro_out"), 0o700)
        valid = []
        for name, fn in VALID:
            try:
                fn(F)
                valid.append({"name": name, "outcome": "accepted"})
            except Exception as e:  # noqa: BLE001
                valid.append({"name": name, "outcome": f"refused: {type(e).__name__}: {str(e)[:160]}"})
    counts = {k: sum(r["outcome"] == k for r in results) for k in ("clear", "unclear", "silent")}
    # a looser reading of "clear": the argument is named but the message does not say what was expected
    counts["clear_if_naming_suffices"] = counts["clear"] + sum(
        r["outcome"] == "unclear" and "(says nothing expected)" in r["detail"] for r in results)
    by_class = {}
    for r in results:
        by_class.setdefault(r["class"], {"clear": 0, "unclear": 0, "silent": 0})[r["outcome"]] += 1
    return {"total": len(results), "counts": counts, "by_class": by_class, "cases": results, "valid": valid}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="list every unclear or silent case")
    p.add_argument("--no-cli", action="store_true", help="skip the command-line cases")
    p.add_argument("--json", help="write every case's outcome to this file")
    a = p.parse_args(argv)
    res = run(a.verbose, cli=not a.no_cli)
    print(f"{res['total']} bad inputs: {res['counts']['clear']} clear, {res['counts']['unclear']} unclear, "
          f"{res['counts']['silent']} silent")
    print(f"  (counting an error that names the argument but not what was expected as clear: "
          f"{res['counts']['clear_if_naming_suffices']} clear)")
    width = max(len(c) for c in res["by_class"])
    for cls, c in res["by_class"].items():
        print(f"  {cls:<{width}}  clear {c['clear']:>3}  unclear {c['unclear']:>3}  silent {c['silent']:>3}")
    refused = [v for v in res["valid"] if v["outcome"] != "accepted"]
    print(f"{len(res['valid'])} valid edge inputs: {len(res['valid']) - len(refused)} accepted, {len(refused)} refused")
    if a.verbose:
        for r in res["cases"]:
            if r["outcome"] != "clear":
                print(f"[{r['outcome']}] {r['class']}: {r['name']} -> {r['detail']}")
        for v in refused:
            print(f"[refused valid] {v['name']} -> {v['outcome']}")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
