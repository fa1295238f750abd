"""The paper's conditions, one function each: Assumptions 1-2, dim*, numerical rank, Remark 2,
and the conditions of Theorems 1-6.

Every condition returns a frozen ``Condition``:

* ``holds``: True, False, or None (undecided: no data given, or a callable σ whose
  analyticity cannot be known);
* ``detail``: why (the numbers that decided it; a failing detail starts with what fails);
* ``data``: what it was checked on: ``"X (d_x, n) float64 sha256:…"`` (``io.digest`` of
  the array it read), ``"no data"`` (it needs data and got none) or ``"none needed"``;
* ``value``: the quantity it computed, when there is one (Assumption 2's orders, the
  ranks of ``rank_check``, the smallest number of connections of ``remark2``, ...).

The conditions of one theorem form a ``Check`` (all ``required`` and, if there are
alternatives, one of ``any_of``, in the paper's numbering). ``structure.check_theorems``
and ``structure.structure_report`` evaluate the six ``theoremK_conditions`` on the
effective network; the ``property_p`` constructors evaluate the same functions and
``require`` the ones their construction needs (``ValueError`` naming the condition).

Building blocks (each one paper condition): ``two_layer``, ``linear_activation``,
``dense_final_layer``, ``effective``, ``pattern_widths`` (``p_i ≥ d_i``),
``orthogonal_patterns`` (``Z_i Z_jᵀ = 0``), ``scalar_output`` (``d_y = 1``),
``first_layer_only_sparse``, ``polynomial_activation`` (the lift Theorem 3's path builds
on), ``dim_star_widths`` (``p_i ≥ dim*(σ, Z_i)``, any σ), ``wide_last_hidden`` (``p ≥ n``),
``assumption1``, ``assumption2``, ``remark2``, ``rank_check``, ``theorem6_activation``,
``hidden_width_three``, ``ss_network``.

``dim*(σ, X)`` (``dim_star_evidence`` -> ``DimStar``, ``dim_star`` -> int) is at most ``n`` for
every σ (``V_σ(X) ⊂ Rⁿ``): exact for polynomials (the rank of the monomial features
``polynomial_features``), ``n`` under Assumption 2 with a feature of distinct ``|x|`` (Theorem 4's
Vandermonde argument), otherwise a sampled lower bound; the evidence says which.

Tolerances (one per idea):

* numerical rank: ``numerical_rank(A, rtol)`` counts singular values ``> rtol · s_max``;
  default ``rtol = max(shape) · eps(dtype)`` (NumPy's ``matrix_rank`` rule). Callers that
  decide a rank of float64 data pass their threshold: ``dim_star`` 1e-9 (``DIM_STAR_RTOL``), ``rank_check``
  1e-10 (far above float64 round-off ~1e-15, far below the singular values that matter).
* ``Z_i Z_jᵀ = 0``: every cross block is a block of ``XXᵀ``; it holds when every entry
  ``(a, b)`` that lies in a block with ``i ≠ j`` has ``|⟨x_a, x_b⟩| ≤ ZZ_TOL · ‖x_a‖ ‖x_b‖``
  (a cosine, so rescaling a feature changes nothing), ``ZZ_TOL = 1e-10``.
* Assumption 1 compares ``|x_ik|`` exactly, as stated.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import Any, Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import io, nets, structure, validate
from landscape.activations import (NONZERO_DERIVATIVES, Activation, activation_name, derivatives_at_zero,
                                   get_activation, is_analytic, polynomial_coefficients, zero_at_origin)
from landscape.masks import pattern_decomposition
from landscape.nets import MLP
from landscape.verdicts import Evidence, summary_line, weakest

ZZ_TOL = 1e-10
"""``Z_i Z_jᵀ = 0`` tolerance: largest cosine allowed between feature rows of different patterns."""

NO_DATA = "no data"
NONE_NEEDED = "none needed"


# ============================================================================= result types


@dataclasses.dataclass(frozen=True)
class Condition:
    """One checked condition of the paper.

    Attributes:
      name: the condition, as the paper states it (e.g. ``"d_y = 1"``).
      holds: True, False or None (undecided).
      detail: the numbers that decided it.
      data: what it was checked on (see the module docstring).
      value: the quantity it computed (plain Python: int, float or tuple), or None.
      evidence: how ``holds`` was decided: ``"proved"`` (an exact check: mask combinatorics,
        exact comparisons, known facts about a named σ), ``"sampled"`` (a numerical rank of
        random draws or a float tolerance), ``"none"`` (undecided).
    """

    name: str
    holds: Optional[bool]
    detail: str = ""
    data: str = NONE_NEEDED
    value: Any = None
    evidence: str = "proved"

    def __post_init__(self):
        if self.holds is not None:
            object.__setattr__(self, "holds", bool(self.holds))
        object.__setattr__(self, "evidence", Evidence("none" if self.holds is None else self.evidence).value)

    def to_dict(self) -> dict:
        return {"name": self.name, "holds": self.holds, "detail": self.detail, "data": self.data,
                "value": list(self.value) if isinstance(self.value, tuple) else self.value, "evidence": self.evidence}

    def __str__(self) -> str:
        mark = {True: "ok", False: "FAILS", None: "?"}[self.holds]
        return f"[{mark}, {self.evidence}] {self.name}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class Check:
    """The conditions of one theorem on one network.

    ``applies`` is True when every ``required`` condition holds and (if there are
    alternatives) at least one of ``any_of``; False when one fails; None when an
    undecided condition is what is missing.

    Attributes:
      theorem: e.g. ``"Theorem 1"``.
      conclusion: what the theorem says when it applies.
      required: conditions that must all hold.
      any_of: alternatives, in the paper's numbering (``any_of[0]`` is condition 1).
      warning: the "theorem" is a situation to warn about, not a guarantee (Theorem 6: the
        paper constructs spurious valleys there); its line says WARNING instead of APPLIES.
    """

    theorem: str
    conclusion: str
    required: tuple
    any_of: tuple = ()
    warning: bool = False

    @property
    def evidence(self) -> Evidence:
        """How ``applies`` was decided: the weakest evidence among the conditions that decide it
        (every required one and the strongest holding alternative when it applies; the failing
        ones when it does not)."""
        if self.applies is None:
            return Evidence.NONE
        if self.applies is False:
            return max((Evidence(c.evidence) for c in self.failing()), key=lambda e: e.rank)
        alt = [Evidence(c.evidence) for c in self.any_of if c.holds]
        deciding = [Evidence(c.evidence) for c in self.required] + ([max(alt, key=lambda e: e.rank)] if alt else [])
        return weakest(deciding)

    @property
    def verdict(self) -> str:
        """``"APPLIES"`` (all conditions checked exactly), ``"conditions hold numerically"`` (some by
        a sampled rank or a tolerance), ``"WARNING"`` (Theorem 6's situation), ``"does not apply"``
        or ``"undecided"``."""
        if self.applies is None:
            return "undecided"
        if self.applies is False:
            return "does not apply"
        if self.warning:
            return "WARNING"
        return "APPLIES" if self.evidence == Evidence.PROVED else "conditions hold numerically"

    @property
    def applies(self) -> Optional[bool]:
        req = [c.holds for c in self.required]
        alt = [c.holds for c in self.any_of]
        if False in req or (alt and all(a is False for a in alt)):
            return False
        if None in req or (alt and True not in alt):
            return None
        return True

    def failing(self) -> list:
        """The conditions that fail (alternatives only when none of them holds)."""
        out = [c for c in self.required if c.holds is False]
        if self.any_of and not any(c.holds for c in self.any_of):
            out += [c for c in self.any_of if c.holds is False]
        return out

    def to_dict(self) -> dict:
        return {"theorem": self.theorem, "conclusion": self.conclusion, "applies": self.applies,
                "verdict": self.verdict, "evidence": self.evidence.value, "warning": self.warning,
                "required": [c.to_dict() for c in self.required], "any_of": [c.to_dict() for c in self.any_of]}

    def __str__(self) -> str:
        ev = self.evidence
        how = {Evidence.PROVED: f"{self.theorem} of the paper, every deciding condition checked exactly",
               Evidence.SAMPLED: "a deciding condition rests on a numerical rank or a float tolerance",
               Evidence.NONE: "a condition could not be decided"}.get(ev, "")
        if self.applies is False:
            how = "a condition fails (" + ("checked exactly" if ev == Evidence.PROVED else "numerically") + ")"
        lines = [f"{self.theorem}: {summary_line(self.verdict, ev, how)} -- {self.conclusion}"]
        lines += [f"    {c}" for c in self.required]
        lines += [f"    {c} (one of)" for c in self.any_of]
        return "\n".join(lines)


def require(condition: Condition, argument: str, theorem: str) -> Condition:
    """Returns ``condition`` when it holds, else raises.

    Raises:
      ValueError: ``"<argument>: <theorem> needs <condition>; <detail>"``.
    """
    if condition.holds is True:
        return condition
    state = "" if condition.holds is False else " (undecided)"
    raise ValueError(f"{argument}: {theorem} needs {condition.name}{state}; {condition.detail}")


# ============================================================================= helpers


def data_tag(X) -> str:
    """``"X (d_x, n) dtype sha256:<16 hex>"`` (``io.digest``), or ``"no data"``."""
    if X is None:
        return NO_DATA
    d = io.digest(X)
    return f"X {tuple(d['shape'])} {d['dtype']} sha256:{d['sha256'][:16]}"


def _layers(net: MLP, masks) -> tuple:
    """Bool weight masks per layer (dense when ``masks`` is None), checked against ``net``."""
    return tuple(layer["W"] for layer in structure.bool_masks(nets.dense_masks(net) if masks is None else masks, net))


def _data(net: MLP, X) -> Optional[np.ndarray]:
    if X is None:
        return None
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] != net.sizes[0]:
        raise ValueError(f"X: expected shape (d_x={net.sizes[0]}, n), got {X.shape}")
    return X


def _groups(values, limit: int = 10) -> str:
    values = list(values)
    return str(values[:limit])[:-1] + ", …]" if len(values) > limit else str(values)


# ============================================================================= numerical rank and dim*


def numerical_rank(A, rtol: Optional[float] = None):
    """Number of singular values ``> rtol · s_max`` (0 for a zero or empty matrix).

    One rule for every rank in the library. A NumPy array (or list) is decided in NumPy, in
    its own precision (float64 stays float64 whatever ``jax_enable_x64`` says, no compile
    per shape) and gives a Python int; a JAX array or tracer goes through ``jnp`` and gives
    an int32 scalar, so the same function runs inside ``jit``/``vmap``/``lax.map``
    (``ranks.hidden_ranks`` during training).

    Args:
      A: ``(m, n)`` matrix.
      rtol: relative threshold; default ``max(m, n) · eps(dtype)`` (NumPy's ``matrix_rank``).
    """
    if rtol is not None and validate.is_concrete(rtol):
        rtol = validate.nonnegative(rtol, "rtol")
    xp = jnp if isinstance(A, jax.Array) else np
    A = xp.asarray(A)
    if not xp.issubdtype(A.dtype, xp.floating):
        A = A.astype(xp.float64 if xp is np else jnp.result_type(float))
    if A.size == 0:
        return 0 if xp is np else jnp.zeros((), jnp.int32)
    s = xp.linalg.svd(A, compute_uv=False)
    if rtol is None:
        rtol = max(A.shape) * xp.finfo(A.dtype).eps
    r = xp.sum(s > rtol * s[0])
    return int(r) if xp is np else r.astype(jnp.int32)


def monomial_count(coefficients, d: int) -> int:
    """``D = Σ_{k : a_k ≠ 0} C(d + k − 1, k)``: degree-``k`` monomials in ``d`` variables, summed over
    the degrees present in ``σ(z) = Σ a_k z^k``; the length of the lift ``ψ(w)``, ``φ(z)``
    (``polynomial_features``), so ``dim*(σ, X) ≤ min(D, n)``, with equality for data in general position.
    """
    return int(sum(math.comb(d + k - 1, k) for k, a in enumerate(coefficients) if a != 0))


@functools.lru_cache(maxsize=256)
def _monomials(d: int, k: int) -> tuple:
    """``(index, multinomial)``: the degree-``k`` monomials in ``d`` variables as ``(D_k, k)`` variable
    indices (``itertools.combinations_with_replacement`` order) and their coefficients ``k!/Π α_j!``."""
    combos = list(itertools.combinations_with_replacement(range(d), k))
    combos = np.array(combos, np.int64).reshape(len(combos), k)
    mult = np.array([math.factorial(k) / math.prod(math.factorial(c) for c in np.bincount(row, minlength=d))
                     for row in combos], np.float64)
    return combos, mult


def _check_coefficients(coefficients) -> tuple:
    try:
        coeffs = tuple(float(c) for c in coefficients)
    except TypeError:
        raise TypeError(f"coefficients: expected a sequence of numbers (a_0, ..., a_t), got {coefficients!r}") from None
    if not coeffs or not all(np.isfinite(coeffs)):
        raise ValueError(f"coefficients: expected at least one finite number (a_0, ..., a_t), got {coeffs}")
    return coeffs


def _monomial_values(A, k: int) -> np.ndarray:
    """``(D_k, m)``: every degree-``k`` monomial of the ``d`` rows of ``A`` ``(d, m)``."""
    combos, _ = _monomials(A.shape[0], k)
    if k == 0:
        return np.ones((1, A.shape[1]))
    return np.prod(A[combos], axis=1)


def polynomial_features(coefficients, Z) -> np.ndarray:
    """``φ(Z)``: the data side of the lift ``σ(wᵀz) = ⟨ψ(w), φ(z)⟩`` of a polynomial σ (Section 4.1).

    For ``σ(z) = Σ_k a_k z^k``, ``φ(z)`` lists the monomials ``z^α`` of every degree ``k = |α|``
    with ``a_k ≠ 0`` (degrees ascending, then ``itertools.combinations_with_replacement`` order);
    ``polynomial_lift`` gives the matching ``ψ(w)_α = a_k · k!/Π α_j! · w^α``. For the paper's
    quadratic example, ``φ(x) = (x_1², x_1x_2, x_2²)`` in this order.

    Args:
      coefficients: ``(a_0, …, a_t)``.
      Z: ``(d, n)`` data, columns are samples.

    Returns:
      ``(D, n)`` float64, ``D = monomial_count(coefficients, d)``.
    """
    coeffs = _check_coefficients(coefficients)
    Z = np.asarray(Z, np.float64)
    if Z.ndim != 2:
        raise ValueError(f"Z: expected (d, n), got shape {Z.shape}")
    rows = [_monomial_values(Z, k) for k, a in enumerate(coeffs) if a != 0]
    return np.concatenate(rows, axis=0) if rows else np.zeros((0, Z.shape[1]))


def polynomial_lift(coefficients, W) -> np.ndarray:
    """``ψ(W)``: the weight side of the lift, one row ``ψ(w_j)`` per row of ``W``, so that
    ``polynomial_lift(a, W) @ polynomial_features(a, Z) == σ(W Z)`` (up to rounding).

    Args:
      coefficients: ``(a_0, …, a_t)``.
      W: ``(p, d)`` weights, rows are neurons.

    Returns:
      ``(p, D)`` float64.
    """
    coeffs = _check_coefficients(coefficients)
    W = np.asarray(W, np.float64)
    if W.ndim != 2:
        raise ValueError(f"W: expected (p, d), got shape {W.shape}")
    cols = [a * _monomials(W.shape[1], k)[1][:, None] * _monomial_values(W.T, k)
            for k, a in enumerate(coeffs) if a != 0]
    return np.concatenate(cols, axis=0).T if cols else np.zeros((W.shape[0], 0))


DIM_STAR_RTOL = 1e-9
"""Rank resolution of ``dim_star``: singular values ``≤ 1e-9 · s_1`` count as zero. Far above float64
round-off (~1e-15 relative, so a counted singular value is non-zero in exact arithmetic too) and far
below the singular values that decide these ranks in the tests (≥ 1e-6 relative)."""


@dataclasses.dataclass(frozen=True)
class DimStar:
    """``dim*(σ, X)`` and how it was obtained (``dim_star_evidence``).

    ``V_σ(X) = span{σ(wᵀX)} ⊂ Rⁿ``, so ``dim*(σ, X) ≤ n`` for every σ.

    Attributes:
      value: the computed ``dim*``; a lower bound when ``exact`` is False.
      upper: what is known above it: ``value`` when exact, else ``n``.
      n: number of samples.
      method: ``"monomial features"`` (polynomial σ: the rank of ``φ(X)``), ``"Assumption 2"``
        (``= n`` by the Vandermonde argument of Theorem 4's proof) or ``"sampled"`` (the rank of
        ``σ(w_jᵀX)`` for random ``w_j``: every such row lies in ``V_σ(X)``, so a lower bound).
      how: one sentence with the matrix, its shape, the resolution and the singular values at the cut.
      rtol: the rank resolution.
    """

    value: int
    upper: int
    n: int
    method: str
    how: str
    rtol: float = DIM_STAR_RTOL

    @property
    def exact(self) -> bool:
        """``value`` is ``dim*`` itself (at the rank resolution ``rtol``), not only a lower bound."""
        return self.value == self.upper

    def __int__(self) -> int:
        return self.value

    def __str__(self) -> str:
        return f"dim* {'=' if self.exact else '≥'} {self.value} (n = {self.n}; {self.method}: {self.how})"


def _rank_and_cut(A, rtol) -> tuple:
    """Numerical rank at ``rtol`` and the text ``"s_r/s_1 = …, s_{r+1}/s_1 = …"`` at the cut."""
    s = np.linalg.svd(A, compute_uv=False) if A.size else np.zeros(0)
    if s.size == 0 or s[0] == 0:
        return 0, "all singular values 0"
    rel = s / s[0]
    r = int(np.sum(rel > rtol))
    nxt = f", next s_{r + 1}/s_1 = {rel[r]:.1e}" if r < rel.size else ", none dropped"
    return r, f"last kept s_{r}/s_1 = {rel[r - 1]:.1e}{nxt}"


def _distinct_feature(X, step: int) -> Optional[int]:
    """A row of ``X`` whose ``n`` entries are non-zero with distinct ``x^step`` (exact comparisons:
    distinct ``x`` for odd ``step``, distinct ``|x|`` for even ``step``), or None."""
    A = X if step % 2 else np.abs(X)
    ok = np.all(A != 0, axis=1) & np.all(np.diff(np.sort(A, axis=1), axis=1) != 0, axis=1)
    rows = np.flatnonzero(ok)
    return int(rows[0]) if rows.size else None


def dim_star_evidence(activation: Activation, X, *, key=None, rtol: float = DIM_STAR_RTOL,
                      draws: Optional[int] = None) -> DimStar:
    """Upper intrinsic dimension ``dim*(σ, X) = dim span{σ(wᵀX) : w ∈ R^{d_x}}`` (Section 4.1), with its evidence.

    Always ``≤ n`` (``V_σ(X) ⊂ Rⁿ``). Three ways, the first that applies:

    1. σ a polynomial (``activations.polynomial_coefficients``): ``σ(wᵀx) = ⟨ψ(w), φ(x)⟩`` and the
       ``ψ`` components are distinct monomials of ``w``, so ``V_σ(X)`` is the row space of
       ``φ(X)`` and ``dim* = rank φ(X)``: no sampling, one ``(D, n)`` matrix (rows normalised).
    2. Assumption 2 holds (``σ^(l_i)(0) ≠ 0`` for ``l_i = l_1 + (i−1)r``, ``i ≤ n``) and a feature
       row of ``X`` has ``n`` non-zero entries with distinct ``x^r``: then ``σ(t x_{1k}), …, σ(t x_{nk})``
       are linearly independent functions of ``t`` (their derivatives at 0 form a Vandermonde
       system, the argument of Theorem 4's proof), so ``dim* = n``. No rank is computed.
    3. Otherwise (ReLU, data with repeated ``|x|``, callables): the rank of ``m`` rows ``σ(w_jᵀX)``,
       ``w_j ~ N(0, I)`` rescaled so that ``rms(w_jᵀX)`` runs log-evenly over ``[1/4, 4]``
       (saturated and near-linear rows both appear). Each row lies in ``V_σ(X)``, so the rank is a
       lower bound; it is exact when it reaches ``n``.

    Args:
      activation: name or callable.
      X: ``(d_x, n)`` data.
      key: PRNG key for way 3 (default ``jax.random.key(0)``).
      rtol: rank resolution (``DIM_STAR_RTOL``).
      draws: rows ``m`` for way 3 (default ``n + 16``).

    Returns:
      A ``DimStar``.
    """
    X = validate.samples(X, "X").astype(np.float64)
    rtol = validate.nonnegative(rtol, "rtol")
    d, n = X.shape
    coeffs = polynomial_coefficients(activation)
    if coeffs is not None:
        Phi = polynomial_features(coeffs, X)
        norms = np.linalg.norm(Phi, axis=1)
        Phi = Phi[norms > 0] / norms[norms > 0, None]
        r, cut = _rank_and_cut(Phi, rtol)
        return DimStar(r, r, n, "monomial features",
                       f"rank of φ(X), ({Phi.shape[0]}, {n}) monomials of degrees "
                       f"{[k for k, a in enumerate(coeffs) if a != 0]} with rows normalised, at rtol {rtol:g}; {cut}",
                       rtol)
    a2 = assumption2(activation, n)
    if a2.holds:
        step = a2.value[1] - a2.value[0] if n > 1 else 1
        row = _distinct_feature(X, step)
        if row is not None:
            return DimStar(n, n, n, "Assumption 2",
                           f"σ^(l)(0) ≠ 0 at l = {a2.value[0]} + {step}(i−1), i ≤ n, and feature {row} has n non-zero "
                           f"values with distinct {'x' if step % 2 else '|x|'}: a Vandermonde system (Theorem 4's proof)",
                           rtol)
    m = n + 16 if draws is None else validate.integer(draws, "draws", low=1)
    key = jax.random.key(0) if key is None else validate.key(key)
    # NumPy's generator, seeded from the key: a jax.random draw would compile once per shape (d, m)
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    pre = rng.standard_normal((m, d)) @ X
    rms = np.sqrt(np.mean(pre ** 2, axis=1, keepdims=True))
    pre = pre / np.where(rms > 0, rms, 1.0) * np.geomspace(0.25, 4.0, m)[:, None]
    with jax.enable_x64(True):
        rows = np.asarray(get_activation(activation)(jnp.asarray(pre, jnp.float64)), np.float64)
    r, cut = _rank_and_cut(rows, rtol)
    return DimStar(r, r if r >= n else n, n, "sampled",
                   f"rank of σ(w_jᵀX) for {m} random w_j (N(0, I), rescaled to rms(w_jᵀX) in [1/4, 4]) at rtol {rtol:g}; "
                   f"{cut}; a lower bound (each row lies in V_σ(X)), and dim* ≤ n", rtol)


def dim_star(activation: Activation, X, *, key=None, rtol: float = DIM_STAR_RTOL) -> int:
    """``dim*(σ, X)`` as a number (``dim_star_evidence(...).value``; ``≤ n`` always).

    Exact for polynomials (rank of the monomial features) and, under Assumption 2, ``n``; otherwise
    the sampled lower bound. See ``dim_star_evidence`` for how and for the evidence.
    """
    return dim_star_evidence(activation, X, key=key, rtol=rtol).value


# ============================================================================= network conditions


def two_layer(net: MLP) -> Condition:
    """The network has one hidden layer (Theorems 1, 3, 4)."""
    return Condition("two-layer net (one hidden layer)", net.depth == 2, f"depth L = {net.depth}")


def linear_activation(net: MLP) -> Condition:
    """σ(z) = z (Theorems 1, 2)."""
    name = activation_name(net.activation)
    coeffs = polynomial_coefficients(net.activation)
    if coeffs is not None:
        coeffs = tuple(coeffs)
        while len(coeffs) > 1 and coeffs[-1] == 0:
            coeffs = coeffs[:-1]
    ok = name == "linear" or coeffs == (0.0, 1.0)
    return Condition("σ linear", ok, name if ok else f"{name!r} is not linear (the theorems for linear networks need σ(z) = z)")


def dense_final_layer(net: MLP, masks=None) -> Condition:
    """The final layer is dense: an SD network (Theorems 1, 3, 4)."""
    M = _layers(net, masks)[-1]
    masked = int(M.size - M.sum())
    return Condition("dense final layer (SD)", masked == 0,
                     "final layer dense" if masked == 0 else
                     f"dense final layer fails: {masked} final-layer weights are masked (an SS net, see Theorem 6)")


def effective(net: MLP, masks=None) -> Condition:
    """Definition 1: every neuron (inputs and outputs included) lies on an input → output path;
    hidden neurons with no connection at all count as removed."""
    m = structure.bool_masks(nets.dense_masks(net) if masks is None else masks, net)
    eff, iso = structure.effective_neurons(m), structure.isolated_neurons(m)
    bad_hidden = {l + 1: np.flatnonzero(~(e | i)).tolist() for l, (e, i) in enumerate(zip(eff[1:-1], iso))}
    bad_hidden = {k: v for k, v in bad_hidden.items() if v}
    unused, dead = np.flatnonzero(~eff[0]).tolist(), np.flatnonzero(~eff[-1]).tolist()
    ok = not (unused or dead or bad_hidden)
    detail = ("every neuron lies on an input -> output path" if ok else
              f"not effective: unused inputs {unused}, dead outputs {dead}, non-effective hidden neurons per layer {bad_hidden}")
    return Condition("effective (Definition 1)", ok, detail)


def scalar_output(net: MLP, Y=None) -> Condition:
    """``d_y = 1`` (Theorem 1 condition 3, Theorem 2 condition 2)."""
    d_y = int(np.shape(Y)[0]) if Y is not None else net.sizes[-1]
    return Condition("d_y = 1", d_y == 1, "d_y = 1" if d_y == 1 else f"d_y = 1 fails: d_y = {d_y}")


def pattern_widths(net: MLP, masks=None) -> Condition:
    """``p_i ≥ d_i`` for every pattern ``i`` of the first layer (Eq. 2; Theorem 1 condition 1)."""
    dec = pattern_decomposition(_layers(net, masks)[0].astype(np.int8))
    short = [i for i in range(dec.s) if dec.p[i] < dec.d[i]]
    if not short:
        return Condition("p_i ≥ d_i for every pattern i", True,
                         f"s = {dec.s} patterns; min(p_i − d_i) = {int(np.min(dec.p - dec.d)) if dec.s else 0}")
    return Condition("p_i ≥ d_i for every pattern i", False,
                     f"p_i >= d_i fails: groups with p_i < d_i: {_groups(short)} (p={_groups(dec.p.tolist())}, "
                     f"d={_groups(dec.d.tolist())})", value=tuple(short))


def orthogonal_patterns(net: MLP, X, masks=None, *, tol: float = ZZ_TOL) -> Condition:
    """``Z_i Z_jᵀ = 0`` for all patterns ``i ≠ j`` (Theorem 1 condition 2).

    Every block ``Z_i Z_jᵀ`` is a block of ``C = XXᵀ`` (rows of pattern ``i``, columns of
    pattern ``j``); entry ``(a, b)`` lies in a block with ``i ≠ j`` iff
    ``count_a · count_b > #{i : a, b ∈ P_i}``. It holds when every such entry has
    ``|C_ab| ≤ tol · √(C_aa C_bb)`` (float64). ``value``: the largest such cosine.
    """
    name = "Z_i Z_jᵀ = 0 for i ≠ j"
    X = _data(net, X)
    if X is None:
        return Condition(name, None, "no data given", NO_DATA)
    dec = pattern_decomposition(_layers(net, masks)[0].astype(np.int8))
    P = dec.patterns.astype(np.int64)
    count = P.sum(axis=0)
    cross = np.outer(count, count) - P.T @ P > 0
    X64 = X.astype(np.float64)
    C = X64 @ X64.T
    norm = np.sqrt(np.diag(C))
    denom = np.outer(norm, norm)
    cos = np.divide(np.abs(C), denom, out=np.zeros_like(C), where=denom > 0)
    worst = float(cos[cross].max()) if cross.any() else 0.0
    ok = worst <= tol
    detail = (f"max |cos(x_a, x_b)| over entries of Z_i Z_jᵀ, i ≠ j = {worst:.3g} (tolerance {tol:g})" if ok else
              f"Z_i Z_j^T = 0 fails: max |cos(x_a, x_b)| over entries of Z_i Z_jᵀ, i ≠ j = {worst:.3g} > {tol:g}")
    return Condition(name, ok, detail, data_tag(X), worst, evidence="sampled")


def first_layer_only_sparse(net: MLP, masks=None) -> Condition:
    """Theorem 2 condition 1: only the first layer sparse, and ``p_i ≥ d_i`` for every pattern."""
    layers = _layers(net, masks)
    sparse = [l + 1 for l, M in enumerate(layers) if l and not M.all()]
    widths = pattern_widths(net, masks)
    ok = not sparse and widths.holds
    parts = ([f"layers {sparse} are sparse"] if sparse else []) + [widths.detail.removeprefix("p_i >= d_i fails: ")]
    detail = "; ".join(parts) if ok else "only the first layer sparse and p_i >= d_i fails: " + "; ".join(parts)
    return Condition("only the first layer sparse and p_i ≥ d_i", ok, detail)


def polynomial_activation(net: MLP) -> Condition:
    """σ a polynomial: the lift ``σ(wᵀz) = ⟨ψ(w), φ(z)⟩`` of Section 4.1 exists with ``ψ``, ``φ`` of
    finite length ``D`` independent of the data (what ``property_p.theorem3_path`` builds on).
    Theorem 3 itself needs only ``dim*(σ, X) < ∞``, which holds for every σ on ``n`` samples."""
    coeffs = polynomial_coefficients(net.activation)
    return Condition("σ polynomial (the lift σ(wᵀz) = ⟨ψ(w), φ(z)⟩)", coeffs is not None,
                     f"coefficients {tuple(coeffs)}" if coeffs is not None else
                     f"σ polynomial fails: {activation_name(net.activation)} is not a polynomial")


def dim_star_widths(net: MLP, X, masks=None, *, key=None) -> Condition:
    """``p_i ≥ dim*(σ, Z_i)`` for every pattern ``i`` of the first layer (Theorem 3), any σ.

    ``dim*(σ, Z_i) ≤ n`` always; it is computed by ``dim_star_evidence`` (exact for polynomials and,
    under Assumption 2, ``= n``; otherwise a sampled lower bound). The condition holds when every
    ``p_i`` reaches the known upper bound, fails when some ``p_i`` is below a proved lower bound,
    and is undecided (None) in between. ``value``: the ``dim*(σ, Z_i)`` (lower bounds where not exact).
    A sampled bound here uses ``min(p_i + 1, n) + 16`` draws (enough to decide the condition), so it can
    be lower than ``dim_star(σ, Z_i)``'s, which draws ``n + 16``.
    """
    name = "p_i ≥ dim*(σ, Z_i)"
    X = _data(net, X)
    if X is None:
        return Condition(name, None, "no data given", NO_DATA)
    dec = pattern_decomposition(_layers(net, masks)[0].astype(np.int8), X)
    n = X.shape[1]
    # way 3 (sampled) draws min(p_i + 1, n) + 16 rows: enough to show dim* > p_i when it is, and cheap
    # for the many one-neuron patterns of a randomly pruned layer (the bound may then sit below dim_star's)
    evs = [dim_star_evidence(net.activation, Z, key=key, draws=min(int(p) + 1, n) + 16) for p, Z in zip(dec.p, dec.Z)]
    dims = tuple(e.value for e in evs)
    shown = [str(e.value) if e.exact else f"≥{e.value}" for e in evs]
    short = [i for i, (p, e) in enumerate(zip(dec.p, evs)) if p < e.value]
    open_ = [i for i, (p, e) in enumerate(zip(dec.p, evs)) if e.value <= p < e.upper]
    how = "; ".join(sorted({f"{e.method}: {e.how.split(';')[0]}" for e in evs}))
    numbers = f"p_i = {_groups(dec.p.tolist())}, dim*(σ, Z_i) = {_groups(shown)} (n = {X.shape[1]}; {how})"
    # a float rank decides these numbers: "proved" only where every dim* came from Assumption 2's argument
    evidence = "proved" if all(e.method == "Assumption 2" for e in evs) else "sampled"
    if short:
        return Condition(name, False, f"p_i >= dim* fails: groups {_groups(short)} have p_i < dim*(σ, Z_i); {numbers}",
                         data_tag(X), dims, evidence=evidence)
    if open_:
        return Condition(name, None, f"undecided: groups {_groups(open_)} have p_i at or above a sampled lower bound of "
                         f"dim* but below n; {numbers}", data_tag(X), dims)
    return Condition(name, True, numbers, data_tag(X), dims, evidence=evidence)


def wide_last_hidden(net: MLP, X) -> Condition:
    """The last hidden width ``p ≥ n`` (Theorems 4, 5)."""
    name = "last hidden width p ≥ n"
    p = net.sizes[-2] if net.depth >= 2 else 0
    X = _data(net, X)
    if X is None:
        return Condition(name, None, f"p = {p}, no data given (n unknown)", NO_DATA)
    n = X.shape[1]
    return Condition(name, p >= n, f"p = {p} ≥ n = {n}" if p >= n else f"p = {p} < n = {n}, so p >= n fails",
                     data_tag(X))


def hidden_width_three(net: MLP) -> Condition:
    """Theorem 6's hidden width ``p ≥ 3`` (the last hidden layer)."""
    p = net.sizes[-2] if net.depth >= 2 else 0
    return Condition("hidden width p ≥ 3", p >= 3, f"p = {p}")


def theorem6_activation(net: MLP, *, dtype=jnp.float32) -> Condition:
    """Theorem 6's activation: ``σ(0) = 0`` (exactly, in ``dtype``) and ``σ(ℝ) ≠ {0}`` (σ ≠ 0 on a grid of [-10, 10])."""
    sigma = get_activation(net.activation)
    z0 = zero_at_origin(net.activation, dtype)
    nonzero = bool(np.any(np.asarray(sigma(jnp.linspace(-10.0, 10.0, 201, dtype=dtype))) != 0))
    at0 = float(sigma(jnp.zeros((), dtype)))
    return Condition("σ(0) = 0 and σ(ℝ) ≠ {0}", z0 and nonzero, f"σ(0) = {at0:g} ({jnp.dtype(dtype).name}); "
                     f"σ takes a non-zero value on [-10, 10]: {nonzero}")


def ss_network(net: MLP, masks=None) -> Condition:
    """Theorem 6 is about SS networks: sparse first and final layers (``structure.network_class``)."""
    kind = structure.network_class(structure.bool_masks(nets.dense_masks(net) if masks is None else masks, net))
    return Condition("SS network (sparse first and final layers)", kind == "SS", f"network class {kind}")


# ============================================================================= Assumptions 1-2, Remark 2, ranks


def assumption1(X, masks=None) -> Condition:
    """Assumption 1 (exact comparisons, as stated).

    1) every entry of ``X`` is non-zero and, in each row (feature), the ``n`` absolute
       values are distinct;
    2) no row of a layer's weight mask is all zero, except in the final layer
       (biases do not count).

    Args:
      X: ``(d_x, n)`` data (None: undecided).
      masks: ``({"W": (out, in)[, "b"]}, ...)`` or a list of ``(out, in)`` matrices; None = dense.

    Returns:
      A ``Condition``; ``value`` is the tuple of failing parts (``()``, ``(1,)``, ``(2,)`` or ``(1, 2)``).
    """
    name = "Assumption 1 (|x_ik| distinct over samples and non-zero; no all-zero hidden rows)"
    rows = []
    if masks is not None:
        rows = [np.flatnonzero(~layer["W"].any(axis=1)).tolist() for layer in structure.bool_masks(masks)[:-1]]
    part2 = [f"hidden units {r} of layer {l + 1}" for l, r in enumerate(rows) if r]
    msg2 = ("Assumption 1 part 2 fails: " + ", ".join(part2) + " have all their weights pruned "
            "(remove them first: effective network)") if part2 else ""
    if X is None:
        return Condition(name, False if part2 else None, msg2 or "no data given", NO_DATA, (2,) if part2 else None)
    A = np.abs(np.asarray(X, np.float64))
    if A.ndim != 2:
        raise ValueError(f"X: expected (d_x, n), got shape {A.shape}")
    zeros = np.argwhere(A == 0)
    S = np.sort(A, axis=1)
    repeats = np.argwhere(np.diff(S, axis=1) == 0)
    msg1 = []
    if zeros.size:
        msg1.append(f"{len(zeros)} zero entries (first: entry {tuple(int(i) for i in zeros[0])} is zero)")
    if repeats.size:
        msg1.append(f"{len(repeats)} repeated |x_ik| (first: feature {int(repeats[0][0])} has two samples with equal |x_ik|)")
    failed = ((1,) if msg1 else ()) + ((2,) if part2 else ())
    if not failed:
        detail = "all |x_ik| non-zero and distinct within each feature (exact comparison); no all-zero hidden rows"
    else:
        detail = "; ".join((["Assumption 1 part 1 fails: " + ", ".join(msg1)] if msg1 else []) + ([msg2] if msg2 else []))
    return Condition(name, not failed, detail, data_tag(X), failed)


def _progression(orders: set, n: int, max_order: int) -> Optional[tuple]:
    """The first ``n`` orders ``l_1 + i·r`` (smallest step, then smallest start) all in ``orders``."""
    for step in range(1, max_order + 1):
        for start in range(0, max_order + 1):
            seq = tuple(start + i * step for i in range(n))
            if all(k in orders for k in seq):
                return seq
    return None


def assumption2(activation: Activation, n: int, *, order: int = 8) -> Condition:
    """Assumption 2: σ real analytic with ``σ^(l_i)(0) ≠ 0`` for ``n`` orders ``l_1 < … < l_n``
    in arithmetic progression.

    Decided exactly for polynomials (their non-zero coefficients) and for the named
    activations (``activations.ANALYTIC`` and ``NONZERO_DERIVATIVES``: tanh, (shifted)
    sigmoid use the odd orders, softplus the even ones; ReLU, leaky ReLU and ELU are not
    analytic). For another callable, analyticity cannot be known: the derivatives up to
    ``order`` (nested autodiff) are reported and ``holds`` is None (False when they show
    no progression of 3 or more terms).

    Returns:
      A ``Condition``; ``value`` is ``(l_1, …, l_n)`` when it holds.
    """
    n = validate.integer(n, "n", low=1)
    order = validate.integer(order, "order", low=1)
    get_activation(activation)  # an unknown name is an error, not a failed condition
    name = "Assumption 2 (σ real analytic, n derivative orders at 0 in arithmetic progression)"
    n = int(n)
    if n < 1:
        raise ValueError(f"n: expected the number of samples (>= 1), got {n}")
    label = activation_name(activation)
    data = f"n = {n}"
    if is_analytic(activation) is False:
        return Condition(name, False, f"Assumption 2 needs a real-analytic σ; {label!r} is not analytic at 0", data)
    coeffs = polynomial_coefficients(activation)
    if coeffs is not None:
        nz = {k for k, a in enumerate(coeffs) if a != 0}
        seq = _progression(nz, n, len(coeffs)) if n <= len(nz) else None
        if seq is None:
            return Condition(name, False, f"Assumption 2 fails for {label!r}: its non-zero derivatives at 0 are of orders "
                             f"{sorted(nz)}, which hold no arithmetic sequence of n={n} orders (dim* is finite: use "
                             f"p_i >= dim*, Theorem 3)", data)
        step = seq[1] - seq[0] if n > 1 else 1
        return Condition(name, True, f"polynomial: σ^(k)(0) ≠ 0 for k in {sorted(nz)}; l_i = {seq[0]} + {step}·(i−1)", data, seq)
    if isinstance(activation, str) and activation in NONZERO_DERIVATIVES:
        parity = NONZERO_DERIVATIVES[activation]
        start = 1 if parity == "odd" else 0
        seq = tuple(range(start, start + 2 * n, 2))
        return Condition(name, True, f"σ^(k)(0) ≠ 0 for every {parity} k (the Taylor series of {label} at 0): "
                         f"l_i = {start} + 2(i−1)", data, seq)
    d = derivatives_at_zero(activation, order)
    nz = {k for k, v in enumerate(d) if abs(v) > 1e-8 * max(1.0, np.abs(d).max())}
    # a progression start + k·step that is non-zero at every order it reaches up to `order` (3 terms at least)
    seen = next(((start, step) for step in range(1, order // 2 + 1) for start in range(step + 1)
                 if len(range(start, order + 1, step)) >= 3 and all(k in nz for k in range(start, order + 1, step))), None)
    derivs = f"σ^(k)(0), k = 0..{order}: {np.round(d, 6).tolist()}"
    if seen is None:
        return Condition(name, False, f"Assumption 2 fails for {label!r}: {derivs} hold no arithmetic progression "
                         "of non-zero derivatives", data)
    return Condition(name, None, f"cannot check Assumption 2 for {label!r}: analyticity of a callable is not known; {derivs} "
                     f"are non-zero at l_i = {seen[0]} + {seen[1]}·i up to order {order}; pass assume_analytic=True if σ is "
                     f"real analytic with n={n} non-zero derivatives at 0 in arithmetic progression", data)


def remark2(net: MLP, X, masks=None) -> Condition:
    """Remark 2 (and Theorem 5): every output neuron is connected to at least ``n`` neurons of
    the last hidden layer; Theorem 6 shows that fewer can leave spurious valleys.
    ``value``: the smallest number of connections of an output."""
    name = "every output connected to ≥ n last-hidden neurons (Remark 2)"
    conn = _layers(net, masks)[-1].sum(axis=1)
    X = _data(net, X)
    if X is None:
        return Condition(name, None, f"connections per output: min {int(conn.min())}, max {int(conn.max())}; no data "
                         "given (n unknown)", NO_DATA, int(conn.min()))
    n = X.shape[1]
    return Condition(name, bool(conn.min() >= n),
                     f"connections per output: min {int(conn.min())}, max {int(conn.max())}; n = {n}",
                     data_tag(X), int(conn.min()))


def rank_check(net: MLP, X, masks=None, *, n_draws: int = 100, key=None, rtol: float = 1e-10) -> Condition:
    """Theorem 4's ``rank σ(W̃X) = n``, by sampling: ``n_draws`` first layers ``W̃`` from the
    network's initialisation (PyTorch's default, masked; float64) and the numerical rank
    (``rtol``) of each ``σ(W̃X)``. Under Assumptions 1, 2 and ``p ≥ n`` all of them should
    be ``n`` (almost surely). ``value``: the ``n_draws`` ranks.
    """
    name = "rank σ(W̃X) = n for random W̃ (Theorem 4)"
    X = _data(net, X)
    if X is None:
        return Condition(name, None, "no data given", NO_DATA)
    masks = nets.dense_masks(net) if masks is None else masks
    _layers(net, masks)
    key = jax.random.key(0) if key is None else key
    with jax.enable_x64(True):
        Xd = jnp.asarray(X, jnp.float64)

        def first_hidden(k):
            return nets.hidden_outputs(net, nets.init(k, net, masks, dtype=jnp.float64), Xd, masks)[0]

        H = np.asarray(jax.vmap(first_hidden)(jax.random.split(key, n_draws)))
    ranks = tuple(numerical_rank(h, rtol) for h in H)
    n = X.shape[1]
    full = sum(r == n for r in ranks)
    seen = {int(r): ranks.count(r) for r in sorted(set(ranks))}
    return Condition(name, full == n_draws, f"{full} of {n_draws} draws give rank n = {n} (ranks seen: {seen}; "
                     f"rtol {rtol:g})", data_tag(X), ranks, evidence="sampled")


# ============================================================================= Theorems 1-6


def _assumption2_on(net: MLP, X) -> Condition:
    """Assumption 2 with ``n`` from ``X`` (undecided without data)."""
    if X is None:
        return Condition("Assumption 2 (σ real analytic, n derivative orders at 0 in arithmetic progression)", None,
                         "no data given (n unknown)", NO_DATA)
    return assumption2(net.activation, int(np.shape(X)[1]))


def theorem1_conditions(net: MLP, X, Y=None, masks=None, *, tol: float = ZZ_TOL) -> Check:
    """Theorem 1: an effective two-layer SD linear net has no spurious valleys under one of
    1) ``p_i ≥ d_i``, 2) ``Z_i Z_jᵀ = 0`` (``orthogonal_patterns``, ``tol``), 3) ``d_y = 1``."""
    return Check("Theorem 1", "no spurious valleys (effective SD linear net)",
                 (two_layer(net), linear_activation(net), dense_final_layer(net, masks), effective(net, masks)),
                 (pattern_widths(net, masks), orthogonal_patterns(net, X, masks, tol=tol), scalar_output(net, Y)))


def theorem2_conditions(net: MLP, X, Y=None, masks=None) -> Check:
    """Theorem 2: an effective deep linear net with a sparse first layer has no spurious valleys
    under one of 1) only the first layer sparse and ``p_i ≥ d_i``, 2) ``d_y = 1`` (any layer sparse).
    ``X`` is not needed (kept for the common argument order)."""
    return Check("Theorem 2", "no spurious valleys (effective deep linear net)",
                 (linear_activation(net), effective(net, masks)),
                 (first_layer_only_sparse(net, masks), scalar_output(net, Y)))


def theorem3_conditions(net: MLP, X, masks=None) -> Check:
    """Theorem 3: an effective two-layer SD net with ``dim*(σ, X) < ∞`` has no spurious valleys if
    ``p_i ≥ dim*(σ, Z_i)``. On ``n`` samples ``dim*(σ, X) ≤ n`` for every σ, so the finiteness
    condition always holds and is not listed; for a non-polynomial σ (tanh: ``dim* = n``) the
    widths condition asks ``p_i ≥ n`` of every pattern, for a polynomial ``p_i ≥ rank φ(Z_i)``."""
    return Check("Theorem 3", "no spurious valleys (effective SD net, p_i ≥ dim*(σ, Z_i))",
                 (two_layer(net), dense_final_layer(net, masks), effective(net, masks), dim_star_widths(net, X, masks)))


def theorem4_conditions(net: MLP, X, masks=None) -> Check:
    """Theorem 4: under Assumptions 1-2 and ``p ≥ n``, ``rank σ(W̃X) = n`` a.s. and an effective
    two-layer SD net has no spurious valleys."""
    return Check("Theorem 4", "rank σ(W̃X) = n a.s. and no spurious valleys (effective two-layer SD net)",
                 (two_layer(net), dense_final_layer(net, masks), effective(net, masks), wide_last_hidden(net, X),
                  assumption1(X, masks), _assumption2_on(net, X)))


def theorem5_conditions(net: MLP, X, masks=None) -> Check:
    """Theorem 5: under Assumptions 1-2, an effective deep net has no spurious valleys with
    non-empty interior if the last hidden width ``p ≥ n`` and every output has ``≥ n``
    connections (Remark 2)."""
    return Check("Theorem 5", "no spurious valleys with non-empty interior (effective deep net)",
                 (effective(net, masks), wide_last_hidden(net, X), remark2(net, X, masks), assumption1(X, masks),
                  _assumption2_on(net, X)))


def theorem6_conditions(net: MLP, X, masks=None, *, dtype=jnp.float32) -> Check:
    """Theorem 6 (a warning, not a guarantee): an SS net whose final layer has a row with fewer
    than ``n`` connections (Remark 2 fails), with ``σ(0) = 0``, ``σ ≢ 0`` and hidden width
    ``≥ 3``, is in the situation where the paper constructs spurious valleys. A dense, SD or
    DS net is never reported as a Theorem 6 case."""
    r2 = remark2(net, X, masks)
    few = Condition("a final-layer row with < n connections (Remark 2 fails)",
                    None if r2.holds is None else not r2.holds, r2.detail, r2.data, r2.value)
    return Check("Theorem 6", "spurious valleys can exist (SS situation): the guarantees above do not cover this net",
                 (ss_network(net, masks), few, theorem6_activation(net, dtype=dtype), hidden_width_three(net)),
                 warning=True)
