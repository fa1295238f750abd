"""Sparsity patterns: Eq. (2) decomposition, pruning (random, magnitude, layer
distributions), over-parameterised first-layer patterns, flax interop."""

from __future__ import annotations

import dataclasses
import re

import jax
import numpy as np

from landscape import validate


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


# ----------------------------------------------------------------------------- pruning

DISTRIBUTIONS = ("uniform", "erdos_renyi", "erdos_renyi_kernel")


def _weight_shapes(net_or_shapes) -> list:
    """``[(out, in), ...]`` from an ``MLP`` or a list of weight shapes."""
    sizes = getattr(net_or_shapes, "sizes", None)
    if sizes is not None:
        return [(o, i) for i, o in zip(sizes[:-1], sizes[1:])]
    if isinstance(net_or_shapes, (str, bytes)) or not isinstance(net_or_shapes, (list, tuple)) or not net_or_shapes:
        raise TypeError(f"net: expected an MLP or a list of (out, in) weight shapes, got {validate.got(net_or_shapes)}")
    return [tuple(validate.integer(d, f"net[{l}]", low=1) for d in s) if isinstance(s, (tuple, list)) and len(s) >= 2
            else _bad_shape(s, l) for l, s in enumerate(net_or_shapes)]


def _bad_shape(s, l: int):
    raise TypeError(f"net[{l}]: expected a weight shape (out, in), got {validate.got(s)}")


def _check_rate(rate, name="rate") -> float:
    return validate.real(rate, name, low=0.0, high=1.0, high_open=True)  # a pruning rate in [0, 1)


def _per_layer(rate, n_layers: int) -> list:
    if np.ndim(rate) == 0:
        return [_check_rate(rate)] * n_layers
    rates = [_check_rate(r, "rate") for r in rate]
    if len(rates) != n_layers:
        raise ValueError(f"rate: expected one rate per layer ({n_layers}), got {len(rates)}")
    return rates


def _n_pruned(rate: float, size: int) -> int:
    """Exact count pruned: ``round(rate·size)``, keeping at least one entry."""
    return min(int(round(rate * size)), size - 1)


def random_masks(key, net, rate, *, bias: bool = None, dtype=np.float32) -> tuple:
    """Random pruning with an exact count per layer, reproducible from ``key``.

    Layer ``l`` loses exactly ``round(rate_l · out·in)`` weights (at least one is
    kept), chosen uniformly with the key ``fold_in(key, l)``; biases are kept.

    Args:
      key: a PRNG key (or an int seed).
      net: an ``MLP`` (or a list of ``(out, in)`` weight shapes).
      rate: pruning rate in ``[0, 1)``: one for every layer, or one per layer
        (e.g. from ``layer_rates``).
      bias: add all-ones ``"b"`` masks (default: ``net.bias``).
      dtype: mask dtype.

    Returns:
      Masks ``({"W": (out, in)[, "b": (out,)]}, ...)`` of numpy 0/1 arrays.
    """
    key = validate.key_or_seed(key)
    shapes = _weight_shapes(net)
    rates = _per_layer(rate, len(shapes))
    bias = getattr(net, "bias", False) if bias is None else bias
    out = []
    for l, (shape, r) in enumerate(zip(shapes, rates)):
        size = int(np.prod(shape))
        order = np.asarray(jax.random.permutation(jax.random.fold_in(key, l), size))
        m = np.ones(size, dtype)
        m[order[:_n_pruned(r, size)]] = 0
        layer = {"W": m.reshape(shape)}
        if bias:
            layer["b"] = np.ones(shape[0], dtype)
        out.append(layer)
    return tuple(out)


def magnitude_masks(params, rate, masks=None, *, scope: str = "layer", dtype=np.float32) -> tuple:
    """Magnitude pruning: drop the smallest ``|W|`` among the still-free weights.

    Args:
      params: params ``({"W": (out, in)[, "b"]}, ...)`` (e.g. trained ones).
      rate: fraction in ``[0, 1)`` of the currently free weights to prune; one
        number or one per layer (``scope="layer"``).
      masks: current masks (pruned weights stay pruned); default dense.
      scope: ``"layer"`` (exact count per layer) or ``"global"`` (one threshold
        over all layers, exact total count).
      dtype: mask dtype.

    Returns:
      New masks; ties in ``|W|`` are broken by flat index (deterministic).
    """
    params = validate.layers(params)
    if masks is not None:
        masks = validate.masks_like(masks, params)
    validate.choice(scope, "scope", ("layer", "global"))
    Ws = [np.asarray(layer["W"]) for layer in params]
    free = [np.ones(W.shape, bool) if masks is None else np.asarray(masks[l]["W"]) != 0 for l, W in enumerate(Ws)]
    score = [np.where(f, np.abs(W), -np.inf) for W, f in zip(Ws, free)]  # pruned entries sort first
    keep = [f.copy() for f in free]
    if scope == "layer":
        for l, r in enumerate(_per_layer(rate, len(Ws))):
            n_free = int(free[l].sum())
            k = min(int(round(r * n_free)), n_free - 1) if n_free else 0
            order = np.argsort(score[l].ravel(), kind="stable")
            n_masked = score[l].size - n_free
            keep[l].ravel()[order[n_masked:n_masked + k]] = False
    elif scope == "global":
        r = _check_rate(rate)
        flat = np.concatenate([s.ravel() for s in score])
        n_free = int(sum(f.sum() for f in free))
        k = min(int(round(r * n_free)), n_free - 1)
        order = np.argsort(flat, kind="stable")
        n_masked = flat.size - n_free
        drop = np.zeros(flat.size, bool)
        drop[order[n_masked:n_masked + k]] = True
        offset = 0
        for l, f in enumerate(free):
            keep[l] &= ~drop[offset:offset + f.size].reshape(f.shape)
            offset += f.size
    else:
        raise ValueError(f"scope: expected 'layer' or 'global', got {scope!r}")
    out = []
    for l, layer in enumerate(params):
        new = {"W": keep[l].astype(dtype)}
        if "b" in layer:
            new["b"] = np.ones(np.shape(layer["b"]), dtype) if masks is None else np.asarray(masks[l]["b"], dtype)
        out.append(new)
    return tuple(out)


def layer_rates(net, rate, distribution: str = "uniform", *, dense_layers=()) -> tuple:
    """Per-layer pruning rates with a given overall rate (sparse-training recipes).

    * ``"uniform"``: every (non-dense) layer gets the same rate.
    * ``"erdos_renyi"`` (Mocanu et al. 2018): density of a layer ∝
      ``(in + out)/(in·out)``.
    * ``"erdos_renyi_kernel"`` (Evci et al. 2020, RigL): density ∝
      ``sum(kernel dims)/prod(kernel dims)``; for a dense ``(out, in)`` layer
      this equals Erdős–Rényi (pass 4-D conv shapes to see a difference).

    Layers whose density would exceed 1 are made dense and the scale is
    recomputed (RigL's rule), so the overall count of kept weights is
    ``(1 − rate)·total`` up to rounding.

    Args:
      net: an ``MLP`` or a list of weight shapes.
      rate: overall pruning rate in ``[0, 1)``.
      distribution: one of ``DISTRIBUTIONS``.
      dense_layers: indices of layers kept dense (rate 0).

    Returns:
      A tuple of rates, one per layer.
    """
    shapes = _weight_shapes(net)
    rate = _check_rate(rate)
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution: expected one of {DISTRIBUTIONS}, got {distribution!r}")
    sizes = np.array([np.prod(s) for s in shapes], dtype=float)
    dense = {int(l) % len(shapes) for l in dense_layers}
    target = (1.0 - rate) * sizes.sum()
    if distribution == "uniform":
        raw = np.ones(len(shapes))
    else:
        raw = np.array([np.sum(s) / np.prod(s) for s in shapes], dtype=float)
    while True:
        sparse = [l for l in range(len(shapes)) if l not in dense]
        if not sparse:
            break
        eps = (target - sizes[list(dense)].sum()) / sum(raw[l] * sizes[l] for l in sparse)
        over = [l for l in sparse if eps * raw[l] > 1.0]
        if not over:
            break
        dense.add(max(over, key=lambda l: raw[l]))
    density = np.array([1.0 if l in dense else eps * raw[l] for l in range(len(shapes))])
    if np.any(density <= 0):
        raise ValueError(f"rate: {rate} cannot be reached with dense_layers={tuple(dense_layers)}")
    return tuple(float(1.0 - d) for d in density)


def overparameterized_patterns(key, p: int, d_x: int, density: float, dtype=np.float32) -> np.ndarray:
    """A first-layer mask whose Eq. (2) patterns satisfy ``p_i ≥ d_i`` (Fig. 3a).

    Every pattern keeps ``d = max(1, round(density·d_x))`` inputs, consecutive
    in a random permutation of the inputs (cyclically), so the patterns cover
    all inputs when ``p ≥ d_x``; there are ``s = min(⌊p/d⌋, ⌈d_x/d⌉)``
    distinct patterns and the ``p`` rows are dealt to them in turn, so
    ``p_i ≥ ⌊p/s⌋ ≥ d = d_i``.

    Args:
      key: PRNG key or int seed.
      p: number of rows (first hidden width); d_x: inputs.
      density: fraction of inputs each pattern keeps, in ``(0, 1]``.

    Returns:
      A ``(p, d_x)`` 0/1 array.
    """
    p = validate.integer(p, "p", low=1)
    d_x = validate.integer(d_x, "d_x", low=1)
    density = validate.real(density, "density", low=0.0, high=1.0, low_open=True)
    key = validate.key_or_seed(key)
    d = max(1, int(round(density * d_x)))
    if d > p:
        raise ValueError(f"density: patterns of {d} inputs need p >= {d} rows, got p={p}")
    s = max(1, min(p // d, -(-d_x // d)))
    perm = np.asarray(jax.random.permutation(key, d_x))
    m = np.zeros((p, d_x), dtype)
    for i in range(s):
        cols = perm[(i * d + np.arange(d)) % d_x]
        m[np.ix_(np.flatnonzero(np.arange(p) % s == i), cols)] = 1
    return m


# ----------------------------------------------------------------------------- flax interop


def _layer_order(names) -> list:
    """Sort ``Dense_0, Dense_1, ..., Dense_10`` numerically; else keep order."""
    nums = [re.search(r"(\d+)$", n) for n in names]
    if all(nums):
        return sorted(names, key=lambda n: int(re.search(r"(\d+)$", n).group(1)))
    return list(names)


def from_flax(tree) -> tuple:
    """Params (or 0/1 masks) of flax ``Dense`` layers → this library's layout.

    A flax ``Dense`` kernel is ``(in, out)`` and computes ``x @ kernel`` on rows
    ``x``; here ``W`` is ``(out, in)`` acting on columns, so ``W = kernelᵀ``.

    Args:
      tree: ``{"params": {"Dense_0": {"kernel", "bias"?}, ...}}`` or the inner
        dict; layers in numeric-suffix order (else insertion order).

    Returns:
      ``({"W": (out, in)[, "b": (out,)]}, ...)``.
    """
    if hasattr(tree.get("params"), "keys"):
        tree = tree["params"]
    layers = []
    for name in _layer_order(list(tree.keys())):
        sub = tree[name]
        if not hasattr(sub, "keys") or "kernel" not in sub:
            raise ValueError(f"tree: entry {name!r} is not a Dense layer (no 'kernel')")
        k = np.asarray(sub["kernel"])
        if k.ndim != 2:
            raise ValueError(f"tree: {name!r} kernel has shape {k.shape}, expected (in, out)")
        layer = {"W": k.T}
        if "bias" in sub:
            layer["b"] = np.asarray(sub["bias"])
        layers.append(layer)
    for l in range(1, len(layers)):
        if layers[l]["W"].shape[1] != layers[l - 1]["W"].shape[0]:
            raise ValueError(f"tree: layer {l} takes {layers[l]['W'].shape[1]} inputs but layer {l-1} has {layers[l-1]['W'].shape[0]} outputs")
    return tuple(layers)


def to_flax(tree, names=None) -> dict:
    """Inverse of ``from_flax``: ``{"Dense_0": {"kernel": Wᵀ[, "bias"]}, ...}``."""
    names = names or [f"Dense_{l}" for l in range(len(tree))]
    out = {}
    for name, layer in zip(names, tree):
        out[name] = {"kernel": np.asarray(layer["W"]).T}
        if "b" in layer:
            out[name]["bias"] = np.asarray(layer["b"])
    return {"params": out}


def check_chain(masks) -> None:
    """Checks that weight masks chain (``in`` of layer l = ``out`` of layer l−1),
    are 0/1 and that no layer is all zero.

    Raises:
      ValueError: naming ``masks``, the layer and what was expected.
    """
    prev = None
    for l, layer in enumerate(masks):
        W = np.asarray(layer["W"] if hasattr(layer, "keys") else layer)
        if W.ndim != 2:
            raise ValueError(f"masks: layer {l} 'W' has shape {W.shape}, expected (out, in)")
        if prev is not None and W.shape[1] != prev:
            raise ValueError(f"masks: layer {l} has {W.shape[1]} inputs but layer {l-1} has {prev} outputs (shapes do not chain)")
        if W.dtype.kind not in "biuf":
            raise TypeError(f"masks[{l}]: expected 0/1 entries (bool or real numbers), got dtype {W.dtype}")
        bad = ~((W == 0) | (W == 1))
        if bad.any():
            raise ValueError(f"masks[{l}]: expected entries exactly 0 or 1, got values {np.unique(W[bad])[:5].tolist()}")
        if not W.any():
            raise ValueError(f"masks[{l}]: expected at least one unmasked weight, got all zeros (the network output would be constant)")
        if hasattr(layer, "keys") and "b" in layer and np.shape(layer["b"]) != (W.shape[0],):
            raise ValueError(f"masks: layer {l} 'b' has shape {np.shape(layer['b'])}, expected ({W.shape[0]},)")
        prev = W.shape[0]
