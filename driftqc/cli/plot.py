"""``driftqc plot``: draw a drift map of one sorter output folder to an image file.

Everything is checked before the session is read: the output's folder must exist, the name
must not be a folder and its extension must be a format matplotlib writes. The image is
written to a temporary file beside the output and renamed into place when complete.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from driftqc.cli.common import (
    add_progress_options,
    add_selection_options,
    atomic_output,
    check_output_file,
    check_positive_ints,
    check_selection_options,
    flag_names,
    matplotlib_formats,
)
from driftqc.errors import OptionError
from driftqc.model import SessionInfo
from driftqc.options import DENSITY_STATISTICS, RENDER, RENDERS

MAX_DPI = 1200  # a 10 × 7.5 inch figure: 12 000 × 9 000 pixels


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``driftqc plot``."""
    parser = subparsers.add_parser(
        "plot",
        help="draw a drift map to an image file",
        description="Draw a drift map of a Kilosort output folder to PNG, PDF or SVG.",
    )
    parser.add_argument(
        "sorter_dir", type=Path, help="Kilosort output folder or SpikeInterface analyzer folder"
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="image file to write; its extension sets the format (.png, .pdf, .svg, .jpg, ...). "
        "Its folder must exist; a folder is not accepted",
    )
    parser.add_argument("--histogram", action="store_true", help="add a depth histogram")
    parser.add_argument(
        "--weight-histogram", action="store_true", help="weight the histogram by amplitude"
    )
    parser.add_argument(
        "--render",
        choices=RENDERS,
        default=RENDER.render,
        help="scatter of (decimated) spikes, or a density image of all spikes",
    )
    parser.add_argument(
        "--density-statistic",
        default=RENDER.density_statistic,
        choices=DENSITY_STATISTICS,
    )
    parser.add_argument("--title", default=None, help="figure title")
    parser.add_argument(
        "--dpi", type=int, default=150, help=f"resolution of raster images (1 to {MAX_DPI})"
    )
    add_selection_options(parser)
    add_progress_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Draw and save the drift map."""
    fmt = check_output_file(args.output, "-o/--output", matplotlib_formats(), "matplotlib")
    check_positive_ints(args.dpi, "--dpi")
    if args.dpi > MAX_DPI:
        raise OptionError(f"--dpi {args.dpi}: at most {MAX_DPI} (the image would be too large)")
    check_selection_options(args)

    from driftqc.plotting.figure import new_figure
    from driftqc.progress import messages, reporting

    verbose = bool(getattr(args, "verbose", False))
    say = messages(verbose, sys.stderr)
    figure = new_figure((10, 7.5))
    with flag_names(), reporting(True if verbose else getattr(args, "progress", None)):
        say(f"driftqc plot: reading {args.sorter_dir}")
        if args.render == "density" and _is_kilosort_folder(args.sorter_dir):
            caption, info = _streamed_density(args, figure, say)
        else:
            caption, info = _in_memory(args, figure, say)
    say(f"driftqc plot: writing {args.output}")
    with atomic_output(args.output) as tmp:
        figure.savefig(tmp, dpi=args.dpi, format=fmt)
    print(f"{args.output}: {caption}")
    if not info.drift_measurable:
        from driftqc.io.phy_exports import HOW_TO_MEASURE

        print(f"driftqc plot: {info.name}: {HOW_TO_MEASURE}", file=sys.stderr)
    return 0


def _in_memory(
    args: argparse.Namespace, figure: object, say: Callable[[str], None]
) -> tuple[str, SessionInfo]:
    from driftqc.io import load_sorting
    from driftqc.plotting import plot_drift_map
    from driftqc.selection import select_spikes

    sorting = load_sorting(args.sorter_dir, version=args.ks_version)
    # options checked once, by check_selection_options
    selection = select_spikes(sorting, options=args.selection_options)
    for line in selection.report():
        say(line)
    plot_drift_map(
        selection,
        style=args.map_style,
        histogram=args.histogram,
        weight_histogram_by_amplitude=args.weight_histogram,
        title=args.title,
        figure=figure,
        render=args.render,
        density_statistic=args.density_statistic,
    )
    return selection.caption, selection.kept.info


def _streamed_density(
    args: argparse.Namespace, figure: object, say: Callable[[str], None]
) -> tuple[str, SessionInfo]:
    """Whole-session density map read in chunks: bounded memory for any session size."""
    from driftqc.metrics.streaming import summarise_session
    from driftqc.plotting.drift_map import plot_density_summary

    summary = summarise_session(
        args.sorter_dir,
        version=args.ks_version,
        options=args.selection_options,  # checked once, by check_selection_options
        statistic=args.density_statistic,
        weight_histogram_by_amplitude=args.weight_histogram,
        # about one bin per pixel of the drift-map axes at the output resolution
        n_time_bins=int(figure.get_figwidth() * args.dpi * 0.7),  # type: ignore[attr-defined]
        n_depth_bins=int(figure.get_figheight() * args.dpi * 0.8),  # type: ignore[attr-defined]
    )
    say(f"{summary.info.name}: {summary.n_kept:,} of {summary.n_total:,} spikes kept (all binned)")
    plot_density_summary(summary, histogram=args.histogram, title=args.title, figure=figure)
    return summary.caption, summary.info


def _is_kilosort_folder(folder: Path) -> bool:
    return folder.is_dir() and (folder / "spike_times.npy").is_file()
