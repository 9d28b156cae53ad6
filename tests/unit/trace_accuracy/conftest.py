"""Real Kilosort 4 output with a known imposed drift, for the drift-trace accuracy tests.

The folders are small real sorter outputs kept in the repository (``tests/data/ks4_drift``,
``tests/data/ks4_cases/<case>``; how they were made: ``tests/data/README.md``). Every expected
value is derived from the folder's ``ground_truth.npz``: the imposed displacement, averaged over
each time bin of the trace, is what the trace must follow (after removing the mean offset,
which no estimate from spikes alone can know).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from driftqc.io import read_kilosort
from driftqc.metrics.frames import sorter_drift_trace
from driftqc.model import SpikeTable
from driftqc.selection import select_spikes

DATA = Path(__file__).resolve().parents[2] / "data"
BIN_WIDTHS = (2.0, 5.0, 10.0, 20.0)


@dataclass(frozen=True)
class Case:
    """Raw- and registered-frame spikes of one sorted recording plus its imposed drift."""

    name: str
    raw: SpikeTable
    registered: SpikeTable
    true_depths: SpikeTable  # ground-truth spikes at their true depth (no localisation error)
    truth_t: np.ndarray
    truth_um: np.ndarray
    drift: str
    sorter_t: np.ndarray  # Kilosort 4's own estimate (dshift, tissue sign), batch centres
    sorter_um: np.ndarray

    def crop(self, start_s: float, stop_s: float) -> Case:
        """The part of the session in ``[start_s, stop_s)``, its times starting at 0 s."""

        def cut(table: SpikeTable) -> SpikeTable:
            inside = table.take((table.times >= start_s) & (table.times < stop_s))
            return replace(inside, times=inside.times - start_s)

        inside = (self.truth_t >= start_s) & (self.truth_t < stop_s)
        return replace(
            self,
            name=f"{self.name}[{start_s:g}-{stop_s:g} s]",
            raw=cut(self.raw),
            registered=cut(self.registered),
            true_depths=cut(self.true_depths),
            truth_t=self.truth_t[inside] - start_s,
            truth_um=self.truth_um[inside],
            sorter_t=self.sorter_t - start_s,
        )

    def truth_per_bin(self, edges: np.ndarray) -> np.ndarray:
        """Imposed displacement averaged over each time bin (µm), up to the session's end."""
        return self._per_bin(edges, self.truth_t, self.truth_um)

    def sorter_per_bin(self, edges: np.ndarray) -> np.ndarray:
        """Kilosort's own estimate averaged over each time bin (µm)."""
        return self._per_bin(edges, self.sorter_t, self.sorter_um)

    def _per_bin(self, edges: np.ndarray, t: np.ndarray, d: np.ndarray) -> np.ndarray:
        fine = np.linspace(edges[0], min(edges[-1], self.truth_t[-1]), 50 * len(edges))
        values = np.interp(fine, t, d)
        index = np.clip(np.searchsorted(edges, fine, side="right") - 1, 0, len(edges) - 2)
        sums = np.bincount(index, values, len(edges) - 1)
        return sums / np.bincount(index, None, len(edges) - 1)

    def step(self) -> tuple[float, float]:
        """``(time_s, size_um)`` of the largest jump of the imposed displacement."""
        jumps = np.diff(self.truth_um)
        at = int(np.argmax(np.abs(jumps)))
        return float(self.truth_t[at + 1]), float(jumps[at])


def load_case(folder: Path) -> Case:
    truth = np.load(folder / "ground_truth.npz")
    key = "total_displacement_um" if "total_displacement_um" in truth.files else "displacement_um"
    t = truth["displacement_t_s"].astype(np.float64)
    drift = bytes(truth["drift_spec"]).decode() if "drift_spec" in truth.files else "triangle"
    sorting = read_kilosort(folder)
    raw = select_spikes(sorting, frame="raw", decimate=None).kept
    registered = select_spikes(sorting, frame="registered", decimate=None).kept
    times = truth["spike_times_samples"] / float(truth["fs"])
    units = truth["spike_units"].astype(np.int64)
    depth = truth["unit_y_um"][units] + np.interp(times, t, truth["displacement_um"])
    order = np.argsort(times, kind="stable")
    true_depths = replace(
        raw,
        times=times[order],
        depths=depth[order].astype(np.float32),
        amplitudes=np.ones(len(times), dtype=np.float32),
        templates=units[order].astype(np.int32),
        clusters=units[order].astype(np.int32),
        cluster_labels={},
    )
    sorter = sorter_drift_trace(sorting.motion)
    return Case(
        folder.name, raw, registered, true_depths, t, truth[key].astype(float), drift,
        sorter.times, sorter.displacement_um,
    )  # fmt: skip


@pytest.fixture(scope="session")
def ks4_case() -> callable:
    """Return ``load(name) -> Case`` for ``ks4_drift`` or a ``ks4_cases`` folder, cached."""
    cache: dict[str, Case] = {}

    def load(name: str) -> Case:
        if name not in cache:
            folder = DATA / name if name == "ks4_drift" else DATA / "ks4_cases" / name
            cache[name] = load_case(folder)
        return cache[name]

    return load


def trace_error(case: Case, trace: object, *, residual: bool = False) -> np.ndarray:
    """Estimate minus truth per valid bin, mean removed (``residual``: truth = 0)."""
    truth = 0.0 if residual else case.truth_per_bin(trace.time_edges)
    error = (trace.displacement_um - truth)[trace.valid]
    return error - error.mean()
