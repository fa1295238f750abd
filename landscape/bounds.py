"""Rigorous bounds of the loss along a piecewise-linear path of a masked MLP.

On segment ``j`` of a polyline the parameters are ``θ(τ) = P + τ D``, ``τ ∈ [0, 1]``, and
the loss is a function of one real variable. ``enclose`` bounds it on the whole continuum
(not only at samples), segment by segment, with the cheapest rigorous method that applies:

1. **constant** -- the moved weights feed only weights that are zero along the whole
   segment (``P = D = 0`` there: Lemma 1 / redraw moves), so the output, hence the loss, does
   not depend on ``τ``. Decided from the zero pattern alone.
2. **polynomial** -- the network output is a polynomial in ``τ`` of known degree ``q``: when
   only the final layer moves (``q = 1``), or when σ is a polynomial (a linear σ in depth
   ``L`` gives ``q ≤ L``). The loss is then a polynomial of degree ``2q``, recovered exactly
   by interpolation at ``2q + 1`` Chebyshev nodes; its maximum and largest rise follow from
   the roots of its derivative. Error: the evaluation margin ``m`` (below) times the Lebesgue
   constant ``Λ ≤ (2/π) ln(n + 1) + 1`` of the ``n`` nodes.
3. **interval** -- otherwise (tanh, sigmoid, shifted sigmoid, softplus, ReLU, leaky ReLU,
   ELU): a 1-D interval forward pass of the masked MLP over a ``τ``-interval ``I`` in
   midpoint-radius arithmetic encloses ``L'(I)``; with the loss at the ends of ``I`` the
   mean-value (slope) form bounds ``L`` on ``I`` and its largest rise inside ``I``
   (``≤ |I| · max(0, sup L'(I))``, zero where ``sup L'(I) ≤ 0``). Intervals that do not
   decide the question are bisected (their midpoints evaluated) until it is decided --
   bound below the tolerance, or a witnessed violation -- or the budget runs out.
4. **sampled** -- an activation with no interval rule (a user's callable), or a budget
   spent: the loss at the nodes only, and the evidence says so.

Floating point. The loss values come from ordinary float evaluations; their error is
bounded by a margin ``m`` per segment from the standard model ``fl(a ∘ b) = (a ∘ b)(1 + δ)``,
``|δ| ≤ u`` (u = unit roundoff of the dtype): a magnitude pass over the segment's box
(``|W| ≤ |P| + |D|``) propagates ``γ_k = k u / (1 − k u)`` dot-product errors through the
layers with σ's Lipschitz constant, plus 4 ulps for each evaluation of σ (XLA documents no
accuracy for ``tanh``/``exp``/``log1p``; 4 ulps is an assumption, stated in every
judgement). The interval pass widens every radius the same way. No directed rounding is
available in XLA, so "certified" here means rigorous under this rounding model.

Why not ``autobound`` (google/autobound, the JAX Taylor-enclosure library)? Checked
2026-11: its newest release on PyPI (0.1.4) does not import under jax 0.10
(``jax.core.Jaxpr`` was removed), it has no rules for ``tanh``, ``max`` (ReLU) or
``select_n`` (leaky ReLU, ELU), and it rounds to nearest without a margin, so its bounds
are not rigorous in floating point. The masked MLP needs only matmuls, a monotone σ and
σ' on intervals, which is the small 1-D arithmetic written here.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import evaluate, nets
from landscape.activations import activation_name, get_activation, polynomial_coefficients
from landscape.nets import MLP
from landscape.verdicts import Evidence

SIGMA_ULPS = 4
"""Assumed accuracy of XLA's transcendental functions (tanh, exp, log1p), in ulps."""

INTERVAL_ACTIVATIONS = ("linear", "tanh", "sigmoid", "shifted_sigmoid", "softplus", "relu", "leaky_relu", "elu")
"""Activations with an interval rule (all monotone non-decreasing)."""

_LIPSCHITZ = {"linear": 1.0, "tanh": 1.0, "sigmoid": 0.25, "shifted_sigmoid": 0.25, "softplus": 1.0, "relu": 1.0,
              "leaky_relu": 1.0, "elu": 1.0}
MAX_DEGREE = 32
"""Largest output degree in ``τ`` handled by interpolation (loss degree 64)."""


def _u(dtype) -> float:
    return float(np.finfo(np.dtype(dtype)).eps) / 2


def _gamma(k: int, u: float) -> float:
    return k * u / (1 - k * u)


# ----------------------------------------------------------------------------- segments on the host


def _masked(net: MLP, tree, masks):
    """``tree`` (NumPy leaves) with the masked entries set to exactly 0."""
    if masks is None:
        return tuple(tree)
    return tuple({k: np.where(np.asarray(m[k]) != 0, np.asarray(layer[k]), 0).astype(np.asarray(layer[k]).dtype)
                  for k in layer} for layer, m in zip(tree, masks))


def _sigma_degree(activation) -> float:
    c = polynomial_coefficients(activation)
    if c is None:
        return np.inf
    nz = [k for k, a in enumerate(c) if a != 0]
    return float(max(nz)) if nz else 0.0


def output_degree(net: MLP, start, direction) -> float:
    """Degree in ``τ`` of the output along ``start + τ direction`` (``inf``: not a polynomial).

    Exact bookkeeping of the zero pattern: a pre-activation depends on ``τ`` only through
    terms whose weight is non-zero somewhere on the segment and that moves, or whose input
    depends on ``τ``. ``0`` means the output, hence the loss, is constant on the segment.
    """
    q = _sigma_degree(net.activation)
    deg_h = np.zeros(net.sizes[0])
    L = net.depth
    for l, (P, D) in enumerate(zip(start, direction)):
        Pw, Dw = np.asarray(P["W"]), np.asarray(D["W"])
        conn = (Pw != 0) | (Dw != 0)
        with np.errstate(invalid="ignore"):
            terms = np.where(conn, (Dw != 0) + deg_h[None, :], -np.inf)
        dz = terms.max(axis=1) if terms.shape[1] else np.full(terms.shape[0], -np.inf)
        if "b" in P:
            Pb, Db = np.asarray(P["b"]), np.asarray(D["b"])
            dz = np.maximum(dz, np.where((Pb != 0) | (Db != 0), (Db != 0) * 1.0, -np.inf))
        dz = np.maximum(dz, 0.0)
        if l == L - 1:
            return float(dz.max())
        with np.errstate(invalid="ignore"):
            deg_h = np.where(dz == 0, 0.0, dz * q)
    return 0.0  # pragma: no cover


def _sigma_bounds(activation, zmax: np.ndarray):
    """``(max |σ(z)|, max |σ'(z)|)`` over ``|z| ≤ zmax`` elementwise, or None when unknown."""
    name = activation_name(activation) if isinstance(activation, str) else None
    sigma = get_activation(activation)
    if name in _LIPSCHITZ:
        s = np.maximum(np.abs(np.asarray(sigma(jnp.asarray(zmax)), np.float64)),
                       np.abs(np.asarray(sigma(jnp.asarray(-zmax)), np.float64)))
        return s * (1 + 8 * SIGMA_ULPS * 2.0**-53) + 1e-300, np.full_like(zmax, _LIPSCHITZ[name])
    c = polynomial_coefficients(activation)
    if c is None:
        return None
    smax = sum(abs(a) * zmax**k for k, a in enumerate(c))
    lip = sum(k * abs(a) * zmax ** (k - 1) for k, a in enumerate(c) if k >= 1)
    return smax * (1 + 1e-12), np.asarray(lip + 0.0 * zmax) * (1 + 1e-12)


def output_error(net: MLP, start, direction, X, dtype) -> Optional[np.ndarray]:
    """``(d_y, n)`` bound of the rounding error of the output anywhere on the segment, or None.

    Magnitude pass over the box ``|W| ≤ |P| + |D|`` (so it holds for every ``τ ∈ [0, 1]``):
    ``e_z ≤ γ_{k+5} |W| |h| + |W| e_h`` (dot products of length ``k``, plus forming ``P + τD``
    or ``(1−w) v_j + w v_{j+1}``), ``e_h ≤ Lip(σ) e_z + 4 ulps · |σ|``. None when σ has no
    known Lipschitz bound (a user's callable).
    """
    u = _u(dtype)
    a = np.abs(np.asarray(X, np.float64))
    e = np.zeros_like(a)
    L = net.depth
    for l, (P, D) in enumerate(zip(start, direction)):
        W = np.abs(np.asarray(P["W"], np.float64)) + np.abs(np.asarray(D["W"], np.float64))
        z = W @ a
        ez = _gamma(W.shape[1] + 5, u) * z + W @ e
        if "b" in P:
            b = (np.abs(np.asarray(P["b"], np.float64)) + np.abs(np.asarray(D["b"], np.float64)))[:, None]
            z = z + b
            ez = ez + 4 * u * (z + b)
        if l == L - 1:
            return ez * (1 + 1e-10)
        sb = _sigma_bounds(net.activation, z)
        if sb is None:
            return None
        smax, lip = sb
        a, e = smax, lip * ez + 2 * SIGMA_ULPS * u * smax
    return None  # pragma: no cover


def value_margin(v, eF: float, n_entries: int, loss: str, dtype) -> np.ndarray:
    """Error bound of a computed loss value ``v`` whose residual entries err by ``e`` with ``‖e‖₂ ≤ eF``.

    ``|½‖R̃‖² − ½‖R‖²| ≤ ‖R̃‖ eF + ½ eF²`` plus the summation's ``γ_N ½‖R̃‖²``, with
    ``‖R̃‖ = √(2 v)`` (half-sum units; ``"mean"`` rescales by ``2/N``). Small where the loss is
    small: the error of a residual near zero does not square into a large one.
    """
    u = _u(dtype)
    N = int(n_entries)
    scale = 1.0 if loss == "half_sum" else 2.0 / N
    half = np.maximum(np.asarray(v, np.float64), 0.0) / scale
    g = _gamma(N + 4, u)
    r = np.sqrt(2 * half * (1 + g))
    return scale * (r * eF + 0.5 * eF * eF + g * half) * (1 + 1e-10)


# ----------------------------------------------------------------------------- polynomial segments


def _lebesgue(n: int) -> float:
    """Upper bound of the Lebesgue constant of ``n`` Chebyshev nodes of the first kind (Rivlin)."""
    return 2.0 / np.pi * np.log(n + 1) + 1.0


def chebyshev_nodes(n: int) -> np.ndarray:
    """``n`` Chebyshev nodes of the first kind on ``[0, 1]``, increasing."""
    return np.sort((1 - np.cos(np.pi * (np.arange(n) + 0.5) / n)) / 2)


def _polynomial_pieces(values: np.ndarray, nodes: np.ndarray, margin: float) -> tuple:
    """Pieces of the interpolant through ``(nodes, values)`` between its critical points.

    The true loss is a polynomial of degree ``n − 1`` and differs from the interpolant by at
    most ``Λ_n · margin`` (``margin``: the largest error of a node value). Returns
    ``(tau_lo, tau_hi, lo, hi, rise)``; ``lo``/``hi`` enclose the loss on each piece and
    ``rise`` bounds the largest increase inside it (no piece is flagged monotone: the
    interpolant's monotonicity is not the true polynomial's).
    """
    n = nodes.size
    p = np.polynomial.Chebyshev.fit(nodes, values, n - 1, domain=[0.0, 1.0])
    dp, ddp = p.deriv(), p.deriv(2)
    r = dp.roots()
    r = np.real(r[np.abs(np.imag(r)) <= 1e-12 * (1 + np.abs(r))])
    r = r[(r > 0) & (r < 1)]
    root_err = 0.0
    if r.size:
        r = np.clip(r - dp(r) / np.where(ddp(r) != 0, ddp(r), 1.0), 0.0, 1.0)  # one Newton step
        d2 = np.abs(ddp(r))
        root_err = float(np.max(np.where(d2 > 0, dp(r) ** 2 / np.where(d2 > 0, d2, 1.0), 0.0)))
    t = np.unique(np.concatenate([[0.0, 1.0], r]))
    v = p(t)
    total = margin * _lebesgue(n) + 16 * n * 2.0**-53 * float(np.max(np.abs(values))) + root_err
    lo = np.minimum(v[:-1], v[1:]) - total
    hi = np.maximum(v[:-1], v[1:]) + total
    rise = np.maximum(v[1:] - v[:-1], 0.0) + 2 * total
    return t[:-1], t[1:], lo, hi, rise


def _quadratic_pieces(net: MLP, P, D, X, Y, loss: str, eF_entry: np.ndarray, dtype) -> tuple:
    """Pieces of the loss on a segment where the output is affine in ``τ`` (a convex quadratic).

    ``F(τ) = F0 + τ Fd`` (computed from the outputs at both ends, each within ``eF_entry``
    per entry), ``R = F − Y``, ``L = s ½‖R‖²``. ``L'(τ) = s⟨R(τ), Fd⟩`` is non-decreasing, so
    ``L' (1) ≤ 0`` means non-increasing on the whole segment, and otherwise the largest rise is
    ``L(1) − min L = L'(1)² / (4 c)``, ``c = s ½‖Fd‖²`` (second order in the errors), and at
    most ``L'(1)`` (when ``Fd ≈ 0``: an output-preserving move such as Lemma 1's).

    Returns ``(tau_lo, tau_hi, lo, hi, rise, mono, values_at_ends, margins_at_ends)``.
    """
    u = _u(dtype)
    with jax.enable_x64(np.dtype(dtype) == np.float64):
        ends = [jax.tree.map(lambda p, d: jnp.asarray(p, dtype) + jnp.asarray(t, dtype) * jnp.asarray(d, dtype), P, D)
                for t in (0.0, 1.0)]
        F0, F1 = (np.asarray(nets.apply(net, e, jnp.asarray(X, dtype)), np.float64) for e in ends)
    Yd = np.asarray(Y, np.float64)
    R0, R1, Fd = F0 - Yd, F1 - Yd, F1 - F0
    eR = eF_entry
    eD = 2 * eF_entry + u * np.abs(Fd)
    N = Yd.size
    s = 1.0 if loss == "half_sum" else 2.0 / N
    g = _gamma(N + 4, u)

    def dot_bound(R):
        m = float(np.sum(R * Fd))
        err = float(np.sum(np.abs(R) * eD + eR * np.abs(Fd) + eR * eD) + g * np.sum(np.abs(R) * np.abs(Fd)))
        return s * (m - err), s * (m + err)

    d0_lo, _ = dot_bound(R0)
    _, d1_hi = dot_bound(R1)
    nFd = float(np.sqrt(np.sum(Fd * Fd)))
    c_lo = s * 0.5 * max(nFd - float(np.sqrt(np.sum(eD * eD))), 0.0) ** 2
    v = s * 0.5 * np.array([np.sum(R0 * R0), np.sum(R1 * R1)])
    eFn = float(np.sqrt(np.sum(eR * eR)))
    m = value_margin(v, eFn, N, loss, dtype)
    if d1_hi <= 0:  # non-increasing on [0, 1]
        return (np.array([0.0]), np.array([1.0]), np.array([v[1] - m[1]]), np.array([v[0] + m[0]]), np.array([0.0]),
                np.array([True]), v, m)
    if d0_lo >= 0:  # non-decreasing
        return (np.array([0.0]), np.array([1.0]), np.array([v[0] - m[0]]), np.array([v[1] + m[1]]),
                np.array([v[1] - v[0] + m[0] + m[1]]), np.array([False]), v, m)
    # L' ≤ L'(1) on [0, 1] (convex), so the rise is also at most L'(1) · 1
    rise = min(d1_hi**2 / (4 * c_lo) if c_lo > 0 else np.inf, d1_hi)
    tstar = float(np.clip(1 - float(np.sum(R1 * Fd)) / max(nFd**2, 1e-300), 0.0, 1.0))
    low = v[1] - m[1] - rise
    return (np.array([0.0, tstar]), np.array([tstar, 1.0]), np.array([low, low]), np.array([v[0] + m[0], v[1] + m[1]]),
            np.array([0.0, rise]), np.array([True, False]), v, m)


# ----------------------------------------------------------------------------- interval pass


def _imul(am, ar, bm, br):
    """Midpoint-radius product (elementwise): ``(am ± ar)(bm ± br) ⊆ am bm ± (|am| br + ar |bm| + ar br)``."""
    return am * bm, jnp.abs(am) * br + ar * jnp.abs(bm) + ar * br


def _dsigma(name: str, lo, hi):
    """``[min σ', max σ']`` over ``[lo, hi]`` for the monotone activations."""
    if name == "linear":
        one = jnp.ones_like(lo)
        return one, one
    if name in ("tanh", "sigmoid", "shifted_sigmoid"):
        d = (lambda z: 1 - jnp.tanh(z) ** 2) if name == "tanh" else (lambda z: jax.nn.sigmoid(z) * (1 - jax.nn.sigmoid(z)))
        near = jnp.clip(0.0, lo, hi)  # σ' is even and decreasing in |z|
        return jnp.minimum(d(lo), d(hi)), d(near)
    if name == "relu":
        return (lo > 0).astype(lo.dtype), (hi > 0).astype(lo.dtype)
    if name == "leaky_relu":
        return jnp.where(lo > 0, 1.0, 0.01), jnp.where(hi > 0, 1.0, 0.01)
    if name == "elu":
        d = lambda z: jnp.where(z > 0, 1.0, jnp.exp(jnp.minimum(z, 0.0)))  # noqa: E731 - non-decreasing
        return d(lo), d(hi)
    if name == "softplus":
        return jax.nn.sigmoid(lo), jax.nn.sigmoid(hi)
    raise ValueError(f"activation: no interval rule for {name!r}")  # pragma: no cover


@dataclasses.dataclass(frozen=True)
class _Derivative:
    """``[inf L'(I), sup L'(I)]`` on ``I = [a, b]`` of segment ``k`` (static under jit: net, loss)."""

    net: MLP
    loss: str

    def __call__(self, x, starts, dirs, X, Y):
        name = activation_name(self.net.activation)
        sigma = get_activation(self.net.activation)
        dtype = X.dtype
        u = jnp.finfo(dtype).eps / 2
        k = x[0].astype(jnp.int32)
        a, b = x[1], x[2]
        c, r = 0.5 * (a + b), 0.5 * (b - a)
        P = jax.tree.map(lambda v: v[k], starts)
        D = jax.tree.map(lambda v: v[k], dirs)
        hm, hr = X, jnp.zeros_like(X)
        dm, dr = jnp.zeros_like(X), jnp.zeros_like(X)
        L = self.net.depth
        for l in range(L):
            Pw, Dw = P[l]["W"], D[l]["W"]
            g = 2 * (Pw.shape[1] + 5) * u
            Wm = Pw + c * Dw
            Wr = r * jnp.abs(Dw) + 2 * u * (jnp.abs(Pw) + jnp.abs(c * Dw))
            aW, aD = jnp.abs(Wm) + Wr, jnp.abs(Dw)
            zm = Wm @ hm
            zr = jnp.abs(Wm) @ hr + Wr @ (jnp.abs(hm) + hr)
            zr = zr + g * (aW @ (jnp.abs(hm) + hr))
            dzm = Dw @ hm + Wm @ dm
            dzr = aD @ hr + jnp.abs(Wm) @ dr + Wr @ (jnp.abs(dm) + dr)
            dzr = dzr + g * (aD @ (jnp.abs(hm) + hr) + aW @ (jnp.abs(dm) + dr))
            if "b" in P[l]:
                bm = P[l]["b"] + c * D[l]["b"]
                br = r * jnp.abs(D[l]["b"]) + 2 * u * (jnp.abs(P[l]["b"]) + jnp.abs(c * D[l]["b"]))
                zm, zr = zm + bm[:, None], zr + br[:, None] + 2 * u * jnp.abs(zm + bm[:, None])
                dzm, dzr = dzm + D[l]["b"][:, None], dzr + 2 * u * (jnp.abs(dzm) + jnp.abs(D[l]["b"])[:, None])
            if l == L - 1:
                hm, hr, dm, dr = zm, zr, dzm, dzr
                break
            zr = zr * (1 + 4 * u) + 2 * u * jnp.abs(zm)
            lo, hi = zm - zr, zm + zr
            s_lo, s_hi = sigma(lo), sigma(hi)  # monotone non-decreasing
            slack = 2 * SIGMA_ULPS * u * jnp.maximum(jnp.abs(s_lo), jnp.abs(s_hi)) + 1e-300
            hm, hr = 0.5 * (s_lo + s_hi), 0.5 * (s_hi - s_lo) * (1 + 4 * u) + slack
            p_lo, p_hi = _dsigma(name, lo, hi)
            pslack = 2 * SIGMA_ULPS * u * jnp.maximum(jnp.abs(p_lo), jnp.abs(p_hi)) + 1e-300
            pm, pr = 0.5 * (p_lo + p_hi), 0.5 * (p_hi - p_lo) * (1 + 4 * u) + pslack
            dm, dr = _imul(pm, pr, dzm, dzr)
            dr = dr * (1 + 4 * u) + 2 * u * jnp.abs(dm)
        Rm, Rr = hm - Y, hr * (1 + 4 * u) + 2 * u * jnp.abs(hm - Y)
        pm, pr = _imul(Rm, Rr, dm, dr)
        N = Y.size
        gN = 2 * (N + 4) * u
        s_m = jnp.sum(pm)
        s_r = jnp.sum(pr) + gN * jnp.sum(jnp.abs(pm) + pr)
        scale = 1.0 if self.loss == "half_sum" else 2.0 / N
        # the value itself, naively: ½ Σ R² over the box (a fallback when the slope form is worse)
        Ra = jnp.abs(Rm)
        sq_hi = (Ra + Rr) ** 2
        sq_lo = jnp.where(Ra > Rr, (Ra - Rr) ** 2, 0.0)
        vscale = 0.5 if self.loss == "half_sum" else 1.0 / N
        v_lo = vscale * jnp.sum(sq_lo) * (1 - gN)
        v_hi = vscale * jnp.sum(sq_hi) * (1 + gN)
        return jnp.stack([scale * (s_m - s_r), scale * (s_m + s_r), v_lo, v_hi])


def _slope_form(a, b, La, Lb, ma, mb, dlo, dhi, vlo, vhi):
    """Bounds of ``L`` on ``[a, b]`` and of its rise there, from the end values (± ``ma``, ``mb``)
    and ``L' ∈ [dlo, dhi]``; ``mono``: certified non-increasing (``dhi ≤ 0``)."""
    h = b - a
    mono = dhi <= 0
    inc = dlo >= 0
    mixed = ~mono & ~inc
    span = np.where(mixed, dhi - dlo, 1.0)
    Ua, Ub, Da, Db = La + ma, Lb + mb, La - ma, Lb - mb
    x_up = np.clip((Ub - Ua - dlo * h) / span, 0, h)
    x_dn = np.clip((Da - Db + dhi * h) / span, 0, h)
    up = np.where(mono, Ua, np.where(inc, Ub, Ua + dhi * x_up))
    dn = np.where(mono, Db, np.where(inc, Da, Da + dlo * x_dn))
    hi = np.minimum(up, vhi)
    lo = np.maximum(dn, vlo)
    rise = np.where(mono, 0.0, np.minimum(hi - lo, np.maximum(dhi, 0) * h))
    return lo, hi, rise, mono


# ----------------------------------------------------------------------------- the enclosure


@dataclasses.dataclass(frozen=True)
class Enclosure:
    """Bounds of the loss along a whole polyline (``enclose``).

    Attributes:
      t_lo, t_hi: ``(p,)`` pieces in curve position, in order, covering ``[t_0, t_K]``.
      lo, hi: ``(p,)`` the loss on each piece lies in ``[lo, hi]`` (rigorous where the
        piece's segment is not ``sampled``).
      rise: ``(p,)`` bound of the largest increase inside each piece.
      monotone: ``(p,)`` whether the piece is certified non-increasing.
      nodes_t, nodes_L: positions where the loss was evaluated, and the values (sorted).
      methods: per segment, ``"constant (zero pattern)"``, ``"convex quadratic"``,
        ``"polynomial (degree d)"``, ``"interval"``, ``"sampled"`` or ``"empty"``.
      margin: the largest rounding margin of a value.
      evidence: ``certified`` when every segment's bound is rigorous (sampled otherwise).
      rise_bound: ``max_{s<t} L(t) − L(s)`` is at most this (over the whole curve).
      max_bound: ``max_t L(t)`` is at most this.
      rise_seen, max_seen: the same at the nodes only (what certainly happens, up to ``margin``).
      decided: whether the question asked (``goal``, ``target``) was settled, by the bound or
        by a witness, with every segment rigorous.
      witness: whether evaluated values alone (± their margins) settle the question
        negatively (a rise above ``target``, or a value above it).
      end_value, end_margin: the loss at the last vertex and its rounding margin.
      n_intervals: interval pieces evaluated in total; rounds: refinement rounds.
    """

    t_lo: np.ndarray
    t_hi: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    rise: np.ndarray
    monotone: np.ndarray
    nodes_t: np.ndarray
    nodes_L: np.ndarray
    methods: tuple
    margin: float
    evidence: Evidence
    rise_bound: float
    max_bound: float
    rise_seen: float
    max_seen: float
    decided: bool
    witness: bool = False
    end_value: float = float("nan")
    end_margin: float = float("nan")
    n_intervals: int = 0
    rounds: int = 0

    def describe(self) -> str:
        """The methods and the margin, for a judgement's ``how``."""
        kinds = {}
        for m in self.methods:
            if m != "empty":
                kinds[m] = kinds.get(m, 0) + 1
        parts = ", ".join(f"{n}x {m}" for m, n in kinds.items())
        extra = f"; {self.n_intervals} interval pieces in {self.rounds} rounds" if self.n_intervals else ""
        return f"segments: {parts}{extra}; rounding margin {self.margin:.2g} (IEEE model, σ to {SIGMA_ULPS} ulps)"


def _blocks(lo, hi, rise, mono):
    """Rise bound over ordered pieces, runs of certified non-increasing pieces merged (continuity).

    Returns ``(bound, cross, first)``: ``cross[i]`` the cross term of piece ``i``'s block,
    ``first[i]`` whether ``i`` starts its block.
    """
    first = np.ones(lo.size, bool)
    first[1:] = ~(mono[1:] & mono[:-1])
    idx = np.flatnonzero(first)
    bid = np.cumsum(first) - 1
    hiB = hi[idx]
    loB = np.minimum.reduceat(lo, idx)
    riseB = np.maximum.reduceat(rise, idx)
    prev = np.concatenate([[np.inf], np.minimum.accumulate(loB)[:-1]])
    crossB = hiB - prev
    bound = float(max(np.max(riseB), np.max(crossB)))
    return bound, crossB[bid], first


def _seen_rise(L) -> float:
    return float(np.max(L - np.minimum.accumulate(L))) if L.size else 0.0


def interval_supported(net: MLP) -> bool:
    """Whether σ has an interval rule (``INTERVAL_ACTIVATIONS``)."""
    return isinstance(net.activation, str) and net.activation in INTERVAL_ACTIVATIONS


def _stacked_masks(masks):
    """Masks with a leading axis of 1 (broadcast over the segments)."""
    return tuple({k: np.asarray(v)[None] for k, v in dict(layer).items()} for layer in masks)


def enclose(net: MLP, curve, X, Y, masks=None, loss: str = "half_sum", *, values: Callable, goal: str = "rise",
            target: float = 0.0, init=None, n_init: int = 16, max_intervals: int = 1 << 14, max_rounds: int = 40,
            batch_size: Optional[int] = None) -> Enclosure:
    """Bounds the loss along ``curve`` (a ``paths.Polyline`` of params pytrees) rigorously.

    Args:
      net, X, Y, masks, loss: the problem.
      curve: anything with ``segments()`` (a ``paths.Polyline`` of params pytrees).
      values: ``values(t) -> (m,)`` losses at curve positions ``t``, the caller's own float
        evaluation (e.g. ``paths.sample``, so its compiled program is shared); its rounding
        is what the margins bound.
      goal: ``"rise"`` (is ``max_{s<t} L(t) − L(s) ≤ target``?) or ``"max"`` (is
        ``max_t L(t) ≤ target``?); interval pieces are bisected until that is decided.
      init: positions to start the interval partition from (e.g. the sampled profile's);
        otherwise ``n_init`` uniform intervals per segment.
      max_intervals, max_rounds: the budget of the interval refinement.
      batch_size: of the interval pass (``evaluate.evaluate_points``).

    Returns:
      An ``Enclosure``.
    """
    if goal not in ("rise", "max"):
        raise ValueError(f"goal: expected 'rise' or 'max', got {goal!r}")
    starts, dirs, t_lo, t_hi = curve.segments()
    knots_lo, knots_hi = np.asarray(t_lo, np.float64), np.asarray(t_hi, np.float64)
    dtype = np.dtype(jax.tree.leaves(starts)[0].dtype)
    K = knots_lo.size
    m_ = None if masks is None else _stacked_masks(masks)
    starts_np = _masked(net, jax.tree.map(np.asarray, tuple(starts)), m_)
    dirs_np = _masked(net, jax.tree.map(np.asarray, tuple(dirs)), m_)
    init_t = None if init is None else np.unique(np.asarray(init, np.float64))
    N = int(np.size(Y))

    fixed = {}      # segment -> dict of piece arrays (constant / quadratic / polynomial / sampled-free)
    state = {}      # segment -> interval refinement state
    methods, eFs = [], np.full(K, np.inf)
    node_t, node_L, node_m = [], [], []
    for j in range(K):
        a, b = knots_lo[j], knots_hi[j]
        if not b > a:
            methods.append("empty")
            continue
        P = jax.tree.map(lambda v: v[j], starts_np)
        D = jax.tree.map(lambda v: v[j], dirs_np)
        eF_entry = output_error(net, P, D, X, dtype)
        eF = float(np.sqrt(np.sum(eF_entry**2))) if eF_entry is not None else np.inf
        eFs[j] = eF
        deg = output_degree(net, P, D)
        if deg == 0:
            v = np.asarray(values(np.array([a])), np.float64)
            mv = value_margin(v, eF, N, loss, dtype) if np.isfinite(eF) else np.array([np.inf])
            node_t.append(np.array([a])), node_L.append(v), node_m.append(mv)
            fixed[j] = dict(t0=np.array([a]), t1=np.array([b]), lo=v - mv, hi=v + mv, rise=np.zeros(1),
                            mono=np.array([True]))
            methods.append("constant (zero pattern)")
        elif deg == 1 and eF_entry is not None:
            t0, t1, lo, hi, rise, mono, v, mv = _quadratic_pieces(net, P, D, X, Y, loss, eF_entry, dtype)
            node_t.append(np.array([a, b])), node_L.append(v), node_m.append(mv)
            fixed[j] = dict(t0=a + t0 * (b - a), t1=a + t1 * (b - a), lo=lo, hi=hi, rise=rise, mono=mono)
            methods.append("convex quadratic")
        elif np.isfinite(eF) and deg <= MAX_DEGREE and not interval_supported(net):
            n = int(2 * deg + 1)
            tau = chebyshev_nodes(n)
            v = np.asarray(values(a + tau * (b - a)), np.float64)
            mv = value_margin(v, eF, N, loss, dtype)
            node_t.append(a + tau * (b - a)), node_L.append(v), node_m.append(mv)
            tl, th, lo, hi, rise = _polynomial_pieces(v, tau, float(np.max(mv)))
            fixed[j] = dict(t0=a + tl * (b - a), t1=a + th * (b - a), lo=lo, hi=hi, rise=rise,
                            mono=np.zeros(tl.size, bool))
            methods.append(f"polynomial (degree {int(2 * deg)})")
        else:
            if init_t is not None:
                tau = (init_t[(init_t >= a) & (init_t <= b)] - a) / (b - a)
                tau = np.unique(np.concatenate([[0.0, 1.0], tau]))
            else:
                tau = np.linspace(0.0, 1.0, n_init + 1)
            rigorous = bool(np.isfinite(eF) and interval_supported(net))
            methods.append("interval" if rigorous else "sampled")
            state[j] = {"tau": tau, "L": None, "enc": None, "rigorous": rigorous}

    n_intervals, rounds, decided = 0, 0, True
    if state:
        starts_dev = jax.tree.map(jnp.asarray, starts_np)
        dirs_dev = jax.tree.map(jnp.asarray, dirs_np)
        Xd, Yd = jnp.asarray(X, dtype), jnp.asarray(Y, dtype)
        fn = _Derivative(net, loss)
        n_par = 12 * sum(int(np.prod(np.shape(v)[1:])) for v in jax.tree.leaves(starts_np))
    while True:
        rounds += 1 if state else 0
        todo = []
        for j, st in state.items():
            a, b = knots_lo[j], knots_hi[j]
            if st["L"] is None:
                st["L"] = np.asarray(values(a + st["tau"] * (b - a)), np.float64)
            if st["rigorous"]:
                if st["enc"] is None:
                    st["enc"] = np.full((st["tau"].size - 1, 4), np.nan)
                todo += [(j, int(i)) for i in np.flatnonzero(np.isnan(st["enc"][:, 0]))]
        if todo:
            xs = np.array([[j, state[j]["tau"][i], state[j]["tau"][i + 1]] for j, i in todo], dtype)
            out = np.asarray(evaluate.evaluate_points(fn, xs, starts_dev, dirs_dev, Xd, Yd, n_params=n_par,
                                                      batch_size=batch_size), np.float64)
            n_intervals += len(todo)
            for (j, i), row in zip(todo, out):
                state[j]["enc"][i] = row
        segs = dict(fixed)
        for j, st in state.items():
            a, b = knots_lo[j], knots_hi[j]
            tau, Lv = st["tau"], st["L"]
            t0, t1 = a + tau[:-1] * (b - a), a + tau[1:] * (b - a)
            if st["rigorous"]:
                e = st["enc"]
                mv = value_margin(Lv, eFs[j], N, loss, dtype)
                h = b - a  # dL/dt = (dL/dτ) / h
                lo, hi, rise, mono = _slope_form(t0, t1, Lv[:-1], Lv[1:], mv[:-1], mv[1:], e[:, 0] / h, e[:, 1] / h,
                                                 e[:, 2], e[:, 3])
            else:
                lo, hi = np.minimum(Lv[:-1], Lv[1:]), np.maximum(Lv[:-1], Lv[1:])
                rise, mono = np.maximum(Lv[1:] - Lv[:-1], 0.0), np.zeros(t0.size, bool)
            segs[j] = dict(t0=t0, t1=t1, lo=lo, hi=hi, rise=rise, mono=mono,
                           ref=np.arange(t0.size) if st["rigorous"] else np.full(t0.size, -1))
        order = sorted(segs)
        cat = {k: np.concatenate([segs[j][k] for j in order]) for k in ("t0", "t1", "lo", "hi", "rise", "mono")}
        ref = np.concatenate([segs[j].get("ref", np.full(segs[j]["t0"].size, -1)) for j in order])
        seg_of = np.concatenate([np.full(segs[j]["t0"].size, j) for j in order])
        nt = np.concatenate(node_t + [knots_lo[j] + st["tau"] * (knots_hi[j] - knots_lo[j]) for j, st in state.items()])
        nL = np.concatenate(node_L + [st["L"] for st in state.values()])
        nm = np.concatenate(node_m + [value_margin(st["L"], eFs[j], N, loss, dtype) for j, st in state.items()])
        srt = np.argsort(nt, kind="stable")
        nt, nL, nm = nt[srt], nL[srt], nm[srt]
        bound_r, cross, first = _blocks(cat["lo"], cat["hi"], cat["rise"], cat["mono"])
        # a witness: two evaluated positions whose values differ by more than both margins allow
        if goal == "rise":
            lows = np.minimum.accumulate(nL - nm)
            witness = bool(np.any(nL - nm - np.concatenate([[np.inf], lows[:-1]]) > target))
            ok = bound_r <= target
            bad = (cat["rise"] > target) | ((cross > target) & first)
        else:
            witness = bool(np.any(nL - nm > target))
            ok = float(np.max(cat["hi"])) <= target
            bad = cat["hi"] > target
        if ok or witness:
            break
        bad &= ref >= 0
        if not bad.any() or n_intervals >= max_intervals or rounds >= max_rounds:
            decided = False
            break
        for j, st in state.items():  # bisect the undecided interval pieces
            i = ref[bad & (seg_of == j)]
            if i.size == 0:
                continue
            tau = st["tau"]
            mid = 0.5 * (tau[i] + tau[i + 1])
            a, b = knots_lo[j], knots_hi[j]
            Lmid = np.asarray(values(a + mid * (b - a)), np.float64)
            new_tau = np.concatenate([tau, mid])
            o = np.argsort(new_tau, kind="stable")
            enc = st["enc"].copy()
            enc[i] = np.nan
            st["tau"], st["L"], st["enc"] = new_tau[o], np.concatenate([st["L"], Lmid])[o], np.insert(enc, i + 1, np.nan, 0)
    rigorous_all = bool(np.all(np.isfinite(eFs[knots_hi > knots_lo]))) and all(st["rigorous"] for st in state.values())
    finite_m = nm[np.isfinite(nm)]
    last = int(np.flatnonzero(knots_hi > knots_lo)[-1])
    end_v = float(np.asarray(values(np.array([knots_hi[last]])), np.float64)[0])
    end_m = float(value_margin(end_v, eFs[last], N, loss, dtype)) if np.isfinite(eFs[last]) else float("inf")
    return Enclosure(t_lo=cat["t0"], t_hi=cat["t1"], lo=cat["lo"], hi=cat["hi"], rise=cat["rise"],
                     monotone=cat["mono"], nodes_t=nt, nodes_L=nL, methods=tuple(methods),
                     margin=float(np.max(finite_m)) if finite_m.size else float("inf"),
                     evidence=Evidence.CERTIFIED if rigorous_all else Evidence.SAMPLED, rise_bound=bound_r,
                     max_bound=float(np.max(cat["hi"])), rise_seen=_seen_rise(nL), max_seen=float(np.max(nL)),
                     decided=bool(decided and rigorous_all), witness=bool(witness), end_value=end_v, end_margin=end_m,
                     n_intervals=n_intervals, rounds=rounds)
