"""Within-session drift trace: accuracy against imposed drift, quiet bins, non-rigid, output."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from driftqc.errors import EmptySelectionError, OptionError
from driftqc.metrics import estimate_drift_trace, estimate_nonrigid_drift, summarize_trace
from tests.helpers.metrics import rms_error, truth_per_bin, without_noise


@pytest.mark.parametrize("noise_fraction", [0.0, 0.1, 0.3])
def test_zigzag_30um_is_recovered_within_5um_rms(make_session, noise_fraction):
    truth, sorting = make_session(drift="zigzag", drift_um=30.0, noise_fraction=noise_fraction)
    spikes = sorting.spikes  # noise clusters kept on purpose: the estimate must cope
    trace = estimate_drift_trace(spikes)
    expected = truth_per_bin(truth, spikes, trace.time_edges)
    assert trace.valid.all()
    assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0
    # same sign as the imposed drift, not merely the same shape
    assert np.corrcoef(trace.displacement_um, expected)[0, 1] > 0.95
    assert trace.summary().peak_to_peak_um == pytest.approx(np.ptp(expected), abs=5.0)


def test_pc_feature_depths_kilosort25_layout_zigzag(make_session):
    truth, sorting = make_session(
        layout="kilosort2_5", drift="zigzag", drift_um=30.0, n_spikes=150_000, n_channels=192
    )
    spikes = without_noise(sorting.spikes)
    trace = estimate_drift_trace(spikes)
    expected = truth_per_bin(truth, spikes, trace.time_edges)
    assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0


@pytest.mark.parametrize("pattern", ["step", "linear"])
def test_step_and_linear_drift(make_session, pattern):
    truth, sorting = make_session(drift=pattern, drift_um=30.0, noise_fraction=0.1)
    spikes = without_noise(sorting.spikes)
    trace = estimate_drift_trace(spikes)
    expected = truth_per_bin(truth, spikes, trace.time_edges)
    assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0
    summary = trace.summary()
    if pattern == "step":  # one jump of 30 µm between two bins
        assert summary.max_step_um == pytest.approx(30.0, abs=4.0)
    else:  # 30 µm over 60 bins: no bin-to-bin step near the step's size
        assert summary.max_step_um < 5.0


@pytest.mark.parametrize("noise_fraction", [0.0, 0.3])
def test_stable_session_is_reported_stable(make_session, noise_fraction):
    _, sorting = make_session(drift="none", noise_fraction=noise_fraction, seed=5)
    summary = estimate_drift_trace(sorting.spikes).summary()
    assert summary.peak_to_peak_um < 5.0
    assert summary.p95_abs_um < 2.0
    assert summary.max_step_um < 3.0


def test_displacement_is_relative_to_session_median(make_session):
    _, sorting = make_session(drift="linear", drift_um=30.0)
    trace = estimate_drift_trace(sorting.spikes)
    assert np.median(trace.displacement_um[trace.valid]) == pytest.approx(0.0, abs=1e-9)


def test_quiet_bins_are_invalid_interpolated_and_excluded(make_session):
    truth, sorting = make_session(drift="zigzag", drift_um=30.0)
    spikes = sorting.spikes
    gap = (spikes.times >= 200.0) & (spikes.times < 260.0)
    spikes = spikes.take(~gap)
    trace = estimate_drift_trace(spikes, bin_s=10.0, min_spikes=100)
    in_gap = (trace.times > 200.0) & (trace.times < 260.0)
    assert in_gap.sum() == 6
    assert not trace.valid[in_gap].any()
    assert trace.valid[~in_gap].all()
    assert np.isfinite(trace.displacement_um).all()
    # interpolated values lie between the neighbouring measured ones
    before, after = np.flatnonzero(in_gap)[0] - 1, np.flatnonzero(in_gap)[-1] + 1
    lo, hi = sorted(trace.displacement_um[[before, after]])
    assert np.all(
        (trace.displacement_um[in_gap] >= lo - 1e-9) & (trace.displacement_um[in_gap] <= hi + 1e-9)
    )
    summary = trace.summary()
    assert summary.n_valid_bins == trace.valid.sum() == summary.n_bins - 6
    expected = truth_per_bin(truth, spikes, trace.time_edges)
    assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0


def test_too_sparse_session_has_no_valid_bins_and_nan_summary(make_session):
    _, sorting = make_session(drift="none")
    sparse = sorting.spikes.take(slice(0, None, 1000))  # 300 spikes over 600 s
    trace = estimate_drift_trace(sparse, min_spikes=100)
    assert not trace.valid.any()
    summary = summarize_trace(trace)
    assert np.isnan(summary.peak_to_peak_um) and np.isnan(summary.max_step_um)
    assert json.loads(json.dumps(summary.to_dict()))["peak_to_peak_um"] is None


def test_amplitude_weighted_and_linear_profiles_also_work(make_session):
    truth, sorting = make_session(drift="zigzag", drift_um=30.0)
    spikes = sorting.spikes
    for options in ({"amplitude_weighted": True}, {"log_compress": False, "n_iterations": 0}):
        trace = estimate_drift_trace(spikes, **options)
        expected = truth_per_bin(truth, spikes, trace.time_edges)
        assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0, options


def test_nonrigid_windows_follow_a_drift_of_the_upper_half_only(make_session):
    truth, sorting = make_session(drift="none", seed=7)
    spikes = sorting.spikes
    # impose a zig-zag of 30 µm on the spikes above 2000 µm only
    imposed = 30.0 * (1 - np.abs(2 * np.mod(spikes.times / 150.0, 1.0) - 1))
    upper = spikes.depths > 2000.0
    depths = spikes.depths + np.where(upper, imposed, 0.0)
    moved = replace(spikes, depths=depths.astype(np.float32))
    result = estimate_nonrigid_drift(moved, window_um=600.0)
    assert len(result.traces) >= 5
    edges = result.traces[0].time_edges
    index = np.clip(np.searchsorted(edges, spikes.times, side="right") - 1, 0, len(edges) - 2)
    expected = np.bincount(index, weights=imposed) / np.bincount(index)
    for centre, trace in zip(result.window_centres_um, result.traces, strict=True):
        ptp = trace.summary().peak_to_peak_um
        if centre - 300.0 >= 2050.0:  # window entirely in the moving part
            assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0, centre
        elif centre + 300.0 <= 1950.0:  # window entirely in the still part
            assert ptp < 5.0, centre
    table = result.to_frame()
    assert set(table["window_centre_um"]) == set(result.window_centres_um)
    assert len(result.summaries()) == len(result.traces)


def test_outputs_carry_frame_units_and_serialise(make_session):
    _, sorting = make_session(drift="step", drift_um=30.0)
    trace = estimate_drift_trace(sorting.spikes, bin_s=20.0)
    record = json.loads(json.dumps(trace.to_dict()))
    assert record["frame"] == sorting.info.depth_frame == "registered"
    assert record["units"]["displacement"] == "µm"
    assert len(record["displacement_um"]) == len(trace.times) == 30
    assert record["summary"]["bin_s"] == 20.0
    table = trace.to_frame()
    assert list(table["time_s"]) == pytest.approx(list(trace.times))
    assert table["n_spikes"].sum() == len(sorting.spikes)
    assert (table["frame"] == "registered").all()


def test_bad_options_and_empty_input_are_clear_errors(make_session):
    _, sorting = make_session(drift="none")
    with pytest.raises(OptionError, match="bin_s"):
        estimate_drift_trace(sorting.spikes, bin_s=0)
    with pytest.raises(OptionError, match="max_shift_um"):
        estimate_drift_trace(sorting.spikes, max_shift_um=float("nan"))
    with pytest.raises(EmptySelectionError, match="no spikes"):
        estimate_drift_trace(sorting.spikes.take(np.zeros(len(sorting.spikes), dtype=bool)))
