"""Figure 5 (the (a, t) slice through the Theorem 6 valley) and the trajectory picture.

Tolerances: float64; the slice's inverse activations come from
theory.invert_activation (bisection to float64 resolution), so losses on the
valley match the closed form y4²/2 to 1e-12."""

import jax
import numpy as np
import pytest

import landscape as ls
from landscape import cli, slices, theory
from landscape.experiments import valley_slice as vs

THM = theory.Theorem6()


@pytest.mark.parametrize("act", ["tanh", "leaky_relu", "elu", "shifted_sigmoid"])
def test_surface_points_satisfy_the_proof_equations(act):
    # The slice's points are theory's, evaluated under jit; check the proof's defining equations
    # (float64: σ(w) recovers its target to 1e-12 after the bisection).
    surf = vs.valley_slice(act, THM, 10.0)
    sigma = ls.get_activation(act)
    y1, y2, y3, y4 = THM.y1, THM.y2, THM.y3, THM.y4
    for a in (2.5, 7.0):
        w = np.asarray(theory.w_from_params(jax.jit(surf.valley)(a)))
        s = np.asarray(sigma(w))
        np.testing.assert_allclose(w[[0, 1, 2, 3, 7]], [y1 * a, y2 * a, y3 * 10.0, 0.0, 0.0], rtol=1e-15)
        np.testing.assert_allclose(s[[4, 5, 6]], [1 / a, 1 / a, 1 / 10.0], rtol=1e-12)
        w = np.asarray(theory.w_from_params(jax.jit(surf.better)(a)))
        s = np.asarray(sigma(w))
        np.testing.assert_allclose(w[[0, 1, 2, 3, 6]], [y1 * a, (y2 + y3) * a, 0.0, y4 * a, 0.0], rtol=1e-15)
        np.testing.assert_allclose(s[[4, 5, 7]], [y2 / ((y2 + y3) * a), 1 / a, 1 / a], rtol=1e-12)
        for x, y in zip(jax.tree.leaves(surf.valley(a)), jax.tree.leaves(theory.valley_point(THM, act, a, 10.0))):
            np.testing.assert_array_equal(x, y)  # one implementation: eager and traced agree
    assert np.isnan(float(jax.jit(lambda v: theory.invert_activation("tanh", v))(1.5)))  # outside tanh's range


@pytest.mark.parametrize("act", ["tanh", "leaky_relu"])
def test_red_line_loss_is_y4_squared_over_2_and_t1_is_better_point(act):
    grid = vs.figure5(act, a_range=(1.3, 10.0, 23), t_range=(-0.25, 1.25, 7))
    red = grid.overlays["valley"]
    np.testing.assert_allclose(red[:, 2], THM.y4**2 / 2, rtol=0, atol=1e-12)
    t = grid.axes[1]
    i0, i1 = int(np.argmin(abs(t))), int(np.argmin(abs(t - 1)))
    np.testing.assert_allclose(grid.values[:, i0], THM.valley_loss, atol=1e-12)  # grid row t = 0 is the valley
    np.testing.assert_allclose(grid.values[:, i1], THM.better_loss, atol=1e-12)  # t = 1: θ̃(a), loss y1²y3²/(2(y2+y3)²)
    # between the two the loss rises above the valley: the valley is spurious, not a slope
    assert np.all(grid.values[:, 3] > THM.valley_loss)
    assert grid.config["activation"] == act and grid.config["axis_names"] == ["a", "t"]


def test_default_a_range_keeps_one_over_a_in_range():
    assert vs.default_a_range("tanh")[0] == pytest.approx(1.25, rel=1e-6)
    assert vs.default_a_range("shifted_sigmoid")[0] == pytest.approx(2.5, rel=1e-6)
    assert vs.default_a_range("leaky_relu")[0] == 0.5
    with pytest.raises(ValueError, match="a > 0"):
        vs.figure5("tanh", a_range=(-1.0, 2.0, 5))


def test_theorem6_labels():
    L = theory.theorem6_global_min(THM)[0]
    w = np.zeros((4, 8))
    w[:, 3] = [1.0, 1e-4, 0.5, 0.0]  # w4
    kinds = theory.theorem6_labels(THM, w, [L + 1e-5, 2.0, 2.0, 1.1], np.zeros(4))
    assert list(kinds) == ["global", "valley", "other", "other"]


def test_trajectory_picture_ends(tmp_path):
    grid = vs.trajectory_picture("leaky_relu", n_trials=16, max_steps=20_000, n=9, path=str(tmp_path / "t.npz"))
    L, _ = theory.theorem6_global_min(THM)
    assert abs(grid.config["final_loss"]["global"] - L) < 1e-3
    assert abs(grid.config["final_loss"]["valley"] - THM.valley_loss) < 1e-3
    # the valley trial's last point is the plane's origin: its loss there is its final loss
    plane = grid.plane()
    end = grid.overlays["end valley"][0]
    np.testing.assert_allclose(end, 0.0, atol=1e-12)
    got = slices.surface_loss(plane, THM.net("leaky_relu"), THM.X, THM.Y, (0.0, 0.0), masks=THM.masks())
    np.testing.assert_allclose(got, grid.config["final_loss"]["valley"], rtol=1e-9)
    assert 0.5 < sum(grid.config["explained_variance"]) <= 1.0 + 1e-12


def test_cli_fig5_writes_figures(tmp_path):
    rc = cli.main(["fig5", "--activations", "tanh", "--n", "21", "--out", str(tmp_path), "--formats", "png"])
    assert rc == 0
    assert (tmp_path / "fig5_tanh.png").stat().st_size > 20_000
    grid = slices.Grid.load(str(tmp_path / "fig5_tanh.npz"))
    assert grid.values.shape == (21, 21) and grid.complete
