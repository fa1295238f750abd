"""Times the 3-2-3 atlas (issue 15): every structure, tanh, N trials each, and the --quick subset.

    python benchmarks/bench_atlas.py --trials 1000          # the full atlas (target <= 15 min on 2 cores)
    python benchmarks/bench_atlas.py --quick                # the --quick subset (target <= 60 s)

Prints the wall time of each phase (enumeration with structure reports, training, classification),
the machine load (1-minute load average, os.getloadavg) before and after, and the summary table.
The time includes compilation (a fresh process; the persistent compilation cache is off).
"""

import argparse
import os
import platform
import sys
import time

t_start = time.perf_counter()
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 analysis (training stays float32)

from landscape import atlas  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=atlas.AtlasConfig().max_steps)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    load0 = os.getloadavg()
    print(f"machine: {platform.machine()} {platform.processor() or ''} nproc={os.cpu_count()} python {sys.version.split()[0]}, "
          f"jax {jax.__version__}, backend {jax.default_backend()}; date {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}", flush=True)
    t0 = time.perf_counter()
    X, Y = atlas.table3_data()
    enum = atlas.enumerate_structures((3, 2, 3), X, Y, "tanh")
    if a.quick:
        cfg = atlas.AtlasConfig(n_trials=100, max_steps=10_000, structures=atlas.quick_structures(enum))
    else:
        cfg = atlas.AtlasConfig(n_trials=a.trials, max_steps=a.steps)
    t1 = time.perf_counter()
    res = atlas.run_atlas(cfg, X, Y, enumerations={"tanh": enum}, checkpoint_dir=a.checkpoint_dir,
                          progress=lambda act, info: print(f"  {act}: trials from {info['trials_done']} "
                                                           f"({info['batch_trials']} in the chunk), step "
                                                           f"{info['steps_done']}, stopped {info['n_stopped']}, "
                                                           f"{time.perf_counter() - t1:.0f} s", flush=True)
                          if info["steps_done"] % 10_000 == 0 or info["n_stopped"] == info["batch_trials"] else None)
    t2 = time.perf_counter()
    load1 = os.getloadavg()
    if a.out:
        res.save(a.out, overwrite=True)
    n_struct = len(res.results)
    print(f"structures: {n_struct}, trials each: {cfg.n_trials}, max steps {cfg.max_steps}")
    print(f"enumeration + structure reports: {t1 - t0:.1f} s; train: {res.seconds['tanh']['train']:.1f} s; "
          f"classify: {res.seconds['tanh']['classify']:.1f} s; atlas total (enumeration to table): {t2 - t0:.1f} s; "
          f"process total incl. imports: {t2 - t_start:.1f} s")
    print(f"load average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}", flush=True)
    print(res.format_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
