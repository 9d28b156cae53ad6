"""QC flags: pass, warn or fail for a session (or shank), with the reasons.

A QC summary row holds the drift numbers of one session or shank (within-session peak-to-peak
and largest step from :func:`~driftqc.metrics.drift_trace.summarize_trace`, the
between-session shift from :func:`~driftqc.metrics.between_sessions.between_session_shifts`,
the spike count). :class:`QCThresholds` gives a *warn* and a *fail* level for each; a value
beyond its fail level fails the row, beyond its warn level warns, and the worst verdict wins.
Every verdict comes with the reasons that caused it, in words a scientist can act on. A number
that is missing (not computed, or NaN) is not judged, but a missing drift trace is reported,
and so is a trace of fewer than two valid time bins (its peak-to-peak of 0 µm says nothing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from driftqc.errors import OptionError

STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class QCThresholds:
    """Warn and fail levels (µm for drift, spikes for counts).

    Attributes
    ----------
    warn_peak_to_peak_um, fail_peak_to_peak_um
        Within-session drift peak-to-peak (default 20 / 50 µm: one to two and a half
        Neuropixels rows of 20 µm).
    warn_step_um, fail_step_um
        Largest change between consecutive time bins (default 10 / 25 µm: sudden jumps).
    warn_shift_um, fail_shift_um
        |Between-session shift| (default 20 / 50 µm).
    warn_min_spikes, fail_min_spikes
        Fewest spikes for trustworthy numbers (default 10 000 / 1 000); fewer is judged.
    """

    warn_peak_to_peak_um: float = 20.0
    fail_peak_to_peak_um: float = 50.0
    warn_step_um: float = 10.0
    fail_step_um: float = 25.0
    warn_shift_um: float = 20.0
    fail_shift_um: float = 50.0
    warn_min_spikes: int = 10_000
    fail_min_spikes: int = 1_000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or math.isnan(value) or value < 0:
                raise OptionError(f"QC threshold {f.name}={value!r} must be a number >= 0")
        for name in ("peak_to_peak_um", "step_um", "shift_um"):
            if getattr(self, f"warn_{name}") > getattr(self, f"fail_{name}"):
                raise OptionError(f"QC threshold warn_{name} must not exceed fail_{name}")
        if self.warn_min_spikes < self.fail_min_spikes:
            raise OptionError("QC threshold warn_min_spikes must be >= fail_min_spikes")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> QCThresholds:
        """Build thresholds from a config mapping; unknown keys are a clear error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OptionError(f"unknown QC threshold(s) {unknown}; known: {sorted(known)}")
        return cls(**values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, float]:
        """Thresholds as a plain dict."""
        return asdict(self)


# summary key → (threshold suffix, description, larger is worse)
_CHECKS = (
    ("peak_to_peak_um", "peak_to_peak_um", "within-session drift peak-to-peak", True),
    ("max_step_um", "step_um", "largest drift step between time bins", True),
    ("between_session_shift_um", "shift_um", "|shift| from the reference session", True),
    ("n_spikes", "min_spikes", "number of spikes", False),
)


def qc_flags(
    summary: Mapping[str, object] | object, thresholds: QCThresholds | None = None
) -> dict[str, object]:
    """Judge one session or shank.

    Parameters
    ----------
    summary
        A mapping (or an object with ``to_dict()``, e.g.
        :class:`~driftqc.metrics.drift_trace.DriftSummary`) with any of the keys
        ``peak_to_peak_um``, ``max_step_um``, ``between_session_shift_um``, ``n_spikes``.
    thresholds
        Warn and fail levels (default :class:`QCThresholds`).

    Returns
    -------
    dict
        ``{"status": "pass" | "warn" | "fail", "reasons": [str, ...]}``; ``reasons`` is empty
        for a pass.

    Examples
    --------
    >>> verdict = qc_flags({"peak_to_peak_um": 32.0, "max_step_um": 4.0, "n_spikes": 2e5})
    >>> verdict["status"], verdict["reasons"][0]
    ('warn', 'within-session drift peak-to-peak 32.0 µm > warn level 20.0 µm')
    """
    thresholds = thresholds or QCThresholds()
    values = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)  # type: ignore[union-attr]
    status = "pass"
    reasons: list[str] = []
    unjudged: set[str] = set()
    n_valid = _number(values.get("n_valid_bins"))
    if "peak_to_peak_um" in values and _number(values["peak_to_peak_um"]) is None:
        status = "warn"
        reasons.append("no drift trace could be measured (too few spikes per time bin?)")
    elif n_valid is not None and n_valid < 2:
        # one bin has no drift to show: its peak-to-peak of 0 µm says nothing
        status = "warn"
        unjudged = {"peak_to_peak_um", "max_step_um"}
        reasons.append(
            f"no drift trace could be measured: {n_valid:.0f} valid time bin, at least 2 "
            "needed (session too short, or too few spikes per bin)"
        )
    for key, suffix, what, larger_worse in _CHECKS:
        value = None if key in unjudged else _number(values.get(key))
        if value is None:
            continue
        warn = getattr(thresholds, f"warn_{suffix}")
        fail = getattr(thresholds, f"fail_{suffix}")
        judged = abs(value) if key == "between_session_shift_um" else value
        unit = "µm" if key != "n_spikes" else "spikes"
        shown = f"{judged:.1f} {unit}" if unit == "µm" else f"{judged:.0f} {unit}"
        if larger_worse:
            level = "fail" if judged > fail else "warn" if judged > warn else None
            limit = fail if level == "fail" else warn
            op = ">"
        else:
            level = "fail" if judged < fail else "warn" if judged < warn else None
            limit = fail if level == "fail" else warn
            op = "<"
        if level is None:
            continue
        limit_shown = f"{limit:.1f} {unit}" if unit == "µm" else f"{limit:.0f} {unit}"
        reasons.append(f"{what} {shown} {op} {level} level {limit_shown}")
        if STATUSES.index(level) > STATUSES.index(status):
            status = level
    return {"status": status, "reasons": reasons}


def qc_row(
    session: str,
    trace_summary: Mapping[str, object] | object | None,
    *,
    shank: int | None = None,
    between_session_shift_um: float | None = None,
    n_spikes: int | None = None,
    thresholds: QCThresholds | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One flat QC-table row (TSV-ready): identifiers, drift numbers, status and reasons.

    Parameters
    ----------
    session
        Session id.
    trace_summary
        Within-session summary (``DriftSummary`` or its dict), or None if not computed.
    shank
        Shank index for per-shank rows (None: whole probe).
    between_session_shift_um
        Shift from the reference session, µm, if computed.
    n_spikes
        Spike count (default: the trace summary's).
    thresholds
        Warn and fail levels.
    extra
        More columns to carry (e.g. per-unit drift quantiles, sorter's mean |dshift|).

    Returns
    -------
    dict
        Flat mapping; ``reasons`` joined with ``"; "``.
    """
    values: dict[str, object] = {"session": session, "shank": "all" if shank is None else shank}
    if trace_summary is not None:
        summary = (
            trace_summary.to_dict() if hasattr(trace_summary, "to_dict") else dict(trace_summary)  # type: ignore[union-attr]
        )
        values.update(summary)
    if between_session_shift_um is not None:
        values["between_session_shift_um"] = between_session_shift_um
    if n_spikes is not None:
        values["n_spikes"] = n_spikes
    if extra:
        values.update(extra)
    verdict = qc_flags(values, thresholds)
    values["status"] = verdict["status"]
    values["reasons"] = "; ".join(verdict["reasons"])  # type: ignore[arg-type]
    return values


def _number(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
