"""Several sessions side by side on one depth axis.

:class:`MultiSessionDriftmapWidget` lays out :class:`DriftmapPlotWidget` panels on a grid
(:func:`driftqc.interactive.grid.grid_shape`) and links their depth axes, so zooming or panning
depth in one panel shows the same depth range in all of them: a probe that moved between
sessions shows as units at different heights. Time axes stay independent (sessions differ in
length).

The link copies the numeric depth range. pyqtgraph's own ``setYLink`` aligns *pixel rows*
when two views sit side by side, which gives different numeric ranges whenever the panels'
plot areas differ in height (a wrapped caption, a missing title), so it is not used here.
"""

from __future__ import annotations

from collections.abc import Sequence

from driftqc.interactive._lifetime import track
from driftqc.interactive._qt import QtWidgets, ensure_app, exec_app, pg
from driftqc.interactive.driftmap_widget import DriftmapPlotWidget
from driftqc.interactive.grid import grid_shape


class MultiSessionDriftmapWidget(QtWidgets.QWidget):
    """A grid of drift-map panels with linked depth axes.

    Parameters
    ----------
    panels
        The panels, e.g. from ``DriftPlotter(path).drift_map_plot_interactive(title=True)``,
        placed row by row. They are re-parented into this widget.
    grid
        ``(rows, cols)``; by default roughly square (3 → 2×2, 5 → 2×3). It must hold every
        panel with no empty row or column.
    width, height
        Size of one grid cell in pixels; the window is ``width * cols`` × ``height * rows``.
    parent
        Parent widget.

    Attributes
    ----------
    panels
        The panels, in grid order.
    n_rows, n_cols
        The grid's shape.

    Raises
    ------
    ValueError
        No panels, or a grid that does not fit them.

    Examples
    --------
    >>> from driftqc import DriftPlotter, MultiSessionDriftmapWidget  # doctest: +SKIP
    >>> panels = [DriftPlotter(p).drift_map_plot_interactive(title=True) for p in paths]
    ... # doctest: +SKIP
    >>> MultiSessionDriftmapWidget(panels).plot()  # doctest: +SKIP
    """

    def __init__(
        self,
        panels: Sequence[DriftmapPlotWidget],
        grid: Sequence[int] | None = None,
        width: int = 700,
        height: int = 820,
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        panels = list(panels)
        self.n_rows, self.n_cols = grid_shape(len(panels), grid)
        for panel in panels:
            if not isinstance(panel, DriftmapPlotWidget):
                raise ValueError(
                    f"panels must be DriftmapPlotWidget objects, got {type(panel).__name__}"
                )
        self._app = ensure_app()
        super().__init__(parent)
        self.panels = panels
        self.setWindowTitle("Drift map — multi session")
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for i, panel in enumerate(panels):
            layout.addWidget(panel, i // self.n_cols, i % self.n_cols)
        self.resize(int(width) * self.n_cols, int(height) * self.n_rows)
        self._linking = False
        self._link_depths()
        track(self)  # deleted before Python shuts down if still alive then

    def plot(self) -> None:
        """Show the widget and run the Qt event loop until the window is closed (or Ctrl-C)."""
        self.show()
        exec_app(self._app)

    def _link_depths(self) -> None:
        lows, highs = zip(*(p.view_box.viewRange()[1] for p in self.panels), strict=True)
        for panel in self.panels:
            panel.view_box.setYRange(min(lows), max(highs), padding=0)
            panel.view_box.sigYRangeChanged.connect(self._on_depth_changed)

    def _shutdown(self) -> None:
        """Unlink the depth axes before the widget is deleted at exit."""
        for panel in self.panels:
            panel.view_box.sigYRangeChanged.disconnect(self._on_depth_changed)

    def _on_depth_changed(self, view_box: pg.ViewBox, y_range: Sequence[float]) -> None:
        if self._linking:
            return
        self._linking = True
        try:
            for panel in self.panels:
                if panel.view_box is not view_box:
                    panel.view_box.setYRange(*y_range, padding=0)
        finally:
            self._linking = False
