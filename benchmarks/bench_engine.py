"""The trial engine against a hand-written program of the same math (Table 3 net).

    python benchmarks/bench_engine.py [--trials 100,1000,10000,100000] [--steps 2000] [--repeats 5]
                                      [--activation tanh] [--programs unrolled,vmap]
                                      [--baseline-ref main] [--baseline-max-trials 10000] [--wide-steps 10]

For each trial count ``T``, side by side in one process, interleaved (every row
once per round), compiled beforehand, medians over the rounds:

* ``floor``: ``benchmarks/floor.py``, the Table 3 net written out by hand (8
  weights as ``(T,)`` arrays, stopping rule, divergence flag, history), one
  compiled call for all steps, in blocks of 4096 trials and with all trials at
  once (the better of the two is the floor);
* ``library``: ``trials.train`` as a user calls it (defaults, except
  ``max_steps = chunk_steps = --steps`` so that both run the same number of
  steps in one call, ``history_stride = --steps // 10``), for each program
  in ``--programs``.

* ``baseline``: the engine of git ref ``--baseline-ref`` (``landscape/trials.py``
  of that commit, loaded as a separate module next to this checkout's other
  modules), same call, up to ``--baseline-max-trials`` trials: the "no
  regression" check;
* ``width-400``: Figure 4's net ``(100, 400, 400, 400, 400, 10)``, ``n = 400``,
  three per-trial masks (densities 1, 0.5, 0.3) as data, ``--wide-steps`` GD
  steps: library vs baseline (``--wide-steps 0`` skips it).

Both start from the same initial params (the library's, passed to the floor) and
the script checks they end on the same params, statuses and histories (and says
whether bit for bit). Prints ns per trial-step (wall and process CPU time), the
ratio library / floor, and the load average before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floor  # noqa: E402

from landscape import activations, nets, trials  # noqa: E402
from landscape.theory import Theorem6  # noqa: E402

ORDER = ((1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 2, 1), (0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 2))
"""(layer, i, j) of the paper's w1..w8 in ``W1 = [[w5, w6, 0], [0, w7, w8]], W2 = [[w1, 0], [w2, w3], [0, w4]]``."""


def load() -> str:
    return "%.1f %.1f %.1f" % os.getloadavg()


def timed(fn) -> tuple:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - t0, time.process_time() - c0


def baseline_engine(ref: str):
    """``landscape/trials.py`` of git ``ref`` as a module of its own (its cache and programs apart)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sha = subprocess.run(["git", "rev-parse", "--short", ref], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    src = subprocess.run(["git", "show", f"{ref}:landscape/trials.py"], cwd=root, capture_output=True, text=True, check=True).stdout
    path = os.path.join(tempfile.mkdtemp(), f"trials_{sha}.py")
    with open(path, "w") as f:
        f.write(src)
    spec = importlib.util.spec_from_file_location(f"trials_{sha}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod, sha


def wide(engines: dict, steps: int, repeats: int) -> list:
    """Figure 4's width-400 net, 3 per-trial masks, ``steps`` GD steps: seconds per engine (medians)."""
    from landscape import data, masks as M
    net = nets.MLP((100, 400, 400, 400, 400, 10), "tanh")
    ds = data.synthetic(0, n=400, d_x=100, d_y=10)
    ms = [M.random_masks(i, net, rate) for i, rate in enumerate((0.0, 0.5, 0.7))]  # densities 1, 0.5, 0.3
    stacked = jax.tree.map(lambda *a: np.stack([np.asarray(x, np.float32) for x in a]), *ms)
    kw = dict(masks=stacked, n_trials=3, max_steps=steps, chunk_steps=steps, history_stride=1, gtol=0.0, learning_rate=1e-3)
    runs = {name: (lambda eng=eng: eng.train(net, ds.X, ds.Y, **kw)) for name, eng in engines.items()}
    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    load0 = load()
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn)[1])
    return [(name, float(np.median(t)), f"{load0} -> {load()}") for name, t in times.items()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", default="100,1000,10000,100000")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--activation", default="tanh")
    p.add_argument("--programs", default="unrolled")
    p.add_argument("--floor-blocks", default="4096,all")
    p.add_argument("--baseline-ref", default="", help="git ref of an engine to compare with (e.g. main); empty: none")
    p.add_argument("--baseline-max-trials", type=int, default=10000)
    p.add_argument("--wide-steps", type=int, default=0)
    args = p.parse_args(argv)
    engines = {"library": trials}
    if args.baseline_ref:
        mod, sha = baseline_engine(args.baseline_ref)
        engines[f"baseline {args.baseline_ref}@{sha}"] = mod
    thm = Theorem6()
    net, masks = thm.net(args.activation), thm.masks()
    X32, Y32 = jnp.asarray(thm.X, jnp.float32), jnp.asarray(thm.Y, jnp.float32)
    S, stride = args.steps, max(args.steps // 10, 1)
    sigma = activations.get_activation(args.activation)
    programs = args.programs.split(",")
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, jax {jax.__version__}, "
          f"backend {jax.default_backend()}, {time.strftime('%Y-%m-%d %H:%M:%S')}")
    print(f"# {args.activation} Table 3 net, float32, {S} steps, history every {stride}, gtol 1e-5, lr 0.01; load {load()}")
    rows = []
    for T in [int(t) for t in args.trials.split(",")]:
        keys = jax.vmap(lambda i: trials.trial_key(0, i))(jnp.arange(T))
        params0 = jax.tree.map(np.asarray, jax.vmap(lambda k: nets.init(k, net, masks))(keys))
        w0 = tuple(jnp.asarray(params0[l]["W"][:, i, j]) for l, i, j in ORDER)
        runs = {}
        for b in args.floor_blocks.split(","):
            block = None if b == "all" else int(b)
            if block is not None and block >= T:
                continue  # one block of all trials: the "all" row
            Tp = T if block is None else -(-T // block) * block
            wp = tuple(jnp.concatenate([w, jnp.broadcast_to(w[-1:], (Tp - T,))]) for w in w0)
            runs[f"floor (block {b})"] = (lambda wp=wp, block=block: floor.run(
                wp, X32, Y32, sigma=sigma, steps=S, stride=stride, lr=0.01, gtol=1e-5, max_steps=S, block=block))
        for prog in programs:
            runs[f"library ({prog})"] = (lambda prog=prog: trials.train(
                net, thm.X, thm.Y, masks=masks, n_trials=T, params0=params0, max_steps=S, chunk_steps=S,
                history_stride=stride, gtol=1e-5, program=prog))
        for name, eng in engines.items():
            if eng is not trials and T <= args.baseline_max_trials:
                runs[name] = (lambda eng=eng: eng.train(
                    net, thm.X, thm.Y, masks=masks, n_trials=T, params0=params0, max_steps=S, chunk_steps=S,
                    history_stride=stride, gtol=1e-5))
        outs = {name: fn() for name, fn in runs.items()}  # compile
        times = {name: [] for name in runs}
        load0 = load()
        for _ in range(args.repeats):
            for name, fn in runs.items():
                _, wall, cpu = timed(fn)
                times[name].append((wall, cpu))
        load1 = load()
        # same numbers?
        fl = next(v for k, v in outs.items() if k.startswith("floor"))
        (fw, fstatus, fsteps, floss, _), fhist = fl
        agree = []
        for prog in programs:
            r = outs[f"library ({prog})"]
            lw = [r.params[l]["W"][:, i, j] for l, i, j in ORDER]
            same = all(np.array_equal(np.asarray(a)[:T], b) for a, b in zip(fw, lw)) and np.array_equal(np.asarray(floss)[:T], r.loss)
            close = all(np.allclose(np.asarray(a)[:T], b, rtol=1e-4, atol=1e-5) for a, b in zip(fw, lw))
            agree.append(f"{prog}: {'bit-identical params and loss' if same else ('close (rtol 1e-4)' if close else 'DIFFERENT')}")
        med = {name: (float(np.median([w for w, _ in v])), float(np.median([c for _, c in v]))) for name, v in times.items()}
        ns = {name: (w / (T * S) * 1e9, c / (T * S) * 1e9) for name, (w, c) in med.items()}
        best_floor = min(v[0] for k, v in ns.items() if k.startswith("floor"))
        for name, (w, c) in ns.items():
            rows.append((T, name, w, c, w / best_floor, f"{load0} -> {load1}"))
            print(f"T={T:>7} {name:<22} wall {w:7.1f} ns  cpu {c:7.1f} ns  ratio {w / best_floor:5.2f}  load {load0} -> {load1}",
                  flush=True)
        print(f"T={T:>7} library vs floor: {'; '.join(agree)}", flush=True)
    print("\n| trials | program | ns / trial-step (wall) | ns (process CPU) | ratio to the floor (wall) | load avg before -> after |")
    print("|---|---|---|---|---|---|")
    for T, name, w, c, ratio, ld in rows:
        print(f"| {T:,} | {name} | {w:.1f} | {c:.1f} | {ratio:.2f} | {ld} |")
    if args.wide_steps:
        print(f"\n| width-400 net (Fig. 4), 3 per-trial masks, {args.wide_steps} steps | seconds (median of {args.repeats}) | load avg before -> after |")
        print("|---|---|---|")
        for name, sec, ld in wide(engines, args.wide_steps, args.repeats):
            print(f"| {name} | {sec:.2f} | {ld} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
