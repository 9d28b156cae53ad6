"""SpikeInterface ``export_to_phy`` folders: -1 padding, signed amplitudes, unmeasurable depths.

The real export ``tests/data/si_export_step50`` (SpikeInterface 0.105.3, ground-truth sorting,
see ``tests/data/README.md``) is read as is; the other folders are written here, each
changing one thing, so each test checks one behaviour.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from driftqc.errors import SortingFormatError
from driftqc.io import read_kilosort
from driftqc.io.npy import open_npy
from driftqc.io.phy_exports import check_pc_features, is_spikeinterface_export
from tests.helpers.folders import KS3_DEPTHS, write_tiny_ks3

SI = Path(__file__).resolve().parents[2] / "data" / "si_export_step50"


def _read(folder: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_kilosort(folder)


def _check(folder: Path):
    return check_pc_features(
        open_npy(folder / "pc_features.npy"),
        np.load(folder / "pc_feature_ind.npy"),
        open_npy(folder / "spike_templates.npy"),
    )


@pytest.fixture(scope="module")
def si_sorting():
    return _read(SI)


def test_real_export_loads_despite_minus_one_padding(si_sorting):
    pc_ind = np.load(SI / "pc_feature_ind.npy")
    assert (pc_ind == -1).any()  # the case the issue reports
    assert si_sorting.spikes.n_spikes == len(np.load(SI / "spike_times.npy"))
    assert si_sorting.info.sorter == "phy"
    assert si_sorting.info.depth_frame == "unknown"


def test_real_export_is_flagged_unmeasurable(si_sorting):
    info = si_sorting.info
    assert info.drift_measurable is False
    assert info.depth_estimator.startswith("template depth of each spike's unit")
    assert "whitened per channel" in info.depth_estimator
    assert any("spike_locations" in note and "analyzer" in note for note in info.notes)


def test_real_export_places_each_spike_at_its_units_depth(si_sorting):
    spikes = si_sorting.spikes
    for template in np.unique(spikes.templates):
        depths = spikes.depths[spikes.templates == template]
        assert np.all(depths == depths[0])
    # unit depths still follow the true unit depths (between-session shifts use them)
    truth = np.load(SI / "ground_truth.npz")
    units = truth["spike_units"].astype(int)
    true_unit_y = np.array([truth["spike_true_y_um"][units == u].mean() for u in np.unique(units)])
    read_unit_y = np.array([spikes.depths[units == u][0] for u in np.unique(units)])
    assert np.corrcoef(true_unit_y, read_unit_y)[0, 1] > 0.9


def test_real_export_amplitudes_are_magnitudes(si_sorting):
    signed = np.load(SI / "amplitudes.npy").reshape(-1)
    assert np.mean(signed < 0) > 0.9
    np.testing.assert_allclose(si_sorting.spikes.amplitudes, np.abs(signed), rtol=1e-6)
    assert si_sorting.info.amplitude_unit == "µV"
    assert si_sorting.info.amplitude_definition.startswith("|amplitudes.npy|")
    assert "negative" in si_sorting.info.amplitude_definition


def test_real_export_sparse_templates_are_densified(si_sorting):
    sparse = np.load(SI / "templates.npy")
    index = np.load(SI / "template_ind.npy")
    dense = si_sorting.templates
    assert dense.shape[2] == len(np.load(SI / "channel_positions.npy"))
    for unit in range(len(sparse)):
        valid = index[unit] >= 0
        np.testing.assert_allclose(dense[unit][:, index[unit][valid]], sparse[unit][:, valid])
        rest = np.setdiff1d(np.arange(dense.shape[2]), index[unit][valid])
        assert not dense[unit][:, rest].any()


def test_feature_check_statistics_on_real_export():
    check = _check(SI)
    assert check.per_channel_whitened
    assert check.n_pcs == 5
    assert check.spread_decades < 0.15
    assert abs(check.pc1_share - 1 / 5) < 0.03


def test_kilosort_like_features_are_not_whitened(ks25_session):
    check = _check(ks25_session.path)
    assert not check.per_channel_whitened
    assert check.spread_decades > 0.4
    assert check.pc1_share > 2 / check.n_pcs


def test_kilosort_folder_keeps_per_spike_depths(ks25_session):
    sorting = _read(ks25_session.path)
    assert sorting.info.drift_measurable is True
    assert sorting.info.depth_estimator.startswith("centre of mass")
    # per-spike depths vary within a template (the drift is visible)
    spikes = sorting.spikes
    first = spikes.templates == spikes.templates[0]
    assert np.nanstd(spikes.depths[first]) > 1.0


def test_tiny_folder_is_inconclusive_and_keeps_its_depths(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks3")
    assert not _check(folder).conclusive
    sorting = _read(folder)
    np.testing.assert_allclose(sorting.spikes.depths, KS3_DEPTHS, rtol=1e-6)
    assert sorting.info.drift_measurable is True


def _whitened_copy_of(ks_folder: Path, folder: Path, pad: int = 0) -> Path:
    """``ks_folder`` with its PC features standardised per (channel, PC), as SI writes them."""
    shutil.copytree(ks_folder, folder)
    pc = np.load(folder / "pc_features.npy").astype(np.float64)
    ind = np.load(folder / "pc_feature_ind.npy").astype(np.int64)
    templates = np.load(folder / "spike_templates.npy").reshape(-1)
    channels = ind[templates]  # (n, n_local)
    out = np.empty_like(pc)
    for c in np.unique(channels):
        at = channels == c
        for k in range(pc.shape[1]):
            values = pc[:, k][at]
            out[:, k][at] = (values - values.mean()) / values.std()
    if pad:
        ind[:, -pad:] = -1
        out[:, :, -pad:] = 0
    np.save(folder / "pc_features.npy", out.astype(np.float32))
    np.save(folder / "pc_feature_ind.npy", ind)
    return folder


def test_whitened_features_without_spikeinterface_files_are_detected(ks25_session, tmp_path):
    folder = _whitened_copy_of(ks25_session.path, tmp_path / "whitened")
    assert not is_spikeinterface_export(folder)
    check = _check(folder)
    assert check.per_channel_whitened
    with pytest.warns(UserWarning, match="whitened per channel"):
        sorting = read_kilosort(folder)
    assert sorting.info.drift_measurable is False
    # the reader's template depths, not a centre of mass of the features
    spikes = sorting.spikes
    for template in np.unique(spikes.templates)[:5]:
        assert np.ptp(spikes.depths[spikes.templates == template]) == 0


def test_spikeinterface_markers_alone_make_depths_unmeasurable(ks25_session, tmp_path):
    # SpikeInterface's PCA is centred and has no fixed sign in every mode, so even
    # features that pass the whitening test do not carry depth in its export
    folder = tmp_path / "si_like"
    shutil.copytree(ks25_session.path, folder)
    np.save(folder / "channel_map_si.npy", np.arange(96).astype(str))
    sorting = _read(folder)
    assert sorting.info.drift_measurable is False
    assert "SpikeInterface" in sorting.info.depth_estimator


def test_minus_one_padding_is_ignored_in_kilosort_depths(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks3")
    # add a padding slot with a large feature: it must not pull the depth
    pc = np.load(folder / "pc_features.npy")
    ind = np.load(folder / "pc_feature_ind.npy").astype(np.int64)
    pc = np.concatenate([pc, np.full((3, 2, 1), 50.0, np.float32)], axis=2)
    ind = np.concatenate([ind, np.full((2, 1), -1)], axis=1)
    np.save(folder / "pc_features.npy", pc)
    np.save(folder / "pc_feature_ind.npy", ind)
    sorting = _read(folder)
    np.testing.assert_allclose(sorting.spikes.depths, KS3_DEPTHS, rtol=1e-6)


def test_pc_feature_ind_below_minus_one_is_refused(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks3")
    np.save(folder / "pc_feature_ind.npy", np.array([[1, -2], [3, 2]]))
    with pytest.raises(SortingFormatError, match=r"pc_feature_ind\.npy names channel -2"):
        read_kilosort(folder)


def test_signed_amplitudes_use_their_magnitude_without_spikeinterface_files(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks3")
    np.save(folder / "amplitudes.npy", np.array([-40.0, -25.0, 10.0]))
    sorting = _read(folder)
    np.testing.assert_allclose(sorting.spikes.amplitudes, [40.0, 25.0, 10.0])
    assert sorting.info.amplitude_unit == "a.u."
    assert "67% negative" in sorting.info.amplitude_definition


def test_positive_scalings_keep_the_kilosort_amplitude(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks3")
    sorting = _read(folder)
    # template amplitude 8 (template 0) and 12 (template 1) times scalings 1, 0.5, 2
    np.testing.assert_allclose(sorting.spikes.amplitudes, [8.0, 6.0, 16.0], rtol=1e-6)


def test_column_vectors_and_no_whitening_matrix_still_load(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks3")
    for name in ("spike_times.npy", "spike_templates.npy", "amplitudes.npy"):
        np.save(folder / name, np.load(folder / name)[:, None])
    (folder / "whitening_mat_inv.npy").unlink()
    sorting = _read(folder)
    np.testing.assert_allclose(sorting.spikes.depths, KS3_DEPTHS, rtol=1e-6)
    # templates taken as unwhitened: half the amplitudes of the 2·I whitening folder
    np.testing.assert_allclose(sorting.spikes.amplitudes, [4.0, 3.0, 8.0], rtol=1e-6)


def test_template_ind_below_minus_one_is_refused(tmp_path):
    shutil.copytree(SI, tmp_path / "si")
    index = np.load(tmp_path / "si" / "template_ind.npy")
    index[0, -1] = -3
    np.save(tmp_path / "si" / "template_ind.npy", index)
    with pytest.raises(SortingFormatError, match=r"template_ind\.npy names channel -3"):
        read_kilosort(tmp_path / "si")


def test_feature_check_reads_a_bounded_sample(ks25_session):
    folder = ks25_session.path
    header = open_npy(folder / "pc_features.npy")
    check = check_pc_features(
        header,
        np.load(folder / "pc_feature_ind.npy"),
        open_npy(folder / "spike_templates.npy"),
        max_spikes=2_000,
    )
    assert check.n_spikes <= 2_000 < header.shape[0]
    assert not check.per_channel_whitened
