"""Between-session shifts: known offsets recovered, reference choice, frames, kymograph data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.metrics import DepthCounts, between_session_shifts, session_depth_profiles
from tests.helpers.metrics import shifted, without_noise

OFFSETS = [0.0, 12.3, -25.7, 41.0, 3.5]


@pytest.mark.parametrize("noise_fraction", [0.0, 0.2])
def test_known_offsets_are_recovered_within_2um(make_session, noise_fraction):
    _, sorting = make_session(drift="none", noise_fraction=noise_fraction, seed=9)
    base = without_noise(sorting.spikes)
    # each session: a different half of the spikes, so the profiles are not identical copies
    rng = np.random.default_rng(1)
    sessions = []
    for k, offset in enumerate(OFFSETS):
        half = base.take(rng.random(len(base)) < 0.5)
        sessions.append(shifted(half, offset, name=f"ses-{k}"))
    result = between_session_shifts(sessions)
    np.testing.assert_allclose(result.shifts_um, OFFSETS, atol=2.0)
    assert result.shifts_um[0] == 0.0 and result.reference == 0
    assert result.profiles.shape == (len(OFFSETS), len(result.depth_centres_um))
    assert np.all(result.peak_correlation[1:] > 0.5)
    # another reference: shifts relative to it
    again = between_session_shifts(sessions, reference="ses-3")
    np.testing.assert_allclose(again.shifts_um, np.array(OFFSETS) - 41.0, atol=2.0)
    table = again.to_frame()
    assert table.loc[table["is_reference"], "session"].item() == "ses-3"
    record = json.loads(json.dumps(again.to_dict()))
    assert record["reference"] == "ses-3" and record["units"] == "µm"
    assert record["frame"] == "registered"


def test_drifting_session_against_stable_one(make_session):
    # a linear drift 0 -> 30 µm has its activity centred ~15 µm higher on average
    _, still = make_session(drift="none", seed=9)
    _, moving = make_session(drift="linear", drift_um=30.0, seed=9)
    result = between_session_shifts([still.spikes, moving.spikes], names=["a", "b"])
    assert result.shifts_um[1] == pytest.approx(15.0, abs=3.0)


def test_mixed_frames_bad_reference_and_shift_out_of_range(make_session):
    _, sorting = make_session(drift="none", seed=9)
    spikes = sorting.spikes
    from dataclasses import replace

    raw = replace(spikes, info=replace(spikes.info, depth_frame="raw"))
    with pytest.raises(OptionError, match="different depth frames"):
        between_session_shifts([spikes, raw])
    with pytest.raises(OptionError, match="not among"):
        between_session_shifts([spikes], reference="nope")
    with pytest.raises(OptionError, match="sessions"):
        between_session_shifts([spikes], reference=3)
    far = between_session_shifts([spikes, shifted(spikes, 80.0)], max_shift_um=40.0)
    assert np.isnan(far.shifts_um[1])
    assert json.loads(json.dumps(far.to_dict()))["shift_um"][1] is None
    # a profile that does not match is uncertain, with why, and no number
    assert far.statuses == ("ok", "uncertain") and far.method == "depth profile"
    row = far.to_frame().iloc[1]
    assert row["status"] == "uncertain" and "correlation" in row["note"]


def test_depth_counts_stand_in_for_the_spikes(make_session):
    _, sorting = make_session(drift="none", seed=9)
    base = without_noise(sorting.spikes)
    sessions = [shifted(base, offset, name=f"ses-{k}") for k, offset in enumerate(OFFSETS)]
    from_spikes = between_session_shifts(sessions, reference="ses-2")
    counted = [DepthCounts.of(s) for s in sessions]
    from_counts = between_session_shifts(counted, reference="ses-2")
    np.testing.assert_array_equal(from_counts.shifts_um, from_spikes.shifts_um)
    np.testing.assert_array_equal(from_counts.profiles, from_spikes.profiles)
    assert from_counts.names == from_spikes.names and from_counts.frame == "registered"
    # the counts' bins are those of the shared grid: every spike is counted once
    centres, _ = session_depth_profiles(counted, smooth_um=0.0, log_compress=False)
    bin_um = centres[1] - centres[0]
    edges = np.append(centres - bin_um / 2, centres[-1] + bin_um / 2)
    expected, _ = np.histogram(sessions[0].depths, bins=edges)
    found = counted[0].counts[counted[0].counts > 0]
    np.testing.assert_array_equal(found, expected[expected > 0])
    assert len(counted[0]) == len(sessions[0])
    with pytest.raises(OptionError, match="5.0 µm"):
        between_session_shifts(counted, bin_um=5.0)


def test_depth_counts_leave_out_non_finite_depths(make_session):
    _, sorting = make_session(drift="none", seed=9)
    spikes = sorting.spikes
    from dataclasses import replace

    depths = spikes.depths.copy()
    depths[:10] = np.nan
    depths[10:12] = np.inf
    counts = DepthCounts.of(replace(spikes, depths=depths))
    assert len(counts) == len(spikes) - 12
    lowest, highest = counts.depth_range_um
    assert lowest == np.nanmin(depths[12:]) and highest == np.nanmax(depths[12:])
    empty = DepthCounts.of(spikes.take(np.zeros(len(spikes), dtype=bool)))
    assert len(empty) == 0 and empty.depth_range_um is None
