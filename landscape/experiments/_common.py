"""The glue every experiment shares: per-trial masks, per-case seeds, output files, the CLI runner.

* ``stack_masks``: a list of masks -> one mask pytree with a leading trial axis
  (``trials.train(masks=...)`` then trains every case in one program).
* ``case_seed``: the seed of case ``i`` (a density, a level) of a run seeded
  with ``seed``; the one rule every experiment uses.
* ``add_output_arguments`` / ``add_preset_arguments``: the shared CLI options
  (``--out``, ``--overwrite``, ``--no-progress``; ``--quick``/``--full``, ...).
* ``run_command``: the CLI runner: output folder, tqdm progress bars, the run,
  saving (results through their ``save``, figures through ``landscape.plot``),
  the printed summary.
* ``write_json``: a JSON summary beside the results, replaced only when it
  describes the same settings (or with ``overwrite``).

Figures are drawn only by ``landscape.plot`` (imported when a command writes
one), so importing an experiment never touches matplotlib.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from typing import Any, Callable, Iterator, Sequence

import jax
import numpy as np

from landscape import io

SEEDS_PER_RUN = 1000
"""Cases per run seed that ``case_seed`` keeps apart (``0 <= i < SEEDS_PER_RUN``)."""


def stack_masks(masks_list: Sequence) -> Any:
    """Stacks per-trial masks into one mask pytree with a leading trial axis.

    Args:
      masks_list: ``k >= 1`` masks of the same structure and shapes (e.g.
        tuples of ``{"W": (out, in)}`` dicts, one per density).

    Returns:
      The same structure with NumPy leaves of shape ``(k, out, in)``:
      ``trials.train(net, X, Y, masks=stacked, n_trials=k)`` trains case ``i``
      with ``masks_list[i]``.

    Raises:
      ValueError: an empty list, or masks of different structures or shapes
        (naming the first one that differs).
    """
    masks_list = list(masks_list)
    if not masks_list:
        raise ValueError("masks_list: expected at least one mask, got an empty list")
    ref = jax.tree.structure(masks_list[0])
    shapes = [np.shape(a) for a in jax.tree.leaves(masks_list[0])]
    for i, m in enumerate(masks_list[1:], start=1):
        if jax.tree.structure(m) != ref:
            raise ValueError(f"masks_list[{i}]: structure {jax.tree.structure(m)} differs from masks_list[0]'s {ref}")
        other = [np.shape(a) for a in jax.tree.leaves(m)]
        if other != shapes:
            raise ValueError(f"masks_list[{i}]: leaf shapes {other} differ from masks_list[0]'s {shapes}")
    return jax.tree.map(lambda *leaves: np.stack([np.asarray(a) for a in leaves]), *masks_list)


def case_seed(seed: int, i: int) -> int:
    """The integer seed of case ``i`` (a density, a level) of a run seeded with ``seed``.

    The rule is ``seed * 1000 + i``: distinct for distinct ``(seed, i)`` as long
    as ``0 <= i < 1000``, and the rule of landscape 0.1, so the masks (and the
    figures) of earlier runs are reproduced exactly. (Trial keys are a separate
    matter: ``fold_in(key(seed), trial_id)`` inside ``trials.train``.)

    Raises:
      TypeError: a non-integer argument.
      ValueError: ``i`` outside ``[0, 1000)``.
    """
    for name, v in (("seed", seed), ("i", i)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected an integer, got {v!r}")
    if not 0 <= i < SEEDS_PER_RUN:
        raise ValueError(f"i: expected 0 <= i < {SEEDS_PER_RUN} (cases per run seed), got {i}")
    return int(seed) * SEEDS_PER_RUN + int(i)


# ----------------------------------------------------------------------------- CLI options


def add_output_arguments(p: argparse.ArgumentParser, default: str, files: str = "", *, progress: bool = True) -> None:
    """``--out`` (the output folder), ``--overwrite`` and (with ``progress``) ``--no-progress``."""
    p.add_argument("--out", default=default, help=f"output folder{f' ({files})' if files else ''} (default %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace results in --out that were computed with other settings (refused otherwise)")
    if progress:
        p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_preset_arguments(p: argparse.ArgumentParser, name: str) -> None:
    """The CLI options shared by the preset experiments (``fig3``, ``fig4``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", const="quick", dest="preset", help="small net, seconds (CI)")
    g.add_argument("--full", action="store_const", const="full", dest="preset", help="the paper's sizes (default)")
    p.add_argument("--steps", type=int, help="GD steps (overrides the preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    add_output_arguments(p, f"results/{name}", f"{name}.npz, {name}.png")


# ----------------------------------------------------------------------------- output files


def output_folder(out) -> str:
    """Creates the output folder ``out`` (with parents) and returns its path.

    Raises:
      ValueError: ``out`` is empty or names an existing file.
    """
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
        raise ValueError(f"--out: expected a folder name, got {out!r}")
    out = os.fspath(out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out: {out!r} is a file; expected a folder")
    os.makedirs(out, exist_ok=True)
    return out


def write_json(path: str, obj: dict, *, settings_key: str = "config", overwrite: bool = False) -> str:
    """Writes ``obj`` as indented JSON (atomically).

    An existing file is replaced only when its ``obj[settings_key]`` is the same
    (the same settings recomputed) or with ``overwrite``: nothing saved is
    replaced silently.

    Raises:
      FileExistsError: the file holds a summary of other settings (naming it).
    """
    if os.path.exists(path) and not overwrite:
        try:
            with open(path) as f:
                old = json.load(f).get(settings_key)
        except (OSError, ValueError, AttributeError):
            old = None
        new = json.loads(io.to_json(obj.get(settings_key)))
        if old is None or io.to_json(old, sort_keys=True) != io.to_json(new, sort_keys=True):
            raise FileExistsError(f"{path}: exists and describes other settings; pass overwrite=True (CLI: --overwrite) "
                                  "to replace it, or choose another folder")
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(io.to_json(obj, indent=1))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save_figure(fig, path: str) -> str:
    """Writes a figure of ``landscape.plot`` to ``path`` (PNG or PDF by its suffix) and closes it."""
    from landscape import plot

    return plot.save(fig, path)[0]


# ----------------------------------------------------------------------------- progress and the runner


@contextlib.contextmanager
def progress_bars(parts: Sequence[str], total: int, *, unit: str = "step", enabled: bool = True) -> Iterator[Callable]:
    """tqdm bars, one per part (an activation, a panel), each counting to ``total``.

    Yields:
      ``update(part, done, **postfix)``: sets that bar to ``done`` (absolute, not
      an increment) with an optional postfix; a no-op when ``enabled`` is False.
    """
    if not enabled or not parts:
        yield lambda part, done, **postfix: None
        return
    from tqdm.auto import tqdm

    width = max(len(p) for p in parts)
    bars = {p: tqdm(total=total, desc=f"{p:<{width}}", unit=unit, leave=True, position=i) for i, p in enumerate(parts)}

    def update(part, done, **postfix):
        bar = bars.get(part)
        if bar is not None:
            bar.n = min(int(done), total)
            if postfix:
                bar.set_postfix(**postfix, refresh=False)
            bar.refresh()

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.close()


def run_command(args, name: str, *, compute: Callable[[Callable], Any], write: Callable[..., list],
                summary: Callable[[Any], str], parts: Sequence[str] = (), total: int = 0, unit: str = "step") -> Any:
    """Runs an experiment from the command line: the one place that handles ``--out``.

    1. creates the output folder ``args.out`` (before the run: a bad folder fails fast);
    2. ``compute(update)`` with tqdm bars (one per entry of ``parts``, unless
       ``args.no_progress``); ``update(part, done, **postfix)`` moves a bar;
    3. ``write(result, folder, overwrite=args.overwrite)`` saves the results
       and figures and returns the paths written;
    4. prints ``summary(result)`` and the files written.

    Returns:
      The result of ``compute``.
    """
    folder = output_folder(args.out)
    t0 = time.perf_counter()
    with progress_bars(parts, total, unit=unit, enabled=not getattr(args, "no_progress", False)) as update:
        result = compute(update)
    files = write(result, folder, overwrite=bool(getattr(args, "overwrite", False)))
    text = summary(result)
    if text:
        print(text)
    print(f"{name}: {time.perf_counter() - t0:.1f} s; wrote {', '.join(str(f) for f in files)}")
    return result


def train_progress(update: Callable) -> Callable[[str, dict], None]:
    """``hook(part, info)`` for experiments that pass on ``trials.train``'s
    progress dicts: moves ``part``'s bar to the steps done, stopped trials as postfix."""
    return lambda part, info: update(part, info["steps_done"], stopped=f"{info['n_stopped']}/{info['batch_trials']}")
