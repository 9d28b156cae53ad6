"""Whole-session summaries read in chunks equal the in-memory computation."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from driftqc import read_kilosort, select_spikes
from driftqc.io.kilosort import KilosortFolder
from driftqc.metrics.histograms import density_image, depth_histogram
from driftqc.metrics.streaming import summarise_session
from driftqc.plotting.drift_map import plot_density_summary

FILTERS = [
    {},
    {"exclude_noise": True},
    {
        "exclude_noise": True,
        "filter_amplitude_mode": "percentile",
        "filter_amplitude_values": (5, 95),
    },
    {"filter_amplitude_mode": "absolute", "filter_amplitude_values": (10, 30)},
]


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize("which", ["ks25_session", "ks4_session"])
def test_chunked_summary_equals_in_memory(request, which, filters):
    truth = request.getfixturevalue(which)
    summary = summarise_session(
        truth.path,
        chunk_spikes=7_777,
        statistic="mean_amplitude",
        n_time_bins=50,
        n_depth_bins=40,
        **filters,
    )
    sel = select_spikes(read_kilosort(truth.path), decimate=False, **filters)
    kept = sel.kept
    assert summary.n_total == truth.n_spikes
    assert (summary.n_kept, summary.n_noise, summary.n_amplitude) == (
        len(kept),
        sel.n_noise,
        sel.n_amplitude,
    )
    if sel.amplitude_bounds is not None:
        np.testing.assert_allclose(summary.amplitude_bounds, sel.amplitude_bounds)
    image = summary.density
    expected = density_image(
        kept.times,
        kept.depths,
        kept.amplitudes,
        statistic="mean_amplitude",
        n_time_bins=50,
        n_depth_bins=40,
        time_range=(image.time_edges[0], image.time_edges[-1]),
        depth_range=(image.depth_edges[0], image.depth_edges[-1]),
    )
    np.testing.assert_allclose(image.values, expected.values, rtol=1e-6, equal_nan=True)
    hist = depth_histogram(
        kept.depths, bin_um=2.0, depth_range=(image.depth_edges[0], image.depth_edges[-1])
    )
    np.testing.assert_array_equal(summary.histogram.values, hist.values)
    assert summary.n_outside == 0


def test_chunks_cover_the_session(ks25_session):
    session = KilosortFolder(ks25_session.path)
    whole = read_kilosort(ks25_session.path).spikes
    chunks = list(session.iter_chunks(9_999))
    assert sum(len(c) for c in chunks) == len(whole)
    # float32 sums may round differently with other window boundaries
    np.testing.assert_allclose(np.concatenate([c.depths for c in chunks]), whole.depths, rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([c.times for c in chunks]), whole.times)
    assert session.last_spike_time == whole.times[-1]


def test_density_summary_figure(ks4_session):
    summary = summarise_session(ks4_session.path, exclude_noise=True)
    fig = plot_density_summary(summary, title=True, figure=Figure())
    raster = fig.axes[1]
    image = raster.get_images()[0]
    assert np.nansum(image.get_array().filled(np.nan)) == summary.n_kept
    assert f"all {summary.n_kept:,} of {ks4_session.n_spikes:,}" in raster.get_title("left")
    assert fig.axes[0].lines[0].get_xdata().sum() == summary.n_kept
