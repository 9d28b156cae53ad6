"""Matplotlib drift maps and drift QC figures (headless: never imports Qt or pyplot)."""

from __future__ import annotations

from typing import Any

from driftqc.plotting.drift_map import plot_depth_histogram, plot_drift_map

__all__ = [
    "plot_depth_histogram",
    "plot_drift_map",
    "plot_drift_map_with_trace",
    "plot_drift_trace",
    "plot_kymograph",
]

_QC_FIGURES = ("plot_drift_map_with_trace", "plot_drift_trace", "plot_kymograph")


def __getattr__(name: str) -> Any:
    if name in _QC_FIGURES:  # they need the metrics (and pandas): loaded on first use
        from driftqc.plotting import drift_plots

        return getattr(drift_plots, name)
    raise AttributeError(f"module 'driftqc.plotting' has no attribute {name!r}")
