"""Amplitude shading and the binned summaries (depth histogram, density image)."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc import OptionError
from driftqc.metrics.histograms import HISTOGRAM_BLOCK, density_image, depth_histogram
from driftqc.views.shading import amplitude_shading, grey_levels, grey_rgba


def test_linear_bins_by_hand():
    amps = np.array([0.0, 2.4, 2.5, 5.0, 7.6, 10.0])
    shading = amplitude_shading(amps, "linear", 4)  # edges 0, 2.5, 5, 7.5, 10
    assert shading.bin_of(amps).tolist() == [0, 0, 1, 2, 3, 3]


@pytest.mark.parametrize("scaling", ["log2", "log10"])
def test_log_bins_equal_width_in_log(scaling):
    amps = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    shading = amplitude_shading(amps, scaling, 4)
    log = np.log2 if scaling == "log2" else np.log10
    edges = np.linspace(log(1.0), log(16.0), 5)
    expected = np.clip(np.searchsorted(edges, log(amps), side="right") - 1, 0, 3)
    assert shading.bin_of(amps).tolist() == expected.tolist()


def test_explicit_range_clamps_outside_values():
    shading = amplitude_shading(np.array([5.0]), (10, 20), 2)
    assert shading.bin_of(np.array([0.0, 12.0, 16.0, 99.0])).tolist() == [0, 0, 1, 1]
    assert amplitude_shading(np.array([5.0]), [10, 20], 2).low == 10  # lists work too


def test_equal_amplitudes_go_to_the_darkest_bin():
    shading = amplitude_shading(np.full(3, 7.0), "linear", 5)
    assert shading.bin_of(np.full(3, 7.0)).tolist() == [4, 4, 4]


def test_grey_levels_light_to_dark_and_never_white():
    grey = grey_levels(20)
    assert np.all(np.diff(grey) < 0)
    assert grey[0] < 0.9 and grey[-1] == 0.0
    assert grey_rgba(3).shape == (3, 4)


@pytest.mark.parametrize(
    ("scaling", "bins", "message"),
    [
        ("ln", 20, "use one of"),
        ((5, 1), 20, "low must be below"),
        ("linear", 0, "1 to 256"),
        ("linear", 2.5, "whole number"),
    ],
)
def test_bad_shading_options(scaling, bins, message):
    with pytest.raises(OptionError, match=message):
        amplitude_shading(np.ones(3), scaling, bins)


def test_depth_histogram_matches_numpy():
    rng = np.random.default_rng(0)
    depths = rng.uniform(13.0, 517.0, 5000)
    amps = rng.uniform(1, 10, 5000)
    hist = depth_histogram(depths, bin_um=2.0)
    counts, _ = np.histogram(depths, bins=hist.edges)
    np.testing.assert_array_equal(hist.values, counts)
    assert hist.edges[0] <= depths.min() and hist.edges[-1] > depths.max()
    weighted = depth_histogram(depths, amps, bin_um=2.0)
    sums, _ = np.histogram(depths, bins=weighted.edges, weights=amps)
    np.testing.assert_allclose(weighted.values, sums)
    assert weighted.weighted


def test_depth_histogram_sums_over_blocks():
    rng = np.random.default_rng(2)
    n = 3 * HISTOGRAM_BLOCK + 17  # several blocks and a short last one
    depths = 13.1 + 0.25 * rng.integers(0, 2016, n)  # never within float32 error of an edge
    amps = rng.uniform(1, 10, n)
    hist = depth_histogram(depths, bin_um=2.0)
    counts, _ = np.histogram(depths, bins=hist.edges)
    np.testing.assert_array_equal(hist.values, counts)
    weighted = depth_histogram(depths, amps, bin_um=2.0)
    sums, _ = np.histogram(depths, bins=weighted.edges, weights=amps)
    np.testing.assert_allclose(weighted.values, sums)


def test_depth_histogram_ignores_nan_and_handles_empty():
    hist = depth_histogram(np.array([np.nan, 4.0, 5.0]), bin_um=2.0)
    assert hist.values.sum() == 2
    assert depth_histogram(np.array([])).values.sum() == 0


def test_depth_histogram_range_leaves_out_spikes_outside_it():
    rng = np.random.default_rng(1)
    depths = np.concatenate([rng.uniform(-50.0, 350.0, 5000), [np.inf, -np.inf, np.nan]])
    hist = depth_histogram(depths, bin_um=5.0, depth_range=(0.0, 299.0))
    counts, _ = np.histogram(depths[np.isfinite(depths)], bins=hist.edges)
    np.testing.assert_array_equal(hist.values, counts)
    assert hist.edges[0] == 0.0 and hist.edges[-1] == 300.0


def test_density_image_counts_and_amplitudes():
    times = np.array([0.1, 0.2, 0.9, 0.95, 0.4])
    depths = np.array([10.0, 10.0, 90.0, 90.0, 50.0])
    amps = np.array([1.0, 3.0, 5.0, 9.0, 2.0])
    kwargs = dict(n_time_bins=2, n_depth_bins=2, time_range=(0, 1), depth_range=(0, 100))
    count = density_image(times, depths, **kwargs)
    assert count.values.tolist() == [[2, 0], [1, 2]]  # row 0 = small depths
    mean = density_image(times, depths, amps, statistic="mean_amplitude", **kwargs)
    assert mean.values[0, 0] == 2.0 and mean.values[1, 1] == 7.0
    assert np.isnan(mean.values[0, 1])
    peak = density_image(times, depths, amps, statistic="max_amplitude", **kwargs)
    assert peak.values[1, 1] == 9.0 and peak.values[1, 0] == 2.0
    with pytest.raises(OptionError):
        density_image(times, depths, statistic="median")
