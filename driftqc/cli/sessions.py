"""``driftqc sessions``: find Kilosort output folders under a directory and list them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``driftqc sessions``."""
    parser = subparsers.add_parser(
        "sessions",
        help="find Kilosort output folders and write a sessions file",
        description=(
            "Find Kilosort output folders (a folder with a kilosort*.log, or with "
            "spike_times.npy and params.py) under ROOT and write them as a sessions YAML "
            "for the workflow. Ids come from the relative path, e.g. "
            "sub-01/ses-02/kilosort4 -> sub-01_ses-02."
        ),
    )
    parser.add_argument("root", type=Path, help="top of the directory tree to search")
    parser.add_argument(
        "--pattern",
        action="append",
        default=[],
        metavar="GLOB",
        help="keep folders whose path relative to ROOT matches GLOB "
        "(e.g. 'sub-*/ses-*/*'); repeatable",
    )
    parser.add_argument(
        "-o", "--output", type=Path, default=None, help="sessions file to write (default: stdout)"
    )
    parser.add_argument(
        "--relative", action="store_true", help="write paths as found, not absolute"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Find the sessions and write the list."""
    from driftqc.sessions import discover_sessions, format_sessions, write_sessions_file

    sessions = discover_sessions(args.root, args.pattern, absolute=not args.relative)
    if not sessions:
        print(f"driftqc sessions: no Kilosort output folder found under {args.root}",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.output is None:
        sys.stdout.write(format_sessions(sessions))
    else:
        write_sessions_file(sessions, args.output)
        print(f"{args.output}: {len(sessions)} sessions", file=sys.stderr)
    return 0
