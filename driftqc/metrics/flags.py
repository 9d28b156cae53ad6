"""QC flags: pass, warn, fail or unmeasurable for a session (or shank), with the reasons.

A QC summary row holds the drift numbers of one session or shank (within-session peak-to-peak
and largest step from :func:`~driftqc.metrics.drift_trace.summarize_trace`, the
between-session shift from :func:`~driftqc.metrics.between_sessions.between_session_shifts`,
the spike count). :class:`QCThresholds` gives a *warn* and a *fail* level for each; a value
beyond its fail level fails the row, beyond its warn level warns, and the worst verdict wins.
Every verdict comes with the reasons that caused it, in words a scientist can act on. A number
that is missing (not computed, or NaN) is not judged, but a missing drift trace is reported,
and so is a trace of fewer than two valid time bins (its peak-to-peak of 0 µm says nothing).

**What the probe did, and what the sorter left.** The trace's ``frame`` decides how its
numbers are read:

- ``raw`` (or ``unknown``): the trace is the motion itself and nothing corrected it, so its
  peak-to-peak and largest step are judged at the drift levels.
- ``registered``: the trace is the *residual* the sorter's correction left; it is judged at
  the stricter residual levels (a large residual is a failed correction). The motion the
  sorter corrected (``raw_frame_*``: driftqc's trace of the raw-frame spikes, and
  ``sorter_*``: the sorter's own estimate) is judged too, but at most "warn": the probe
  moved and the sorter had to correct it, which a lab wants to know. Where both raw-frame
  estimates exist and differ by more than ``warn_disagreement_um`` RMS
  (``sorter_vs_spikes_rms_um``), that is said too.
- depths that cannot show drift at all (``drift_measurable`` false) give ``unmeasurable``,
  never "pass" (a between-session shift beyond its fail level still fails).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from driftqc.errors import OptionError
from driftqc.io.phy_exports import HOW_TO_MEASURE

STATUSES = ("pass", "warn", "fail")
UNMEASURABLE = "unmeasurable"


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
        Fewest spikes for trustworthy numbers (default 2 000 / 500); fewer is judged.
        (Whether each time bin has enough spikes is judged through the valid bins.)
    warn_residual_um, fail_residual_um
        Peak-to-peak of the registered-frame trace, i.e. what the sorter's correction left
        (default 10 / 20 µm: half a row and a row of a Neuropixels probe).
    warn_disagreement_um
        RMS difference between the sorter's motion estimate and driftqc's raw-frame trace
        beyond which the two are said to disagree (default 5 µm).
    """

    warn_peak_to_peak_um: float = 20.0
    fail_peak_to_peak_um: float = 50.0
    warn_step_um: float = 10.0
    fail_step_um: float = 25.0
    warn_shift_um: float = 20.0
    fail_shift_um: float = 50.0
    warn_min_spikes: int = 2_000
    fail_min_spikes: int = 500
    warn_residual_um: float = 10.0
    fail_residual_um: float = 20.0
    warn_disagreement_um: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or math.isnan(value) or value < 0:
                raise OptionError(f"QC threshold {f.name}={value!r} must be a number >= 0")
        for name in ("peak_to_peak_um", "step_um", "shift_um", "residual_um"):
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


def qc_flags(
    summary: Mapping[str, object] | object, thresholds: QCThresholds | None = None
) -> dict[str, object]:
    """Judge one session or shank.

    Parameters
    ----------
    summary
        A mapping (or an object with ``to_dict()``, e.g.
        :class:`~driftqc.metrics.drift_trace.DriftSummary`) with any of the keys
        ``peak_to_peak_um``, ``max_step_um``, ``n_valid_bins``, ``frame``, ``source``,
        ``between_session_shift_um``, ``n_spikes``, ``drift_measurable``, and for a
        registered-frame trace ``raw_frame_peak_to_peak_um``, ``raw_frame_max_step_um``,
        ``sorter_peak_to_peak_um``, ``sorter_max_step_um``, ``sorter_vs_spikes_rms_um``
        (see the module's notes).
    thresholds
        Warn and fail levels (default :class:`QCThresholds`).

    Returns
    -------
    dict
        ``{"status": "pass" | "warn" | "fail" | "unmeasurable", "reasons": [str, ...]}``;
        ``reasons`` is empty for a pass.

    Examples
    --------
    >>> verdict = qc_flags({"peak_to_peak_um": 32.0, "max_step_um": 4.0, "n_spikes": 2e5})
    >>> verdict["status"], verdict["reasons"][0]
    ('warn', 'within-session drift peak-to-peak 32.0 µm > warn level 20.0 µm')
    """
    levels = thresholds or QCThresholds()
    values = summary.to_dict() if hasattr(summary, "to_dict") else dict(summary)  # type: ignore[union-attr]
    verdict = _Verdict()
    if values.get("drift_measurable") is False:
        verdict.status = UNMEASURABLE
        verdict.reasons.append(HOW_TO_MEASURE)
    else:
        _judge_trace(values, levels, verdict)
    shift = _number(values.get("between_session_shift_um"))
    if shift is not None:
        verdict.judge(abs(shift), levels.warn_shift_um, levels.fail_shift_um,
                      "|shift| from the reference session")  # fmt: skip
    n_spikes = _number(values.get("n_spikes"))
    measured = verdict.status != UNMEASURABLE
    if n_spikes is not None and measured and values.get("source", "spikes") == "spikes":
        verdict.judge_count(n_spikes, levels.warn_min_spikes, levels.fail_min_spikes)
    return {"status": verdict.status, "reasons": verdict.reasons}


def _judge_trace(values: Mapping[str, object], levels: QCThresholds, verdict: _Verdict) -> None:
    """Judge the within-session numbers (see the module's notes)."""
    frame = str(values.get("frame") or "raw")
    n_valid = _number(values.get("n_valid_bins"))
    ptp = _number(values.get("peak_to_peak_um"))
    step = _number(values.get("max_step_um"))
    if n_valid is not None and n_valid < 2:
        # one bin has no drift to show: its peak-to-peak of 0 µm says nothing
        verdict.worsen(
            "warn",
            f"no drift trace could be measured: {n_valid:.0f} valid time bin, at least 2 "
            "needed (session too short, or too few spikes per bin)",
        )
        ptp = step = None
    elif "peak_to_peak_um" in values and ptp is None:
        verdict.worsen("warn", "no drift trace could be measured (too few spikes per time bin?)")
    if frame != "registered":
        where = "" if frame == "raw" else " (depth frame unknown: read as the raw frame)"
        if ptp is not None:
            verdict.judge(ptp, levels.warn_peak_to_peak_um, levels.fail_peak_to_peak_um,
                          f"within-session drift peak-to-peak{where}")  # fmt: skip
        if step is not None:
            verdict.judge(step, levels.warn_step_um, levels.fail_step_um,
                          f"largest drift step between time bins{where}")  # fmt: skip
        return
    if ptp is not None:
        verdict.judge(ptp, levels.warn_residual_um, levels.fail_residual_um,
                      "drift left after the sorter's correction (registered frame), "
                      "peak-to-peak")  # fmt: skip
    if step is not None:
        what = "largest step left after the sorter's correction (registered frame)"
        verdict.judge(step, levels.warn_step_um, levels.fail_step_um, what)
    _judge_corrected_motion(values, levels, verdict)


def _judge_corrected_motion(
    values: Mapping[str, object], levels: QCThresholds, verdict: _Verdict
) -> None:
    """At most "warn" for motion the sorter corrected; say whether its estimates agree."""
    estimates = {
        "driftqc's raw-frame trace": (
            _number(values.get("raw_frame_peak_to_peak_um")),
            _number(values.get("raw_frame_max_step_um")),
        ),
        "the sorter's own estimate": (
            _number(values.get("sorter_peak_to_peak_um")),
            _number(values.get("sorter_max_step_um")),
        ),
    }
    ptps = {k: v[0] for k, v in estimates.items() if v[0] is not None}
    steps = {k: v[1] for k, v in estimates.items() if v[1] is not None}
    if ptps:
        source, ptp = max(ptps.items(), key=lambda kv: kv[1])
        if ptp > levels.warn_peak_to_peak_um:
            verdict.worsen(
                "warn",
                f"the probe moved {ptp:.1f} µm peak-to-peak in the raw frame ({source}) > "
                f"{levels.warn_peak_to_peak_um:.1f} µm; the sorter had to correct it",
            )
    if steps:
        source, step = max(steps.items(), key=lambda kv: kv[1])
        if step > levels.warn_step_um:
            verdict.worsen(
                "warn",
                f"the probe jumped {step:.1f} µm between time bins in the raw frame "
                f"({source}) > {levels.warn_step_um:.1f} µm; the sorter had to correct it",
            )
    disagreement = _number(values.get("sorter_vs_spikes_rms_um"))
    if disagreement is not None and disagreement > levels.warn_disagreement_um:
        verdict.worsen(
            "warn",
            f"the sorter's motion estimate and driftqc's raw-frame trace differ by "
            f"{disagreement:.1f} µm RMS > {levels.warn_disagreement_um:.1f} µm: the correction "
            "may have made the drift worse (see the drift QC figure)",
        )


class _Verdict:
    """The worst status seen so far, and the reasons for it."""

    def __init__(self) -> None:
        self.status = "pass"
        self.reasons: list[str] = []

    def worsen(self, level: str, reason: str) -> None:
        self.reasons.append(reason)
        if self.status == UNMEASURABLE:
            if level == "fail":
                self.status = "fail"
            return
        if STATUSES.index(level) > STATUSES.index(self.status):
            self.status = level

    def judge(self, value: float, warn: float, fail: float, what: str) -> None:
        level = "fail" if value > fail else "warn" if value > warn else None
        if level is not None:
            limit = fail if level == "fail" else warn
            self.worsen(level, f"{what} {value:.1f} µm > {level} level {limit:.1f} µm")

    def judge_count(self, value: float, warn: float, fail: float) -> None:
        level = "fail" if value < fail else "warn" if value < warn else None
        if level is not None:
            limit = fail if level == "fail" else warn
            self.worsen(
                level, f"number of spikes {value:.0f} spikes < {level} level {limit:.0f} spikes"
            )


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
