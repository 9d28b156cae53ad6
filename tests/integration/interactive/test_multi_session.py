"""MultiSessionDriftmapWidget: grid placement, linked depth axes, a non-blank screenshot."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.interactive import MultiSessionDriftmapWidget


def _panels(plotter, n):
    # heavy decimation: these tests are about layout, not points
    return [plotter.drift_map_plot_interactive(decimate=50, title=f"panel {i}") for i in range(n)]


def _positions(widget):
    layout = widget.layout()
    return [layout.getItemPosition(layout.indexOf(p))[:2] for p in widget.panels]


@pytest.mark.parametrize(
    ("n", "grid", "shape"), [(3, None, (2, 2)), (5, None, (2, 3)), (3, (3, 1), (3, 1))]
)
def test_panels_fill_the_grid_row_by_row(ks4_plotter, qtbot, n, grid, shape):
    widget = MultiSessionDriftmapWidget(_panels(ks4_plotter, n), grid=grid, width=300, height=200)
    qtbot.addWidget(widget)
    assert (widget.n_rows, widget.n_cols) == shape
    assert _positions(widget) == [divmod(i, shape[1]) for i in range(n)]
    assert all(p.parent() is widget for p in widget.panels)
    assert (widget.width(), widget.height()) == (300 * shape[1], 200 * shape[0])
    assert [p.title_label.text for p in widget.panels] == [f"panel {i}" for i in range(n)]


def test_bad_grid_and_no_panels_are_clear_errors(ks4_plotter, qtbot):
    panels = _panels(ks4_plotter, 2)
    for panel in panels:
        qtbot.addWidget(panel)
    with pytest.raises(ValueError, match="room for 1 panels but 2"):
        MultiSessionDriftmapWidget(panels, grid=(1, 1))
    with pytest.raises(ValueError, match="no panels"):
        MultiSessionDriftmapWidget([])
    with pytest.raises(ValueError, match="DriftmapPlotWidget"):
        MultiSessionDriftmapWidget(["not a panel"])


def test_depth_axes_are_linked_both_ways(ks4_plotter, ks25_plotter, show):
    panels = [
        ks4_plotter.drift_map_plot_interactive(title=True),
        ks25_plotter.drift_map_plot_interactive(),  # no title: a taller plot area
        ks4_plotter.drift_map_plot_interactive(decimate=10),
    ]
    widget = show(MultiSessionDriftmapWidget(panels, width=400, height=300), 1200, 600)
    assert widget.panels == panels
    # start: one shared range covering every session's depths
    ranges = [p.view_box.viewRange()[1] for p in panels]
    assert all(r == pytest.approx(ranges[0]) for r in ranges)
    all_depths = np.concatenate([p.selection.shown.depths for p in panels])
    assert ranges[0][0] <= all_depths.min() and ranges[0][1] >= all_depths.max()
    times = [p.view_box.viewRange()[0] for p in panels]

    panels[0].view_box.setYRange(100.0, 300.0, padding=0)
    for panel in panels:
        assert panel.view_box.viewRange()[1] == pytest.approx([100.0, 300.0])
    panels[2].view_box.setYRange(20.0, 80.0, padding=0)
    for panel in panels:
        assert panel.view_box.viewRange()[1] == pytest.approx([20.0, 80.0])
    # pan/zoom stays within the shared depth range, in every panel
    low, high = panels[0].home_range[1]
    panels[1].view_box.setYRange(low - 500.0, low + 40.0, padding=0)
    for panel in panels:
        y0, y1 = panel.view_box.viewRange()[1]
        assert y0 >= low - 1e-6 and y1 <= high + 1e-6
        assert panel.home_range[1] == (low, high)
    # time stays per session
    assert [p.view_box.viewRange()[0] for p in panels] == times


def _image_array(image):
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB32)
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8)
    rows = buffer.reshape(image.height(), image.bytesPerLine() // 4, 4)
    return rows[:, : image.width(), :3].copy()  # copy: the QImage's memory goes with it


def test_screenshot_of_two_sessions_is_not_blank(ks4_plotter, ks25_plotter, show, tmp_path):
    from PySide6.QtGui import QImage

    panels = [
        ks25_plotter.drift_map_plot_interactive(title=True),
        ks4_plotter.drift_map_plot_interactive(title=True),
    ]
    widget = show(MultiSessionDriftmapWidget(panels, width=600, height=500), 1200, 500)
    out = tmp_path / "multi.png"
    assert widget.grab().save(str(out))
    pixels = _image_array(QImage(str(out)))
    assert pixels.shape[:2] == (widget.height(), widget.width())
    assert pixels.std() > 20
    # each drift map holds many dark grey spike pixels, not just axes and text
    for panel in panels:
        area = _image_array(panel.graphics.grab().toImage())
        grey = (area.max(axis=2).astype(int) - area.min(axis=2) < 8) & (area.mean(axis=2) < 230)
        assert grey.mean() > 0.02
