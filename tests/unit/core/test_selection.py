"""Label filter, amplitude filter and decimation, in that order: the one filter chain."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftqc import OptionError, SortingFormatError, read_kilosort, select_spikes
from driftqc.model import SessionInfo, SpikeTable
from driftqc.options import SelectionOptions
from driftqc.selection import decimation_factor
from driftqc.selection.chain import (
    ChainCounts,
    FilterChain,
    filter_captions,
    percentile_bounds,
    rankable_amplitudes,
)

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
        # driftplots' rule: every (n // 100 000)-th spike, at least 1
        (250_000, "estimate", 2),
        (100_000, "estimate", 1),
        (100_001, "estimate", 1),
        (199_999, "estimate", 1),
        (200_000, "estimate", 2),
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


def test_estimate_thins_like_driftplots():
    n = 345_678
    sel = select_spikes(table(np.ones(n)), decimate="estimate")
    assert sel.decimation == n // 100_000
    assert len(sel.shown) == math.ceil(n / sel.decimation)  # 115 226: up to 2x the target
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


# ------------------------------------------------------------------ the chain itself


def _chain(spikes, options, **kwargs):
    return FilterChain.build(
        options,
        label_sources={"labels": spikes.cluster_labels},
        where="t",
        rank=lambda drop: rankable_amplitudes(spikes.amplitudes, spikes.clusters, drop),
        **kwargs,
    )


def test_chain_counts_of_chunks_add_up_to_the_whole():
    rng = np.random.default_rng(3)
    n = 1000
    amps = rng.gamma(3.0, 10.0, n).astype(np.float32)
    amps[::37] = np.nan
    depths = rng.uniform(0, 100, n).astype(np.float32)
    depths[5::41] = np.inf
    clusters = rng.integers(0, 6, n).astype(np.int32)
    spikes = table(amps, clusters, depths, labels={0: "noise", 3: "NOISE", 1: "good"})
    options = SelectionOptions(
        exclude_noise=True, filter_amplitude_mode="percentile", filter_amplitude_values=(10, 90)
    )
    chain = _chain(spikes, options)
    whole, counts = chain.apply(spikes)
    parts = [chain.apply(spikes.take(slice(i, i + 64))) for i in range(0, n, 64)]
    total = sum((c for _, c in parts), ChainCounts())
    assert total == counts
    assert total.n_kept == len(whole)
    np.testing.assert_array_equal(np.concatenate([k.times for k, _ in parts]), whole.times)
    # each step counts the spikes it removes among those the steps before it kept
    valid = np.isfinite(amps) & np.isfinite(depths)
    not_noise = valid & ~np.isin(clusters, [0, 3])
    low, high = chain.bounds
    assert counts["finite"] == n - valid.sum()
    assert counts["labels"] == valid.sum() - not_noise.sum()
    inside = not_noise & (amps >= np.float32(low)) & (amps <= np.float32(high))
    assert counts["amplitude"] == not_noise.sum() - inside.sum()
    # the bounds rank the finite amplitudes of the spikes the label filter keeps
    ranked = amps[np.isfinite(amps) & ~np.isin(clusters, [0, 3])]
    assert chain.bounds == percentile_bounds(ranked, (10, 90))


def test_chain_keeps_the_same_table_when_nothing_is_removed():
    spikes = table([1.0, 2.0, 3.0])
    kept, counts = _chain(spikes, SelectionOptions()).apply(spikes)
    assert kept is spikes and counts.n_kept == 3 and counts["finite"] == 0


def test_shank_step():
    clusters = np.array([0, 1, 2, 3, 0, 1, 2, 3], dtype=np.int32)
    spikes = table(np.arange(1, 9), clusters, labels={1: "noise"})
    template_shanks = np.array([0, 1, 1, 0])
    options = SelectionOptions(exclude_noise=True)
    chain = _chain(spikes, options, template_shanks=template_shanks, shank=1)
    kept, counts = chain.apply(spikes)
    # noise (template 1) goes first, then the shank step keeps template 2 (shank 1)
    assert kept.templates.tolist() == [2, 2]
    assert (counts["labels"], counts["shank"], counts.n_kept) == (2, 4, 2)
    assert chain.captions(counts) == ("noise units excluded", "shank 1 only")
    with pytest.raises(ValueError, match="template_shanks"):
        _chain(spikes, options, shank=1)


def test_captions_one_function_for_every_filter():
    options = SelectionOptions(
        exclude_noise=True, filter_amplitude_mode="percentile", filter_amplitude_values=(1, 99)
    )
    assert filter_captions(
        options, n_invalid=1234, bounds=(2.5, 310.0), amplitude_unit="µV", decimation=4
    ) == (
        "1,234 spikes without finite depth/amplitude left out",
        "noise units excluded",
        "amplitude 1–99 percentile (2.5–310 µV)",
        "1 in 4 spikes drawn",
    )
    absolute = SelectionOptions(filter_amplitude_mode="absolute", filter_amplitude_values=(5, 60))
    assert filter_captions(absolute, n_invalid=0, bounds=(5, 60), amplitude_unit="a.u.") == (
        "amplitude 5–60 a.u.",
    )


def test_percentile_filter_with_nothing_to_rank():
    spikes = table([1.0, 2.0], [1, 1], labels={1: "noise"})
    with pytest.warns(UserWarning, match="no spikes left"):
        sel = select_spikes(
            spikes,
            exclude_noise=True,
            filter_amplitude_mode="percentile",
            filter_amplitude_values=(1, 99),
        )
    assert sel.amplitude_bounds is None and sel.n_amplitude == 0
    assert "amplitude 1–99 percentile (no spikes to rank)" in sel.filters


def test_options_object_gives_the_same_selection():
    amps = np.tile([1.0, 10.0, 20.0], 40)
    kwargs = {"filter_amplitude_mode": "absolute", "filter_amplitude_values": (5, 15)}
    by_keywords = select_spikes(table(amps), decimate=2, **kwargs)
    by_options = select_spikes(table(amps), options=SelectionOptions(decimate=2, **kwargs))
    assert by_options.to_dict() == by_keywords.to_dict()
    with pytest.raises(TypeError, match="either options"):
        select_spikes(table(amps), decimate=3, options=SelectionOptions())
