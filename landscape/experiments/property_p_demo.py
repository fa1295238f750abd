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
linear, d_y = 1, all layers sparse), theorem4 (two-layer SD tanh net, p >= n).

Example:
  landscape property-p --case theorem4 --seed 3 --out results/property_p
"""

from __future__ import annotations

import argparse
import os

import numpy as np

from landscape.experiments import _common

CASES = ("theorem1.1", "theorem1.2", "theorem1.3", "theorem2.1", "theorem2.2", "theorem4")


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


def build(case: str, seed: int = 0):
    """The path for ``problem(case, seed)`` (``property_p.theorem*_path``)."""
    from landscape import property_p as pp

    net, params, X, Y, masks, kwargs = problem(case, seed)
    fn = {"theorem1": pp.theorem1_path, "theorem2": pp.theorem2_path, "theorem4": pp.theorem4_path}[case.split(".")[0]]
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
            "verdict": report.verdict, "evidence": report.evidence, "how": report.how, "rise_bound": report.rise_bound}


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
                _common.write_json(os.path.join(folder, "report.json"), summary(args, path, report), settings_key="settings",
                                   overwrite=overwrite),
                _common.save_figure(plot.path_report(report), os.path.join(folder, "loss_along_path.png"))]

    def text(result):
        _, report = result
        return "\n".join([str(report)] + [f"  segment {k}: {lab}" for k, lab in enumerate(report.labels)])

    _, report = _common.run_command(args, "property-p", compute=compute, write=write, summary=text,
                                    outputs=["report.npz", "report.json", "loss_along_path.png"],
                                    resume="Nothing was kept (a rerun starts afresh).")
    return 0 if report.passed else 1
