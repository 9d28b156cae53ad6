"""DriftmapPlotWidget, run for real offscreen: points, shading, hover, click, template panel."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.interactive import DriftmapPlotWidget
from driftqc.views.shading import LIGHTEST_GREY
from tests.integration.interactive.conftest import (
    drawn_points,
    isolated_spike,
    left_click_event,
    scene_pos,
    spike_points,
)

N_BINS = 7


def _expected_bins_log2(kept_amplitudes, amplitudes, n_bins):
    """Grey bins from the definition: equal-width bins of log2 amplitude over all kept spikes."""
    log_kept = np.log2(np.abs(kept_amplitudes.astype(np.float64)))
    low, high = log_kept.min(), log_kept.max()
    position = (np.log2(np.abs(amplitudes.astype(np.float64))) - low) / (high - low) * n_bins
    return np.clip(np.floor(position), 0, n_bins - 1).astype(int)


def test_points_drawn_are_the_kept_spikes_in_their_grey_bins(ks4_plotter, show):
    # level of detail (default): a whole view under the point budget draws every kept spike,
    # whatever the build-time decimation
    widget = show(
        ks4_plotter.drift_map_plot_interactive(
            decimate=3, amplitude_cmap_scaling="log2", n_color_bins=N_BINS
        )
    )
    selection = ks4_plotter.select(decimate=3)
    kept = selection.kept
    assert len(selection.shown) < len(kept)  # decimation really happened
    expected_bins = _expected_bins_log2(kept.amplitudes, kept.amplitudes, N_BINS)
    greys = np.linspace(LIGHTEST_GREY, 0.0, N_BINS)
    assert 1 < len(widget.bin_items) <= N_BINS
    for item in widget.bin_items:
        colour = item.color
        assert colour.redF() == colour.greenF() == colour.blueF()
        assert colour.redF() == pytest.approx(greys[item.bin], abs=1 / 255)
    np.testing.assert_array_equal(
        drawn_points(widget), spike_points(kept, slice(None), expected_bins)
    )
    assert widget.view.mode == "all"
    assert f"all {len(kept):,} spikes in view" in widget.caption_label.text()
    # darker bins are stacked above lighter ones, like the matplotlib map
    z = [item.zValue() for item in widget.bin_items]
    assert z == sorted(z)


def test_without_lod_exactly_the_decimated_spikes_are_drawn(ks4_plotter, show):
    selection = ks4_plotter.select(decimate=3)
    sorting = ks4_plotter.sorting
    widget = show(
        DriftmapPlotWidget(
            selection,
            sorting.templates,
            sorting.channel_positions,
            sorting.channel_shanks,
            amplitude_cmap_scaling="log2",
            n_color_bins=N_BINS,
            lod=False,
        )
    )
    shown = selection.shown
    expected_bins = _expected_bins_log2(selection.kept.amplitudes, shown.amplitudes, N_BINS)
    np.testing.assert_array_equal(
        drawn_points(widget), spike_points(shown, slice(None), expected_bins)
    )
    widget.view_box.setXRange(10, 20, padding=0)
    widget.update_view()
    assert len(drawn_points(widget)) == len(shown)  # fixed at build time


def test_title_axis_labels_and_caption(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(title=True))
    name = ks4_plotter.sorting.info.name
    assert name in widget.title_label.text
    assert widget.plot_item.getAxis("bottom").labelText == "Time (s)"
    assert widget.plot_item.getAxis("left").labelText == "Depth (µm)"
    caption = widget.caption_label.text()
    kept = widget.selection.kept
    assert f"{name}: {len(kept):,} of {widget.selection.n_total:,} spikes kept" in caption
    assert f"depth frame: {kept.info.frame_caption}" in caption
    assert "showing all" in caption and "grey: 20 amplitude bins" in caption
    custom = show(ks4_plotter.drift_map_plot_interactive(title="Mouse 3, day 2"))
    assert custom.title_label.text == "Mouse 3, day 2"
    untitled = show(ks4_plotter.drift_map_plot_interactive())
    assert untitled.title is None


def test_bad_point_size_is_an_option_error(ks4_plotter, qtbot):
    selection = ks4_plotter.select()
    sorting = ks4_plotter.sorting
    with pytest.raises(OptionError, match="point_size"):
        DriftmapPlotWidget(
            selection,
            templates=sorting.templates,
            channel_positions=sorting.channel_positions,
            channel_shanks=sorting.channel_shanks,
            point_size=0,
        )


def test_hover_reads_out_the_spike_under_the_mouse(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(decimate=4))
    widget.view_box.setXRange(50, 60, padding=0)  # zoom in so single spikes stand apart
    widget.view_box.setYRange(0, 250, padding=0)
    index = isolated_spike(widget)
    shown = widget.spikes
    assert widget.hover_at(scene_pos(widget, index)) == index
    text = widget.hover_label.text()
    cluster = int(shown.clusters[index])
    assert f"t = {shown.times[index]:.4f} s" in text
    assert f"depth = {shown.depths[index]:.1f} µm" in text
    assert f"amplitude = {shown.amplitudes[index]:.4g} {shown.info.amplitude_unit}" in text
    assert f"unit {cluster} ({shown.cluster_labels[cluster]})" in text
    # far from every spike (outside the plot area): the read-out goes back to its hint
    assert widget.hover_at(widget.view_box.sceneBoundingRect().topLeft() - _offset()) is None
    assert "Hover" in widget.hover_label.text()


def _offset():
    from PySide6.QtCore import QPointF

    return QPointF(5, 5)


def _expected_heatmap(sorting, template, mode, fraction=0.05):
    """The template image derived directly from the definition in the issue."""
    waveform = sorting.templates[template].astype(np.float64)  # (samples, channels)
    ptp = np.ptp(waveform, axis=0)
    shank = sorting.channel_shanks[np.argmax(ptp)]
    on_shank = np.flatnonzero(sorting.channel_shanks == shank)
    if mode == "active":
        on_shank = on_shank[ptp[on_shank] >= fraction * ptp.max()]
    y = sorting.channel_positions[on_shank, 1]
    x = sorting.channel_positions[on_shank, 0]
    channels = on_shank[np.lexsort((x, y))]
    return waveform[:, channels].T, channels


def _click_isolated(widget):
    widget.view_box.setXRange(120, 130, padding=0)
    index = isolated_spike(widget, seed=1)
    assert widget.click_at(scene_pos(widget, index)) == index
    return index


def test_click_marks_the_spike_and_shows_its_template(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(decimate=4))
    index = _click_isolated(widget)
    shown = widget.spikes
    assert widget.selected_index == index
    sx, sy = widget.selected_item.getData()
    assert (sx.tolist(), sy.tolist()) == ([shown.times[index]], [float(shown.depths[index])])
    expected, channels = _expected_heatmap(
        ks4_plotter.sorting, int(shown.templates[index]), "active"
    )
    panel = widget.template_panel
    np.testing.assert_array_equal(panel.image_item.image, expected)
    np.testing.assert_array_equal(panel.heatmap.channels, channels)
    # the default colour limits are symmetric around zero (white = 0)
    top = np.abs(expected).max()
    assert panel.levels == pytest.approx((-top, top))


def test_scene_click_signal_reaches_the_same_handler(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(decimate=4))
    widget.view_box.setXRange(120, 130, padding=0)
    index = isolated_spike(widget, seed=2)
    scene = widget.plot_item.scene()
    scene.sigMouseClicked.emit(left_click_event(scene_pos(widget, index)))
    assert widget.selected_index == index
    assert widget.template_panel.heatmap.template == int(widget.spikes.templates[index])


def test_heatmap_modes_and_fixed_colour_limits(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(decimate=4))
    index = _click_isolated(widget)
    template = int(widget.spikes.templates[index])
    panel = widget.template_panel
    active = panel.image_item.image.copy()
    active_channels = panel.heatmap.channels.copy()

    panel.radio_all.setChecked(True)
    assert panel.mode == "all"
    expected_all, all_channels = _expected_heatmap(ks4_plotter.sorting, template, "all")
    np.testing.assert_array_equal(panel.image_item.image, expected_all)
    shank = ks4_plotter.sorting.channel_shanks[active_channels[0]]
    assert len(all_channels) == np.count_nonzero(ks4_plotter.sorting.channel_shanks == shank)
    # "active" is a strict subset of the shank's rows, with the same values, in depth order
    assert len(active_channels) < len(all_channels)
    rows = np.searchsorted(all_channels, active_channels, sorter=np.argsort(all_channels))
    rows = np.argsort(all_channels)[rows]
    np.testing.assert_array_equal(expected_all[rows], active)
    assert np.all(np.diff(rows) > 0)

    panel.fix_limits.setChecked(True)
    panel.low_spin.setValue(-0.25)
    panel.high_spin.setValue(0.5)
    assert panel.levels == pytest.approx((-0.25, 0.5))
    panel.radio_active.setChecked(True)  # limits survive a redraw
    assert panel.levels == pytest.approx((-0.25, 0.5))
    panel.fix_limits.setChecked(False)
    top = np.abs(active).max()
    assert panel.levels == pytest.approx((-top, top))


def test_zoomed_view_still_paints(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive(decimate=False), 600, 400)
    widget.view_box.setXRange(10, 12, padding=0)
    widget.view_box.setYRange(50, 120, padding=0)
    image = widget.graphics.grab().toImage()
    grey = np.array(
        [
            image.pixelColor(x, y).value()
            for x in range(0, image.width(), 4)
            for y in range(0, image.height(), 4)
        ]
    )
    assert (grey < 150).sum() > 20  # dark spike discs in the zoomed window


def test_a_checked_style_is_used_as_given(ks4_plotter, show):
    from driftqc.options import MapStyle

    selection = ks4_plotter.select(decimate=3)
    sorting = ks4_plotter.sorting
    geometry = {
        "templates": sorting.templates,
        "channel_positions": sorting.channel_positions,
        "channel_shanks": sorting.channel_shanks,
    }
    style = MapStyle("log2", N_BINS, 4.0)
    widget = show(DriftmapPlotWidget(selection, **geometry, style=style))
    assert widget.map_style is style and widget.point_size == 4.0
    assert widget.shading.scaling == "log2" and widget.shading.n_bins == N_BINS
    same = show(
        DriftmapPlotWidget(
            selection,
            **geometry,
            amplitude_cmap_scaling="log2",
            n_color_bins=N_BINS,
            point_size=4.0,
        )
    )
    np.testing.assert_array_equal(widget.bins, same.bins)
    with pytest.raises(TypeError, match="either style"):
        DriftmapPlotWidget(selection, **geometry, point_size=2.0, style=style)
