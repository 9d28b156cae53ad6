"""The interactive drift map of one session: pan and zoom, hover a spike, click for its template.

Spikes are drawn as time (s) × depth (µm) points shaded in the grey amplitude bins shared with
the matplotlib drift map (:mod:`driftqc.views.shading`: bins from all spikes that passed the
filters, points from the decimated ones). Each grey bin is one :class:`BinScatterItem`,
lightest first so the darker (larger) spikes lie on top, as in the static figure; no
per-point style exists.

Hover and click use :class:`driftqc.interactive.lookup.SpikeLocator` (nearest drawn spike in
screen pixels) rather than pyqtgraph's per-point ``SpotItem`` machinery, which would create one
Python object per spike. A click marks the spike with a small separate red ring and shows its
template in the side panel (:class:`driftqc.interactive.template_view.TemplatePanel`).
"""

from __future__ import annotations

import numpy as np

from driftqc.interactive._lifetime import track
from driftqc.interactive._qt import QtCore, QtWidgets, ensure_app, exec_app, pg
from driftqc.interactive.lookup import SpikeLocator
from driftqc.interactive.scatter_item import BinScatterItem
from driftqc.interactive.template_view import TemplatePanel
from driftqc.options import STYLE, MapStyle, Scaling
from driftqc.selection import Selection
from driftqc.text import printable
from driftqc.views.shading import AmplitudeShading, amplitude_shading, grey_rgba

HOVER_RADIUS_PX = 8.0  # how close (screen pixels) the mouse must be to a spike
_IDLE_TEXT = "Hover over a spike to read it; click it to see its template."


class DriftmapPlotWidget(QtWidgets.QWidget):
    """Interactive drift map of one session with a template side panel.

    Parameters
    ----------
    selection
        The spikes to show (:func:`driftqc.selection.select_spikes`): ``shown`` are drawn,
        ``kept`` set the grey range.
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

    Raises
    ------
    OptionError
        A style option out of range (checked before any Qt object is made).
    TypeError
        ``style`` given together with a style keyword.

    Attributes
    ----------
    map_style
        The :class:`driftqc.options.MapStyle` drawn with.
    plot_item
        The drift-map plot (x = time, y = depth).
    bin_items
        One scatter item per grey bin that has spikes, lightest first.
    selected_item
        The marker of the selected spike (empty until a click).
    selected_index
        Index into ``selection.shown`` of the selected spike, or None.
    template_panel
        The side panel showing the selected spike's template.
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
    ) -> None:
        # validate before the QWidget exists: a Qt object whose __init__ raised is left
        # half-built and can crash the interpreter when it is collected at exit
        style = MapStyle.given(style, amplitude_cmap_scaling, n_color_bins, point_size)
        self._app = ensure_app()
        super().__init__(parent)
        self.map_style = style
        self.point_size = style.point_size
        self.selection = selection
        shown = selection.shown
        self.shading: AmplitudeShading = amplitude_shading(selection.kept.amplitudes, style=style)
        self.bins = self.shading.bin_of(shown.amplitudes)
        self.selected_index: int | None = None
        self._locator = SpikeLocator(shown.times, shown.depths)
        self.setWindowTitle(printable(f"Drift map — {shown.info.name}"))

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot_item = self.graphics.addPlot()
        self.plot_item.setLabel("bottom", "Time (s)")
        self.plot_item.setLabel("left", "Depth (µm)")
        for axis in ("left", "bottom"):
            self.plot_item.getAxis(axis).setTextPen("k")
            self.plot_item.getAxis(axis).setPen("k")
        self.title = _title_text(title, selection)
        if self.title:
            self.plot_item.setTitle(self.title, color="k", size="12pt")
        self.bin_items = self._add_bins(shown.times, shown.depths)
        self.selected_item = pg.ScatterPlotItem(
            size=self.point_size * 2.6, pen=pg.mkPen((220, 0, 0), width=2), brush=None
        )
        self.selected_item.setZValue(1e6)
        self.plot_item.addItem(self.selected_item)
        self._set_initial_range()

        self.template_panel = TemplatePanel(templates, channel_positions, channel_shanks)
        self.template_panel.setMinimumWidth(220)
        self.hover_label = QtWidgets.QLabel(_IDLE_TEXT)
        self.hover_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.caption_label = QtWidgets.QLabel(self._caption_text())
        self.caption_label.setWordWrap(True)
        self.caption_label.setStyleSheet("color: #404040; font-size: 9pt;")

        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.template_panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(splitter, stretch=1)
        layout.addWidget(self.hover_label)
        layout.addWidget(self.caption_label)

        scene = self.plot_item.scene()
        self._hover_proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=60, slot=self._on_hover)
        scene.sigMouseClicked.connect(self._on_scene_clicked)
        track(self)  # deleted before Python shuts down if still alive then

    # -- public ----------------------------------------------------------------------------
    def plot(self) -> None:
        """Show the widget and run the Qt event loop until the window is closed (or Ctrl-C)."""
        self.show()
        exec_app(self._app)

    @property
    def view_box(self) -> pg.ViewBox:
        """The drift map's view box (pan/zoom state)."""
        return self.plot_item.getViewBox()

    def spike_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """Index into ``selection.shown`` of the drawn spike nearest to a scene position.

        Only spikes within :data:`HOVER_RADIUS_PX` screen pixels count; None when none is that
        close or the position is outside the plot area.
        """
        view_box = self.view_box
        if not view_box.sceneBoundingRect().contains(scene_pos):
            return None
        point = view_box.mapSceneToView(scene_pos)
        px_w, px_h = view_box.viewPixelSize()
        if not (px_w > 0 and px_h > 0):
            return None
        return self._locator.nearest(point.x(), point.y(), 1.0 / px_w, 1.0 / px_h, HOVER_RADIUS_PX)

    def hover_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """Update the read-out for the mouse at ``scene_pos`` (the mouse-move handler)."""
        index = self.spike_at(scene_pos)
        self.hover_label.setText(_IDLE_TEXT if index is None else self.describe_spike(index))
        return index

    def click_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """Select the spike at ``scene_pos`` (the left-click handler), if there is one."""
        index = self.spike_at(scene_pos)
        if index is not None:
            self.select_spike(index)
        return index

    def select_spike(self, index: int) -> None:
        """Mark spike ``index`` of ``selection.shown`` and show its template."""
        shown = self.selection.shown
        if not 0 <= index < len(shown):
            raise IndexError(f"spike {index} out of range (0..{len(shown) - 1})")
        self.selected_index = int(index)
        self.selected_item.setData(x=[float(shown.times[index])], y=[float(shown.depths[index])])
        cluster = int(shown.clusters[index])
        self.template_panel.show_template(int(shown.templates[index]), f"Unit {cluster}")
        self.hover_label.setText(self.describe_spike(index))

    def describe_spike(self, index: int) -> str:
        """One line about spike ``index`` of ``selection.shown``: time, depth, amplitude, unit."""
        shown = self.selection.shown
        info = shown.info
        cluster = int(shown.clusters[index])
        label = shown.cluster_labels.get(cluster)
        unit = f"unit {cluster}" + (f" ({label})" if label else "")
        template = int(shown.templates[index])
        if template != cluster:
            unit += f", template {template}"
        return printable(
            f"t = {shown.times[index]:.4f} s   depth = {shown.depths[index]:.1f} µm   "
            f"amplitude = {shown.amplitudes[index]:.4g} {info.amplitude_unit}   {unit}"
        )

    # -- construction helpers --------------------------------------------------------------
    def _add_bins(self, times: np.ndarray, depths: np.ndarray) -> list[BinScatterItem]:
        colours = (grey_rgba(self.shading.n_bins) * 255).round().astype(np.uint8)
        order = np.argsort(self.bins, kind="stable")
        counts = np.bincount(self.bins, minlength=self.shading.n_bins)
        ends = np.cumsum(counts)
        items = []
        for b, (start, end) in enumerate(zip(ends - counts, ends, strict=True)):
            if start == end:
                continue
            picked = order[start:end]
            item = BinScatterItem(
                times[picked], depths[picked], tuple(colours[b]), self.point_size
            )
            item.bin = b  # type: ignore[attr-defined]
            item.setZValue(b)  # darker (larger) spikes on top
            self.plot_item.addItem(item)
            items.append(item)
        return items

    def _set_initial_range(self) -> None:
        shown = self.selection.shown
        if len(shown):
            self.plot_item.setXRange(0.0, max(float(shown.times.max()), 1e-3), padding=0.01)
            low, high = float(shown.depths.min()), float(shown.depths.max())
            self.plot_item.setYRange(low, max(high, low + 1.0), padding=0.02)

    def _caption_text(self) -> str:
        shading = self.shading
        unit = self.selection.kept.info.amplitude_unit
        if isinstance(shading.scaling, tuple) or shading.scaling == "linear":
            low, high = shading.low, shading.high
        else:
            base = 2.0 if shading.scaling == "log2" else 10.0
            low, high = base**shading.low, base**shading.high
        grey = f"grey: {shading.n_bins} amplitude bins, {low:.3g}–{high:.3g} {unit}"
        if isinstance(shading.scaling, str) and shading.scaling != "linear":
            grey += f" ({shading.scaling} scale)"
        return printable(f"{self.selection.caption}; {grey}")

    def _on_hover(self, args: tuple) -> None:
        self.hover_at(args[0])

    def _shutdown(self) -> None:
        """Disconnect the mouse handlers before the widget is deleted at exit."""
        self._hover_proxy.disconnect()
        self.plot_item.scene().sigMouseClicked.disconnect(self._on_scene_clicked)

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
