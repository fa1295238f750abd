"""The landscape atlas: every sparse structure of a small one-hidden-layer net, mapped with evidence.

For a net ``(d_x, p, d_y)`` (no bias) and data ``X, Y``:

1. **Structures** (``enumerate_structures``): every pair of 0/1 masks ``(M1 (p×d_x), M2 (d_y×p))``,
   cleaned by Appendix A (``structure.effective_masks``) and reduced modulo the symmetries that
   leave the problem unchanged: hidden-unit permutations always; an input permutation ``P`` with
   an output permutation ``Q`` only when a sample permutation ``S`` has ``P X S = X`` and
   ``Q Y S = Y`` (``data_symmetries``). A mask whose clean-up removes connections is merged
   into its cleaned representative (``Structure.n_masks`` counts the masks merged): the removed
   weights only ever multiplied an unused value or an exact zero, so the loss of the given masks
   is the loss of the cleaned ones, constant along the removed weights -- the landscape is the
   cleaned one times a flat factor, with the same valleys and minima (strict minima become
   non-strict along the removed weights). Structures whose clean-up leaves an input or an output
   without a path (``structure.is_effective``) are not kept (they are structures of a smaller
   net; ``Enumeration.excluded`` counts them). Larger nets: a seeded random sample of masks.
   Each structure gets its structure report (dense / SD / SS / DS of the compact effective net)
   and ``benign_theorem``: the first of Theorems 1-5 whose conditions hold on the data.
2. **Trials** (``run_atlas``): every structure × N trials of gradient descent for one activation
   in one ``trials.train`` call (per-trial masks as data: one compiled program), chunked and
   resumable through ``checkpoint``.
3. **Classification with evidence** (``classify``): the global value (Theorem 6's proved ``L*``
   for Eq. (3), else the best found, labelled as such), ``P(global)`` with a Wilson interval, the
   distinct other end points (``solutions.group_solutions``) labelled by
   ``curvature.classify_critical_point`` (strict minimum, flat minimum / degenerate -> a valley
   candidate, saddle, not critical -> unconverged) and for each spurious candidate a connectivity
   search (``connectivity.connect``) to the best point below its level: a path found removes it.
   On Eq. (3) with Theorem 6's data a valley end point is projected onto ``θ(a, b)`` and
   ``theory.certify_valley`` proves the spurious valley.
4. **Agreement with the theory**: a structure covered by a no-spurious-valley theorem with a
   spurious strict minimum (sampled) or a proved valley is a ``Contradiction``, printed loudly
   with what reproduces it.

The wording follows ``landscape.verdicts`` (docs/verdicts.md); docs/atlas.md explains how to read
the output.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import time
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from scipy import stats

from landscape import connectivity, curvature, io, nets, solutions, structure, theory, trials, validate
from landscape.activations import activation_name, zero_at_origin
from landscape.activations import get_activation as ls_activation
from landscape.nets import MLP
from landscape.verdicts import Evidence, summary_line

KINDS = ("dense", "SD", "SS", "DS")
BENIGN_THEOREMS = ("Theorem 1", "Theorem 2", "Theorem 3", "Theorem 4", "Theorem 5")
"""The theorems that rule out spurious valleys (Theorem 5: those with non-empty interior)."""
SPURIOUS_TYPES = ("strict_minimum", "valley", "saddle", "undecided", "unconverged", "diverged")
CANDIDATE = "candidate: no path to a lower point found below its level"
REMOVED = "path to a lower point found below its level"

MAX_EXHAUSTIVE = 2**16
"""Nets with more raw masks than this are sampled (``enumerate_structures(sample=...)``)."""


# ============================================================================= symmetries


def data_symmetries(X, Y) -> tuple:
    """The pairs ``(b, c)`` of an input and an output permutation that some sample permutation undoes.

    ``b`` (``(d_x,)``) and ``c`` (``(d_y,)``) are index arrays: ``P X = X[b]``, ``Q Y = Y[c]``. The
    pair is kept when the columns of ``[X[b]; Y[c]]`` are those of ``[X; Y]`` as a multiset (exact
    comparison), i.e. ``P X S = X`` and ``Q Y S = Y`` for a sample permutation ``S``. Then masks
    ``(M1, M2)`` and ``(M1[:, b], M2[c, :])`` have the same landscape (params map the same way).
    The identity is always first. ``d_x! d_y!`` pairs are tried (at most 8 inputs and outputs).

    Returns:
      A tuple of ``(b, c)`` int arrays.
    """
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    dx, dy = X.shape[0], Y.shape[0]
    if dx > 8 or dy > 8:
        raise ValueError(f"X, Y: data symmetries are searched over d_x! d_y! permutations; expected d_x, d_y <= 8, "
                         f"got {dx}, {dy}")

    def columns(A):
        return A[:, np.lexsort(A[::-1])]

    ref = columns(np.vstack([X, Y]))
    out = []
    for b in itertools.permutations(range(dx)):
        for c in itertools.permutations(range(dy)):
            if np.array_equal(columns(np.vstack([X[list(b)], Y[list(c)]])), ref):
                out.append((np.array(b), np.array(c)))
    return tuple(out)


def symmetry_group(p: int, X, Y) -> tuple:
    """Every ``(a, b, c)``: a hidden permutation ``a`` with a data symmetry ``(b, c)``; acts as
    ``(M1, M2) -> (M1[a][:, b], M2[c][:, a])`` (``act``). The identity is first."""
    p = validate.integer(p, "p", low=1, high=8)
    return tuple((np.array(a), b, c) for a in itertools.permutations(range(p)) for b, c in data_symmetries(X, Y))


def act(g, M1, M2) -> tuple:
    """``g = (a, b, c)`` applied to masks (or weights) ``M1 (..., p, d_x)``, ``M2 (..., d_y, p)``."""
    a, b, c = g
    return M1[..., a, :][..., :, b], M2[..., c, :][..., :, a]


def _codes(M1, M2) -> np.ndarray:
    """Masks ``(N, p, d_x)``, ``(N, d_y, p)`` -> ``(N,)`` integers (bits of ``M1`` then ``M2``, row-major)."""
    bits = np.concatenate([M1.reshape(M1.shape[0], -1), M2.reshape(M2.shape[0], -1)], axis=1).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(bits.shape[1], dtype=np.int64))


def _decode(code: int, p: int, dx: int, dy: int) -> tuple:
    bits = (int(code) >> np.arange(p * dx + dy * p)) & 1
    return bits[:p * dx].reshape(p, dx).astype(np.int8), bits[p * dx:].reshape(dy, p).astype(np.int8)


def canonical_codes(M1, M2, group) -> np.ndarray:
    """The canonical form of each mask pair: the smallest code over its orbit under ``group``.

    Args:
      M1: ``(N, p, d_x)`` and M2: ``(N, d_y, p)`` 0/1 masks.
      group: from ``symmetry_group``.

    Returns:
      ``(N,)`` int64 codes; two pairs are in one orbit iff their codes are equal.
    """
    M1, M2 = np.asarray(M1, bool), np.asarray(M2, bool)
    return np.min(np.stack([_codes(*act(g, M1, M2)) for g in group]), axis=0)


def burnside_count(M1, M2, group) -> int:
    """The number of orbits of a set of mask pairs closed under ``group``, by Burnside's lemma:
    ``(1/|G|) Σ_g |Fix(g)|`` (an independent check of ``canonical_codes``)."""
    M1, M2 = np.asarray(M1, bool), np.asarray(M2, bool)
    base = _codes(M1, M2)
    fixed = sum(int(np.sum(_codes(*act(g, M1, M2)) == base)) for g in group)
    if fixed % len(group):
        raise ValueError("M1, M2: the set is not closed under the group (Burnside's sum is not a multiple of |G|)")
    return fixed // len(group)


# ============================================================================= structures


@dataclasses.dataclass(frozen=True)
class Structure:
    """One structure of the atlas (an orbit of cleaned, effective masks).

    Attributes:
      index: position in the atlas.
      masks: the representative, ``(M1 (p×d_x), M2 (d_y×p))`` int8 0/1 (the orbit's smallest
        code, or Eq. (3)'s masks for Theorem 6's orbit).
      code: the canonical code.
      n_masks: raw masks merged into it (its orbit and the masks whose clean-up gives it).
      n_orbit: masks in the orbit of the representative itself.
      kind: dense / SD / SS / DS (``structure.network_class`` of the compact effective net).
      report: the ``structure.StructureReport`` (None when not computed).
      benign_theorem: the first of Theorems 1-5 whose conditions hold (``Check.applies``), or None.
      benign_evidence: that check's evidence (``proved``: APPLIES; ``sampled``: holds numerically).
      eq3: whether this is the orbit of Eq. (3)'s masks.
    """

    index: int
    masks: tuple
    code: int
    n_masks: int
    n_orbit: int
    kind: str
    report: object = dataclasses.field(default=None, repr=False, compare=False)
    benign_theorem: Optional[str] = None
    benign_evidence: Optional[str] = None
    eq3: bool = False

    def mask_tree(self, dtype=np.float32) -> tuple:
        return tuple({"W": np.asarray(m, dtype)} for m in self.masks)

    @classmethod
    def from_dict(cls, d: dict) -> "Structure":
        """The structure of a ``to_dict`` (or of a row of ``atlas.json``); the report is not stored (None)."""
        return cls(int(d["index"]), tuple(np.asarray(m, np.int8) for m in d["masks"]), int(d["code"]), int(d["n_masks"]),
                   int(d["n_orbit"]), d["kind"], None, d["benign_theorem"], d["benign_evidence"], bool(d["eq3"]))

    def to_dict(self) -> dict:
        return {"index": self.index, "masks": [m.tolist() for m in self.masks], "code": int(self.code),
                "n_masks": self.n_masks, "n_orbit": self.n_orbit, "kind": self.kind,
                "benign_theorem": self.benign_theorem, "benign_evidence": self.benign_evidence, "eq3": self.eq3}


@dataclasses.dataclass(frozen=True)
class Enumeration:
    """What ``enumerate_structures`` found.

    Attributes:
      sizes: ``(d_x, p, d_y)``.  activation: σ's name (the clean-up depends on ``σ(0) = 0``).
      structures: tuple of ``Structure``.
      n_raw: raw mask pairs considered (``2^(p d_x + d_y p)`` or the sample size).
      n_orbits_raw: orbits of the raw pairs under the group.
      group_size: ``|G|`` (hidden permutations × data symmetries).
      data_symmetries: the ``(b, c)`` pairs, as lists.
      excluded: raw masks not kept, by reason.
      sampled: whether the raw masks were a random sample (then ``seed``).
      saved_counts: ``n_structures`` and ``kinds`` of the whole enumeration when it was loaded from
        ``atlas.json`` (``structures`` then holds only the structures that were run).
    """

    sizes: tuple
    activation: str
    structures: tuple
    n_raw: int
    n_orbits_raw: int
    group_size: int
    data_symmetries: tuple
    excluded: dict
    sampled: bool = False
    seed: Optional[int] = None
    saved_counts: Optional[dict] = None

    def to_dict(self) -> dict:
        if self.saved_counts is not None:  # loaded from atlas.json: the counts of the whole enumeration
            return {**self._dict(), **self.saved_counts}
        return self._dict()

    def _dict(self) -> dict:
        return {"sizes": list(self.sizes), "activation": self.activation, "n_structures": len(self.structures),
                "n_raw_masks": self.n_raw, "n_orbits_raw": self.n_orbits_raw, "group_size": self.group_size,
                "data_symmetries": [[b.tolist(), c.tolist()] for b, c in self.data_symmetries],
                "excluded": dict(self.excluded), "sampled": self.sampled, "seed": self.seed,
                "kinds": {k: sum(s.kind == k for s in self.structures) for k in KINDS}}


def theorem6_targets(X, Y) -> Optional[theory.Theorem6]:
    """Eq. (3)'s targets when ``X = I₃`` and ``Y`` has Eq. (3)'s form with footnote 5's inequalities
    (exact comparison), else None."""
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    if X.shape != (3, 3) or Y.shape != (3, 3) or not np.array_equal(X, np.eye(3)):
        return None
    thm = theory.Theorem6(float(Y[0, 0]), float(Y[1, 0]), float(Y[1, 1] - Y[1, 0]), float(Y[2, 2]))
    if not np.array_equal(thm.Y, Y):
        return None
    try:
        thm.check()
    except ValueError:
        return None
    return thm


def _benign(report) -> tuple:
    for c in report.checks:
        if c.theorem in BENIGN_THEOREMS and c.applies:
            return c.theorem, Evidence(c.evidence).value
    return None, None


def enumerate_structures(sizes: Sequence[int], X, Y, activation="tanh", *, sample: Optional[int] = None,
                         seed: int = 0, reports: bool = True, max_exhaustive: int = MAX_EXHAUSTIVE) -> Enumeration:
    """Every structure of a one-hidden-layer net, modulo the problem's symmetries (see the module docstring).

    Args:
      sizes: ``(d_x, p, d_y)``.
      X: ``(d_x, n)`` data; Y: ``(d_y, n)`` targets (their symmetries and the theorems' conditions).
      activation: σ (its ``σ(0) = 0`` decides the zero in-degree clean-up rules; its report).
      sample: draw this many raw mask pairs (seeded, uniform over all pairs) instead of all of them;
        required when there are more than ``max_exhaustive`` pairs.
      seed: the sample's seed.
      reports: compute each structure's report and ``benign_theorem`` (seconds for hundreds).

    Returns:
      An ``Enumeration``: structures sorted by kind (dense, SD, SS, DS), then by code.

    Raises:
      ValueError, TypeError: bad sizes, data or sample (naming them).
    """
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) != 3:
        raise ValueError(f"sizes: expected (d_x, p, d_y) of a one-hidden-layer net, got {validate.got(sizes)}")
    dx, p, dy = (validate.integer(v, f"sizes[{i}]", low=1) for i, v in enumerate(sizes))
    net = MLP((dx, p, dy), activation, bias=False)
    X, Y = nets.check_data(net, X, Y)
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    seed = validate.seed(seed)
    sample = validate.optional_integer(sample, "sample", low=1)
    n_bits = p * dx + dy * p
    group = symmetry_group(p, X, Y)
    total = 2**n_bits
    if sample is None and total > max_exhaustive:
        raise ValueError(f"sample: the net {(dx, p, dy)} has 2^{n_bits} mask pairs (> {max_exhaustive}); pass "
                         f"sample=<number of random mask pairs> (CLI: --sample)")
    if sample is None:
        codes = np.arange(total, dtype=np.int64)
    else:
        rng = np.random.default_rng(seed)
        codes = rng.integers(0, 2, size=(sample, n_bits)) @ (np.int64(1) << np.arange(n_bits, dtype=np.int64))
    bits = (codes[:, None] >> np.arange(n_bits)) & 1
    M1 = bits[:, :p * dx].reshape(-1, p, dx).astype(bool)
    M2 = bits[:, p * dx:].reshape(-1, dy, p).astype(bool)
    raw = canonical_codes(M1, M2, group)
    orbit_codes, orbit_count = np.unique(raw, return_counts=True)
    zero0 = zero_at_origin(activation)
    merged, excluded = {}, {"no path from an input to an output": 0, "an input or an output without a path": 0}
    for code, count in zip(orbit_codes, orbit_count):
        m1, m2 = _decode(code, p, dx, dy)
        try:
            clean = structure.effective_masks(net, [m1, m2])
        except ValueError:  # an all-zero layer, or no input reaches an output
            excluded["no path from an input to an output"] += int(count)
            continue
        c1, c2 = (np.asarray(m, np.int8) for m in clean.masks)
        if not structure.is_effective([c1, c2]):
            excluded["an input or an output without a path"] += int(count)
            continue
        key = int(canonical_codes(c1[None], c2[None], group)[0])
        merged[key] = merged.get(key, 0) + int(count)
    thm = theorem6_targets(X, Y) if (dx, p, dy) == (3, 2, 3) and zero0 else None
    eq3_code = int(canonical_codes(theory.FIRST_MASK[None] != 0, theory.FINAL_MASK[None] != 0, group)[0]) \
        if (dx, p, dy) == (3, 2, 3) else None
    out = []
    for key, count in merged.items():
        eq3 = key == eq3_code
        m1, m2 = ((theory.FIRST_MASK.astype(np.int8), theory.FINAL_MASK.astype(np.int8)) if eq3
                  else _decode(key, p, dx, dy))
        orbit = len(set(_codes(*act(g, m1[None].astype(bool), m2[None].astype(bool)))[0] for g in group))
        kind = structure.network_class(structure.compact([m1, m2]).masks)
        rep, benign, ev = None, None, None
        if reports:
            rep = structure.structure_report(net, X, [m1, m2])
            benign, ev = _benign(rep)
        out.append(Structure(0, (m1, m2), key, count, orbit, kind, rep, benign, ev, eq3 and thm is not None))
    out.sort(key=lambda s: (KINDS.index(s.kind), s.code))
    out = tuple(dataclasses.replace(s, index=i) for i, s in enumerate(out))
    return Enumeration((dx, p, dy), activation_name(activation), out, int(codes.size), int(orbit_codes.size),
                       len(group), tuple(data_symmetries(X, Y)), excluded, sample is not None,
                       seed if sample is not None else None)


# ============================================================================= settings


def table3_data() -> tuple:
    """The default data: Table 3's ``X = I₃`` and ``Y`` of Eq. (3) with ``y = (1, 2, 6, 2)``."""
    thm = theory.Theorem6()
    return thm.X, thm.Y


def random_data(sizes: Sequence[int], n: int, seed: int = 0) -> tuple:
    """``X (d_x, n)``, ``Y (d_y, n)`` with standard normal entries (float64), seeded (NumPy's PCG64)."""
    n, seed = validate.integer(n, "n", low=1), validate.seed(seed)
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) != 3:
        raise ValueError(f"sizes: expected (d_x, p, d_y), got {validate.got(sizes)}")
    rng = np.random.default_rng(seed)
    return rng.standard_normal((int(sizes[0]), n)), rng.standard_normal((int(sizes[2]), n))


@dataclasses.dataclass(frozen=True)
class AtlasConfig:
    """Settings of an atlas (frozen; validated).

    Attributes:
      sizes: ``(d_x, p, d_y)`` of the one-hidden-layer net (no bias).
      activations: σ names.
      n_trials: trials per structure and activation.
      seed: root seed; trial ``j`` of structure ``i`` has id ``i·n_trials + j``
        (``trials.trial_key``), so a structure's trials do not depend on which others run.
      learning_rate, max_steps, gtol, loss, dtype: gradient descent as ``trials.TrainConfig``.
      chunk_size: trials per compiled call and per checkpoint write (``trials.train``).
      global_tol: an end point is at the global value when its loss is within this (½-sum units).
      grad_tol: an end point that stopped at ``max_steps`` with ``‖∇L‖ > grad_tol`` is unconverged;
        also the gradient tolerance of the curvature labels.
      solution_tol: grouping tolerance of distinct end points (outputs and losses,
        ``solutions.group_solutions``).
      eig_atol: zero band of the Hessian eigenvalues (``curvature.classify_critical_point``).
      connect_methods, connect_steps: the connectivity search of each candidate (``connectivity.connect``).
      max_candidates: at most this many candidates per structure get a search (most frequent
        first); the others say so.
      structures: indices into the enumeration to run (None: all).
      sample: random raw mask pairs for nets too large to enumerate (``enumerate_structures``).
      data: a label of the data (``"table3"``, ``"random"``, ``"user"``), recorded.
    """

    sizes: tuple = (3, 2, 3)
    activations: tuple = ("tanh",)
    n_trials: int = 1000
    seed: int = 0
    learning_rate: float = 0.01
    max_steps: int = 20_000
    gtol: float = 1e-5
    loss: str = "half_sum"
    dtype: str = "float32"
    chunk_size: Optional[int] = 2**12
    global_tol: float = 1e-3
    grad_tol: float = 1e-3
    solution_tol: float = 0.05
    eig_atol: float = 1e-4
    connect_methods: tuple = ("linear", "chain")
    connect_steps: int = 300
    max_candidates: int = 4
    structures: Optional[tuple] = None
    sample: Optional[int] = None
    data: str = "table3"

    def __post_init__(self):
        set_ = lambda name, v: object.__setattr__(self, name, v)  # noqa: E731 - frozen: the validated values
        if isinstance(self.sizes, (str, bytes)) or not hasattr(self.sizes, "__len__") or len(self.sizes) != 3:
            raise ValueError(f"sizes: expected (d_x, p, d_y) of a one-hidden-layer net, got {validate.got(self.sizes)}")
        set_("sizes", tuple(validate.integer(v, f"sizes[{i}]", low=1) for i, v in enumerate(self.sizes)))
        if isinstance(self.activations, str):
            raise TypeError(f"activations: expected a sequence of names such as ('tanh',), got {self.activations!r} (a str)")
        set_("activations", validate.one_of_each(self.activations, "activations"))
        for a in self.activations:
            if not isinstance(a, str):
                raise TypeError(f"activations: expected names (str), got {validate.got(a)}")
            MLP(self.sizes, a)  # an unknown name raises here
        set_("n_trials", validate.integer(self.n_trials, "n_trials", low=1))
        set_("seed", validate.seed(self.seed))
        for name in ("global_tol", "grad_tol", "solution_tol", "eig_atol"):
            set_(name, validate.positive(getattr(self, name), name))
        set_("connect_steps", validate.integer(self.connect_steps, "connect_steps", low=1))
        set_("max_candidates", validate.integer(self.max_candidates, "max_candidates", low=0))
        if isinstance(self.connect_methods, str):
            raise TypeError(f"connect_methods: expected a sequence such as ('linear', 'chain'), got {self.connect_methods!r}")
        set_("connect_methods", tuple(self.connect_methods))
        bad = [m for m in self.connect_methods if m not in connectivity.METHODS]
        if bad or not self.connect_methods:
            raise ValueError(f"connect_methods: expected a non-empty subset of {connectivity.METHODS}, got {self.connect_methods}")
        if self.structures is not None:
            if isinstance(self.structures, (str, bytes)) or not hasattr(self.structures, "__iter__"):
                raise TypeError(f"structures: expected structure indices such as (0, 5), got {validate.got(self.structures)}")
            set_("structures", tuple(sorted(set(validate.integer(i, "structures", low=0) for i in self.structures))))
            if not self.structures:
                raise ValueError("structures: expected at least one structure index, got none")
        set_("sample", validate.optional_integer(self.sample, "sample", low=1))
        set_("chunk_size", validate.optional_integer(self.chunk_size, "chunk_size", low=1))
        validate.choice(self.data, "data", ("table3", "random", "user"))
        self.train_config()  # validates learning rate, steps, gtol, loss, dtype

    def train_config(self) -> trials.TrainConfig:
        return trials.TrainConfig(learning_rate=self.learning_rate, max_steps=self.max_steps, gtol=self.gtol,
                                  loss=self.loss, dtype=self.dtype, chunk_steps=min(2_000, self.max_steps),
                                  history_stride=min(1_000, self.max_steps))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        for k in ("sizes", "activations", "connect_methods", "structures"):
            d[k] = None if d[k] is None else list(d[k])
        d["optimizer"] = "gradient descent (optax.sgd)"
        d["init"] = "PyTorch default U(-1/sqrt(fan_in), 1/sqrt(fan_in))"
        d["bias"] = False
        return d


def quick_structures(enum: Enumeration, per_kind: int = 2) -> tuple:
    """The ``--quick`` subset: Eq. (3)'s structure (when present), every dense one, and the first
    ``per_kind`` of SD, SS and DS (by code)."""
    keep = [s.index for s in enum.structures if s.eq3 or s.kind == "dense"]
    for kind in ("SD", "SS", "DS"):
        keep += [s.index for s in enum.structures if s.kind == kind and not s.eq3][:per_kind]
    return tuple(sorted(set(keep)))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple:
    """Wilson score interval of ``k/n`` (scipy's ``binomtest``)."""
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


# ============================================================================= classification


@dataclasses.dataclass(frozen=True)
class Contradiction:
    """A structure covered by a no-spurious-valley theorem with a spurious point of at least sampled evidence.

    Either a bug (of the library, of a tolerance) or a finding; ``reproduce`` has what is needed to
    check it: net, activation, masks, data digests, seed, trial id and the point's weights.
    """

    structure: int
    theorem: str
    theorem_evidence: str
    point: dict
    reproduce: dict

    def __str__(self) -> str:
        bar = "!" * 78
        p = self.point
        return "\n".join([bar, f"CONTRADICTION: structure {self.structure} is covered by {self.theorem} "
                          f"[{self.theorem_evidence}], yet a spurious point was found:",
                          f"  {p['type']} at loss {p['loss']:.6g} (global value {self.reproduce['global_value']:.6g}): "
                          f"{p['verdict']} [{p['evidence']}: {p.get('how', '')}]",
                          f"  reproduce: {io.to_json(self.reproduce)}",
                          "  a bug of the library or a tolerance, or a finding about the theorem: check it by hand", bar])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class StructureResult:
    """One structure under one activation: its trials classified with evidence.

    Attributes:
      structure: the ``Structure``.  activation: σ's name.  n_trials: trials run.
      global_value, global_evidence, global_how: the global value (``proved`` infimum, or
        ``sampled``: the best found) and how it was obtained.
      n_global: trials ending within ``global_tol`` of it; p_global, ci: their fraction and its
        Wilson 95 % interval.
      spurious: dicts of the other end points (``loss``, ``count``, ``type``, ``verdict``,
        ``evidence``, ``how``, curvature ``label``, ``trial``, ``w``), lowest loss first.
      removed: candidates a connectivity search joined to a lower point below their level.
      status: the engine's status counts.
      contradiction: a ``Contradiction`` or None.
    """

    structure: Structure
    activation: str
    n_trials: int
    global_value: float
    global_evidence: str
    global_how: str
    n_global: int
    p_global: float
    ci: tuple
    spurious: tuple
    removed: tuple
    status: dict
    contradiction: Optional[Contradiction] = None

    @property
    def verdict(self) -> str:
        return self._judgement()[0]

    @property
    def evidence(self) -> str:
        return self._judgement()[1]

    def _judgement(self) -> tuple:
        s = self.structure
        if self.contradiction is not None:
            p = self.contradiction.point
            return (f"CONTRADICTION with {s.benign_theorem}: a {p['type'].replace('_', ' ')} at loss {p['loss']:.4g}",
                    p["evidence"])
        proved = [p for p in self.spurious if p["type"] == "valley" and p["evidence"] == Evidence.PROVED.value]
        if proved:
            return f"has a spurious valley ({proved[0]['how'].split(':')[0]})", Evidence.PROVED.value
        cands = [p for p in self.spurious if p["type"] in ("strict_minimum", "valley")]
        if cands:
            m = sum(p["type"] == "strict_minimum" for p in cands)
            return (f"{len(cands)} spurious candidates ({m} strict minima, {len(cands) - m} valley candidates), "
                    f"not proved", Evidence.SAMPLED.value)
        if s.benign_theorem is not None:
            word = "applies" if s.benign_evidence == Evidence.PROVED.value else "conditions hold numerically"
            return f"no spurious valleys ({s.benign_theorem} {word})", s.benign_evidence
        return f"no spurious candidate found in {self.n_trials} trials", Evidence.SAMPLED.value

    def to_dict(self) -> dict:
        s = self.structure
        return {"index": s.index, "masks": [m.tolist() for m in s.masks], "kind": s.kind,
                "benign_theorem": s.benign_theorem, "benign_evidence": s.benign_evidence, "eq3": s.eq3,
                "n_masks": s.n_masks, "code": int(s.code), "n_orbit": s.n_orbit, "activation": self.activation,
                "n_trials": self.n_trials,
                "global_value": {"loss": self.global_value, "evidence": self.global_evidence, "how": self.global_how},
                "n_global": self.n_global, "p_global": self.p_global, "ci": list(self.ci),
                "spurious": [dict(p) for p in self.spurious], "removed": [dict(p) for p in self.removed],
                "status": self.status, "verdict": self.verdict, "evidence": self.evidence,
                "contradiction": None if self.contradiction is None else self.contradiction.to_dict()}


def _structure_result(d: dict) -> StructureResult:
    """A ``StructureResult`` from its ``to_dict`` (a row of ``atlas.json``)."""
    c = d.get("contradiction")
    g = d["global_value"]
    return StructureResult(Structure.from_dict(d), d["activation"], int(d["n_trials"]), float(g["loss"]), g["evidence"],
                           g["how"], int(d["n_global"]), float(d["p_global"]), tuple(d["ci"]), tuple(d["spurious"]),
                           tuple(d["removed"]), dict(d["status"]), None if c is None else Contradiction(**c))


def _certify_eq3(thm: theory.Theorem6, activation: str, w) -> Optional[tuple]:
    """Projects a trained point near the valley onto ``θ(a, b)`` and runs ``theory.certify_valley`` there:
    ``(certificate, distance, (a, b))`` or None when ``θ(a, b)`` does not exist.

    ``1/a = (σ(w5) + σ(w6))/2`` and ``1/b = σ(w7)`` (values σ takes, so ``θ(a, b)`` exists; GD approaches
    the valley slowly along ``w7 → ∞``, where ``w3 = y3/σ(w7)`` is far better determined by ``w7`` than
    ``b = w3/y3``); ``a = w1/y1``, ``b = w3/y3`` when those are not finite."""
    w = np.asarray(w, np.float64)
    sig = np.asarray(jax.jit(ls_activation(activation))(jnp.asarray(w[4:7], jnp.float64)), np.float64) \
        if jax.config.read("jax_enable_x64") else None
    with np.errstate(divide="ignore"):
        a, b = (2.0 / (sig[0] + sig[1]), 1.0 / sig[2]) if sig is not None else (np.inf, np.inf)
    if not (np.isfinite(a) and np.isfinite(b)):
        a, b = w[0] / thm.y1, w[2] / thm.y3
    try:
        with jax.enable_x64(True):
            point = theory.valley_point(thm, activation, jnp.float64(a), jnp.float64(b))
            cert = theory.certify_valley(thm, activation, point, n_perturbations=200)
            wv = np.asarray(theory.w_from_params(jax.tree.map(np.asarray, point)), np.float64)
    except ValueError:
        return None
    return cert, float(np.linalg.norm(wv - w)), (float(a), float(b))


@functools.partial(jax.jit, static_argnames=("net",))
def _grad_hessian(net: MLP, params, X, Y, masks):
    """``(∇L, ∇²L)`` over all weights (masked ones included) at one point, masks as data (vmapped by the caller)."""
    flat, unravel = ravel_pytree(params)

    def L(v):
        return nets.loss(net, unravel(v), X, Y, masks, "half_sum")

    return jax.grad(L)(flat), jax.hessian(L)(flat)


def _prefilter(net: MLP, params_batch, X, Y, masks, gtol: float, eig_atol: float, eig_rtol: float = 1e-8) -> list:
    """The first tests of ``curvature.classify_critical_point``, batched over points in one compiled program.

    ``classify_critical_point`` compiles a gradient and a Hessian per objective (one per structure and call);
    here one program serves every point and structure (masks as data). For each point: ``"not_critical"``
    when ``‖∇L‖ > gtol`` on the free coordinates, ``"saddle"`` when the free-coordinate Hessian has
    eigenvalues below ``−band`` and above ``band`` (``band = max(eig_atol, eig_rtol·max|λ|, 4 k eps ‖H‖_F)``,
    ``classify_critical_point``'s band), else None: the point goes to ``classify_critical_point`` (strict
    minimum, flat minimum, degenerate, ...). Returns ``(label or None, how)`` per point.
    """
    dtype = np.dtype(jax.tree.leaves(params_batch)[0].dtype)
    G, H = jax.vmap(_grad_hessian, in_axes=(None, 0, None, None, 0))(net, params_batch, X, Y, masks)
    G, H = np.asarray(G, np.float64), np.asarray(H, np.float64)
    free = np.concatenate([np.asarray(m).reshape(np.shape(m)[0], -1) for m in jax.tree.leaves(masks)], axis=1) != 0
    eps = float(np.finfo(dtype).eps)
    out = []
    for g, h, f in zip(G, H, free):
        k = int(f.sum())
        gn = float(np.linalg.norm(g[f]))
        if gn > gtol:
            out.append(("not_critical", f"‖∇f(z)‖ = {gn:.3g} > gtol {gtol:g} (batched gradient)"))
            continue
        hf = 0.5 * (h[np.ix_(f, f)] + h[np.ix_(f, f)].T)
        lam = np.linalg.eigvalsh(hf)
        err = 4 * k * eps * float(np.linalg.norm(hf))
        band = max(eig_atol, eig_rtol * float(np.max(np.abs(lam))), err)
        neg, pos = int(np.sum(lam < -band)), int(np.sum(lam > band))
        if neg and pos:
            out.append(("saddle", f"‖∇f(z)‖ = {gn:.2g} ≤ gtol {gtol:g}; batched eigh of the {k}x{k} Hessian at z: {neg} "
                                  f"eigenvalues < −{band:.2g}, {pos} > {band:.2g} (eigenvalue error ≤ {err:.2g})"))
        else:
            out.append((None, ""))
    return out


def classify(structure: Structure, activation: str, X, Y, result: dict, cfg: AtlasConfig, *,
             thm: Optional[theory.Theorem6] = None) -> StructureResult:
    """Classifies one structure's end points with evidence (see the module docstring).

    Args:
      structure: the structure.  activation: σ's name.
      X, Y: the data.
      result: this structure's trials: ``params`` (leaves with a leading trial axis), ``loss``,
        ``grad_norm``, ``status`` (``trials`` codes), ``trial_ids`` (host arrays).
      cfg: the settings (tolerances, connectivity search).
      thm: Theorem 6's targets when the data are Eq. (3)'s (then Eq. (3)'s structure gets the
        proved ``L*`` and its valley end points a ``certify_valley`` check).

    Returns:
      A ``StructureResult``.
    """
    net = MLP(cfg.sizes, activation, bias=False)
    masks = structure.mask_tree(np.float64)
    scale = 1.0 if cfg.loss == "half_sum" else np.asarray(Y).size / 2.0  # mean -> half_sum units
    loss = np.asarray(result["loss"], np.float64) * scale
    grad = np.asarray(result["grad_norm"], np.float64) * scale
    status = np.asarray(result["status"])
    ids = np.asarray(result["trial_ids"])
    n = loss.size
    bad = ~np.isfinite(loss) | (status == trials.DIVERGED)
    eq3 = structure.eq3 and thm is not None and zero_at_origin(activation)
    if eq3:
        gval, gev = theory.theorem6_global_min(thm)[0], Evidence.PROVED.value
        ghow = ("the infimum of Eq. (3)'s loss for continuous σ with σ(0) = 0 (theory.theorem6_global_min: "
                "Eckart-Young and AM-GM reduce it to a 1-D minimisation)")
    elif (~bad).any():
        gval, gev = float(np.min(loss[~bad])), Evidence.SAMPLED.value
        ghow = f"best found: the lowest final loss of {int((~bad).sum())} trials (not proved to be the infimum)"
    else:
        gval, gev, ghow = float("nan"), Evidence.NONE.value, "every trial diverged"
    at_global = ~bad & (np.abs(loss - gval) <= cfg.global_tol)
    k = int(at_global.sum())
    spurious, removed = [], []

    def entry(members, typ, verdict, evidence, how, label=None, rep=None):
        rep = members[0] if rep is None else rep
        w = [np.asarray(leaf[rep], np.float64).tolist() for leaf in jax.tree.leaves(result["params"])]
        d = {"loss": float(np.median(loss[members])) if np.isfinite(loss[members]).any() else float("nan"),
             "count": int(len(members)), "type": typ, "verdict": verdict, "evidence": evidence, "how": how,
             "label": label, "trial": int(ids[rep]), "w": w}
        return d

    if bad.any():
        members = np.flatnonzero(bad)
        spurious.append(entry(members, "diverged", "diverged", Evidence.SAMPLED.value,
                              "the loss became non-finite or exceeded diverge_loss during training"))
    done = np.zeros(n, bool)
    if eq3:  # end points in Theorem 6's valley band (theory.theorem6_labels, sampled): prove the valley they are near
        w8 = np.asarray(theory.w_from_params(jax.tree.map(lambda p: np.asarray(p, np.float64), tuple(result["params"]))))
        lab6 = theory.theorem6_labels(thm, w8, loss, grad, diverged=bad, global_min=gval, global_tol=cfg.global_tol,
                                      grad_tol=cfg.grad_tol)
        band = np.flatnonzero(~bad & ~at_global & (lab6 == "valley"))
        if band.size:
            got = None
            for rep in band[np.argsort(grad[band], kind="stable")][:8]:  # the first end point whose projection certifies
                got = _certify_eq3(thm, activation, w8[rep])
                if got is not None and got[0].proved:
                    break
            if got is not None and got[0].proved:
                cert, dist, (a, b) = got
                j = cert.judgement
                spurious.append(entry(band, "valley", j.statement, j.evidence.value,
                                      f"Theorem 6: {j.how}; proved at θ(a, b) with a = {a:.6g}, b = {b:.6g}, at distance "
                                      f"{dist:.3g} from the representative end point; the {band.size} end points are in "
                                      f"the valley band of theory.theorem6_labels (|w4| <= 0.01, loss near y4²/2: sampled, "
                                      f"not proved to lie on the valley); local checks {cert.local}", "valley", rep))
                done[band] = True
    unconv = ~bad & ~at_global & ~done & (status == trials.MAX_STEPS) & (grad > cfg.grad_tol)
    if unconv.any():
        members = np.flatnonzero(unconv)
        spurious.append(entry(members, "unconverged", f"unconverged after {cfg.max_steps} steps", Evidence.SAMPLED.value,
                              f"‖∇L‖ > {cfg.grad_tol:g} at the last step"))
    rest = np.flatnonzero(~bad & ~at_global & ~unconv & ~done)
    if rest.size:
        dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
        sub = jax.tree.map(lambda p: np.asarray(p)[rest], tuple(result["params"]))
        groups = solutions.group_solutions(net, sub, X, Y, masks, out_tol=cfg.solution_tol, loss_tol=cfg.solution_tol,
                                           loss=cfg.loss, dtype=dtype)
        f = curvature.masked_objective(net, X, Y, masks, loss="half_sum", dtype=dtype)
        ok = np.flatnonzero(~bad)
        best = ok[np.argmin(loss[ok])]
        z_best = f.space.flatten(jax.tree.map(lambda p: np.asarray(p[best], dtype), tuple(result["params"])), check=False)
        n_searched = 0
        order = np.argsort(groups.loss, kind="stable")
        reps = rest[groups.representative[order]]
        pre = _prefilter(net, jax.tree.map(lambda p: np.asarray(p[reps], dtype), tuple(result["params"])), X, Y,
                         jax.tree.map(lambda m: np.repeat(np.asarray(m, dtype)[None], reps.size, 0), masks),
                         cfg.grad_tol, cfg.eig_atol)
        for g, (plabel, phow) in zip(order, pre):
            members = rest[groups.group == g]
            rep = rest[groups.representative[g]]
            z = f.space.flatten(jax.tree.map(lambda p, rep=rep: np.asarray(p[rep], dtype), tuple(result["params"])),
                                check=False)
            if plabel is not None:
                label, cev, chow = plabel, Evidence.SAMPLED.value, phow
            else:
                cp = curvature.classify_critical_point(f, z, gtol=cfg.grad_tol, eig_atol=cfg.eig_atol)
                label, cev, chow = cp.label, cp.evidence, cp.how
            if label in ("saddle", "local_maximum", "not_minimum"):
                spurious.append(entry(members, "saddle", label.replace("_", " "), cev, chow, label, rep))
                continue
            if label == "not_critical":
                spurious.append(entry(members, "unconverged", "not critical", cev, chow, label, rep))
                continue
            if label == "undecided":
                spurious.append(entry(members, "undecided", "undecided", cev, chow, label, rep))
                continue
            typ = "strict_minimum" if label == "strict_minimum" else "valley"
            if n_searched >= cfg.max_candidates or rep == best:
                spurious.append(entry(members, typ, "valley candidate; no connectivity search (budget)" if typ == "valley" else
                                      "strict minimum above the global value; no connectivity search (budget)",
                                      Evidence.SAMPLED.value if typ == "strict_minimum" else Evidence.NONE.value,
                                      f"{chow}; no connectivity search: max_candidates = {cfg.max_candidates}",
                                      label, rep))
                continue
            n_searched += 1
            alpha = float(f(z))
            r = connectivity.connect(f, z, z_best, alpha=alpha, methods=cfg.connect_methods, steps=cfg.connect_steps)
            if r.connected:
                removed.append(entry(members, typ, REMOVED + f" ({r.verdict})", r.evidence,
                                     f"{r.method} path to the best end point (loss {float(f(z_best)):.6g}): {r.how}",
                                     label, rep))
                continue
            searched = (f"{'/'.join(cfg.connect_methods)} search to the best end point: {r.verdict} "
                        f"(max loss {r.max_loss:.6g} > {alpha:.6g})")
            if typ == "strict_minimum":
                spurious.append(entry(members, typ, "strict minimum above the global value; no path to a lower point "
                                      "found below its level", cev, f"{chow}; {searched}", label, rep))
            else:
                spurious.append(entry(members, typ, CANDIDATE, Evidence.SAMPLED.value,
                                      f"curvature {label} [{cev}]: {chow}; {searched}", label, rep))
    for p in spurious + removed:
        summary_line(p["verdict"], p["evidence"])  # the wording check (docs/verdicts.md)
    spurious.sort(key=lambda p: (SPURIOUS_TYPES.index(p["type"]), p["loss"] if np.isfinite(p["loss"]) else np.inf))
    contradiction = None
    if structure.benign_theorem is not None:
        hits = [p for p in spurious if (p["type"] == "strict_minimum" and Evidence(p["evidence"]) >= Evidence.SAMPLED)
                or (p["type"] == "valley" and Evidence(p["evidence"]) >= Evidence.CERTIFIED)]
        if hits:
            p = hits[0]
            contradiction = Contradiction(structure.index, structure.benign_theorem, structure.benign_evidence, p, {
                "net": net.to_dict(), "masks": [m.tolist() for m in structure.masks], "activation": activation,
                "data": {"X": io.digest(np.asarray(X)), "Y": io.digest(np.asarray(Y))}, "seed": cfg.seed,
                "trial_id": p["trial"], "w": p["w"], "global_value": gval, "train": cfg.train_config().to_dict(),
                "python": "landscape.trials.train(net, X, Y, masks=masks, n_trials=1, seed=seed, trial_ids=[trial_id], "
                          "config=TrainConfig(**train))"})
    status_counts = {trials.STATUS_NAMES[c]: int(np.sum(status == c)) for c in (trials.CONVERGED, trials.MAX_STEPS, trials.DIVERGED)}
    return StructureResult(structure, activation, n, gval, gev, ghow, k, k / n if n else float("nan"), wilson(k, n),
                           tuple(spurious), tuple(removed), status_counts, contradiction)


# ============================================================================= the atlas


@dataclasses.dataclass(frozen=True)
class AtlasResult:
    """An atlas: settings, data, the enumeration per activation, and one ``StructureResult`` per
    structure and activation.

    Attributes:
      config: the ``AtlasConfig``.
      X, Y: the data.
      enumerations: ``{activation: Enumeration}``.
      results: tuple of ``StructureResult`` (activation-major, then structure index).
      trials: ``{activation: trials.TrialsResult}`` (every structure's trials of that activation).
      seconds: ``{activation: {"enumerate", "train", "classify"}}`` wall times.
    """

    config: AtlasConfig
    X: np.ndarray
    Y: np.ndarray
    enumerations: dict
    results: tuple
    trials: dict = dataclasses.field(default_factory=dict, repr=False)
    seconds: dict = dataclasses.field(default_factory=dict)

    @property
    def contradictions(self) -> list:
        return [r.contradiction for r in self.results if r.contradiction is not None]

    def to_dict(self) -> dict:
        """``atlas.json``: ``{"config", "structures": [...], ...}`` (the shape of issue 15, plus extras)."""
        return {"config": {**self.config.to_dict(), "data_digest": {"X": io.digest(self.X), "Y": io.digest(self.Y)},
                           "X": np.asarray(self.X).tolist(), "Y": np.asarray(self.Y).tolist(),
                           "loss_units": "half_sum (Eq. 1)"},
                "enumeration": {a: e.to_dict() for a, e in self.enumerations.items()},
                "structures": [r.to_dict() for r in self.results],
                "contradictions": [c.to_dict() for c in self.contradictions],
                "seconds": self.seconds, "versions": io.versions()}

    def save(self, folder: str, *, overwrite: bool = False) -> dict:
        """Writes ``atlas.json`` and ``trials_<activation>.npz`` into ``folder`` (files of other settings are
        refused unless ``overwrite``). Figures: ``landscape.plot.atlas_p_global`` / ``atlas_spurious``.

        Returns:
          ``{"json": path, <activation>: path, ...}``.
        """
        folder = validate.output_folder(folder, "folder", create=True)
        paths = {"json": os.path.join(folder, "atlas.json")}
        for a, r in self.trials.items():
            paths[a] = r.save(os.path.join(folder, f"trials_{a}.npz"), overwrite=overwrite)
        io.write_json(paths["json"], self.to_dict(), overwrite=overwrite)
        return paths

    @classmethod
    def load(cls, folder: str) -> "AtlasResult":
        """Reads a folder written by ``save``: ``atlas.json`` and, where present, ``trials_<activation>.npz``.

        A loaded atlas has every field of the saved one except the structure reports (``Structure.report`` is
        None) and, in ``enumerations``, only the structures that were run.

        Raises:
          FileNotFoundError: no ``atlas.json`` in ``folder``.  ValueError: a file that is not an atlas.
        """
        import json

        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"folder: expected a path to a folder written by AtlasResult.save, got {validate.got(folder)}")
        folder = os.fspath(folder)
        path = os.path.join(folder, "atlas.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"folder: no atlas.json in {folder!r} (write one with AtlasResult.save)")
        with open(path) as f:
            d = json.load(f)
        if not isinstance(d, dict) or "structures" not in d or "config" not in d:
            raise ValueError(f"folder: {path} is not an atlas.json (expected the keys 'config' and 'structures')")
        c = d["config"]
        names = {f.name for f in dataclasses.fields(AtlasConfig)}
        cfg = AtlasConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items() if k in names})
        results = tuple(_structure_result(r) for r in d["structures"])
        enums = {}
        for a, e in d.get("enumeration", {}).items():
            run = tuple(r.structure for r in results if r.activation == a)
            enums[a] = Enumeration(tuple(e["sizes"]), e["activation"], run, int(e["n_raw_masks"]), int(e["n_orbits_raw"]),
                                   int(e["group_size"]), tuple((np.asarray(b), np.asarray(cc)) for b, cc in e["data_symmetries"]),
                                   dict(e["excluded"]), bool(e["sampled"]), e.get("seed"),
                                   {"n_structures": e["n_structures"], "kinds": e["kinds"]})
        runs = {a: trials.TrialsResult.load(os.path.join(folder, f"trials_{a}.npz")) for a in cfg.activations
                if os.path.isfile(os.path.join(folder, f"trials_{a}.npz"))}
        return cls(cfg, np.asarray(c["X"], np.float64), np.asarray(c["Y"], np.float64), enums, results, runs,
                   d.get("seconds", {}))

    def format_table(self) -> str:
        """The summary table: one row per structure and activation, then the contradictions (loud)."""
        cfg = self.config
        lines = [f"atlas {cfg.sizes[0]}-{cfg.sizes[1]}-{cfg.sizes[2]} (no bias), data {cfg.data}, {cfg.n_trials} GD trials "
                 f"per structure, lr {cfg.learning_rate}, <= {cfg.max_steps} steps, loss {cfg.loss}, {cfg.dtype}, seed {cfg.seed}"]
        for a, e in self.enumerations.items():
            kinds = e.to_dict()["kinds"]
            lines.append(f"{a}: {e.to_dict()['n_structures']} structures ({', '.join(f'{v} {k}' for k, v in kinds.items() if v)}) from "
                         f"{e.n_raw} mask pairs, {e.n_orbits_raw} orbits under a group of {e.group_size}; excluded: "
                         + ", ".join(f"{v} ({k})" for k, v in e.excluded.items()))
        header = ["#", "act", "kind", "theorem", "P(global) [95% CI]", "global value", "spurious (type x count)", "verdict"]
        rows = []
        for r in self.results:
            sp = ", ".join(f"{p['type']}x{p['count']}" for p in r.spurious) or "-"
            rows.append([r.structure.index, r.activation, r.structure.kind + (" Eq.(3)" if r.structure.eq3 else ""),
                         r.structure.benign_theorem or "-", f"{r.p_global:.3f} [{r.ci[0]:.3f}, {r.ci[1]:.3f}]",
                         f"{r.global_value:.5g} ({'proved' if r.global_evidence == 'proved' else 'best found'})", sp,
                         summary_line(r.verdict, r.evidence)])
        widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
        fmt = lambda cells: "  ".join(f"{str(c):<{w}}" for c, w in zip(cells, widths)).rstrip()  # noqa: E731
        lines += [fmt(header)] + [fmt(row) for row in rows]
        lines.append("P(global): trials ending within global_tol = %g of the global value; [95%% CI] Wilson. "
                     "Types: strict_minimum / valley (proved by Theorem 6, or a candidate: no path to a lower point "
                     "found below its level) / saddle / undecided / unconverged / diverged." % cfg.global_tol)
        n_rem = sum(len(r.removed) for r in self.results)
        if n_rem:
            lines.append(f"{n_rem} candidates were removed: a path to a lower point was found below their level.")
        cs = self.contradictions
        lines.append(f"agreement with the theory: {len(cs)} contradictions" if cs else
                     "agreement with the theory: no contradiction (no structure covered by Theorems 1-5 has a spurious "
                     "strict minimum or a proved valley)")
        lines += [str(c) for c in cs]
        return "\n".join(lines)


def _stack(structs: Sequence[Structure], n_trials: int, dtype) -> tuple:
    m1 = np.repeat(np.stack([s.masks[0] for s in structs]).astype(dtype), n_trials, axis=0)
    m2 = np.repeat(np.stack([s.masks[1] for s in structs]).astype(dtype), n_trials, axis=0)
    return ({"W": m1}, {"W": m2})


def run_atlas(cfg: AtlasConfig = AtlasConfig(), X=None, Y=None, *, progress: Optional[Callable[[str, dict], None]] = None,
              checkpoint_dir: Optional[str] = None, overwrite: bool = False,
              enumerations: Optional[dict] = None) -> AtlasResult:
    """Runs the atlas: enumerate, train every structure × ``n_trials`` in one program per activation, classify.

    Args:
      cfg: the settings.
      X, Y: the data (default: ``table3_data()``).
      progress: called as ``progress(activation, info)`` after every chunk of steps (``trials.train``'s dict).
      checkpoint_dir: if set, each activation checkpoints its trials to ``<dir>/ckpt_<activation>.npz``
        after every chunk of steps and a rerun resumes (``trials.train(checkpoint=)``).
      overwrite: set aside checkpoints of other settings instead of refusing them.
      enumerations: precomputed ``{activation: Enumeration}`` (of these sizes and data) to reuse.

    Returns:
      An ``AtlasResult``; ``print(result.format_table())``.
    """
    if not isinstance(cfg, AtlasConfig):
        raise TypeError(f"cfg: expected an AtlasConfig, got {validate.got(cfg)}")
    if (X is None) != (Y is None):
        raise ValueError("X, Y: give both (the data and its targets) or neither (Table 3's data)")
    if X is None:
        X, Y = table3_data()
    net0 = MLP(cfg.sizes, cfg.activations[0], bias=False)
    X, Y = nets.check_data(net0, X, Y)
    X, Y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
    validate.boolean(overwrite, "overwrite")
    thm = theorem6_targets(X, Y) if cfg.sizes == (3, 2, 3) else None
    enums, results, runs, seconds = {}, [], {}, {}
    for a in cfg.activations:
        t0 = time.perf_counter()
        enum = (enumerations or {}).get(a) or enumerate_structures(cfg.sizes, X, Y, a, sample=cfg.sample, seed=cfg.seed)
        enums[a] = enum
        chosen = enum.structures if cfg.structures is None else tuple(enum.structures[i] for i in cfg.structures
                                                                     if i < len(enum.structures))
        if cfg.structures is not None and len(chosen) != len(cfg.structures):
            raise ValueError(f"structures: indices must be below {len(enum.structures)} (the {a} atlas's structures), "
                             f"got {list(cfg.structures)}")
        t1 = time.perf_counter()
        N = cfg.n_trials
        ids = np.concatenate([s.index * N + np.arange(N) for s in chosen]).astype(np.int64)
        net = MLP(cfg.sizes, a, bias=False)
        hook = (lambda info, a=a: progress(a, info)) if progress is not None else None
        ck = os.path.join(checkpoint_dir, f"ckpt_{a}.npz") if checkpoint_dir else None
        res = trials.train(net, X, Y, masks=_stack(chosen, N, np.dtype(cfg.dtype)), n_trials=len(ids), seed=cfg.seed,
                           trial_ids=ids, config=cfg.train_config(),
                           chunk_size=None if cfg.chunk_size is None else min(cfg.chunk_size, len(ids)), progress=hook,
                           checkpoint=ck, overwrite=overwrite)
        runs[a] = res
        t2 = time.perf_counter()
        params = jax.tree.map(np.asarray, res.params)
        for i, s in enumerate(chosen):
            rows = slice(i * N, (i + 1) * N)
            part = {"params": jax.tree.map(lambda p, rows=rows: p[rows], params), "loss": res.loss[rows],
                    "grad_norm": res.grad_norm[rows], "status": res.status[rows], "trial_ids": res.trial_ids[rows]}
            results.append(classify(s, a, X, Y, part, cfg, thm=thm))
        seconds[a] = {"enumerate": t1 - t0, "train": t2 - t1, "classify": time.perf_counter() - t2}
    return AtlasResult(cfg, X, Y, enums, tuple(results), runs, seconds)
