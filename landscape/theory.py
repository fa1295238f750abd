"""The Theorem 6 sparse-sparse network and its spurious valley (Section 5, Eq. 3).

The network has ``X = I₃``, first-layer mask ``[[1,1,0],[0,1,1]]`` and
final-layer mask ``[[1,0],[1,1],[0,1]]``; in the paper's names

    W₁ = [[w5, w6, 0], [0, w7, w8]],   W₂ = [[w1, 0], [w2, w3], [0, w4]],
    Y  = [[y1, y1, 0], [y2, y2 + y3, 0], [0, 0, y4]],

with ``y3 > y4 > y1 > 0`` and ``y2 > 0`` (footnote 5; the proof states the
stronger ``y3 > 4 y4``). Table 3 uses ``(y1, y2, y3, y4) = (1, 2, 6, 2)``.

* the valley ``θ(a, b)``: ``w1 = y1 a, w2 = y2 a, w3 = y3 b, w4 = 0,
  σ(w5) = σ(w6) = 1/a, σ(w7) = 1/b, w8 = 0``; loss ``y4²/2`` everywhere on it;
* the better point ``θ̃(a)``: ``w1 = y1 a, w2 = (y2 + y3) a, w3 = 0, w4 = y4 a,
  σ(w5) = y2/((y2 + y3) a), σ(w6) = σ(w8) = 1/a, w7 = 0``; loss
  ``y1² y3² / (2 (y2 + y3)²) < y4²/2``;
* the global minimum of the loss (``theorem6_global_min``).

Everything about Theorem 6 lives here: the points (traceable: jit/vmap over ``a``,
``b``), the inverse of σ they need (``invert_activation``, one traceable bisection),
the conversions ``params_from_w`` / ``w_from_params``, the global minimum, the
labels of Table 3 end points (``theorem6_labels``), the proof's disconnection
certificate for a pair of points (``theorem6_certificate`` -> ``Theorem6Certificate``,
bound to the question) and the check that a point lies in a spurious valley
(``certify_valley`` -> ``ValleyCertificate``: the proof's conditions, plus sampled local checks). The conditions of Theorems 1-6 are in ``landscape.conditions``.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from landscape import conditions, io, nets, validate
from landscape.activations import Activation, activation_name, get_activation, polynomial_coefficients
from landscape.nets import MLP
from landscape.verdicts import Evidence, Judgement, summary_line

FIRST_MASK = np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32)
FINAL_MASK = np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class Theorem6:
    """The targets ``y1..y4`` of Eq. (3); defaults are Table 3's ``(1, 2, 6, 2)``."""

    y1: float = 1.0
    y2: float = 2.0
    y3: float = 6.0
    y4: float = 2.0

    def check(self, strict: bool = False) -> None:
        """Raises ValueError unless ``y3 > y4 > y1 > 0, y2 > 0`` (``strict``: ``y3 > 4 y4``)."""
        y1, y2, y3, y4 = (validate.real(v, f"y: y{i}") for i, v in enumerate((self.y1, self.y2, self.y3, self.y4), 1))
        if not (y3 > y4 > y1 > 0 and y2 > 0):
            raise ValueError(f"y: expected y3 > y4 > y1 > 0 and y2 > 0 (Theorem 6), got y=({y1}, {y2}, {y3}, {y4})")
        if strict and not y3 > 4 * y4:
            raise ValueError(f"y: the proof's inequality y3 > 4*y4 fails: y3={y3}, y4={y4}")

    @property
    def X(self) -> np.ndarray:
        return np.eye(3)

    @property
    def Y(self) -> np.ndarray:
        y1, y2, y3, y4 = self.y1, self.y2, self.y3, self.y4
        return np.array([[y1, y1, 0.0], [y2, y2 + y3, 0.0], [0.0, 0.0, y4]])

    @property
    def valley_loss(self) -> float:
        """``y4²/2``: the ½-sum loss everywhere on the valley."""
        return 0.5 * self.y4**2

    @property
    def better_loss(self) -> float:
        """``y1² y3² / (2 (y2 + y3)²)``: the loss at ``θ̃(a)``."""
        return self.y1**2 * self.y3**2 / (2 * (self.y2 + self.y3) ** 2)

    def masks(self):
        """The masks pytree of Eq. (3)."""
        return ({"W": jnp.asarray(FIRST_MASK)}, {"W": jnp.asarray(FINAL_MASK)})

    def net(self, activation: Activation) -> MLP:
        return MLP((3, 2, 3), activation, bias=False)


def params_from_w(w) -> tuple:
    """Params pytree from the paper's ``(w1, ..., w8)``."""
    w1, w2, w3, w4, w5, w6, w7, w8 = [jnp.asarray(v) for v in w]
    z = jnp.zeros_like(w1)
    W1 = jnp.stack([jnp.stack([w5, w6, z]), jnp.stack([z, w7, w8])])
    W2 = jnp.stack([jnp.stack([w1, z]), jnp.stack([w2, w3]), jnp.stack([z, w4])])
    return ({"W": W1}, {"W": W2})


def w_from_params(params):
    """The paper's ``(w1, ..., w8)`` from params (a leading trial axis is kept;
    NumPy in, NumPy out)."""
    W1, W2 = params[0]["W"], params[1]["W"]
    xp = np if isinstance(W1, np.ndarray) else jnp
    return xp.stack([W2[..., 0, 0], W2[..., 1, 0], W2[..., 1, 1], W2[..., 2, 1],
                      W1[..., 0, 0], W1[..., 0, 1], W1[..., 1, 1], W1[..., 1, 2]], axis=-1)


def invert_activation(activation: Activation, value, *, zmax: float = 1e4, n_grid: int = 256, iters: int = 128):
    """A ``z`` with ``σ(z) = value``, the one nearest to 0 on a grid; elementwise, traceable.

    For each value: the first sign change (or zero) of ``σ(z) − value`` on the grid
    ``{0} ∪ geomspace(1e-6, zmax, n_grid)`` is bisected ``iters`` times; ``z ≥ 0`` is
    searched first, then ``z ≤ 0``. With the defaults a bracket is at most 9.5 % of ``|z|``
    (or ``1e-6`` wide at 0) and 128 halvings take it below float64 resolution, so the
    result is as accurate as σ's own rounding allows (tested against artanh and logit to
    1e-12). Runs in ``value``'s dtype (float64 under ``jax_enable_x64``).

    Works on arrays elementwise and inside ``jit`` / ``vmap`` / ``lax.map`` (Figure 5's
    slice evaluates it at every grid point).

    Args:
      activation: name or callable.
      value: a number or an array of numbers.
      zmax: the search range ``[-zmax, zmax]``.
      n_grid: grid points per side; iters: bisection steps.

    Returns:
      A JAX array of ``value``'s shape; NaN where ``value`` is not in ``σ([-zmax, zmax])``.

    Raises:
      ValueError: when called eagerly (not under a transformation) and a value is out of
        range -- traced, the NaN is the signal instead.
    """
    zmax = validate.positive(zmax, "zmax")
    n_grid = validate.integer(n_grid, "n_grid", low=2)
    iters = validate.integer(iters, "iters", low=1)
    v = jnp.asarray(value)
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.result_type(float))
    z = _invert(get_activation(activation), v, float(zmax), int(n_grid), int(iters))
    if not isinstance(z, jax.core.Tracer):
        bad = np.asarray(jnp.isnan(z) & ~jnp.isnan(v))
        if bad.any():
            raise ValueError(f"value: {np.asarray(v)[bad].reshape(-1)[0]} is not in the range of the activation on "
                             f"[-{zmax}, {zmax}]")
    return z


@partial(jax.jit, static_argnums=(0, 2, 3, 4))
def _invert(sigma, v, zmax, n_grid, iters):
    g = jnp.concatenate([jnp.zeros(1, v.dtype), jnp.geomspace(1e-6, zmax, n_grid, dtype=v.dtype)])

    def side(s):  # first bracket of σ(s·z) − v on the grid, for every value at once
        f = sigma(s * g) - v[..., None]
        change = (jnp.sign(f[..., :-1]) != jnp.sign(f[..., 1:])) | (f[..., :-1] == 0)
        i = jnp.argmax(change, axis=-1)
        return jnp.any(change, axis=-1), s * g[i], s * g[i + 1], jnp.take_along_axis(f, i[..., None], -1)[..., 0]

    def bisect(lo, hi, flo):
        def body(_, st):
            lo, hi, flo = st
            mid = 0.5 * (lo + hi)
            fm = sigma(mid) - v
            left = (jnp.sign(fm) == jnp.sign(flo)) & (fm != 0)  # the root is between mid and hi
            return jnp.where(left, mid, lo), jnp.where(left, hi, mid), jnp.where(left, fm, flo)

        lo, hi, flo = jax.lax.fori_loop(0, iters, body, (lo, hi, flo))
        return jnp.where(flo == 0, lo, 0.5 * (lo + hi))

    ok_p, lo_p, hi_p, f_p = side(1.0)
    ok_n, lo_n, hi_n, f_n = side(-1.0)
    z_p, z_n = bisect(lo_p, hi_p, f_p), bisect(lo_n, hi_n, f_n)
    return jnp.where(ok_p, z_p, jnp.where(ok_n, z_n, jnp.nan))


def _sign_for(activation: Activation) -> float:
    """+1 if σ takes positive values (so 1/a > 0 is reachable), else −1."""
    sigma = get_activation(activation)
    z = jnp.linspace(-20.0, 20.0, 4001)
    return 1.0 if float(jnp.max(sigma(z))) > 0 else -1.0


def valley_point(thm: Theorem6, activation: Activation, a=None, b=10.0):
    """``θ(a, b)`` on the spurious valley: ``w1 = y1 a, w2 = y2 a, w3 = y3 b, w4 = 0,
    σ(w5) = σ(w6) = 1/a, σ(w7) = 1/b, w8 = 0``.

    Traceable in ``a`` and ``b`` (jit/vmap); ``a = None`` picks a reachable value (4 or −4,
    the sign σ allows). ``1/a, 1/b`` must lie in ``σ(R)`` (else NaN when traced, ValueError
    when eager). Returns the params pytree (dtype of ``a``).
    """
    thm.check()
    for name, v in (("a", a), ("b", b)):  # traced values cannot be checked (NaN is then the signal)
        if v is not None and validate.is_concrete(v) and np.ndim(v) == 0 and not validate.real(v, name) != 0:
            raise ValueError(f"{name}: expected a finite number != 0 (σ(w) = 1/{name}), got 0")
    if a is None:
        a = 4.0 * _sign_for(activation)
    y1, y2, y3 = thm.y1, thm.y2, thm.y3
    w5 = invert_activation(activation, 1.0 / a)
    w7 = invert_activation(activation, 1.0 / b)
    z = jnp.zeros_like(w5)
    return params_from_w([y1 * a, y2 * a, y3 * b, z, w5, w5, w7, z])


def better_point(thm: Theorem6, activation: Activation, a=None):
    """``θ̃(a)``: ``w1 = y1 a, w2 = (y2 + y3) a, w3 = 0, w4 = y4 a, σ(w5) = y2/((y2 + y3) a),
    σ(w6) = σ(w8) = 1/a, w7 = 0``, with loss ``thm.better_loss < thm.valley_loss``.
    Traceable in ``a``, as ``valley_point``."""
    thm.check()
    if a is not None and validate.is_concrete(a) and np.ndim(a) == 0 and not validate.real(a, "a") != 0:
        raise ValueError("a: expected a finite number != 0 (σ(w) = 1/a), got 0")
    if a is None:
        a = 4.0 * _sign_for(activation)
    y1, y2, y3, y4 = thm.y1, thm.y2, thm.y3, thm.y4
    w5 = invert_activation(activation, y2 / ((y2 + y3) * a))
    w6 = invert_activation(activation, 1.0 / a)
    z = jnp.zeros_like(w5)
    return params_from_w([y1 * a, (y2 + y3) * a, z, y4 * a, w5, w6, z, w6])


def theorem6_global_min(thm: Theorem6 = Theorem6()) -> tuple:
    """The global minimum of the ½-sum loss of Eq. (3), for any continuous σ
    with σ(0) = 0 and σ(R) ≠ {0}.

    The output is ``F = u₁v₁ᵀ + u₂v₂ᵀ`` with ``u₁ = (w1, w2, 0)``, ``v₁ = (σ5, σ6, 0)``,
    ``u₂ = (0, w3, w4)``, ``v₂ = (0, σ7, σ8)``. Writing ``c = w3 σ7`` (the second
    term's share of entry (2,2)) and ``M = [[y1, y1], [y2, y2+y3]]``:

    * rows/columns 1-2 cost at least ``σ_min(M − c E₂₂)²`` (Eckart–Young: what is
      left there is rank one);
    * the other entries cost ``(w3σ8)² + (w4σ7)² + (w4σ8 − y4)² ≥ 2|c||q| + (q − y4)²``
      with ``q = w4σ8`` (AM–GM), whose minimum over q is
      ``g(c) = 2 y4 |c| − c²`` for ``|c| ≤ y4`` and ``y4²`` beyond.

    So ``2 L* = min_c σ_min(M − c E₂₂)² + g(c)``, a 1D problem solved here on a
    grid plus Brent refinement; every bound is attained at ``c = 0`` when that
    is the minimiser (it is for Table 3's targets, where
    ``L* = σ_min(M)²/2 = 0.25906…``), with Perron singular vectors of one sign
    so that any σ whose range holds values of one sign near 0 attains it.

    Returns:
      ``(L*, c*)``.
    """
    y1, y2, y3, y4 = thm.y1, thm.y2, thm.y3, thm.y4

    def two_L(c):
        c = np.asarray(c, np.float64)
        M = np.empty(c.shape + (2, 2))
        M[..., 0, :] = y1
        M[..., 1, 0], M[..., 1, 1] = y2, y2 + y3 - c
        smin = np.linalg.svd(M, compute_uv=False)[..., -1]  # batched over the grid
        g = np.where(np.abs(c) <= y4, 2 * y4 * np.abs(c) - c * c, y4**2)
        return smin**2 + g

    span = 4 * (abs(y2 + y3) + y4 + 1)
    cs = np.linspace(-span, span, 200_001)
    vals = two_L(cs)
    i = int(np.argmin(vals))
    lo, hi = cs[max(i - 1, 0)], cs[min(i + 1, len(cs) - 1)]
    res = optimize.minimize_scalar(lambda c: float(two_L(c)), bounds=(lo, hi), method="bounded", options={"xatol": 1e-14})
    best_c, best = (res.x, res.fun) if res.fun < vals[i] else (cs[i], vals[i])
    return 0.5 * float(best), float(best_c)


# ============================================================================= Table 3 end points

THEOREM6_LABELS = ("global", "valley", "other", "unconverged", "diverged")
"""The labels of ``theorem6_labels``, in Table 3's column order."""


def theorem6_labels(thm: Theorem6, w, loss, grad, *, diverged=None, global_min: Optional[float] = None,
                    global_tol: float = 1e-3, valley_w4_tol: float = 1e-2, valley_tol: float = 0.05,
                    grad_tol: float = 1e-3) -> np.ndarray:
    """Labels end points of training on the Theorem 6 net (Table 3, Figure 5's trajectories).

    Losses and gradient norms in ½-sum units (Eq. 1). Rules, later ones overriding earlier:

    1. ``unconverged``: everything not labelled below;
    2. ``other``: ``‖∇L‖₂ ≤ grad_tol`` (another critical point);
    3. ``valley``: ``|w4| ≤ valley_w4_tol`` and ``y4²/2 − global_tol ≤ L ≤ y4²/2 + valley_tol``:
       the Theorem 6 valley, which GD reaches slowly along its flat directions (so the upper
       band is wider than the lower one);
    4. ``global``: ``|L − L*| ≤ global_tol``;
    5. ``diverged``: ``diverged`` is set, or the loss is not finite.

    The defaults are Table 3's (``table3.Table3Config``), so Table 3's counts are these labels.
    ``global`` wins where the two bands overlap; they are disjoint whenever
    ``L* + global_tol < y4²/2 − global_tol`` (Table 3's targets: 0.259 and 2).

    Args:
      thm: the targets.
      w: ``(..., 8)`` the paper's ``(w1, …, w8)`` per end point (``w_from_params``).
      loss, grad: ``(...)`` ½-sum loss and gradient norm.
      diverged: optional ``(...)`` bool, e.g. ``result.status == trials.DIVERGED``.
      global_min: ``L*`` (default ``theorem6_global_min(thm)[0]``).

    Returns:
      ``(...)`` array of ``THEOREM6_LABELS`` strings.
    """
    for name, v in (("global_tol", global_tol), ("valley_w4_tol", valley_w4_tol), ("valley_tol", valley_tol),
                    ("grad_tol", grad_tol)):
        validate.nonnegative(v, name)
    global_min = validate.optional_real(global_min, "global_min")
    loss = np.asarray(loss, np.float64)
    grad = np.broadcast_to(np.asarray(grad, np.float64), loss.shape)
    w = np.asarray(w, np.float64)
    if w.shape[-1:] != (8,) or w.shape[:-1] != loss.shape:
        raise ValueError(f"w: expected shape {loss.shape + (8,)} (w1..w8 per end point), got {w.shape}")
    if global_min is None:
        global_min = theorem6_global_min(thm)[0]
    vl = thm.valley_loss
    labels = np.full(loss.shape, "unconverged", dtype=object)
    labels[grad <= grad_tol] = "other"
    valley = (np.abs(w[..., 3]) <= valley_w4_tol) & (loss >= vl - global_tol) & (loss <= vl + valley_tol)
    labels[valley] = "valley"
    labels[np.abs(loss - global_min) <= global_tol] = "global"
    bad = ~np.isfinite(loss)
    if diverged is not None:
        bad = bad | np.asarray(diverged, bool)
    labels[bad] = "diverged"
    return labels.astype(str)


# ============================================================================= Theorem 6 certificate


CITATION = ("Theorem 6 (Sec. 5, with footnote 5): the component of {L <= y4^2/2} containing the valley T0 never "
            "reaches a point with w4 != 0 and L <= y4^2/2")

VALLEY_RTOL = 1e-12
"""Relative tolerance of the valley-point equations: float64 rounding of σ, σ⁻¹ and products (~1e-16) with room."""


def _valley_conditions(thm: Theorem6, activation, w) -> tuple:
    """The conditions the Theorem 6 proof needs at a valley point, each as ``(name, holds, detail)``.

    ``w``: float64 ``(w1, ..., w8)``. Checked: footnote 5's targets, σ (continuous named or
    polynomial activation, σ(0) = 0, σ(ℝ) ≠ {0}), the θ(a, b) equations of T (``w2 = y2 a``,
    ``w4 = 0``, ``σ(w5) = σ(w6) = 1/a``, ``σ(w7) = 1/b``, ``σ(w8) = 0`` with ``a = w1/y1``,
    ``b = w3/y3``, ``a, b`` non-zero and of one sign: the component T0), and the loss ``y4²/2``.
    """
    y1, y2, y3, y4 = thm.y1, thm.y2, thm.y3, thm.y4
    out = [("y3 > y4 > y1 > 0, y2 > 0 (footnote 5)", bool(y3 > y4 > y1 > 0 and y2 > 0), f"y = {(y1, y2, y3, y4)}")]
    name = activation_name(activation)
    known = isinstance(activation, str) or polynomial_coefficients(activation) is not None
    out.append(("σ continuous (a named or polynomial activation)", known,
                name if known else f"{name!r} is a callable: continuity cannot be checked"))
    cond = conditions.theorem6_activation(thm.net(activation), dtype=jnp.float64)
    out.append((cond.name, cond.holds is True, cond.detail))
    sigma = get_activation(activation)
    with jax.enable_x64(True):
        s = np.asarray(sigma(jnp.asarray(w[4:], jnp.float64)), np.float64)
        loss = float(nets.loss(thm.net(activation), params_from_w(jnp.asarray(w, jnp.float64)),
                               jnp.asarray(thm.X, jnp.float64), jnp.asarray(thm.Y, jnp.float64), thm.masks()))
    a, b = w[0] / y1, w[2] / y3
    ok_ab = bool(a != 0 and b != 0 and np.sign(a) == np.sign(b) and np.isfinite(a) and np.isfinite(b))
    out.append(("a = w1/y1 and b = w3/y3 non-zero, of one sign (component T0)", ok_ab, f"a = {a:.6g}, b = {b:.6g}"))
    if ok_ab:
        res = {"w2 - y2 a": (w[1] - y2 * a, abs(y2 * a)), "w4": (w[3], 1.0), "σ(w5) - 1/a": (s[0] - 1 / a, abs(1 / a)),
               "σ(w6) - 1/a": (s[1] - 1 / a, abs(1 / a)), "σ(w7) - 1/b": (s[2] - 1 / b, abs(1 / b)),
               "σ(w8)": (s[3], 1.0)}
        worst = max(abs(r) / max(sc, 1.0) for r, sc in res.values())
        bad = [k for k, (r, sc) in res.items() if abs(r) > VALLEY_RTOL * max(sc, 1.0)]
        out.append(("θ(a, b) equations of T", not bad, f"largest relative residual {worst:.2g} (tolerance "
                    f"{VALLEY_RTOL:g})" + (f"; fails: {bad}" if bad else "")))
    vl = thm.valley_loss
    out.append(("loss = y4²/2", abs(loss - vl) <= VALLEY_RTOL * max(1.0, vl), f"loss {loss:.15g}, y4²/2 = {vl:.15g}"))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Theorem6Certificate:
    """The Theorem 6 proof of disconnection, bound to the question it answers.

    Issued by ``theorem6_certificate`` only when every condition of the proof holds; re-checked
    by ``check`` wherever it is used (``connectivity.connect(..., certificate=)``): the same
    net, data, masks and loss convention, the same two points, a level ``≤ y4²/2``.

    Attributes:
      y: the targets ``(y1, y2, y3, y4)``.  activation: σ's name.
      w_valley, w_other: the two points' ``(w1, ..., w8)`` (float64).
      level: ``y4²/2``, the highest level the proof covers.
      conditions: ``(name, detail)`` of every condition checked.
    """

    y: tuple
    activation: str
    w_valley: np.ndarray
    w_other: np.ndarray
    level: float
    conditions: tuple

    @property
    def judgement(self) -> Judgement:
        return Judgement("not connected below alpha", Evidence.PROVED,
                         f"{CITATION}; checked: " + "; ".join(f"{n} ({d})" for n, d in self.conditions))

    def __str__(self) -> str:
        return str(self.judgement)

    def check(self, f, z0, z1, alpha: float) -> Judgement:
        """Re-checks the certificate against a question: is ``f``'s ``z0`` joined to ``z1`` below ``alpha``?

        Raises:
          TypeError: ``f`` is not a ``curvature.Objective`` (its problem cannot be checked).
          ValueError: another net, activation, data, masks or loss convention; other points;
            ``alpha`` above ``y4²/2``.
        """
        from landscape.curvature import Objective  # above theory in the layering

        if not isinstance(f, Objective):
            raise TypeError(f"certificate: a Theorem6Certificate applies only to a curvature.Objective (from "
                            f"masked_objective), got {type(f).__name__}: its net, data and masks cannot be checked")
        thm = Theorem6(*self.y)
        why = []
        if activation_name(f.net.activation) != self.activation or f.net.sizes != (3, 2, 3) or f.net.bias:
            why.append(f"net {f.net.to_dict()} is not the Theorem 6 net with σ = {self.activation}")
        if f.loss != "half_sum":
            why.append(f"loss convention {f.loss!r} (the certificate is for 'half_sum')")
        if not (np.array_equal(np.asarray(f.X, np.float64), thm.X) and np.array_equal(np.asarray(f.Y, np.float64), thm.Y)):
            why.append(f"data X, Y are not Eq. (3)'s for y = {self.y}")
        fm = [np.asarray(layer["W"]) != 0 for layer in f.masks]
        if len(fm) != 2 or not (np.array_equal(fm[0], FIRST_MASK != 0) and np.array_equal(fm[1], FINAL_MASK != 0)):
            why.append("masks are not Eq. (3)'s")
        if not why:
            ws = [np.asarray(w_from_params(f.space.unflatten(jnp.asarray(z))), np.float64) for z in (z0, z1)]
            pair = (self.w_valley, self.w_other)
            if not any(np.array_equal(ws[0], p) and np.array_equal(ws[1], q) for p, q in (pair, pair[::-1])):
                why.append("the endpoints are not the two points the certificate was issued for")
        if not float(alpha) <= self.level:
            why.append(f"alpha = {float(alpha):.6g} is above y4^2/2 = {self.level:g}, where the proof does not hold")
        if why:
            raise ValueError("certificate: does not apply to this question: " + "; ".join(why))
        return self.judgement

    def to_dict(self) -> dict:
        return {"y": list(self.y), "activation": self.activation, "w_valley": self.w_valley.tolist(),
                "w_other": self.w_other.tolist(), "level": self.level, "conditions": [list(c) for c in self.conditions]}


def theorem6_certificate(thm: Theorem6, activation: Activation, params_valley, params_other,
                         alpha: float) -> Theorem6Certificate:
    """Issues the Theorem 6 proof of disconnection for a pair of points, after checking what the proof needs.

    The proof (Section 5): on ``T0`` (the valley ``θ(a, b)``, ``a, b`` of one sign) every point
    is a local minimum with loss ``y4²/2``, and the component of ``{L ≤ y4²/2}`` containing
    ``T0`` never reaches a point with ``w4 ≠ 0`` and ``L ≤ y4²/2``. So for ``alpha ≤ y4²/2``
    the valley point and any point with ``w4 ≠ 0`` are not connected below ``alpha``.

    Checked (``ValueError`` naming the first that fails): footnote 5's targets; σ continuous
    (named or polynomial), ``σ(0) = 0``, ``σ(ℝ) ≠ {0}``; the first point on ``T0`` (the θ(a, b)
    equations and ``loss = y4²/2`` to float64 rounding, relative ``VALLEY_RTOL``); the second
    point has ``w4 ≠ 0``; ``alpha ≤ y4²/2``; both points zero where the masks are.

    Args:
      thm: the targets.  activation: σ.
      params_valley, params_other: params of the two points.
      alpha: the level asked about.

    Returns:
      A ``Theorem6Certificate`` (pass it to ``connectivity.connect(..., certificate=)``).
    """
    if not isinstance(thm, Theorem6):
        raise TypeError(f"thm: expected a theory.Theorem6, got {type(thm).__name__}")
    if not (isinstance(activation, str) or callable(activation)):
        raise TypeError(f"activation: expected σ's name or a callable (signature theorem6_certificate(thm, "
                        f"activation, params_valley, params_other, alpha)), got {type(activation).__name__}")
    checked = []
    for params, which in ((params_valley, "params_valley"), (params_other, "params_other")):
        full = jax.tree.map(lambda p: np.asarray(p, np.float64), tuple(params))
        for layer, m in zip(full, (FIRST_MASK, FINAL_MASK)):
            if np.any(layer["W"][m == 0] != 0):
                raise ValueError(f"{which}: non-zero where the masks of Eq. (3) are 0")
    w = np.asarray(w_from_params(jax.tree.map(lambda p: np.asarray(p, np.float64), tuple(params_valley))), np.float64)
    w_o = np.asarray(w_from_params(jax.tree.map(lambda p: np.asarray(p, np.float64), tuple(params_other))), np.float64)
    for name, holds, detail in _valley_conditions(thm, activation, w):
        if not holds:
            raise ValueError(f"params_valley: the Theorem 6 proof needs {name}; {detail}")
        checked.append((name, detail))
    if not w_o[3] != 0:
        raise ValueError("params_other: the Theorem 6 proof separates the valley from points with w4 != 0; got w4 = 0")
    checked.append(("w4 != 0 at the other point", f"w4 = {w_o[3]:.6g}"))
    if not float(alpha) <= thm.valley_loss:
        raise ValueError(f"alpha: the Theorem 6 proof covers levels up to y4^2/2 = {thm.valley_loss:g}, got {float(alpha):.6g}")
    checked.append(("alpha <= y4^2/2", f"alpha = {float(alpha):.6g}"))
    return Theorem6Certificate((thm.y1, thm.y2, thm.y3, thm.y4), activation_name(activation), w, w_o, thm.valley_loss,
                               tuple(checked))


@dataclasses.dataclass(frozen=True)
class ValleyCertificate(io.Saveable):
    """``certify_valley``'s result: the spurious-valley statement and the local checks, each with its evidence.

    * ``statement`` / ``evidence`` (``.verdict`` / ``.evidence``): ``"in a spurious valley
      (Theorem 6)"`` with evidence ``proved`` when every condition of the proof holds at the
      point (``proof``: the conditions and their numbers); otherwise ``"not shown to be in a
      spurious valley"`` (evidence ``none``) naming what fails.
    * ``local``: the numerical local-minimum checks (gradient, Hessian, random perturbations),
      evidence ``sampled``: necessary conditions at one point and finitely many perturbations.

    Attributes:
      activation: its name.  y: ``(y1, y2, y3, y4)``.
      w: the point's ``(w1, ..., w8)`` (the free coordinates).
      loss: ½-sum loss there; valley_loss: ``y4²/2``.
      grad_norm: ``‖∇L‖`` over the free coordinates.
      hessian_eigs: the 8 eigenvalues of the Hessian over the free coordinates.
      radii: perturbation radii; min_change: per radius, the smallest
        ``L(w + δ) − L(w)`` over ``n_perturbations`` random ``δ`` with ``‖δ‖ = r``.
      better_loss: the loss at ``θ̃(a)`` (computed, not the formula).
      tolerances: the thresholds used.
      failures: every check that failed (proof conditions and local checks).
      proof: ``(name, holds, detail)`` of the proof's conditions.
      local: the local checks' judgement text.
    """

    activation: str
    y: tuple
    w: np.ndarray
    loss: float
    valley_loss: float
    grad_norm: float
    hessian_eigs: np.ndarray
    radii: np.ndarray
    min_change: np.ndarray
    n_perturbations: int
    better_loss: float
    tolerances: dict
    failures: tuple
    proof: tuple = ()
    local: str = ""

    @property
    def proved(self) -> bool:
        return bool(self.proof) and all(h for _, h, _ in self.proof) and self.better_loss < self.valley_loss

    @property
    def passed(self) -> bool:
        """The statement is proved and the local checks agree with it."""
        return self.proved and not self.failures

    @property
    def verdict(self) -> str:
        return "in a spurious valley (Theorem 6)" if self.proved else "not shown to be in a spurious valley"

    @property
    def evidence(self) -> Evidence:
        return Evidence.PROVED if self.proved else Evidence.NONE

    @property
    def judgement(self) -> Judgement:
        how = (CITATION + "; conditions: " + "; ".join(f"{n} ({d})" for n, h, d in self.proof if h)
               + f"; better point θ̃(a) has loss {self.better_loss:.6g} < y4²/2") if self.proved else \
            "fails: " + "; ".join(f"{n} ({d})" for n, h, d in self.proof if not h) if self.proof else "no proof checked"
        return Judgement(self.verdict, self.evidence, how)

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["proof"] = [list(p) for p in self.proof]
        d["passed"], d["verdict"], d["evidence"] = self.passed, self.verdict, self.evidence.value
        return d

    def _to_file(self) -> tuple:
        arrays = {k: np.asarray(getattr(self, k)) for k in ("w", "hessian_eigs", "radii", "min_change")}
        return arrays, {k: v for k, v in self.to_dict().items() if k not in arrays}

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "ValleyCertificate":
        for k in ("passed", "versions", "saved", "verdict", "evidence"):
            meta.pop(k, None)
        meta["y"], meta["failures"] = tuple(meta["y"]), tuple(meta["failures"])
        meta["proof"] = tuple(tuple(p) for p in meta.get("proof", ()))
        return cls(**arrays, **meta)

    def __str__(self) -> str:
        j = self.judgement
        lines = [summary_line(j.statement, j.evidence, j.how) + f" [{self.activation}]",
                 f"  local checks: {self.local}"]
        if self.failures:
            lines.append("  failed: " + "; ".join(self.failures))
        return "\n".join(lines)


@partial(jax.jit, static_argnames="net")
def _valley_local(net, w0, X, Y, masks, d):
    """Loss, gradient and Hessian over ``w1..w8`` at ``w0``, and the loss at ``w0 + d`` (``d``: (radii, k, 8)).

    One compiled program per activation (eager ``jax.hessian`` dispatch took ~8 s on a 2-core CPU).
    """
    def L(w):
        return nets.loss(net, params_from_w(w), X, Y, masks)

    pert = jax.vmap(jax.vmap(L))(w0 + d)
    return L(w0), jax.grad(L)(w0), jax.hessian(L)(w0), pert


def certify_valley(thm: Theorem6, activation: Activation, params=None, *, a: Optional[float] = None, b: float = 10.0,
                   radii=(1e-1, 1e-2, 1e-3, 1e-4), n_perturbations: int = 2000, key=None, grad_tol: float = 1e-8,
                   hess_tol: float = 0.0, change_tol: float = 1e-12) -> ValleyCertificate:
    """Checks that ``θ(a, b)`` (or ``params``) lies in a spurious valley: the proof's conditions, then local checks.

    The statement "this point lies in a spurious valley" is **proved** (Theorem 6) when the
    proof's conditions hold at the point (``theorem6_certificate``'s valley checks: footnote 5's
    targets, σ, the θ(a, b) equations with ``a, b`` of one sign, ``loss = y4²/2``) and the
    better point ``θ̃(a)`` has a lower loss. Separately, and with evidence ``sampled``, float64
    local-minimum checks on the 8 free weights ``w1..w8``:

    1. ``‖∇L‖ ≤ grad_tol`` (a critical point);
    2. every Hessian eigenvalue is ``≥ −(hess_tol + 4 k eps ‖H‖_F)`` (the eigenvalue error bound
       of ``eigh``; flat directions along the valley give zeros);
    3. for each radius ``r``, ``n_perturbations`` uniform directions ``δ``, ``‖δ‖ = r``, never
       lower the loss by more than ``change_tol · max(1, L)``; this also covers σ with a kink at
       0 (LeakyReLU), where the Hessian is one-sided.

    These are necessary conditions at one point plus sampling, not a proof.

    Args:
      thm: the targets.  activation: σ with ``σ(0) = 0``.
      params: the point (default ``valley_point(thm, σ, a, b)``).
      a, b: the valley's parameters; ``a`` also picks ``θ̃(a)``.

    Returns:
      A ``ValleyCertificate`` (``.verdict``, ``.evidence``, ``.passed``, ``.failures``).

    Raises:
      ValueError: ``σ(0) != 0`` or the targets violate footnote 5.
    """
    thm.check()
    n_perturbations = validate.integer(n_perturbations, "n_perturbations", low=1)
    radii = tuple(validate.positive(r, "radii") for r in radii)
    for name, v in (("b", b), ("grad_tol", grad_tol), ("hess_tol", hess_tol), ("change_tol", change_tol)):
        (validate.real if name == "b" else validate.nonnegative)(v, name)
    net = thm.net(activation)
    with jax.enable_x64(True):
        conditions.require(conditions.theorem6_activation(net, dtype=jnp.float64), "activation", "Theorem 6")
        X = jnp.asarray(thm.X, jnp.float64)
        Y = jnp.asarray(thm.Y, jnp.float64)
        masks = thm.masks()
        if params is None:
            params = valley_point(thm, activation, a, b)
        w0 = jnp.asarray(w_from_params(params), jnp.float64)

        key = jax.random.key(0) if key is None else key
        radii = np.asarray(radii, np.float64)
        d = jnp.stack([jax.random.normal(jax.random.fold_in(key, i), (n_perturbations, 8), jnp.float64)
                       for i in range(radii.size)])
        d = jnp.asarray(radii)[:, None, None] * d / jnp.linalg.norm(d, axis=-1, keepdims=True)
        loss0, g, H, Lpert = _valley_local(net, w0, X, Y, masks, d)
        loss0, g = float(loss0), np.asarray(g)
        Hn = np.asarray(H, np.float64)
        eigs = np.linalg.eigvalsh(Hn)
        eig_err = 4 * 8 * float(np.finfo(np.float64).eps) * float(np.linalg.norm(Hn))
        min_change = np.asarray(jnp.min(Lpert, axis=1), np.float64) - loss0
        better = float(nets.loss(net, better_point(thm, activation, a), X, Y, masks))
    proof = tuple((n, bool(h), dd) for n, h, dd in _valley_conditions(thm, activation, np.asarray(w0)))
    tols = {"grad_tol": grad_tol, "hess_tol": hess_tol, "eig_error": eig_err, "change_tol": change_tol,
            "valley_rtol": VALLEY_RTOL}
    failures = [f"{n} fails: {dd}" for n, h, dd in proof if not h]
    if np.linalg.norm(g) > grad_tol:
        failures.append(f"gradient norm {np.linalg.norm(g):.3g} > {grad_tol:g}")
    if eigs.min() < -(hess_tol + eig_err):
        failures.append(f"Hessian eigenvalue {eigs.min():.3g} < -{hess_tol + eig_err:.2g} (tolerance + eigh error bound)")
    for r, c in zip(radii, min_change):
        if c < -change_tol * max(1.0, abs(loss0)):
            failures.append(f"a perturbation of radius {r:g} lowers the loss by {-c:.3g}")
    if not better < thm.valley_loss:
        failures.append(f"better point loss {better:.6g} is not below y4^2/2 = {thm.valley_loss:.6g}")
    local = (f"{'passed' if not any(k in f for f in failures for k in ('gradient', 'Hessian', 'perturbation')) else 'failed'}"
             f" [sampled: |grad| {np.linalg.norm(g):.2g} (tol {grad_tol:g}); min Hessian eigenvalue {eigs.min():.3g} "
             f"(error bound {eig_err:.2g}); {n_perturbations} random perturbations at each radius "
             f"{radii.tolist()}: smallest change {float(np.min(min_change)):.3g}]")
    return ValleyCertificate(activation_name(activation), (thm.y1, thm.y2, thm.y3, thm.y4), np.asarray(w0), loss0,
                             thm.valley_loss, float(np.linalg.norm(g)), eigs, radii, min_change, n_perturbations,
                             better, tols, tuple(failures), proof, local)
