"""Command-line options shared by the subcommands, and the checks every command makes first.

Defaults come from the option objects (:data:`driftqc.options.SELECTION`, ``STYLE``,
``RENDER``). Options are checked before any session is read, so a typo fails in a second
rather than after minutes of loading: :func:`check_selection_options` (filters and shading,
checked once by building the option objects),
:func:`check_output_file` (the folder exists, the name is not a folder, the format can be
written). Messages name the command-line flag (``--amplitude-range``), never the library
parameter behind it; :func:`flag_names` rewrites library messages raised while a command runs.
Output files are written through :func:`atomic_output`: a temporary file in the same folder,
renamed over the target only once complete, so an error never leaves a partial or empty file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

from driftqc.errors import DriftQCError, OptionError
from driftqc.options import AMPLITUDE_MODES, FRAMES, SELECTION, STYLE, MapStyle, SelectionOptions

#: library parameter -> the flag that sets it, for messages
FLAGS = {
    "filter_amplitude_values": "--amplitude-range",
    "filter_amplitude_mode": "--amplitude-filter",
    "amplitude_cmap_scaling": "--scaling",
    "n_color_bins": "--color-bins",
    "point_size": "--point-size",
    "exclude_noise": "--exclude-noise",
    "decimate": "--decimate",
    "version": "--version",
}


def _decimate_text(value: object) -> str:
    """How ``--decimate`` spells a ``decimate`` value (for the help text)."""
    return "off" if value in (False, None, 0) else str(value)


def _scaling_text(value: object) -> str:
    """How ``--scaling`` spells an ``amplitude_cmap_scaling`` value (for the help text)."""
    return ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else str(value)


def _decimate(value: str) -> int | str | bool:
    if value == "estimate":
        return value
    if value.lower() in ("off", "false", "none", "0"):
        return False
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: use 'estimate', 'off' or a whole number"
        ) from None


def _scaling(value: str) -> str | tuple[float, float]:
    if "," in value:
        try:
            low, high = (float(v) for v in value.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r}: give LOW,HIGH") from None
        return (low, high)
    return value


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """Add the filter and shading options of the plot methods to a subcommand."""
    group = parser.add_argument_group("spike selection")
    group.add_argument(
        "--decimate",
        type=_decimate,
        default=SELECTION.decimate,
        help="'estimate' (every (n // 100 000)-th of n spikes, as driftplots: up to "
        "199 999 points), 'off', or N to keep every N-th "
        f"(default {_decimate_text(SELECTION.decimate)})",
    )
    group.add_argument(
        "--exclude-noise",
        nargs="?",
        const=True,
        default=SELECTION.exclude_noise,
        metavar="SOURCE",
        help="drop spikes of clusters labelled noise; optionally name the label source "
        "('group' = Phy's cluster_group.tsv, 'KSLabel')",
    )
    group.add_argument(
        "--amplitude-filter",
        choices=AMPLITUDE_MODES,
        default=SELECTION.filter_amplitude_mode,
        help="keep spikes whose amplitude lies within --amplitude-range",
    )
    group.add_argument(
        "--amplitude-range",
        type=float,
        nargs=2,
        default=SELECTION.filter_amplitude_values,
        metavar=("LOW", "HIGH"),
        help="bounds for --amplitude-filter (inclusive)",
    )
    group.add_argument(
        "--frame",
        choices=FRAMES,
        default=SELECTION.frame,
        help="depth frame: 'saved' (as the folder holds them), 'raw' (probe frame; Kilosort 4: "
        "reconstructed from its motion estimate) or 'registered'; for a folder of unknown "
        f"frame 'raw'/'registered' declares it (default {SELECTION.frame})",
    )
    group = parser.add_argument_group("shading")
    group.add_argument(
        "--scaling",
        type=_scaling,
        default=STYLE.amplitude_cmap_scaling,
        help="amplitude to grey: linear, log2, log10 or LOW,HIGH "
        f"(default {_scaling_text(STYLE.amplitude_cmap_scaling)})",
    )
    group.add_argument(
        "--color-bins",
        type=int,
        default=STYLE.n_color_bins,
        help=f"grey levels (default {STYLE.n_color_bins})",
    )
    group.add_argument(
        "--point-size",
        type=float,
        default=STYLE.point_size,
        help=f"marker size (default {STYLE.point_size:g})",
    )
    group.add_argument(
        "--version",
        dest="ks_version",
        default=None,
        metavar="KSVERSION",
        help="Kilosort version to assume, e.g. kilosort4 (default: from the log)",
    )


def check_selection_options(args: argparse.Namespace) -> None:
    """Check the selection and shading options before any session is read.

    The options are checked once, by building a :class:`driftqc.options.SelectionOptions`
    and a :class:`driftqc.options.MapStyle`; they are kept on ``args`` (``selection_options``
    and ``map_style``) for the command to use without checking again.

    Raises
    ------
    OptionError
        Naming the flag: an inconsistent amplitude filter, a bad grey scale, colour-bin count,
        point size or decimation.
    """
    if args.amplitude_range and args.amplitude_filter is None:
        raise OptionError("--amplitude-range needs --amplitude-filter percentile|absolute")
    if args.amplitude_filter is not None and not args.amplitude_range:
        mode = args.amplitude_filter
        raise OptionError(f"--amplitude-filter {mode} needs --amplitude-range LOW HIGH")
    with flag_names():
        args.selection_options = SelectionOptions(
            decimate=args.decimate,
            exclude_noise=args.exclude_noise,
            filter_amplitude_mode=args.amplitude_filter,
            filter_amplitude_values=tuple(args.amplitude_range),
            frame=args.frame,
        )
        args.map_style = MapStyle(
            amplitude_cmap_scaling=args.scaling,
            n_color_bins=args.color_bins,
            point_size=args.point_size,
        )


def add_progress_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--progress`` and ``--verbose`` (progress of long reads, what is read and kept).

    Progress goes to stderr: by default only when stderr is a terminal, so logs stay quiet.
    """
    group = parser.add_argument_group("progress")
    group.add_argument(
        "--progress",
        action="store_true",
        default=None,
        help="report the progress of long reads on stderr even when it is not a terminal "
        "(default: only on a terminal)",
    )
    group.add_argument(
        "--verbose",
        action="store_true",
        help="say on stderr what is read and how many spikes each filter keeps "
        "(implies --progress)",
    )


@contextlib.contextmanager
def flag_names() -> Iterator[None]:
    """Re-raise a driftqc error whose message names library parameters, naming flags instead.

    ``filter_amplitude_values=(5, 1): low is above high`` becomes
    ``--amplitude-range (5, 1): low is above high`` (as an :class:`OptionError`).
    """
    try:
        yield
    except DriftQCError as exc:
        message = str(exc)
        for name, flag in FLAGS.items():
            message = message.replace(f"{name}=", f"{flag} ")
        if message == str(exc):
            raise
        raise OptionError(message) from None


def check_positive_ints(values: object, flag: str) -> None:
    """Raise :class:`OptionError` naming ``flag`` unless every value is a whole number > 0."""
    numbers = list(values) if isinstance(values, list | tuple) else [values]
    if any(not isinstance(v, int) or v < 1 for v in numbers):
        shown = " ".join(str(v) for v in numbers)
        what = "positive whole numbers" if len(numbers) > 1 else "a positive whole number"
        raise OptionError(f"{flag} {shown}: must be {what}")


def check_output_file(path: Path, flag: str, formats: Collection[str], writer: str) -> str:
    """Check an output file name before any work is done; return its format (extension).

    Parameters
    ----------
    path
        The file to write.
    flag
        The option that named it, e.g. ``"-o/--output"``.
    formats
        File extensions (lower case, no dot) the writer supports.
    writer
        Who writes it, for the message, e.g. ``"matplotlib"``.

    Returns
    -------
    str
        The format, from the extension (lower case).

    Raises
    ------
    OptionError
        If ``path`` is a folder, its folder does not exist or is not writable, or its
        extension is missing or not one of ``formats``.
    """
    known = ", ".join(f".{f}" for f in sorted(formats))
    if path.is_dir():
        raise OptionError(f"{flag} {path} is a folder; give a file name, e.g. {path / 'map.png'}")
    folder = path.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OptionError(f"{flag} {path}: the folder {folder} {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OptionError(f"{flag} {path}: the folder {folder} is not writable")
    fmt = path.suffix[1:].lower()
    if not fmt:
        raise OptionError(f"{flag} {path}: give the file an extension ({known})")
    if fmt not in formats:
        raise OptionError(f"{flag} {path}: {writer} cannot write .{fmt} files; use {known}")
    return fmt


def matplotlib_formats() -> set[str]:
    """Extensions matplotlib can save a figure as (imports matplotlib, not pyplot)."""
    from matplotlib.figure import Figure

    return {f.lower() for f in Figure().canvas.get_supported_filetypes()}


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    The temporary file has the same extension (writers pick the format from it). If the body
    raises, the temporary file is removed and ``path`` is left as it was.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise _about(exc, path) from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename in (None, name, tmp):
            raise _about(exc, path) from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _about(exc: OSError, path: Path) -> OSError:
    """Return the same file system error, naming ``path`` rather than the temporary file."""
    return type(exc)(exc.errno, exc.strerror or str(exc), os.fspath(path))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
