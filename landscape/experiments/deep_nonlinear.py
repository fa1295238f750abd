"""Figure 4 (Section 6.2): deep sparse non-linear networks, loss and hidden-layer ranks.

5-layer tanh and ReLU nets without bias, d_y = 10, every layer but the last
randomly pruned (then the Appendix-A clean-up) while the final layer stays dense,
so each output keeps ``width ≥ n`` connections (Theorem 5's condition). Data:
the synthetic set of Section 6, scikit-learn's bundled digits (offline default
for images) or CIFAR-10 from a local copy; ``n`` samples with one-hot labels.
Recorded: the loss every ``history_stride`` steps and, at ``segments + 1``
points, the numerical rank (``rtol``, default ``max(h, n)·eps``) and the stable
rank of every hidden layer's output. Plain GD, loss ``"mean"`` (the paper's MSE)
with lr 0.01; ``init_scale = 10`` reproduces the paper's ×10 for CIFAR-10.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Callable, Optional

import numpy as np

from landscape import data, io, masks as masks_lib, nets, ranks, structure, validate
from landscape.experiments import _common


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
      max_steps, segments: GD steps, and rank measurements (at 0 and after each
        of ``segments`` equal pieces).
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
    max_steps: int = 20_000
    segments: int = 20
    learning_rate: float = 0.01
    loss: str = "mean"
    history_stride: int = 100
    seed: int = 0
    dtype: str = "float32"
    rtol: Optional[float] = None

    def scale(self) -> float:
        return float(self.init_scale) if self.init_scale is not None else (10.0 if self.dataset == "cifar10" else 1.0)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "init_scale_used": self.scale()}


PRESETS = {
    "full": Fig4Config(),
    "quick": Fig4Config(densities=(1.0, 0.5, 0.3), width=32, n=32, d_x=8, max_steps=2000, segments=4,
                        learning_rate=0.05, history_stride=50),
}
"""``full``: the paper's sizes (the step count is ours; the paper rescales
epochs). ``quick``: small net for CI (seconds), lr 0.05."""


@dataclasses.dataclass(frozen=True)
class Fig4Run:
    """One activation: arrays have a leading density axis ``k``.

    Attributes:
      history: ``(k, T)`` loss; history_steps ``(T,)``.
      rank_steps: ``(S+1,)``; rank / stable_rank: ``(k, S+1, L−1)``.
      final_loss: ``(k,)``; min_output_connections: ``(k,)`` after clean-up;
      unused_inputs: ``(k,)`` inputs without a path to an output;
      effective_density: ``(k,)`` over the pruned layers after clean-up;
      theorems: per density, the theorems whose conditions hold.
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


_ARRAYS = ("history", "history_steps", "rank_steps", "rank", "stable_rank", "final_loss", "min_output_connections",
           "unused_inputs", "effective_density")


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
                          "final_rank": r.rank[:, -1].tolist(), "theorems": r.theorems} for r in self.runs]}

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
        runs = tuple(Fig4Run(activation=a, theorems=meta["theorems"][a], **{f: arrays[f"{a}__{f}"] for f in _ARRAYS})
                     for a in meta["activations"])
        return cls(runs=runs, densities=arrays["densities"], config=meta["config"], data=meta["data"],
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


def run(cfg: Fig4Config = PRESETS["quick"], progress: Optional[Callable[[str, int, int], None]] = None) -> Fig4Result:
    """Runs Figure 4: every activation, all densities in one program each.

    Args:
      cfg: a ``Fig4Config`` (see ``PRESETS``).
      progress: called with ``(activation, segment, segments)``.
    """
    t0 = time.perf_counter()
    ds = load_data(cfg)
    runs = []
    for act in cfg.activations:
        net = nets.MLP((ds.X.shape[0],) + (cfg.width,) * (cfg.depth - 1) + (ds.Y.shape[0],), act)
        ms = make_masks(cfg, net)
        tr = ranks.train_with_ranks(net, ds.X, ds.Y, masks=_common.stack_masks(ms), n_trials=len(ms), seed=cfg.seed,
                                    segments=cfg.segments, rtol=cfg.rtol, max_steps=cfg.max_steps,
                                    learning_rate=cfg.learning_rate, loss=cfg.loss, history_stride=cfg.history_stride,
                                    init_scale=cfg.scale(), dtype=cfg.dtype,
                                    progress=None if progress is None else (lambda k, s: progress(act, k, s)))
        pruned = [sum(int(m[l]["W"].sum()) for l in range(net.depth - 1)) / sum(m[l]["W"].size for l in range(net.depth - 1))
                  for m in ms]
        runs.append(Fig4Run(
            activation=act, history=np.concatenate([tr.history, tr.loss[:, -1:]], axis=1),
            history_steps=np.append(tr.history_steps, cfg.max_steps), rank_steps=tr.steps, rank=tr.rank,
            stable_rank=tr.stable_rank, final_loss=tr.loss[:, -1],
            min_output_connections=np.array([int(m[-1]["W"].sum(axis=1).min()) for m in ms]),
            unused_inputs=np.array([int((~structure.effective_neurons(m)[0]).sum()) for m in ms]),
            effective_density=np.array(pruned),
            theorems=[structure.structure_report(net, ds.X, m).applicable() for m in ms]))
    return Fig4Result(runs=tuple(runs), densities=np.array(cfg.densities), config=cfg.to_dict(), data=ds.to_dict() | {"indices": None},
                      wall_time=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_preset_arguments(p, "fig4")
    p.add_argument("--dataset", choices=data.DATASETS, help="default: synthetic")
    p.add_argument("--cifar10", metavar="PATH", help=f"local CIFAR-10 copy (folder or tarball); else ${data.CIFAR10_ENV}")
    p.add_argument("--init-scale", type=_common.positive_arg, help="factor on the default init (default 10 for cifar10, else 1)")
    p.add_argument("--activations", nargs="+", type=_common.activation_arg, help="default: tanh relu")
    p.add_argument("--segments", type=_common.count_arg(1), help="rank measurements (a divisor of the steps)")


def summary(result: Fig4Result) -> str:
    """One line per activation and density: final loss, ranks, stable ranks, output connections."""
    n = result.config["n"]
    return "\n".join(
        f"fig4 {r.activation} density {d:g} (effective {r.effective_density[i]:.3f}): loss {r.final_loss[i]:.3e}, "
        f"ranks {r.rank[i, -1].tolist()} (n = {n}), stable ranks {np.round(r.stable_rank[i, -1].astype(float), 1).tolist()}, "
        f"min output connections {r.min_output_connections[i]}"
        for r in result.runs for i, d in enumerate(result.densities))


def main(args) -> int:
    cfg = PRESETS[args.preset or "full"]
    over = {"seed": args.seed, "dtype": args.dtype}
    for name, key in (("dataset", "dataset"), ("cifar10", "cifar10_path"), ("init_scale", "init_scale"),
                      ("steps", "max_steps"), ("segments", "segments")):
        if getattr(args, name) is not None:
            over[key] = getattr(args, name)
    if args.cifar10 and args.dataset is None:
        over["dataset"] = "cifar10"
    if args.activations:
        over["activations"] = tuple(args.activations)
    cfg = dataclasses.replace(cfg, **over)
    validate.one_of_each(cfg.activations, "--activations")
    if cfg.max_steps % cfg.segments:  # checked here, before the data are loaded
        raise ValueError(f"--segments: expected a divisor of the steps ({cfg.max_steps}), got {cfg.segments}")
    if cfg.dataset == "cifar10":
        path = cfg.cifar10_path or os.environ.get(data.CIFAR10_ENV)
        if not path or not os.path.exists(path):
            raise ValueError(f"--cifar10: expected a local CIFAR-10 copy (folder or tarball; or ${data.CIFAR10_ENV}), got {path!r}")

    def write(result, folder, overwrite):
        from landscape import plot

        return [result.save(os.path.join(folder, "fig4.npz"), overwrite=overwrite),
                _common.save_figure(plot.figure4(result), os.path.join(folder, "fig4.png"))]

    _common.run_command(args, "fig4", compute=lambda update: run(cfg, lambda act, k, s: update(act, k)), write=write,
                        summary=summary, parts=cfg.activations, total=cfg.segments, unit="segment",
                        outputs=["fig4.npz", "fig4.png"], resume="Nothing was kept (fig4 keeps no checkpoint; a rerun starts afresh).")
    return 0
