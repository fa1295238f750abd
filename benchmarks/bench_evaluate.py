"""Candidate batch sizes of the one evaluator (``landscape.evaluate``), side by side with hand-written JAX.

For three nets the loss (and loss + gradient) is evaluated at ``m`` points of a
random masked plane, ``θ(u, v) = θ0 + u d1 + v d2`` (every point carries its own
weights, as in slices, paths and connectivity):

* tiny: the Table 3 / Theorem 6 net, sizes (3, 2, 3), 8 free weights, n = 3;
* small: sizes (10, 32, 32, 1), 30% masks (the slices notebook's net), n = 64;
* mid: sizes (20, 100, 100, 10), dense (13k weights), n = 200;
* wide: sizes (100, 400, 400, 400, 400, 10), 50% masks (262k free of 525k), n = 400 (Sec. 6.2).

Rows: ``evaluate_points`` with the rule's ``batch_size`` and each candidate (chunk: the
rule's, or ``--chunk``),
and the hand-written baselines ``jit(vmap(f))`` over all points at once and
``jit(lax.map(f))`` one point at a time. Medians over ``--repeats`` interleaved rounds (every row once per round), compile
excluded (one warm-up call per row). Run:

    PYTHONPATH=$PWD python benchmarks/bench_evaluate.py [--repeats 5] [--nets tiny mid wide] [--grad]
"""

import argparse
import functools
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from landscape import evaluate, nets, theory


def problem(name, dtype):
    rng = np.random.default_rng(0)
    if name == "tiny":
        thm = theory.Theorem6()
        net, masks = thm.net("tanh"), thm.masks()
        X, Y = np.asarray(thm.X), np.asarray(thm.Y)
        m, batches = 65536, (1, 4, 16, 64, 128, 256, 512, 1024, 4096)
    elif name == "small":
        net = nets.MLP((10, 32, 32, 1), "tanh")
        masks = tuple({"W": (rng.random(s["W"]) < 0.3).astype(np.float64)} for s in nets.shapes(net))
        X, Y = rng.normal(size=(10, 64)), rng.normal(size=(1, 64))
        m, batches = 16384, (1, 4, 16, 32, 64, 128, 256)
    elif name == "mid":
        net = nets.MLP((20, 100, 100, 10), "tanh")
        masks = nets.dense_masks(net, np.float64)
        X, Y = rng.normal(size=(20, 200)), rng.normal(size=(10, 200))
        m, batches = 4096, (1, 2, 4, 8, 16, 64, 256)
    else:
        net = nets.MLP((100, 400, 400, 400, 400, 10), "tanh")
        masks = tuple({"W": (rng.random(s["W"]) < 0.5).astype(np.float64)} for s in nets.shapes(net))
        X, Y = rng.normal(size=(100, 400)), rng.normal(size=(10, 400))
        m, batches = 64, (1, 2, 4, 8, 16)
    cast = lambda t: jax.tree.map(lambda a: jnp.asarray(a, dtype), t)  # noqa: E731
    masks = cast(masks)
    keys = jax.random.split(jax.random.key(1), 3)
    origin, d1, d2 = (nets.apply_masks(nets.init(k, net, masks, dtype=dtype), masks) for k in keys)
    coords = jnp.asarray(rng.uniform(-1, 1, size=(m, 2)), dtype)
    return net, masks, cast(X), cast(Y), (origin, d1, d2), coords, batches


class PlaneLoss:
    """Static function of one point: the loss at ``origin + u d1 + v d2`` (hashable: keyed by net)."""

    def __init__(self, net):
        self.net = net

    def __hash__(self):
        return hash(self.net)

    def __eq__(self, other):
        return isinstance(other, PlaneLoss) and other.net == self.net

    def __call__(self, c, plane, X, Y, masks):
        origin, d1, d2 = plane
        p = jax.tree.map(lambda o, a, b: o + c[0] * a + c[1] * b, origin, d1, d2)
        return nets.loss(self.net, p, X, Y, masks)


def interleaved(fns, repeats):
    """Median seconds of each function; one warm-up (compile) call each, then the repeats interleaved
    (each round runs every function once), so a change of machine load hits every row alike."""
    for fn in fns:
        jax.block_until_ready(fn())
    ts = np.zeros((repeats, len(fns)))
    for r in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            jax.block_until_ready(fn())
            ts[r, i] = time.perf_counter() - t
    return np.median(ts, axis=0)


def baselines(one, coords, ops):
    """The hand-written JAX programs: all points in one vmap, and one point at a time with lax.map."""
    m = coords.shape[0]
    vm = jax.jit(lambda cs, *ops: jax.vmap(lambda c: one(c, *ops))(cs))
    lm = jax.jit(lambda cs, *ops: jax.lax.map(lambda c: one(c, *ops), cs))
    return [("hand-written jit(vmap) over all points", m, m, lambda: vm(coords, *ops)),
            ("hand-written jit(lax.map), one point at a time", 1, m, lambda: lm(coords, *ops))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--nets", nargs="+", default=["tiny", "small", "mid", "wide"])
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--grad", action="store_true", help="value and gradient instead of value only")
    ap.add_argument("--chunk", type=int, default=None, help="chunk_size (default: the library's)")
    a = ap.parse_args()
    if a.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = jnp.dtype(a.dtype)
    print(f"{platform.processor() or platform.machine()}, nproc={os.cpu_count()}, backend {jax.default_backend()}, "
          f"jax {jax.__version__}, {dtype.name}, {'value+grad' if a.grad else 'value'}, load {os.getloadavg()}")
    for name in a.nets:
        net, masks, X, Y, plane, coords, batches = problem(name, dtype)
        m = coords.shape[0]
        n_params = sum(int(np.prod(s)) for s in jax.tree.leaves(nets.shapes(net), is_leaf=nets._is_shape))
        k = nets.num_free(masks)
        f = PlaneLoss(net)
        print(f"\n{name}: sizes {net.sizes}, {n_params} weights ({k} free), n = {X.shape[1]}, {m} points")
        print("| what | batch_size | chunk_size | median s | us per point | vs best |\n|---|---|---|---|---|---|")
        ops = (plane, X, Y, masks)
        cands = baselines(jax.value_and_grad(f) if a.grad else f, coords, ops)
        for b in (None,) + batches:
            ev = evaluate.evaluator(f, *ops, n_points=m, n_params=n_params, point_size=2, grad=a.grad, batch_size=b,
                                    chunk_size=a.chunk)
            what = "evaluate_points, the rule's batch_size" if b is None else "evaluate_points"
            cands.append((what, ev.plan.batch_size, ev.plan.chunk_size, functools.partial(ev, coords)))
        times = interleaved([c[3] for c in cands], a.repeats)
        rows = [(w, b, c, t) for (w, b, c, _), t in zip(cands, times)]
        best = min(r[3] for r in rows)
        for what, b, c, t in rows:
            print(f"| {what} | {b} | {c} | {t:.4f} | {1e6 * t / m:.3f} | {t / best:.2f} |")


if __name__ == "__main__":
    main()
