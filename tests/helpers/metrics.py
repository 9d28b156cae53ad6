"""Helpers for the drift-metric tests: known offsets, ground truth per bin, RMS error."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from driftqc.model import SpikeTable
from driftqc.selection import exclude_labels
from driftqc.synthetic import SyntheticSession


def without_noise(spikes: SpikeTable) -> SpikeTable:
    """Drop spikes of clusters labelled noise (as a QC run would)."""
    return exclude_labels(spikes, spikes.cluster_labels) if spikes.cluster_labels else spikes


def shifted(spikes: SpikeTable, offset_um: float, name: str | None = None) -> SpikeTable:
    """The same spikes with every depth moved by ``offset_um`` (a known session offset)."""
    info = spikes.info if name is None else replace(spikes.info, name=name)
    depths = (spikes.depths.astype(np.float64) + offset_um).astype(np.float32)
    return replace(spikes, depths=depths, info=info)


def truth_per_bin(truth: SyntheticSession, spikes: SpikeTable, edges: np.ndarray) -> np.ndarray:
    """Imposed displacement averaged over the spikes of each time bin (NaN for empty bins)."""
    shift = truth.displacement(spikes.times)
    index = np.clip(np.searchsorted(edges, spikes.times, side="right") - 1, 0, len(edges) - 2)
    sums = np.bincount(index, weights=shift, minlength=len(edges) - 1)
    counts = np.bincount(index, minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def rms_error(estimate: np.ndarray, reference: np.ndarray, valid: np.ndarray) -> float:
    """RMS difference over valid bins after removing the mean offset."""
    ok = valid & np.isfinite(estimate) & np.isfinite(reference)
    diff = estimate[ok] - reference[ok]
    return float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))
