"""Sparsity patterns: Eq. (2) pattern decomposition (more tools to come)."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class PatternDecomposition:
    """The Eq. (2) split of a first layer into its distinct row patterns.

    Attributes:
      patterns: ``(s, d_x)`` 0/1 array, the distinct non-zero patterns ``m*_i``
        (in order of first appearance).
      groups: tuple of ``s`` int arrays, ``S_i`` = rows of ``W`` with pattern ``m*_i``.
      p: ``(s,)`` group sizes ``p_i = |S_i|``.
      d: ``(s,)`` pattern sizes ``d_i = 1ᵀ m*_i``.
      Z: tuple of ``s`` arrays ``Z_i = X[m*_i == 1, :]`` of shape ``(d_i, n)``
        (``None`` when no ``X`` was given).
      zero_rows: rows of the mask that are all zero (no pattern).
    """

    patterns: np.ndarray
    groups: tuple
    p: np.ndarray
    d: np.ndarray
    Z: tuple
    zero_rows: np.ndarray

    @property
    def s(self) -> int:
        return int(self.patterns.shape[0])


def pattern_decomposition(mask, X=None) -> PatternDecomposition:
    """Splits a first-layer mask ``(p, d_x)`` into the Eq. (2) patterns.

    Args:
      mask: ``(p, d_x)`` 0/1 first-layer mask.
      X: optional ``(d_x, n)`` data; gives ``Z_i``.

    Returns:
      A ``PatternDecomposition``.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask: expected a (p, d_x) matrix, got shape {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("mask: entries must be 0 or 1")
    m = m.astype(np.int8)
    if X is not None:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] != m.shape[1]:
            raise ValueError(f"X: expected shape (d_x={m.shape[1]}, n), got {X.shape}")
    nonzero = np.flatnonzero(m.any(axis=1))
    patterns, groups = [], []
    index = {}
    for r in nonzero:
        key = m[r].tobytes()
        if key not in index:
            index[key] = len(patterns)
            patterns.append(m[r])
            groups.append([])
        groups[index[key]].append(r)
    pats = np.array(patterns, dtype=np.int8).reshape(len(patterns), m.shape[1])
    groups = tuple(np.array(g, dtype=np.int64) for g in groups)
    Z = tuple(X[pat == 1, :] for pat in pats) if X is not None else None
    return PatternDecomposition(patterns=pats, groups=groups, p=np.array([len(g) for g in groups], dtype=np.int64),
                                d=pats.sum(axis=1).astype(np.int64), Z=Z, zero_rows=np.flatnonzero(~m.any(axis=1)))
