"""Between-session shifts of a batch: every session against its subject's reference, per shank.

Shifts are measured only among the sessions of one **subject** (the session list's
``subject`` field; sessions without one form one group), each subject against its own
**reference** session: the one named for it (``reference`` may name one session id, or map
subject → session id), else its earliest session (by ``date``, then list order). Sessions
whose positions are in another frame than their reference's (raw against registered) are
``not compared``.

When every session of a comparison has its units
(:class:`~driftqc.metrics.unit_matching.SessionUnits`) the shift comes from matched units
(:func:`~driftqc.metrics.between_sessions.unit_session_shifts`); otherwise from the depth
profiles of the spikes (``method`` says which).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from driftqc.errors import DriftQCError
from driftqc.metrics import DepthCounts, SessionShifts, between_session_shifts
from driftqc.metrics.between_sessions import unit_session_shifts
from driftqc.metrics.unit_localisation import UnitPositions
from driftqc.metrics.unit_matching import SessionUnits, session_units
from driftqc.model import SpikeTable
from driftqc.qc.drift import ALL_SHANKS

#: row statuses of the shift table
STATUSES = ("ok", "uncertain", "failed", "not compared")
COLUMNS = [
    "session", "subject", "shank", "status", "shift_um", "uncertainty_um", "method",
    "n_matched", "n_comparable", "spread_um", "contrast", "peak_correlation", "is_reference",
    "reference", "frame", "units", "note",
]  # fmt: skip


def batch_session_shifts(
    tables: Mapping[str, Mapping[object, SpikeTable | DepthCounts] | None],
    *,
    reference: str | Mapping[str, str] | None = None,
    max_shift_um: float = 200.0,
    units: Mapping[str, Mapping[object, SessionUnits] | None] | None = None,
    subjects: Mapping[str, str | None] | None = None,
    dates: Mapping[str, str | None] | None = None,
    match_options: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, dict[object, SessionShifts]]:
    """Shift of every session from its subject's reference session, for the probe and each shank.

    Parameters
    ----------
    tables
        ``session id -> {shank key: spikes}`` (see :func:`shank_tables`), or None for a
        failed session, in session order. The spikes may be given as their
        :class:`~driftqc.metrics.DepthCounts` (2 µm bins), so that a batch need not hold
        every session's spikes at once.
    reference
        Reference session id, or ``subject -> session id``. A subject without one (or whose
        reference failed or is unknown, noted in ``note``) uses its earliest usable session.
    max_shift_um
        Largest shift searched, µm.
    units
        ``session id -> {shank key: SessionUnits}`` (None or missing: no units, the depth
        profiles are registered instead).
    subjects, dates
        ``session id -> subject`` / ``-> date`` (ISO text); missing: one subject, list order.
    match_options
        Options of :func:`~driftqc.metrics.unit_matching.match_units`.

    Returns
    -------
    table : pandas.DataFrame
        One row per session and shank key, columns :data:`COLUMNS`: ``status`` is "ok",
        "uncertain" (no distinctive match: ``shift_um`` empty), "failed", or "not compared"
        (``note`` says why: other frame, no spikes on the shank, ...); ``shift_um`` and
        ``uncertainty_um`` in µm (positive = activity at larger y than in the reference).
    shifts : dict
        The :class:`~driftqc.metrics.SessionShifts` (kymograph data) per shank key, or per
        ``(subject, shank key)`` when there is more than one subject.
    """
    subjects = subjects or {}
    usable = {sid: t for sid, t in tables.items() if t is not None}
    groups: dict[str, list[str]] = {}
    for sid in tables:
        groups.setdefault(str(subjects.get(sid) or ""), []).append(sid)
    rows: list[dict[str, object]] = []
    results: dict[object, SessionShifts] = {}
    for subject, members in groups.items():
        chosen, note = _choose_reference(subject, members, usable, reference, dates or {})
        if chosen is None:
            continue
        keys: list[object] = []
        for sid in members:
            keys += [k for k in usable.get(sid, {}) if k not in keys]
        for key in keys:
            found = _compare(
                [sid for sid in members if sid in usable],
                key,
                chosen,
                usable,
                units or {},
                max_shift_um,
                dict(match_options or {}),
            )
            if found is None:
                continue
            part, result = found
            for row in part:
                row.update(subject=subject or None, shank=str(key), reference=chosen)
                if note and not row.get("note"):
                    row["note"] = note
            rows += part
            if result is not None:
                results[(subject, key) if len(groups) > 1 else key] = result
    for sid, t in tables.items():
        if t is None:
            rows.append(
                {
                    "session": sid,
                    "subject": subjects.get(sid),
                    "shank": ALL_SHANKS,
                    "status": "failed",
                    "note": "session failed: not compared",
                }  # fmt: skip
            )
    for row in rows:
        row["units"] = "µm"
    order = {sid: i for i, sid in enumerate(tables)}
    rows.sort(key=lambda r: (order[r["session"]], r["shank"] != ALL_SHANKS, str(r["shank"])))
    table = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("n_matched", "n_comparable"):
        table[column] = pd.to_numeric(table[column]).round().astype("Int64")
    table["contrast"] = pd.to_numeric(table["contrast"]).round(2)
    return table, results


def _choose_reference(
    subject: str,
    members: list[str],
    usable: Mapping[str, object],
    reference: str | Mapping[str, str] | None,
    dates: Mapping[str, str | None],
) -> tuple[str | None, str]:
    """Return the subject's reference session, and a note when the one asked for is unusable."""
    candidates = [sid for sid in members if sid in usable]
    if not candidates:
        return None, ""
    asked = reference.get(subject) if isinstance(reference, Mapping) else reference
    if asked in candidates:
        return str(asked), ""
    in_group = isinstance(reference, Mapping) or asked in members
    note = ""
    if asked is not None and (in_group or asked not in usable):
        note = f"reference {asked} is unusable (failed or unknown); using the earliest session"
    dated = sorted(
        range(len(candidates)),
        key=lambda i: (dates.get(candidates[i]) in (None, ""), str(dates.get(candidates[i])), i),
    )
    return candidates[dated[0]], note


def _compare(
    ids: list[str],
    key: object,
    chosen: str,
    usable: Mapping[str, Mapping[object, SpikeTable | DepthCounts]],
    units: Mapping[str, Mapping[object, SessionUnits] | None],
    max_shift_um: float,
    match_options: dict[str, float],
) -> tuple[list[dict[str, object]], SessionShifts | None] | None:
    """Rows (and result) of one subject's sessions on one shank key."""
    present = [sid for sid in ids if key in usable[sid] and len(usable[sid][key])]
    if chosen not in present:
        return None
    with_units = {
        sid: (units.get(sid) or {}).get(key)
        for sid in present
        if (units.get(sid) or {}).get(key) is not None
    }
    use_units = len(with_units) == len(present)
    frame_of = {
        sid: with_units[sid].frame if use_units else _frame(usable[sid][key]) for sid in present
    }
    same = [sid for sid in present if frame_of[sid] == frame_of[chosen]]
    rows: list[dict[str, object]] = []
    for sid in present:
        if sid not in same:
            rows.append(
                {
                    "session": sid,
                    "status": "not compared",
                    "frame": frame_of[sid],
                    "note": f"depth frame {frame_of[sid]!r}; the sessions are in frames "
                    f"{sorted(set(frame_of.values()))}: only sessions in one frame are compared",
                }  # fmt: skip
            )
    if len(same) < 2:  # nothing to compare the reference with: no row is a measurement
        alone = "no other session of this subject" + (
            "" if len(present) == 1 else " in the same depth frame"
        )
        rows.append(
            {
                "session": chosen,
                "status": "not compared",
                "frame": frame_of[chosen],
                "note": f"{alone} to compare with",
            }  # fmt: skip
        )
        return rows, None
    try:
        if use_units:
            result = unit_session_shifts(
                [with_units[sid] for sid in same],
                names=same,
                reference=chosen,
                profiles=[usable[sid][key] for sid in same],
                max_shift_um=max_shift_um,
                **match_options,
            )
        else:
            result = between_session_shifts(
                [usable[sid][key] for sid in same],
                names=same,
                reference=chosen,
                max_shift_um=max_shift_um,
            )
    except DriftQCError as exc:
        return rows + [
            {"session": sid, "status": "not compared", "note": str(exc)} for sid in same
        ], None
    for row in result.to_frame().to_dict("records"):
        if not use_units and len(with_units):
            row["note"] = (
                (row.get("note") or "")
                + ("; " if row.get("note") else "")
                + "units missing for some sessions: depth profiles registered"
            )
        rows.append(row)
    return rows, result


def shank_units(
    tables: Mapping[object, SpikeTable],
    positions: UnitPositions,
    channel_positions: np.ndarray,
    channel_shanks: np.ndarray,
    *,
    waveforms: np.ndarray | None = None,
    frame: str | None = None,
) -> dict[object, SessionUnits]:
    """Split a session's units by the shank keys of :func:`shank_tables` (same keys).

    Parameters
    ----------
    tables
        ``shank key -> spikes`` (:func:`shank_tables`): a unit belongs to a key when its
        spikes do.
    positions
        Point-source fit of every template.
    channel_positions, channel_shanks
        Probe geometry: the channels of a shank bound where its units can be seen.
    waveforms
        (n_templates, n_samples) unit-norm peak-channel waveforms, or None.
    frame
        Frame of ``positions`` (the sorter's saved frame).

    Returns
    -------
    dict
        ``shank key -> SessionUnits``.
    """
    y = np.asarray(channel_positions, dtype=np.float64)[:, 1]
    shanks = np.asarray(channel_shanks)
    out: dict[object, SessionUnits] = {}
    for key, spikes in tables.items():
        channel_y = y if key == ALL_SHANKS else y[shanks == key]
        out[key] = session_units(
            spikes, positions, channel_y if channel_y.size else y, waveforms=waveforms,
            frame=frame,
        )  # fmt: skip
    return out


def _frame(spikes: SpikeTable | DepthCounts) -> str:
    return spikes.frame if isinstance(spikes, DepthCounts) else spikes.info.depth_frame


def shifts_by_session(table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``session -> {shank key: shift (µm) or None}`` from a shift table (None unless ok)."""
    out: dict[str, dict[str, float | None]] = {}
    for row in table.itertuples():
        value = row.shift_um if row.status == "ok" else None
        value = float(value) if value is not None and np.isfinite(float(value)) else None
        out.setdefault(str(row.session), {})[str(row.shank)] = value
    return out
