"""Table 3 speed: the library against the paper's way (a naive PyTorch loop).

    python benchmarks/bench_table3.py [--repeats 3] [--torch-steps 2000] [--scaling 1000,10000]

1. The full paper Table 3 (5 activations x 100 trials x 50,000 GD steps) through
   ``landscape.experiments.table3.run_table3``, each repeat in a fresh process
   with the persistent compilation cache off ("cold", compilation included),
   and again in the same process ("warm", compiled programs reused).
2. The same work done the paper's way: one trial at a time, a PyTorch
   ``nn.Linear`` pair with masks, ``torch.optim.SGD``, a Python loop over steps;
   timed over ``--torch-steps`` steps per activation and extrapolated to
   5 x 100 x 50,000 steps.
3. Scaling: 1,000 and 10,000 trials of tanh, 50,000 steps (early exit off).

Medians over the repeats; results as Markdown for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

ACTS = ("shifted_sigmoid", "tanh", "leaky_relu", "elu", "relu")

COLD = r"""
import time, json
t0 = time.perf_counter()
import jax
from landscape.experiments import table3
t1 = time.perf_counter()
res = table3.run_table3(table3.Table3Config())
t2 = time.perf_counter()
res2 = table3.run_table3(table3.Table3Config())
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "cold": t2 - t1, "warm": t3 - t2,
                  "counts": {a: r.counts for a, r in res.results.items()}}))
"""


def time_library(repeats: int) -> dict:
    env = dict(os.environ, LANDSCAPE_CACHE="off")
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", COLD], capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: float(np.median([r[k] for r in runs])) for k in ("import", "cold", "warm")} | {"runs": runs}


def time_torch(steps: int, n_trials: int = 2) -> dict:
    import torch

    torch.set_num_threads(1)
    X = torch.eye(3)
    Y = torch.tensor([[1.0, 1, 0], [2, 8, 0], [0, 0, 2]])
    m1 = torch.tensor([[1.0, 1, 0], [0, 1, 1]])
    m2 = torch.tensor([[1.0, 0], [1, 1], [0, 1]])
    acts = {"shifted_sigmoid": lambda z: torch.sigmoid(z) - 0.5, "tanh": torch.tanh,
            "leaky_relu": torch.nn.functional.leaky_relu, "elu": torch.nn.functional.elu, "relu": torch.relu}
    per_step = {}
    for name, act in acts.items():
        times = []
        for trial in range(n_trials):
            torch.manual_seed(trial)
            l1 = torch.nn.Linear(3, 2, bias=False)
            l2 = torch.nn.Linear(2, 3, bias=False)
            with torch.no_grad():
                l1.weight.mul_(m1)
                l2.weight.mul_(m2)
            opt = torch.optim.SGD(list(l1.parameters()) + list(l2.parameters()), lr=0.01)
            t0 = time.perf_counter()
            for _ in range(steps):  # the paper's loop: forward, backward, masked step
                opt.zero_grad()
                out = l2(act(l1(X.T))).T  # columns are samples
                loss = 0.5 * ((out - Y) ** 2).sum()
                loss.backward()
                l1.weight.grad.mul_(m1)
                l2.weight.grad.mul_(m2)
                opt.step()
            times.append((time.perf_counter() - t0) / steps)
        per_step[name] = float(np.median(times))
    total = sum(per_step[a] * 100 * 50_000 for a in ACTS)
    return {"per_step_s": per_step, "extrapolated_table3_s": total, "steps_timed": steps, "torch": torch.__version__}


def time_scaling(sizes) -> dict:
    from landscape import trials
    from landscape.theory import Theorem6

    thm = Theorem6()
    net = thm.net("tanh")
    out = {}
    for n in sizes:
        cfg = trials.TrainConfig(max_steps=50_000, gtol=0.0, chunk_steps=5_000, history_stride=500)
        trials.train(net, thm.X, thm.Y, masks=thm.masks(), n_trials=n, config=cfg)  # compile
        t0 = time.perf_counter()
        trials.train(net, thm.X, thm.Y, masks=thm.masks(), n_trials=n, config=cfg)
        dt = time.perf_counter() - t0
        out[n] = {"seconds": dt, "ns_per_trial_step": dt / (n * 50_000) * 1e9}
    return out


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--torch-steps", type=int, default=2000)
    p.add_argument("--scaling", default="1000,10000")
    p.add_argument("--json", default=None, help="also write the raw numbers here")
    args = p.parse_args(argv)

    import jax

    lib = time_library(args.repeats)
    tor = time_torch(args.torch_steps)
    scal = time_scaling([int(s) for s in args.scaling.split(",") if s])
    ratio_cold = tor["extrapolated_table3_s"] / lib["cold"]
    ratio_warm = tor["extrapolated_table3_s"] / lib["warm"]
    lines = [
        f"### Table 3 (5 activations x 100 trials x 50,000 GD steps) — {time.strftime('%Y-%m-%d')}",
        f"Machine: {machine()}; jax {jax.__version__}, backend {jax.default_backend()}.",
        f"Command: `python benchmarks/bench_table3.py --repeats {args.repeats} --torch-steps {args.torch_steps}`",
        "",
        "| what | median |",
        "|---|---|",
        f"| landscape, cold (fresh process, compilation included, imports excluded) | {lib['cold']:.2f} s |",
        f"| landscape, warm (compiled programs reused) | {lib['warm']:.2f} s |",
        f"| `import landscape` + jax | {lib['import']:.2f} s |",
        f"| naive PyTorch loop {tor['torch']}, one trial at a time, extrapolated from {tor['steps_timed']} steps/activation | "
        f"{tor['extrapolated_table3_s']:.0f} s ({tor['extrapolated_table3_s'] / 3600:.1f} h) |",
        f"| **ratio** naive / landscape cold | **{ratio_cold:,.0f}x** |",
        f"| ratio naive / landscape warm | {ratio_warm:,.0f}x |",
        "",
        "PyTorch time per step (median of 2 trials): " + ", ".join(f"{a} {t * 1e6:.0f} us" for a, t in tor["per_step_s"].items()),
        "",
        "Scaling (tanh, 50,000 steps, early exit off, compiled beforehand):",
        "",
        "| trials | seconds | ns per trial-step |",
        "|---|---|---|",
    ]
    lines += [f"| {n:,} | {v['seconds']:.2f} | {v['ns_per_trial_step']:.1f} |" for n, v in scal.items()]
    text = "\n".join(lines)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"library": lib, "torch": tor, "scaling": scal}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
