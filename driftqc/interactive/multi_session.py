"""Several sessions side by side on one depth axis and one grey scale.

:class:`MultiSessionDriftmapWidget` lays out :class:`DriftmapPlotWidget` panels on a grid
(:func:`driftqc.interactive.grid.grid_shape`) and links their depth axes, so zooming or panning
depth in one panel shows the same depth range in all of them: a probe that moved between
sessions shows as units at different heights. Time axes stay independent (sessions differ in
length) unless ``link_time=True``.

By default every panel is shaded on one **shared amplitude range**, so one grey means one
amplitude everywhere; the rule is the workflow's (:mod:`driftqc.qc.amplitude_scale`): the
pooled 1st–95th percentiles of the sessions' kept amplitudes, each session weighted
equally, linear. Sessions whose amplitudes are in different units (µV and a.u.) cannot share
a range: a warning says so and each panel keeps its own scale. ``shared_scale=False`` keeps
each panel's own scale.

The link copies the numeric depth range. pyqtgraph's own ``setYLink`` aligns *pixel rows*
when two views sit side by side, which gives different numeric ranges whenever the panels'
plot areas differ in height (a wrapped caption, a missing title), so it is not used here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from driftqc.interactive._lifetime import track
from driftqc.interactive._qt import QtWidgets, ensure_app, exec_app, pg
from driftqc.interactive.driftmap_widget import DriftmapPlotWidget
from driftqc.interactive.grid import grid_shape
from driftqc.qc.amplitude_scale import amplitude_sample, amplitude_summary, choose_scaling


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
    shared_scale
        Shade every panel on the shared amplitude range (default) when the sessions'
        amplitude units agree; False keeps each panel's own scale.
    link_time
        Link the time axes as well as the depth axes.

    Attributes
    ----------
    panels
        The panels, in grid order.
    n_rows, n_cols
        The grid's shape.
    shared
        The shared range as :func:`driftqc.qc.amplitude_scale.amplitude_summary` gives it
        (``applicable``, ``low``, ``high``, ``unit``, ``warning``), or None when off or for
        a single panel.

    Warns
    -----
    UserWarning
        When ``shared_scale`` is on but the sessions cannot share a range (mixed units).

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
        *,
        shared_scale: bool = True,
        link_time: bool = False,
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
        self.link_time = bool(link_time)
        # one panel alone keeps its own scale: there is nothing to compare it with
        self.shared = self._share_scale() if shared_scale and len(panels) > 1 else None
        self._linking = False
        self._link_axes()
        track(self)  # deleted before Python shuts down if still alive then

    def plot(self) -> None:
        """Show the widget and run the Qt event loop until the window is closed (or Ctrl-C)."""
        self.show()
        exec_app(self._app)

    def _share_scale(self) -> dict[str, object]:
        """Put every panel on the workflow's shared amplitude range, if the units agree."""
        samples = {
            str(i): amplitude_sample(p.selection.kept.amplitudes)
            for i, p in enumerate(self.panels)
        }
        units = {str(i): p.selection.kept.info.amplitude_unit for i, p in enumerate(self.panels)}
        _, shared = amplitude_summary(samples, units)
        if shared["warning"]:
            warnings.warn(f"shared grey scale not used: {shared['warning']}", stacklevel=3)
        for panel in self.panels:
            scaling, note = choose_scaling(panel.map_style.amplitude_cmap_scaling, shared)
            if note["shared_range_used"]:
                panel.set_amplitude_scaling(scaling)  # type: ignore[arg-type]
        return shared

    def _link_axes(self) -> None:
        """Give every panel the union depth range (and time range when linked), then link."""
        homes = [p.home_range for p in self.panels]
        depth = (min(h[1][0] for h in homes), max(h[1][1] for h in homes))
        time = (min(h[0][0] for h in homes), max(h[0][1] for h in homes))
        for panel, home in zip(self.panels, homes, strict=True):
            panel.home_range = (time if self.link_time else home[0], depth)
            panel.reset_view()
            panel.view_box.sigYRangeChanged.connect(self._on_depth_changed)
            panel.view_box.sigXRangeChanged.connect(self._on_time_changed)

    def _shutdown(self) -> None:
        """Unlink the axes before the widget is deleted at exit."""
        for panel in self.panels:
            panel.view_box.sigYRangeChanged.disconnect(self._on_depth_changed)
            panel.view_box.sigXRangeChanged.disconnect(self._on_time_changed)

    def _on_depth_changed(self, view_box: pg.ViewBox, y_range: Sequence[float]) -> None:
        self._copy_range(view_box, y_range, axis=1)

    def _on_time_changed(self, view_box: pg.ViewBox, x_range: Sequence[float]) -> None:
        if self.link_time:
            self._copy_range(view_box, x_range, axis=0)

    def _copy_range(self, view_box: pg.ViewBox, values: Sequence[float], axis: int) -> None:
        if self._linking:
            return
        self._linking = True
        try:
            for panel in self.panels:
                if panel.view_box is not view_box:
                    if axis == 1:
                        panel.view_box.setYRange(*values, padding=0)
                    else:
                        panel.view_box.setXRange(*values, padding=0)
        finally:
            self._linking = False
