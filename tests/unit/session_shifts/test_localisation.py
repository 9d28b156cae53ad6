"""Point-source localisation of templates: exact on model-free synthetic units, less grid bias."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.errors import OptionError, SortingFormatError
from driftqc.geometry import peak_to_trough, template_depths
from driftqc.io import load_sorting
from driftqc.metrics.unit_localisation import UnitPositions, localise_units, peak_waveforms

from .conftest import KS4_DRIFT, ks4_case, true_unit_of_templates


def np1_probe(n_rows: int = 16) -> np.ndarray:
    """Neuropixels 1.0 layout: 2 sites per row, 20 µm rows, staggered x (43/11, 59/27)."""
    rows = np.repeat(np.arange(n_rows), 2)
    x = np.where(rows % 2 == 0, [43.0, 11.0] * n_rows, [59.0, 27.0] * n_rows)
    return np.column_stack([x, 20.0 * rows])


def exp_template(probe: np.ndarray, x: float, y: float, z: float, decay: float) -> np.ndarray:
    """A template whose amplitude falls off exponentially with distance (not the fitted law)."""
    r = np.sqrt((probe[:, 0] - x) ** 2 + (probe[:, 1] - y) ** 2 + z**2)
    wave = np.sin(np.linspace(0, 2 * np.pi, 30))
    return (wave[:, None] * np.exp(-r / decay)[None, :])[None]


@pytest.mark.parametrize("y", [100.0, 105.0, 110.0, 117.5])
def test_a_unit_moved_by_25_um_reads_as_25_whatever_its_place_between_rows(y):
    probe = np1_probe()
    templates = np.concatenate(
        [exp_template(probe, 30.0, y, 20.0, 30.0), exp_template(probe, 30.0, y + 25, 20.0, 30.0)]
    )
    fit = localise_units(templates, probe)
    assert fit.y_um == pytest.approx([y, y + 25], abs=0.5)
    assert fit.x_um == pytest.approx([30.0, 30.0], abs=1.0)
    assert fit.y_um[1] - fit.y_um[0] == pytest.approx(25.0, abs=0.5)


def test_real_kilosort4_units_are_placed_consistently():
    """Relative unit depths on real Kilosort 4 output match the ground truth within 3 µm.

    The fixture's templates are in Kilosort's registered frame (a constant offset from the
    simulated depths), so each error is taken relative to the median error.
    """
    sorting = load_sorting(KS4_DRIFT)
    truth = np.load(KS4_DRIFT / "ground_truth.npz")
    winv = np.load(KS4_DRIFT / "whitening_mat_inv.npy")
    pairs = true_unit_of_templates(KS4_DRIFT)
    assert len(pairs) >= 8
    templates, units = np.array(list(pairs)), np.array(list(pairs.values()))
    fit = localise_units(sorting.templates, sorting.channel_positions, whitening_inverse=winv)
    error = fit.y_um[templates] - truth["unit_y_um"][units]
    assert np.all(np.abs(error - np.median(error)) <= 3.0)
    # the centre of mass of the same unwhitened templates scatters more
    amp = peak_to_trough(np.asarray(sorting.templates, np.float64) @ winv)
    com = template_depths(amp, sorting.channel_positions[:, 1])[templates]
    com_error = com - truth["unit_y_um"][units]
    assert np.std(error) < np.std(com_error)


def test_round_trip_flat_templates_and_bad_input():
    probe = np1_probe(4)
    templates = np.concatenate([exp_template(probe, 30, 30, 15, 30), np.zeros((1, 30, 8))])
    fit = localise_units(templates, probe)
    assert np.isfinite(fit.y_um[0]) and np.isnan(fit.y_um[1])
    again = UnitPositions.from_array(fit.to_array())
    assert again.y_um[0] == pytest.approx(fit.y_um[0], abs=1e-3) and len(again) == 2
    waves = peak_waveforms(templates)
    assert np.linalg.norm(waves[0]) == pytest.approx(1.0) and not waves[1].any()
    with pytest.raises(SortingFormatError):
        localise_units(templates[:, :, :4], probe)
    with pytest.raises(OptionError):
        localise_units(templates, probe, radius_um=0)


def test_kilosort4_stable_case_units_are_placed_within_3_um():
    """Without drift Kilosort 4's frame is the probe's: the fit matches the true depths."""
    folder = ks4_case("stable")
    sorting = load_sorting(folder)
    truth = np.load(folder / "ground_truth.npz")
    winv = np.load(folder / "whitening_mat_inv.npy")
    pairs = true_unit_of_templates(folder)
    assert len(pairs) >= 10
    templates, units = np.array(list(pairs)), np.array(list(pairs.values()))
    fit = localise_units(sorting.templates, sorting.channel_positions, whitening_inverse=winv)
    error = fit.y_um[templates] - truth["unit_y_um"][units]
    assert np.all(np.abs(error) <= 3.0)
    assert np.all(np.abs(fit.x_um[templates] - truth["unit_x_um"][units]) <= 10.0)
