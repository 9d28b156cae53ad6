"""``driftqc init``: write a complete workflow config for the sorter folders under a directory.

The sessions are found as by ``driftqc sessions`` (:func:`driftqc.pipeline.sessions.
discover_sessions`) and written inline, or to a separate file with ``--sessions-file``; the
other sections hold the schema's defaults (:func:`driftqc.pipeline.sessions.format_config`),
so the file runs as is (``driftqc run --configfile FILE`` or ``snakemake --configfile FILE``)
and shows every option worth changing. An existing file is replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``driftqc init``."""
    parser = subparsers.add_parser(
        "init",
        help="write a complete workflow config for the sorter folders under ROOT",
        description=(
            "Find the sorter output folders under ROOT (as `driftqc sessions` does) and write "
            "a complete workflow config: the sessions, and the filters, render and drift_qc "
            "sections with their defaults. It runs as is: `driftqc run --configfile FILE`."
        ),
    )
    parser.add_argument("root", type=Path, help="top of the directory tree to search")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("config/config.yaml"),
        help="config file to write (default: config/config.yaml, which `driftqc run` and "
        "snakemake use without --configfile)",
    )
    parser.add_argument(
        "--sessions-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the sessions to FILE and name it in the config (default: inline)",
    )
    parser.add_argument(
        "--pattern",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep folders whose path relative to ROOT matches GLOB; repeatable",
    )
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Find the sessions and write the config."""
    import warnings

    from driftqc.errors import OptionError
    from driftqc.pipeline.sessions import (
        discover_sessions,
        format_config,
        write_sessions_file,
        write_text_file,
    )

    for flag, path in (("-o/--output", args.output), ("--sessions-file", args.sessions_file)):
        if path is None:
            continue
        if path.is_dir():
            raise OptionError(f"{flag} {path} is a folder; give a file name")
        if path.exists() and not args.force:
            raise OptionError(f"{flag} {path} exists; use --force to replace it")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions = discover_sessions(args.root, args.pattern)
    for warning in caught:
        print(f"driftqc init: warning: {warning.message}", file=sys.stderr)
    if not sessions:
        print(f"driftqc init: no sorter output folder found under {args.root}", file=sys.stderr)
        return 1
    if args.sessions_file is not None:
        write_sessions_file(sessions, args.sessions_file)
        text = format_config(str(args.sessions_file.resolve()))
    else:
        text = format_config(sessions)
    write_text_file(text, args.output)
    n = len(sessions)
    print(
        f"{args.output}: {n} session{'' if n == 1 else 's'}; run: driftqc run --configfile "
        f"{args.output} --cores 4 (or snakemake --configfile {args.output} --cores 4)",
        file=sys.stderr,
    )
    return 0
