"""Figures of drift QC results: traces, traces on drift maps, events, session kymographs.

These functions draw prepared results from :mod:`driftqc.metrics` (they compute nothing but
layout). Each draws on given matplotlib axes, or on a new headless
:class:`matplotlib.figure.Figure` (never pyplot), and returns the figure. Every panel says its
units and the depth frame of the numbers drawn.

Sign convention everywhere: displacement > 0 means the spikes appear at larger depth (y), so a
trace overlaid on a drift map at depth ``y0`` follows ``y0 + displacement(t)`` and moves with
the bands.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from driftqc.metrics.between_sessions import SessionShifts
from driftqc.metrics.drift_trace import DriftTrace
from driftqc.plotting.drift_map import plot_drift_map
from driftqc.plotting.figure import new_figure
from driftqc.selection import Selection
from driftqc.text import printable

TRACE_COLOUR = "tab:blue"
EVENT_COLOUR = "red"
_OTHER_COLOURS = ("tab:orange", "tab:green", "tab:purple", "tab:brown")


def plot_drift_trace(
    trace: DriftTrace,
    *,
    others: Sequence[DriftTrace] = (),
    labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    figure: Figure | None = None,
    title: str | None = None,
    show_summary: bool = True,
    frame_label: bool = True,
) -> Figure:
    """Draw a drift trace (displacement vs time), invalid bins marked.

    Parameters
    ----------
    trace
        The trace to draw.
    others
        More traces on the same axes (e.g. the sorter's own estimate, a ground truth).
    labels
        Legend labels for ``trace`` then ``others`` (default: their ``source``).
    ax, figure
        Axes to draw on, or a figure to add one to (default: a new headless figure).
    title
        Axes title (default: session name and frame).
    show_summary
        Write peak-to-peak, 95th percentile |d| and largest step above the axes.
    frame_label
        Name the depth frame in the y label (False when a map above names it).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _target(ax, figure, (9.0, 3.0))
    traces = [trace, *others]
    names = [printable(n) for n in (labels if labels is not None else [t.source for t in traces])]
    for k, (item, name) in enumerate(zip(traces, names, strict=False)):
        colour = TRACE_COLOUR if k == 0 else _OTHER_COLOURS[(k - 1) % len(_OTHER_COLOURS)]
        ax.plot(item.times, item.displacement_um, color=colour, lw=1.2, label=name)
        if k == 0 and (~item.valid).any():
            bad = ~item.valid
            ax.plot(
                item.times[bad],
                item.displacement_um[bad],
                "x",
                color="0.5",
                ms=4,
                label="not measured (interpolated)",
            )
    ax.axhline(0.0, color="0.7", lw=0.8, zorder=0)
    ax.set_xlabel("time (s)")
    label = f"displacement (µm)\n{trace.frame} frame" if frame_label else "displacement (µm)"
    ax.set_ylabel(label)
    heading = printable(title if title is not None else _trace_title(trace))
    if show_summary:
        s = trace.summary()
        numbers = (
            f"peak-to-peak {s.peak_to_peak_um:.1f} µm · 95th pct |d| {s.p95_abs_um:.1f} µm · "
            f"largest step {s.max_step_um:.1f} µm"
        )
        # above the axes, never on the trace
        heading = f"{heading}\n{numbers}" if heading else numbers
    ax.set_title(heading, fontsize=8, loc="left", color="0.2")
    if len(traces) > 1 or (~trace.valid).any():
        # one row of entries in headroom above the traces, so the legend covers none of them
        handles, names_ = ax.get_legend_handles_labels()
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.35 * (high - low))
        ax.legend(handles, names_, fontsize=7, loc="upper right", ncol=len(handles),
                  frameon=False, handlelength=1.5, columnspacing=1.0)  # fmt: skip
    return fig


def plot_drift_map_with_trace(
    selection: Selection,
    trace: DriftTrace,
    *,
    overlay: bool = True,
    overlay_depths_um: Sequence[float] | None = None,
    events: pd.DataFrame | None = None,
    others: Sequence[DriftTrace] = (),
    figure: Figure | None = None,
    **map_options: object,
) -> Figure:
    """Drift map with the drift trace in a panel below (shared time axis).

    Parameters
    ----------
    selection
        Spikes to draw (see :func:`driftqc.selection.select_spikes`).
    trace
        Drift trace of the same session (same depth frame as the selection).
    overlay
        Also draw the trace on the map as lines following ``y0 + displacement(t)``.
    overlay_depths_um
        Depths ``y0`` of the overlay lines (default: the 25th, 50th and 75th percentiles of
        the kept spikes' depths).
    events
        Drift events (:func:`driftqc.metrics.find_drift_events`) to mark on the map.
    others
        More traces for the lower panel (e.g. the sorter's estimate).
    figure
        Figure to draw on (default: a new headless figure).
    **map_options
        Passed to :func:`driftqc.plotting.plot_drift_map` (``scaling``, ``render``, ...).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = figure if figure is not None else new_figure((10.0, 9.0))
    grid = fig.add_gridspec(2, 1, height_ratios=[3, 1])
    map_ax = fig.add_subplot(grid[0, 0], label="drift map")
    trace_ax = fig.add_subplot(grid[1, 0], sharex=map_ax, label="drift trace")
    plot_drift_map(selection, ax=map_ax, **map_options)  # type: ignore[arg-type]
    if overlay:
        depths = overlay_depths_um
        if depths is None:
            kept = selection.kept.depths[np.isfinite(selection.kept.depths)]
            depths = np.percentile(kept, [25, 50, 75]) if len(kept) else []
        overlay_trace(map_ax, trace, depths)
    if events is not None:
        mark_drift_events(map_ax, events)
    plot_drift_trace(trace, others=others, ax=trace_ax, title="", frame_label=False)
    map_ax.set_xlabel("")
    return fig


def overlay_trace(ax: Axes, trace: DriftTrace, depths_um: Sequence[float]) -> None:
    """Draw ``y0 + displacement(t)`` lines on a drift map for each ``y0`` in ``depths_um``."""
    for k, y0 in enumerate(depths_um):
        ax.plot(
            trace.times,
            float(y0) + trace.displacement_um,
            color=TRACE_COLOUR,
            lw=1.0,
            alpha=0.8,
            label=f"drift trace ({trace.frame})" if k == 0 else None,
        )


def mark_drift_events(ax: Axes, events: pd.DataFrame, *, annotate: bool = True) -> None:
    """Mark drift events as red dots at (time, band depth), with the drift (µm) as text.

    The number is the cortex-lab drift (band depth − median depth in the window).
    """
    if events is None or len(events) == 0:
        return
    ax.scatter(
        events["time_s"],
        events["depth_um"],
        s=18,
        color=EVENT_COLOUR,
        edgecolors="none",
        zorder=5,
        label="drift events",
    )
    if annotate:
        for t, y, d in zip(events["time_s"], events["depth_um"], events["drift_um"], strict=True):
            ax.text(t + 1.0, y, f"{d:.0f}", color=EVENT_COLOUR, fontsize=7, va="center")


def plot_kymograph(
    shifts: SessionShifts,
    *,
    overlay: bool = True,
    n_tracks: int = 3,
    ax: Axes | None = None,
    figure: Figure | None = None,
    title: str | None = None,
) -> Figure:
    """Sessions × depth image of activity profiles, with the estimated shifts overlaid.

    Parameters
    ----------
    shifts
        Result of :func:`driftqc.metrics.between_session_shifts`.
    overlay
        Draw, for the ``n_tracks`` strongest peaks of the reference profile, the depth each
        peak is expected at in every session (peak depth + the session's shift).
    n_tracks
        Number of reference peaks to follow.
    ax, figure
        Axes to draw on, or a figure to add one to.
    title
        Axes title (default: reference session and frame).

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = _target(ax, figure, (max(4.0, 0.6 * len(shifts.names) + 2.5), 6.0))
    n = len(shifts.names)
    depth = shifts.depth_centres_um
    step = float(depth[1] - depth[0]) if len(depth) > 1 else 1.0
    image = ax.imshow(
        shifts.profiles.T,
        origin="lower",
        aspect="auto",
        cmap="Greys",
        extent=(-0.5, n - 0.5, depth[0] - step / 2, depth[-1] + step / 2),
        interpolation="nearest",
    )
    fig.colorbar(image, ax=ax, label="log(1 + spikes/s per bin)", shrink=0.8)
    ax.set_xticks(np.arange(n))
    ax.set_xticklabels(
        [
            printable(f"{name}\n{'ref' if i == shifts.reference else _fmt_shift(s)}")
            for i, (name, s) in enumerate(zip(shifts.names, shifts.shifts_um, strict=True))
        ],
        rotation=90 if n > 8 else 0,
        fontsize=7,
    )
    ax.set_xlabel("session (shift vs reference, µm)")
    ax.set_ylabel(f"depth (µm, {shifts.frame} frame)")
    if overlay:
        for y0 in _strongest_peaks(shifts.profiles[shifts.reference], depth, n_tracks):
            ax.plot(
                np.arange(n),
                y0 + shifts.shifts_um,
                "o-",
                color=EVENT_COLOUR,
                ms=3,
                lw=1.0,
                alpha=0.8,
            )
    ax.set_title(
        printable(
            title
            if title is not None
            else f"activity by session (reference {shifts.names[shifts.reference]})"
        ),
        fontsize=9,
    )
    return fig


def _target(
    ax: Axes | None, figure: Figure | None, size: tuple[float, float]
) -> tuple[Figure, Axes]:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError("ax must be a matplotlib Axes or None")
        return ax.figure, ax  # type: ignore[return-value]
    fig = figure if figure is not None else new_figure(size)
    return fig, fig.add_subplot()


def _trace_title(trace: DriftTrace) -> str:
    name = f"{trace.session}: " if trace.session else ""
    return f"{name}drift trace ({trace.source}, {trace.frame} frame, {trace.bin_s:g}-s bins)"


def _fmt_shift(value: float) -> str:
    # "+0.0", never "-0.0", for a shift that rounds to zero
    return "n/a" if not np.isfinite(value) else f"{round(float(value), 1) + 0.0:+.1f}"


def _strongest_peaks(profile: np.ndarray, depth: np.ndarray, n: int) -> list[float]:
    if len(profile) < 3 or n < 1:
        return []
    inner = (profile[1:-1] > profile[:-2]) & (profile[1:-1] >= profile[2:])
    peaks = np.flatnonzero(inner) + 1
    chosen: list[int] = []
    for p in peaks[np.argsort(profile[peaks])[::-1]]:
        if all(abs(depth[p] - depth[c]) > 50.0 for c in chosen):
            chosen.append(int(p))
        if len(chosen) == n:
            break
    return [float(depth[p]) for p in chosen]
