"""Every figure of the library, in one style; plots never recompute.

Every function takes result objects and returns a matplotlib ``Figure``;
``save(fig, path)`` writes PNG and/or PDF and closes it.

* Loss slices (``slices.Grid``): ``contour``, ``surface3d``, ``profile``,
  ``figure5``. Overlays stored in the grid (``grid.overlays``: name -> ``(m,
  ndim)`` or ``(m, ndim + 1)`` coordinates, the extra column a loss height for
  3D) are drawn as points (``m = 1``) or lines, styled by
  ``grid.config["overlay_styles"][name]`` (matplotlib keyword arguments, e.g.
  ``{"color": "red"}``) when present. Extra overlays can be passed as
  ``overlays={name: xy}``.
* The experiments: ``table3`` (``Table3Result``), ``figure3`` (``Fig3Result``),
  ``figure4`` (``Fig4Result``), ``path_report`` (``paths.PathReport``), ``atlas_p_global`` and
  ``atlas_spurious`` (``atlas.AtlasResult``).

This is the only module of the package that touches matplotlib's backend: on
import it selects Agg (files only, no window) unless a backend was already
chosen -- ``matplotlib.pyplot`` imported, ``$MPLBACKEND`` set (Jupyter sets it,
so notebooks keep their inline figures) or a backend named in a matplotlibrc.

Example:
  >>> fig = contour(grid, log=True)
  >>> save(fig, "slice")            # slice.png and slice.pdf
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Optional, Sequence

import matplotlib


def _select_backend() -> None:
    """Agg unless the user or the environment already chose a backend (see the module docstring)."""
    if "matplotlib.pyplot" in sys.modules or os.environ.get("MPLBACKEND"):
        return
    try:
        chosen = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.10 has no auto_select
        chosen = matplotlib.rcParams._get_backend_or_none()
    if chosen is None:
        matplotlib.use("Agg")


_select_backend()
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colors as mcolors  # noqa: E402
import matplotlib.ticker  # noqa: E402,F401

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "legend.framealpha": 0.85,
    "axes.grid": False,
    "image.cmap": "viridis",
    "lines.linewidth": 1.8,
}
"""rcParams every figure here is drawn with."""

CMAP = "viridis"
FORMATS = ("png", "pdf")


@contextlib.contextmanager
def style():
    """The package's matplotlib style as a context manager."""
    with plt.rc_context(STYLE):
        yield


def save(fig, path: str, formats: Sequence[str] = FORMATS) -> list:
    """Writes ``fig`` and closes it.

    Args:
      fig: a matplotlib Figure.
      path: file name; with a ``.png``/``.pdf`` extension only that format is
        written, otherwise one file per entry of ``formats``.
      formats: used when ``path`` has no known extension.

    Returns:
      The paths written.
    """
    root, ext = os.path.splitext(str(path))
    if ext.lower().lstrip(".") in ("png", "pdf", "svg"):
        formats, path = [ext.lstrip(".")], root
    else:
        path = str(path)
    for f in formats:
        if f not in ("png", "pdf", "svg"):
            raise ValueError(f"formats: expected 'png', 'pdf' or 'svg', got {f!r}")
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    out = []
    with style():
        for f in formats:
            fig.savefig(f"{path}.{f}")
            out.append(f"{path}.{f}")
    plt.close(fig)
    return out


# ----------------------------------------------------------------------------- helpers


def _axis_names(grid) -> list:
    names = grid.config.get("axis_names")
    return list(names) if names else ["u", "v"][: grid.ndim]


def _overlays(grid, extra: Optional[dict]) -> list:
    """``[(name, xy array, style dict)]`` from the grid and ``extra``."""
    styles = grid.config.get("overlay_styles", {}) if grid is not None else {}
    items = dict(grid.overlays) if grid is not None else {}
    items.update(extra or {})
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    out = []
    for k, (name, xy) in enumerate(items.items()):
        xy = np.atleast_2d(np.asarray(xy, np.float64))
        st = {"color": cycle[(k + 1) % len(cycle)], "label": name}
        st.update(styles.get(name, {}))
        out.append((name, xy, st))
    return out


def _draw_overlays_2d(ax, grid, extra) -> None:
    for _, xy, st in _overlays(grid, extra):
        st = dict(st)
        if xy.shape[0] == 1:
            st.setdefault("marker", "o")
            ax.plot(xy[:, 0], xy[:, 1], ls="none", ms=9, mec="white", mew=1.0, zorder=5, **st)
        else:
            marker = st.pop("marker", None)
            ax.plot(xy[:, 0], xy[:, 1], marker=marker, ms=3, zorder=4, **st)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")


def _norm_values(values: np.ndarray, log: bool):
    """Values to colour and the matching norm; log clips at the smallest positive value."""
    v = np.asarray(values, np.float64)
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        raise ValueError("grid: holds no finite loss value to plot")
    if not log:
        return v, mcolors.Normalize(finite.min(), finite.max())
    pos = finite[finite > 0]
    lo = pos.min() if pos.size else 1e-12
    hi = finite.max() if finite.max() > lo else lo * 10  # a constant field still gets a valid norm
    return np.where(np.isfinite(v), np.maximum(v, lo), np.nan), mcolors.LogNorm(lo, hi)


def _log_colorbar_ticks(cb, lo: float, hi: float) -> None:
    """Readable ticks on a log colour bar from ``lo`` to ``hi``.

    Over three decades: one tick per decade (``10^k``); one to three decades:
    ``1, 2, 5 × 10^k`` written plainly (``0.2``, ``5``, ``20``); under one decade (where log ticks would read like
    ``1.02073×10^1`` or fall outside the bar): about five evenly spaced plain
    numbers. Minor ticks are never labelled.
    """
    ticker = matplotlib.ticker
    decades = np.log10(hi / lo)
    if decades > 3:
        cb.locator = ticker.LogLocator()
        cb.formatter = ticker.LogFormatterSciNotation()
    elif decades >= 1:
        cb.locator = ticker.LogLocator(subs=(1.0, 2.0, 5.0))
        cb.formatter = ticker.FuncFormatter(lambda x, _: f"{x:g}")
    else:
        cb.locator = ticker.MaxNLocator(nbins=5)
        cb.formatter = ticker.ScalarFormatter(useOffset=False)
    cb.update_ticks()
    cb.ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _check_2d(grid) -> None:
    if grid.ndim != 2:
        raise ValueError(f"grid: expected a 2D grid (two axes), got {grid.ndim}D; use plot.profile for 1D")
    if not grid.complete:
        raise ValueError(f"grid: only {grid.n_done} of {grid.values.size} points evaluated; resume it with slices.evaluate first")


# ----------------------------------------------------------------------------- figures


def contour(grid, *, filled: bool = True, log: bool = False, levels: int = 30, ax=None, overlays: Optional[dict] = None,
            title: Optional[str] = None, colorbar: bool = True):
    """Contour lines (``filled=False``) or a filled contour of a 2D grid.

    Args:
      grid: a complete 2D ``slices.Grid``.
      filled: filled contours with contour lines over them, or lines only.
      log: logarithmic colour scale (levels spaced geometrically).
      levels: number of levels.
      ax: draw into this Axes (default: a new figure).
      overlays: extra ``{name: xy}`` to draw.
      title: axes title.
      colorbar: add a colour bar.

    Returns:
      The Figure.
    """
    _check_2d(grid)
    with style():
        fig, ax = (plt.subplots(figsize=(5.6, 4.4)) if ax is None else (ax.figure, ax))
        u, v = grid.axes
        vals, norm = _norm_values(grid.values, log)
        lv = np.geomspace(norm.vmin, norm.vmax, levels) if log else np.linspace(norm.vmin, norm.vmax, levels)
        Z = vals.T  # values[i, j] is at (u_i, v_j); contour wants rows along v
        if filled:
            cs = ax.contourf(u, v, Z, levels=lv, norm=norm, cmap=CMAP, extend="neither")
            ax.contour(u, v, Z, levels=lv[:: max(1, levels // 10)], colors="k", linewidths=0.4, alpha=0.5, norm=norm)
        else:
            cs = ax.contour(u, v, Z, levels=lv, norm=norm, cmap=CMAP)
        if colorbar:
            cb = fig.colorbar(cs, ax=ax, label="loss" + (" (log scale)" if log else ""))
            if log:
                _log_colorbar_ticks(cb, norm.vmin, norm.vmax)
        names = _axis_names(grid)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        _draw_overlays_2d(ax, grid, overlays)
        ax.set_xlim(u[0], u[-1])
        ax.set_ylim(v[0], v[-1])
        if title:
            ax.set_title(title)
    return fig


def surface3d(grid, *, log: bool = False, ax=None, overlays: Optional[dict] = None, title: Optional[str] = None,
              elev: float = 30.0, azim: float = -60.0):
    """A 3D surface of a 2D grid; overlays with a third column are drawn at that
    height, others on the floor of the box.

    Args:
      log: plot ``log10`` of the loss.
      ax: a 3D Axes to draw into (default: a new figure).
      elev, azim: view angles.

    Returns:
      The Figure.
    """
    _check_2d(grid)
    with style():
        if ax is None:
            fig = plt.figure(figsize=(6.0, 4.8))
            ax = fig.add_subplot(projection="3d")
        fig = ax.figure
        u, v = grid.axes
        vals, norm = _norm_values(grid.values, log)
        f = np.log10 if log else (lambda x: x)
        Z = f(vals.T)
        U, V = np.meshgrid(u, v)
        ax.plot_surface(U, V, np.ma.masked_invalid(Z), cmap=CMAP, norm=mcolors.Normalize(np.nanmin(Z), np.nanmax(Z)),
                        rstride=max(1, len(v) // 60), cstride=max(1, len(u) // 60), linewidth=0, antialiased=True, alpha=0.9)
        floor = np.nanmin(Z)
        for _, xy, st in _overlays(grid, overlays):
            st = dict(st)
            z = f(np.maximum(xy[:, 2], norm.vmin)) if xy.shape[1] > 2 else np.full(len(xy), floor)
            marker = st.pop("marker", "o" if len(xy) == 1 else None)
            ax.plot(xy[:, 0], xy[:, 1], z, marker=marker, zorder=10, **st)
        names = _axis_names(grid)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_zlabel("log10 loss" if log else "loss")
        ax.view_init(elev=elev, azim=azim)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left")
        if title:
            ax.set_title(title)
    return fig


def profile(grids, *, labels: Optional[Sequence[str]] = None, log: bool = False, ax=None,
            marks: Optional[dict] = None, title: Optional[str] = None):
    """1D loss profiles (lines, interpolation/extrapolation) of one or more 1D grids.

    Args:
      grids: a 1D ``slices.Grid`` or a list of them.
      labels: one per grid (default: the grids' ``config["label"]`` or index).
      log: logarithmic loss axis.
      marks: ``{name: t}`` vertical markers (e.g. ``{"θ₀": 0, "θ₁": 1}``);
        1-point overlays stored in the grids are marked too.

    Returns:
      The Figure.
    """
    grids = [grids] if not isinstance(grids, (list, tuple)) else list(grids)
    with style():
        fig, ax = (plt.subplots(figsize=(5.6, 3.8)) if ax is None else (ax.figure, ax))
        for k, g in enumerate(grids):
            if g.ndim != 1:
                raise ValueError(f"grids[{k}]: expected a 1D grid, got {g.ndim}D; use plot.contour for 2D")
            if not g.complete:
                raise ValueError(f"grids[{k}]: incomplete; resume it with slices.evaluate first")
            lab = labels[k] if labels is not None else g.config.get("label", f"slice {k}")
            ax.plot(g.axes[0], g.values, label=lab)
        allm = dict(marks or {})
        for g in grids:
            for name, xy in g.overlays.items():
                xy = np.atleast_2d(xy)
                if xy.shape[0] == 1:
                    allm.setdefault(name, float(xy[0, 0]))
        for k, (name, t) in enumerate(allm.items()):
            ax.axvline(t, color="0.4", ls=":", lw=1)
            ax.annotate(name, (t, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=8)
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(_axis_names(grids[0])[0] if grids else "t")
        ax.set_ylabel("loss")
        if len(grids) > 1 or labels is not None:
            ax.legend(loc="best")
        if title:
            ax.set_title(title, pad=14)
    return fig


def figure5(grid, *, log: bool = False, title: Optional[str] = None):
    """The paper's Figure 5 panel for one activation: the ``(a, t)`` surface in
    3D with the valley in red, beside its filled contour.

    Args:
      grid: from ``landscape.experiments.valley_slice.figure5``.
    """
    _check_2d(grid)
    with style():
        fig = plt.figure(figsize=(11.0, 4.4))
        ax3 = fig.add_subplot(1, 2, 1, projection="3d")
        surface3d(grid, log=log, ax=ax3)
        ax2 = fig.add_subplot(1, 2, 2)
        contour(grid, log=True, ax=ax2)
        act = grid.config.get("activation", "")
        fig.suptitle(title or f"Figure 5 ({act}): t·θ̃(a) + (1−t)·θ(a, b), b = {grid.config.get('b', '')}; valley in red")
    return fig


# ----------------------------------------------------------------------------- the experiments' figures

TABLE3_COLORS = {"global": "#2b8cbe", "valley": "#e34a33", "other": "#fdbb84", "unconverged": "#bdbdbd", "diverged": "#252525"}
"""Colour of each Table 3 end-point label."""


def table3(result):
    """Table 3 as stacked bars: the outcome fractions per activation, Wilson 95%
    intervals on ``global`` and ``valley``, the paper's global fraction as a
    dashed black line.

    Args:
      result: a ``landscape.experiments.table3.Table3Result``.

    Returns:
      The Figure.
    """
    rows = result.to_dict()["activations"]  # counts, fractions and Wilson intervals, as the result states them
    acts = list(rows)
    labels = list(rows[acts[0]]["counts"])
    fig, ax = plt.subplots(figsize=(1.6 * len(acts) + 2.5, 4.0))
    x = np.arange(len(acts))
    bottom = np.zeros(len(acts))
    for lab in labels:
        frac = np.array([rows[a]["fractions"][lab] for a in acts])
        ax.bar(x, frac, 0.6, bottom=bottom, color=TABLE3_COLORS.get(lab), label=lab, edgecolor="white", linewidth=0.5)
        if lab in ("global", "valley"):
            ci = np.array([rows[a]["wilson95"][lab] for a in acts])
            ax.errorbar(x + (0.12 if lab == "valley" else -0.12), bottom + frac, yerr=[frac - ci[:, 0], ci[:, 1] - frac],
                        fmt="none", ecolor="k", elinewidth=0.8, capsize=2)
        bottom += frac
    for i, a in enumerate(acts):
        if rows[a].get("paper"):
            ax.plot([i - 0.3, i + 0.3], [rows[a]["paper"]["global"] / 100] * 2, "k--", lw=1.2)
    ax.plot([], [], "k--", lw=1.2, label="paper: global fraction")
    ax.set_xticks(x, acts)
    ax.set_ylabel("fraction of trials")
    ax.set_ylim(0, 1)
    cfg = result.config
    ax.set_title(f"Table 3: {cfg.n_trials} GD trials/activation, lr {cfg.learning_rate}, {cfg.max_steps} steps ({cfg.loss})", fontsize=9)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def figure3(result):
    """Figure 3: ``L − L*`` on a log scale, one panel per experiment; values below
    the dtype's resolution ``eps·L*`` are drawn at that floor (dotted line).

    Args:
      result: a ``landscape.experiments.deep_linear.Fig3Result``.

    Returns:
      The Figure.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    eps = np.finfo(result.config.get("dtype", "float32")).eps
    for ax, (name, p) in zip(axes, (("(a) first layer sparse, d_y=10", result.a), ("(b) all layers sparse, d_y=1", result.b))):
        floor = eps * float(np.max(p.loss_star))  # below this, L − L* is round-off of the loss itself
        for i, d in enumerate(p.densities):
            eff = f" (eff. {p.effective_density[i]:.2f})" if name.startswith("(b)") else ""
            ax.semilogy(p.history_steps, np.maximum(p.gap[i], floor), label=f"{d:g}" + eff)
        ax.axhline(floor, color="gray", ls=":", lw=1, label="round-off (eps·L*)")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 3))
        ax.set_title(name)
        ax.set_xlabel("GD step")
        ax.set_ylabel("L − L*")
        ax.legend(title="density", fontsize=8)
    fig.tight_layout()
    return fig


def figure4(result):
    """Figure 4: loss (log scale) on top, the rank of every hidden layer's output
    below; one column per activation, one colour per density (darker: deeper layer).

    As in the paper ("we rescale the epochs by total epochs"), each density is drawn
    against ``step / (its own total steps)``, so runs that stopped at different steps
    share one axis; the legend gives each run's total steps and, when it stopped at
    the cap rather than the target loss, says so (dashed line).

    Args:
      result: a ``landscape.experiments.deep_nonlinear.Fig4Result``.

    Returns:
      The Figure.
    """
    k = len(result.runs)
    fig, axes = plt.subplots(2, k, figsize=(5 * k, 7), squeeze=False)
    for c, r in enumerate(result.runs):
        for i, d in enumerate(result.densities):
            ok = np.isfinite(r.history[i])
            steps = np.asarray(r.history_steps)[ok]
            total = float(r.total_steps[i]) if r.total_steps is not None else float(steps[-1])
            status = str(r.status[i]) if r.status is not None else "cap"
            style = "--" if status != "target" else "-"
            axes[0, c].semilogy(steps / total, np.maximum(r.history[i][ok], np.finfo(float).tiny), style, color=f"C{i}",
                                label=f"{d:g}: {int(total):,} steps" + ("" if status == "target" else f" ({status})"))
            okr = np.isfinite(np.asarray(r.rank[i], np.float64)[:, 0])
            for l in range(r.rank.shape[-1]):
                axes[1, c].plot(np.asarray(r.rank_steps)[okr] / total, np.asarray(r.rank[i])[okr, l], marker=".",
                                color=f"C{i}", alpha=0.4 + 0.6 * (l + 1) / r.rank.shape[-1], label=f"{d:g}-L{l + 1}")
        axes[0, c].set_title(f"{r.activation}: loss")
        axes[0, c].legend(title="density", fontsize=8)
        axes[1, c].set_title(f"{r.activation}: rank of hidden outputs")
        axes[1, c].set_xlabel("step / total steps of the run")
        axes[1, c].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def path_report(report):
    """The loss along a verified path (top) and its gap to the infimum on a log
    scale (bottom); segment boundaries as grey lines. The title states the
    verdict of ``paths.verify`` with its evidence, and the rise bound (certified) or the
    largest sampled rise.

    Args:
      report: a ``landscape.paths.PathReport``.

    Returns:
      The Figure.
    """
    fig, (ax, gx) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, constrained_layout=True)
    ax.plot(report.s, report.losses, lw=1.5)
    if np.isfinite(report.infimum):
        ax.axhline(report.infimum, color="k", ls="--", lw=1, label=f"infimum {report.infimum:.6g}")
        gap = np.maximum(report.losses - report.infimum, 1e-17)
        gx.semilogy(report.s, gap, lw=1.5)
        gx.set_ylabel("loss − infimum")
        ax.legend(loc="upper right")
    for k in range(len(report.labels) + 1):
        for a in (ax, gx):
            a.axvline(k, color="0.8", lw=0.8, zorder=0)
    ax.set_ylabel("loss (½ sum)")
    gx.set_xlabel("position s along the path (segment k = [k, k+1])")
    verdict = getattr(report, "verdict", "") or ("no rise seen" if report.max_increase <= report.rise_tol else "FAIL")
    evidence = getattr(report, "evidence", "sampled")
    bound = getattr(report, "rise_bound", float("nan"))
    rise = f"rise bound {bound:.2g}" if evidence == "certified" and np.isfinite(bound) else \
        f"max sampled rise {report.max_increase:.2g}"
    ax.set_title(f"{verdict} [{evidence}] {report.theorem}: {rise}")
    return fig


# ----------------------------------------------------------------------------- the atlas

ATLAS_KIND_COLORS = {"dense": "#2b8cbe", "SD": "#31a354", "SS": "#e34a33", "DS": "#756bb1"}
"""Colour of each network class in the atlas figures."""
ATLAS_TYPE_COLORS = {"strict_minimum": "#a50f15", "valley": "#e34a33", "saddle": "#fdbb84", "undecided": "#9e9ac8",
                     "unconverged": "#bdbdbd", "diverged": "#252525"}
"""Colour of each end-point type in ``atlas_spurious``."""


def _atlas_rows(result):
    """Per activation: the structures' result dicts in plotting order (dense, SD, SS, DS; then index)."""
    rows = {}
    order = {k: i for i, k in enumerate(ATLAS_KIND_COLORS)}
    for r in result.to_dict()["structures"]:
        rows.setdefault(r["activation"], []).append(r)
    return {a: sorted(rs, key=lambda r: (order.get(r["kind"], 9), r["index"])) for a, rs in rows.items()}


def _kind_bands(ax, rs) -> None:
    """Separators and labels of the dense / SD / SS / DS groups along x."""
    kinds = [r["kind"] for r in rs]
    start = 0
    for i in range(1, len(kinds) + 1):
        if i == len(kinds) or kinds[i] != kinds[start]:
            ax.axvline(i - 0.5, color="0.85", lw=0.8, zorder=0)
            ax.text((start + i - 1) / 2, 1.02, f"{kinds[start]} ({i - start})", ha="center", va="bottom",
                    transform=ax.get_xaxis_transform(), fontsize=8, color=ATLAS_KIND_COLORS.get(kinds[start], "k"))
            start = i


def _atlas_axes(rows: dict):
    """One panel per activation, as wide as the number of structures asks."""
    width = max(6.0, 0.03 * max(len(r) for r in rows.values()) + 5)
    return plt.subplots(len(rows), 1, figsize=(width, 3.2 * len(rows)), squeeze=False, constrained_layout=True)


def atlas_p_global(result):
    """P(global) per structure with its Wilson 95% interval, grouped by network class (dense / SD / SS / DS),
    one panel per activation; Eq. (3)'s structure is marked, structures whose global value is the proved
    infimum are drawn filled, those with only a best-found value hollow.

    Args:
      result: a ``landscape.atlas.AtlasResult``.

    Returns:
      The Figure.
    """
    rows = _atlas_rows(result)
    fig, axes = _atlas_axes(rows)
    for ax, (act, rs) in zip(axes[:, 0], rows.items()):
        x = np.arange(len(rs))
        p = np.array([r["p_global"] for r in rs])
        ci = np.array([r["ci"] for r in rs])
        colors = [ATLAS_KIND_COLORS.get(r["kind"], "k") for r in rs]
        ax.errorbar(x, p, yerr=[p - ci[:, 0], ci[:, 1] - p], fmt="none", ecolor="0.6", elinewidth=0.7, capsize=0)
        proved = np.array([r["global_value"]["evidence"] == "proved" for r in rs])
        ax.scatter(x[~proved], p[~proved], s=12, facecolors="none", edgecolors=np.array(colors)[~proved], lw=0.8,
                   label="global value: best found")
        if proved.any():
            ax.scatter(x[proved], p[proved], s=18, c=np.array(colors)[proved], label="global value: proved infimum")
        for i, r in enumerate(rs):
            if r.get("eq3"):
                ax.annotate("Eq. (3)", (i, p[i]), xytext=(4, 8), textcoords="offset points", fontsize=8)
        _kind_bands(ax, rs)
        ax.set_xlim(-1, len(rs))
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("P(global)")
        ax.set_xlabel("structure (grouped by class)")
        ax.set_title(f"{act}: fraction of {rs[0]['n_trials']} trials reaching the global value (Wilson 95%)", fontsize=9,
                     pad=14)
        ax.legend(loc="lower left", fontsize=7)
    return fig


def atlas_spurious(result):
    """Where the trials that missed the global value ended, per structure: stacked fractions of trials by
    end-point type (strict minimum, valley, saddle, undecided, unconverged, diverged), grouped by network
    class; a star marks a valley proved by Theorem 6.

    Args:
      result: a ``landscape.atlas.AtlasResult``.

    Returns:
      The Figure.
    """
    rows = _atlas_rows(result)
    fig, axes = _atlas_axes(rows)
    for ax, (act, rs) in zip(axes[:, 0], rows.items()):
        x = np.arange(len(rs))
        bottom = np.zeros(len(rs))
        for typ, color in ATLAS_TYPE_COLORS.items():
            frac = np.array([sum(p["count"] for p in r["spurious"] if p["type"] == typ) / r["n_trials"] for r in rs])
            if frac.any():
                ax.bar(x, frac, 0.9, bottom=bottom, color=color, label=typ.replace("_", " "), linewidth=0)
            bottom += frac
        for i, r in enumerate(rs):
            if any(p["type"] == "valley" and p["evidence"] == "proved" for p in r["spurious"]):
                ax.plot(i, bottom[i] + 0.04, marker="*", color="k", ms=9)
        ax.plot([], [], "k*", ms=8, ls="none", label="valley proved (Theorem 6)")
        _kind_bands(ax, rs)
        ax.set_xlim(-1, len(rs))
        ax.set_ylim(0, 1.1)
        ax.set_ylabel("fraction of trials")
        ax.set_xlabel("structure (grouped by class)")
        ax.set_title(f"{act}: end points other than the global value, by type", fontsize=9, pad=14)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    return fig
