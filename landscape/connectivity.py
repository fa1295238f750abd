"""Sublevel-set connectivity probes: are two points joined below a level α?

For a loss ``f`` on the free coordinates (``curvature.masked_objective``) and two
points ``z0, z1`` this module searches for a path between them whose highest
loss is as low as possible:

* ``linear_path``: the straight segment (the linear-interpolation barrier);
* ``bezier_path``: a quadratic Bézier curve ``(1−t)² z0 + 2t(1−t) θ + t² z1``;
* ``chain_path``: a polygonal chain with ``bends`` free vertices;
* ``elastic_band``: the nudged elastic band with a climbing image.

Curves are trained with optax on a smoothed maximum of the loss along the curve
(Garipov et al. 2018 use the mean); the band on NEB forces (Henkelman et al.
2000). Every iteration evaluates all curve points or band images in one call
(``evaluate.map_points``: the library's batch-size rule, a single vmap on
accelerators). Every path lives in the masked subspace by construction: it is a
path of free coordinates.

The probes' settings (steps, learning rate, optimizer, points, images, ...) are
one frozen ``ProbeConfig``; simple calls stay simple and any setting can be
overridden by keyword:

    r = connect(f, z0, z1)                                    # defaults
    r = connect(f, z0, z1, steps=2000, n_images=32)           # overrides
    cfg = ProbeConfig(steps=3000, optimizer=opt); connect(f, z0, z1, config=cfg)

Every result is re-evaluated on a dense grid of the final path (``paths.sample``,
the same sampling code as ``paths.verify``), and carries

    barrier = max_t f(path(t)) − max(f(z0), f(z1))

and a verdict at level α (default: the larger endpoint loss), with its evidence:
``"connected below alpha"`` (certified) when a rigorous bound (``landscape.bounds``) shows
the *whole* found path stays ≤ α + tol; ``"found path below alpha at every sampled point"``
(sampled) when only the dense profile does (Bézier curves, functions that are not a
``curvature.Objective``, or a bound that did not decide); else ``"no path found within
budget"`` (evidence none). A failed search never says "disconnected"; only a proof does:
``"not connected below alpha"`` (proved) needs a ``theory.Theorem6Certificate``, which is
re-checked against the question (same objective, same points, α ≤ y4²/2).

Many points: ``barrier_matrix`` runs a probe on every pair, then gives the
minimum spanning tree of the path heights (as AutoNEB does) and the connected
components at any level α.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy.sparse import csgraph

from landscape import bounds, distributed, evaluate, io, validate
from landscape.paths import Bezier, Polyline, sample
from landscape.verdicts import Evidence, Judgement, summary_line

CONNECTED = "connected below alpha"
"""Certified: a rigorous bound (``landscape.bounds``) shows the whole found path stays ≤ alpha + tol."""
CONNECTED_SAMPLED = "found path below alpha at every sampled point"
"""Sampled: the dense profile stays ≤ alpha + tol, but between samples nothing was bounded
(a Bézier curve, a function that is not a ``curvature.Objective``, or a bound that did not decide)."""
NOT_FOUND = "no path found within budget"
"""Evidence none: a failed search says nothing about disconnection."""
CERTIFIED_DISCONNECTED = "not connected below alpha"
"""Proved: a ``theory.Theorem6Certificate`` re-checked against this question (net, data, points, level)."""
METHODS = ("linear", "bezier", "chain", "neb")


@functools.lru_cache(maxsize=None)
def _adam(learning_rate: float) -> optax.GradientTransformation:
    """One optax.adam object per learning rate, so compiled programs are reused."""
    return optax.adam(learning_rate)


# ----------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Settings of the connectivity probes: one object for all of them (each reads its own fields).

    Attributes:
      rtol: default slack of the verdict, ``tol = rtol · max(1, |alpha|)``.
      n_eval: points of the dense loss profile (linear, Bézier, chain; vertices added).
      batch_size: points vmapped together in one call (default: ``evaluate.default_batch_size``;
        0: all of them).
      steps: optimisation steps of the trained probes (Bézier, chain, band).
      learning_rate: Adam's step when ``optimizer`` is None.
      optimizer: any optax transformation (keep one object across calls to reuse
        the compiled program; a decaying schedule lets band images settle).
      seed: key of the stratified random curve points.
      n_points: curve points per step (default 16 for Bézier, 32 for a chain).
      temperature: smoothed max of the curve objective, softmax temperature ×
        the loss range on the curve; 0 is the mean loss (Garipov et al.).
      bends: movable vertices of a chain (at ``t = j/(bends+1)``).
      n_images: movable images of the band (the endpoints are fixed extra images).
      climb, climb_after: the highest image climbs after ``climb_after · steps``.
      spring: NEB spring constant (loss units per squared distance).
      refine: the band's final polygon is evaluated at ``refine`` points per segment.
      certify: when the dense profile stays below the level and the curve is a polyline of a
        ``curvature.Objective``, bound the loss between the samples (``landscape.bounds``) so
        that "connected" covers the whole path; ``certify_budget`` interval pieces at most.
    """

    rtol: float = 1e-3
    n_eval: int = 129
    batch_size: Optional[int] = None
    steps: int = 500
    learning_rate: float = 1e-2
    optimizer: Optional[optax.GradientTransformation] = None
    seed: int = 0
    n_points: Optional[int] = None
    temperature: float = 0.03
    bends: int = 3
    n_images: int = 16
    climb: bool = True
    climb_after: float = 0.5
    spring: float = 1.0
    refine: int = 4
    certify: bool = True
    certify_budget: int = 4096

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)  # validated values, as Python numbers
        for name, lo in (("steps", 1), ("n_eval", 2), ("bends", 1), ("n_images", 1), ("refine", 1)):
            set_(name, validate.integer(getattr(self, name), name, low=lo))
        set_("seed", validate.seed(self.seed))
        set_("n_points", validate.optional_integer(self.n_points, "n_points", low=2))
        set_("batch_size", validate.optional_integer(self.batch_size, "batch_size", low=0))  # 0: all points at once
        for name in ("rtol", "temperature", "spring"):
            set_(name, validate.nonnegative(getattr(self, name), name))
        set_("learning_rate", validate.positive(self.learning_rate, "learning_rate"))
        set_("climb_after", validate.real(self.climb_after, "climb_after", low=0.0, high=1.0))
        set_("climb", validate.boolean(self.climb, "climb"))
        if self.optimizer is not None and not (callable(getattr(self.optimizer, "init", None))
                                               and callable(getattr(self.optimizer, "update", None))):
            raise TypeError(f"optimizer: expected an optax GradientTransformation or None, got {validate.got(self.optimizer)}")

    def opt(self) -> optax.GradientTransformation:
        """The optimizer: ``optimizer``, or one cached ``optax.adam(learning_rate)``."""
        return _adam(float(self.learning_rate)) if self.optimizer is None else self.optimizer


_SETTINGS = tuple(f.name for f in dataclasses.fields(ProbeConfig))


def _config(where: str, config: Optional[ProbeConfig], settings: dict) -> ProbeConfig:
    """``config`` (default ``ProbeConfig()``) with keyword overrides, validated."""
    if config is not None and not isinstance(config, ProbeConfig):
        raise TypeError(f"config: expected a connectivity.ProbeConfig, got {type(config).__name__}")
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"{where}: unexpected keyword argument(s) {unknown}; the settings are the fields of "
                        f"ProbeConfig: {', '.join(_SETTINGS)}")
    cfg = config or ProbeConfig()
    return dataclasses.replace(cfg, **settings) if settings else cfg


def _batch(cfg: ProbeConfig, k: int, n: int) -> int:
    """Points vmapped together when ``n`` points of ``k`` coordinates are evaluated in one program."""
    if cfg.batch_size is None:
        return evaluate.default_batch_size(k, n)
    return n if cfg.batch_size == 0 else min(int(cfg.batch_size), n)


# ----------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class PathResult(io.Saveable):
    """A path between two points, its loss profile, barrier and verdict.

    Attributes:
      method: ``"linear"``, ``"bezier"``, ``"chain"`` or ``"neb"``.
      curve: the path, ``t ∈ [0, 1]``: a ``paths.Polyline`` (vertices at its
        knots) or a ``paths.Bezier``, in free coordinates ``(c, k)``; the first
        and last vertex / control point are the endpoints.
      t: ``(m,)`` dense evaluation grid; losses: ``(m,)`` the loss profile there.
      endpoint_losses: ``(2,)``.
      max_loss: highest finite loss on the grid (inf when any is not finite).
      barrier: ``max_loss − max(endpoint_losses)``.
      alpha, tol: the level asked about and the slack allowed.
      verdict: ``CONNECTED`` (certified), ``CONNECTED_SAMPLED``, ``NOT_FOUND`` (none) or
        ``CERTIFIED_DISCONNECTED`` (proved); ``evidence`` and ``how`` say how it was reached.
      n_nonfinite: grid points with a NaN/Inf loss (flagged; such a path never
        counts as connected).
      history: ``(steps,)`` the training objective per iteration (empty for linear).
      certificate: the proof cited (its judgement text) when one applies, else None.
      tried: ``{method: max_loss}`` of every method ``connect`` ran.
      evidence: ``"certified"``, ``"sampled"``, ``"none"`` or ``"proved"`` (see ``verdict``).
      how: the method and margin, the resolution, or the citation.
      objective: what ``f`` was (``f.description``, e.g. the net, loss and data/mask digests
        of a ``curvature.masked_objective``), or None for a plain callable.
    """

    method: str
    curve: Union[Polyline, Bezier]
    t: np.ndarray
    losses: np.ndarray
    endpoint_losses: np.ndarray
    max_loss: float
    barrier: float
    alpha: float
    tol: float
    verdict: str
    n_nonfinite: int = 0
    history: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    certificate: Optional[str] = None
    tried: dict = dataclasses.field(default_factory=dict)
    evidence: str = "none"
    how: str = ""
    objective: Optional[dict] = None

    @property
    def connected(self) -> bool:
        """A path staying below the level was found (certified or at every sample: see ``evidence``)."""
        return self.verdict in (CONNECTED, CONNECTED_SAMPLED)

    @property
    def judgement(self) -> Judgement:
        return Judgement(self.verdict, Evidence(self.evidence), self.how)

    @property
    def controls(self) -> np.ndarray:
        """``(c, k)`` the polyline's vertices or the Bézier control points."""
        return np.asarray(self.curve.vertices if isinstance(self.curve, Polyline) else self.curve.controls)

    @property
    def knots(self) -> Optional[np.ndarray]:
        """``(c,)`` the polyline's knots (None for a Bézier curve)."""
        return np.asarray(self.curve.knots) if isinstance(self.curve, Polyline) else None

    def points(self, t) -> np.ndarray:
        """``(len(t), k)`` points of the path at parameters ``t``."""
        t = jnp.asarray(np.asarray(t, np.float64), self.controls.dtype)
        return np.asarray(jax.vmap(self.curve)(t))

    def summary(self) -> str:
        s = (f"{self.method}: max loss {self.max_loss:.6g}, barrier {self.barrier:.3g} "
             f"(alpha {self.alpha:.6g}, tol {self.tol:.2g}) -> {summary_line(self.verdict, self.evidence, self.how)}")
        if self.n_nonfinite:
            s += f" [{self.n_nonfinite} non-finite losses on the path]"
        return s

    def to_dict(self) -> dict:
        curve = "polyline" if isinstance(self.curve, Polyline) else "bezier"
        return {"method": self.method, "curve": curve, "max_loss": self.max_loss, "barrier": self.barrier,
                "alpha": self.alpha, "tol": self.tol, "verdict": self.verdict, "n_nonfinite": self.n_nonfinite,
                "endpoint_losses": self.endpoint_losses.tolist(), "certificate": self.certificate, "tried": self.tried,
                "evidence": self.evidence, "how": self.how, "objective": self.objective}

    def _to_file(self) -> tuple:
        arrays = {"controls": self.controls, "t": self.t, "losses": self.losses, "history": self.history,
                  "endpoint_losses": self.endpoint_losses}
        if self.knots is not None:
            arrays["knots"] = self.knots
        return arrays, self.to_dict()

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "PathResult":
        if meta.get("curve", meta.get("kind")) == "polyline":  # files of 0.1 named it "kind"
            curve = Polyline(arrays["controls"], arrays["knots"])
        else:
            curve = Bezier(arrays["controls"])
        return cls(method=meta["method"], curve=curve, t=arrays["t"], losses=arrays["losses"],
                   endpoint_losses=arrays["endpoint_losses"], max_loss=meta["max_loss"], barrier=meta["barrier"],
                   alpha=meta["alpha"], tol=meta["tol"], n_nonfinite=meta["n_nonfinite"],
                   verdict=_old_verdict(meta).get("verdict", meta["verdict"]),
                   history=arrays["history"], certificate=meta["certificate"], tried=meta["tried"],
                   objective=meta.get("objective"),
                   **{k: v for k, v in _old_verdict(meta).items() if k != "verdict"})


def _old_verdict(meta: dict) -> dict:
    """Evidence of a saved result; files of 0.1 decided on samples and cited any truthy certificate."""
    if "evidence" in meta:
        return {"evidence": meta["evidence"], "how": meta.get("how", "")}
    v = meta["verdict"]
    if v == "connected below alpha":
        return {"verdict": CONNECTED_SAMPLED, "evidence": "sampled", "how": "saved by landscape 0.1 (dense profile only)"}
    if v.startswith("not connected"):
        return {"verdict": NOT_FOUND, "evidence": "none", "how": "saved by landscape 0.1: its certificate was not checked"}
    return {"evidence": "none", "how": "saved by landscape 0.1"}


# ----------------------------------------------------------------------------- curves


def _check_endpoints(f, z0, z1):
    z0 = validate.point(f, z0, "z0")
    z1 = validate.point(f, z1, "z1", size=int(z0.shape[0]))  # same (k,): the same masked subspace
    if z0.dtype != z1.dtype:
        z1 = z1.astype(z0.dtype)
    e = np.array([float(f(z0)), float(f(z1))])
    if not np.all(np.isfinite(e)):
        raise ValueError(f"z0, z1: the endpoint losses are not finite ({e})")
    return z0, z1, e


def _level(e, alpha, tol, rtol):
    alpha = float(np.max(e)) if alpha is None else validate.real(alpha, "alpha")
    tol = rtol * max(1.0, abs(alpha)) if tol is None else validate.nonnegative(tol, "tol")
    if alpha + tol < np.max(e):
        which = "both endpoint losses" if alpha + tol < np.min(e) else "the loss of one endpoint"
        raise ValueError(f"alpha: {alpha:.6g} is below {which} ({e[0]:.6g}, {e[1]:.6g}); "
                         "every path from an endpoint starts above it")
    return alpha, tol


def _check_certificate(f, z0, z1, alpha, certificate):
    """A typed certificate re-checked against this question, or None."""
    if certificate is None:
        return None
    from landscape.theory import Theorem6Certificate

    if not isinstance(certificate, Theorem6Certificate):
        raise TypeError(f"certificate: expected a theory.Theorem6Certificate (from theory.theorem6_certificate), got "
                        f"{type(certificate).__name__}; a proof must be checkable, not just truthy")
    return certificate.check(f, z0, z1, alpha)


def _finish(f, method, curve, e, alpha, tol, cfg, history=None, certificate=None, n_eval=None, z0=None, z1=None):
    """Dense re-evaluation of the final path (``paths.sample``), a rigorous bound where possible, barrier and verdict."""
    from landscape.curvature import Objective  # above connectivity's imports in the layering

    proof = _check_certificate(f, z0, z1, alpha, certificate)
    n_eval = cfg.n_eval if n_eval is None else n_eval
    n_ctrl = int(np.shape(curve.vertices if isinstance(curve, Polyline) else curve.controls)[0])
    t = np.linspace(0.0, 1.0, max(int(n_eval), n_ctrl))
    if isinstance(curve, Polyline):  # make sure every vertex is on the grid
        t = np.union1d(t, np.asarray(curve.knots, np.float64))
    losses = sample(f, curve, t, batch_size=cfg.batch_size)
    losses[0], losses[-1] = e  # the endpoints exactly as given
    finite = np.isfinite(losses)
    n_bad = int(np.sum(~finite))
    max_loss = float(np.max(losses)) if n_bad == 0 else float("inf")
    resolution = f"{t.size} sampled points (spacing {1.0 / max(t.size - 1, 1):.2g})"
    evidence, how = Evidence.NONE, f"the found path's highest sampled loss {max_loss:.6g} > alpha + tol"
    verdict = NOT_FOUND
    if n_bad == 0 and max_loss <= alpha + tol:
        verdict, evidence, how = CONNECTED_SAMPLED, Evidence.SAMPLED, f"loss ≤ alpha + tol at {resolution}"
        if cfg.certify and isinstance(curve, Polyline) and isinstance(f, Objective):
            enc = bounds.enclose(f.net, curve.to_params(f.space), f.X, f.Y, f.masks, f.loss,
                                 values=lambda tt: sample(f, curve, tt, batch_size=cfg.batch_size), goal="max",
                                 target=alpha + tol, init=t, max_intervals=int(cfg.certify_budget))
            max_loss = max(max_loss, enc.max_seen)
            if enc.evidence == Evidence.CERTIFIED and enc.max_bound <= alpha + tol:
                verdict, evidence = CONNECTED, Evidence.CERTIFIED
                how = f"max loss on the whole path ≤ {enc.max_bound:.6g} ≤ alpha + tol; {enc.describe()}"
            elif enc.witness:
                verdict, evidence = NOT_FOUND, Evidence.NONE
                how = (f"the found path rises to {enc.max_seen:.6g} > alpha + tol between the dense samples "
                       f"(found by the bound's refinement)")
            else:
                how += f"; the bound did not decide (max bound {enc.max_bound:.6g}, {enc.describe()})"
        elif isinstance(curve, Bezier):
            how += "; a Bézier curve is not bounded between samples"
        elif not isinstance(f, Objective):
            how += "; f is not a curvature.Objective, so nothing is bounded between samples"
    barrier = max_loss - float(np.max(e))
    cite = None
    if verdict == NOT_FOUND and proof is not None:
        verdict, evidence, how, cite = CERTIFIED_DISCONNECTED, Evidence.PROVED, proof.how, str(proof)
    return PathResult(method=method, curve=curve, t=t, losses=losses, endpoint_losses=np.asarray(e),
                      max_loss=max_loss, barrier=barrier, alpha=alpha, tol=tol, verdict=verdict, n_nonfinite=n_bad,
                      history=np.zeros(0) if history is None else np.asarray(history), certificate=cite,
                      evidence=evidence.value, how=how, objective=getattr(f, "description", None))


def _polyline(controls, knots) -> Polyline:
    controls = np.asarray(controls)
    return Polyline(controls, np.asarray(knots, controls.dtype))


def linear_path(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None,
                certificate=None, config: Optional[ProbeConfig] = None, **settings) -> PathResult:
    """The straight segment ``(1−t) z0 + t z1``: the linear-interpolation barrier.

    Args:
      f: loss on free coordinates, ``(k,) -> scalar``; hashable (it keys the
        compilation cache: a function, not a fresh lambda per call, reuses it).
      z0, z1: ``(k,)`` endpoints.
      alpha: level (default: the larger endpoint loss); below an endpoint loss
        is an error.
      tol: slack of the verdict; default ``rtol·max(1, |alpha|)``.
      certificate: a ``theory.Theorem6Certificate``, re-checked against this question (``TypeError`` for
        anything else, ``ValueError`` when it was issued for another problem, points or level);
        it turns "no path found" into the proved ``CERTIFIED_DISCONNECTED``.
      config: a ``ProbeConfig`` (default ``ProbeConfig()``); used here: ``rtol``,
        ``n_eval``, ``batch_size``.
      **settings: overrides of ``config``'s fields.
    """
    cfg = _config("linear_path", config, settings)
    z0, z1, e = _check_endpoints(f, z0, z1)
    alpha, tol = _level(e, alpha, tol, cfg.rtol)
    return _finish(f, "linear", _polyline(np.stack([z0, z1]), [0.0, 1.0]), e, alpha, tol, cfg,
                   certificate=certificate, z0=z0, z1=z1)


@functools.lru_cache(maxsize=32)
def _curve_program(f, curve: str, n_ctrl: int, n_t: int, steps: int, opt, bs: int, temperature: float):
    """One compiled program: ``steps`` optax updates of the inner control points."""

    def objective_grad(inner, z0, z1, t):
        C = jnp.concatenate([z0[None], inner, z1[None]])
        shape = Bezier(C) if curve == "bezier" else Polyline(C, jnp.linspace(0.0, 1.0, n_ctrl, dtype=C.dtype))
        B = shape.basis(t).astype(C.dtype)
        vals, grads = evaluate.map_points(jax.value_and_grad(f), B @ C, batch_size=bs)
        ok = jnp.isfinite(vals) & jnp.all(jnp.isfinite(grads), axis=1)
        grads = jnp.where(ok[:, None], grads, 0.0)
        if temperature > 0:
            # smoothed max: softmax weights at temperature `temperature` x the loss range on the curve
            v = jnp.where(ok, vals, -jnp.inf)
            spread = jnp.max(v) - jnp.min(jnp.where(ok, vals, jnp.inf))
            w = jax.nn.softmax((v - jnp.max(v)) / (temperature * spread + 1e-30))
        else:
            w = jnp.full(vals.shape, 1.0 / n_t, vals.dtype)
        # the curve is linear in its control points: d Σ_t w_t f(c(t)) / dC = Bᵀ (w ∇f)
        g_inner = B[:, 1:-1].T @ (w[:, None] * grads)
        return jnp.max(jnp.where(ok, vals, jnp.inf)), g_inner

    def run(inner, z0, z1, key):
        def step(carry, key):
            inner, state = carry
            # stratified random parameters: one per interval of [0, 1]
            t = (jnp.arange(n_t) + jax.random.uniform(key, (n_t,), inner.dtype)) / n_t
            obj, g = objective_grad(inner, z0, z1, t)
            upd, state = opt.update(g, state, inner)
            return (optax.apply_updates(inner, upd), state), obj

        (inner, _), hist = jax.lax.scan(step, (inner, opt.init(inner)), jax.random.split(key, steps))
        return inner, hist

    return jax.jit(run)


def _train_curve(f, method, curve, n_ctrl, n_t, z0, z1, alpha, tol, cfg, certificate):
    z0, z1, e = _check_endpoints(f, z0, z1)
    alpha, tol = _level(e, alpha, tol, cfg.rtol)
    bs = _batch(cfg, z0.shape[0], n_t)
    # start on the straight segment
    s = np.linspace(0.0, 1.0, n_ctrl)[1:-1, None] if curve == "polyline" else np.array([[0.5]])
    inner = (1 - s) * z0[None] + s * z1[None]
    run = _curve_program(f, curve, n_ctrl, int(n_t), int(cfg.steps), cfg.opt(), bs, float(cfg.temperature))
    inner, hist = run(inner, z0, z1, jax.random.key(cfg.seed))
    controls = np.concatenate([np.asarray(z0)[None], np.asarray(inner), np.asarray(z1)[None]])
    shape = Bezier(controls) if curve == "bezier" else _polyline(controls, np.linspace(0.0, 1.0, n_ctrl))
    return _finish(f, method, shape, e, alpha, tol, cfg, np.asarray(hist), certificate, z0=z0, z1=z1)


def bezier_path(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None,
                certificate=None, config: Optional[ProbeConfig] = None, **settings) -> PathResult:
    """A quadratic Bézier curve trained to minimise a smoothed max of the loss along it.

    Each of ``steps`` optax updates evaluates ``n_points`` (default 16) curve
    points (one per stratum of ``[0, 1]``, at random) in one call. Arguments as
    in ``linear_path``; settings used: ``steps``, ``n_points``, ``learning_rate``
    / ``optimizer``, ``seed``, ``temperature``, ``rtol``, ``n_eval``, ``batch_size``.
    """
    cfg = _config("bezier_path", config, settings)
    n_t = 16 if cfg.n_points is None else cfg.n_points
    return _train_curve(f, "bezier", "bezier", 3, n_t, z0, z1, alpha, tol, cfg, certificate)


def chain_path(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None,
               certificate=None, config: Optional[ProbeConfig] = None, **settings) -> PathResult:
    """A polygonal chain with ``bends`` free vertices, trained like ``bezier_path``.

    Settings used: ``bends`` (movable vertices, at ``t = j/(bends+1)``), ``n_points``
    (default 32) and those of ``bezier_path``.
    """
    cfg = _config("chain_path", config, settings)
    n_t = 32 if cfg.n_points is None else cfg.n_points
    return _train_curve(f, "chain", "polyline", int(cfg.bends) + 2, n_t, z0, z1, alpha, tol, cfg, certificate)


# ----------------------------------------------------------------------------- nudged elastic band


def _neb_forces(Z, E, G, spring, climb):
    """NEB "gradients" (minus forces) of the interior images.

    Args:
      Z: ``(N+2, k)`` all images, endpoints included; E: ``(N+2,)`` losses;
      G: ``(N, k)`` loss gradients of the interior images.
      climb: whether the highest interior image climbs.
    """
    Zi, Ei = Z[1:-1], E[1:-1]
    tp, tm = Z[2:] - Zi, Zi - Z[:-2]
    Ep, Em = E[2:], E[:-2]
    dmax = jnp.maximum(jnp.abs(Ep - Ei), jnp.abs(Em - Ei))[:, None]
    dmin = jnp.minimum(jnp.abs(Ep - Ei), jnp.abs(Em - Ei))[:, None]
    mixed = jnp.where((Ep > Em)[:, None], tp * dmax + tm * dmin, tp * dmin + tm * dmax)
    up = ((Ep > Ei) & (Ei > Em))[:, None]
    down = ((Ep < Ei) & (Ei < Em))[:, None]
    tau = jnp.where(up, tp, jnp.where(down, tm, mixed))  # upwind tangent (Henkelman & Jónsson 2000)
    tau = tau / jnp.maximum(jnp.linalg.norm(tau, axis=1, keepdims=True), 1e-300)
    g_par = jnp.sum(G * tau, axis=1, keepdims=True)
    spring_f = spring * (jnp.linalg.norm(tp, axis=1) - jnp.linalg.norm(tm, axis=1))[:, None] * tau
    grad = (G - g_par * tau) - spring_f  # -(F_perp + F_spring)
    top = jnp.argmax(Ei)
    climb_grad = G - 2 * g_par * tau  # the climbing image: uphill along the band, no spring
    is_top = (jnp.arange(Zi.shape[0]) == top)[:, None] & climb
    return jnp.where(is_top, climb_grad, grad)


@functools.lru_cache(maxsize=32)
def _neb_program(f, n_images: int, steps: int, climb_from: int, spring: float, opt, bs: int):
    def run(images, z0, z1, e):
        def step(carry, i):
            images, state = carry
            E, G = evaluate.map_points(jax.value_and_grad(f), images, batch_size=bs)
            ok = jnp.isfinite(E) & jnp.all(jnp.isfinite(G), axis=1)
            G = jnp.where(ok[:, None], G, 0.0)
            Z = jnp.concatenate([z0[None], images, z1[None]])
            Eall = jnp.concatenate([e[:1], jnp.where(ok, E, jnp.inf), e[1:]])
            g = _neb_forces(Z, Eall, G, spring, i >= climb_from)
            upd, state = opt.update(g, state, images)
            return (optax.apply_updates(images, upd), state), jnp.max(Eall)

        (images, _), hist = jax.lax.scan(step, (images, opt.init(images)), jnp.arange(steps))
        return images, hist

    return jax.jit(run)


def elastic_band(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None, init=None,
                 certificate=None, config: Optional[ProbeConfig] = None, **settings) -> PathResult:
    """Nudged elastic band with a climbing image between ``z0`` and ``z1``.

    The ``n_images`` interior images move under the loss gradient projected off
    the band's (upwind) tangent plus springs along it; after
    ``climb_after·steps`` steps the highest image instead climbs uphill along
    the tangent, so it converges to the saddle on the band (the barrier top).
    All images are evaluated in one call per iteration.

    Args:
      init: optional ``(n_images, k)`` starting images (default: on the segment).
      Other arguments as in ``linear_path``; settings used: ``n_images``,
      ``steps``, ``climb``, ``climb_after``, ``spring``, ``learning_rate`` /
      ``optimizer``, ``refine``, ``rtol``, ``batch_size``.
    """
    cfg = _config("elastic_band", config, settings)
    n_images, steps = int(cfg.n_images), int(cfg.steps)
    z0, z1, e = _check_endpoints(f, z0, z1)
    alpha, tol = _level(e, alpha, tol, cfg.rtol)
    if init is None:
        s = np.linspace(0.0, 1.0, n_images + 2)[1:-1, None]
        images = (1 - s) * z0[None] + s * z1[None]
    else:
        images = jnp.asarray(init, z0.dtype)
        if images.shape != (n_images, z0.shape[0]):
            raise ValueError(f"init: expected shape ({n_images}, {z0.shape[0]}), got {images.shape}")
    bs = _batch(cfg, z0.shape[0], n_images)
    climb_from = int(cfg.climb_after * steps) if cfg.climb else steps + 1
    run = _neb_program(f, n_images, steps, climb_from, float(cfg.spring), cfg.opt(), bs)
    images, hist = run(jnp.asarray(images, z0.dtype), z0, z1, jnp.asarray(e, z0.dtype))
    controls = np.concatenate([np.asarray(z0)[None], np.asarray(images), np.asarray(z1)[None]])
    seg = np.linalg.norm(np.diff(controls.astype(np.float64), axis=0), axis=1)
    knots = np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-300)
    knots = np.maximum.accumulate(knots)
    return _finish(f, "neb", _polyline(controls, knots), e, alpha, tol, cfg, np.asarray(hist), certificate,
                   n_eval=cfg.refine * (n_images + 1) + 1, z0=z0, z1=z1)


# ----------------------------------------------------------------------------- front door


def connect(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None,
            methods: Sequence[str] = METHODS, certificate=None, stop_when_connected: bool = True,
            config: Optional[ProbeConfig] = None, **settings) -> PathResult:
    """Are ``z0`` and ``z1`` connected below ``alpha``? Tries ``methods`` in order.

    Returns the path with the lowest ``max_loss`` (its ``tried`` lists every
    method's max loss). Verdict: ``CONNECTED`` (certified) when a rigorous bound shows the
    whole found path stays at or below ``alpha + tol``, ``CONNECTED_SAMPLED`` when only its
    dense profile does; otherwise ``NOT_FOUND`` -- or ``CERTIFIED_DISCONNECTED`` (proved) when
    ``certificate`` (a ``theory.Theorem6Certificate``, re-checked here) is given.

    Args:
      methods: any of ``"linear"``, ``"bezier"``, ``"chain"``, ``"neb"``.
      stop_when_connected: skip the remaining methods once one connects.
      config, **settings: the probes' settings (``ProbeConfig``), passed to every probe.
    """
    if isinstance(methods, str):
        raise TypeError(f"methods: expected a sequence of names from {METHODS} such as ('linear',), got {methods!r} (a str)")
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods: expected a non-empty subset of {METHODS}, got {tuple(methods)}")
    cfg = _config("connect", config, settings)
    if certificate is not None:  # refuse a certificate for another question before searching
        zz0, zz1, e = _check_endpoints(f, z0, z1)
        _check_certificate(f, zz0, zz1, _level(e, alpha, tol, cfg.rtol)[0], certificate)
    probes = {"linear": linear_path, "bezier": bezier_path, "chain": chain_path, "neb": elastic_band}
    best, tried = None, {}
    for m in methods:
        r = probes[m](f, z0, z1, alpha=alpha, tol=tol, certificate=certificate, config=cfg)
        tried[m] = r.max_loss
        if best is None or r.max_loss < best.max_loss:
            best = r
        if stop_when_connected and best.connected:
            break
    return io.replace(best, tried=tried)


# ----------------------------------------------------------------------------- many points


@dataclasses.dataclass(frozen=True)
class BarrierMatrix(io.Saveable):
    """Pairwise path heights of ``m`` points, their MST and components.

    Attributes:
      heights: ``(m, m)`` max loss along the best path found for each pair
        (diagonal: the point's loss).
      barriers: ``(m, m)`` ``heights − max(loss_i, loss_j)``.
      losses: ``(m,)`` the points' losses.
      mst: ``(m−1, 3)`` edges ``(i, j, height)`` of the minimum spanning tree of
        ``heights``; the lowest path height between any two points using found
        paths is the largest edge on their tree path (minimax).
      methods: the probes used for each pair.
      objective: what ``f`` was (``f.description``), or None for a plain callable.
    """

    heights: np.ndarray
    barriers: np.ndarray
    losses: np.ndarray
    mst: np.ndarray
    methods: tuple
    objective: Optional[dict] = None

    evidence = Evidence.SAMPLED
    """The heights are sampled maxima of the found paths (see ``components``)."""

    def components(self, alpha: float, tol: float = 0.0) -> np.ndarray:
        """``(m,)`` labels: points joined by found paths staying ≤ ``alpha + tol``.

        Points whose own loss exceeds the level get label −1. Separate labels
        mean only "no path found", never "disconnected". Evidence ``sampled``: the heights
        are the found paths' highest *sampled* losses (``barrier_matrix`` does not bound
        between samples), so a joined pair means "joined at every sampled point".
        """
        ok = self.losses <= alpha + tol
        adj = (self.heights <= alpha + tol) & ok[:, None] & ok[None, :]
        _, lab = csgraph.connected_components(adj.astype(np.int8), directed=False)
        return np.where(ok, lab, -1)

    def to_dict(self) -> dict:
        return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}

    def _to_file(self) -> tuple:
        return ({"heights": self.heights, "barriers": self.barriers, "losses": self.losses, "mst": self.mst},
                {"methods": list(self.methods), "objective": self.objective})

    @classmethod
    def _from_file(cls, a: dict, meta: dict) -> "BarrierMatrix":
        return cls(a["heights"], a["barriers"], a["losses"], a["mst"], tuple(meta["methods"]), meta.get("objective"))


def minimum_spanning_tree(heights: np.ndarray) -> np.ndarray:
    """``(m−1, 3)`` MST edges ``(i, j, height)`` of a symmetric height matrix (scipy)."""
    H = np.asarray(heights, np.float64)
    m = H.shape[0]
    if m < 2:
        return np.zeros((0, 3))
    off = H[~np.eye(m, dtype=bool)]
    # scipy reads 0 as "no edge": shift the (finite) heights to >= 1; the tree is unchanged
    W = np.where(np.isfinite(H), H - np.min(off[np.isfinite(off)], initial=0.0) + 1.0, 0.0)
    np.fill_diagonal(W, 0.0)
    T = csgraph.minimum_spanning_tree(W).tocoo()
    edges = sorted((min(i, j), max(i, j), H[i, j]) for i, j in zip(T.row, T.col))
    return np.array(edges, np.float64).reshape(-1, 3)


def barrier_matrix(f: Callable, points, *, methods: Sequence[str] = ("linear", "chain"),
                   config: Optional[ProbeConfig] = None, **settings) -> BarrierMatrix:
    """Runs ``connect`` on every pair of ``points`` ``(m, k)``.

    The level of each pair is its larger endpoint loss, and every method in
    ``methods`` runs (no early stop), so the heights are the best found.
    One compiled program serves every pair. ``config``/``settings`` as in ``connect``; the
    heights are the highest sampled losses of the found paths (no bound between samples:
    evidence ``sampled``).
    """
    cfg = _config("barrier_matrix", config, settings)
    cfg = dataclasses.replace(cfg, certify=False)  # heights are sampled maxima (BarrierMatrix.evidence)
    Z = jnp.asarray(points)
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ValueError(f"points: expected an (m >= 2, k) array of free coordinates, got shape {Z.shape}")
    m = Z.shape[0]
    losses = np.asarray(evaluate.evaluate_points(f, Z, batch_size=cfg.batch_size), np.float64)
    if not np.all(np.isfinite(losses)):
        raise ValueError(f"points: non-finite losses at rows {np.nonzero(~np.isfinite(losses))[0].tolist()}")
    H = np.diag(losses)
    pairs = np.array([(i, j) for i in range(m) for j in range(i + 1, m)])

    def heights(rows):  # several processes (landscape.distributed): each probes its block of pairs
        return np.array([connect(f, Z[i], Z[j], methods=methods, stop_when_connected=False, config=cfg).max_loss
                         for i, j in pairs[rows]], np.float64)

    found = np.concatenate(distributed.map_blocks(len(pairs), heights, f"barrier_matrix {m} pairs"))
    H[pairs[:, 0], pairs[:, 1]] = H[pairs[:, 1], pairs[:, 0]] = found
    B = H - np.maximum(losses[:, None], losses[None, :])
    return BarrierMatrix(heights=H, barriers=B, losses=losses, mst=minimum_spanning_tree(H), methods=tuple(methods),
                         objective=getattr(f, "description", None))
