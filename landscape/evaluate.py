"""One batched evaluator of a function of parameters at many points.

Paths (``paths.loss_at``), slices (``slices.evaluate``), connectivity probes
(dense profiles, curve and band steps, barrier matrices) and distinct solutions
all evaluate a function of parameters at many points. They do it here:

    values = evaluate_points(f, xs, *operands)                 # f(x, *operands) for every x in xs
    values, grads = evaluate_points(f, xs, *operands, grad=True)

* ``xs`` is a pytree whose leaves share a leading axis of ``m`` points: an
  ``(m, k)`` array of free coordinates, ``(m,)`` positions along a path,
  ``(m, 2)`` grid coordinates, or a params pytree with a leading trial axis.
* ``operands`` (data, masks, path vertices, ...) are the same for every point.
  They are arguments of the compiled program, not constants baked into it, so
  one compilation serves every problem of the same shapes. ``f`` is static
  under ``jit`` and hashed: use a module-level function or a frozen dataclass
  with ``__call__`` (a fresh closure per call compiles per call).
* Points run in **chunks** of ``chunk_size`` (one call of one compiled program
  per chunk; the last chunk is padded by repeating its last point, so every
  chunk has the same shape). A chunk is sharded over ``n_devices`` local
  devices; on each device **``batch_size``** points are vmapped together and
  the groups are looped with ``jax.lax.map`` (vocabulary: ``batch_size`` =
  points vmapped in one compiled call, ``chunk_size`` = points per call).

Inside a compiled program (a curve or band step, the training engine), call
``map_points(fn, xs, batch_size=...)`` directly: the same batching without the
host-side chunking.

The batch-size rule (``default_batch_size``) is one function for the whole
library, measured in ``benchmarks/bench_evaluate.py`` (``benchmarks/RESULTS.md``):

* accelerators: every point of a chunk in one ``vmap`` (never a sequential
  ``lax.map``: ``lax.map(batch_size=None)`` is a loop over points);
* CPU: the power of two at or below ``clip(2**17 // n_params, 1, 128)``. Vmapping
  points that each carry their own weights turns matrix products into batched
  ones: for the width-400 net (525k weights) one point at a time was fastest
  (vmapping 16 was 1.2-1.4x slower, all 64 about 1.9x); tiny nets need wide
  vmaps to amortise the loop (8 weights: 128 was 6x faster than 1 for value and
  gradient), but 256 or more fell off a 3-5x cliff; 13k weights were best at 8-64.

The training engine's trials are points of the same kind (each carries its own
weights): it can take its micro-batch from ``default_batch_size(n_params, n_trials)``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from landscape import distributed

CPU_WORK = 2**17
"""CPU rule: ``batch_size`` = the power of two at or below ``clip(CPU_WORK // n_params, 1, CPU_MAX_BATCH)``
(measured, see the module docstring)."""
CPU_MAX_BATCH = 128
"""CPU rule: the widest vmap. Measured: 256 points and more fell off a 3-5x cliff for the 8-weight net."""
CPU_CHUNK = 16384
"""Most points per compiled call on CPU (measured: 16384 beat 4096 by 1.2-1.6x for the 8-weight net)."""
CHUNK_WORK = 2**31
"""CPU: ``chunk_size · n_params ≤ CHUNK_WORK`` (about 4096 points of a width-400 net: seconds per call, so
progress and checkpoints stay frequent)."""
CHUNK_FLOATS = 2**24
"""Input floats per chunk sent from the host (64 MiB in float32): bounds the chunk for big input points."""
ACCELERATOR_CHUNK = 65536
"""Most points per compiled call on an accelerator."""
ACCELERATOR_FLOATS = 2**28
"""Working-set floats per chunk on an accelerator (1 GiB in float32): bounds the chunk there, which is
vmapped whole (a memory bound chosen by design; not measured: no accelerator was available)."""


# ----------------------------------------------------------------------------- the rule


def default_batch_size(n_params: int, n_points: int, *, backend: Optional[str] = None) -> int:
    """Points vmapped together in one compiled call: the library's one rule.

    Args:
      n_params: parameters each point carries (the size of the weights one
        evaluation builds; for free coordinates ``k``).
      n_points: points per device in one call (the chunk); the result never
        exceeds it.
      backend: ``"cpu"``, ``"gpu"``, ``"tpu"``, ...; default ``jax.default_backend()``.

    Returns:
      On accelerators ``n_points`` (vmap the whole chunk); on CPU the power
      of two at or below ``clip(2**17 // n_params, 1, 128)``, at most
      ``n_points``: 128 for the 8-weight Table 3 net, 64 for 1.4k weights, 8
      for 13k, 1 for the width-400 net (525k).
      The training engine can call this with ``n_params`` = weights of one
      trial and ``n_points`` = trials per device.
    """
    n_params, n_points = _positive("n_params", n_params), _positive("n_points", n_points)
    if (backend or jax.default_backend()) != "cpu":
        return n_points
    b = int(np.clip(CPU_WORK // n_params, 1, CPU_MAX_BATCH))
    return min(1 << (b.bit_length() - 1), n_points)  # a power of two: chunks of powers of two split evenly


def default_chunk_size(n_params: int, *, point_size: int = 1, n_activations: int = 0,
                       backend: Optional[str] = None) -> int:
    """Points per compiled call (and per checkpoint of a grid).

    Args:
      n_params: parameters each point carries.
      point_size: floats of one input point as sent from the host (1 for a
        position along a path, 2 for grid coordinates, ``k`` for free coordinates).
      n_activations: floats of the activations one evaluation keeps (e.g.
        ``n_samples ×`` the sum of the hidden widths), if known.
      backend: default ``jax.default_backend()``.

    Returns:
      CPU: ``min(CPU_CHUNK, CHUNK_FLOATS // point_size, CHUNK_WORK // n_params)``, at least 1.
      Accelerators: ``min(ACCELERATOR_CHUNK, CHUNK_FLOATS // point_size,
      ACCELERATOR_FLOATS // (4 n_params + 2 n_activations))``: the chunk is vmapped
      whole, so its working set (weights, gradients, activations) must fit.
    """
    n_params, point_size = _positive("n_params", n_params), _positive("point_size", point_size)
    if (backend or jax.default_backend()) == "cpu":
        chunk = min(CPU_CHUNK, CHUNK_FLOATS // point_size, CHUNK_WORK // n_params)
    else:
        chunk = min(ACCELERATOR_CHUNK, CHUNK_FLOATS // point_size,
                    ACCELERATOR_FLOATS // (4 * n_params + 2 * max(int(n_activations), 0)))
    return max(int(chunk), 1)


def _positive(name: str, v) -> int:
    if isinstance(v, bool) or int(v) != v or int(v) < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")
    return int(v)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How ``m`` points are cut: ``chunk_size`` per call, ``batch_size`` vmapped per device.

    ``chunk_size`` is a multiple of ``batch_size · n_devices``, so every device
    runs whole batches and every chunk has the same program shape.
    """

    batch_size: int
    chunk_size: int
    n_devices: int


def plan(n_points: int, *, n_params: int, point_size: int = 1, n_activations: int = 0,
         batch_size: Optional[int] = None, chunk_size: Optional[int] = None, n_devices: Optional[int] = None,
         backend: Optional[str] = None) -> Plan:
    """The ``Plan`` for ``n_points`` points: explicit settings win, the rule fills the rest.

    Args:
      n_points: points to evaluate in all; a chunk is at most the next power of
        two ``≥ n_points`` (calls with similar counts share one compiled program;
        with the rule's power-of-two batch sizes the padding is fewer points
        than were asked for).
      n_params, point_size, n_activations: problem size (see ``default_chunk_size``).
      batch_size: points vmapped together per device (default ``default_batch_size``);
        ``0`` means the whole per-device chunk.
      chunk_size: points per call (default ``default_chunk_size``), rounded up
        to a multiple of ``batch_size · n_devices``.
      n_devices: local devices a chunk is sharded over (default: all).
      backend: default ``jax.default_backend()``.
    """
    n_points = _positive("n_points", n_points)
    n_local = len(jax.local_devices())
    n_dev = n_local if n_devices is None else _positive("n_devices", n_devices)
    if n_dev > n_local:
        raise ValueError(f"n_devices: expected at most the {n_local} local devices, got {n_dev}")
    if chunk_size is None:
        chunk_size = default_chunk_size(n_params, point_size=point_size, n_activations=n_activations, backend=backend)
    # never more than the next power of two >= n_points: calls with similar counts share a program shape
    chunk = min(_positive("chunk_size", chunk_size), 1 << (n_points - 1).bit_length())
    per_dev = -(-chunk // n_dev)
    if batch_size is None:
        batch = default_batch_size(n_params, per_dev, backend=backend)
    elif isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 0:
        raise ValueError(f"batch_size: expected an integer >= 0 (0: the whole chunk), got {batch_size!r}")
    else:
        batch = per_dev if int(batch_size) == 0 else min(int(batch_size), per_dev)
    per_dev = -(-per_dev // batch) * batch
    return Plan(batch_size=batch, chunk_size=per_dev * n_dev, n_devices=n_dev)


# ----------------------------------------------------------------------------- inside a program


def _n_points(xs) -> int:
    leaves = jax.tree.leaves(xs)
    if not leaves:
        raise ValueError("xs: expected at least one array with a leading axis of points, got an empty pytree")
    m = np.shape(leaves[0])[0] if np.ndim(leaves[0]) else None
    if m is None or any(np.ndim(a) == 0 or np.shape(a)[0] != m for a in leaves):
        raise ValueError(f"xs: every leaf needs the same leading axis of points, got shapes "
                         f"{[np.shape(a) for a in leaves]}")
    return int(m)


def map_points(fn: Callable, xs, *, batch_size: int):
    """``fn`` over the leading axis of ``xs``, ``batch_size`` points vmapped together (traceable).

    ``batch_size >= m`` is one ``jax.vmap`` of every point (the accelerator
    setting: no loop); ``batch_size == 1`` loops one point at a time
    (``jax.lax.map``); in between, ``lax.map`` over groups of ``batch_size``
    vmapped points (a remainder group is vmapped separately).

    Args:
      fn: function of one point (a pytree slice of ``xs``).
      xs: pytree with a leading axis of ``m`` points.
      batch_size: points vmapped together, >= 1.
    """
    m = _n_points(xs)
    b = _positive("batch_size", batch_size)
    if b >= m:
        return jax.vmap(fn)(xs)
    if b == 1:
        return jax.lax.map(fn, xs)
    return jax.lax.map(fn, xs, batch_size=b)


# ----------------------------------------------------------------------------- on the host


@functools.lru_cache(maxsize=64)
def _program(fn: Callable, grad: bool, batch_size: int, n_operands: int, mesh):
    body = jax.value_and_grad(fn) if grad else fn

    def local(xs, *operands):
        return map_points(lambda x: body(x, *operands), xs, batch_size=batch_size)

    if mesh is not None:
        local = jax.shard_map(local, mesh=mesh, in_specs=(P("points"),) + (P(),) * n_operands, out_specs=P("points"))
    return jax.jit(local)


def _pad(xs, size: int):
    """Host copies of ``xs`` padded to ``size`` points by repeating the last point."""

    def one(a):
        a = np.asarray(a)
        if a.shape[0] == size:
            return a
        return np.concatenate([a, np.repeat(a[-1:], size - a.shape[0], axis=0)])

    return jax.tree.map(one, xs)


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluator:
    """``fn(x, *operands)`` (and optionally its gradient in ``x``) at chunks of points.

    Built by ``evaluator``; call it on any number of points, or ``chunk`` on at
    most ``plan.chunk_size`` points (what a resumable loop calls once per chunk).

    Attributes:
      fn: the function of one point, static under ``jit``.
      operands: the shared arguments, placed on the devices.
      plan: batch and chunk sizes, devices.
      grad: whether ``value_and_grad`` is evaluated.
    """

    fn: Callable
    operands: tuple
    plan: Plan
    grad: bool
    mesh: Any = None

    def program(self):
        """The compiled program of one chunk: ``(xs, *operands) -> outputs``."""
        return _program(self.fn, self.grad, self.plan.batch_size, len(self.operands), self.mesh)

    def chunk(self, xs):
        """Outputs at ``m ≤ chunk_size`` points (padded to one chunk, trimmed back), as NumPy arrays."""
        m = _n_points(xs)
        if m > self.plan.chunk_size:
            raise ValueError(f"xs: a chunk holds at most {self.plan.chunk_size} points, got {m}")
        padded = _pad(xs, self.plan.chunk_size)
        if self.mesh is None:
            padded = jax.tree.map(jnp.asarray, padded)
        else:
            padded = jax.device_put(padded, NamedSharding(self.mesh, P("points")))
        out = self.program()(padded, *self.operands)
        return jax.tree.map(lambda a: np.asarray(a)[:m], out)

    def __call__(self, xs):
        """Outputs at every point of ``xs``, one chunk after another, as NumPy arrays."""
        m = _n_points(xs)
        xs = jax.tree.map(np.asarray, xs)  # one transfer to the host; slices of device arrays dispatch per slice
        parts = [self.chunk(jax.tree.map(lambda a: a[i:i + self.plan.chunk_size], xs))
                 for i in range(0, m, self.plan.chunk_size)]
        return jax.tree.map(lambda *a: np.concatenate(a), *parts)


def evaluator(fn: Callable, *operands, n_points: int, n_params: Optional[int] = None, point_size: int = 1,
              n_activations: int = 0, grad: bool = False, batch_size: Optional[int] = None,
              chunk_size: Optional[int] = None, n_devices: Optional[int] = None) -> Evaluator:
    """Prepares an ``Evaluator``: plans the chunks, places the operands, finds the compiled program.

    Args:
      fn: ``fn(x, *operands)`` for one point ``x``; hashable (module-level
        function or frozen dataclass), since it keys the compilation cache.
      *operands: arrays or pytrees shared by every point (replicated on every device).
      n_points: how many points will be evaluated (bounds the chunk).
      n_params: parameters each point carries (default ``point_size``).
      point_size: floats per input point; n_activations: see ``default_chunk_size``.
      grad: evaluate ``jax.value_and_grad(fn)`` in ``x`` (``fn`` must return a scalar).
      batch_size, chunk_size, n_devices: see ``plan``.
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
    p = plan(n_points, n_params=point_size if n_params is None else n_params, point_size=point_size,
             n_activations=n_activations, batch_size=batch_size, chunk_size=chunk_size, n_devices=n_devices)
    mesh = None
    if p.n_devices > 1:
        mesh = jax.sharding.Mesh(np.array(jax.local_devices()[: p.n_devices]), ("points",))
        operands = jax.device_put(operands, NamedSharding(mesh, P()))
    else:
        operands = jax.tree.map(jnp.asarray, operands)
    return Evaluator(fn=fn, operands=tuple(operands), plan=p, grad=bool(grad), mesh=mesh)


def evaluate_points(fn: Callable, xs, *operands, grad: bool = False, n_params: Optional[int] = None,
                    batch_size: Optional[int] = None, chunk_size: Optional[int] = None,
                    n_devices: Optional[int] = None):
    """``fn(x, *operands)`` at every point ``x`` of ``xs``, batched and chunked (see the module docstring).

    Args:
      fn: function of one point; hashable (it keys the compilation cache).
      xs: pytree with a leading axis of ``m`` points.
      *operands: shared arguments.
      grad: also return the gradient in ``x`` (``fn`` must return a scalar).
      n_params: parameters per point for the batch-size rule (default: the
        size of one point of ``xs``).
      batch_size, chunk_size, n_devices: see ``plan``.

    Returns:
      NumPy arrays with a leading axis ``m``: ``fn``'s outputs, or
      ``(values, grads)`` with ``grads`` shaped like ``xs``.
    """
    if distributed.splits_work():  # several processes (jax.distributed): each evaluates its block of points
        return distributed.evaluate_points(fn, xs, *operands, grad=grad, n_params=n_params, batch_size=batch_size,
                                           chunk_size=chunk_size, n_devices=n_devices)
    m = _n_points(xs)
    point_size = max(1, sum(int(np.prod(np.shape(a)[1:])) for a in jax.tree.leaves(xs)))
    ev = evaluator(fn, *operands, n_points=m, n_params=n_params, point_size=point_size, grad=grad,
                   batch_size=batch_size, chunk_size=chunk_size, n_devices=n_devices)
    return ev(xs)
