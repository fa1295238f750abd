"""Property P (Definition 4): explicit non-increasing paths to the infimum.

Each constructor follows a proof of the paper for two-layer sparse-dense (SD)
networks ``f(X) = U σ(W̃ X)`` (``W̃ = W ⊙ M`` sparse ``(p, d_x)``, ``U`` dense
``(d_y, p)``, no bias: a bias is a row of ones in ``X``), takes any starting
point that meets the theorem's conditions and returns a ``paths.Path`` whose
segments are straight lines:

* ``lemma1(U, W)``: ``U⁰`` with ``p − r`` zero columns and ``U⁰W = UW``;
* ``lemma2_path``: the segment to the minimiser over ``U`` (a convex piece);
* ``theorem1_path``: SD *linear* nets, case 1 ``p_i ≥ d_i``, case 2
  ``Z_i Z_jᵀ = 0``, case 3 ``d_y = 1`` (Appendix B.1);
* ``theorem4_path``: SD nets with real-analytic σ (Assumptions 1, 2), ``p ≥ n``
  (Appendix C.2): loss-invariant moves until ``σ(W̃X)`` has rank ``n``, then
  the convex segment in ``U`` to zero loss.

Outside its theorem a constructor raises ``ValueError`` naming the failed
condition. All linear algebra runs in float64 NumPy; the path's points keep
the dtype of the given params. Verify a path with ``paths.verify``.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg

from landscape import nets, paths
from landscape.activations import activation_name, get_activation
from landscape.masks import pattern_decomposition
from landscape.nets import MLP
from landscape.theory import assumption1, assumption2_orders

RANK_RTOL = 1e-10
"""Relative singular-value threshold for numerical rank (float64 data)."""


# ----------------------------------------------------------------------------- helpers


def _rank(A, rtol=RANK_RTOL) -> int:
    s = np.linalg.svd(np.asarray(A, np.float64), compute_uv=False)
    return int(np.sum(s > rtol * (s[0] if s.size else 0.0))) if s.size and s[0] > 0 else 0


def _independent_rows(A, rtol=RANK_RTOL) -> np.ndarray:
    """Indices of ``rank(A)`` linearly independent rows (QR with column pivoting on ``Aᵀ``)."""
    A = np.asarray(A, np.float64)
    r = _rank(A, rtol)
    if r == 0:
        return np.zeros(0, np.int64)
    _, _, piv = linalg.qr(A.T, mode="economic", pivoting=True)
    return np.sort(piv[:r])


def _sd_parts(theorem: str, net: MLP, params, X, Y, masks):
    """Checks a two-layer SD net and returns float64 ``(W̃, U, M, X, Y)``."""
    if net.depth != 2:
        raise ValueError(f"net: {theorem} covers two-layer nets (one hidden layer), got depth {net.depth}")
    if net.bias:
        raise ValueError(f"net: {theorem} is stated without biases; append a row of ones to X instead of bias=True")
    nets.check_params(net, params)
    X, Y = nets.check_data(net, X, Y)
    masks = nets.dense_masks(net) if masks is None else nets.check_masks(net, masks)
    M1, M2 = np.asarray(masks[0]["W"]), np.asarray(masks[1]["W"])
    if not np.all(M2 == 1):
        raise ValueError(f"masks: {theorem} needs a dense final layer (an SD net); "
                         f"{int(np.sum(M2 == 0))} final-layer weights are masked (an SS net, see Theorem 6)")
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


def _check_linear(theorem, net):
    if activation_name(net.activation) != "linear":
        raise ValueError(f"net: {theorem} is about linear networks (σ(z) = z); got activation "
                         f"{activation_name(net.activation)!r} (see theorem4_path for analytic σ)")


def theorem1_conditions(mask, X, Y, *, tol: float = 1e-12) -> dict:
    """Which of Theorem 1's conditions hold: ``{1: p_i ≥ d_i ∀i, 2: Z_i Z_jᵀ = 0 ∀i≠j, 3: d_y = 1}``.

    ``Z_i Z_jᵀ = 0`` is tested as ``‖Z_i Z_jᵀ‖ ≤ tol ‖Z_i‖ ‖Z_j‖``.
    """
    dec = pattern_decomposition(mask, X)
    c1 = bool(np.all(dec.p >= dec.d))
    c2 = True
    for i in range(dec.s):
        for j in range(i + 1, dec.s):
            Zi, Zj = np.asarray(dec.Z[i], np.float64), np.asarray(dec.Z[j], np.float64)
            if np.linalg.norm(Zi @ Zj.T) > tol * np.linalg.norm(Zi) * np.linalg.norm(Zj):
                c2 = False
    return {1: c1, 2: c2, 3: int(np.shape(Y)[0]) == 1}


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
        r = _rank(Z)
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
    _check_linear(name, net)
    W, U, M, X64, Y64 = _sd_parts(name, net, params, X, Y, masks)
    conds = theorem1_conditions(M, X64, Y64)
    if case is None:
        case = next((c for c in (1, 3, 2) if conds[c]), None)
        if case is None:
            dec = pattern_decomposition(M, X64)
            raise ValueError(
                "masks: no condition of Theorem 1 holds: 1) p_i >= d_i fails for groups "
                f"{[i for i in range(dec.s) if dec.p[i] < dec.d[i]]} (p={dec.p.tolist()}, d={dec.d.tolist()}); "
                "2) Z_i Z_j^T != 0 for some i != j; 3) d_y = "
                f"{Y64.shape[0]} != 1")
    if case not in (1, 2, 3):
        raise ValueError(f"case: expected 1, 2, 3 or None, got {case!r}")
    if not conds[case]:
        what = {1: "p_i >= d_i for every pattern group", 2: "Z_i Z_j^T = 0 for all i != j",
                3: f"d_y = 1 (got d_y = {Y64.shape[0]})"}[case]
        raise ValueError(f"case: Theorem 1 case {case} needs {what}, which fails here")
    builder = {1: _case1, 2: _case2, 3: _case3}[case]
    return builder(net, params, W, U, M, X64, Y64, masks, max_rounds=max_rounds, tol=tol)


def _case1(net, params, W, U, M, X, Y, masks, **_):
    dec = pattern_decomposition(M, X)
    b = _Builder(W, U)
    U0, W0 = U.copy(), W.copy()
    for i, rows in enumerate(dec.groups):
        cols = np.flatnonzero(dec.patterns[i])
        Wi = W[np.ix_(rows, cols)]
        di = cols.size
        Ui0, basis = lemma1(U[:, rows], Wi)
        r = basis.size
        if r == di:
            continue  # W_i already has full column rank
        U0[:, rows] = Ui0
        dep = np.setdiff1d(np.arange(rows.size), basis)
        comp = linalg.null_space(Wi[basis]) if r else np.eye(di)  # (d_i, d_i − r), orthonormal
        scale = float(np.linalg.norm(Wi) / np.sqrt(max(rows.size, 1))) or 1.0
        Wi0 = Wi.copy()
        Wi0[dep[: di - r]] = scale * comp.T
        W0[np.ix_(rows, cols)] = Wi0
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
    if p < n:
        raise ValueError(f"net: Theorem 4 needs hidden width p >= n, got p={p} < n={n}")
    assumption1(X64, M)
    if not assume_analytic:
        assumption2_orders(net.activation, n)
    sigma = net.sigma
    key = jax.random.key(0) if key is None else key
    H = _hidden(W, X64, sigma)
    b = _Builder(W, U)
    full = lambda H_: _rank(H_, rtol) == n  # noqa: E731
    if not full(H):
        U0, basis = lemma1(U, H, rtol=rtol)
        b.add(W, U0, "Lemma 1: U -> U0 (zero columns for dependent rows of σ(WX); output kept)")
        dep = np.setdiff1d(np.arange(p), basis)
        for draw in range(max_draws):
            fresh = np.asarray(nets.init(jax.random.fold_in(key, draw), net, dtype=jnp.float64)[0]["W"]) * M
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


# ----------------------------------------------------------------------------- dispatch


def property_p_path(net: MLP, params, X, Y, masks=None, **kwargs) -> paths.Path:
    """The path of Theorem 1 (linear σ) or Theorem 4 (other σ) from ``params``.

    Raises:
      ValueError: from the constructor, naming the failed condition.
    """
    if activation_name(net.activation) == "linear":
        return theorem1_path(net, params, X, Y, masks, **kwargs)
    return theorem4_path(net, params, X, Y, masks, **kwargs)


def verified_path(net: MLP, params, X, Y, masks=None, *, verify_kwargs: Optional[dict] = None, **kwargs) -> tuple:
    """One call: ``(path, report)`` with ``report = paths.verify(path)``."""
    path = property_p_path(net, params, X, Y, masks, **kwargs)
    return path, paths.verify(path, **(verify_kwargs or {}))
