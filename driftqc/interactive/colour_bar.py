"""The amplitude colour bar beside a drift map: its grey bins, labelled in amplitude units.

The bar is a column of ``n_bins`` grey cells from the lightest (bottom) to the darkest (top),
spanning the shading's range in its own units (linear amplitude, or log2/log10 of it); tick
labels are always linear amplitudes, so a log-scaled bar reads 10, 100, ... µV at equal
steps. Two panels on one shared amplitude range show identical bars.
"""

from __future__ import annotations

import numpy as np

from driftqc.interactive._qt import QtCore, pg
from driftqc.text import printable
from driftqc.views.shading import AmplitudeShading, grey_rgba

_MAX_TICKS = 6


class AmplitudeBar(pg.PlotItem):
    """A vertical grey-scale bar for one drift map.

    Attributes
    ----------
    image_item
        The bar's cells (row-major, row 0 = lightest bin).
    ticks
        ``(position, label)`` of the labelled bin edges, in the shading's units.
    """

    def __init__(self) -> None:
        super().__init__()
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image_item)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.showAxis("right")
        axis = self.getAxis("right")
        axis.setTextPen("k")
        axis.setPen("k")
        self.setMouseEnabled(x=False, y=False)
        self.setMenuEnabled(False)
        self.hideButtons()
        self.setMaximumWidth(72)
        self.ticks: list[tuple[float, str]] = []

    def set_shading(self, shading: AmplitudeShading, unit: str) -> None:
        """Draw the bins of ``shading``; ``unit`` names the amplitudes' unit."""
        n_bins = shading.n_bins
        colours = (grey_rgba(n_bins) * 255).round().astype(np.uint8)
        self.image_item.setImage(colours.reshape(n_bins, 1, 4), autoLevels=False)
        low, high = shading.low, shading.high
        if not high > low:
            high = low + 1.0
        self.image_item.setRect(QtCore.QRectF(0.0, low, 1.0, high - low))
        edges = np.linspace(low, high, n_bins + 1)
        step = max(1, int(np.ceil(n_bins / _MAX_TICKS)))
        picked = list(edges[::step]) + ([] if n_bins % step == 0 else [edges[-1]])
        self.ticks = [(float(e), f"{_linear(shading, e):.3g}") for e in picked]
        axis = self.getAxis("right")
        axis.setTicks([self.ticks, []])
        axis.setLabel(printable(f"Amplitude ({unit})"), color="k")
        self.setXRange(0.0, 1.0, padding=0)
        self.setYRange(low, high, padding=0)


def _linear(shading: AmplitudeShading, value: float) -> float:
    """Return a value in the shading's units as a linear amplitude."""
    if shading.scaling == "log2":
        return float(2.0**value)
    if shading.scaling == "log10":
        return float(10.0**value)
    return float(value)
