"""Property P demo: a verified non-increasing path to the infimum from a random start.

Builds a small problem for the chosen construction (random data, mask and
starting point from ``--seed``), builds the path of the theorem, verifies it
(``paths.verify``: a rigorous bound of the rise anywhere on the path, end loss vs. the
closed-form infimum) and writes into ``--out``: ``report.npz`` (``PathReport``,
self-describing), ``report.json`` (the verdict, its evidence and the problem) and
``loss_along_path.png``. Exit status 0 when the verdict is PASS (certified), 1 otherwise.
Runs in float64.

Cases: theorem1.1 (p_i >= d_i), theorem1.2 (Z_i Z_j^T = 0), theorem1.3 (d_y = 1),
theorem2.1 (deep linear, first layer sparse, p_i >= d_i), theorem2.2 (deep
linear, d_y = 1, all layers sparse), theorem3 (two-layer SD net, a random
polynomial σ of degree 2, 3 or 4 by seed, p_i >= dim*(σ, Z_i)), theorem4
(two-layer SD tanh net, p >= n), theorem5 (deep sparse net, sparse final layer
with >= n connections per output, tanh / shifted sigmoid / softplus by seed).

Example:
  landscape property-p --case theorem4 --seed 3 --out results/property_p
"""

from __future__ import annotations

import argparse
import os
from typing import Optional

import numpy as np

from landscape import io
from landscape.experiments import _common

CASES = ("theorem1.1", "theorem1.2", "theorem1.3", "theorem2.1", "theorem2.2", "theorem3", "theorem4", "theorem5")


def problem(case: str, seed: int = 0) -> tuple:
    """A small random problem ``(net, params, X, Y, masks, kwargs)`` covered by ``case``.

    The starting point is PyTorch's default init (``jax.random.key(seed)``),
    made degenerate on odd seeds (zeroed or copied rows) so that the
    loss-invariant moves of the proof have work to do.
    """
    import jax
    import jax.numpy as jnp

    from landscape import nets

    if case not in CASES:
        raise ValueError(f"case: expected one of {CASES}, got {case!r}")
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed)
    degenerate = seed % 2 == 1

    def dense(sizes):
        return tuple({"W": np.ones((sizes[i + 1], sizes[i]))} for i in range(1, len(sizes) - 1))

    if case in ("theorem1.1", "theorem2.1"):
        mask = np.zeros((10, 6))
        mask[0:3, 0:2] = 1
        mask[3:6, 1:4] = 1
        mask[6:10, 3:6] = 1
        sizes = (6, 10, 3) if case == "theorem1.1" else (6, 10, 4, 2, 3)
        X, Y = rng.normal(size=(6, 12)), rng.normal(size=(3, 12))
        kwargs = {"case": 1}
    elif case == "theorem1.2":
        mask = np.zeros((4, 6))
        mask[:2, :3] = 1
        mask[2:, 3:] = 1
        sizes = (6, 4, 4)
        X = np.linalg.qr(rng.normal(size=(10, 6)))[0].T * rng.uniform(1, 3, size=(6, 1))  # Z_1 Z_2^T = 0
        Y = rng.normal(size=(4, 10))
        kwargs = {"case": 2}
    elif case == "theorem1.3":
        mask = (rng.random((6, 5)) < 0.4).astype(float)
        mask[np.arange(6), rng.integers(0, 5, 6)] = 1
        sizes = (5, 6, 1)
        X, Y = rng.normal(size=(5, 9)), rng.normal(size=(1, 9))
        kwargs = {"case": 3}
    elif case == "theorem2.2":
        sizes = (5, 6, 4, 3, 1)
        ms = [(rng.random((sizes[i + 1], sizes[i])) < 0.5).astype(float) for i in range(len(sizes) - 1)]
        for m in ms:
            m[np.arange(m.shape[0]), rng.integers(0, m.shape[1], m.shape[0])] = 1
        for m in ms[1:]:
            m[rng.integers(0, m.shape[0], m.shape[1]), np.arange(m.shape[1])] = 1
        X, Y = rng.normal(size=(5, 9)), rng.normal(size=(1, 9))
        net = nets.MLP(sizes, "linear")
        masks = tuple({"W": m} for m in ms)
        params = nets.init(key, net, masks, dtype=jnp.float64)
        if degenerate:  # a zero second layer: every c_j = 0, the proof's induction runs
            params = params[:1] + ({"W": jnp.zeros_like(params[1]["W"])},) + params[2:]
        return net, params, X, Y, masks, {"case": 2}
    elif case == "theorem3":
        return _theorem3_problem(seed, rng, key, degenerate)
    elif case == "theorem5":
        return _theorem5_problem(seed, rng, key, degenerate)
    else:  # theorem4
        d, p, n = 4, 14, 10
        mask = (rng.random((p, d)) < 0.5).astype(float)
        mask[np.arange(p), rng.integers(0, d, p)] = 1
        X, Y = rng.normal(size=(d, n)), rng.normal(size=(2, n))
        net = nets.MLP((d, p, 2), "tanh")
        masks = ({"W": mask}, {"W": np.ones((2, p))})
        params = nets.init(key, net, masks, scale=3.0, dtype=jnp.float64)
        if degenerate:  # p - n + 3 dead units (σ(0) = 0): rank σ(W̃X) < n
            params = ({"W": params[0]["W"].at[: p - n + 3].set(0.0)}, params[1])
        return net, params, X, Y, masks, {"key": key}
    net = nets.MLP(sizes, "linear")
    masks = ({"W": mask},) + dense(sizes)
    params = nets.init(key, net, masks, dtype=jnp.float64)
    if degenerate:  # a copied first-layer row and a zeroed output weight
        W = params[0]["W"].at[1].set(params[0]["W"][0])
        params = ({"W": W},) + params[1:-1] + ({"W": params[-1]["W"].at[0, :2].set(0.0)},)
    return net, params, X, Y, masks, kwargs


def _theorem3_problem(seed, rng, key, degenerate):
    """Two-layer SD net with a random polynomial σ (degree 2 + seed mod 3, random coefficients,
    some zero) on 4 inputs, 3 distinct first-layer patterns covering every input, ``p_i`` =
    ``dim*(σ, Z_i)`` plus 0-2; n = 24 samples, so the infimum is positive when the lifted features
    do not span Rⁿ. Degenerate start: rows copied within a group (``ψ(W_i)`` rank-deficient)."""
    import jax.numpy as jnp

    from landscape import conditions, nets
    from landscape.activations import polynomial

    degree = 2 + seed % 3
    coeffs = rng.normal(size=degree + 1)
    coeffs[:-1][rng.random(degree) < 0.3] = 0.0
    coeffs[-1] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
    sigma = polynomial(coeffs)
    d, n, d_y = 4, 24, 2
    X, Y = rng.normal(size=(d, n)), rng.normal(size=(d_y, n))
    largest = 3 if degree < 4 else 2
    while True:  # three distinct patterns of 1..largest inputs that use every input
        pats = [np.isin(np.arange(d), rng.choice(d, rng.integers(1, largest + 1), replace=False)) for _ in range(3)]
        if np.any(pats, axis=0).all() and len({p.tobytes() for p in pats}) == 3:
            break
    rows = [pat for pat in pats for _ in range(conditions.dim_star(sigma, X[pat]) + int(rng.integers(0, 3)))]
    mask = np.array(rows, np.float64)[rng.permutation(len(rows))]
    p = mask.shape[0]
    net = nets.MLP((d, p, d_y), sigma)
    masks = ({"W": mask}, {"W": np.ones((d_y, p))})
    params = nets.init(key, net, masks, dtype=jnp.float64)
    if degenerate:  # every row of the first pattern copies one row: rank ψ(W_1) = 1
        group = np.flatnonzero((mask == pats[0]).all(axis=1))
        W = params[0]["W"].at[group].set(params[0]["W"][group[0]])
        params = ({"W": W}, {"W": params[1]["W"].at[:, group[1]].set(0.0)})
    return net, params, X, Y, masks, {"key": key}


def _theorem5_problem(seed, rng, key, degenerate):
    """Deep sparse net (depth 3 or 4 by seed), hidden layers pruned at random rates (30-60 %), a sparse
    final layer keeping ``≥ n`` connections per output (Remark 2), cleaned up (Appendix A); n = 8
    samples (Assumption 1 holds almost surely). Degenerate start: ``p − n + 2`` last-hidden
    neurons get zero incoming weights, so ``rank h_{L−1} < n``."""
    import jax.numpy as jnp

    from landscape import conditions, nets, structure
    from landscape import masks as masks_lib

    d, n, d_y = 5, 8, 3
    act = ("tanh", "shifted_sigmoid", "softplus")[seed % 3]
    sizes = (d, 12, 14, d_y) if seed % 4 < 2 else (d, 10, 10, 12, d_y)
    X, Y = rng.normal(size=(d, n)), rng.normal(size=(d_y, n))
    net = nets.MLP(sizes, act)
    for attempt in range(100):  # a mask that meets the structural conditions after the clean-up
        rates = list(rng.uniform(0.3, 0.6, size=net.depth - 1)) + [0.0]
        ms = masks_lib.random_masks(int(rng.integers(2**31)), net, rates)
        last = np.zeros((d_y, sizes[-2]))
        for k in range(d_y):
            last[k, rng.choice(sizes[-2], n + int(rng.integers(0, sizes[-2] - n + 1)), replace=False)] = 1
        ms = tuple(ms[:-1]) + ({"W": last},)
        ms = structure.effective_masks(net, ms).masks
        if conditions.theorem5_conditions(net, X, ms).applies:
            break
    else:
        raise RuntimeError("no mask met Theorem 5's conditions in 100 attempts")
    params = nets.init(key, net, ms, dtype=jnp.float64)
    if degenerate:
        W = params[-2]["W"].at[: sizes[-2] - n + 2].set(0.0)
        params = params[:-2] + ({"W": W}, params[-1])
    return net, params, X, Y, ms, {"key": key}


def build(case: str, seed: int = 0):
    """The path for ``problem(case, seed)`` (``property_p.theorem*_path``)."""
    from landscape import property_p as pp

    net, params, X, Y, masks, kwargs = problem(case, seed)
    fn = {"theorem1": pp.theorem1_path, "theorem2": pp.theorem2_path, "theorem3": pp.theorem3_path,
          "theorem4": pp.theorem4_path, "theorem5": pp.theorem5_path}[case.split(".")[0]]
    return fn(net, params, X, Y, masks, **kwargs)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case", choices=CASES, default="theorem4", help="which construction (default %(default)s)")
    p.add_argument("--seed", type=_common.seed_arg, default=0, help="problem and starting point (odd: a degenerate start)")
    p.add_argument("--n", type=_common.count_arg(1), default=64, help="loss evaluations per segment before refinement")
    p.add_argument("--refine", type=_common.count_arg(0), default=3, help="refinement rounds (see paths.loss_along)")
    _common.add_output_arguments(p, "results/property_p", "report.npz, report.json, loss_along_path.png", progress=False)


def summary(args, path, report) -> dict:
    """What ``report.json`` holds: the problem (``settings``) and the verdict of ``paths.verify``."""
    return {"settings": {"case": args.case, "seed": args.seed, "n": args.n, "refine": args.refine, "net": path.net.to_dict()},
            "case": args.case, "seed": args.seed, "net": path.net.to_dict(), "theorem": report.theorem,
            "labels": list(report.labels), "points": int(report.s.size), "max_increase": report.max_increase,
            "rise_tol": report.rise_tol, "end_loss": report.end_loss, "infimum": report.infimum,
            "end_gap": report.end_gap, "end_tol": report.end_tol, "passed": report.passed,
            "verdict": report.verdict, "evidence": report.evidence, "how": report.how, "rise_bound": report.rise_bound,
            "caveat": caveat(args.case)}


def caveat(case: str) -> Optional[str]:
    """What the theorem behind ``case`` does not claim (Theorem 5: valleys with empty interior), or None."""
    from landscape import property_p as pp

    return pp.THEOREM5_CAVEAT if case == "theorem5" else None


def main(args) -> int:
    import jax

    jax.config.update("jax_enable_x64", True)  # the constructions are checked in float64
    from landscape import paths

    def compute(update):
        path = build(args.case, args.seed)
        return path, paths.verify(path, n=args.n, refine=args.refine)

    def write(result, folder, overwrite):
        from landscape import plot

        path, report = result
        return [report.save(os.path.join(folder, "report.npz"), overwrite=overwrite),
                io.write_json(os.path.join(folder, "report.json"), summary(args, path, report), settings_key="settings",
                                   overwrite=overwrite),
                _common.save_figure(plot.path_report(report), os.path.join(folder, "loss_along_path.png"))]

    def text(result):
        _, report = result
        lines = [str(report)] + [f"  segment {k}: {lab}" for k, lab in enumerate(report.labels)]
        return "\n".join(lines + ([f"  caveat: {caveat(args.case)}"] if caveat(args.case) else []))

    _, report = _common.run_command(args, "property-p", compute=compute, write=write, summary=text,
                                    outputs=["report.npz", "report.json", "loss_along_path.png"],
                                    resume="Nothing was kept (a rerun starts afresh).")
    return 0 if report.passed else 1
