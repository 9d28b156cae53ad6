"""Matching units between sessions: the shift of the same units, nothing for strangers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from driftqc.io import load_sorting
from driftqc.metrics.between_sessions import unit_session_shifts
from driftqc.metrics.unit_localisation import localise_units, peak_waveforms
from driftqc.metrics.unit_matching import SessionUnits, match_units, session_units

from .conftest import KS4_DRIFT


@pytest.fixture(scope="module")
def ks4_units() -> SessionUnits:
    """The units of the real Kilosort 4 fixture (unwhitened templates)."""
    sorting = load_sorting(KS4_DRIFT)
    winv = np.load(KS4_DRIFT / "whitening_mat_inv.npy")
    positions = localise_units(
        sorting.templates, sorting.channel_positions, whitening_inverse=winv
    )
    return session_units(
        sorting.spikes,
        positions,
        sorting.channel_positions[:, 1],
        waveforms=peak_waveforms(sorting.templates, winv),
    )


def moved(units: SessionUnits, shift_um: float, name: str = "moved") -> SessionUnits:
    """The same units ``shift_um`` higher; those that leave the probe's top are lost."""
    y = units.y_um + shift_um
    kept = units.take(y <= units.probe_y_range_um[1])
    return replace(kept, name=name, y_um=kept.y_um + shift_um)


def test_the_same_units_moved_give_the_shift_even_when_some_leave_the_probe(ks4_units):
    shift = 25.0
    lost = int(np.sum(ks4_units.y_um + shift > ks4_units.probe_y_range_um[1]))
    other = moved(ks4_units, shift)
    match = match_units(ks4_units, other)
    assert match.status == "ok"
    assert match.shift_um == pytest.approx(shift, abs=1e-6)
    assert match.n_matched == len(other) == len(ks4_units) - lost
    assert np.array_equal(match.pairs[:, 0], match.pairs[:, 1])  # each unit with itself
    down = match_units(ks4_units, moved(ks4_units, -40.0))
    assert down.status == "ok" and down.shift_um == pytest.approx(-40.0, abs=1e-6)


def test_strangers_are_uncertain_without_a_number(ks4_units):
    """Units at other places match only by chance, however they fall.

    The fixture's units have nearly identical waveforms (cosine similarity 0.94-1.0 in its
    ground truth) and sit 12 in 200 µm, so only their positions tell them apart: the
    hardest case for chance matches.
    """
    rng = np.random.default_rng(0)
    lo, hi = ks4_units.probe_y_range_um
    for _ in range(50):
        strangers = replace(
            ks4_units,
            name="strangers",
            x_um=rng.uniform(0.0, 70.0, len(ks4_units)),
            y_um=rng.uniform(lo + 20, hi - 20, len(ks4_units)),
        )
        match = match_units(ks4_units, strangers)
        assert match.status == "uncertain" and np.isnan(match.shift_um)
        assert "not distinctive" in match.note


def test_shifts_of_several_sessions_against_a_named_reference(ks4_units):
    sessions = [moved(ks4_units, 10.0, "a"), ks4_units, moved(ks4_units, 30.0, "c")]
    result = unit_session_shifts(sessions, names=["a", "b", "c"], reference="b")
    assert result.reference == 1 and result.method.startswith("matched units")
    assert result.shifts_um == pytest.approx([10.0, 0.0, 30.0], abs=1e-6)
    frame = result.to_frame()
    assert list(frame["status"]) == ["ok"] * 3
    assert frame["n_matched"].iloc[0] == len(sessions[0])
    assert result.profiles.shape[0] == 3  # kymograph of the unit positions


def test_no_units_or_no_lookalike_is_uncertain(ks4_units):
    empty = ks4_units.take(np.zeros(len(ks4_units), dtype=bool))
    assert match_units(ks4_units, empty).status == "uncertain"
    near = moved(ks4_units, 5.0)
    louder = replace(near, amplitude=near.amplitude * 10)
    assert match_units(ks4_units, louder).status == "uncertain"
