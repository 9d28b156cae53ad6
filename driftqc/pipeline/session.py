"""The per-session steps of a batch: load, filter, QC numbers, drift map, drift QC.

Each step reads its inputs, writes its outputs and returns None, or, when anything goes
wrong with the session (whatever the exception), writes the session's failure record and
placeholders instead and returns the reason. The exception handling is the same for every
step (:class:`driftqc.pipeline.guard.SessionGuard`): the traceback goes to ``sys.stderr``
(the step's log file in the workflow) and the reason names the file and the problem for
driftqc's own errors, else ``"<ExceptionType>: <message> (see <log>)"``. A step whose input
is an earlier step's failure record passes that failure on unchanged.

The workflow scripts (``workflow/scripts/*.py``) are one call of one of these functions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from driftqc.pipeline.cache import (
    cache_selection,
    cache_sorting,
    load_motion,
    load_selection,
    load_spike_cache,
    load_template_shanks,
)
from driftqc.pipeline.guard import SessionGuard

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["drift_qc_step", "filter_step", "load_step", "qc_step", "render_step"]

PathLike = Path | str


def load_step(
    folder: PathLike,
    cache: PathLike,
    *,
    name: str,
    version: str | None = None,
    log: PathLike | None = None,
) -> str | None:
    """Read a session's sorter output once into its spike cache (or failure record).

    Parameters
    ----------
    folder
        Kilosort output folder or SpikeInterface analyzer folder.
    cache
        The spike cache to write.
    name
        Session id (titles and tables).
    version
        Kilosort version overriding the folder's ``kilosort*.log`` (a folder without one
        is read as ``"phy"``).
    log
        The step's log file, named in the reason of an unexpected error.

    Returns
    -------
    str or None
        None when cached, else why the session failed.
    """
    error = cache_sorting(folder, cache, version=version, name=name, log=log)
    print(f"{name}: {'FAILED: ' + error if error else 'cached'}", file=sys.stderr)
    return error


def filter_step(
    cache: PathLike,
    selection: PathLike,
    *,
    session: str,
    options: Mapping[str, object],
    log: PathLike | None = None,
) -> str | None:
    """Apply the label and amplitude filters and decimation to a cached session.

    Parameters
    ----------
    cache
        The spike cache (or failure record) of :func:`load_step`.
    selection
        The selection file to write.
    session
        Session id (for the log).
    options
        Keyword arguments of :func:`driftqc.selection.select_spikes`.
    log
        The step's log file.

    Returns
    -------
    str or None
        None on success, else why the session failed.
    """
    error = cache_selection(cache, selection, log=log, **options)
    print(f"{session}: {'FAILED: ' + error if error else 'ok'}", file=sys.stderr)
    return error


def qc_step(
    cache: PathLike,
    selection: PathLike,
    record: PathLike,
    sample: PathLike,
    *,
    session: str,
    percentiles: Sequence[float],
    log: PathLike | None = None,
) -> str | None:
    """Write a session's QC numbers (JSON) and a sample of its kept amplitudes.

    Parameters
    ----------
    cache, selection
        The session's spike cache and selection (or failure records).
    record
        The QC record to write (``status`` ``ok``, or ``failed`` with ``error``).
    sample
        The ``.npy`` amplitude sample to write (empty for a failed session).
    session
        Session id (for the log).
    percentiles
        Amplitude percentiles reported.
    log
        The step's log file.

    Returns
    -------
    str or None
        None on success, else why the session failed.
    """
    from driftqc.qc import amplitude_sample, failed_qc, session_qc

    values = np.empty(0, dtype=np.float32)
    with SessionGuard("qc", log) as guard:
        spikes = load_spike_cache(cache).spikes
        kept = load_selection(selection)
        result = session_qc(spikes, kept, quantiles=percentiles)
        values = amplitude_sample(kept.kept.amplitudes)
        write_json(record, result)
        np.save(sample, values)
    if guard.failure is not None:
        write_json(record, failed_qc(guard.failure.reason, guard.failure.stage))
        np.save(sample, np.empty(0, dtype=np.float32))
    print(f"{session}: {'FAILED: ' + guard.reason if guard.failed else 'ok'}", file=sys.stderr)
    return guard.reason


def render_step(
    selection: PathLike,
    drift_map: PathLike,
    histogram: PathLike,
    sidecar: PathLike,
    *,
    session: str,
    title: str,
    options: Mapping[str, object],
    shared: PathLike | None = None,
    extra: Sequence[PathLike] = (),
    draw_histogram: bool = True,
    weighted: bool = False,
    dpi: float = 150,
    log: PathLike | None = None,
) -> str | None:
    """Draw a session's drift map and depth histogram; a failed session gets placeholders.

    Parameters
    ----------
    selection
        The session's selection (or failure record).
    drift_map, histogram
        The images to write.
    sidecar
        JSON saying what the figure shows and the scale used, or why the session failed.
    session, title
        Session id and figure title.
    options
        Keyword arguments of :func:`driftqc.plotting.plot_drift_map` (``scaling``, ...).
    shared
        The shared amplitude range (JSON), when the shared scale is on.
    extra
        Further copies of the drift map (``.pdf``, ``.svg``).
    draw_histogram, weighted
        Histogram beside the map; sum amplitudes per depth bin.
    dpi
        Resolution of the images.
    log
        The step's log file.

    Returns
    -------
    str or None
        None on success, else why the session failed.
    """
    from driftqc.plotting import plot_depth_histogram, plot_drift_map
    from driftqc.plotting.batch import failure_figure
    from driftqc.qc import choose_scaling

    note: dict[str, object] = {}
    with SessionGuard("render", log) as guard:
        shared_range = read_json(shared) if shared else None
        scaling, note = choose_scaling(options["scaling"], shared_range)
        kept = load_selection(selection)
        figure = plot_drift_map(
            kept,
            **{**options, "scaling": scaling},
            histogram=draw_histogram,
            weight_histogram_by_amplitude=weighted,
            title=title,
        )
        for path in [drift_map, *extra]:
            figure.savefig(path, dpi=dpi)
        hist = plot_depth_histogram(kept, weight_by_amplitude=weighted, title=title)
        hist.savefig(histogram, dpi=dpi)
        note.update(status="ok", caption=kept.caption)
    if guard.failure is not None:
        reason = guard.failure.reason
        figure = failure_figure(title, reason, size=(10, 7.5))
        for path in [drift_map, *extra]:
            figure.savefig(path, dpi=dpi)
        failure_figure(title, reason, size=(3.5, 7.5)).savefig(histogram, dpi=dpi)
        note.update(status="failed", stage=guard.failure.stage, error=reason)
    write_json(sidecar, {"session": session, **note})
    print(f"{session}: {note}", file=sys.stderr)
    return guard.reason


def drift_qc_step(
    selection: PathLike,
    cache: PathLike,
    *,
    record: PathLike,
    trace: PathLike,
    events: PathLike,
    units: PathLike,
    figure: PathLike,
    session: str,
    title: str,
    options: Mapping[str, object],
    thresholds: Mapping[str, object],
    map_options: Mapping[str, object],
    overlay: bool = False,
    dpi: float = 150,
    log: PathLike | None = None,
) -> str | None:
    """Measure a session's drift (trace, events, per-unit drift) and draw it.

    Parameters
    ----------
    selection, cache
        The session's selection and spike cache (or failure records).
    record, trace, events, units, figure
        Outputs: the drift QC record (JSON), the traces, events and per-unit drift (TSV),
        and the figure. A failed session's tables hold one row saying why.
    session, title
        Session id and figure title.
    options
        Fields of :class:`driftqc.qc.DriftQCOptions`.
    thresholds
        Warn/fail levels (:meth:`driftqc.metrics.QCThresholds.from_mapping`).
    map_options
        Drawing options of the drift maps.
    overlay
        Also draw the trace on the map.
    dpi
        Resolution of the figure.
    log
        The step's log file.

    Returns
    -------
    str or None
        None on success, else why the session failed.
    """
    import pandas as pd

    from driftqc.metrics import QCThresholds
    from driftqc.plotting.batch import failure_figure, plot_session_drift_qc
    from driftqc.qc import (
        DriftQCOptions,
        failed_drift_qc,
        session_drift_qc,
        shank_selections,
        trace_table,
    )

    result_record: dict[str, object] = {}
    with SessionGuard("drift_qc", log) as guard:
        kept = load_selection(selection)
        shanks = load_template_shanks(selection)
        result = session_drift_qc(
            kept,
            template_shanks=shanks,
            motion=load_motion(cache),
            options=DriftQCOptions(**options),
            thresholds=QCThresholds.from_mapping(thresholds),
        )
        raw = result.raw_selection
        drawn = plot_session_drift_qc(
            result,
            shank_selections(result.selection or kept, shanks),
            shank_selections(raw, shanks) if raw is not None else None,
            title=title,
            overlay=overlay,
            show_events=bool(options.get("events", True)),
            map_options=map_options,
        )
        for path, table in ((trace, trace_table(result)), (events, result.events),
                            (units, _with_units(result.unit_drift))):  # fmt: skip
            table.to_csv(path, sep="\t", index=False)
        drawn.savefig(figure, dpi=dpi)
        result_record = dict(result.record)
        write_json(record, {"session": session, **result_record})
    if guard.failure is not None:
        result_record = failed_drift_qc(guard.failure.reason, guard.failure.stage)
        failed = pd.DataFrame(
            [{"session": session, "status": "failed", "error": result_record["error"]}]
        )
        for path in (trace, events, units):
            failed.to_csv(path, sep="\t", index=False)
        failure_figure(title, guard.failure.reason).savefig(figure, dpi=dpi)
        write_json(record, {"session": session, **result_record})
    summary = result_record.get("error") or result_record.get("flags")
    print(f"{session}: {result_record.get('status')} {summary}", file=sys.stderr)
    return guard.reason


# per-unit drift columns in µm, named with their unit in the TSV a reviewer opens
_UNIT_DRIFT_COLUMNS = {name: f"{name}_um" for name in ("drift_ptp", "drift_std", "drift_mad")}


def _with_units(unit_drift: pd.DataFrame) -> pd.DataFrame:
    return unit_drift.rename(columns=_UNIT_DRIFT_COLUMNS)


def write_json(path: PathLike, content: Mapping[str, object]) -> None:
    """Write a step's JSON record (indented, UTF-8)."""
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(content, fh, indent=1)


def read_json(path: PathLike) -> dict:
    """Read a JSON record written by :func:`write_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
