"""``landscape <experiment> ...``: the command line. It only calls the Python API.

Each experiment module in ``landscape.experiments`` that is listed in
``COMMANDS`` provides ``add_arguments(parser)`` and ``main(args) -> int``.

One error handler for every command: a bad argument, a bad output folder, data of the
wrong shape, a result file of other settings -- every user error -- is one line on stderr
(``landscape <command>: error: ...``) and exit status 2, before any computation where the
error can be known before (arguments and ``--out`` always are). Ctrl-C stops a run within
about a second (``experiments._common.run_command``), leaves its checkpoints resumable, says
how to resume and exits with status 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

COMMANDS = {
    "table3": "landscape.experiments.table3",
    "fig3": "landscape.experiments.deep_linear",
    "fig4": "landscape.experiments.deep_nonlinear",
    "fig5": "landscape.experiments.valley_slice",
    "property-p": "landscape.experiments.property_p_demo",
    "atlas": "landscape.experiments.atlas",
}
"""Sub-command name -> module (imported only when that command runs)."""


def enable_compilation_cache() -> None:
    """Persists compiled XLA programs across runs (``$LANDSCAPE_CACHE`` or
    ``~/.cache/landscape/jax``); set ``LANDSCAPE_CACHE=off`` to disable."""
    path = os.environ.get("LANDSCAPE_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "landscape", "jax"))
    if path.lower() == "off":
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


class Parser(argparse.ArgumentParser):
    """``argparse`` with a one-line error (``landscape <command>: error: argument --x: ...``, exit 2):
    the usage text is what ``--help`` is for."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="landscape", description="Loss landscapes of sparse neural networks (JAX).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0], description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


USER_ERRORS = (ValueError, TypeError, FileExistsError, FileNotFoundError, PermissionError, NotADirectoryError,
               IsADirectoryError)
"""Errors that mean bad input (arguments, data, files, an output of other settings): one line, exit 2."""


def report_error(command: str, e: BaseException) -> int:
    """Prints ``landscape <command>: error: <message>`` (one line) on stderr; returns the exit status 2."""
    text = " ".join(str(e).split()) or type(e).__name__
    print(f"landscape {command}: error: {text}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)  # imports the experiments (and JAX): seconds
    except KeyboardInterrupt:
        print("landscape: interrupted (before the run started; nothing was written)", file=sys.stderr)
        return 130
    args._argv = argv  # the command line, for "run the same command again to resume"
    try:
        if getattr(args, "x64", False) or getattr(args, "dtype", None) == "float64":
            import jax

            jax.config.update("jax_enable_x64", True)
        enable_compilation_cache()
        return int(args._module.main(args) or 0)
    except USER_ERRORS as e:  # bad input, the same for every command: one clear line, no traceback
        return report_error(args.command, e)
    except KeyboardInterrupt:  # outside the runner's own handler (e.g. while writing figures)
        from landscape.experiments import _common

        _common.interrupted(args, "")


if __name__ == "__main__":
    sys.exit(main())
