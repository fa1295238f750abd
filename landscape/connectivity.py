"""Sublevel-set connectivity probes: are two points joined below a level α?

For a loss ``f`` on the free coordinates (``curvature.masked_objective``) and two
points ``z0, z1`` this module searches for a path between them whose highest
loss is as low as possible:

* ``linear_path``: the straight segment (the linear-interpolation barrier);
* ``bezier_path``: a quadratic Bézier curve ``(1−t)² z0 + 2t(1−t) θ + t² z1``;
* ``chain_path``: a polygonal chain with ``bends`` free vertices;
* ``elastic_band``: the nudged elastic band with a climbing image.

Curves are trained with optax on the mean loss along the curve (Garipov et al.
2018); the band on NEB forces (Henkelman et al. 2000). Every iteration
evaluates all curve points or band images in one ``jax.lax.map`` call (vmapped
in micro-batches; ``batch_size`` below). Every path lives in the masked
subspace by construction: it is a path of free coordinates.

Every result is re-evaluated on a dense grid of the final path, and carries

    barrier = max_t f(path(t)) − max(f(z0), f(z1))

and a verdict at level α (default: the larger endpoint loss):
``"connected below alpha"`` when the dense profile stays ≤ α + tol, else
``"no path found within budget"``. A failed search never says "disconnected";
only a proof does, and where one exists (Theorem 6) it is cited
(``theory.theorem6_certificate``).

Many points: ``barrier_matrix`` runs a probe on every pair, then gives the
minimum spanning tree of the path heights (as AutoNEB does) and the connected
components at any level α.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy.sparse import csgraph

from landscape import io

CONNECTED = "connected below alpha"
NOT_FOUND = "no path found within budget"
CERTIFIED_DISCONNECTED = "not connected below alpha (proved)"
METHODS = ("linear", "bezier", "chain", "neb")


def default_batch_size(k: int, n: int) -> int:
    """Points evaluated together (vmapped) inside one ``lax.map`` call.

    On accelerators all ``n`` at once; on CPU a vmap of big nets turns matrix
    products into slower batched ones (see benchmarks/RESULTS.md),
    so ``clip(2**16 // k, 1, n)``.
    """
    if jax.default_backend() != "cpu":
        return int(n)
    return int(np.clip(2**16 // max(int(k), 1), 1, max(int(n), 1)))


@functools.lru_cache(maxsize=None)
def _adam(learning_rate: float) -> optax.GradientTransformation:
    """One optax.adam object per learning rate, so compiled programs are reused."""
    return optax.adam(learning_rate)


def evaluate(f: Callable, Z, *, batch_size: Optional[int] = None, grad: bool = False):
    """``f`` (and optionally ``∇f``) at every row of ``Z`` ``(m, k)`` in one call.

    Returns:
      ``(m,)`` losses, or ``((m,), (m, k))`` with ``grad=True``.
    """
    Z = jnp.asarray(Z)
    bs = default_batch_size(Z.shape[1], Z.shape[0]) if batch_size is None else int(batch_size)
    return _evaluate(f, Z, bs, bool(grad))


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _evaluate(f, Z, bs, grad):
    fn = jax.value_and_grad(f) if grad else f
    return jax.lax.map(fn, Z, batch_size=bs)


# ----------------------------------------------------------------------------- results


@dataclasses.dataclass(frozen=True)
class PathResult(io.Saveable):
    """A path between two points, its loss profile, barrier and verdict.

    The path is ``point(t) = Σ_j basis_j(t) controls[j]``, ``t ∈ [0, 1]``:
    Bézier (``kind="bezier"``) or piecewise linear through ``controls`` at the
    parameters ``knots`` (``kind="polyline"``); ``controls[0]`` and
    ``controls[-1]`` are the endpoints.

    Attributes:
      method: ``"linear"``, ``"bezier"``, ``"chain"`` or ``"neb"``.
      kind: ``"bezier"`` or ``"polyline"``.
      controls: ``(c, k)`` control points / vertices in free coordinates.
      knots: ``(c,)`` parameters of the vertices (polyline) or None.
      t: ``(m,)`` dense evaluation grid; losses: ``(m,)`` the loss profile there.
      endpoint_losses: ``(2,)``.
      max_loss: highest finite loss on the grid (inf when any is not finite).
      barrier: ``max_loss − max(endpoint_losses)``.
      alpha, tol: the level asked about and the slack allowed.
      verdict: ``CONNECTED``, ``NOT_FOUND`` or ``CERTIFIED_DISCONNECTED``.
      n_nonfinite: grid points with a NaN/Inf loss (flagged; such a path never
        counts as connected).
      history: ``(steps,)`` the training objective per iteration (empty for linear).
      certificate: the proof cited when one applies, else None.
      tried: ``{method: max_loss}`` of every method ``connect`` ran.
    """

    method: str
    kind: str
    controls: np.ndarray
    knots: Optional[np.ndarray]
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

    @property
    def connected(self) -> bool:
        return self.verdict == CONNECTED

    def points(self, t) -> np.ndarray:
        """``(len(t), k)`` points of the path at parameters ``t``."""
        return _basis(self.kind, np.asarray(t, np.float64), len(self.controls), self.knots) @ np.asarray(self.controls)

    def summary(self) -> str:
        s = (f"{self.method}: max loss {self.max_loss:.6g}, barrier {self.barrier:.3g} "
             f"(alpha {self.alpha:.6g}, tol {self.tol:.2g}) -> {self.verdict}")
        if self.n_nonfinite:
            s += f" [{self.n_nonfinite} non-finite losses on the path]"
        if self.certificate:
            s += f" [{self.certificate}]"
        return s

    def to_dict(self) -> dict:
        return {"method": self.method, "kind": self.kind, "max_loss": self.max_loss, "barrier": self.barrier,
                "alpha": self.alpha, "tol": self.tol, "verdict": self.verdict, "n_nonfinite": self.n_nonfinite,
                "endpoint_losses": self.endpoint_losses.tolist(), "certificate": self.certificate, "tried": self.tried}

    def _to_file(self) -> tuple:
        arrays = {"controls": self.controls, "t": self.t, "losses": self.losses, "history": self.history,
                  "endpoint_losses": self.endpoint_losses}
        if self.knots is not None:
            arrays["knots"] = self.knots
        return arrays, self.to_dict()

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "PathResult":
        return cls(method=meta["method"], kind=meta["kind"], controls=arrays["controls"], knots=arrays.get("knots"),
                   t=arrays["t"], losses=arrays["losses"], endpoint_losses=arrays["endpoint_losses"],
                   max_loss=meta["max_loss"], barrier=meta["barrier"], alpha=meta["alpha"], tol=meta["tol"],
                   verdict=meta["verdict"], n_nonfinite=meta["n_nonfinite"], history=arrays["history"],
                   certificate=meta["certificate"], tried=meta["tried"])


# ----------------------------------------------------------------------------- curves


def _basis(kind: str, t, n_ctrl: int, knots=None, xp=np):
    """``(m, n_ctrl)`` weights of the control points at parameters ``t``."""
    if kind == "bezier":
        if n_ctrl != 3:
            raise ValueError("bezier: a quadratic Bezier curve has 3 control points")
        return xp.stack([(1 - t) ** 2, 2 * t * (1 - t), t**2], axis=-1)
    knots = xp.linspace(0.0, 1.0, n_ctrl) if knots is None else xp.asarray(knots)
    # hat functions: linear interpolation between neighbouring knots
    left, right = knots[:-1], knots[1:]
    seg = xp.clip(xp.searchsorted(knots, t, side="right") - 1, 0, n_ctrl - 2)
    w = (t - left[seg]) / xp.maximum(right[seg] - left[seg], 1e-300)
    rows = xp.arange(t.shape[0])
    B = xp.zeros((t.shape[0], n_ctrl), t.dtype)
    if xp is np:
        B[rows, seg] += 1 - w
        B[rows, seg + 1] += w
        return B
    return B.at[rows, seg].add(1 - w).at[rows, seg + 1].add(w)


def _check_endpoints(f, z0, z1):
    z0, z1 = jnp.asarray(z0), jnp.asarray(z1)
    if z0.ndim != 1 or z0.shape != z1.shape:
        raise ValueError(f"z0, z1: expected two flat vectors of one shape (k,) in the same masked subspace, "
                         f"got shapes {z0.shape} and {z1.shape}")
    if z0.dtype != z1.dtype:
        z1 = z1.astype(z0.dtype)
    if not (bool(jnp.all(jnp.isfinite(z0))) and bool(jnp.all(jnp.isfinite(z1)))):
        raise ValueError("z0, z1: hold NaN or Inf")
    e = np.array([float(f(z0)), float(f(z1))])
    if not np.all(np.isfinite(e)):
        raise ValueError(f"z0, z1: the endpoint losses are not finite ({e})")
    return z0, z1, e


def _level(e, alpha, tol, rtol):
    alpha = float(np.max(e)) if alpha is None else float(alpha)
    if not np.isfinite(alpha):
        raise ValueError(f"alpha: expected a finite level, got {alpha}")
    tol = rtol * max(1.0, abs(alpha)) if tol is None else float(tol)
    if not tol >= 0:
        raise ValueError(f"tol: expected >= 0, got {tol}")
    if alpha + tol < np.max(e):
        which = "both endpoint losses" if alpha + tol < np.min(e) else "the loss of one endpoint"
        raise ValueError(f"alpha: {alpha:.6g} is below {which} ({e[0]:.6g}, {e[1]:.6g}); "
                         "every path from an endpoint starts above it")
    return alpha, tol


def _finish(f, method, kind, controls, knots, e, alpha, tol, n_eval, batch_size, history=None, certificate=None):
    """Dense re-evaluation of the final path, barrier and verdict."""
    controls = np.asarray(controls)
    n_eval = max(int(n_eval), len(controls))
    t = np.linspace(0.0, 1.0, n_eval)
    if knots is not None:  # make sure every vertex is on the grid
        t = np.union1d(t, knots)
    P = _basis(kind, t, len(controls), knots) @ controls.astype(np.float64)
    losses = np.array(evaluate(f, jnp.asarray(P, controls.dtype), batch_size=batch_size), np.float64)
    losses[0], losses[-1] = e  # the endpoints exactly as given
    finite = np.isfinite(losses)
    n_bad = int(np.sum(~finite))
    max_loss = float(np.max(losses)) if n_bad == 0 else float("inf")
    barrier = max_loss - float(np.max(e))
    verdict = CONNECTED if (n_bad == 0 and max_loss <= alpha + tol) else NOT_FOUND
    if verdict == NOT_FOUND and certificate:
        verdict = CERTIFIED_DISCONNECTED
    return PathResult(method=method, kind=kind, controls=controls, knots=None if knots is None else np.asarray(knots),
                      t=t, losses=losses, endpoint_losses=np.asarray(e), max_loss=max_loss, barrier=barrier,
                      alpha=alpha, tol=tol, verdict=verdict, n_nonfinite=n_bad,
                      history=np.zeros(0) if history is None else np.asarray(history),
                      certificate=certificate if verdict != CONNECTED else None)


def linear_path(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None, rtol: float = 1e-3,
                n_eval: int = 129, batch_size: Optional[int] = None, certificate: Optional[str] = None) -> PathResult:
    """The straight segment ``(1−t) z0 + t z1``: the linear-interpolation barrier.

    Args:
      f: loss on free coordinates, ``(k,) -> scalar``.
      z0, z1: ``(k,)`` endpoints.
      alpha: level (default: the larger endpoint loss); below an endpoint loss
        is an error.
      tol: slack of the verdict; default ``rtol·max(1, |alpha|)``.
      n_eval: points of the dense loss profile.
      batch_size: points vmapped together (default ``default_batch_size``).
      certificate: a proof of disconnection to cite when no path is found.
    """
    z0, z1, e = _check_endpoints(f, z0, z1)
    alpha, tol = _level(e, alpha, tol, rtol)
    return _finish(f, "linear", "polyline", np.stack([z0, z1]), np.array([0.0, 1.0]), e, alpha, tol, n_eval,
                   batch_size, certificate=certificate)


@functools.lru_cache(maxsize=32)
def _curve_program(f, kind: str, n_ctrl: int, n_t: int, steps: int, opt, bs: int, temperature: float):
    """One compiled program: ``steps`` optax updates of the inner control points."""

    def objective_grad(inner, z0, z1, t):
        C = jnp.concatenate([z0[None], inner, z1[None]])
        B = _basis(kind, t, n_ctrl, None, jnp).astype(C.dtype)
        vals, grads = jax.lax.map(jax.value_and_grad(f), B @ C, batch_size=bs)
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


def _train_curve(f, method, kind, n_ctrl, z0, z1, *, alpha, tol, rtol, steps, n_t, learning_rate, optimizer, seed,
                 n_eval, batch_size, certificate, temperature):
    z0, z1, e = _check_endpoints(f, z0, z1)
    alpha, tol = _level(e, alpha, tol, rtol)
    if isinstance(steps, bool) or int(steps) < 1:
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    if int(n_t) < 2:
        raise ValueError(f"n_points: expected >= 2 curve points per step, got {n_t}")
    opt = _adam(float(learning_rate)) if optimizer is None else optimizer
    bs = default_batch_size(z0.shape[0], n_t) if batch_size is None else int(batch_size)
    # start on the straight segment
    s = np.linspace(0.0, 1.0, n_ctrl)[1:-1, None] if kind == "polyline" else np.array([[0.5]])
    inner = (1 - s) * z0[None] + s * z1[None]
    run = _curve_program(f, kind, n_ctrl, int(n_t), int(steps), opt, bs, float(temperature))
    inner, hist = run(inner, z0, z1, jax.random.key(seed))
    controls = np.concatenate([np.asarray(z0)[None], np.asarray(inner), np.asarray(z1)[None]])
    knots = None if kind == "bezier" else np.linspace(0.0, 1.0, n_ctrl)
    return _finish(f, method, kind, controls, knots, e, alpha, tol, n_eval, batch_size, np.asarray(hist), certificate)


def bezier_path(f: Callable, z0, z1, *, alpha=None, tol=None, rtol: float = 1e-3, steps: int = 500, n_points: int = 16,
                learning_rate: float = 1e-2, optimizer: Optional[optax.GradientTransformation] = None, seed: int = 0,
                n_eval: int = 129, batch_size: Optional[int] = None, certificate: Optional[str] = None,
                temperature: float = 0.03) -> PathResult:
    """A quadratic Bézier curve trained to minimise the mean loss along it.

    Each of ``steps`` optax updates evaluates ``n_points`` curve points (one
    per stratum of ``[0, 1]``, at random) in one call. Arguments as in
    ``linear_path``; ``optimizer`` defaults to ``optax.adam(learning_rate)``
    (keep one object across calls to reuse the compiled program).
    """
    return _train_curve(f, "bezier", "bezier", 3, z0, z1, alpha=alpha, tol=tol, rtol=rtol, steps=steps, n_t=n_points,
                        learning_rate=learning_rate, optimizer=optimizer, seed=seed, n_eval=n_eval,
                        batch_size=batch_size, certificate=certificate, temperature=temperature)


def chain_path(f: Callable, z0, z1, *, bends: int = 3, alpha=None, tol=None, rtol: float = 1e-3, steps: int = 500,
               n_points: int = 32, learning_rate: float = 1e-2, optimizer: Optional[optax.GradientTransformation] = None,
               seed: int = 0, n_eval: int = 129, batch_size: Optional[int] = None,
               certificate: Optional[str] = None, temperature: float = 0.03) -> PathResult:
    """A polygonal chain with ``bends`` free vertices, trained like ``bezier_path``.

    Args:
      bends: number of movable vertices, >= 1 (at ``t = j/(bends+1)``).
    """
    if isinstance(bends, bool) or not isinstance(bends, (int, np.integer)) or bends < 1:
        raise ValueError(f"bends: expected an integer >= 1, got {bends!r} (0 bends is linear_path)")
    return _train_curve(f, "chain", "polyline", int(bends) + 2, z0, z1, alpha=alpha, tol=tol, rtol=rtol, steps=steps,
                        n_t=n_points, learning_rate=learning_rate, optimizer=optimizer, seed=seed, n_eval=n_eval,
                        batch_size=batch_size, certificate=certificate, temperature=temperature)


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
            E, G = jax.lax.map(jax.value_and_grad(f), images, batch_size=bs)
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


def elastic_band(f: Callable, z0, z1, *, n_images: int = 16, steps: int = 500, climb: bool = True,
                 climb_after: float = 0.5, spring: float = 1.0, alpha=None, tol=None, rtol: float = 1e-3,
                 learning_rate: float = 1e-2, optimizer: Optional[optax.GradientTransformation] = None,
                 refine: int = 4, init=None, batch_size: Optional[int] = None,
                 certificate: Optional[str] = None) -> PathResult:
    """Nudged elastic band with a climbing image between ``z0`` and ``z1``.

    The ``n_images`` interior images move under the loss gradient projected off
    the band's (upwind) tangent plus springs along it; after
    ``climb_after·steps`` steps the highest image instead climbs uphill along
    the tangent, so it converges to the saddle on the band (the barrier top).
    All images are evaluated in one call per iteration.

    Args:
      n_images: movable images, >= 1 (the endpoints are fixed extra images).
      climb: use the climbing image; climb_after: fraction of steps before it starts.
      spring: spring constant (in loss units per squared distance).
      init: optional ``(n_images, k)`` starting images (default: on the segment).
      refine: the final polygon is evaluated at ``refine`` points per segment.
      Other arguments as in ``bezier_path``.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 1:
        raise ValueError(f"n_images: expected an integer >= 1, got {n_images!r}")
    z0, z1, e = _check_endpoints(f, z0, z1)
    alpha, tol = _level(e, alpha, tol, rtol)
    if isinstance(steps, bool) or int(steps) < 1:
        raise ValueError(f"steps: expected an integer >= 1, got {steps!r}")
    if init is None:
        s = np.linspace(0.0, 1.0, n_images + 2)[1:-1, None]
        images = (1 - s) * z0[None] + s * z1[None]
    else:
        images = jnp.asarray(init, z0.dtype)
        if images.shape != (n_images, z0.shape[0]):
            raise ValueError(f"init: expected shape ({n_images}, {z0.shape[0]}), got {images.shape}")
    opt = _adam(float(learning_rate)) if optimizer is None else optimizer
    bs = default_batch_size(z0.shape[0], n_images) if batch_size is None else int(batch_size)
    climb_from = int(climb_after * steps) if climb else int(steps) + 1
    run = _neb_program(f, int(n_images), int(steps), climb_from, float(spring), opt, bs)
    images, hist = run(jnp.asarray(images, z0.dtype), z0, z1, jnp.asarray(e, z0.dtype))
    controls = np.concatenate([np.asarray(z0)[None], np.asarray(images), np.asarray(z1)[None]])
    seg = np.linalg.norm(np.diff(controls.astype(np.float64), axis=0), axis=1)
    knots = np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-300)
    knots = np.maximum.accumulate(knots)
    return _finish(f, "neb", "polyline", controls, knots, e, alpha, tol, refine * (n_images + 1) + 1, batch_size,
                   np.asarray(hist), certificate)


# ----------------------------------------------------------------------------- front door


def connect(f: Callable, z0, z1, *, alpha: Optional[float] = None, tol: Optional[float] = None, rtol: float = 1e-3,
            methods: Sequence[str] = METHODS, bends: int = 3, n_images: int = 16, steps: int = 500,
            learning_rate: float = 1e-2, optimizer: Optional[optax.GradientTransformation] = None,
            batch_size: Optional[int] = None, certificate: Optional[str] = None,
            stop_when_connected: bool = True) -> PathResult:
    """Are ``z0`` and ``z1`` connected below ``alpha``? Tries ``methods`` in order.

    Returns the path with the lowest ``max_loss`` (its ``tried`` lists every
    method's max loss). Verdict: ``CONNECTED`` when some path stays at or below
    ``alpha + tol`` on its dense profile; otherwise ``NOT_FOUND`` -- or
    ``CERTIFIED_DISCONNECTED`` when ``certificate`` (a proof, e.g. from
    ``theory.theorem6_certificate``) is given, which is then cited.

    Args:
      methods: any of ``"linear"``, ``"bezier"``, ``"chain"``, ``"neb"``.
      optimizer: optax transformation of the trained probes (default
        ``optax.adam(learning_rate)``); a decaying schedule lets band images
        settle instead of jittering at the step size.
      stop_when_connected: skip the remaining methods once one connects.
      Other arguments go to the probes.
    """
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"methods: expected a non-empty subset of {METHODS}, got {tuple(methods)}")
    common = dict(alpha=alpha, tol=tol, rtol=rtol, batch_size=batch_size, certificate=certificate)
    trained = dict(steps=steps, learning_rate=learning_rate, optimizer=optimizer)
    best, tried = None, {}
    for m in methods:
        if m == "linear":
            r = linear_path(f, z0, z1, **common)
        elif m == "bezier":
            r = bezier_path(f, z0, z1, **common, **trained)
        elif m == "chain":
            r = chain_path(f, z0, z1, bends=bends, **common, **trained)
        else:
            r = elastic_band(f, z0, z1, n_images=n_images, **common, **trained)
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
    """

    heights: np.ndarray
    barriers: np.ndarray
    losses: np.ndarray
    mst: np.ndarray
    methods: tuple

    def components(self, alpha: float, tol: float = 0.0) -> np.ndarray:
        """``(m,)`` labels: points joined by found paths staying ≤ ``alpha + tol``.

        Points whose own loss exceeds the level get label −1. Separate labels
        mean only "no path found", never "disconnected".
        """
        ok = self.losses <= alpha + tol
        adj = (self.heights <= alpha + tol) & ok[:, None] & ok[None, :]
        _, lab = csgraph.connected_components(adj.astype(np.int8), directed=False)
        return np.where(ok, lab, -1)

    def to_dict(self) -> dict:
        return {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}

    def _to_file(self) -> tuple:
        return ({"heights": self.heights, "barriers": self.barriers, "losses": self.losses, "mst": self.mst},
                {"methods": list(self.methods)})

    @classmethod
    def _from_file(cls, a: dict, meta: dict) -> "BarrierMatrix":
        return cls(a["heights"], a["barriers"], a["losses"], a["mst"], tuple(meta["methods"]))


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


def barrier_matrix(f: Callable, points, *, methods: Sequence[str] = ("linear", "chain"), **kwargs) -> BarrierMatrix:
    """Runs ``connect`` on every pair of ``points`` ``(m, k)``.

    The level of each pair is its larger endpoint loss, and every method in
    ``methods`` runs (no early stop), so the heights are the best found.
    One compiled program serves every pair.
    """
    Z = jnp.asarray(points)
    if Z.ndim != 2 or Z.shape[0] < 2:
        raise ValueError(f"points: expected an (m >= 2, k) array of free coordinates, got shape {Z.shape}")
    m = Z.shape[0]
    losses = np.asarray(evaluate(f, Z), np.float64)
    if not np.all(np.isfinite(losses)):
        raise ValueError(f"points: non-finite losses at rows {np.nonzero(~np.isfinite(losses))[0].tolist()}")
    H = np.diag(losses)
    for i in range(m):
        for j in range(i + 1, m):
            r = connect(f, Z[i], Z[j], methods=methods, stop_when_connected=False, **kwargs)
            H[i, j] = H[j, i] = r.max_loss
    B = H - np.maximum(losses[:, None], losses[None, :])
    return BarrierMatrix(heights=H, barriers=B, losses=losses, mst=minimum_spanning_tree(H), methods=tuple(methods))
