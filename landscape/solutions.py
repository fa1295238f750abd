"""Distinct solutions of many trials: grouped by output and loss, then labelled by curvature.

Two end points of training are "the same solution" when their network outputs
``f(X)`` agree to ``out_tol`` (max absolute entry difference) and their losses
to ``loss_tol``. Grouping is by output, not by weights: weights of one solution
differ by symmetries (e.g. ``(w1, σ(w5)) → (c w1, σ(w5)/c)`` on Theorem 6's
valley). Each group is then classified at its member with the smallest
gradient norm (``curvature.classify_critical_point``): not critical / saddle /
flat minimum / strict minimum.

    labels = label_solutions(net, result.params, X, Y, masks)
    print(labels.table())
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import curvature, evaluate, io, nets, validate
from landscape.nets import MLP


@dataclasses.dataclass(frozen=True)
class Solutions(io.Saveable):
    """Distinct solutions of a batch of points, most frequent first.

    Attributes:
      group: ``(n_points,)`` group id of every point (−1: not finite, left out).
      counts: ``(g,)`` members per group.
      representative: ``(g,)`` index of each group's member with the smallest
        gradient norm.
      loss: ``(g,)`` the representative's loss.
      grad_norm: ``(g,)`` the representative's ‖∇L‖₂ (free coordinates).
      output: ``(g, d_y, n)`` the representative's network output.
      out_tol, loss_tol: the grouping tolerances.
      labels: ``(g,)`` curvature labels (``curvature.LABELS``) or None.
      curvature: per group ``CriticalPoint.to_dict()`` or None.
      problem: what the points were evaluated on (``io.describe_problem``: net, loss,
        dtype, digests of the data and masks).
    """

    group: np.ndarray
    counts: np.ndarray
    representative: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    output: np.ndarray
    out_tol: float
    loss_tol: float
    labels: Optional[list] = None
    curvature: Optional[list] = None
    problem: dict = dataclasses.field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return int(self.counts.shape[0])

    def table(self, global_min: Optional[float] = None) -> str:
        """A plain-text table: count, loss, gradient norm, label, eigenvalue counts."""
        head = f"{'group':>5} {'count':>5} {'loss':>12} {'|grad|':>9} {'label':<15} {'neg':>4} {'flat':>4} {'pos':>4} {'min eig':>10}"
        rows = [head]
        for i in range(self.n_groups):
            c = self.curvature[i] if self.curvature else {}
            lab = self.labels[i] if self.labels else "-"
            tag = "  (global min)" if global_min is not None and abs(self.loss[i] - global_min) <= self.loss_tol else ""
            rows.append(f"{i:>5} {int(self.counts[i]):>5} {self.loss[i]:>12.6g} {self.grad_norm[i]:>9.2g} {lab:<15} "
                        f"{_s(c.get('n_negative')):>4} {_s(c.get('n_flat')):>4} {_s(c.get('n_positive')):>4} "
                        f"{_s(c.get('min_eig'), '.3g'):>10}{tag}")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {"counts": self.counts.tolist(), "representative": self.representative.tolist(),
                "loss": self.loss.tolist(), "grad_norm": self.grad_norm.tolist(), "out_tol": self.out_tol,
                "loss_tol": self.loss_tol, "labels": self.labels, "curvature": self.curvature}

    def _to_file(self) -> tuple:
        return ({"group": self.group, "counts": self.counts, "representative": self.representative,
                 "loss": self.loss, "grad_norm": self.grad_norm, "output": self.output},
                {"out_tol": self.out_tol, "loss_tol": self.loss_tol, "labels": self.labels, "curvature": self.curvature,
                 "problem": self.problem})

    @classmethod
    def _from_file(cls, a: dict, meta: dict) -> "Solutions":
        return cls(a["group"], a["counts"], a["representative"], a["loss"], a["grad_norm"], a["output"],
                   meta["out_tol"], meta["loss_tol"], meta["labels"], meta["curvature"], meta.get("problem", {}))


def _s(v, fmt=""):
    return "-" if v is None else format(v, fmt)


def group_solutions(net: MLP, params_batch, X, Y, masks=None, *, out_tol: float = 1e-2, loss_tol: float = 1e-3,
                    loss: str = "half_sum", dtype=None, batch_size: Optional[int] = None) -> Solutions:
    """Groups points (a leading axis on every params leaf) into distinct solutions.

    Greedy leader clustering in order of loss: a point joins the first group
    whose leader's output is within ``out_tol`` (max abs entry) and loss
    within ``loss_tol``; else it leads a new group. Groups are then sorted by
    count (most frequent first).

    Tolerances: defaults suit end points trained to ``‖∇L‖ ≲ 1e-4`` in float32
    on O(1) targets (Table 3); a point a distance δ from a solution differs
    from it by ~δ in output, so ``out_tol`` must exceed the training error.

    Args:
      net: the network.
      params_batch: params with a leading trial axis (e.g. ``TrialsResult.params``).
      X, Y: ``(d_x, n)`` data and ``(d_y, n)`` targets.
      masks: 0/1 masks (``None``: dense).
      out_tol, loss_tol: grouping tolerances.
      loss: loss convention; dtype: float dtype of the analysis (default: float64 when
        ``jax_enable_x64`` is on, else float32; an explicit float64 needs x64).
      batch_size: points vmapped together (default ``evaluate.default_batch_size``).
    """
    validate.net(net)
    out_tol, loss_tol = validate.positive(out_tol, "out_tol"), validate.positive(loss_tol, "loss_tol")
    validate.choice(loss, "loss", nets.LOSSES)
    dtype = validate.float_dtype(jnp.result_type(float) if dtype is None else dtype)  # default: float64 under x64
    masks = nets.dense_masks(net, dtype) if masks is None else nets.check_masks(net, masks)
    params_batch = validate.params(net, params_batch, name="params_batch", batched=True)  # (m, ...) leaves; NaN allowed
    X, Y = nets.check_data(net, X, Y)
    X, Y = np.asarray(X, dtype), np.asarray(Y, dtype)
    P = jax.tree.map(lambda p: np.asarray(p, dtype), tuple(params_batch))
    masks_d = jax.tree.map(lambda m: np.asarray(m, dtype), tuple(masks))
    n_params = sum(int(np.prod(np.shape(m))) for m in jax.tree.leaves(masks_d))

    F, L, G = (np.asarray(a, np.float64) for a in evaluate.evaluate_points(
        _OutputLossGrad(net, loss), P, X, Y, masks_d, n_params=n_params, batch_size=batch_size))
    ok = np.isfinite(L) & np.all(np.isfinite(F.reshape(F.shape[0], -1)), axis=1)
    group = np.full(L.shape[0], -1)
    leaders = []
    for i in np.argsort(np.where(ok, L, np.inf), kind="stable"):
        if not ok[i]:
            continue
        for gid, j in enumerate(leaders):
            if abs(L[i] - L[j]) <= loss_tol and np.max(np.abs(F[i] - F[j])) <= out_tol:
                group[i] = gid
                break
        else:
            group[i] = len(leaders)
            leaders.append(i)
    counts = np.bincount(group[group >= 0], minlength=len(leaders))
    order = np.argsort(-counts, kind="stable")
    remap = np.empty(len(leaders), int)
    remap[order] = np.arange(len(leaders))
    group = np.where(group >= 0, remap[np.maximum(group, 0)], -1)
    counts = counts[order]
    rep = np.array([np.flatnonzero(group == g)[np.argmin(G[group == g])] for g in range(len(leaders))], int)
    return Solutions(group=group, counts=counts, representative=rep, loss=L[rep], grad_norm=G[rep], output=F[rep],
                     out_tol=float(out_tol), loss_tol=float(loss_tol),
                     problem=io.describe_problem(net, X, Y, masks_d, loss=loss, dtype=dtype))


@dataclasses.dataclass(frozen=True)
class _OutputLossGrad:
    """One point ``p ↦ (f(X), L, ‖∇L‖₂)`` (masked gradient) for ``evaluate``; static, hashed by net and loss."""

    net: MLP
    loss: str

    def __call__(self, p, X, Y, masks):
        F = nets.apply(self.net, p, X, masks)
        L, g = jax.value_and_grad(lambda q: nets.loss(self.net, q, X, Y, masks, self.loss))(p)
        g = nets.apply_masks(g, masks)
        return F, L, jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(g)))


def label_solutions(net: MLP, params_batch, X, Y, masks=None, *, out_tol: float = 1e-2, loss_tol: float = 1e-3,
                    gtol: float = 1e-3, eig_atol: float = 1e-3, eig_rtol: float = 1e-8, loss: str = "half_sum",
                    dtype=None, dense_max: int = 2000) -> Solutions:
    """``group_solutions`` then ``curvature.classify_critical_point`` at every group's representative.

    Args:
      net, params_batch, X, Y, masks: as for ``group_solutions``.
      out_tol, loss_tol: grouping tolerances (see ``group_solutions``).
      gtol: a representative with ``‖∇L‖₂ > gtol`` is ``"not_critical"``; the
        default suits float32 training stopped at ``gtol=1e-5`` or after a
        step budget on a slow valley.
      eig_atol, eig_rtol: zero band of the Hessian eigenvalues (``classify_critical_point``).
      loss: loss convention; dtype: float dtype of the analysis (default as ``group_solutions``).

    Returns:
      ``Solutions`` with ``labels`` and ``curvature`` filled in.
    """
    dtype = validate.float_dtype(jnp.result_type(float) if dtype is None else dtype)
    sol = group_solutions(net, params_batch, X, Y, masks, out_tol=out_tol, loss_tol=loss_tol, loss=loss, dtype=dtype)
    f, space = curvature.masked_objective(net, X, Y, masks, loss=loss, dtype=dtype)
    labels, curv = [], []
    for r in sol.representative:
        p = jax.tree.map(lambda a: np.asarray(a)[r], tuple(params_batch))
        z = space.flatten(nets.apply_masks(p, space.masks), check=False)
        c = curvature.classify_critical_point(f, z, gtol=gtol, eig_atol=eig_atol, eig_rtol=eig_rtol,
                                              dense_max=dense_max)
        labels.append(c.label)
        curv.append(c.to_dict())
    return io.replace(sol, labels=labels, curvature=curv)
