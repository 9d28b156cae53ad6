"""IBL ALF spike-sorting folders load like any other sorter output (driftqc.io.alf)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from driftqc import DriftPlotter, get_amplitudes
from driftqc.errors import SortingFormatError
from driftqc.io import is_alf_folder, load_sorting, read_alf, session_files
from driftqc.pipeline.sessions import discover_sessions
from driftqc.selection import select_spikes
from tests.helpers.alf import AlfSession, write_alf_folder

matplotlib.use("Agg")

UUID = "ab12cd34-5678-90ef-ab12-cd34567890ef"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> AlfSession:
    root = tmp_path_factory.mktemp("alf_base")
    return write_alf_folder(root / "flat")


def _copy(base: AlfSession, target: Path) -> Path:
    shutil.copytree(base.folder, target)
    return target


def _check_same(sorting, reference) -> None:
    assert len(sorting.spikes) == len(reference.spikes)
    np.testing.assert_array_equal(sorting.spikes.times, reference.spikes.times)
    np.testing.assert_allclose(sorting.spikes.depths, reference.spikes.depths)
    # V on disk, µV in memory
    np.testing.assert_allclose(sorting.spikes.amplitudes, reference.spikes.amplitudes, rtol=1e-5)
    np.testing.assert_array_equal(sorting.spikes.clusters, reference.spikes.clusters)
    np.testing.assert_array_equal(sorting.spikes.templates, reference.spikes.templates)


# ---------------------------------------------------------------- layouts and names


def test_flat_folder_loads_with_units_and_frame(base):
    assert is_alf_folder(base.folder)
    sorting = load_sorting(base.folder)
    _check_same(sorting, base.reference)
    info = sorting.info
    assert info.sorter == "ibl-alf"
    assert info.amplitude_unit == "µV"
    assert info.depth_frame == "registered"
    assert any("registered" in note for note in info.notes)
    np.testing.assert_array_equal(sorting.channel_positions, base.reference.channel_positions)
    # sparse templates.waveforms (volts) made dense again, in µV, on their channels
    assert sorting.templates.shape == base.reference.templates.shape
    ptp = np.ptp(sorting.templates, axis=1)
    ref_ptp = np.ptp(base.reference.templates, axis=1)
    np.testing.assert_allclose(ptp.max(axis=1), ref_ptp.max(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(ptp.argmax(axis=1), ref_ptp.argmax(axis=1))


def test_alf_probe_nesting_from_probe_alf_and_session(base, tmp_path):
    probe = _copy(base, tmp_path / "ZM_1" / "2024-01-01" / "001" / "alf" / "probe00")
    for given in (probe, probe.parent, probe.parents[1]):
        assert is_alf_folder(given)
        sorting = load_sorting(given)
        _check_same(sorting, base.reference)
        assert sorting.info.path == probe.resolve()
        assert sorting.info.name == "ZM_1/2024-01-01/001/probe00"


def test_collection_folder_below_the_probe(base, tmp_path):
    collection = _copy(base, tmp_path / "ses" / "alf" / "probe00" / "pykilosort")
    sorting = load_sorting(tmp_path / "ses")
    assert sorting.info.path == collection.resolve()
    assert sorting.info.name.endswith("probe00/pykilosort")


def test_latest_revision_wins_and_is_noted(base, tmp_path):
    probe = _copy(base, tmp_path / "alf" / "probe00")
    old, new = probe / "#2023-06-01#", probe / "#2024-01-01#"
    old.mkdir()
    new.mkdir()
    amps = np.load(probe / "spikes.amps.npy")
    np.save(old / "spikes.amps.npy", amps * 3)
    np.save(new / "spikes.amps.npy", amps * 2)
    sorting = load_sorting(probe)
    np.testing.assert_allclose(
        sorting.spikes.amplitudes, 2 * base.reference.spikes.amplitudes, rtol=1e-5
    )
    note = next(n for n in sorting.info.notes if "revision" in n)
    assert "#2024-01-01#" in note and "spikes.amps" in note
    files = session_files(probe)
    assert new / "spikes.amps.npy" in files
    assert probe / "spikes.amps.npy" not in files and old / "spikes.amps.npy" not in files
    assert probe / "spikes.times.npy" in files


def test_only_revision_folders_hold_the_spikes(base, tmp_path):
    probe = tmp_path / "alf" / "probe00"
    _copy(base, probe / "#2024-01-01#")
    sorting = load_sorting(tmp_path)
    _check_same(sorting, base.reference)
    assert sorting.info.path == probe.resolve()  # the revision is a version, not the folder


def test_uuid_and_namespace_name_parts(tmp_path):
    uuid = write_alf_folder(tmp_path / "uuid", name_part=UUID, n_spikes=2_000, seed=1)
    _check_same(load_sorting(uuid.folder), uuid.reference)
    assert (uuid.folder / f"spikes.times.{UUID}.npy") in session_files(uuid.folder)
    ns = write_alf_folder(tmp_path / "ns", namespace="ibl", n_spikes=2_000, seed=1)
    _check_same(load_sorting(ns.folder), ns.reference)


def test_two_files_for_one_attribute_are_ambiguous(base, tmp_path):
    probe = _copy(base, tmp_path / "probe00")
    shutil.copy(probe / "spikes.depths.npy", probe / f"spikes.depths.{UUID}.npy")
    with pytest.raises(SortingFormatError, match=r"spikes\.depths.*spikes\.depths\.ab12"):
        load_sorting(probe)


def test_two_probes_must_be_chosen(base, tmp_path):
    _copy(base, tmp_path / "alf" / "probe00")
    _copy(base, tmp_path / "alf" / "probe01")
    with pytest.raises(SortingFormatError, match=r"2 ALF spike sortings.*probe00.*probe01"):
        load_sorting(tmp_path)
    assert session_files(tmp_path) == [tmp_path]  # the load step reports it


def test_kilosort_folder_is_not_taken_for_alf(tmp_path):
    from driftqc.cli.plot import _is_kilosort_folder
    from driftqc.synthetic import write_kilosort_folder

    ks = write_kilosort_folder(tmp_path / "ks", n_spikes=1_000, n_channels=16, n_units=4)
    assert not is_alf_folder(ks.path)
    alf = write_alf_folder(tmp_path / "alf" / "probe00", n_spikes=1_000, n_channels=16, n_units=4)
    assert not _is_kilosort_folder(alf.folder)  # the CLI's streamed path is Kilosort only
    assert not _is_kilosort_folder(alf.folder.parent)


# ---------------------------------------------------------------- labels


def test_kilosort_labels_copied_beside_the_alf_files(base):
    sorting = load_sorting(base.folder)
    assert list(sorting.label_sources) == ["KSLabel"]
    assert set(sorting.spikes.cluster_labels.values()) <= {"good", "mua"}


def test_metrics_csv_ks2_label_and_exclude_noise(base, tmp_path):
    probe = _copy(base, tmp_path / "probe00")
    ids = np.unique(np.load(probe / "spikes.clusters.npy"))
    rows = ["cluster_id,amp_median,ks2_label,label"]
    rows += [f"{c},1e-4,{'noise' if c == ids[0] else 'good'},0.66" for c in ids]
    (probe / "clusters.metrics.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    sorting = load_sorting(probe)
    assert list(sorting.label_sources) == ["ks2_label", "KSLabel"]
    selection = select_spikes(sorting, exclude_noise=True)
    n_noise = int(np.count_nonzero(sorting.spikes.clusters == ids[0]))
    assert n_noise and selection.n_total - len(selection.kept) >= n_noise
    assert probe / "clusters.metrics.csv" in session_files(probe)


def test_no_labels_make_exclude_noise_a_clear_error(base, tmp_path):
    probe = _copy(base, tmp_path / "probe00")
    (probe / "cluster_KSLabel.tsv").unlink()
    (probe / "clusters.metrics.pqt").write_bytes(b"PAR1 not read")
    sorting = load_sorting(probe)
    assert sorting.label_sources == {}
    assert any("parquet" in note for note in sorting.info.notes)
    with pytest.raises(SortingFormatError, match="exclude_noise"):
        select_spikes(sorting, exclude_noise=True)


# ---------------------------------------------------------------- templates


def test_without_waveforms_templates_mark_peak_channels(base, tmp_path):
    probe = _copy(base, tmp_path / "probe00")
    (probe / "templates.waveforms.npy").unlink()
    (probe / "templates.waveformsChannels.npy").unlink()
    sorting = load_sorting(probe)
    peaks = np.load(probe / "clusters.channels.npy")
    assert sorting.templates.shape[1:] == (1, len(sorting.channel_positions))
    np.testing.assert_array_equal(sorting.templates[:, 0].argmax(axis=1), peaks)
    assert sorting.spikes.templates is sorting.spikes.clusters
    assert any("stand-in" in note for note in sorting.info.notes)


# ---------------------------------------------------------------- errors name the file


def _broken(base: AlfSession, tmp_path: Path) -> Path:
    return _copy(base, tmp_path / "probe00")


def test_truncated_file_is_named(base, tmp_path):
    probe = _broken(base, tmp_path)
    path = probe / "spikes.depths.npy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SortingFormatError, match=r"spikes\.depths\.npy is truncated"):
        load_sorting(probe)


def test_mismatched_lengths_are_named(base, tmp_path):
    probe = _broken(base, tmp_path)
    np.save(probe / "spikes.amps.npy", np.load(probe / "spikes.amps.npy")[:-5])
    with pytest.raises(SortingFormatError, match=r"spikes\.amps\.npy holds \d+ values"):
        load_sorting(probe)


def test_pickled_file_is_refused_unread(base, tmp_path):
    probe = _broken(base, tmp_path)
    n = len(base.reference.spikes)
    np.save(probe / "spikes.clusters.npy", np.array([{"x": 1}] * n, dtype=object))
    with pytest.raises(SortingFormatError, match=r"spikes\.clusters\.npy holds Python objects"):
        load_sorting(probe)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t[::-1].copy(), "not in time order"),
        (lambda t: t - 1.0, "negative times"),
        (lambda t: np.where(np.arange(len(t)) == 3, np.nan, t), "NaN or infinite"),
        (lambda t: t.astype(str), "should hold spike times"),
    ],
    ids=["unsorted", "negative", "nan", "strings"],
)
def test_bad_times_are_named(base, tmp_path, change, message):
    probe = _broken(base, tmp_path)
    np.save(probe / "spikes.times.npy", change(np.load(probe / "spikes.times.npy")))
    with pytest.raises(SortingFormatError, match=message) as error:
        load_sorting(probe)
    assert "spikes.times.npy" in str(error.value)


def test_missing_required_dataset_is_named(base, tmp_path):
    probe = _broken(base, tmp_path)
    (probe / "channels.localCoordinates.npy").unlink()
    with pytest.raises(SortingFormatError, match=r"channels\.localCoordinates\.npy is missing"):
        read_alf(probe)


def test_template_ids_beyond_the_waveforms_are_named(base, tmp_path):
    probe = _broken(base, tmp_path)
    np.save(probe / "templates.waveforms.npy", np.load(probe / "templates.waveforms.npy")[:2])
    np.save(
        probe / "templates.waveformsChannels.npy",
        np.load(probe / "templates.waveformsChannels.npy")[:2],
    )
    with pytest.raises(SortingFormatError, match=r"spikes\.templates\.npy uses id"):
        load_sorting(probe)


def test_nan_depths_warn_and_are_kept(base, tmp_path):
    probe = _broken(base, tmp_path)
    depths = np.load(probe / "spikes.depths.npy")
    depths[:4] = np.nan
    np.save(probe / "spikes.depths.npy", depths)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sorting = load_sorting(probe)
    assert any("spikes.depths.npy: 4 of" in str(w.message) for w in caught)
    assert len(sorting.spikes) == len(base.reference.spikes)


# ---------------------------------------------------------------- front doors


def test_drift_plotter_and_get_amplitudes(base):
    plotter = DriftPlotter(base.folder)
    figure = plotter.drift_map_plot_matplotlib(add_histogram_plot=True, title=True)
    assert figure.axes
    amplitudes = get_amplitudes([base.folder], concatenate=True)
    np.testing.assert_allclose(
        np.sort(amplitudes), np.sort(base.reference.spikes.amplitudes), rtol=1e-5
    )


@pytest.mark.parametrize("render", ["scatter", "density"])
def test_plot_cli_writes_a_png(base, tmp_path, render):
    session = _copy(base, tmp_path / "ses" / "alf" / "probe00").parents[1]
    out = tmp_path / "map.png"
    command = [sys.executable, "-m", "driftqc", "plot", str(session), "-o", str(out)]
    result = subprocess.run(
        [*command, "--histogram", "--render", render, "--dpi", "50"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


def test_sessions_discovery_finds_probe_folders_not_revisions(base, tmp_path):
    _copy(base, tmp_path / "ZM_1" / "2024-01-01" / "001" / "alf" / "probe00" / "#2024-02-01#")
    _copy(base, tmp_path / "ZM_1" / "2024-01-01" / "001" / "alf" / "probe01")
    sessions = discover_sessions(tmp_path)
    assert [s["id"] for s in sessions] == [
        "ZM_1_2024-01-01_001_probe00",
        "ZM_1_2024-01-01_001_probe01",
    ]
    for entry in sessions:
        assert load_sorting(entry["path"]).info.sorter == "ibl-alf"
