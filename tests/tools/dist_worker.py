"""One process of the distributed tests (tests/test_distributed.py): the Python API.

    python dist_worker.py OUT [COORDINATOR NUM_PROCESSES PROCESS_ID]

Without the last three it runs as a plain single process. It trains the Table 3 net (relu,
with a checkpoint) and a small float32 net with per-trial masks (adam), evaluates a grid on
a plane (small chunks, so the grid goes in several rounds) and ``evaluate_points`` at many
points, labels distinct solutions and probes a barrier matrix (linear paths); process 0 writes everything to ``OUT/results.npz`` (and ``OUT/who.txt`` lists the
processes that reached the end).
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np


def point_value(x, W):
    """A scalar function of one point (module level: hashable for evaluate_points)."""
    return jnp.sum(jnp.tanh(W @ x) ** 2)


def main(argv):
    out = argv[0]
    import landscape as ls

    if len(argv) > 1:
        ls.distributed.initialize(argv[1], int(argv[2]), int(argv[3]))
    from landscape import evaluate
    from landscape.masks import random_masks

    evaluated = [0]  # points this process evaluates itself (shows that the work was split, not repeated)
    chunk = evaluate.Evaluator.chunk

    def counting_chunk(self, xs):
        evaluated[0] += evaluate._n_points(xs)
        return chunk(self, xs)

    evaluate.Evaluator.chunk = counting_chunk
    from landscape.theory import Theorem6

    arrays = {}
    thm = Theorem6(1.0, 2.0, 6.0, 2.0)
    t3 = ls.train(thm.net("relu"), thm.X, thm.Y, masks=thm.masks(), n_trials=10, seed=3, max_steps=3000,
                  chunk_steps=1000, history_stride=500, checkpoint=os.path.join(out, "ckpt_t3.npz"))
    net = ls.MLP((5, 12, 8, 3), "tanh")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 40)).astype(np.float32)
    Y = rng.standard_normal((3, 40)).astype(np.float32)
    keys = jax.random.split(jax.random.key(1), 7)
    masks = jax.tree.map(lambda *a: np.stack(a), *[random_masks(k, net, 0.4) for k in keys])
    small = ls.train(net, X, Y, masks=masks, n_trials=7, seed=5, optimizer="adam", learning_rate=1e-2, max_steps=300,
                     gtol=0.0, chunk_steps=150, history_stride=50, history_params=True)
    for name, res in (("t3", t3), ("small", small)):
        for field in ("loss", "grad_norm", "steps", "status", "history", "trial_ids"):
            arrays[f"{name}_{field}"] = np.asarray(getattr(res, field))
        for i, leaf in enumerate(jax.tree.leaves(res.params)):
            arrays[f"{name}_param{i}"] = np.asarray(leaf)
        for i, leaf in enumerate(jax.tree.leaves(res.param_history)):
            arrays[f"{name}_phist{i}"] = np.asarray(leaf)
    p0 = jax.tree.map(lambda a: a[0], small.params)
    m0 = jax.tree.map(lambda a: a[0], masks)
    plane = ls.random_plane(jax.random.key(2), p0, m0)
    grid = ls.evaluate_grid(plane, net, X, Y, axes=[(-1, 1, 9), (-1, 1, 7)], masks=m0, chunk_size=8,
                            path=os.path.join(out, "grid.npz"))
    arrays["grid"] = np.asarray(grid.values)
    W = rng.standard_normal((6, 4)).astype(np.float32)
    xs = rng.standard_normal((37, 4)).astype(np.float32)
    values, grads = ls.evaluate_points(point_value, xs, W, grad=True)
    arrays["points"], arrays["points_grad"] = values, grads
    t3net = thm.net("relu")
    sols = ls.group_solutions(t3net, t3.params, thm.X, thm.Y, thm.masks())
    arrays["solutions_group"], arrays["solutions_loss"] = np.asarray(sols.group), np.asarray(sols.loss)
    f, space = ls.masked_objective(t3net, thm.X, thm.Y, thm.masks())
    Z = np.stack([np.asarray(space.flatten(jax.tree.map(lambda a, i=i: a[i], t3.params))) for i in range(4)])
    bm = ls.barrier_matrix(f, Z, methods=("linear",), n_eval=17)
    arrays["barrier_heights"] = np.asarray(bm.heights)
    if ls.distributed.is_main():
        np.savez(os.path.join(out, "results.npz"), **arrays)
        t3.save(os.path.join(out, "trials_t3.npz"))
    with open(os.path.join(out, f"who{ls.distributed.process_index()}.txt"), "w") as f:
        f.write(f"{ls.distributed.process_index()} of {ls.distributed.process_count()}, "
                f"{len(jax.local_devices())} local devices, {len(jax.devices())} in all, "
                f"global mesh {ls.distributed.global_mesh().size}\n{evaluated[0]}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
