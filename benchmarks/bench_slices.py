"""Benchmark: a loss grid of the width-400, 5-layer, n = 400 net (Sec. 6 sizes).

Compares ``slices.evaluate`` (one compiled program, chunks, lax.map/vmap) with
a Python loop over grid points (what PyTorch landscape tools do: build the
params of one point, call a compiled loss, read the number back), timed on a
sample of points and extrapolated to the full grid.

  PYTHONPATH=$PWD python benchmarks/bench_slices.py --n 201          # full 201x201
  PYTHONPATH=$PWD python benchmarks/bench_slices.py --n 41 --reps 3  # quick

Prints medians over ``--reps`` runs (compile excluded: one warm-up call).
"""

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from landscape import nets, slices


def setup(dtype, sparsity=0.5, seed=0):
    net = nets.MLP((100, 400, 400, 400, 400, 10), "tanh")
    k = jax.random.split(jax.random.key(seed), 4)
    shapes = jax.tree.leaves(nets.shapes(net), is_leaf=nets._is_shape)
    ks = jax.random.split(k[0], len(shapes))
    masks = tuple({"W": (jax.random.uniform(kk, s) >= sparsity).astype(dtype)} for kk, s in zip(ks, shapes))
    params = nets.init(k[1], net, masks, dtype=dtype)
    X = jax.random.normal(k[2], (100, 400), dtype)
    Y = jax.random.normal(k[3], (10, 400), dtype)
    plane = slices.random_plane(k[0], params, masks)
    return net, params, masks, X, Y, plane


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=201)
    ap.add_argument("--sample", type=int, default=40, help="grid points timed in the Python loop")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()
    dtype = jnp.dtype(args.dtype)
    net, params, masks, X, Y, plane = setup(dtype)
    axes = [(-1.0, 1.0, args.n), (-1.0, 1.0, args.n)]
    total = args.n**2
    print(f"machine: {platform.processor() or platform.machine()}, nproc={os.cpu_count()}, backend={jax.default_backend()}, "
          f"jax {jax.__version__}, dtype={dtype.name}; grid {args.n}x{args.n} = {total} points")

    # Python loop baseline: one compiled loss, params built per point on the host side.
    loss = jax.jit(lambda p: nets.loss(net, p, X, Y, masks))
    loss(params).block_until_ready()
    us = np.linspace(-1, 1, args.n)
    rng = np.random.default_rng(0)
    pts = [(us[i], us[j]) for i, j in zip(rng.integers(0, args.n, args.sample), rng.integers(0, args.n, args.sample))]
    loop = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for u, v in pts:
            float(loss(plane(u, v)))
        loop.append((time.perf_counter() - t0) / args.sample)
    per_loop = statistics.median(loop)
    print(f"python loop: {per_loop * 1e3:.2f} ms/point (median of {args.reps}, {args.sample} points) "
          f"-> extrapolated {per_loop * 201**2:.0f} s for 201x201")

    for batch in args.batches:
        slices.evaluate(plane, net, X, Y, masks=masks, axes=[(-1.0, 1.0, 4), (-1.0, 1.0, 4)], batch_size=batch, chunk_size=512)  # compile
        ts = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            slices.evaluate(plane, net, X, Y, masks=masks, axes=axes, batch_size=batch, chunk_size=512)
            ts.append(time.perf_counter() - t0)
        t = statistics.median(ts)
        print(f"slices.evaluate batch_size={batch}: {t:.2f} s for {total} points = {t / total * 1e3:.2f} ms/point "
              f"-> {t / total * 201**2:.0f} s for 201x201; loop/engine = {per_loop / (t / total):.2f}x")


if __name__ == "__main__":
    main()
