"""The steps across sessions: amplitude summary, between-session shifts, QC tables, grid.

They read every session's per-session results. A session whose record cannot be read or
used, whatever the reason (a failure record, a truncated file, a record of the wrong shape),
is treated as failed and listed as such: one bad session never stops a summary. Each
session's part of a summary is read under :class:`driftqc.pipeline.guard.SessionGuard`, so
its traceback goes to the step's log (``sys.stderr``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from driftqc.pipeline.cache import (
    load_kept_templates,
    load_selection,
    load_template_shanks,
    load_units,
)
from driftqc.pipeline.guard import SessionGuard
from driftqc.pipeline.session import read_json, write_json
from driftqc.qc.session import rounded, summary_table

__all__ = ["amplitude_summary_step", "grid_step", "qc_summary_step", "session_shifts_step"]

PathLike = Path | str


def amplitude_summary_step(
    sessions: Sequence[str],
    records: Sequence[PathLike],
    samples: Sequence[PathLike],
    *,
    table: PathLike,
    figure: PathLike,
    shared: PathLike,
    percentiles: Sequence[float],
    shared_percentiles: Sequence[float],
) -> dict[str, object]:
    """Amplitude quantiles of every session, their distributions and the shared range.

    Parameters
    ----------
    sessions
        Session ids, in table order.
    records, samples
        Each session's QC record and amplitude sample (from
        :func:`driftqc.pipeline.session.qc_step`).
    table, figure, shared
        Outputs: quantile table (TSV), distribution figure, shared range (JSON).
    percentiles, shared_percentiles
        Percentiles reported per session; ``[low, high]`` pooled percentiles bounding the
        shared range.

    Returns
    -------
    dict
        The shared range as written.
    """
    from driftqc.plotting.batch import plot_amplitude_distributions
    from driftqc.qc import amplitude_summary

    values: dict[str, np.ndarray | None] = {}
    units: dict[str, str | None] = {}
    for sid, record_path, sample_path in zip(sessions, records, samples, strict=True):
        values[sid], units[sid] = None, None
        with SessionGuard("amplitude_summary") as guard:
            record = _read_record(record_path)
            if record["status"] == "ok":
                values[sid] = _amplitude_sample(sample_path)
                units[sid] = record.get("amplitude_unit")
        if guard.failed:
            values[sid] = None
    quantiles, shared_range = amplitude_summary(
        values, units, quantiles=percentiles, shared_quantiles=shared_percentiles
    )
    rounded(quantiles).to_csv(table, sep="\t", index=False)
    write_json(shared, shared_range)
    if shared_range["warning"]:
        print(f"WARNING: {shared_range['warning']}", file=sys.stderr)
    plot_amplitude_distributions(values, units, shared_range).savefig(figure, dpi=120)
    return shared_range


def session_shifts_step(
    sessions: Sequence[str],
    selections: Sequence[PathLike],
    *,
    table: PathLike,
    figure: PathLike,
    reference: str | Mapping[str, str] | None,
    max_shift_um: float,
    details: Mapping[str, Mapping[str, object]] | None = None,
    match_options: Mapping[str, float] | None = None,
) -> None:
    """Shift of every session from its subject's reference session (per shank), and the kymograph.

    Parameters
    ----------
    sessions
        Session ids, in table order.
    selections
        Each session's selection (or failure record).
    table, figure
        Outputs: shift table (TSV) and kymograph.
    reference
        Reference session id, or ``subject -> session id`` (None: each subject's earliest
        session that did not fail).
    max_shift_um
        Largest shift searched, µm.
    details
        ``session id -> {"subject": ..., "date": ...}`` from the session list: shifts are
        measured within a subject, from its earliest session by default.
    match_options
        Options of :func:`driftqc.metrics.unit_matching.match_units`.
    """
    from driftqc.metrics import DepthCounts
    from driftqc.plotting.batch import plot_shift_kymographs
    from driftqc.qc import batch_session_shifts, shank_tables
    from driftqc.qc.session_shifts import shank_units

    tables: dict[str, dict | None] = {}
    units: dict[str, dict | None] = {}
    for sid, path in zip(sessions, selections, strict=True):
        tables[sid] = units[sid] = None
        with SessionGuard("session_shifts") as guard:
            # each session is reduced to its depth counts and units before the next is read
            kept = load_selection(path).kept
            spikes = shank_tables(kept, load_template_shanks(path))
            cached = load_units(path)
            if cached is not None:
                units[sid] = shank_units(
                    spikes,
                    cached.positions,
                    cached.channel_positions,
                    cached.channel_shanks,
                    waveforms=cached.waveforms,
                    frame=cached.frame,
                )
            tables[sid] = {key: DepthCounts.of(part) for key, part in spikes.items()}
            del spikes, kept
        if guard.failed:
            tables[sid] = units[sid] = None
            print(f"{sid}: not compared ({guard.reason})", file=sys.stderr)
    details = details or {}
    shift_table, shifts = batch_session_shifts(
        tables,
        reference=reference,
        max_shift_um=max_shift_um,
        units=units,
        subjects={sid: _text(details.get(sid, {}).get("subject")) for sid in sessions},
        dates={sid: _text(details.get(sid, {}).get("date")) for sid in sessions},
        match_options=match_options,
    )
    rounded(shift_table).to_csv(table, sep="\t", index=False)
    failed = [sid for sid, counts in tables.items() if counts is None]
    plot_shift_kymographs(shifts, failed).savefig(figure, dpi=120)


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def qc_summary_step(
    sessions: Sequence[str],
    records: Sequence[PathLike],
    *,
    table: PathLike,
    drift_table: PathLike,
    drift_records: Sequence[PathLike] | None = None,
    shifts: PathLike | None = None,
    details: Mapping[str, Mapping[str, object]] | None = None,
    thresholds: Mapping[str, object] | None = None,
) -> None:
    """Write the QC table of all sessions (drift verdicts joined) and the drift QC table.

    Parameters
    ----------
    sessions
        Session ids, in row order.
    records
        Each session's QC record.
    table, drift_table
        Outputs: ``qc.tsv`` (one row per session, the columns of
        :data:`driftqc.qc.session.SUMMARY_COLUMNS`, rounded; every other number stays in
        each session's ``qc.json``) and ``drift_qc.tsv`` (every drift number, per shank,
        rounded).
    drift_records
        Each session's drift QC record; None when drift QC is off.
    shifts
        The between-session shift table, when drift QC is on.
    details
        ``session id -> subject, date, label``.
    thresholds
        Warn/fail levels.
    """
    import pandas as pd

    from driftqc.metrics import QCThresholds
    from driftqc.qc import drift_qc_table, failed_drift_qc, failed_qc, qc_table, with_drift_columns

    qc_records = _records(sessions, records, failed_qc)
    drift = None
    if drift_records:
        drift = _records(sessions, drift_records, failed_drift_qc)
    shift_table = None
    if shifts:
        shift_table = pd.read_csv(shifts, sep="\t", dtype={"session": str, "shank": str})
    levels = QCThresholds.from_mapping(thresholds or {})
    drift_rows = drift_qc_table(drift or dict.fromkeys(qc_records), shift_table, levels)
    rows = with_drift_columns(qc_table(qc_records, details), drift_rows)
    # the reviewer's columns, rounded; the rest is in each session's qc.json / drift_qc.json
    summary_table(rows).to_csv(table, sep="\t", index=False)
    rounded(drift_rows).to_csv(drift_table, sep="\t", index=False)
    for row in rows.itertuples():
        if row.status != "ok":
            print(f"{row.session}: {row.error}", file=sys.stderr)


def grid_step(
    sessions: Sequence[str],
    selections: Sequence[PathLike],
    drift_maps: Sequence[PathLike],
    *,
    png: PathLike,
    pdf: PathLike,
    titles: Mapping[str, str],
    options: Mapping[str, object],
    layout: Mapping[str, object],
    shared: PathLike | None = None,
    shifts: PathLike | None = None,
) -> None:
    """All sessions on one depth axis (PNG, a row per shank), and one page per session (PDF).

    The grid is laid out from each session's templates, then each session is read, drawn
    and dropped in turn, so memory stays at one session's spikes. A session that cannot be
    read or drawn gets a panel saying why.

    Parameters
    ----------
    sessions
        Session ids, in panel order.
    selections
        Each session's selection (or failure record).
    drift_maps
        Each session's drift map image (pages of the PDF).
    png, pdf
        Outputs.
    titles
        ``session id -> panel title``.
    options
        Drawing options (as for the drift maps).
    layout
        ``columns``, ``column_width``, ``height``, ``dpi``.
    shared
        The shared amplitude range (JSON), when the shared scale is on.
    shifts
        The between-session shift table, when drift QC is on.
    """
    import pandas as pd

    from driftqc.plotting.batch import SessionGrid, save_image_pages
    from driftqc.qc import choose_scaling, shank_keys, shank_selections, shifts_by_session

    shared_range = read_json(shared) if shared else None
    by_session = None
    if shifts:
        by_session = shifts_by_session(pd.read_csv(shifts, sep="\t", dtype={"session": str}))
    scaling, note = choose_scaling(options["scaling"], shared_range)
    failed: dict[str, str] = {}
    keys: dict[str, list[object]] = {}
    shanks: dict[str, np.ndarray | None] = {}
    for sid, path in zip(sessions, selections, strict=True):
        with SessionGuard("grid") as guard:
            shanks[sid] = load_template_shanks(path)
            keys[sid] = shank_keys(load_kept_templates(path), shanks[sid], sid)
        if guard.reason is not None:
            failed[sid] = guard.reason
            keys.pop(sid, None)
    grid = SessionGrid(
        list(sessions),
        keys,
        titles=titles,
        map_options={**options, "scaling": scaling},
        columns=layout["columns"],
        column_width=layout["column_width"],
        height=layout["height"],
        shifts=by_session,
        note=f"amplitude scale: {note.get('reason') or 'shared'}",
    )
    for sid, path in zip(sessions, selections, strict=True):
        if sid in failed:
            grid.draw(sid, failed[sid])
            continue
        with SessionGuard("grid") as guard:
            grid.draw(sid, shank_selections(load_selection(path), shanks[sid]))
        if guard.reason is not None:
            grid.draw(sid, guard.reason)
    grid.finish().savefig(png, dpi=layout["dpi"])
    save_image_pages(drift_maps, pdf)


def _records(sessions: Sequence[str], paths: Sequence[PathLike], failed: object) -> dict:
    """Read each session's JSON record; an unreadable one becomes a failure record."""
    records = {}
    for sid, path in zip(sessions, paths, strict=True):
        with SessionGuard("qc_summary") as guard:
            records[sid] = _read_record(path)
        if guard.failure is not None:
            records[sid] = failed(guard.failure.reason, guard.failure.stage)  # type: ignore[operator]
    return records


def _read_record(path: PathLike) -> dict:
    record = read_json(path)
    if not isinstance(record, dict) or record.get("status") not in ("ok", "failed"):
        raise ValueError(f"{path} is not a driftqc record (no 'status' ok or failed)")
    return record


def _amplitude_sample(path: PathLike) -> np.ndarray:
    values = np.load(path, allow_pickle=False)
    if values.ndim != 1 or values.dtype.kind not in "fiu":
        raise ValueError(f"{path} should hold a vector of amplitudes, found {values.dtype}")
    values = values.astype(np.float64)
    return values[np.isfinite(values)]
