"""Whole-session summaries read in chunks equal the in-memory computation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from matplotlib.figure import Figure

from driftqc import read_kilosort, select_spikes
from driftqc.io.kilosort import KilosortFolder
from driftqc.metrics.histograms import density_image, depth_histogram
from driftqc.metrics.streaming import summarise_session
from driftqc.options import SelectionOptions
from driftqc.plotting.drift_map import plot_density_summary
from driftqc.selection.chain import FilterChain, rankable_amplitudes
from driftqc.selection.stream import ChunkedSelection
from driftqc.synthetic import write_kilosort_folder

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
    assert summary.amplitude_bounds == sel.amplitude_bounds
    assert summary.filters == sel.filters
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


@pytest.fixture(scope="module")
def damaged_ks4(tmp_path_factory: pytest.TempPathFactory):
    """A Kilosort 4 folder, two shanks, with NaN depths and infinite amplitudes here and there."""
    session = write_kilosort_folder(
        tmp_path_factory.mktemp("damaged") / "kilosort4",
        n_spikes=20_000, layout="kilosort4", n_channels=64, n_shanks=2, n_units=12,
        duration=100.0, seed=3,
    )  # fmt: skip
    path = session.path / "spike_positions.npy"
    positions = np.load(path)
    positions[::97, 1] = np.nan
    np.save(path, positions)
    path = session.path / "amplitudes.npy"
    scalings = np.load(path)
    scalings[5::301] = np.inf
    np.save(path, scalings)
    return session


DRIVER_OPTIONS = [
    SelectionOptions(
        exclude_noise=True, filter_amplitude_mode="percentile", filter_amplitude_values=(5, 95)
    ),
    SelectionOptions(filter_amplitude_mode="percentile", filter_amplitude_values=(0, 100)),
    SelectionOptions(
        exclude_noise="group", filter_amplitude_mode="absolute", filter_amplitude_values=(8, 40)
    ),
]


@pytest.mark.filterwarnings("ignore:.*no finite depth")
@pytest.mark.parametrize("options", DRIVER_OPTIONS)
@pytest.mark.parametrize("which", ["damaged_ks4", "ks25_session"])
def test_two_drivers_give_the_same_selection(request, which, options):
    """Whole table in memory, or 137 chunks: same spikes, counts, bounds and captions."""
    path = request.getfixturevalue(which).path
    sel = select_spikes(read_kilosort(path), options=replace(options, decimate=3))
    chunked = ChunkedSelection(path, options, chunk_spikes=437)
    parts = list(chunked)
    assert len(parts) > 40
    for column in ("times", "amplitudes", "templates", "clusters"):
        got = np.concatenate([getattr(p, column) for p in parts])
        np.testing.assert_array_equal(got, getattr(sel.kept, column), err_msg=column)
    # Kilosort 1-3 depths are float32 sums: other window boundaries may round differently
    depths = np.concatenate([p.depths for p in parts])
    np.testing.assert_allclose(depths, sel.kept.depths, rtol=1e-6)
    counts = chunked.counts
    assert (counts.n_total, counts["finite"], counts["labels"], counts["amplitude"]) == (
        sel.n_total,
        sel.n_invalid,
        sel.n_noise,
        sel.n_amplitude,
    )
    assert counts.n_kept == len(sel.kept)
    assert chunked.bounds == sel.amplitude_bounds
    assert sel.filters == (*chunked.filters, "1 in 3 spikes drawn")  # only one decimates
    if which == "damaged_ks4":
        assert sel.n_invalid > 0


@pytest.mark.filterwarnings("ignore:.*no finite depth")
def test_shank_step_in_both_drivers(damaged_ks4):
    sorting = read_kilosort(damaged_ks4.path)
    spikes = sorting.spikes
    template_shanks = np.arange(len(sorting.templates)) % 2
    options = DRIVER_OPTIONS[0]
    chain = FilterChain.build(
        options,
        label_sources=sorting.label_sources,
        where="here",
        rank=lambda drop: rankable_amplitudes(spikes.amplitudes, spikes.clusters, drop),
        template_shanks=template_shanks,
        shank=1,
    )
    kept, counts = chain.apply(spikes)
    assert (template_shanks[kept.templates] == 1).all() and 0 < counts["shank"] < len(spikes)
    chunked = ChunkedSelection(
        damaged_ks4.path, options, chunk_spikes=1000, template_shanks=template_shanks, shank=1
    )
    np.testing.assert_array_equal(np.concatenate([p.times for p in chunked]), kept.times)
    assert chunked.counts == counts
    assert chunked.filters == chain.captions(counts) and chunked.filters[-1] == "shank 1 only"


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
