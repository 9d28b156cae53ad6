"""The direct folder reader against SpikeInterface's own loader, on folders we wrote."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from driftqc.errors import MissingExtraError, SortingFormatError
from driftqc.io import load_sorting, read_analyzer
from driftqc.io.analyzer import analyzer_files

pytest.importorskip("spikeinterface", reason="the spikeinterface extra is not installed")

_OPENED: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], str | bytes | Path):
        _OPENED.append(str(Path(str(args[0], "utf-8") if isinstance(args[0], bytes) else args[0])))


sys.addaudithook(_audit)


@contextmanager
def opened_files(folder: Path):
    """Collect every file under ``folder`` that the process opens inside the block."""
    global _OPENED
    _OPENED = []
    found: set[Path] = set()
    try:
        yield found
    finally:
        opened, _OPENED = _OPENED, None
        root = folder.resolve()
        for name in opened:
            path = Path(name).resolve()
            if path.is_relative_to(root) and path.is_file():
                found.add(path)


def _folder(built, kind: str) -> Path:
    folder = built.binary_folder if kind == "binary" else built.zarr_folder
    if folder is None:
        pytest.skip("zarr is not installed, the analyzer was not saved as zarr")
    return folder


def _reference(folder: Path):
    """The same folder read by SpikeInterface (trusted: we wrote it) and our object path."""
    from spikeinterface.core import load_sorting_analyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # recording link lost: expected here
        analyzer = load_sorting_analyzer(folder)
        return analyzer, read_analyzer(analyzer)


@pytest.fixture(params=["two-segment", "one-segment-sparse"])
def source(request, built, built_sparse):
    return built if request.param == "two-segment" else built_sparse


@pytest.mark.parametrize("kind", ["binary", "zarr"])
def test_direct_reader_matches_spikeinterface(source, kind):
    folder = _folder(source, kind)
    analyzer, reference = _reference(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the direct reader warns about nothing here
        direct = read_analyzer(folder)
    for name in ("times", "amplitudes", "depths", "templates", "clusters"):
        np.testing.assert_array_equal(
            getattr(direct.spikes, name), getattr(reference.spikes, name), err_msg=name
        )
    np.testing.assert_array_equal(direct.templates, reference.templates)
    np.testing.assert_array_equal(direct.channel_positions, reference.channel_positions)
    np.testing.assert_array_equal(direct.channel_shanks, reference.channel_shanks)
    assert set(np.unique(direct.channel_shanks)) == {0, 1}
    assert direct.label_sources == reference.label_sources
    assert list(direct.label_sources) == ["KSLabel"]
    for name in ("amplitude_unit", "sample_rate", "depth_estimator", "amplitude_definition"):
        assert getattr(direct.info, name) == getattr(reference.info, name), name
    assert direct.info.notes == reference.info.notes

    # and against SpikeInterface's raw arrays, independently of our object path
    vector = analyzer.sorting.to_spike_vector()
    fs = analyzer.sampling_frequency
    lengths = [analyzer.get_num_samples(i) / fs for i in range(analyzer.get_num_segments())]
    offsets = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    expected = vector["sample_index"] / fs + offsets[vector["segment_index"]]
    np.testing.assert_allclose(direct.spikes.times, expected, rtol=0, atol=1e-12)
    locations = analyzer.get_extension("spike_locations").get_data()
    np.testing.assert_array_equal(direct.spikes.depths, locations["y"].astype(np.float32))
    average = analyzer.get_extension("templates").get_data(operator="average")
    np.testing.assert_array_equal(direct.templates, average.astype(np.float32))
    assert (analyzer.sparsity is not None) == (source.analyzer.sparsity is not None)


def test_sparse_analyzer_saves_dense_templates(built_sparse):
    # what the reader relies on: templates are dense, zero outside each unit's channels
    folder = built_sparse.binary_folder
    mask = np.load(folder / "sparsity_mask.npy")
    assert not mask.all(), "fixture should be sparse"
    sorting = read_analyzer(folder)
    assert sorting.templates.shape[2] == mask.shape[1]
    assert np.all(sorting.templates.transpose(0, 2, 1)[~mask] == 0)


@pytest.mark.parametrize("kind", ["binary", "zarr"])
def test_analyzer_files_lists_every_file_read(built, kind):
    folder = _folder(built, kind)
    listed = analyzer_files(folder)
    assert listed == sorted(listed)
    assert all(path.is_file() for path in listed)
    with opened_files(folder) as opened:
        load_sorting(folder)
    assert opened, "the audit hook saw nothing"
    assert opened <= {p.resolve() for p in listed}, sorted(opened - set(listed))
    names = {p.relative_to(folder).as_posix() for p in listed}
    if kind == "binary":
        assert opened == {p.resolve() for p in listed}
        assert {
            "spikeinterface_info.json",
            "settings.json",
            "sorting/spikes.npy",
            "sorting/numpysorting_info.json",
            "sorting/properties/KSLabel.npy",
            "recording_info/recording_attributes.json",
            "recording_info/probegroup.json",
            "extensions/templates/params.json",
            "extensions/templates/average.npy",
            "extensions/spike_amplitudes/amplitudes.npy",
            "extensions/spike_locations/spike_locations.npy",
        } <= names
    else:
        assert {".zattrs", "sorting/.zattrs", "recording_info/.zattrs"} <= names
        assert "extensions/templates/average/.zarray" in names
        assert not any(n.startswith("extensions/templates/std") for n in names)
    assert not any(n.endswith((".pickle", ".pkl", "si_folder.json")) for n in names)
    assert not any(n.startswith("recording") and "recording_info" not in n for n in names)
    depthless = {
        p.relative_to(folder).as_posix() for p in analyzer_files(folder, with_depths=False)
    }
    assert not any("spike_locations" in n for n in depthless)


def test_analyzer_files_of_a_non_analyzer(tmp_path):
    with pytest.raises(SortingFormatError, match="not a SpikeInterface SortingAnalyzer"):
        analyzer_files(tmp_path)


@pytest.fixture
def binary_copy(built, tmp_path) -> Path:
    folder = tmp_path / "ses-09" / "analyzer"
    shutil.copytree(built.binary_folder, folder)
    return folder


def test_missing_extension_in_a_folder_names_the_call(binary_copy):
    shutil.rmtree(binary_copy / "extensions" / "spike_locations")
    with pytest.raises(SortingFormatError, match=r"analyzer\.compute\(\['spike_locations'\]\)"):
        load_sorting(binary_copy)
    assert len(load_sorting(binary_copy, with_depths=False).spikes) > 0
    shutil.rmtree(binary_copy / "extensions" / "templates")
    shutil.rmtree(binary_copy / "extensions" / "random_spikes")
    with pytest.raises(SortingFormatError) as error:
        load_sorting(binary_copy)
    assert str(binary_copy) in str(error.value)
    assert "analyzer.compute(['random_spikes', 'templates', 'spike_locations'])" in str(
        error.value
    )


def test_unfinished_extension_counts_as_missing(binary_copy):
    run_info = binary_copy / "extensions" / "spike_amplitudes" / "run_info.json"
    run_info.write_text(json.dumps({"run_completed": False}))
    with pytest.raises(SortingFormatError, match=r"compute\(\['spike_amplitudes'\]\)"):
        load_sorting(binary_copy)


def test_settings_and_gains_give_the_amplitude_unit(binary_copy):
    settings = binary_copy / "settings.json"
    settings.write_text(json.dumps({"return_scaled": False}))  # SpikeInterface < 0.103
    assert load_sorting(binary_copy).info.amplitude_unit == "a.u."
    settings.write_text(json.dumps({"return_scaled": True}))
    assert load_sorting(binary_copy).info.amplitude_unit == "µV"
    attributes_file = binary_copy / "recording_info" / "recording_attributes.json"
    attributes = json.loads(attributes_file.read_text())
    del attributes["properties"]["gain_to_uV"]
    attributes_file.write_text(json.dumps(attributes))
    sorting = load_sorting(binary_copy)
    assert sorting.info.amplitude_unit == "a.u."
    assert any("gain_to_uV" in note for note in sorting.info.notes)


def test_times_fall_back_to_last_spike_in_an_old_folder(binary_copy, built):
    attributes_file = binary_copy / "recording_info" / "recording_attributes.json"
    attributes = json.loads(attributes_file.read_text())
    del attributes["num_samples"]
    attributes_file.write_text(json.dumps(attributes))
    sorting = load_sorting(binary_copy)
    vector = built.analyzer.sorting.to_spike_vector()
    fs = built.analyzer.sampling_frequency
    first = vector["segment_index"] == 0
    offset = (vector["sample_index"][first].max() + 1) / fs
    expected = vector["sample_index"] / fs + np.where(first, 0.0, offset)
    np.testing.assert_allclose(sorting.spikes.times, expected, rtol=0, atol=1e-12)
    assert any("last spike" in note for note in sorting.info.notes)


def test_shanks_from_x_gaps_without_a_probe_shank(binary_copy):
    probe_file = binary_copy / "recording_info" / "probegroup.json"
    group = json.loads(probe_file.read_text())
    for probe in group["probes"]:
        probe.pop("shank_ids", None)
    probe_file.write_text(json.dumps(group))
    sorting = load_sorting(binary_copy)
    # the two shanks are 150 µm apart: split by the x gap
    np.testing.assert_array_equal(sorting.channel_shanks, np.repeat([0, 1], 8))


def test_probe_wiring_orders_the_channels(binary_copy, built):
    probe_file = binary_copy / "recording_info" / "probegroup.json"
    group = json.loads(probe_file.read_text())
    probe = group["probes"][0]
    order = np.arange(16)[::-1]  # contacts listed in reverse, wired to channels 15..0
    for key in ("contact_positions", "shank_ids", "device_channel_indices", "contact_ids"):
        probe[key] = [probe[key][i] for i in order]
    probe_file.write_text(json.dumps(group))
    sorting = load_sorting(binary_copy)
    np.testing.assert_array_equal(
        sorting.channel_positions, built.recording.get_channel_locations()
    )
    np.testing.assert_array_equal(sorting.channel_shanks, np.repeat([0, 1], 8))


_NO_SPIKEINTERFACE = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("spikeinterface", "probeinterface"):
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
import driftqc
for folder in sys.argv[1:]:
    sorting = driftqc.load_sorting(folder)
    print(len(sorting.spikes), sorting.info.amplitude_unit)
print("spikeinterface" in sys.modules, "probeinterface" in sys.modules)
"""


def test_folders_are_read_without_spikeinterface(built):
    folders = [str(f) for f in (built.binary_folder, built.zarr_folder) if f is not None]
    result = subprocess.run(
        [sys.executable, "-c", _NO_SPIKEINTERFACE, *folders],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    n = len(built.analyzer.sorting.to_spike_vector())
    assert result.stdout.split("\n") == [f"{n} µV"] * len(folders) + ["False False", ""]


def test_zarr_folder_without_zarr_names_the_package(built, monkeypatch):
    folder = _folder(built, "zarr")
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(MissingExtraError, match="'zarr'"):
        load_sorting(folder)


@pytest.mark.parametrize("kind", ["binary", "zarr"])
def test_depthless_read_uses_template_depths_and_skips_locations(built, kind):
    folder = _folder(built, kind)
    with opened_files(folder) as opened:
        direct = read_analyzer(folder, with_depths=False)
    in_memory = read_analyzer(built.analyzer, with_depths=False)
    np.testing.assert_array_equal(direct.spikes.depths, in_memory.spikes.depths)
    assert "template" in direct.info.depth_estimator
    assert not any("spike_locations" in str(p) for p in opened)
    assert opened <= {p.resolve() for p in analyzer_files(folder, with_depths=False)}
