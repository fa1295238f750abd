"""Figure 3 (Section 6.1): deep sparse *linear* networks reach the global minimum.

Two panels, 5-layer linear nets without bias, PyTorch default init, plain GD:
  (a) d_y = 10, only the first layer sparse, with over-parameterised patterns
      (p_i ≥ d_i for every Eq. (2) pattern; Theorem 2, condition 1);
  (b) d_y = 1, every layer randomly pruned at the same rate, then the Appendix-A
      clean-up (Theorem 2, condition 2).
Plotted: L(θ_t) − L* on a log scale, L* from least squares (``data.least_squares_loss``
on the inputs that keep a path to an output). All densities of a panel train in
one compiled program (masks are data: a leading trial axis).

Loss convention: ``"mean"`` (the paper's MSE, PyTorch ``MSELoss``) with lr 0.01.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Callable, Optional

import numpy as np

from landscape import data, io, masks as masks_lib, nets, structure, trials
from landscape.experiments import _common


@dataclasses.dataclass(frozen=True)
class Fig3Config:
    """Settings of Figure 3 (hashable).

    Attributes:
      width, depth: hidden width and number of weight layers (paper: 400, 5).
      n, d_x: samples and input dimension (paper: 400, 100).
      densities_a: first-layer densities of panel (a) (1.0 = dense).
      densities_b: densities of every layer in panel (b).
      max_steps, learning_rate, loss: GD settings (paper: lr 0.01, MSE).
      history_stride: record the loss every this many steps.
      seed: data, masks and init seed. dtype: ``"float32"`` or ``"float64"``.
    """

    width: int = 400
    depth: int = 5
    n: int = 400
    d_x: int = 100
    densities_a: tuple = (1.0, 0.5, 0.2, 0.1)
    densities_b: tuple = (1.0, 0.5, 0.2, 0.1)
    max_steps: int = 20_000
    learning_rate: float = 0.01
    loss: str = "mean"
    history_stride: int = 100
    seed: int = 0
    dtype: str = "float32"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS = {
    "full": Fig3Config(),
    "quick": Fig3Config(width=32, n=32, d_x=8, densities_a=(1.0, 0.5, 0.25), densities_b=(1.0, 0.5, 0.3),
                        max_steps=6000, learning_rate=0.015, history_stride=50),
}
"""``full``: the paper's sizes (the number of steps is ours: the paper does not
state it). ``quick``: a small net for CI (seconds), lr 0.015."""


@dataclasses.dataclass(frozen=True)
class Fig3Panel:
    """One panel: arrays have a leading density axis.

    Attributes:
      densities: requested densities; effective_density: free weights / total
        after clean-up (panel a: of the first layer, panel b: of the net); history: ``(k, T)`` loss; history_steps: ``(T,)``;
        loss_star: ``(k,)`` L*; final_loss: ``(k,)``; theorems: per density,
        the theorems whose conditions hold (``structure_report``).
    """

    d_y: int
    densities: np.ndarray
    effective_density: np.ndarray
    history: np.ndarray
    history_steps: np.ndarray
    loss_star: np.ndarray
    final_loss: np.ndarray
    theorems: list

    @property
    def gap(self) -> np.ndarray:
        """``L(θ_t) − L*``, shape ``(k, T)``."""
        return self.history - self.loss_star[:, None]


@dataclasses.dataclass(frozen=True)
class Fig3Result(io.Saveable):
    a: Fig3Panel
    b: Fig3Panel
    config: dict
    wall_time: float

    def to_dict(self) -> dict:
        return {"config": self.config, "wall_time_s": self.wall_time,
                **{f"{k}_{f}": np.asarray(getattr(getattr(self, k), f)).tolist()
                   for k in ("a", "b") for f in ("densities", "effective_density", "loss_star", "final_loss")},
                "a_theorems": self.a.theorems, "b_theorems": self.b.theorems}

    def _to_file(self) -> tuple:
        arrays = {}
        for k in ("a", "b"):
            p = getattr(self, k)
            for f in ("densities", "effective_density", "history", "history_steps", "loss_star", "final_loss"):
                arrays[f"{k}_{f}"] = np.asarray(getattr(p, f))
        meta = {"config": self.config, "wall_time_s": self.wall_time, "fingerprint": io.fingerprint(self.config),
                "d_y": {"a": self.a.d_y, "b": self.b.d_y}, "theorems": {"a": self.a.theorems, "b": self.b.theorems}}
        return arrays, meta

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "Fig3Result":
        panels = {k: Fig3Panel(d_y=meta["d_y"][k], theorems=meta["theorems"][k],
                               **{f: arrays[f"{k}_{f}"] for f in ("densities", "effective_density", "history",
                                                                  "history_steps", "loss_star", "final_loss")})
                  for k in ("a", "b")}
        return cls(a=panels["a"], b=panels["b"], config=meta["config"], wall_time=meta["wall_time_s"])


def panel_masks(cfg: Fig3Config, panel: str) -> tuple:
    """The masks of a panel, one per density: ``(net, list of masks, effective densities)``.

    Density ``i`` draws its mask from ``_common.case_seed(cfg.seed, i)``."""
    net = nets.MLP((cfg.d_x,) + (cfg.width,) * (cfg.depth - 1) + (10 if panel == "a" else 1,), "linear")
    out, eff = [], []
    for i, dens in enumerate(cfg.densities_a if panel == "a" else cfg.densities_b):
        if panel == "a":
            m = list(nets.dense_masks(net, np.float32))
            if dens < 1.0:
                m[0] = {"W": masks_lib.overparameterized_patterns(_common.case_seed(cfg.seed, i), cfg.width, cfg.d_x, dens)}
            m = tuple(m)
        else:
            m = masks_lib.random_masks(_common.case_seed(cfg.seed, i), net, 1.0 - dens)
            m = structure.effective_masks(net, m).masks
        out.append(m)
        first = m[:1] if panel == "a" else m  # (a): density of the sparse first layer; (b): of the whole net
        eff.append(nets.num_free(first) / sum(np.size(layer["W"]) for layer in first))
    return net, out, np.array(eff)


def run_panel(cfg: Fig3Config, panel: str, progress: Optional[Callable[[dict], None]] = None) -> Fig3Panel:
    net, ms, eff = panel_masks(cfg, panel)
    ds = data.synthetic(cfg.seed, n=cfg.n, d_x=cfg.d_x, d_y=net.sizes[-1])
    res = trials.train(net, ds.X, ds.Y, masks=_common.stack_masks(ms), n_trials=len(ms), seed=cfg.seed, learning_rate=cfg.learning_rate,
                       loss=cfg.loss, max_steps=cfg.max_steps, gtol=0.0, history_stride=cfg.history_stride,
                       chunk_steps=max(cfg.history_stride, cfg.max_steps // 20), dtype=cfg.dtype, progress=progress)
    lstar, thms = [], []
    for m in ms:
        used = structure.effective_neurons(m)[0]
        lstar.append(data.least_squares_loss(ds.X, ds.Y, cfg.loss, inputs=np.flatnonzero(used)))
        thms.append(structure.structure_report(net, ds.X, m).applicable())
    history = np.concatenate([res.history, res.loss[:, None]], axis=1)  # ... and the loss after the last step
    steps = np.append(res.history_steps, cfg.max_steps)
    return Fig3Panel(d_y=net.sizes[-1], densities=np.array(cfg.densities_a if panel == "a" else cfg.densities_b),
                     effective_density=eff, history=history, history_steps=steps, loss_star=np.array(lstar),
                     final_loss=res.loss, theorems=thms)


def run(cfg: Fig3Config = PRESETS["quick"], progress: Optional[Callable[[str, dict], None]] = None) -> Fig3Result:
    """Runs both panels of Figure 3.

    Args:
      cfg: a ``Fig3Config`` (see ``PRESETS``).
      progress: called with ``(panel, info)`` after every chunk of steps.
    """
    t0 = time.perf_counter()
    a = run_panel(cfg, "a", None if progress is None else (lambda i: progress("a", i)))
    b = run_panel(cfg, "b", None if progress is None else (lambda i: progress("b", i)))
    return Fig3Result(a=a, b=b, config={**cfg.to_dict(), "loss_convention": cfg.loss}, wall_time=time.perf_counter() - t0)


# ----------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    _common.add_preset_arguments(p, "fig3")


def summary(result: Fig3Result) -> str:
    """One line per panel and density: the final gap ``L − L*`` and the theorems that apply."""
    lines = []
    for k in ("a", "b"):
        p = getattr(result, k)
        for i, d in enumerate(p.densities):
            lines.append(f"fig3 ({k}) density {d:g} (effective {p.effective_density[i]:.3f}): L - L* = {p.final_loss[i] - p.loss_star[i]:.3e}"
                         f"  [L* = {p.loss_star[i]:.4g}; theorems: {', '.join(p.theorems[i]) or 'none'}]")
    return "\n".join(lines)


def main(args) -> int:
    cfg = PRESETS[args.preset or "full"]
    cfg = dataclasses.replace(cfg, seed=args.seed, dtype=args.dtype, **({"max_steps": args.steps} if args.steps is not None else {}))

    def write(result, folder, overwrite):
        from landscape import plot

        return [result.save(os.path.join(folder, "fig3.npz"), overwrite=overwrite),
                _common.save_figure(plot.figure3(result), os.path.join(folder, "fig3.png"))]

    _common.run_command(args, "fig3", compute=lambda update: run(cfg, _common.train_progress(update)), write=write,
                        summary=summary, parts=("a", "b"), total=cfg.max_steps, outputs=["fig3.npz", "fig3.png"],
                        resume="Nothing was kept (fig3 keeps no checkpoint; a rerun starts afresh).")
    return 0
