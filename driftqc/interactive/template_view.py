"""The side panel of the drift-map viewer: the clicked spike's template as a heat map.

Rows are the channels of the unit's shank ordered by depth (bottom = smallest y, as on the
drift map), each labelled with its position on the probe, ``y (x)`` in µm, so two channels
of one row (same y, different x) are told apart; columns are time in ms from the template's
first sample (:mod:`driftqc.interactive.heatmap` prepares the array). Colours are a
blue–white–red diverging map with its colour bar; by default the limits are symmetric around
zero (white = 0) and follow the template, or the user fixes them to compare templates on one
scale. The drift-map panel keeps this panel hidden until a spike is first clicked.
"""

from __future__ import annotations

import numpy as np

from driftqc.interactive._lifetime import track
from driftqc.interactive._qt import QtCore, QtWidgets, pg
from driftqc.interactive.heatmap import TemplateHeatmap, symmetric_levels, template_heatmap
from driftqc.text import printable

# blue – white – red, as in ColorBrewer's RdBu: negative (trough) blue, positive red
_DIVERGING = pg.ColorMap(
    pos=np.array([0.0, 0.5, 1.0]),
    color=np.array([[33, 102, 172, 255], [247, 247, 247, 255], [178, 24, 43, 255]], np.ubyte),
)
_MAX_TICKS = 12


class TemplatePanel(QtWidgets.QWidget):
    """Heat map of one template with its display controls.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) templates.
    channel_positions
        (n_channels, 2) channel x/y in µm.
    channel_shanks
        (n_channels,) shank of each channel.
    parent
        Parent widget.
    sample_rate
        Sampling rate in Hz, for the time axis in ms (None: the axis counts samples).

    Attributes
    ----------
    plot_item
        The pyqtgraph plot holding the image.
    image_item
        The heat-map image (row-major: rows = channels, columns = samples).
    colour_bar
        The colour bar of the image's values.
    row_labels
        The left axis' labels, ``"y (x)"`` in µm, bottom row first.
    radio_active, radio_all
        Choose the active channels or all channels of the shank.
    fix_limits, low_spin, high_spin
        Fix the colour limits to the spin boxes' values.
    """

    def __init__(
        self,
        templates: np.ndarray,
        channel_positions: np.ndarray,
        channel_shanks: np.ndarray,
        parent: QtWidgets.QWidget | None = None,
        *,
        sample_rate: float | None = None,
    ) -> None:
        super().__init__(parent)
        self._ms_per_sample = 1000.0 / sample_rate if sample_rate else None
        self.row_labels: list[str] = []
        self._templates = templates
        self._positions = np.asarray(channel_positions)
        self._shanks = np.asarray(channel_shanks)
        self._template: int | None = None
        self._caption = ""
        self.heatmap: TemplateHeatmap | None = None

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.plot_item = self.graphics.addPlot()
        time_label = "Time (ms)" if self._ms_per_sample else "Sample"
        self.plot_item.setLabel("bottom", time_label)
        self.plot_item.setLabel("left", "Channel y (x) (µm)")
        for axis in ("left", "bottom"):
            self.plot_item.getAxis(axis).setTextPen("k")
            self.plot_item.getAxis(axis).setPen("k")
            self.plot_item.hideAxis(axis)  # shown with the first template
        self.plot_item.setTitle("Click a spike<br>to see its template", color="k", size="9pt")
        self.plot_item.setMenuEnabled(False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setColorMap(_DIVERGING)
        self.plot_item.addItem(self.image_item)
        self.colour_bar = pg.ColorBarItem(
            values=(-1.0, 1.0), colorMap=_DIVERGING, interactive=False, width=12
        )
        self.colour_bar.setImageItem(self.image_item, insert_in=self.plot_item)

        self.radio_active = QtWidgets.QRadioButton("Active channels")
        self.radio_all = QtWidgets.QRadioButton("All channels of the shank")
        self.radio_active.setChecked(True)
        self._modes = QtWidgets.QButtonGroup(self)
        self._modes.addButton(self.radio_active)
        self._modes.addButton(self.radio_all)
        self.fix_limits = QtWidgets.QCheckBox("Fix colour limits")
        self.low_spin = _spin_box()
        self.high_spin = _spin_box()
        self.low_spin.setValue(-1.0)
        self.high_spin.setValue(1.0)
        self.low_spin.setEnabled(False)
        self.high_spin.setEnabled(False)

        limits = QtWidgets.QHBoxLayout()
        limits.addWidget(self.low_spin)
        limits.addWidget(QtWidgets.QLabel("to"))
        limits.addWidget(self.high_spin)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.graphics, stretch=1)
        layout.addWidget(self.radio_active)
        layout.addWidget(self.radio_all)
        layout.addWidget(self.fix_limits)
        layout.addLayout(limits)

        self.radio_active.toggled.connect(self._redraw)
        self.fix_limits.toggled.connect(self._on_fix_toggled)
        self.low_spin.valueChanged.connect(self._on_limits_edited)
        self.high_spin.valueChanged.connect(self._on_limits_edited)
        track(self)  # deleted before Python shuts down if still alive then

    @property
    def mode(self) -> str:
        """``"active"`` or ``"all"``, as chosen with the radio buttons."""
        return "active" if self.radio_active.isChecked() else "all"

    @property
    def levels(self) -> tuple[float, float]:
        """The colour limits in use."""
        low, high = self.image_item.getLevels()
        return float(low), float(high)

    def show_template(self, template: int, caption: str = "") -> None:
        """Draw template ``template``; ``caption`` goes into the panel's title."""
        self._template = int(template)
        self._caption = printable(caption)
        self._redraw()

    def _redraw(self, *_: object) -> None:
        if self._template is None:
            return
        heat = template_heatmap(
            self._templates, self._template, self._positions, self._shanks, self.mode
        )
        self.heatmap = heat
        n_rows = max(heat.n_rows, 1)
        values = heat.values if heat.n_rows else np.zeros((1, heat.n_samples))
        self.image_item.setImage(values, autoLevels=False)
        width = heat.n_samples * (self._ms_per_sample or 1.0)
        self.image_item.setRect(QtCore.QRectF(0, 0, width, n_rows))
        self._apply_levels()
        xs = self._positions[heat.channels, 0]
        self.row_labels = [f"{y:.0f} ({x:.0f})" for y, x in zip(heat.depths, xs, strict=True)]
        step = max(1, int(np.ceil(heat.n_rows / _MAX_TICKS)))
        ticks = [(i + 0.5, self.row_labels[i]) for i in range(0, heat.n_rows, step)]
        self.plot_item.getAxis("left").setTicks([ticks, []])
        self.plot_item.setXRange(0, width, padding=0)
        self.plot_item.setYRange(0, n_rows, padding=0)
        what = "active ch." if heat.mode == "active" else "ch."
        title = f"Template {heat.template}<br>shank {heat.shank}, {heat.n_rows} {what}"
        if self._caption:
            title = f"{self._caption}, {title}"
        self.plot_item.showAxis("left")
        self.plot_item.showAxis("bottom")
        self.plot_item.setTitle(title, color="k", size="9pt")

    def _apply_levels(self) -> None:
        if self.heatmap is None:
            return
        if self.fix_limits.isChecked():
            low, high = sorted((self.low_spin.value(), self.high_spin.value()))
            if high <= low:
                high = low + 1e-6
        else:
            low, high = symmetric_levels(self.heatmap.values)
            for spin, value in ((self.low_spin, low), (self.high_spin, high)):
                spin.blockSignals(True)
                spin.setValue(value)
                spin.blockSignals(False)
        self.image_item.setLevels((low, high))
        self.colour_bar.setLevels((low, high))

    def _on_fix_toggled(self, checked: bool) -> None:
        self.low_spin.setEnabled(checked)
        self.high_spin.setEnabled(checked)
        self._apply_levels()

    def _on_limits_edited(self, *_: object) -> None:
        if self.fix_limits.isChecked():
            self._apply_levels()


def _spin_box() -> QtWidgets.QDoubleSpinBox:
    spin = QtWidgets.QDoubleSpinBox()
    spin.setRange(-1e9, 1e9)
    spin.setDecimals(3)
    spin.setSingleStep(0.1)
    spin.setKeyboardTracking(False)
    return spin
