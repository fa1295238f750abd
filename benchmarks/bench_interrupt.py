"""Ctrl-C on ``landscape table3``: time from SIGINT to process exit, and resuming afterwards.

    python benchmarks/bench_interrupt.py [--trials 10000] [--delays 1 4 8] [--no-resume]

For each delay (seconds after the command starts: while compiling, after the first
checkpoint, in the middle of a chunk of steps) the command

    landscape table3 --trials N --checkpoint --no-progress --out <tmp>

is sent SIGINT and the time until the process has exited is measured (target: <= 2 s), with
its exit status (130), its last stderr lines (the resume instructions) and the checkpoints it
left (each must load). With resuming on (the default), the interrupted run of the last delay
is then resumed by running the same command again, an uninterrupted run of the same settings
goes into another folder, and the two ``trials_<activation>.npz`` are compared (equal final
loss, steps and status arrays).
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(n_trials: int, out: str, extra=()) -> list:
    return [sys.executable, "-m", "landscape.cli", "table3", "--trials", str(n_trials), "--checkpoint", "--no-progress",
            "--out", out, *extra]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = ROOT + os.pathsep + e.get("PYTHONPATH", "")
    e.setdefault("LANDSCAPE_CACHE", "off")  # a cold start, as a first run is
    return e


def interrupt(n_trials: int, out: str, delay: float, extra=()) -> dict:
    """Starts the command, sends SIGINT after ``delay`` s, returns what happened."""
    p = subprocess.Popen(command(n_trials, out, extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    time.sleep(delay)
    if p.poll() is not None:
        return {"delay": delay, "finished_before_signal": True, "returncode": p.returncode}
    ckpts_before = sorted(glob.glob(os.path.join(out, "ckpt_*.npz")))
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    dt = time.perf_counter() - t0
    from landscape import io

    loaded = {}
    for f in sorted(glob.glob(os.path.join(out, "ckpt_*.npz"))):
        _, meta = io.load(f, tag="TrainCheckpoint")
        loaded[os.path.basename(f)] = {"n_done": meta["n_done"], "steps_done": meta["steps_done"]}
    leftovers = sorted(glob.glob(os.path.join(out, "*.tmp*")))
    return {"delay": delay, "exit_s": dt, "returncode": p.returncode, "checkpoints_before_signal": len(ckpts_before),
            "checkpoints": loaded, "temporary_files_left": leftovers, "stderr_tail": stderr.strip().splitlines()[-3:]}


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--trials", type=int, default=10_000)
    a.add_argument("--delays", type=float, nargs="+", default=[1.0, 4.0, 8.0])
    a.add_argument("--no-resume", action="store_true")
    args = a.parse_args(argv)
    sys.path.insert(0, ROOT)
    print(f"machine load before: {os.getloadavg()}")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, delay in enumerate(args.delays):
            out = os.path.join(tmp, f"run{i}")
            r = interrupt(args.trials, out, delay)
            runs.append((out, r))
            print(f"SIGINT after {delay:.1f} s: exit after {r.get('exit_s', float('nan')):.3f} s, status {r['returncode']}, "
                  f"checkpoints {r.get('checkpoints')}, temporary files left {r.get('temporary_files_left')}")
            for line in r.get("stderr_tail", []):
                print("   stderr:", line)
        worst = max(r.get("exit_s", 0.0) for _, r in runs)
        print(f"worst time from SIGINT to exit: {worst:.3f} s over {len(runs)} interruptions")
        if not args.no_resume:
            out = runs[-1][0]
            t0 = time.perf_counter()
            res = subprocess.run(command(args.trials, out), capture_output=True, text=True, env=env())
            t_resume = time.perf_counter() - t0
            fresh = os.path.join(tmp, "fresh")
            t0 = time.perf_counter()
            res2 = subprocess.run(command(args.trials, fresh), capture_output=True, text=True, env=env())
            t_fresh = time.perf_counter() - t0
            print(f"resumed run: status {res.returncode} in {t_resume:.1f} s; uninterrupted run: status {res2.returncode} "
                  f"in {t_fresh:.1f} s")
            if res.returncode or res2.returncode:
                print(res.stderr[-2000:], res2.stderr[-2000:])
                return 1
            same = True
            for f in sorted(glob.glob(os.path.join(fresh, "trials_*.npz"))):
                x, y = np.load(f), np.load(os.path.join(out, os.path.basename(f)))
                eq = all(np.array_equal(x[k], y[k], equal_nan=True) for k in ("loss", "steps", "status"))
                same &= eq
                print(f"  {os.path.basename(f)}: loss, steps, status equal to the uninterrupted run: {eq}")
            print(f"resumed == uninterrupted: {same}")
    print(f"machine load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
