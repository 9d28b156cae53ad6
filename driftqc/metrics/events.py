"""Drift events: moments when a band of large spikes leaves its usual depth.

This is the band-tracking detector of the cortex-lab drift maps (``plotDriftmap(..., 'mark')``
and ``detectDriftEvents``), reimplemented from its description:

1. Cut the probe into ``segment_um`` (800 µm) depth segments from 0 µm. In each, keep the
   *large* spikes: amplitude > mean + ``large_amplitude_std`` (1.5) × sample standard
   deviation of that segment's amplitudes.
2. Histogram their depths in ``bin_um`` (2 µm) bins from min − 2 to max + 2 µm.
3. Local maxima of the histogram (strict; a plateau counts once, at its first bin; the end bins
   never count) are candidate bands. A band needs ``min_rate_hz`` (0.3) spikes per second of
   recording in its peak bin.
4. A band's edges are the nearest bins on either side whose count is below
   ``edge_fraction`` (5 %) of the peak. A band whose edges reach past a neighbouring local
   maximum (any maximum, rate threshold passed or not) is not isolated and is skipped.
5. For an isolated band, take the spikes strictly between its edges and, for consecutive
   ``window_s`` (10 s) windows starting at 0 and ending by the last spike, compute
   ``drift = band depth − median depth of the window's spikes``. An event is recorded at the
   window centre when ``|drift| > min_drift_um`` (6 µm) and the window holds more than
   ``min_spikes`` (10) spikes.

**Sign.** The cortex-lab drift is positive when the spikes sit *below* (smaller y than) the
band's usual depth. The table also gives ``displacement_um = −drift_um`` in driftqc's
convention (positive = spikes at larger y). Depths are in the frame of the input spikes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from driftqc.errors import OptionError
from driftqc.model import SpikeTable

EVENT_COLUMNS = (
    "time_s",
    "depth_um",
    "drift_um",
    "displacement_um",
    "n_spikes",
    "segment_low_um",
    "frame",
)


@dataclass(frozen=True)
class EventParams:
    """Parameters of the cortex-lab drift-event detector (defaults as in cortex-lab/spikes)."""

    segment_um: float = 800.0
    large_amplitude_std: float = 1.5
    bin_um: float = 2.0
    min_rate_hz: float = 0.3
    edge_fraction: float = 0.05
    window_s: float = 10.0
    min_drift_um: float = 6.0
    min_spikes: int = 10

    def __post_init__(self) -> None:
        for name in ("segment_um", "bin_um", "window_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise OptionError(f"drift events: {name}={value!r} must be a positive number")
        if not 0 < self.edge_fraction < 1:
            raise OptionError(f"drift events: edge_fraction={self.edge_fraction!r} not in (0, 1)")
        if self.min_rate_hz < 0 or self.min_drift_um < 0 or self.min_spikes < 0:
            raise OptionError("drift events: min_rate_hz, min_drift_um, min_spikes must be >= 0")


def find_drift_events(spikes: SpikeTable, params: EventParams | None = None) -> pd.DataFrame:
    r"""Detect drift events in a session, segment by segment.

    Parameters
    ----------
    spikes
        Spikes of one session (or shank), with amplitudes.
    params
        Detector parameters (:class:`EventParams`; defaults as in cortex-lab).

    Returns
    -------
    pandas.DataFrame
        One row per event with columns ``time_s`` (window centre), ``depth_um`` (band depth),
        ``drift_um`` (cortex-lab sign), ``displacement_um`` (= −drift), ``n_spikes`` (in the
        window), ``segment_low_um`` and ``frame``; ``df.attrs`` holds units, frame and
        parameters. Empty (with these columns) when nothing is found.

    Examples
    --------
    >>> events = find_drift_events(sorting.spikes)  # doctest: +SKIP
    >>> events.to_csv("events.tsv", sep="\t", index=False)  # doctest: +SKIP
    """
    params = params or EventParams()
    depths = np.asarray(spikes.depths, dtype=np.float64)
    amps = np.asarray(spikes.amplitudes, dtype=np.float64)
    times = np.asarray(spikes.times, dtype=np.float64)
    ok = np.isfinite(depths) & np.isfinite(amps) & np.isfinite(times)
    rows: list[dict[str, object]] = []
    if ok.any():
        top = float(depths[ok].max())
        for low in np.arange(0.0, top + 1e-9, params.segment_um):
            seg = ok & (depths >= low) & (depths < low + params.segment_um)
            if seg.sum() < 2:
                continue
            seg_amps = amps[seg]
            large = seg_amps > seg_amps.mean() + params.large_amplitude_std * seg_amps.std(ddof=1)
            idx = np.flatnonzero(seg)[large]
            order = np.argsort(times[idx], kind="stable")
            for event in detect_band_events(times[idx][order], depths[idx][order], params):
                rows.append({**event, "segment_low_um": float(low)})
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS[:-1]))
    frame["frame"] = spikes.info.depth_frame
    frame = frame.astype(
        {"time_s": float, "depth_um": float, "drift_um": float, "displacement_um": float}
    )
    frame["n_spikes"] = frame["n_spikes"].astype(np.int64)
    frame.attrs.update(
        {"units": {"time": "s", "depth": "µm", "drift": "µm"}, "frame": spikes.info.depth_frame}
    )
    frame.attrs["params"] = asdict(params)
    frame.attrs["session"] = spikes.info.name
    return frame


def detect_band_events(
    times: np.ndarray, depths: np.ndarray, params: EventParams | None = None
) -> list[dict[str, float]]:
    """Events of one set of spikes (one segment's large spikes), times sorted ascending.

    Returns a list of ``{"time_s", "depth_um", "drift_um", "displacement_um", "n_spikes"}``
    (see :func:`find_drift_events` for the algorithm).
    """
    params = params or EventParams()
    times = np.asarray(times, dtype=np.float64)
    depths = np.asarray(depths, dtype=np.float64)
    if len(times) == 0:
        return []
    duration = float(times[-1])
    centres, counts = _histc(depths, params.bin_um)
    peaks = _strict_peaks(counts)
    events: list[dict[str, float]] = []
    for p, loc in enumerate(peaks):
        height = counts[loc]
        if height < params.min_rate_hz * duration:
            continue
        below = np.flatnonzero(counts[: loc + 1] < params.edge_fraction * height)
        above = np.flatnonzero(counts[loc:] < params.edge_fraction * height)
        begin = int(below[-1]) if len(below) else 0
        end = int(loc + above[0]) if len(above) else len(counts) - 1
        if (p > 0 and begin < peaks[p - 1]) or (p < len(peaks) - 1 and end > peaks[p + 1]):
            continue  # not isolated
        band = (depths > centres[begin]) & (depths < centres[end])
        band_times, band_depths = times[band], depths[band]
        band_depth = float(centres[loc])
        for start in np.arange(0.0, duration - params.window_s + 1e-9, params.window_s):
            in_window = (band_times >= start) & (band_times <= start + params.window_s)
            n = int(in_window.sum())
            if n <= params.min_spikes:
                continue
            drift = band_depth - float(np.median(band_depths[in_window]))
            if abs(drift) > params.min_drift_um:
                events.append(
                    {
                        "time_s": float(start + params.window_s / 2),
                        "depth_um": band_depth,
                        "drift_um": drift,
                        "displacement_um": -drift,
                        "n_spikes": n,
                    }
                )
    return events


def _histc(depths: np.ndarray, bin_um: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB ``histc`` on edges min−D : D : max+D, last element dropped; bin centres."""
    low, high = float(depths.min()) - bin_um, float(depths.max()) + bin_um
    n_edges = int(math.floor((high - low) / bin_um + 1e-9)) + 1
    edges = low + bin_um * np.arange(n_edges)
    index = np.floor((depths - low) / bin_um).astype(np.intp)
    counts = np.bincount(index[(index >= 0) & (index < n_edges - 1)], minlength=n_edges - 1)
    return edges[:-1] + bin_um / 2, counts[: n_edges - 1].astype(np.float64)


def _strict_peaks(counts: np.ndarray) -> np.ndarray:
    """Return strict local maxima; a plateau counts at its first index; ends excluded."""
    peaks = []
    n = len(counts)
    i = 1
    while i < n - 1:
        if counts[i] > counts[i - 1]:
            j = i + 1
            while j < n and counts[j] == counts[i]:
                j += 1
            if j < n and counts[j] < counts[i]:
                peaks.append(i)
            i = j
        else:
            i += 1
    return np.asarray(peaks, dtype=np.intp)
