"""``landscape <experiment> ...``: the command line. It only calls the Python API.

Each experiment module in ``landscape.experiments`` that is listed in
``COMMANDS`` provides ``add_arguments(parser)`` and ``main(args) -> int``.
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="landscape", description="Loss landscapes of sparse neural networks (JAX).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0], description=mod.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


USER_ERRORS = (ValueError, TypeError, FileExistsError)
"""Errors that mean bad input (arguments, data, an output file of other settings): one line, exit 2."""


def report_error(command: str, e: BaseException) -> int:
    """Prints ``landscape <command>: error: <message>`` on stderr; returns the exit status 2."""
    print(f"landscape {command}: error: {e}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "x64", False) or getattr(args, "dtype", None) == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    enable_compilation_cache()
    try:
        return int(args._module.main(args) or 0)
    except USER_ERRORS as e:  # bad input, the same for every command: one clear line, no traceback
        return report_error(args.command, e)


if __name__ == "__main__":
    sys.exit(main())
