"""driftqc: drift maps and drift QC for Kilosort-sorted sessions.

The public API mirrors driftplots: :class:`DriftPlotter`, :class:`MultiSessionDriftmapWidget`
and :func:`get_amplitudes`. Importing driftqc never imports Qt: the interactive widgets are
loaded on first use and need the ``gui`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftqc.amplitudes import get_amplitudes
from driftqc.errors import DriftQCError, EmptySelectionError, OptionError, SortingFormatError
from driftqc.io import load_sorting, read_kilosort
from driftqc.model import SessionInfo, Sorting, SpikeTable
from driftqc.options import MapStyle, RenderOptions, SelectionOptions
from driftqc.selection import Selection, select_spikes

if TYPE_CHECKING:
    from driftqc.plotter import DriftPlotter
    from driftqc.plotting import plot_depth_histogram, plot_drift_map

__version__ = "0.1.0"

__all__ = [
    "DriftPlotter",
    "DriftQCError",
    "DriftmapPlotWidget",
    "EmptySelectionError",
    "MapStyle",
    "MultiSessionDriftmapWidget",
    "OptionError",
    "RenderOptions",
    "Selection",
    "SelectionOptions",
    "SessionInfo",
    "Sorting",
    "SortingFormatError",
    "SpikeTable",
    "between_session_shifts",
    "estimate_drift_trace",
    "find_drift_events",
    "get_amplitudes",
    "load_sorting",
    "plot_depth_histogram",
    "plot_drift_map",
    "plot_drift_trace",
    "plot_kymograph",
    "qc_flags",
    "raw_frame",
    "read_kilosort",
    "select_spikes",
    "unit_drift_metrics",
]

# loaded on first use: the viewer needs Qt, the plots matplotlib, the metrics pandas (a job
# of the workflow that only reads and filters spikes then starts ~0.7 s sooner)
_LAZY = {
    "DriftPlotter": "driftqc.plotter",
    "plot_depth_histogram": "driftqc.plotting",
    "plot_drift_map": "driftqc.plotting",
    "MultiSessionDriftmapWidget": "driftqc.interactive",
    "DriftmapPlotWidget": "driftqc.interactive",
    "between_session_shifts": "driftqc.metrics",
    "estimate_drift_trace": "driftqc.metrics",
    "find_drift_events": "driftqc.metrics",
    "qc_flags": "driftqc.metrics",
    "unit_drift_metrics": "driftqc.metrics",
    "raw_frame": "driftqc.metrics.frames",
    "plot_drift_trace": "driftqc.plotting",
    "plot_kymograph": "driftqc.plotting",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'driftqc' has no attribute {name!r}")
