"""Label filter, amplitude filter and decimation, in that order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftqc import OptionError, SortingFormatError, read_kilosort, select_spikes
from driftqc.model import SessionInfo, SpikeTable
from driftqc.selection import decimation_factor

INFO = SessionInfo("t", None, "kilosort3", 30000.0, "a.u.", "", "", "raw")


def table(amplitudes, clusters=None, depths=None, labels=None):
    n = len(amplitudes)
    clusters = np.zeros(n, dtype=np.int32) if clusters is None else np.asarray(clusters)
    return SpikeTable(
        times=np.arange(n, dtype=float),
        amplitudes=np.asarray(amplitudes, dtype=np.float32),
        depths=np.arange(n, dtype=np.float32) if depths is None else np.asarray(depths),
        templates=clusters,
        clusters=clusters,
        info=INFO,
        cluster_labels=labels or {},
    )


def test_noise_filter_uses_cluster_ids(ks25_session):
    sorting = read_kilosort(ks25_session.path)
    sel = select_spikes(sorting, exclude_noise=True, decimate=False)
    groups = sorting.label_sources["group"]
    noise_ids = [c for c, lab in groups.items() if lab == "noise"]
    expected = ~np.isin(sorting.spikes.clusters, noise_ids)
    assert noise_ids and 0 < expected.sum() < len(expected)
    assert len(sel.kept) == expected.sum()
    np.testing.assert_array_equal(sel.kept.times, sorting.spikes.times[expected])
    assert sel.n_noise == (~expected).sum()
    assert "noise units excluded" in sel.caption


def test_noise_filter_by_named_source(ks25_session):
    sorting = read_kilosort(ks25_session.path)
    # Kilosort's own labels have no noise: nothing is removed
    assert len(select_spikes(sorting, exclude_noise="KSLabel", decimate=False).kept) == len(
        sorting.spikes
    )
    with pytest.raises(SortingFormatError, match="available"):
        select_spikes(sorting, exclude_noise="nonsense")


def test_noise_filter_without_label_file_is_an_error():
    with pytest.raises(SortingFormatError, match="no cluster label file"):
        select_spikes(table([1, 2, 3]), exclude_noise=True)


def test_percentile_bounds_follow_label_filter_and_are_inclusive():
    amps = np.array([1, 2, 3, 4, 5, 100, 200], dtype=np.float32)
    clusters = [0, 0, 0, 0, 0, 1, 1]
    spikes = table(amps, clusters, labels={1: "noise", 0: "good"})
    sel = select_spikes(
        spikes,
        exclude_noise=True,
        filter_amplitude_mode="percentile",
        filter_amplitude_values=(25, 75),
        decimate=False,
    )
    # percentiles of the five non-noise amplitudes 1..5: 2 and 4, both kept
    assert sel.amplitude_bounds == (2.0, 4.0)
    assert sel.kept.amplitudes.tolist() == [2, 3, 4]
    assert (sel.n_noise, sel.n_amplitude) == (2, 2)


def test_absolute_bounds_inclusive():
    sel = select_spikes(
        table([1, 2, 3, 4]),
        filter_amplitude_mode="absolute",
        filter_amplitude_values=(2, 3),
        decimate=0,
    )
    assert sel.kept.amplitudes.tolist() == [2, 3]


@pytest.mark.parametrize(
    ("n", "decimate", "factor"),
    [
        (250_000, "estimate", 3),
        (100_000, "estimate", 1),
        (100_001, "estimate", 2),
        (10, 3, 3),
        (10, False, 1),
        (10, None, 1),
        (10, 0, 1),
        (10, 1, 1),
        (500_000, True, 5),
    ],
)
def test_decimation_factor(n, decimate, factor):
    assert decimation_factor(n, decimate) == factor


def test_estimate_keeps_at_most_100k():
    n = 345_678
    sel = select_spikes(table(np.ones(n)), decimate="estimate")
    assert len(sel.shown) <= 100_000
    assert len(sel.shown) == math.ceil(n / sel.decimation)
    assert len(sel.kept) == n
    np.testing.assert_array_equal(sel.shown.times, sel.kept.times[:: sel.decimation])


def test_filter_then_decimate():
    amps = np.tile([1.0, 10.0], 50)
    sel = select_spikes(
        table(amps), filter_amplitude_mode="absolute", filter_amplitude_values=(5, 20), decimate=2
    )
    assert len(sel.kept) == 50 and len(sel.shown) == 25
    assert (sel.shown.amplitudes == 10).all()


def test_invalid_depths_are_set_aside():
    sel = select_spikes(table([1, 2, 3], depths=[1.0, np.nan, 3.0]), decimate=False)
    assert len(sel.kept) == 2 and sel.n_invalid == 1
    assert "without finite depth" in sel.caption


def test_infinite_amplitudes_are_set_aside_but_huge_finite_ones_kept():
    big = np.finfo(np.float32).max  # the sum of these overflows, the values are finite
    sel = select_spikes(table([big, big, np.inf, 1.0]), decimate=False)
    assert sel.n_invalid == 1
    assert sel.kept.amplitudes.tolist() == [big, big, 1.0]


def test_empty_selection_warns():
    with pytest.warns(UserWarning, match="no spikes left"):
        sel = select_spikes(
            table([1, 2]), filter_amplitude_mode="absolute", filter_amplitude_values=(5, 6)
        )
    assert len(sel.kept) == 0 and len(sel.shown) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decimate": -2}, "non-negative"),
        ({"decimate": 2.5}, "whole number"),
        ({"decimate": "half"}, "estimate"),
        ({"filter_amplitude_mode": "median", "filter_amplitude_values": (1, 2)}, "percentile"),
        ({"filter_amplitude_mode": "absolute"}, "two numbers"),
        ({"filter_amplitude_mode": "absolute", "filter_amplitude_values": (5, 1)}, "low is above"),
        ({"filter_amplitude_mode": "percentile", "filter_amplitude_values": (1, 120)}, "0..100"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(OptionError, match=message):
        select_spikes(table([1, 2, 3]), **kwargs)
