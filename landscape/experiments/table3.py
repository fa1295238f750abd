"""Table 3: where gradient descent ends on the sparse-sparse net of Eq. (3).

The network of Section 6.3: ``X = I₃``, ``Y = [[1,1,0],[2,8,0],[0,0,2]]``,
first-layer mask ``[[1,1,0],[0,1,1]]``, final-layer mask ``[[1,0],[1,1],[0,1]]``,
no bias; 100 trials per activation of plain gradient descent (lr 0.01, up to
50,000 steps) from PyTorch's default initialisation. Every trial's end point
is labelled by ``theory.theorem6_labels`` (with this config's tolerances) and the
distinct solutions are counted.

Example:
  >>> res = run_table3(Table3Config(n_trials=100))
  >>> print(res.format_table())
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import time
from typing import Callable, Optional

import jax
import numpy as np
from scipy import stats

from landscape import curvature, distributed, io, nets, solutions, trials, validate
from landscape.experiments import _common
from landscape.theory import THEOREM6_LABELS as LABELS
from landscape.theory import Theorem6, theorem6_global_min, theorem6_labels, w_from_params
from landscape.verdicts import Evidence

ACTIVATIONS = ("shifted_sigmoid", "tanh", "leaky_relu", "elu", "relu")

PAPER = {
    "shifted_sigmoid": {"global": 5, "valley": 95},
    "tanh": {"global": 1, "valley": 99},
    "leaky_relu": {"global": 55, "valley": 45},
    "elu": {"global": 33, "valley": 67},
    "relu": {"global": 5, "valley": 7, "n_solutions": 11, "solution_counts": [17, 15, 5, 19, 6, 6, 6, 8, 7, 7, 4]},
}
"""The paper's Table 3 (100 trials each): boxed = valley, bold = global."""

LABEL_EVIDENCE = Evidence.SAMPLED
"""Table 3's labels are tolerance bands checked at each trained end point (one sample of the
claim "this trial ended in the valley / at the global minimum")."""


@dataclasses.dataclass(frozen=True)
class Table3Config:
    """Settings; the defaults are the paper's.

    Attributes:
      activations: activation names (any from ``landscape.ACTIVATIONS``).
      n_trials: trials per activation.
      learning_rate, max_steps, loss, dtype, seed: as in ``trials.TrainConfig``.
        ``loss="half_sum"`` is Eq. (1); ``"mean"`` is PyTorch's MSE (= half_sum · 2/9
        here, so the same learning rate takes 4.5× smaller steps).
      gtol: a trial stops once ‖∇L‖₂ ≤ gtol (in the units of ``loss``).
      y: the targets (y1, y2, y3, y4) of Eq. (3).
      global_tol, valley_w4_tol, valley_tol, grad_tol: the tolerances of
        ``theory.theorem6_labels`` (whose defaults are these; ½-sum units):
        ``global`` |L − L*| ≤ global_tol; ``valley`` |w4| ≤ valley_w4_tol and
        y4²/2 − global_tol ≤ L ≤ y4²/2 + valley_tol; ``other`` ‖∇L‖₂ ≤ grad_tol;
        ``unconverged`` otherwise.
      solution_tol: two end points are the same solution when their network
        outputs differ by at most this in every entry (and their losses by at
        most ``solution_tol`` too).
    """

    activations: tuple = ACTIVATIONS
    n_trials: int = 100
    learning_rate: float = 0.01
    max_steps: int = 50_000
    loss: str = "half_sum"
    dtype: str = "float32"
    seed: int = 0
    gtol: float = 1e-5
    y: tuple = (1.0, 2.0, 6.0, 2.0)
    global_tol: float = 1e-3
    valley_w4_tol: float = 1e-2
    valley_tol: float = 0.05
    grad_tol: float = 1e-3
    solution_tol: float = 0.05

    def __post_init__(self):
        set_ = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - frozen: the validated values
        if isinstance(self.activations, str):
            raise TypeError(f"activations: expected a sequence of names such as ('tanh', 'relu'), got {self.activations!r} (a str)")
        set_("activations", validate.one_of_each(self.activations, "activations"))
        for a in self.activations:
            nets.MLP((3, 2, 3), a)  # raises on an unknown name
        set_("n_trials", validate.integer(self.n_trials, "n_trials", low=1))
        set_("seed", validate.seed(self.seed))
        if isinstance(self.y, (str, bytes)) or not hasattr(self.y, "__len__") or len(self.y) != 4:
            raise ValueError(f"y: expected the four targets (y1, y2, y3, y4) of Eq. (3), got {validate.got(self.y)}")
        set_("y", tuple(validate.real(v, f"y: y{i}") for i, v in enumerate(self.y, 1)))
        for name in ("global_tol", "valley_w4_tol", "valley_tol", "grad_tol", "solution_tol"):
            set_(name, validate.nonnegative(getattr(self, name), name))
        Theorem6(*self.y).check()
        self.train_config()  # validates learning rate, steps, loss, dtype

    def train_config(self) -> trials.TrainConfig:
        return trials.TrainConfig(learning_rate=self.learning_rate, max_steps=self.max_steps, loss=self.loss,
                                  dtype=self.dtype, gtol=self.gtol, chunk_steps=5_000, history_stride=500)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["activations"] = list(self.activations)
        d["y"] = list(self.y)
        d["optimizer"] = "gradient descent (optax.sgd)"
        d["init"] = "PyTorch default U(-1/sqrt(fan_in), 1/sqrt(fan_in))"
        return d


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple:
    """Wilson score interval of a binomial proportion ``k/n``."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def distinct_solutions(cfg: Table3Config, net, params, labels: np.ndarray, loss_half: np.ndarray,
                       grad_half: np.ndarray) -> list:
    """The distinct solutions among the end points.

    All ``global`` points are one solution and all ``valley`` points another
    (each a connected set of minimisers); ``other`` points are grouped by
    ``solutions.group_solutions`` (network outputs within ``solution_tol`` in
    every entry, losses within ``solution_tol``). Unconverged and diverged
    points are left out.

    Returns:
      Dicts ``{"loss", "count", "label", "members", "representative"}`` sorted
      by loss; the representative is the member with the smallest gradient.
    """
    thm = Theorem6(*cfg.y)
    groups = [np.flatnonzero(labels == lab) for lab in ("global", "valley")]
    other = np.flatnonzero(labels == "other")
    if other.size:
        sub = jax.tree.map(lambda p: np.asarray(p)[other], params)
        g = solutions.group_solutions(net, sub, thm.X, thm.Y, thm.masks(), out_tol=cfg.solution_tol,
                                      loss_tol=cfg.solution_tol, loss=cfg.loss, dtype=np.asarray(loss_half).dtype
                                      if jax.config.read("jax_enable_x64") else np.float32)
        groups += [other[g.group == k] for k in range(g.n_groups)]
    out = []
    for m in groups:
        if m.size:
            out.append({"loss": float(np.median(loss_half[m])), "count": int(m.size), "label": str(labels[m[0]]),
                        "members": m.tolist(), "representative": int(m[np.argmin(grad_half[m])])})
    return sorted(out, key=lambda s: s["loss"])


def curvature_labels(cfg: Table3Config, activation: str, params, sols: list, *, gtol: float = 1e-3,
                     eig_atol: float = 1e-4) -> list:
    """Adds ``"curvature"`` (``curvature.classify_critical_point`` at the representative: not
    critical / saddle / flat minimum / degenerate / strict minimum, with its number of flat
    directions; exact 8×8 Hessian on the free weights) and ``"curvature_evidence"`` to every solution.
    Tolerances: gradient ≤ ``gtol``; an eigenvalue is zero when ≤ ``eig_atol``.
    The Hessian does not see ReLU's kinks: read ReLU labels with that in mind.

    Returns:
      New solution dicts (``sols`` is left as it is) with ``"curvature"`` and ``"n_flat"``."""
    thm = Theorem6(*cfg.y)
    net = thm.net(activation)
    dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
    f, space = curvature.masked_objective(net, thm.X, thm.Y, thm.masks(), loss="half_sum", dtype=dtype)
    out = []
    for s in sols:
        p = jax.tree.map(lambda a: np.asarray(a, dtype)[s["representative"]], params)
        c = curvature.classify_critical_point(f, space.flatten(nets.apply_masks(p, space.masks), check=False), gtol=gtol,
                                              eig_atol=eig_atol)
        out.append({**s, "curvature": c.label, "curvature_evidence": c.evidence,
                    "n_flat": int(c.to_dict().get("n_flat") or 0)})
    return out


def with_curvature(result: "Table3Result", **kwargs) -> "Table3Result":
    """``result`` with every distinct solution labelled by ``curvature_labels`` (a new result)."""
    cfg = result.config
    results = {a: dataclasses.replace(r, solutions=curvature_labels(cfg, a, r.trials.params, r.solutions, **kwargs))
               for a, r in result.results.items()}
    return dataclasses.replace(result, results=results)


DENOMINATORS = ("all", "non-diverged")
"""What a fraction is of: ``"all"`` trials (diverged ones included), or the ``"non-diverged"`` ones."""


@dataclasses.dataclass(frozen=True)
class ActivationResult:
    """One activation's trials and their classification."""

    activation: str
    trials: trials.TrialsResult
    labels: np.ndarray
    loss_half: np.ndarray
    solutions: list
    seconds: float

    @property
    def counts(self) -> dict:
        return {lab: int(np.sum(self.labels == lab)) for lab in LABELS}

    def denominator(self, which: str = "all") -> int:
        """The number of trials a fraction is of: all of them, or the non-diverged ones."""
        validate.choice(which, "denominator", DENOMINATORS)
        n = self.trials.n_trials
        return n if which == "all" else n - self.counts["diverged"]

    def fractions(self, which: str = "all") -> dict:
        """``label -> (fraction, (wilson_lo, wilson_hi))`` over ``denominator(which)`` trials.

        Over the non-diverged trials, ``diverged`` is left out; when every trial diverged the
        fractions are NaN and the intervals ``(nan, nan)`` (there is nothing to divide by).
        """
        n = self.denominator(which)
        out = {}
        for lab, k in self.counts.items():
            if which == "non-diverged" and lab == "diverged":
                continue
            out[lab] = (k / n, wilson(k, n)) if n else (float("nan"), (float("nan"), float("nan")))
        return out

    def to_dict(self) -> dict:
        n, m = self.trials.n_trials, self.denominator("non-diverged")
        counts = self.counts
        all_, nd = self.fractions("all"), self.fractions("non-diverged")
        return {"n_trials": n, "counts": counts,
                "fractions": {k: v[0] for k, v in all_.items()},
                "fractions_denominator": f"all {n} trials, diverged ones included",
                "wilson95": {k: list(v[1]) for k, v in all_.items()},
                "n_non_diverged": m,
                "fractions_non_diverged": {k: v[0] for k, v in nd.items()},
                "fractions_non_diverged_denominator": f"the {m} trials that did not diverge",
                "wilson95_non_diverged": {k: list(v[1]) for k, v in nd.items()},
                "n_solutions": len(self.solutions),
                "solutions": [{k: v for k, v in s.items() if k != "members"} for s in self.solutions],
                "engine_status": self.trials.status_counts(), "seconds": self.seconds,
                "paper": PAPER.get(self.activation)}


def format_columns(header: list, rows: list, *, left: int = 1) -> list:
    """Lines of a text table whose columns stay aligned whatever the widths (counts up to 10^6
    and beyond): each column is as wide as its widest cell; the first ``left`` columns are
    left-aligned, the others right-aligned; two spaces between columns."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    fmt = lambda cells: "  ".join(f"{str(c):<{w}}" if j < left else f"{str(c):>{w}}"  # noqa: E731
                                  for j, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [fmt(header)] + [fmt(r) for r in rows]


@dataclasses.dataclass(frozen=True)
class Table3Result:
    """The whole table: config, global minimum, per-activation results."""

    config: Table3Config
    global_min: float
    results: dict

    def to_dict(self) -> dict:
        return {"config": self.config.to_dict(), "global_min": {a: self.global_min for a in self.results},
                "global_min_note": "L* = sigma_min([[y1,y1],[y2,y2+y3]])^2/2 (half_sum units), from theory.theorem6_global_min",
                "valley_loss": Theorem6(*self.config.y).valley_loss,
                "activations": {a: r.to_dict() for a, r in self.results.items()},
                "versions": io.versions()}

    def save(self, folder: str, *, overwrite: bool = False) -> dict:
        """Writes ``table3.json`` and one ``trials_<act>.npz`` per activation into ``folder``.

        Files of other settings are refused unless ``overwrite`` (see ``landscape.io``).
        The figure: ``landscape.plot.table3(result)``.

        Returns:
          ``{"json": path, <activation>: path, ...}``.
        """
        folder = _common.output_folder(folder)
        paths = {"json": os.path.join(folder, "table3.json")}
        for a, r in self.results.items():
            paths[a] = r.trials.save(os.path.join(folder, f"trials_{a}.npz"), overwrite=overwrite)
        io.write_json(paths["json"], self.to_dict(), overwrite=overwrite)
        return paths

    def format_table(self, denominator: str = "all") -> str:
        """The table as text, beside the paper's numbers.

        Args:
          denominator: fractions over ``"all"`` trials (diverged ones included) or over the
            ``"non-diverged"`` ones; the table says which, and gives the denominator per row
            (column ``of``). Columns are as wide as their widest entry.
        """
        validate.choice(denominator, "denominator", DENOMINATORS)
        cfg = self.config
        lines = [f"Table 3 -- {cfg.n_trials} trials per activation, GD lr={cfg.learning_rate}, <= {cfg.max_steps} steps, "
                 f"loss={cfg.loss}, {cfg.dtype}, seed={cfg.seed}",
                 f"global minimum L* = {self.global_min:.6f}, valley loss y4^2/2 = {Theorem6(*cfg.y).valley_loss:g} (half_sum units)"]
        if denominator == "all":
            lines.append("fractions: % of all trials of the activation, diverged ones included (column 'of')")
        else:
            lines.append("fractions: % of the trials that did not diverge (column 'of'); diverged trials are counted apart")
        header = ["activation", "of", "global", "global %  [95% CI]", "valley", "valley %  [95% CI]", "other", "unconv",
                  "diverg", "#sol", "paper g/v", "time"]
        pct = lambda f: "-" if not np.isfinite(f[0]) else f"{100 * f[0]:.1f}  [{100 * f[1][0]:.1f}, {100 * f[1][1]:.1f}]"  # noqa: E731
        rows = []
        for a, r in self.results.items():
            c, fr = r.counts, r.fractions(denominator)
            p = PAPER.get(a)
            rows.append([a, r.denominator(denominator), c["global"], pct(fr["global"]), c["valley"], pct(fr["valley"]),
                         c["other"], c["unconverged"], c["diverged"], len(r.solutions),
                         f"{p['global']}/{p['valley']}" if p else "-", f"{r.seconds:.2f}s"])
        lines += format_columns(header, rows)
        lines.append("[95% CI]: Wilson score interval of the fraction. paper: the paper's counts out of 100.")
        lines.append(f"labels [{LABEL_EVIDENCE}]: tolerance bands at each trained end point (theory.theorem6_labels: "
                     f"global |L - L*| <= {cfg.global_tol:g}; valley |w4| <= {cfg.valley_w4_tol:g} and L in "
                     f"[y4^2/2 - {cfg.global_tol:g}, y4^2/2 + {cfg.valley_tol:g}]); a 'valley' end point is near the "
                     "Theorem 6 valley, not proved to lie in it (theory.certify_valley checks a point)")
        n_div = sum(r.counts["diverged"] for r in self.results.values())
        if n_div and denominator == "all":
            lines.append(f"{n_div} trials diverged; fractions of the non-diverged trials: format_table('non-diverged'), "
                         "--denominator non-diverged, or 'fractions_non_diverged' in table3.json")
        for a, r in self.results.items():
            if len(r.solutions) > 2 or any("curvature" in s for s in r.solutions):
                sol = ", ".join(f"{s['count']}x L={s['loss']:.4g} ({s['label']}"
                                + (f"; {s['curvature']} [{s.get('curvature_evidence', 'sampled')}]"
                                   + (f", {s['n_flat']} flat" if s["n_flat"] else "") if "curvature" in s else "")
                                + ")" for s in r.solutions)
                lines.append(f"{a} distinct solutions ({len(r.solutions)}): {sol}")
        if "relu" in self.results:
            lines.append(f"paper, relu: {PAPER['relu']['n_solutions']} distinct solutions with counts {PAPER['relu']['solution_counts']}")
        return "\n".join(lines)


def run_activation(cfg: Table3Config, activation: str, global_min: float,
                   progress: Optional[Callable[[dict], None]] = None, checkpoint: Optional[str] = None,
                   overwrite: bool = False) -> ActivationResult:
    """Runs and classifies the trials of one activation (``checkpoint``, ``overwrite``: as ``trials.train``)."""
    thm = Theorem6(*cfg.y)
    net = thm.net(activation)
    t0 = time.perf_counter()
    res = trials.train(net, thm.X, thm.Y, masks=thm.masks(), n_trials=cfg.n_trials, seed=cfg.seed,
                       config=cfg.train_config(), progress=progress, checkpoint=checkpoint, overwrite=overwrite)
    seconds = time.perf_counter() - t0
    scale = 1.0 if cfg.loss == "half_sum" else thm.Y.size / 2.0  # mean -> half_sum units
    loss_half = res.loss.astype(np.float64) * scale
    grad_half = res.grad_norm.astype(np.float64) * scale
    w = w_from_params(jax.tree.map(np.asarray, res.params)).astype(np.float64)
    labels = theorem6_labels(thm, w, loss_half, grad_half, diverged=res.status == trials.DIVERGED, global_min=global_min,
                             global_tol=cfg.global_tol, valley_w4_tol=cfg.valley_w4_tol, valley_tol=cfg.valley_tol,
                             grad_tol=cfg.grad_tol)
    sols = distinct_solutions(cfg, net, res.params, labels, loss_half, grad_half)
    return ActivationResult(activation, res, labels, loss_half, sols, seconds)


def run_table3(cfg: Table3Config = Table3Config(), progress: Optional[Callable[[str, dict], None]] = None,
               workers: Optional[int] = None, checkpoint_dir: Optional[str] = None, overwrite: bool = False) -> Table3Result:
    """Runs every activation (in parallel threads: their compilations and runs overlap).

    Args:
      cfg: the settings.
      progress: called as ``progress(activation, info)`` after every chunk of steps.
      workers: threads (default: number of CPUs, at most one per activation; 1 in a
        multi-process run, whose collectives must come in the same order on every process).
      checkpoint_dir: if set, each activation checkpoints to
        ``<dir>/ckpt_<activation>.npz`` and a rerun resumes (several processes: one shard
        per process, ``ckpt_<activation>.p<I>of<N>.npz``, and ``ckpt_<activation>.manifest.npz``).
      overwrite: set aside checkpoints written by other settings instead of refusing them.
    """
    global_min, _ = theorem6_global_min(Theorem6(*cfg.y))
    workers = workers or min(len(cfg.activations), os.cpu_count() or 1)
    if distributed.splits_work():  # collectives pair up in call order: one activation after another
        workers = 1

    def one(a):
        hook = (lambda info: progress(a, info)) if progress is not None else None
        ck = os.path.join(checkpoint_dir, f"ckpt_{a}.npz") if checkpoint_dir else None
        return run_activation(cfg, a, global_min, hook, ck, overwrite)

    if workers <= 1:
        results = [one(a) for a in cfg.activations]
    else:
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            results = list(ex.map(one, cfg.activations))
    return Table3Result(cfg, global_min, {r.activation: r for r in results})


# ----------------------------------------------------------------------------- CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Table3Config()
    p.add_argument("--trials", type=_common.count_arg(1), default=d.n_trials, help="trials per activation (default %(default)s)")
    p.add_argument("--steps", type=_common.count_arg(1), default=d.max_steps, help="max GD steps (default %(default)s)")
    p.add_argument("--lr", type=_common.positive_arg, default=d.learning_rate, help="learning rate (default %(default)s)")
    p.add_argument("--loss", choices=nets.LOSSES, default=d.loss, help="half_sum = Eq. (1); mean = PyTorch MSELoss")
    p.add_argument("--activations", type=_common.activation_list, default=",".join(d.activations),
                   help="comma-separated names (default: the paper's five)")
    p.add_argument("--seed", type=_common.seed_arg, default=d.seed, help="root seed, an integer in [0, 2**32)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=d.dtype)
    p.add_argument("--checkpoint", action="store_true",
                   help="checkpoint into the output folder after every chunk of steps; the same command resumes (also after Ctrl-C)")
    p.add_argument("--curvature", action="store_true",
                   help="label each distinct solution by its Hessian: saddle / flat minimum (n flat directions) / strict minimum")
    p.add_argument("--denominator", choices=DENOMINATORS, default="all",
                   help="fractions printed over all trials (default) or over the non-diverged ones (the JSON holds both)")
    _common.add_output_arguments(p, "results/table3", "table3.json, table3.png, trials_<activation>.npz")


def main(args) -> int:
    cfg = Table3Config(activations=tuple(args.activations), n_trials=args.trials, max_steps=args.steps,
                       learning_rate=args.lr, loss=args.loss, seed=args.seed, dtype=args.dtype)
    outputs = ["table3.json", "table3.png", *(f"{p}_{a}.npz" for a in cfg.activations for p in ("trials", "ckpt", "ckpt.manifest"))]
    if args.checkpoint:
        resume = (f"Checkpoints of the completed chunks of steps are in {os.path.join(args.out, 'ckpt_<activation>.npz')} "
                  "(several processes: ckpt_<activation>.p<I>of<N>.npz; the chunk in flight is lost).")
    else:
        resume = "Nothing was kept (run with --checkpoint to make a run resumable)."

    def compute(update):
        res = run_table3(cfg, progress=_common.train_progress(update),
                         checkpoint_dir=args.out if args.checkpoint else None, overwrite=args.overwrite)
        return with_curvature(res) if args.curvature else res

    def write(res, folder, overwrite):
        from landscape import plot

        paths = res.save(folder, overwrite=overwrite)
        return [*paths.values(), _common.save_figure(plot.table3(res), os.path.join(folder, "table3.png"))]

    _common.run_command(args, "table3", compute=compute, write=write,
                        summary=lambda res: res.format_table(denominator=args.denominator),
                        parts=cfg.activations, total=cfg.max_steps, outputs=outputs, resume=resume)
    return 0
