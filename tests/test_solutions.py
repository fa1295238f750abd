"""Distinct solutions: grouping by output/loss and curvature labels (Theorem 6 net)."""

import jax
import jax.numpy as jnp
import pytest

from landscape import solutions, theory, trials


def _stack(ps):
    return jax.tree.map(lambda *a: jnp.stack(a), *ps)


def test_group_constructed_points():
    thm = theory.Theorem6()
    net = thm.net("tanh")
    # valley points with different (a, b) have the same output: one solution, not three
    pts = [theory.valley_point(thm, "tanh", a=a, b=b) for a, b in ((4.0, 10.0), (6.0, 10.0), (4.0, 20.0))]
    pts += [theory.better_point(thm, "tanh", a=a) for a in (4.0, 5.0)]
    sol = solutions.label_solutions(net, _stack(pts), thm.X, thm.Y, thm.masks())
    assert sol.n_groups == 2 and sol.counts.tolist() == [3, 2]
    assert sol.group.tolist() == [0, 0, 0, 1, 1]
    assert sol.loss[0] == pytest.approx(thm.valley_loss, abs=1e-12)
    assert sol.loss[1] == pytest.approx(thm.better_loss, abs=1e-12)
    # the valley: a local minimum with exactly the 2 flat directions (a, b) of θ(a, b) (proof of Thm 6)
    assert sol.labels[0] == "flat_minimum" and sol.curvature[0]["n_flat"] == 2
    # the better point is not critical (its gradient is not zero: w7 = 0 is not optimal there)
    assert sol.labels[1] == "not_critical"


def test_label_trained_tanh_solutions(tmp_path):
    thm = theory.Theorem6()
    net = thm.net("tanh")
    res = trials.train(net, thm.X, thm.Y, masks=thm.masks(), n_trials=12, seed=0, learning_rate=0.01,
                       max_steps=50_000, gtol=1e-5, dtype="float64")
    sol = solutions.label_solutions(net, res.params, thm.X, thm.Y, thm.masks())
    assert sol.counts.sum() == 12
    L_star = theory.theorem6_global_min(thm)[0]
    # tanh ends either in the valley (loss y4²/2) or at the global minimum (Table 3's two outcomes)
    for loss in sol.loss:
        assert min(abs(loss - thm.valley_loss), abs(loss - L_star)) <= 1e-6
    assert set(sol.labels) <= {"flat_minimum", "strict_minimum"}
    text = sol.table(global_min=L_star)
    assert "count" in text and len(text.splitlines()) == sol.n_groups + 1
    back = solutions.Solutions.load(sol.save(str(tmp_path / "sol")))
    assert back.labels == sol.labels and back.counts.tolist() == sol.counts.tolist()


def test_bad_tolerances():
    thm = theory.Theorem6()
    p = _stack([theory.valley_point(thm, "tanh")])
    with pytest.raises(ValueError, match="out_tol"):
        solutions.group_solutions(thm.net("tanh"), p, thm.X, thm.Y, thm.masks(), out_tol=0.0)
