"""Time ``paths.verify`` (defaults) on bench_paths' Theorem 4 path: first call (compile included), then warm.

Uses only API that 0.1 had too, so the same script times an older checkout side by side:

    PYTHONPATH=$PWD python benchmarks/bench_verify.py new
    git archive <commit> landscape | tar -x -C /tmp/oldpkg
    PYTHONPATH=/tmp/oldpkg python benchmarks/bench_verify.py old

Problem: two-layer SD tanh net, d_x = 100, p = 400 (first layer ~10% dense plus one forced
connection per unit), d_y = 10, n = 200, float64 (as in bench_paths.py).
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from landscape import nets, paths
from landscape import property_p as pp


def problem(d=100, n=200, p=400):
    """``(net, params, X, Y, masks)`` of the benchmark (float64; x64 must be on)."""
    rng = np.random.default_rng(0)
    mask = (rng.random((p, d)) < 0.1).astype(np.float64)
    mask[np.arange(p), rng.integers(0, d, p)] = 1
    X, Y = rng.normal(size=(d, n)), rng.normal(size=(10, n))
    net = nets.MLP((d, p, 10), "tanh")
    masks = ({"W": mask}, {"W": np.ones((10, p))})
    return net, nets.init(jax.random.key(0), net, masks, dtype=jnp.float64), X, Y, masks


def main():
    jax.config.update("jax_enable_x64", True)
    path = pp.theorem4_path(*problem())
    t = time.perf_counter()
    rep = paths.verify(path)
    first = time.perf_counter() - t
    t = time.perf_counter()
    paths.verify(path)
    warm = time.perf_counter() - t
    label = sys.argv[1] if len(sys.argv) > 1 else ""
    print(f"{label}: first {first:.2f} s, warm {warm:.2f} s, {rep.s.size} points, passed {rep.passed}, "
          f"max increase {rep.max_increase:.3g}")


if __name__ == "__main__":
    main()
