"""``driftqc view``: open one or several sessions in the interactive multi-session viewer.

Each folder becomes one panel (a :class:`driftqc.interactive.DriftmapPlotWidget` with the
same selection options as ``driftqc plot``); panels share one depth axis. With
``--screenshot FILE`` nothing is shown: the viewer is rendered offscreen to an image and the
command exits, which works on machines without a display (clusters, CI).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from driftqc.cli.common import add_selection_options, selection_kwargs


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``driftqc view``."""
    parser = subparsers.add_parser(
        "view",
        help="open sessions in the interactive viewer (needs the gui extra)",
        description="Open one or several Kilosort output folders side by side in the "
        "interactive drift-map viewer, with a shared depth axis.",
    )
    parser.add_argument("sorter_dirs", type=Path, nargs="+", metavar="SORTER_DIR")
    parser.add_argument(
        "--grid",
        type=int,
        nargs=2,
        default=None,
        metavar=("ROWS", "COLS"),
        help="grid of panels (default: roughly square)",
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="FILE",
        help="render the viewer offscreen to this image (.png) and exit instead of showing it",
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(700, 820),
        metavar=("WIDTH", "HEIGHT"),
        help="size of one panel in pixels (default 700 820)",
    )
    add_selection_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the panels and show them, or save a screenshot."""
    from driftqc.errors import OptionError
    from driftqc.interactive.grid import grid_shape

    try:
        grid_shape(len(args.sorter_dirs), args.grid)
    except ValueError as exc:
        raise OptionError(f"--grid: {exc}") from None
    if args.screenshot is not None:
        # no display needed for a screenshot; must be set before Qt starts
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from driftqc.interactive import MultiSessionDriftmapWidget, ensure_app
    from driftqc.plotter import DriftPlotter

    kwargs = selection_kwargs(args)
    app = ensure_app()
    panels = []
    for folder in args.sorter_dirs:
        plotter = DriftPlotter(folder, version=args.ks_version)
        panel = plotter.drift_map_plot_interactive(**kwargs, title=True)
        print(f"{folder}: {panel.selection.caption}")
        panels.append(panel)
    width, height = args.size
    widget = MultiSessionDriftmapWidget(panels, grid=args.grid, width=width, height=height)
    if args.screenshot is None:
        widget.plot()
        return 0
    widget.show()
    app.processEvents()
    args.screenshot.parent.mkdir(parents=True, exist_ok=True)
    saved = widget.grab().save(str(args.screenshot))
    widget.close()
    widget.deleteLater()
    app.processEvents()
    if not saved:
        raise OptionError(f"--screenshot: could not write {args.screenshot} (unknown format?)")
    print(f"wrote {args.screenshot}")
    return 0
