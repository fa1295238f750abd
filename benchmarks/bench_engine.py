"""Engine choices on CPU: how many trials to vmap together, and tiny-layer matmuls.

    python benchmarks/bench_engine.py [--steps 10000] [--repeats 3]

Times ``trials.train`` on the Table 3 tanh net (8 weights) for several
``batch_size`` values (trials vmapped together; the rest looped with
``lax.map``) with ``n_trials == batch_size``, once with the broadcast
multiply-sum used for tiny layers and once with a plain batched ``W @ h``.
Compiled beforehand; medians of the repeats, in ns per trial-step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from landscape import nets, trials
from landscape.theory import Theorem6


def ns_per_trial_step(n: int, steps: int, repeats: int) -> float:
    thm = Theorem6()
    cfg = trials.TrainConfig(max_steps=steps, gtol=0.0, chunk_steps=steps, history_stride=steps)
    kw = dict(masks=thm.masks(), n_trials=n, config=cfg, batch_size=n)
    trials.train(thm.net("tanh"), thm.X, thm.Y, **kw)  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        trials.train(thm.net("tanh"), thm.X, thm.Y, **kw)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / (n * steps) * 1e9


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sizes", default="16,64,128,200,256,512,1024")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {}
    for label, small in (("broadcast multiply-sum", nets._SMALL_MATMUL), ("batched W @ h", 0)):
        nets._SMALL_MATMUL = small
        trials._programs.cache_clear()
        rows[label] = [ns_per_trial_step(n, args.steps, args.repeats) for n in sizes]
    print(f"Command: `python benchmarks/bench_engine.py --steps {args.steps} --repeats {args.repeats}`\n")
    print("| trials vmapped together | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for i, n in enumerate(sizes):
        print(f"| {n} | " + " | ".join(f"{v[i]:.1f}" for v in rows.values()) + " |")
    print("\n(ns per trial-step, medians)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
