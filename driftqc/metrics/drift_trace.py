"""Within-session drift trace: how far the probe moved along its axis over time, from spikes.

Every unit's spikes sit at a fairly constant depth on the probe unless the tissue moves. Cut
the session into time bins (10 s by default), build each bin's depth-activity profile (a
histogram of spike depths in 5-µm bins), and register it against a session reference profile
(:mod:`driftqc.metrics.registration`): the shift that best aligns a bin's profile with the
reference is the tissue displacement at that time. The reference starts as the median profile
over bins and is then refined once or twice as the mean of the aligned profiles, which makes it
sharp even when the session drifts a lot.

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

**Non-rigid.** :func:`estimate_nonrigid_drift` repeats the registration with the correlation
restricted to overlapping depth windows (500 µm, half overlapping, tapered), one trace per
window, against the same rigidly aligned reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from driftqc.errors import EmptySelectionError, OptionError
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

    Returns
    -------
    DriftTrace
        Displacement per time bin (µm, relative to the session median) with validity,
        spike counts and the frame of the input depths.

    Notes
    -----
    Time bins start at 0 s and cover the session up to its last spike; a trailing bin
    shorter than half of ``bin_s`` is merged into the previous one. Displacements larger
    than ``max_shift_um`` from the reference are not measurable (those bins are invalid).

    Examples
    --------
    >>> trace = estimate_drift_trace(sorting.spikes, bin_s=10)  # doctest: +SKIP
    >>> trace.summary().peak_to_peak_um  # doctest: +SKIP
    """
    settings = _settings(
        bin_s, depth_bin_um, max_shift_um, min_spikes, amplitude_weighted, log_compress,
        smooth_um, n_iterations, min_correlation,
    )  # fmt: skip
    profiles = _profiles(
        spikes, bin_s, depth_bin_um, max_shift_um, amplitude_weighted, depth_range_um
    )
    prepared = _prepare(profiles.values, log_compress, smooth_um / depth_bin_um)
    max_bins = int(math.ceil(max_shift_um / depth_bin_um))
    enough = profiles.counts >= min_spikes
    reference, registration = _iterate_reference(
        prepared, enough, max_bins, n_iterations, min_correlation
    )
    shifts_um = registration.shifts * depth_bin_um
    return _finish(
        spikes,
        profiles.time_edges,
        shifts_um,
        enough & (registration.peak_correlation >= min_correlation),
        profiles.counts,
        registration.peak_correlation,
        profiles.depth_range,
        {**settings, "method": "rigid"},
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
    amplitude_weighted, log_compress, smooth_um, n_iterations, min_correlation
        As in :func:`estimate_drift_trace`.

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
        smooth_um, n_iterations, min_correlation,
    )  # fmt: skip
    profiles = _profiles(spikes, bin_s, depth_bin_um, max_shift_um, amplitude_weighted, None)
    prepared = _prepare(profiles.values, log_compress, smooth_um / depth_bin_um)
    max_bins = int(math.ceil(max_shift_um / depth_bin_um))
    enough = profiles.counts >= min_spikes
    reference, _ = _iterate_reference(prepared, enough, max_bins, n_iterations, min_correlation)
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
    for centre in window_centres:
        weights = _hann(centres_bins, centre, window_um)
        inside = (depths >= centre - window_um / 2) & (depths < centre + window_um / 2)
        counts = np.bincount(profiles.bin_of_spike[inside], minlength=len(profiles.counts))
        counts = counts[: len(profiles.counts)]
        registration = register_profiles(prepared, reference, max_bins, weights=weights)
        traces.append(
            _finish(
                spikes,
                profiles.time_edges,
                registration.shifts * depth_bin_um,
                (counts >= min_spikes) & (registration.peak_correlation >= min_correlation),
                counts,
                registration.peak_correlation,
                (float(centre - window_um / 2), float(centre + window_um / 2)),
                {
                    **settings,
                    "method": "non-rigid",
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


def _profiles(
    spikes: SpikeTable,
    bin_s: float,
    depth_bin_um: float,
    max_shift_um: float,
    amplitude_weighted: bool,
    depth_range_um: tuple[float, float] | None,
) -> _Profiles:
    times = np.asarray(spikes.times, dtype=np.float64)
    depths = np.asarray(spikes.depths, dtype=np.float64)
    keep = np.isfinite(times) & np.isfinite(depths)
    if depth_range_um is not None:
        keep &= (depths >= depth_range_um[0]) & (depths < depth_range_um[1])
    if not keep.any():
        raise EmptySelectionError(
            f"session {spikes.info.name!r}: no spikes with finite time and depth to estimate drift"
        )
    times, depths = times[keep], depths[keep]
    weights = np.asarray(spikes.amplitudes, dtype=np.float64)[keep] if amplitude_weighted else None
    duration = max(float(times.max()), bin_s)
    n_time = max(1, int(round(duration / bin_s)))
    if n_time * bin_s < duration:
        edges = np.append(bin_s * np.arange(n_time), duration)
    else:
        edges = bin_s * np.arange(n_time + 1)
    edges[-1] = max(edges[-1], float(times.max()))
    time_bin = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, n_time - 1)
    pad = max_shift_um + 4 * depth_bin_um
    low = math.floor((float(depths.min()) - pad) / depth_bin_um) * depth_bin_um
    high = float(depths.max()) + pad
    n_depth = int(math.ceil((high - low) / depth_bin_um))
    depth_bin = np.clip(((depths - low) / depth_bin_um).astype(np.intp), 0, n_depth - 1)
    flat = time_bin * n_depth + depth_bin
    values = np.bincount(flat, weights=weights, minlength=n_time * n_depth)
    counts = np.bincount(time_bin, minlength=n_time)
    full_bin = np.full(len(spikes), n_time, dtype=np.intp)  # n_time = "not used"
    full_bin[keep] = time_bin
    return _Profiles(
        time_edges=edges,
        depth_centres=low + depth_bin_um * (np.arange(n_depth) + 0.5),
        depth_range=(float(depths.min()), float(depths.max()))
        if depth_range_um is None
        else (float(depth_range_um[0]), float(depth_range_um[1])),
        values=values.reshape(n_time, n_depth),
        counts=counts,
        bin_of_spike=full_bin,
    )


def _prepare(values: np.ndarray, log_compress: bool, sigma_bins: float) -> np.ndarray:
    out = np.log1p(values) if log_compress else values.astype(np.float64)
    return gaussian_smooth(out, sigma_bins)


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
) -> dict[str, object]:
    """Check the registration options shared by the rigid and non-rigid estimates.

    Returns them as the trace's ``settings`` record (the caller adds ``method``).
    """
    _check(bin_s, "bin_s")
    _check(depth_bin_um, "depth_bin_um")
    _check(max_shift_um, "max_shift_um")
    if n_iterations < 0 or min_spikes < 1:
        raise OptionError("n_iterations must be >= 0 and min_spikes >= 1")
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
