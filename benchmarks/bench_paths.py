"""Time per 1,000 path points: loss along a Theorem 4 path of a width-400 SD tanh net.

Compares batch sizes of the evaluator (1 = one point at a time, larger = vmapped
batches) side by side, float64 and float32. Run:

    PYTHONPATH=$PWD python benchmarks/bench_paths.py [--points 2000] [--repeats 5]
"""

import argparse
import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from bench_verify import problem  # the same problem (benchmarks/ is on sys.path when run as a script)

from landscape import evaluate, paths
from landscape import property_p as pp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--p", type=int, default=400)
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)
    net, params, X, Y, masks = problem(args.d, args.n, args.p)
    t = time.perf_counter()
    path = pp.theorem4_path(net, params, X, Y, masks)
    print(f"construct: {time.perf_counter() - t:.3f} s, {path.num_segments} segment(s)")
    s = np.linspace(0, path.num_segments, args.points)
    n_params = sum(int(np.prod(np.shape(a)[1:])) for a in jax.tree.leaves(path.points))
    print(f"backend {jax.default_backend()}, default batch size {evaluate.default_batch_size(n_params, 1024)}")
    for dtype in (jnp.float64, jnp.float32):
        pth = dataclasses.replace(path, polyline=jax.tree.map(lambda a: a.astype(dtype), path.polyline),
                                  X=path.X.astype(dtype), Y=path.Y.astype(dtype))
        for bs in (1, 8, 64):
            paths.loss_at(pth, s[:1024], batch_size=bs)  # compile
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                paths.loss_at(pth, s, batch_size=bs)
                times.append(time.perf_counter() - t)
            med = float(np.median(times))
            print(f"{jnp.dtype(dtype).name} batch_size={bs:3d}: median {med:.3f} s for {args.points} points "
                  f"= {1000 * med / args.points:.3f} s per 1,000 points")
    t = time.perf_counter()
    rep = paths.verify(path)
    print(f"verify (float64, default n=64, refine=3): {time.perf_counter() - t:.3f} s, {rep.s.size} points; {rep}")


if __name__ == "__main__":
    main()
