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
import functools
from typing import Any, Callable, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from landscape import io, nets
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
    history_params: bool = False

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


def _loss_and_grad(net: MLP, loss_kind: str):
    def f(params, X, Y, masks):
        return nets.loss(net, params, X, Y, masks, loss_kind)

    return jax.value_and_grad(f)


def _global_norm(tree):
    return jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(tree)))


def _fresh_state(net: MLP, cfg: TrainConfig, opt, key, masks, params0=None):
    dtype = jnp.dtype(cfg.dtype)
    if params0 is None:
        params = nets.init(key, net, masks, scale=cfg.init_scale, dtype=dtype)
    else:
        params = nets.apply_masks(params0, masks)
    inf = jnp.asarray(jnp.inf, dtype)
    # loss and grad_norm are filled in by the first step.
    return {"params": params, "opt_state": opt.init(params), "status": jnp.int32(RUNNING), "steps": jnp.int32(0),
            "loss": inf, "grad_norm": inf}


def _make_step(net: MLP, cfg: TrainConfig, opt):
    loss_and_grad = _loss_and_grad(net, cfg.loss)

    def step(state, X, Y, masks, allow_update=True):
        params = state["params"]
        loss, grads = loss_and_grad(params, X, Y, masks)
        gnorm = _global_norm(grads)
        status = state["status"]
        running = status == RUNNING
        bad = ~jnp.isfinite(loss) | (loss > cfg.diverge_loss) | ~jnp.isfinite(gnorm)
        status = jnp.where(running & bad, DIVERGED, status)
        status = jnp.where((status == RUNNING) & (gnorm <= cfg.gtol), CONVERGED, status)
        status = jnp.where((status == RUNNING) & (state["steps"] >= cfg.max_steps), MAX_STEPS, status)
        move = (status == RUNNING) & allow_update
        updates, opt_state = opt.update(grads, state["opt_state"], params)
        new_params = nets.apply_masks(optax.apply_updates(params, updates), masks)
        keep = lambda new, old: jnp.where(move, new, old)  # noqa: E731
        return {"params": jax.tree.map(keep, new_params, params),
                "opt_state": jax.tree.map(keep, opt_state, state["opt_state"]),
                "status": status, "steps": state["steps"] + move.astype(jnp.int32),
                "loss": jnp.where(running, loss, state["loss"]),
                "grad_norm": jnp.where(running, gnorm, state["grad_norm"])}

    return step


def default_micro_batch(net: MLP) -> int:
    """Trials vmapped together inside a compiled chunk (the rest loop via ``lax.map``).

    On accelerators: all of them (0). On CPU a wide vmap of tiny nets fell off a
    5x cliff above ~200 trials and a vmap of big nets turns matmuls into slow
    batched ones (see benchmarks/RESULTS.md), so: ``clip(2**16 // n_params, 1, 128)``.
    """
    if jax.default_backend() != "cpu":
        return 0
    n_params = sum(int(np.prod(s)) for s in jax.tree.leaves(nets.shapes(net), is_leaf=nets._is_shape))
    return int(np.clip(2**16 // n_params, 1, 128))


@functools.lru_cache(maxsize=64)
def _programs(net: MLP, cfg: TrainConfig, opt, batched_masks: bool, mesh, micro: int):
    """jit-compiled ``(init, chunk)`` for one static setting, cached across calls.

    ``chunk`` runs ``cfg.chunk_steps`` steps of every trial: ``shard_map`` over
    the devices' trials, ``lax.map`` over micro-batches of ``micro`` trials,
    ``vmap`` inside a micro-batch, ``scan`` over steps.
    """
    step = _make_step(net, cfg, opt)
    stride, n_rec = cfg.history_stride, cfg.chunk_steps // cfg.history_stride

    def chunk_one(state, X, Y, masks):
        # One scan, one copy of the step (compile time matters: it is paid per
        # activation): iterations 0..chunk_steps-1 update, and a last one with
        # updates switched off refreshes loss and gradient norm at the params
        # the chunk ends on. Every ``stride``-th loss L(θ_t) (and θ_t) goes to
        # a small buffer in the carry.
        rec0 = jnp.zeros((n_rec + 1,), state["loss"].dtype)
        prec0 = jax.tree.map(lambda p: jnp.zeros((n_rec + 1,) + p.shape, p.dtype), state["params"]) if cfg.history_params else None

        def body(carry, t):
            s, rec, prec = carry
            slot = jnp.where(t % stride == 0, t // stride, n_rec)  # n_rec: a scratch slot
            if prec is not None:
                prec = jax.tree.map(lambda b, p: b.at[slot].set(p), prec, s["params"])
            s = step(s, X, Y, masks, t < cfg.chunk_steps)
            return (s, rec.at[slot].set(s["loss"]), prec), None

        (state, rec, prec), _ = jax.lax.scan(body, (state, rec0, prec0), jnp.arange(cfg.chunk_steps + 1))
        rec = rec[:n_rec]
        return state, ((rec, jax.tree.map(lambda b: b[:n_rec], prec)) if cfg.history_params else rec)

    def local_chunk(state, X, Y, masks):
        if batched_masks:
            return jax.lax.map(lambda sm: chunk_one(sm[0], X, Y, sm[1]), (state, masks), batch_size=micro or None)
        return jax.lax.map(lambda s: chunk_one(s, X, Y, masks), state, batch_size=micro or None)

    mask_spec = P("trials") if batched_masks else P()
    if mesh is not None:
        # check_vma off: the history buffers start replicated (zeros) and become per-device.
        chunk = jax.shard_map(local_chunk, mesh=mesh, in_specs=(P("trials"), P(), P(), mask_spec), out_specs=P("trials"),
                              check_vma=False)
    else:
        chunk = local_chunk
    chunk = jax.jit(chunk, donate_argnums=(0,))

    return _init_program(net.sizes, net.bias, cfg.dtype, cfg.init_scale, opt, batched_masks, mesh), chunk


@functools.lru_cache(maxsize=64)
def _init_program(sizes, bias, dtype, init_scale, opt, batched_masks, mesh):
    """The jit-compiled initial state; independent of the activation, so one
    compilation serves every activation of an experiment."""
    net = MLP(sizes, "linear", bias)
    cfg = TrainConfig(dtype=dtype, init_scale=init_scale)

    def init(seed, ids, masks, params0):
        keys = jax.vmap(lambda i: trial_key(seed, i))(ids)
        one = lambda key, m, p0: _fresh_state(net, cfg, opt, key, m, p0)  # noqa: E731
        return jax.vmap(one, in_axes=(0, 0 if batched_masks else None, None if params0 is None else 0))(keys, masks, params0)

    out = {"out_shardings": NamedSharding(mesh, P("trials"))} if mesh is not None else {}
    return jax.jit(init, **out)


# ----------------------------------------------------------------------------- driver


def _trials_mesh(n_devices: Optional[int]):
    devices = jax.local_devices()
    if n_devices is not None:
        if not 1 <= n_devices <= len(devices):
            raise ValueError(f"n_devices: expected 1..{len(devices)}, got {n_devices}")
        devices = devices[:n_devices]
    if len(devices) == 1:
        return None, 1
    return jax.sharding.Mesh(np.array(devices), ("trials",)), len(devices)


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
    trial_batch: Optional[int] = None,
    micro_batch: Optional[int] = None,
    n_devices: Optional[int] = None,
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
        levels in one program). ``None``: dense.
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
      trial_batch: trials per compiled call (bounds memory); default all, at
        most 2**17. Rounded up to a multiple of the device count; the last batch
        is padded so that one compiled program serves every batch.
      micro_batch: trials vmapped together inside the program (the rest are
        looped over with ``lax.map``); 0 = all. Default: ``default_micro_batch``.
      n_devices: shard over the first this many local devices (default all).
      progress: called after every chunk of steps with a dict (``steps_done``,
        ``max_steps``, ``trials_done``, ``batch_trials``, ``n_trials``,
        ``n_stopped``).
      checkpoint: a ``.npz`` path. Finished trial batches and the state of the
        current one are written there after every chunk of steps (atomically);
        calling ``train`` again with the same arguments resumes from it. A
        checkpoint written by other settings is refused (``ValueError`` naming
        the settings that differ) unless ``overwrite``.
      overwrite: set aside a checkpoint of other settings (kept as
        ``<name>.replaced.npz`` until this run completes) and start afresh.

    Returns:
      A ``TrialsResult``; results do not depend on ``trial_batch``,
      ``micro_batch``, ``n_devices`` or ``checkpoint``.
    """
    if isinstance(optimizer, str):  # a name: part of the static config
        config_kwargs["optimizer"], optimizer = optimizer, None
    if config is None:
        config = TrainConfig(**config_kwargs)
    elif config_kwargs:
        config = dataclasses.replace(config, **config_kwargs)
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"n_trials: expected an integer >= 1, got {n_trials!r}")
    n_trials = int(n_trials)
    if config.dtype == "float64" and not jax.config.read("jax_enable_x64"):
        raise ValueError("dtype: 'float64' needs jax.config.update('jax_enable_x64', True) before any JAX work")
    dtype = np.dtype(config.dtype)
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
        masks = jax.tree.map(lambda m: np.asarray(m, dtype), masks)
    if params0 is not None:
        params0 = nets.check_params(net, params0, batched=True)
        if np.shape(jax.tree.leaves(params0)[0])[0] != n_trials:
            raise ValueError(f"params0: expected a leading axis of n_trials={n_trials}")
        params0 = jax.tree.map(lambda p: np.asarray(p, dtype), params0)
    trial_ids = np.arange(n_trials, dtype=np.int64) if trial_ids is None else np.asarray(trial_ids, dtype=np.int64)
    if trial_ids.shape != (n_trials,):
        raise ValueError(f"trial_ids: expected shape ({n_trials},), got {trial_ids.shape}")

    if optimizer is None:
        opt = make_optimizer(config.optimizer, float(config.learning_rate), config.optimizer_kwargs)
        opt_desc = {"name": config.optimizer, "learning_rate": config.learning_rate, **dict(config.optimizer_kwargs)}
    else:
        opt, opt_desc = optimizer, {"name": "custom", "repr": repr(optimizer)[:200]}

    mesh, n_dev = _trials_mesh(n_devices)
    batch = min(n_trials, 2**17) if trial_batch is None else int(trial_batch)
    if batch < 1:
        raise ValueError(f"trial_batch: expected >= 1, got {trial_batch}")
    batch = -(-batch // n_dev) * n_dev
    micro = default_micro_batch(net) if micro_batch is None else int(micro_batch)
    micro = min(micro, batch // n_dev)
    init, chunk = _programs(net, config, opt, batched_masks, mesh, micro)

    meta = {"net": net.to_dict(), "train": config.to_dict(), "optimizer": opt_desc, "seed": int(seed),
            "n_trials": n_trials, "masks_per_trial": batched_masks, "n_devices": n_dev, "trial_batch": batch,
            "micro_batch": micro,
            "stopping_rule": f"converged when ||grad L||_2 <= {config.gtol}; diverged when loss is not finite or > {config.diverge_loss}"}
    meta["data"] = {"X": io.digest(X), "Y": io.digest(Y)}
    settings = {k: v for k, v in meta.items() if k != "n_devices"}
    meta["versions"] = io.versions()
    fingerprint = io.fingerprint(settings, [X, Y, trial_ids, *jax.tree.leaves(masks), *jax.tree.leaves(params0)])
    meta["fingerprint"] = fingerprint
    done, resume = _load_checkpoint(checkpoint, fingerprint, settings, overwrite)

    sharding = NamedSharding(mesh, P("trials")) if mesh is not None else None
    put = (lambda a: jax.device_put(a, sharding)) if sharding is not None else jnp.asarray  # noqa: E731
    replicated = (lambda a: jax.device_put(a, NamedSharding(mesh, P()))) if mesh is not None else jnp.asarray  # noqa: E731
    Xd, Yd = replicated(X), replicated(Y)
    shared_masks = None if batched_masks else jax.tree.map(replicated, masks)

    n_batches = -(-n_trials // batch)
    for b in range(len(done), n_batches):
        lo, hi = b * batch, min((b + 1) * batch, n_trials)
        rows = np.minimum(np.arange(lo, lo + batch), n_trials - 1)  # padding repeats the last trial's data
        ids = np.concatenate([trial_ids[lo:hi], trial_ids[-1] + 1 + np.arange(batch - (hi - lo))])  # padding trials
        bmasks = jax.tree.map(lambda m: put(m[rows]), masks) if batched_masks else shared_masks
        p0 = None if params0 is None else jax.tree.map(lambda p: put(p[rows]), params0)
        state = init(jnp.asarray(seed, jnp.uint32), put(ids.astype(np.uint32)), bmasks, p0)
        hist = np.zeros((batch, config.n_history), dtype=dtype)
        phist = None
        steps_done = 0
        if resume is not None:
            state = jax.tree.unflatten(jax.tree.structure(state), [put(np.asarray(a)) for a in resume["state"]])
            hist, steps_done = resume["hist"], int(resume["steps_done"])
            if resume["phist_leaves"]:
                phist = jax.tree.unflatten(jax.tree.structure(state["params"]), resume["phist_leaves"])
            resume = None
        while steps_done < config.max_steps:
            state, rec = chunk(state, Xd, Yd, bmasks)
            col = steps_done // config.history_stride
            n_take = min(config.chunk_steps // config.history_stride, config.n_history - col)
            rec_loss = rec[0] if config.history_params else rec
            hist[:, col:col + n_take] = np.asarray(rec_loss)[:, :n_take]
            if config.history_params:
                if phist is None:
                    phist = jax.tree.map(lambda a: np.zeros((batch, config.n_history) + a.shape[2:], dtype), rec[1])
                jax.tree.map(lambda h, r: h.__setitem__((slice(None), slice(col, col + n_take)), np.asarray(r)[:, :n_take]), phist, rec[1])
            steps_done += config.chunk_steps
            status = np.asarray(state["status"])
            n_stopped = int(np.sum(status[: hi - lo] != RUNNING))
            if checkpoint is not None:  # before the hook, so an interrupt there loses nothing
                _save_checkpoint(checkpoint, fingerprint, settings, done, state, hist, steps_done, phist)
            if progress is not None:
                progress({"steps_done": min(steps_done, config.max_steps), "max_steps": config.max_steps, "trials_done": lo,
                          "batch_trials": hi - lo, "n_trials": n_trials, "n_stopped": n_stopped})
            if n_stopped == hi - lo:
                break
        last = -(-steps_done // config.history_stride)
        out = {k: np.asarray(state[k])[: hi - lo] for k in ("loss", "grad_norm", "steps", "status")}
        out["status"] = np.where(out["status"] == RUNNING, MAX_STEPS, out["status"])
        for i, leaf in enumerate(jax.tree.leaves(state["params"])):
            out[f"param_{i}"] = np.asarray(leaf)[: hi - lo]
        if last < config.n_history:  # every trial stopped early: it repeats its last value
            hist[:, last:] = np.asarray(state["loss"])[:, None]
            if phist is not None:
                jax.tree.map(lambda h, p: h.__setitem__((slice(None), slice(last, None)), np.asarray(p)[:, None]), phist, state["params"])
        out["history"] = hist[: hi - lo]
        for i, leaf in enumerate(jax.tree.leaves(phist)):
            out[f"phist_{i}"] = leaf[: hi - lo]
        done.append(out)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, fingerprint, settings, done, None, None, 0, None)

    merged = {k: np.concatenate([d[k] for d in done], axis=0) for k in done[0]}
    ptree = jax.tree.structure(nets.shapes(net), is_leaf=nets._is_shape)
    n_leaves = ptree.num_leaves
    params = jax.tree.unflatten(ptree, [merged[f"param_{i}"] for i in range(n_leaves)])
    phist = jax.tree.unflatten(ptree, [merged[f"phist_{i}"] for i in range(n_leaves)]) if "phist_0" in merged else None
    result = TrialsResult(params=params, loss=merged["loss"], grad_norm=merged["grad_norm"],
                        steps=merged["steps"], status=merged["status"].astype(np.int8), history=merged["history"],
                        history_steps=np.arange(config.n_history) * config.history_stride, trial_ids=trial_ids,
                        config=meta, param_history=phist, masks=masks)
    io.finish_progress(checkpoint)
    return result


# ----------------------------------------------------------------------------- checkpoints


def _save_checkpoint(path, fingerprint, settings, done, state, hist, steps_done, phist):
    arrays = {}
    for i, d in enumerate(done):
        for k, v in d.items():
            arrays[f"done{i}__{k}"] = v
    if state is not None:
        for j, leaf in enumerate(jax.tree.leaves(state)):
            arrays[f"state_{j}"] = np.asarray(leaf)
        arrays["hist"] = hist
        for j, leaf in enumerate(jax.tree.leaves(phist)):
            arrays[f"phist_{j}"] = leaf
    io.write_progress(path, arrays, {"n_done": len(done), "steps_done": steps_done, "has_state": state is not None},
                      fingerprint_=fingerprint, settings=settings, tag=CHECKPOINT_TAG)


def _load_checkpoint(path, fingerprint, settings, overwrite):
    """Returns (finished batches, state of the batch in progress or None)."""
    found = io.open_progress(path, fingerprint, settings, overwrite=overwrite, tag=CHECKPOINT_TAG)
    if found is None:
        return [], None
    arrays, meta = found
    done = []
    for i in range(meta["n_done"]):
        prefix = f"done{i}__"
        done.append({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
    resume = None
    if meta["has_state"]:
        n = len([k for k in arrays if k.startswith("state_")])
        resume = {"state": [arrays[f"state_{j}"] for j in range(n)], "hist": arrays["hist"], "steps_done": meta["steps_done"]}
        n = len([k for k in arrays if k.startswith("phist_")])
        resume["phist_leaves"] = [arrays[f"phist_{j}"] for j in range(n)]
    return done, resume
