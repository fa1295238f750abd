"""The paper's experiments (Section 6), each a module with a Python API and a CLI entry.

A module listed in ``landscape.cli.COMMANDS`` provides ``add_arguments(parser)``
and ``main(args) -> int``; the glue they share (per-trial masks, per-case seeds,
output folder, progress bars, saving) is in ``landscape.experiments._common`` and
their figures are in ``landscape.plot``.
"""
