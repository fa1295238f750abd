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

σ is inverted numerically (bisection in float64) where it has no closed form.

Section 4 utilities: ``assumption1``, ``assumption2_orders``, ``dim_star`` /
``monomial_count`` (upper intrinsic dimension) and ``rank_check`` (Theorem 4);
``certify_valley`` -> ``ValleyCertificate`` certifies the Theorem 6 valley.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from landscape import io, nets
from landscape.activations import Activation, activation_name, get_activation
from landscape.nets import MLP

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
        y1, y2, y3, y4 = self.y1, self.y2, self.y3, self.y4
        if not (y3 > y4 > y1 > 0 and y2 > 0):
            raise ValueError(f"y: Theorem 6 needs y3 > y4 > y1 > 0 and y2 > 0, got y=({y1}, {y2}, {y3}, {y4})")
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


def _invert_brackets(sigma, values, grid, max_iters: int = 200):
    """For each value and each sign ``±``: the first grid zero, else the bisected
    first sign change, of ``σ(±z) − v``; one ``σ`` call per step for all of them.

    Returns ``(z, found)``, each ``(2, m)`` (row 0: ``z ≥ 0``, row 1: ``z ≤ 0``).
    """
    dtype = jnp.result_type(float)  # float64 when jax_enable_x64 is on
    signs = np.array([1.0, -1.0])[:, None]

    def f(z):  # z: (2, m, k) magnitudes -> σ(±z) − v
        return np.asarray(sigma(jnp.asarray(signs[..., None] * z, dtype)), np.float64) - values[None, :, None]

    vals = f(np.broadcast_to(grid, (2, values.size, grid.size)))
    is_zero = vals == 0
    change = np.sign(vals[..., 1:]) != np.sign(vals[..., :-1])
    has_zero, has_ch = is_zero.any(-1), change.any(-1)
    i_ch = np.argmax(change, axis=-1)
    lo, hi = grid[i_ch], grid[np.minimum(i_ch + 1, grid.size - 1)]
    s_lo = np.sign(np.take_along_axis(vals, i_ch[..., None], -1)[..., 0])
    for _ in range(max_iters):  # bisection until no bracket shrinks (float64 resolution)
        mid = 0.5 * (lo + hi)
        if not np.any((mid > lo) & (mid < hi)):
            break
        fm = f(mid[..., None])[..., 0]
        right = np.sign(fm) == s_lo  # the root is right of mid
        lo, hi = np.where(right, mid, lo), np.where(right | (fm == 0), hi, mid)
    z = np.where(has_zero, grid[np.argmax(is_zero, axis=-1)], 0.5 * (lo + hi))
    return signs * z, has_zero | has_ch


def invert(activation: Activation, value, *, zmax: float = 1e4):
    """A ``z`` with ``σ(z) = value``, nearest to 0 on a grid; vectorised over ``value``.

    Scans ``σ(±z)`` on a grid ``{0} ∪ geomspace(1e-6, zmax, 2000)`` (first
    ``z ≥ 0``, then ``z ≤ 0``), takes the first grid point where ``σ = value``
    or the first sign change of ``σ − value`` and bisects it to float64
    resolution -- all values (and both signs) at once, one ``σ`` call per
    bisection step (no compilation: ~60 eager calls in all).

    Args:
      activation: name or callable.
      value: a number or an array of numbers.
      zmax: the grid's extent.

    Returns:
      A float for a scalar ``value``, else a float64 array of ``value``'s shape.

    Raises:
      ValueError: a value is not in ``σ([-zmax, zmax])``.
    """
    v = np.asarray(value, np.float64)
    flat = v.reshape(-1)
    sigma = get_activation(activation)
    grid = np.concatenate([[0.0], np.geomspace(1e-6, zmax, 2000)])
    z, found = _invert_brackets(sigma, flat, grid)
    out = np.where(found[0], z[0], z[1])
    out = np.where(flat == 0.0, 0.0, out)
    bad = ~(found[0] | found[1]) & (flat != 0.0)
    if np.any(bad):
        raise ValueError(f"value: {flat[bad][0]} is not in the range of the activation on [-{zmax}, {zmax}]")
    return float(out[0]) if v.ndim == 0 else out.reshape(v.shape)


def _sign_for(activation: Activation) -> float:
    """+1 if σ takes positive values (so 1/a > 0 is reachable), else −1."""
    sigma = get_activation(activation)
    z = jnp.linspace(-20.0, 20.0, 4001)
    return 1.0 if float(jnp.max(sigma(z))) > 0 else -1.0


def valley_point(thm: Theorem6, activation: Activation, a: Optional[float] = None, b: float = 10.0):
    """``θ(a, b)`` on the spurious valley; ``a`` defaults to a reachable value.

    ``a`` and ``b`` need ``1/a, 1/b ∈ σ(R)`` (the default picks the sign σ allows).
    Returns the params pytree.
    """
    thm.check()
    s = _sign_for(activation)
    if a is None:
        a = 4.0 * s
    y1, y2, y3 = thm.y1, thm.y2, thm.y3
    w5 = invert(activation, 1.0 / a)
    w7 = invert(activation, 1.0 / b)
    return params_from_w([y1 * a, y2 * a, y3 * b, 0.0, w5, w5, w7, 0.0])


def better_point(thm: Theorem6, activation: Activation, a: Optional[float] = None):
    """``θ̃(a)``, with loss ``thm.better_loss < thm.valley_loss``."""
    thm.check()
    s = _sign_for(activation)
    if a is None:
        a = 4.0 * s
    y1, y2, y3, y4 = thm.y1, thm.y2, thm.y3, thm.y4
    w5 = invert(activation, y2 / ((y2 + y3) * a))
    w6 = invert(activation, 1.0 / a)
    return params_from_w([y1 * a, (y2 + y3) * a, 0.0, y4 * a, w5, w6, 0.0, w6])


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


# ============================================================================= Section 4 utilities

ANALYTIC_ORDERS = {
    # Orders k with σ^(k)(0) != 0 (all k of the stated form), for the named analytic activations.
    "tanh": "odd",             # tanh is odd, Taylor coefficients 2^{2m}(2^{2m}−1)B_{2m}/(2m)! != 0
    "shifted_sigmoid": "odd",  # ½ tanh(z/2)
    "sigmoid": "odd",          # ½ + ½ tanh(z/2): also k = 0
    "softplus": "even",        # log 2 + z/2 + (even part); k = 1 too
}
NOT_ANALYTIC = ("relu", "leaky_relu", "elu")


def assumption2_orders(activation, n: int, *, max_order: Optional[int] = None) -> tuple:
    """Assumption 2: ``n`` orders ``l_1 < ... < l_n`` in arithmetic progression with ``σ^(l_i)(0) != 0``.

    Exact for the named analytic activations (``ANALYTIC_ORDERS``) and for
    ``polynomial(...)`` (the non-zero coefficients); ``linear``, ``quadratic``
    and ``cubic`` are polynomials.

    Returns:
      The orders ``(l_1, ..., l_n)``.

    Raises:
      ValueError: σ is not real analytic (ReLU, LeakyReLU, ELU), has too few
        non-zero derivatives at 0 (a polynomial of degree < n − 1 ...), or is a
        callable whose derivatives this cannot know.
    """
    name = activation_name(activation)
    poly = {"linear": (0.0, 1.0), "quadratic": (0.0, 0.0, 1.0), "cubic": (0.0, 0.0, 0.0, 1.0)}.get(name)
    if poly is None and callable(activation) and hasattr(activation, "coefficients"):
        poly = activation.coefficients
    if name in NOT_ANALYTIC:
        raise ValueError(f"activation: Assumption 2 needs a real-analytic σ; {name!r} is not analytic at 0")
    if poly is not None:
        nz = [k for k, a in enumerate(poly) if a != 0]
        for step in range(1, len(poly) + 1):
            for start in nz:
                seq = tuple(start + i * step for i in range(n))
                if all(k in nz for k in seq):
                    return seq
        raise ValueError(f"activation: Assumption 2 fails for {name!r}: its non-zero derivatives at 0 are of orders "
                         f"{nz}, which hold no arithmetic sequence of n={n} orders (dim* is finite: use p_i >= dim*, Theorem 3)")
    if name in ANALYTIC_ORDERS:
        kind = ANALYTIC_ORDERS[name]
        return tuple(range(1, 2 * n, 2)) if kind == "odd" else tuple(range(0, 2 * n, 2))
    raise ValueError(f"activation: cannot check Assumption 2 for {name!r}; pass assume_analytic=True if σ is real "
                     f"analytic with n={n} non-zero derivatives at 0 in arithmetic progression")


def assumption1(X, mask=None, *, rtol: float = 0.0) -> None:
    """Assumption 1. Raises ValueError naming the part that fails.

    1) every entry of ``X`` is non-zero and, in each row (feature), the ``n``
       absolute values are distinct (compared with relative tolerance ``rtol``);
    2) no row of the first-layer ``mask`` is all zero.
    """
    X = np.asarray(X, np.float64)
    if X.ndim != 2:
        raise ValueError(f"X: expected (d_x, n), got shape {X.shape}")
    A = np.abs(X)
    scale = np.max(A) if A.size else 1.0
    if np.any(A <= rtol * scale):
        k, i = np.argwhere(A <= rtol * scale)[0]
        raise ValueError(f"X: Assumption 1 part 1 fails: entry ({k}, {i}) is zero")
    S = np.sort(A, axis=1)
    gaps = np.diff(S, axis=1)
    if np.any(gaps <= rtol * scale):
        k = int(np.argwhere(gaps <= rtol * scale)[0][0])
        raise ValueError(f"X: Assumption 1 part 1 fails: feature {k} has two samples with equal |x_ik|")
    if mask is not None:
        m = np.asarray(mask)
        empty = np.flatnonzero(~m.any(axis=1))
        if empty.size:
            raise ValueError(f"masks: Assumption 1 part 2 fails: hidden units {empty.tolist()} have all first-layer "
                             "weights pruned (remove them first: effective network)")


def monomial_count(coefficients, d: int) -> int:
    """``Σ_{k : a_k != 0} C(d + k − 1, k)``: the number of degree-``k`` monomials in
    ``d`` variables, summed over the degrees present in ``σ(z) = Σ a_k z^k``.

    For data in general position with ``n`` at least this count, it equals
    ``dim*(σ, X)`` (``σ(wᵀx)`` spans the homogeneous polynomials of those degrees).
    """
    return int(sum(math.comb(d + k - 1, k) for k, a in enumerate(coefficients) if a != 0))


def _rank64(A, rtol):
    s = np.linalg.svd(np.asarray(A, np.float64), compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def dim_star(activation: Activation, X, *, n_samples: Optional[int] = None, key=None, rtol: float = 1e-9,
             scale: float = 1.0) -> int:
    """Upper intrinsic dimension ``dim*(σ, X) = dim span{σ(wᵀX) : w ∈ R^{d_x}}`` (Section 4.1).

    The numerical rank (singular values above ``rtol · σ_max``) of
    ``n_samples`` rows ``σ(w_jᵀ X)``, ``w_j ~ N(0, scale² I)``, computed in
    float64. Exact, almost surely, for polynomial σ once ``n_samples ≥ dim*``;
    for other σ it is a lower bound that saturates at ``n`` (the rank cannot
    exceed the number of samples).

    Args:
      activation: name or callable.
      X: ``(d_x, n)`` data.
      n_samples: rows drawn (default ``max(4 n, 64)``).
      key: PRNG key (default ``jax.random.key(0)``).
      rtol: rank threshold; 1e-9 sits far above float64 rounding (~1e-15)
        and far below the smallest true singular values of these Gram rows.
    """
    X = np.asarray(X, np.float64)
    if X.ndim != 2:
        raise ValueError(f"X: expected (d_x, n), got shape {X.shape}")
    n = X.shape[1]
    m = n_samples or max(4 * n, 64)
    key = jax.random.key(0) if key is None else key
    with jax.enable_x64(True):
        w = scale * jax.random.normal(key, (m, X.shape[0]), jnp.float64)
        rows = np.asarray(get_activation(activation)(w @ jnp.asarray(X, jnp.float64)))
    return _rank64(rows, rtol)


def rank_check(activation: Activation, X, mask, *, n_draws: int = 100, key=None, rtol: float = 1e-10) -> np.ndarray:
    """Monte-Carlo check of Theorem 4's ``rank σ(W̃X) = n`` for random ``W̃``.

    Draws ``n_draws`` first layers ``W̃ = W ⊙ M`` (PyTorch's init) and returns
    the ``n_draws`` numerical ranks of ``σ(W̃X)`` (``(p, n)``); under
    Assumptions 1, 2 and ``p ≥ n`` all of them should equal ``n``.
    """
    X = np.asarray(X, np.float64)
    M = np.asarray(mask, np.float64)
    if M.ndim != 2 or M.shape[1] != X.shape[0]:
        raise ValueError(f"mask: expected shape (p, d_x={X.shape[0]}), got {M.shape}")
    key = jax.random.key(0) if key is None else key
    sigma = get_activation(activation)
    bound = 1.0 / np.sqrt(M.shape[1])
    with jax.enable_x64(True):
        W = jax.random.uniform(key, (n_draws,) + M.shape, jnp.float64, -bound, bound) * M
        H = np.asarray(sigma(W @ jnp.asarray(X, jnp.float64)))
    return np.array([_rank64(h, rtol) for h in H])


# ============================================================================= Theorem 6 certificate


@dataclasses.dataclass(frozen=True)
class ValleyCertificate(io.Saveable):
    """Evidence that a point of the Theorem 6 net is a spurious local minimum.

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
      failures: the checks that failed (empty when ``passed``).
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

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["passed"] = self.passed
        return d

    def _to_file(self) -> tuple:
        arrays = {k: np.asarray(getattr(self, k)) for k in ("w", "hessian_eigs", "radii", "min_change")}
        return arrays, {k: v for k, v in self.to_dict().items() if k not in arrays}

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "ValleyCertificate":
        for k in ("passed", "versions", "saved"):
            meta.pop(k, None)
        meta["y"], meta["failures"] = tuple(meta["y"]), tuple(meta["failures"])
        return cls(**arrays, **meta)

    def __str__(self) -> str:
        head = "CERTIFIED spurious valley" if self.passed else "NOT certified: " + "; ".join(self.failures)
        return (f"{head} [{self.activation}] loss {self.loss:.10g} (valley {self.valley_loss:.6g}), "
                f"|grad| {self.grad_norm:.2g}, min Hessian eig {self.hessian_eigs.min():.3g}, "
                f"min ΔL per radius {dict(zip(self.radii.tolist(), np.round(self.min_change, 15).tolist()))}, "
                f"better point loss {self.better_loss:.6g}")


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
                   hess_tol: float = 1e-8, change_tol: float = 1e-12, loss_tol: float = 1e-10) -> ValleyCertificate:
    """Certifies (numerically, in float64) that ``θ(a, b)`` lies in a spurious valley.

    Checks, on the 8 free weights ``w1..w8``:

    1. the loss equals ``y4²/2`` (within ``loss_tol · max(1, y4²/2)``);
    2. ``‖∇L‖ ≤ grad_tol`` (a critical point);
    3. every Hessian eigenvalue is ``≥ −hess_tol · max(1, max|eig|)`` (flat
       directions along the valley give zeros);
    4. for each radius ``r``, ``n_perturbations`` uniform directions ``δ``,
       ``‖δ‖ = r``, never lower the loss by more than
       ``change_tol · max(1, L)`` (float64 rounding of ``L`` is ~1e-16 ``L``);
       this also covers σ with a kink at 0 (LeakyReLU), where the Hessian is
       one-sided;
    5. the better point ``θ̃(a)`` has loss ``< y4²/2`` -- so the valley is spurious.

    Args:
      thm: the targets (``thm.check()`` runs the proof's inequalities).
      activation: σ with ``σ(0) = 0``.
      params: the point to certify (default ``valley_point(thm, σ, a, b)``).
      a, b: the valley's parameters; ``a`` also picks ``θ̃(a)``.

    Returns:
      A ``ValleyCertificate``; ``.passed`` is the verdict, ``.failures`` says why not.

    Raises:
      ValueError: ``σ(0) != 0`` or the targets violate Theorem 6.
    """
    thm.check()
    sigma = get_activation(activation)
    with jax.enable_x64(True):
        if abs(float(sigma(jnp.float64(0.0)))) > 0:
            raise ValueError(f"activation: Theorem 6 needs σ(0) = 0, got σ(0) = {float(sigma(jnp.float64(0.0)))}")
        net = thm.net(activation)
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
        eigs = np.linalg.eigvalsh(np.asarray(H))
        min_change = np.asarray(jnp.min(Lpert, axis=1), np.float64) - loss0
        better = float(nets.loss(net, better_point(thm, activation, a), X, Y, masks))
    tols = {"loss_tol": loss_tol, "grad_tol": grad_tol, "hess_tol": hess_tol, "change_tol": change_tol}
    failures = []
    if abs(loss0 - thm.valley_loss) > loss_tol * max(1.0, thm.valley_loss):
        failures.append(f"loss {loss0:.12g} != y4^2/2 = {thm.valley_loss:.12g}")
    if np.linalg.norm(g) > grad_tol:
        failures.append(f"gradient norm {np.linalg.norm(g):.3g} > {grad_tol:g}")
    if eigs.min() < -hess_tol * max(1.0, np.abs(eigs).max()):
        failures.append(f"Hessian eigenvalue {eigs.min():.3g} < 0")
    for r, c in zip(radii, min_change):
        if c < -change_tol * max(1.0, abs(loss0)):
            failures.append(f"a perturbation of radius {r:g} lowers the loss by {-c:.3g}")
    if not better < thm.valley_loss:
        failures.append(f"better point loss {better:.6g} is not below y4^2/2 = {thm.valley_loss:.6g}")
    return ValleyCertificate(activation_name(activation), (thm.y1, thm.y2, thm.y3, thm.y4), np.asarray(w0), loss0,
                             thm.valley_loss, float(np.linalg.norm(g)), eigs, radii, min_change, n_perturbations,
                             better, tols, tuple(failures))
