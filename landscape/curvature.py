"""Curvature on the free (unmasked) coordinates: Hessian, Lanczos, Hutchinson, SLQ.

A masked network's loss is a function of its ``k`` free weights only. Everything
here works on that vector ``z`` of shape ``(k,)``:

    f, space = masked_objective(net, X, Y, masks)   # f: (k,) -> scalar
    z = space.flatten(params)                        # params -> (k,)
    H = hessian(f, z)                                # (k, k), small nets
    lanczos_extremes(f, z, num_steps=100)            # (λ_min, λ_max), any size
    classify_critical_point(f, z)                    # not critical / saddle / ...

Masked entries never enter: the Hessian is ``k × k``, not ``N × N`` with zero
rows (whose zero eigenvalues would read as spurious flat directions).

Any ``f: (k,) -> scalar`` works (e.g. a 2D test surface), not only networks.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy import linalg as sla

from landscape import io, nets, validate
from landscape.nets import MLP
from landscape.verdicts import Evidence, Judgement, summary_line

# ----------------------------------------------------------------------------- free coordinates


@dataclasses.dataclass(frozen=True, eq=False)
class FreeSpace:
    """The unmasked coordinates of a params pytree, as one flat vector.

    Attributes:
      index: ``(k,)`` positions of the free entries in ``ravel_pytree`` order.
      n_total: number of entries of the full params pytree (masked included).
      unravel: flat ``(n_total,)`` vector -> params pytree (in ``dtype``).
      masks: the masks pytree.
      dtype: float dtype of the coordinates.
    """

    index: np.ndarray
    n_total: int
    unravel: Callable
    masks: tuple
    dtype: np.dtype

    @property
    def size(self) -> int:
        """``k``, the number of free coordinates."""
        return int(self.index.shape[0])

    def flatten(self, params, *, check: bool = True) -> jax.Array:
        """Params pytree -> ``(k,)`` free coordinates.

        Raises:
          ValueError: (with ``check``) ``params`` has the wrong structure or
            non-zero entries where the masks are 0 (a point of another masked
            subspace).
        """
        flat, _ = ravel_pytree(jax.tree.map(lambda p: jnp.asarray(p, self.dtype), tuple(params)))
        if flat.shape[0] != self.n_total:
            raise ValueError(f"params: expected {self.n_total} entries in the masks' structure, got {flat.shape[0]}")
        if check:
            free = np.zeros(self.n_total, bool)
            free[self.index] = True
            off = np.asarray(flat)[~free]
            if np.any(off != 0):
                raise ValueError(f"params: {int(np.count_nonzero(off))} entries are non-zero where the masks are 0; "
                                 "the point does not lie in this masked subspace (different masks?)")
        return flat[self.index]

    def unflatten(self, z: jax.Array):
        """``(k,)`` free coordinates -> params pytree (masked entries exactly 0)."""
        full = jnp.zeros((self.n_total,), z.dtype).at[self.index].set(z)
        return self.unravel(full)


def free_space(net: MLP, masks=None, dtype=jnp.float32) -> FreeSpace:
    """The ``FreeSpace`` of ``net`` under ``masks`` (``None``: dense)."""
    validate.net(net)
    dtype = validate.float_dtype(dtype)
    masks = nets.dense_masks(net, dtype) if masks is None else nets.check_masks(net, masks)
    template = jax.tree.map(lambda m: np.zeros(np.shape(m), dtype), tuple(masks))
    _, unravel = ravel_pytree(template)
    mflat = np.concatenate([np.asarray(m).ravel() for m in jax.tree.leaves(tuple(masks))])
    return FreeSpace(index=np.nonzero(mflat)[0], n_total=int(mflat.size), unravel=unravel, masks=tuple(masks), dtype=dtype)


@dataclasses.dataclass(frozen=True, eq=False)
class Objective:
    """The loss of a masked network as a function of its free coordinates: ``f(z)``, ``z`` ``(k,)``.

    A frozen callable with an identity: it records the problem it computes (net, data,
    masks, loss convention, free space), so a certificate can be re-checked against it
    (``connectivity.connect(..., certificate=)``) and a path of free coordinates can be bounded
    rigorously (``landscape.bounds``). Hashed by identity (it keys compilation caches like a
    function does).

    Attributes:
      net: the network.  X: ``(d_x, n)`` data.  Y: ``(d_y, n)`` targets (in ``space.dtype``).
      masks: the masks pytree (dense ones when None was given).  loss: the convention.
      space: the ``FreeSpace`` (``flatten`` / ``unflatten``).
    """

    net: MLP
    X: jax.Array
    Y: jax.Array
    masks: tuple
    loss: str
    space: FreeSpace

    def __call__(self, z):
        # unflatten already puts exact zeros at masked entries: no apply_masks needed.
        return nets.loss(self.net, self.space.unflatten(z), self.X, self.Y, None, self.loss)

    def __iter__(self):  # ``f, space = masked_objective(...)`` unpacks as in 0.1
        return iter((self, self.space))

    @functools.cached_property
    def description(self) -> dict:
        """What this objective computes (net, loss, dtype, digests of data and masks,
        ``io.describe_problem``): results computed from it carry it, so saved files name their problem."""
        return {"objective": "masked_objective", **io.describe_problem(
            self.net, self.X, self.Y, self.space.masks, loss=self.loss, dtype=self.space.dtype),
            "n_free": int(self.space.index.size)}


def masked_objective(net: MLP, X, Y, masks=None, *, loss: str = "half_sum", dtype=jnp.float32) -> Objective:
    """The loss as a function of the free coordinates.

    Args:
      net: the network.
      X: ``(d_x, n)`` data; Y: ``(d_y, n)`` targets.
      masks: 0/1 masks (``None``: dense).
      loss: ``"half_sum"`` (½‖f(X) − Y‖_F², Eq. 1) or ``"mean"``.
      dtype: float dtype of data and coordinates (float64 needs x64 enabled).

    Returns:
      An ``Objective`` ``f``: ``f(z)`` maps ``(k,)`` free coordinates to the scalar loss and
      ``f.space`` converts between params pytrees and ``z``. It unpacks as ``(f, space)``.
      ``f.description`` names the problem (net, loss, dtype, digests of the data and masks;
      ``io.describe_problem``).
    """
    validate.choice(loss, "loss", nets.LOSSES)
    space = free_space(net, masks, dtype)
    X, Y = nets.check_data(net, X, Y)
    X, Y = jnp.asarray(X, space.dtype), jnp.asarray(Y, space.dtype)
    return Objective(net, X, Y, space.masks, loss, space)


# ----------------------------------------------------------------------------- derivatives


def hessian(f: Callable, z: jax.Array) -> jax.Array:
    """The dense ``(k, k)`` Hessian of ``f`` at ``z`` (symmetrised). For small ``k``."""
    z = validate.point(f, z)
    H = jax.hessian(f)(z)
    return 0.5 * (H + H.T)


def hvp(f: Callable, z: jax.Array, v: jax.Array) -> jax.Array:
    """Hessian-vector product ``∇²f(z) v`` (forward-over-reverse), ``(k,)``."""
    return jax.jvp(jax.grad(f), (z,), (v,))[1]


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _lanczos(f, z, v0, num_steps: int, reorthogonalize: bool):
    k = z.shape[0]
    matvec = jax.linearize(jax.grad(f), z)[1]  # linearise once, reuse for every step
    v0 = v0 / jnp.linalg.norm(v0)
    V = jnp.zeros((num_steps, k), z.dtype)

    def body(j, carry):
        V, v, v_prev, b_prev, alphas, betas = carry
        V = V.at[j].set(v)
        w = matvec(v)
        a = jnp.vdot(w, v)
        w = w - a * v - b_prev * v_prev
        if reorthogonalize:  # full, twice ("twice is enough"): keeps Ritz values free of ghosts
            w = w - V.T @ (V @ w)
            w = w - V.T @ (V @ w)
        b = jnp.linalg.norm(w)
        ok = b > 0
        v_next = jnp.where(ok, w / jnp.where(ok, b, 1.0), 0.0)
        return V, v_next, v, b, alphas.at[j].set(a), betas.at[j].set(b)

    init = (V, v0, jnp.zeros_like(v0), jnp.zeros((), z.dtype), jnp.zeros(num_steps, z.dtype), jnp.zeros(num_steps, z.dtype))
    _, _, _, _, alphas, betas = jax.lax.fori_loop(0, num_steps, body, init)
    return alphas, betas


@dataclasses.dataclass(frozen=True)
class LanczosResult:
    """Ritz values of ``∇²f(z)`` from one Lanczos run.

    Attributes:
      ritz_values: ``(m,)`` ascending eigenvalues of the tridiagonal matrix ``T``
        (``m ≤ num_steps``: the run stops at an invariant subspace).
      weights: ``(m,)`` squared first components of ``T``'s eigenvectors
        (the quadrature weights of SLQ; they sum to 1).
      alphas, betas: the diagonal ``(m,)`` and off-diagonal ``(m-1,)`` of ``T``.
      residuals: ``(m,)`` ``‖H y_i − θ_i y_i‖`` of each Ritz pair (``β_m |s_{m,i}|``, plus a
        rounding term ``√k · eps · max|T|`` per Lanczos step): some eigenvalue of ``H`` lies in
        ``[θ_i − r_i, θ_i + r_i]``. ``ritz_values[0]`` is an upper bound of ``λ_min`` (Rayleigh
        quotient); only a bracket certifies an eigenvalue.
    """

    ritz_values: np.ndarray
    weights: np.ndarray
    alphas: np.ndarray
    betas: np.ndarray
    residuals: Optional[np.ndarray] = None

    @property
    def min(self) -> float:
        return float(self.ritz_values[0])

    @property
    def max(self) -> float:
        return float(self.ritz_values[-1])


def lanczos(f: Callable, z, *, num_steps: int = 100, key: Optional[jax.Array] = None, v0=None,
            reorthogonalize: bool = True) -> LanczosResult:
    """Lanczos on the Hessian of ``f`` at ``z``, from Hessian-vector products only.

    Memory is ``num_steps × k`` (the Krylov basis, kept for full
    re-orthogonalisation); without ``reorthogonalize`` the extreme Ritz values
    are still right but copies ("ghosts") of them appear.

    Args:
      f: ``(k,) -> scalar``.
      z: ``(k,)`` point.
      num_steps: Krylov dimension (clipped to ``k``), >= 1.
      key: PRNG key for the random start vector (default ``key(0)``).
      v0: explicit ``(k,)`` start vector instead of ``key``.
      reorthogonalize: full re-orthogonalisation against the basis.

    Returns:
      A ``LanczosResult``; every Ritz value lies in ``[λ_min, λ_max]`` of the
      Hessian, and the extreme ones converge first.
    """
    z = validate.point(f, z)
    k = int(z.shape[0])
    m = min(validate.integer(num_steps, "num_steps", low=1), k)
    if v0 is None:
        v0 = jax.random.normal(jax.random.key(0) if key is None else validate.key(key), (k,), z.dtype)
    v0 = jnp.asarray(v0, z.dtype)
    if v0.shape != (k,) or not bool(jnp.linalg.norm(v0) > 0):
        raise ValueError(f"v0: expected a non-zero vector of shape ({k},)")
    alphas, betas = (np.asarray(a, np.float64) for a in _lanczos(f, z, v0, m, bool(reorthogonalize)))
    # Stop at the first (numerically) zero beta: an invariant subspace was found.
    scale = max(np.max(np.abs(alphas)), np.max(np.abs(betas)), 1e-300)
    eps = np.finfo(np.dtype(z.dtype)).eps
    small = np.nonzero(betas[:-1] <= 10 * eps * scale * np.sqrt(k))[0]
    n = int(small[0]) + 1 if small.size else m
    a, b = alphas[:n], betas[: n - 1]
    theta, S = sla.eigh_tridiagonal(a, b) if n > 1 else (a.copy(), np.ones((1, 1)))
    # Ritz residuals ‖H y − θ y‖ = β_n |s_{n,i}| (Paige), plus what rounding in the recurrence and
    # the re-orthogonalised basis can add (a generous √k · eps · ‖T‖ per step)
    resid = abs(float(betas[n - 1])) * np.abs(S[-1]) + n * np.sqrt(k) * eps * scale
    return LanczosResult(ritz_values=theta, weights=S[0] ** 2, alphas=a, betas=b, residuals=resid)


def lanczos_extremes(f: Callable, z, *, num_steps: int = 100, key=None) -> tuple:
    """Estimates ``(λ_min, λ_max)`` of ``∇²f(z)`` by ``num_steps`` Lanczos steps (extreme Ritz values:
    an upper bound of ``λ_min`` and a lower bound of ``λ_max``; ``lanczos(...).residuals`` bracket them)."""
    r = lanczos(f, z, num_steps=num_steps, key=key)
    return r.min, r.max


@functools.partial(jax.jit, static_argnums=(0, 3))
def _hutchinson(f, z, key, num_samples):
    matvec = jax.linearize(jax.grad(f), z)[1]
    vs = jax.random.rademacher(key, (num_samples,) + z.shape, z.dtype)
    return jax.lax.map(lambda v: jnp.vdot(v, matvec(v)), vs)


def hutchinson_trace(f: Callable, z, *, num_samples: int = 100, key=None) -> tuple:
    """Hutchinson's estimate of ``tr ∇²f(z)`` with Rademacher probes.

    Returns:
      ``(estimate, standard_error)``: the mean of ``vᵀHv`` over the probes and
      its standard error (``std / √num_samples``; unbiased for any ``H``).
    """
    num_samples = validate.integer(num_samples, "num_samples", low=2)
    z = validate.point(f, z)
    s = np.asarray(_hutchinson(f, z, jax.random.key(0) if key is None else validate.key(key), num_samples), np.float64)
    return float(s.mean()), float(s.std(ddof=1) / np.sqrt(s.size))


@dataclasses.dataclass(frozen=True)
class SpectralDensity:
    """Stochastic Lanczos quadrature estimate of the Hessian's eigenvalue density.

    Attributes:
      nodes: ``(probes, m)`` Ritz values of each probe (NaN-padded).
      weights: ``(probes, m)`` their quadrature weights (0-padded; each row sums to 1).
      grid: ``(g,)`` eigenvalue grid.
      density: ``(g,)`` Gaussian-smoothed density on ``grid`` (integrates to ≈ 1).
      sigma: the Gaussian width used.
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in dataclasses.asdict(self).items()}


def spectral_density(f: Callable, z, *, num_probes: int = 8, num_steps: int = 80, key=None, grid_size: int = 512,
                     sigma: Optional[float] = None) -> SpectralDensity:
    """Eigenvalue density of ``∇²f(z)`` by stochastic Lanczos quadrature (Ubaru et al. 2017).

    Each probe ``v`` (Rademacher) gives nodes ``θ_j`` and weights ``τ_j²`` with
    ``vᵀ g(H) v / k ≈ Σ_j τ_j² g(θ_j)``; the density is the average over probes
    of ``Σ_j τ_j² N(λ; θ_j, σ²)``.

    Args:
      sigma: Gaussian width; default 1% of the spectral range found.
    """
    num_probes = validate.integer(num_probes, "num_probes", low=1)
    num_steps = validate.integer(num_steps, "num_steps", low=1)
    grid_size = validate.integer(grid_size, "grid_size", low=2)
    sigma = validate.optional_real(sigma, "sigma", low=0.0, low_open=True)
    z = validate.point(f, z)
    keys = jax.random.split(jax.random.key(0) if key is None else validate.key(key), num_probes)
    runs = [lanczos(f, z, num_steps=num_steps, v0=jax.random.rademacher(kk, z.shape, z.dtype)) for kk in keys]
    m = max(r.ritz_values.size for r in runs)
    nodes = np.full((len(runs), m), np.nan)
    weights = np.zeros((len(runs), m))
    for i, r in enumerate(runs):
        nodes[i, : r.ritz_values.size] = r.ritz_values
        weights[i, : r.weights.size] = r.weights
    lo, hi = np.nanmin(nodes), np.nanmax(nodes)
    span = max(hi - lo, 1e-12 * max(1.0, abs(hi)))
    sigma = 0.01 * span if sigma is None else float(sigma)
    if not sigma > 0:
        raise ValueError(f"sigma: expected > 0, got {sigma}")
    grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, int(grid_size))
    x = np.nan_to_num(nodes, nan=0.0)
    g = np.exp(-0.5 * ((grid[None, None, :] - x[..., None]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    density = np.einsum("pm,pmg->g", weights, g) / len(runs)
    return SpectralDensity(nodes=nodes, weights=weights, grid=grid, density=density, sigma=sigma)


# ----------------------------------------------------------------------------- classification

LABELS = ("not_critical", "saddle", "local_maximum", "not_minimum", "degenerate", "flat_minimum", "strict_minimum",
          "undecided")
"""Critical-point labels (see ``CriticalPoint`` and docs/verdicts.md)."""


@dataclasses.dataclass(frozen=True)
class CriticalPoint:
    """What kind of point ``z`` is, the numbers behind the label, and what the label claims.

    Every label is a judgement about the one point ``z`` (evidence ``sampled`` at best: the
    eigenvalue bounds are rigorous for the Hessian computed at ``z``, but nothing is certified
    about a true critical point near ``z``, which exists only if ``‖∇f(z)‖`` is small enough
    against the curvature nearby -- not checked). Labels, with ``band = max(eig_tol, eig_error)``:

    * ``"not_critical"``: ``‖∇f(z)‖₂ > gtol``.
    * ``"strict_minimum"``: every eigenvalue ``> band`` (dense ``eigh``; ``eig_error`` bounds
      the eigenvalue error of the computed Hessian): second-order sufficient conditions at ``z``.
    * ``"local_maximum"``: every eigenvalue ``< −band``, or negative ones with every null
      direction tested showing an even, negative leading Taylor term (a higher-order maximum
      along those lines only).
    * ``"saddle"``: a descent and an ascent witness -- eigenvalues beyond ``±band``, a
      Lanczos bracket ``[θ − r, θ + r]`` below ``−band`` (and one above ``band``), or a null
      direction whose leading Taylor term is odd (it descends on one side) or has the other sign.
    * ``"flat_minimum"``: no eigenvalue below ``−band``, and along every null direction tested
      (the eigenvectors, plus random combinations when there are several) the leading Taylor
      term is even and positive: a minimum along those lines. Not a proof of a local minimum
      (Peano's ``(x − y²)(x − 3y²)`` passes every line test).
    * ``"degenerate"``: null directions the higher-order test could not decide (flat to the
      order tested), with no descent witness.
    * ``"not_minimum"``: a negative eigenvalue is certified (Lanczos bracket) but no positive one.
    * ``"undecided"``: Lanczos found no bracket below ``−band``: ``λ_min ≤ θ_min`` is only an
      upper bound, so positivity is not certified (a negative eigenvalue may have been missed).

    Attributes:
      label: one of ``LABELS``.
      grad_norm: ``‖∇f(z)‖₂``.  n_params: ``k``.
      n_negative, n_flat, n_positive: eigenvalue counts beyond / within ``±band`` (``None``
        from Lanczos).
      min_eig, max_eig: extreme (Ritz) eigenvalues.
      eig_tol: the zero band actually used, ``max(eig_atol, eig_rtol·max|λ|, eig_error)``.
      gtol: gradient tolerance.  method: ``"dense"`` or ``"lanczos"``.
      eig_error: bound of the eigenvalue error (dense: ``4 k eps ‖H‖_F``; Lanczos: the
        residual of the extreme Ritz pair).
      higher_order: per null direction tested, ``(order, sign)`` of the leading Taylor term
        (``(0, 0)``: flat to the order tested).
      evidence: ``Evidence`` of the label.  how: what was checked.
    """

    label: str
    grad_norm: float
    n_params: int
    n_negative: Optional[int]
    n_flat: Optional[int]
    n_positive: Optional[int]
    min_eig: float
    max_eig: float
    eig_tol: float
    gtol: float
    method: str
    eig_error: float = float("nan")
    higher_order: tuple = ()
    evidence: str = "none"
    how: str = ""

    @property
    def verdict(self) -> str:
        return self.label

    @property
    def judgement(self) -> Judgement:
        return Judgement(self.label.replace("_", " "), Evidence(self.evidence), self.how)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["higher_order"] = [list(h) for h in self.higher_order]
        return d

    def __str__(self) -> str:
        return summary_line(self.label.replace("_", " "), self.evidence, self.how)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _line_coefficients(f, z, V, order: int):
    """Taylor coefficients ``g^(j)(0)/j!``, ``j = 0..order``, of ``g(t) = f(z + t v)`` for every row ``v`` of ``V``."""

    def one(v):
        def g(t):
            return f(z + t * v)

        out, d = [], g
        for j in range(order + 1):
            out.append(d(jnp.zeros((), z.dtype)) / math.factorial(j))
            d = (lambda h: (lambda t: jax.jvp(h, (t,), (jnp.ones((), z.dtype),))[1]))(d)
        return jnp.stack(out)

    return jax.vmap(one)(V)


def _leading(coeffs: np.ndarray, tol: float) -> tuple:
    """``(order, sign)`` of the first coefficient of order ≥ 3 with ``|c| > tol`` (``(0, 0)``: none)."""
    for j in range(3, coeffs.size):
        if abs(coeffs[j]) > tol:
            return j, int(np.sign(coeffs[j]))
    return 0, 0


def classify_critical_point(f: Callable, z, *, gtol: float = 1e-4, eig_atol: float = 1e-4, eig_rtol: float = 1e-8,
                            dense_max: int = 2000, num_steps: int = 100, key=None, order: int = 6,
                            n_random: int = 8) -> CriticalPoint:
    """Classifies ``z`` (see ``CriticalPoint`` for the labels and what each one claims).

    Tolerances (see docs/verdicts.md): a point is critical when ``‖∇f(z)‖₂ ≤ gtol``; an
    eigenvalue counts as zero when ``|λ| ≤ band = max(eig_atol, eig_rtol·max|λ|, eig_error)``.
    ``eig_atol`` defaults to ``gtol`` because a point a distance ``δ`` from an exact critical
    point has gradient ``~ λ δ`` and its flat eigenvalues move by ``~ ‖∇³f‖ δ``: curvature
    that small is not resolved by a point found to that gradient tolerance.

    Small problems (``k ≤ dense_max``): exact ``eigh`` of the Hessian; its eigenvalue error is
    at most ``eig_error = 4 k eps ‖H‖_F`` (backward stability, plus the Hessian's own rounding).
    Null directions (``|λ| ≤ band``) get a higher-order test: the Taylor coefficients of
    ``t ↦ f(z + t v)`` up to ``order`` (nested forward-mode derivatives) along each null
    eigenvector and ``n_random`` random unit combinations of them; a coefficient counts when it
    exceeds ``max(‖∇f(z)‖, 1e3 eps max(1, |f(z)|))`` (at a point that far from criticality the
    low-order terms are that uncertain; a heuristic scale, hence evidence ``sampled``). Large problems: ``num_steps`` Lanczos steps; a Ritz pair with residual ``r``
    brackets an eigenvalue in ``[θ − r, θ + r]``.

    Args:
      f: ``(k,) -> scalar``; z: ``(k,)`` point (use float64 for trained points).
      dense_max: use a dense ``eigh`` when ``k ≤ dense_max``, else Lanczos.
      order, n_random: the higher-order test (0 random directions: eigenvectors only).
    """
    gtol, eig_atol, eig_rtol = (validate.nonnegative(v, n) for v, n in ((gtol, "gtol"), (eig_atol, "eig_atol"),
                                                                          (eig_rtol, "eig_rtol")))
    dense_max = validate.integer(dense_max, "dense_max", low=0)
    num_steps = validate.integer(num_steps, "num_steps", low=1)
    z = validate.point(f, z)
    g = np.asarray(jax.jit(jax.grad(f))(z), np.float64)
    if not np.all(np.isfinite(g)):
        raise ValueError("z: the gradient is not finite there")
    gnorm = float(np.linalg.norm(g))
    k = int(z.shape[0])
    eps = float(np.finfo(np.dtype(z.dtype)).eps)
    common = dict(grad_norm=gnorm, n_params=k, gtol=float(gtol))
    crit = f"‖∇f(z)‖ = {gnorm:.2g} ≤ gtol {gtol:g}"
    if k <= dense_max:
        H = np.asarray(jax.jit(functools.partial(hessian, f))(z), np.float64)
        lam, V = np.linalg.eigh(H)
        err = 4 * k * eps * float(np.linalg.norm(H))
        band = max(float(eig_atol), float(eig_rtol) * float(np.max(np.abs(lam))), err)
        neg, pos = lam < -band, lam > band
        null = ~neg & ~pos
        counts = dict(n_negative=int(neg.sum()), n_flat=int(null.sum()), n_positive=int(pos.sum()))
        base = dict(common, **counts, min_eig=float(lam[0]), max_eig=float(lam[-1]), eig_tol=band, method="dense",
                    eig_error=err)
        eig_how = (f"eigh of the {k}x{k} Hessian at z: {counts['n_negative']} eigenvalues < −{band:.2g}, "
                   f"{counts['n_flat']} within ±{band:.2g}, {counts['n_positive']} > {band:.2g} "
                   f"(eigenvalue error ≤ {err:.2g})")
        if gnorm > gtol:
            return CriticalPoint(label="not_critical", **base, evidence="sampled",
                                 how=f"‖∇f(z)‖ = {gnorm:.3g} > gtol {gtol:g}")
        descent, ascent, undecided, tests = bool(neg.any()), bool(pos.any()), False, ()
        if null.any():
            N = V[:, null].T
            if N.shape[0] > 1 and n_random:
                R = np.random.default_rng(0).normal(size=(int(n_random), N.shape[0])) @ N
                N = np.concatenate([N, R / np.linalg.norm(R, axis=1, keepdims=True)])
            C = np.asarray(_line_coefficients(f, z, jnp.asarray(N, z.dtype), int(order)), np.float64)
            coef_tol = max(gnorm, 1e3 * eps * max(1.0, abs(float(C[0, 0]))))
            tests = tuple(_leading(c, coef_tol) for c in C)
            for o, sgn in tests:
                if o == 0:
                    undecided = True
                elif o % 2:
                    descent = ascent = True
                elif sgn < 0:
                    descent = True
                else:
                    ascent = True
        line_how = (f"; higher-order test along {len(tests)} null directions up to order {order} (a Taylor "
                    f"coefficient counts above {coef_tol:.2g}): leading terms {sorted(set(tests))} (order, sign)"
                    if tests else "")
        how = f"{crit}; {eig_how}{line_how}"
        if descent and ascent:
            label = "saddle"
        elif descent:
            label = "degenerate" if undecided else "local_maximum"
        elif undecided:
            label = "degenerate"
        elif tests:
            label = "flat_minimum"
            how += "; a minimum along the lines tested only (not a proof of a local minimum)"
        else:
            label = "strict_minimum"
            how += "; second-order sufficient conditions at z (no true critical point nearby is certified)"
        return CriticalPoint(label=label, **base, higher_order=tests, evidence="sampled", how=how)
    r = lanczos(f, z, num_steps=num_steps, key=key)
    hi_min = r.min + r.residuals[0]
    lo_max = r.max - r.residuals[-1]
    band = max(float(eig_atol), float(eig_rtol) * max(abs(r.min), abs(r.max)))
    base = dict(common, n_negative=None, n_flat=None, n_positive=None, min_eig=r.min, max_eig=r.max, eig_tol=band,
                method="lanczos", eig_error=float(max(r.residuals[0], r.residuals[-1])))
    brackets = (f"{r.ritz_values.size} Lanczos steps: smallest Ritz value {r.min:.3g} ± {r.residuals[0]:.2g}, "
                f"largest {r.max:.3g} ± {r.residuals[-1]:.2g}")
    if gnorm > gtol:
        return CriticalPoint(label="not_critical", **base, evidence="sampled", how=f"‖∇f(z)‖ = {gnorm:.3g} > gtol {gtol:g}")
    if hi_min < -band:
        if lo_max > band:
            return CriticalPoint(label="saddle", **base, evidence="sampled",
                                 how=f"{crit}; {brackets}: brackets certify a negative and a positive eigenvalue")
        return CriticalPoint(label="not_minimum", **base, evidence="sampled",
                             how=f"{crit}; {brackets}: a bracket certifies a negative eigenvalue")
    return CriticalPoint(label="undecided", **base, evidence="none",
                         how=f"{crit}; {brackets}: no bracket below −{band:.2g}; the smallest Ritz value only bounds "
                             "λ_min from above, so positivity is not certified (use dense_max ≥ k for an exact eigh)")
