"""Per-spike shanks and per-shank metrics; QC flags with reasons."""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.metrics import (
    QCThresholds,
    estimate_drift_trace,
    per_shank,
    qc_flags,
    qc_row,
    spike_shanks,
    split_by_shank,
)


def test_spike_shank_is_the_shank_of_the_template_peak_channel(make_session):
    truth, sorting = make_session(
        drift="step", drift_um=20.0, n_shanks=4, n_channels=384, n_units=40, seed=2
    )
    record = json.loads((truth.path / "ground_truth.json").read_text())
    unit_shank = np.array(record["unit_shanks"])
    expected = unit_shank[sorting.spikes.templates]
    noise = np.array([lab == "noise" for lab in truth.unit_labels])[sorting.spikes.templates]
    # noise units have a broad footprint; real units sit on their own shank
    np.testing.assert_array_equal(spike_shanks(sorting)[~noise], expected[~noise])
    parts = split_by_shank(sorting)
    assert sorted(parts) == [0, 1, 2, 3]
    assert sum(len(p) for p in parts.values()) == len(sorting.spikes)
    traces = per_shank(estimate_drift_trace, sorting, bin_s=20.0)
    for shank, trace in traces.items():
        assert trace.summary().peak_to_peak_um == pytest.approx(20.0, abs=4.0), shank


def test_qc_flags_levels_and_reasons():
    thresholds = QCThresholds()
    good = {"peak_to_peak_um": 5.0, "max_step_um": 2.0, "n_spikes": 500_000}
    assert qc_flags(good, thresholds) == {"status": "pass", "reasons": []}
    warn = qc_flags({**good, "peak_to_peak_um": 30.0}, thresholds)
    assert (
        warn["status"] == "warn" and "peak-to-peak 30.0 µm > warn level 20.0" in warn["reasons"][0]
    )
    fail = qc_flags({**good, "max_step_um": 30.0, "between_session_shift_um": -25.0})
    assert fail["status"] == "fail" and len(fail["reasons"]) == 2
    assert any("shift" in r and "25.0" in r for r in fail["reasons"])
    few = qc_flags({**good, "n_spikes": 400})
    assert few["status"] == "fail" and "400 spikes < fail level 500" in few["reasons"][0]
    nothing = qc_flags({"peak_to_peak_um": None, "n_spikes": 50_000})
    assert nothing["status"] == "warn" and "no drift trace" in nothing["reasons"][0]
    strict = QCThresholds(warn_peak_to_peak_um=1.0, fail_peak_to_peak_um=4.0)
    assert qc_flags(good, strict)["status"] == "fail"


def test_thresholds_validation_and_mapping():
    assert QCThresholds.from_mapping({"warn_step_um": 5}).warn_step_um == 5
    with pytest.raises(OptionError, match="unknown QC threshold"):
        QCThresholds.from_mapping({"warn_stepp_um": 5})
    with pytest.raises(OptionError, match="must not exceed"):
        QCThresholds(warn_shift_um=60.0, fail_shift_um=50.0)
    with pytest.raises(OptionError, match=">= 0"):
        QCThresholds(fail_step_um=-1.0)


def test_qc_row_from_a_real_trace_is_flat_and_serialisable(make_session):
    _, sorting = make_session(drift="step", drift_um=30.0)
    summary = estimate_drift_trace(sorting.spikes).summary()
    row = qc_row("ses-1", summary, shank=0, between_session_shift_um=3.0)
    assert row["status"] == "fail"  # a 30 µm step > 25 µm fail level
    assert "step" in row["reasons"] and row["frame"] == "registered"
    assert row["shank"] == 0 and row["n_spikes"] == len(sorting.spikes)
    json.dumps(row)
    assert all(not isinstance(v, dict | list) for v in row.values())
