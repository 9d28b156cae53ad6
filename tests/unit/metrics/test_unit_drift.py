"""Per-unit drift_ptp / drift_std / drift_mad (corrected SpikeInterface definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.metrics import summarize_unit_drift, unit_drift_metrics
from driftqc.model import SessionInfo, SpikeTable


def _naive(times, depths, interval, min_spikes, max_missing, n_windows):
    """Direct transcription of the definition for one unit."""
    reference = np.median(depths)
    medians = []
    missing = 0
    for k in range(n_windows):
        inside = (times >= k * interval) & (times < (k + 1) * interval)
        if inside.sum() >= min_spikes:
            medians.append(np.median(depths[inside]) - reference)
        else:
            missing += 1
    if missing > max_missing * n_windows or not medians:
        return (np.nan,) * 3
    d = np.array(medians)
    return np.ptp(d), np.std(d), np.median(np.abs(d - np.median(d)))


def test_matches_a_direct_transcription_on_random_units():
    rng = np.random.default_rng(4)
    n = 30_000
    times = np.sort(rng.uniform(0, 400, n))
    clusters = rng.choice([3, 7, 11, 20], n, p=[0.5, 0.3, 0.15, 0.05]).astype(np.int32)
    depths = 100.0 * clusters + rng.normal(0, 5, n) + 0.02 * times * (clusters == 7)
    info = SessionInfo("u", None, "test", 30000.0, "µV", "t", "t", "registered")
    spikes = SpikeTable(times, np.ones(n), depths, clusters, clusters, info)
    table = unit_drift_metrics(spikes, interval_s=60.0, min_spikes_per_interval=100)
    n_windows = int(spikes.duration // 60.0)
    assert (table["n_intervals"] == n_windows).all()
    for row in table.itertuples():
        mine = clusters == row.cluster_id
        want = _naive(times[mine], depths[mine], 60.0, 100, 0.5, n_windows)
        got = (row.drift_ptp, row.drift_std, row.drift_mad)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4, err_msg=str(row.cluster_id))
    # cluster 7 drifts by 0.02 µm/s: about 6 µm between its first and last window
    assert table.set_index("cluster_id").loc[7, "drift_ptp"] > 5.0
    assert table.attrs["frame"] == "registered" and table.attrs["units"] == "µm"


def test_zigzag_session_units_follow_the_imposed_drift(make_session):
    truth, sorting = make_session(drift="zigzag", drift_um=30.0, noise_fraction=0.0)
    table = unit_drift_metrics(sorting.spikes, interval_s=30.0, min_spikes_per_interval=50)
    # expected per-window median ~ unit depth + mean imposed displacement in the window
    windows = np.arange(20) * 30.0 + 15.0
    grid = np.linspace(0, 30, 301)[None, :] + windows[:, None] - 15.0
    expected = truth.displacement(grid).mean(axis=1)
    measured = table.dropna(subset=["drift_ptp"])
    assert len(measured) >= 20
    assert measured["drift_ptp"].median() == pytest.approx(np.ptp(expected), abs=4.0)
    assert measured["drift_std"].median() == pytest.approx(np.std(expected), abs=2.0)
    summary = summarize_unit_drift(table, quantiles=(0.5, 0.9, 1.0))
    assert summary["drift_ptp"]["q50"] == pytest.approx(measured["drift_ptp"].median())
    assert summary["drift_ptp"]["q100"] == pytest.approx(measured["drift_ptp"].max())
    assert summary["n_units_measured"] == len(measured)


def test_nan_rules_short_session_and_missing_windows():
    rng = np.random.default_rng(0)
    info = SessionInfo("u", None, "test", 30000.0, "µV", "t", "t", "raw")
    times = np.sort(rng.uniform(0, 100, 5000))  # 100 s < 2 x 60 s
    ones = np.ones(5000, np.int32)
    short = SpikeTable(times, np.ones(5000), rng.normal(0, 1, 5000), ones, ones, info)
    assert unit_drift_metrics(short, interval_s=60.0)["drift_ptp"].isna().all()
    # 300 s, spikes only in the first 2 of 5 windows: 3/5 missing > 0.5 -> NaN
    times = np.sort(rng.uniform(0, 120, 5000))
    times[-1] = 300.0
    gappy = SpikeTable(times, np.ones(5000), rng.normal(0, 1, 5000), ones, ones, info)
    table = unit_drift_metrics(gappy, interval_s=60.0)
    assert table["drift_ptp"].isna().all() and table["n_valid_intervals"].iloc[0] == 2
    wider = unit_drift_metrics(gappy, interval_s=60.0, max_missing_fraction=0.6)
    assert wider["drift_ptp"].notna().all()
    with pytest.raises(OptionError):
        unit_drift_metrics(gappy, interval_s=0)
