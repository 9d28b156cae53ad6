"""Drift QC figures: headless figures whose artists carry the numbers given."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from driftqc.metrics import between_session_shifts, estimate_drift_trace, find_drift_events
from driftqc.metrics.frames import raw_frame, sorter_drift_trace
from driftqc.plotting.drift_plots import (
    mark_drift_events,
    plot_drift_map_with_trace,
    plot_drift_trace,
    plot_kymograph,
)
from driftqc.selection import select_spikes
from tests.helpers.metrics import shifted


@pytest.fixture(scope="module")
def registered(make_session):
    return make_session(drift="zigzag", drift_um=30.0, frame="registered", n_spikes=60_000)


def test_trace_plot_draws_the_trace_and_the_sorter_estimate(registered, tmp_path):
    _, sorting = registered
    raw = raw_frame(sorting)
    trace = estimate_drift_trace(raw)
    sorter = sorter_drift_trace(sorting.motion)
    fig = plot_drift_trace(trace, others=[sorter], labels=["driftqc", "Kilosort 4"])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("driftqc", "Kilosort 4")]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_ydata(), trace.displacement_um)
    np.testing.assert_allclose(lines[1].get_xdata(), sorter.times)
    assert "raw" in ax.get_ylabel() and "µm" in ax.get_ylabel()
    fig.savefig(tmp_path / "trace.png")
    assert (tmp_path / "trace.png").stat().st_size > 1000


def test_map_with_trace_overlay_and_events(registered, tmp_path):
    _, sorting = registered
    raw = raw_frame(sorting)
    trace = estimate_drift_trace(raw)
    events = find_drift_events(raw)
    fig = plot_drift_map_with_trace(
        select_spikes(raw), trace, overlay_depths_um=[1000.0], events=events
    )
    axes = {ax.get_label(): ax for ax in fig.axes}
    map_ax, trace_ax = axes["drift map"], axes["drift trace"]
    overlay = [ln for ln in map_ax.get_lines() if "drift trace" in ln.get_label()]
    assert len(overlay) == 1
    np.testing.assert_allclose(overlay[0].get_ydata(), 1000.0 + trace.displacement_um)
    assert trace_ax.get_shared_x_axes().joined(map_ax, trace_ax)
    fig.savefig(tmp_path / "map.png")


def test_event_markers_are_placed_at_event_time_and_depth():
    import pandas as pd

    fig = Figure()
    ax = fig.add_subplot()
    events = pd.DataFrame(
        {"time_s": [5.0, 15.0], "depth_um": [400.0, 410.0], "drift_um": [-8.0, 7.0]}
    )
    mark_drift_events(ax, events)
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, [[5.0, 400.0], [15.0, 410.0]])
    assert [t.get_text() for t in ax.texts] == ["-8", "7"]


def test_kymograph_image_and_overlay(registered, tmp_path):
    _, sorting = registered
    sessions = [shifted(sorting.spikes, off, name=f"s{k}") for k, off in enumerate([0, 20, -10])]
    result = between_session_shifts(sessions)
    fig = plot_kymograph(result, n_tracks=2)
    ax = fig.axes[0]
    image = ax.get_images()[0]
    assert image.get_array().shape == (len(result.depth_centres_um), 3)
    tracks = ax.get_lines()
    assert len(tracks) == 2
    for line in tracks:  # each track = reference peak depth + the session shifts
        y = np.asarray(line.get_ydata())
        np.testing.assert_allclose(y - y[0], result.shifts_um, atol=1e-9)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0].endswith("ref") and "+20" in labels[1] or "+19" in labels[1]
    fig.savefig(tmp_path / "kymograph.png")
