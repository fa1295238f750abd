"""Figure 5: the (a, t) slice through the Theorem 6 spurious valley, and the
trajectory picture (one Table 3 trial ending in the valley, one at the global
minimum, on their PCA plane).

The slice is ``(a, t) ↦ t·θ̃(a) + (1 − t)·θ(a, b)`` (Section 6.3, Figure 5):
``θ(a, b)`` is the valley point of the proof of Theorem 6 (loss ``y4²/2``),
``θ̃(a)`` the better point (loss ``y1² y3² / (2 (y2 + y3)²)``); the red line is
the valley ``t = 0``, ``b = 10``, ``a > 0``. Loss is the paper's ½-sum (Eq. 1).

Example:
  landscape fig5 --activations tanh leaky_relu --out results/fig5
  landscape fig5 --activations elu --trajectories
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import slices, theory, trials, validate
from landscape.activations import activation_name, get_activation
from landscape.experiments import _common
from landscape.theory import Theorem6

VALLEY_STYLE = {"valley": {"color": "red", "lw": 2.5, "label": "valley θ(a, b)"}}


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ValleySlice:
    """Figure 5's surface ``(a, t) ↦ t·θ̃(a) + (1 − t)·θ(a, b)`` (a jnp pytree).

    Attributes:
      b: the valley's ``b`` (the paper's 10), an array in the evaluation dtype.
      thm: the targets (static).
      activation: name (static).
    """

    b: jax.Array
    thm: Theorem6 = dataclasses.field(metadata={"static": True})
    activation: str = dataclasses.field(metadata={"static": True})

    def valley(self, a):
        """``theory.valley_point(thm, σ, a, b)``: the valley ``θ(a, b)``."""
        return theory.valley_point(self.thm, self.activation, a, self.b)

    def better(self, a):
        """``theory.better_point(thm, σ, a)``: the better point ``θ̃(a)``."""
        return theory.better_point(self.thm, self.activation, a)

    def __call__(self, a, t):
        return jax.tree.map(lambda p, q: t * p + (1 - t) * q, self.better(a), self.valley(a))


def _default_dtype(dtype):
    if dtype is None:
        return jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32
    return dtype


def valley_slice(activation, thm: Theorem6 = Theorem6(), b: float = 10.0, dtype=None) -> ValleySlice:
    """Figure 5's surface for an activation (dtype: float64 when x64 is on, else float32)."""
    thm.check()
    dtype = _default_dtype(dtype)
    return ValleySlice(jnp.asarray(b, dtype), thm, activation_name(activation))


def default_a_range(activation, n: int = 201, hi: float = 10.0) -> tuple:
    """``(lo, hi, n)`` with ``lo = max(0.5, 1.25 / sup σ)``, so that ``1/a`` is
    inside σ's range on the whole axis (tanh: 1.25, shifted sigmoid: 2.5)."""
    sigma = get_activation(activation)
    sup = float(np.max(np.asarray(sigma(jnp.geomspace(1e-6, 1e4, 2000)))))
    if not sup > 0:
        raise ValueError(f"activation: {activation_name(activation)} takes no positive value, so 1/a (a > 0) is unreachable")
    return (max(0.5, 1.25 / sup), hi, n)


def figure5(activation="tanh", thm: Theorem6 = Theorem6(), *, b: float = 10.0, a_range=None,
            t_range=(-0.25, 1.25, 201), dtype=None, path: Optional[str] = None, overwrite: bool = False) -> slices.Grid:
    """The Figure 5 slice for one activation, with the valley line as an overlay.

    Args:
      activation: a name from ``landscape.ACTIVATIONS``.
      thm: the targets (Table 3's by default).
      b: the valley's ``b`` (paper: 10; needs ``1/b ∈ σ(R)``).
      a_range, t_range: ``(lo, hi, n)``; ``a > 0`` needs ``1/a ∈ σ(R)`` (e.g.
        ``a > 1`` for tanh); where σ cannot reach a value the loss is NaN.
        Default ``a_range``: ``default_a_range(activation)``.
      dtype: float64 (needs x64) or float32; default float64 when x64 is on.
      path: optional ``.npz`` for the grid (resumable).
      overwrite: set aside a grid file of other settings at ``path`` (else refused).

    Returns:
      A 2D ``slices.Grid`` over ``(a, t)``; overlay ``"valley"`` holds
      ``(a, 0, L(θ(a, b)))`` rows, drawn in red.
    """
    if a_range is None:
        a_range = default_a_range(activation)
    if not a_range[0] > 0:
        raise ValueError(f"a_range: the valley needs a > 0, got {a_range}")
    dtype = _default_dtype(dtype)
    surf = valley_slice(activation, thm, b, dtype)
    net, X, Y, masks = thm.net(activation), thm.X, thm.Y, thm.masks()
    a_axis = slices.axis(*a_range)
    line = slices.evaluate(lambda a: surf(a, jnp.zeros_like(a)), net, X, Y, masks=masks, axes=[a_axis], dtype=dtype)
    desc = {"experiment": "figure5", "activation": activation_name(activation), "y": [thm.y1, thm.y2, thm.y3, thm.y4],
            "b": b, "axis_names": ["a", "t"], "valley_loss": thm.valley_loss, "better_loss": thm.better_loss,
            "overlay_styles": VALLEY_STYLE,
            "surface_formula": "t*theta_tilde(a) + (1-t)*theta(a, b)"}
    overlays = {"valley": np.stack([a_axis, np.zeros_like(a_axis), line.values], axis=1)}
    return slices.evaluate(surf, net, X, Y, masks=masks, axes=[a_axis, slices.axis(*t_range)], dtype=dtype,
                           overlays=overlays, description=desc, path=path, overwrite=overwrite)


# ----------------------------------------------------------------------------- trajectories


def trajectory_picture(activation="tanh", thm: Theorem6 = Theorem6(), *, n_trials: int = 100, seed: int = 0,
                       learning_rate: float = 0.01, max_steps: int = 50_000, history_stride: int = 100,
                       n: int = 101, margin: float = 0.15, dtype: str = "float64",
                       path: Optional[str] = None, overwrite: bool = False) -> slices.Grid:
    """Trains Table 3 trials, picks the first that ends in the valley and the
    first that reaches the global minimum (``theory.theorem6_labels``, Table 3's
    tolerances but a valley band of ``|L − y4²/2| ≤ 1e-3``), and slices their
    PCA plane.

    Returns:
      A 2D ``slices.Grid`` over the plane's PCA coordinates with overlays
      ``"trajectory valley"``, ``"trajectory global"`` (projected params every
      ``history_stride`` steps) and their end points; config records the trial
      ids, their final losses and the explained variance.

    Raises:
      RuntimeError: no trial of one kind among ``n_trials`` (raise ``n_trials``).
    """
    net, X, Y, masks = thm.net(activation), thm.X, thm.Y, thm.masks()
    res = trials.train(net, X, Y, masks=masks, n_trials=n_trials, seed=seed, learning_rate=learning_rate,
                       max_steps=max_steps, history_stride=history_stride, history_params=True, dtype=dtype)
    w = np.asarray(theory.w_from_params(res.params))
    # Table 3's labels (the engine's loss is the ½-sum, Eq. 1), with a valley band of ±1e-3 instead of
    # Table 3's [−1e-3, +0.05]: the picture follows a trial that has settled in the valley, not one still creeping
    kinds = theory.theorem6_labels(thm, w, res.loss, res.grad_norm, diverged=res.status == trials.DIVERGED,
                                   valley_tol=1e-3)
    picked = {}
    for kind in ("valley", "global"):
        idx = np.nonzero(kinds == kind)[0]
        if idx.size == 0:
            raise RuntimeError(f"trajectory_picture: no trial of {n_trials} ended at the {kind} "
                               f"(final losses {np.round(res.loss, 4).tolist()}); raise n_trials or change seed")
        picked[kind] = int(idx[0])
    trajs = [jax.tree.map(lambda a: a[picked[k]], res.param_history) for k in ("valley", "global")]
    pca = slices.pca_plane(trajs, masks)
    allc = np.concatenate(pca.coords)
    lo, hi = allc.min(0), allc.max(0)
    pad = margin * np.maximum(hi - lo, 1e-3)
    axes = [slices.axis(lo[j] - pad[j], hi[j] + pad[j], n) for j in range(2)]
    overlays = {"trajectory valley": pca.coords[0], "trajectory global": pca.coords[1],
                "end valley": pca.coords[0][-1:], "end global": pca.coords[1][-1:]}
    styles = {"trajectory valley": {"color": "red", "label": f"trial {picked['valley']} → valley"},
              "trajectory global": {"color": "tab:blue", "label": f"trial {picked['global']} → global min"},
              "end valley": {"color": "red", "marker": "X"}, "end global": {"color": "tab:blue", "marker": "*"}}
    desc = {"experiment": "trajectory_picture", "activation": activation_name(activation), "seed": seed,
            "n_trials": n_trials, "learning_rate": learning_rate, "max_steps": max_steps,
            "trials": picked, "final_loss": {k: float(res.loss[i]) for k, i in picked.items()},
            "kinds": {k: int(np.sum(kinds == k)) for k in theory.THEOREM6_LABELS},
            "explained_variance": pca.explained.tolist(), "axis_names": ["PC1", "PC2"], "overlay_styles": styles}
    return slices.evaluate(pca.plane, net, X, Y, masks=masks, axes=axes, overlays=overlays, description=desc, path=path,
                           overwrite=overwrite)


# ----------------------------------------------------------------------------- CLI


def add_arguments(p) -> None:
    c = _common
    p.add_argument("--activations", nargs="+", type=c.activation_arg, default=["tanh", "leaky_relu"],
                   help="activation names (default: tanh leaky_relu)")
    p.add_argument("--b", type=c.real_arg, default=10.0, help="the valley's b (default 10; 1/b must be a value of σ)")
    p.add_argument("--a-range", type=c.real_arg, nargs=2, default=None, metavar=("LO", "HI"),
                   help="range of a (default: max(0.5, 1.25/sup σ) to 10)")
    p.add_argument("--t-range", type=c.real_arg, nargs=2, default=[-0.25, 1.25], metavar=("LO", "HI"))
    p.add_argument("--n", type=c.count_arg(2), default=201, help="grid points per axis (default 201)")
    p.add_argument("--log", action="store_true", help="log colour scale")
    p.add_argument("--formats", nargs="+", choices=("png", "pdf", "svg"), default=["png", "pdf"])
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--trajectories", action="store_true", help="also draw the trajectory picture (trains Table 3 trials)")
    p.add_argument("--trials", type=c.count_arg(1), default=100, help="trials for --trajectories (default 100, as Table 3)")
    p.add_argument("--seed", type=c.seed_arg, default=0)
    p.add_argument("--max-steps", type=c.count_arg(1), default=50_000)
    c.add_output_arguments(p, "results/fig5", "fig5_<activation>.npz/.png/.pdf", progress=False)


def _check(args) -> None:
    """Everything the run needs, checked before it starts (axes, b, activations)."""
    validate.one_of_each(args.activations, "--activations")
    for option, rng in (("--t-range", args.t_range), ("--a-range", args.a_range)):
        try:
            if rng is not None:
                slices.axis(*rng, args.n)
        except ValueError as e:
            raise ValueError(f"{option}: {str(e).removeprefix('axes: ')}") from None
    if args.a_range is not None:
        if not args.a_range[0] > 0:
            raise ValueError(f"--a-range: expected LO > 0 (the valley needs a > 0), got {args.a_range[0]}")
    for act in args.activations:
        try:
            theory.invert_activation(act, 1.0 / args.b if args.b != 0 else np.inf)
        except ValueError:
            raise ValueError(f"--b: expected 1/b to be a value of {act} (σ(w7) = 1/b on the valley), got b={args.b}") from None


def main(args) -> int:
    from landscape import plot

    _check(args)
    dtype = jnp.dtype(args.dtype)
    outputs = [f"{kind}_{act}.{ext}" for act in args.activations for kind in ("fig5", "trajectories")
               for ext in ("npz", "png", "pdf", "svg")]
    resume = (f"The grid points computed so far are in {os.path.join(args.out, 'fig5_<activation>.npz')} "
              "(written after every chunk of points).")

    def compute(update):
        out, done = args.out, []
        for act in args.activations:
            t0 = time.perf_counter()
            a_range = default_a_range(act, args.n) if args.a_range is None else (*args.a_range, args.n)
            grid = figure5(act, b=args.b, a_range=a_range, t_range=(*args.t_range, args.n), dtype=dtype,
                           path=os.path.join(out, f"fig5_{act}.npz"), overwrite=args.overwrite)
            done.append(("fig5", act, grid, time.perf_counter() - t0, None))
            if args.trajectories:
                t0 = time.perf_counter()
                try:
                    tg = trajectory_picture(act, n_trials=args.trials, seed=args.seed, max_steps=args.max_steps,
                                            dtype=args.dtype, path=os.path.join(out, f"trajectories_{act}.npz"),
                                            overwrite=args.overwrite)
                    done.append(("trajectories", act, tg, time.perf_counter() - t0, None))
                except RuntimeError as e:
                    done.append(("trajectories", act, None, time.perf_counter() - t0, str(e)))
        return done

    def write(done, folder, overwrite):
        files = []
        for kind, act, grid, _, _ in done:
            if grid is None:
                continue
            files.append(os.path.join(folder, f"{kind}_{act}.npz"))
            fig = (plot.figure5(grid, log=args.log) if kind == "fig5"
                   else plot.contour(grid, log=True, title=f"{act}: PCA plane of two Table 3 trials"))
            files += plot.save(fig, os.path.join(folder, f"{kind}_{act}"), args.formats)
        return files

    def summary(done):
        return "\n".join(f"{kind} {act}: {error}" if error else
                         f"{kind} {act}: {'x'.join(str(len(a)) for a in grid.axes)} grid in {seconds:.1f} s"
                         for kind, act, grid, seconds, error in done)

    _common.run_command(args, "fig5", compute=compute, write=write, summary=summary, outputs=outputs, resume=resume)
    return 0
