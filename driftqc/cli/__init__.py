"""The ``driftqc`` command line: ``driftqc plot``, ``view``, ``sessions``, ``init`` and ``run``.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when the command line is built and import nothing heavy (no Qt,
no snakemake) at module level.

Errors end the command with one line on stderr, ``driftqc COMMAND: error: ...``, never a
traceback: bad input or options (:class:`~driftqc.errors.DriftQCError`, exit 2), a file
system error naming the path (exit 1), Ctrl-C (exit 130), and anything unexpected as an
"internal error" (exit 1). ``driftqc --debug ...`` or ``DRIFTQC_DEBUG=1`` re-raises instead,
for the full traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence

from driftqc.errors import DriftQCError

COMMANDS = ("plot", "view", "sessions", "init", "run")

EPILOG = """\
examples:
  driftqc plot sub-01/ses-01/kilosort4 -o map.png --histogram --exclude-noise
  driftqc init /data/lab -o my.yaml       # a config listing every sorter folder found
  driftqc run --configfile my.yaml --cores 4

`driftqc COMMAND --help` shows the options of a command.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``driftqc`` command."""
    parser = argparse.ArgumentParser(
        prog="driftqc",
        description="Drift maps and drift QC for Kilosort-sorted sessions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of any error (also: DRIFTQC_DEBUG=1)",
    )
    subparsers = parser.add_subparsers(
        title="commands", dest="command", required=True, metavar="COMMAND"
    )
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
    debug = args.debug or os.environ.get("DRIFTQC_DEBUG", "") not in ("", "0")
    where = f"driftqc {args.command}"
    _tolerant_stdout()
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        if not debug:
            warnings.showwarning = _one_line_warnings(where)
        return _run(args, where, debug)


def _run(args: argparse.Namespace, where: str, debug: bool) -> int:
    """Run the command's handler, turning every error into one line and an exit code."""
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except DriftQCError as exc:
        if debug:
            raise
        print(f"{where}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if debug:
            raise
        print(f"{where}: error: {_os_error(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # the last resort of a command line
        if debug:
            raise
        print(
            f"{where}: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(run with --debug/DRIFTQC_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


def _one_line_warnings(where: str) -> Callable[..., None]:
    """Return a ``warnings.showwarning`` printing ``driftqc CMD: warning: message``, one line."""

    def show(message: Warning | str, category: type[Warning], *args: object, **kw: object) -> None:
        text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
        print(f"{where}: warning: {text}", file=sys.stderr)

    return show


def _one_line(exc: BaseException) -> str:
    """Return the exception's message on one line."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _os_error(exc: OSError) -> str:
    """``path: reason`` for a file system error (both paths for a rename or copy)."""
    reason = exc.strerror or _one_line(exc) or type(exc).__name__
    if exc.filename is None:
        return reason
    path = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        path = f"{path} -> {os.fsdecode(exc.filename2)}"
    return f"{path}: {reason}"


def _tolerant_stdout() -> None:
    """Print paths that are not valid UTF-8 with backslash escapes instead of failing."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None and getattr(sys.stdout, "errors", None) == "strict":
        with contextlib.suppress(ValueError, OSError):  # an unusual stream: leave it
            reconfigure(errors="backslashreplace")
