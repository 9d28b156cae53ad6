"""Raw vs registered frames from Kilosort 4's dshift, and the sorter's own trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.io import read_kilosort
from driftqc.metrics import estimate_drift_trace
from driftqc.metrics.frames import (
    RECONSTRUCTED,
    raw_frame,
    sorter_drift_trace,
    sorter_motion_summary,
    tissue_displacement,
    to_raw_frame,
)
from driftqc.model import SorterMotion
from tests.helpers.metrics import rms_error, truth_per_bin

KS4_FIXTURE = Path(__file__).resolve().parents[2] / "data" / "ks4_drift"


def test_registered_residual_is_small_and_raw_frame_recovers_the_drift(make_session):
    truth, sorting = make_session(drift="zigzag", drift_um=30.0, frame="registered")
    assert sorting.info.depth_frame == "registered" and sorting.motion is not None
    residual = estimate_drift_trace(sorting.spikes)
    assert residual.frame == "registered"
    assert residual.summary().peak_to_peak_um < 5.0

    raw = raw_frame(sorting)
    assert raw.info.depth_frame == "raw" and raw.info.frame_source == RECONSTRUCTED
    assert "dshift" in raw.info.frame_caption
    trace = estimate_drift_trace(raw)
    assert trace.frame == "raw"
    expected = truth_per_bin(truth, raw, trace.time_edges)
    assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0
    assert trace.summary().peak_to_peak_um == pytest.approx(np.ptp(expected), abs=5.0)


def test_raw_depth_is_registered_minus_interpolated_dshift(make_session):
    truth, sorting = make_session(drift="linear", drift_um=30.0, frame="registered")
    raw = to_raw_frame(sorting.spikes, sorting.motion)
    motion = sorting.motion
    # independent: dshift is -displacement at batch centres; raw = registered - dshift
    dshift_at_spikes = np.interp(sorting.spikes.times, motion.batch_times, motion.shift_um[:, 0])
    expected = sorting.spikes.depths.astype(np.float64) - dshift_at_spikes
    np.testing.assert_allclose(raw.depths, expected, atol=1e-3)
    # and that is the imposed drift (to within the 2-s batch sampling of a 30 µm/600 s ramp)
    moved = raw.depths.astype(np.float64) - sorting.spikes.depths
    np.testing.assert_allclose(moved, truth.displacement(raw.times), atol=0.1)


def test_converting_twice_or_without_motion_is_refused(make_session):
    _, sorting = make_session(drift="step", frame="registered")
    raw = raw_frame(sorting)
    with pytest.raises(OptionError, match="registered"):
        to_raw_frame(raw, sorting.motion)
    _, ks25 = make_session(
        layout="kilosort2_5", drift="none", n_spikes=20_000, n_channels=64, n_units=10
    )
    with pytest.raises(OptionError, match="no saved motion estimate"):
        raw_frame(ks25)


def test_sorter_trace_matches_imposed_drift_with_tissue_sign(make_session):
    truth, sorting = make_session(drift="step", drift_um=20.0, frame="registered")
    trace = sorter_drift_trace(sorting.motion, session="s1")
    expected = truth.displacement(sorting.motion.batch_times)
    expected = expected - np.median(expected)
    np.testing.assert_allclose(trace.displacement_um, expected, atol=1e-4)
    assert trace.frame == "raw" and "dshift" in trace.source
    summary = sorter_motion_summary(sorting.motion)
    # Kilosort's log number: mean |dshift| of block 0 (half the batches sit at 20 µm)
    assert summary["mean_abs_drift_um"] == pytest.approx(
        np.mean(np.abs(truth.displacement(sorting.motion.batch_times))), abs=1e-4
    )
    assert summary["peak_to_peak_um"] == pytest.approx(20.0, abs=1e-4)


def test_two_block_motion_interpolates_in_depth_and_clamps():
    motion = SorterMotion(
        shift_um=np.array([[0.0, -10.0], [-4.0, -20.0]]),  # Kilosort sign
        batch_times=np.array([1.0, 3.0]),
        block_centres_um=np.array([100.0, 300.0]),
        sign=-1,
    )
    times = np.array([1.0, 2.0, 3.0, 5.0, 2.0, 2.0])
    depths = np.array([100.0, 200.0, 300.0, 300.0, 0.0, 1000.0])
    got = tissue_displacement(motion, times, depths)
    # by hand: t=1 block0 -> 0; t=2 midway (block0 2, block1 15) at middle depth -> 8.5;
    # t=3 block1 -> 20; t=5 clamps to t=3 -> 20; below/above the blocks clamp in depth
    np.testing.assert_allclose(got, [0.0, 8.5, 20.0, 20.0, 2.0, 15.0])
    with pytest.raises(OptionError, match="depths"):
        tissue_displacement(motion, times)
    rigid = sorter_drift_trace(motion)
    np.testing.assert_allclose(np.diff(rigid.displacement_um), [7.0])
    block1 = sorter_drift_trace(motion, block=1)
    np.testing.assert_allclose(np.diff(block1.displacement_um), [10.0])
    with pytest.raises(OptionError, match="block"):
        sorter_drift_trace(motion, block=2)


@pytest.mark.skipif(
    not (KS4_FIXTURE / "ground_truth.npz").is_file(),
    reason="tests/data/ks4_drift (real Kilosort 4 output) is not present",
)
def test_real_kilosort4_raw_trace_recovers_imposed_motion():
    sorting = read_kilosort(KS4_FIXTURE)
    truth = np.load(KS4_FIXTURE / "ground_truth.npz")
    grid_t, grid_d = _truth_grid(truth)
    raw = raw_frame(sorting)
    bin_s = 6.0
    trace = estimate_drift_trace(raw, bin_s=bin_s, min_spikes=30)
    expected = np.array(
        [
            grid_d[(grid_t >= a) & (grid_t < b)].mean()
            for a, b in zip(trace.time_edges[:-1], trace.time_edges[1:], strict=True)
        ]
    )
    assert trace.valid.mean() > 0.8
    assert rms_error(trace.displacement_um, expected, trace.valid) <= 5.0
    residual = estimate_drift_trace(sorting.spikes, bin_s=bin_s, min_spikes=30).summary()
    assert residual.peak_to_peak_um < 0.5 * np.ptp(grid_d)


def _truth_grid(truth) -> tuple[np.ndarray, np.ndarray]:
    """The imposed displacement on its time grid, as tests/data/make_ks4_fixture.py saves it."""
    names = set(truth.files)
    if not {"displacement_t_s", "displacement_um"} <= names:
        pytest.fail(f"ground_truth.npz lacks displacement_t_s/displacement_um: {sorted(names)}")
    return np.asarray(truth["displacement_t_s"], float), np.asarray(
        truth["displacement_um"], float
    )
