"""Figure 4 (Section 6.2): deep sparse non-linear networks, loss and hidden-layer ranks.

5-layer tanh and ReLU nets without bias, d_y = 10, every layer but the last
randomly pruned (then the Appendix-A clean-up) while the final layer stays dense,
so each output keeps ``width ≥ n`` connections (Theorem 5's condition). Data:
the synthetic set of Section 6, scikit-learn's bundled digits (offline default
for images) or CIFAR-10 from a local copy; ``n`` samples with one-hot labels.
Plain GD, loss ``"mean"`` (the paper's MSE) with lr 0.01, PyTorch's default init
(``init_scale = 10`` reproduces the paper's ×10 for CIFAR-10).

**Stopping rule, per density** (the paper: "since total running epochs are
different for each sparsity, we rescale the epochs by total epochs"): each
density trains on its own, and every ``check_every`` steps its loss is compared
with ``target_loss``; it stops at the first check where ``loss ≤ target_loss``
(status ``"target"``), or after ``max_steps`` (status ``"cap"``), or when the
loss is not finite (``"diverged"``). ``target_loss = None`` runs every density
for ``max_steps``. At every check the numerical rank (``rtol``, default
``max(h, n)·eps``) and the stable rank of every hidden output are measured, and
the loss is recorded every ``history_stride`` steps. ``plot.figure4`` draws each
run against ``step / total steps of that run``, as the paper does.

Why the sparse nets need many more steps (measured on the full preset, see the
README): masking keeps PyTorch's bound ``1/√fan_in`` of the dense layer, so each
pruned layer scales its input's rms by about ``√(density/3)`` (tanh; ``√(density/6)``
for ReLU) and the net starts close to the saddle at ``θ = 0`` (σ(0) = 0, no bias):
at density 0.1 the output's rms at init is 6e-4 against 0.047 dense (tanh) and the
gradient is ~75× smaller; GD at lr 0.01 with the mean loss (which scales the
gradient by ``2/(d_y n)`` against Eq. 1) then sits on a plateau for tens of
thousands of steps before the loss falls.

**Which setting reproduces the figure** (measured on 2 CPU cores, README): the paper's own
(``PRESETS["full"]``): every density of both activations reaches the target 1e-3, tanh after
9k / 22k / 57k / 118k steps at densities 1 / 0.5 / 0.2 / 0.1, ReLU after 6k / 15k / 52k / 160k
(69 min). With ``init_fan_in="masked"`` (``nets.init``: neuron ``j``'s bound counts only its
unmasked inputs, so a pruned layer keeps the dense layer's scale), everything else the same:
tanh 9k / 16k / 31k / 50k, ReLU 6k / 10k / 20k / 34k (25 min 47 s).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import data, io, masks as masks_lib, nets, ranks, structure, trials, validate
from landscape.experiments import _common

STATUSES = ("target", "cap", "diverged")


@dataclasses.dataclass(frozen=True)
class Fig4Config:
    """Settings of Figure 4 (hashable).

    Attributes:
      activations: names (paper: tanh, relu).
      densities: density of every pruned layer (all but the last); 1.0 = dense.
      dataset: ``"synthetic"``, ``"digits"`` or ``"cifar10"``; cifar10_path: its
        local copy (else ``$LANDSCAPE_CIFAR10``).
      width, depth, n, d_x (synthetic only), d_y: sizes (paper: 400, 5, 400, 100, 10).
      init_scale: factor on PyTorch's init (None: 10 for CIFAR-10, else 1).
      init_fan_in: ``"dense"`` (PyTorch's bound ``1/√fan_in`` of the unpruned layer, the
        paper's setting) or ``"masked"`` (each neuron's unmasked inputs; ``nets.init``).
      max_steps: the cap: the most GD steps of one density.
      target_loss: the stopping rule: a density stops at the first check with
        ``loss ≤ target_loss`` (in the ``loss`` convention); None: run ``max_steps``.
      check_every: steps between checks of the rule (and rank measurements); a
        divisor of ``max_steps`` and a multiple of ``history_stride``.
      learning_rate, loss, history_stride, seed, dtype, rtol: as named.
    """

    activations: tuple = ("tanh", "relu")
    densities: tuple = (1.0, 0.5, 0.2, 0.1)
    dataset: str = "synthetic"
    cifar10_path: Optional[str] = None
    width: int = 400
    depth: int = 5
    n: int = 400
    d_x: int = 100
    d_y: int = 10
    init_scale: Optional[float] = None
    init_fan_in: str = "dense"
    max_steps: int = 400_000
    target_loss: Optional[float] = 1e-3
    check_every: int = 1000
    learning_rate: float = 0.01
    loss: str = "mean"
    history_stride: int = 100
    seed: int = 0
    dtype: str = "float32"
    rtol: Optional[float] = None

    def __post_init__(self):
        if int(self.max_steps) < 1 or int(self.check_every) < 1 or int(self.history_stride) < 1:
            raise ValueError(f"max_steps, check_every, history_stride: expected integers >= 1, got "
                             f"{self.max_steps}, {self.check_every}, {self.history_stride}")
        if self.max_steps % self.check_every or self.check_every % self.history_stride:
            raise ValueError(f"check_every: expected a divisor of max_steps={self.max_steps} and a multiple of "
                             f"history_stride={self.history_stride}, got {self.check_every}")
        validate.choice(self.init_fan_in, "init_fan_in", nets.FAN_INS)
        if self.target_loss is not None and not self.target_loss > 0:
            raise ValueError(f"target_loss: expected a loss > 0 or None (run max_steps), got {self.target_loss!r}")

    def scale(self) -> float:
        return float(self.init_scale) if self.init_scale is not None else (10.0 if self.dataset == "cifar10" else 1.0)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "init_scale_used": self.scale()}


PRESETS = {
    "full": Fig4Config(),
    "quick": Fig4Config(densities=(1.0, 0.5, 0.3), width=32, n=32, d_x=8, max_steps=4000, target_loss=1e-2,
                        check_every=250, learning_rate=0.5, history_stride=50),
}
"""``full``: the paper's sizes, optimiser and init; every density runs until its mean loss is
``≤ 1e-3`` (0.03 % of the initial 3.5) or 400,000 steps (measured: at most 160,000; with
``init_fan_in="masked"`` at most 50,000; see the module docstring). ``quick``: a small net for CI
(seconds), lr 0.5, target 1e-2: every density reaches it, the sparser ones later."""


@dataclasses.dataclass(frozen=True)
class Fig4Run:
    """One activation: arrays have a leading density axis ``k``; runs that stopped early are
    padded with NaN.

    Attributes:
      history: ``(k, T)`` loss every ``history_stride`` steps, then the last loss; history_steps ``(T,)``.
      rank_steps: ``(S,)`` checks (step 0 and every ``check_every`` steps);
      rank / stable_rank: ``(k, S, L−1)`` (float, NaN after a run stopped).
      total_steps: ``(k,)`` steps each density ran; status: ``(k,)`` ``"target"``, ``"cap"`` or
        ``"diverged"`` (see ``Fig4Config``); final_loss: ``(k,)``.
      min_output_connections: ``(k,)`` after clean-up; unused_inputs: ``(k,)`` inputs without
        a path to an output; effective_density: ``(k,)`` over the pruned layers after clean-up;
      wall_time: ``(k,)`` seconds per density; theorems: per density, the theorems whose
        conditions hold.
    """

    activation: str
    history: np.ndarray
    history_steps: np.ndarray
    rank_steps: np.ndarray
    rank: np.ndarray
    stable_rank: np.ndarray
    final_loss: np.ndarray
    min_output_connections: np.ndarray
    unused_inputs: np.ndarray
    effective_density: np.ndarray
    theorems: list
    total_steps: np.ndarray = None
    status: np.ndarray = None
    wall_time: np.ndarray = None

    def final_rank(self, i: int) -> np.ndarray:
        """``(L−1,)`` ranks of density ``i`` at its last check."""
        valid = np.flatnonzero(np.isfinite(self.rank[i, :, 0]))
        return self.rank[i, valid[-1]]


_ARRAYS = ("history", "history_steps", "rank_steps", "rank", "stable_rank", "final_loss", "min_output_connections",
           "unused_inputs", "effective_density", "total_steps", "status", "wall_time")


@dataclasses.dataclass(frozen=True)
class Fig4Result(io.Saveable):
    runs: tuple
    densities: np.ndarray
    config: dict
    data: dict
    wall_time: float

    def to_dict(self) -> dict:
        return {"config": self.config, "data": self.data, "wall_time_s": self.wall_time,
                "densities": self.densities.tolist(),
                "runs": [{"activation": r.activation, "final_loss": r.final_loss.tolist(),
                          "total_steps": r.total_steps.tolist(), "status": r.status.tolist(),
                          "wall_time_s": r.wall_time.tolist(),
                          "final_rank": [r.final_rank(i).tolist() for i in range(len(self.densities))],
                          "theorems": r.theorems} for r in self.runs]}

    def _to_file(self) -> tuple:
        arrays = {"densities": self.densities}
        for r in self.runs:
            for f in _ARRAYS:
                arrays[f"{r.activation}__{f}"] = np.asarray(getattr(r, f))
        meta = {"config": self.config, "data": self.data, "wall_time_s": self.wall_time,
                "fingerprint": io.fingerprint({"config": self.config, "data": self.data}),
                "activations": [r.activation for r in self.runs], "theorems": {r.activation: r.theorems for r in self.runs}}
        return arrays, meta

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "Fig4Result":
        runs = []
        for a in meta["activations"]:
            got = {f: arrays[f"{a}__{f}"] for f in _ARRAYS if f"{a}__{f}" in arrays}
            k = len(arrays["densities"])
            if "total_steps" not in got:  # a 0.2 file: every density ran the fixed budget
                got["total_steps"] = np.full(k, int(got["history_steps"][-1]))
                got["status"] = np.array(["cap"] * k)
                got["wall_time"] = np.full(k, np.nan)
                got["rank"] = got["rank"].astype(np.float64)
                got["stable_rank"] = got["stable_rank"].astype(np.float64)
            runs.append(Fig4Run(activation=a, theorems=meta["theorems"][a], **got))
        return cls(runs=tuple(runs), densities=arrays["densities"], config=meta["config"], data=meta["data"],
                   wall_time=meta["wall_time_s"])


def make_masks(cfg: Fig4Config, net: nets.MLP) -> list:
    """Random pruning of all layers but the last, then the clean-up (one mask per density;
    density ``i`` from ``_common.case_seed(cfg.seed, i)``)."""
    out = []
    for i, d in enumerate(cfg.densities):
        m = masks_lib.random_masks(_common.case_seed(cfg.seed, i), net, [1.0 - d] * (net.depth - 1) + [0.0])
        out.append(structure.effective_masks(net, m).masks)
    return out


def load_data(cfg: Fig4Config) -> data.Dataset:
    return data.load(cfg.dataset, n=cfg.n, seed=cfg.seed, d_y=cfg.d_y, d_x=cfg.d_x, path=cfg.cifar10_path)


def train_until(net: nets.MLP, X, Y, masks, cfg: Fig4Config, trial_id: int, *,
                progress: Optional[Callable[[int], None]] = None, checkpoint: Optional[str] = None,
                overwrite: bool = False) -> dict:
    """One density of Figure 4 under the stopping rule of ``cfg`` (see the module docstring).

    Trains with ``trials.train`` in pieces of ``cfg.check_every`` steps from the init of trial
    ``trial_id`` (key ``fold_in(key(seed), trial_id)``; plain GD is stateless, so the pieces
    continue one trajectory exactly), and measures the hidden ranks after each piece.

    Args:
      net, X, Y, masks: the network, data and one mask.
      cfg: the settings (stopping rule, optimiser, dtype, rank tolerance).
      trial_id: which init.
      progress: called with the steps done after each piece.
      checkpoint: a ``.npz`` file written after each piece (``io.write_progress``); a rerun
        with the same settings resumes from it, other settings are refused unless ``overwrite``.
        The cap may differ: a run stopped at the cap goes on under a larger one (the same
        trajectory as one uninterrupted run); a cap below the steps already done is refused.

    Returns:
      ``{"history" (T,), "rank" (S, L−1), "stable_rank" (S, L−1), "total_steps", "status",
      "final_loss", "wall_time"}``.
    """
    t0 = time.perf_counter()
    dtype = jnp.dtype(cfg.dtype)
    Xd = jnp.asarray(X, dtype)
    measure = jax.jit(lambda p, m: ranks.hidden_ranks(net, p, Xd, m, cfg.rtol))
    train_kw = dict(learning_rate=cfg.learning_rate, loss=cfg.loss, history_stride=cfg.history_stride,
                    init_scale=cfg.scale(), dtype=cfg.dtype, gtol=0.0, chunk_steps=cfg.check_every)
    settings = {"config": cfg.to_dict(), "net": net.to_dict(), "trial_id": int(trial_id)}
    # The cap is recorded but not fingerprinted: plain GD is stateless and the pieces are the same
    # whatever the cap, so a run stopped at the cap continues its trajectory exactly under a larger one.
    fp = io.fingerprint({**settings, "config": {**settings["config"], "max_steps": None}},
                        [np.asarray(X), np.asarray(Y)] + [np.asarray(m["W"]) for m in masks])
    state = io.open_progress(checkpoint, fp, settings, overwrite=overwrite, tag="fig4-progress")
    if state is None:
        params0 = nets.init(trials.trial_key(cfg.seed, trial_id), net, masks, scale=cfg.scale(), dtype=dtype,
                            fan_in=cfg.init_fan_in)
        r0, s0 = measure(params0, masks)
        params = jax.tree.map(lambda a: a[None], params0)
        hist, rk, srk = [], [np.asarray(r0, np.float64)], [np.asarray(s0, np.float64)]
        done, status, spent, loss = 0, "", 0.0, float("nan")
    else:
        arrays, meta = state
        params = tuple({"W": jnp.asarray(arrays[f"W{l}"])} for l in range(net.depth))
        hist, rk, srk = list(arrays["history"]), list(arrays["rank"]), list(arrays["stable_rank"])
        done, status, spent, loss = int(meta["steps_done"]), meta["status"], float(meta["wall_time_s"]), meta["loss"]
        if done > cfg.max_steps:
            raise ValueError(f"max_steps: the checkpoint {checkpoint} already holds {done} steps, more than the cap "
                             f"{cfg.max_steps}; rerun with a cap of at least {done} (or overwrite=True to start afresh)")
        if status == "cap" and done < cfg.max_steps:
            status = ""  # a larger cap: go on
    while not status:
        res = trials.train(net, X, Y, masks=masks, n_trials=1, seed=cfg.seed, trial_ids=[trial_id], params0=params,
                           max_steps=cfg.check_every, **train_kw)
        params = res.params
        done += cfg.check_every
        hist.extend(np.asarray(res.history[0], np.float64).tolist())
        loss = float(res.loss[0])
        r, s = measure(jax.tree.map(lambda a: a[0], params), masks)
        rk.append(np.asarray(r, np.float64))
        srk.append(np.asarray(s, np.float64))
        if not np.isfinite(loss):
            status = "diverged"
        elif cfg.target_loss is not None and loss <= cfg.target_loss:
            status = "target"
        elif done >= cfg.max_steps:
            status = "cap"
        if checkpoint is not None:
            arrays = {"history": np.array(hist), "rank": np.array(rk), "stable_rank": np.array(srk)}
            arrays.update({f"W{l}": np.asarray(p["W"]) for l, p in enumerate(params)})
            io.write_progress(checkpoint, arrays, {"steps_done": done, "status": status, "loss": loss,
                                                   "wall_time_s": spent + time.perf_counter() - t0},
                              fingerprint_=fp, settings=settings, tag="fig4-progress")
        if progress is not None:
            progress(done)
    return {"history": np.array(hist + [loss]), "rank": np.array(rk), "stable_rank": np.array(srk),
            "total_steps": done, "status": status, "final_loss": loss, "wall_time": spent + time.perf_counter() - t0}


def _pad(rows: list, width: int, fill=np.nan) -> np.ndarray:
    """Stacks 1-D/2-D arrays of different lengths along a new axis 0, padded to ``width`` with ``fill``."""
    out = np.full((len(rows), width) + np.shape(rows[0])[1:], fill, np.float64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def run(cfg: Fig4Config = PRESETS["quick"], progress: Optional[Callable[[str, int, int], None]] = None,
        checkpoint_dir: Optional[str] = None, overwrite: bool = False) -> Fig4Result:
    """Runs Figure 4: every activation and density, each under the stopping rule (``train_until``).

    Args:
      cfg: a ``Fig4Config`` (see ``PRESETS``).
      progress: called with ``(activation, steps done over its densities, densities · max_steps)``.
      checkpoint_dir: if set, each (activation, density) checkpoints to
        ``<dir>/ckpt_<activation>_<i>.npz`` and a rerun resumes (a finished run is read back).
      overwrite: set aside checkpoints written by other settings instead of refusing them.
    """
    t0 = time.perf_counter()
    ds = load_data(cfg)
    runs = []
    for act in cfg.activations:
        net = nets.MLP((ds.X.shape[0],) + (cfg.width,) * (cfg.depth - 1) + (ds.Y.shape[0],), act)
        ms = make_masks(cfg, net)
        outs = []
        for i, m in enumerate(ms):
            base = i * cfg.max_steps
            hook = None if progress is None else (lambda done, b=base: progress(act, b + done, len(ms) * cfg.max_steps))
            ck = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"ckpt_{act}_{i}.npz")
            outs.append(train_until(net, ds.X, ds.Y, m, cfg, i, progress=hook, checkpoint=ck, overwrite=overwrite))
            if progress is not None:
                progress(act, base + cfg.max_steps, len(ms) * cfg.max_steps)
        pruned = [sum(int(m[l]["W"].sum()) for l in range(net.depth - 1)) / sum(m[l]["W"].size for l in range(net.depth - 1))
                  for m in ms]
        total = np.array([o["total_steps"] for o in outs])
        n_hist = int(total.max()) // cfg.history_stride + 1
        n_rank = int(total.max()) // cfg.check_every + 1
        runs.append(Fig4Run(
            activation=act, history=_pad([o["history"] for o in outs], n_hist),
            history_steps=np.arange(n_hist) * cfg.history_stride, rank_steps=np.arange(n_rank) * cfg.check_every,
            rank=_pad([o["rank"] for o in outs], n_rank), stable_rank=_pad([o["stable_rank"] for o in outs], n_rank),
            final_loss=np.array([o["final_loss"] for o in outs]),
            min_output_connections=np.array([int(m[-1]["W"].sum(axis=1).min()) for m in ms]),
            unused_inputs=np.array([int((~structure.effective_neurons(m)[0]).sum()) for m in ms]),
            effective_density=np.array(pruned),
            theorems=[structure.structure_report(net, ds.X, m).applicable() for m in ms],
            total_steps=total, status=np.array([o["status"] for o in outs]),
            wall_time=np.array([o["wall_time"] for o in outs])))
    return Fig4Result(runs=tuple(runs), densities=np.array(cfg.densities), config=cfg.to_dict(),
                      data=ds.to_dict() | {"indices": None}, wall_time=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_preset_arguments(p, "fig4")
    p.add_argument("--dataset", choices=data.DATASETS, help="default: synthetic")
    p.add_argument("--cifar10", metavar="PATH", help=f"local CIFAR-10 copy (folder or tarball); else ${data.CIFAR10_ENV}")
    p.add_argument("--init-scale", type=_common.positive_arg, help="factor on the default init (default 10 for cifar10, else 1)")
    p.add_argument("--init-fan-in", choices=nets.FAN_INS,
                   help="init bound 1/sqrt(fan_in) over the layer's inputs (dense: PyTorch, the paper) or each neuron's "
                        "unmasked inputs (masked); default dense")
    p.add_argument("--activations", nargs="+", type=_common.activation_arg, help="default: tanh relu")
    p.add_argument("--densities", nargs="+", type=_common.density_arg, help="default: 1 0.5 0.2 0.1 (full), 1 0.5 0.3 (quick)")
    p.add_argument("--target-loss", type=_common.nonnegative_arg, metavar="L",
                   help="stopping rule: a density stops at the first check with loss <= L (mean MSE); 0 = run --steps "
                        "(default 1e-3)")
    p.add_argument("--check-every", type=_common.count_arg(1), metavar="K",
                   help="steps between checks and rank measurements (default 1000 full, 250 quick); --steps (the cap) "
                        "must be a multiple")
    p.add_argument("--checkpoint", action="store_true",
                   help="checkpoint every density into the output folder after each check; a rerun resumes, and a "
                        "rerun with a larger --steps and --overwrite continues the densities that stopped at the cap")


def summary(result: Fig4Result) -> str:
    """One line per activation and density: steps and why it stopped, final loss, ranks, output connections."""
    n = result.config["n"]
    return "\n".join(
        f"fig4 {r.activation} density {d:g} (effective {r.effective_density[i]:.3f}): {int(r.total_steps[i])} steps "
        f"({r.status[i]}), loss {r.final_loss[i]:.3e}, ranks {r.final_rank(i).astype(int).tolist()} (n = {n}), "
        f"stable ranks {np.round(r.stable_rank[i, np.isfinite(r.stable_rank[i, :, 0])][-1], 1).tolist()}, "
        f"min output connections {r.min_output_connections[i]}"
        for r in result.runs for i, d in enumerate(result.densities))


_OPTIONS = {"max_steps": "--steps", "check_every": "--check-every", "target_loss": "--target-loss",
            "init_fan_in": "--init-fan-in", "init_scale": "--init-scale", "history_stride": "the preset's history_stride"}
"""``Fig4Config`` fields in its error messages -> the command line's words for them."""


def config_from_args(args) -> Fig4Config:
    """The ``Fig4Config`` of a ``landscape fig4`` command line."""
    cfg = PRESETS[args.preset or "full"]
    over = {"seed": args.seed, "dtype": args.dtype}
    for name, key in (("dataset", "dataset"), ("cifar10", "cifar10_path"), ("init_scale", "init_scale"),
                      ("init_fan_in", "init_fan_in"), ("steps", "max_steps"), ("check_every", "check_every")):
        if getattr(args, name, None) is not None:
            over[key] = getattr(args, name)
    if getattr(args, "target_loss", None) is not None:
        over["target_loss"] = args.target_loss if args.target_loss > 0 else None
    if args.cifar10 and args.dataset is None:
        over["dataset"] = "cifar10"
    if args.activations:
        over["activations"] = tuple(args.activations)
    if getattr(args, "densities", None):
        over["densities"] = tuple(args.densities)
    try:
        cfg = dataclasses.replace(cfg, **over)
    except ValueError as e:  # Fig4Config's own checks, in the option names of the command line
        raise ValueError(re.sub(r"\b(" + "|".join(_OPTIONS) + r")\b", lambda m: _OPTIONS[m.group(1)], str(e))) from None
    validate.one_of_each(cfg.activations, "--activations")
    if cfg.dataset == "cifar10":
        path = cfg.cifar10_path or os.environ.get(data.CIFAR10_ENV)
        if not path or not os.path.exists(path):
            raise ValueError(f"--cifar10: expected a local CIFAR-10 copy (folder or tarball; or ${data.CIFAR10_ENV}), got {path!r}")
    return cfg


def main(args) -> int:
    cfg = config_from_args(args)

    def write(result, folder, overwrite):
        from landscape import plot

        return [result.save(os.path.join(folder, "fig4.npz"), overwrite=overwrite),
                _common.save_figure(plot.figure4(result), os.path.join(folder, "fig4.png"))]

    total = len(cfg.densities) * cfg.max_steps
    _common.run_command(args, "fig4", compute=lambda update: run(cfg, lambda act, done, _: update(act, done),
                                                                 checkpoint_dir=args.out if args.checkpoint else None,
                                                                 overwrite=args.overwrite),
                        write=write, summary=summary, parts=cfg.activations, total=total, unit="step",
                        outputs=["fig4.npz", "fig4.png"],
                        resume=("Checkpoints of every density are in the output folder: rerun the same command to resume "
                                "(a larger --steps with --overwrite continues the densities that stopped at the cap)."
                                if args.checkpoint else "Nothing was kept (without --checkpoint a rerun starts afresh)."))
    return 0
