"""Between-session shifts: known offsets recovered, reference choice, frames, kymograph data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftqc.errors import OptionError
from driftqc.metrics import between_session_shifts
from tests.metrics.helpers import shifted, without_noise

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
