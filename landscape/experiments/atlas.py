"""The landscape atlas: every sparse structure of a one-hidden-layer net, mapped and checked against the theorems.

For each structure (masks modulo the problem's symmetries, cleaned by Appendix A, effective) and
each activation: N gradient-descent trials in one compiled program, P(global) with a Wilson
interval, the distinct other end points with evidence (strict minimum, valley -- proved by
Theorem 6 or a candidate --, saddle, unconverged, diverged), a connectivity search for every
candidate, and a loud report of any contradiction with Theorems 1-5. See docs/atlas.md.

Example:
  landscape atlas --quick
  landscape atlas --dx 3 --p 2 --dy 3 --activations tanh --trials 1000 --out results/atlas
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from landscape import atlas, nets
from landscape.experiments import _common

QUICK_TRIALS = 100
QUICK_STEPS = 10_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = atlas.AtlasConfig()
    p.add_argument("--dx", type=_common.count_arg(1), default=d.sizes[0], help="inputs d_x (default %(default)s)")
    p.add_argument("--p", type=_common.count_arg(1), default=d.sizes[1], help="hidden width p (default %(default)s)")
    p.add_argument("--dy", type=_common.count_arg(1), default=d.sizes[2], help="outputs d_y (default %(default)s)")
    p.add_argument("--activations", type=_common.activation_list, default=",".join(d.activations),
                   help="comma-separated names (default %(default)s)")
    p.add_argument("--trials", type=_common.count_arg(1), default=None,
                   help=f"trials per structure and activation (default {d.n_trials}; {QUICK_TRIALS} with --quick)")
    p.add_argument("--steps", type=_common.count_arg(1), default=None,
                   help=f"max GD steps (default {d.max_steps}; {QUICK_STEPS} with --quick)")
    p.add_argument("--lr", type=_common.positive_arg, default=d.learning_rate, help="learning rate (default %(default)s)")
    p.add_argument("--seed", type=_common.seed_arg, default=d.seed, help="root seed, an integer in [0, 2**32)")
    p.add_argument("--quick", action="store_true",
                   help="a subset: Eq. (3)'s structure (Table 3 data), the dense ones and two of each of SD, SS, DS")
    p.add_argument("--data", default="table3",
                   help="table3 (X = I3 and Eq. (3)'s Y, the default), random (standard normal, --n samples, "
                        "--data-seed), or a .npz file holding arrays X (d_x, n) and Y (d_y, n)")
    p.add_argument("--n", type=_common.count_arg(1), default=4, help="samples of --data random (default %(default)s)")
    p.add_argument("--data-seed", type=_common.seed_arg, default=0, help="seed of --data random")
    p.add_argument("--sample", type=_common.count_arg(1), default=None,
                   help="draw this many random mask pairs instead of all (needed above 2^16 pairs)")
    p.add_argument("--checkpoint", action="store_true",
                   help="checkpoint the trials into the output folder after every chunk of steps; the same command resumes")
    _common.add_output_arguments(p, "results/atlas", "atlas.json, atlas_p_global.png, atlas_spurious.png, trials_<act>.npz")


def load_data(args) -> tuple:
    """``(X, Y, label)`` from ``--data`` (checked against ``--dx``/``--dy`` before any run)."""
    sizes = (args.dx, args.p, args.dy)
    if args.data == "table3":
        if (args.dx, args.dy) != (3, 3):
            raise ValueError(f"--data: table3's data have d_x = d_y = 3, got --dx {args.dx} --dy {args.dy}; use "
                             "--data random or a .npz file")
        X, Y = atlas.table3_data()
        return X, Y, "table3"
    if args.data == "random":
        X, Y = atlas.random_data(sizes, args.n, args.data_seed)
        return X, Y, "random"
    if not args.data.endswith(".npz"):
        raise ValueError(f"--data: expected table3, random or a .npz file, got {args.data!r}")
    if not os.path.isfile(args.data):
        raise FileNotFoundError(f"--data: no such file {args.data!r}")
    with np.load(args.data) as f:
        if "X" not in f or "Y" not in f:
            raise ValueError(f"--data: {args.data} must hold arrays named X (d_x, n) and Y (d_y, n), got {sorted(f.files)}")
        X, Y = np.asarray(f["X"], np.float64), np.asarray(f["Y"], np.float64)
    nets.check_data(nets.MLP(sizes, "linear"), X, Y)
    return X, Y, "user"


def main(args) -> int:
    sizes = (args.dx, args.p, args.dy)
    X, Y, label = load_data(args)
    n_trials = args.trials or (QUICK_TRIALS if args.quick else atlas.AtlasConfig().n_trials)
    steps = args.steps or (QUICK_STEPS if args.quick else atlas.AtlasConfig().max_steps)
    cfg = atlas.AtlasConfig(sizes=sizes, activations=tuple(args.activations), n_trials=n_trials, max_steps=steps,
                            learning_rate=args.lr, seed=args.seed, sample=args.sample, data=label)
    n_bits = args.p * (args.dx + args.dy)
    if args.sample is None and 2**n_bits > atlas.MAX_EXHAUSTIVE:
        raise ValueError(f"--sample: the net {sizes} has 2^{n_bits} mask pairs (more than {atlas.MAX_EXHAUSTIVE}); "
                         "pass --sample N to draw N random mask pairs")
    outputs = ["atlas.json", "atlas_p_global.png", "atlas_spurious.png",
               *(f"{p}_{a}.npz" for a in cfg.activations for p in ("trials", "ckpt"))]
    resume = (f"Checkpoints of the completed chunks of steps are in {os.path.join(args.out, 'ckpt_<activation>.npz')}."
              if args.checkpoint else "Nothing was kept (run with --checkpoint to make a run resumable).")

    def compute(update):
        enums = {a: atlas.enumerate_structures(sizes, X, Y, a, sample=cfg.sample, seed=cfg.seed) for a in cfg.activations}
        run_cfg = cfg
        if args.quick:
            subset = sorted(set().union(*(atlas.quick_structures(e) for e in enums.values())))
            n_min = min(len(e.structures) for e in enums.values())
            run_cfg = atlas.AtlasConfig(**{**cfg.__dict__, "structures": tuple(i for i in subset if i < n_min)})
        return atlas.run_atlas(run_cfg, X, Y, progress=_common.train_progress(update), enumerations=enums,
                               checkpoint_dir=args.out if args.checkpoint else None, overwrite=args.overwrite)

    def write(res, folder, overwrite):
        from landscape import plot

        paths = res.save(folder, overwrite=overwrite)
        return [*paths.values(),
                _common.save_figure(plot.atlas_p_global(res), os.path.join(folder, "atlas_p_global.png")),
                _common.save_figure(plot.atlas_spurious(res), os.path.join(folder, "atlas_spurious.png"))]

    _common.run_command(args, "atlas", compute=compute, write=write, summary=lambda res: res.format_table(),
                        parts=cfg.activations, total=steps, outputs=outputs, resume=resume)
    return 0
