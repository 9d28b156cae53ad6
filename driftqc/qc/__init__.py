"""Quality control of sessions and batches: what a drift map drew from, and how much drift.

* :mod:`driftqc.qc.session`: one session's QC numbers (spike counts per filter, duration,
  depth range, amplitude quantiles) and the batch QC table.
* :mod:`driftqc.qc.amplitude_scale`: the amplitude range a batch can share, so that one grey
  level means one amplitude in every session's drift map.
* :mod:`driftqc.qc.drift`: one session's drift QC (traces, events, per-unit drift, per shank).
* :mod:`driftqc.qc.drift_table`: the drift QC table of a batch, with its verdicts.
* :mod:`driftqc.qc.session_shifts`: between-session shifts of a batch.

Everything here is a pure function of arrays, selections and dictionaries; reading and
writing files is left to the caller.
"""

from driftqc.qc.amplitude_scale import (
    SAMPLE_SIZE,
    SHARED_QUANTILES,
    amplitude_sample,
    amplitude_summary,
    choose_scaling,
)
from driftqc.qc.drift import (
    ALL_SHANKS,
    DriftQCOptions,
    SessionDriftQC,
    failed_drift_qc,
    session_drift_qc,
    shank_keys,
    shank_selections,
    shank_tables,
    trace_table,
)
from driftqc.qc.drift_table import (
    DRIFT_COLUMNS,
    drift_qc_rows,
    drift_qc_table,
    with_drift_columns,
)
from driftqc.qc.session import QUANTILES, failed_qc, qc_table, quantile_key, session_qc
from driftqc.qc.session_shifts import batch_session_shifts, shifts_by_session

__all__ = [
    "ALL_SHANKS",
    "DRIFT_COLUMNS",
    "QUANTILES",
    "SAMPLE_SIZE",
    "SHARED_QUANTILES",
    "DriftQCOptions",
    "SessionDriftQC",
    "amplitude_sample",
    "amplitude_summary",
    "batch_session_shifts",
    "choose_scaling",
    "drift_qc_rows",
    "drift_qc_table",
    "failed_drift_qc",
    "failed_qc",
    "qc_table",
    "quantile_key",
    "session_drift_qc",
    "session_qc",
    "shank_keys",
    "shank_selections",
    "shank_tables",
    "shifts_by_session",
    "trace_table",
    "with_drift_columns",
]
