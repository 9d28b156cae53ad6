"""The ``driftqc`` command line: ``driftqc plot``, ``view``, ``sessions`` and ``run``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when the command line is built and import nothing heavy (no Qt,
no snakemake) at module level.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from driftqc.errors import DriftQCError

COMMANDS = ("plot", "view", "sessions", "run")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``driftqc`` command."""
    parser = argparse.ArgumentParser(
        prog="driftqc",
        description="Drift maps and drift QC for Kilosort-sorted sessions.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"driftqc.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"driftqc.cli.{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``driftqc`` command line; return its exit code."""
    args = build_parser().parse_args(argv)
    warnings.simplefilter("default")
    try:
        return int(args.handler(args) or 0)
    except DriftQCError as exc:
        print(f"driftqc {args.command}: error: {exc}", file=sys.stderr)
        return 2
