"""Per-unit drift on short sessions: windows from the duration, one window is unmeasured."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.metrics.unit_drift import auto_interval, unit_drift_metrics
from driftqc.model import SessionInfo, SpikeTable

INFO = SessionInfo("short", None, "test", 30000.0, "µV", "t", "t", "raw")


def _two_minute_session(seed: int = 1) -> tuple[SpikeTable, dict[int, float]]:
    """60 units over 0–119.99 s, each drifting linearly at its own rate (µm/s)."""
    rng = np.random.default_rng(seed)
    n = 60_000
    times = np.sort(rng.uniform(0.0, 119.99, n))
    times[-1] = 119.99
    clusters = rng.integers(0, 60, n).astype(np.int32)
    rates = {u: rng.uniform(-0.2, 0.2) for u in range(60)}
    slope = np.array([rates[u] for u in range(60)])[clusters]
    depths = 20.0 * clusters + slope * times + rng.normal(0, 0.5, n)
    return SpikeTable(times, np.ones(n), depths, clusters, clusters, INFO), rates


def test_a_two_minute_session_gets_four_windows_and_every_unit_measured():
    spikes, rates = _two_minute_session()
    table = unit_drift_metrics(spikes)
    assert (table["n_intervals"] == 4).all()
    assert table["drift_ptp"].notna().all()
    # independent expectation: a linear drift of r µm/s seen through 4 window medians spans
    # 3 window lengths: |r| x 3 x 119.99 / 4
    expected = np.array([abs(rates[u]) * 3 * 119.99 / 4 for u in table["cluster_id"]])
    np.testing.assert_allclose(table["drift_ptp"], expected, atol=1.0)


def test_auto_interval_tiles_the_session():
    assert auto_interval(119.99) == pytest.approx(119.99 / 4)
    assert auto_interval(3600.0) == pytest.approx(60.0)
    assert auto_interval(3601.0) == pytest.approx(3601.0 / 61)


def test_a_unit_seen_in_one_window_is_unmeasured_not_zero():
    spikes, _ = _two_minute_session()
    # unit 0 fires only in the first 30 s: one window holds its spikes
    early = (spikes.clusters != 0) | (spikes.times < 25.0)
    table = unit_drift_metrics(spikes.take(early), duration=119.99, max_missing_fraction=1.0)
    row = table.set_index("cluster_id").loc[0]
    assert row["n_valid_intervals"] == 1
    assert np.isnan(row["drift_ptp"])
    # the explicit SpikeInterface windows are still available
    explicit = unit_drift_metrics(spikes, interval_s=60.0)
    assert (explicit["n_intervals"] == 1).all() and explicit["drift_ptp"].isna().all()
