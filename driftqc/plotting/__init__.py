"""Matplotlib drift maps and drift QC figures (headless: never imports Qt or pyplot)."""

from driftqc.plotting.drift_map import plot_depth_histogram, plot_drift_map
from driftqc.plotting.drift_plots import (
    plot_drift_map_with_trace,
    plot_drift_trace,
    plot_kymograph,
)

__all__ = [
    "plot_depth_histogram",
    "plot_drift_map",
    "plot_drift_map_with_trace",
    "plot_drift_trace",
    "plot_kymograph",
]
