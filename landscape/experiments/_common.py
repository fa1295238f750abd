"""The glue every experiment shares: per-trial masks, per-case seeds, output files, the CLI runner.

* ``stack_masks``: a list of masks -> one mask pytree with a leading trial axis
  (``trials.train(masks=...)`` then trains every case in one program).
* ``case_seed``: the seed of case ``i`` (a density, a level) of a run seeded
  with ``seed``; the one rule every experiment uses.
* ``add_output_arguments`` / ``add_preset_arguments``: the shared CLI options
  (``--out``, ``--overwrite``, ``--no-progress``; ``--quick``/``--full``, ...), and the
  argument types that validate while parsing (``seed_arg``, ``count_arg``, ``positive_arg``,
  ``real_arg``, ``activation_arg``, ``activation_list``).
* ``run_command``: the CLI runner: the output folder checked before any computation
  (``prepare_folder``: writable, and holding no results of other settings unless
  ``--overwrite``; the run record ``<command>.run.json``), progress (tqdm bars on a
  terminal, plain lines in a log), the run (Ctrl-C: stops within a second, says how to
  resume), saving (results through their ``save``, figures through ``landscape.plot``), the
  printed summary.
* JSON summaries beside the results are written by ``io.write_json``.

Figures are drawn only by ``landscape.plot`` (imported when a command writes
one), so importing an experiment never touches matplotlib.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import shlex
import sys
import threading
import time
from typing import Any, Callable, Iterator, Optional, Sequence

import jax
import numpy as np

from landscape import io, validate

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


# ----------------------------------------------------------------------------- CLI argument types
# argparse calls these on the text of an option; a refusal becomes one line,
# "landscape <command>: error: argument --seed: expected an integer in [0, 2**32), got '-1'".


def _arg_type(parse: Callable, check: Callable, what: str) -> Callable:
    def convert(text):
        try:
            value = parse(text)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check(value)
        except (ValueError, TypeError) as e:
            raise argparse.ArgumentTypeError(str(e).removeprefix("value: ")) from None

    convert.__name__ = what  # argparse names the type in some messages
    return convert


seed_arg = _arg_type(int, lambda v: validate.seed(v, "value"), "an integer in [0, 2**32)")
"""A seed option: an integer in ``[0, 2**32)``."""


def count_arg(low: int = 1) -> Callable:
    """An integer option ``>= low``."""
    return _arg_type(int, lambda v: validate.integer(v, "value", low=low), f"an integer >= {low}")


def positive_arg(text):
    """A finite number ``> 0`` (a learning rate, a scale)."""
    return _arg_type(float, lambda v: validate.positive(v, "value"), "a finite number > 0")(text)


def real_arg(text):
    """A finite number."""
    return _arg_type(float, lambda v: validate.real(v, "value"), "a finite number")(text)


def nonnegative_arg(text):
    """A finite number ``>= 0`` (a target loss; 0 may mean "off")."""
    return _arg_type(float, lambda v: validate.nonnegative(v, "value"), "a finite number >= 0")(text)


def density_arg(text):
    """A density in ``(0, 1]``."""
    return _arg_type(float, lambda v: validate.real(v, "value", low=0.0, high=1.0, low_open=True),
                     "a number in (0, 1]")(text)


def activation_arg(text):
    """One activation name (``landscape.ACTIVATIONS``)."""
    from landscape.activations import ACTIVATIONS

    if text not in ACTIVATIONS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(sorted(ACTIVATIONS))}, got {text!r}")
    return text


def activation_list(text):
    """Comma-separated activation names, at least one, each once (``tanh,relu``)."""
    names = tuple(a.strip() for a in text.split(","))
    if not names or any(not a for a in names):
        raise argparse.ArgumentTypeError(f"expected comma-separated activation names such as tanh,relu, got {text!r}")
    for a in names:
        activation_arg(a)
    try:
        return validate.one_of_each(names, "value")
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("value: ")) from None


# ----------------------------------------------------------------------------- CLI options


def add_output_arguments(p: argparse.ArgumentParser, default: str, files: str = "", *, progress: bool = True) -> None:
    """``--out`` (the output folder), ``--overwrite`` and (with ``progress``) ``--no-progress``."""
    p.add_argument("--out", default=default, help=f"output folder{f' ({files})' if files else ''} (default %(default)s); "
                   "checked before the run: writable, and holding no results of other settings unless --overwrite")
    p.add_argument("--overwrite", action="store_true",
                   help="replace results in --out that were computed with other settings (refused otherwise)")
    if progress:
        p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_preset_arguments(p: argparse.ArgumentParser, name: str) -> None:
    """The CLI options shared by the preset experiments (``fig3``, ``fig4``)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_const", const="quick", dest="preset", help="small net, seconds (CI)")
    g.add_argument("--full", action="store_const", const="full", dest="preset", help="the paper's sizes (default)")
    p.add_argument("--steps", type=count_arg(1), help="GD steps (overrides the preset)")
    p.add_argument("--seed", type=seed_arg, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    add_output_arguments(p, f"results/{name}", f"{name}.npz, {name}.png")


# ----------------------------------------------------------------------------- output files


def output_folder(out, name: str = "--out") -> str:
    """Creates the output folder ``out`` (with parents) and returns its path.

    Raises:
      TypeError, ValueError: ``out`` is empty, an existing file, under a file or not
        writable (``validate.output_folder``).
    """
    return validate.output_folder(out, name, create=True)


def save_figure(fig, path: str) -> str:
    """Writes a figure of ``landscape.plot`` to ``path`` (PNG or PDF by its suffix) and closes it."""
    from landscape import plot

    return plot.save(fig, path)[0]


# ----------------------------------------------------------------------------- progress and the runner


PROGRESS_INTERVAL = 10.0
"""Seconds between two plain progress lines (when the progress stream is not a terminal)."""


@contextlib.contextmanager
def progress_bars(parts: Sequence[str], total: int, *, unit: str = "step", enabled: bool = True, label: str = "",
                  stream=None, interval: Optional[float] = None) -> Iterator[Callable]:
    """Progress of each part (an activation, a panel), each counting to ``total``.

    On a terminal: tqdm bars. Otherwise (a log file, a pipe, CI) bars would fill the log with
    carriage returns, so plain lines are printed instead, one per part at most every
    ``interval`` seconds (``PROGRESS_INTERVAL``) and when a part completes::

        table3 tanh: 25000/50000 steps (50%), stopped=3/100 [12 s]

    Args:
      label: the command name, the first word of a plain line.
      stream: where progress goes (default ``sys.stderr``, so that stdout holds the results).

    Yields:
      ``update(part, done, **postfix)``: sets that part to ``done`` (absolute, not an
      increment) with an optional postfix; a no-op when ``enabled`` is False. Thread-safe.
    """
    stream = sys.stderr if stream is None else stream
    if not enabled or not parts:
        yield lambda part, done, **postfix: None
        return
    width = max(len(p) for p in parts)
    if _is_terminal(stream):
        from tqdm.auto import tqdm

        bars = {p: tqdm(total=total, desc=f"{p:<{width}}", unit=unit, leave=True, position=i, file=stream)
                for i, p in enumerate(parts)}
        lock = threading.Lock()

        def update(part, done, **postfix):
            bar = bars.get(part)
            if bar is not None:
                with lock:
                    bar.n = min(int(done), total)
                    if postfix:
                        bar.set_postfix(**postfix, refresh=False)
                    bar.refresh()

        try:
            yield update
        finally:
            for bar in bars.values():
                bar.close()
        return

    interval = PROGRESS_INTERVAL if interval is None else interval
    t0 = time.monotonic()
    last = {p: -math.inf for p in parts}
    finished = set()
    lock = threading.Lock()
    digits = len(str(total))

    def line(part, done, **postfix):
        done = min(int(done), total)
        now = time.monotonic()
        with lock:
            complete = done >= total
            if part not in last or (now - last[part] < interval and not (complete and part not in finished)):
                return
            last[part] = now
            if complete:
                finished.add(part)
            extra = "".join(f", {k}={v}" for k, v in postfix.items())
            pct = 100.0 * done / total if total else 100.0
            print(f"{(label + ' ') if label else ''}{part:<{width}}: {done:>{digits}}/{total} {unit}s ({pct:.0f}%){extra} "
                  f"[{now - t0:.0f} s]", file=stream, flush=True)

    yield line


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------- the output folder, before any computation

NOT_SETTINGS = frozenset({"out", "overwrite", "no_progress", "checkpoint", "command", "denominator",
                          "coordinator", "num_processes", "process_id", "distributed"})
"""Options that do not change what a command computes (nor the files' content): a rerun that
differs only in these is the same run: the process count of a multi-process run is none either, since
results do not depend on it. (Attributes starting with ``_`` are never settings.)"""


def command_settings(args) -> dict:
    """What a command computes from: its parsed options, less ``NOT_SETTINGS``."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in NOT_SETTINGS and not k.startswith("_")}


def run_record_path(folder: str, command: str) -> str:
    """``<folder>/<command>.run.json``: the command, its settings and the files it wrote."""
    return os.path.join(folder, f"{command}.run.json")


def prepare_folder(args, command: str, outputs: Sequence[str]) -> tuple:
    """Checks ``--out`` before any computation; returns ``(folder, replace)``.

    The folder must be creatable and writable and must not be a file. Its run record
    (``<command>.run.json``) says which settings its results were computed with: when
    they differ from this run's and some of ``outputs`` exist, the run is refused (naming
    the settings that differ) unless ``--overwrite``; results of the same settings may be
    replaced by the rerun (and checkpoints resumed). Files of ``outputs`` in a folder without
    a run record (another version, a user's own files) are refused unless ``--overwrite``.
    The record of this run is written before it starts (status ``running``) and completed by
    ``finish_folder``.

    Args:
      outputs: the file names (in the folder) the command may write, checkpoints included.

    Returns:
      ``(folder, replace)``: ``replace`` tells the writers they may replace existing files.

    Raises:
      TypeError, ValueError: a bad ``--out``. FileExistsError: results of other settings.
    """
    folder = validate.output_folder(getattr(args, "out", None), "--out")
    overwrite = bool(getattr(args, "overwrite", False))
    settings = json.loads(io.to_json(command_settings(args)))
    record_path = run_record_path(folder, command)
    old = None
    if os.path.exists(record_path):
        try:
            with open(record_path) as f:
                old = json.load(f)
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            old = {"unreadable": f"{type(e).__name__}: {e}"}
    existing = sorted(f for f in outputs if os.path.exists(os.path.join(folder, f)))
    same = old is not None and old.get("command") == command and io.to_json(old.get("settings"), sort_keys=True) == \
        io.to_json(settings, sort_keys=True)
    if existing and not same and not overwrite:
        listed = ", ".join(existing[:4]) + (", ..." if len(existing) > 4 else "")
        if old is None:
            why = f"from a run without a record ({os.path.basename(record_path)} is missing)"
        elif "unreadable" in old:
            why = f"and an unreadable {os.path.basename(record_path)} ({old['unreadable']})"
        else:
            diffs = io.differences(old.get("settings") or {}, settings)
            why = f"of other settings ({'; '.join(diffs[:6]).replace(' in the file,', ' there,')})"
        raise FileExistsError(f"--out: {folder} holds {listed} {why}; pass --overwrite to replace them (each old file "
                              "stays until its new one is complete), or choose another folder")
    os.makedirs(folder, exist_ok=True)
    record = {"command": command, "settings": settings, "argv": _command_line(args), "status": "running",
              "started": datetime.datetime.now().isoformat(timespec="seconds"), "versions": io.versions()}
    if old is not None and not same:
        record["replaces"] = old  # until this run completes
    io.write_json(record_path, record, overwrite=True)
    return folder, same or overwrite


def finish_folder(args, command: str, folder: str, files: Sequence[str], seconds: float) -> str:
    """Completes the run record: status ``complete``, the files written, the time taken."""
    path = run_record_path(folder, command)
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = {"command": command, "settings": json.loads(io.to_json(command_settings(args)))}
    record.pop("replaces", None)
    record.update(status="complete", finished=datetime.datetime.now().isoformat(timespec="seconds"),
                  seconds=round(seconds, 3), files=[os.path.relpath(str(f), folder) for f in files])
    return io.write_json(path, record, overwrite=True)


def _command_line(args) -> str:
    argv = getattr(args, "_argv", None)
    return "landscape " + shlex.join(argv) if argv is not None else "landscape " + str(getattr(args, "command", ""))


# ----------------------------------------------------------------------------- Ctrl-C

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells do."""


def interrupted(args, resume: str, worker: Optional[threading.Thread] = None):
    """Ends the process after Ctrl-C: stops the engine, says what was kept and how to resume, exits 130.

    Every ``trials.train`` stops at its next wait (``trials.STOP``); a file being written is
    finished first (``io.WRITE_LOCK``; every write is atomic, so a checkpoint is always the
    last completed chunk); then the process ends at once with ``os._exit`` -- a computation
    still running inside XLA cannot hold the exit up.
    """
    from landscape import trials

    t0 = time.monotonic()
    trials.STOP.set()
    if worker is not None:
        worker.join(0.5)
    got_lock = io.WRITE_LOCK.acquire(timeout=max(0.1, 1.2 - (time.monotonic() - t0)))
    lines = [f"landscape {getattr(args, 'command', '')}: interrupted."]
    if resume:
        lines.append(resume)
    lines.append(f"To resume, run the same command again: {_command_line(args)}")
    try:
        print("\n".join(lines), file=sys.stderr, flush=True)
        sys.stdout.flush()
    finally:
        if got_lock:
            io.WRITE_LOCK.release()
        os._exit(EXIT_INTERRUPTED)


def _run_interruptibly(args, fn: Callable, resume: str):
    """``fn()`` in a worker thread while this (the main) thread waits in short, interruptible joins.

    A wait inside JAX (compiling, a blocking read) is C++ that Python cannot interrupt; the
    main thread only waits here, so Ctrl-C reaches it at once wherever the computation is.
    """
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            box["error"] = e

    worker = threading.Thread(target=target, name="landscape-run", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        interrupted(args, resume, worker)
    if "error" in box:
        raise box["error"]
    return box["result"]


def run_command(args, name: str, *, compute: Callable[[Callable], Any], write: Callable[..., list],
                summary: Callable[[Any], str], parts: Sequence[str] = (), total: int = 0, unit: str = "step",
                outputs: Sequence[str] = (), resume: str = "") -> Any:
    """Runs an experiment from the command line: the one place that handles ``--out``.

    1. checks the output folder ``args.out`` before any computation (``prepare_folder``:
       writable, not a file, no results of other settings unless ``--overwrite``);
    2. ``compute(update)`` with progress (one bar or line per entry of ``parts``, unless
       ``args.no_progress``); ``update(part, done, **postfix)`` moves one. It runs in a
       worker thread so that Ctrl-C is handled at once (``interrupted``: prints ``resume``
       and how to rerun, exits 130);
    3. ``write(result, folder, overwrite=...)`` saves the results and figures and returns
       the paths written (``overwrite`` is true for a rerun of the same settings or with
       ``--overwrite``);
    4. prints ``summary(result)`` and the files written; completes the run record.

    In a multi-process run (``landscape.distributed``) every process computes (the work is split
    inside ``trials.train`` / ``evaluate_points`` / ``slices.evaluate``); process 0 alone checks
    the folder's record (its verdict is every process's), writes, prints and keeps the record.

    Args:
      outputs: every file name the command may write into the folder (checkpoints included).
      resume: what an interrupted run leaves behind (printed after Ctrl-C).

    Returns:
      The result of ``compute``.
    """
    from landscape import distributed

    if distributed.process_count() > 1:  # process 0 checks the folder and keeps its record; its verdict for all

        def local_folder():  # every process's checkpoint shards go there (an error here reaches every process)
            path = validate.output_folder(getattr(args, "out", None), "--out")
            os.makedirs(path, exist_ok=True)
            return path

        replace = distributed.on_main(lambda: prepare_folder(args, name, outputs), f"folder {name}")[1]
        folder = distributed.collect(local_folder, f"folder {name} everywhere")[distributed.process_index()]
    else:
        folder, replace = prepare_folder(args, name, outputs)
    t0 = time.perf_counter()
    with progress_bars(parts, total, unit=unit, enabled=not getattr(args, "no_progress", False), label=name) as update:
        result = _run_interruptibly(args, lambda: compute(update), resume)
    if not distributed.is_main():  # every process holds the result; process 0 alone writes and prints it
        return result
    files = write(result, folder, overwrite=replace)
    text = summary(result)
    if text:
        print(text)
    seconds = time.perf_counter() - t0
    finish_folder(args, name, folder, files, seconds)
    print(f"{name}: {seconds:.1f} s; wrote {', '.join(str(f) for f in files)}")
    return result


def train_progress(update: Callable) -> Callable[[str, dict], None]:
    """``hook(part, info)`` for experiments that pass on ``trials.train``'s
    progress dicts: moves ``part``'s bar to the steps done, stopped trials as postfix."""
    return lambda part, info: update(part, info["steps_done"], stopped=f"{info['n_stopped']}/{info['batch_trials']}")
