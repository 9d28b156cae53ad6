"""Between-session shifts of a batch: every session against its reference, per shank."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from driftqc.errors import DriftQCError
from driftqc.metrics import DepthCounts, SessionShifts, between_session_shifts
from driftqc.model import SpikeTable
from driftqc.qc.drift import ALL_SHANKS


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


def shifts_by_session(table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``session -> {shank key: shift (µm) or None}`` from a shift table."""
    out: dict[str, dict[str, float | None]] = {}
    for row in table.itertuples():
        value = row.shift_um if row.status == "ok" else None
        value = float(value) if value is not None and np.isfinite(float(value)) else None
        out.setdefault(str(row.session), {})[str(row.shank)] = value
    return out
