"""The default drift trace recovers imposed drifts in real Kilosort 4 output, at any bin width.

Targets (issue "steps anywhere"): from the spikes alone, in the raw frame, a 30 µm step at any
time in the session and a triangle / zig-zag drift are followed with an RMS error ≤ 2 µm after
removing the mean; a stable session has a peak-to-peak ≤ 2 µm; for bin widths 2–20 s.
The Kilosort 4 raw frame (registered depth − dshift) carries Kilosort's own estimate, so the
same checks also run on the ground-truth spikes at their true depths (the estimator alone),
where the error must be far smaller.
"""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.metrics import estimate_drift_trace, estimate_nonrigid_drift
from tests.unit.trace_accuracy.conftest import BIN_WIDTHS, trace_error

TARGET_RMS_UM = 2.0
TARGET_STABLE_PTP_UM = 2.0
STEPS = ("step25", "step50", "step75")  # real Kilosort 4 runs with a +30 µm step
DRIFTING = ("ks4_drift", "zigzag15", *STEPS)
STABLE = ("stable", "shift25", "other_units")  # shift25: all units 25 µm higher

# the step50 session (step at 30 s of 60 s) cut so that the step falls at another point of the
# session: 10 s of 40 s (25 %), 30 s of 40 s (75 %), 20 s of 50 s (40 %), 30 s of 35 s (86 %),
# 5 s of 35 s (14 %)
CROPS = ((20.0, 60.0), (0.0, 40.0), (10.0, 60.0), (0.0, 35.0), (25.0, 60.0))


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2)))


@pytest.mark.parametrize("bin_s", BIN_WIDTHS)
@pytest.mark.parametrize("name", DRIFTING)
def test_raw_frame_trace_follows_the_imposed_drift(ks4_case, name, bin_s):
    case = ks4_case(name)
    trace = estimate_drift_trace(case.raw, bin_s=bin_s)
    assert trace.valid.mean() >= 0.9
    assert rms(trace_error(case, trace)) <= TARGET_RMS_UM


@pytest.mark.parametrize("bin_s", BIN_WIDTHS)
@pytest.mark.parametrize("name", DRIFTING)
def test_true_depths_are_followed_closely(ks4_case, name, bin_s):
    case = ks4_case(name)
    trace = estimate_drift_trace(case.true_depths, bin_s=bin_s)
    assert trace.valid.all()
    assert rms(trace_error(case, trace)) <= TARGET_RMS_UM / 2


@pytest.mark.parametrize("bin_s", BIN_WIDTHS)
@pytest.mark.parametrize(
    ("name", "crop"),
    [*((name, None) for name in STEPS), *(("step50", crop) for crop in CROPS)],
    ids=lambda c: "whole" if c is None else str(c),
)
@pytest.mark.parametrize("depths", ["raw", "true_depths"])
def test_a_step_is_found_wherever_it_happens(ks4_case, depths, name, crop, bin_s):
    case = ks4_case(name)
    if crop is not None:
        case = case.crop(*crop)
    at_s, size_um = case.step()
    trace = estimate_drift_trace(getattr(case, depths), bin_s=bin_s)
    assert rms(trace_error(case, trace)) <= TARGET_RMS_UM
    edges, values, valid = trace.time_edges, trace.displacement_um, trace.valid
    before = valid & (edges[1:] <= at_s)
    after = valid & (edges[:-1] >= at_s)
    # the step size between whole bins before and after it (with long bins near the start
    # or end of the session there may be none: the RMS error above still covers it)
    if before.any() and after.any():
        found = np.median(values[after]) - np.median(values[before])
        # raw-frame depths are Kilosort's registered depths minus its dshift, whose step
        # overshoots by up to ~5 µm; the true depths test the estimator alone
        tolerance = 0.2 if depths == "raw" else 0.05
        assert found == pytest.approx(size_um, abs=tolerance * abs(size_um))


@pytest.mark.parametrize("bin_s", BIN_WIDTHS)
@pytest.mark.parametrize("name", DRIFTING)
def test_registered_and_raw_traces_differ_by_the_sorters_estimate(ks4_case, name, bin_s):
    # registered depth = raw depth + dshift: the residual the trace reports in the registered
    # frame (Kilosort's, up to ~10 µm p-p around a step) must be the raw-frame trace minus
    # Kilosort's own estimate, bin by bin
    case = ks4_case(name)
    raw = estimate_drift_trace(case.raw, bin_s=bin_s)
    registered = estimate_drift_trace(case.registered, bin_s=bin_s)
    sorter = case.sorter_per_bin(raw.time_edges)
    both = raw.valid & registered.valid
    difference = registered.displacement_um - (raw.displacement_um - sorter)
    difference = difference[both] - difference[both].mean()
    assert rms(difference) <= TARGET_RMS_UM / 2


@pytest.mark.parametrize("bin_s", BIN_WIDTHS)
@pytest.mark.parametrize("name", STABLE)
def test_stable_session_is_flat(ks4_case, name, bin_s):
    case = ks4_case(name)
    assert np.ptp(case.truth_per_bin(np.linspace(0, case.truth_t[-1], 7))) == 0
    for table in (case.raw, case.true_depths):
        trace = estimate_drift_trace(table, bin_s=bin_s)
        assert trace.summary().peak_to_peak_um <= TARGET_STABLE_PTP_UM


def test_the_estimate_is_the_same_wherever_the_step_is(ks4_case):
    # the symptom: with the former single reference, the step in the middle vanished
    # at 10-s bins while an off-centre step was found; now both are found alike
    case = ks4_case("step50")
    middle = estimate_drift_trace(case.true_depths, bin_s=10.0).summary().peak_to_peak_um
    early = case.crop(20.0, 60.0)
    off_centre = estimate_drift_trace(early.true_depths, bin_s=10.0).summary().peak_to_peak_um
    assert middle == pytest.approx(off_centre, abs=TARGET_RMS_UM)
    assert middle == pytest.approx(case.step()[1], abs=TARGET_RMS_UM)


@pytest.mark.parametrize("bin_s", BIN_WIDTHS)
def test_nonrigid_windows_also_find_the_middle_step(ks4_case, bin_s):
    # the probe spans 300 µm: two 150-µm windows, each must follow the rigid step
    case = ks4_case("step50")
    drift = estimate_nonrigid_drift(case.true_depths, bin_s=bin_s, window_um=150.0)
    assert len(drift.traces) >= 2
    for trace in drift.traces:
        assert rms(trace_error(case, trace)) <= TARGET_RMS_UM


def test_former_single_reference_stays_available_and_methods_are_checked(ks4_case):
    case = ks4_case("step50")
    trace = estimate_drift_trace(case.true_depths, bin_s=2.0, method="reference")
    assert trace.params["registration"] == "reference"
    assert estimate_drift_trace(case.true_depths).params["registration"] == "decentralised"
    with pytest.raises(OptionError, match="method"):
        estimate_drift_trace(case.true_depths, method="median")
