"""The sorter-vs-driftqc disagreement compares what each bin's spikes saw."""

from __future__ import annotations

import numpy as np
import pytest

from driftqc.metrics.drift_trace import trace_from_displacement
from driftqc.qc.drift import trace_disagreement


def _step(t: np.ndarray, at: float) -> np.ndarray:
    return np.where(t >= at, 30.0, 0.0)


def _binned(at: float, bin_s: float, duration: float = 60.0):
    """A trace of bin_s-wide bins whose value is the step's mean over the bin (exact)."""
    edges = np.arange(0.0, duration + bin_s / 2, bin_s)
    fine = np.linspace(0, duration, 600_001)
    means = [
        _step(fine[(fine >= a) & (fine < b)], at).mean()
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return trace_from_displacement(
        0.5 * (edges[:-1] + edges[1:]), np.array(means), frame="raw", source="spikes"
    )


def _sorter(at: float, batch_s: float = 2.0, duration: float = 60.0):
    centres = np.arange(batch_s / 2, duration, batch_s)
    return trace_from_displacement(centres, _step(centres, at), frame="raw", source="sorter")


@pytest.mark.parametrize("at", [15.0, 30.0, 45.0])
def test_the_same_step_seen_at_two_resolutions_agrees(at):
    assert trace_disagreement(_binned(at, 10.0), _sorter(at)) < 2.0


def test_a_step_at_another_time_disagrees():
    # the sorter put the step 10 s late: a 10-s bin sees 30 µm where the sorter says 0
    assert trace_disagreement(_binned(30.0, 10.0), _sorter(40.0)) > 5.0


def test_too_few_bins_to_compare_give_none():
    one = trace_from_displacement(np.array([5.0]), np.array([0.0]), frame="raw", source="s")
    assert trace_disagreement(one, _sorter(30.0)) is None
