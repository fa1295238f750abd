"""Structure of a sparse network: Appendix-A clean-up, Definition 1, D/SD/SS, theorem checks.

Everything here is about the 0/1 *pattern* (numpy, no training):

* ``effective_masks``: the clean-up rules of Appendix A, repeated until nothing
  changes, with a record of what was removed and why;
* ``effective_neurons`` / ``is_effective``: Definition 1 (a neuron is effective
  when it lies on a directed path from an input to an output; a bias counts as
  an input, the paper's footnote 2);
* ``compact``: the effective sub-network with isolated neurons and unused
  inputs dropped (a smaller ``MLP``; same function);
* ``classify``: dense / SD / SS (and DS, a dense first with a sparse final layer);
* ``structure_report``: one call answering "which theorem applies, and if not,
  which condition fails" for (masks, activation, data).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape.activations import activation_name, get_activation
from landscape import io
from landscape.masks import check_chain, pattern_decomposition

# ----------------------------------------------------------------------------- helpers


def _normalize(masks) -> tuple:
    """Masks as a tuple of ``{"W": bool (out, in)[, "b": bool (out,)]}``."""
    check_chain(masks)
    out = []
    for layer in masks:
        if hasattr(layer, "keys"):
            d = {"W": np.asarray(layer["W"]) != 0}
            if "b" in layer:
                d["b"] = np.asarray(layer["b"]) != 0
        else:
            d = {"W": np.asarray(layer) != 0}
        out.append(d)
    return tuple(out)


def _as_dicts(masks) -> tuple:
    """Masks as a tuple of ``{"W"[, "b"]}`` dicts (a list of matrices is accepted too)."""
    return tuple({k: np.asarray(v) for k, v in layer.items()} if hasattr(layer, "keys") else {"W": np.asarray(layer)}
                 for layer in masks)


def _like(bool_masks, template) -> tuple:
    """Bool masks back in the caller's layout and dtype."""
    out = []
    for b, t in zip(bool_masks, template):
        if hasattr(t, "keys"):
            out.append({k: b[k].astype(np.asarray(t[k]).dtype) for k in t})
        else:
            out.append(b["W"].astype(np.asarray(t).dtype))
    return tuple(out)


def zero_at_origin(activation, dtype=jnp.float32) -> bool:
    """Whether ``σ(0) = 0`` (exactly, evaluated in ``dtype``)."""
    return float(get_activation(activation)(jnp.zeros((), dtype))) == 0.0


# ----------------------------------------------------------------------------- clean-up (Appendix A)

RULES = ("zero out-degree I", "zero out-degree II", "zero in-degree I", "zero in-degree II")
"""Appendix A: I = the degree was zero in the given masks, II = it became zero
after earlier removals."""


@dataclasses.dataclass(frozen=True)
class Removal:
    """Connections removed at one hidden neuron.

    Attributes:
      layer: hidden layer ``l`` of the neuron (1 … L−1; ``h^(l)``).
      node: neuron index in that layer.
      rule: one of ``RULES``.
      connections: how many connections were removed (its bias counts as one).
      side: ``"in"`` (its input connections, rules 1-2) or ``"out"`` (rules 3-4).
    """

    layer: int
    node: int
    rule: str
    connections: int
    side: str


@dataclasses.dataclass(frozen=True)
class Cleanup:
    """The result of ``effective_masks``.

    Attributes:
      masks: the cleaned masks (caller's layout and dtype).
      removals: tuple of ``Removal`` in the order they were made.
      passes: sweeps until nothing changed (the last one changes nothing).
      unused_inputs: inputs with no path to an output (they cannot be removed;
        drop them from ``X``: the function does not depend on them).
      dead_outputs: outputs with no path from an input (constant outputs).
      constant_nodes: ``(layer, node)`` of connected neurons that no input or
        bias reaches: they compute a constant (possible only when ``σ(0) ≠ 0``,
        where rules 3-4 do not apply) and are kept, since removing them would
        change the function.
      n_before, n_after: free weights (and biases) before / after.
    """

    masks: tuple
    removals: tuple
    passes: int
    unused_inputs: np.ndarray
    dead_outputs: np.ndarray
    constant_nodes: tuple
    n_before: int
    n_after: int

    def summary(self) -> str:
        lines = [f"clean-up: {self.n_before} -> {self.n_after} connections in {self.passes} passes"]
        counts = {r: sum(x.connections for x in self.removals if x.rule == r) for r in RULES}
        lines += [f"  {r}: {c} connections at {sum(x.rule == r for x in self.removals)} neurons" for r, c in counts.items() if c]
        if len(self.unused_inputs):
            lines.append(f"  unused inputs (no path to an output): {self.unused_inputs.tolist()}")
        if len(self.dead_outputs):
            lines.append(f"  dead outputs (no path from an input): {self.dead_outputs.tolist()}")
        if self.constant_nodes:
            lines.append(f"  constant neurons kept (σ(0) ≠ 0 or bias): {len(self.constant_nodes)}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"removals": [dataclasses.asdict(r) for r in self.removals], "passes": self.passes,
                "unused_inputs": self.unused_inputs.tolist(), "dead_outputs": self.dead_outputs.tolist(),
                "constant_nodes": [list(c) for c in self.constant_nodes], "n_before": self.n_before,
                "n_after": self.n_after}


def _count(m) -> int:
    return int(sum(int(layer["W"].sum()) + int(layer.get("b", np.zeros(0)).sum()) for layer in m))


def effective_masks(masks, activation="relu", *, dtype=jnp.float32) -> Cleanup:
    """Removes useless connections by the rules of Appendix A until nothing changes.

    For every hidden neuron ``h^(l)_j`` (``l = 1 … L−1``):

    1-2. zero out-degree: no connection to layer ``l+1`` → its input connections
         (and its bias) are removed;
    3-4. zero in-degree (no input connection and no bias) and ``σ(0) = 0`` → its
         output connections are removed (it only feeds zeros). With a bias, or
         when ``σ(0) ≠ 0``, the neuron feeds a constant and is kept.

    The fixed point does not depend on the order of removals, the network
    computes the same function on every input for every params (removed
    connections only ever multiplied an unused value or an exact zero), and,
    when ``σ(0) = 0``, every neuron that keeps a connection is effective
    (Definition 1). Inputs and outputs are never removed; see
    ``Cleanup.unused_inputs`` / ``dead_outputs``.

    Args:
      masks: ``({"W": (out, in)[, "b": (out,)]}, ...)`` 0/1 masks, or a list of
        ``(out, in)`` 0/1 matrices.
      activation: name or callable; only ``σ(0) = 0`` matters.
      dtype: dtype in which ``σ(0)`` is evaluated.

    Returns:
      A ``Cleanup``.

    Raises:
      ValueError: masks that do not chain, are not 0/1, have an all-zero
        layer, or have no path from any input to any output (the output would
        not depend on ``X``).
    """
    m = [{k: v.copy() for k, v in layer.items()} for layer in _normalize(masks)]
    reach = np.ones(m[-1]["W"].shape[0], bool)
    for layer in reversed(m):
        reach = (layer["W"].T.astype(np.int64) @ reach) > 0
    if not reach.any():
        raise ValueError("masks: no input has a path to an output, so the network output does not depend on X")
    L = len(m)
    zero0 = zero_at_origin(activation, dtype)

    def in_deg(l):  # hidden layer l = output of weight layer l-1 (l = 1..L-1)
        d = m[l - 1]["W"].sum(axis=1)
        return d + m[l - 1]["b"] if "b" in m[l - 1] else d

    def out_deg(l):
        return m[l]["W"].sum(axis=0)

    orig_in = [None] + [in_deg(l).copy() for l in range(1, L)]
    orig_out = [None] + [out_deg(l).copy() for l in range(1, L)]
    n_before = _count(m)
    removals, passes = [], 0
    while True:
        passes += 1
        changed = False
        for l in range(L - 1, 0, -1):  # rules 1-2, from the output backwards
            for j in np.flatnonzero((out_deg(l) == 0) & (in_deg(l) > 0)):
                n = int(in_deg(l)[j])
                m[l - 1]["W"][j, :] = False
                if "b" in m[l - 1]:
                    m[l - 1]["b"][j] = False
                removals.append(Removal(l, int(j), RULES[0] if orig_out[l][j] == 0 else RULES[1], n, "in"))
                changed = True
        if zero0:
            for l in range(1, L):  # rules 3-4, from the input forwards
                for j in np.flatnonzero((in_deg(l) == 0) & (out_deg(l) > 0)):
                    n = int(out_deg(l)[j])
                    m[l]["W"][:, j] = False
                    removals.append(Removal(l, int(j), RULES[2] if orig_in[l][j] == 0 else RULES[3], n, "out"))
                    changed = True
        if not changed:
            break
    fwd = _forward_reach(m)  # constants: connected neurons that no input (or bias) reaches
    constant = tuple((l, int(j)) for l in range(1, L) for j in np.flatnonzero(~fwd[l] & (out_deg(l) > 0)))
    eff = effective_neurons(m)
    return Cleanup(masks=_like(m, masks), removals=tuple(removals), passes=passes,
                   unused_inputs=np.flatnonzero(~eff[0]), dead_outputs=np.flatnonzero(~eff[-1]),
                   constant_nodes=constant, n_before=n_before, n_after=_count(m))


# ----------------------------------------------------------------------------- Definition 1


def _forward_reach(m) -> list:
    """Neurons reached from an input or a bias, per layer (inputs first)."""
    fwd = [np.ones(m[0]["W"].shape[1], bool)]
    for layer in m:
        f = (layer["W"].astype(np.int64) @ fwd[-1]) > 0
        if "b" in layer:
            f |= layer["b"]
        fwd.append(f)
    return fwd


def effective_neurons(masks) -> tuple:
    """Definition 1: which neurons lie on a directed input → output path.

    A bias counts as an input (the paper's footnote 2: a row of ones in X).

    Returns:
      ``L + 1`` bool arrays: inputs ``(d_x,)``, hidden layers, outputs ``(d_y,)``.
    """
    m = _normalize(masks)
    fwd = _forward_reach(m)
    bwd = [np.ones(m[-1]["W"].shape[0], bool)]
    for layer in reversed(m):
        bwd.insert(0, (layer["W"].T.astype(np.int64) @ bwd[0]) > 0)
    return tuple(f & b for f, b in zip(fwd, bwd))


def isolated_neurons(masks) -> tuple:
    """Hidden neurons with no connection at all (removed ones), per hidden layer."""
    m = _normalize(masks)
    out = []
    for l in range(1, len(m)):
        has_bias = m[l - 1]["b"] if "b" in m[l - 1] else np.zeros(m[l - 1]["W"].shape[0], bool)
        no_in = ~m[l - 1]["W"].any(axis=1) & ~has_bias
        out.append(no_in & ~m[l]["W"].any(axis=0))
    return tuple(out)


def is_effective(masks, *, ignore_isolated: bool = True) -> bool:
    """Definition 1 for the whole network (inputs and outputs included).

    Args:
      ignore_isolated: hidden neurons with no connection at all count as
        removed (the effective network does not contain them).
    """
    eff = effective_neurons(masks)
    iso = isolated_neurons(masks) if ignore_isolated else [np.zeros_like(e) for e in eff[1:-1]]
    return bool(eff[0].all() and eff[-1].all() and all((e | i).all() for e, i in zip(eff[1:-1], iso)))


@dataclasses.dataclass(frozen=True)
class Compact:
    """The effective sub-network as a smaller network (``compact``).

    Attributes:
      sizes: the new ``(d_x', h_1', …, d_y)``.
      masks: masks of the smaller network (caller's layout).
      params: params restricted the same way (or None).
      kept: ``L + 1`` index arrays: the kept inputs, hidden neurons, outputs.
    """

    sizes: tuple
    masks: tuple
    params: Optional[tuple]
    kept: tuple


def compact(masks, params=None) -> Compact:
    """Drops isolated hidden neurons and unused inputs (outputs are all kept).

    Apply it to cleaned masks (``effective_masks(...).masks``): the smaller
    network then computes the same function of ``X[kept[0]]``.
    """
    m = _normalize(masks)
    L = len(m)
    iso = isolated_neurons(m)
    kept = [np.flatnonzero(m[0]["W"].any(axis=0) if L == 1 else effective_neurons(m)[0])]
    kept += [np.flatnonzero(~i) for i in iso]
    kept.append(np.arange(m[-1]["W"].shape[0]))
    new_m, new_p = [], [] if params is not None else None
    for l in range(L):
        rows, cols = kept[l + 1], kept[l]
        layer = {"W": np.asarray(masks[l]["W"] if hasattr(masks[l], "keys") else masks[l])[np.ix_(rows, cols)]}
        if hasattr(masks[l], "keys") and "b" in masks[l]:
            layer["b"] = np.asarray(masks[l]["b"])[rows]
        new_m.append(layer)
        if params is not None:
            p = {"W": np.asarray(params[l]["W"])[np.ix_(rows, cols)]}
            if "b" in params[l]:
                p["b"] = np.asarray(params[l]["b"])[rows]
            new_p.append(p)
    sizes = tuple(int(len(k)) for k in kept)
    return Compact(sizes=sizes, masks=tuple(new_m), params=None if params is None else tuple(new_p), kept=tuple(kept))


# ----------------------------------------------------------------------------- D / SD / SS


def densities(masks) -> tuple:
    """Fraction of free weights per layer (``W`` only)."""
    return tuple(float(layer["W"].mean()) for layer in _normalize(masks))


def classify(masks) -> str:
    """``"dense"``, ``"SD"`` (a sparse layer before a dense final layer), ``"SS"``
    (sparse first and final layers) or ``"DS"`` (dense first, sparse final
    layer; not named in the paper). Judge the *compact* effective network:
    ``classify(compact(effective_masks(m, σ).masks).masks)``."""
    d = densities(masks)
    if all(x == 1.0 for x in d):
        return "dense"
    if d[-1] == 1.0:
        return "SD"
    return "SS" if d[0] < 1.0 else "DS"


# ----------------------------------------------------------------------------- activation facts

ANALYTIC = {"linear": True, "tanh": True, "sigmoid": True, "shifted_sigmoid": True, "softplus": True,
            "quadratic": True, "cubic": True, "relu": False, "leaky_relu": False, "elu": False}
"""Real analyticity of the named activations (ELU's second derivative jumps at 0)."""

_POLY = {"linear": (0.0, 1.0), "quadratic": (0.0, 0.0, 1.0), "cubic": (0.0, 0.0, 0.0, 1.0)}


def polynomial_coefficients(activation) -> Optional[tuple]:
    """``(a_0, …, a_t)`` when σ is a known polynomial, else None."""
    if isinstance(activation, str):
        return _POLY.get(activation)
    return getattr(activation, "coefficients", None)


def derivatives_at_zero(activation, order: int = 8) -> np.ndarray:
    """``σ^(k)(0)`` for ``k = 0 … order`` by nested ``jax.grad`` (float64 when
    x64 is enabled, else float32). Cached per (activation, order, dtype)."""
    dtype = jnp.float64 if jax.config.read("jax_enable_x64") else jnp.float32
    return np.array(_derivatives(activation, int(order), jnp.dtype(dtype).name))


@functools.lru_cache(maxsize=64)
def _derivatives(activation, order: int, dtype: str) -> tuple:
    f = get_activation(activation)
    out, g = [], (lambda z: f(z))
    for _ in range(order + 1):
        out.append(float(jax.jit(g)(jnp.zeros((), dtype))))
        g = jax.grad(g)
    return tuple(out)


def _longest_progression_start(nonzero: set, n_terms: int, max_order: int) -> Optional[tuple]:
    for step in range(1, max_order + 1):
        for start in range(0, max_order + 1):
            if all(start + k * step in nonzero for k in range(n_terms)):
                return start, step
    return None


def assumption2(activation, n: int, *, order: int = 8, rtol: float = 1e-8) -> "Condition":
    """Assumption 2: σ real analytic with ``σ^(l_i)(0) ≠ 0`` for ``n`` orders in
    arithmetic progression.

    Polynomials are decided exactly (finitely many non-zero derivatives). For
    other analytic σ the derivatives up to ``order`` are computed by autodiff
    and a progression ``l_0 + k·r`` seen there (at least 3 terms) is taken to
    continue -- true for tanh, (shifted) sigmoid (odd orders: tangent numbers)
    and softplus (even orders), stated in the detail as an extrapolation.
    """
    name = activation_name(activation)
    coeffs = polynomial_coefficients(activation)
    analytic = ANALYTIC.get(activation) if isinstance(activation, str) else (True if coeffs is not None else None)
    if analytic is False:
        return Condition("Assumption 2 (σ real analytic, n derivative orders at 0 in arithmetic progression)", False,
                         f"{name} is not real analytic")
    if coeffs is not None:
        nz = {k for k, a in enumerate(coeffs) if a != 0}
        hit = _longest_progression_start(nz, n, len(coeffs)) if n <= len(nz) else None
        return Condition("Assumption 2 (σ real analytic, n derivative orders at 0 in arithmetic progression)",
                         hit is not None,
                         f"polynomial with non-zero derivatives at orders {sorted(nz)}; n = {n} needs {n} of them in progression"
                         + ("" if hit is None else f" (l_i = {hit[0]} + {hit[1]}·i)"))
    d = derivatives_at_zero(activation, order)
    nz = {k for k, v in enumerate(d) if abs(v) > rtol * max(1.0, np.abs(d).max())}
    hit = None
    for step in range(1, order // 2 + 1):
        for start in range(0, step + 1):
            seq = list(range(start, order + 1, step))
            if len(seq) >= 3 and all(k in nz for k in seq):
                hit = (start, step)
                break
        if hit:
            break
    detail = f"σ^(k)(0), k = 0..{order}: {np.round(d, 6).tolist()}"
    if hit is None:
        return Condition("Assumption 2 (σ real analytic, n derivative orders at 0 in arithmetic progression)", False,
                         detail + "; no arithmetic progression of non-zero derivatives")
    holds = True if analytic else None
    return Condition("Assumption 2 (σ real analytic, n derivative orders at 0 in arithmetic progression)", holds,
                     detail + f"; non-zero at l_i = {hit[0]} + {hit[1]}·i up to order {order} (extrapolated to n = {n})"
                     + ("" if analytic else "; analyticity of a callable cannot be checked"))


def intrinsic_dimension(activation, Z, *, key=0, rtol: Optional[float] = None) -> Optional[int]:
    """``dim*(σ, Z) = dim span{σ(wᵀZ) : w}`` for a polynomial σ, else None.

    For ``σ = Σ a_k z^k`` the span is that of the monomials of the degrees
    ``k`` with ``a_k ≠ 0``; its dimension on the ``n`` samples is the numerical
    rank of ``[σ(w_jᵀZ)]_j`` over ``min(n, D) + 8`` random unit ``w_j``, where
    ``D = Σ_{a_k≠0} C(d+k−1, k)`` (a.s. exact for generic ``w``).
    """
    coeffs = polynomial_coefficients(activation)
    if coeffs is None:
        return None
    Z = np.asarray(Z, dtype=np.float64)
    d, n = Z.shape
    D = sum(math.comb(d + k - 1, k) for k, a in enumerate(coeffs) if a != 0)
    K = min(n, D) + 8
    rng = np.random.default_rng(key)
    w = rng.standard_normal((K, d))
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    A = w @ Z
    S = np.zeros_like(A)
    for k, a in enumerate(coeffs):
        if a != 0:
            S += a * A**k
    return numerical_rank(S, rtol=rtol)


def numerical_rank(H, rtol: Optional[float] = None) -> int:
    """Number of singular values ``> rtol · s_max``; default ``rtol =
    max(shape) · eps(dtype)`` (NumPy's ``matrix_rank`` rule)."""
    H = np.asarray(H)
    s = np.linalg.svd(H, compute_uv=False)
    if s.size == 0 or s[0] == 0:
        return 0
    if rtol is None:
        rtol = max(H.shape) * np.finfo(H.dtype if np.issubdtype(H.dtype, np.floating) else np.float64).eps
    return int(np.sum(s > rtol * s[0]))


# ----------------------------------------------------------------------------- theorem checks


@dataclasses.dataclass(frozen=True)
class Condition:
    """One checked condition: ``holds`` is True, False or None (undecided, e.g. no data)."""

    name: str
    holds: Optional[bool]
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Check:
    """A theorem's conditions on one network.

    ``applies`` is True when every ``required`` condition holds and (if there
    are alternatives) at least one of ``any_of``; False when one fails; None
    when an undecided condition is what is missing.
    """

    theorem: str
    conclusion: str
    required: tuple
    any_of: tuple = ()

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
        out = [c for c in self.required if c.holds is False]
        if self.any_of and not any(c.holds for c in self.any_of):
            out += [c for c in self.any_of if c.holds is False]
        return out

    def to_dict(self) -> dict:
        return {"theorem": self.theorem, "conclusion": self.conclusion, "applies": self.applies,
                "required": [dataclasses.asdict(c) for c in self.required],
                "any_of": [dataclasses.asdict(c) for c in self.any_of]}


def _cond(name, holds, detail=""):
    return Condition(name, None if holds is None else bool(holds), detail)


def _assumption1(X, m) -> Condition:
    if X is None:
        return _cond("Assumption 1 (|x_ik| distinct over samples and non-zero; no all-zero hidden rows)", None, "no data given")
    X = np.asarray(X)
    A = np.abs(X)
    zero = int(np.sum(A == 0))
    dup = sum(A.shape[1] - len(np.unique(row)) for row in A)
    rows = [int((~layer["W"].any(axis=1)).sum()) for layer in m[:-1]]
    ok = zero == 0 and dup == 0 and sum(rows) == 0
    return _cond("Assumption 1 (|x_ik| distinct over samples and non-zero; no all-zero hidden rows)", ok,
                 f"{zero} zero entries, {dup} repeated |x_ik| (exact comparison), all-zero hidden rows per layer {rows}")


def check_theorems(masks, activation, X=None, *, dtype=jnp.float32) -> tuple:
    """Checks the conditions of Theorems 1-6 on the effective network.

    The masks are cleaned (``effective_masks``) and compacted first; unused
    inputs are dropped from ``X``. See ``structure_report`` for the one-call
    version with a readable summary.

    Returns:
      A tuple of ``Check``.
    """
    clean = effective_masks(masks, activation, dtype=dtype)
    c = compact(clean.masks)
    m = _normalize(c.masks)
    Xe = None if X is None else np.asarray(X)[c.kept[0]]
    n = None if X is None else int(np.asarray(X).shape[1])
    L = len(m)
    d_y = m[-1]["W"].shape[0]
    name = activation_name(activation)
    linear = _cond("σ linear", name == "linear" or polynomial_coefficients(activation) in ((0.0, 1.0),), name)
    eff = _cond("effective (Definition 1, after clean-up)", is_effective(c.masks),
                f"unused inputs {clean.unused_inputs.tolist()}, dead outputs {clean.dead_outputs.tolist()}, "
                f"constant neurons {len(clean.constant_nodes)}")
    two = _cond("two layers (one hidden layer)", L == 2, f"L = {L}")
    final_dense = _cond("dense final layer (SD)", bool(m[-1]["W"].all()), f"final-layer density {m[-1]['W'].mean():.4g}")
    dec = pattern_decomposition(m[0]["W"].astype(np.int8), Xe)
    over = _cond("p_i ≥ d_i for every pattern i", bool(np.all(dec.p >= dec.d)),
                 f"s = {dec.s} patterns; min(p_i − d_i) = {int(np.min(dec.p - dec.d)) if dec.s else 0}")
    if Xe is None:
        orth = _cond("Z_i Z_jᵀ = 0 for i ≠ j", None, "no data given")
    else:
        # Every block Z_i Z_jᵀ is a block of C = X Xᵀ: rows of pattern i, columns of pattern j.
        # Entry (a, b) appears in some block with i ≠ j iff count_a·count_b > #{i : a, b ∈ P_i}.
        P = dec.patterns.astype(np.int64)
        count = P.sum(axis=0)
        cross = np.outer(count, count) - P.T @ P > 0
        C = Xe.astype(np.float64) @ Xe.T.astype(np.float64)
        worst = float(np.abs(C[cross]).max() / np.abs(np.diag(C)).max()) if cross.any() else 0.0
        orth = _cond("Z_i Z_jᵀ = 0 for i ≠ j", worst <= 1e-10, f"max |entry of Z_i Z_jᵀ, i ≠ j| / max_a ‖x_a‖² = {worst:.3g} (tolerance 1e-10)")
    dy1 = _cond("d_y = 1", d_y == 1, f"d_y = {d_y}")
    rest_dense = _cond("only the first layer sparse", all(layer["W"].all() for layer in m[1:]),
                       f"densities {[round(x, 4) for x in densities(c.masks)]}")
    checks = [
        Check("Theorem 1", "no spurious valleys (effective SD linear net)", (two, linear, final_dense, eff), (over, orth, dy1)),
        Check("Theorem 2", "no spurious valleys (effective deep linear net)", (linear, eff),
              (_cond("only the first layer sparse and p_i ≥ d_i", rest_dense.holds and over.holds,
                     rest_dense.detail + "; " + over.detail), dy1)),
    ]
    # Theorem 3: polynomial σ, p_i ≥ dim*(σ, Z_i).
    coeffs = polynomial_coefficients(activation)
    finite = _cond("dim*(σ, ·) finite (σ polynomial)", coeffs is not None, f"coefficients {coeffs}" if coeffs else f"{name} is not a polynomial")
    if coeffs is None:
        dimc = _cond("p_i ≥ dim*(σ, Z_i)", False, "dim* is not finite for a non-polynomial σ")
    elif Xe is None:
        dimc = _cond("p_i ≥ dim*(σ, Z_i)", None, "no data given")
    else:
        dims = [intrinsic_dimension(activation, Z) for Z in dec.Z]
        dimc = _cond("p_i ≥ dim*(σ, Z_i)", all(p >= dd for p, dd in zip(dec.p, dims)),
                     f"p_i = {dec.p.tolist()[:10]}…, dim* = {dims[:10]}…" if dec.s > 10 else f"p_i = {dec.p.tolist()}, dim* = {dims}")
    checks.append(Check("Theorem 3", "no spurious valleys (effective SD net, polynomial σ)", (two, final_dense, eff, finite, dimc)))
    a1 = _assumption1(Xe, m)
    a2 = assumption2(activation, n) if n is not None else _cond("Assumption 2", None, "no data given (n unknown)")
    width = m[-2]["W"].shape[0] if L >= 2 else 0
    wide = _cond("last hidden width p ≥ n", None if n is None else width >= n, f"p = {width}, n = {n}")
    checks.append(Check("Theorem 4", "rank σ(W̃X) = n a.s. and no spurious valleys (effective two-layer SD net)",
                        (two, final_dense, eff, wide, a1, a2)))
    conn = m[-1]["W"].sum(axis=1)
    each = _cond("every output connected to ≥ n last-hidden neurons", None if n is None else bool(conn.min() >= n),
                 f"connections per output: min {int(conn.min())}, max {int(conn.max())}; n = {n}")
    checks.append(Check("Theorem 5", "no spurious valleys with non-empty interior (effective deep net)",
                        (eff, wide, each, a1, a2)))
    z0 = zero_at_origin(activation, dtype)
    few = _cond("a final-layer row with < n connections", None if n is None else bool(conn.min() < n),
                f"min connections per output {int(conn.min())}, n = {n}")
    checks.append(Check("Theorem 6", "spurious valleys can exist (SS situation): the guarantees above do not cover this net",
                        (few, _cond("σ(0) = 0 and σ(ℝ) ≠ {0}", z0 and name != "zero", f"σ(0) = 0: {z0}"),
                         _cond("hidden width p ≥ 3", width >= 3, f"p = {width}"))))
    return tuple(checks)


# ----------------------------------------------------------------------------- report


@dataclasses.dataclass(frozen=True)
class StructureReport(io.Saveable):
    """What ``structure_report`` found. ``str(report)`` is the readable version.

    Attributes:
      activation: activation name.
      n: number of samples (None without data).
      kind: ``classify`` of the compact effective network.
      densities_given / densities_effective: per-layer weight densities.
      sizes_effective: widths of the compact effective network.
      effective_given: whether the given masks were already effective.
      cleanup: the ``Cleanup``.
      decomposition: Eq. (2) of the effective first layer (``PatternDecomposition``).
      checks: the theorem ``Check``s.
    """

    activation: str
    n: Optional[int]
    kind: str
    densities_given: tuple
    densities_effective: tuple
    sizes_effective: tuple
    effective_given: bool
    cleanup: Cleanup
    decomposition: object
    checks: tuple
    inputs: Optional[tuple] = dataclasses.field(default=None, repr=False, compare=False)

    def applicable(self) -> list:
        """Names of the theorems whose conditions all hold."""
        return [c.theorem for c in self.checks if c.applies]

    def __str__(self) -> str:
        dec = self.decomposition
        lines = [f"network: {self.kind}, activation {self.activation}, n = {self.n}",
                 f"densities (given): {[round(d, 4) for d in self.densities_given]}",
                 f"effective network: sizes {self.sizes_effective}, densities {[round(d, 4) for d in self.densities_effective]}"
                 f" (given masks effective: {self.effective_given})",
                 self.cleanup.summary(),
                 f"first layer, Eq. (2): s = {dec.s} patterns, p_i in [{dec.p.min() if dec.s else 0}, {dec.p.max() if dec.s else 0}],"
                 f" d_i in [{dec.d.min() if dec.s else 0}, {dec.d.max() if dec.s else 0}]"]
        for c in self.checks:
            tag = {True: "APPLIES", False: "does not apply", None: "undecided"}[c.applies]
            lines.append(f"{c.theorem}: {tag} -- {c.conclusion}")
            for cond in c.required + c.any_of:
                mark = {True: "ok", False: "FAILS", None: "?"}[cond.holds]
                alt = " (one of)" if cond in c.any_of else ""
                lines.append(f"    [{mark}] {cond.name}{alt}: {cond.detail}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        dec = self.decomposition
        return {"activation": self.activation, "n": self.n, "kind": self.kind,
                "densities_given": list(self.densities_given), "densities_effective": list(self.densities_effective),
                "sizes_effective": list(self.sizes_effective), "effective_given": self.effective_given,
                "applicable": self.applicable(), "cleanup": self.cleanup.to_dict(),
                "decomposition": {"s": dec.s, "p": dec.p.tolist(), "d": dec.d.tolist()},
                "checks": [c.to_dict() for c in self.checks]}

    def _to_file(self) -> tuple:
        if self.inputs is None:
            raise ValueError("report: was not built by structure_report, so it cannot be saved and rebuilt")
        masks, X, coeffs = self.inputs
        arrays, layout = io.tree_arrays("mask", _as_dicts(masks))
        if X is not None:
            arrays["X"] = np.asarray(X)
        return arrays, {"mask_layout": layout, "activation": self.activation, "polynomial": coeffs,
                        "report": self.to_dict()}

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "StructureReport":
        """Rebuilds the report from the saved masks, activation and data (and checks it matches the saved one)."""
        from landscape.activations import polynomial

        masks = io.tree_from_arrays("mask", arrays, meta["mask_layout"])
        act = meta["activation"] if meta.get("polynomial") is None else polynomial(meta["polynomial"])
        try:
            rep = structure_report(masks, act, arrays.get("X"))
        except ValueError as e:
            raise ValueError(f"report: cannot rebuild the saved report ({e})") from None
        return rep


def structure_report(masks, activation="relu", X=None, *, dtype=jnp.float32) -> StructureReport:
    """One call: clean-up, classification, Eq. (2) and Theorems 1-6 for a network.

    Args:
      masks: 0/1 masks ``({"W": (out, in)[, "b"]}, ...)`` or a list of matrices.
      activation: name or callable.
      X: optional ``(d_x, n)`` data (needed for Z_i, n and Assumption 1).
      dtype: dtype for ``σ(0)``.

    Returns:
      A ``StructureReport``; ``print(report)`` says which theorem applies and,
      where one does not, which condition fails.

    Raises:
      ValueError: masks that do not chain, are not 0/1 or have an all-zero
        layer; ``X`` whose rows do not match the first layer.
    """
    check_chain(masks)
    d_x = np.shape(masks[0]["W"] if hasattr(masks[0], "keys") else masks[0])[1]
    if X is not None:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] != d_x:
            raise ValueError(f"X: expected shape (d_x={d_x}, n), got {X.shape}")
    clean = effective_masks(masks, activation, dtype=dtype)
    c = compact(clean.masks)
    Xe = None if X is None else X[c.kept[0]]
    dec = pattern_decomposition(_normalize(c.masks)[0]["W"].astype(np.int8), Xe)
    return StructureReport(activation=activation_name(activation), n=None if X is None else int(X.shape[1]),
                           kind=classify(c.masks), densities_given=densities(masks), densities_effective=densities(c.masks),
                           sizes_effective=c.sizes, effective_given=is_effective(masks, ignore_isolated=False),
                           cleanup=clean, decomposition=dec, checks=check_theorems(masks, activation, X, dtype=dtype),
                           inputs=(masks, X, polynomial_coefficients(activation) if not isinstance(activation, str) else None))
