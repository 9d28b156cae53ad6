"""The reader on real Kilosort 4 output (tests/data/ks4_drift, made by make_ks4_fixture.py)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from driftqc import DriftPlotter, read_kilosort, select_spikes

FOLDER = Path(__file__).resolve().parents[2] / "data" / "ks4_drift"


@pytest.fixture(scope="module")
def sorting():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # real output must load without complaint
        return read_kilosort(FOLDER)


def test_spike_arrays_match_the_files(sorting):
    times = np.load(FOLDER / "spike_times.npy")
    positions = np.load(FOLDER / "spike_positions.npy")
    truth = np.load(FOLDER / "ground_truth.npz")
    spikes = sorting.spikes
    assert len(spikes) == len(times)
    np.testing.assert_allclose(spikes.times, times / 30000.0)
    assert spikes.times.max() <= float(truth["duration_s"])
    np.testing.assert_allclose(spikes.depths, positions[:, 1])
    assert truth["channel_y_um"].min() <= spikes.depths.min()
    assert spikes.depths.max() <= truth["channel_y_um"].max()
    np.testing.assert_array_equal(spikes.clusters, np.load(FOLDER / "spike_clusters.npy"))


def test_amplitude_is_template_ptp_times_scale(sorting):
    templates = np.load(FOLDER / "templates.npy")
    scale = np.load(FOLDER / "amplitudes.npy")
    template_ids = np.load(FOLDER / "spike_templates.npy")
    ptp = (templates.max(axis=1) - templates.min(axis=1)).max(axis=1)
    np.testing.assert_allclose(sorting.spikes.amplitudes, ptp[template_ids] * scale, rtol=1e-5)
    assert (sorting.spikes.amplitudes > 0).all()


def test_provenance_and_labels(sorting):
    assert sorting.info.sorter == "kilosort4"
    assert sorting.info.depth_frame == "registered"
    assert set(sorting.label_sources) == {"group", "KSLabel"}
    assert set(sorting.spikes.cluster_labels.values()) <= {"good", "mua", "noise"}


def test_motion_from_ops(sorting):
    motion = sorting.motion
    assert motion is not None
    assert motion.shift_um.shape == (30, 1)
    np.testing.assert_allclose(np.diff(motion.batch_times), 2.0)  # 60 000-sample batches
    truth = np.load(FOLDER / "ground_truth.npz")
    imposed = np.interp(motion.batch_times, truth["displacement_t_s"], truth["displacement_um"])
    # Kilosort's dshift has the opposite sign to the tissue's displacement
    assert np.corrcoef(-motion.shift_um[:, 0], imposed)[0, 1] > 0.95


def test_drift_map_of_real_output(sorting):
    sel = select_spikes(sorting, exclude_noise=True, decimate=False)
    assert 0 < len(sel.kept) <= len(sorting.spikes)
    fig = DriftPlotter(sorting).drift_map_plot_matplotlib(add_histogram_plot=True, title=True)
    assert fig.axes[0].lines[0].get_xdata().sum() == len(sorting.spikes)
