"""``driftqc view``: open one or several sessions in the interactive multi-session viewer.

Each folder becomes one panel (a :class:`driftqc.interactive.DriftmapPlotWidget` with the
same selection options as ``driftqc plot``), or one panel per shank with ``--shank each``;
panels share one depth axis and, unless ``--no-shared-scale``, one amplitude grey scale
(the workflow's shared range, when the sessions' amplitude units agree). ``--frame`` picks
the depth frame to open in (the panel's toggle switches it later), ``--shank N`` one shank,
``--chunked`` reads Kilosort folders chunk by chunk (sessions too large to read whole),
``--link-time`` links the time axes too. The default ``--decimate estimate`` (and ``off``)
gives level of detail (every spike at every zoom); ``--decimate N`` draws a fixed 1 in N as
driftplots did. With
``--screenshot FILE`` nothing is shown: the viewer is rendered offscreen to an image and the
command exits, which works on machines without a display (clusters, CI). Without it, on a
Linux machine with no display (neither ``DISPLAY`` nor ``WAYLAND_DISPLAY`` set, and no
non-X ``QT_QPA_PLATFORM`` chosen) the command stops with a message suggesting
``--screenshot`` instead of letting Qt abort.

Options are checked before any session is read: ``--grid``, ``--size`` (positive), the
selection options, ``--frame``, ``--shank`` (a whole number or ``each``), and ``--screenshot``
(its folder must exist, its extension must be an image format Qt writes); a ``--shank`` a
session's probe lacks is an error naming the valid shanks. The screenshot is written to a
temporary file and renamed into place.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from driftqc.cli.common import (
    add_selection_options,
    atomic_output,
    check_output_file,
    check_positive_ints,
    check_selection_options,
    flag_names,
)

#: QT_QPA_PLATFORM values that need an X11 or Wayland display
_DISPLAY_PLATFORMS = ("xcb", "wayland")


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
        help="render the viewer offscreen to this image and exit instead of showing it "
        "(no display needed; .png, .jpg, .bmp, ...; its folder must exist)",
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(700, 820),
        metavar=("WIDTH", "HEIGHT"),
        help="size of one panel in pixels, both positive (default 700 820)",
    )
    add_selection_options(parser)
    group = parser.add_argument_group("viewer")
    group.add_argument(
        "--shared-scale",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="shade every panel on one shared amplitude range when the sessions' amplitude "
        "units agree (default on)",
    )
    group.add_argument(
        "--shank",
        type=_shank,
        default=None,
        metavar="N|each",
        help="show only shank N, or one panel per shank ('each') on multi-shank probes",
    )
    group.add_argument(
        "--link-time", action="store_true", help="link the panels' time axes as well"
    )
    group.add_argument(
        "--chunked",
        action="store_true",
        help="read Kilosort folders chunk by chunk (for sessions too large to read whole)",
    )
    parser.set_defaults(handler=run)


def _shank(value: str) -> int | str:
    if value == "each":
        return value
    try:
        shank = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: give a shank number or 'each'") from None
    if shank < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: shanks are numbered from 0")
    return shank


def run(args: argparse.Namespace) -> int:
    """Build the panels and show them, or save a screenshot."""
    from driftqc.errors import OptionError

    check_positive_ints(args.size, "--size")
    check_selection_options(args)
    if args.screenshot is not None:
        # no display needed for a screenshot; must be set before Qt starts
        if _no_display():  # even if QT_QPA_PLATFORM names xcb or wayland: Qt would abort
            os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    elif _no_display():
        raise OptionError(
            "no display to show the viewer on (neither DISPLAY nor WAYLAND_DISPLAY is set); "
            "use --screenshot FILE to render it to an image instead"
        )

    from driftqc.interactive import MultiSessionDriftmapWidget, ensure_app
    from driftqc.interactive._qt import QtCore, QtGui
    from driftqc.interactive.grid import grid_shape

    if args.shank != "each":  # with one panel per shank, checked once the shanks are known
        try:
            grid_shape(len(args.sorter_dirs), args.grid)
        except ValueError as exc:
            raise OptionError(f"--grid: {exc}") from None
    fmt = None
    if args.screenshot is not None:
        formats = {bytes(f).decode().lower() for f in QtGui.QImageWriter.supportedImageFormats()}
        fmt = check_output_file(args.screenshot, "--screenshot", formats, "Qt")

    app = ensure_app()
    panels = []
    with flag_names(), _without_offscreen_notice():
        for folder in args.sorter_dirs:
            source = _open(folder, args)  # reading: Ctrl-C at once
            selection = source.select(args.frame)
            for shank in _shanks(args.shank, source, folder):
                with _deferred_interrupt(app) as check_interrupt:
                    panel = _panel(source, selection, shank, args)
                check_interrupt()
                print(f"{folder}: {panel.caption_label.text()}")
                panels.append(panel)
    try:
        grid_shape(len(panels), args.grid)
    except ValueError as exc:  # --shank each makes more panels than folders
        raise OptionError(f"--grid: {exc}") from None
    with _deferred_interrupt(app) as check_interrupt, _without_offscreen_notice():
        width, height = args.size
        widget = MultiSessionDriftmapWidget(
            panels,
            grid=args.grid,
            width=width,
            height=height,
            shared_scale=args.shared_scale,
            link_time=args.link_time,
        )
        check_interrupt()
        if args.screenshot is None:
            # said from inside the event loop, once the window is up
            QtCore.QTimer.singleShot(0, _say_open)
            widget.plot()
            check_interrupt()
            return 0
        return _screenshot(app, widget, args.screenshot, fmt)


def _open(folder: Path, args: argparse.Namespace) -> Any:
    """Open a session as a panel source: in memory, or chunk by chunk with ``--chunked``."""
    from driftqc.interactive.sources import folder_source, sorting_source
    from driftqc.io import load_sorting

    if args.chunked:
        return folder_source(folder, args.selection_options, version=args.ks_version)
    sorting = load_sorting(folder, version=args.ks_version)
    return sorting_source(sorting, args.selection_options)


def _shanks(wanted: int | str | None, source: Any, folder: Path) -> list[int | None]:
    """Return the shanks to make panels of: all together, one, or each (``--shank``)."""
    from driftqc.errors import OptionError

    probe = sorted(int(s) for s in set(source.channel_shanks.tolist()))
    if wanted is None:
        return [None]
    if wanted == "each":
        return list(probe) if len(probe) > 1 else [None]
    if wanted not in probe:
        valid = ", ".join(map(str, probe))
        raise OptionError(
            f"--shank {wanted}: {folder} has no shank {wanted}; valid shanks: {valid}"
        )
    return [int(wanted)]


def _panel(source: Any, selection: Any, shank: int | None, args: argparse.Namespace) -> Any:
    from driftqc.interactive import DriftmapPlotWidget

    title = f"Drift map: {source.name}" + ("" if shank is None else f", shank {shank}")
    # an explicit --decimate N keeps driftplots' fixed thinning; otherwise level of detail
    fixed = isinstance(args.decimate, int) and not isinstance(args.decimate, bool)
    return DriftmapPlotWidget(
        selection,
        templates=source.templates,
        channel_positions=source.channel_positions,
        channel_shanks=source.channel_shanks,
        title=title,
        style=args.map_style,
        lod=not (fixed and args.decimate > 1),
        source=source,
        shank=shank,
    )


def _screenshot(app: Any, widget: Any, path: Path, fmt: str | None) -> int:
    """Render ``widget`` offscreen to ``path`` (written atomically)."""
    from driftqc.errors import OptionError

    try:
        widget.show()
        app.processEvents()
        with atomic_output(path) as tmp:
            if not widget.grab().save(str(tmp), fmt):
                raise OptionError(f"--screenshot {path}: Qt could not write the image")
    finally:
        widget.close()
        widget.deleteLater()
        app.processEvents()
    print(f"wrote {path}")
    return 0


@contextlib.contextmanager
def _deferred_interrupt(app: Any) -> Iterator[Callable[[], None]]:
    """Hold Ctrl-C while Qt builds and shows the viewer; yield a check that raises it.

    A :class:`KeyboardInterrupt` raised inside one of pyqtgraph's Python overrides, called
    from Qt's C++ code, can crash the process. While the viewer is built, Ctrl-C is only
    noted (and the event loop told to stop as soon as it runs); the check raises it at the
    next safe point. Inside the event loop :func:`driftqc.interactive._qt.exec_app` handles
    Ctrl-C itself.
    """
    from driftqc.interactive._qt import QtCore

    pending: list[int] = []

    def on_sigint(signum: int, frame: object) -> None:
        pending.append(signum)
        QtCore.QTimer.singleShot(0, lambda: app.exit(0))

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def _say_open() -> None:
    print("viewer open: close its window or press Ctrl-C to quit", flush=True)


@contextlib.contextmanager
def _without_offscreen_notice() -> Iterator[None]:
    """Pass Qt's messages on, except the offscreen platform's notice about size hints.

    The Python handler is removed on the way out, so none is left for Qt's own exit.
    """
    from driftqc.interactive._qt import QtCore

    def handler(mode: object, context: object, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    previous = QtCore.qInstallMessageHandler(handler)
    try:
        yield
    finally:
        QtCore.qInstallMessageHandler(previous)


def _no_display() -> bool:
    """Return whether Qt would abort for want of a display (Linux, X11/Wayland platforms)."""
    if not sys.platform.startswith("linux"):
        return False
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    chosen = [p.split(":")[0] for p in os.environ.get("QT_QPA_PLATFORM", "").split(";") if p]
    # e.g. offscreen, eglfs, linuxfb, vnc need no X11/Wayland display
    return not chosen or all(p.startswith(_DISPLAY_PLATFORMS) for p in chosen)
