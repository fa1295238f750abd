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


DISTRIBUTED_OPTIONS = ("coordinator", "num_processes", "process_id", "distributed")
"""The global options of a multi-process run (before the command; none of them is a setting of a result)."""


def _coordinator_arg(text):
    from landscape import distributed

    try:
        return distributed.address(text, "--coordinator")
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix("--coordinator: ")) from None


def _count_arg(low):
    def convert(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {v}")
        return v

    return convert


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """``--coordinator HOST:PORT --num-processes N --process-id I`` (or ``--distributed``): join a
    multi-process run (``landscape.distributed``); given before the command."""
    g = parser.add_argument_group("several processes (jax.distributed; docs/distributed.md)")
    g.add_argument("--coordinator", type=_coordinator_arg, metavar="HOST:PORT",
                   help="process 0's address and a free port, the same for every process")
    g.add_argument("--num-processes", type=_count_arg(1), metavar="N", help="processes in the run")
    g.add_argument("--process-id", type=_count_arg(0), metavar="I", help="this process, 0..N-1")
    g.add_argument("--distributed", action="store_true",
                   help="join a multi-process run whose processes JAX detects (SLURM, Open MPI, Cloud TPU)")


def check_distributed_arguments(parser: argparse.ArgumentParser, args) -> bool:
    """Validates the global options (one-line errors); returns whether this is a multi-process run."""
    given = {"--coordinator": args.coordinator, "--num-processes": args.num_processes, "--process-id": args.process_id}
    if any(v is not None for v in given.values()) and any(v is None for v in given.values()):
        missing = [k for k, v in given.items() if v is None]
        parser.error(f"argument {', '.join(missing)}: expected --coordinator, --num-processes and --process-id "
                     "together (or --distributed alone, to detect the cluster)")
    if args.process_id is not None and args.process_id >= args.num_processes:
        parser.error(f"argument --process-id: expected 0..{args.num_processes - 1} (--num-processes {args.num_processes}), "
                     f"got {args.process_id}")
    return args.coordinator is not None or args.distributed


def join_run(args) -> None:
    """Joins the multi-process run the global options describe; on processes other than 0,
    progress is switched off (they print nothing but errors)."""
    from landscape import distributed

    try:
        distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    except RuntimeError as e:  # JAX's: the coordinator cannot be reached, a timeout, ... (bad input: one line)
        where = f" at {args.coordinator}" if args.coordinator else ""
        raise ValueError(f"--coordinator: could not join the multi-process run{where} ({' '.join(str(e).split())[:300]})") from None
    if not distributed.is_main():
        args.no_progress = True


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="landscape", description="Loss landscapes of sparse neural networks (JAX). Several processes: "
                    "global options before the command, e.g. landscape --coordinator 10.0.0.1:1234 --num-processes 2 "
                    "--process-id 0 table3 ... (docs/distributed.md).")
    add_distributed_arguments(parser)
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
        parser = build_parser()  # imports the experiments (and JAX): seconds
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("landscape: interrupted (before the run started; nothing was written)", file=sys.stderr)
        return 130
    args._argv = argv  # the command line, for "run the same command again to resume"
    several = check_distributed_arguments(parser, args)
    try:
        if several:
            join_run(args)
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
