"""Real sorter output with known unit positions, for the between-session shift tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[2] / "data"
KS4_DRIFT = DATA / "ks4_drift"
KS4_CASES = DATA / "ks4_cases"


def true_unit_of_templates(folder: Path) -> dict[int, int]:
    """Template id -> true unit, for templates whose spikes are >= 90 % one true unit.

    A sorted spike belongs to the true spike nearest in time (within 1 ms); a template is
    that unit's when nearly all its spikes are (duplicates and merges are left out).
    """
    truth = np.load(folder / "ground_truth.npz")
    true_times, true_units = truth["spike_times_samples"], truth["spike_units"]
    order = np.argsort(true_times)
    true_times, true_units = true_times[order], true_units[order]
    times = np.load(folder / "spike_times.npy").ravel()
    templates = np.load(folder / "spike_templates.npy").ravel()
    window = 0.001 * float(truth["fs"])
    found: dict[int, int] = {}
    for template in np.unique(templates):
        t = times[templates == template]
        right = np.clip(np.searchsorted(true_times, t), 1, len(true_times) - 1)
        nearest = np.where(
            np.abs(true_times[right] - t) < np.abs(true_times[right - 1] - t), right, right - 1
        )
        close = np.abs(true_times[nearest] - t) <= window
        units, counts = np.unique(true_units[nearest][close], return_counts=True)
        if len(units) and counts.max() >= 0.9 * len(t):
            found[int(template)] = int(units[counts.argmax()])
    return found


def ks4_case(name: str) -> Path:
    """A Kilosort 4 validation case folder, or skip when it has not been made yet."""
    folder = KS4_CASES / name
    if not (folder / "ground_truth.npz").is_file():
        pytest.skip(f"{folder} not made yet (benchmarks/validation/run_ks4_queue.sh)")
    return folder
