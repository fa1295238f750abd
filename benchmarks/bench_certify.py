"""Certified vs sampled ``paths.verify`` on the width-400 SD Theorem 4 path (issue 10's cost target: <= 3x).

Side by side in one process, per problem: ``verify(path, certify=False)`` (the sampled profile only,
today's 0.2 verify) and ``verify(path)`` (the same profile plus the rigorous bound of ``landscape.bounds``).
The first call of each includes its compilations; then ``--repeats`` warm calls of each, alternated, medians.

Problems (bench_verify.problem: d_x = 100, p = 400, n = 200, d_y = 10, tanh, float64):
  full-rank start: the path is one Lemma 2 segment (only U moves);
  rank-deficient start (rows 0..249 of W zeroed): Lemma 1, the redraw of the free rows, Lemma 2 (3 segments).

Usage: PYTHONPATH=$PWD python benchmarks/bench_certify.py [--repeats 5]
"""

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_verify import problem  # noqa: E402

from landscape import paths  # noqa: E402
from landscape import property_p as pp  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)
    net, params, X, Y, masks = problem()
    deficient = ({"W": params[0]["W"].at[:250].set(0.0)}, params[1])
    print(f"backend {jax.default_backend()}, load {os.getloadavg()[0]:.2f}")
    for name, start in (("full-rank start", params), ("rank-deficient start", deficient)):
        path = pp.theorem4_path(net, start, X, Y, masks)
        f_s, rep_s = timed(lambda: paths.verify(path, certify=False))
        f_c, rep_c = timed(lambda: paths.verify(path))
        warm_s, warm_c = [], []
        for _ in range(args.repeats):
            warm_s.append(timed(lambda: paths.verify(path, certify=False))[0])
            warm_c.append(timed(lambda: paths.verify(path))[0])
        ms, mc = float(np.median(warm_s)), float(np.median(warm_c))
        print(f"{name}: {path.num_segments} segment(s) {list(path.labels)}")
        print(f"  sampled  : first {f_s:.3f} s, warm median {ms:.3f} s  -> {rep_s.verdict} [{rep_s.evidence}]")
        print(f"  certified: first {f_c:.3f} s, warm median {mc:.3f} s  -> {rep_c.verdict} [{rep_c.evidence}], "
              f"rise bound {rep_c.rise_bound:.3g}; {rep_c.how}")
        print(f"  ratio certified/sampled: first {f_c / f_s:.2f}x, warm {mc / ms:.2f}x")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
