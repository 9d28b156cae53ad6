"""Keyboard, limits, CSV export, depth histogram and template panel of the real widget."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from driftqc.metrics.histograms import depth_histogram
from tests.integration.interactive.conftest import isolated_spike, scene_pos


def _ranges(widget):
    (x0, x1), (y0, y1) = widget.view_box.viewRange()
    return np.array([x0, x1]), np.array([y0, y1])


def test_shortcuts_change_the_view(ks4_plotter, show, qtbot):
    from PySide6.QtCore import Qt

    widget = show(ks4_plotter.drift_map_plot_interactive())
    home_x, home_y = (np.array(r) for r in widget.home_range)
    np.testing.assert_allclose(_ranges(widget)[0], home_x)
    # keys reach the viewer whether the panel or its graphics view has the focus
    for target in (widget, widget.graphics):
        qtbot.keyClick(target, Qt.Key.Key_Plus)
        x, y = _ranges(widget)
        assert np.ptp(x) == pytest.approx(np.ptp(home_x) / 2)
        assert np.ptp(y) == pytest.approx(np.ptp(home_y) / 2)
        before = x.copy()
        qtbot.keyClick(target, Qt.Key.Key_Right)
        assert _ranges(widget)[0] == pytest.approx(before + 0.1 * np.ptp(before))
        before_y = _ranges(widget)[1]
        qtbot.keyClick(target, Qt.Key.Key_Down)
        assert _ranges(widget)[1] == pytest.approx(before_y - 0.1 * np.ptp(before_y))
        qtbot.keyClick(target, Qt.Key.Key_Minus)
        assert np.ptp(_ranges(widget)[0]) == pytest.approx(np.ptp(home_x))
        widget.view_box.setRange(xRange=(20, 30), yRange=(50, 80), padding=0)
        qtbot.keyClick(target, Qt.Key.Key_Home if target is widget else Qt.Key.Key_R)
        np.testing.assert_allclose(_ranges(widget)[0], home_x)
        np.testing.assert_allclose(_ranges(widget)[1], home_y)


def test_escape_clears_the_unit(ks4_plotter, show, qtbot):
    from PySide6.QtCore import Qt

    widget = show(ks4_plotter.drift_map_plot_interactive())
    widget.set_units([int(widget.spikes.clusters[0])])
    assert len(widget.highlight_item) > 0
    qtbot.keyClick(widget.graphics, Qt.Key.Key_Escape)
    assert len(widget.highlighted_units) == 0 and len(widget.highlight_item) == 0


def test_pan_and_zoom_stay_within_the_data(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive())
    (hx0, hx1), (hy0, hy1) = widget.home_range
    kept = widget.selection.kept
    assert hx0 <= 0.0 and hx1 >= kept.times.max() and hx1 < 1.05 * kept.times.max()
    assert hy0 <= kept.depths.min() and hy1 >= kept.depths.max()
    widget.view_box.setXRange(-44.0, 1770.0, padding=0)  # zoomed far out
    for _ in range(5):
        widget.zoom(3.0)
    (x0, x1), (y0, y1) = widget.view_box.viewRange()
    assert x0 >= hx0 - 1e-6 and x1 <= hx1 + 1e-6
    assert y0 >= hy0 - 1e-6 and y1 <= hy1 + 1e-6


def test_csv_export_writes_the_visible_spikes(ks4_plotter, show, tmp_path):
    widget = show(ks4_plotter.drift_map_plot_interactive())
    widget.view_box.setRange(xRange=(50.0, 80.0), yRange=(60.0, 160.0), padding=0)
    path = tmp_path / "visible.csv"
    n = widget.export_visible_csv(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "time_s,depth_um,amplitude,cluster,template"
    rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    spikes = widget.spikes
    (x0, x1), (y0, y1) = widget.view_box.viewRange()
    inside = (spikes.times >= x0) & (spikes.times <= x1)
    inside &= (spikes.depths >= y0) & (spikes.depths <= y1)
    assert n == len(rows) == inside.sum() > 50
    np.testing.assert_allclose(rows[:, 0], spikes.times[inside], atol=1e-6)
    np.testing.assert_allclose(rows[:, 1], spikes.depths[inside], atol=0.01)
    np.testing.assert_array_equal(rows[:, 3], spikes.clusters[inside])
    # the view box menu offers it, and pyqtgraph's header-only CSV export is gone
    texts = [a.text() for a in widget.view_box.menu.actions()]
    assert "Export visible spikes to CSV…" in texts
    assert widget.graphics.scene().contextMenu == []


def test_depth_histogram_counts_every_kept_spike(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(decimate=5))
    kept = widget.selection.kept
    expected = depth_histogram(kept.depths)
    np.testing.assert_array_equal(widget.histogram.values, expected.values)
    assert widget.histogram.values.sum() == len(kept)
    bars = widget.histogram_bars.opts
    np.testing.assert_array_equal(bars["width"], expected.values)
    np.testing.assert_allclose(bars["y"], expected.centres)
    # it shares the map's depth axis: same range, and one depth is one pixel row in both
    widget.view_box.setYRange(80.0, 120.0, padding=0)
    histogram_box = widget.histogram_plot.getViewBox()
    assert histogram_box.viewRange()[1] == pytest.approx([80.0, 120.0])
    for title in (True, None):
        panel = show(ks4_plotter.drift_map_plot_interactive(title=title))
        box = panel.histogram_plot.getViewBox()
        for depth in (60.0, 150.0):
            on_map = panel.view_box.mapViewToScene(QPointF(10.0, depth)).y()
            on_histogram = box.mapViewToScene(QPointF(0.0, depth)).y()
            assert on_histogram == pytest.approx(on_map, abs=0.5)


def test_template_panel_opens_on_first_click_and_reads_like_the_probe(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive())
    panel = widget.template_panel
    assert not panel.isVisible()  # no room taken before anything is clicked
    widget.view_box.setXRange(120, 130, padding=0)
    index = isolated_spike(widget, seed=1)
    widget.click_at(scene_pos(widget, index))
    assert panel.isVisible()
    sorting = ks4_plotter.sorting
    heat = panel.heatmap
    positions = sorting.channel_positions[heat.channels]
    assert panel.row_labels == [f"{y:.0f} ({x:.0f})" for x, y in positions]
    assert len(set(panel.row_labels)) == len(panel.row_labels)  # no repeated labels
    assert panel.plot_item.getAxis("bottom").labelText == "Time (ms)"
    rect = panel.image_item.mapRectToParent(panel.image_item.boundingRect())
    fs = sorting.info.sample_rate
    assert rect.width() == pytest.approx(heat.n_samples * 1000.0 / fs)
    assert panel.colour_bar.levels() == pytest.approx(panel.levels)


def test_an_empty_selection_draws_an_empty_map_that_says_so(ks4_plotter, show, tmp_path):
    with pytest.warns(UserWarning, match="no spikes left"):
        widget = ks4_plotter.drift_map_plot_interactive(
            filter_amplitude_mode="absolute", filter_amplitude_values=(1e8, 1e9)
        )
    show(widget)
    assert len(widget.spikes) == 0 and widget.view.mode == "empty"
    assert "no spikes in view" in widget.caption_label.text()
    widget.reset_view()
    widget.zoom(0.5)
    assert widget.export_visible_csv(tmp_path / "none.csv") == 0
    assert (tmp_path / "none.csv").read_text(encoding="utf-8").strip() == (
        "time_s,depth_um,amplitude,cluster,template"
    )


def test_ctrl_keys_are_left_to_pyqtgraph(ks4_plotter, show, qtbot):
    from PySide6.QtCore import Qt

    widget = show(ks4_plotter.drift_map_plot_interactive())
    before = widget.view_box.viewRange()
    qtbot.keyClick(widget, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget, Qt.Key.Key_Left, Qt.KeyboardModifier.ControlModifier)
    assert widget.view_box.viewRange() == before
    widget.set_units([int(widget.spikes.clusters[0])])
    assert widget.unit_edit.text() == str(int(widget.spikes.clusters[0]))
