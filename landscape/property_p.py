"""Property P (Definition 4): explicit non-increasing paths to the infimum.

Each constructor follows a proof of the paper, most of them for two-layer sparse-dense (SD)
networks ``f(X) = U σ(W̃ X)`` (``W̃ = W ⊙ M`` sparse ``(p, d_x)``, ``U`` dense
``(d_y, p)``, no bias: a bias is a row of ones in ``X``), takes any starting
point that meets the theorem's conditions and returns a ``paths.Path`` whose
segments are straight lines:

* ``lemma1(U, W)``: ``U⁰`` with ``p − r`` zero columns and ``U⁰W = UW``;
* ``lemma2_path``: the segment to the minimiser over ``U`` (a convex piece);
* ``theorem1_path``: SD *linear* nets, case 1 ``p_i ≥ d_i``, case 2
  ``Z_i Z_jᵀ = 0``, case 3 ``d_y = 1`` (Appendix B.1);
* ``theorem2_path``: deep linear nets (Appendix B.2), case 1 only the first
  layer sparse with ``p_i ≥ d_i``, case 2 ``d_y = 1`` with all layers sparse;
* ``theorem3_path``: SD nets with a polynomial σ (any degree and coefficients),
  ``p_i ≥ dim*(σ, Z_i)`` (Appendix C.1): Lemma 1 / Lemma 2 moves in the lifted
  linear problem ``σ(wᵀz) = ⟨ψ(w), φ(z)⟩`` until ``ψ(W̃)`` has full column rank,
  then the convex segment in ``U`` to the infimum;
* ``theorem4_path``: SD nets with real-analytic σ (Assumptions 1, 2), ``p ≥ n``
  (Appendix C.2): loss-invariant moves until ``σ(W̃X)`` has rank ``n``, then
  the convex segment in ``U`` to zero loss;
* ``theorem5_path``: deep sparse nets, last hidden width ``p ≥ n``, every output
  with ``≥ n`` connections (Appendix C.3): loss-invariant moves until the last
  hidden output has rank ``n`` on every output's connections (or a refusal when
  the start lies in the measure-zero set the theorem steps around), then the
  convex segment in the (sparse) final layer to zero loss.

Outside its theorem a constructor raises ``ValueError`` naming the failed
condition; the conditions are those of ``landscape.conditions`` (the same
functions ``structure_report`` shows). All linear algebra runs in float64 NumPy;
the path's points keep the dtype of the given params. Verify a path with
``paths.verify``.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg

from landscape import conditions as C
from landscape import nets, paths, structure
from landscape.activations import polynomial_coefficients
from landscape.conditions import numerical_rank
from landscape.masks import pattern_decomposition
from landscape.nets import MLP

RANK_RTOL = 1e-10
"""Relative singular-value threshold of ``numerical_rank`` for the float64 algebra here."""


# ----------------------------------------------------------------------------- helpers


def _independent_rows(A, rtol=RANK_RTOL) -> np.ndarray:
    """Indices of ``rank(A)`` linearly independent rows (QR with column pivoting on ``Aᵀ``)."""
    A = np.asarray(A, np.float64)
    r = numerical_rank(A, rtol)
    if r == 0:
        return np.zeros(0, np.int64)
    _, _, piv = linalg.qr(A.T, mode="economic", pivoting=True)
    return np.sort(piv[:r])


def _sd_parts(theorem: str, net: MLP, params, X, Y, masks):
    """Checks a two-layer SD net and returns float64 ``(W̃, U, M, X, Y)``."""
    C.require(C.two_layer(net), "net", theorem)
    if net.bias:
        raise ValueError(f"net: {theorem} is stated without biases; append a row of ones to X instead of bias=True")
    nets.check_params(net, params)
    X, Y = nets.check_data(net, X, Y)
    masks = nets.dense_masks(net) if masks is None else nets.check_masks(net, masks)
    C.require(C.dense_final_layer(net, masks), "masks", theorem)
    M1 = np.asarray(masks[0]["W"])
    W = np.where(M1 != 0, np.asarray(params[0]["W"], np.float64), 0.0)
    U = np.asarray(params[1]["W"], np.float64)
    return W, U, M1.astype(np.float64), np.asarray(X, np.float64), np.asarray(Y, np.float64)


def _params(W, U, like):
    dtype = like[0]["W"].dtype
    return ({"W": jnp.asarray(W, dtype)}, {"W": jnp.asarray(U, dtype)})


def _projection_residual(Y, A) -> np.ndarray:
    """``Y − Y A⁺A``: the part of ``Y``'s rows outside the row space of ``A``."""
    if A.shape[0] == 0:
        return Y
    coef = np.linalg.lstsq(A.T, Y.T, rcond=None)[0]
    return Y - coef.T @ A


class _Builder:
    """Collects breakpoints, skipping segments that do not move."""

    def __init__(self, W, U):
        self.points, self.labels = [(W.copy(), U.copy())], []

    def add(self, W, U, label):
        W0, U0 = self.points[-1]
        if np.array_equal(W, W0) and np.array_equal(U, U0):
            return
        self.points.append((W.copy(), U.copy()))
        self.labels.append(label)

    def path(self, net, like, X, Y, masks, infimum, theorem):
        pts = [_params(W, U, like) for W, U in self.points]
        if len(pts) == 1:  # already at the end: a constant segment
            pts.append(pts[0])
            self.labels.append("already at the minimiser")
        dtype = like[0]["W"].dtype
        return paths.from_points(net, pts, self.labels, jnp.asarray(X, dtype), jnp.asarray(Y, dtype), masks,
                                 infimum=infimum, theorem=theorem)


# ----------------------------------------------------------------------------- lemmas


def lemma1(U, W, *, rtol: float = RANK_RTOL) -> tuple:
    """Lemma 1: ``U⁰`` with ``p − r`` zero columns and ``U⁰ W = U W``.

    Writes ``W = [W_B; W_D]`` with ``W_B`` ``r = rank(W)`` independent rows and
    ``W_D = Q W_B``; then ``U⁰ = (U_B + U_D Q, 0)``.

    Args:
      U: ``(m, p)``.  W: ``(p, n)``.
      rtol: relative singular-value threshold deciding ``rank(W)``.

    Returns:
      ``(U0, basis)``: ``U0`` ``(m, p)`` (zero outside the columns ``basis``)
      and the ``r`` indices of the independent rows of ``W``.
    """
    U = np.asarray(U, np.float64)
    W = np.asarray(W, np.float64)
    if U.ndim != 2 or W.ndim != 2 or U.shape[1] != W.shape[0]:
        raise ValueError(f"U, W: expected shapes (m, p) and (p, n), got {U.shape} and {W.shape}")
    basis = _independent_rows(W, rtol)
    dep = np.setdiff1d(np.arange(W.shape[0]), basis)
    U0 = np.zeros_like(U)
    if basis.size:
        Q = np.linalg.lstsq(W[basis].T, W[dep].T, rcond=None)[0].T  # W_D ≈ Q W_B, (|D|, r)
        U0[:, basis] = U[:, basis] + U[:, dep] @ Q
    return U0, basis


def _hidden(W, X, sigma):
    return np.asarray(sigma(jnp.asarray(W @ X, jnp.float64)), np.float64)


def lemma2_path(net: MLP, params, X, Y, masks=None) -> paths.Path:
    """Lemma 2: the straight segment from ``U`` to ``U* = Y H⁺`` (``H = σ(W̃X)``).

    The loss is convex in ``U``, so it never rises along the segment; the end is
    the minimum over ``U`` with ``W̃`` fixed (``path.infimum``).
    """
    W, U, _, X64, Y64 = _sd_parts("Lemma 2", net, params, X, Y, masks)
    H = _hidden(W, X64, net.sigma)
    U_star = np.linalg.lstsq(H.T, Y64.T, rcond=None)[0].T
    inf = 0.5 * float(np.sum(_projection_residual(Y64, H) ** 2))
    b = _Builder(W, U)
    b.add(W, U_star, "Lemma 2: U -> Y H+ (convex in U)")
    return b.path(net, params, X64, Y64, masks, inf, "Lemma 2")


# ----------------------------------------------------------------------------- Theorem 1


def _pick_case(theorem: str, check: C.Check, case: Optional[int], order: tuple) -> int:
    """The case to build: ``case`` if its condition holds, else the first of ``order`` that holds.

    Raises:
      ValueError: ``case`` is not a case number or its condition fails, or no condition holds.
    """
    cases = dict(enumerate(check.any_of, 1))
    if case is None:
        case = next((k for k in order if cases[k].holds), None)
        if case is None:
            raise ValueError(f"masks: no condition of {theorem} holds: "
                             + "; ".join(f"{k}) {c.detail}" for k, c in cases.items()))
    if case not in cases:
        raise ValueError(f"case: expected {', '.join(map(str, cases))} or None, got {case!r}")
    C.require(cases[case], "case", f"{theorem} case {case}")
    return case


def _linear_infimum_case12(X, Y, dec):
    """Infimum of an SD linear net whose groups satisfy case 1 or case 2.

    Case 1: ``½‖Y − Y P‖²`` (``P`` = projector on the row space of the used rows of ``X``).
    Case 2 adds, per group, the Eckart–Young tail ``½ Σ_{k > p_i} σ_k(Y Q_iᵀ)²``
    (``Q_i`` an orthonormal basis of the row space of ``Z_i``).
    """
    used = np.flatnonzero(dec.patterns.any(axis=0)) if dec.s else np.zeros(0, int)
    inf = 0.5 * float(np.sum(_projection_residual(Y, X[used]) ** 2))
    for i in range(dec.s):
        Z = np.asarray(dec.Z[i], np.float64)
        r = numerical_rank(Z, RANK_RTOL)
        if r == 0 or dec.p[i] >= r:
            continue
        _, _, Vt = np.linalg.svd(Z, full_matrices=False)
        sv = np.linalg.svd(Y @ Vt[:r].T, compute_uv=False)
        inf += 0.5 * float(np.sum(sv[dec.p[i]:] ** 2))
    return inf


def theorem1_path(net: MLP, params, X, Y, masks=None, *, case: Optional[int] = None, max_rounds: int = 5000,
                  tol: float = 1e-11) -> paths.Path:
    """Theorem 1: a non-increasing path to the infimum for an SD linear net.

    Args:
      net: a two-layer linear ``MLP`` without bias.
      params: the starting point.
      X, Y: data ``(d_x, n)`` and targets ``(d_y, n)``.
      masks: first layer sparse, final layer dense.
      case: 1 (``p_i ≥ d_i``), 2 (``Z_i Z_jᵀ = 0``) or 3 (``d_y = 1``); ``None``
        picks the first that holds, in the order 1, 3, 2.
      max_rounds, tol: case 2 only (see below).

    Case 1 follows B.1: Lemma 1 then a rank-completing segment in ``W_i`` (loss
    invariant) for every group with ``rank W_i < d_i``, then Lemma 2 in ``U``.
    Case 3 follows B.1: units with ``u_j = 0`` get ``w_j → 0`` then ``u_j → 1``
    (loss invariant), then one segment to the minimiser over ``W̃`` (convex).
    Case 2: the proof cites [44, Thm 11] for each separated dense linear net;
    this builds instead alternating exact minimisations in ``U`` and in ``W̃``
    (each a Lemma 2 segment, so the loss never rises) until the loss is within
    ``tol · max(L(0), 1)`` of the closed-form (Eckart–Young) infimum, or raises
    after ``max_rounds`` rounds.

    Returns:
      A ``paths.Path`` with ``infimum`` set (computed in closed form from
      ``X``, ``Y`` and the mask, not from the path).

    Raises:
      ValueError: naming the condition that fails.
    """
    name = "Theorem 1"
    C.require(C.linear_activation(net), "net", name)
    W, U, M, X64, Y64 = _sd_parts(name, net, params, X, Y, masks)
    case = _pick_case(name, C.theorem1_conditions(net, X64, Y64, masks), case, (1, 3, 2))
    builder = {1: _case1, 2: _case2, 3: _case3}[case]
    return builder(net, params, W, U, M, X64, Y64, masks, max_rounds=max_rounds, tol=tol)


def _complete_groups(W, U, dec):
    """Loss-invariant rank completion of every ``W_i`` (B.1, case 1).

    Lemma 1 on ``(U_{S_i}, W_i)`` zeroes the columns of ``U`` of the dependent
    rows of ``W_i``; those rows are then free and become an orthonormal basis of
    the complement of the row space of ``W_i`` (scaled like ``W_i``), so
    ``rank W_i = min(p_i, d_i)``.

    Returns:
      ``(W0, U0)``: ``U0 W X = U W X``, and ``W0`` differs from ``W`` only in rows
      whose ``U0`` columns are zero.
    """
    U0, W0 = U.copy(), W.copy()
    for i, rows in enumerate(dec.groups):
        cols = np.flatnonzero(dec.patterns[i])
        Wi = W[np.ix_(rows, cols)]
        Ui0, basis = lemma1(U[:, rows], Wi)
        r = basis.size
        n_new = min(rows.size, cols.size) - r
        if n_new <= 0:
            continue  # W_i already has full rank
        U0[:, rows] = Ui0
        dep = np.setdiff1d(np.arange(rows.size), basis)
        comp = linalg.null_space(Wi[basis]) if r else np.eye(cols.size)  # (d_i, d_i − r), orthonormal
        scale = float(np.linalg.norm(Wi) / np.sqrt(max(rows.size, 1))) or 1.0
        Wi0 = Wi.copy()
        Wi0[dep[:n_new]] = scale * comp[:, :n_new].T
        W0[np.ix_(rows, cols)] = Wi0
    return W0, U0


def _case1(net, params, W, U, M, X, Y, masks, **_):
    dec = pattern_decomposition(M, X)
    b = _Builder(W, U)
    W0, U0 = _complete_groups(W, U, dec)
    b.add(W, U0, "Lemma 1: U -> U0 (zero columns for dependent rows of W_i; UW kept)")
    b.add(W0, U0, "W_i -> full column rank (rows with zero U0 columns; loss kept)")
    H = W0 @ X
    U_star = np.linalg.lstsq(H.T, Y.T, rcond=None)[0].T
    b.add(W0, U_star, "Lemma 2: U0 -> U* = Y H+ (convex in U)")
    return b.path(net, params, X, Y, masks, _linear_infimum_case12(X, Y, dec), "Theorem 1 case 1")


def _w_step(U, M, X, Y):
    """The minimiser over the free entries of ``W̃`` of ``½‖U W̃ X − Y‖²`` (linear σ)."""
    rows, cols = np.nonzero(M)
    # d vec(F)/d W_jk = U[:, j] ⊗ X[k, :]  -> design matrix (d_y n, n_free)
    A = (U[:, rows][:, None, :] * X[cols].T[None, :, :]).reshape(-1, rows.size)
    w = np.linalg.lstsq(A, Y.reshape(-1), rcond=None)[0]
    W = np.zeros_like(M)
    W[rows, cols] = w
    return W


def _case3(net, params, W, U, M, X, Y, masks, **_):
    b = _Builder(W, U)
    units = np.flatnonzero(M.any(axis=1))
    dead = units[U[0, units] == 0]
    W1, U1 = W.copy(), U.copy()
    W1[dead] = 0.0
    b.add(W1, U1, "w_j -> 0 where u_j = 0 (loss kept)")
    U1[0, dead] = 1.0
    b.add(W1, U1, "u_j: 0 -> 1 where w_j = 0 (loss kept)")
    W_star = _w_step(U1, M, X, Y)
    b.add(W_star, U1, "Lemma 2: W -> W* (convex in W for fixed u with u_j != 0)")
    used = np.flatnonzero(M.any(axis=0))
    inf = 0.5 * float(np.sum(_projection_residual(Y, X[used]) ** 2))
    return b.path(net, params, X, Y, masks, inf, "Theorem 1 case 3")


def _case2(net, params, W, U, M, X, Y, masks, *, max_rounds, tol):
    dec = pattern_decomposition(M, X)
    inf = _linear_infimum_case12(X, Y, dec)
    b = _Builder(W, U)
    # a rank-deficient W_i is a saddle where alternating minimisation stalls: complete it first (loss kept)
    W0, U0 = _complete_groups(W, U, dec)
    b.add(W, U0, "Lemma 1: U -> U0 (zero columns for dependent rows of W_i; UW kept)")
    b.add(W0, U0, "W_i -> rank min(p_i, d_i) (rows with zero U0 columns; loss kept)")
    W, U = W0, U0
    loss = lambda W_, U_: 0.5 * float(np.sum((U_ @ W_ @ X - Y) ** 2))  # noqa: E731
    goal = tol * max(loss(W, U), 1.0)
    for _ in range(max_rounds):
        H = W @ X
        U = np.linalg.lstsq(H.T, Y.T, rcond=None)[0].T
        b.add(W, U, "Lemma 2: U -> argmin_U (convex in U)")
        if loss(W, U) - inf <= goal:
            break
        W = _w_step(U, M, X, Y)
        b.add(W, U, "Lemma 2: W -> argmin_W (convex in W)")
        if loss(W, U) - inf <= goal:
            break
    else:
        raise ValueError(f"max_rounds: alternating minimisation did not reach the infimum {inf:.6g} within "
                         f"{max_rounds} rounds (loss {loss(W, U):.6g}); raise max_rounds")
    return b.path(net, params, X, Y, masks, inf, "Theorem 1 case 2")


# ----------------------------------------------------------------------------- Theorem 3 (polynomial σ)


def _normalised_rows(A) -> np.ndarray:
    """``A`` with every non-zero row scaled to unit norm (zero rows dropped): same row space, better conditioned."""
    norms = np.linalg.norm(A, axis=1)
    return A[norms > 0] / norms[norms > 0, None]


def theorem3_path(net: MLP, params, X, Y, masks=None, *, key=None, rtol: float = C.DIM_STAR_RTOL,
                  max_draws: int = 20) -> paths.Path:
    """Theorem 3: a non-increasing path to the infimum for a two-layer SD net with polynomial σ
    and ``p_i ≥ dim*(σ, Z_i)`` for every pattern ``i`` (Appendix C.1).

    The lift (``conditions.polynomial_lift`` / ``polynomial_features``) writes
    ``σ(W_i Z_i) = ψ(W_i) φ(Z_i)``; with ``B_i`` ``(r_i, n)`` an orthonormal basis of the row space
    of ``φ(Z_i)`` (``r_i = dim*(σ, Z_i)``) and ``Ψ_i = ψ(W_i) φ(Z_i) B_iᵀ`` ``(p_i, r_i)``, the net is
    the linear problem ``Σ_i U_i Ψ_i B_i`` in the lifted weights. The path, mapped back to ``(W̃, U)``:

    1. Lemma 1 on ``(U_i, Ψ_i)`` for every group with ``rank Ψ_i < r_i``: the columns of ``U_i`` of
       the dependent rows become zero, ``U_i⁰ Ψ_i = U_i Ψ_i`` (output kept);
    2. those rows of ``W_i`` (their ``U`` columns are zero, so the output is kept whatever they do)
       move on one segment to random rows (``N(0, I)`` on the pattern, scaled to
       ``rms(wᵀZ_i)`` log-uniform in ``[1/2, 2]``) that give ``rank Ψ_i = r_i``, i.e. ``ψ(W̃)`` full column rank
       (almost surely; redrawn otherwise);
    3. Lemma 2: the convex segment ``U → Y σ(W̃X)⁺``.

    The end is the infimum ``½‖Y − Y Π‖²``, ``Π`` the projector on ``Σ_i rowspace φ(Z_i)`` (every
    output row lies in that space, and a full-rank ``ψ(W̃)`` reaches all of it); it is computed from
    ``X``, ``Y``, the mask and σ's coefficients only, and is zero when that space is ``Rⁿ``.

    Args:
      net: two-layer ``MLP`` without bias, polynomial σ (``"quadratic"``, ``"cubic"``,
        ``activations.polynomial(coeffs)``: any degree and coefficients).
      params, X, Y, masks: the starting point, data ``(d_x, n)``, targets ``(d_y, n)``, masks
        (first layer sparse, final layer dense).
      key: PRNG key for the new rows (default ``jax.random.key(0)``).
      rtol: rank resolution for ``r_i`` and ``rank Ψ_i`` (that of ``conditions.dim_star``).
      max_draws: redraws before giving up.

    Returns:
      A ``paths.Path`` with ``infimum`` set.

    Raises:
      ValueError: naming the failed condition (depth, bias, SD, σ polynomial, effective,
        ``p_i ≥ dim*(σ, Z_i)``), or no full-rank redraw in ``max_draws``.
    """
    name = "Theorem 3"
    W, U, M, X64, Y64 = _sd_parts(name, net, params, X, Y, masks)
    C.require(C.polynomial_activation(net), "net", name)
    for cond in C.theorem3_conditions(net, X64, masks).required:
        C.require(cond, "masks", name)
    coeffs = polynomial_coefficients(net.activation)
    dec = pattern_decomposition(M, X64)
    key = jax.random.key(0) if key is None else key
    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel().tolist())
    lifted_rank = lambda Psi: numerical_rank(_normalised_rows(Psi), rtol)  # noqa: E731
    U0, W1, moved, bases = U.copy(), W.copy(), [], []
    for i, rows in enumerate(dec.groups):
        cols = np.flatnonzero(dec.patterns[i])
        Z = X64[cols]
        Phi = C.polynomial_features(coeffs, Z)
        B = _row_basis(_normalised_rows(Phi), rtol)                          # (r_i, n)
        bases.append(B)
        r = B.shape[0]
        T = Phi @ B.T                                                        # ψ(w) T = coordinates of σ(wᵀZ_i) in B
        Psi = C.polynomial_lift(coeffs, W[np.ix_(rows, cols)]) @ T           # (p_i, r_i)
        if lifted_rank(Psi) >= r:
            continue
        # Lemma 1 on row-normalised Ψ_i (dependencies do not change with row scales): U Ψ = (U D⁻¹)(D Ψ)
        scale = np.linalg.norm(Psi, axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        Ui0, basis = lemma1(U[:, rows] / scale, Psi / scale[:, None], rtol=rtol)
        U0[:, rows] = Ui0 * scale
        free = rows[np.setdiff1d(np.arange(rows.size), basis)]
        for _ in range(max_draws):
            G = rng.standard_normal((free.size, cols.size))
            # rms(wᵀZ_i) log-uniform in [1/2, 2]: a random scale as well as a random direction, since a
            # fixed scale would pin the degrees of a non-homogeneous σ together (d_i = 1: only w = ±c)
            G *= np.exp(rng.uniform(np.log(0.5), np.log(2.0), (free.size, 1))) / np.sqrt(
                np.mean((G @ Z) ** 2, axis=1, keepdims=True))
            Wi = W1[np.ix_(rows, cols)].copy()
            Wi[np.isin(rows, free)] = G
            if lifted_rank(C.polynomial_lift(coeffs, Wi) @ T) == r:
                W1[np.ix_(rows, cols)] = Wi
                moved.append(i)
                break
        else:
            raise ValueError(f"max_draws: no redraw of the {free.size} free rows of group {i} gave rank ψ(W_i) = "
                             f"dim* = {r} in {max_draws} draws")
    b = _Builder(W, U)
    b.add(W, U0, "Lemma 1 (lifted): U_i -> U_i0, zero columns for dependent rows of ψ(W_i) (output kept)")
    b.add(W1, U0, f"free rows of W_i -> new rows, ψ(W̃) full column rank (zero U columns; loss kept; groups {moved})")
    H = _hidden(W1, X64, net.sigma)
    U_star = np.linalg.lstsq(H.T, Y64.T, rcond=None)[0].T
    b.add(W1, U_star, "Lemma 2: U -> Y σ(W̃X)+ (convex in U)")
    span = _row_basis(np.concatenate(bases, axis=0), rtol) if bases else np.zeros((0, X64.shape[1]))
    inf = 0.5 * float(np.sum((Y64 - (Y64 @ span.T) @ span) ** 2))
    return b.path(net, params, X64, Y64, masks, inf, name)


# ----------------------------------------------------------------------------- Theorem 4

def theorem4_path(net: MLP, params, X, Y, masks=None, *, key=None, assume_analytic: bool = False,
                  rtol: float = 1e-8, max_draws: int = 20) -> paths.Path:
    """Theorem 4: a non-increasing path to zero loss for a two-layer SD net with ``p ≥ n``.

    Follows C.2: if ``H = σ(W̃X)`` has rank ``r < n``, Lemma 1 on ``(U, H)``
    zeroes the ``p − r`` columns of ``U`` of dependent rows of ``H``; those
    rows of ``W̃`` are then free (loss kept) and move, on one segment, to a
    random draw (PyTorch's init, masked) that makes ``rank σ(W̃'X) = n``
    (almost surely, by Theorem 4; redrawn otherwise); a last segment in ``U``
    (Lemma 2) reaches ``U'' = Y σ(W̃'X)⁺`` with zero loss.

    Args:
      net: two-layer ``MLP`` without bias, real-analytic activation.
      params, X, Y, masks: starting point, data, masks (final layer dense).
      key: PRNG key for the redraw (default ``jax.random.key(0)``).
      assume_analytic: skip the Assumption 2 check (for callables).
      rtol: ``rank = n`` means ``σ_min(H) > rtol · σ_max(H)``.
      max_draws: redraws before giving up.

    Raises:
      ValueError: naming the failed condition (depth, SD, ``p ≥ n``, Assumption 1 or 2).
    """
    name = "Theorem 4"
    W, U, M, X64, Y64 = _sd_parts(name, net, params, X, Y, masks)
    p, n = W.shape[0], X64.shape[1]
    C.require(C.wide_last_hidden(net, X64), "net", name)
    a1 = C.assumption1(X64, masks)
    C.require(a1, "X" if 1 in (a1.value or ()) else "masks", name)
    if not assume_analytic:
        C.require(C.assumption2(net.activation, n), "activation", name)
    sigma = net.sigma
    key = jax.random.key(0) if key is None else key
    H = _hidden(W, X64, sigma)
    b = _Builder(W, U)
    full = lambda H_: numerical_rank(H_, rtol) == n  # noqa: E731
    if not full(H):
        U0, basis = lemma1(U, H, rtol=rtol)
        b.add(W, U0, "Lemma 1: U -> U0 (zero columns for dependent rows of σ(WX); output kept)")
        dep = np.setdiff1d(np.arange(p), basis)
        for draw in range(max_draws):
            fresh = np.asarray(nets.init(jax.random.fold_in(key, draw), net, dtype=jnp.result_type(float))[0]["W"]) * M
            W1 = W.copy()
            W1[dep] = fresh[dep]
            H = _hidden(W1, X64, sigma)
            if full(H):
                break
        else:
            raise ValueError(f"max_draws: no redraw of {dep.size} free rows gave rank σ(WX) = n={n} in {max_draws} draws "
                             "(Assumption 1 or 2 may fail numerically for these data)")
        W, U = W1, U0
        b.add(W, U, "free rows of W -> random draw, rank σ(WX) = n (zero U columns; loss kept)")
    U_star = np.linalg.lstsq(H.T, Y64.T, rcond=None)[0].T
    b.add(W, U_star, "Lemma 2: U -> Y σ(WX)+ (convex in U, zero loss)")
    return b.path(net, params, X64, Y64, masks, 0.0, "Theorem 4")


# ----------------------------------------------------------------------------- Theorem 2 (deep linear)


class _ChainBuilder:
    """Collects breakpoints of a deep net given as a list of weight matrices."""

    def __init__(self, Ms):
        self.points, self.labels = [[M.copy() for M in Ms]], []

    def add(self, Ms, label):
        if all(np.array_equal(a, b) for a, b in zip(Ms, self.points[-1])):
            return
        self.points.append([M.copy() for M in Ms])
        self.labels.append(label)

    def path(self, net, like, X, Y, masks, infimum, theorem):
        dtype = like[0]["W"].dtype
        pts = [tuple({"W": jnp.asarray(M, dtype)} for M in Ms) for Ms in self.points]
        labels = list(self.labels)
        if len(pts) == 1:
            pts.append(pts[0])
            labels.append("already at the minimiser")
        return paths.from_points(net, pts, labels, jnp.asarray(X, dtype), jnp.asarray(Y, dtype), masks,
                                 infimum=infimum, theorem=theorem)


def _deep_parts(theorem: str, net: MLP, params, X, Y, masks):
    """Checks a deep linear net without bias; returns float64 ``(Ms, Ks, X, Y)`` (weights and masks)."""
    C.require(C.linear_activation(net), "net", theorem)
    if net.depth < 2:
        raise ValueError(f"net: {theorem} needs at least one hidden layer, got depth {net.depth}")
    if net.bias:
        raise ValueError(f"net: {theorem} is stated without biases; append a row of ones to X instead of bias=True")
    nets.check_params(net, params)
    X, Y = nets.check_data(net, X, Y)
    masks = nets.dense_masks(net) if masks is None else nets.check_masks(net, masks)
    Ks = [np.asarray(m["W"], np.float64) for m in masks]
    Ms = [np.where(K != 0, np.asarray(p["W"], np.float64), 0.0) for p, K in zip(params, Ks)]
    return Ms, Ks, np.asarray(X, np.float64), np.asarray(Y, np.float64)


def _chain(Ms, lo, hi, n):
    """``M_{hi-1} ⋯ M_lo`` (identity of size ``n`` when empty)."""
    P = np.eye(n)
    for M in Ms[lo:hi]:
        P = M @ P
    return P


def _row_basis(A, rtol=RANK_RTOL):
    """Orthonormal rows spanning the row space of ``A`` (``(rank, n)``)."""
    r = numerical_rank(A, rtol)
    return np.linalg.svd(A, full_matrices=False)[2][:r] if r else np.zeros((0, A.shape[1]))


def _reduced_rank_infimum(Y, X_used, r):
    """``min_{rank P ≤ r} ½‖P X_used − Y‖²``: projection residual plus the Eckart–Young tail of ``Y Qᵀ``."""
    Q = _row_basis(X_used) if X_used.shape[0] else np.zeros((0, Y.shape[1]))
    inf = 0.5 * float(np.sum((Y - (Y @ Q.T) @ Q) ** 2))
    if Q.shape[0] > r:
        sv = np.linalg.svd(Y @ Q.T, compute_uv=False)
        inf += 0.5 * float(np.sum(sv[r:] ** 2))
    return inf


def theorem2_path(net: MLP, params, X, Y, masks=None, *, case: Optional[int] = None, max_rounds: int = 2000,
                  tol: float = 1e-11, zero_tol: float = 1e-12) -> paths.Path:
    """Theorem 2: a non-increasing path to the infimum for a deep linear net (Appendix B.2).

    Args:
      net: a linear ``MLP`` without bias, depth ``≥ 2``.
      params: the starting point.  X, Y: data ``(d_x, n)``, targets ``(d_y, n)``.
      masks: case 1: only the first layer sparse; case 2: any layer sparse.
      case: 1 (``p_i ≥ d_i``, first layer sparse) or 2 (``d_y = 1``, all layers
        sparse); ``None`` picks the first that holds.
      max_rounds, tol: case 1 only (see below).
      zero_tol: case 2: a coefficient ``|c_j| ≤ zero_tol · max|c|`` counts as zero.

    Case 1 follows B.2.1: Lemma 1 on ``(V_1, W_i)`` and a rank-completing
    segment make every ``W_i`` full column rank (loss kept), so ``V_1 W̃`` is an
    unconstrained ``Ṽ_1`` and what is left is a dense deep linear net. For it
    the proof cites Venturi et al. [44, Thm 11] (existence, no construction);
    this builds: loss-invariant moves (Lemma 1 on each pair of layers, then the
    freed rows re-drawn) that give every layer's features ``V_l ⋯ V_1 W̃ X`` the
    largest possible rank (so no layer is stuck at a degenerate point), then
    alternating exact minimisation over ``V_L, ..., V_1`` (each a Lemma 2
    segment: convex in one layer) until within ``tol · max(L(0), 1)`` of the
    closed-form infimum (reduced-rank regression: projection on the row space
    of the used rows of ``X`` plus the Eckart–Young tail beyond the narrowest
    hidden width); raises after ``max_rounds`` sweeps.

    Case 2 follows B.2.2: with ``c = Ṽ_L ⋯ Ṽ_1`` (``1 × p``), every ``j`` with
    ``c_j = 0`` is fixed by the proof's induction over depth (Case 1: a live
    unpruned edge above is used; Case 2: recurse into the layer above), all
    through loss-invariant straight segments; then the loss is convex in the
    first layer and one Lemma 2 segment reaches the least-squares value over the
    used rows of ``X``.

    Returns:
      A ``paths.Path`` with ``infimum`` computed in closed form from ``X``, ``Y``
      and the masks (not from the path).

    Raises:
      ValueError: naming the failed condition (linear σ, bias, depth, which
        layers are sparse, ``p_i ≥ d_i``, ``d_y = 1``, effectiveness).
    """
    name = "Theorem 2"
    Ms, Ks, X64, Y64 = _deep_parts(name, net, params, X, Y, masks)
    case = _pick_case(name, C.theorem2_conditions(net, X64, Y64, masks), case, (1, 2))
    if case == 1:
        return _thm2_case1(net, params, Ms, Ks, X64, Y64, masks, pattern_decomposition(Ks[0], X64), max_rounds, tol)
    return _thm2_case2(net, params, Ms, Ks, X64, Y64, masks, zero_tol)


def _thm2_case1(net, params, Ms, Ks, X, Y, masks, dec, max_rounds, tol):
    L = len(Ms)
    b = _ChainBuilder(Ms)
    Ms = [M.copy() for M in Ms]
    # 1) every W_i full column rank (Theorem 1 case 1 with U := V_1), loss kept
    W0, V1_0 = _complete_groups(Ms[0], Ms[1], dec)
    Ms[1] = V1_0
    b.add(Ms, "Lemma 1: V_1 -> V_1^0 (zero columns for dependent rows of W_i; output kept)")
    Ms[0] = W0
    b.add(Ms, "W_i -> full column rank (rows with zero V_1^0 columns; loss kept)")
    # 2) features of maximal rank at every layer, loss kept
    for l in range(1, L - 1):
        T_prev = _chain(Ms, 0, l, X.shape[0]) @ X          # input of layer l, (h_l, n)
        T = Ms[l] @ T_prev                                  # output of layer l, (h_{l+1}, n)
        r, r_max = numerical_rank(T, RANK_RTOL), min(T.shape[0], numerical_rank(T_prev, RANK_RTOL))
        if r >= r_max:
            continue
        U0, basis = lemma1(Ms[l + 1], T)
        Ms[l + 1] = U0
        b.add(Ms, f"Lemma 1: V_{l + 1} -> zero columns for dependent features (output kept)")
        dep = np.setdiff1d(np.arange(T.shape[0]), basis)[: r_max - r]
        Qp = _row_basis(T_prev)                             # row space available to layer l
        comp = linalg.null_space(T[basis] @ Qp.T) if r else np.eye(Qp.shape[0])
        E = (comp.T @ Qp)[: dep.size]                       # new feature directions, orthonormal
        C = np.linalg.lstsq(T_prev.T, E.T, rcond=None)[0].T  # C T_prev = E
        C *= (np.linalg.norm(Ms[l]) / np.sqrt(Ms[l].shape[0]) or 1.0) / np.linalg.norm(C, axis=1, keepdims=True)
        Ml = Ms[l].copy()
        Ml[dep] = C
        Ms[l] = Ml
        b.add(Ms, f"V_{l} rows -> new feature directions (zero columns above; loss kept)")
    # 3) alternating exact minimisation over V_L, ..., V_1 (each convex)
    used = np.flatnonzero(Ks[0].any(axis=0))
    inf = _reduced_rank_infimum(Y, X[used], min(net.sizes[1:-1]))
    loss = lambda Ms_: 0.5 * float(np.sum((_chain(Ms_, 0, L, X.shape[0]) @ X - Y) ** 2))  # noqa: E731
    goal = tol * max(loss(Ms), 1.0)
    for _ in range(max_rounds):
        for l in range(L - 1, 0, -1):
            A = _chain(Ms, l + 1, L, Ms[l].shape[0])
            B = _chain(Ms, 0, l, X.shape[0]) @ X
            Ms[l] = np.linalg.pinv(A) @ Y @ np.linalg.pinv(B)
            b.add(Ms, f"Lemma 2: V_{l} -> argmin (convex in V_{l})")
            if loss(Ms) - inf <= goal:
                return b.path(net, params, X, Y, masks, inf, "Theorem 2 case 1")
    raise ValueError(f"max_rounds: alternating minimisation did not reach the infimum {inf:.6g} within "
                     f"{max_rounds} sweeps (loss {loss(Ms):.6g}); raise max_rounds")


def _thm2_case2(net, params, Ms, Ks, X, Y, masks, zero_tol):
    L = len(Ms)
    reach = structure.reaches_output(Ks)[1:-1]  # hidden layers: units with a path to the output
    for k, ok in enumerate(reach):
        if not np.all(ok):
            raise ValueError(f"masks: Theorem 2 needs an effective network (Definition 1): units "
                             f"{np.flatnonzero(~ok).tolist()} of hidden layer {k + 1} have no path to the output")
    b = _ChainBuilder(Ms)
    Ms = [M.copy() for M in Ms]

    def coef(k):  # c^(k) = M_L ⋯ M_{k+1}: output sensitivity of the units of hidden layer k (1-based), (h_k,)
        return _chain(Ms, k, L, Ms[k].shape[1])[0]

    def is_zero(c, j):
        return abs(c[j]) <= zero_tol * max(np.max(np.abs(c)), 1e-300)

    def fix(k, j):
        """Makes c^(k)_j != 0 and row j of M_{k-1} zero, loss kept (the proof's induction)."""
        live = np.flatnonzero(Ks[k][:, j] != 0)
        c_up = coef(k + 1) if k + 1 < L else np.ones(1)
        good = [i for i in live if not is_zero(c_up, i)]
        if not good:  # the proof's Case 2: make every live unit above count, recursively
            for i in live:
                fix(k + 1, i)
            good = [live[0]]
            c_up = coef(k + 1) if k + 1 < L else np.ones(1)
        Ms[k - 1] = Ms[k - 1].copy()
        Ms[k - 1][j] = 0.0
        b.add(Ms, f"w -> 0 for unit {j} of layer {k} (its output weight is 0; loss kept)")
        col = np.zeros(Ms[k].shape[0])  # Ms[k]: (h_{k+1}, h_k), column j = the edges out of unit j
        col[good[0]] = 1.0
        Ms[k] = Ms[k].copy()
        Ms[k][:, j] = col * (Ks[k][:, j] != 0)
        b.add(Ms, f"edges out of unit {j} of layer {k} -> e_{good[0]} (its input is 0; loss kept)")

    for j in range(Ms[0].shape[0]):
        if is_zero(coef(1), j):
            fix(1, j)
    # convex in the first layer now that every c_j != 0: one Lemma 2 segment
    c = coef(1)
    Ms[0] = _w_step(c[None, :], Ks[0], X, Y)
    b.add(Ms, "Lemma 2: W -> W* (convex in W when every c_j != 0)")
    used = np.flatnonzero(Ks[0].any(axis=0))
    inf = 0.5 * float(np.sum(_projection_residual(Y, X[used]) ** 2))
    return b.path(net, params, X, Y, masks, inf, "Theorem 2 case 2")


# ----------------------------------------------------------------------------- Theorem 5 (deep sparse, analytic σ)

THEOREM5_CAVEAT = ("Theorem 5 excludes spurious valleys with non-empty interior only: its path starts where the last "
                   "hidden output has rank n for every output's connections (almost every start); from the "
                   "measure-zero rest it claims nothing, and a spurious valley with empty interior is not ruled out.")
"""What Theorem 5 does and does not say; ``property-p --case theorem5`` prints it with the verdict."""


def _features(Ms, X, sigma, upto: int) -> np.ndarray:
    """``h_upto`` (float64) of the chain ``Ms`` (``h_0 = X``)."""
    h = X
    for M in Ms[:upto]:
        h = _hidden(M, h, sigma)
    return h


def theorem5_path(net: MLP, params, X, Y, masks=None, *, key=None, assume_analytic: bool = False,
                  rtol: float = 1e-8, max_draws: int = 20) -> paths.Path:
    """Theorem 5: a non-increasing path to zero loss for a deep sparse net whose last hidden layer
    has width ``p ≥ n`` and whose every output neuron has ``≥ n`` connections (Appendix C.3).

    With ``G = h_{L−1}`` (``(p, n)``) and ``S_k`` the last-hidden neurons connected to output
    ``k``, the output is ``u_k G_{S_k}`` row by row (the proof's blocks ``U_i G_i``), and the loss
    is convex in the final layer. The path:

    1. if some ``rank G_{S_k} < n`` (the measure-zero set the proof steps around): free last-hidden
       neurons whose rows of ``G`` are dependent in every ``G_{S_k}`` they feed (greedily), move the
       final layer on one segment to ``u_k⁰`` on ``S_k`` minus the freed neurons with
       ``u_k⁰ G = u_k G`` (output kept, Lemma 1 row by row), then move the freed neurons' incoming
       weights (masked) to a random draw of the net's initialisation that gives every
       ``rank G_{S_k} = n`` (loss kept: their outgoing weights are zero). When every outgoing weight
       is freed (``U⁰ = 0``), all hidden layers are free and are redrawn together;
    2. Lemma 2 row by row: ``u_k → y_k G_{S_k}⁺`` on ``S_k``, one straight segment of the final
       layer, to zero loss.

    A start from which these moves do not reach rank ``n`` (for example a zero hidden layer below
    the last one, or two samples with equal features ``h_{L−2}``) is refused with a ``ValueError``
    saying so: Theorem 5 excludes only spurious valleys with non-empty interior
    (``THEOREM5_CAVEAT``) and makes no claim from such a start.

    Args:
      net: an ``MLP`` of depth ``≥ 2`` without bias; σ real analytic (Assumption 2).
      params, X, Y, masks: the starting point, data ``(d_x, n)``, targets ``(d_y, n)``, masks (any
        layer may be sparse; every output needs ``≥ n`` connections, Remark 2).
      key: PRNG key for the redraws (default ``jax.random.key(0)``).
      assume_analytic: accept an undecided Assumption 2 (a callable σ).
      rtol: ``rank = n`` means ``s_min > rtol · s_max``.
      max_draws: redraws before giving up.

    Returns:
      A ``paths.Path`` with ``infimum = 0``.

    Raises:
      ValueError: naming the failed condition (depth, bias, effective, ``p ≥ n``, Remark 2,
        Assumptions 1-2), or a start in the measure-zero set (see above).
    """
    name = "Theorem 5"
    if net.depth < 2:
        raise ValueError(f"net: {name} needs at least one hidden layer, got depth {net.depth}")
    if net.bias:
        raise ValueError(f"net: {name} is stated without biases; append a row of ones to X instead of bias=True")
    nets.check_params(net, params)
    X, Y = nets.check_data(net, X, Y)
    masks = nets.dense_masks(net) if masks is None else nets.check_masks(net, masks)
    X64, Y64 = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    argument = {"effective": "masks", "last hidden": "net", "every output": "masks", "Assumption 2": "activation"}
    for cond in C.theorem5_conditions(net, X64, masks).required:
        if assume_analytic and cond.name.startswith("Assumption 2") and cond.holds is None:
            continue
        arg = next((a for k, a in argument.items() if cond.name.startswith(k)), None)
        if cond.name.startswith("Assumption 1"):
            arg = "X" if 1 in (cond.value or ()) else "masks"
        C.require(cond, arg or "net", name)
    Ks = [np.asarray(m["W"], np.float64) for m in masks]
    Ms = [np.where(K != 0, np.asarray(p["W"], np.float64), 0.0) for p, K in zip(params, Ks)]
    sigma, L, n = net.sigma, net.depth, X64.shape[1]
    S = [np.flatnonzero(row) for row in Ks[-1]]                    # S_k: last-hidden neurons feeding output k
    full = lambda G: all(numerical_rank(G[s], rtol) == n for s in S)  # noqa: E731
    key = jax.random.key(0) if key is None else key
    b = _ChainBuilder(Ms)
    G = _features(Ms, X64, sigma, L - 1)
    if not full(G):
        Ms = _theorem5_reach_rank(net, Ms, Ks, X64, G, S, b, full, key, rtol, max_draws)
        G = _features(Ms, X64, sigma, L - 1)
    U_star = np.zeros_like(Ms[-1])
    for k, s in enumerate(S):
        U_star[k, s] = np.linalg.lstsq(G[s].T, Y64[k], rcond=None)[0]
    b.add(Ms[:-1] + [U_star], "Lemma 2 per output: u_k -> y_k G_{S_k}+ on S_k (convex in the final layer; zero loss)")
    return b.path(net, params, X64, Y64, masks, 0.0, name)


def _theorem5_reach_rank(net, Ms, Ks, X, G, S, b, full, key, rtol, max_draws):
    """Step 1 of ``theorem5_path``: loss-invariant moves to ``rank G_{S_k} = n`` for every output."""
    L, n, p = net.depth, X.shape[1], G.shape[0]
    rank = lambda rows: numerical_rank(G[rows], rtol) if rows.size else 0  # noqa: E731
    feeds = [np.flatnonzero(Ks[-1][:, j]) for j in range(p)]
    target = [rank(s) for s in S]
    freed = np.zeros(p, bool)
    for j in range(p):  # greedy: j can go when every output it feeds keeps its rank without it
        trial = freed.copy()
        trial[j] = True
        if all(rank(S[k][~trial[S[k]]]) == target[k] for k in feeds[j]):
            freed = trial
    Ms = [M.copy() for M in Ms]
    U, U0 = Ms[-1], np.zeros_like(Ms[-1])
    for k, s in enumerate(S):
        keep = s[~freed[s]]
        if keep.size:
            U0[k, keep] = np.linalg.lstsq(G[keep].T, G[s].T @ U[k, s], rcond=None)[0]
    Ms[-1] = U0
    b.add(Ms, f"Lemma 1 per output: u_k -> u_k0, zero weights out of {int(freed.sum())} freed last-hidden neurons "
              "(output kept)")
    dtype_init = lambda draw: nets.init(jax.random.fold_in(key, draw), net, tuple({"W": K} for K in Ks),  # noqa: E731
                                        dtype=jnp.float64)
    all_free = not U0.any()
    for draw in range(max_draws):
        fresh = [np.asarray(layer["W"], np.float64) for layer in dtype_init(draw)]
        trial = [M.copy() for M in Ms]
        if all_free:            # U⁰ = 0: the output is 0 whatever the hidden layers are
            trial[:-1] = fresh[:-1]
        else:
            trial[L - 2][freed] = fresh[L - 2][freed]
        if full(_features(trial, X, net.sigma, L - 1)):
            label = ("every hidden layer -> a random draw (U0 = 0, so the output stays 0; loss kept)" if all_free else
                     "incoming weights of the freed neurons -> a random draw, rank G_{S_k} = n (their outgoing "
                     "weights are 0; loss kept)")
            b.add(trial, label)
            return trial
    low = min(numerical_rank(G[s], rtol) for s in S)
    raise ValueError(f"params: this start lies in the measure-zero set where rank G_{{S_k}} = {low} < n = {n} for the "
                     f"last hidden output G, and the loss-invariant moves here ({int(freed.sum())} freed neurons, "
                     f"{max_draws} redraws) do not reach rank n. {THEOREM5_CAVEAT}")


# ----------------------------------------------------------------------------- dispatch


def property_p_path(net: MLP, params, X, Y, masks=None, **kwargs) -> paths.Path:
    """The path of the theorem that covers the net, from ``params``:

    * linear σ: Theorem 1 (two-layer SD net) or Theorem 2 (deeper, or a sparse final layer);
    * another polynomial σ, two-layer SD net: Theorem 3 (``p_i ≥ dim*(σ, Z_i)``);
    * other σ: Theorem 4 (two-layer SD net, ``p ≥ n``) or Theorem 5 (deeper, or a sparse final
      layer with ``≥ n`` connections per output).

    Raises:
      ValueError: from the constructor, naming the failed condition.
    """
    last_sparse = masks is not None and not C.dense_final_layer(net, masks).holds
    if C.linear_activation(net).holds:
        if net.depth > 2 or last_sparse:
            return theorem2_path(net, params, X, Y, masks, **kwargs)
        return theorem1_path(net, params, X, Y, masks, **kwargs)
    if net.depth > 2 or last_sparse:
        return theorem5_path(net, params, X, Y, masks, **kwargs)
    if C.polynomial_activation(net).holds:
        return theorem3_path(net, params, X, Y, masks, **kwargs)
    return theorem4_path(net, params, X, Y, masks, **kwargs)


def verified_path(net: MLP, params, X, Y, masks=None, *, verify_kwargs: Optional[dict] = None, **kwargs) -> tuple:
    """One call: ``(path, report)`` with ``report = paths.verify(path)``."""
    path = property_p_path(net, params, X, Y, masks, **kwargs)
    return path, paths.verify(path, **(verify_kwargs or {}))
