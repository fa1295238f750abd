"""Beyond one machine: trials, grids and point batches across processes with ``jax.distributed``.

One process per host (or per GPU), started the way JAX starts them: by hand with a
coordinator address, or by SLURM / Open MPI / Cloud TPU (auto-detected)::

    import landscape as ls
    ls.distributed.initialize("10.0.0.1:1234", num_processes=2, process_id=0)   # before any JAX work
    res = ls.train(net, X, Y, n_trials=10**6)      # every process trains its block, all get the whole result
    if ls.distributed.is_main():
        res.save("trials.npz")                      # process 0 alone writes

Without ``initialize`` (or with one process) nothing changes: every function here then
runs its work locally.

How the work is split. Trials (and grid points, and the points of ``evaluate_points``) are
independent, so each process takes one contiguous block of them -- a pure function of
``(n, process_count, process_index)``, ``block`` -- and runs it with the ordinary local
engine over its own devices. A trial's key is ``fold_in(key(seed), trial_id)``, so its
numbers do not depend on which process ran it. The per-block results are then exchanged
(``exchange``: one all-gather of the pickled blocks over JAX's collectives, gloo on CPU) so
every process holds the same full result and takes the same decisions afterwards; only
process 0 writes files, figures and the printed table (``is_main``).

Why blocks of whole trials and not one SPMD program over the global mesh: trials never
communicate, so a global program would only add a cross-host step to every compiled call
(every process would have to run the same number of calls: no per-process early exit when
its trials have stopped), while a block per process needs one exchange at the end. The
global ``"trials"`` mesh (``global_mesh``) is there for work that is one program.

Errors: a bad argument is found by every process alike (every process validates the same
inputs). An error inside one process's block (a checkpoint of other settings, say) is sent
with the exchange, so every process raises it (``ValueError: process 1: ...``) instead of
waiting for a block that never comes. A process that dies (Ctrl-C, killed) is noticed by
JAX's coordination service, which stops the others after its heartbeat timeout.

Collectives pair up in call order: every process must call ``train`` / ``evaluate_points`` /
``slices.evaluate`` the same times in the same order, from one thread (the experiments do;
``exchange`` checks a tag and refuses blocks that do not belong together).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import pickle
import threading
from typing import Any, Callable, Optional, Sequence

import jax
import numpy as np

from landscape import io, validate

MANIFEST_TAG = "DistributedManifest"
"""Tag of the manifest file a distributed checkpoint writes beside its shards."""

CPU_COLLECTIVES = ("gloo", "mpi")
"""Cross-process collectives JAX offers on CPU (``jax_cpu_collectives_implementation``)."""

MAX_EXCHANGE_BYTES = 2**31 - 1
"""The largest block one process can send in one exchange (its size travels as an int32)."""

_LOCAL = threading.local()


# ----------------------------------------------------------------------------- the runtime


def initialize(coordinator_address: Optional[str] = None, num_processes: Optional[int] = None,
               process_id: Optional[int] = None, local_device_ids: Optional[Sequence[int]] = None, *,
               cpu_collectives: str = "gloo", initialization_timeout: int = 300, **kwargs) -> None:
    """Joins this process to a multi-process run (thin over ``jax.distributed.initialize``).

    Call it once per process, before any JAX computation. With no arguments JAX detects the
    cluster (SLURM, Open MPI, Cloud TPU, ...) and fills them in.

    Args:
      coordinator_address: ``"host:port"`` of process 0's coordinator service (the same for
        every process).
      num_processes: processes in the run, >= 1.
      process_id: this process, ``0 <= process_id < num_processes``.
      local_device_ids: the local devices this process uses (e.g. ``[0]`` for one process
        per GPU); default all.
      cpu_collectives: ``"gloo"`` (default, built in) or ``"mpi"``: the CPU backend's
        cross-process collectives, set before initialising (without them CPU processes
        cannot exchange arrays). Harmless on GPU and TPU, which use their own.
      initialization_timeout: seconds to wait for every process to join.
      **kwargs: passed on to ``jax.distributed.initialize`` (``heartbeat_timeout_seconds``,
        ``coordinator_bind_address``, ``cluster_detection_method``, ...).

    Raises:
      ValueError, TypeError: bad arguments (naming them); RuntimeError: already initialised.
    """
    explicit = (coordinator_address, num_processes, process_id)
    if any(v is not None for v in explicit) and any(v is None for v in explicit):
        missing = [n for n, v in zip(("coordinator_address", "num_processes", "process_id"), explicit, strict=True) if v is None]
        raise ValueError(f"{', '.join(missing)}: expected coordinator_address, num_processes and process_id together "
                         "(or none of them, to detect the cluster), got only some")
    if coordinator_address is not None:
        coordinator_address = address(coordinator_address, "coordinator_address")
        num_processes = validate.integer(num_processes, "num_processes", low=1)
        process_id = validate.integer(process_id, "process_id", low=0, high=num_processes - 1)
    if local_device_ids is not None:
        ids = [local_device_ids] if isinstance(local_device_ids, (int, np.integer)) else list(local_device_ids)
        local_device_ids = [validate.integer(i, "local_device_ids", low=0) for i in ids]
    validate.choice(cpu_collectives, "cpu_collectives", CPU_COLLECTIVES)
    validate.integer(initialization_timeout, "initialization_timeout", low=1)
    if jax.distributed.is_initialized():
        raise RuntimeError("initialize: this process has already joined a distributed run")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address, num_processes, process_id, local_device_ids,
                               initialization_timeout=initialization_timeout, **kwargs)


def address(value, name: str = "--coordinator") -> str:
    """A ``host:port`` coordinator address (port 1..65535), checked; returns it."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected 'host:port' such as '10.0.0.1:1234', got {validate.got(value)}")
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{name}: expected 'host:port' with a port in 1..65535 such as '127.0.0.1:1234', got {value!r}")
    return value


def is_initialized() -> bool:
    """Whether this process has joined a distributed run (``initialize``)."""
    return jax.distributed.is_initialized()


def process_count() -> int:
    """Processes in the run (1 without ``initialize``)."""
    return jax.process_count() if is_initialized() else 1


def process_index() -> int:
    """This process's index, ``0 <= process_index() < process_count()`` (0 without ``initialize``)."""
    return jax.process_index() if is_initialized() else 0


def is_main() -> bool:
    """Whether this is process 0: the one that writes result files, figures and printed tables."""
    return process_index() == 0


def global_mesh(axis_name: str = "trials") -> jax.sharding.Mesh:
    """The one-axis mesh over every device of every process (``jax.devices()``, process by process)."""
    return jax.sharding.Mesh(np.array(jax.devices()), (axis_name,))


def splits_work() -> bool:
    """Whether work given to ``train`` / ``evaluate_points`` / ``slices.evaluate`` is split across
    processes now: more than one process, and not already inside one process's block."""
    return not getattr(_LOCAL, "inside", False) and process_count() > 1


@contextlib.contextmanager
def local():
    """Inside it, this thread's work stays in this process (what a process does with its block)."""
    before = getattr(_LOCAL, "inside", False)
    _LOCAL.inside = True
    try:
        yield
    finally:
        _LOCAL.inside = before


# ----------------------------------------------------------------------------- splitting and exchanging


def block(n: int, index: Optional[int] = None, count: Optional[int] = None) -> np.ndarray:
    """The positions ``0..n-1`` process ``index`` of ``count`` takes: a contiguous block.

    Blocks are ``[index·n // count, (index+1)·n // count)``: sizes differ by at most one, in
    order, covering ``0..n-1`` once (some are empty when ``n < count``).
    """
    n = validate.integer(n, "n", low=0)
    count = process_count() if count is None else validate.integer(count, "count", low=1)
    index = process_index() if index is None else validate.integer(index, "index", low=0, high=count - 1)
    return np.arange(index * n // count, (index + 1) * n // count)


def exchange(value: Any, tag: str = "") -> list:
    """Every process's ``value``, in process order (an all-gather of pickled bytes).

    Args:
      value: anything picklable (NumPy arrays travel exactly, bit for bit).
      tag: what this exchange is; processes that reach exchanges of different tags (calls out
        of step) get a ``RuntimeError`` instead of each other's data.

    Returns:
      ``[value of process 0, value of process 1, ...]``; ``[value]`` with one process.
    """
    if process_count() == 1:
        return [value]
    from jax.experimental import multihost_utils

    payload = np.frombuffer(pickle.dumps((tag, value), protocol=pickle.HIGHEST_PROTOCOL), np.uint8)
    too_big = payload.size > MAX_EXCHANGE_BYTES
    sizes = np.asarray(multihost_utils.process_allgather(np.array([-1 if too_big else payload.size], np.int32))).reshape(-1)
    if np.any(sizes < 0):  # every process learns it, so none waits for the next all-gather
        raise ValueError(f"exchange: the block of process {int(np.argmax(sizes < 0))} is over {MAX_EXCHANGE_BYTES} bytes "
                         f"pickled ({tag}); use smaller runs (fewer trials per call, no history_params)")
    width = 1 << max(int(sizes.max()) - 1, 1).bit_length()  # a power of two: few compiled shapes
    buf = np.zeros(width, np.uint8)
    buf[:payload.size] = payload
    rows = np.asarray(multihost_utils.process_allgather(buf))
    out = []
    for i, size in enumerate(sizes):
        their_tag, v = pickle.loads(rows[i, :int(size)].tobytes())
        if their_tag != tag:
            raise RuntimeError(f"exchange: process {i} is at {their_tag!r}, process {process_index()} at {tag!r}: the "
                               "processes are out of step (every process must make the same calls in the same order, "
                               "from one thread)")
        out.append(v)
    return out


_RERAISE = (ValueError, TypeError, FileExistsError, FileNotFoundError, PermissionError, NotADirectoryError,
            IsADirectoryError, RuntimeError)
"""Error kinds raised again, with their kind, on the processes where they did not happen."""


def collect(fn: Callable[[], Any], tag: str = "") -> list:
    """``fn()`` on every process, its values exchanged: ``[value of process 0, ...]``.

    An exception in any process's ``fn`` is raised on every process (the failing one raises
    its own; the others a ``ValueError`` / ``TypeError`` / ... ``"process i: <message>"`` of
    the same kind), so no process waits for a block that never comes. ``KeyboardInterrupt``
    is not caught (the process ends; see the module docstring).
    """
    err = None
    try:
        mine = (True, fn())
    except Exception as e:  # noqa: BLE001 - sent to every process, then raised
        err, mine = e, (False, (type(e).__name__, " ".join(str(e).split()) or type(e).__name__))
    results = exchange(mine, tag)
    if err is not None:
        raise err
    for i, (ok, v) in enumerate(results):
        if not ok:
            kind, text = v
            raise next((c for c in _RERAISE if c.__name__ == kind), RuntimeError)(f"process {i}: {text}")
    return [v for _, v in results]


def on_main(fn: Callable[[], Any], tag: str = "") -> Any:
    """``fn()`` on process 0 only; its value (or its error) on every process."""
    return collect(lambda: fn() if is_main() else None, tag)[0]


def map_blocks(n: int, fn: Callable[[np.ndarray], Any], tag: str = "") -> list:
    """``fn(rows)`` for this process's block of ``0..n-1`` (``block``); every block's value, in order.

    ``fn`` runs inside ``local()`` (a ``train`` or ``evaluate_points`` it calls stays in this
    process); empty blocks are skipped (their value is not in the list).
    """
    rows = block(n)

    def run():
        if rows.size == 0:
            return None
        with local():
            return fn(rows)

    return [v for v, size in zip(collect(run, tag), [block(n, i).size for i in range(process_count())], strict=True)
            if size]


def concatenate(parts: list) -> Any:
    """The pytrees of ``parts`` joined along their leading axis (NumPy)."""
    return jax.tree.map(lambda *a: np.concatenate([np.asarray(x) for x in a]), *parts)


def take(tree, rows: np.ndarray) -> Any:
    """``tree``'s leaves at ``rows`` of their leading axis (NumPy)."""
    return jax.tree.map(lambda a: np.asarray(a)[rows], tree)


# ----------------------------------------------------------------------------- trials


def shard_path(path: str, index: Optional[int] = None, count: Optional[int] = None) -> str:
    """``<name>.p<I>of<N>.npz``: the checkpoint shard of process ``I`` of ``N`` for checkpoint ``path``."""
    base = io.npz_path(path, name="checkpoint")[: -len(io.SUFFIX)]
    count = process_count() if count is None else count
    index = process_index() if index is None else index
    return f"{base}.p{index}of{count}{io.SUFFIX}"


def manifest_path(path: str) -> str:
    """``<name>.manifest.npz``: the manifest of a distributed checkpoint ``path``."""
    return io.npz_path(path, name="checkpoint")[: -len(io.SUFFIX)] + ".manifest" + io.SUFFIX


def check_manifest(path: str, run_fingerprint: str, run_settings: dict, *, n: int, count: int,
                   overwrite: bool = False) -> str:
    """Checks (and writes) the manifest of a distributed checkpoint; called by process 0.

    The manifest records the run's settings, its fingerprint and the process count. A
    manifest of another run or another process count is refused (``ValueError`` naming
    what differs: shards of two runs are never mixed) unless ``overwrite`` (then it is set
    aside as ``<name>.manifest.replaced.npz``).

    Returns:
      The manifest's path.
    """
    blocks = [[int(b[0]), int(b[-1]) + 1] if b.size else [] for b in (block(n, i, count) for i in range(count))]
    settings = {"run": run_settings, "process_count": int(count), "blocks": blocks}
    fp = io.fingerprint({"run": run_fingerprint, "process_count": int(count)})
    mpath = manifest_path(path)
    io.open_progress(mpath, fp, settings, overwrite=overwrite, tag=MANIFEST_TAG, what="checkpoint manifest",
                     arg="checkpoint")
    io.write_progress(mpath, {"blocks": np.array([b or [0, 0] for b in blocks], np.int64)},
                      {"process_count": int(count), "shards": [os.path.basename(shard_path(path, i, count))
                                                              for i in range(count)]},
                      fingerprint_=fp, settings=settings, tag=MANIFEST_TAG)
    return mpath


_TRIAL_AXIS_FIELDS = ("params", "loss", "grad_norm", "steps", "status", "history", "param_history")
"""``TrialsResult`` fields with a leading trial axis (joined across blocks)."""


def train(net, X, Y, **kwargs):
    """``trials.train`` across processes (what ``trials.train`` calls when ``splits_work()``).

    Every process validates the whole run (``trials.prepare``), trains its block of trial
    positions (``block``) with the local engine over its own devices -- trial ids, per-trial
    masks and ``params0`` taken at those positions, so every trial gets the key and inputs
    it gets in a one-process run -- and the blocks are exchanged: every process returns the
    same ``TrialsResult``, equal to a one-process run's trial for trial. Its ``config`` is
    the whole run's, with a ``"distributed"`` entry (process count, blocks).

    With ``checkpoint=path`` each process checkpoints its block to ``shard_path(path)``
    (``<name>.p<I>of<N>.npz``) and process 0 writes ``manifest_path(path)`` recording the
    run and the process count (``check_manifest``); running the same command again (all
    processes) resumes every shard.

    ``progress`` is called by each process about its own block (``n_trials`` = block size).
    """
    from landscape import trials

    prep_args = set(inspect.signature(trials.prepare).parameters)
    full = trials.prepare(net, X, Y, **{k: v for k, v in kwargs.items() if k in prep_args})
    checkpoint, overwrite = kwargs.get("checkpoint"), validate.boolean(kwargs.get("overwrite", False), "overwrite")
    n, count = full.n_trials, process_count()
    tag = f"train {full.fingerprint}"
    if checkpoint is not None:
        io.npz_path(checkpoint, name="checkpoint")
        on_main(lambda: check_manifest(checkpoint, full.fingerprint, full.settings, n=n, count=count,
                                       overwrite=overwrite), tag + " manifest")

    def run(rows):
        sub = dict(kwargs, n_trials=int(rows.size), trial_ids=full.trial_ids[rows])
        if full.masks_per_trial:
            sub["masks"] = take(full.masks, rows)
        if full.params0 is not None:
            sub["params0"] = take(full.params0, rows)
        if checkpoint is not None:
            sub["checkpoint"] = shard_path(checkpoint)
        return dataclasses.replace(trials.train(net, X, Y, **sub), masks=None)  # masks: the whole run's below

    parts = map_blocks(n, run, tag)
    joined = {name: None if getattr(parts[0], name) is None else concatenate([getattr(p, name) for p in parts])
              for name in _TRIAL_AXIS_FIELDS}
    meta = dict(full.meta)
    meta["distributed"] = {
        "process_count": count,
        "blocks": [[int(b[0]), int(b[-1]) + 1] for b in (block(n, i, count) for i in range(count)) if b.size],
        "block_chunk_size": [p.config.get("chunk_size") for p in parts],
        "block_n_devices": [p.config.get("n_devices") for p in parts],
    }
    return dataclasses.replace(parts[0], config=meta, trial_ids=full.trial_ids, masks=full.masks, **joined)


# ----------------------------------------------------------------------------- points


def evaluate_points(fn, xs, *operands, **kwargs):
    """``evaluate.evaluate_points`` across processes: each evaluates its block of points, all get every value."""
    from landscape import evaluate

    m = evaluate._n_points(xs)
    xs = jax.tree.map(np.asarray, xs)
    parts = map_blocks(m, lambda rows: evaluate.evaluate_points(fn, take(xs, rows), *operands, **kwargs),
                       f"points {m} {getattr(fn, '__name__', type(fn).__name__)}")
    return concatenate(parts)
