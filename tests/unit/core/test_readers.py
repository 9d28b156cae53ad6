"""The Kilosort readers against folders whose expected values are worked out by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from driftqc import SortingFormatError, read_kilosort
from driftqc.io import detect_version
from driftqc.io.kilosort import _depth_frame
from driftqc.io.npy import map_rows, open_npy
from driftqc.io.ops import read_ops
from driftqc.io.params import read_params
from tests.helpers.folders import (
    KS3_AMPLITUDES,
    KS3_DEPTHS,
    KS3_TIMES,
    KS4_AMPLITUDES,
    KS4_DEPTHS,
    write_tiny_ks3,
    write_tiny_ks4,
)


def test_ks3_depths_amplitudes_times(tmp_path):
    sorting = read_kilosort(write_tiny_ks3(tmp_path / "ks"))
    spikes = sorting.spikes
    np.testing.assert_allclose(spikes.depths, KS3_DEPTHS, rtol=1e-6)
    np.testing.assert_allclose(spikes.amplitudes, KS3_AMPLITUDES, rtol=1e-6)
    np.testing.assert_allclose(spikes.times, KS3_TIMES)
    assert spikes.templates.tolist() == [0, 1, 0]
    assert spikes.clusters.tolist() == [0, 1, 0]  # no spike_clusters.npy: templates
    assert sorting.info.sorter == "kilosort3"
    assert sorting.info.depth_frame == "registered"
    assert any("approximate inverse whitening" in n for n in sorting.info.notes)
    assert any("template's depth" in n for n in sorting.info.notes)


def test_ks3_depths_do_not_depend_on_chunk_size(tmp_path, monkeypatch):
    from driftqc.io import pc_depths

    folder = write_tiny_ks3(tmp_path / "ks")
    monkeypatch.setattr(pc_depths, "CHUNK_BYTES", 1)  # one spike per chunk
    one_by_one = read_kilosort(folder).spikes.depths
    np.testing.assert_allclose(one_by_one, KS3_DEPTHS, rtol=1e-6)


def test_many_windows_give_the_depths_of_one(ks25_session, monkeypatch):
    from driftqc.io import pc_depths

    whole = read_kilosort(ks25_session.path).spikes.depths
    monkeypatch.setattr(pc_depths, "CHUNK_BYTES", 64 * 1024)  # dozens of windows, read ahead
    windowed = read_kilosort(ks25_session.path).spikes.depths
    header = open_npy(ks25_session.path / "pc_features.npy")
    assert header.n_rows * header.row_bytes > 20 * 64 * 1024
    np.testing.assert_array_equal(windowed, whole)


def test_ks4_depths_amplitudes_times(tmp_path):
    sorting = read_kilosort(write_tiny_ks4(tmp_path / "ks4"))
    np.testing.assert_allclose(sorting.spikes.depths, KS4_DEPTHS)
    np.testing.assert_allclose(sorting.spikes.amplitudes, KS4_AMPLITUDES)
    np.testing.assert_allclose(sorting.spikes.times, [0.1, 2.0])
    assert sorting.info.sorter == "kilosort4"
    assert "spike_positions" in sorting.info.depth_estimator
    assert "approximation" in sorting.info.amplitude_definition


def test_arrays_are_read_only(tmp_path):
    sorting = read_kilosort(write_tiny_ks3(tmp_path / "ks"))
    for values in (
        sorting.spikes.times,
        sorting.spikes.depths,
        sorting.templates,
        sorting.channel_positions,
        sorting.spikes.amplitudes,
    ):
        with pytest.raises(ValueError):
            values[0] = 0


def test_gain_scales_amplitudes_to_microvolts(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    with (folder / "params.py").open("a") as fh:
        fh.write("gain = 2.5\n")
    sorting = read_kilosort(folder)
    np.testing.assert_allclose(sorting.spikes.amplitudes, KS3_AMPLITUDES * 2.5, rtol=1e-6)
    assert sorting.info.amplitude_unit == "µV"


def test_several_logs_make_the_version_ambiguous(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks", log=None)
    for log in ("kilosort2.log", "kilosort3.log"):
        (folder / log).write_text("")
    with pytest.raises(SortingFormatError, match="kilosort2.log, kilosort3.log"):
        read_kilosort(folder)
    # an explicit version settles it
    assert read_kilosort(folder, version="kilosort3").info.sorter == "kilosort3"


def test_a_folder_without_a_log_is_a_phy_folder_in_an_unknown_frame(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks", log=None)
    sorting = read_kilosort(folder)
    assert sorting.info.sorter == "phy"
    assert sorting.info.depth_frame == "unknown"
    assert any("frame" in note and "kilosort*.log" in note for note in sorting.info.notes)
    # same spikes as the Kilosort 3 reading: only the provenance differs
    ks3 = read_kilosort(folder, version="kilosort3")
    np.testing.assert_array_equal(sorting.spikes.depths, ks3.spikes.depths)


@pytest.mark.parametrize(
    ("log", "version", "frame"),
    [
        ("kilosort2_5.log", "kilosort2_5", "registered"),
        ("kilosort.log", "kilosort", "raw"),
        ("kilosort2.log", "kilosort2", "raw"),
        ("kilosort4.0.log", "kilosort4", "registered"),
    ],
)
def test_version_from_log_name(tmp_path, log, version, frame):
    folder = tmp_path / "ks"
    folder.mkdir()
    (folder / log).write_text("")
    assert detect_version(folder) == version
    assert _depth_frame(version) == frame


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(SortingFormatError, match="does not exist"):
        read_kilosort(tmp_path / "nope")
    folder = write_tiny_ks3(tmp_path / "ks")
    (folder / "amplitudes.npy").unlink()
    with pytest.raises(SortingFormatError, match=r"amplitudes\.npy is missing"):
        read_kilosort(folder)


def test_truncated_npy_names_the_file(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    data = (folder / "pc_features.npy").read_bytes()
    (folder / "pc_features.npy").write_bytes(data[:-8])
    with pytest.raises(SortingFormatError, match=r"pc_features\.npy is truncated"):
        read_kilosort(folder)


def test_file_shrunk_after_its_check_names_the_file(tmp_path):
    path = tmp_path / "spike_times.npy"
    np.save(path, np.arange(100_000, dtype=np.uint64))
    header = open_npy(path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(SortingFormatError, match="spike_times.npy could not be read"):
        map_rows(header, 0, header.n_rows)


def test_corrupt_npy_names_the_file(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    (folder / "spike_times.npy").write_bytes(b"this is not numpy")
    with pytest.raises(SortingFormatError, match=r"spike_times\.npy is not a valid \.npy"):
        read_kilosort(folder)


def test_pickled_npy_is_refused_and_not_run(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    marker = tmp_path / "was_run"
    np.save(
        folder / "amplitudes.npy", np.array([_Evil(marker)] * 3, dtype=object), allow_pickle=True
    )
    with pytest.raises(SortingFormatError, match="Python objects"):
        read_kilosort(folder)
    assert not marker.exists()


def test_lengths_must_agree(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    np.save(folder / "amplitudes.npy", np.ones(4))
    with pytest.raises(SortingFormatError, match=r"amplitudes\.npy holds 4 values .* 3 spikes"):
        read_kilosort(folder)


def test_pc_feature_ind_out_of_range(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    np.save(folder / "pc_feature_ind.npy", np.array([[1, 2], [9, 2]], dtype=np.uint32))
    with pytest.raises(SortingFormatError, match=r"pc_feature_ind\.npy names channels 1\.\.9"):
        read_kilosort(folder)


def test_template_index_out_of_range(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    np.save(folder / "spike_templates.npy", np.array([0, 5, 0], dtype=np.uint32))
    with pytest.raises(SortingFormatError, match="template 5"):
        read_kilosort(folder)


def test_nan_depths_warn(tmp_path):
    folder = write_tiny_ks4(tmp_path / "ks4")
    np.save(folder / "spike_positions.npy", np.array([[0.0, np.nan], [0.0, 250.0]]))
    with pytest.warns(UserWarning, match=r"1 of 2 spikes have no finite depth"):
        sorting = read_kilosort(folder)
    assert np.isnan(sorting.spikes.depths[0])


def test_phy_variants(tmp_path):
    """(n, 1) arrays, sparse templates, no whitening matrix, 3 PCs, raw strings and lists."""
    folder = write_tiny_ks3(tmp_path / "ks")
    for name in ("spike_times", "spike_templates", "amplitudes"):
        values = np.load(folder / f"{name}.npy")
        np.save(folder / f"{name}.npy", values.reshape(-1, 1))
    dense = np.load(folder / "templates.npy") * 2.0  # unwhitened, as phy exports write them
    template_ind = np.array([[1, 2, -1], [2, 3, -1]])
    sparse = np.zeros((2, 3, 3), dtype=np.float32)
    for t in range(2):
        sparse[t][:, :2] = dense[t][:, template_ind[t, :2]]
    np.save(folder / "templates.npy", sparse)
    np.save(folder / "template_ind.npy", template_ind)
    (folder / "whitening_mat_inv.npy").unlink()
    pc = np.load(folder / "pc_features.npy")
    np.save(folder / "pc_features.npy", np.concatenate([pc, pc[:, :1] * 0 + 5], axis=1))
    (folder / "params.py").write_text(
        "dat_path = [r'C:\\data\\rec.bin']\nn_channels_dat = 4\nsample_rate = 30000.\n"
    )
    sorting = read_kilosort(folder)
    np.testing.assert_allclose(sorting.spikes.depths, KS3_DEPTHS, rtol=1e-6)
    np.testing.assert_allclose(sorting.spikes.amplitudes, KS3_AMPLITUDES, rtol=1e-6)
    np.testing.assert_allclose(sorting.templates, dense)
    assert any("already unwhitened" in n for n in sorting.info.notes)


def test_spike_clusters_and_label_precedence(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    np.save(folder / "spike_clusters.npy", np.array([7, 1, 7], dtype=np.int32))
    (folder / "cluster_KSLabel.tsv").write_text("cluster_id\tKSLabel\n0\tgood\n1\tmua\n")
    (folder / "cluster_groups.csv").write_text("cluster_id\tgroup\n7\tmua\n")
    (folder / "cluster_group.tsv").write_text("cluster_id\tgroup\n7\tnoise\n1\tgood\n")
    sorting = read_kilosort(folder)
    assert sorting.spikes.clusters.tolist() == [7, 1, 7]
    assert list(sorting.label_sources) == ["group", "group_csv", "KSLabel"]
    assert dict(sorting.spikes.cluster_labels) == {7: "noise", 1: "good"}


def test_unknown_labels_are_kept_with_a_warning(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    (folder / "cluster_group.tsv").write_text("cluster_id\tgroup\n0\tMaybe\n1\t\n")
    with pytest.warns(UserWarning, match="maybe"):
        sorting = read_kilosort(folder)
    assert dict(sorting.spikes.cluster_labels) == {0: "maybe", 1: "unsorted"}


def test_bad_label_file(tmp_path):
    folder = write_tiny_ks3(tmp_path / "ks")
    (folder / "cluster_group.tsv").write_text("id\tgroup\n0\tgood\n")
    with pytest.raises(SortingFormatError, match="cluster_id"):
        read_kilosort(folder)


def test_params_is_parsed_not_executed(tmp_path):
    marker = tmp_path / "was_run"
    path = tmp_path / "params.py"
    path.write_text(f"sample_rate = 30000\nopen({str(marker)!r}, 'w').write('x')\n")
    with pytest.raises(SortingFormatError, match="line 2"):
        read_params(path)
    assert not marker.exists()
    path.write_text(f"sample_rate = __import__('os').system('touch {marker}')\n")
    with pytest.raises(SortingFormatError, match="not a literal"):
        read_params(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n_channels_dat = 4\n", "does not define sample_rate"),
        ("sample_rate = 'fast'\n", "not a number"),
        ("sample_rate = -1\n", "not a plausible sampling rate"),
        ("sample_rate = (\n", "not valid Python"),
    ],
)
def test_params_errors(tmp_path, text, message):
    path = tmp_path / "params.py"
    path.write_text(text)
    with pytest.raises(SortingFormatError, match=message):
        read_params(path)


def test_ops_restricted_unpickler(tmp_path):
    ops = {"dshift": np.arange(6.0).reshape(3, 2), "fs": 30000.0, "settings": {"nblocks": 2}}
    path = tmp_path / "ops.npy"
    np.save(path, ops, allow_pickle=True)
    loaded = read_ops(path)
    np.testing.assert_array_equal(loaded["dshift"], ops["dshift"])
    assert loaded["settings"] == {"nblocks": 2}

    marker = tmp_path / "was_run"
    np.save(path, np.array(_Evil(marker), dtype=object), allow_pickle=True)
    with pytest.raises(SortingFormatError, match="refusing to build io.open"):
        read_ops(path)
    assert not marker.exists()


def test_channel_shanks_file_wins(tmp_path):
    folder = write_tiny_ks4(tmp_path / "ks4")
    np.save(folder / "channel_shanks.npy", np.array([3.0, 3.0, 5.0, 5.0]))
    assert read_kilosort(folder).channel_shanks.tolist() == [0, 0, 1, 1]
    # one label for every channel says nothing: the x gaps decide (one shank here)
    np.save(folder / "channel_shanks.npy", np.zeros(4))
    assert read_kilosort(folder).channel_shanks.tolist() == [0, 0, 0, 0]
    np.save(folder / "channel_shanks.npy", np.zeros(3))
    with pytest.raises(SortingFormatError, match="3 entries but channel_positions.npy has 4"):
        read_kilosort(folder)


def test_synthetic_ground_truth(ks25_session, ks4_session):
    """Readers recover the depths and amplitudes the generator put into the files."""
    for truth in (ks25_session, ks4_session):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sorting = read_kilosort(truth.path)
        spikes = sorting.spikes
        assert len(spikes) == truth.n_spikes
        unit = spikes.templates
        signal = ~np.array([lab == "noise" for lab in truth.unit_labels])[unit]
        expected = truth.unit_depths[unit] + truth.displacement(spikes.times)
        error = spikes.depths[signal] - expected[signal]
        assert abs(np.median(error)) < 1.0
        assert np.std(error) < 6.0  # the generator scatters spikes by 4 µm
        # amplitude = unit peak-to-trough x per-spike scale (the file's amplitudes.npy)
        scale = np.load(truth.path / "amplitudes.npy")
        np.testing.assert_allclose(
            spikes.amplitudes, truth.unit_amplitudes[unit] * scale, rtol=1e-4
        )


class _Evil:
    """An object whose unpickling would create a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize(
    ("parts", "name"),
    [
        (("ses-02", "kilosort4"), "ses-02/kilosort4"),
        (("ses-02", "sorter_output"), "ses-02/sorter_output"),
        (("data", "ks2_5_10M"), "ks2_5_10M"),
    ],
)
def test_session_name_skips_generic_folder_names(tmp_path, parts, name):
    folder = write_tiny_ks4(tmp_path.joinpath(*parts))
    assert read_kilosort(folder).info.name == name
