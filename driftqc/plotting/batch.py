"""Figures of a batch of sessions: the multi-session grid, amplitude distributions, drift QC.

A batch is compared by eye when every session sits on one depth axis (the grid, with a row
per shank on multi-shank probes and each session's shift from the reference session in its
panel title), when their amplitude distributions sit side by side with the shared amplitude
range marked, and when each session's drift map carries its measured drift trace in the
frame it was measured in (registered, and raw for Kilosort 4 sessions whose motion estimate
lets the raw frame be reconstructed). The between-session kymograph shows each session's
depth-activity profile as a column, one panel per shank.

Every function draws prepared results (selections, traces, shifts) on a new headless
:class:`matplotlib.figure.Figure` (never pyplot) and returns it; computing and file writing
are left to the caller, except :func:`save_image_pages`, which turns already drawn images
into one PDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.image import imread

from driftqc.metrics.between_sessions import SessionShifts
from driftqc.options import STYLE
from driftqc.plotting.drift_map import plot_drift_map
from driftqc.plotting.drift_plots import plot_drift_map_with_trace, plot_kymograph
from driftqc.plotting.figure import new_figure
from driftqc.qc import ALL_SHANKS, SessionDriftQC
from driftqc.selection import Selection
from driftqc.text import printable
from driftqc.views.shading import grey_rgba

FAILED_COLOUR = "C3"


def failure_figure(title: str, message: str, size: tuple[float, float] = (8.0, 6.0)) -> Figure:
    """Return a placeholder figure saying that a session failed and why.

    Parameters
    ----------
    title
        The session's title.
    message
        Why it failed.
    size
        Figure size in inches.
    """
    fig = new_figure(size, layout=None)
    text = printable(f"{title}\nfailed: {message}")
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True,
             color=FAILED_COLOUR)  # fmt: skip
    return fig


def plot_amplitude_distributions(
    samples: Mapping[str, np.ndarray | None],
    units: Mapping[str, str | None],
    shared: Mapping[str, object],
) -> Figure:
    """Box plots of each session's log amplitudes, the shared range marked.

    Parameters
    ----------
    samples
        ``session id -> amplitudes`` (a sample is enough), or None for a failed session.
    units
        ``session id -> amplitude unit`` (shown beside the id).
    shared
        The shared range from :func:`driftqc.qc.amplitude_summary` (``applicable``,
        ``low``, ``high``, ``warning``).

    Returns
    -------
    matplotlib.figure.Figure
        One row per session (whiskers at the 1st and 99th percentiles); failed sessions and
        sessions without spikes say so in their row; dashed lines bound the shared range.
    """
    ids = list(samples)
    fig = new_figure((8, 1.0 + 0.45 * len(ids)))
    ax = fig.add_subplot()
    drawn = [i for i, sid in enumerate(ids) if samples[sid] is not None and len(samples[sid])]
    data = [np.log10(np.maximum(samples[ids[i]], 1e-12)) for i in drawn]  # type: ignore[arg-type]
    if data:
        ax.boxplot(data, positions=drawn, orientation="horizontal", whis=(1, 99), showfliers=False)
    for i, sid in enumerate(ids):
        if i not in drawn:
            text = "failed" if samples[sid] is None else "no spikes"
            ax.text(0.5, i, text, va="center", color=FAILED_COLOUR)
    if shared.get("applicable"):
        for value in (shared["low"], shared["high"]):
            ax.axvline(np.log10(float(value)), color="C0", linestyle="--", linewidth=1)  # type: ignore[arg-type]
    ax.set_yticks(range(len(ids)), [f"{sid} ({units.get(sid) or '-'})" for sid in ids])
    ax.set_ylim(len(ids) - 0.5, -0.5)
    ax.set_xlabel("log10 amplitude (whiskers: 1st-99th percentile; dashed: shared range)")
    ax.set_title(shared.get("warning") or "Spike amplitudes per session", fontsize=9, wrap=True)
    return fig


def plot_session_grid(
    panels: Mapping[str, Mapping[object, Selection] | str], **options: Any
) -> Figure:
    """All sessions' drift maps on one depth axis; a row per shank on multi-shank probes.

    Parameters
    ----------
    panels
        ``session id -> {shank key: selection}`` (key ``"all"`` for the whole probe, plus each
        shank index on multi-shank probes; see :func:`driftqc.qc.shank_selections`), or the
        reason a session failed.
    **options
        ``titles``, ``map_options`` and the layout options of :class:`SessionGrid`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    keys = {sid: list(value) for sid, value in panels.items() if not isinstance(value, str)}
    grid = SessionGrid(list(panels), keys, **options)
    for sid, value in panels.items():
        grid.draw(sid, value)
    return grid.finish()


class SessionGrid:
    """The multi-session grid, drawn one session at a time.

    A batch need not hold every session's spikes at once: lay the grid out from each
    session's shank keys, then load and :meth:`draw` one session after another (the figure
    keeps only what was drawn), and :meth:`finish` it.

    Parameters
    ----------
    ids
        Session ids, in panel order.
    shank_keys
        ``session id -> shank keys`` (``"all"`` plus each shank index on multi-shank probes;
        see :func:`driftqc.qc.shank_keys`) for the sessions that did not fail.
    titles
        ``session id -> title``.
    map_options
        Passed to :func:`driftqc.plotting.plot_drift_map` (``scaling``, ``render``, ...).
    columns
        Sessions per row when every session has one shank (0: all in one row). With several
        shanks, every session is a column and every shank a row.
    column_width, height
        Size of one panel in inches.
    shifts
        ``session id -> {shank key: shift from the reference session (µm) or None}``; shown
        in each panel's title.
    note
        Text added to the figure title (e.g. which amplitude scale was used).
    """

    def __init__(
        self,
        ids: Sequence[str],
        shank_keys: Mapping[str, Sequence[object]],
        *,
        titles: Mapping[str, str],
        map_options: Mapping[str, object],
        columns: int = 0,
        column_width: float = 3.0,
        height: float = 6.0,
        shifts: Mapping[str, Mapping[str, float | None]] | None = None,
        note: str = "",
    ) -> None:
        rows: list[object] = []
        for keys in shank_keys.values():
            rows += [k for k in keys if k != ALL_SHANKS and k not in rows]
        n = len(ids)
        if rows:
            rows = sorted(rows, key=str)
            self.ncols, nrows = n, len(rows)
            cells = [(sid, key) for key in rows for sid in ids]
        else:
            self.ncols = columns or n
            nrows = -(-n // self.ncols)
            cells = [(sid, ALL_SHANKS) for sid in ids]
        self.figure = new_figure((column_width * self.ncols, height * nrows))
        self.axes = self.figure.subplots(nrows, self.ncols, sharey=True, squeeze=False).ravel()
        self._cells: dict[str, list[tuple[object, Axes]]] = {sid: [] for sid in ids}
        for ax, (sid, key) in zip(self.axes, cells, strict=False):
            self._cells[sid].append((key, ax))
        self._n_cells = len(cells)
        self._titles, self._options, self._shifts = titles, map_options, shifts
        self._note = note
        self._width = int(14 * column_width) - 2  # characters of 7-pt text per panel
        self._unit: str | None = None
        self._low: list[float] = []
        self._high: list[float] = []

    def draw(self, sid: str, value: Mapping[object, Selection] | str) -> None:
        """Draw one session's panels: its selection per shank key, or why it failed.

        Each panel's title has at most two lines: the session's title (shank, shift from
        the reference), then what is drawn (the selection's caption without the session id).
        """
        for key, ax in self._cells[sid]:
            head = printable(self._titles.get(sid, sid))
            head += "" if key == ALL_SHANKS else f", shank {key}"
            shift = (self._shifts or {}).get(sid, {}).get(str(key))
            tail = ""
            if self._shifts is not None:
                tail = f"; shift {_signed(shift)} µm" if shift is not None else "; shift n/a"
            # two lines: the session and its shift, then what is drawn; a narrow panel
            # moves the shift to the second line rather than cut the session's title
            first, second = head + tail, ""
            if len(first) > self._width and tail:
                first, second = head, tail.removeprefix("; ")
            first = _fit(first, self._width)
            if isinstance(value, str):
                ax.text(0.5, 0.5, printable(f"failed:\n{value}"), transform=ax.transAxes,
                        ha="center", wrap=True, fontsize=7, color=FAILED_COLOUR)  # fmt: skip
                ax.set_title(f"{first}\n{second}" if second else first, fontsize=7, loc="left")
                continue
            selection = value.get(key)
            if selection is None:
                ax.set_axis_off()
                more = f"{second} · no spikes" if second else "no spikes"
                ax.set_title(f"{first}\n{more}", fontsize=7, loc="left")
                continue
            plot_drift_map(selection, **self._options, ax=ax, colorbar=False, title=None)  # type: ignore[arg-type]
            caption = _without_name(printable(selection.caption), selection.kept.info.name, sid)
            ax.set_title("", loc="center")
            caption = f"{second} · {caption}" if second else caption
            ax.set_title(f"{first}\n{_fit(caption, self._width)}", fontsize=7, loc="left")
            self._low.append(ax.get_ylim()[0])
            self._high.append(ax.get_ylim()[1])
            if self._unit is None:
                self._unit = selection.kept.info.amplitude_unit

    def finish(self) -> Figure:
        """Hide spare cells, share one depth range and title the figure; return it."""
        for ax in self.axes[self._n_cells :]:
            ax.set_visible(False)
        for i, ax in enumerate(self.axes):
            if i % self.ncols:
                ax.set_ylabel("")
        if self._low:
            self.axes[0].set_ylim(min(self._low), max(self._high))
        shift_note = (
            "; titles: shift from the reference session" if self._shifts is not None else ""
        )
        note = f"; {self._note}" if self._note else ""
        self.figure.suptitle(f"{len(self._cells)} sessions{note}{shift_note}", fontsize=9)
        self._amplitude_key()
        return self.figure

    def _amplitude_key(self) -> None:
        """One grey-scale key for every panel (they share the amplitude bins)."""
        shown = [ax for ax in self.axes[: self._n_cells] if ax.get_visible() and ax.axison]
        if not shown or self._unit is None:
            return
        if self._options.get("render", "scatter") != "scatter":
            return  # density images: each panel's grey is its own spike count
        scaling = self._options.get("scaling", STYLE.amplitude_cmap_scaling)
        n_bins = int(self._options.get("n_color_bins", STYLE.n_color_bins))  # type: ignore[call-overload]
        if isinstance(scaling, list | tuple):
            low, high = float(scaling[0]), float(scaling[1])
            label = f"amplitude ({self._unit}), every panel"
        else:
            low, high = 0.0, 1.0
            label = f"amplitude ({scaling}; each panel its own range)"
        cmap = ListedColormap(grey_rgba(n_bins))
        mappable = ScalarMappable(norm=Normalize(low, high if high > low else low + 1), cmap=cmap)
        bar = self.figure.colorbar(mappable, ax=shown, fraction=0.03, pad=0.01, aspect=40)
        bar.set_label(label, fontsize=7)
        bar.ax.tick_params(labelsize=7)
        if not isinstance(scaling, list | tuple):
            bar.set_ticks([0.0, 1.0], labels=["low", "high"])


def _signed(value: float) -> str:
    """``+0.0`` rather than ``-0.0`` for a shift that rounds to zero."""
    return f"{round(float(value), 1) + 0.0:+.1f}"


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters (one line), with an ellipsis when cut."""
    text = " ".join(text.split())
    width = max(width, 8)
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _without_name(caption: str, *names: str) -> str:
    """Drop a caption's leading ``"<session>: "`` (the panel title names the session)."""
    for name in names:
        prefix = f"{printable(name)}: "
        if name and caption.startswith(prefix):
            return caption[len(prefix) :]
    return caption


def save_image_pages(images: Sequence[Path | str], pdf: Path | str, dpi: float = 150) -> None:
    """Write drawn images (PNG) into one PDF, one page per image at its own size."""
    with PdfPages(pdf) as pages:
        for image_path in images:
            image = imread(image_path)
            page = new_figure((image.shape[1] / dpi, image.shape[0] / dpi), layout=None)
            ax = page.add_axes((0, 0, 1, 1), frameon=False)
            ax.imshow(image, interpolation="none")
            ax.set_axis_off()
            pages.savefig(page, dpi=dpi)


def plot_session_drift_qc(
    result: SessionDriftQC,
    selections: Mapping[object, Selection],
    raw_selections: Mapping[object, Selection] | None = None,
    *,
    title: str,
    overlay: bool = False,
    show_events: bool = True,
    map_options: Mapping[str, object] | None = None,
    panel_size: tuple[float, float] = (8.0, 7.0),
) -> Figure:
    """Draw a session's drift maps with their traces below, one panel per frame and shank.

    Parameters
    ----------
    result
        The session's drift QC (:func:`driftqc.qc.session_drift_qc`).
    selections
        The session's selection per shank key (see :func:`driftqc.qc.shank_selections`).
    raw_selections
        The same in the raw frame (Kilosort 4 sessions), drawn beside the registered ones,
        with the sorter's own estimate in the trace panel; None for none.
    title
        Session title.
    overlay
        Also draw the trace on the map.
    show_events
        Mark drift events on the registered-frame maps.
    map_options
        Passed to :func:`driftqc.plotting.plot_drift_map`.
    panel_size
        Size of one panel (map and trace) in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Every panel's title names its frame and shank.
    """
    options = dict(map_options or {})
    keys = [k for k in selections if k != ALL_SHANKS] or [ALL_SHANKS]
    panels = [(selections[k], result.traces[k], k, False) for k in keys]
    if raw_selections:
        panels += [(raw_selections[k], result.raw_traces[k], k, True) for k in keys]
    fig = new_figure((panel_size[0] * len(panels), panel_size[1]))
    subfigures = np.atleast_1d(fig.subfigures(1, len(panels)))
    for sub, (selection, trace, key, raw) in zip(subfigures, panels, strict=True):
        events = None
        if show_events and not raw and len(result.events):
            events = result.events[result.events["shank"] == key]
        others = [result.sorter_trace] if raw and result.sorter_trace is not None else []
        where = "" if key == ALL_SHANKS else f", shank {key}"
        plot_drift_map_with_trace(
            selection,
            trace,
            overlay=overlay,
            events=events,
            others=others,
            figure=sub,
            **{**options, "title": None},
        )
        # the frame is said once per panel, in its heading
        map_ax = sub.axes[0]
        frame = selection.kept.info.frame_caption
        caption = map_ax.get_title(loc="left").replace(f"; depth frame: {frame}", "")
        caption = _without_name(caption, selection.kept.info.name)  # the heading names it
        map_ax.set_title(caption, loc="left", fontsize=8, color="0.15")
        sub.suptitle(printable(f"{title}{where}: {frame} frame"), fontsize=10)
    return fig


def plot_shift_kymographs(
    shifts: Mapping[object, SessionShifts], failed: Sequence[str] = ()
) -> Figure:
    """Kymograph of the between-session shifts, one panel per shank key (and subject).

    A session whose shift is uncertain (its units do not match the reference's
    distinctively) is labelled ``uncertain`` instead of a number, in orange, and its column
    is hatched: it gets no shift track.

    Parameters
    ----------
    shifts
        :class:`~driftqc.metrics.SessionShifts` per shank key (``"all"`` first), or per
        ``(subject, shank key)``.
    failed
        Sessions left out because they failed (named in the figure title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n_sessions = max((len(s.names) for s in shifts.values()), default=1)
    width = max(4.0, 0.6 * n_sessions + 2.5)
    fig = new_figure((width * max(len(shifts), 1), 6.0))
    if not shifts:
        fig.text(0.5, 0.5, "no session could be compared", ha="center", color=FAILED_COLOUR)
    for k, (key, item) in enumerate(shifts.items(), start=1):
        ax = fig.add_subplot(1, len(shifts), k)
        subject, shank = key if isinstance(key, tuple) else ("", key)
        where = "whole probe" if shank == ALL_SHANKS else f"shank {shank}"
        if subject:
            where = f"{subject}, {where}"
        reference = printable(item.names[item.reference])
        plot_kymograph(item, ax=ax, title=f"{where}: reference {reference}\n{item.method}")
        _mark_uncertain(ax, item)
    if failed:
        fig.suptitle(printable(f"not compared (failed): {', '.join(failed)}"), color=FAILED_COLOUR)
    return fig


UNCERTAIN_COLOUR = "tab:orange"


def _mark_uncertain(ax: Axes, item: SessionShifts) -> None:
    """Hatch the columns of uncertain sessions and say so in their labels."""
    labels = ax.get_xticklabels()
    for i, status in enumerate(item.statuses):
        if status == "ok" or i >= len(labels):
            continue
        ax.axvspan(i - 0.5, i + 0.5, facecolor="none", edgecolor=UNCERTAIN_COLOUR,
                   hatch="//", lw=0.0, alpha=0.6)  # fmt: skip
        labels[i].set_text(printable(f"{item.names[i]}\n{status}"))
        labels[i].set_color(UNCERTAIN_COLOUR)
    ax.set_xticks(ax.get_xticks(), labels)
