"""Scaling over processes: 2 processes x 1 device against 1 process x 1 device, the same total work.

    python benchmarks/bench_distributed.py [--trials 4000] [--steps 20000] [--repeats 3]

Each configuration is launched fresh (``jax.distributed`` over localhost, gloo collectives; one
forced CPU device per process). Inside the processes, ``trials.train`` runs once to compile
(not timed), then ``--repeats`` timed calls (seeds 1, 2, ...; early exit off, ``gtol=0``) of the
whole run: in the 2-process configuration a call is each process training its block plus the
exchange of the blocks, so the time is what a user waits for. Two workloads: the Table 3 tanh
net (8 weights) and a float32 MLP (5, 32, 32, 3) tanh on 64 samples. The exchange alone is timed
too (an all-gather of as many bytes as the result). Medians; scaling efficiency = T1 / (2 T2).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import socket
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(args) -> None:
    import jax

    import landscape as ls
    from landscape.theory import Theorem6

    if args.coordinator:
        ls.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    thm = Theorem6()
    rng = np.random.default_rng(0)
    big = ls.MLP((5, 32, 32, 3), "tanh")
    Xb, Yb = rng.standard_normal((5, 64)).astype(np.float32), rng.standard_normal((3, 64)).astype(np.float32)
    loads = {
        "table3_tanh": (thm.net("tanh"), thm.X, thm.Y, thm.masks(), args.trials, args.steps),
        "mlp_5x32x32x3": (big, Xb, Yb, None, args.big_trials, args.big_steps),
    }
    out = {"devices": len(jax.devices()), "processes": ls.distributed.process_count()}
    for name, (net, X, Y, masks, n, steps) in loads.items():
        kw = dict(masks=masks, n_trials=n, max_steps=steps, gtol=0.0, chunk_steps=steps, history_stride=steps)
        res = ls.train(net, X, Y, seed=0, **kw)  # compile
        times = []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            ls.train(net, X, Y, seed=r + 1, **kw)
            times.append(time.perf_counter() - t0)
        size = len(pickle.dumps(res))
        ex = []
        for _ in range(args.repeats if ls.distributed.process_count() > 1 else 0):
            t0 = time.perf_counter()
            ls.distributed.exchange(np.zeros(size // 2, np.uint8), "bench")  # each sends half of the result
            ex.append(time.perf_counter() - t0)
        out[name] = {"trials": n, "steps": steps, "times": times, "result_bytes": size, "exchange_times": ex}
    if ls.distributed.is_main():
        print("RESULT " + json.dumps(out), flush=True)


def launch(n_proc: int, args) -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    base = [sys.executable, os.path.abspath(__file__), "--role", "worker", "--trials", str(args.trials), "--steps",
            str(args.steps), "--big-trials", str(args.big_trials), "--big-steps", str(args.big_steps), "--repeats",
            str(args.repeats)]
    if n_proc == 1:
        cmds = [base]
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmds = [base + ["--coordinator", f"127.0.0.1:{port}", "--num-processes", str(n_proc), "--process-id", str(i)]
                for i in range(n_proc)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    outs = [p.communicate(timeout=1800) for p in procs]
    wall = time.perf_counter() - t0
    if any(p.returncode for p in procs):
        raise SystemExit("\n".join(err[-2000:] for _, err in outs))
    line = next(x for x in outs[0][0].splitlines() if x.startswith("RESULT "))
    return {**json.loads(line[len("RESULT "):]), "wall": wall}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", default="driver", choices=("driver", "worker"))
    p.add_argument("--trials", type=int, default=4000)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--big-trials", type=int, default=256)
    p.add_argument("--big-steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--coordinator")
    p.add_argument("--num-processes", type=int)
    p.add_argument("--process-id", type=int)
    args = p.parse_args(argv)
    if args.role == "worker":
        worker(args)
        return 0
    load0 = os.getloadavg()
    one = launch(1, args)
    two = launch(2, args)
    load1 = os.getloadavg()
    print(f"Command: `python benchmarks/bench_distributed.py --trials {args.trials} --steps {args.steps} "
          f"--big-trials {args.big_trials} --big-steps {args.big_steps} --repeats {args.repeats}`\n")
    print("| workload | trials x steps | 1 process x 1 device | 2 processes x 1 device | speed-up | efficiency "
          "T1/(2 T2) | exchange alone (result size) |")
    print("|---|---|---|---|---|---|---|")
    for name in ("table3_tanh", "mlp_5x32x32x3"):
        a, b = one[name], two[name]
        t1, t2 = float(np.median(a["times"])), float(np.median(b["times"]))
        ex = float(np.median(b["exchange_times"]))
        print(f"| {name} | {a['trials']:,} x {a['steps']:,} | {t1:.2f} s | {t2:.2f} s | {t1 / t2:.2f}x | "
              f"{t1 / (2 * t2):.0%} | {ex * 1e3:.1f} ms ({b['result_bytes'] / 1e6:.1f} MB) |")
    print(f"\nwhole launches (start-up, compilation, {args.repeats + 1} runs per workload): 1 process {one['wall']:.1f} s, "
          f"2 processes {two['wall']:.1f} s; global devices {one['devices']} and {two['devices']}")
    print(f"load average before {load0[0]:.1f}, after {load1[0]:.1f} (nproc = {os.cpu_count()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
