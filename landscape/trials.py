"""Batched training: many independent trials of one masked MLP in one program.

``train`` runs ``n_trials`` gradient-based training runs at once: ``jax.vmap``
over trials, ``jax.lax.scan`` over a chunk of steps, the trials sharded over
every local device (a ``NamedSharding`` on a ``"trials"`` axis). The Python loop
only walks over chunks of steps (early exit once every trial has stopped,
progress hook, checkpoint) and over chunks of trials (bounded memory).

Per trial:
  * key ``jax.random.fold_in(jax.random.key(seed), trial_id)``: a trial's numbers
    depend only on (seed, trial id), not on batch size, chunking or devices;
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
import datetime
import functools
import json
import os
import platform
import sys
import time
from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from landscape import nets
from landscape.nets import MLP

RUNNING, CONVERGED, MAX_STEPS, DIVERGED = 0, 1, 2, 3
STATUS_NAMES = {RUNNING: "running", CONVERGED: "converged", MAX_STEPS: "max_steps", DIVERGED: "diverged"}

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

    def __post_init__(self):
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0 and np.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate: expected a finite number > 0, got {self.learning_rate!r}")
        if self.optimizer not in OPTIMIZERS and self.optimizer != "custom":
            raise ValueError(f"optimizer: unknown name {self.optimizer!r}; expected one of {OPTIMIZERS} or an optax GradientTransformation")
        if self.loss not in nets.LOSSES:
            raise ValueError(f"loss: unknown convention {self.loss!r}; expected one of {nets.LOSSES}")
        if int(self.max_steps) < 1:
            raise ValueError(f"max_steps: expected an integer >= 1, got {self.max_steps!r}")
        if int(self.history_stride) < 1 or int(self.chunk_steps) < 1:
            raise ValueError("history_stride and chunk_steps: expected integers >= 1")
        if self.gtol < 0:
            raise ValueError(f"gtol: expected >= 0, got {self.gtol}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: expected 'float32' or 'float64', got {self.dtype!r}")
        if not self.init_scale > 0:
            raise ValueError(f"init_scale: expected > 0, got {self.init_scale}")
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


@dataclasses.dataclass
class TrialsResult:
    """What a batch of trials produced. Arrays have a leading trial axis.

    Attributes:
      params: final params pytree, leaves ``(n_trials, ...)``.
      loss: ``(n_trials,)`` final loss.
      grad_norm: ``(n_trials,)`` final ‖∇L‖₂ over the free coordinates.
      steps: ``(n_trials,)`` updates made.
      status: ``(n_trials,)`` int codes, see ``STATUS_NAMES``.
      history: ``(n_trials, n_history)`` loss every ``history_stride`` steps.
      history_steps: ``(n_history,)`` the step of each history column.
      trial_ids: ``(n_trials,)`` the ids the keys were folded with.
      config: self-description (network, train config, seed, versions, ...).
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

    def save(self, path: str) -> str:
        """Writes one ``.npz``: arrays plus the JSON config under ``__meta__``."""
        arrays = {"loss": self.loss, "grad_norm": self.grad_norm, "steps": self.steps, "status": self.status,
                  "history": self.history, "history_steps": self.history_steps, "trial_ids": self.trial_ids}
        leaves, _ = jax.tree.flatten(self.params)
        for i, leaf in enumerate(leaves):
            arrays[f"param_{i}"] = np.asarray(leaf)
        meta = dict(self.config)
        meta["param_keys"] = [[k for k in layer] for layer in self.params]
        return save_npz(path, arrays, meta)

    @classmethod
    def load(cls, path: str) -> "TrialsResult":
        arrays, meta = load_npz(path)
        leaves = [arrays[f"param_{i}"] for i in range(sum(len(k) for k in meta["param_keys"]))]
        it = iter(leaves)
        params = tuple({k: next(it) for k in sorted(keys)} for keys in meta["param_keys"])
        meta.pop("param_keys")
        return cls(params=params, loss=arrays["loss"], grad_norm=arrays["grad_norm"], steps=arrays["steps"],
                   status=arrays["status"], history=arrays["history"], history_steps=arrays["history_steps"],
                   trial_ids=arrays["trial_ids"], config=meta)


def versions() -> dict:
    """Package versions written beside every saved result."""
    import landscape

    return {"landscape": landscape.__version__, "jax": jax.__version__, "optax": optax.__version__,
            "numpy": np.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "backend": jax.default_backend()}


def save_npz(path: str, arrays: dict, meta: dict) -> str:
    """Saves arrays and a JSON ``meta`` dict (with versions and date) to ``path``."""
    meta = dict(meta)
    meta.setdefault("versions", versions())
    meta.setdefault("saved", datetime.datetime.now().isoformat(timespec="seconds"))
    path = str(path)
    if not path.endswith(".npz"):
        path += ".npz"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, __meta__=np.array(json.dumps(meta, default=_json_default)), **arrays)
    os.replace(tmp, path)  # atomic: an interrupted write never leaves a broken file
    return path


def load_npz(path: str) -> tuple:
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
        meta = json.loads(str(f["__meta__"]))
    return arrays, meta


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


# ----------------------------------------------------------------------------- compiled core


def _loss_and_grad(net: MLP, loss_kind: str):
    def f(params, X, Y, masks):
        return nets.loss(net, params, X, Y, masks, loss_kind)

    return jax.value_and_grad(f)


def _global_norm(tree):
    return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def _init_state(net: MLP, cfg: TrainConfig, opt, key, masks, X, Y, params0=None):
    dtype = jnp.dtype(cfg.dtype)
    params = nets.init(key, net, masks, scale=cfg.init_scale, dtype=dtype) if params0 is None else nets.apply_masks(params0, masks)
    loss, grads = _loss_and_grad(net, cfg.loss)(params, X, Y, masks)
    return {"params": params, "opt_state": opt.init(params), "status": jnp.int32(RUNNING), "steps": jnp.int32(0),
            "loss": loss, "grad_norm": _global_norm(grads)}


def _make_step(net: MLP, cfg: TrainConfig, opt):
    loss_and_grad = _loss_and_grad(net, cfg.loss)

    def step(state, X, Y, masks):
        params = state["params"]
        loss, grads = loss_and_grad(params, X, Y, masks)
        gnorm = _global_norm(grads)
        status = state["status"]
        running = status == RUNNING
        bad = ~jnp.isfinite(loss) | (loss > cfg.diverge_loss) | ~jnp.isfinite(gnorm)
        status = jnp.where(running & bad, DIVERGED, status)
        status = jnp.where((status == RUNNING) & (gnorm <= cfg.gtol), CONVERGED, status)
        status = jnp.where((status == RUNNING) & (state["steps"] >= cfg.max_steps), MAX_STEPS, status)
        move = status == RUNNING
        updates, opt_state = opt.update(grads, state["opt_state"], params)
        new_params = nets.apply_masks(optax.apply_updates(params, updates), masks)
        keep = lambda new, old: jnp.where(move, new, old)  # noqa: E731
        return {"params": jax.tree.map(keep, new_params, params),
                "opt_state": jax.tree.map(keep, opt_state, state["opt_state"]),
                "status": status, "steps": state["steps"] + move.astype(jnp.int32),
                "loss": jnp.where(running, loss, state["loss"]),
                "grad_norm": jnp.where(running, gnorm, state["grad_norm"])}

    return step


@functools.lru_cache(maxsize=64)
def _compiled(net: MLP, cfg: TrainConfig, opt, batched_masks: bool, sharding):
    """jit-compiled (init, chunk, finish) for one static setting, cached across calls."""
    step = _make_step(net, cfg, opt)
    mask_axis = 0 if batched_masks else None
    stride, n_outer = cfg.history_stride, cfg.chunk_steps // cfg.history_stride

    def chunk_one(state, X, Y, masks):
        def inner(s, _):
            return step(s, X, Y, masks), None

        def outer(s, _):
            s = step(s, X, Y, masks)
            rec = s["loss"]  # L(θ_t) at this stride's first step t (before its update)
            if stride > 1:
                s, _ = jax.lax.scan(inner, s, None, length=stride - 1)
            return s, rec

        return jax.lax.scan(outer, state, None, length=n_outer)

    def finish_one(state, X, Y, masks):
        # Loss and gradient norm at the final params (the carry holds the values
        # from before the last update).
        loss, grads = _loss_and_grad(net, cfg.loss)(state["params"], X, Y, masks)
        status = jnp.where((state["status"] == RUNNING) & (~jnp.isfinite(loss) | (loss > cfg.diverge_loss)), DIVERGED, state["status"])
        status = jnp.where(status == RUNNING, MAX_STEPS, status)
        frozen = state["status"] != RUNNING
        return dict(state, status=status, loss=jnp.where(frozen, state["loss"], loss),
                    grad_norm=jnp.where(frozen, state["grad_norm"], _global_norm(grads)))

    def init_one(key, X, Y, masks, params0):
        return _init_state(net, cfg, opt, key, masks, X, Y, params0)

    out = {"out_shardings": sharding} if sharding is not None else {}
    vm = lambda f: jax.vmap(f, in_axes=(0, None, None, mask_axis))  # noqa: E731
    chunk = jax.jit(vm(chunk_one), donate_argnums=(0,), **({"out_shardings": (sharding, sharding)} if sharding is not None else {}))
    finish = jax.jit(vm(finish_one), **out)
    init = jax.jit(jax.vmap(init_one, in_axes=(0, None, None, mask_axis, 0)), **out)
    init_noparams = jax.jit(jax.vmap(lambda k, X, Y, m: init_one(k, X, Y, m, None), in_axes=(0, None, None, mask_axis)), **out)
    return init, init_noparams, chunk, finish


# ----------------------------------------------------------------------------- driver


def _trials_sharding(n_devices: Optional[int]):
    devices = jax.local_devices()
    if n_devices is not None:
        if not 1 <= n_devices <= len(devices):
            raise ValueError(f"n_devices: expected 1..{len(devices)}, got {n_devices}")
        devices = devices[:n_devices]
    if len(devices) == 1:
        return None, 1
    mesh = jax.sharding.Mesh(np.array(devices), ("trials",))
    return NamedSharding(mesh, P("trials")), len(devices)


def train(
    net: MLP,
    X,
    Y,
    *,
    masks=None,
    n_trials: int = 100,
    seed: int = 0,
    config: Optional[TrainConfig] = None,
    optimizer: Optional[optax.GradientTransformation] = None,
    params0=None,
    trial_ids=None,
    trial_batch: Optional[int] = None,
    n_devices: Optional[int] = None,
    progress: Optional[Callable[[dict], None]] = None,
    checkpoint: Optional[str] = None,
    **config_kwargs,
) -> TrialsResult:
    """Trains ``n_trials`` independent copies of ``net`` on ``(X, Y)``.

    Args:
      net: the network (static).
      X: ``(d_x, n)`` data; Y: ``(d_y, n)`` targets.
      masks: 0/1 masks shaped like the params (shared by all trials), or with a
        leading ``n_trials`` axis (one mask per trial: e.g. several sparsity
        levels in one program). ``None``: dense.
      n_trials: number of trials, >= 1.
      seed: root seed; trial ``i`` uses ``fold_in(key(seed), trial_ids[i])``.
      config: a ``TrainConfig``; or give its fields as keyword arguments
        (``learning_rate=0.01, max_steps=50_000, ...``).
      optimizer: an optax ``GradientTransformation`` used instead of
        ``config.optimizer`` (keep the same object across calls to reuse the
        compiled program).
      params0: optional starting params with a leading trial axis (the keys are
        then unused).
      trial_ids: ``(n_trials,)`` ids, default ``arange(n_trials)``.
      trial_batch: trials per compiled batch (bounded memory); default all, at
        most 2**17. Rounded up to a multiple of the device count.
      n_devices: use the first this many local devices (default all).
      progress: called after every chunk with a dict (``steps_done``,
        ``max_steps``, ``trials_done``, ``n_trials``, ``n_stopped``).
      checkpoint: a ``.npz`` path. Finished trial batches and the state of the
        current one are written there after every chunk of steps; calling
        ``train`` again with the same arguments resumes from it.

    Returns:
      A ``TrialsResult``.
    """
    if config is None:
        config = TrainConfig(**config_kwargs)
    elif config_kwargs:
        config = dataclasses.replace(config, **config_kwargs)
    if not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials: expected an integer >= 1, got {n_trials!r}")
    if config.dtype == "float64" and not jax.config.read("jax_enable_x64"):
        raise ValueError("dtype: 'float64' needs jax.config.update('jax_enable_x64', True) before any JAX work")
    dtype = jnp.dtype(config.dtype)
    X, Y = nets.check_data(net, X, Y)
    X, Y = X.astype(dtype), Y.astype(dtype)
    batched_masks = False
    if masks is None:
        masks = nets.dense_masks(net, dtype)
    else:
        first = np.asarray(jax.tree.leaves(masks)[0])
        batched_masks = first.ndim == 3
        masks = nets.check_masks(net, masks, batched=batched_masks)
        if batched_masks and first.shape[0] != n_trials:
            raise ValueError(f"masks: a per-trial mask needs a leading axis of n_trials={n_trials}, got {first.shape[0]}")
        masks = jax.tree.map(lambda m: m.astype(dtype), masks)
    if params0 is not None:
        params0 = nets.check_params(net, params0, batched=True)
        if jax.tree.leaves(params0)[0].shape[0] != n_trials:
            raise ValueError(f"params0: expected a leading axis of n_trials={n_trials}")
        params0 = jax.tree.map(lambda p: jnp.asarray(p, dtype), params0)
    trial_ids = np.arange(n_trials, dtype=np.int64) if trial_ids is None else np.asarray(trial_ids, dtype=np.int64)
    if trial_ids.shape != (n_trials,):
        raise ValueError(f"trial_ids: expected shape ({n_trials},), got {trial_ids.shape}")

    if optimizer is None:
        opt = make_optimizer(config.optimizer, float(config.learning_rate), config.optimizer_kwargs)
        opt_desc = {"name": config.optimizer, "learning_rate": config.learning_rate, **dict(config.optimizer_kwargs)}
    else:
        opt, opt_desc = optimizer, {"name": "custom", "repr": repr(optimizer)[:200]}

    sharding, n_dev = _trials_sharding(n_devices)
    batch = min(n_trials, 2**17) if trial_batch is None else int(trial_batch)
    if batch < 1:
        raise ValueError(f"trial_batch: expected >= 1, got {trial_batch}")
    batch = -(-batch // n_dev) * n_dev
    init, init_noparams, chunk, finish = _compiled(net, config, opt, batched_masks, sharding)

    meta = {"net": net.to_dict(), "train": config.to_dict(), "optimizer": opt_desc, "seed": int(seed),
            "n_trials": int(n_trials), "masks_per_trial": batched_masks, "n_devices": n_dev, "trial_batch": batch,
            "stopping_rule": f"converged when ||grad L||_2 <= {config.gtol}; diverged when loss is not finite or > {config.diverge_loss}"}
    fingerprint = _fingerprint(meta, X, Y, masks, params0, trial_ids)
    done, resume = _load_checkpoint(checkpoint, fingerprint)
    done_tdef = jax.tree.structure({"params": nets.shapes(net), "loss": 0, "grad_norm": 0, "steps": 0, "status": 0, "history": 0},
                                   is_leaf=lambda x: isinstance(x, tuple) and all(isinstance(i, int) for i in x))
    done = [jax.tree.unflatten(done_tdef, leaves) for leaves in done]

    def put(a):
        return jax.device_put(a, sharding) if sharding is not None else a

    n_batches = -(-n_trials // batch)
    for b in range(len(done), n_batches):
        lo, hi = b * batch, min((b + 1) * batch, n_trials)
        idx = np.arange(lo, lo + batch)
        ids = np.concatenate([trial_ids[lo:hi], trial_ids[-1] + 1 + np.arange(batch - (hi - lo))])  # padding trials
        take = lambda a: jnp.asarray(np.asarray(a)[np.minimum(idx, n_trials - 1)])  # noqa: E731
        bmasks = jax.tree.map(lambda m: put(take(m)), masks) if batched_masks else masks
        hist = np.zeros((batch, config.n_history), dtype=np.float64)
        if resume is not None:
            tdef = jax.tree.structure(jax.eval_shape(init_noparams, put(jax.vmap(lambda i: trial_key(seed, i))(jnp.asarray(ids))), X, Y, bmasks))
            state = jax.tree.map(lambda a: put(jnp.asarray(a)), jax.tree.unflatten(tdef, resume["state"]))
            hist, steps_done = resume["hist"], int(resume["steps_done"])
            resume = None
        else:
            keys = put(jax.vmap(lambda i: trial_key(seed, i))(jnp.asarray(ids)))
            if params0 is None:
                state = init_noparams(keys, X, Y, bmasks)
            else:
                state = init(keys, X, Y, bmasks, jax.tree.map(lambda p: put(take(p)), params0))
            steps_done = 0
        while steps_done < config.max_steps:
            state, rec = chunk(state, X, Y, bmasks)
            col = steps_done // config.history_stride
            rec = np.asarray(rec)  # (batch, n_outer)
            n_take = min(rec.shape[1], config.n_history - col)
            hist[:, col:col + n_take] = rec[:, :n_take]
            steps_done += config.chunk_steps
            status = np.asarray(state["status"])
            n_stopped = int(np.sum(status[: hi - lo] != RUNNING))
            if progress is not None:
                progress({"steps_done": min(steps_done, config.max_steps), "max_steps": config.max_steps, "trials_done": lo,
                          "batch_trials": hi - lo, "n_trials": n_trials, "n_stopped": n_stopped})
            if checkpoint is not None:
                _save_checkpoint(checkpoint, fingerprint, done, state, hist, steps_done)
            if n_stopped == hi - lo:
                break
        state = finish(state, X, Y, bmasks)
        last = steps_done // config.history_stride
        if last < config.n_history:  # every trial stopped early: it repeats its last loss
            hist[:, last:] = np.asarray(state["loss"])[:, None]
        out = jax.tree.map(lambda a: np.asarray(a)[: hi - lo], {k: state[k] for k in ("params", "loss", "grad_norm", "steps", "status")})
        out["history"] = hist[: hi - lo]
        done.append(out)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, fingerprint, done, None, None, 0)

    cat = lambda *xs: np.concatenate(xs, axis=0)  # noqa: E731
    merged = jax.tree.map(cat, *done) if len(done) > 1 else done[0]
    return TrialsResult(params=tuple(merged["params"]), loss=merged["loss"], grad_norm=merged["grad_norm"],
                        steps=merged["steps"], status=merged["status"].astype(np.int8), history=merged["history"],
                        history_steps=np.arange(config.n_history) * config.history_stride, trial_ids=trial_ids,
                        config=meta)


# ----------------------------------------------------------------------------- checkpoints


def _fingerprint(meta, X, Y, masks, params0, trial_ids) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k not in ("n_devices", "trial_batch")}, sort_keys=True, default=_json_default).encode())
    for a in [X, Y, trial_ids, *jax.tree.leaves(masks), *jax.tree.leaves(params0)]:
        h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    h.update(str(meta["trial_batch"]).encode())
    return h.hexdigest()


def _save_checkpoint(path, fingerprint, done, state, hist, steps_done):
    arrays = {}
    for i, d in enumerate(done):
        for j, leaf in enumerate(jax.tree.leaves(d)):
            arrays[f"done{i}_{j}"] = np.asarray(leaf)
    if state is not None:
        for j, leaf in enumerate(jax.tree.leaves(state)):
            arrays[f"state_{j}"] = np.asarray(leaf)
        arrays["hist"] = hist
    save_npz(path, arrays, {"fingerprint": fingerprint, "n_done": len(done), "steps_done": steps_done,
                            "has_state": state is not None})


def _load_checkpoint(path, fingerprint):
    """Returns (finished batches, state of the batch in progress or None)."""
    if path is None or not os.path.exists(path if path.endswith(".npz") else path + ".npz"):
        return [], None
    arrays, meta = load_npz(path if path.endswith(".npz") else path + ".npz")
    if meta.get("fingerprint") != fingerprint:
        print(f"checkpoint {path}: written by a different run (config, data or masks differ); starting afresh", file=sys.stderr)
        return [], None
    done = []
    for i in range(meta["n_done"]):
        n = len([k for k in arrays if k.startswith(f"done{i}_")])
        leaves = [arrays[f"done{i}_{j}"] for j in range(n)]
        done.append(leaves)
    resume = None
    if meta["has_state"]:
        n = len([k for k in arrays if k.startswith("state_")])
        resume = {"state": [arrays[f"state_{j}"] for j in range(n)], "hist": arrays["hist"], "steps_done": meta["steps_done"]}
    return done, resume
