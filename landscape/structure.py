"""Structure of a sparse network: the mask graph (Appendix-A clean-up, Definition 1, compact,
D/SD/SS) and ``structure_report``, which assembles the paper's conditions on it.

Everything here is about the 0/1 *pattern* (numpy, no training):

* ``effective_masks``: the clean-up rules of Appendix A, repeated until nothing
  changes, with a record of what was removed and why;
* ``effective_neurons`` / ``is_effective`` / ``reaches_output``: Definition 1 (a
  neuron is effective when it lies on a directed path from an input to an output;
  a bias counts as an input, the paper's footnote 2);
* ``compact``: the effective sub-network with isolated neurons and unused
  inputs dropped (a smaller ``MLP``; same function);
* ``network_class``: dense / SD / SS (and DS, a dense first with a sparse final layer);
* ``check_theorems`` / ``structure_report``: one call answering "which theorem
  applies, and if not, which condition fails" for (net, data, masks). The
  conditions themselves live in ``landscape.conditions``; this module cleans and
  compacts the network, classifies it, and evaluates them on the result.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax.numpy as jnp
import numpy as np

from landscape import io, nets, validate
from landscape.activations import activation_name, polynomial_coefficients, zero_at_origin
from landscape.masks import check_chain, pattern_decomposition
from landscape.nets import MLP

# ----------------------------------------------------------------------------- helpers


def bool_masks(masks, net: Optional[MLP] = None) -> tuple:
    """Masks as a tuple of ``{"W": bool (out, in)[, "b": bool (out,)]}``.

    Args:
      masks: ``({"W": (out, in)[, "b": (out,)]}, ...)`` or a list of ``(out, in)`` 0/1 matrices.
      net: if given, the weight shapes must be ``net``'s.

    Raises:
      ValueError: masks that do not chain, are not 0/1, have an all-zero layer, or
        (with ``net``) do not have ``net``'s shapes.
    """
    if isinstance(masks, (str, bytes)) or not hasattr(masks, "__len__"):
        raise TypeError(f"masks: expected a sequence of layers ({{'W': (out, in)}}, ...) or of (out, in) matrices, "
                        f"got {type(masks).__name__}")
    check_chain(masks)
    if net is not None:
        _check_net(net)
        got = tuple(np.shape(layer["W"] if hasattr(layer, "keys") else layer) for layer in masks)
        want = tuple((o, i) for i, o in zip(net.sizes[:-1], net.sizes[1:]))
        if got != want:
            raise ValueError(f"masks: weight shapes {got} do not match the net's {want} (sizes {net.sizes})")
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


def _check_net(net) -> None:
    if not isinstance(net, MLP):
        raise TypeError(f"net: expected an MLP (signatures are (net, X, masks): e.g. structure_report(net, X=None, "
                        f"masks=None)), got {type(net).__name__}")


def _as_dicts(masks) -> tuple:
    """Masks as a tuple of ``{"W"[, "b"]}`` dicts (a list of matrices is accepted too)."""
    return tuple({k: np.asarray(v) for k, v in layer.items()} if hasattr(layer, "keys") else {"W": np.asarray(layer)}
                 for layer in masks)


def _like(bm, template) -> tuple:
    """Bool masks back in the caller's layout and dtype."""
    out = []
    for b, t in zip(bm, template):
        if hasattr(t, "keys"):
            out.append({k: b[k].astype(np.asarray(t[k]).dtype) for k in t})
        else:
            out.append(b["W"].astype(np.asarray(t).dtype))
    return tuple(out)


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


def effective_masks(net: MLP, masks=None, *, dtype=jnp.float32) -> Cleanup:
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
      net: the network; only its activation's ``σ(0) = 0`` matters (and its shapes).
      masks: ``({"W": (out, in)[, "b": (out,)]}, ...)`` 0/1 masks, or a list of
        ``(out, in)`` 0/1 matrices; None = dense.
      dtype: dtype in which ``σ(0)`` is evaluated.

    Returns:
      A ``Cleanup``.

    Raises:
      ValueError: masks that do not chain, are not 0/1, have an all-zero
        layer, or have no path from any input to any output (the output would
        not depend on ``X``).
    """
    _check_net(net)
    masks = nets.dense_masks(net) if masks is None else masks
    m = [{k: v.copy() for k, v in layer.items()} for layer in bool_masks(masks, net)]
    if not reaches_output(m)[0].any():
        raise ValueError("masks: no input has a path to an output, so the network output does not depend on X")
    L = len(m)
    zero0 = zero_at_origin(net.activation, dtype)

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


def reaches_output(masks) -> tuple:
    """Neurons with a directed path (of unmasked weights) to an output, per layer.

    Returns:
      ``L + 1`` bool arrays: inputs ``(d_x,)``, hidden layers, outputs ``(d_y,)`` (all True).
    """
    m = bool_masks(masks)
    bwd = [np.ones(m[-1]["W"].shape[0], bool)]
    for layer in reversed(m):
        bwd.insert(0, (layer["W"].T.astype(np.int64) @ bwd[0]) > 0)
    return tuple(bwd)


def effective_neurons(masks) -> tuple:
    """Definition 1: which neurons lie on a directed input → output path.

    A bias counts as an input (the paper's footnote 2: a row of ones in X).

    Returns:
      ``L + 1`` bool arrays: inputs ``(d_x,)``, hidden layers, outputs ``(d_y,)``.
    """
    m = bool_masks(masks)
    return tuple(f & b for f, b in zip(_forward_reach(m), reaches_output(m)))


def isolated_neurons(masks) -> tuple:
    """Hidden neurons with no connection at all (removed ones), per hidden layer."""
    m = bool_masks(masks)
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

    Apply it to cleaned masks (``effective_masks(net, masks).masks``): the smaller
    network then computes the same function of ``X[kept[0]]``.
    """
    m = bool_masks(masks)
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
    return tuple(float(layer["W"].mean()) for layer in bool_masks(masks))


def network_class(masks) -> str:
    """``"dense"``, ``"SD"`` (a sparse layer before a dense final layer), ``"SS"``
    (sparse first and final layers) or ``"DS"`` (dense first, sparse final
    layer; not named in the paper). Judge the *compact* effective network:
    ``network_class(compact(effective_masks(net, m).masks).masks)`` (as ``structure_report`` does)."""
    d = densities(masks)
    if all(x == 1.0 for x in d):
        return "dense"
    if d[-1] == 1.0:
        return "SD"
    return "SS" if d[0] < 1.0 else "DS"

# ----------------------------------------------------------------------------- theorem checks and report


def _effective_network(net: MLP, X, masks, dtype):
    """Cleans and compacts; returns ``(cleanup, compact, effective net, X of the kept inputs)``."""
    _check_net(net)
    masks = nets.dense_masks(net) if masks is None else masks
    bool_masks(masks, net)
    if X is not None:
        X = np.asarray(validate.data(net, X)[0])  # (d_x, n), n >= 1, real, finite
    dtype = validate.float_dtype(dtype)
    clean = effective_masks(net, masks, dtype=dtype)
    c = compact(clean.masks)
    enet = MLP(c.sizes, net.activation, bias=net.bias)
    return clean, c, enet, None if X is None else X[c.kept[0]]


def check_theorems(net: MLP, X=None, masks=None, *, dtype=jnp.float32) -> tuple:
    """The conditions of Theorems 1-6 (``landscape.conditions``) on the effective network.

    The masks are cleaned (``effective_masks``) and compacted first, and unused inputs are
    dropped from ``X``: the theorems are about the effective network, which computes the
    same function. See ``structure_report`` for the one-call version with a readable summary.

    Args:
      net: the network (sizes, activation, bias).
      X: optional ``(d_x, n)`` data (needed for ``Z_i``, ``n`` and Assumption 1).
      masks: 0/1 masks (either layout); None = dense.
      dtype: dtype in which ``σ(0)`` is evaluated.

    Returns:
      A tuple of six ``conditions.Check``, Theorems 1 to 6.
    """
    _, c, enet, Xe = _effective_network(net, X, masks, dtype)
    return _checks(enet, Xe, c.masks, dtype)


def _checks(net: MLP, X, masks, dtype) -> tuple:
    # landscape.conditions sits above the mask graph (it uses this module), so it is imported here.
    from landscape import conditions as C

    return (C.theorem1_conditions(net, X, None, masks), C.theorem2_conditions(net, X, None, masks),
            C.theorem3_conditions(net, X, masks), C.theorem4_conditions(net, X, masks),
            C.theorem5_conditions(net, X, masks), C.theorem6_conditions(net, X, masks, dtype=dtype))


@dataclasses.dataclass(frozen=True)
class StructureReport(io.Saveable):
    """What ``structure_report`` found. ``str(report)`` is the readable version: the network
    class first, then the clean-up, Eq. (2) and one block per theorem.

    Attributes:
      activation: activation name.
      n: number of samples (None without data).
      kind: ``network_class`` of the compact effective network (dense / SD / SS / DS).
      densities_given / densities_effective: per-layer weight densities.
      sizes_effective: widths of the compact effective network.
      effective_given: whether the given masks were already effective.
      cleanup: the ``Cleanup``.
      decomposition: Eq. (2) of the effective first layer (``PatternDecomposition``).
      checks: the theorem ``conditions.Check``s (Theorems 1 to 6).
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
        lines += [str(c) for c in self.checks]
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
        net, X, masks = self.inputs
        arrays, layout = io.tree_arrays("mask", _as_dicts(masks))
        if X is not None:
            arrays["X"] = np.asarray(X)
        return arrays, {"mask_layout": layout, "net": net.to_dict(), "polynomial": polynomial_coefficients(net.activation)
                        if not isinstance(net.activation, str) else None, "report": self.to_dict()}

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "StructureReport":
        """Rebuilds the report from the saved net, masks and data."""
        from landscape.activations import polynomial

        masks = io.tree_from_arrays("mask", arrays, meta["mask_layout"])
        n = meta.get("net")
        if n is None:  # a file written by 0.1 (structure_report(masks, activation, X)): the net from the masks
            sizes = [np.shape(masks[0]["W"])[1]] + [np.shape(layer["W"])[0] for layer in masks]
            n = {"sizes": sizes, "activation": meta["activation"], "bias": any("b" in layer for layer in masks)}
        act = n["activation"] if meta.get("polynomial") is None else polynomial(meta["polynomial"])
        try:
            return structure_report(MLP(tuple(n["sizes"]), act, bias=n["bias"]), arrays.get("X"), masks)
        except ValueError as e:
            raise ValueError(f"report: cannot rebuild the saved report ({e})") from None


def structure_report(net: MLP, X=None, masks=None, *, dtype=jnp.float32) -> StructureReport:
    """One call: clean-up, classification, Eq. (2) and the conditions of Theorems 1-6.

    Args:
      net: the network (sizes, activation, bias).
      X: optional ``(d_x, n)`` data (needed for ``Z_i``, ``n`` and Assumption 1).
      masks: 0/1 masks ``({"W": (out, in)[, "b"]}, ...)`` or a list of matrices; None = dense.
      dtype: dtype for ``σ(0)``.

    Returns:
      A ``StructureReport``; ``print(report)`` gives the network class, then which theorem
      applies and, where one does not, which condition fails.

    Raises:
      ValueError: masks that do not chain, are not 0/1, have an all-zero layer or other
        shapes than ``net``; ``X`` whose rows do not match the first layer.
    """
    _check_net(net)
    masks = nets.dense_masks(net) if masks is None else masks
    clean, c, enet, Xe = _effective_network(net, X, masks, dtype)
    dec = pattern_decomposition(bool_masks(c.masks)[0]["W"].astype(np.int8), Xe)
    return StructureReport(activation=activation_name(net.activation), n=None if X is None else int(np.shape(X)[1]),
                           kind=network_class(c.masks), densities_given=densities(masks),
                           densities_effective=densities(c.masks), sizes_effective=c.sizes,
                           effective_given=is_effective(masks, ignore_isolated=False), cleanup=clean, decomposition=dec,
                           checks=_checks(enet, Xe, c.masks, dtype), inputs=(net, X, masks))
