"""Cortex-lab drift events: transient band excursions found, stable sessions quiet."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.metrics import EventParams, detect_band_events, find_drift_events
from driftqc.metrics.events import _histc, _strict_peaks
from driftqc.model import SessionInfo, SpikeTable


def _info() -> SessionInfo:
    return SessionInfo("bands", None, "test", 30000.0, "µV", "test", "test", "raw")


def _band_table(excursion_um: float, seed: int = 0) -> SpikeTable:
    """One large unit at 400 µm (σ 3 µm, 20 Hz) that moves up by ``excursion_um`` between
    300 and 330 s, plus small background units spread over two 800-µm segments."""
    rng = np.random.default_rng(seed)
    n = 12_000
    t = rng.uniform(0, 600, n)
    d = 400 + rng.normal(0, 3, n) + np.where((t >= 300) & (t < 330), excursion_um, 0.0)
    a = rng.normal(100, 5, n)
    m = 40_000
    tb = rng.uniform(0, 600, m)
    db = rng.uniform(0, 1500, m)
    ab = rng.normal(20, 3, m)
    times, depths, amps = np.r_[t, tb], np.r_[d, db], np.r_[a, ab]
    order = np.argsort(times)
    templates = np.r_[np.zeros(n, np.int32), np.ones(m, np.int32)][order]
    return SpikeTable(times[order], amps[order], depths[order], templates, templates, _info())


@pytest.mark.parametrize("excursion", [8.0, 10.0])
def test_transient_excursion_gives_events_in_its_windows(excursion):
    events = find_drift_events(_band_table(excursion))
    assert list(events["time_s"]) == [305.0, 315.0, 325.0]
    assert np.all(np.abs(events["depth_um"] - 400.0) < 2.0)
    # cortex-lab sign: band depth - median, negative when spikes sit higher
    assert np.all(events["drift_um"] < -6.0)
    np.testing.assert_allclose(events["displacement_um"], -events["drift_um"])
    assert np.all(np.abs(events["displacement_um"] - excursion) < 2.5)
    assert set(events["segment_low_um"]) == {0.0}
    assert (events["frame"] == "raw").all() and events.attrs["params"]["window_s"] == 10.0


def test_stable_band_and_stable_synthetic_session_give_no_events(make_session):
    assert len(find_drift_events(_band_table(0.0))) == 0
    _, sorting = make_session(drift="none", seed=5)
    events = find_drift_events(sorting.spikes)
    assert len(events) == 0
    assert list(events.columns) == [
        "time_s",
        "depth_um",
        "drift_um",
        "displacement_um",
        "n_spikes",
        "segment_low_um",
        "frame",
    ]


def test_parameters_change_the_outcome():
    table = _band_table(8.0)
    assert len(find_drift_events(table, EventParams(min_drift_um=12.0))) == 0
    assert len(find_drift_events(table, EventParams(min_spikes=10_000))) == 0
    # windows of 30 s: the excursion fills the window 300-330 s exactly
    events = find_drift_events(table, EventParams(window_s=30.0))
    assert list(events["time_s"]) == [315.0]
    with pytest.raises(OptionError, match="window_s"):
        EventParams(window_s=0)


def test_peaks_and_histogram_follow_the_matlab_rules():
    # strict maxima; plateau counts once at its first index; ends never count
    counts = np.array([5, 1, 3, 3, 2, 4, 4, 4, 9, 0, 2, 2])
    assert list(_strict_peaks(counts)) == [2, 8]
    # histc on edges min-2 : 2 : max+2 with the last element dropped
    centres, h = _histc(np.array([10.0, 10.5, 13.9, 14.0]), 2.0)
    # edges 8,10,12,14,16 -> bins [8,10) [10,12) [12,14) [14,16) ; centres 9..15
    np.testing.assert_allclose(centres, [9.0, 11.0, 13.0, 15.0])
    np.testing.assert_allclose(h, [0, 2, 1, 1])
    assert detect_band_events(np.array([]), np.array([])) == []
