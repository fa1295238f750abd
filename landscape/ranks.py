"""Ranks of hidden-layer outputs (Fig. 4, second row), and training with rank tracking.

``numerical_rank`` (defined in ``landscape.conditions``, one rule for every rank):
singular values above ``rtol · s_max``; the default ``rtol = max(h, n) · eps(dtype)`` is
NumPy's ``matrix_rank`` rule for the dtype the net ran in; on JAX arrays it is traceable,
so it runs inside the compiled measurement here. ``stable_rank``: ``‖H‖_F² / ‖H‖_2²`` (a continuous, tolerance-free
lower bound of the rank).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from landscape import nets, trials, validate
from landscape.conditions import numerical_rank as numerical_rank


def singular_values(H) -> jax.Array:
    return jnp.linalg.svd(H, compute_uv=False)


def stable_rank(H) -> jax.Array:
    """``‖H‖_F² / ‖H‖_2²`` (0 for a zero matrix)."""
    s = singular_values(jnp.asarray(H))
    return jnp.where(s[0] > 0, jnp.sum(s * s) / jnp.where(s[0] > 0, s[0] * s[0], 1.0), 0.0)


def hidden_ranks(net: nets.MLP, params, X, masks=None, rtol: Optional[float] = None) -> tuple:
    """``(ranks (L−1,), stable ranks (L−1,))`` of ``h_1 … h_{L−1}`` on ``X``.

    One network; batch with ``jax.vmap`` or ``jax.lax.map``.
    """
    if rtol is not None and validate.is_concrete(rtol):
        rtol = validate.nonnegative(rtol, "rtol")
    hs = nets.hidden_outputs(net, params, X, masks)[:-1]
    return (jnp.stack([numerical_rank(h, rtol) for h in hs]), jnp.stack([stable_rank(h) for h in hs]))


@dataclasses.dataclass(frozen=True)
class RankTrace:
    """Loss and hidden ranks along training (arrays have a leading trial axis).

    Attributes:
      result: the final ``TrialsResult`` of the last segment.
      steps: ``(k,)`` steps at which ranks were measured.
      loss: ``(n_trials, k)`` loss at those steps.
      rank: ``(n_trials, k, L−1)`` numerical ranks; stable_rank: same, floats.
      history: ``(n_trials, n_steps // stride)`` loss every ``history_stride`` steps.
      rtol: the rank tolerance used (None = the default rule).
    """

    result: trials.TrialsResult
    steps: np.ndarray
    loss: np.ndarray
    rank: np.ndarray
    stable_rank: np.ndarray
    history: np.ndarray
    history_steps: np.ndarray
    rtol: Optional[float]


def train_with_ranks(net: nets.MLP, X, Y, *, masks=None, n_trials: int = 1, seed: int = 0, segments: int = 10,
                     rtol: Optional[float] = None, progress: Optional[Callable[[int, int], None]] = None,
                     **train_kwargs) -> RankTrace:
    """``trials.train`` in ``segments`` equal pieces, measuring hidden ranks between them.

    Plain GD is stateless, so restarting from ``params0`` continues the same
    trajectory (other optimisers would restart their state: use ``"sgd"``).

    Args:
      net, X, Y, masks, n_trials, seed: as ``trials.train``.
      segments: number of pieces of ``max_steps // segments`` steps; ranks are
        measured at step 0 and after each piece.
      rtol: rank tolerance (see module docstring).
      progress: called with ``(segment, segments)`` after each piece.
      **train_kwargs: ``TrainConfig`` fields (``max_steps``, ``learning_rate``,
        ``loss``, ``dtype``, ``init_scale``, ``history_stride``; ``gtol``
        defaults to 0 here so every trial runs all steps).

    Returns:
      A ``RankTrace``.
    """
    max_steps = validate.integer(train_kwargs.pop("max_steps", 1000), "max_steps", low=1)
    segments = validate.integer(segments, "segments", low=1)
    if max_steps % segments:
        raise ValueError(f"segments: expected a divisor of max_steps={max_steps}, got {segments}")
    seed = validate.seed(seed)
    validate.net(net)
    nets.check_data(net, X, Y)
    if train_kwargs.get("optimizer", "sgd") != "sgd":
        raise ValueError("optimizer: rank tracking restarts from params0, which is exact only for plain GD ('sgd')")
    train_kwargs.setdefault("gtol", 0.0)
    seg = max_steps // segments
    dtype = train_kwargs.get("dtype", "float32")
    Xd = jnp.asarray(X, dtype)
    batched = masks is not None and np.ndim(jax.tree.leaves(masks)[0]) == 3

    @jax.jit
    def measure(params, m):
        one = lambda pm: hidden_ranks(net, pm[0], Xd, pm[1], rtol)  # noqa: E731
        if m is None:
            return jax.lax.map(lambda p: hidden_ranks(net, p, Xd, None, rtol), params)
        if batched:
            return jax.lax.map(one, (params, m))
        return jax.lax.map(lambda p: hidden_ranks(net, p, Xd, m, rtol), params)

    params0, res = None, None
    steps, losses, ranks, sranks, hist = [], [], [], [], []
    for k in range(segments):
        res = trials.train(net, X, Y, masks=masks, n_trials=n_trials, seed=seed, params0=params0, max_steps=seg,
                           **train_kwargs)
        if k == 0:
            r0 = measure(_initial(net, res, masks, seed, n_trials, train_kwargs), masks)
            steps.append(0)
            losses.append(res.history[:, 0])
            ranks.append(np.asarray(r0[0]))
            sranks.append(np.asarray(r0[1]))
        r = measure(jax.tree.map(jnp.asarray, res.params), masks)
        steps.append((k + 1) * seg)
        losses.append(res.loss)
        ranks.append(np.asarray(r[0]))
        sranks.append(np.asarray(r[1]))
        hist.append(res.history)
        params0 = res.params
        if progress is not None:
            progress(k + 1, segments)
    stride = res.config["train"]["history_stride"]
    return RankTrace(result=res, steps=np.array(steps), loss=np.stack(losses, 1), rank=np.stack(ranks, 1),
                     stable_rank=np.stack(sranks, 1), history=np.concatenate(hist, 1),
                     history_steps=np.arange(sum(h.shape[1] for h in hist)) * stride, rtol=rtol)


def _initial(net, res, masks, seed, n_trials, kw):
    """The initial params of every trial (the same program ``train`` uses)."""
    dtype = jnp.dtype(kw.get("dtype", "float32"))
    scale = kw.get("init_scale", 1.0)
    batched = masks is not None and np.ndim(jax.tree.leaves(masks)[0]) == 3
    keys = [trials.trial_key(seed, i) for i in range(n_trials)]
    ps = [nets.init(k, net, None if masks is None else (jax.tree.map(lambda a: a[i], masks) if batched else masks),
                    scale=scale, dtype=dtype, fan_in=kw.get("init_fan_in", "dense")) for i, k in enumerate(keys)]
    return jax.tree.map(lambda *a: jnp.stack(a), *ps)
