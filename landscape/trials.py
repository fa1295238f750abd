"""Batched training: many independent trials of one masked MLP in one program.

``train`` runs ``n_trials`` gradient-based training runs at once: batched over
trials (one of two programs, below), ``jax.lax.scan`` over a chunk of steps, the trials sharded over
every local device (a ``NamedSharding`` on a ``"trials"`` axis). The Python loop
only walks over chunks of steps (early exit once every trial has stopped,
progress hook, checkpoint) and over chunks of trials (bounded memory).

``train`` is three steps, each usable on its own (e.g. to run some chunks of
trials on one host and others elsewhere):

* ``prepare(net, X, Y, ...) -> TrialsPlan``: validation, config, masks,
  initial params, trial ids, device mesh, compiled programs, fingerprint;
* ``run_chunk(plan, rows) -> dict``: the trials at positions ``rows`` of
  ``plan.trial_ids`` (at most ``plan.chunk_size`` of them) through the compiled
  loop over chunks of steps, with early exit; a hook after every chunk of steps
  (progress, checkpoint) and an optional state to resume from;
* ``merge(plan, parts) -> TrialsResult``: the per-chunk outputs, in order.

Two compiled programs, chosen automatically (``choose_program``):

* ``"unrolled"`` (small nets, few samples: e.g. Table 3): the trial axis last
  and one ``(B,)`` array per weight/bias entry, the forward pass written out
  entry by entry (``nets.loss_per_entry``), so every operation is elementwise
  over trials; masks shared by all trials are known when the program is traced,
  so their masked entries are never computed; per-trial masks are data (every
  entry computed, masked ones held at zero). It runs at the speed of a
  hand-written program of the same math (benchmarks/bench_engine.py).
* ``"vmap"`` (bigger nets): ``vmap`` of the one-trial step (matrix products).

Vocabulary: ``batch_size`` trials per device run together inside the compiled
program (a block; blocks are looped over with ``lax.map``; on accelerators the
default block is wide: up to ``ACCELERATOR_MAX_BATCH`` trials (``"vmap"``) or 2**20
Table 3 trials (``"unrolled"``) in one vmap, never one trial at a time);
``chunk_size`` trials go through one compiled call (and one checkpoint write);
``TrainConfig.chunk_steps`` counts steps per compiled call.

Per trial:
  * key ``jax.random.fold_in(jax.random.key(seed), trial_id)``: a trial's numbers
    depend only on (seed, trial id), not on chunking, devices or which other
    trials run with it (exactly: see ``train``'s Returns);
  * stopping rule: a trial stops at the first step ``t`` where
    ``‖∇L(θ_t)‖₂ ≤ gtol`` (gradient over the free, unmasked coordinates) --
    status ``CONVERGED``; or when its loss is not finite or exceeds
    ``diverge_loss`` -- status ``DIVERGED`` (its NaN/Inf stays in that trial);
    otherwise after ``max_steps`` updates -- status ``MAX_STEPS``. A stopped
    trial never changes again;
  * loss history every ``history_stride`` steps (the loss *before* the update
    of that step; a stopped trial repeats its last loss).

Masked weights are exactly zero at initialisation and after every update, for
any optax optimiser: the loss sees ``where(mask, θ, 0)`` and every update is
projected the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from landscape import distributed, evaluate, io, nets, validate
from landscape.nets import MLP

RUNNING, CONVERGED, MAX_STEPS, DIVERGED = 0, 1, 2, 3
STATUS_NAMES = {RUNNING: "running", CONVERGED: "converged", MAX_STEPS: "max_steps", DIVERGED: "diverged"}

CHECKPOINT_TAG = "TrainCheckpoint"

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")


# ----------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static settings of a batch of trials (hashable; one compile per value).

    Attributes:
      optimizer: ``"sgd"`` (plain gradient descent, the paper's), ``"momentum"``,
        ``"adam"``, ``"adamw"``, ``"rmsprop"`` or ``"adagrad"``; or pass an optax
        ``GradientTransformation`` to ``train(optimizer=...)`` instead.
      learning_rate: step size, > 0.
      optimizer_kwargs: extra optax arguments as ``(("weight_decay", 1e-4),)``.
      loss: ``"half_sum"`` (½‖f(X) − Y‖_F², Eq. 1) or ``"mean"`` (PyTorch MSE).
      max_steps: the most updates a trial makes.
      gtol: a trial converges when ‖∇L‖₂ ≤ gtol (0 disables the rule).
      diverge_loss: a trial diverges when its loss exceeds this (or is not finite).
      chunk_steps: steps per compiled chunk (rounded up to a multiple of
        ``history_stride``); the host checks for early exit between chunks.
      history_stride: record the loss every this many steps.
      dtype: ``"float32"`` or ``"float64"``.
      init_scale: multiplies PyTorch's default initialisation.
      init_fan_in: ``"dense"`` (``nn.Linear``'s bound ``1/√fan_in``) or ``"masked"``
        (each neuron's unmasked inputs; see ``nets.init``).
      history_params: also record the params every ``history_stride`` steps
        (``TrialsResult.param_history``; for trajectory plots of small nets).
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.01
    optimizer_kwargs: tuple = ()
    loss: str = "half_sum"
    max_steps: int = 50_000
    gtol: float = 1e-5
    diverge_loss: float = float("inf")
    chunk_steps: int = 5_000
    history_stride: int = 100
    dtype: str = "float32"
    init_scale: float = 1.0
    init_fan_in: str = "dense"
    history_params: bool = False

    def __post_init__(self):
        # Argument validation (landscape.validate): names the field, what was expected, what came.
        set_ = functools.partial(object.__setattr__, self)
        if not isinstance(self.optimizer, str) or (self.optimizer not in OPTIMIZERS and self.optimizer != "custom"):
            raise (ValueError if isinstance(self.optimizer, str) else TypeError)(
                f"optimizer: unknown name {self.optimizer!r}; expected one of {OPTIMIZERS} or an optax GradientTransformation")
        set_("learning_rate", validate.positive(self.learning_rate, "learning_rate"))
        validate.choice(self.loss, "loss", nets.LOSSES)
        for name in ("max_steps", "history_stride", "chunk_steps"):
            set_(name, validate.integer(getattr(self, name), name, low=1))
        set_("gtol", validate.nonnegative(self.gtol, "gtol"))
        set_("diverge_loss", validate.positive(self.diverge_loss, "diverge_loss", finite=False))
        validate.choice(self.dtype, "dtype", ("float32", "float64"))
        set_("init_scale", validate.positive(self.init_scale, "init_scale"))
        validate.choice(self.init_fan_in, "init_fan_in", nets.FAN_INS)
        set_("history_params", validate.boolean(self.history_params, "history_params"))
        kwargs = self.optimizer_kwargs.items() if isinstance(self.optimizer_kwargs, dict) else self.optimizer_kwargs
        try:
            kwargs = tuple((k, v) for k, v in kwargs)
        except (TypeError, ValueError):
            raise TypeError(f"optimizer_kwargs: expected pairs such as (('weight_decay', 1e-4),) or a dict, "
                            f"got {validate.got(self.optimizer_kwargs)}") from None
        if not all(isinstance(k, str) for k, _ in kwargs):
            raise TypeError(f"optimizer_kwargs: expected argument names (str) as keys, got {[k for k, _ in kwargs]}")
        set_("optimizer_kwargs", kwargs)
        stride = int(self.history_stride)
        chunk = -(-min(int(self.chunk_steps), int(self.max_steps)) // stride) * stride
        object.__setattr__(self, "chunk_steps", chunk)
        object.__setattr__(self, "max_steps", int(self.max_steps))
        object.__setattr__(self, "history_stride", stride)
        object.__setattr__(self, "optimizer_kwargs", tuple(sorted(tuple(self.optimizer_kwargs))))

    @property
    def n_history(self) -> int:
        return -(-self.max_steps // self.history_stride)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["optimizer_kwargs"] = dict(self.optimizer_kwargs)
        return d


@functools.lru_cache(maxsize=None)
def make_optimizer(name: str, learning_rate: float, kwargs: tuple = ()) -> optax.GradientTransformation:
    """The optax transformation for a name (cached, so jit caches hit)."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate: expected > 0, got {learning_rate}")
    kw = dict(kwargs)
    if name == "sgd":
        return optax.sgd(learning_rate, **kw)
    if name == "momentum":
        return optax.sgd(learning_rate, momentum=kw.pop("momentum", 0.9), **kw)
    factories = {"adam": optax.adam, "adamw": optax.adamw, "rmsprop": optax.rmsprop, "adagrad": optax.adagrad}
    if name not in factories:
        raise ValueError(f"optimizer: unknown name {name!r}; expected one of {OPTIMIZERS}")
    return factories[name](learning_rate, **kw)


def keep_masked_zero(masks) -> optax.GradientTransformation:
    """An optax transformation that zeros updates of masked entries.

    Chain it after any optimiser in your own loop:
    ``optax.chain(optax.adamw(1e-3), keep_masked_zero(masks))``. (``train``
    does the same projection itself, with masks as dynamic data.)
    """
    validate.mask_values(masks)  # entries exactly 0/1: a 0.5 would scale updates, not mask them

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return nets.apply_masks(updates, masks), state

    return optax.GradientTransformation(init_fn, update_fn)


def trial_key(seed: int, trial_id) -> jax.Array:
    """The key of one trial: ``fold_in(key(seed), trial_id)``."""
    return jax.random.fold_in(jax.random.key(seed), trial_id)


# ----------------------------------------------------------------------------- result


@dataclasses.dataclass(frozen=True)
class TrialsResult(io.Saveable):
    """What a batch of trials produced (frozen). Arrays have a leading trial axis.

    Attributes:
      params: final params pytree, leaves ``(n_trials, ...)``.
      loss: ``(n_trials,)`` final loss.
      grad_norm: ``(n_trials,)`` final ‖∇L‖₂ over the free coordinates.
      steps: ``(n_trials,)`` updates made.
      status: ``(n_trials,)`` int codes, see ``STATUS_NAMES``.
      history: ``(n_trials, n_history)`` loss every ``history_stride`` steps.
      history_steps: ``(n_history,)`` the step of each history column.
      trial_ids: ``(n_trials,)`` the ids the keys were folded with.
      config: self-description (network, train config, seed, data digests,
        fingerprint, versions, ...).
      param_history: params pytree with leaves ``(n_trials, n_history, ...)``
        when ``history_params`` was set, else None.
      masks: the masks the trials were trained with (shared, or with a leading
        trial axis when ``config["masks_per_trial"]``), so the file is
        self-describing.
    """

    params: Any
    loss: np.ndarray
    grad_norm: np.ndarray
    steps: np.ndarray
    status: np.ndarray
    history: np.ndarray
    history_steps: np.ndarray
    trial_ids: np.ndarray
    config: dict
    param_history: Any = None
    masks: Any = None

    @property
    def n_trials(self) -> int:
        return int(self.loss.shape[0])

    @property
    def converged(self) -> np.ndarray:
        return self.status == CONVERGED

    @property
    def diverged(self) -> np.ndarray:
        return self.status == DIVERGED

    def status_counts(self) -> dict:
        return {STATUS_NAMES[k]: int(np.sum(self.status == k)) for k in (CONVERGED, MAX_STEPS, DIVERGED)}

    def to_dict(self) -> dict:
        return {
            "config": self.config,
            "loss": self.loss.tolist(),
            "grad_norm": self.grad_norm.tolist(),
            "steps": self.steps.tolist(),
            "status": [STATUS_NAMES[int(s)] for s in self.status],
        }

    def _to_file(self) -> tuple:
        arrays = {"loss": self.loss, "grad_norm": self.grad_norm, "steps": self.steps, "status": self.status,
                  "history": self.history, "history_steps": self.history_steps, "trial_ids": self.trial_ids}
        meta = dict(self.config)
        for prefix, tree in (("param", self.params), ("param_history", self.param_history), ("mask", self.masks)):
            a, layout = io.tree_arrays(prefix, tree)
            arrays.update(a)
            meta[f"{prefix}_layout"] = layout
        return arrays, meta

    @classmethod
    def _from_file(cls, arrays: dict, meta: dict) -> "TrialsResult":
        trees = {p: io.tree_from_arrays(p, arrays, meta.pop(f"{p}_layout", None)) for p in ("param", "param_history", "mask")}
        return cls(params=trees["param"], loss=arrays["loss"], grad_norm=arrays["grad_norm"], steps=arrays["steps"],
                   status=arrays["status"], history=arrays["history"], history_steps=arrays["history_steps"],
                   trial_ids=arrays["trial_ids"], config=meta, param_history=trees["param_history"], masks=trees["mask"])


# ----------------------------------------------------------------------------- compiled core


def _loss_and_grad(net: MLP, loss: str):
    def f(params, X, Y, masks):
        return nets.loss(net, params, X, Y, masks, loss)

    return jax.value_and_grad(f)


def _global_norm(tree):
    return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def _fresh_state(net: MLP, cfg: TrainConfig, opt, key, masks, params0=None, opt_entries=None):
    """One trial's initial state; the optimizer state is of the params pytree, or of
    the list of ``opt_entries`` (the ``"unrolled"`` program with a per-coordinate optimizer)."""
    dtype = jnp.dtype(cfg.dtype)
    if params0 is None:
        params = nets.init(key, net, masks, scale=cfg.init_scale, dtype=dtype, fan_in=cfg.init_fan_in)
    else:
        params = nets.apply_masks(params0, masks)
    inf = jnp.asarray(jnp.inf, dtype)
    # loss and grad_norm are filled in by the first step.
    opt_state = opt.init(params if opt_entries is None else _pick(params, opt_entries))
    return {"params": params, "opt_state": opt_state, "status": jnp.int32(RUNNING), "steps": jnp.int32(0),
            "loss": inf, "grad_norm": inf}


def _stopping_rule(cfg: TrainConfig, state, loss, gnorm, allow_update):
    """``(status, move)``: the stopping rule of the module docstring (shapes: one per trial)."""
    status = state["status"]
    running = status == RUNNING
    bad = ~jnp.isfinite(loss) | (loss > cfg.diverge_loss) | ~jnp.isfinite(gnorm)
    status = jnp.where(running & bad, DIVERGED, status)
    status = jnp.where((status == RUNNING) & (gnorm <= cfg.gtol), CONVERGED, status)
    status = jnp.where((status == RUNNING) & (state["steps"] >= cfg.max_steps), MAX_STEPS, status)
    return status, (status == RUNNING) & allow_update


def _make_step(net: MLP, cfg: TrainConfig, opt):
    """One step of one trial (the ``"vmap"`` program vmaps it over trials)."""
    loss_and_grad = _loss_and_grad(net, cfg.loss)

    def step(state, X, Y, masks, allow_update=True):
        params = state["params"]
        loss, grads = loss_and_grad(params, X, Y, masks)
        gnorm = _global_norm(grads)
        running = state["status"] == RUNNING
        status, move = _stopping_rule(cfg, state, loss, gnorm, allow_update)
        updates, opt_state = opt.update(grads, state["opt_state"], params)
        new_params = nets.apply_masks(optax.apply_updates(params, updates), masks)
        keep = lambda new, old: jnp.where(move, new, old)  # noqa: E731
        return {"params": jax.tree.map(keep, new_params, params),
                "opt_state": jax.tree.map(keep, opt_state, state["opt_state"]),
                "status": status, "steps": state["steps"] + move.astype(jnp.int32),
                "loss": jnp.where(running, loss, state["loss"]),
                "grad_norm": jnp.where(running, gnorm, state["grad_norm"])}

    return step


def _assemble(net: MLP, entries: tuple, values, batch_shape: tuple, dtype):
    """The params pytree with trailing ``batch_shape`` axes from one array per entry (absent entries 0)."""
    at = dict(zip(entries, values))
    zero = jnp.zeros(batch_shape, dtype)
    layers = []
    for l, layer in enumerate(nets.shapes(net)):
        out = {}
        for name, shape in layer.items():
            flat = [at.get((l, name, *idx), zero) for idx in np.ndindex(*shape)]
            out[name] = jnp.stack(flat).reshape(tuple(shape) + tuple(batch_shape))
        layers.append(out)
    return tuple(layers)


def _pick(params, entries: tuple) -> list:
    """One array per entry from a params pytree (``params[l][name][idx]``, any trailing axes)."""
    return [params[e[0]][e[1]][tuple(e[2:])] for e in entries]


def _make_unrolled_step(net: MLP, cfg: TrainConfig, opt, entries: tuple, flat_optimizer: bool):
    """One step of a block of trials with the trial axis last and one array per entry.

    ``state["values"]`` holds one ``(B,)`` array per entry of ``entries``;
    every other state leaf has its trial axis last. The loss is
    ``nets.loss_per_entry`` (elementwise over trials: masked entries of shared
    masks are never computed). The optimizer acts per trial (``vmap`` over the
    trailing trial axis): on the list of entries when ``flat_optimizer`` (the
    named optimizers, all per-coordinate: the same numbers without building
    matrices every step), else on each trial's own params pytree, so a custom
    optax transformation sees what it sees in the ``"vmap"`` program.
    """

    def step(state, X, Y, mvals, allow_update=True):
        vals = state["values"]
        B = vals[0].shape[-1]
        dtype = vals[0].dtype
        if mvals is not None:  # per-trial masks as data: masked entries are zeros
            vals = [jnp.where(m != 0, v, jnp.zeros_like(v)) for v, m in zip(vals, mvals)]
        loss, vjp = jax.vjp(lambda v: nets.loss_per_entry(net, entries, v, X, Y, cfg.loss), vals)
        (grads,) = vjp(jnp.ones_like(loss))
        gnorm = jnp.sqrt(sum(g * g for g in grads))
        running = state["status"] == RUNNING
        status, move = _stopping_rule(cfg, state, loss, gnorm, allow_update)
        update = jax.vmap(opt.update, in_axes=-1, out_axes=-1)
        if flat_optimizer:
            updates, opt_state = update(list(grads), state["opt_state"], list(vals))
            new_vals = optax.apply_updates(list(vals), updates)
        else:
            params = _assemble(net, entries, vals, (B,), dtype)
            updates, opt_state = update(_assemble(net, entries, grads, (B,), dtype), state["opt_state"], params)
            new_vals = _pick(optax.apply_updates(params, updates), entries)
        if mvals is not None:
            new_vals = [jnp.where(m != 0, v, jnp.zeros_like(v)) for v, m in zip(new_vals, mvals)]
        keep = lambda new, old: jnp.where(move, new, old)  # noqa: E731  (trailing trial axis broadcasts)
        return {"values": [keep(n, o) for n, o in zip(new_vals, vals)],
                "opt_state": jax.tree.map(keep, opt_state, state["opt_state"]),
                "status": status, "steps": state["steps"] + move.astype(jnp.int32),
                "loss": jnp.where(running, loss, state["loss"]),
                "grad_norm": jnp.where(running, gnorm, state["grad_norm"])}

    return step


def _scan_steps(step, cfg: TrainConfig, state, X, Y, masks, snapshot):
    """``cfg.chunk_steps`` steps and the history of the chunk (one trial or a block: any state shapes).

    One scan, one copy of the step (compile time matters: it is paid per
    activation): iterations ``0..chunk_steps-1`` update, and a last one with
    updates switched off refreshes loss and gradient norm at the params the
    chunk ends on. Every ``stride``-th loss ``L(θ_t)`` (and ``snapshot(θ_t)``
    with ``history_params``) goes to a small buffer in the carry.

    Returns:
      ``(state, rec)``: ``rec`` is the losses ``(n_rec, *loss.shape)``, or
      ``(losses, snapshots)`` with ``history_params``.
    """
    stride, n_rec = cfg.history_stride, cfg.chunk_steps // cfg.history_stride
    rec0 = jnp.zeros((n_rec + 1,) + state["loss"].shape, state["loss"].dtype)
    prec0 = (jax.tree.map(lambda p: jnp.zeros((n_rec + 1,) + p.shape, p.dtype), snapshot(state))
             if cfg.history_params else None)

    def body(carry, t):
        s, rec, prec = carry
        slot = jnp.where(t % stride == 0, t // stride, n_rec)  # n_rec: a scratch slot
        if prec is not None:
            prec = jax.tree.map(lambda b, p: b.at[slot].set(p), prec, snapshot(s))
        s = step(s, X, Y, masks, t < cfg.chunk_steps)
        return (s, rec.at[slot].set(s["loss"]), prec), None

    (state, rec, prec), _ = jax.lax.scan(body, (state, rec0, prec0), jnp.arange(cfg.chunk_steps + 1))
    rec = rec[:n_rec]
    return state, ((rec, jax.tree.map(lambda b: b[:n_rec], prec)) if cfg.history_params else rec)


def _vmap_chunk(net: MLP, cfg: TrainConfig, opt, batched_masks: bool, batch_size: int):
    """The ``"vmap"`` program on one device's trials: blocks of ``batch_size``
    trials (``vmap`` of the one-trial step), looped with ``lax.map`` when the
    device holds more than one block."""
    step = _make_step(net, cfg, opt)

    def chunk_one(state, X, Y, masks):
        return _scan_steps(step, cfg, state, X, Y, masks, lambda s: s["params"])

    def local_chunk(state, X, Y, masks):
        T = state["status"].shape[0]
        B = batch_size or T
        block = jax.vmap(chunk_one, in_axes=(0, None, None, 0 if batched_masks else None))
        if B == T:  # one block: one vmap, no loop
            return block(state, X, Y, masks)
        split = lambda a: a.reshape((T // B, B) + a.shape[1:])  # noqa: E731
        xs = jax.tree.map(split, (state, masks if batched_masks else None))
        out = jax.lax.map(lambda sm: block(sm[0], X, Y, sm[1] if batched_masks else masks), xs)
        return jax.tree.map(lambda a: a.reshape((T,) + a.shape[2:]), out)

    return local_chunk


def _unrolled_chunk(net: MLP, cfg: TrainConfig, opt, batched_masks: bool, batch_size: int, entries: tuple,
                    flat_optimizer: bool):
    """The ``"unrolled"`` program on one device's trials (see ``_make_unrolled_step``).

    The state arrives in the common layout (leading trial axis, params
    pytrees); it is cut into blocks of ``batch_size`` trials, each block
    turned trial-last with one ``(B,)`` array per entry, run through the
    steps (``lax.map`` over blocks), and turned back.
    """
    step = _make_unrolled_step(net, cfg, opt, entries, flat_optimizer)

    def block_chunk(state, X, Y, mvals):
        B = state["status"].shape[-1]
        snapshot = lambda s: s["values"]  # noqa: E731
        state, rec = _scan_steps(step, cfg, state, X, Y, mvals, snapshot)
        if cfg.history_params:
            losses, snaps = rec
            dtype = losses.dtype
            # (n_rec, B) per entry -> params pytree (B, n_rec, ...)
            ptree = _assemble(net, entries, [jnp.moveaxis(v, -1, 0) for v in snaps], (B, losses.shape[0]), dtype)
            ptree = jax.tree.map(lambda a: jnp.moveaxis(jnp.moveaxis(a, -2, 0), -1, 1), ptree)
            rec = (losses.T, ptree)
        else:
            rec = rec.T
        return state, rec

    def local_chunk(state, X, Y, masks):
        T = state["status"].shape[0]
        B = batch_size or T
        nb = T // B
        dtype = state["loss"].dtype
        inner = {"values": _pick(jax.tree.map(lambda a: jnp.moveaxis(a, 0, -1), state["params"]), entries),
                 "opt_state": state["opt_state"], "status": state["status"], "steps": state["steps"],
                 "loss": state["loss"], "grad_norm": state["grad_norm"]}
        mvals = None
        if batched_masks:
            mvals = _pick(jax.tree.map(lambda a: jnp.moveaxis(a, 0, -1), masks), entries)
        # leading trial axis (T, ...) -> blocks, trial axis last: (nb, ..., B)
        to_blocks = lambda a: jnp.moveaxis(a.reshape((nb, B) + a.shape[1:]), 1, -1)  # noqa: E731
        from_blocks = lambda a: jnp.moveaxis(a, -1, 1).reshape((T,) + a.shape[1:-1])  # noqa: E731
        inner["opt_state"] = jax.tree.map(to_blocks, inner["opt_state"])
        for k in ("status", "steps", "loss", "grad_norm"):
            inner[k] = to_blocks(inner[k])
        inner["values"] = [v.reshape(nb, B) for v in inner["values"]]
        mb = None if mvals is None else [m.reshape(nb, B) for m in mvals]
        if nb == 1:  # one block: no loop
            out, rec = block_chunk(jax.tree.map(lambda a: a[0], inner), X, Y, None if mb is None else [m[0] for m in mb])
            out, rec = jax.tree.map(lambda a: a[None], (out, rec))
        else:
            out, rec = jax.lax.map(lambda sm: block_chunk(sm[0], X, Y, sm[1]), (inner, mb))
        # rec: (nb, B, ...) -> (T, ...)
        rec = jax.tree.map(lambda a: a.reshape((T,) + a.shape[2:]), rec)
        values = [v.reshape(T) for v in out["values"]]
        state = {"params": _assemble(net, entries, values, (T,), dtype), "opt_state": jax.tree.map(from_blocks, out["opt_state"])}
        state["params"] = jax.tree.map(lambda a: jnp.moveaxis(a, -1, 0), state["params"])
        for k in ("status", "steps", "loss", "grad_norm"):
            state[k] = from_blocks(out[k])
        return state, rec

    return local_chunk


# ----------------------------------------------------------------------------- program choice and widths

PROGRAMS = ("unrolled", "vmap")
"""The two compiled programs (see ``choose_program``)."""

UNROLL_MAX_ENTRIES = 64
"""``choose_program``: the most entries (weights and biases computed per trial) for ``"unrolled"``."""
UNROLL_MAX_WORK = 128
"""``choose_program``: the most ``entries × samples`` for ``"unrolled"``. Its program is written out
entry by entry and sample by sample, and XLA's compile time grows faster than its size: measured
(first call of ``train``, 100 steps, load ~5, init program included): 36 -> 4 s, 192 -> 6.5 s (sgd) /
15 s (adam), 576 -> 22 s / 53 s, 1536 -> 84 s (sgd), 2880 (adam) -> over 9 minutes; the ``"vmap"``
program compiles in about 5 s. Table 3 is 24."""
UNROLL_BLOCK_FLOATS = {"cpu": 2**24, "accelerator": evaluate.ACCELERATOR_FLOATS}
"""``"unrolled"`` blocks hold at most this many floats of live state (CPU: 64 MiB in float32, about 2**17
Table 3 trials: measured, one block of 131072 trials ran faster than blocks of 2048-32768; accelerators:
``evaluate.ACCELERATOR_FLOATS``, 1 GiB: 10**6 Table 3 trials in one block)."""
LANES = 16
"""``"unrolled"`` blocks are whole multiples of this many trials (the widest vector unit in float32)."""
ACCELERATOR_MAX_BATCH = 4096
"""Accelerators, ``"vmap"`` program: the widest block (a fixed width so that results do not depend on the
chunking; chunks are padded to it). A design choice, not measured: no accelerator was lent yet."""


def choose_program(net: MLP, n_entries: int, n_samples: int) -> str:
    """``"unrolled"`` or ``"vmap"``: the program ``train`` compiles by default.

    * ``"unrolled"``: the trial axis last and one ``(T,)`` array per entry
      (weight or bias), every operation elementwise over trials, masked entries
      of shared masks never computed (``nets.loss_per_entry``). For small nets,
      whose matrices are too small for matrix products, it is what reaches a
      hand-written program (benchmarks/bench_engine.py).
    * ``"vmap"``: ``vmap`` of the one-trial step over blocks of trials: matrix
      products, for nets big enough to keep them busy; its program size does
      not grow with the net.

    Args:
      net: the network.
      n_entries: entries one trial computes (free entries of shared masks;
        every entry with per-trial masks).
      n_samples: ``n``, the columns of ``X``.

    Returns:
      ``"unrolled"`` when ``n_entries <= UNROLL_MAX_ENTRIES`` and
      ``n_entries * n_samples <= UNROLL_MAX_WORK``, else ``"vmap"``.
    """
    del net
    small = n_entries <= UNROLL_MAX_ENTRIES and n_entries * n_samples <= UNROLL_MAX_WORK
    return "unrolled" if small else "vmap"


def default_batch_size(net: MLP, *, program: str = "vmap", n_entries: Optional[int] = None,
                       n_samples: Optional[int] = None, backend: Optional[str] = None) -> int:
    """Trials run together per device inside the compiled program (a block).

    It depends only on the net, the program and the backend (never on the
    number of trials or the chunking): chunks are padded to whole blocks, so
    every trial runs in a block of the same width. The price: a run of fewer
    trials than one block computes a whole block (padding trials, dropped).

    Args:
      net: the network.
      program: ``"vmap"`` or ``"unrolled"``.
      n_entries, n_samples: for ``"unrolled"``: entries per trial and columns of ``X``.
      backend: default ``jax.default_backend()``.

    Returns:
      ``"vmap"``: on CPU ``evaluate.default_batch_size``'s rule (the power of two
      at or below ``clip(2**17 // n_params, 1, 128)``: trials carry their own
      weights as evaluation points do); on accelerators the power of two at or
      below ``min(ACCELERATOR_MAX_BATCH, evaluate.ACCELERATOR_FLOATS // (4 n_params))``.
      ``"unrolled"``: the power of two at or below ``UNROLL_BLOCK_FLOATS //
      (floats per trial)`` (a memory bound: wider was faster; results do not
      depend on it, see ``nets.loss_per_entry``).
    """
    if program not in PROGRAMS:
        raise ValueError(f"program: expected one of {PROGRAMS}, got {program!r}")
    backend = backend or jax.default_backend()
    n_params = nets.n_params(net)
    if program == "unrolled":
        n_entries = n_params if n_entries is None else int(n_entries)
        n_samples = 1 if n_samples is None else int(n_samples)
        per_trial = 4 * n_entries + 3 * n_samples * sum(net.sizes[1:])
        b = max(UNROLL_BLOCK_FLOATS["cpu" if backend == "cpu" else "accelerator"] // per_trial, LANES)
    elif backend == "cpu":
        return evaluate.default_batch_size(n_params, 2**31, backend="cpu")
    else:
        b = max(min(ACCELERATOR_MAX_BATCH, evaluate.ACCELERATOR_FLOATS // (4 * n_params)), 1)
    return 1 << (b.bit_length() - 1)


def _program_entries(net: MLP, X, masks, per_trial: bool, program: Optional[str]) -> Optional[tuple]:
    """The ``"unrolled"`` program's entries (shared masks: the free ones), or None for ``"vmap"``."""
    if program is not None and program not in PROGRAMS:
        raise ValueError(f"program: expected one of {PROGRAMS} or None (automatic), got {program!r}")
    if program is None:  # count first: listing the entries of a big net would take seconds of Python
        n_entries = nets.n_params(net) if per_trial else nets.num_free(masks)
        program = choose_program(net, n_entries, X.shape[1])
    return nets.entries(net, None if per_trial else masks) if program == "unrolled" else None


def _widths(local: int, batch: int, unrolled: bool) -> tuple:
    """``(block, per-device width)`` for ``local`` trials per device and a requested ``batch``.

    ``"vmap"``: blocks of exactly ``batch`` trials (0: one block of all), the
    device's trials padded to a whole number of them. ``"unrolled"``: as few
    blocks of at most ``batch`` trials as hold them, each a multiple of ``LANES``.
    """
    if not unrolled:
        block = batch or local
        return block, -(-local // block) * block
    n_blocks = 1 if batch == 0 else -(-local // batch)
    block = -(-(-(-local // n_blocks)) // LANES) * LANES
    return block, n_blocks * block


@functools.lru_cache(maxsize=64)
def _programs(net: MLP, cfg: TrainConfig, opt, batched_masks: bool, mesh, batch_size: int, entries: Optional[tuple] = None,
              flat_optimizer: bool = False):
    """jit-compiled ``(init, chunk)`` for one static setting, cached across calls.

    ``chunk`` runs ``cfg.chunk_steps`` steps of every trial: ``shard_map`` over
    the devices' trials, then on each device the ``"unrolled"`` program
    (``entries`` given) or the ``"vmap"`` one, in blocks of ``batch_size``
    trials (0: one block). Both take and return the same state layout
    (leading trial axis), so ``run_chunk`` and checkpoints do not depend on
    the program.
    """
    if entries is None:
        local_chunk = _vmap_chunk(net, cfg, opt, batched_masks, batch_size)
    else:
        local_chunk = _unrolled_chunk(net, cfg, opt, batched_masks, batch_size, entries, flat_optimizer)
    mask_spec = P("trials") if batched_masks else P()
    if mesh is not None:
        # check_vma off: the history buffers start replicated (zeros) and become per-device.
        chunk = jax.shard_map(local_chunk, mesh=mesh, in_specs=(P("trials"), P(), P(), mask_spec), out_specs=P("trials"),
                              check_vma=False)
    else:
        chunk = local_chunk
    chunk = jax.jit(chunk, donate_argnums=(0,))

    opt_entries = entries if entries is not None and flat_optimizer else None
    return _init_program(net.sizes, net.bias, cfg.dtype, cfg.init_scale, cfg.init_fan_in, opt, batched_masks, mesh, opt_entries), chunk


@functools.lru_cache(maxsize=64)
def _init_program(sizes, bias, dtype, init_scale, init_fan_in, opt, batched_masks, mesh, opt_entries=None):
    """The jit-compiled initial state; independent of the activation, so one
    compilation serves every activation of an experiment."""
    net = MLP(sizes, "linear", bias)
    cfg = TrainConfig(dtype=dtype, init_scale=init_scale, init_fan_in=init_fan_in)

    def init(seed, ids, masks, params0):
        keys = jax.vmap(lambda i: trial_key(seed, i))(ids)
        one = lambda key, m, p0: _fresh_state(net, cfg, opt, key, m, p0, opt_entries)  # noqa: E731
        return jax.vmap(one, in_axes=(0, 0 if batched_masks else None, None if params0 is None else 0))(keys, masks, params0)

    out = {"out_shardings": NamedSharding(mesh, P("trials"))} if mesh is not None else {}
    return jax.jit(init, **out)


# ----------------------------------------------------------------------------- prepare


_RENAMED = {"micro_batch": "batch_size", "trial_batch": "chunk_size"}
"""Arguments of landscape 0.1 renamed since (named in the error message only)."""


@dataclasses.dataclass(frozen=True, eq=False)
class TrialsPlan:
    """A validated run of trials, ready for ``run_chunk`` (from ``prepare``).

    Attributes:
      net: the network.
      config: the ``TrainConfig``.
      optimizer: the optax transformation the trials use.
      seed: root seed; trial ``trial_ids[i]`` uses ``fold_in(key(seed), trial_ids[i])``.
      X, Y: host data ``(d_x, n)``, ``(d_y, n)`` in ``config.dtype``.
      masks: host masks, shared or with a leading trial axis (``masks_per_trial``).
      masks_per_trial: whether ``masks`` has a leading ``n_trials`` axis.
      params0: host starting params with a leading trial axis, or None (init from the keys).
      trial_ids: ``(n_trials,)`` int64.
      chunk_size: trials per compiled call (and per checkpoint write).
      batch_size: the requested block width: trials per device run together
        inside the program (0: all of a device's trials; see ``default_batch_size``).
      mesh: the ``"trials"`` device mesh, or None on one device.
      n_devices: devices the trials are sharded over.
      entries: the ``"unrolled"`` program's entries (``nets.entries``), or
        None for the ``"vmap"`` program (see ``choose_program``).
      block: trials per block on each device, as compiled (``"vmap"``:
        ``batch_size``; ``"unrolled"``: a multiple of ``LANES``, at most ``batch_size``
        rounded up to one).
      width: trials per compiled call, as compiled: ``chunk_size`` padded to a
        whole number of blocks on every device (the padding is computed and dropped).
      meta: the run's self-description (``TrialsResult.config``).
      settings: what a checkpoint must have been written with (``meta`` less
        the device count, versions and fingerprint).
      fingerprint: ``io.fingerprint`` of the settings and every input array.
    """

    net: MLP
    config: TrainConfig
    optimizer: Any
    seed: int
    X: np.ndarray
    Y: np.ndarray
    masks: Any
    masks_per_trial: bool
    params0: Any
    trial_ids: np.ndarray
    chunk_size: int
    batch_size: int
    mesh: Any
    n_devices: int
    entries: Optional[tuple]
    block: int
    width: int
    meta: dict
    settings: dict
    fingerprint: str

    @property
    def n_trials(self) -> int:
        return int(self.trial_ids.shape[0])

    @property
    def program(self) -> str:
        """``"unrolled"`` or ``"vmap"`` (see ``choose_program``)."""
        return "vmap" if self.entries is None else "unrolled"

    @property
    def n_chunks(self) -> int:
        return -(-self.n_trials // self.chunk_size)

    def chunk_rows(self, c: int) -> np.ndarray:
        """Positions (into ``trial_ids``) of the trials of chunk ``c``, ``0 <= c < n_chunks``."""
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < self.n_chunks:
            raise ValueError(f"c: expected a chunk index in 0..{self.n_chunks - 1}, got {c!r}")
        return np.arange(c * self.chunk_size, min((c + 1) * self.chunk_size, self.n_trials))

    def programs(self) -> tuple:
        """The jit-compiled ``(init, chunk)`` programs of this plan (cached across plans of one setting)."""
        return _programs(self.net, self.config, self.optimizer, self.masks_per_trial, self.mesh, self.block, self.entries,
                         self.meta["optimizer"]["name"] != "custom")

    def put(self, a):
        """``a`` (leading trial axis) on the devices, sharded over ``"trials"``."""
        return jnp.asarray(a) if self.mesh is None else jax.device_put(a, NamedSharding(self.mesh, P("trials")))

    def replicate(self, a):
        """``a`` on every device."""
        return jnp.asarray(a) if self.mesh is None else jax.device_put(a, NamedSharding(self.mesh, P()))


def _trials_mesh(n_devices: Optional[int]):
    devices = jax.local_devices()
    if n_devices is not None:
        devices = devices[:validate.integer(n_devices, "n_devices", low=1, high=len(devices))]
    if len(devices) == 1:
        return None, 1
    return jax.sharding.Mesh(np.array(devices), ("trials",)), len(devices)


def _config(config: Optional[TrainConfig], optimizer, config_kwargs: dict) -> tuple:
    """``(TrainConfig, optax transformation, its description)`` from ``train``'s arguments."""
    config_kwargs = dict(config_kwargs)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for k in config_kwargs:
        if k not in fields:
            hint = f" (renamed to {_RENAMED[k]!r})" if k in _RENAMED else ""
            raise TypeError(f"train: unexpected keyword argument {k!r}{hint}; expected a train argument or a TrainConfig "
                            f"field ({', '.join(sorted(fields))})")
    if config is not None and not isinstance(config, TrainConfig):
        raise TypeError(f"config: expected a TrainConfig (or its fields as keyword arguments), got {validate.got(config)}")
    if isinstance(optimizer, str):  # a name: part of the static config
        config_kwargs["optimizer"], optimizer = optimizer, None
    elif optimizer is not None and not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))):
        raise TypeError(f"optimizer: expected a name {OPTIMIZERS} or an optax GradientTransformation, got {validate.got(optimizer)}")
    if config is None:
        config = TrainConfig(**config_kwargs)
    elif config_kwargs:
        config = dataclasses.replace(config, **config_kwargs)
    if optimizer is None:
        try:
            opt = make_optimizer(config.optimizer, float(config.learning_rate), config.optimizer_kwargs)
        except TypeError as e:  # optax's own message names the bad keyword
            raise TypeError(f"optimizer_kwargs: expected arguments of the {config.optimizer!r} optimizer, got "
                            f"{dict(config.optimizer_kwargs)} ({e})") from None
        return config, opt, {"name": config.optimizer, "learning_rate": config.learning_rate, **dict(config.optimizer_kwargs)}
    return config, optimizer, {"name": "custom", "repr": repr(optimizer)[:200]}


def prepare(
    net: MLP,
    X,
    Y,
    *,
    masks=None,
    n_trials: int = 100,
    seed: int = 0,
    config: Optional[TrainConfig] = None,
    optimizer: Union[str, optax.GradientTransformation, None] = None,
    params0=None,
    trial_ids=None,
    chunk_size: Optional[int] = None,
    batch_size: Optional[int] = None,
    n_devices: Optional[int] = None,
    program: Optional[str] = None,
    **config_kwargs,
) -> TrialsPlan:
    """Validates a run of trials and sets it up (arguments as ``train``).

    Returns:
      A ``TrialsPlan``: host arrays in the config's dtype, the device mesh,
      the compiled programs' settings and the run's fingerprint.

    Raises:
      ValueError, TypeError: bad arguments, naming them.
    """
    validate.net(net)
    config, opt, opt_desc = _config(config, optimizer, config_kwargs)
    n_trials = validate.integer(n_trials, "n_trials", low=1)
    seed = validate.seed(seed)
    dtype = validate.float_dtype(config.dtype)
    X, Y = nets.check_data(net, X, Y)
    X, Y = X.astype(dtype), Y.astype(dtype)
    per_trial = False
    if masks is None:
        masks = nets.dense_masks(net, dtype)
    else:
        validate.masks(net, masks, batched=np.ndim(jax.tree.leaves(masks)[0]) == 3)  # structure first, then:
        first = np.asarray(jax.tree.leaves(masks)[0])
        per_trial = first.ndim == 3
        if per_trial and first.shape[0] != n_trials:
            raise ValueError(f"masks: a per-trial mask needs a leading axis of n_trials={n_trials} (expected shape "
                             f"{(n_trials,) + first.shape[1:]}), got {first.shape[0]}")
        masks = nets.check_masks(net, masks, batched=per_trial)
        masks = jax.tree.map(lambda m: np.asarray(m, dtype), masks)
    if params0 is not None:
        params0 = validate.params(net, params0, name="params0", n=n_trials, finite=True)
        params0 = jax.tree.map(lambda p: np.asarray(p, dtype), params0)
    trial_ids = np.arange(n_trials, dtype=np.int64) if trial_ids is None else validate.trial_ids(trial_ids, n_trials)
    chunk_size = validate.optional_integer(chunk_size, "chunk_size", low=1)
    batch_size = validate.optional_integer(batch_size, "batch_size", low=0)

    mesh, n_dev = _trials_mesh(n_devices)
    entries = _program_entries(net, X, masks, per_trial, program)
    backend = jax.default_backend()
    if chunk_size is None:
        chunk = min(n_trials, 2**20 if entries is not None and backend != "cpu" else 2**17)
    else:
        chunk = chunk_size
    if batch_size is None:
        batch = default_batch_size(net, program="vmap" if entries is None else "unrolled", n_entries=len(entries or ()),
                                   n_samples=X.shape[1], backend=backend)
    else:
        batch = batch_size
    block, width = _widths(-(-chunk // n_dev), batch, entries is not None)

    meta = {"net": net.to_dict(), "train": config.to_dict(), "optimizer": opt_desc, "seed": int(seed),
            "n_trials": n_trials, "masks_per_trial": per_trial, "n_devices": n_dev, "chunk_size": chunk,
            "batch_size": batch, "program": "vmap" if entries is None else "unrolled",
            "stopping_rule": f"converged when ||grad L||_2 <= {config.gtol}; diverged when loss is not finite or > {config.diverge_loss}"}
    meta["data"] = {"X": io.digest(X), "Y": io.digest(Y)}
    settings = {k: v for k, v in meta.items() if k != "n_devices"}
    meta["block"], meta["width"] = block, width * n_dev
    meta["versions"] = io.versions()
    fingerprint = io.fingerprint(settings, [X, Y, trial_ids, *jax.tree.leaves(masks), *jax.tree.leaves(params0)])
    meta["fingerprint"] = fingerprint
    return TrialsPlan(net=net, config=config, optimizer=opt, seed=int(seed), X=X, Y=Y, masks=masks, masks_per_trial=per_trial,
                      params0=params0, trial_ids=trial_ids, chunk_size=chunk, batch_size=batch, mesh=mesh, n_devices=n_dev,
                      entries=entries, block=block, width=width * n_dev, meta=meta, settings=settings, fingerprint=fingerprint)


# ----------------------------------------------------------------------------- run one chunk of trials


@dataclasses.dataclass(frozen=True, eq=False)
class ChunkState:
    """Where a chunk of trials stands between two compiled calls (what a checkpoint holds).

    Attributes:
      state: the engine state, leaves with a leading ``plan.width`` axis (on
        the devices while running; host arrays when read from a checkpoint).
        Running trials donate it to the next call: read it before returning.
      history: ``(width, n_history)`` loss history so far (host, filled in place).
      param_history: params pytree of ``(width, n_history, ...)`` host
        arrays, or None (``history_params`` off, or nothing recorded yet).
      steps_done: steps run so far.
    """

    state: Any
    history: np.ndarray
    param_history: Any
    steps_done: int


def run_chunk(plan: TrialsPlan, rows, *, resume: Optional[ChunkState] = None,
              after_steps: Optional[Callable[[ChunkState, int], None]] = None) -> dict:
    """Trains the trials at positions ``rows`` of ``plan.trial_ids`` to their end.

    The chunk is padded to ``plan.width`` trials (padding repeats the last
    trial's masks and params0 under new ids, and is dropped), so every chunk
    runs in the same compiled program: a trial's numbers do not depend on
    which chunk it is in.

    Args:
      plan: from ``prepare``.
      rows: ``(k,)`` positions, ``1 <= k <= plan.chunk_size``.
      resume: a ``ChunkState`` of these rows to continue from (a checkpoint).
      after_steps: called as ``after_steps(chunk_state, n_stopped)`` after every
        compiled call of ``config.chunk_steps`` steps (``n_stopped``: trials of
        ``rows`` that have stopped); for checkpoints and progress.

    Returns:
      Host arrays with a leading ``k`` axis: ``loss``, ``grad_norm``, ``steps``,
      ``status``, ``history``, ``param_{i}`` (params leaves) and, with
      ``history_params``, ``phist_{i}``; ``merge`` assembles these.
    """
    cfg, dtype = plan.config, np.dtype(plan.config.dtype)
    rows = np.asarray(rows, np.int64)
    k = rows.size
    if rows.ndim != 1 or not 1 <= k <= plan.chunk_size:
        raise ValueError(f"rows: expected 1..{plan.chunk_size} positions, got shape {rows.shape}")
    pad = plan.width - k
    padded = np.concatenate([rows, np.full(pad, rows[-1])])
    ids = plan.trial_ids[rows]
    ids = np.concatenate([ids, ids[-1] + 1 + np.arange(pad)])  # padding trials
    chunk, (state, X, Y, masks) = _chunk_inputs(plan, padded, ids)
    hist, phist, steps_done = np.zeros((plan.width, cfg.n_history), dtype=dtype), None, 0
    if resume is not None:
        state = jax.tree.unflatten(jax.tree.structure(state), [plan.put(np.asarray(a)) for a in jax.tree.leaves(resume.state)])
        hist, steps_done = np.array(resume.history), int(resume.steps_done)
        if jax.tree.leaves(resume.param_history):
            phist = jax.tree.unflatten(jax.tree.structure(state["params"]), [np.array(a) for a in jax.tree.leaves(resume.param_history)])

    per_call = cfg.chunk_steps // cfg.history_stride
    while steps_done < cfg.max_steps:
        state, rec = chunk(state, X, Y, masks)
        _wait((state["status"], rec))  # interruptible (Ctrl-C, STOP) while the chunk computes
        col = steps_done // cfg.history_stride
        n_take = min(per_call, cfg.n_history - col)
        rec_loss = rec[0] if cfg.history_params else rec
        hist[:, col:col + n_take] = np.asarray(rec_loss)[:, :n_take]
        if cfg.history_params:
            if phist is None:
                phist = jax.tree.map(lambda a: np.zeros((plan.width, cfg.n_history) + a.shape[2:], dtype), rec[1])
            jax.tree.map(lambda h, r: h.__setitem__((slice(None), slice(col, col + n_take)), np.asarray(r)[:, :n_take]), phist, rec[1])
        steps_done += cfg.chunk_steps
        n_stopped = int(np.sum(np.asarray(state["status"])[:k] != RUNNING))
        if after_steps is not None:
            after_steps(ChunkState(state, hist, phist, steps_done), n_stopped)
        if n_stopped == k:  # early exit: every trial of the chunk has stopped
            break
    return _chunk_outputs(cfg, state, hist, phist, steps_done, k)


def _chunk_inputs(plan: TrialsPlan, padded: np.ndarray, ids: np.ndarray) -> tuple:
    """``(chunk program, (initial state, X, Y, masks))`` on the devices for ``plan.width`` trials."""
    init, chunk = plan.programs()
    masks = (jax.tree.map(lambda m: plan.put(m[padded]), plan.masks) if plan.masks_per_trial
             else jax.tree.map(plan.replicate, plan.masks))
    X, Y = plan.replicate(plan.X), plan.replicate(plan.Y)
    p0 = None if plan.params0 is None else jax.tree.map(lambda p: plan.put(p[padded]), plan.params0)
    state = init(jnp.asarray(plan.seed, jnp.uint32), plan.put(ids.astype(np.uint32)), masks, p0)
    return chunk, (state, X, Y, masks)


def chunk_jaxpr(plan: TrialsPlan):
    """The jaxpr of ``plan``'s compiled chunk program (``config.chunk_steps`` steps of ``plan.width``
    trials), to inspect what runs: e.g. that trials are vmapped, not looped one at a time
    (tests/test_trials_engine.py checks this for the accelerator setting).

    Returns:
      A ``jax.core.ClosedJaxpr``.
    """
    rows = np.arange(plan.width) % plan.n_trials
    chunk, args = _chunk_inputs(plan, rows, np.arange(plan.width))
    return jax.make_jaxpr(chunk)(*args)


STOP = threading.Event()
"""Set it to stop every ``train`` / ``run_chunk`` of this process at its next wait: each raises
``KeyboardInterrupt`` (in whatever thread it runs); clear it before training again. A checkpoint
keeps the last completed chunk of steps. (Ctrl-C in the main thread needs no flag: see ``_wait``.)"""


def _wait(tree) -> None:
    """Waits until the arrays of ``tree`` are computed, in short sleeps.

    JAX dispatches asynchronously; a blocking read (``np.asarray``) waits inside C++, where
    Python cannot run its SIGINT handler, so Ctrl-C would wait for the whole chunk of steps.
    Polling ``is_ready()`` lets ``KeyboardInterrupt`` through within milliseconds (the chunk in
    flight is abandoned; the checkpoint of the last completed one remains). Raises
    ``KeyboardInterrupt`` in any thread once ``STOP`` is set.
    """
    leaves = [a for a in jax.tree.leaves(tree) if isinstance(a, jax.Array)]
    delay = 1e-4
    while True:
        if STOP.is_set():
            raise KeyboardInterrupt("landscape.trials.STOP is set")
        if all(a.is_ready() for a in leaves):
            return
        time.sleep(delay)
        delay = min(2 * delay, 1e-3)  # at most 1 ms late: a chunk of steps can take only ~50 ms (issue 12)


def _chunk_outputs(cfg: TrainConfig, state, hist, phist, steps_done: int, k: int) -> dict:
    """The first ``k`` trials' final values; history past the last step repeats the last value."""
    last = -(-steps_done // cfg.history_stride)
    out = {name: np.asarray(state[name])[:k] for name in ("loss", "grad_norm", "steps", "status")}
    out["status"] = np.where(out["status"] == RUNNING, MAX_STEPS, out["status"])
    for i, leaf in enumerate(jax.tree.leaves(state["params"])):
        out[f"param_{i}"] = np.asarray(leaf)[:k]
    if last < cfg.n_history:  # every trial stopped early: it repeats its last value
        hist[:, last:] = np.asarray(state["loss"])[:, None]
        if phist is not None:
            jax.tree.map(lambda h, p: h.__setitem__((slice(None), slice(last, None)), np.asarray(p)[:, None]), phist, state["params"])
    out["history"] = hist[:k]
    for i, leaf in enumerate(jax.tree.leaves(phist)):
        out[f"phist_{i}"] = leaf[:k]
    return out


# ----------------------------------------------------------------------------- merge


def merge(plan: TrialsPlan, parts: list) -> TrialsResult:
    """The ``TrialsResult`` of every chunk's ``run_chunk`` output, in trial order.

    Args:
      plan: from ``prepare``.
      parts: ``run_chunk`` outputs whose rows, concatenated, are ``0..n_trials-1``.
    """
    merged = {k: np.concatenate([d[k] for d in parts], axis=0) for k in parts[0]}
    if merged["loss"].shape[0] != plan.n_trials:
        raise ValueError(f"parts: hold {merged['loss'].shape[0]} trials, expected n_trials={plan.n_trials}")
    cfg = plan.config
    ptree = jax.tree.structure(nets.dense_masks(plan.net, np.float32))  # the params' tree structure
    n_leaves = ptree.num_leaves
    params = jax.tree.unflatten(ptree, [merged[f"param_{i}"] for i in range(n_leaves)])
    phist = jax.tree.unflatten(ptree, [merged[f"phist_{i}"] for i in range(n_leaves)]) if "phist_0" in merged else None
    return TrialsResult(params=params, loss=merged["loss"], grad_norm=merged["grad_norm"], steps=merged["steps"],
                        status=merged["status"].astype(np.int8), history=merged["history"],
                        history_steps=np.arange(cfg.n_history) * cfg.history_stride, trial_ids=plan.trial_ids,
                        config=plan.meta, param_history=phist, masks=plan.masks)


# ----------------------------------------------------------------------------- train


def train(
    net: MLP,
    X,
    Y,
    *,
    masks=None,
    n_trials: int = 100,
    seed: int = 0,
    config: Optional[TrainConfig] = None,
    optimizer: Union[str, optax.GradientTransformation, None] = None,
    params0=None,
    trial_ids=None,
    chunk_size: Optional[int] = None,
    batch_size: Optional[int] = None,
    n_devices: Optional[int] = None,
    program: Optional[str] = None,
    progress: Optional[Callable[[dict], None]] = None,
    checkpoint: Optional[str] = None,
    overwrite: bool = False,
    **config_kwargs,
) -> TrialsResult:
    """Trains ``n_trials`` independent copies of ``net`` on ``(X, Y)``.

    Args:
      net: the network (static).
      X: ``(d_x, n)`` data; Y: ``(d_y, n)`` targets.
      masks: 0/1 masks shaped like the params (shared by all trials), or with a
        leading ``n_trials`` axis (one mask per trial: e.g. several sparsity
        levels in one program; ``landscape.experiments._common.stack_masks``
        stacks a list). ``None``: dense.
      n_trials: number of trials, >= 1.
      seed: root seed; trial ``i`` uses ``fold_in(key(seed), trial_ids[i])``.
      config: a ``TrainConfig``; or give its fields as keyword arguments
        (``learning_rate=0.01, max_steps=50_000, ...``).
      optimizer: a name (see ``TrainConfig.optimizer``) or an optax
        ``GradientTransformation`` used instead of ``config.optimizer`` (keep the
        same object across calls to reuse the compiled program).
      params0: optional starting params with a leading trial axis (the keys are
        then unused).
      trial_ids: ``(n_trials,)`` ids, default ``arange(n_trials)``.
      chunk_size: trials per compiled call and per checkpoint write (bounds
        memory); default all, at most 2**17 (2**20 for ``"unrolled"`` on an
        accelerator). Each device's share is padded to whole blocks (see
        ``batch_size``), so one compiled program serves every chunk.
      batch_size: trials per device run together inside the program (a
        block; more blocks are looped over with ``lax.map``); 0 = all of a
        device's trials in one block. Default: ``default_batch_size``, which
        depends on the net, the program and the backend only (on accelerators
        wide blocks: see ``default_batch_size``).
      program: ``"unrolled"``, ``"vmap"`` or None (automatic, ``choose_program``).
      n_devices: shard over the first this many local devices (default all).
      progress: called after every chunk of steps with a dict (``steps_done``,
        ``max_steps``, ``trials_done``, ``batch_trials`` (trials in the current
        chunk), ``n_trials``, ``n_stopped``).
      checkpoint: a ``.npz`` path. Finished chunks of trials and the state of the
        current one are written there after every chunk of steps (atomically);
        calling ``train`` again with the same arguments resumes from it. A
        checkpoint written by other settings is refused (``ValueError`` naming
        the settings that differ) unless ``overwrite``.
      overwrite: set aside a checkpoint of other settings (kept as
        ``<name>.replaced.npz`` until this run completes) and start afresh.

    Returns:
      A ``TrialsResult``. Reproducibility (what is guaranteed, and tested):
      a trial's results depend only on the seed, its trial id, the inputs,
      the settings, the backend and the compiled program with its block width
      (``plan.program``, ``plan.block``). They are bit-identical for any
      ``chunk_size``, ``n_devices``, grouping of trial ids (a subset run
      alone), ``checkpoint``/resume, and, with the ``"unrolled"`` program
      (elementwise over trials), any ``batch_size``. With the ``"vmap"``
      program a different ``batch_size`` is a different program: its matrix
      products may round differently, so results agree to rounding, not bit
      for bit (and a chaotic trajectory amplifies that over many steps); the default block width never depends on the run, so runs that
      leave ``batch_size`` at its default agree bit for bit. The two programs
      agree with each other to rounding.
    """
    if distributed.splits_work():  # several processes (jax.distributed): each trains its block of trials
        kwargs = dict(locals())
        kwargs.update(kwargs.pop("config_kwargs"))
        return distributed.train(**kwargs)
    validate.function(progress, "progress", optional=True)
    validate.boolean(overwrite, "overwrite")
    plan = prepare(net, X, Y, masks=masks, n_trials=n_trials, seed=seed, config=config, optimizer=optimizer,
                   params0=params0, trial_ids=trial_ids, chunk_size=chunk_size, batch_size=batch_size,
                   n_devices=n_devices, program=program, **config_kwargs)
    done, resume = _load_checkpoint(checkpoint, plan, overwrite)
    for c in range(len(done), plan.n_chunks):
        rows = plan.chunk_rows(c)

        def after_steps(cs: ChunkState, n_stopped: int, rows=rows) -> None:
            if checkpoint is not None:  # before the hook, so an interrupt there loses nothing
                _save_checkpoint(checkpoint, plan, done, cs)
            if progress is not None:
                progress({"steps_done": min(cs.steps_done, plan.config.max_steps), "max_steps": plan.config.max_steps,
                          "trials_done": int(rows[0]), "batch_trials": int(rows.size), "n_trials": plan.n_trials,
                          "n_stopped": n_stopped})

        done.append(run_chunk(plan, rows, resume=resume, after_steps=after_steps))
        resume = None
        if checkpoint is not None:
            _save_checkpoint(checkpoint, plan, done, None)
    result = merge(plan, done)
    io.finish_progress(checkpoint)
    return result


# ----------------------------------------------------------------------------- checkpoints


def _save_checkpoint(path, plan: TrialsPlan, done: list, current: Optional[ChunkState]) -> None:
    """Finished chunks (``run_chunk`` outputs) and the state of the chunk in progress."""
    arrays = {}
    for i, d in enumerate(done):
        for k, v in d.items():
            arrays[f"done{i}__{k}"] = v
    if current is not None:
        for j, leaf in enumerate(jax.tree.leaves(current.state)):
            arrays[f"state_{j}"] = np.asarray(leaf)
        arrays["hist"] = current.history
        for j, leaf in enumerate(jax.tree.leaves(current.param_history)):
            arrays[f"phist_{j}"] = leaf
    io.write_progress(path, arrays, {"n_done": len(done), "steps_done": 0 if current is None else current.steps_done,
                                     "has_state": current is not None},
                      fingerprint_=plan.fingerprint, settings=plan.settings, tag=CHECKPOINT_TAG)


def _load_checkpoint(path, plan: TrialsPlan, overwrite: bool) -> tuple:
    """``(finished chunks, ChunkState of the chunk in progress or None)``; ``([], None)`` without a file."""
    found = io.open_progress(path, plan.fingerprint, plan.settings, overwrite=overwrite, tag=CHECKPOINT_TAG)
    if found is None:
        return [], None
    arrays, meta = found
    done = []
    for i in range(meta["n_done"]):
        prefix = f"done{i}__"
        done.append({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
    resume = None
    if meta["has_state"]:
        n_state = len([k for k in arrays if k.startswith("state_")])
        n_phist = len([k for k in arrays if k.startswith("phist_")])
        resume = ChunkState(state=[arrays[f"state_{j}"] for j in range(n_state)], history=arrays["hist"],
                            param_history=[arrays[f"phist_{j}"] for j in range(n_phist)] or None,
                            steps_done=int(meta["steps_done"]))
    return done, resume
