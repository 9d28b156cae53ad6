"""The analyzer reader against the analyzer's own arrays: times, amplitudes, depths, labels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from driftqc.errors import SortingFormatError
from driftqc.io import load_sorting, read_analyzer
from driftqc.io.analyzer import is_analyzer_folder
from driftqc.selection import select_spikes

pytest.importorskip("spikeinterface", reason="the spikeinterface extra is not installed")


def test_times_laid_end_to_end_over_segments(built):
    sorting = load_sorting(built.analyzer)
    vector = built.analyzer.sorting.to_spike_vector()
    fs = built.recording.get_sampling_frequency()
    first_segment = built.recording.get_num_samples(segment_index=0) / fs
    offsets = np.where(vector["segment_index"] == 1, first_segment, 0.0)
    expected = vector["sample_index"] / fs + offsets
    np.testing.assert_allclose(sorting.spikes.times, expected, rtol=0, atol=1e-12)
    assert np.all(np.diff(sorting.spikes.times) >= 0), "segments overlap in time"
    assert sorting.spikes.times.max() < built.recording.get_total_duration()
    assert any("2 recording segments" in note for note in sorting.info.notes)
    assert any("segment lengths" in note for note in sorting.info.notes)


def test_times_fall_back_to_last_spike_without_segment_lengths(built):
    # a real analyzer whose stored segment lengths are lost (as in old saved folders)
    lengths = built.analyzer.rec_attributes.pop("num_samples")
    try:
        sorting = read_analyzer(built.analyzer)
    finally:
        built.analyzer.rec_attributes["num_samples"] = lengths
    vector = built.analyzer.sorting.to_spike_vector()
    fs = built.analyzer.sorting.get_sampling_frequency()
    first = vector["segment_index"] == 0
    offset = (vector["sample_index"][first].max() + 1) / fs
    expected = vector["sample_index"] / fs + np.where(first, 0.0, offset)
    np.testing.assert_allclose(sorting.spikes.times, expected, rtol=0, atol=1e-12)
    assert offset < lengths[0] / fs, "the fallback offset differs from the true one"
    assert any("last spike" in note for note in sorting.info.notes)


def test_per_spike_arrays_match_the_extensions(built):
    sorting = load_sorting(built.analyzer)
    amplitudes = built.analyzer.get_extension("spike_amplitudes").get_data()
    locations = built.analyzer.get_extension("spike_locations").get_data()
    assert np.any(amplitudes < 0), "fixture should hold signed (negative) peak amplitudes"
    np.testing.assert_array_equal(sorting.spikes.amplitudes, np.abs(amplitudes).astype(np.float32))
    np.testing.assert_array_equal(sorting.spikes.depths, locations["y"].astype(np.float32))
    units = built.analyzer.sorting.to_spike_vector()["unit_index"]
    np.testing.assert_array_equal(sorting.spikes.templates, units)
    np.testing.assert_array_equal(sorting.spikes.clusters, units)
    assert sorting.spikes.templates.dtype == np.int32


def test_templates_geometry_and_provenance(built, unit_labels):
    sorting = load_sorting(built.analyzer)
    average = built.analyzer.get_extension("templates").get_data(operator="average")
    np.testing.assert_array_equal(sorting.templates, average.astype(np.float32))
    assert sorting.templates.shape == (len(unit_labels), average.shape[1], 16)
    np.testing.assert_array_equal(
        sorting.channel_positions, built.recording.get_channel_locations()
    )
    # SpikeInterface's own split of the two-shank probe into channel groups
    np.testing.assert_array_equal(sorting.channel_shanks, built.recording.get_property("group"))
    assert set(np.unique(sorting.channel_shanks)) == {0, 1}
    info = sorting.info
    assert info.sorter == "spikeinterface"
    assert info.amplitude_unit == "µV"  # analyzers default to return_in_uV=True
    assert "center_of_mass" in info.depth_estimator
    assert info.depth_frame == "unknown"
    assert "spike_amplitudes" in info.amplitude_definition
    assert not sorting.spikes.times.flags.writeable


def test_amplitudes_in_recording_units_when_not_scaled(bare_analyzer):
    import spikeinterface.core as si

    unscaled = si.create_sorting_analyzer(
        bare_analyzer.sorting, bare_analyzer.recording, format="memory", return_in_uV=False
    )
    unscaled.compute(["random_spikes", "templates", "spike_amplitudes"], verbose=False)
    sorting = read_analyzer(unscaled, with_depths=False)
    assert sorting.info.amplitude_unit == "a.u."
    # without spike_locations (allowed for amplitudes only) spikes sit at template depths
    assert np.isfinite(sorting.spikes.depths).all()
    assert "template" in sorting.info.depth_estimator


def test_label_sources_from_string_properties(built, unit_labels):
    sorting = load_sorting(built.analyzer)
    assert list(sorting.label_sources) == ["KSLabel"], "brain_area is not a label"
    expected = {i: label.lower() for i, label in enumerate(unit_labels)}
    assert dict(sorting.label_sources["KSLabel"]) == expected
    assert dict(sorting.spikes.cluster_labels) == expected


def test_exclude_noise_by_property_name(built, unit_labels):
    sorting = load_sorting(built.analyzer)
    units = built.analyzer.sorting.to_spike_vector()["unit_index"]
    noise_units = np.flatnonzero(np.char.lower(unit_labels.astype(str)) == "noise")
    assert len(noise_units) == 2
    selection = select_spikes(sorting, exclude_noise="KSLabel", decimate=False)
    assert len(selection.kept) == np.count_nonzero(~np.isin(units, noise_units))
    assert selection.n_noise == np.count_nonzero(np.isin(units, noise_units)) > 0
    assert not np.isin(selection.kept.clusters, noise_units).any()
    with pytest.raises(SortingFormatError, match="KSLabel"):
        select_spikes(sorting, exclude_noise="quality")


@pytest.mark.parametrize("kind", ["binary", "zarr"])
def test_load_from_saved_folder(built, kind):
    folder = built.binary_folder if kind == "binary" else built.zarr_folder
    if folder is None:
        pytest.skip("zarr is not installed, the analyzer was not saved as zarr")
    assert is_analyzer_folder(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # recording link lost: expected here
        from_folder = load_sorting(str(folder))
    in_memory = load_sorting(built.analyzer)
    for name in ("times", "amplitudes", "depths", "clusters"):
        np.testing.assert_array_equal(
            getattr(from_folder.spikes, name), getattr(in_memory.spikes, name)
        )
    np.testing.assert_array_equal(from_folder.templates, in_memory.templates)
    assert dict(from_folder.label_sources["KSLabel"]) == dict(in_memory.label_sources["KSLabel"])
    assert from_folder.info.amplitude_unit == "µV"
    assert from_folder.info.path == folder.resolve()
    assert "ses-0" in from_folder.info.name


def test_kilosort_folder_is_not_an_analyzer(ks4_session):
    assert not is_analyzer_folder(ks4_session.path)
    assert load_sorting(ks4_session.path).info.sorter == "kilosort4"


def test_missing_extensions_are_named_with_the_call(bare_analyzer):
    with pytest.raises(SortingFormatError) as error:
        load_sorting(bare_analyzer)
    message = str(error.value)
    assert "templates, spike_amplitudes, spike_locations" in message
    names = ["random_spikes", "templates", "spike_amplitudes", "spike_locations"]
    assert f"analyzer.compute({names!r})" in message
    # the call the message gives really computes what was missing
    bare_analyzer.compute(names, verbose=False)
    assert len(load_sorting(bare_analyzer).spikes) == len(bare_analyzer.sorting.to_spike_vector())


def test_missing_one_extension(bare_analyzer):
    bare_analyzer.compute(["random_spikes", "templates", "spike_amplitudes"], verbose=False)
    with pytest.raises(SortingFormatError, match=r"analyzer.compute\(\['spike_locations'\]\)"):
        load_sorting(bare_analyzer)


def test_bare_spikeinterface_sorting_is_refused(bare_analyzer):
    with pytest.raises(SortingFormatError, match="SortingAnalyzer"):
        load_sorting(bare_analyzer.sorting)


def test_folder_that_is_not_an_analyzer(tmp_path):
    (tmp_path / "spikeinterface_info.json").write_text('{"object": "BinaryFolderRecording"}')
    assert not is_analyzer_folder(tmp_path)
    with pytest.raises(SortingFormatError, match="not a SpikeInterface SortingAnalyzer"):
        read_analyzer(tmp_path)


def test_session_name_passes_through_load_sorting(built):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sorting = load_sorting(built.binary_folder, name="sub-01_ses-01")
    assert sorting.info.name == "sub-01_ses-01"
    assert load_sorting(built.analyzer).info.name == "analyzer"
