"""Matplotlib drift maps (headless: this package never imports Qt or pyplot)."""

from driftqc.plotting.drift_map import plot_depth_histogram, plot_drift_map

__all__ = ["plot_depth_histogram", "plot_drift_map"]
