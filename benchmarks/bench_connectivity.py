"""Elastic-band iteration vs separate loss-and-gradient calls; 100-step Lanczos.

Net: the paper's Sec. 6.2 shape, sizes (100, 400, 400, 400, 400, 10) (5 layers,
width 400), n = 400 samples, float32, a random 50% mask on every layer.

    PYTHONPATH=$PWD python benchmarks/bench_connectivity.py [--repeats 5] [--quick]
"""

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from landscape import connectivity as K
from landscape import curvature as C
from landscape import nets


def median_time(fn, repeats):
    fn()  # compile / warm up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        jax.block_until_ready(fn())
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), ts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--lanczos-steps", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="width 64 instead of 400")
    a = ap.parse_args()
    w = 64 if a.quick else 400
    net = nets.MLP((100, w, w, w, w, 10), "tanh")
    rng = np.random.default_rng(0)
    masks = tuple({"W": (rng.random(s["W"]) < 0.5).astype(np.float32)} for s in nets.shapes(net))
    X = rng.normal(size=(100, 400)).astype(np.float32)
    Y = rng.normal(size=(10, 400)).astype(np.float32)
    f, sp = C.masked_objective(net, X, Y, masks, loss="mean", dtype=jnp.float32)
    z0 = sp.flatten(nets.init(jax.random.key(0), net, masks))
    z1 = sp.flatten(nets.init(jax.random.key(1), net, masks))
    N = a.images
    s = np.linspace(0, 1, N + 2)[1:-1, None].astype(np.float32)
    images = jnp.asarray((1 - s) * z0[None] + s * z1[None])
    e = jnp.asarray([f(z0), f(z1)])
    print(f"jax {jax.__version__}, backend {jax.default_backend()}, {platform.processor() or platform.machine()}, "
          f"free params k = {sp.size}, images = {N}")

    vg = jax.jit(jax.value_and_grad(f))
    sep, _ = median_time(lambda: [vg(images[i]) for i in range(N)][-1], a.repeats)
    rows = [("32 separate loss-and-gradient calls", sep)]
    for bs in (1, 4, N):
        run = K._neb_program(f, N, 1, 0, 1.0, K._adam(1e-2), bs)
        t, _ = median_time(lambda: run(images, z0, z1, e)[0], a.repeats)
        rows.append((f"one band iteration, one call (evaluate.map_points batch_size={bs})", t))
    lan, _ = median_time(lambda: C._lanczos(f, z0, jnp.ones_like(z0), a.lanczos_steps, True), max(1, a.repeats // 2))
    lan_noreo, _ = median_time(lambda: C._lanczos(f, z0, jnp.ones_like(z0), a.lanczos_steps, False), max(1, a.repeats // 2))
    one, _ = median_time(lambda: vg(z0), a.repeats)
    rows += [(f"{a.lanczos_steps}-step Lanczos (full re-orthogonalisation)", lan),
             (f"{a.lanczos_steps}-step Lanczos (no re-orthogonalisation)", lan_noreo),
             ("one loss-and-gradient call", one)]
    print("| what | median s | ratio to 32 separate calls |\n|---|---|---|")
    for name, t in rows:
        print(f"| {name} | {t:.4f} | {t / sep:.2f} |")


if __name__ == "__main__":
    main()
