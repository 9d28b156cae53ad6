"""Within-session drift trace: how far the probe moved along its axis over time, from spikes.

Every unit's spikes sit at a fairly constant depth on the probe unless the tissue moves. Cut
the session into time bins (10 s by default) and build each bin's depth-activity profile (a
histogram of spike depths in 5-µm bins). How far one profile is shifted along the probe
against another is the tissue displacement between the two times.

**Decentralised registration (default).** A single session reference fails when the session
is bimodal: after a step in the middle the median profile holds every unit at both positions,
every bin correlates best with it at ~0 µm, and the step disappears. So the reference is not
guessed, it is solved for:

1. the session is cut into at most 128 stretches; the shift between *every pair* of
   stretches is measured by cross-correlation, and the displacement of each stretch is the
   one that explains all pairwise shifts at once (weighted, robust least squares; the
   decentralised approach of Varol et al. 2021 and DREDge, :mod:`driftqc.metrics.decentralised`).
   Pairs from either side of a step measure it, wherever in the session it happened;
2. the stretches, aligned by those displacements, add up to a sharp reference that holds every
   unit once;
3. every part of a time bin (about 0.5 s long, at most 20 per bin and 4000 per session,
   fewer when the parts would typically hold fewer than ``min_spikes / 2`` spikes) is
   registered against that reference, the reference is rebuilt from the aligned parts that
   match it, and the parts are registered once more. A bin reports the spike-weighted mean
   of its parts, so a bin during which the probe jumped gets its average displacement, and
   the trace hardly depends on the bin width.

**Single reference** (``method="reference"``, the former estimator, kept for comparison):
each bin is registered against the median profile, refined once or twice as the mean of the
aligned profiles (:mod:`driftqc.metrics.registration`). Fine for slow drift, blind to a step
near the middle of the session.

**Sign and frame.** The displacement is positive when the spikes appear at larger depth
coordinate (y, away from the tip) than in the session reference, i.e. the tissue moved towards
larger y, matching :func:`driftqc.synthetic.drift_displacement`. It is reported relative to the
session median (the median displacement over valid bins is 0). The trace is in the frame of
the spike depths: measured on registered depths (Kilosort 2.5–4) it is the *residual* drift
left after the sorter's correction; on raw-frame depths (Kilosort 1/2, or
:func:`driftqc.metrics.frames.to_raw_frame`) it is the full motion.

**Quiet bins.** A bin with fewer than ``min_spikes`` spikes, whose best shift lies on the
edge of the search range, or whose profile hardly resembles the reference (normalised
correlation below ``min_correlation``) is marked invalid: its value is interpolated from its
neighbours in ``displacement_um`` and it is left out of every summary number.

With the decentralised registration the correlation is that of the bin's aligned profile with
the mean aligned profile of the session; a bin whose parts took part in no pair with a
correlation of ``min_correlation`` or more is unmeasured.

**Non-rigid.** :func:`estimate_nonrigid_drift` registers every bin against the session
reference with the correlation restricted to overlapping depth windows (500 µm, half
overlapping, tapered), one trace per window. The reference is the mean profile after the rigid
alignment (decentralised by default), so it is sharp even after a step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from driftqc.errors import EmptySelectionError, OptionError
from driftqc.metrics.decentralised import pairwise_shifts, solve_pairwise
from driftqc.metrics.registration import (
    Registration,
    gaussian_smooth,
    register_profiles,
    shift_profiles,
)
from driftqc.model import SpikeTable

UNITS = "µm"


@dataclass(frozen=True)
class DriftSummary:
    """Summary numbers of one drift trace, all in µm over valid bins.

    Attributes
    ----------
    peak_to_peak_um
        Largest minus smallest displacement.
    median_abs_um
        Median of |displacement| (relative to the session median).
    p95_abs_um
        95th percentile of |displacement|.
    max_step_um
        Largest |change| between consecutive valid bins.
    n_bins, n_valid_bins
        Time bins in the trace and how many were measured.
    n_spikes
        Spikes used.
    bin_s
        Time-bin width in s.
    frame
        Depth frame of the spikes the trace was measured on.
    source
        ``"spikes"`` (estimated by driftqc) or the sorter's own estimate.
    """

    peak_to_peak_um: float
    median_abs_um: float
    p95_abs_um: float
    max_step_um: float
    n_bins: int
    n_valid_bins: int
    n_spikes: int
    bin_s: float
    frame: str
    source: str = "spikes"
    units: str = UNITS

    def to_dict(self) -> dict[str, object]:
        """Return the summary as JSON-serialisable values (NaN becomes None)."""
        return {k: _plain(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class DriftTrace:
    """Displacement of the tissue along the probe over time (one value per time bin).

    Attributes
    ----------
    time_edges
        (n_bins + 1,) bin edges in s.
    displacement_um
        (n_bins,) displacement in µm relative to the session median; positive = spikes at
        larger y. Invalid bins hold values interpolated from valid neighbours (NaN if none).
    valid
        (n_bins,) True where the bin was measured (enough spikes, peak inside the range).
    spike_counts
        (n_bins,) spikes per bin used for the estimate.
    peak_correlation
        (n_bins,) normalised correlation of each bin's profile with the reference.
    frame
        Depth frame of the input spikes (``SessionInfo.depth_frame``).
    depth_range_um
        ``(low, high)`` depth window the trace describes (the whole probe for a rigid trace).
    session
        Session name.
    source
        ``"spikes"`` (estimated from spike depths) or a description of the sorter's estimate.
    params
        Parameters used (for provenance).
    """

    time_edges: np.ndarray
    displacement_um: np.ndarray
    valid: np.ndarray
    spike_counts: np.ndarray
    peak_correlation: np.ndarray
    frame: str
    depth_range_um: tuple[float, float]
    session: str = ""
    source: str = "spikes"
    params: dict[str, object] = field(default_factory=dict)

    @property
    def times(self) -> np.ndarray:
        """Bin centres in s."""
        return 0.5 * (self.time_edges[:-1] + self.time_edges[1:])

    @property
    def bin_s(self) -> float:
        """Time-bin width in s (the first bin's)."""
        return float(self.time_edges[1] - self.time_edges[0]) if len(self.time_edges) > 1 else 0.0

    def summary(self) -> DriftSummary:
        """Summary numbers over valid bins (see :func:`summarize_trace`)."""
        return summarize_trace(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per time bin: time_s, displacement_um, valid, n_spikes, correlation, frame."""
        return pd.DataFrame(
            {
                "time_s": self.times,
                "t_start_s": self.time_edges[:-1],
                "t_stop_s": self.time_edges[1:],
                "displacement_um": self.displacement_um,
                "valid": self.valid,
                "n_spikes": self.spike_counts,
                "peak_correlation": self.peak_correlation,
                "depth_low_um": self.depth_range_um[0],
                "depth_high_um": self.depth_range_um[1],
                "frame": self.frame,
                "source": self.source,
            }
        )

    def to_dict(self) -> dict[str, object]:
        """Return the trace as JSON-serialisable lists (NaN becomes None)."""
        return {
            "session": self.session,
            "frame": self.frame,
            "source": self.source,
            "units": {"time": "s", "displacement": UNITS},
            "sign": "positive = spikes at larger depth (y) than the session median",
            "depth_range_um": list(self.depth_range_um),
            "time_edges_s": _plain_list(self.time_edges),
            "displacement_um": _plain_list(self.displacement_um),
            "valid": [bool(v) for v in self.valid],
            "n_spikes": [int(v) for v in self.spike_counts],
            "peak_correlation": _plain_list(self.peak_correlation),
            "params": {k: _plain(v) for k, v in self.params.items()},
            "summary": self.summary().to_dict(),
        }


@dataclass(frozen=True)
class NonRigidDrift:
    """One drift trace per depth window.

    Attributes
    ----------
    window_centres_um
        (n_windows,) centre depth of each window, µm.
    traces
        One :class:`DriftTrace` per window, in the same order.
    """

    window_centres_um: np.ndarray
    traces: tuple[DriftTrace, ...]

    @property
    def displacement_um(self) -> np.ndarray:
        """(n_windows, n_bins) displacement of every window."""
        return np.vstack([t.displacement_um for t in self.traces])

    def to_frame(self) -> pd.DataFrame:
        """Long table: one row per window and time bin, with ``window_centre_um``."""
        frames = []
        for centre, trace in zip(self.window_centres_um, self.traces, strict=True):
            frame = trace.to_frame()
            frame.insert(0, "window_centre_um", centre)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def summaries(self) -> pd.DataFrame:
        """One row of summary numbers per window."""
        rows = []
        for centre, trace in zip(self.window_centres_um, self.traces, strict=True):
            rows.append({"window_centre_um": float(centre), **trace.summary().to_dict()})
        return pd.DataFrame(rows)


def estimate_drift_trace(
    spikes: SpikeTable,
    *,
    bin_s: float = 10.0,
    depth_bin_um: float = 5.0,
    max_shift_um: float = 100.0,
    min_spikes: int = 100,
    amplitude_weighted: bool = False,
    log_compress: bool = True,
    smooth_um: float = 5.0,
    n_iterations: int = 2,
    depth_range_um: tuple[float, float] | None = None,
    min_correlation: float = 0.25,
    method: str = "decentralised",
) -> DriftTrace:
    """Estimate the rigid drift of a session from its spikes' depths.

    Parameters
    ----------
    spikes
        Spikes of one session (or one shank); usually noise clusters excluded.
    bin_s
        Time-bin width in s.
    depth_bin_um
        Depth-bin width of the activity profiles in µm.
    max_shift_um
        Largest displacement searched, µm (either direction, relative to the reference).
    min_spikes
        Bins with fewer spikes are not measured (marked invalid, value interpolated).
    amplitude_weighted
        Sum amplitudes per depth bin instead of counting spikes.
    log_compress
        Use ``log1p`` of the profile so a few very active units do not dominate.
    smooth_um
        Gaussian smoothing (σ, µm) of each profile before registration.
    n_iterations
        Times the reference is rebuilt as the mean of the aligned profiles (0 = keep the
        median profile).
    depth_range_um
        Only spikes with depths in ``[low, high)`` are used (default: all).
    min_correlation
        Bins whose profile correlates less than this with the reference (normalised
        correlation at the best lag) are marked invalid: their "best" shift is not trustworthy.
        In the decentralised registration, pairs of bins matching less than this are ignored.
    method
        ``"decentralised"`` (all pairs of time bins, solved jointly; finds steps anywhere in
        the session) or ``"reference"`` (each bin against one session reference; the former
        default, kept for comparison). ``n_iterations`` applies to ``"reference"`` only.

    Returns
    -------
    DriftTrace
        Displacement per time bin (µm, relative to the session median) with validity,
        spike counts and the frame of the input depths.

    Notes
    -----
    Time bins start at 0 s and cover the session up to its last spike; a trailing bin
    shorter than half of ``bin_s`` is merged into the previous one. Displacements larger
    than ``max_shift_um`` from the reference (decentralised: between two bins) are not
    measurable. The spikes are read once, into (time × depth) histograms; everything else
    works on those. The pairwise registration uses at most 128 stretches of the session
    (consecutive parts added up), so its cost does not grow with the session's length; the
    parts are then registered against the reference the stretches give.

    Examples
    --------
    >>> trace = estimate_drift_trace(sorting.spikes, bin_s=10)  # doctest: +SKIP
    >>> trace.summary().peak_to_peak_um  # doctest: +SKIP
    """
    settings = _settings(
        bin_s, depth_bin_um, max_shift_um, min_spikes, amplitude_weighted, log_compress,
        smooth_um, n_iterations, min_correlation, method,
    )  # fmt: skip
    profiles = _profiles(
        spikes, bin_s, depth_bin_um, max_shift_um, amplitude_weighted, depth_range_um,
        _sub_bins(spikes, bin_s, method),
    )  # fmt: skip
    max_bins = int(math.ceil(max_shift_um / depth_bin_um))
    enough = profiles.counts >= min_spikes
    _, shifts, correlation = _rigid_shifts(
        profiles, log_compress, smooth_um / depth_bin_um, min_spikes, max_bins, n_iterations,
        min_correlation, method,
    )  # fmt: skip
    return _finish(
        spikes,
        profiles.time_edges,
        shifts * depth_bin_um,
        enough & (correlation >= min_correlation),
        profiles.counts,
        correlation,
        profiles.depth_range,
        {**settings, "method": "rigid", "registration": method},
    )


def estimate_nonrigid_drift(
    spikes: SpikeTable,
    *,
    window_um: float = 500.0,
    window_step_um: float | None = None,
    bin_s: float = 10.0,
    depth_bin_um: float = 5.0,
    max_shift_um: float = 100.0,
    min_spikes: int = 100,
    amplitude_weighted: bool = False,
    log_compress: bool = True,
    smooth_um: float = 5.0,
    n_iterations: int = 2,
    min_correlation: float = 0.25,
    method: str = "decentralised",
) -> NonRigidDrift:
    """Estimate drift separately in overlapping depth windows.

    Parameters
    ----------
    spikes
        Spikes of one session (or shank).
    window_um
        Height of each depth window (µm); the correlation is tapered with a Hann window of
        this height, so each window's trace reflects the activity near its centre.
    window_step_um
        Distance between window centres (default half a window).
    bin_s, depth_bin_um, max_shift_um, min_spikes
        As in :func:`estimate_drift_trace`.
    amplitude_weighted, log_compress, smooth_um, n_iterations, min_correlation, method
        As in :func:`estimate_drift_trace`; ``method`` decides the rigid alignment the
        reference is built from.

    Returns
    -------
    NonRigidDrift
        Window centres (µm) and one :class:`DriftTrace` per window; a bin is valid in a
        window when it holds ``min_spikes`` spikes inside that window.

    Notes
    -----
    The reference is the rigidly aligned session reference, so rigid and non-rigid traces
    share one definition of "no displacement". Windows are placed over the depths that hold
    spikes; a probe shorter than one window gets a single window.
    """
    _check(window_um, "window_um")
    step = window_um / 2 if window_step_um is None else _check(window_step_um, "window_step_um")
    settings = _settings(
        bin_s, depth_bin_um, max_shift_um, min_spikes, amplitude_weighted, log_compress,
        smooth_um, n_iterations, min_correlation, method,
    )  # fmt: skip
    profiles = _profiles(
        spikes, bin_s, depth_bin_um, max_shift_um, amplitude_weighted, None,
        _sub_bins(spikes, bin_s, method),
    )  # fmt: skip
    prepared = _prepare(profiles.values, log_compress, smooth_um / depth_bin_um)
    max_bins = int(math.ceil(max_shift_um / depth_bin_um))
    reference, _, _ = _rigid_shifts(
        profiles, log_compress, smooth_um / depth_bin_um, min_spikes, max_bins, n_iterations,
        min_correlation, method,
    )  # fmt: skip
    centres_bins = profiles.depth_centres
    low, high = _activity_extent(spikes.depths)
    if high - low <= window_um:
        window_centres = np.array([(low + high) / 2])
    else:
        n = int(math.ceil((high - low - window_um) / step)) + 1
        first = low + window_um / 2
        window_centres = first + step * np.arange(n)
        window_centres = np.minimum(window_centres, high - window_um / 2)
    traces = []
    depths = spikes.depths
    parts = _usable_parts(profiles, min_spikes) if method == "decentralised" else 1
    part_values = _regroup(profiles, parts)[0]
    prepared_parts = _prepare(part_values, log_compress, smooth_um / depth_bin_um)
    for centre in window_centres:
        weights = _hann(centres_bins, centre, window_um)
        inside = (depths >= centre - window_um / 2) & (depths < centre + window_um / 2)
        counts = np.bincount(profiles.bin_of_spike[inside], minlength=len(profiles.counts))
        counts = counts[: len(profiles.counts)]
        registration = register_profiles(prepared, reference, max_bins, weights=weights)
        shifts = registration.shifts
        if parts > 1:  # as in the rigid trace: parts of a bin, weighted by their activity
            by_part = register_profiles(prepared_parts, reference, max_bins, weights=weights)
            good = np.isfinite(by_part.shifts) & (by_part.peak_correlation >= min_correlation)
            mass = np.where(good, part_values @ weights, 0.0).reshape(-1, parts)
            total = mass.sum(axis=1)
            summed = (np.where(good, by_part.shifts, 0.0).reshape(-1, parts) * mass).sum(axis=1)
            shifts = np.where(total > 0, summed / np.where(total > 0, total, 1.0), shifts)
        traces.append(
            _finish(
                spikes,
                profiles.time_edges,
                shifts * depth_bin_um,
                (counts >= min_spikes) & (registration.peak_correlation >= min_correlation),
                counts,
                registration.peak_correlation,
                (float(centre - window_um / 2), float(centre + window_um / 2)),
                {
                    **settings,
                    "method": "non-rigid",
                    "registration": method,
                    "window_um": window_um,
                    "window_centre_um": float(centre),
                },
            )
        )
    return NonRigidDrift(window_centres_um=window_centres, traces=tuple(traces))


def summarize_trace(trace: DriftTrace) -> DriftSummary:
    """Peak-to-peak, median and 95th-percentile |displacement| and largest step, in µm.

    Only valid bins count; the largest step is taken between consecutive *valid* bins. With
    no valid bin every number is NaN.
    """
    values = trace.displacement_um[trace.valid]
    values = values[np.isfinite(values)]
    if len(values):
        centred = values - np.median(values)
        ptp = float(np.ptp(values))
        median_abs = float(np.median(np.abs(centred)))
        p95 = float(np.percentile(np.abs(centred), 95))
        steps = np.abs(np.diff(values))
        max_step = float(steps.max()) if len(steps) else 0.0
    else:
        ptp = median_abs = p95 = max_step = math.nan
    return DriftSummary(
        peak_to_peak_um=ptp,
        median_abs_um=median_abs,
        p95_abs_um=p95,
        max_step_um=max_step,
        n_bins=len(trace.displacement_um),
        n_valid_bins=int(trace.valid.sum()),
        n_spikes=int(trace.spike_counts.sum()),
        bin_s=trace.bin_s,
        frame=trace.frame,
        source=trace.source,
    )


def trace_from_displacement(
    times: np.ndarray,
    displacement_um: np.ndarray,
    *,
    frame: str,
    source: str,
    session: str = "",
    depth_range_um: tuple[float, float] = (math.nan, math.nan),
) -> DriftTrace:
    """Wrap a displacement sampled at ``times`` (bin centres, s) as a :class:`DriftTrace`.

    Used for motion estimates from elsewhere (the sorter's own, a ground truth). The values
    are re-referenced to their median, as estimated traces are.
    """
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(displacement_um, dtype=np.float64)
    if times.ndim != 1 or values.shape != times.shape or len(times) == 0:
        raise OptionError("times and displacement_um must be non-empty 1-D arrays of one length")
    if len(times) > 1:
        half = np.diff(times) / 2
        edges = np.concatenate([[times[0] - half[0]], times[:-1] + half, [times[-1] + half[-1]]])
    else:
        edges = np.array([times[0] - 0.5, times[0] + 0.5])
    valid = np.isfinite(values)
    if valid.any():
        values = values - np.median(values[valid])
    return DriftTrace(
        time_edges=edges,
        displacement_um=values,
        valid=valid,
        spike_counts=np.zeros(len(times), dtype=np.int64),
        peak_correlation=np.full(len(times), np.nan),
        frame=frame,
        depth_range_um=depth_range_um,
        session=session,
        source=source,
    )


@dataclass(frozen=True)
class _Profiles:
    time_edges: np.ndarray
    depth_centres: np.ndarray
    depth_range: tuple[float, float]
    values: np.ndarray  # (n_time_bins, n_depth_bins)
    counts: np.ndarray  # (n_time_bins,)
    bin_of_spike: np.ndarray  # time bin of each spike
    sub_values: np.ndarray  # (n_time_bins * sub_bins, n_depth_bins): each bin cut in parts
    sub_counts: np.ndarray  # (n_time_bins * sub_bins,)

    @property
    def sub_bins(self) -> int:
        return len(self.sub_counts) // len(self.counts)


def _profiles(
    spikes: SpikeTable,
    bin_s: float,
    depth_bin_um: float,
    max_shift_um: float,
    amplitude_weighted: bool,
    depth_range_um: tuple[float, float] | None,
    sub_bins: int = 1,
) -> _Profiles:
    times = np.asarray(spikes.times)
    depths = np.asarray(spikes.depths)
    keep = np.isfinite(times) & np.isfinite(depths)
    if depth_range_um is not None:
        keep &= (depths >= depth_range_um[0]) & (depths < depth_range_um[1])
    if not keep.any():
        raise EmptySelectionError(
            f"session {spikes.info.name!r}: no spikes with finite time and depth to estimate drift"
        )
    everything = bool(keep.all())
    if not everything:
        times, depths = times[keep], depths[keep]
    weights = np.asarray(spikes.amplitudes, dtype=np.float64) if amplitude_weighted else None
    if weights is not None and not everything:
        weights = weights[keep]
    t_max = float(times.max())
    duration = max(t_max, bin_s)
    n_time = max(1, int(round(duration / bin_s)))
    if n_time * bin_s < duration:
        edges = np.append(bin_s * np.arange(n_time), duration)
    else:
        edges = bin_s * np.arange(n_time + 1)
    edges[-1] = max(edges[-1], t_max)
    # every bin is cut into `sub_bins` equal parts; all bins have width bin_s but the last
    n_sub = n_time * sub_bins
    # clipped: a time before 0 belongs to the first part, as np.searchsorted would place it
    sub_bin = np.clip((times * (sub_bins / bin_s)).astype(np.int64), 0, n_sub - 1)
    last = times >= edges[-2]
    if last.any():
        width = (edges[-1] - edges[-2]) / sub_bins
        offset = ((times[last] - edges[-2]) / width).astype(np.int64)
        sub_bin[last] = (n_time - 1) * sub_bins + np.minimum(offset, sub_bins - 1)
    pad = max_shift_um + 4 * depth_bin_um
    d_min, d_max = float(depths.min()), float(depths.max())
    low = math.floor((d_min - pad) / depth_bin_um) * depth_bin_um
    n_depth = int(math.ceil((d_max + pad - low) / depth_bin_um))
    flat = ((depths - low) * (1.0 / depth_bin_um)).astype(np.int64)  # ≥ 4 bins inside
    flat += sub_bin * n_depth
    sub_values = np.bincount(flat, weights=weights, minlength=n_sub * n_depth)
    sub_values = sub_values.reshape(n_sub, n_depth)
    sub_counts = np.bincount(sub_bin, minlength=n_sub)
    del flat
    if everything:
        full_bin = sub_bin // sub_bins
    else:
        full_bin = np.full(len(keep), n_time, dtype=np.int64)  # n_time = "not used"
        full_bin[keep] = sub_bin // sub_bins
    return _Profiles(
        time_edges=edges,
        depth_centres=low + depth_bin_um * (np.arange(n_depth) + 0.5),
        depth_range=(d_min, d_max)
        if depth_range_um is None
        else (float(depth_range_um[0]), float(depth_range_um[1])),
        values=sub_values.reshape(n_time, sub_bins, n_depth).sum(axis=1),
        counts=sub_counts.reshape(n_time, sub_bins).sum(axis=1),
        bin_of_spike=full_bin,
        sub_values=sub_values,
        sub_counts=sub_counts,
    )


def _prepare(values: np.ndarray, log_compress: bool, sigma_bins: float) -> np.ndarray:
    out = np.log1p(values) if log_compress else values.astype(np.float64)
    return gaussian_smooth(out, sigma_bins)


METHODS = ("decentralised", "reference")
SUB_BIN_S = 0.5  # decentralised: each time bin is measured in parts of about this length ...
MAX_SUB_BINS = 20  # ... but in at most this many parts ...
MAX_PARTS = 4000  # ... and at most this many parts in the whole session
PART_MIN_FRACTION = 0.5  # ... each typically holding this fraction of min_spikes or more


def _sub_bins(spikes: SpikeTable, bin_s: float, method: str) -> int:
    """Parts each time bin is cut into for the decentralised registration (1 otherwise).

    Parts last ``SUB_BIN_S`` or, in long sessions, ``duration / MAX_PARTS`` (so the work
    stays bounded); at most ``MAX_SUB_BINS`` parts per bin.
    """
    if method != "decentralised" or len(spikes.times) == 0:
        return 1
    duration = float(np.nanmax(spikes.times)) if np.isfinite(spikes.times).any() else 0.0
    part_s = max(SUB_BIN_S, duration / MAX_PARTS)
    return int(min(MAX_SUB_BINS, max(1, round(bin_s / part_s))))


def _rigid_shifts(
    profiles: _Profiles,
    log_compress: bool,
    sigma_bins: float,
    min_spikes: int,
    max_bins: int,
    n_iterations: int,
    min_correlation: float,
    method: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rigid shift of every time bin (depth bins), its correlation and the aligned reference.

    Returns ``(reference, shifts, correlation)``: the mean of the aligned profiles of bins
    with enough spikes, each bin's shift (NaN where unmeasured) and the normalised
    correlation of its aligned profile with the reference.

    The decentralised registration measures each time bin in ``profiles.sub_bins`` parts
    (fewer when the parts would typically hold fewer than ``PART_MIN_FRACTION × min_spikes``
    spikes; see :func:`_part_shifts`) and reports the spike-weighted mean of the parts: a bin
    during which the probe jumped then gets its average displacement instead of one of its
    two positions.
    """
    enough = profiles.counts >= min_spikes
    if method == "reference":
        prepared = _prepare(profiles.values, log_compress, sigma_bins)
        reference, registration = _iterate_reference(
            prepared, enough, max_bins, n_iterations, min_correlation
        )
        return reference, registration.shifts, registration.peak_correlation
    n_time, n_depth = profiles.values.shape
    parts = _usable_parts(profiles, min_spikes)
    sub_values, sub_counts = _regroup(profiles, parts)
    sub_shifts = _part_shifts(
        sub_values, sub_counts, max(1.0, min_spikes / parts), log_compress, sigma_bins,
        max_bins, min_correlation,
    )  # fmt: skip
    measured = np.isfinite(sub_shifts)
    weight = (sub_counts * measured).reshape(n_time, parts)
    total = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shifts = (weight * np.where(measured, sub_shifts, 0.0).reshape(n_time, parts)).sum(
            axis=1
        ) / total
    shifts[total < 0.5 * profiles.counts] = np.nan  # most of the bin's spikes unmeasured
    aligned = shift_profiles(sub_values, np.where(measured, sub_shifts, 0.0))
    aligned = _prepare(
        aligned.reshape(n_time, parts, n_depth).sum(axis=1), log_compress, sigma_bins
    )
    ok = enough & np.isfinite(shifts)
    if not ok.any():
        return np.zeros(n_depth), shifts, np.full(n_time, np.nan)
    reference = aligned[ok].mean(axis=0)
    correlation = _row_correlation(aligned, reference)
    correlation[~np.isfinite(shifts)] = np.nan
    return reference, shifts, correlation


MAX_PAIR_BINS = 128  # pairwise registration on at most this many stretches of the session


def _part_shifts(
    values: np.ndarray,
    counts: np.ndarray,
    min_count: float,
    log_compress: bool,
    sigma_bins: float,
    max_bins: int,
    min_correlation: float,
) -> np.ndarray:
    """Shift (depth bins) of every short part of the session, NaN where unmeasured.

    1. The session is cut into at most ``MAX_PAIR_BINS`` stretches (groups of consecutive
       parts); every pair of stretches is registered and the stretches' displacements are
       solved jointly (:mod:`driftqc.metrics.decentralised`).
    2. The stretches' profiles, aligned by those displacements, are averaged into a sharp
       session reference: it holds every unit once, whatever steps the session contains.
    3. Every part is registered against that reference; the reference is rebuilt from the
       aligned parts that match it (correlation ≥ ``min_correlation``) and every part is
       registered once more.
    """
    n, n_depth = values.shape
    usable = counts >= min_count
    group = max(1, math.ceil(n / MAX_PAIR_BINS))
    n_coarse = math.ceil(n / group)
    padded = np.zeros((n_coarse * group, n_depth))
    padded[:n] = np.where(usable[:, None], values, 0.0)
    coarse = _prepare(
        padded.reshape(n_coarse, group, n_depth).sum(axis=1), log_compress, sigma_bins
    )
    coarse_counts = np.bincount(np.arange(n) // group, usable * counts, n_coarse)
    coarse_usable = coarse_counts >= min_count
    first, second, pair_shift, pair_corr = pairwise_shifts(coarse, coarse_usable, max_bins)
    good = pair_corr >= min_correlation
    solution = solve_pairwise(
        n_coarse, first[good], second[good], pair_shift[good], pair_corr[good]
    )
    ok = coarse_usable & np.isfinite(solution.shifts)
    if not ok.any():
        return np.full(n, np.nan)
    reference = shift_profiles(coarse[ok], solution.shifts[ok]).mean(axis=0)
    prepared = _prepare(values, log_compress, sigma_bins)
    for rebuilt in (False, True):
        registration = register_profiles(prepared, reference, max_bins)
        matched = usable & (registration.peak_correlation >= min_correlation)
        matched &= np.isfinite(registration.shifts)
        if not matched.any():
            return np.full(n, np.nan)
        if not rebuilt:
            shifts = registration.shifts[matched]
            reference = shift_profiles(prepared[matched], shifts).mean(axis=0)
    shifts = np.where(matched, registration.shifts, np.nan)
    return shifts - np.nanmean(shifts)


def _regroup(profiles: _Profiles, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Profiles and spike counts of every bin cut into ``parts`` parts (a divisor of sub_bins)."""
    n_time, n_depth = profiles.values.shape
    group = profiles.sub_bins // parts
    values = profiles.sub_values.reshape(n_time * parts, group, n_depth).sum(axis=1)
    counts = profiles.sub_counts.reshape(n_time * parts, group).sum(axis=1)
    return values, counts


def _usable_parts(profiles: _Profiles, min_spikes: int) -> int:
    """Largest divisor of ``sub_bins`` whose parts typically hold enough spikes.

    Enough: ``PART_MIN_FRACTION × min_spikes``, judged on the median spike count of the bins
    that have spikes.
    """
    active = profiles.counts[profiles.counts > 0]
    typical = float(np.median(active)) if len(active) else 0.0
    for parts in range(profiles.sub_bins, 1, -1):
        if profiles.sub_bins % parts == 0 and typical / parts >= PART_MIN_FRACTION * min_spikes:
            return parts
    return 1


def _row_correlation(rows: np.ndarray, reference: np.ndarray) -> np.ndarray:
    centred = rows - rows.mean(axis=1, keepdims=True)
    ref = reference - reference.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (centred @ ref) / (np.linalg.norm(centred, axis=1) * np.linalg.norm(ref))


def _iterate_reference(
    prepared: np.ndarray,
    enough: np.ndarray,
    max_bins: int,
    n_iterations: int,
    min_correlation: float,
) -> tuple[np.ndarray, Registration]:
    usable = prepared[enough] if enough.any() else prepared
    reference = np.median(usable, axis=0)
    registration = register_profiles(prepared, reference, max_bins)
    for _ in range(n_iterations):
        ok = enough & np.isfinite(registration.shifts)
        ok &= registration.peak_correlation >= min_correlation
        if not ok.any():
            break
        aligned = shift_profiles(prepared[ok], registration.shifts[ok])
        reference = aligned.mean(axis=0)
        registration = register_profiles(prepared, reference, max_bins)
    return reference, registration


def _finish(
    spikes: SpikeTable,
    time_edges: np.ndarray,
    shifts_um: np.ndarray,
    enough: np.ndarray,
    counts: np.ndarray,
    correlation: np.ndarray,
    depth_range: tuple[float, float],
    params: dict[str, object],
) -> DriftTrace:
    valid = enough & np.isfinite(shifts_um)
    values = np.full(len(shifts_um), np.nan)
    if valid.any():
        values[valid] = shifts_um[valid] - np.median(shifts_um[valid])
        centres = 0.5 * (time_edges[:-1] + time_edges[1:])
        values = np.interp(centres, centres[valid], values[valid])
    return DriftTrace(
        time_edges=np.asarray(time_edges, dtype=np.float64),
        displacement_um=values,
        valid=valid,
        spike_counts=np.asarray(counts, dtype=np.int64),
        peak_correlation=correlation,
        frame=spikes.info.depth_frame,
        depth_range_um=depth_range,
        session=spikes.info.name,
        params=params,
    )


def _hann(centres: np.ndarray, middle: float, height: float) -> np.ndarray:
    x = (centres - middle) / height
    return np.where(np.abs(x) < 0.5, np.cos(np.pi * x) ** 2, 0.0)


def _activity_extent(depths: np.ndarray) -> tuple[float, float]:
    finite = np.asarray(depths, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if len(finite) == 0:
        return 0.0, 1.0
    return float(np.percentile(finite, 0.5)), float(np.percentile(finite, 99.5))


def _settings(
    bin_s: float,
    depth_bin_um: float,
    max_shift_um: float,
    min_spikes: int,
    amplitude_weighted: bool,
    log_compress: bool,
    smooth_um: float,
    n_iterations: int,
    min_correlation: float,
    method: str,
) -> dict[str, object]:
    """Check the registration options shared by the rigid and non-rigid estimates.

    Returns them as the trace's ``settings`` record (the caller adds ``method``).
    """
    _check(bin_s, "bin_s")
    _check(depth_bin_um, "depth_bin_um")
    _check(max_shift_um, "max_shift_um")
    if n_iterations < 0 or min_spikes < 1:
        raise OptionError("n_iterations must be >= 0 and min_spikes >= 1")
    if method not in METHODS:
        raise OptionError(f"method={method!r}: expected one of {', '.join(METHODS)}")
    return {
        "bin_s": bin_s,
        "depth_bin_um": depth_bin_um,
        "max_shift_um": max_shift_um,
        "min_spikes": min_spikes,
        "amplitude_weighted": amplitude_weighted,
        "log_compress": log_compress,
        "smooth_um": smooth_um,
        "n_iterations": n_iterations,
        "min_correlation": min_correlation,
    }


def _check(value: float, name: str) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise OptionError(f"{name}={value!r} must be a positive number")
    return float(value)


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _plain_list(values: np.ndarray) -> list[object]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]
