"""The viewer's Qt-free parts: heat-map arrays, nearest-spike lookup, grid shapes."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.interactive.grid import grid_shape
from driftqc.interactive.heatmap import symmetric_levels, template_heatmap
from driftqc.interactive.lookup import SpikeLocator


def _probe():
    # two shanks of 4 channels; listed out of depth order on purpose
    positions = np.array(
        [[0, 30], [0, 0], [16, 10], [0, 20], [250, 0], [250, 10], [266, 20], [250, 30]],
        dtype=float,
    )
    shanks = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    return positions, shanks


def test_heatmap_rows_are_the_peak_shank_by_depth():
    positions, shanks = _probe()
    templates = np.zeros((2, 5, 8), dtype=np.float32)
    templates[1, :, 5] = [0, -4, 2, 0, 0]  # peak on shank 1
    templates[1, :, 6] = [0, -1, 0.5, 0, 0]
    templates[1, :, 4] = [0, -0.1, 0, 0, 0]  # ptp 0.1 = 1.7 % of the peak 6: inactive
    heat = template_heatmap(templates, 1, positions, shanks, "all")
    assert heat.shank == 1
    assert heat.channels.tolist() == [4, 5, 6, 7]  # y = 0, 10, 20, 30
    np.testing.assert_array_equal(heat.values, templates[1][:, [4, 5, 6, 7]].T)
    active = template_heatmap(templates, 1, positions, shanks, "active")
    assert active.channels.tolist() == [5, 6]
    assert active.depths.tolist() == [10.0, 20.0]
    assert active.values.shape == (2, 5)
    # a lower threshold brings channel 4 in
    low = template_heatmap(templates, 1, positions, shanks, "active", active_fraction=0.01)
    assert low.channels.tolist() == [4, 5, 6]


def test_heatmap_ties_in_depth_are_ordered_by_x_and_zero_template_is_empty():
    positions = np.array([[32, 0], [0, 0], [0, 15]], dtype=float)
    templates = np.ones((1, 3, 3), dtype=np.float32)
    templates[0, 1] = -1
    heat = template_heatmap(templates, 0, positions, np.zeros(3, int), "all")
    assert heat.channels.tolist() == [1, 0, 2]
    silent = template_heatmap(np.zeros((1, 3, 3)), 0, positions, np.zeros(3, int), "active")
    assert silent.n_rows == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "peak"}, "heat-map mode"),
        ({"template": 5}, "out of range"),
        ({"active_fraction": 0.0}, "active_fraction"),
    ],
)
def test_heatmap_bad_input_is_a_clear_error(kwargs, message):
    positions, shanks = _probe()
    args = {"template": 0, "mode": "active", **kwargs}
    with pytest.raises(OptionError, match=message):
        template_heatmap(np.zeros((2, 5, 8)), args.pop("template"), positions, shanks, **args)


def test_symmetric_levels_centre_zero():
    assert symmetric_levels(np.array([[-3.0, 1.0], [2.0, 0.5]])) == (-3.0, 3.0)
    assert symmetric_levels(np.zeros((2, 2))) == (-1.0, 1.0)


def test_locator_matches_brute_force():
    rng = np.random.default_rng(3)
    times = rng.uniform(0, 100, 5000)
    depths = rng.uniform(0, 4000, 5000)
    locator = SpikeLocator(times, depths)
    px_x, px_y, radius = 8.0, 0.2, 6.0  # pixels per s, per µm
    for qx, qy in rng.uniform([0, 0], [100, 4000], size=(200, 2)):
        d2 = ((times - qx) * px_x) ** 2 + ((depths - qy) * px_y) ** 2
        expected = int(np.argmin(d2)) if d2.min() <= radius**2 else None
        assert locator.nearest(qx, qy, px_x, px_y, radius) == expected


def test_locator_empty_and_far():
    assert SpikeLocator(np.zeros(0), np.zeros(0)).nearest(1, 1, 1, 1, 5) is None
    assert SpikeLocator(np.array([0.0]), np.array([0.0])).nearest(10, 0, 1, 1, 5) is None


@pytest.mark.parametrize(
    ("n", "shape"),
    [(1, (1, 1)), (2, (1, 2)), (3, (2, 2)), (4, (2, 2)), (5, (2, 3)), (6, (2, 3)), (9, (3, 3))],
)
def test_auto_grid_table(n, shape):
    assert grid_shape(n) == shape


@pytest.mark.parametrize(
    ("n", "grid", "message"),
    [
        (0, None, "no panels"),
        (5, (2, 2), "room for 4 panels but 5"),
        (2, (2, 2), "empty"),
        (3, (1, 5), "empty"),
        (2, (0, 2), "positive"),
        (2, (1.5, 2), "whole"),
        (2, (1, 2, 3), r"\(rows, cols\)"),
    ],
)
def test_bad_grids(n, grid, message):
    with pytest.raises(ValueError, match=message):
        grid_shape(n, grid)


def test_explicit_grids_that_fit():
    assert grid_shape(5, (1, 5)) == (1, 5)
    assert grid_shape(5, (3, 2)) == (3, 2)
    assert grid_shape(4, (4, 1)) == (4, 1)
