"""Every plot function writes a non-trivial image (size and pixel variance)."""

import matplotlib.image as mpimg
import numpy as np
import pytest

from landscape import plot, slices


def _grid2d():
    u, v = np.linspace(-1, 1, 31), np.linspace(-2, 2, 25)
    U, V = np.meshgrid(u, v, indexing="ij")
    vals = 1.0 + U**2 + 0.5 * (V - 0.3) ** 2 + 0.3 * np.sin(3 * U)
    return slices.Grid((u, v), vals, {"axis_names": ["u", "v"], "overlay_styles": {"line": {"color": "red"}}},
                       overlays={"min": np.array([[0.0, 0.3]]), "line": np.stack([u, 0 * u, 1 + u**2], 1),
                                 "path": np.stack([np.linspace(-1, 0, 10), np.linspace(2, 0.3, 10)], 1)}, n_done=vals.size)


def _grid1d():
    t = np.linspace(-0.5, 1.5, 41)
    return slices.Grid((t,), (t - 0.2) ** 2 * (t - 1.1) ** 2 + 0.1, {}, overlays={"θ₀": np.array([[0.0]])}, n_done=41)


def _check_png(path):
    img = mpimg.imread(path)
    assert img.shape[0] > 200 and img.shape[1] > 200
    assert np.var(img[..., :3]) > 1e-3  # not a blank canvas


FIGS = {
    "contour": lambda: plot.contour(_grid2d(), filled=False),
    "filled": lambda: plot.contour(_grid2d()),
    "filled_log": lambda: plot.contour(_grid2d(), log=True, overlays={"extra": [[0.5, 0.5]]}),
    "surface": lambda: plot.surface3d(_grid2d()),
    "surface_log": lambda: plot.surface3d(_grid2d(), log=True),
    "profile": lambda: plot.profile([_grid1d(), _grid1d()], labels=["a", "b"], log=True, marks={"θ₁": 1.0}),
    "figure5": lambda: plot.figure5(_grid2d()),
}


@pytest.mark.parametrize("name", sorted(FIGS))
def test_plot_writes_png_and_pdf(name, tmp_path):
    paths = plot.save(FIGS[name](), str(tmp_path / name))
    assert [p[-3:] for p in paths] == ["png", "pdf"]
    _check_png(paths[0])
    with open(paths[1], "rb") as f:
        head = f.read(5)
    assert head == b"%PDF-" and len(open(paths[1], "rb").read()) > 5_000


def test_blank_image_is_detected(tmp_path):
    # guards the variance check itself: an empty figure fails it
    import matplotlib.pyplot as plt

    path = plot.save(plt.figure(figsize=(4, 4)), str(tmp_path / "blank.png"))[0]
    with pytest.raises(AssertionError):
        _check_png(path)


def test_plot_refuses_bad_grids():
    import dataclasses

    g = dataclasses.replace(_grid2d(), n_done=10)  # results are frozen: derive an incomplete one
    with pytest.raises(ValueError, match="evaluated"):
        plot.contour(g)
    with pytest.raises(ValueError, match="1D"):
        plot.contour(_grid1d())
    with pytest.raises(ValueError, match="2D"):
        plot.profile(_grid2d())
    with pytest.raises(ValueError, match="formats"):
        plot.save(plot.profile(_grid1d()), "x", formats=["bmp"])


# ----------------------------------------------------------------------------- the experiments' figures
# Hand-built result objects (no training): the figures must draw what the results hold.


def _table3_result():
    from landscape import trials
    from landscape.experiments import table3

    acts = ("tanh", "relu")
    labels = {"tanh": ["global"] * 3 + ["valley"] * 7, "relu": ["global", "valley", "valley"] + ["other"] * 6 + ["diverged"]}
    results = {}
    for a in acts:
        n = len(labels[a])
        tr = trials.TrialsResult(params=None, loss=np.ones(n), grad_norm=np.zeros(n), steps=np.full(n, 10),
                                 status=np.full(n, trials.CONVERGED, np.int8), history=np.ones((n, 2)),
                                 history_steps=np.arange(2), trial_ids=np.arange(n), config={})
        results[a] = table3.ActivationResult(a, tr, np.array(labels[a]), np.ones(n), [], 0.1)
    return table3.Table3Result(table3.Table3Config(activations=acts, n_trials=10), 0.259, results), labels


def test_table3_figure_draws_the_results_fractions(tmp_path):
    from matplotlib.container import BarContainer

    res, labels = _table3_result()
    fig = plot.table3(res)
    bars = {c.get_label(): c for c in fig.axes[0].containers if isinstance(c, BarContainer)}
    assert list(bars) == ["global", "valley", "other", "unconverged", "diverged"]  # stacked bottom to top
    for lab, c in bars.items():  # bar heights: the fraction of each label, counted here from the labels
        want = [labels[a].count(lab) / len(labels[a]) for a in ("tanh", "relu")]
        np.testing.assert_allclose([p.get_height() for p in c.patches], want, rtol=1e-12)
    tops = [bars["diverged"].patches[i].get_y() + bars["diverged"].patches[i].get_height() for i in range(2)]
    np.testing.assert_allclose(tops, [1.0, 1.0], rtol=1e-12)
    _check_png(plot.save(fig, str(tmp_path / "t3.png"))[0])


def test_figure3_and_figure4_draw_the_stored_curves(tmp_path):
    from landscape.experiments import deep_linear, deep_nonlinear

    steps = np.arange(0, 500, 100)
    gap = np.array([[3.0, 1e-1, 1e-3, 1e-5, 1e-9], [2.0, 1.0, 1e-2, 1e-4, 1e-6]])
    panel = deep_linear.Fig3Panel(d_y=10, densities=np.array([1.0, 0.5]), effective_density=np.array([1.0, 0.5]),
                                  history=gap + 0.5, history_steps=steps, loss_star=np.array([0.5, 0.5]),
                                  final_loss=gap[:, -1] + 0.5, theorems=[["Theorem 2"]] * 2)
    fig = plot.figure3(deep_linear.Fig3Result(a=panel, b=panel, config={"dtype": "float32"}, wall_time=1.0))
    floor = np.finfo(np.float32).eps * 0.5
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), steps)
    # L − L* as stored, drawn at the round-off floor eps·L* where it is below it (1e-9 here)
    np.testing.assert_allclose(line.get_ydata(), np.maximum((gap + 0.5 - 0.5)[0], floor), rtol=1e-12)
    assert line.get_ydata()[-1] == floor
    _check_png(plot.save(fig, str(tmp_path / "f3.png"))[0])

    # two densities that stopped at different steps (20 and 40; the first padded with NaN): each drawn
    # against step / its own total steps, as the paper rescales epochs
    nan = np.nan
    run = deep_nonlinear.Fig4Run(activation="tanh", history=np.array([[1.0, 0.5, 0.1, nan, nan], [1.0, 0.8, 0.6, 0.3, 0.2]]),
                                 history_steps=np.array([0, 10, 20, 30, 40]), rank_steps=np.array([0, 20, 40]),
                                 rank=np.array([[[3, 4], [5, 6], [nan, nan]], [[3, 4], [4, 4], [5, 5]]]),
                                 stable_rank=np.ones((2, 3, 2)), final_loss=np.array([0.1, 0.2]),
                                 min_output_connections=np.array([8, 8]), unused_inputs=np.array([0, 0]),
                                 effective_density=np.array([1.0, 0.5]), theorems=[[], []], total_steps=np.array([20, 40]),
                                 status=np.array(["target", "cap"]), wall_time=np.array([1.0, 2.0]))
    fig = plot.figure4(deep_nonlinear.Fig4Result(runs=(run,), densities=np.array([1.0, 0.5]), config={}, data={},
                                                 wall_time=1.0))
    ranks = [tuple(l.get_ydata()) for l in fig.axes[1].get_lines()]
    assert ranks[:2] == [(3, 5), (4, 6)]  # one line per hidden layer, the stored ranks (padding left out)
    losses = fig.axes[0].get_lines()
    np.testing.assert_array_equal(losses[0].get_xdata(), [0, 0.5, 1.0])
    np.testing.assert_array_equal(losses[1].get_xdata(), [0, 0.25, 0.5, 0.75, 1.0])
    assert losses[1].get_linestyle() == "--" and "(cap)" in losses[1].get_label()
    _check_png(plot.save(fig, str(tmp_path / "f4.png"))[0])


def test_path_report_figure_states_the_verdict(tmp_path):
    from landscape import paths

    s = np.linspace(0, 2, 21)
    losses = np.where(s < 1, 2.0, 2.0 - (s - 1) * 1.5)
    rep = paths.PathReport(s, losses, 0.0, 1e-9, 0.5, 0.5, 0.0, 1e-8, True, ("a", "b"), "Theorem 4", verdict="PASS",
                           evidence="certified", rise_bound=0.0)
    fig = plot.path_report(rep)
    assert fig.axes[0].get_title() == "PASS [certified] Theorem 4: rise bound 0"
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), losses)
    _check_png(plot.save(fig, str(tmp_path / "p.png"))[0])


def test_backend_is_agg_only_when_nobody_chose_one():
    # In a fresh process: Agg by default; $MPLBACKEND (Jupyter sets it) and an earlier choice are kept.
    import subprocess
    import sys

    code = "import landscape.plot, matplotlib; print(matplotlib.get_backend().lower())"
    env = {k: v for k, v in __import__("os").environ.items() if k != "MPLBACKEND"}
    run = lambda c, **e: subprocess.run([sys.executable, "-c", c], capture_output=True, text=True, check=True,  # noqa: E731
                                        env={**env, **e}, timeout=120).stdout.strip()
    assert run(code) == "agg"
    assert run(code, MPLBACKEND="pdf") == "pdf"
    assert run("import matplotlib; matplotlib.use('svg'); import matplotlib.pyplot; " + code) == "svg"
