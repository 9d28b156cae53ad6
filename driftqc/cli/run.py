"""``driftqc run``: run driftqc's Snakemake workflow (the packaged copy when not in a clone).

Every option other than ``--print-command`` goes to snakemake unchanged, so the command
reads like a plain snakemake call: ``driftqc run --configfile my.yaml --cores 4 -n``.
Each ``--configfile`` is checked before snakemake starts
(:func:`driftqc.pipeline.runner.check_configfile`): a missing file or a sessions list given
as the config is one line saying what to do, not snakemake's traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``driftqc run``."""
    parser = subparsers.add_parser(
        "run",
        help="run the Snakemake workflow on a list of sessions",
        description=(
            "Run driftqc's Snakemake workflow in the current directory (results/ and logs/ "
            "are written here). All other options and targets are passed to snakemake, "
            "e.g. `driftqc run --configfile config.yaml --cores 4 -n`. Without "
            "--configfile the directory's config/config.yaml is used, or else the "
            "built-in demo; without --cores, --cores all. Each --configfile is checked "
            "first (it exists, it is a config, not a sessions list); `driftqc init ROOT` "
            "writes one."
        ),
        allow_abbrev=False,
    )
    parser.add_argument(
        "--print-command",
        action="store_true",
        help="print the snakemake command instead of running it",
    )
    parser.set_defaults(handler=run, snakemake_args=[])
    _pass_unknown_options(parser)


def run(args: argparse.Namespace) -> int:
    """Run (or print) the snakemake command."""
    import shlex

    from driftqc.pipeline.runner import run_workflow, snakemake_command

    extra = [a for a in args.snakemake_args if a != "--"]
    if args.print_command:
        print(shlex.join(snakemake_command(extra)))
        return 0
    return run_workflow(extra)


def _pass_unknown_options(parser: argparse.ArgumentParser) -> None:
    """Collect the options this parser does not know into ``snakemake_args``."""
    parse_known = parser.parse_known_args

    def parse_known_args(
        args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extra = parse_known(args, namespace)
        parsed.snakemake_args = [*parsed.snakemake_args, *extra]
        return parsed, []

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]
