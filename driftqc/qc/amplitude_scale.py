"""The amplitude scale a batch of sessions can share.

Drift maps are only comparable by eye when one grey level means one amplitude everywhere.
:func:`amplitude_summary` pools the sessions' amplitudes, giving every session the same weight
whatever its length, and takes the pooled quantiles (1st and 95th by default) as a **shared
range** ``(low, high)``. Sessions whose amplitudes are in different units (µV and a.u.)
cannot share a scale: the summary then says so and each session keeps its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from driftqc.qc.amplitude_units import amplitude_unit_check
from driftqc.qc.session import QUANTILES, finite_or_none, quantile_key

# the top 5 % is clipped: amplitudes are skewed, and a range up to the 99th percentile
# leaves most spikes in the palest grey levels
SHARED_QUANTILES = (1.0, 95.0)
SAMPLE_SIZE = 50_000


def amplitude_sample(amplitudes: np.ndarray, size: int = SAMPLE_SIZE, seed: int = 0) -> np.ndarray:
    """Return a reproducible random subsample of at most ``size`` amplitudes, sorted."""
    values = np.asarray(amplitudes, dtype=np.float32)
    values = values[np.isfinite(values)]
    if len(values) > size:
        values = np.random.default_rng(seed).choice(values, size=size, replace=False)
    return np.sort(values)


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
                **{quantile_key(q): finite_or_none(v) for q, v in zip(quantiles, qs, strict=True)},
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
    named = sorted((str(units.get(sid)), sid) for sid in pooled)  # by unit, then session
    unit, mixed = amplitude_unit_check(
        ((sid, u) for u, sid in named), purpose="one amplitude scale"
    )
    if not pooled:
        shared["warning"] = "no session has amplitudes to pool"
    elif mixed is not None:
        shared["warning"] = f"{mixed}; each session keeps its own amplitude scale"
    else:
        low, high = _weighted_percentiles(list(pooled.values()), shared_quantiles)
        shared["unit"] = unit
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
