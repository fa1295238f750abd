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
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize

from landscape.activations import Activation, get_activation
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


def invert(activation: Activation, value: float, *, zmax: float = 1e4) -> float:
    """A ``z`` with ``σ(z) = value`` (float64 bisection), nearest to 0 on a grid.

    Raises:
      ValueError: ``value`` is not in ``σ([-zmax, zmax])``.
    """
    if value == 0.0:
        return 0.0
    sigma = get_activation(activation)
    # Float64 when jax_enable_x64 is on; float32 precision otherwise.
    f = lambda z: float(np.asarray(sigma(jnp.asarray(z, jnp.result_type(float))))) - value  # noqa: E731
    grid = np.concatenate([[0.0], np.geomspace(1e-6, zmax, 2000)])
    zs = jnp.asarray(grid, jnp.result_type(float))
    for sign in (1.0, -1.0):
        vals = np.asarray(sigma(sign * zs), np.float64) - value
        if np.any(vals == 0):
            return float(sign * grid[np.argmax(vals == 0)])
        ch = np.nonzero(np.sign(vals[1:]) != np.sign(vals[:-1]))[0]
        if ch.size:
            i = ch[0]
            return float(optimize.brentq(lambda z: f(sign * z), grid[i], grid[i + 1], xtol=1e-15, rtol=1e-15) * sign)
    raise ValueError(f"value: {value} is not in the range of the activation on [-{zmax}, {zmax}]")


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
        M = np.array([[y1, y1], [y2, y2 + y3 - c]])
        smin = np.linalg.svd(M, compute_uv=False)[-1]
        g = 2 * y4 * abs(c) - c * c if abs(c) <= y4 else y4**2
        return smin**2 + g

    span = 4 * (abs(y2 + y3) + y4 + 1)
    cs = np.linspace(-span, span, 200_001)
    vals = np.array([two_L(c) for c in cs])
    i = int(np.argmin(vals))
    lo, hi = cs[max(i - 1, 0)], cs[min(i + 1, len(cs) - 1)]
    res = optimize.minimize_scalar(two_L, bounds=(lo, hi), method="bounded", options={"xatol": 1e-14})
    best_c, best = (res.x, res.fun) if res.fun < vals[i] else (cs[i], vals[i])
    return 0.5 * float(best), float(best_c)
