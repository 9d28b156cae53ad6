"""Binned summaries of spikes along depth and time, ready to draw.

The **depth histogram** is the probe's activity profile: spikes (or summed amplitude) per
depth bin, from every spike that passed the filters. The **density image** bins every spike
into a time × depth grid, so a whole session can be shown without decimation and without
points hiding each other. Both cost O(spikes) with ``np.bincount`` and no per-point work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftqc.errors import OptionError

DEPTH_BIN_UM = 2.0
BLOCK = 1 << 22  # spikes per block when binning, to bound temporary arrays
# the depth histogram's few bins let it take blocks whose temporaries stay in the CPU cache
# (~1.7x faster than 4 M-spike blocks on 10 M spikes)
HISTOGRAM_BLOCK = 1 << 16


def value_range(values: np.ndarray) -> tuple[float, float] | None:
    """Smallest and largest non-NaN value, or None when there is none (no warnings)."""
    if len(values) == 0:
        return None
    low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
    return None if np.isnan(low) else (low, high)


@dataclass(frozen=True)
class DepthHistogram:
    """Spike count (or summed amplitude) per depth bin.

    Attributes
    ----------
    edges
        (n_bins + 1,) bin edges in µm.
    values
        (n_bins,) count or summed amplitude per bin.
    weighted
        True when ``values`` sums amplitudes.
    """

    edges: np.ndarray
    values: np.ndarray
    weighted: bool

    @property
    def centres(self) -> np.ndarray:
        """Bin centres in µm."""
        return 0.5 * (self.edges[:-1] + self.edges[1:])


def depth_histogram(
    depths: np.ndarray,
    amplitudes: np.ndarray | None = None,
    *,
    bin_um: float = DEPTH_BIN_UM,
    depth_range: tuple[float, float] | None = None,
) -> DepthHistogram:
    """Histogram of spike depths, optionally weighted by amplitude.

    Parameters
    ----------
    depths
        Spike depths in µm.
    amplitudes
        If given, each spike counts with its amplitude (summed amplitude per bin).
    bin_um
        Bin width in µm.
    depth_range
        ``(low, high)`` µm covered by the bins; by default the depths' own range.

    Notes
    -----
    Non-finite depths are ignored. With no spikes the histogram has one empty bin.
    """
    if not bin_um > 0:
        raise OptionError(f"bin_um={bin_um!r} must be positive")
    depths = np.asarray(depths)
    if depth_range is None:
        depth_range = value_range(depths)
        if depth_range is None:
            return DepthHistogram(np.array([0.0, bin_um]), np.zeros(1), amplitudes is not None)
    low = np.floor(depth_range[0] / bin_um) * bin_um
    n_bins = max(1, int(np.floor((depth_range[1] - low) / bin_um)) + 1)
    edges = low + bin_um * np.arange(n_bins + 1)
    # bins 1..n_bins hold the histogram; 0 and n_bins + 1 catch NaN and out-of-range spikes
    values = np.zeros(n_bins + 2)
    scaled = np.empty(min(len(depths), HISTOGRAM_BLOCK), dtype=np.float32)
    for start in range(0, len(depths), HISTOGRAM_BLOCK):
        block = slice(start, start + HISTOGRAM_BLOCK)
        index = scaled[: len(depths[block])]
        np.subtract(depths[block], np.float32(low), out=index, dtype=np.float32)
        index /= np.float32(bin_um)
        np.floor(index, out=index)
        index += 1  # exact: the values are whole numbers
        np.fmax(index, 0, out=index)  # NaN becomes 0 too
        np.fmin(index, n_bins + 1, out=index)
        weights = None if amplitudes is None else np.asarray(amplitudes[block], dtype=np.float64)
        values += np.bincount(index.astype(np.intp), weights=weights, minlength=n_bins + 2)
    return DepthHistogram(edges, values[1:-1], amplitudes is not None)


# a density image is readable when its typical occupied bin holds a few spikes: with one
# spike per bin (one bin per pixel on a small session) it is a hairline sketch
MIN_MEDIAN_SPIKES_PER_BIN = 6.0
TIME_BINS_FLOOR = 60  # time bins are coarsened to this before depth bins are
_SAMPLE = 1_000_000  # spikes looked at when choosing the grid


def density_bins(
    times: np.ndarray,
    depths: np.ndarray,
    time_range: tuple[float, float],
    depth_range: tuple[float, float],
    *,
    max_time_bins: int,
    max_depth_bins: int,
    min_median: float = MIN_MEDIAN_SPIKES_PER_BIN,
    min_time_bins: int = 20,
    min_depth_bins: int = 10,
) -> tuple[int, int]:
    """Grid size of a density image that adapts to the number of spikes.

    Starts from the finest grid (``max_time_bins`` × ``max_depth_bins``, e.g. one bin per
    pixel) and coarsens it until the median occupied bin holds at least ``min_median``
    spikes, or the grid reaches ``min_time_bins`` × ``min_depth_bins``: first the time axis
    (drift is slow) down to :data:`TIME_BINS_FLOOR` bins, then both. Large sessions keep
    the finest grid.

    Parameters
    ----------
    times, depths
        Spike times (s) and depths (µm).
    time_range, depth_range
        Extent of the grid.
    max_time_bins, max_depth_bins
        The finest grid (the pixel grid caps it).
    min_median
        Spikes the median occupied bin should hold.
    min_time_bins, min_depth_bins
        The coarsest grid.

    Returns
    -------
    (n_time_bins, n_depth_bins)
    """
    n_time, n_depth = max(int(max_time_bins), 1), max(int(max_depth_bins), 1)
    times, depths = np.asarray(times), np.asarray(depths)
    ok = np.isfinite(times) & np.isfinite(depths)
    times, depths = times[ok], depths[ok]
    if not len(times) or time_range[1] <= time_range[0] or depth_range[1] <= depth_range[0]:
        return n_time, n_depth
    step = max(1, len(times) // _SAMPLE)  # a regular subsample; counts scaled back up
    times, depths, weight = times[::step], depths[::step], len(times) / len(times[::step])
    low_t, low_d = min(min_time_bins, n_time), min(min_depth_bins, n_depth)
    time_floor = min(n_time, max(low_t, TIME_BINS_FLOOR))
    while True:
        counts, _, _ = np.histogram2d(
            times, depths, bins=(n_time, n_depth), range=(time_range, depth_range)
        )
        occupied = counts[counts > 0]
        median = float(np.median(occupied)) * weight if len(occupied) else 0.0
        if median >= min_median or (n_time <= low_t and n_depth <= low_d):
            return n_time, n_depth
        # the median grows about with the bin area; drift is slow, so time bins coarsen
        # first (down to ``time_floor``), then depth bins
        factor = float(np.clip(min_median / max(median, 1.0), 1.2, 4.0))
        if n_time > time_floor:
            n_time = max(time_floor, int(n_time / factor))
        else:
            n_time = max(low_t, int(n_time / np.sqrt(factor)))
            n_depth = max(low_d, int(n_depth / np.sqrt(factor)))


@dataclass(frozen=True)
class DensityImage:
    """Spikes binned on a time × depth grid.

    Attributes
    ----------
    time_edges, depth_edges
        Bin edges in s and µm.
    values
        (n_depth_bins, n_time_bins) statistic per bin; row 0 holds the smallest depths, so
        draw it with ``origin="lower"``. Empty bins are 0 for counts and NaN otherwise.
    statistic
        ``"count"``, ``"mean_amplitude"`` or ``"max_amplitude"``.
    """

    time_edges: np.ndarray
    depth_edges: np.ndarray
    values: np.ndarray
    statistic: str


DENSITY_STATISTICS = ("count", "mean_amplitude", "max_amplitude")


def density_image(
    times: np.ndarray,
    depths: np.ndarray,
    amplitudes: np.ndarray | None = None,
    *,
    statistic: str = "count",
    n_time_bins: int = 1000,
    n_depth_bins: int = 400,
    time_range: tuple[float, float] | None = None,
    depth_range: tuple[float, float] | None = None,
) -> DensityImage:
    """Bin spikes into a time × depth image.

    Parameters
    ----------
    times, depths
        Spike times (s) and depths (µm).
    amplitudes
        Needed for the amplitude statistics.
    statistic
        ``"count"`` (spikes per bin), ``"mean_amplitude"`` or ``"max_amplitude"``.
    n_time_bins, n_depth_bins
        Grid size; by default about one bin per pixel of a typical figure.
    time_range, depth_range
        Extent of the grid; by default the data's extent.
    """
    times, depths = np.asarray(times), np.asarray(depths)
    grid = DensityAccumulator(
        time_range or _extent(times),
        depth_range or _extent(depths),
        statistic=statistic,
        n_time_bins=n_time_bins,
        n_depth_bins=n_depth_bins,
    )
    for start in range(0, len(times), BLOCK):  # blocks keep temporaries small
        block = slice(start, start + BLOCK)
        grid.add(times[block], depths[block], None if amplitudes is None else amplitudes[block])
    return grid.result()


class DensityAccumulator:
    """Build a :class:`DensityImage` from spikes given in any number of chunks.

    Parameters
    ----------
    time_range, depth_range
        Extent of the grid in s and µm; spikes outside it are counted in ``n_outside``.
    statistic, n_time_bins, n_depth_bins
        As for :func:`density_image`.
    """

    def __init__(
        self,
        time_range: tuple[float, float],
        depth_range: tuple[float, float],
        *,
        statistic: str = "count",
        n_time_bins: int = 1000,
        n_depth_bins: int = 400,
    ) -> None:
        if statistic not in DENSITY_STATISTICS:
            raise OptionError(f"statistic={statistic!r}: use one of {list(DENSITY_STATISTICS)}")
        self.n_time_bins, self.n_depth_bins = int(n_time_bins), int(n_depth_bins)
        if self.n_time_bins < 1 or self.n_depth_bins < 1:
            raise OptionError("density image needs at least one bin in time and in depth")
        self.time_range = (float(time_range[0]), float(time_range[1]))
        self.depth_range = (float(depth_range[0]), float(depth_range[1]))
        if not (
            self.time_range[1] > self.time_range[0] and self.depth_range[1] > self.depth_range[0]
        ):
            raise OptionError(f"empty density grid: {self.time_range} s x {self.depth_range} µm")
        self.statistic = statistic
        size = self.n_time_bins * self.n_depth_bins
        self._counts = np.zeros(size, dtype=np.float64)
        self._values = None if statistic == "count" else np.zeros(size, dtype=np.float64)
        if statistic == "max_amplitude":
            self._values = np.full(size, -np.inf)
        self.n_outside = 0

    def add(
        self, times: np.ndarray, depths: np.ndarray, amplitudes: np.ndarray | None = None
    ) -> None:
        """Add a chunk of spikes."""
        if self._values is not None and amplitudes is None:
            raise OptionError(f"statistic={self.statistic!r} needs amplitudes")
        ti = _bin_index(np.asarray(times, dtype=np.float64), *self.time_range, self.n_time_bins)
        di = _bin_index(np.asarray(depths, dtype=np.float64), *self.depth_range, self.n_depth_bins)
        inside = (ti >= 0) & (di >= 0)
        self.n_outside += int(len(inside) - np.count_nonzero(inside))
        flat = di[inside].astype(np.intp) * self.n_time_bins + ti[inside]
        size = len(self._counts)
        self._counts += np.bincount(flat, minlength=size)
        if self._values is None:
            return
        amps = np.asarray(amplitudes, dtype=np.float64)[inside]
        if self.statistic == "mean_amplitude":
            self._values += np.bincount(flat, weights=amps, minlength=size)
        else:
            np.maximum.at(self._values, flat, amps)

    def result(self) -> DensityImage:
        """Return the image of every spike added so far."""
        if self._values is None:
            values = self._counts.copy()
        elif self.statistic == "mean_amplitude":
            with np.errstate(invalid="ignore", divide="ignore"):
                values = np.where(self._counts > 0, self._values / self._counts, np.nan)
        else:
            values = np.where(self._counts > 0, self._values, np.nan)
        return DensityImage(
            time_edges=np.linspace(*self.time_range, self.n_time_bins + 1),
            depth_edges=np.linspace(*self.depth_range, self.n_depth_bins + 1),
            values=values.reshape(self.n_depth_bins, self.n_time_bins),
            statistic=self.statistic,
        )


def _extent(values: np.ndarray) -> tuple[float, float]:
    extent = value_range(values)  # no copy, unless there are infinities to leave out
    if extent is not None and not np.isfinite(extent).all():
        finite = values[np.isfinite(values)]
        extent = (float(finite.min()), float(finite.max())) if len(finite) else None
    if extent is None:
        return 0.0, 1.0
    low, high = extent
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def _bin_index(values: np.ndarray, low: float, high: float, n: int) -> np.ndarray:
    """Bin of each value on ``n`` equal bins from ``low`` to ``high``; -1 outside or NaN.

    The last edge belongs to the last bin.
    """
    scaled = values - low
    scaled *= n / (high - low)
    inside = (scaled >= 0) & (scaled <= n)  # False for NaN
    np.fmax(scaled, 0, out=scaled)  # fmax/fmin also map NaN into range: no cast warning
    index = np.fmin(scaled, n - 1, out=scaled).astype(np.int32)  # truncation = floor here
    index[~inside] = -1
    return index
