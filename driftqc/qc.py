"""Quality-control numbers of sessions, and the amplitude scale a batch can share.

Per session, QC answers "what did the drift map draw from?": how many spikes the sorter
found, how many each filter removed, how long the recording is, which depths hold spikes,
and how large the amplitudes are (quantiles of the amplitudes of the spikes that passed the
filters, in the session's own unit: µV when ``params.py`` gave a gain, else arbitrary units).

Across sessions, drift maps are only comparable by eye when one grey level means one
amplitude everywhere. :func:`amplitude_summary` pools the sessions' amplitudes, giving every
session the same weight whatever its length, and takes the pooled quantiles (1st and 99th by
default) as a **shared range** ``(low, high)``. Sessions whose amplitudes are in different
units (µV and a.u.) cannot share a scale: the summary then says so and each session keeps
its own.

Everything here is a pure function of arrays, selections and dictionaries; reading and
writing files is left to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from driftqc.errors import DriftQCError, EmptySelectionError, SortingFormatError
from driftqc.frames import RAW_FROM_KS4, sorter_drift_trace, sorter_motion_summary, to_raw_frame
from driftqc.metrics import (
    DriftTrace,
    QCThresholds,
    SessionShifts,
    between_session_shifts,
    estimate_drift_trace,
    find_drift_events,
    qc_flags,
    qc_row,
    summarize_unit_drift,
    unit_drift_metrics,
)
from driftqc.metrics.events import EVENT_COLUMNS
from driftqc.model import SorterMotion, SpikeTable
from driftqc.selection import Selection

QUANTILES = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
SHARED_QUANTILES = (1.0, 99.0)
SAMPLE_SIZE = 50_000


def quantile_key(q: float) -> str:
    """Column name of an amplitude quantile, e.g. ``amp_q05`` for the 5th percentile."""
    return f"amp_q{q:02g}"


def session_qc(
    spikes: SpikeTable, selection: Selection, *, quantiles: Sequence[float] = QUANTILES
) -> dict[str, object]:
    """QC numbers of one session.

    Parameters
    ----------
    spikes
        Every spike of the session, before any filter.
    selection
        The session's selection (see :func:`driftqc.selection.select_spikes`).
    quantiles
        Percentiles (0–100) of the kept amplitudes to report.

    Returns
    -------
    dict
        JSON-serialisable numbers: ``status`` ("ok"), spike counts before and after each
        filter, ``duration_s``, ``depth_min_um``/``depth_max_um`` (all finite depths),
        ``kept_depth_min_um``/``kept_depth_max_um``, ``amplitude_unit``, the amplitude
        quantiles (``amp_q01`` ...), cluster counts per label and the provenance.

    Notes
    -----
    Quantiles and depth ranges of an empty selection are None (JSON null).
    """
    info = spikes.info
    kept = selection.kept
    depths = spikes.depths[np.isfinite(spikes.depths)]
    amps = kept.amplitudes
    qvalues = np.percentile(amps, list(quantiles)) if len(amps) else [None] * len(quantiles)
    labels = spikes.cluster_labels
    n_clusters = int(len(np.unique(spikes.clusters))) if len(spikes) else 0
    label_counts = {
        f"n_clusters_{name}": sum(1 for v in labels.values() if v == name)
        for name in ("good", "mua", "noise")
    }
    record: dict[str, object] = {
        "status": "ok",
        "error": None,
        "name": info.name,
        "sorter": info.sorter,
        "n_spikes": len(spikes),
        "n_invalid": selection.n_invalid,
        "n_noise_removed": selection.n_noise,
        "n_amplitude_removed": selection.n_amplitude,
        "n_kept": len(kept),
        "n_shown": len(selection.shown),
        "decimation": selection.decimation,
        "duration_s": spikes.duration,
        "depth_min_um": _num(depths.min()) if len(depths) else None,
        "depth_max_um": _num(depths.max()) if len(depths) else None,
        "kept_depth_min_um": _num(kept.depths.min()) if len(kept) else None,
        "kept_depth_max_um": _num(kept.depths.max()) if len(kept) else None,
        "amplitude_unit": info.amplitude_unit,
        **{quantile_key(q): _num(v) for q, v in zip(quantiles, qvalues, strict=True)},
        "n_clusters": n_clusters,
        **label_counts,
        "depth_frame": info.depth_frame,
        "filters": "; ".join(selection.filters),
        "notes": "; ".join(info.notes),
    }
    return record


def failed_qc(message: str, stage: str = "load") -> dict[str, object]:
    """QC record of a session that could not be processed."""
    return {"status": "failed", "error": f"{stage} failed: {message}"}


def amplitude_sample(amplitudes: np.ndarray, size: int = SAMPLE_SIZE, seed: int = 0) -> np.ndarray:
    """Return a reproducible random subsample of at most ``size`` amplitudes, sorted."""
    values = np.asarray(amplitudes, dtype=np.float32)
    values = values[np.isfinite(values)]
    if len(values) > size:
        values = np.random.default_rng(seed).choice(values, size=size, replace=False)
    return np.sort(values)


def qc_table(
    records: Mapping[str, Mapping[str, object]],
    details: Mapping[str, Mapping[str, object]] | None = None,
) -> pd.DataFrame:
    """One row per session: its id, its details (subject, date, label) and QC numbers.

    Parameters
    ----------
    records
        ``session id -> QC record`` (from :func:`session_qc` or :func:`failed_qc`), in the
        order the rows should have.
    details
        ``session id -> {"subject": ..., "date": ..., "label": ...}`` from the session list.

    Returns
    -------
    pandas.DataFrame
        Columns ``session``, ``status``, ``error``, the details, then every QC number; a
        failed session has its ``status``/``error`` and empty numbers.
    """
    details = details or {}
    rows = []
    for sid, record in records.items():
        extra = {k: details.get(sid, {}).get(k) for k in ("subject", "date", "label")}
        rows.append({"session": sid, "status": None, "error": None, **extra, **record})
    table = pd.DataFrame(rows)
    counts = [c for c in table.columns if c.startswith("n_") or c == "decimation"]
    return table.astype({c: "Int64" for c in counts})


def amplitude_summary(
    samples: Mapping[str, np.ndarray | None],
    units: Mapping[str, str],
    *,
    quantiles: Sequence[float] = QUANTILES,
    shared_quantiles: Sequence[float] = SHARED_QUANTILES,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Per-session amplitude quantiles and the shared amplitude range of a batch.

    Parameters
    ----------
    samples
        ``session id -> amplitudes`` (all kept amplitudes or a random sample of them), or
        None for a session that could not be processed (listed as failed).
    units
        ``session id -> amplitude unit``.
    quantiles
        Percentiles reported per session.
    shared_quantiles
        ``(low, high)`` percentiles of the pooled amplitudes that bound the shared range.

    Returns
    -------
    table : pandas.DataFrame
        One row per session: ``session``, ``status``, ``amplitude_unit``, ``n_sampled``
        and the quantiles.
    shared : dict
        ``applicable`` (bool), ``low``/``high`` (linear amplitudes, or None), ``unit``,
        ``quantiles``, ``sessions`` (the ids pooled) and ``warning`` (None, or why the
        sessions cannot share a scale).

    Notes
    -----
    Each session gets the same total weight in the pooled distribution, so one long
    recording does not set the scale of all the others. Empty samples are left out.
    """
    rows = []
    for sid, values in samples.items():
        failed = values is None
        values = np.empty(0) if failed else np.asarray(values, dtype=np.float64)
        qs = np.percentile(values, list(quantiles)) if len(values) else [None] * len(quantiles)
        rows.append(
            {
                "session": sid,
                "status": "failed" if failed else "ok",
                "amplitude_unit": None if failed else units.get(sid),
                "n_sampled": len(values),
                **{quantile_key(q): _num(v) for q, v in zip(quantiles, qs, strict=True)},
            }
        )
    columns = ["session", "status", "amplitude_unit", "n_sampled"]
    table = pd.DataFrame(rows, columns=[*columns, *map(quantile_key, quantiles)])

    pooled = {
        sid: np.asarray(v, dtype=np.float64)
        for sid, v in samples.items()
        if v is not None and len(v)
    }
    shared: dict[str, object] = {
        "applicable": False,
        "low": None,
        "high": None,
        "unit": None,
        "quantiles": [float(q) for q in shared_quantiles],
        "sessions": sorted(pooled),
        "warning": None,
    }
    found_units = sorted({str(units.get(sid)) for sid in pooled})
    if not pooled:
        shared["warning"] = "no session has amplitudes to pool"
    elif len(found_units) > 1:
        by_unit = {
            u: sorted(sid for sid in pooled if str(units.get(sid)) == u) for u in found_units
        }
        detail = "; ".join(f"{u}: {', '.join(ids)}" for u, ids in by_unit.items())
        shared["warning"] = (
            f"sessions have amplitudes in different units ({detail}); "
            "each session keeps its own amplitude scale"
        )
    else:
        low, high = _weighted_percentiles(list(pooled.values()), shared_quantiles)
        shared["unit"] = found_units[0]
        if high > low:
            shared.update(applicable=True, low=low, high=high)
        else:
            shared["warning"] = f"pooled amplitudes span no range ({low:g}–{high:g})"
    return table, shared


def choose_scaling(
    configured: object, shared: Mapping[str, object] | None
) -> tuple[object, dict[str, object]]:
    """Choose the amplitude scaling of one session's figures; say which was used.

    Parameters
    ----------
    configured
        The scaling asked for (``"linear"``, ``"log2"``, ``"log10"`` or ``[low, high]``).
    shared
        The shared range from :func:`amplitude_summary`, or None when the shared scale is
        off.

    Returns
    -------
    scaling
        ``(low, high)`` of the shared range when it applies, else ``configured`` (a list
        turned into a tuple).
    note : dict
        ``shared_range_used`` (bool), ``scaling`` (as used), and ``reason`` when the shared
        range was not used.
    """
    own = tuple(configured) if isinstance(configured, list | tuple) else configured
    if shared is None:
        return own, {"shared_range_used": False, "scaling": own, "reason": "shared scale off"}
    if shared.get("applicable"):
        low, high = float(shared["low"]), float(shared["high"])  # type: ignore[arg-type]
        return (low, high), {"shared_range_used": True, "scaling": [low, high]}
    reason = shared.get("warning") or "no shared range"
    return own, {"shared_range_used": False, "scaling": own, "reason": reason}


def _weighted_percentiles(groups: Sequence[np.ndarray], percentiles: Sequence[float]) -> list:
    values = np.concatenate(groups)
    weights = np.concatenate([np.full(len(g), 1.0 / len(g)) for g in groups])
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = (np.cumsum(weights) - 0.5 * weights) / weights.sum()
    return [float(np.interp(p / 100.0, cumulative, values)) for p in percentiles]


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


# ---------------------------------------------------------------- drift QC of a batch
# Within-session numbers come from one session's filtered spikes (per shank on multi-shank
# probes); the between-session shift and the pass/warn/fail verdicts that depend on it are
# joined in the summary, when every session is known.

ALL_SHANKS = "all"
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
        Window length of the per-unit drift metrics, s.
    """

    bin_s: float = 10.0
    max_shift_um: float = 100.0
    min_spikes_per_bin: int = 100
    events: bool = True
    unit_interval_s: float = 60.0


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


def shank_tables(
    spikes: SpikeTable, template_shanks: np.ndarray | None
) -> dict[object, SpikeTable]:
    """Spikes of the whole probe (key ``"all"``) and, on multi-shank probes, of each shank.

    A spike's shank is its template's shank (that of the template's peak channel, as in
    :func:`driftqc.metrics.split_by_shank`, precomputed in the spike cache because the cache
    keeps no waveforms).

    Raises
    ------
    SortingFormatError
        When a spike's template has no shank.
    """
    tables: dict[object, SpikeTable] = {ALL_SHANKS: spikes}
    if template_shanks is None or len(spikes) == 0:
        return tables
    shanks = np.asarray(template_shanks)
    if spikes.templates.max() >= len(shanks) or spikes.templates.min() < 0:
        raise SortingFormatError(
            f"session {spikes.info.name!r}: spike template index outside the "
            f"{len(shanks)} templates whose shank is known"
        )
    per_spike = shanks[spikes.templates]
    present = np.unique(per_spike)
    if len(present) > 1:
        tables.update({int(s): spikes.take(per_spike == s) for s in present})
    return tables


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
    """Measure a session's drift: trace, events and per-unit drift, per shank.

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
        Its ``record`` holds ``status`` ("ok"), ``frame``, ``units``, ``n_spikes``,
        ``shanks`` (the shank indices, empty for one shank), per shank key ``trace``
        (summary numbers, µm), ``flags`` (within-session verdict), ``n_events`` and
        ``unit_drift`` (quantiles), then ``sorter_motion`` (Kilosort 4's own estimate) and
        ``raw_frame_trace`` (summary of the trace on raw-frame depths), or None.
    """
    options = options or DriftQCOptions()
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
        raw_selection = replace(
            selection,
            kept=to_raw_frame(kept, motion),
            shown=to_raw_frame(selection.shown, motion),
        )
        raw_tables = shank_tables(raw_selection.kept, template_shanks)
        raw_traces = {key: _trace(table, trace_options) for key, table in raw_tables.items()}
        sorter_trace = sorter_drift_trace(motion, session=kept.info.name)
        sorter_summary = sorter_motion_summary(motion)
    record: dict[str, object] = {
        "status": "ok",
        "error": None,
        "frame": kept.info.depth_frame,
        "units": {"depth": "µm", "time": "s", "displacement": "µm"},
        "sign": "displacement > 0: spikes at larger depth (y) than the session median",
        "n_spikes": len(kept),
        "shanks": [k for k in tables if k != ALL_SHANKS],
        "trace": {str(k): t.summary().to_dict() for k, t in traces.items()},
        "flags": {
            str(k): qc_flags({**t.summary().to_dict(), "n_spikes": len(tables[k])}, thresholds)
            for k, t in traces.items()
        },
        "n_events": {
            str(k): (int((events["shank"] == k).sum()) if options.events else None)
            for k in _leaf_tables(tables)
        },
        "unit_drift": {
            str(k): summarize_unit_drift(unit_drift[unit_drift["shank"] == k].assign())
            for k in _leaf_tables(tables)
        },
        "sorter_motion": sorter_summary,
        "raw_frame": RAW_FROM_KS4 if raw_selection is not None else None,
        "raw_frame_trace": {str(k): t.summary().to_dict() for k, t in raw_traces.items()} or None,
        "options": {**asdict(options)},
    }
    if not options.events:
        record["n_events"] = {}
    return SessionDriftQC(
        traces, events, unit_drift, raw_traces, raw_selection, sorter_trace, record
    )


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


def batch_session_shifts(
    tables: Mapping[str, Mapping[object, SpikeTable] | None],
    *,
    reference: str | None = None,
    max_shift_um: float = 200.0,
) -> tuple[pd.DataFrame, dict[object, SessionShifts]]:
    """Shift of every session from a reference session, for the probe and each shank.

    Parameters
    ----------
    tables
        ``session id -> {shank key: spikes}`` (see :func:`shank_tables`), or None for a
        failed session, in session order.
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
    whole = whole.assign(shank_qc=whole["session"].map(shank_qc).fillna(""))
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
