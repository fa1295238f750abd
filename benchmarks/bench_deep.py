"""Benchmarks for the deep experiments (Figures 3 and 4). Run from the repo root:

    PYTHONPATH=$PWD python benchmarks/bench_deep.py [--repeats 7] [--steps 20] [--k 4]

1. One GD step (loss, gradient, masked update) of the width-400, 5-layer, n = 400
   net, masked vs the same dense computation (no masks), float32, jit.
2. k sparsity levels in one program (masks as data, a leading trial axis;
   ``trials.train`` loops over them with ``lax.map`` on CPU, or vmaps with
   ``batch_size=k``) vs k separate ``trials.train`` calls; ``--steps`` GD steps
   each, compile included and excluded.
Timings are medians of ``--repeats`` runs, measured side by side (interleaved).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from landscape import data, masks as M, nets, trials


def _median(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def bench_step(repeats: int):
    net = nets.MLP((100, 400, 400, 400, 400, 10), "tanh")
    ds = data.synthetic(0, n=400, d_x=100, d_y=10)
    X, Y = jnp.asarray(ds.X), jnp.asarray(ds.Y)
    masks = jax.tree.map(jnp.asarray, M.random_masks(0, net, [0.8] * 4 + [0.0]))
    params = nets.init(jax.random.key(0), net, masks)

    @jax.jit
    def masked(p, m):
        g = jax.grad(lambda q: nets.loss(net, q, X, Y, m, "mean"))(p)
        return nets.apply_masks(jax.tree.map(lambda a, b: a - 0.01 * b, p, g), m)

    @jax.jit
    def dense(p):
        g = jax.grad(lambda q: nets.loss(net, q, X, Y, None, "mean"))(p)
        return jax.tree.map(lambda a, b: a - 0.01 * b, p, g)

    masked(params, masks), dense(params)  # compile
    tm, td = [], []
    for _ in range(repeats):  # interleaved
        tm.append(_median(lambda: masked(params, masks), 3))
        td.append(_median(lambda: dense(params), 3))
    return statistics.median(tm), statistics.median(td)


def bench_levels(k: int, steps: int, repeats: int):
    net = nets.MLP((100, 400, 400, 400, 400, 10), "linear")
    ds = data.synthetic(0, n=400, d_x=100, d_y=10)
    ms = [M.random_masks(i, net, [1 - d] * 4 + [0.0]) for i, d in enumerate(np.linspace(1.0, 0.1, k))]
    stacked = tuple({"W": np.stack([m[l]["W"] for m in ms])} for l in range(net.depth))
    kw = dict(learning_rate=0.01, loss="mean", max_steps=steps, gtol=0.0, history_stride=steps)

    def one_program(batch_size=None):
        return trials.train(net, ds.X, ds.Y, masks=stacked, n_trials=k, batch_size=batch_size, **kw).loss

    def separate():
        return [trials.train(net, ds.X, ds.Y, masks=m, n_trials=1, **kw).loss for m in ms]

    t_first = {}
    for name, f in (("one program (lax.map)", one_program), ("one program (vmap)", lambda: one_program(k)),
                    ("k separate runs", separate)):
        t = time.perf_counter()
        f()
        t_first[name] = time.perf_counter() - t
    res = {name: [] for name in t_first}
    for _ in range(repeats):
        res["one program (lax.map)"].append(_median(one_program, 1))
        res["one program (vmap)"].append(_median(lambda: one_program(k), 1))
        res["k separate runs"].append(_median(separate, 1))
    return {n: (t_first[n], statistics.median(v)) for n, v in res.items()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--k", type=int, default=4)
    args = p.parse_args()
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"machine: nproc={os.cpu_count()}, CPU {cpu}, backend {jax.default_backend()}, jax {jax.__version__}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}")
    tm, td = bench_step(args.repeats)
    print(f"\n1. one GD step, width 400, 5 layers, n = 400, float32 (median of {args.repeats})")
    print(f"   masked {tm * 1e3:.1f} ms | dense {td * 1e3:.1f} ms | masked/dense = {tm / td:.2f}")
    r = bench_levels(args.k, args.steps, max(1, args.repeats // 2))
    print(f"\n2. k = {args.k} sparsity levels, {args.steps} GD steps each (median of {max(1, args.repeats // 2)}; first call incl. compile)")
    base = r["k separate runs"][1]
    for name, (first, med) in r.items():
        print(f"   {name:24s} first {first:6.2f} s | warm {med:6.2f} s | warm / separate = {med / base:.2f}")


if __name__ == "__main__":
    main()
