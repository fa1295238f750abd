"""Low-dimensional slices of a masked network's loss landscape.

A *surface* maps grid coordinates ``(u[, v])`` to a params pytree. ``Plane``
is the affine one, ``θ(u, v) = θ₀ + u·d₁ + v·d₂`` (one direction: a line);
the line through two points (``line_through``) is a two-vertex ``paths.Polyline``,
the library's piecewise-linear type; any callable ``f(u, v) -> params`` (e.g. Figure 5's ``(a, t) ↦ t·θ̃(a) +
(1 − t)·θ(a, b)``) is a surface too. ``evaluate`` computes the loss on a grid
of coordinates in chunks (``landscape.evaluate``, the library's one batched
evaluator) and returns a ``Grid``.

Directions never leave the sparsity pattern: every direction built here is
exactly zero on pruned weights, a user direction that is not raises, and the
loss is always evaluated through ``nets.loss(..., masks)``.

Directions (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets"):

* ``norm="filter"``: a Gaussian direction, masked, then rescaled neuron by
  neuron so that ``‖d_i‖ = ‖θ_i‖`` for every neuron ``i`` of every layer,
  where a neuron's vector is its row of ``W`` (and its bias, if any), over the
  unpruned entries only;
* ``norm="layer"``: the same per layer (all of ``W`` and ``b``);
* ``norm="none"``: the masked Gaussian as drawn.

Example:
  >>> plane = random_plane(jax.random.key(0), params, masks)
  >>> grid = evaluate(plane, net, X, Y, masks=masks, axes=[(-1, 1, 51), (-1, 1, 51)])
  >>> landscape.plot.contour(grid, path="slice.png")
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from landscape import distributed, io, nets, validate
from landscape.evaluate import Evaluator, evaluator
from landscape.nets import MLP
from landscape.paths import Polyline

NORMS = ("filter", "layer", "none")


# ----------------------------------------------------------------------------- surfaces


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Plane:
    """The affine surface ``θ(c) = origin + Σ_j c_j · directions[j]``.

    Attributes:
      origin: params pytree (the point at coordinates 0).
      directions: tuple of one (a line) or two (a plane) params pytrees.
    """

    origin: Any
    directions: tuple

    @property
    def ndim(self) -> int:
        return len(self.directions)

    def __call__(self, *coords):
        if len(coords) != self.ndim:
            raise ValueError(f"coords: expected {self.ndim} coordinates, got {len(coords)}")
        out = self.origin
        for c, d in zip(coords, self.directions):
            out = jax.tree.map(lambda o, x: o + jnp.asarray(c, x.dtype) * x, out, d)
        return out


def _check_same_structure(name: str, tree, ref) -> None:
    if jax.tree.structure(tree) != jax.tree.structure(ref) or any(
            np.shape(a) != np.shape(b) for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(ref))):
        raise ValueError(f"{name}: expected a params pytree shaped like the point, "
                         f"{jax.tree.map(np.shape, ref)}, got {jax.tree.map(np.shape, tree)}")


def _check_on_pattern(name: str, tree, masks) -> None:
    """Raises unless ``tree`` is exactly zero wherever ``masks`` is 0."""
    if masks is None:
        return
    _check_same_structure("masks", masks, tree)
    for i, (a, m) in enumerate(zip(jax.tree.leaves(tree), jax.tree.leaves(masks))):
        bad = (np.asarray(m) == 0) & (np.asarray(a) != 0)
        if bad.any():
            raise ValueError(f"{name}: nonzero on {int(bad.sum())} pruned entries of leaf {i}: its sparsity "
                             "pattern differs from the point's masks (apply nets.apply_masks, or pass the right masks)")


def _sq_norm(tree) -> float:
    return float(sum(np.sum(np.asarray(a, np.float64) ** 2) for a in jax.tree.leaves(tree)))


def make_plane(origin, directions: Sequence[Any], masks=None) -> Plane:
    """A ``Plane`` from a point and one or two directions, validated.

    Raises:
      ValueError: a direction shaped unlike ``origin``, nonzero on a pruned
        entry (``masks``), or of zero norm; not one or two directions.
    """
    directions = tuple(directions)
    if len(directions) not in (1, 2):
        raise ValueError(f"directions: expected one or two directions, got {len(directions)}")
    if masks is not None:
        masks = validate.masks_like(masks, origin, ref_name="origin")
    for j, d in enumerate(directions):
        _check_same_structure(f"directions[{j}]", d, origin)
        _check_on_pattern(f"directions[{j}]", d, masks)
        if not _sq_norm(d) > 0:
            raise ValueError(f"directions[{j}]: has zero norm, so it spans no axis")
    origin = nets.apply_masks(origin, masks)
    dtype = jax.tree.leaves(origin)[0].dtype
    cast = lambda t: jax.tree.map(lambda a: jnp.asarray(a, dtype), t)  # noqa: E731
    return Plane(cast(origin), tuple(cast(d) for d in directions))


# ----------------------------------------------------------------------------- directions


def _group_norms(tree, norm: str) -> list:
    """Per layer: an array of group norms broadcastable to every leaf of the layer
    (``(out, 1)`` for W and ``(out,)`` for b per neuron; scalars per layer)."""
    out = []
    for layer in tree:
        if norm == "filter":
            sq = jnp.sum(layer["W"] ** 2, axis=tuple(range(1, layer["W"].ndim)))
            if "b" in layer:
                sq = sq + layer["b"] ** 2
        else:
            sq = sum(jnp.sum(a**2) for a in layer.values())
        out.append(jnp.sqrt(sq))
    return out


def normalize(direction, params, masks=None, norm: str = "filter"):
    """Masks ``direction`` and rescales it by neuron (``"filter"``) or by layer
    (``"layer"``) to the norms of ``params``; ``"none"`` only masks it.

    A group (neuron or layer) whose direction or point is zero on its unpruned
    entries gets a zero direction (as in Li et al. 2018).

    Args:
      direction: params pytree.
      params: the point, params pytree (tuple of ``{"W", "b"?}`` dicts).
      masks: 0/1 masks or None (dense).
      norm: one of ``NORMS``.

    Returns:
      The direction, zero on every pruned entry.
    """
    if norm not in NORMS:
        raise ValueError(f"norm: expected one of {NORMS}, got {norm!r}")
    _check_same_structure("direction", direction, params)
    d = nets.apply_masks(direction, masks)
    if norm == "none":
        return d
    p = nets.apply_masks(params, masks)
    out = []
    for ld, lp, nd, np_ in zip(d, p, _group_norms(d, norm), _group_norms(p, norm)):
        scale = jnp.where(nd > 0, np_ / jnp.where(nd > 0, nd, 1.0), 0.0)
        layer = {}
        for k, a in ld.items():
            s = scale if norm == "layer" else (scale.reshape((-1,) + (1,) * (a.ndim - 1)))
            layer[k] = a * s
        out.append(layer)
    return tuple(out)


def random_direction(key: jax.Array, params, masks=None, *, norm: str = "filter"):
    """A Gaussian direction, zero on pruned weights, normalised by ``norm``.

    Args:
      key: PRNG key.
      params: the point (its dtype and, for ``"filter"``/``"layer"``, its norms).
      masks: 0/1 masks shaped like ``params``; None means dense.
      norm: ``"filter"`` (per neuron), ``"layer"`` or ``"none"``.

    Raises:
      ValueError: unknown ``norm``; masks shaped unlike params; the point is zero
        on every unpruned weight (a normalised direction would be zero).
    """
    key = validate.key(key)
    validate.choice(norm, "norm", NORMS)
    if masks is not None:
        masks = validate.masks_like(masks, params)
    leaves, tdef = jax.tree.flatten(params)
    keys = jax.random.split(key, len(leaves))
    g = [jax.random.normal(k, np.shape(a), jnp.asarray(a).dtype) for k, a in zip(keys, leaves)]
    d = normalize(jax.tree.unflatten(tdef, g), params, masks, norm)
    if not _sq_norm(d) > 0:
        raise ValueError("params: the point is zero on every unpruned weight, so a "
                         f"{norm}-normalised direction is zero; use norm='none'")
    return d


def random_plane(key: jax.Array, params, masks=None, *, norm: str = "filter", ndim: int = 2) -> Plane:
    """The plane (``ndim=2``) or line (``ndim=1``) through ``params`` along
    independent ``random_direction``s."""
    validate.choice(ndim, "ndim", (1, 2))
    keys = jax.random.split(validate.key(key), ndim)
    return make_plane(params, [random_direction(k, params, masks, norm=norm) for k in keys], masks)


# ----------------------------------------------------------------------------- planes from points


def _flat(tree) -> tuple:
    vec, unravel = ravel_pytree(tree)
    return np.asarray(vec, np.float64), unravel


def plane_through(p0, p1, p2, masks=None, *, rtol: float = 1e-9) -> tuple:
    """The plane through three points, orthonormal axes by Gram–Schmidt.

    ``θ(u, v) = p0 + u·e₁ + v·e₂`` with ``e₁ = (p1 − p0)/‖p1 − p0‖`` and ``e₂``
    the unit part of ``p2 − p0`` orthogonal to ``e₁``.

    Args:
      p0, p1, p2: params pytrees (zero on pruned entries when ``masks`` given).
      masks: optional masks all three points must respect.
      rtol: the points count as collinear when the distance of ``p2`` from the
        line through ``p0, p1`` is at most ``rtol · max(‖p1 − p0‖, ‖p2 − p0‖)``.

    Returns:
      ``(plane, coords)``: ``coords`` is ``(3, 2)``, the points' ``(u, v)``:
      ``(0, 0)``, ``(‖p1 − p0‖, 0)`` and ``(⟨p2 − p0, e₁⟩, ⟨p2 − p0, e₂⟩)``.

    Raises:
      ValueError: points shaped differently, off the masks' pattern, equal, or
        collinear.
    """
    for name, p in (("p1", p1), ("p2", p2)):
        _check_same_structure(name, p, p0)
    for name, p in (("p0", p0), ("p1", p1), ("p2", p2)):
        _check_on_pattern(name, p, masks)
    x0, unravel = _flat(p0)
    a, b = _flat(p1)[0] - x0, _flat(p2)[0] - x0
    na = np.linalg.norm(a)
    if not na > 0:
        raise ValueError("p1: equals p0, so the points span no plane")
    e1 = a / na
    r = b - (b @ e1) * e1
    r = r - (r @ e1) * e1  # second Gram-Schmidt pass: orthogonal to rounding error
    nr = np.linalg.norm(r)
    if not nr > rtol * max(na, np.linalg.norm(b)):
        raise ValueError(f"p2: the three points are collinear (distance of p2 from the line p0-p1 is {nr:.3g}), "
                         "so they span no plane")
    e2 = r / nr
    dtype = jax.tree.leaves(p0)[0].dtype
    un = lambda v: jax.tree.map(lambda t: jnp.asarray(t, dtype), unravel(jnp.asarray(v)))  # noqa: E731
    coords = np.array([[0.0, 0.0], [na, 0.0], [b @ e1, b @ e2]])
    return make_plane(p0, [un(e1), un(e2)], masks), coords


def line_through(p0, p1, masks=None) -> Polyline:
    """The line through two points, ``θ(t) = (1 − t)·p0 + t·p1``: ``t = 0`` at ``p0``,
    ``t = 1`` at ``p1``; ``t`` outside ``[0, 1]`` extrapolates.

    A two-vertex ``paths.Polyline`` (knots ``0, 1``), the library's one
    piecewise-linear type, so the same line can be sampled by ``paths.sample``
    or sliced here.

    Raises:
      ValueError: points shaped differently, off the masks' pattern, or equal.
    """
    _check_same_structure("p1", p1, p0)
    _check_on_pattern("p0", p0, masks)
    _check_on_pattern("p1", p1, masks)
    d = jax.tree.map(lambda a, b: jnp.asarray(b) - jnp.asarray(a), p0, p1)
    if not _sq_norm(d) > 0:
        raise ValueError("p1: equals p0, so the line has no direction")
    dtype = jax.tree.leaves(p0)[0].dtype
    cast = lambda t: jax.tree.map(lambda a: np.asarray(a, dtype), nets.apply_masks(t, masks))  # noqa: E731
    return Polyline.through([cast(p0), cast(p1)], [0.0, 1.0])


@dataclasses.dataclass(frozen=True)
class PCAPlane:
    """What ``pca_plane`` returns.

    Attributes:
      plane: the ``Plane`` (origin and two orthonormal directions).
      coords: list of ``(T_k, 2)`` arrays, each trajectory projected.
      explained: ``(2,)`` fraction of the trajectories' variance along each axis.
    """

    plane: Plane
    coords: list
    explained: np.ndarray


def pca_plane(trajectories, masks=None, *, origin=None) -> PCAPlane:
    """The plane of the first two principal components of one or more
    optimisation trajectories (Li et al. 2018, Sec. 7).

    Args:
      trajectories: a params pytree whose leaves have a leading step axis
        ``(T, ...)``, or a list of such (e.g. ``TrialsResult.param_history``
        sliced per trial).
      masks: optional masks every point respects.
      origin: params pytree; default the last point of the first trajectory.

    Returns:
      A ``PCAPlane``; the coordinates are ``⟨θ_t − origin, e_j⟩``, the
      orthogonal projection (points off the plane have a loss that differs from
      the slice's value at their coordinates).
    """
    if not isinstance(trajectories, (list, tuple)) or (trajectories and isinstance(trajectories[0], dict)):
        trajectories = [trajectories]
    mats = []
    for k, tr in enumerate(trajectories):
        leaves = jax.tree.leaves(tr)
        T = np.shape(leaves[0])[0]
        if any(np.shape(a)[0] != T for a in leaves):
            raise ValueError(f"trajectories[{k}]: leaves disagree on the number of steps")
        mats.append(np.concatenate([np.asarray(a, np.float64).reshape(T, -1) for a in leaves], axis=1))
    first = jax.tree.map(lambda a: np.asarray(a)[-1], trajectories[0])
    if masks is not None:
        _check_same_structure("masks", masks, first)
        for k, tr in enumerate(trajectories):
            for i, (a, m) in enumerate(zip(jax.tree.leaves(tr), jax.tree.leaves(masks))):
                if np.any((np.asarray(m)[None] == 0) & (np.asarray(a) != 0)):
                    raise ValueError(f"trajectories[{k}]: nonzero on pruned entries of leaf {i} (sparsity pattern differs from masks)")
    origin = first if origin is None else origin
    x0, unravel = _flat(origin)
    A = np.concatenate(mats)
    if A.shape[0] < 3:
        raise ValueError(f"trajectories: need at least 3 points for a PCA plane, got {A.shape[0]}")
    centred = A - A.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    if s.size < 2 or not s[1] > 1e-12 * max(s[0], 1e-300):
        raise ValueError("trajectories: the points lie on a line (one principal direction), so they span no plane")
    e = vt[:2]
    explained = s[:2] ** 2 / np.sum(s**2)
    dtype = jax.tree.leaves(origin)[0].dtype
    un = lambda v: jax.tree.map(lambda t: jnp.asarray(t, dtype), unravel(jnp.asarray(v)))  # noqa: E731
    coords = [(M - x0) @ e.T for M in mats]
    # Pruned coordinates are zero in every point; the SVD leaves rounding-level
    # values there, which masking removes.
    dirs = [nets.apply_masks(un(e[j]), masks) for j in range(2)]
    return PCAPlane(make_plane(origin, dirs, masks), coords, explained)


# ----------------------------------------------------------------------------- grids


MAX_AXIS_POINTS = 2**24
"""The most points one grid axis may have (a larger count is a typo, not a grid: its
coordinates alone would take gigabytes)."""


def axis(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` evenly spaced coordinates from ``lo`` to ``hi`` (validated)."""
    n = validate.integer(n, "axes: the number of points", low=1, high=MAX_AXIS_POINTS)
    lo, hi = validate.real(lo, "axes: lo"), validate.real(hi, "axes: hi")
    if n > 1 and not hi > lo:
        raise ValueError(f"axes: range ({lo}, {hi}) is empty or inverted; expected lo < hi")
    return np.linspace(lo, hi, int(n))


def _as_axis(a, j: int) -> np.ndarray:
    if isinstance(a, tuple) and len(a) == 3:
        return axis(*a)
    a = np.asarray(a, np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"axes[{j}]: expected (lo, hi, n) or a non-empty 1D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"axes[{j}]: holds NaN or Inf")
    if a.size > 1 and not np.all(np.diff(a) > 0):
        raise ValueError(f"axes[{j}]: coordinates must be strictly increasing (empty or inverted range)")
    return a


@dataclasses.dataclass(frozen=True)
class Grid(io.Saveable):
    """Loss values of a surface on a grid, self-describing.

    Attributes:
      axes: tuple of 1D coordinate arrays (one per surface dimension).
      values: loss, shape ``tuple(len(a) for a in axes)`` (``values[i, j]`` at
        ``(axes[0][i], axes[1][j])``); NaN where not yet evaluated.
      config: net, loss convention, surface description, chunking, versions.
      arrays: the surface's arrays (``origin_*``, ``direction0_*`` ... for a
        ``Plane``), saved so that the slice can be rebuilt.
      overlays: name -> ``(m, ndim)`` coordinates to draw over the slice
        (points, lines, trajectories); see ``landscape.plot``.
      n_done: grid points evaluated so far (in flattened C order).
    """

    axes: tuple
    values: np.ndarray
    config: dict
    arrays: dict = dataclasses.field(default_factory=dict)
    overlays: dict = dataclasses.field(default_factory=dict)
    n_done: int = 0

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def complete(self) -> bool:
        return self.n_done >= self.values.size

    def to_dict(self) -> dict:
        return {"config": self.config, "axes": [a.tolist() for a in self.axes], "values": self.values.tolist(),
                "overlays": {k: np.asarray(v).tolist() for k, v in self.overlays.items()}, "n_done": self.n_done}

    def _to_file(self) -> tuple:
        arrays = {f"axis_{j}": a for j, a in enumerate(self.axes)}
        arrays["values"] = self.values
        arrays.update({f"array__{k}": np.asarray(v) for k, v in self.arrays.items()})
        arrays.update({f"overlay__{k}": np.asarray(v) for k, v in self.overlays.items()})
        return arrays, dict(self.config, n_done=int(self.n_done), ndim=self.ndim)

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "Grid":
        meta = dict(meta)
        ndim, n_done = meta.pop("ndim"), meta.pop("n_done")
        return cls(axes=tuple(arrays[f"axis_{j}"] for j in range(ndim)), values=arrays["values"], config=meta,
                   arrays={k[7:]: v for k, v in arrays.items() if k.startswith("array__")},
                   overlays={k[9:]: v for k, v in arrays.items() if k.startswith("overlay__")}, n_done=int(n_done))

    def surface(self):
        """Rebuilds the surface of a grid made from a ``Plane`` or a ``Polyline`` (from the saved arrays)."""
        kind = self.config.get("surface", {}).get("type")
        if kind not in ("Plane", "Polyline"):
            raise ValueError(f"grid: was evaluated on a {kind}, not on a Plane or Polyline, so it cannot be rebuilt")
        keys = self.config["surface"]["param_keys"]
        n_leaves = sum(len(k) for k in keys)

        def tree(prefix):
            it = iter(self.arrays[f"{prefix}_{i}"] for i in range(n_leaves))
            return tuple({k: jnp.asarray(next(it)) for k in layer} for layer in keys)

        if kind == "Polyline":
            return Polyline(tree("vertices"), jnp.asarray(self.arrays["knots"]))
        return Plane(tree("origin"), tuple(tree(f"direction{j}") for j in range(self.ndim)))

    def plane(self) -> Plane:
        """Rebuilds the ``Plane`` of a grid made from one (from the saved arrays)."""
        if self.config.get("surface", {}).get("type") != "Plane":
            raise ValueError("grid: was not evaluated on a Plane")
        return self.surface()


@dataclasses.dataclass(frozen=True)
class _Closure:
    """A plain callable surface, static under jit (hashed by identity)."""

    f: Callable

    def __call__(self, surface, c):
        del surface
        return self.f(*[c[j] for j in range(c.shape[0])])


def _call_pytree(surface, c):
    return surface(*[c[j] for j in range(c.shape[0])])


@dataclasses.dataclass(frozen=True)
class _SurfaceLoss:
    """The loss at grid coordinates ``c`` of a surface: one point for ``evaluate.evaluator`` (static, hashable)."""

    net: MLP
    loss: str
    call: Callable  # _call_pytree (the surface is an operand) or a _Closure

    def __call__(self, c, surface, X, Y, masks):
        return nets.loss(self.net, self.call(surface, c), X, Y, masks, self.loss)


@dataclasses.dataclass(frozen=True)
class _Job:
    """Everything ``evaluate`` prepared: the grid's description and the evaluator of its chunks."""

    axes: tuple
    coords: np.ndarray  # (total, ndim) in flattened C order
    config: dict
    arrays: dict
    overlays: dict
    dtype: np.dtype
    fingerprint: str
    settings: dict
    evaluator: Evaluator

    @property
    def shape(self) -> tuple:
        return tuple(len(a) for a in self.axes)

    @property
    def total(self) -> int:
        return int(self.coords.shape[0])


def _surface_arrays(surface, leaves) -> tuple:
    """The surface's description and arrays stored with the grid (a Plane or Polyline can be rebuilt)."""
    arrays = {}
    if isinstance(surface, Plane):
        desc = {"type": "Plane", "param_keys": [list(layer) for layer in surface.origin]}
        for i, a in enumerate(jax.tree.leaves(surface.origin)):
            arrays[f"origin_{i}"] = np.asarray(a)
        for j, d in enumerate(surface.directions):
            for i, a in enumerate(jax.tree.leaves(d)):
                arrays[f"direction{j}_{i}"] = np.asarray(a)
    elif isinstance(surface, Polyline):
        desc = {"type": "Polyline", "param_keys": [list(layer) for layer in surface.vertices]}
        for i, a in enumerate(jax.tree.leaves(surface.vertices)):
            arrays[f"vertices_{i}"] = np.asarray(a)
        arrays["knots"] = np.asarray(surface.knots)
    elif leaves:
        desc = {"type": type(surface).__name__}
        for i, a in enumerate(leaves):
            arrays[f"surface_{i}"] = np.asarray(a)
    else:
        desc = {"type": "callable", "name": getattr(surface, "__qualname__", repr(surface))}
    return desc, arrays


def _prepare(surface, net, X, Y, axes, masks, loss, dtype, batch_size, chunk_size, n_devices, overlays,
             description) -> _Job:
    """Validates the arguments, describes the grid (config, arrays, fingerprint) and prepares the evaluator."""
    validate.net(net)
    if not (callable(surface) or isinstance(surface, (Plane, Polyline))):
        raise TypeError(f"surface: expected a Plane, a Polyline, a pytree with __call__ or a callable f(u[, v]) -> params, "
                        f"got {validate.got(surface)}")
    validate.choice(loss, "loss", nets.LOSSES)
    if isinstance(axes, np.ndarray) or (isinstance(axes, tuple) and len(axes) == 3 and np.isscalar(axes[0])):
        axes = [axes]
    axes = tuple(_as_axis(a, j) for j, a in enumerate(axes))
    if len(axes) not in (1, 2):
        raise ValueError(f"axes: expected one or two axes, got {len(axes)}")
    X, Y = nets.check_data(net, X, Y)
    if masks is not None:
        masks = nets.check_masks(net, masks)
    is_tree = not jax.tree_util.treedef_is_leaf(jax.tree.structure(surface))
    leaves = jax.tree.leaves(surface) if is_tree else []
    if dtype is None:
        dtype = jnp.asarray(leaves[0]).dtype if leaves else jnp.float32
    dtype = validate.float_dtype(dtype)
    if isinstance(surface, Plane):
        if surface.ndim != len(axes):
            raise ValueError(f"axes: the surface is {surface.ndim}-dimensional, got {len(axes)} axes")
        nets.check_params(net, surface.origin)
        for j, d in enumerate(surface.directions):
            _check_on_pattern(f"directions[{j}]", d, masks)
    if isinstance(surface, Polyline):
        if len(axes) != 1:
            raise ValueError(f"axes: a Polyline is one-dimensional, got {len(axes)} axes")
        nets.check_params(net, surface.vertices, batched=True)
        for j in range(surface.num_segments + 1):
            _check_on_pattern(f"vertices[{j}]", jax.tree.map(lambda v: np.asarray(v)[j], surface.vertices), masks)
    surf_desc, arrays = _surface_arrays(surface, leaves)
    if is_tree:
        call, dyn = _call_pytree, jax.tree.map(lambda a: jnp.asarray(a, dtype), surface)
    else:
        call, dyn = _Closure(surface), None

    coords = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1).astype(dtype)
    n_params = nets.n_params(net)
    n_act = int(X.shape[1]) * sum(net.sizes[1:])
    ev = evaluator(_SurfaceLoss(net, loss, call), dyn, X.astype(dtype), Y.astype(dtype),
                            None if masks is None else jax.tree.map(lambda m: np.asarray(m, dtype), masks),
                            n_points=coords.shape[0], n_params=n_params, point_size=len(axes), n_activations=n_act,
                            batch_size=batch_size, chunk_size=chunk_size, n_devices=n_devices)

    config = {"net": net.to_dict(), "loss": loss, "dtype": dtype.name, "surface": surf_desc,
              "shape": [len(a) for a in axes], "masked": masks is not None, **(description or {})}
    config["data"] = {"X": io.digest(X), "Y": io.digest(Y)}
    if masks is not None:
        mask_arrays, config["mask_layout"] = io.tree_arrays("mask", masks)
        arrays.update(mask_arrays)
    settings = dict(config)
    fp = io.fingerprint(settings, [*axes, X, Y, *jax.tree.leaves(masks), *arrays.values()])
    # how the grid was cut is recorded but is no setting: a grid resumes with any chunk or batch size
    config.update(fingerprint=fp, settings=settings, chunk_size=ev.plan.chunk_size, batch_size=ev.plan.batch_size,
                  n_devices=ev.plan.n_devices)
    return _Job(axes=axes, coords=coords, config=config, arrays=arrays, overlays=dict(overlays or {}), dtype=dtype,
                fingerprint=fp, settings=settings, evaluator=ev)


def _start(job: _Job, path, overwrite: bool) -> Grid:
    """The grid to continue: the finished part of a progress file written by the same settings, else empty.

    Raises:
      ValueError: ``path`` holds a grid of other settings (unless ``overwrite``).
    """
    values = np.full(job.total, np.nan, job.dtype)
    n_done = 0
    found = io.open_progress(path, job.fingerprint, job.settings, overwrite=overwrite, tag=Grid._tag(),
                             what="grid file", arg="path")
    if found is not None:
        old = Grid._from_file(*found)
        values, n_done = old.values.ravel().astype(job.dtype), old.n_done
    return Grid(job.axes, values.reshape(job.shape), job.config, job.arrays, job.overlays, n_done)


def _run_chunk(job: _Job, grid: Grid) -> Grid:
    """The grid with its next chunk of points evaluated (one call of the compiled program)."""
    lo = grid.n_done
    hi = min(lo + job.evaluator.plan.chunk_size, job.total)
    values = grid.values.ravel().copy()
    values[lo:hi] = job.evaluator.chunk(job.coords[lo:hi])
    return io.replace(grid, values=values.reshape(job.shape), n_done=hi)


def _run_round(job: _Job, grid: Grid) -> Grid:
    """The grid with its next ``process_count()`` chunks evaluated, one block per process, exchanged."""
    lo = grid.n_done
    hi = min(lo + distributed.process_count() * job.evaluator.plan.chunk_size, job.total)
    parts = distributed.map_blocks(hi - lo, lambda rows: job.evaluator.chunk(job.coords[lo + rows[0]:lo + rows[-1] + 1]),
                                   f"grid {job.fingerprint} at {lo}")
    values = grid.values.ravel().copy()
    values[lo:hi] = np.concatenate(parts)
    return io.replace(grid, values=values.reshape(job.shape), n_done=hi)


def evaluate(
    surface,
    net: MLP,
    X,
    Y,
    *,
    axes: Sequence[Any],
    masks=None,
    loss: str = "half_sum",
    dtype=None,
    chunk_size: Optional[int] = None,
    batch_size: Optional[int] = None,
    n_devices: Optional[int] = None,
    path: Optional[str] = None,
    overlays: Optional[dict] = None,
    description: Optional[dict] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    overwrite: bool = False,
) -> Grid:
    """The loss ``L(surface(u[, v]))`` on the grid ``axes[0] × axes[1]``.

    Three steps: prepare (validate, describe, plan the chunks), start (resume
    the finished part of ``path``), then run one chunk after another (each is
    one call of one compiled program, ``landscape.evaluate``: the last chunk
    is padded, chunks are sharded over ``n_devices`` local devices, and
    ``batch_size`` points are vmapped together on each), saving after each.

    Args:
      surface: a ``Plane``, a ``paths.Polyline`` of params (a line, e.g.
        ``line_through``), any pytree with ``__call__(*coords)``, or a callable
        ``f(u[, v]) -> params`` written in ``jnp`` (traced once).
      net: the network.
      X, Y: ``(d_x, n)`` data and ``(d_y, n)`` targets.
      axes: one or two axes, each ``(lo, hi, n)`` or a strictly increasing
        1D array.
      masks: 0/1 masks; the loss sees only unpruned weights.
      loss: loss convention, ``"half_sum"`` (Eq. 1) or ``"mean"``.
      dtype: evaluation dtype; default the surface's params dtype (float32
        for a callable).
      chunk_size: grid points per compiled call and per checkpoint (default
        ``evaluate.default_chunk_size``).
      batch_size: points vmapped together (default ``evaluate.default_batch_size``;
        0: the whole chunk).
      n_devices: shard each chunk over the first this many devices (default all).
      path: ``.npz`` file: written after every chunk (atomically) and at the
        end; calling again with the same arguments resumes an interrupted grid
        (with any ``chunk_size``/``batch_size``: they are not settings of the grid).
      overlays: name -> coordinates to store with the grid for plotting.
      description: extra JSON-able config stored in the file.
      progress: called as ``progress(n_done, n_total)`` after every chunk.
      overwrite: a ``path`` holding a grid of other settings is refused
        (``ValueError`` naming what differs) unless this is set; then the old
        file is kept as ``<name>.replaced.npz`` until the new grid is complete.

    Returns:
      A complete ``Grid``.

    Raises:
      ValueError: bad axes (empty, inverted, not finite), data, masks, or a
        ``Plane``/``Polyline`` that leaves the masks' pattern.
    """
    job = _prepare(surface, net, X, Y, axes, masks, loss, dtype, batch_size, chunk_size, n_devices, overlays,
                   description)
    split = distributed.splits_work()
    if split:  # several processes (jax.distributed): process 0's file says where the grid stands, for every process
        grid = distributed.on_main(lambda: _start(job, path, overwrite), f"grid {job.fingerprint}")
    else:
        grid = _start(job, path, overwrite)
    while not grid.complete:
        grid = _run_round(job, grid) if split else _run_chunk(job, grid)
        if path is not None and distributed.is_main():
            grid.save(path, overwrite=True)  # this run's own progress file (open_progress checked it)
        if progress is not None:
            progress(grid.n_done, job.total)
    if distributed.is_main():  # the one process that writes the grid file deletes its set-aside copy
        io.finish_progress(path)
    return grid


def surface_loss(surface, net: MLP, X, Y, coords, *, masks=None, loss: str = "half_sum") -> float:
    """The loss at one point of a surface, evaluated directly (no grid)."""
    params = surface(*coords)
    return float(nets.loss(net, params, jnp.asarray(X), jnp.asarray(Y), masks, loss))
