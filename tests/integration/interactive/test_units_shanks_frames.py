"""Units, shanks, frames and the shared grey scale, on the real widget (offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.frames import spikes_in_frame
from driftqc.geometry import template_shanks
from driftqc.interactive import DriftmapPlotWidget, MultiSessionDriftmapWidget
from driftqc.interactive.sources import folder_source, sorting_source
from driftqc.interactive.units import parse_units
from driftqc.io import load_sorting
from tests.integration.interactive.conftest import (
    big_session,
    drawn_points,
    isolated_spike,
    scene_pos,
    spike_points,
)

KS4_DRIFT = Path(__file__).resolve().parents[2] / "data" / "ks4_drift"


def _sorted_points(times, depths):
    rows = np.column_stack([times, np.asarray(depths, dtype=np.float64)])
    return rows[np.lexsort(rows.T[::-1])]


# -- units ------------------------------------------------------------------------------------
def test_clicking_a_spike_highlights_exactly_its_units_spikes(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive())
    widget.view_box.setXRange(40, 50, padding=0)
    index = isolated_spike(widget, seed=3)
    assert widget.click_at(scene_pos(widget, index)) == index
    cluster = int(widget.spikes.clusters[index])
    assert widget.highlighted_units.tolist() == [cluster]
    widget.reset_view()
    widget.update_view()
    kept = widget.selection.kept
    mine = kept.clusters == cluster
    assert 0 < mine.sum() < len(kept)
    x, y = widget.highlight_item.getData()
    np.testing.assert_array_equal(
        _sorted_points(x, y), _sorted_points(kept.times[mine], kept.depths[mine])
    )
    assert f"units {cluster} highlighted" in widget.caption_label.text()
    # Escape clears the units and the selected spike
    widget.clear_units()
    assert len(widget.highlight_item) == 0 and widget.selected_index is None


def test_unit_filter_by_label_highlights_and_isolates(ks4_plotter, show):
    widget = show(ks4_plotter.drift_map_plot_interactive())
    kept = widget.selection.kept
    good = sorted(c for c, label in kept.cluster_labels.items() if label == "good")
    assert good and len(good) < len(np.unique(kept.clusters))
    chosen = widget.set_units(text="good")
    assert chosen.tolist() == [c for c in good if np.any(kept.clusters == c)]
    isolated = widget.set_units(text="good", isolate=True)
    assert widget.isolated and widget.isolate_check.isChecked()
    assert set(np.unique(widget.spikes.clusters).tolist()) == set(isolated.tolist())
    assert len(widget.spikes) == np.isin(kept.clusters, isolated).sum()
    assert len(drawn_points(widget)) == len(widget.spikes)
    widget.clear_units()
    assert len(widget.spikes) == len(kept) and not widget.isolated


def test_unit_filter_typed_into_the_box(ks4_plotter, show, qtbot):
    from PySide6.QtCore import Qt

    widget = show(ks4_plotter.drift_map_plot_interactive())
    unit = int(widget.spikes.clusters[0])
    widget.unit_edit.setText(str(unit))
    qtbot.keyClick(widget.unit_edit, Qt.Key.Key_Return)
    assert widget.highlighted_units.tolist() == [unit]
    widget.unit_edit.setText("sparkly")
    qtbot.keyClick(widget.unit_edit, Qt.Key.Key_Return)
    assert "no unit is labelled 'sparkly'" in widget.hover_label.text()


def test_parse_units_errors_name_the_problem():
    clusters, labels = np.array([1, 2, 3]), {1: "good", 2: "mua"}
    assert parse_units("", clusters, labels).tolist() == []
    assert parse_units("MUA 3", clusters, labels).tolist() == [2, 3]
    assert parse_units("unsorted", clusters, labels).tolist() == [3]
    with pytest.raises(OptionError, match="unit 7 has no spikes"):
        parse_units("7", clusters, labels)
    with pytest.raises(OptionError, match="labels here: good, mua, unsorted"):
        parse_units("noise", clusters, labels)


# -- shanks -----------------------------------------------------------------------------------
def test_shank_panels_hold_only_their_shanks_spikes(ks4_plotter, show):
    sorting = ks4_plotter.sorting
    shanks = template_shanks(sorting.templates, sorting.channel_shanks)
    panels = [show(ks4_plotter.drift_map_plot_interactive(), 600, 400) for _ in range(2)]
    kept = panels[0].selection.kept
    counts = []
    for shank, panel in enumerate(panels):
        panel.set_shank(shank)
        assert (
            panel.shank_combo.isVisible() and panel.shank_combo.currentText() == f"Shank {shank}"
        )
        on_shank = shanks[kept.templates] == shank
        assert 0 < on_shank.sum() < len(kept)
        assert np.all(shanks[panel.spikes.templates] == shank)
        assert len(panel.spikes) == on_shank.sum()
        drawn = drawn_points(panel)
        bins = panel.shading.bin_of(kept.amplitudes[on_shank])
        np.testing.assert_array_equal(drawn, spike_points(kept, on_shank, bins))
        assert panel.histogram.values.sum() == on_shank.sum()
        assert f"shank {shank} only" in panel.caption_label.text()
        counts.append(len(panel.spikes))
    assert sum(counts) == len(kept)
    panels[0].set_shank(None)
    assert len(panels[0].spikes) == len(kept)


def test_a_shank_the_probe_lacks_is_a_clear_error(ks4_plotter, qtbot):
    sorting = ks4_plotter.sorting
    with pytest.raises(OptionError, match="shank 5 is not on this probe; valid shanks: 0, 1"):
        DriftmapPlotWidget(
            ks4_plotter.select(),
            sorting.templates,
            sorting.channel_positions,
            sorting.channel_shanks,
            shank=5,
        )


# -- frames -----------------------------------------------------------------------------------
def test_frame_toggle_reselects_kilosort4_raw_depths(show):
    sorting = load_sorting(KS4_DRIFT)
    widget = show(DriftmapPlotWidget.from_source(sorting_source(sorting), title=True))
    assert widget.frames == ("registered", "raw")
    assert widget.frame_combo.isVisible() and widget.frame == "registered"
    registered = widget.spikes
    widget.set_frame("raw")
    raw = spikes_in_frame(sorting.spikes, "raw", sorting.motion)
    assert widget.frame == "raw" and widget.frame_combo.currentText() == "raw"
    np.testing.assert_array_equal(
        _sorted_points(widget.spikes.times, widget.spikes.depths),
        _sorted_points(raw.times, raw.depths),
    )
    assert not np.array_equal(registered.depths, widget.spikes.depths)
    assert "depth frame: raw (reconstructed" in widget.caption_label.text()


def test_driftplotter_panels_toggle_frames_and_bare_selections_do_not(show):
    from driftqc import DriftPlotter

    plotter = DriftPlotter(KS4_DRIFT)
    widget = show(plotter.drift_map_plot_interactive(frame="raw"))
    assert widget.frame == "raw" and widget.frame_combo.isVisible()
    widget.set_frame("registered")
    np.testing.assert_array_equal(np.sort(widget.spikes.depths), np.sort(plotter.spike_depths))
    selection = plotter.select()
    bare = show(
        DriftmapPlotWidget(
            selection,
            templates=plotter.templates,
            channel_positions=plotter.channel_locations,
            channel_shanks=plotter.sorting.channel_shanks,
        )
    )
    assert not bare.frame_combo.isVisible()
    with pytest.raises(OptionError, match="build it with a source"):
        bare.set_frame("raw")


def test_chunked_source_gives_the_in_memory_spikes(ks4_session, qtbot):
    chunked = folder_source(ks4_session.path, chunk_spikes=7_000)
    in_memory = sorting_source(load_sorting(ks4_session.path))
    a, b = chunked.select("raw").kept, in_memory.select("raw").kept
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.depths, b.depths)
    np.testing.assert_array_equal(a.clusters, b.clusters)
    assert a.info.depth_frame == "raw" and chunked.frames == in_memory.frames
    widget = DriftmapPlotWidget.from_source(chunked, shank=1)
    qtbot.addWidget(widget)
    assert len(widget.spikes) > 0 and widget.shank == 1


# -- one grey scale ---------------------------------------------------------------------------
def test_shared_scale_gives_equal_greys_for_equal_amplitudes(ks4_plotter, show):
    def panels():
        return [
            ks4_plotter.drift_map_plot_interactive(),
            ks4_plotter.drift_map_plot_interactive(
                filter_amplitude_mode="percentile", filter_amplitude_values=(40, 100)
            ),
        ]

    own = panels()
    assert own[0].shading.low != own[1].shading.low  # different grey scales on their own
    probe = np.linspace(1.0, 60.0, 200).astype(np.float32)
    assert not np.array_equal(own[0].grey_of(probe), own[1].grey_of(probe))
    separate = show(MultiSessionDriftmapWidget(own, shared_scale=False), 1000, 400)
    assert separate.shared is None

    shared_panels = panels()
    grid = show(MultiSessionDriftmapWidget(shared_panels), 1000, 400)
    assert grid.shared["applicable"]
    for panel in shared_panels:
        assert (panel.shading.low, panel.shading.high) == (
            grid.shared["low"],
            grid.shared["high"],
        )
        assert panel.colour_bar.ticks == shared_panels[0].colour_bar.ticks
    np.testing.assert_array_equal(shared_panels[0].grey_of(probe), shared_panels[1].grey_of(probe))
    # and the drawn points agree: a bin is the same grey in both panels
    colours = [{item.bin: item.color.name() for item in p.bin_items} for p in shared_panels]
    common = set(colours[0]) & set(colours[1])
    assert common and all(colours[0][b] == colours[1][b] for b in common)


def test_mixed_amplitude_units_warn_and_keep_their_own_scales(ks4_plotter, show):
    selection, geometry = big_session(n_spikes=20_000, unit="µV")
    volts = DriftmapPlotWidget(selection, **geometry)
    arbitrary = ks4_plotter.drift_map_plot_interactive()
    own = [(p.shading.low, p.shading.high) for p in (volts, arbitrary)]
    with pytest.warns(UserWarning, match="one amplitude scale"):
        grid = show(MultiSessionDriftmapWidget([volts, arbitrary]), 1000, 400)
    assert not grid.shared["applicable"]
    assert [(p.shading.low, p.shading.high) for p in (volts, arbitrary)] == own


def test_time_axes_link_when_asked(ks4_plotter, ks25_plotter, show):
    panels = [
        ks4_plotter.drift_map_plot_interactive(),
        ks25_plotter.drift_map_plot_interactive(),
    ]
    grid = show(MultiSessionDriftmapWidget(panels, link_time=True), 1000, 400)
    assert grid.link_time
    assert panels[0].view_box.viewRange()[0] == pytest.approx(panels[1].view_box.viewRange()[0])
    panels[1].view_box.setXRange(30.0, 60.0, padding=0)
    assert panels[0].view_box.viewRange()[0] == pytest.approx([30.0, 60.0])
