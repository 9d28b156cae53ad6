"""Drift QC metrics: pure functions of spike tables returning JSON/TSV-ready results.

* :mod:`~driftqc.metrics.drift_trace` — within-session rigid / non-rigid drift trace and its
  summary numbers (decentralised registration: :mod:`~driftqc.metrics.decentralised`);
* :mod:`~driftqc.metrics.events` — cortex-lab band-tracking drift events;
* :mod:`~driftqc.metrics.unit_drift` — per-unit drift_ptp / drift_std / drift_mad;
* :mod:`~driftqc.metrics.between_sessions` — session shifts (from matched units:
  :mod:`~driftqc.metrics.unit_localisation`, :mod:`~driftqc.metrics.unit_matching`) and
  kymograph data;
* :mod:`~driftqc.metrics.shanks` — per-shank application to a loaded session (what a
  shank is: :mod:`driftqc.geometry`);
* :mod:`~driftqc.metrics.flags` — pass / warn / fail / unmeasurable with reasons.

Every result says its units (µm, s) and the depth frame of the spikes it was computed from.
"""

from driftqc.metrics.between_sessions import (
    DepthCounts,
    SessionShifts,
    between_session_shifts,
    session_depth_profiles,
    unit_session_shifts,
)
from driftqc.metrics.drift_trace import (
    DriftSummary,
    DriftTrace,
    NonRigidDrift,
    estimate_drift_trace,
    estimate_nonrigid_drift,
    summarize_trace,
    trace_from_displacement,
)
from driftqc.metrics.events import EventParams, detect_band_events, find_drift_events
from driftqc.metrics.flags import QCThresholds, qc_flags, qc_row
from driftqc.metrics.shanks import per_shank, spike_shanks, split_by_shank
from driftqc.metrics.unit_drift import summarize_unit_drift, unit_drift_metrics
from driftqc.metrics.unit_localisation import UnitPositions, localise_units
from driftqc.metrics.unit_matching import SessionUnits, match_units

__all__ = [
    "DepthCounts",
    "DriftSummary",
    "DriftTrace",
    "EventParams",
    "NonRigidDrift",
    "QCThresholds",
    "SessionShifts",
    "SessionUnits",
    "UnitPositions",
    "between_session_shifts",
    "detect_band_events",
    "estimate_drift_trace",
    "estimate_nonrigid_drift",
    "find_drift_events",
    "localise_units",
    "match_units",
    "per_shank",
    "qc_flags",
    "qc_row",
    "session_depth_profiles",
    "spike_shanks",
    "split_by_shank",
    "summarize_trace",
    "summarize_unit_drift",
    "trace_from_displacement",
    "unit_drift_metrics",
    "unit_session_shifts",
]
