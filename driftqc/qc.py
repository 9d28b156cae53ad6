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

import numpy as np
import pandas as pd

from driftqc.model import SpikeTable
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
