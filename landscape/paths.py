"""Paths in parameter space and the loss along them (Property P, Definition 4).

A ``Path`` is a list of parameter pytrees ``θ_0, ..., θ_K`` joined by straight
segments; position ``s ∈ [0, K]`` means segment ``k = ⌊s⌋`` at fraction
``s − k``:

    θ(s) = (1 − (s − k)) θ_k + (s − k) θ_{k+1}.

Every construction of the paper (Lemma 1, Lemma 2, Theorems 1 and 4) is a
chain of such segments, so this one type carries them all. ``loss_along``
evaluates the loss at any number of positions in fixed-size compiled chunks
(``jax.lax.map`` with a ``batch_size``: vmapped inside a chunk) and refines
where the loss changes fast; ``verify`` turns that into a pass/fail report:

    path = property_p.theorem4_path(net, params, X, Y, masks)
    report = verify(path)            # report.passed, report.max_increase, ...
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import nets
from landscape.nets import MLP
from landscape import io


@dataclasses.dataclass(frozen=True)
class Path:
    """A piecewise-linear path ``θ(s)``, ``s ∈ [0, K]``, for one network and data set.

    Attributes:
      net: the network.
      points: params pytree whose leaves carry a leading axis ``K + 1`` (the breakpoints).
      labels: ``K`` strings, what each segment does (e.g. ``"Lemma 1: U -> U0"``).
      X: ``(d_x, n)`` data.  Y: ``(d_y, n)`` targets.
      masks: masks pytree (or ``None``).
      infimum: the infimum of the loss the path is meant to reach (``None``: unknown).
      theorem: which construction built it.
      loss_kind: ``"half_sum"`` (Eq. 1) or ``"mean"``.
    """

    net: MLP
    points: tuple
    labels: tuple
    X: jax.Array
    Y: jax.Array
    masks: Optional[tuple] = None
    infimum: Optional[float] = None
    theorem: str = ""
    loss_kind: str = "half_sum"

    @property
    def num_segments(self) -> int:
        return int(jax.tree.leaves(self.points)[0].shape[0]) - 1

    def point(self, k: int):
        """Breakpoint ``θ_k`` (a params pytree)."""
        k = jnp.asarray(k, jnp.int32)  # traced index: one compiled gather per leaf shape, not one per k
        return jax.tree.map(lambda p: jax.lax.dynamic_index_in_dim(p, k, keepdims=False), self.points)

    @property
    def start(self):
        return self.point(0)

    @property
    def end(self):
        return self.point(self.num_segments)

    def at(self, s):
        """``θ(s)`` for a scalar position ``s ∈ [0, K]``."""
        return _interpolate(self.points, jnp.asarray(s, jax.tree.leaves(self.points)[0].dtype))

    def loss(self, params) -> float:
        return float(nets.loss(self.net, params, self.X, self.Y, self.masks, self.loss_kind))


def from_points(net: MLP, points, labels, X, Y, masks=None, *, infimum=None, theorem="", loss_kind="half_sum") -> Path:
    """Builds a ``Path`` from a list of ``K + 1`` params pytrees and ``K`` labels.

    Raises:
      ValueError: fewer than two points, or ``labels`` of the wrong length.
    """
    points = list(points)
    if len(points) < 2:
        raise ValueError(f"points: a path needs at least two breakpoints, got {len(points)}")
    if len(labels) != len(points) - 1:
        raise ValueError(f"labels: expected {len(points) - 1} segment labels, got {len(labels)}")
    # stacked on the host: an eager jnp.stack would compile once per number of points
    stacked = jax.tree.map(lambda *ps: jnp.asarray(np.stack([np.asarray(q) for q in ps])), *points)
    return Path(net, stacked, tuple(labels), jnp.asarray(X), jnp.asarray(Y), masks, infimum, theorem, loss_kind)


def concatenate(*paths: Path) -> Path:
    """Joins paths whose ends meet (the first point of each later path is dropped)."""
    first = paths[0]
    pts = [first.points] + [jax.tree.map(lambda p: p[1:], q.points) for q in paths[1:]]
    stacked = jax.tree.map(lambda *ps: jnp.concatenate(ps), *pts)
    labels = sum((q.labels for q in paths), ())
    return dataclasses.replace(first, points=stacked, labels=labels, infimum=paths[-1].infimum)


def _interpolate(points, s):
    K = jax.tree.leaves(points)[0].shape[0] - 1
    k = jnp.clip(jnp.floor(s).astype(jnp.int32), 0, K - 1)
    t = s - k
    return jax.tree.map(lambda p: (1 - t) * p[k] + t * p[k + 1], points)


@partial(jax.jit, static_argnames=("net", "loss_kind", "batch_size"))
def _losses_at(net, loss_kind, batch_size, points, X, Y, masks, s):
    def one(si):
        return nets.loss(net, _interpolate(points, si), X, Y, masks, loss_kind)

    return jax.lax.map(one, s, batch_size=batch_size)


def _pad_points(points):
    """Repeats the last breakpoint up to the next power of two (positions ``s ≤ K`` are unchanged)."""
    k1 = int(jax.tree.leaves(points)[0].shape[0])
    pad = (1 << max(k1 - 1, 1).bit_length()) - k1
    if pad == 0:
        return points
    return jax.tree.map(lambda p: jnp.asarray(np.concatenate([np.asarray(p), np.repeat(np.asarray(p)[-1:], pad, 0)])),
                        points)


def default_batch_size(path: Path) -> int:
    """Points per vmapped batch inside ``lax.map``.

    On CPU, for a width-400 net, batch 64 was 2-5x slower than 1 or 8, and
    1 vs 8 swapped order between two runs on a shared machine (see
    benchmarks/RESULTS.md); one point at a time also matches the
    design notes, so large nets get 1, tiny nets bigger vmapped batches.
    On accelerators the batch fills the device.
    """
    n_params = sum(int(np.prod(p.shape[1:])) for p in jax.tree.leaves(path.points))
    n = int(path.X.shape[1])
    work = n_params * n
    if jax.default_backend() == "cpu":
        return int(max(1, min(256, 2**20 // max(work, 1))))
    return int(max(1, min(1024, 2**26 // max(work, 1))))


def loss_at(path: Path, s, *, batch_size: Optional[int] = None, chunk: int = 1024) -> np.ndarray:
    """The loss at positions ``s`` (any shape), in compiled chunks of ``chunk`` points.

    All chunks share one shape (the last is padded), and the breakpoints are
    padded (last point repeated) to the next power of two, so one compilation
    serves every path of the same net and data with up to that many points.
    """
    points = _pad_points(path.points)
    s = np.asarray(s, np.float64)
    flat = s.reshape(-1)
    bs = batch_size or default_batch_size(path)
    chunk = max(bs, (chunk // bs) * bs)
    dtype = jax.tree.leaves(path.points)[0].dtype
    out = np.empty(flat.shape, np.float64)
    for i in range(0, flat.size, chunk):
        part = flat[i:i + chunk]
        padded = np.pad(part, (0, chunk - part.size), mode="edge") if part.size < chunk else part
        vals = _losses_at(path.net, path.loss_kind, bs, points, path.X, path.Y, path.masks, jnp.asarray(padded, dtype))
        out[i:i + part.size] = np.asarray(vals)[: part.size]
    return out.reshape(s.shape)


def loss_along(path: Path, n: int = 64, *, refine: int = 3, refine_frac: float = 0.1, refine_points: int = 8,
               batch_size: Optional[int] = None) -> tuple:
    """The loss along the whole path, refined where it changes fast.

    Starts from ``n`` uniform intervals per segment (the breakpoints are always
    included); then, ``refine`` times, splits into ``refine_points`` pieces the
    intervals whose loss changes most (the top ``refine_frac`` by
    ``|ΔL|``) and every interval over which the loss rises.

    Returns:
      ``(s, losses)``: sorted positions ``(m,)`` and the loss there ``(m,)``.
    """
    if n < 1:
        raise ValueError(f"n: expected at least one interval per segment, got {n}")
    K = path.num_segments
    s = np.linspace(0.0, K, K * n + 1)
    L = loss_at(path, s, batch_size=batch_size)
    for _ in range(refine):
        d = np.diff(L)
        if d.size == 0:
            break
        big = np.abs(d) >= np.quantile(np.abs(d), 1.0 - refine_frac)
        idx = np.flatnonzero(big | (d > 0))
        if idx.size == 0:
            break
        frac = np.arange(1, refine_points) / refine_points
        new = (s[idx, None] + frac[None, :] * (s[idx + 1] - s[idx])[:, None]).reshape(-1)
        Lnew = loss_at(path, new, batch_size=batch_size)
        s = np.concatenate([s, new])
        L = np.concatenate([L, Lnew])
        order = np.argsort(s, kind="stable")
        s, L = s[order], L[order]
    return s, L


@dataclasses.dataclass(frozen=True)
class PathReport(io.Saveable):
    """Result of ``verify``.

    Attributes:
      s, losses: positions and the loss there (sorted by ``s``).
      max_increase: ``max_{i<j} L(s_j) − L(s_i)`` (0 for a non-increasing path).
      rise_tol: the allowed increase, ``rtol · max(|L(0)|, 1)``.
      end_loss: ``L(θ(K))``.  infimum: the target (NaN if unknown).
      end_gap: ``end_loss − infimum`` (NaN if unknown).
      end_tol: allowed ``|end_gap|``.
      passed: ``max_increase ≤ rise_tol`` and ``|end_gap| ≤ end_tol``.
      labels: segment labels; theorem: the construction.
    """

    s: np.ndarray
    losses: np.ndarray
    max_increase: float
    rise_tol: float
    end_loss: float
    infimum: float
    end_gap: float
    end_tol: float
    passed: bool
    labels: tuple = ()
    theorem: str = ""

    @property
    def worst_position(self) -> float:
        """Where the largest increase ends (``s``)."""
        run_min = np.minimum.accumulate(self.losses)
        return float(self.s[int(np.argmax(self.losses - run_min))])

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def _to_file(self) -> tuple:
        meta = {k: v for k, v in self.to_dict().items() if k not in ("s", "losses")}
        meta["labels"] = list(self.labels)
        return {"s": self.s, "losses": self.losses}, meta

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "PathReport":
        meta = {k: v for k, v in meta.items() if k not in ("versions", "saved")}
        meta["labels"] = tuple(meta["labels"])
        return cls(s=arrays["s"], losses=arrays["losses"], **meta)

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return (f"{verdict} {self.theorem}: {len(self.labels)} segments, {self.s.size} points; "
                f"max increase {self.max_increase:.3g} (tol {self.rise_tol:.3g}); "
                f"end loss {self.end_loss:.6g}, infimum {self.infimum:.6g}, gap {self.end_gap:.3g} (tol {self.end_tol:.3g})")


def verify(path: Path, *, n: int = 64, refine: int = 3, rtol: float = 1e-9, end_atol: float = 1e-8,
           end_rtol: float = 0.0, infimum: Optional[float] = None, batch_size: Optional[int] = None) -> PathReport:
    """Checks that the loss never rises along ``path`` and that it ends at the infimum.

    Args:
      path: the path.
      n, refine: resolution (see ``loss_along``).
      rtol: allowed rise, relative to ``max(|L(0)|, 1)``: float64 rounding of a
        flat segment is ~1e-15 relative, so 1e-9 flags any real increase.
      end_atol, end_rtol: allowed ``|L(end) − infimum| ≤ end_atol + end_rtol·|infimum|``.
      infimum: overrides ``path.infimum``; with neither, only the rise is checked.

    Returns:
      A ``PathReport``.
    """
    s, L = loss_along(path, n, refine=refine, batch_size=batch_size)
    run_min = np.minimum.accumulate(L)
    max_inc = float(np.max(L - run_min))
    rise_tol = rtol * max(abs(float(L[0])), 1.0)
    inf = path.infimum if infimum is None else infimum
    inf = float("nan") if inf is None else float(inf)
    end_loss = float(L[-1])
    gap = end_loss - inf
    end_tol = end_atol + end_rtol * abs(inf) if np.isfinite(inf) else float("nan")
    passed = bool(max_inc <= rise_tol and (not np.isfinite(inf) or abs(gap) <= end_tol))
    return PathReport(s, L, max_inc, rise_tol, end_loss, inf, gap, end_tol, passed, path.labels, path.theorem)
