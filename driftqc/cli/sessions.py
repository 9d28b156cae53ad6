r"""``driftqc sessions``: find sorter output folders under a directory and list them.

Kilosort output folders, IBL ALF spike-sorting folders (``alf/probe00``, ...) and
SpikeInterface analyzer folders are found (see
:func:`driftqc.pipeline.sessions.discover_sessions`), with unique ids (folders side by side
are told apart) and, in NeuroBlueprint trees, ``subject`` and ``date``.

The list is built and checked in full before ``-o FILE`` is touched, then written to a
temporary file and renamed into place: an error never leaves an empty or partial file.
Folders whose path is not valid UTF-8 cannot go into a YAML file; they are skipped with a
one-line warning each, naming them (Python's escaped form, e.g. ``'ses-\udcff'``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``driftqc sessions``."""
    parser = subparsers.add_parser(
        "sessions",
        help="find sorter output folders and write a sessions file",
        description=(
            "Find Kilosort output folders (a folder with a kilosort*.log, or with "
            "spike_times.npy and params.py), IBL ALF spike-sorting folders (spikes.times.npy, "
            "e.g. alf/probe00) and SpikeInterface analyzer folders under ROOT and write them "
            "as a sessions YAML "
            "for the workflow. Ids come from the relative path, e.g. "
            "sub-01/ses-02/kilosort4 -> sub-01_ses-02; folders side by side get the names "
            "that tell them apart (ks4_bumps/kilosort4, ks4_bumps/phy -> ks4_bumps-kilosort4, "
            "ks4_bumps-phy). NeuroBlueprint trees (sub-01/ses-20240105/ephys/...) also fill "
            "subject and date. Folders whose path is not valid UTF-8 "
            "are skipped with a warning (a YAML file cannot hold them). `driftqc init ROOT` "
            "writes a whole workflow config instead."
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
        "-o",
        "--output",
        type=Path,
        default=None,
        help="sessions file to write (default: stdout); missing parent folders are created, "
        "the file is replaced only once the list is complete",
    )
    parser.add_argument(
        "--relative", action="store_true", help="write paths as found, not absolute"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Find the sessions and write the list."""
    from driftqc.errors import OptionError
    from driftqc.pipeline.sessions import discover_sessions, format_sessions, write_sessions_file

    if args.output is not None and args.output.is_dir():
        example = args.output / "sessions.yaml"
        raise OptionError(f"-o/--output {args.output} is a folder; give a file, e.g. {example}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sessions = discover_sessions(args.root, args.pattern, absolute=not args.relative)
    for warning in caught:
        print(f"driftqc sessions: warning: {warning.message}", file=sys.stderr)
    if not sessions:
        print(f"driftqc sessions: no Kilosort output folder found under {args.root}",
              file=sys.stderr)  # fmt: skip
        return 1
    if args.output is None:
        sys.stdout.write(format_sessions(sessions))
    else:
        write_sessions_file(sessions, args.output)
        n = len(sessions)
        print(f"{args.output}: {n} session{'' if n == 1 else 's'}", file=sys.stderr)
    return 0
