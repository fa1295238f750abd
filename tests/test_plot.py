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
