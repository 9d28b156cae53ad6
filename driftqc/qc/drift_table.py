"""Drift QC of a batch: between-session shifts and the per-session, per-shank table."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from driftqc.errors import DriftQCError
from driftqc.metrics import (
    DepthCounts,
    QCThresholds,
    SessionShifts,
    between_session_shifts,
    qc_row,
)
from driftqc.model import SpikeTable
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
    "n_drift_events",
    "unit_drift_ptp_q50_um",
    "unit_drift_ptp_q90_um",
    "sorter_mean_abs_drift_um",
    "sorter_peak_to_peak_um",
    "raw_frame_peak_to_peak_um",
)


def batch_session_shifts(
    tables: Mapping[str, Mapping[object, SpikeTable | DepthCounts] | None],
    *,
    reference: str | None = None,
    max_shift_um: float = 200.0,
) -> tuple[pd.DataFrame, dict[object, SessionShifts]]:
    """Shift of every session from a reference session, for the probe and each shank.

    Parameters
    ----------
    tables
        ``session id -> {shank key: spikes}`` (see :func:`shank_tables`), or None for a
        failed session, in session order. The spikes may be given as their
        :class:`~driftqc.metrics.DepthCounts` (2 µm bins), so that a batch need not hold
        every session's spikes at once.
    reference
        Reference session id (default: the first session that did not fail). A reference
        that failed or is unknown falls back to the first usable session, noted in the
        table's ``note`` column.
    max_shift_um
        Largest shift searched, µm.

    Returns
    -------
    table : pandas.DataFrame
        One row per session and shank key: ``session``, ``shank``, ``status`` ("ok",
        "failed", or "not compared" when the sessions cannot be registered together, e.g.
        depths in different frames; ``note`` says why), ``shift_um``,
        ``peak_correlation``, ``is_reference``, ``reference``, ``frame``, ``units`` (µm),
        ``note``.
    shifts : dict
        The :class:`~driftqc.metrics.SessionShifts` (kymograph data) per shank key.
    """
    usable = {sid: t for sid, t in tables.items() if t is not None}
    rows: list[dict[str, object]] = []
    results: dict[object, SessionShifts] = {}
    note = ""
    chosen = reference
    if usable and (chosen is None or chosen not in usable):
        if chosen is not None:
            note = f"reference {chosen} is unusable (failed or unknown); using the first session"
        chosen = next(iter(usable))
    keys: list[object] = []
    for t in usable.values():
        keys += [k for k in t if k not in keys]
    for key in keys:
        ids = [sid for sid, t in usable.items() if key in t and len(t[key])]
        if chosen not in ids:
            continue
        try:
            shifts = between_session_shifts(
                [usable[sid][key] for sid in ids],
                names=ids,
                reference=chosen,
                max_shift_um=max_shift_um,
            )
        except DriftQCError as exc:  # e.g. sessions in different depth frames
            rows += [
                {
                    "session": sid,
                    "shank": str(key),
                    "status": "not compared",
                    "units": "µm",
                    "reference": chosen,
                    "note": str(exc),
                }  # fmt: skip
                for sid in ids
            ]
            continue
        results[key] = shifts
        frame = shifts.to_frame()
        for row in frame.itertuples():
            rows.append(
                {
                    "session": row.session,
                    "shank": str(key),
                    "status": "ok",
                    "shift_um": row.shift_um,
                    "peak_correlation": row.peak_correlation,
                    "is_reference": bool(row.is_reference),
                    "reference": chosen,
                    "frame": shifts.frame,
                    "units": "µm",
                    "note": note,
                }
            )
    for sid, t in tables.items():
        if t is None:
            rows.append(
                {
                    "session": sid,
                    "shank": ALL_SHANKS,
                    "status": "failed",
                    "units": "µm",
                    "note": "session failed: not compared",
                }  # fmt: skip
            )
    columns = ["session", "shank", "status", "shift_um", "peak_correlation", "is_reference",
               "reference", "frame", "units", "note"]  # fmt: skip
    order = {sid: i for i, sid in enumerate(tables)}
    rows.sort(key=lambda r: (order[r["session"]], r["shank"] != ALL_SHANKS, str(r["shank"])))
    table = pd.DataFrame(rows, columns=columns)
    return table, results


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
        shift = _shift_of(shifts, session, key)
        units = record["unit_drift"].get(key) or record["unit_drift"].get(ALL_SHANKS)  # type: ignore[union-attr]
        events = record["n_events"]
        if key == ALL_SHANKS and record["shanks"]:
            n_events = sum(v for v in events.values() if v is not None) if events else None  # type: ignore[union-attr]
        else:
            n_events = events.get(key) if events else None  # type: ignore[union-attr]
        extra = {
            "n_drift_events": n_events,
            "unit_drift_ptp_q50_um": (units or {}).get("drift_ptp", {}).get("q50"),
            "unit_drift_ptp_q90_um": (units or {}).get("drift_ptp", {}).get("q90"),
            "sorter_mean_abs_drift_um": sorter.get("mean_abs_drift_um"),
            "sorter_peak_to_peak_um": sorter.get("peak_to_peak_um"),
            "raw_frame_peak_to_peak_um": (raw.get(key) or {}).get("peak_to_peak_um"),
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


def _shift_of(shifts: pd.DataFrame | None, session: str, key: str) -> float | None:
    if shifts is None or not len(shifts):
        return None
    match = shifts[(shifts["session"] == session) & (shifts["shank"].astype(str) == key)]
    if not len(match) or match["status"].iloc[0] != "ok":
        return None
    value = float(match["shift_um"].iloc[0])
    return value if np.isfinite(value) else None


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
        (pass / warn / fail, ``failed`` or ``disabled``), ``reasons`` and the numbers of
        :func:`drift_qc_rows`.
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


def shifts_by_session(table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``session -> {shank key: shift (µm) or None}`` from a shift table."""
    out: dict[str, dict[str, float | None]] = {}
    for row in table.itertuples():
        value = row.shift_um if row.status == "ok" else None
        value = float(value) if value is not None and np.isfinite(float(value)) else None
        out.setdefault(str(row.session), {})[str(row.shank)] = value
    return out
