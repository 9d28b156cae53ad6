"""Drift QC of a batch: the per-session, per-shank table and its verdicts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from driftqc.metrics import (
    QCThresholds,
    qc_row,
)
from driftqc.qc.drift import ALL_SHANKS

# columns of the drift QC table, in order (see :func:`drift_qc_table`)
DRIFT_COLUMNS = (
    "session",
    "shank",
    "drift_qc",
    "reasons",
    "drift_peak_to_peak_um",
    "drift_median_abs_um",
    "drift_p95_abs_um",
    "drift_max_step_um",
    "drift_n_bins",
    "drift_n_valid_bins",
    "n_spikes",
    "drift_bin_s",
    "drift_frame",
    "drift_source",
    "drift_units",
    "between_session_shift_um",
    "between_session_status",
    "n_drift_events",
    "unit_drift_ptp_q50_um",
    "unit_drift_ptp_q90_um",
    "sorter_mean_abs_drift_um",
    "sorter_peak_to_peak_um",
    "raw_frame_peak_to_peak_um",
    "raw_frame_max_step_um",
    "sorter_max_step_um",
    "sorter_vs_spikes_rms_um",
    "drift_measurable",
)


def drift_qc_rows(
    session: str,
    record: Mapping[str, object],
    shifts: pd.DataFrame | None = None,
    thresholds: QCThresholds | None = None,
) -> list[dict[str, object]]:
    """QC rows of one session: the whole probe, then each shank, with the verdict.

    Parameters
    ----------
    session
        Session id.
    record
        The session's drift QC record (:func:`session_drift_qc` or :func:`failed_drift_qc`).
    shifts
        Table of :func:`batch_session_shifts` (None: no between-session shift judged).
    thresholds
        Warn and fail levels.

    Returns
    -------
    list of dict
        One flat row per shank key (see :func:`driftqc.metrics.qc_row`) with ``drift_qc``
        (pass/warn/fail, or "failed") and ``reasons``; within-session numbers are prefixed
        ``drift_``; plus ``between_session_shift_um``, ``n_drift_events``,
        ``unit_drift_ptp_q50_um``/``q90``, ``sorter_mean_abs_drift_um``,
        ``sorter_peak_to_peak_um``, ``raw_frame_peak_to_peak_um``.
    """
    if record.get("status") != "ok":
        return [{"session": session, "shank": ALL_SHANKS, "drift_qc": "failed",
                 "reasons": str(record.get("error"))}]  # fmt: skip
    rows = []
    traces = record["trace"]
    sorter = record.get("sorter_motion") or {}
    raw = record.get("raw_frame_trace") or {}
    for key, summary in traces.items():  # type: ignore[union-attr]
        shift, shift_status = _shift_of(shifts, session, key)
        units = record["unit_drift"].get(key) or record["unit_drift"].get(ALL_SHANKS)  # type: ignore[union-attr]
        events = record["n_events"]
        if key == ALL_SHANKS and record["shanks"]:
            n_events = sum(v for v in events.values() if v is not None) if events else None  # type: ignore[union-attr]
        else:
            n_events = events.get(key) if events else None  # type: ignore[union-attr]
        extra = {
            "between_session_status": shift_status,
            "n_drift_events": n_events,
            "unit_drift_ptp_q50_um": (units or {}).get("drift_ptp", {}).get("q50"),
            "unit_drift_ptp_q90_um": (units or {}).get("drift_ptp", {}).get("q90"),
            "sorter_mean_abs_drift_um": sorter.get("mean_abs_drift_um"),
            "sorter_peak_to_peak_um": sorter.get("peak_to_peak_um"),
            "raw_frame_peak_to_peak_um": (raw.get(key) or {}).get("peak_to_peak_um"),
            "drift_measurable": record.get("drift_measurable", True),
            **(record.get("verdict_inputs") or {}).get(key, {}),  # type: ignore[union-attr]
        }
        row = qc_row(
            session,
            summary,
            between_session_shift_um=shift,
            n_spikes=summary.get("n_spikes"),
            thresholds=thresholds,
            extra=extra,
        )
        row["shank"] = key
        rows.append(_prefixed(row))
    return rows


def _prefixed(row: dict[str, object]) -> dict[str, object]:
    """Rename a qc_row's trace fields to drift_* and its status to drift_qc."""
    renamed = {}
    for key, value in row.items():
        if key in {"peak_to_peak_um", "median_abs_um", "p95_abs_um", "max_step_um",
                   "n_bins", "n_valid_bins", "bin_s", "frame", "source", "units"}:  # fmt: skip
            renamed[f"drift_{key}"] = value
        elif key == "status":
            renamed["drift_qc"] = value
        else:
            renamed[key] = value
    return renamed


def _shift_of(
    shifts: pd.DataFrame | None, session: str, key: str
) -> tuple[float | None, str | None]:
    """Return the session's between-session shift (µm, None unless ``ok``) and status."""
    if shifts is None or not len(shifts):
        return None, None
    match = shifts[(shifts["session"] == session) & (shifts["shank"].astype(str) == key)]
    if not len(match):
        return None, None
    status = str(match["status"].iloc[0])
    if status != "ok":
        return None, status
    value = float(match["shift_um"].iloc[0])
    return (value if np.isfinite(value) else None), status


def drift_qc_table(
    records: Mapping[str, Mapping[str, object] | None],
    shifts: pd.DataFrame | None = None,
    thresholds: QCThresholds | None = None,
) -> pd.DataFrame:
    """Drift QC rows of every session (whole probe, then each shank) with their verdicts.

    Parameters
    ----------
    records
        ``session id -> drift QC record`` in row order; None when drift QC is off (the row
        then says ``"disabled"``).
    shifts
        Between-session shift table (:func:`batch_session_shifts`).
    thresholds
        Warn and fail levels.

    Returns
    -------
    pandas.DataFrame
        Columns ``session``, ``shank`` (``"all"`` or the shank index), ``drift_qc``
        (pass / warn / fail / unmeasurable, ``failed`` or ``disabled``), ``reasons`` and the
        numbers of :func:`drift_qc_rows`.
    """
    rows: list[dict[str, object]] = []
    for sid, record in records.items():
        if record is None:
            rows.append({"session": sid, "shank": ALL_SHANKS, "drift_qc": "disabled"})
        else:
            rows += drift_qc_rows(sid, record, shifts, thresholds)
    table = pd.DataFrame(rows)
    for column in DRIFT_COLUMNS:  # the same columns whatever was measured
        if column not in table:
            table[column] = None
    return table[[*DRIFT_COLUMNS, *(c for c in table.columns if c not in DRIFT_COLUMNS)]]


def with_drift_columns(qc: pd.DataFrame, drift: pd.DataFrame) -> pd.DataFrame:
    """Join the whole-probe drift QC numbers onto the QC table (one row per session).

    Adds ``drift_qc`` and ``drift_qc_reasons`` (the verdict of the whole probe),
    ``shank_qc`` (``"0: pass; 1: warn"`` on multi-shank probes, else empty), the ``drift_*``
    numbers, ``between_session_shift_um`` and the other drift columns; ``n_spikes`` of the
    drift rows (spikes measured) becomes ``drift_n_spikes``.
    """
    whole = drift[drift["shank"].astype(str) == ALL_SHANKS].drop(columns=["shank"])
    whole = whole.rename(columns={"reasons": "drift_qc_reasons", "n_spikes": "drift_n_spikes"})
    per_shank = drift[drift["shank"].astype(str) != ALL_SHANKS]
    shank_qc = {
        sid: "; ".join(f"{row.shank}: {row.drift_qc}" for row in group.itertuples())
        for sid, group in per_shank.groupby("session", sort=False)
    }
    whole = whole.assign(shank_qc=[shank_qc.get(sid, "") for sid in whole["session"]])
    merged = qc.merge(whole, on="session", how="left")
    counts = [c for c in ("drift_n_spikes", "drift_n_bins", "drift_n_valid_bins",
                          "n_drift_events") if c in merged]  # fmt: skip
    return merged.astype({c: "Int64" for c in counts})
