"""Analyzers through the front doors: DriftPlotter, get_amplitudes, the CLI, lazy import."""

from __future__ import annotations

import subprocess
import sys
import warnings

import matplotlib.image
import numpy as np
import pytest

from driftqc import DriftPlotter, get_amplitudes, load_sorting
from driftqc.errors import OptionError
from driftqc.qc.amplitude_units import AmplitudeUnitWarning, shared_amplitude_unit

pytest.importorskip("spikeinterface", reason="the spikeinterface extra is not installed")


def _noise_units(unit_labels):
    return np.flatnonzero(np.char.lower(unit_labels.astype(str)) == "noise")


def test_drift_plotter_from_analyzer_draws_a_labelled_map(built, unit_labels):
    plotter = DriftPlotter(built.analyzer)
    amplitudes = built.analyzer.get_extension("spike_amplitudes").get_data()
    np.testing.assert_array_equal(plotter.spike_amplitudes, np.abs(amplitudes))
    assert plotter.channel_locations.shape == (16, 2)

    figure = plotter.drift_map_plot_matplotlib(
        decimate=False, exclude_noise="KSLabel", add_histogram_plot=True, title=True
    )
    units = built.analyzer.sorting.to_spike_vector()["unit_index"]
    n_kept = np.count_nonzero(~np.isin(units, _noise_units(unit_labels)))
    labels = {ax.get_xlabel(): ax for ax in figure.axes} | {
        ax.get_ylabel(): ax for ax in figure.axes
    }
    assert "Amplitude (µV)" in labels, f"no µV colour key among {sorted(labels)}"
    histogram = labels["Spike count"]
    assert histogram.lines[0].get_xdata().sum() == n_kept
    raster = labels["Time (s)"]
    markers = [line for line in raster.lines if line.get_marker() == "o"]
    assert sum(len(line.get_xdata()) for line in markers) == n_kept


def test_drift_plotter_from_zarr_folder(built):
    folder = built.zarr_folder or built.binary_folder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # recording link lost: expected
        plotter = DriftPlotter(str(folder))
    np.testing.assert_array_equal(plotter.spike_times, DriftPlotter(built.analyzer).spike_times)
    assert plotter.sorting.info.path == folder.resolve()


def test_get_amplitudes_mixes_analyzer_and_kilosort(built, ks4_session, unit_labels):
    ks = load_sorting(ks4_session.path, with_depths=False)
    assert ks.info.amplitude_unit == "a.u."
    per_session = get_amplitudes([built.analyzer, ks4_session.path])
    amplitudes = built.analyzer.get_extension("spike_amplitudes").get_data()
    np.testing.assert_array_equal(per_session[0], np.abs(amplitudes).astype(np.float32))
    np.testing.assert_array_equal(per_session[1], ks.spikes.amplitudes)

    # one label source name for both kinds of session
    filtered = get_amplitudes([built.analyzer, ks4_session.path], exclude_noise="KSLabel")
    units = built.analyzer.sorting.to_spike_vector()["unit_index"]
    assert len(filtered[0]) == np.count_nonzero(~np.isin(units, _noise_units(unit_labels)))

    with pytest.warns(AmplitudeUnitWarning, match=r"µV: .*a\.u\.: "):
        pooled = get_amplitudes([built.analyzer, ks4_session.path], concatenate=True)
    assert len(pooled) == len(per_session[0]) + len(per_session[1])


def test_get_amplitudes_same_units_do_not_warn(built):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", AmplitudeUnitWarning)
        pooled = get_amplitudes([built.analyzer, built.binary_folder], concatenate=True)
    assert len(pooled) == 2 * len(built.analyzer.sorting.to_spike_vector())


def test_strict_unit_check_refuses_mixed_units(built, ks4_session):
    infos = [load_sorting(built.analyzer).info, load_sorting(ks4_session.path).info]
    with pytest.raises(OptionError, match="different units"):
        shared_amplitude_unit(infos, strict=True)
    assert shared_amplitude_unit(infos[:1], strict=True) == "µV"


def test_cli_plots_an_analyzer_folder(built, tmp_path):
    out = tmp_path / "analyzer.png"
    result = subprocess.run(
        [
            sys.executable, "-m", "driftqc", "plot", str(built.binary_folder), "-o", str(out),
            "--histogram", "--exclude-noise", "KSLabel", "--dpi", "50",
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = matplotlib.image.imread(out)
    assert image[..., :3].std() > 0.05  # not blank
    assert "noise units excluded" in result.stdout
    assert "ses-01" in result.stdout


def test_importing_driftqc_does_not_import_spikeinterface(ks4_session):
    code = (
        "import sys, driftqc; driftqc.load_sorting(sys.argv[1], with_depths=False); "
        "print('spikeinterface' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(ks4_session.path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_analyzer_folder_needs_no_spikeinterface(built, monkeypatch):
    # as if SpikeInterface were not installed: its import fails, the folder still loads
    monkeypatch.setitem(sys.modules, "spikeinterface", None)
    monkeypatch.setitem(sys.modules, "spikeinterface.core", None)
    sorting = load_sorting(built.binary_folder)
    assert len(sorting.spikes) == len(built.analyzer.sorting.to_spike_vector())
