"""Per-unit drift: how much each unit's median depth wanders over the session.

This follows SpikeInterface's ``drift_ptp`` / ``drift_std`` / ``drift_mad`` quality metrics in
their corrected definitions (SpikeInterface PR #4355):

0. By default (``interval_s=None``) the window length comes from the session's duration:
   ``duration / n`` with ``n = max(4, ceil(duration / 60 s))``, so that a 2-minute session
   gets four 30-s windows and a long one windows of at most 60 s, and no trailing part of
   the session is dropped. An explicit ``interval_s`` follows SpikeInterface exactly.
1. If the session is shorter than ``min_num_bins × interval_s``, every metric is NaN.
2. A unit's reference depth is the median depth of all its spikes.
3. The session is cut into consecutive ``interval_s`` windows from 0 s (a trailing partial
   window is dropped). A window with at least ``min_spikes_per_interval`` of the unit's
   spikes gives the median depth of those spikes; other windows are missing.
4. Drift signal = window medians − reference depth.
5. If more than ``max_missing_fraction`` of the windows are missing, every metric is NaN
   (SpikeInterface calls this parameter ``min_fraction_valid_intervals``, although it bounds
   the *missing* fraction), and so is a unit present in fewer than ``min_valid_intervals``
   windows (default 2: one window has no drift to show; it is *unmeasured*, not 0).
   Otherwise, over the present windows: ``drift_ptp`` = max − min,
   ``drift_std`` = population standard deviation, ``drift_mad`` = median absolute deviation
   from the median.

All values are in µm, in the frame of the spike depths (registered-frame depths give the drift
left after the sorter's correction). A session is summarised by quantiles across units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from driftqc.errors import OptionError
from driftqc.model import SpikeTable

METRICS = ("drift_ptp", "drift_std", "drift_mad")
#: automatic windows: at least this many, and no longer than this (s)
MIN_AUTO_WINDOWS = 4
MAX_AUTO_INTERVAL_S = 60.0


def auto_interval(duration: float) -> float:
    """Window length (s) for a session of ``duration`` s: at least 4 windows of ≤ 60 s.

    The windows tile the session exactly (``duration / n``), so none of it is dropped.
    """
    if not (math.isfinite(duration) and duration > 0):
        return MAX_AUTO_INTERVAL_S
    n = max(MIN_AUTO_WINDOWS, math.ceil(duration / MAX_AUTO_INTERVAL_S - 1e-9))
    return duration / n


def unit_drift_metrics(
    spikes: SpikeTable,
    *,
    interval_s: float | None = None,
    min_spikes_per_interval: int = 100,
    max_missing_fraction: float = 0.5,
    min_num_bins: int = 2,
    duration: float | None = None,
    min_valid_intervals: int = 2,
) -> pd.DataFrame:
    """Compute drift_ptp, drift_std and drift_mad for every cluster.

    Parameters
    ----------
    spikes
        Spikes of one session (or shank); units are ``spikes.clusters``.
    interval_s
        Window length in s; None (default) derives it from the duration (see the module).
    min_spikes_per_interval
        Windows with fewer of the unit's spikes are missing.
    max_missing_fraction
        Largest fraction of missing windows for which metrics are still computed.
    min_num_bins
        Sessions shorter than this many windows give NaN for every unit.
    duration
        Recording length in s (default: time of the last spike).
    min_valid_intervals
        Units present in fewer windows are unmeasured (NaN).

    Returns
    -------
    pandas.DataFrame
        One row per cluster: ``cluster_id``, ``n_spikes``, ``n_intervals``,
        ``n_valid_intervals``, ``drift_ptp``, ``drift_std``, ``drift_mad`` (µm) and
        ``frame``. ``df.attrs`` holds the units, frame and parameters.

    Examples
    --------
    >>> table = unit_drift_metrics(spikes, interval_s=60)  # doctest: +SKIP
    >>> summarize_unit_drift(table)["drift_ptp"]["q50"]  # doctest: +SKIP
    """
    total = spikes.duration if duration is None else float(duration)
    if interval_s is None:
        interval_s = auto_interval(total)
    if not (interval_s > 0 and min_spikes_per_interval >= 1 and min_num_bins >= 1):
        raise OptionError("interval_s must be > 0, min_spikes_per_interval and min_num_bins >= 1")
    if not 0 <= max_missing_fraction <= 1:
        raise OptionError(f"max_missing_fraction={max_missing_fraction!r} must be in [0, 1]")
    if min_valid_intervals < 1:
        raise OptionError(f"min_valid_intervals={min_valid_intervals!r} must be >= 1")
    n_windows = int(math.floor(total / interval_s + 1e-9))
    clusters, inverse, n_spikes = np.unique(
        spikes.clusters, return_inverse=True, return_counts=True
    )
    n_units = len(clusters)
    nan = np.full(n_units, np.nan)
    result = {m: nan.copy() for m in METRICS}
    n_valid = np.zeros(n_units, dtype=np.int64)
    depths = np.asarray(spikes.depths, dtype=np.float64)
    if n_windows >= min_num_bins and n_windows > 0 and n_units:
        finite = np.isfinite(depths)
        reference = _group_medians(inverse[finite], depths[finite], n_units)
        window = np.floor(spikes.times / interval_s).astype(np.int64)
        inside = (window >= 0) & (window < n_windows) & finite
        group = inverse[inside] * n_windows + window[inside]
        medians = _group_medians(group, depths[inside], n_units * n_windows)
        counts = np.bincount(group, minlength=n_units * n_windows)
        medians[counts < min_spikes_per_interval] = np.nan
        signal = medians.reshape(n_units, n_windows) - reference[:, None]
        present = np.isfinite(signal)
        n_valid = present.sum(axis=1)
        ok = (n_windows - n_valid) <= max_missing_fraction * n_windows
        ok &= n_valid >= min_valid_intervals
        for u in np.flatnonzero(ok):
            d = signal[u, present[u]]
            result["drift_ptp"][u] = np.ptp(d)
            result["drift_std"][u] = np.std(d)
            result["drift_mad"][u] = np.median(np.abs(d - np.median(d)))
    table = pd.DataFrame(
        {
            "cluster_id": clusters.astype(np.int64),
            "n_spikes": n_spikes.astype(np.int64),
            "n_intervals": n_windows,
            "n_valid_intervals": n_valid.astype(np.int64),
            **result,
            "frame": spikes.info.depth_frame,
        }
    )
    table.attrs.update(
        {
            "units": "µm",
            "frame": spikes.info.depth_frame,
            "session": spikes.info.name,
            "interval_s": interval_s,
            "min_spikes_per_interval": min_spikes_per_interval,
            "max_missing_fraction": max_missing_fraction,
            "min_num_bins": min_num_bins,
            "min_valid_intervals": min_valid_intervals,
        }
    )
    return table


def summarize_unit_drift(
    table: pd.DataFrame, quantiles: Sequence[float] = (0.5, 0.9, 1.0)
) -> dict[str, object]:
    """Quantiles of each per-unit drift metric across the units that have a value.

    Parameters
    ----------
    table
        Output of :func:`unit_drift_metrics`.
    quantiles
        Quantiles in [0, 1]; 1.0 is the maximum.

    Returns
    -------
    dict
        ``{"drift_ptp": {"q50": …, "q90": …, "q100": …}, …, "n_units": …,
        "n_units_measured": …, "units": "µm", "frame": …}``; NaN values become None.
    """
    out: dict[str, object] = {}
    for metric in METRICS:
        values = table[metric].to_numpy(dtype=np.float64)
        values = values[np.isfinite(values)]
        out[metric] = {
            f"q{round(q * 100):d}": (float(np.quantile(values, q)) if len(values) else None)
            for q in quantiles
        }
    out["n_units"] = len(table)
    out["n_units_measured"] = int(np.isfinite(table["drift_ptp"].to_numpy(float)).sum())
    out["units"] = "µm"
    out["frame"] = table.attrs.get("frame", "unknown")
    return out


def _group_medians(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` within each group id 0..n_groups-1 (NaN for empty groups)."""
    order = np.lexsort((values, group))
    sorted_values = values[order]
    counts = np.bincount(group, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(n_groups, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = 0.5 * (sorted_values[lo] + sorted_values[hi])
    return out
