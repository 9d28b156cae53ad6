"""The interactive drift map of one session: every spike at every zoom, units, frames, shanks.

Spikes are drawn as time (s) × depth (µm) in the grey amplitude bins shared with the
matplotlib drift map (:mod:`driftqc.views.shading`: bins from all spikes that passed the
filters). What is drawn follows the view (:mod:`driftqc.views.level_of_detail`): at overview
zoom a density image of every spike, in the same grey bins; zoomed in, the real spikes of the
visible window, all of them when they fit the point budget, else 1 in N. The caption says
which. Each grey bin is one :class:`BinScatterItem`, lightest first so the darker (larger)
spikes lie on top, as in the static figure; no per-point style exists.

Beside the map: the depth histogram of every kept spike (left, as in the static figure) and
the amplitude colour bar (right). Above it, when the session offers them: a frame toggle
(Kilosort 4: registered or raw depths, re-selected through a
:class:`driftqc.interactive.sources.SessionSource`), a shank selector (multi-shank probes), and
a unit filter (ids and labels) that highlights or isolates units.

Hover and click use :class:`driftqc.interactive.lookup.SpikeLocator` on the drawn points.
Clicking a spike marks it, highlights every spike of its unit and shows the unit's template in
the side panel (hidden until then). Keys: Home or R resets the view, + and − zoom, the arrows
pan, Escape clears the units and the selected spike. Pan and zoom stay within the data. The
view box's context menu exports the spikes of the visible window to CSV.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from driftqc.errors import OptionError
from driftqc.geometry import template_shanks
from driftqc.interactive._lifetime import track
from driftqc.interactive._qt import QtCore, QtGui, QtWidgets, ensure_app, exec_app, pg
from driftqc.interactive.colour_bar import AmplitudeBar
from driftqc.interactive.lookup import SpikeLocator
from driftqc.interactive.scatter_item import BinScatterItem
from driftqc.interactive.sources import SessionSource
from driftqc.interactive.template_view import TemplatePanel
from driftqc.interactive.units import parse_units
from driftqc.metrics.histograms import depth_histogram
from driftqc.model import SpikeTable
from driftqc.options import STYLE, MapStyle, Scaling
from driftqc.selection import Selection
from driftqc.text import printable
from driftqc.views.level_of_detail import (
    POINT_BUDGET,
    LevelOfDetail,
    WindowView,
    density_rgba,
    grey_levels_of,
)
from driftqc.views.shading import AmplitudeShading, amplitude_shading, grey_rgba

HOVER_RADIUS_PX = 8.0  # how close (screen pixels) the mouse must be to a spike
HIGHLIGHT_COLOUR = (230, 120, 0)
ZOOM_STEP = 2.0  # + and - zoom by this factor
PAN_STEP = 0.1  # the arrows pan by this fraction of the view
_IDLE_TEXT = "Hover over a spike to read it; click it to see its unit and template."
_DENSITY_TEXT = "Density view: zoom in to hover and click single spikes."
_CSV_HEADER = "time_s,depth_um,amplitude,cluster,template"
_DEFAULT_SIZE_PX = (800.0, 600.0)


class DriftmapPlotWidget(QtWidgets.QWidget):
    """Interactive drift map of one session with its histogram, colour bar and template panel.

    Parameters
    ----------
    selection
        The spikes to show (:func:`driftqc.selection.select_spikes`). With ``lod`` (default)
        every ``kept`` spike can be drawn and the build-time decimation (``shown``) is
        replaced by thinning per window; with ``lod=False`` exactly ``shown`` is drawn.
    templates
        (n_templates, n_samples, n_channels) templates, indexed by the spikes' template ids.
    channel_positions
        (n_channels, 2) channel x/y in µm.
    channel_shanks
        (n_channels,) shank of each channel.
    amplitude_cmap_scaling
        ``"linear"``, ``"log2"``, ``"log10"`` or an explicit ``(low, high)``.
    n_color_bins
        Number of grey levels.
    point_size
        Marker diameter in screen pixels.
    title
        ``True`` for ``"Drift map: <session>"``, a string for that title, None/False for none.
    parent
        Parent widget.
    style
        An already checked :class:`driftqc.options.MapStyle` to draw with instead of
        ``amplitude_cmap_scaling``, ``n_color_bins`` and ``point_size`` (leave those at their
        defaults); it is not checked again.
    lod
        Level of detail (default): density image at overview zoom, the window's real spikes
        when zoomed in. False draws ``selection.shown`` as given, as driftplots does.
    point_budget
        Most points drawn in one window; a window with more than 4 × this many spikes is a
        density image.
    source
        Where to re-select the session in another frame (:mod:`driftqc.interactive.sources`);
        without it there is no frame toggle.
    shank
        Show only this shank's spikes (None: all shanks).
    histogram
        Show the depth histogram beside the map.

    Raises
    ------
    OptionError
        A style option out of range, or a shank the probe does not have (checked before any
        Qt object is made).
    TypeError
        ``style`` given together with a style keyword.

    Attributes
    ----------
    map_style
        The :class:`driftqc.options.MapStyle` drawn with.
    shading
        The amplitude → grey bins in use (changed by a shared scale).
    spikes
        The spikes the panel draws from, sorted by time: ``selection.kept`` (or ``shown``
        without ``lod``) of the current frame, shank and unit isolation. Spike indices
        (``selected_index``, :meth:`spike_at`) index this table.
    view
        What the current window shows (:class:`driftqc.views.level_of_detail.WindowView`).
    title, title_label
        The title text (None for none) and the label showing it above the map.
    plot_item
        The drift-map plot (x = time, y = depth).
    density_item
        The density image (empty unless ``view.mode == "density"``).
    highlight_item
        The highlighted units' spikes in the window.
    selected_item
        The marker of the selected spike (empty until a click).
    selected_index
        Index into ``spikes`` of the selected spike, or None.
    highlighted_units
        Cluster ids highlighted (or isolated).
    histogram_plot, colour_bar
        The depth histogram (None without ``histogram``) and the amplitude colour bar.
    template_panel
        The side panel showing the selected spike's template (hidden until first used).
    frame_combo, shank_combo, unit_edit, isolate_check
        The controls above the map (the combos are hidden when there is nothing to choose).
    hover_label, caption_label
        Read-out of the spike under the mouse; what the map shows.

    Notes
    -----
    Creates the ``QApplication`` if none exists. Templates are drawn as saved by the sorter
    (whitened for Kilosort 1–3), identical for every spike of a unit.

    Examples
    --------
    >>> from driftqc import DriftPlotter  # doctest: +SKIP
    >>> DriftPlotter("kilosort4").drift_map_plot_interactive(title=True).plot()  # doctest: +SKIP
    """

    def __init__(
        self,
        selection: Selection,
        templates: np.ndarray,
        channel_positions: np.ndarray,
        channel_shanks: np.ndarray,
        amplitude_cmap_scaling: Scaling = STYLE.amplitude_cmap_scaling,
        n_color_bins: int = STYLE.n_color_bins,
        point_size: float = STYLE.point_size,
        title: bool | str | None = None,
        parent: QtWidgets.QWidget | None = None,
        *,
        style: MapStyle | None = None,
        lod: bool = True,
        point_budget: int = POINT_BUDGET,
        source: SessionSource | None = None,
        shank: int | None = None,
        histogram: bool = True,
    ) -> None:
        # validate before the QWidget exists: a Qt object whose __init__ raised is left
        # half-built and can crash the interpreter when it is collected at exit
        style = MapStyle.given(style, amplitude_cmap_scaling, n_color_bins, point_size)
        if int(point_budget) < 1:
            raise OptionError(f"point_budget must be at least 1, got {point_budget!r}")
        self.probe_shanks = tuple(int(s) for s in np.unique(np.asarray(channel_shanks)))
        _check_shank(shank, self.probe_shanks)
        self._app = ensure_app()
        super().__init__(parent)
        self.map_style = style
        self.point_size = style.point_size
        self.lod = bool(lod)
        self.point_budget = int(point_budget)
        self.source = source
        self.selection = selection
        self.shank = shank
        self._templates = templates
        self._template_shanks = template_shanks(
            templates, channel_shanks, session=selection.kept.info.name
        )
        self._scaling: Scaling = style.amplitude_cmap_scaling
        self.highlighted_units = np.zeros(0, dtype=np.int32)
        self.isolated = False
        self.selected_index: int | None = None
        self.view: WindowView = WindowView("empty", 0, 0, np.zeros(0, dtype=np.intp))
        self._drawn = np.zeros(0, dtype=np.intp)
        self._locator = SpikeLocator(np.zeros(0), np.zeros(0))
        self._highlight_lod: LevelOfDetail | None = None
        self._highlight_index = np.zeros(0, dtype=np.intp)
        self._home: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.setWindowTitle(printable(f"Drift map — {selection.kept.info.name}"))
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        # the title has a row of its own, so the histogram, map and colour bar below it
        # share their top edge and one depth maps to one pixel row in all three
        self.title = _title_text(title, selection)
        self.title_label = self.graphics.addLabel(
            self.title or "", row=0, col=0, colspan=3, color="k", size="12pt"
        )
        if not self.title:
            self.title_label.setVisible(False)
            self.graphics.ci.layout.setRowMaximumHeight(0, 0)
        self.histogram_plot = self._add_histogram_plot() if histogram else None
        self.plot_item = self.graphics.addPlot(row=1, col=1)
        self.plot_item.setLabel("bottom", "Time (s)")
        self.plot_item.setLabel("left", "Depth (µm)")
        for axis in ("left", "bottom"):
            self.plot_item.getAxis(axis).setTextPen("k")
            self.plot_item.getAxis(axis).setPen("k")
        self.colour_bar = AmplitudeBar()
        self.graphics.addItem(self.colour_bar, row=1, col=2)
        if self.histogram_plot is not None:
            self.histogram_plot.setYLink(self.plot_item)
        self.density_item = pg.ImageItem(axisOrder="row-major")
        self.density_item.setZValue(-1)
        self.plot_item.addItem(self.density_item)
        self._bin_items: list[BinScatterItem] = []
        self.highlight_item = BinScatterItem(
            np.zeros(0), np.zeros(0), HIGHLIGHT_COLOUR, self.point_size * 1.4
        )
        self.highlight_item.setZValue(1e5)
        self.plot_item.addItem(self.highlight_item)
        self.selected_item = pg.ScatterPlotItem(
            size=self.point_size * 2.6, pen=pg.mkPen((220, 0, 0), width=2), brush=None
        )
        self.selected_item.setZValue(1e6)
        self.plot_item.addItem(self.selected_item)
        self.view_box.disableAutoRange()
        self._add_menu_actions()

        self.template_panel = TemplatePanel(
            templates,
            channel_positions,
            channel_shanks,
            sample_rate=selection.kept.info.sample_rate,
        )
        self.template_panel.setMinimumWidth(220)
        self.template_panel.hide()  # shown with the first template
        self.hover_label = QtWidgets.QLabel(_IDLE_TEXT)
        self.hover_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.caption_label = QtWidgets.QLabel()
        self.caption_label.setWordWrap(True)
        self.caption_label.setStyleSheet("color: #404040; font-size: 9pt;")

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.template_panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(self._controls())
        layout.addWidget(splitter, stretch=1)
        layout.addWidget(self.hover_label)
        layout.addWidget(self.caption_label)

        self._update_timer = QtCore.QTimer(self)
        self._update_timer.setSingleShot(True)
        self._update_timer.setInterval(0)
        self._update_timer.timeout.connect(self.update_view)
        self._rebuild(keep_range=False)
        self.view_box.sigRangeChanged.connect(self._schedule_update)
        self.view_box.sigResized.connect(self._schedule_update)
        scene = self.plot_item.scene()
        self._hover_proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=60, slot=self._on_hover)
        scene.sigMouseClicked.connect(self._on_scene_clicked)
        self.graphics.installEventFilter(self)
        track(self)  # deleted before Python shuts down if still alive then

    @classmethod
    def from_source(
        cls,
        source: SessionSource,
        frame: str = "saved",
        *,
        title: bool | str | None = None,
        style: MapStyle | None = None,
        **options: object,
    ) -> DriftmapPlotWidget:
        """Build a panel from a :class:`~driftqc.interactive.sources.SessionSource`.

        ``options`` are the keyword-only options of the class (``shank``, ``lod``, ...).

        Examples
        --------
        >>> from driftqc.interactive.sources import folder_source  # doctest: +SKIP
        >>> DriftmapPlotWidget.from_source(folder_source("kilosort4"), "raw").plot()
        ... # doctest: +SKIP
        """
        shanks = np.unique(np.asarray(source.channel_shanks))
        _check_shank(options.get("shank"), tuple(int(s) for s in shanks))  # before reading
        return cls(
            source.select(frame),
            source.templates,
            source.channel_positions,
            source.channel_shanks,
            title=title,
            style=style,
            source=source,
            **options,  # type: ignore[arg-type]
        )

    # -- public ----------------------------------------------------------------------------
    def plot(self) -> None:
        """Show the widget and run the Qt event loop until the window is closed (or Ctrl-C)."""
        self.show()
        exec_app(self._app)

    @property
    def view_box(self) -> pg.ViewBox:
        """The drift map's view box (pan/zoom state)."""
        return self.plot_item.getViewBox()

    @property
    def bin_items(self) -> list[BinScatterItem]:
        """The grey-bin scatter items that hold points now, lightest first."""
        return [item for item in self._bin_items if len(item)]

    @property
    def bins(self) -> np.ndarray:
        """Grey bin (0 = lightest) of each spike of ``spikes``."""
        return self._levels.astype(np.int16) - 1

    @property
    def frame(self) -> str:
        """The depth frame drawn (``"raw"``, ``"registered"`` or ``"unknown"``)."""
        return self.selection.kept.info.depth_frame

    @property
    def frames(self) -> tuple[str, ...]:
        """The frames the frame toggle offers (only the current one without a source)."""
        return self.source.frames if self.source is not None else (self.frame,)

    @property
    def home_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The (time, depth) range Home/R returns to: the data, or what a grid set."""
        if self._home is not None:
            return self._home
        return self._data_range()

    @home_range.setter
    def home_range(self, value: tuple[tuple[float, float], tuple[float, float]]) -> None:
        self._home = (tuple(value[0]), tuple(value[1]))  # type: ignore[assignment]
        self._apply_limits()

    def reset_view(self) -> None:
        """Show the whole session (the Home and R keys)."""
        (x0, x1), (y0, y1) = self.home_range
        self.view_box.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def zoom(self, factor: float) -> None:
        """Zoom about the view's centre: ``factor`` < 1 zooms in (the + and − keys)."""
        self.view_box.scaleBy((factor, factor))

    def pan(self, dx: float, dy: float) -> None:
        """Move the view by fractions of its width and height (the arrow keys)."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        self.view_box.translateBy(x=dx * (x1 - x0), y=dy * (y1 - y0))

    def set_frame(self, frame: str) -> None:
        """Re-select the session with depths in ``frame`` (one of :attr:`frames`).

        Raises
        ------
        OptionError
            When the panel has no source or the session cannot be drawn in that frame.
        """
        if frame == self.frame:
            return
        if self.source is None or frame not in self.source.frames:
            raise OptionError(
                f"frame {frame!r}: this panel can show {', '.join(self.frames)} only"
                + ("" if self.source else " (build it with a source to toggle frames)")
            )
        self.selection = self.source.select(frame)
        self._sync_combo(self.frame_combo, frame)
        self._rebuild(keep_range=True)

    def set_shank(self, shank: int | None) -> None:
        """Show only ``shank`` (None: every shank).

        Raises
        ------
        OptionError
            A shank the probe does not have (the message lists the valid ones).
        """
        _check_shank(shank, self.probe_shanks)
        self.shank = None if shank is None else int(shank)
        self._sync_combo(self.shank_combo, _shank_text(self.shank))
        self._rebuild(keep_range=True)

    def set_units(
        self, units: object = (), *, isolate: bool = False, text: str | None = None
    ) -> np.ndarray:
        """Highlight (or, with ``isolate``, show only) some units.

        Parameters
        ----------
        units
            Cluster ids.
        isolate
            Draw only these units' spikes instead of highlighting them among all.
        text
            A unit-filter text instead of ids: ids and labels, e.g. ``"3 12 good"``.

        Returns
        -------
        numpy.ndarray
            The cluster ids chosen.

        Raises
        ------
        OptionError
            An id or label not in the session (for ``text``).
        """
        base = self._base_spikes()
        if text is not None:
            ids = parse_units(text, base.clusters, base.cluster_labels)
        else:
            ids = np.unique(np.asarray(units, dtype=np.int32).reshape(-1))
        self.highlighted_units = ids
        was_isolated, self.isolated = self.isolated, bool(isolate) and len(ids) > 0
        if self.isolated or was_isolated:
            self._rebuild(keep_range=True)
        else:
            self._set_highlight()
            self.update_view()
        self._sync_unit_controls(text)
        return ids

    def clear_units(self) -> None:
        """Clear the highlighted or isolated units and the selected spike (Escape)."""
        self.selected_index = None
        self.selected_item.setData(x=[], y=[])
        self.set_units(())

    def set_amplitude_scaling(self, scaling: Scaling) -> None:
        """Shade with ``scaling`` (``"linear"``, ``"log2"``, ``"log10"`` or ``(low, high)``).

        Used by :class:`driftqc.interactive.MultiSessionDriftmapWidget` to put panels on one
        shared grey scale.
        """
        self._scaling = replace(
            self.map_style, amplitude_cmap_scaling=scaling
        ).amplitude_cmap_scaling
        self._rebuild(keep_range=True)

    def grey_of(self, amplitudes: np.ndarray) -> np.ndarray:
        """(n, 4) uint8 RGBA grey the panel draws these amplitudes in."""
        colours = (grey_rgba(self.shading.n_bins) * 255).round().astype(np.uint8)
        return colours[self.shading.bin_of(np.asarray(amplitudes))]

    def visible_spikes(self) -> np.ndarray:
        """Return indices into ``spikes`` of every spike in the window (not thinned)."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        return self._lod.in_window((x0, x1), (y0, y1))

    def export_visible_csv(self, path: Path | str) -> int:
        """Write every spike of the visible window to a CSV file; return how many.

        Columns: ``time_s, depth_um, amplitude, cluster, template``, one row per spike (all
        spikes of the window, not only the drawn ones), in time order.
        """
        index = self.visible_spikes()
        spikes = self.spikes
        table = np.empty(
            len(index),
            dtype=[("t", "f8"), ("d", "f4"), ("a", "f4"), ("c", "i4"), ("k", "i4")],
        )
        table["t"], table["d"] = spikes.times[index], spikes.depths[index]
        table["a"] = spikes.amplitudes[index]
        table["c"], table["k"] = spikes.clusters[index], spikes.templates[index]
        np.savetxt(
            path,
            table,
            fmt=["%.6f", "%.2f", "%.6g", "%d", "%d"],
            delimiter=",",
            header=_CSV_HEADER,
            comments="",
            encoding="utf-8",
        )
        return len(index)

    def spike_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """Index into ``spikes`` of the drawn spike nearest to a scene position.

        Only spikes within :data:`HOVER_RADIUS_PX` screen pixels count; None when none is that
        close, the position is outside the plot area, or the view is a density image.
        """
        view_box = self.view_box
        if not view_box.sceneBoundingRect().contains(scene_pos):
            return None
        point = view_box.mapSceneToView(scene_pos)
        px_w, px_h = view_box.viewPixelSize()
        if not (px_w > 0 and px_h > 0):
            return None
        found = self._locator.nearest(
            point.x(), point.y(), 1.0 / px_w, 1.0 / px_h, HOVER_RADIUS_PX
        )
        return None if found is None else int(self._drawn[found])

    def hover_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """Update the read-out for the mouse at ``scene_pos`` (the mouse-move handler)."""
        index = self.spike_at(scene_pos)
        if index is not None:
            self.hover_label.setText(self.describe_spike(index))
        else:
            self.hover_label.setText(_DENSITY_TEXT if self.view.mode == "density" else _IDLE_TEXT)
        return index

    def click_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """Select the spike at ``scene_pos`` (the left-click handler), if there is one."""
        index = self.spike_at(scene_pos)
        if index is not None:
            self.select_spike(index)
        return index

    def select_spike(self, index: int) -> None:
        """Mark spike ``index`` of ``spikes``, highlight its unit and show its template."""
        spikes = self.spikes
        if not 0 <= index < len(spikes):
            raise IndexError(f"spike {index} out of range (0..{len(spikes) - 1})")
        cluster = int(spikes.clusters[index])
        if not self.isolated:
            self.set_units([cluster])
        self.selected_index = int(index)
        self.selected_item.setData(x=[float(spikes.times[index])], y=[float(spikes.depths[index])])
        self.template_panel.show()
        self.template_panel.show_template(int(spikes.templates[index]), f"Unit {cluster}")
        self.hover_label.setText(self.describe_spike(index))

    def describe_spike(self, index: int) -> str:
        """One line about spike ``index`` of ``spikes``: time, depth, amplitude, unit."""
        spikes = self.spikes
        info = spikes.info
        cluster = int(spikes.clusters[index])
        label = spikes.cluster_labels.get(cluster)
        unit = f"unit {cluster}" + (f" ({label})" if label else "")
        template = int(spikes.templates[index])
        if template != cluster:
            unit += f", template {template}"
        return printable(
            f"t = {spikes.times[index]:.4f} s   depth = {spikes.depths[index]:.1f} µm   "
            f"amplitude = {spikes.amplitudes[index]:.4g} {info.amplitude_unit}   {unit}"
        )

    def update_view(self) -> None:
        """Redraw for the current window: points, thinned points or density image."""
        self._update_timer.stop()
        view_box = self.view_box
        (x0, x1), (y0, y1) = view_box.viewRange()
        width, height = float(view_box.width()), float(view_box.height())
        size = (width, height) if width > 1 and height > 1 else _DEFAULT_SIZE_PX
        if self.lod:
            view = self._lod.window((x0, x1), (y0, y1), size)
        elif self.view.mode == "empty" and len(self.spikes):  # seed mode: everything, once
            view = WindowView("all", len(self.spikes), 1, np.arange(len(self.spikes)))
        else:
            view = self.view
        if view is not self.view:
            self._draw(view)
        self._draw_highlight((x0, x1), (y0, y1), size)
        self.caption_label.setText(self._caption_text())

    # -- Qt events -------------------------------------------------------------------------
    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 - Qt's name
        """Home/R reset, +/− zoom, arrows pan, Escape clears units."""
        if not self._handle_key(event):
            super().keyPressEvent(event)

    def eventFilter(self, watched: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        """Take the viewer's keys before the graphics view does (it would scroll)."""
        if event.type() == QtCore.QEvent.Type.KeyPress and self._handle_key(event):  # type: ignore[arg-type]
            return True
        return super().eventFilter(watched, event)

    def _handle_key(self, event: QtGui.QKeyEvent) -> bool:
        key = QtCore.Qt.Key
        if event.modifiers() & ~(
            QtCore.Qt.KeyboardModifier.KeypadModifier | QtCore.Qt.KeyboardModifier.ShiftModifier
        ):
            return False  # Ctrl/Alt combinations stay pyqtgraph's and Qt's
        actions = {
            key.Key_Home: self.reset_view,
            key.Key_R: self.reset_view,
            key.Key_Plus: lambda: self.zoom(1 / ZOOM_STEP),
            key.Key_Equal: lambda: self.zoom(1 / ZOOM_STEP),
            key.Key_Minus: lambda: self.zoom(ZOOM_STEP),
            key.Key_Left: lambda: self.pan(-PAN_STEP, 0.0),
            key.Key_Right: lambda: self.pan(PAN_STEP, 0.0),
            key.Key_Up: lambda: self.pan(0.0, PAN_STEP),
            key.Key_Down: lambda: self.pan(0.0, -PAN_STEP),
            key.Key_Escape: self.clear_units,
        }
        action = {k.value: a for k, a in actions.items()}.get(event.key())
        if action is None:
            return False
        action()
        event.accept()
        return True

    # -- building --------------------------------------------------------------------------
    def _base_spikes(self) -> SpikeTable:
        """Return the selection's spikes in the current frame and shank (no isolation)."""
        table = self.selection.kept if self.lod else self.selection.shown
        if len(table) > 1 and np.any(table.times[1:] < table.times[:-1]):
            table = table.take(np.argsort(table.times, kind="stable"))
        if self.shank is not None:
            table = table.take(self._template_shanks[table.templates] == self.shank)
        return table

    def _rebuild(self, *, keep_range: bool) -> None:
        """Recompute everything that depends on the spikes: levels, LOD, histogram, bar."""
        spikes = self._base_spikes()
        if self.isolated:
            spikes = spikes.take(np.isin(spikes.clusters, self.highlighted_units))
        self.spikes = spikes
        style = replace(self.map_style, amplitude_cmap_scaling=self._scaling)
        self.shading: AmplitudeShading = amplitude_shading(
            self.selection.kept.amplitudes, style=style
        )
        self._levels = grey_levels_of(self.shading, spikes.amplitudes)
        self._lod = LevelOfDetail(
            spikes.times,
            spikes.depths,
            self._levels,
            point_budget=self.point_budget,
            density_above=None if self.lod else len(spikes) + 1,
            check_sorted=False,  # _base_spikes sorted them
        )
        self._make_bin_items()
        self.selected_index = None
        self.selected_item.setData(x=[], y=[])
        self.colour_bar.set_shading(self.shading, self.selection.kept.info.amplitude_unit)
        if self.histogram_plot is not None:
            self._draw_histogram()
        if not keep_range:
            self._home = None
        self._apply_limits()
        if not keep_range:
            self.reset_view()
        self.view = WindowView("empty", 0, 0, np.zeros(0, dtype=np.intp))
        self._set_highlight()
        self.update_view()

    def _make_bin_items(self) -> None:
        if len(self._bin_items) == self.shading.n_bins:
            return
        for item in self._bin_items:
            self.plot_item.removeItem(item)
        colours = (grey_rgba(self.shading.n_bins) * 255).round().astype(np.uint8)
        self._bin_items = []
        for b in range(self.shading.n_bins):
            item = BinScatterItem(np.zeros(0), np.zeros(0), tuple(colours[b]), self.point_size)
            item.bin = b  # type: ignore[attr-defined]
            item.setZValue(b)  # darker (larger) spikes on top
            self.plot_item.addItem(item)
            self._bin_items.append(item)

    def _draw(self, view: WindowView) -> None:
        self.view = view
        spikes = self.spikes
        if view.mode == "density":
            rgba = density_rgba(view, self.shading.n_bins)
            self.density_item.setImage(rgba, autoLevels=False)
            self.density_item.setRect(QtCore.QRectF(*view.rect))
            self.density_item.show()
            drawn = np.zeros(0, dtype=np.intp)
        else:
            self.density_item.hide()
            drawn = view.indices
        levels = self._levels[drawn]
        order = np.argsort(levels, kind="stable")  # time order kept within a bin
        ends = np.cumsum(np.bincount(levels, minlength=self.shading.n_bins + 1))
        for b, item in enumerate(self._bin_items):
            picked = drawn[order[ends[b] : ends[b + 1]]]
            item.setData(spikes.times[picked], spikes.depths[picked], presorted=True)
        self._drawn = drawn
        self._locator = SpikeLocator(spikes.times[drawn], spikes.depths[drawn])

    def _set_highlight(self) -> None:
        """Index the highlighted units' spikes (a small LOD of their own, never a density)."""
        if not len(self.highlighted_units) or self.isolated:
            self._highlight_lod, self._highlight_index = None, np.zeros(0, dtype=np.intp)
            self.highlight_item.setData(np.zeros(0), np.zeros(0))
            return
        spikes = self.spikes
        index = np.flatnonzero(np.isin(spikes.clusters, self.highlighted_units))
        self._highlight_index = index
        self._highlight_lod = LevelOfDetail(
            spikes.times[index],
            spikes.depths[index],
            self._levels[index],
            point_budget=self.point_budget,
            allow_density=False,
            check_sorted=False,
        )

    def _draw_highlight(
        self, x_range: tuple[float, float], y_range: tuple[float, float], size: tuple
    ) -> None:
        if self._highlight_lod is None:
            return
        view = self._highlight_lod.window(x_range, y_range, size)
        picked = self._highlight_index[view.indices]
        self.highlight_item.setData(
            self.spikes.times[picked], self.spikes.depths[picked], presorted=True
        )

    def _add_histogram_plot(self) -> pg.PlotItem:
        plot = self.graphics.addPlot(row=1, col=0)
        plot.setMaximumWidth(110)
        plot.setLabel("bottom", "Spikes")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen("k")
            plot.getAxis(axis).setPen("k")
        plot.hideAxis("left")
        plot.invertX(True)  # bars grow from the map outwards, as in the static figure
        plot.setMouseEnabled(x=False, y=True)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        self.histogram_bars = pg.BarGraphItem(
            x0=[0.0], y=[0.0], height=[1.0], width=[0.0], brush=(90, 90, 90), pen=None
        )
        plot.addItem(self.histogram_bars)
        return plot

    def _draw_histogram(self) -> None:
        """Depth histogram of every spike the panel draws from (not only the drawn ones)."""
        hist = depth_histogram(self.spikes.depths)
        self.histogram = hist
        width = float(hist.edges[1] - hist.edges[0])
        self.histogram_bars.setOpts(
            x0=np.zeros(len(hist.values)), y=hist.centres, height=width, width=hist.values
        )
        top = float(hist.values.max()) if len(hist.values) else 1.0
        self.histogram_plot.setXRange(0.0, max(top, 1.0), padding=0.02)

    def _data_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (t0, t1), (d0, d1) = self._lod.extent
        t0, t1 = min(0.0, t0), max(t1, 1e-3)
        pad_t = 0.01 * (t1 - t0)
        pad_d = max(0.02 * (d1 - d0), 1.0)
        return (t0 - pad_t, t1 + pad_t), (d0 - pad_d, d1 + pad_d)

    def _apply_limits(self) -> None:
        """Keep pan and zoom within the data (or the grid's shared range)."""
        (x0, x1), (y0, y1) = self.home_range
        self.view_box.setLimits(
            xMin=x0,
            xMax=x1,
            yMin=y0,
            yMax=y1,
            maxXRange=x1 - x0,
            maxYRange=y1 - y0,
            minXRange=1e-3,
            minYRange=1.0,
        )

    # -- controls --------------------------------------------------------------------------
    def _controls(self) -> QtWidgets.QHBoxLayout:
        row = QtWidgets.QHBoxLayout()
        self.frame_combo = QtWidgets.QComboBox()
        self.frame_combo.addItems(list(self.frames))
        self.frame_combo.setCurrentText(self.frame)
        self.frame_combo.setToolTip("Depth frame: registered (as sorted) or raw (probe frame)")
        self.frame_combo.textActivated.connect(self._on_frame_chosen)
        self.frame_combo.setVisible(len(self.frames) > 1)
        self.shank_combo = QtWidgets.QComboBox()
        self.shank_combo.addItems([_shank_text(None), *map(_shank_text, self.probe_shanks)])
        self.shank_combo.setCurrentText(_shank_text(self.shank))
        self.shank_combo.textActivated.connect(self._on_shank_chosen)
        self.shank_combo.setVisible(len(self.probe_shanks) > 1)
        self.unit_edit = QtWidgets.QLineEdit()
        self.unit_edit.setPlaceholderText("units: ids or labels, e.g. 3 12 good (Enter)")
        self.unit_edit.setClearButtonEnabled(True)
        self.unit_edit.returnPressed.connect(self._on_units_entered)
        self.isolate_check = QtWidgets.QCheckBox("Only these")
        self.isolate_check.setToolTip("Draw only the chosen units instead of highlighting them")
        self.isolate_check.toggled.connect(self._on_units_entered)
        for widget in (self.frame_combo, self.shank_combo):
            row.addWidget(widget)
        row.addWidget(self.unit_edit, stretch=1)
        row.addWidget(self.isolate_check)
        return row

    def _sync_combo(self, combo: QtWidgets.QComboBox, text: str) -> None:
        combo.blockSignals(True)
        combo.setCurrentText(text)
        combo.blockSignals(False)

    def _sync_unit_controls(self, text: str | None = None) -> None:
        """Show the chosen units in the controls (the text typed, or the ids)."""
        self.isolate_check.blockSignals(True)
        self.isolate_check.setChecked(self.isolated)
        self.isolate_check.blockSignals(False)
        self.unit_edit.blockSignals(True)
        self.unit_edit.setText(
            text if text is not None else " ".join(map(str, self.highlighted_units))
        )
        self.unit_edit.blockSignals(False)

    def _on_frame_chosen(self, frame: str) -> None:
        self._report(lambda: self.set_frame(frame))

    def _on_shank_chosen(self, text: str) -> None:
        shank = None if text == _shank_text(None) else int(text.split()[-1])
        self._report(lambda: self.set_shank(shank))

    def _on_units_entered(self, *_: object) -> None:
        text = self.unit_edit.text()
        self._report(lambda: self.set_units(text=text, isolate=self.isolate_check.isChecked()))

    def _report(self, action: object) -> None:
        """Run a control's action; show an option error in the read-out instead of raising."""
        try:
            action()  # type: ignore[operator]
        except OptionError as exc:
            self.hover_label.setText(printable(str(exc)))

    def _add_menu_actions(self) -> None:
        menu = self.view_box.menu
        menu.addSeparator()
        action = menu.addAction("Export visible spikes to CSV…")
        action.triggered.connect(self._on_export_csv)
        # pyqtgraph's own export dialog offers a CSV export that knows nothing of these
        # items (it writes only a header): the viewer's action replaces it
        self.graphics.scene().contextMenu = []

    def _on_export_csv(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export visible spikes", "visible_spikes.csv", "CSV files (*.csv)"
        )
        if path:
            n = self.export_visible_csv(path)
            self.hover_label.setText(printable(f"wrote {n:,} spikes to {path}"))

    # -- text ------------------------------------------------------------------------------
    def _caption_text(self) -> str:
        selection, shading = self.selection, self.shading
        info = selection.kept.info
        filters = [
            f
            for f in selection.filters
            if not (self.lod and f == f"1 in {selection.decimation} spikes drawn")
        ]
        n_source = len(selection.kept if self.lod else selection.shown)
        what = "kept" if self.lod else "shown"
        parts = [f"{info.name}: {n_source:,} of {selection.n_total:,} spikes {what}", *filters]
        parts.append(info.provenance_caption)
        if self.shank is not None:
            parts.append(f"shank {self.shank} only")
        if len(self.highlighted_units):
            verb = "only" if self.isolated else "highlighted"
            parts.append(f"units {_id_list(self.highlighted_units)} {verb}")
        parts.append(f"showing {self.view.caption}")
        unit = info.amplitude_unit
        if isinstance(shading.scaling, tuple) or shading.scaling == "linear":
            low, high = shading.low, shading.high
        else:
            base = 2.0 if shading.scaling == "log2" else 10.0
            low, high = base**shading.low, base**shading.high
        grey = f"grey: {shading.n_bins} amplitude bins, {low:.3g}–{high:.3g} {unit}"
        if isinstance(shading.scaling, str) and shading.scaling != "linear":
            grey += f" ({shading.scaling} scale)"
        parts.append(grey)
        return printable("; ".join(parts))

    # -- handlers --------------------------------------------------------------------------
    def _schedule_update(self, *_: object) -> None:
        self._update_timer.start()

    def _on_hover(self, args: tuple) -> None:
        self.hover_at(args[0])

    def _shutdown(self) -> None:
        """Disconnect the handlers before the widget is deleted at exit."""
        self._update_timer.stop()
        self._hover_proxy.disconnect()
        self.plot_item.scene().sigMouseClicked.disconnect(self._on_scene_clicked)
        self.view_box.sigRangeChanged.disconnect(self._schedule_update)
        self.view_box.sigResized.disconnect(self._schedule_update)
        self.graphics.removeEventFilter(self)

    def _on_scene_clicked(self, event: object) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or event.double():  # type: ignore[attr-defined]
            return
        self.click_at(event.scenePos())  # type: ignore[attr-defined]


def default_title(selection: Selection) -> str:
    """Return the title used for ``title=True``."""
    return printable(f"Drift map: {selection.kept.info.name}")


def _title_text(title: bool | str | None, selection: Selection) -> str | None:
    if title is True:
        return default_title(selection)
    return printable(title) if title else None


def _check_shank(shank: object, valid: tuple[int, ...]) -> None:
    if shank is None:
        return
    if isinstance(shank, bool) or not isinstance(shank, int | np.integer) or shank not in valid:
        names = ", ".join(map(str, valid))
        raise OptionError(f"shank {shank!r} is not on this probe; valid shanks: {names}")


def _shank_text(shank: int | None) -> str:
    return "All shanks" if shank is None else f"Shank {shank}"


def _id_list(ids: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(i)) for i in ids[:limit])
    return shown + (f" (+{len(ids) - limit})" if len(ids) > limit else "")
