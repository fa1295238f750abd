"""A hand-written JAX program for the Table 3 net: the floor the trial engine is measured against.

The Table 3 / Theorem 6 net ``(3, 2, 3)`` with its 8 free weights (paper's names)

    W1 = [[w5, w6, 0], [0, w7, w8]],   W2 = [[w1, 0], [w2, w3], [0, w4]]

written out by hand: every weight its own ``(T,)`` array over trials, each hidden
neuron's activations an ``(n, T)`` array (trial axis last and contiguous, so every
operation is elementwise over trials), ``X`` and ``Y`` as data. The same math as
``trials.train`` with plain gradient descent: the gradient by ``jax.vjp`` of the
per-trial loss, the stopping rule (converged at ``‖∇L‖₂ ≤ gtol``; diverged when
the loss or the gradient norm is not finite or the loss exceeds ``diverge_loss``;
``max_steps``), the step counter, the loss and gradient norm at the last step
that ran, and the loss history every ``stride`` steps; ``steps`` updates in one
``lax.scan`` plus one last evaluation without update (as the engine's chunk).
Trials run in blocks of ``block`` (``lax.map`` over blocks; ``None``: all at
once). Nothing else: no checkpoints, no host loop, no layout conversion, one
compiled call for all steps.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

RUNNING, CONVERGED, MAX_STEPS, DIVERGED = 0, 1, 2, 3


def loss(w, X, Y, sigma):
    """½‖f(X) − Y‖² per trial; ``w`` is ``(w1, ..., w8)``, each ``(T,)``."""
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    x = [X[j][:, None] for j in range(3)]
    h1 = sigma(w5 * x[0] + w6 * x[1])
    h2 = sigma(w7 * x[1] + w8 * x[2])
    r1 = w1 * h1 - Y[0][:, None]
    r2 = w2 * h1 + w3 * h2 - Y[1][:, None]
    r3 = w4 * h2 - Y[2][:, None]
    return 0.5 * (jnp.sum(r1 * r1, 0) + jnp.sum(r2 * r2, 0) + jnp.sum(r3 * r3, 0))


def loss_per_sample(w, X, Y, sigma):
    """``loss`` with every sample written out too: all arrays ``(T,)``, no reduction."""
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    total = None
    for s in range(X.shape[1]):
        h1 = sigma(w5 * X[0, s] + w6 * X[1, s])
        h2 = sigma(w7 * X[1, s] + w8 * X[2, s])
        r1 = w1 * h1 - Y[0, s]
        r2 = w2 * h1 + w3 * h2 - Y[1, s]
        r3 = w4 * h2 - Y[2, s]
        t = r1 * r1 + r2 * r2 + r3 * r3
        total = t if total is None else total + t
    return 0.5 * total


def _run_block(w, X, Y, *, sigma, steps, stride, lr, gtol, diverge_loss, max_steps, per_sample=False):
    T = w[0].shape[0]
    n_rec = steps // stride

    def step(c, allow):
        w, status, nsteps, last_loss, last_gn = c
        l, vjp = jax.vjp(lambda w: (loss_per_sample if per_sample else loss)(w, X, Y, sigma), w)
        (g,) = vjp(jnp.ones_like(l))
        gn = jnp.sqrt(sum(g[k] * g[k] for k in (4, 5, 6, 7, 0, 1, 2, 3)))  # the params' order: W1 then W2
        running = status == RUNNING
        bad = ~jnp.isfinite(l) | (l > diverge_loss) | ~jnp.isfinite(gn)
        status = jnp.where(running & bad, DIVERGED, status)
        status = jnp.where((status == RUNNING) & (gn <= gtol), CONVERGED, status)
        status = jnp.where((status == RUNNING) & (nsteps >= max_steps), MAX_STEPS, status)
        move = (status == RUNNING) & allow
        w = tuple(jnp.where(move, wi - lr * gi, wi) for wi, gi in zip(w, g))
        return (w, status, nsteps + move.astype(jnp.int32), jnp.where(running, l, last_loss), jnp.where(running, gn, last_gn))

    def body(carry, t):
        c, rec = carry
        slot = jnp.where(t % stride == 0, t // stride, n_rec)
        c = step(c, t < steps)
        return (c, rec.at[slot].set(c[3])), None

    inf = jnp.full((T,), jnp.inf, w[0].dtype)
    c0 = (tuple(w), jnp.zeros(T, jnp.int32), jnp.zeros(T, jnp.int32), inf, inf)
    (c, rec), _ = jax.lax.scan(body, (c0, jnp.zeros((n_rec + 1, T), w[0].dtype)), jnp.arange(steps + 1))
    return c, rec[:n_rec]


@functools.partial(jax.jit, static_argnames=("sigma", "steps", "stride", "lr", "gtol", "diverge_loss", "max_steps", "block", "per_sample"))
def run(w, X, Y, *, sigma=jnp.tanh, steps=1000, stride=100, lr=0.01, gtol=1e-5, diverge_loss=float("inf"),
        max_steps=50_000, block=None, per_sample=True):
    """``steps`` GD steps of every trial. ``w``: 8 arrays ``(T,)``; ``T`` a multiple of ``block``.

    Returns:
      ``((w, status, steps, loss, grad_norm), history)``, history ``(steps // stride, T)``.
    """
    kw = dict(sigma=sigma, steps=steps, stride=stride, lr=lr, gtol=gtol, diverge_loss=diverge_loss, max_steps=max_steps,
              per_sample=per_sample)
    T = w[0].shape[0]
    if block is None or block >= T:
        return _run_block(w, X, Y, **kw)
    nb = T // block
    blocks = tuple(wi.reshape(nb, block) for wi in w)
    c, rec = jax.lax.map(lambda wb: _run_block(wb, X, Y, **kw), blocks)
    c = jax.tree.map(lambda a: a.reshape(T), c)
    return c, jnp.moveaxis(rec, 0, 1).reshape(rec.shape[1], T)
