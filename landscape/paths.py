"""Curves in parameter space and the loss along them (Property P, Definition 4).

One piecewise-linear type serves the whole library:

* ``Polyline``: vertices ``v_0, ..., v_K`` (any pytree with a leading axis
  ``K + 1``: a params pytree, or ``(K + 1, k)`` free coordinates) at knots
  ``t_0 ≤ ... ≤ t_K`` (``t_0 < t_K``); on segment ``j`` (``t_j ≤ t ≤ t_{j+1}``)

      θ(t) = (1 − w) v_j + w v_{j+1},   w = (t − t_j) / (t_{j+1} − t_j),

  exact at every vertex; outside ``[t_0, t_K]`` the first or last segment is
  extended (a line through two points extrapolates). ``segments()`` gives each
  segment as ``(start, direction, [t_j, t_{j+1}])``, the form a bound of the
  loss along a segment works with.
* ``Bezier``: the quadratic Bézier curve ``(1−t)² c_0 + 2t(1−t) c_1 + t² c_2``
  (a curve kind of its own, used by the connectivity probes).

Both are pytrees, so they enter compiled programs as data: one compilation
serves every curve of the same shapes. ``to_free(space)`` / ``to_params(space)``
convert the vertices between params pytrees and free coordinates
(``curvature.FreeSpace``). ``sample(f, curve, t, *operands)`` evaluates
``f(curve(t), *operands)`` at many positions through the library's one batched
evaluator (``landscape.evaluate``); ``paths.verify`` and the connectivity
probes' dense profiles both use it.

A ``Path`` is a ``Polyline`` in params space with knots ``0, 1, ..., K`` (so
``s ∈ [0, K]`` means segment ``⌊s⌋`` at fraction ``s − ⌊s⌋``), segment labels
and the problem it lives in. Every construction of the paper (Lemma 1, Lemma 2,
Theorems 1 and 4) is such a chain of segments. ``loss_along`` refines where the
loss changes fast; ``verify`` adds a rigorous bound between the samples
(``landscape.bounds``) and gives a verdict with its evidence:

    path = property_p.theorem4_path(net, params, X, Y, masks)
    report = verify(path)            # report.verdict, report.evidence, report.rise_bound, ...
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import bounds, evaluate, io, nets
from landscape.verdicts import Evidence, Judgement, summary_line
from landscape.nets import MLP

# ----------------------------------------------------------------------------- curves


def _leading(tree) -> int:
    return int(np.shape(jax.tree.leaves(tree)[0])[0])


def _stack(points) -> Any:
    """A list of pytrees (or one array whose rows are the points) -> one pytree with a leading axis.

    Stacked on the host: an eager ``jnp.stack`` would compile once per number of points.
    """
    if isinstance(points, (np.ndarray, jax.Array)):
        return jnp.asarray(points)
    points = list(points)
    return jax.tree.map(lambda *ps: jnp.asarray(np.stack([np.asarray(q) for q in ps])), *points)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Polyline:
    """A piecewise-linear curve: ``vertices`` (leading axis ``K + 1``) at ``knots`` ``(K + 1,)``.

    Build one with ``Polyline.through(points, knots)`` (validated); the
    constructor itself does not validate, since JAX rebuilds the object from
    traced leaves inside compiled programs.

    Attributes:
      vertices: pytree, every leaf with leading axis ``K + 1``.
      knots: ``(K + 1,)`` non-decreasing positions of the vertices, ``t_0 < t_K``,
        in the vertices' dtype.
    """

    vertices: Any
    knots: Any

    @classmethod
    def through(cls, points, knots=None) -> "Polyline":
        """The polyline through ``points`` (a list of pytrees, or one array whose rows are the points).

        Args:
          points: at least two points of one structure and dtype.
          knots: ``(K + 1,)`` non-decreasing, ``knots[0] < knots[-1]``;
            default ``0, 1, ..., K``.

        Raises:
          ValueError: fewer than two points, or knots of the wrong length, not
            finite, decreasing, or all equal.
        """
        V = _stack(points)
        n = _leading(V)
        if n < 2:
            raise ValueError(f"points: a polyline needs at least two vertices, got {n}")
        dtype = jax.tree.leaves(V)[0].dtype
        t = np.arange(n, dtype=np.float64) if knots is None else np.asarray(knots, np.float64)
        if t.shape != (n,):
            raise ValueError(f"knots: expected shape ({n},), one per vertex, got {t.shape}")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0) or not t[-1] > t[0]:
            raise ValueError(f"knots: expected finite non-decreasing positions with knots[0] < knots[-1], got {t}")
        return cls(V, jnp.asarray(t, dtype))

    @property
    def num_segments(self) -> int:
        return int(np.shape(self.knots)[0]) - 1

    def vertex(self, j: int):
        """Vertex ``v_j``."""
        j = jnp.asarray(j, jnp.int32)  # traced index: one compiled gather per leaf shape, not one per j
        return jax.tree.map(lambda v: jax.lax.dynamic_index_in_dim(v, j, keepdims=False), self.vertices)

    def _locate(self, t):
        knots = jnp.asarray(self.knots)
        t = jnp.asarray(t, knots.dtype)
        j = jnp.clip(jnp.searchsorted(knots, t, side="right", method="compare_all") - 1, 0, knots.shape[0] - 2)
        lo, hi = knots[j], knots[j + 1]
        w = jnp.where(hi > lo, (t - lo) / jnp.where(hi > lo, hi - lo, 1), 0)  # a zero-length segment: its start
        return j, w

    def __call__(self, t):
        """The point ``θ(t)`` at a scalar position ``t`` (traceable)."""
        j, w = self._locate(t)
        def one(v):
            v = jnp.asarray(v)
            return (1 - w).astype(v.dtype) * v[j] + w.astype(v.dtype) * v[j + 1]

        return jax.tree.map(one, self.vertices)

    def basis(self, t) -> jax.Array:
        """``(m, K + 1)`` weights of the vertices at positions ``t`` ``(m,)``: ``θ(t) = B @ V`` (traceable)."""
        t = jnp.asarray(t, jnp.asarray(self.knots).dtype)
        j, w = jax.vmap(self._locate)(t)
        rows = jnp.arange(t.shape[0])
        B = jnp.zeros((t.shape[0], self.num_segments + 1), t.dtype)
        return B.at[rows, j].add(1 - w).at[rows, j + 1].add(w)

    def segments(self) -> tuple:
        """Each segment as ``(start, direction, t_lo, t_hi)``, leading axis ``K``.

        On segment ``j``, ``θ(t) = start_j + τ · direction_j`` with
        ``τ = (t − t_lo_j)/(t_hi_j − t_lo_j) ∈ [0, 1]`` (equal to ``θ(t)`` of
        ``__call__`` in exact arithmetic; rounding differs by an ulp).
        """
        V = self.vertices
        start = jax.tree.map(lambda v: v[:-1], V)
        direction = jax.tree.map(lambda v: v[1:] - v[:-1], V)
        knots = jnp.asarray(self.knots)
        return start, direction, knots[:-1], knots[1:]

    def padded(self, n_vertices: int) -> "Polyline":
        """The same curve on ``[t_0, t_K]`` with ``n_vertices`` vertices (the last repeated at knots
        ``t_K + 1, t_K + 2, ...``), so curves with up to that many vertices share one compiled program."""
        n = self.num_segments + 1
        if n_vertices < n:
            raise ValueError(f"n_vertices: expected at least {n}, got {n_vertices}")
        if n_vertices == n:
            return self
        pad = n_vertices - n
        # on the host: eager jnp ops would compile once per shape
        V = jax.tree.map(lambda v: jnp.asarray(np.concatenate([np.asarray(v), np.repeat(np.asarray(v)[-1:], pad, 0)])),
                         self.vertices)
        knots = np.asarray(self.knots)
        return Polyline(V, jnp.asarray(np.concatenate([knots, knots[-1] + np.arange(1, pad + 1, dtype=knots.dtype)])))

    def to_free(self, space) -> "Polyline":
        """The vertices as ``(K + 1, k)`` free coordinates of ``space`` (a ``curvature.FreeSpace``;
        ``ValueError`` when a vertex is non-zero where the masks are 0)."""
        n = self.num_segments + 1
        return Polyline(jnp.stack([space.flatten(self.vertex(j)) for j in range(n)]), self.knots)

    def to_params(self, space) -> "Polyline":
        """``(K + 1, k)`` free-coordinate vertices as params pytrees of ``space`` (masked entries 0)."""
        return Polyline(jax.vmap(space.unflatten)(jnp.asarray(self.vertices)), self.knots)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Bezier:
    """The quadratic Bézier curve ``(1−t)² c_0 + 2t(1−t) c_1 + t² c_2``, ``t ∈ [0, 1]``.

    Attributes:
      controls: pytree, every leaf with leading axis 3.
    """

    controls: Any

    @staticmethod
    def weights(t):
        """``(..., 3)`` Bernstein weights at positions ``t`` (traceable)."""
        return jnp.stack([(1 - t) ** 2, 2 * t * (1 - t), t**2], axis=-1)

    def __call__(self, t):
        """The point at a scalar position ``t`` (traceable)."""
        dtype = jax.tree.leaves(self.controls)[0].dtype
        b = self.weights(jnp.asarray(t, dtype))
        return jax.tree.map(lambda c: b[0] * jnp.asarray(c)[0] + b[1] * jnp.asarray(c)[1] + b[2] * jnp.asarray(c)[2],
                            self.controls)

    def basis(self, t) -> jax.Array:
        """``(m, 3)`` weights of the control points at positions ``t`` ``(m,)`` (traceable)."""
        return self.weights(jnp.asarray(t, jax.tree.leaves(self.controls)[0].dtype))

    def to_free(self, space) -> "Bezier":
        return Bezier(jnp.stack([space.flatten(jax.tree.map(lambda c: c[j], self.controls)) for j in range(3)]))

    def to_params(self, space) -> "Bezier":
        return Bezier(jax.vmap(space.unflatten)(jnp.asarray(self.controls)))


# ----------------------------------------------------------------------------- sampling


@dataclasses.dataclass(frozen=True)
class _Along:
    """``f`` at one position of a curve (static under jit; hashed by ``f``)."""

    f: Callable

    def __call__(self, t, curve, *operands):
        return self.f(curve(t), *operands)


def _size(tree) -> int:
    return sum(int(np.prod(np.shape(a)[1:])) for a in jax.tree.leaves(tree))


def sample(f: Callable, curve, t, *operands, n_params: Optional[int] = None, batch_size: Optional[int] = None,
           chunk_size: Optional[int] = None, n_devices: Optional[int] = None) -> np.ndarray:
    """``f(curve(t), *operands)`` at positions ``t`` (any shape), in float64.

    The one sampling code of paths and connectivity. The curve enters the
    compiled program as data (a ``Polyline`` padded to a power-of-two number of
    vertices), so curves of similar sizes share one compilation; positions run
    in fixed-shape chunks through ``evaluate.evaluator``.

    Args:
      f: scalar function of one point of the curve; hashable (module-level
        function or frozen dataclass), as it keys the compilation cache.
      curve: a ``Polyline`` or ``Bezier``.
      t: positions.
      *operands: extra arguments of ``f`` (data, masks).
      n_params: parameters per point for the batch-size rule (default: the size of one vertex).
      batch_size, chunk_size, n_devices: see ``evaluate.plan``.
    """
    if not isinstance(curve, (Polyline, Bezier)):
        raise TypeError(f"curve: expected a paths.Polyline or paths.Bezier, got {type(curve).__name__}")
    t = np.asarray(t, np.float64)
    flat = t.reshape(-1)
    if flat.size == 0:
        return np.zeros(t.shape)
    if isinstance(curve, Polyline):
        n = curve.num_segments + 1
        curve = curve.padded(1 << (n - 1).bit_length())
    vertices = curve.vertices if isinstance(curve, Polyline) else curve.controls
    dtype = jax.tree.leaves(vertices)[0].dtype
    out = evaluate.evaluate_points(_Along(f), flat.astype(dtype), curve, *operands,
                                   n_params=_size(vertices) if n_params is None else n_params,
                                   batch_size=batch_size, chunk_size=chunk_size, n_devices=n_devices)
    return np.asarray(out, np.float64).reshape(t.shape)


# ----------------------------------------------------------------------------- paths of a network


@dataclasses.dataclass(frozen=True)
class Path:
    """A piecewise-linear path ``θ(s)``, ``s ∈ [0, K]``, for one network and data set.

    Attributes:
      net: the network.
      polyline: a ``Polyline`` of params pytrees with knots ``0, 1, ..., K``.
      labels: ``K`` strings, what each segment does (e.g. ``"Lemma 1: U -> U0"``).
      X: ``(d_x, n)`` data.  Y: ``(d_y, n)`` targets.
      masks: masks pytree (or ``None``).
      infimum: the infimum of the loss the path is meant to reach (``None``: unknown).
      theorem: which construction built it.
      loss: ``"half_sum"`` (Eq. 1) or ``"mean"``.
    """

    net: MLP
    polyline: Polyline
    labels: tuple
    X: jax.Array
    Y: jax.Array
    masks: Optional[tuple] = None
    infimum: Optional[float] = None
    theorem: str = ""
    loss: str = "half_sum"

    @property
    def points(self):
        """The breakpoints: a params pytree whose leaves carry a leading axis ``K + 1``."""
        return self.polyline.vertices

    @property
    def num_segments(self) -> int:
        return self.polyline.num_segments

    def point(self, k: int):
        """Breakpoint ``θ_k`` (a params pytree)."""
        return self.polyline.vertex(k)

    @property
    def start(self):
        return self.point(0)

    @property
    def end(self):
        return self.point(self.num_segments)

    def at(self, s):
        """``θ(s)`` for a scalar position ``s ∈ [0, K]``."""
        return self.polyline(s)

    def loss_of(self, params) -> float:
        """The loss of this path's problem at ``params``."""
        return float(nets.loss(self.net, params, self.X, self.Y, self.masks, self.loss))


def from_points(net: MLP, points, labels, X, Y, masks=None, *, infimum=None, theorem="", loss="half_sum") -> Path:
    """Builds a ``Path`` from a list of ``K + 1`` params pytrees and ``K`` labels.

    Raises:
      ValueError: fewer than two points, ``labels`` of the wrong length, or an
        unknown ``loss``.
    """
    points = list(points)
    if len(points) < 2:
        raise ValueError(f"points: a path needs at least two breakpoints, got {len(points)}")
    if len(labels) != len(points) - 1:
        raise ValueError(f"labels: expected {len(points) - 1} segment labels, got {len(labels)}")
    if loss not in nets.LOSSES:
        raise ValueError(f"loss: unknown convention {loss!r}; expected one of {nets.LOSSES}")
    return Path(net, Polyline.through(points), tuple(labels), jnp.asarray(X), jnp.asarray(Y), masks, infimum, theorem,
                loss)


@dataclasses.dataclass(frozen=True)
class _NetLoss:
    """The loss of ``net`` at one params pytree (static under jit; hashed by net and convention)."""

    net: MLP
    loss: str

    def __call__(self, params, X, Y, masks):
        return nets.loss(self.net, params, X, Y, masks, self.loss)


def loss_at(path: Path, s, *, batch_size: Optional[int] = None, chunk_size: Optional[int] = None) -> np.ndarray:
    """The loss at positions ``s`` (any shape), in float64.

    ``sample`` with the path's loss: fixed-shape chunks (the last one padded),
    breakpoints padded to a power of two, so one compilation serves every path
    of the same net and data with up to that many points.
    """
    n_params = _size(path.points)
    return sample(_NetLoss(path.net, path.loss), path.polyline, s, path.X, path.Y, path.masks, n_params=n_params,
                  batch_size=batch_size, chunk_size=chunk_size)


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
    """Result of ``verify``: the sampled profile, a rigorous bound, and the verdict with its evidence.

    Verdicts (``verdict`` / ``evidence``, see docs/verdicts.md):

    * ``"PASS"`` (certified): ``bounds.enclose`` shows that ``L(t) − L(s) ≤ rise_tol`` for
      *every* ``s < t`` on the path (not only at samples), and the end loss is within
      ``end_tol`` of the infimum (a float64 point value ± its rounding margin);
    * ``"FAIL"`` (certified when the margin is known, else sampled): a witness -- two
      evaluated positions whose losses rise by more than ``rise_tol + 2·margin``, or an end
      loss farther than ``end_tol + margin`` from the infimum;
    * ``"no rise seen"`` (sampled): no rise above ``rise_tol`` at the evaluated positions,
      but the bound did not decide within its budget (or σ has no interval rule).

    Attributes:
      s, losses: positions and the loss there (sorted by ``s``): the sampled profile.
      max_increase: ``max_{i<j} L(s_j) − L(s_i)`` over the samples (0 for a non-increasing profile).
      rise_tol: the allowed increase, ``rtol · max(|L(0)|, 1)``.
      end_loss: ``L(θ(K))``.  infimum: the target (NaN if unknown).
      end_gap: ``end_loss − infimum`` (NaN if unknown).
      end_tol: allowed ``|end_gap|``.
      passed: ``verdict == "PASS"``.
      labels: segment labels; theorem: the construction.
      verdict, evidence, how: the judgement (``how``: the bound's methods and margin, or the
        resolution of the samples).
      rise_bound: rigorous upper bound of the largest rise anywhere on the path (NaN when
        not computed; meaningful as a bound only with ``evidence == "certified"``).
      margin: the rounding margin of the loss values.
      problem: the path's problem (``io.describe_problem``: net, loss, digests of the data and
        masks), so that a saved report names what it verified.
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
    verdict: str = ""
    evidence: str = "none"
    how: str = ""
    rise_bound: float = float("nan")
    margin: float = float("nan")
    problem: dict = dataclasses.field(default_factory=dict)

    @property
    def worst_position(self) -> float:
        """Where the largest sampled increase ends (``s``)."""
        run_min = np.minimum.accumulate(self.losses)
        return float(self.s[int(np.argmax(self.losses - run_min))])

    @property
    def judgement(self) -> Judgement:
        return Judgement(self.verdict, Evidence(self.evidence), self.how)

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
        if not meta.get("verdict"):  # a 0.1 file: its PASS was decided on samples only
            meta["passed"], meta["evidence"] = False, "sampled"
            meta["verdict"] = "FAIL" if meta["max_increase"] > meta["rise_tol"] else "no rise seen"
            meta["how"] = "saved by landscape 0.1 (sampled profile only)"
        return cls(s=arrays["s"], losses=arrays["losses"], **meta)

    def __str__(self) -> str:
        head = summary_line(f"{self.verdict} {self.theorem}".strip(), self.evidence, self.how)
        return (f"{head}\n  {len(self.labels)} segments; sampled: {self.s.size} points, max increase "
                f"{self.max_increase:.3g} (tol {self.rise_tol:.3g}); rise bound {self.rise_bound:.3g}; end loss "
                f"{self.end_loss:.6g}, infimum {self.infimum:.6g}, gap {self.end_gap:.3g} (tol {self.end_tol:.3g})")


def verify(path: Path, *, n: int = 64, refine: int = 3, rtol: float = 1e-9, end_atol: float = 1e-8,
           end_rtol: float = 0.0, infimum: Optional[float] = None, batch_size: Optional[int] = None,
           certify: bool = True, max_intervals: int = 1 << 14) -> PathReport:
    """Checks that the loss never rises along ``path`` and that it ends at the infimum.

    First the sampled profile (``loss_along``: ``n`` intervals per segment, ``refine``
    rounds); then, with ``certify``, ``bounds.enclose`` bounds the loss between the samples
    (exact polynomials where only the final layer moves or σ is polynomial, a constant
    where the moved weights feed only zeros, interval enclosures elsewhere, refined until
    decided or ``max_intervals`` pieces are spent). See ``PathReport`` for the verdicts.

    Args:
      path: the path.
      n, refine: resolution of the sampled profile (see ``loss_along``).
      rtol: allowed rise, relative to ``max(|L(0)|, 1)``: float64 rounding of a
        flat segment is ~1e-15 relative, so 1e-9 flags any real increase.
      end_atol, end_rtol: allowed ``|L(end) − infimum| ≤ end_atol + end_rtol·|infimum|``.
      infimum: overrides ``path.infimum``; with neither, only the rise is checked.
      certify: compute the rigorous bound (False: samples only, verdict at most "no rise seen").
      max_intervals: budget of interval pieces of the bound.

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
    resolution = (f"{s.size} positions: {n} per segment, {refine} refinement rounds, smallest spacing "
                  f"{float(np.min(np.diff(s))) if s.size > 1 else 0.0:.2g}")
    rise_bound, margin, enc = float("nan"), float("nan"), None
    if certify:
        enc = bounds.enclose(path.net, path.polyline, path.X, path.Y, path.masks, path.loss,
                             values=lambda t: loss_at(path, t, batch_size=batch_size), goal="rise", target=rise_tol,
                             init=s, max_intervals=max_intervals)
        rise_bound, margin = enc.rise_bound, enc.margin
    m_end = enc.end_margin if enc is not None and np.isfinite(enc.end_margin) else 0.0
    end_checked = bool(np.isfinite(inf))
    rise_witness = enc is not None and enc.witness and enc.rise_seen > rise_tol
    end_witness = end_checked and enc is not None and abs(gap) > end_tol + m_end
    seen = max(max_inc, enc.rise_seen if enc is not None else 0.0)
    if seen > rise_tol or (end_checked and abs(gap) > end_tol):
        verdict = "FAIL"
        evidence = Evidence.CERTIFIED if rise_witness or end_witness else Evidence.SAMPLED
        why = []
        if seen > rise_tol:
            why.append(f"witness: the loss rises by {seen:.3g} > tol {rise_tol:.2g} between evaluated positions"
                       + (" (beyond their rounding margins)" if rise_witness else ""))
        if end_checked and abs(gap) > end_tol:
            why.append(f"end loss {end_loss:.6g} is {abs(gap):.3g} from the infimum (tol {end_tol:.2g})")
        how = "; ".join(why)
    elif (enc is not None and enc.evidence == Evidence.CERTIFIED and enc.decided and rise_bound <= rise_tol
          and (not end_checked or abs(gap) + m_end <= end_tol)):
        verdict, evidence = "PASS", Evidence.CERTIFIED
        how = (f"no rise above {rise_tol:.2g} anywhere on the path: rise bound {rise_bound:.3g}; {enc.describe()}"
               + (f"; end loss within {end_tol:.2g} of the infimum" if end_checked else "; infimum not given"))
    else:
        verdict, evidence = "no rise seen", Evidence.SAMPLED
        how = f"no rise above {rise_tol:.2g} at {resolution}"
        if enc is not None:
            how += (f"; the bound did not decide (rise bound {rise_bound:.3g}, methods "
                    f"{sorted(set(enc.methods))}, {enc.n_intervals} interval pieces)")
    return PathReport(s, L, max_inc, rise_tol, end_loss, inf, gap, end_tol, verdict == "PASS", path.labels,
                      path.theorem, verdict, evidence.value, how, float(rise_bound), float(margin),
                      io.describe_problem(path.net, path.X, path.Y, path.masks, loss=path.loss))
