"""Quality-control numbers of one session, and the QC table of a batch.

Per session, QC answers "what did the drift map draw from?": how many spikes the sorter
found, how many each filter removed, how long the recording is, which depths hold spikes,
and how large the amplitudes are (quantiles of the amplitudes of the spikes that passed the
filters, in the session's own unit: µV when ``params.py`` gave a gain, else arbitrary units).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from driftqc.model import SpikeTable
from driftqc.selection import Selection

QUANTILES = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)


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
        "depth_min_um": finite_or_none(depths.min()) if len(depths) else None,
        "depth_max_um": finite_or_none(depths.max()) if len(depths) else None,
        "kept_depth_min_um": finite_or_none(kept.depths.min()) if len(kept) else None,
        "kept_depth_max_um": finite_or_none(kept.depths.max()) if len(kept) else None,
        "amplitude_unit": info.amplitude_unit,
        **{quantile_key(q): finite_or_none(v) for q, v in zip(quantiles, qvalues, strict=True)},
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


def finite_or_none(value: object) -> float | None:
    """Return ``value`` as a float, or None when it is None, NaN or infinite (JSON null)."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if np.isfinite(number) else None


# The columns of ``results/summary/qc.tsv``, in order: what a reviewer reads. Every other
# QC number stays in the session's ``results/qc/<id>/qc.json`` and every drift number in
# ``results/summary/drift_qc.tsv`` / ``results/drift_qc/<id>/drift_qc.json``.
SUMMARY_COLUMNS = (
    "session",
    "subject",
    "date",
    "label",
    "sorter",
    "status",
    "error",
    "drift_qc",
    "drift_qc_reasons",
    "shank_qc",
    "n_spikes",
    "n_invalid",
    "n_noise_removed",
    "n_amplitude_removed",
    "n_kept",
    "duration_s",
    "kept_depth_min_um",
    "kept_depth_max_um",
    "amplitude_unit",
    "amp_q05",
    "amp_q50",
    "amp_q95",
    "drift_frame",
    "drift_peak_to_peak_um",
    "drift_p95_abs_um",
    "drift_max_step_um",
    "raw_frame_peak_to_peak_um",
    "between_session_shift_um",
    "n_drift_events",
)

# fraction-like columns (0–1), written with 3 decimals
FRACTION_COLUMNS = frozenset({"peak_correlation"})


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Keep the reviewer's columns (:data:`SUMMARY_COLUMNS`) of a QC table, rounded.

    Columns missing from ``table`` (e.g. drift numbers when drift QC is off) are empty.
    """
    out = table.reindex(columns=list(SUMMARY_COLUMNS))
    return rounded(out)


def rounded(table: pd.DataFrame) -> pd.DataFrame:
    """Round a table's floats to the precision they are measured with.

    Depths and displacements (``*_um``) to 0.1 µm, times (``*_s``) to 0.01 s, amplitudes
    (``amp_*``) to 3 significant digits, fractions (:data:`FRACTION_COLUMNS`) to 3
    decimals. ``-0.0`` becomes ``0.0``. Integer and text columns are left as they are.
    """
    out = table.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype.kind != "f":
            continue
        name = str(column)
        if name.endswith("_um"):
            out[column] = values.round(1) + 0.0
        elif name.endswith("_s"):
            out[column] = values.round(2) + 0.0
        elif name.startswith("amp_"):
            out[column] = [significant(v, 3) for v in values]
        elif name in FRACTION_COLUMNS:
            out[column] = values.round(3) + 0.0
    return out


def significant(value: object, digits: int = 3) -> float | None:
    """``value`` rounded to ``digits`` significant digits (None/NaN stay missing)."""
    number = finite_or_none(value)
    if number is None:
        return np.nan
    if number == 0:
        return 0.0
    return float(f"{number:.{digits}g}") + 0.0
