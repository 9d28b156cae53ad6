"""Drift QC of one session: traces, drift events and per-unit drift, per shank.

Within-session numbers come from one session's filtered spikes (per shank on multi-shank
probes); the between-session shift and the pass/warn/fail verdicts that depend on it are
joined in the batch table (:mod:`driftqc.qc.drift_table`), when every session is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from driftqc.errors import EmptySelectionError
from driftqc.frames import RECONSTRUCTED, to_raw_frame, to_registered_frame
from driftqc.geometry import spike_shanks, split_by_shank
from driftqc.metrics import (
    DriftTrace,
    QCThresholds,
    estimate_drift_trace,
    find_drift_events,
    qc_flags,
    summarize_unit_drift,
    unit_drift_metrics,
)
from driftqc.metrics.events import EVENT_COLUMNS
from driftqc.metrics.frames import sorter_drift_trace, sorter_motion_summary
from driftqc.model import SorterMotion, SpikeTable
from driftqc.selection import Selection

ALL_SHANKS = "all"


@dataclass(frozen=True)
class DriftQCOptions:
    """Options of a session's drift QC (see ``drift_qc`` in the workflow configuration).

    Attributes
    ----------
    bin_s
        Time-bin width of the drift trace, s.
    max_shift_um
        Largest within-session displacement searched, µm.
    min_spikes_per_bin
        Time bins with fewer spikes are not measured.
    events
        Detect drift events (cortex-lab band tracker).
    unit_interval_s
        Window length of the per-unit drift metrics, s; None: from the session's duration
        (at least 4 windows of at most 60 s, see :mod:`driftqc.metrics.unit_drift`).
    """

    bin_s: float = 10.0
    max_shift_um: float = 100.0
    min_spikes_per_bin: int = 100
    events: bool = True
    unit_interval_s: float | None = None


@dataclass(frozen=True)
class SessionDriftQC:
    """Drift QC of one session: traces, events, per-unit drift and their JSON record.

    Attributes
    ----------
    traces
        Drift trace per shank key (``"all"`` for the whole probe, then each shank index on
        multi-shank probes), in the frame of the selection's depths.
    events
        Drift events with a ``shank`` column (empty when events are off).
    unit_drift
        Per-unit drift table with a ``shank`` column.
    raw_traces
        For sessions with a sorter motion estimate: traces of the raw-frame spikes, per
        shank key (else empty).
    raw_selection
        The selection moved to the raw frame (None without a motion estimate).
    selection
        The selection measured for ``traces`` (in the saved frame).
    sorter_trace
        The sorter's own estimate as a trace (None without one).
    record
        JSON-serialisable summary (see :func:`session_drift_qc`).
    """

    traces: dict[object, DriftTrace]
    events: pd.DataFrame
    unit_drift: pd.DataFrame
    raw_traces: dict[object, DriftTrace]
    raw_selection: Selection | None
    sorter_trace: DriftTrace | None
    record: dict[str, object]
    selection: Selection | None = None


def shank_tables(
    spikes: SpikeTable, template_shanks: np.ndarray | None
) -> dict[object, SpikeTable]:
    """Spikes of the whole probe (key ``"all"``) and, on multi-shank probes, of each shank.

    A spike's shank is its template's shank (:func:`driftqc.geometry.split_by_shank`; the
    per-template shanks are precomputed in the spike cache because the cache keeps no
    waveforms). Shank keys are added only when the spikes lie on more than one shank.

    Raises
    ------
    SortingFormatError
        When a spike's template has no shank.
    """
    tables: dict[object, SpikeTable] = {ALL_SHANKS: spikes}
    if template_shanks is None or len(spikes) == 0:
        return tables
    parts = split_by_shank(spikes, template_shanks)
    if len(parts) > 1:
        tables.update(parts)
    return tables


def shank_keys(
    templates: np.ndarray, template_shanks: np.ndarray | None, session: str = ""
) -> list[object]:
    """Return the keys :func:`shank_tables` would give spikes of these templates, unsplit.

    Raises
    ------
    SortingFormatError
        When a spike's template has no shank.
    """
    if template_shanks is None or len(templates) == 0:
        return [ALL_SHANKS]
    present = np.unique(spike_shanks(templates, template_shanks, session=session))
    return [ALL_SHANKS, *(int(s) for s in present)] if len(present) > 1 else [ALL_SHANKS]


def shank_selections(
    selection: Selection, template_shanks: np.ndarray | None
) -> dict[object, Selection]:
    """Return a selection per shank key (``"all"``, then each shank on multi-shank probes).

    Each keeps the session's filter counts; only ``kept`` and ``shown`` are split.
    """
    kept = shank_tables(selection.kept, template_shanks)
    if len(kept) == 1:
        return {ALL_SHANKS: selection}
    shown = shank_tables(selection.shown, template_shanks)
    empty = selection.shown.take(np.zeros(len(selection.shown), dtype=bool))
    return {
        key: replace(selection, kept=table, shown=shown.get(key, empty))
        for key, table in kept.items()
    }


def session_drift_qc(
    selection: Selection,
    *,
    template_shanks: np.ndarray | None = None,
    motion: SorterMotion | None = None,
    options: DriftQCOptions | None = None,
    thresholds: QCThresholds | None = None,
) -> SessionDriftQC:
    """Measure a session's drift in every frame it has: traces, events, per-unit drift.

    The spikes are measured in the frame they were saved in (``traces``); a registered
    session with the sorter's motion estimate is measured in the raw frame as well
    (``raw_traces``), and the sorter's estimate itself is kept (``sorter_trace``). A selection
    already moved to the raw frame (``frame="raw"``) is moved back first, so the record always
    describes the saved frame and the raw one.

    Parameters
    ----------
    selection
        The session's filtered spikes (``selection.kept`` is measured, not decimated).
    template_shanks
        Shank of each template (from the spike cache), or None for a single shank.
    motion
        The sorter's own motion estimate (Kilosort 4), or None.
    options
        Trace, event and unit-drift options.
    thresholds
        Warn/fail levels for the within-session verdict in the record.

    Returns
    -------
    SessionDriftQC
        Its ``record`` holds ``status`` ("ok"), ``frame``, ``drift_measurable``, ``units``,
        ``n_spikes``, ``shanks`` (the shank indices, empty for one shank), per shank key
        ``trace`` (summary numbers, µm), ``flags`` (within-session verdict), ``n_events``,
        ``unit_drift`` (quantiles) and ``verdict_inputs`` (the numbers the verdict weighs),
        then ``sorter_motion`` (Kilosort 4's own estimate), ``raw_frame`` and
        ``raw_frame_trace`` (summary of the trace on raw-frame depths), or None.
    """
    options = options or DriftQCOptions()
    given_raw = None
    if selection.kept.info.frame_source == RECONSTRUCTED and motion is not None:
        given_raw = selection
        selection = replace(
            selection,
            kept=to_registered_frame(selection.kept, motion),
            shown=to_registered_frame(selection.shown, motion),
        )
    kept = selection.kept
    tables = shank_tables(kept, template_shanks)
    trace_options = {
        "bin_s": options.bin_s,
        "max_shift_um": options.max_shift_um,
        "min_spikes": options.min_spikes_per_bin,
    }
    traces = {key: _trace(table, trace_options) for key, table in tables.items()}
    event_frames, unit_frames = [], []
    for key, table in _leaf_tables(tables).items():
        if options.events and len(table):
            found = find_drift_events(table)
            event_frames.append(found.assign(shank=key))
        units = unit_drift_metrics(table, interval_s=options.unit_interval_s)
        unit_frames.append(units.assign(shank=key))
    events = _concat(event_frames, EVENT_COLUMNS)
    unit_drift = _concat(unit_frames, ())
    raw_selection, raw_traces, sorter_trace, sorter_summary = None, {}, None, None
    if motion is not None and kept.info.depth_frame == "registered":
        raw_selection = given_raw or replace(
            selection,
            kept=to_raw_frame(kept, motion),
            shown=to_raw_frame(selection.shown, motion),
        )
        raw_tables = shank_tables(raw_selection.kept, template_shanks)
        raw_traces = {key: _trace(table, trace_options) for key, table in raw_tables.items()}
        sorter_trace = sorter_drift_trace(motion, session=kept.info.name)
        sorter_summary = sorter_motion_summary(motion)
    inputs = {
        str(k): _verdict_inputs(t, raw_traces.get(k), sorter_trace, kept.info.drift_measurable)
        for k, t in traces.items()
    }
    record: dict[str, object] = {
        "status": "ok",
        "error": None,
        "frame": kept.info.depth_frame,
        "drift_measurable": kept.info.drift_measurable,
        "units": {"depth": "µm", "time": "s", "displacement": "µm"},
        "sign": "displacement > 0: spikes at larger depth (y) than the session median",
        "n_spikes": len(kept),
        "shanks": [k for k in tables if k != ALL_SHANKS],
        "trace": {str(k): t.summary().to_dict() for k, t in traces.items()},
        "flags": {
            str(k): qc_flags(
                {**t.summary().to_dict(), **inputs[str(k)], "n_spikes": len(tables[k])},
                thresholds,
            )
            for k, t in traces.items()
        },
        "verdict_inputs": inputs,
        "n_events": {
            str(k): (int((events["shank"] == k).sum()) if options.events else None)
            for k in _leaf_tables(tables)
        },
        "unit_drift": {
            str(k): summarize_unit_drift(unit_drift[unit_drift["shank"] == k].assign())
            for k in _leaf_tables(tables)
        },
        "sorter_motion": sorter_summary,
        "raw_frame": f"raw ({RECONSTRUCTED})" if raw_selection is not None else None,
        "raw_frame_trace": {str(k): t.summary().to_dict() for k, t in raw_traces.items()} or None,
        "options": {**asdict(options)},
    }
    if not options.events:
        record["n_events"] = {}
    return SessionDriftQC(
        traces, events, unit_drift, raw_traces, raw_selection, sorter_trace, record, selection
    )


def _verdict_inputs(
    trace: DriftTrace,
    raw: DriftTrace | None,
    sorter: DriftTrace | None,
    measurable: bool,
) -> dict[str, object]:
    """Return the numbers beside the saved-frame trace that the verdict weighs."""
    values: dict[str, object] = {"drift_measurable": measurable}
    if raw is not None:
        summary = raw.summary()
        values["raw_frame_peak_to_peak_um"] = _finite_or_none(summary.peak_to_peak_um)
        values["raw_frame_max_step_um"] = _finite_or_none(summary.max_step_um)
    if sorter is not None:
        summary = sorter.summary()
        values["sorter_peak_to_peak_um"] = _finite_or_none(summary.peak_to_peak_um)
        values["sorter_max_step_um"] = _finite_or_none(summary.max_step_um)
    if raw is not None and sorter is not None:
        values["sorter_vs_spikes_rms_um"] = trace_disagreement(raw, sorter)
    return values


def trace_disagreement(trace: DriftTrace, other: DriftTrace) -> float | None:
    """RMS difference (µm) between two traces of one session, each relative to its mean.

    ``other`` (e.g. the sorter's estimate, one value per 2-s batch) is averaged over each of
    ``trace``'s valid bins (sampled at 32 points across the bin), so a step inside a bin is
    compared with what the bin's spikes saw; None when fewer than two bins can be compared.
    """
    use = np.asarray(trace.valid, dtype=bool) & np.isfinite(trace.displacement_um)
    ok = np.asarray(other.valid, dtype=bool) & np.isfinite(other.displacement_um)
    if use.sum() < 2 or ok.sum() < 2:
        return None
    other_centres = 0.5 * (other.time_edges[:-1] + other.time_edges[1:])
    starts, stops = trace.time_edges[:-1][use], trace.time_edges[1:][use]
    fractions = (np.arange(32) + 0.5) / 32
    samples = starts[:, None] + (stops - starts)[:, None] * fractions[None, :]
    theirs = np.interp(samples, other_centres[ok], other.displacement_um[ok]).mean(axis=1)
    mine = trace.displacement_um[use]
    difference = (mine - mine.mean()) - (theirs - theirs.mean())
    return float(np.sqrt(np.mean(difference**2)))


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def failed_drift_qc(message: str, stage: str = "load") -> dict[str, object]:
    """Drift QC record of a session that could not be processed."""
    return {"status": "failed", "error": f"{stage} failed: {message}"}


def trace_table(result: SessionDriftQC) -> pd.DataFrame:
    """Every trace of a session as one long table (``shank`` and ``frame`` columns)."""
    frames = [t.to_frame().assign(shank=str(k)) for k, t in result.traces.items()]
    frames += [t.to_frame().assign(shank=str(k)) for k, t in result.raw_traces.items()]
    if result.sorter_trace is not None:
        frames.append(result.sorter_trace.to_frame().assign(shank=ALL_SHANKS))
    return pd.concat(frames, ignore_index=True)


def _trace(table: SpikeTable, options: Mapping[str, object]) -> DriftTrace:
    if len(table) == 0:
        raise EmptySelectionError(f"session {table.info.name!r}: no spikes left to measure drift")
    return estimate_drift_trace(table, **options)  # type: ignore[arg-type]


def _leaf_tables(tables: Mapping[object, SpikeTable]) -> dict[object, SpikeTable]:
    """Return the per-shank tables, or the whole probe when there is one shank."""
    leaves = {k: t for k, t in tables.items() if k != ALL_SHANKS}
    return leaves or dict(tables)


def _concat(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame(columns=[*columns, "shank"])
