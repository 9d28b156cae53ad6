"""Level of detail: every spike at every zoom (pure window queries, then the real widget)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftqc.interactive import DriftmapPlotWidget
from driftqc.views.level_of_detail import (
    BASE_GRID,
    MIN_OPACITY,
    LevelOfDetail,
    WindowView,
    density_rgba,
    grey_levels_of,
)
from driftqc.views.shading import amplitude_shading, grey_rgba
from tests.integration.interactive.conftest import big_session, drawn_points, spike_points

BUDGET = 5_000  # density above 4 × this


@pytest.mark.parametrize("scaling", ["linear", "log2", "log10", (8.0, 40.0)])
def test_grey_levels_are_the_shading_bins_plus_one(scaling):
    rng = np.random.default_rng(4)
    amplitudes = rng.lognormal(3.0, 0.8, 100_000).astype(np.float32)
    shading = amplitude_shading(amplitudes, scaling, 13)
    probe = np.concatenate([amplitudes, np.float32([0.0, 1e9])])
    if not isinstance(scaling, str) or scaling == "linear":  # values exactly on bin edges
        probe = np.concatenate([probe, shading.edges.astype(np.float32)])
    np.testing.assert_array_equal(grey_levels_of(shading, probe), shading.bin_of(probe) + 1)


def _random_lod(n=50_000, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0.0, 100.0, n))
    depths = rng.uniform(0.0, 1000.0, n).astype(np.float32)
    levels = rng.integers(1, 21, n).astype(np.uint8)
    return LevelOfDetail(times, depths, levels, **kwargs), times, depths, levels


def _brute_force_image(times, depths, levels, x_range, y_range, shape):
    """Darkest level per cell, cell = floor((value - start) × cells per unit), in float64."""
    rows, cols = shape
    col = (times - x_range[0]) * (cols / (x_range[1] - x_range[0]))
    row = (depths.astype(np.float64) - y_range[0]) * (rows / (y_range[1] - y_range[0]))
    col = np.clip(np.floor(col), 0, cols - 1).astype(int)
    row = np.clip(np.floor(row), 0, rows - 1).astype(int)
    inside = (times >= x_range[0]) & (times <= x_range[1])
    inside &= (depths >= y_range[0]) & (depths <= y_range[1])
    image = np.zeros(shape, dtype=np.uint8)
    np.maximum.at(image, (row[inside], col[inside]), levels[inside])
    counts = np.zeros(shape, dtype=np.int64)
    np.add.at(counts, (row[inside], col[inside]), 1)
    return image, counts


def test_window_modes_and_thinning():
    lod, times, depths, _ = _random_lod(point_budget=1_000)
    # 1 s × 100 µm: about 50 spikes, all of them
    view = lod.window((10.0, 11.0), (200.0, 300.0), (800, 600))
    expected = np.flatnonzero((times >= 10) & (times <= 11) & (depths >= 200) & (depths <= 300))
    assert view.mode == "all" and view.factor == 1
    np.testing.assert_array_equal(view.indices, expected)
    np.testing.assert_array_equal(lod.in_window((10.0, 11.0), (200.0, 300.0)), expected)
    # 5 s of every depth: about 2 500 spikes → 1 in 3, chosen by session index
    view = lod.window((20.0, 25.0), (-10.0, 2000.0), (800, 600))
    inside = np.flatnonzero((times >= 20) & (times <= 25))
    assert view.mode == "thinned" and view.n_window == len(inside)
    assert view.factor == math.ceil(len(inside) / 1_000)
    np.testing.assert_array_equal(view.indices, inside[inside % view.factor == 0])
    assert "1 in 3 of" in view.caption
    # everything: density (more than 4 × the budget)
    assert lod.window((0.0, 100.0), (0.0, 1000.0), (800, 600)).mode == "density"
    assert lod.window((200.0, 300.0), (0.0, 1000.0), (800, 600)).mode == "empty"


def test_density_from_spikes_is_the_darkest_level_per_cell():
    lod, times, depths, levels = _random_lod(point_budget=10)
    # a narrow depth window: finer than the base grid, so binned from the spikes themselves
    x_range, y_range = (0.0, 100.0), (400.0, 420.0)
    view = lod.window(x_range, y_range, (300, 200), cell_px=2.0)
    assert view.mode == "density"
    expected, counts = _brute_force_image(times, depths, levels, x_range, y_range, (100, 150))
    np.testing.assert_array_equal(view.image, expected)
    np.testing.assert_array_equal(view.counts, counts)
    assert counts.sum() == view.n_window
    assert view.rect == (0.0, 400.0, 100.0, 20.0)


def test_overview_density_pooled_from_the_base_grid_matches_binning_every_spike():
    lod, times, depths, levels = _random_lod(n=200_000, point_budget=100)
    (t0, t1), (d0, d1) = lod.extent
    rows, cols = BASE_GRID[0] // 4, BASE_GRID[1] // 4  # whole base cells per window cell
    view = lod.window((t0, t1), (d0, d1), (cols * 2.0, rows * 2.0), cell_px=2.0)
    assert view.mode == "density" and view.image.shape == (rows, cols)
    expected, counts = _brute_force_image(times, depths, levels, (t0, t1), (d0, d1), (rows, cols))
    np.testing.assert_array_equal(view.image, expected)
    np.testing.assert_array_equal(view.counts, counts)


def test_unsorted_times_and_bad_budget_are_refused():
    with pytest.raises(ValueError, match="sorted"):
        LevelOfDetail(np.array([2.0, 1.0]), np.zeros(2), np.ones(2, np.uint8))
    with pytest.raises(ValueError, match="point_budget"):
        LevelOfDetail(np.zeros(1), np.zeros(1), np.ones(1, np.uint8), point_budget=0)


@pytest.fixture(scope="module")
def big():
    return big_session()


def test_zooming_into_a_big_session_shows_every_spike_of_the_window(big, show, qtbot):
    selection, geometry = big
    widget = show(DriftmapPlotWidget(selection, **geometry, point_budget=BUDGET), 1000, 700)
    kept = selection.kept
    assert selection.decimation > 1  # the build-time thinning the viewer replaces
    # overview: a density image of every spike, no points
    widget.update_view()
    assert widget.view.mode == "density"
    assert widget.view.n_window == len(kept)
    assert widget.density_item.isVisible() and not widget.bin_items
    image = widget.view.image
    assert image.max() == widget.shading.bin_of(kept.amplitudes).max() + 1  # darkest spike
    assert np.count_nonzero(image) > 1_000
    assert "density of all 600,000 spikes in view" in widget.caption_label.text()

    # a 10 s × 250 µm window: every spike in it, as points in its grey bin
    widget.view_box.setRange(xRange=(300.0, 310.0), yRange=(1100.0, 1350.0), padding=0)
    widget.update_view()
    (x0, x1), (y0, y1) = widget.view_box.viewRange()
    inside = np.flatnonzero(
        (kept.times >= x0) & (kept.times <= x1) & (kept.depths >= y0) & (kept.depths <= y1)
    )
    assert 100 < len(inside) <= BUDGET
    assert widget.view.mode == "all" and not widget.density_item.isVisible()
    bins = widget.shading.bin_of(kept.amplitudes[inside])
    np.testing.assert_array_equal(drawn_points(widget), spike_points(kept, inside, bins))
    assert f"all {len(inside):,} spikes in view" in widget.caption_label.text()

    # in between: 1 in N, re-thinned for the window, never more than the budget
    widget.view_box.setRange(xRange=(100.0, 115.0), yRange=(-100.0, 3200.0), padding=0)
    widget.update_view()
    view = widget.view
    assert view.mode == "thinned" and 1 < view.factor <= 4
    assert len(drawn_points(widget)) == len(view.indices) <= BUDGET + 1
    assert f"1 in {view.factor} of {view.n_window:,} spikes in view" in widget.caption_label.text()


def test_range_changes_redraw_by_themselves(big, show, qtbot):
    selection, geometry = big
    widget = show(DriftmapPlotWidget(selection, **geometry, point_budget=BUDGET), 800, 600)
    widget.view_box.setRange(xRange=(300.0, 305.0), yRange=(1100.0, 1300.0), padding=0)
    qtbot.waitUntil(lambda: widget.view.mode == "all", timeout=2000)
    assert widget.bin_items


def test_256_grey_bins_fit():
    amplitudes = np.random.default_rng(5).lognormal(3.0, 0.8, 10_000).astype(np.float32)
    shading = amplitude_shading(amplitudes, "linear", 256)
    levels = grey_levels_of(shading, amplitudes)
    assert levels.max() == 256
    np.testing.assert_array_equal(levels, shading.bin_of(amplitudes) + 1)


def test_window_slightly_finer_than_the_base_grid_repeats_its_cells():
    lod, times, depths, levels = _random_lod(n=200_000, point_budget=100)
    (t0, t1), (d0, d1) = lod.extent
    rows = int(BASE_GRID[0] * 1.37)  # base rows 1.37 × taller than the window's cells
    view = lod.window((t0, t1), (d0, d1), (512 * 2.0, rows * 2.0), cell_px=2.0)
    base, _ = _brute_force_image(times, depths, levels, (t0, t1), (d0, d1), (BASE_GRID[0], 512))
    # each window row shows the base row under its centre
    centres = d0 + (np.arange(rows) + 0.5) * (d1 - d0) / rows
    under = np.floor((centres - d0) / ((d1 - d0) / BASE_GRID[0])).astype(int)
    np.testing.assert_array_equal(view.image, base[under])


def test_density_colours_are_the_grey_bins_and_opacity_follows_the_count():
    image = np.array([[0, 1, 3], [3, 2, 0]], dtype=np.uint8)
    counts = np.array([[0, 1, 10], [100, 1000, 0]], dtype=np.uint32)
    view = WindowView("density", 1111, 0, np.zeros(0, np.intp), image, (0, 0, 1, 1), counts)
    rgba = density_rgba(view, 3)
    greys = (grey_rgba(3)[:, 0] * 255).round()
    np.testing.assert_array_equal(rgba[0, 1, :3], [greys[0]] * 3)
    np.testing.assert_array_equal(rgba[1, 0, :3], [greys[2]] * 3)
    assert rgba[0, 0, 3] == rgba[1, 2, 3] == 0  # empty cells are transparent
    alpha = [rgba[0, 1, 3], rgba[0, 2, 3], rgba[1, 0, 3], rgba[1, 1, 3]]
    assert alpha == sorted(alpha) and alpha[0] < alpha[-1] == 255
    assert alpha[0] == int(MIN_OPACITY * 255)
