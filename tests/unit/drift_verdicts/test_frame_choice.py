"""``frame=`` at every front door: the raw frame of Kilosort 4, declarations, refusals."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from driftqc import DriftPlotter
from driftqc.errors import OptionError
from driftqc.io import load_sorting
from driftqc.io.ops import read_ops
from driftqc.options import SelectionOptions
from driftqc.selection import select_spikes
from driftqc.selection.stream import ChunkedSelection
from tests.helpers.folders import write_tiny_ks3

KS4 = Path(__file__).resolve().parents[2] / "data" / "ks4_drift"


def _independent_raw_depths() -> np.ndarray:
    """Registered y − dshift interpolated at each spike's time, straight from the files."""
    ops = read_ops(KS4 / "ops.npy")
    dshift = np.asarray(ops["dshift"], dtype=np.float64)[:, 0]
    batch = float(ops["batch_size"]) / float(ops["fs"])
    centres = (np.arange(len(dshift)) + 0.5) * batch
    times = np.load(KS4 / "spike_times.npy").ravel() / float(ops["fs"])
    registered = np.load(KS4 / "spike_positions.npy")[:, 1]
    return registered - np.interp(times, centres, dshift)


def test_plotter_draws_the_raw_frame_of_kilosort4_on_request():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plotter = DriftPlotter(KS4)
    saved = plotter.select(decimate=False)
    raw = plotter.select(decimate=False, frame="raw")
    assert saved.kept.info.depth_frame == "registered"
    assert raw.kept.info.depth_frame == "raw" and "dshift" in raw.caption
    np.testing.assert_allclose(raw.kept.depths, _independent_raw_depths(), atol=0.05)
    figure = plotter.drift_map_plot_matplotlib(frame="raw", title=True)
    texts = " ".join(t.get_text() for ax in figure.axes for t in [ax.title, ax._left_title])
    assert "raw (reconstructed from Kilosort 4 dshift)" in texts
    # the seed call is unchanged: the saved (registered) frame
    np.testing.assert_array_equal(saved.kept.depths, plotter.spike_depths)


def test_chunked_reading_moves_each_chunk_like_the_whole_table():
    options = SelectionOptions(frame="raw")
    chunks = ChunkedSelection(KS4, options, chunk_spikes=700)
    depths = np.concatenate([c.depths for c in chunks])
    np.testing.assert_allclose(depths, _independent_raw_depths(), atol=0.05)
    assert chunks.info.depth_frame == "raw"


def test_frames_that_cannot_be_reached_are_refused_with_the_reason(tmp_path):
    raw_folder = write_tiny_ks3(tmp_path / "ks2", log="kilosort2.log")
    with pytest.raises(OptionError, match="holds raw depths"):
        select_spikes(load_sorting(raw_folder), frame="registered")
    registered = write_tiny_ks3(tmp_path / "ks3")
    with pytest.raises(OptionError, match="no saved motion estimate"):
        select_spikes(load_sorting(registered), frame="raw")
    with pytest.raises(OptionError, match="frame='sideways'"):
        SelectionOptions(frame="sideways")


def test_a_folder_of_unknown_frame_is_declared_not_moved(tmp_path):
    folder = write_tiny_ks3(tmp_path / "phy", log=None)
    sorting = load_sorting(folder)
    assert sorting.info.depth_frame == "unknown"
    declared = select_spikes(sorting, frame="raw", decimate=False)
    assert declared.kept.info.depth_frame == "raw"
    assert "declared" in declared.kept.info.frame_source
    np.testing.assert_array_equal(
        declared.kept.depths, select_spikes(sorting, decimate=False).kept.depths
    )


def test_cli_plot_takes_frame(tmp_path):
    folder = tmp_path / "ks4"
    shutil.copytree(KS4, folder)
    out = tmp_path / "raw.png"
    done = subprocess.run(
        [sys.executable, "-m", "driftqc", "plot", str(folder), "-o", str(out), "--frame", "raw"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "depth frame: raw (reconstructed from Kilosort 4 dshift)" in done.stdout
    assert out.stat().st_size > 1000


def test_drift_qc_of_a_selection_drawn_raw_measures_both_frames_once():
    from driftqc.qc import session_drift_qc

    sorting = load_sorting(KS4)
    drawn_raw = select_spikes(sorting, frame="raw")
    result = session_drift_qc(drawn_raw, motion=sorting.motion)
    # the traces and the selection they were measured on are the saved (registered) frame
    assert result.selection.kept.info.depth_frame == "registered"
    assert result.traces["all"].frame == "registered"
    np.testing.assert_allclose(result.selection.kept.depths, sorting.spikes.depths, atol=1e-3)
    # the raw frame is the selection as given, not converted there and back
    assert result.raw_selection is drawn_raw
    assert result.raw_traces["all"].frame == "raw"
