"""Level of detail: what a drift-map window shows of a whole session, at any zoom.

A session holds millions of spikes; a map is about a million pixels. Drawing a fixed,
build-time thinning of the spikes hides most of them once the view is zoomed in, and
drawing all of them at overview zoom is slow and solid grey. Instead, each time the visible
window (time × depth) changes, the spikes *inside it* are counted and shown in one of three
ways:

- **all spikes** as points, when the window holds at most ``point_budget`` of them;
- **1 in N** as points (N = ceil(n / point_budget)) when it holds up to
  ``density_above`` spikes. The kept spikes are those whose index in the session is a
  multiple of N, so panning does not reshuffle which spikes are drawn;
- **density** above that: every spike of the window binned into an image of cells of a few
  screen pixels. A cell's grey is the darkest grey bin of its spikes, what an unthinned
  scatter of small discs would show there (darker spikes are drawn on top in the scatter
  too), in the same grey bins and scale; its opacity grows with the number of spikes in it
  (log scale, :func:`density_rgba`), so dense bands stand out from sparse background instead
  of the whole map turning solid grey.

Spikes are kept sorted by time, so the window's spikes are a contiguous slice found by two
binary searches; only the depth test and, for density, the binning touch each spike. Overview
windows are not binned from the spikes each time: a fine grid of the whole session
(:data:`BASE_GRID` cells, built once, with its halvings down to :data:`PYRAMID_SMALLEST`) is
max-pooled down to the window's cells (or, up to twice coarser than them, repeated), which
costs the same for 5 or 50 million spikes.
:func:`grey_levels_of` computes every spike's grey bin once (1-based, 0 = empty cell), exactly
as :meth:`driftqc.views.shading.AmplitudeShading.bin_of` does, but in a few arithmetic passes
instead of a binary search per spike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from driftqc.metrics.histograms import value_range
from driftqc.views.shading import AmplitudeShading, grey_rgba

#: points drawn at most in one window (the static map's decimation target)
POINT_BUDGET = 100_000
#: a window with more than this many times the budget is drawn as a density image
DENSITY_FACTOR = 4
#: side of a density cell in screen pixels
CELL_PX = 2.0
#: (depth rows, time columns) of the whole-session grid that overview windows are pooled from
BASE_GRID = (2048, 2048)
#: side of the coarsest grid of the pyramid built from the base grid
PYRAMID_SMALLEST = 256
#: opacity of a density cell holding one spike
MIN_OPACITY = 0.25
#: base cells up to this many times wider than a window's cells are repeated, not re-binned
MAX_UPSAMPLE = 2.0
_BLOCK = 1 << 21

MODES = ("empty", "all", "thinned", "density")


def grey_levels_of(shading: AmplitudeShading, amplitudes: np.ndarray) -> np.ndarray:
    """Grey bin of each amplitude plus one (1 = lightest, ``n_bins`` = darkest).

    Equal to ``shading.bin_of(amplitudes) + 1``: a first guess from the bin width is
    corrected against the same bin edges, so values on an edge land where ``bin_of`` puts
    them.

    Parameters
    ----------
    shading
        The amplitude → grey bins of the map.
    amplitudes
        (n,) amplitudes.

    Returns
    -------
    numpy.ndarray
        (n,) levels in 1..n_bins (0 is kept for empty density cells): uint8, or uint16 for
        256 bins.

    Examples
    --------
    >>> from driftqc.views.shading import amplitude_shading
    >>> shading = amplitude_shading(np.array([0.0, 10.0]), "linear", 5)
    >>> grey_levels_of(shading, np.array([0.0, 1.9, 2.0, 10.0])).tolist()
    [1, 1, 2, 5]
    """
    n_bins = shading.n_bins
    out = np.empty(len(amplitudes), dtype=np.uint8 if n_bins < 256 else np.uint16)
    if shading.high <= shading.low:
        out[:] = n_bins
        return out
    edges = shading.edges
    scale = n_bins / (shading.high - shading.low)
    for start in range(0, len(amplitudes), _BLOCK):
        values = shading.transform(amplitudes[start : start + _BLOCK])
        guess = np.subtract(values, shading.low, dtype=np.float64)
        guess *= scale
        np.fmin(guess, n_bins - 1, out=guess)  # NaN and +inf: the darkest bin, as bin_of
        np.maximum(guess, 0, out=guess)
        index = guess.astype(np.intp)
        # exact correction against the edges (searchsorted side="right" semantics)
        index -= (values < edges[index]) & (index > 0)
        index += (values >= edges[index + 1]) & (index < n_bins - 1)
        out[start : start + len(values)] = index + 1
    return out


@dataclass(frozen=True)
class WindowView:
    """What one window of a drift map shows.

    Attributes
    ----------
    mode
        ``"empty"``, ``"all"``, ``"thinned"`` or ``"density"``.
    n_window
        Spikes inside the window.
    factor
        Thinning: every ``factor``-th spike drawn (1 for all; 0 for density and empty).
    indices
        Session indices of the spikes drawn as points (empty for density).
    image
        For density: (n_rows, n_cols) grey levels per cell (row 0 = smallest depth,
        0 = no spike); else None.
    rect
        ``(time, depth, width, height)`` covered by ``image`` (data units).
    counts
        For density: spikes per cell, same shape as ``image``; else None.
    """

    mode: str
    n_window: int
    factor: int
    indices: np.ndarray
    image: np.ndarray | None = None
    rect: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    counts: np.ndarray | None = None

    @property
    def caption(self) -> str:
        """What the window shows, e.g. ``"all 492 spikes in view"``."""
        n = f"{self.n_window:,}"
        if self.mode == "all":
            return f"all {n} spikes in view"
        if self.mode == "thinned":
            return f"1 in {self.factor} of {n} spikes in view"
        if self.mode == "density":
            return (
                f"density of all {n} spikes in view (grey: darkest spike of a cell, opacity: "
                "its spike count; zoom in for single spikes)"
            )
        return "no spikes in view"


class LevelOfDetail:
    """Window queries on a session's spikes, sorted by time.

    Parameters
    ----------
    times
        (n,) spike times in s, sorted (ascending).
    depths
        (n,) depths in µm.
    levels
        (n,) grey levels from :func:`grey_levels_of`.
    point_budget
        Most points drawn in one window.
    density_above
        Windows with more spikes are density images (default ``DENSITY_FACTOR`` ×
        ``point_budget``); None as well as ``allow_density=False`` never draws one.
    allow_density
        False: thin instead of binning, whatever the count (for highlight layers).
    check_sorted
        Check that ``times`` is sorted (False when the caller has just made sure).

    Raises
    ------
    ValueError
        Arrays of different lengths, times not sorted, or a budget below 1.
    """

    def __init__(
        self,
        times: np.ndarray,
        depths: np.ndarray,
        levels: np.ndarray,
        *,
        point_budget: int = POINT_BUDGET,
        density_above: int | None = None,
        allow_density: bool = True,
        check_sorted: bool = True,
    ) -> None:
        if not len(times) == len(depths) == len(levels):
            raise ValueError("times, depths and levels must have the same length")
        if point_budget < 1:
            raise ValueError(f"point_budget must be at least 1, got {point_budget}")
        if check_sorted and len(times) > 1 and np.any(times[1:] < times[:-1]):
            raise ValueError("times must be sorted")
        self.times, self.depths, self.levels = times, depths, levels
        self.point_budget = int(point_budget)
        above = DENSITY_FACTOR * self.point_budget if density_above is None else density_above
        self.density_above = int(above) if allow_density else None
        extent = value_range(depths)  # no copy; NaN ignored
        self._depth_extent = (0.0, 0.0) if extent is None else extent
        self._base: tuple[np.ndarray, tuple[float, float], tuple[float, float]] | None = None

    @property
    def extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((first time, last time), (lowest depth, highest depth))`` of the spikes."""
        if not len(self.times):
            return (0.0, 0.0), (0.0, 0.0)
        return (float(self.times[0]), float(self.times[-1])), self._depth_extent

    def __len__(self) -> int:
        return len(self.times)

    def in_window(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> np.ndarray:
        """Session indices of every spike inside the window (no thinning), in time order."""
        lo, hi, mask = self._window(x_range, y_range)
        if mask is None:
            return np.arange(lo, hi)
        return np.flatnonzero(mask) + lo

    def window(
        self,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        size_px: tuple[float, float],
        *,
        cell_px: float = CELL_PX,
    ) -> WindowView:
        """Decide how to show the window and prepare it.

        Parameters
        ----------
        x_range, y_range
            The window: time (s) and depth (µm) ranges.
        size_px
            The window's size on screen (pixels), for the density grid.
        cell_px
            Side of a density cell in pixels.
        """
        lo, hi, mask = self._window(x_range, y_range)
        n = (hi - lo) if mask is None else int(np.count_nonzero(mask))
        empty = np.zeros(0, dtype=np.intp)
        if n == 0:
            return WindowView("empty", 0, 0, empty)
        if self.density_above is not None and n > self.density_above:
            return self._density(lo, hi, mask, n, x_range, y_range, size_px, cell_px)
        factor = max(1, math.ceil(n / self.point_budget))
        if factor == 1:
            indices = np.arange(lo, hi) if mask is None else np.flatnonzero(mask) + lo
            return WindowView("all", n, 1, indices)
        start = -lo % factor  # first index in the slice that is a multiple of factor
        if mask is None:
            indices = np.arange(lo + start, hi, factor)
        else:
            indices = np.flatnonzero(mask[start::factor]) * factor + lo + start
        return WindowView("thinned", n, factor, indices)

    def _window(
        self, x_range: tuple[float, float], y_range: tuple[float, float]
    ) -> tuple[int, int, np.ndarray | None]:
        x0, x1 = sorted(map(float, x_range))
        y0, y1 = sorted(map(float, y_range))
        lo = int(np.searchsorted(self.times, x0, side="left"))
        hi = int(np.searchsorted(self.times, x1, side="right"))
        if hi <= lo:
            return lo, lo, None
        low, high = self._depth_extent
        if y0 <= low and high <= y1:
            return lo, hi, None
        depths = self.depths[lo:hi]
        return lo, hi, (depths >= y0) & (depths <= y1)

    def _density(
        self,
        lo: int,
        hi: int,
        mask: np.ndarray | None,
        n: int,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        size_px: tuple[float, float],
        cell_px: float,
    ) -> WindowView:
        x0, x1 = sorted(map(float, x_range))
        y0, y1 = sorted(map(float, y_range))
        n_cols = max(1, int(size_px[0] / cell_px))
        n_rows = max(1, int(size_px[1] / cell_px))
        pooled = self._pooled((x0, x1), (y0, y1), n_rows, n_cols)
        if pooled is None:
            pooled = _binned(
                self.times[lo:hi],
                self.depths[lo:hi],
                self.levels[lo:hi],
                mask,
                (x0, x1),
                (y0, y1),
                (n_rows, n_cols),
            )
        image, counts = pooled
        rect = (x0, y0, x1 - x0, y1 - y0)
        return WindowView("density", n, 0, np.zeros(0, dtype=np.intp), image, rect, counts)

    def _pooled(
        self, x_range: tuple[float, float], y_range: tuple[float, float], n_rows: int, n_cols: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the window resampled from the base grids (None: they are too coarse)."""
        if self._base is None:
            (t0, t1), (d0, d1) = self.extent
            t_range, d_range = (t0, max(t1, t0 + 1e-9)), (d0, max(d1, d0 + 1e-6))
            grids = _binned(
                self.times, self.depths, self.levels, None, t_range, d_range, BASE_GRID
            )
            self._base = (_pyramid(*grids), t_range, d_range)
        pyramid, t_range, d_range = self._base
        # the coarsest level whose cells are no larger than the window's: least to pool
        chosen = pyramid[0]
        for levels, counts in pyramid:
            rows_fit = (d_range[1] - d_range[0]) / levels.shape[0] <= (
                y_range[1] - y_range[0]
            ) / n_rows
            cols_fit = (t_range[1] - t_range[0]) / levels.shape[1] <= (
                x_range[1] - x_range[0]
            ) / n_cols
            if rows_fit and cols_fit:
                chosen = (levels, counts)
        rows, d_part = _crop(chosen[0].shape[0], d_range, y_range)
        cols, t_part = _crop(chosen[0].shape[1], t_range, x_range)
        out = []
        for grid, reduce in zip(chosen, (np.maximum, np.add), strict=True):
            part = grid[rows, cols]  # only the cells under the window are resampled
            pooled = _resample(part, 1, t_part, x_range, n_cols, reduce)
            cells = (
                None if pooled is None else _resample(pooled, 0, d_part, y_range, n_rows, reduce)
            )
            if cells is None:
                return None
            out.append(cells)
        return out[0], out[1]


def _crop(
    n_base: int, extent: tuple[float, float], window: tuple[float, float]
) -> tuple[slice, tuple[float, float]]:
    """Return the base cells covering the window along one axis, and the extent they span."""
    width = (extent[1] - extent[0]) / n_base
    first = int(np.clip(np.floor((window[0] - extent[0]) / width), 0, n_base - 1))
    stop = int(np.clip(np.ceil((window[1] - extent[0]) / width), first + 1, n_base))
    return slice(first, stop), (extent[0] + first * width, extent[0] + stop * width)


def _pyramid(levels: np.ndarray, counts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the base grids and their halvings (2 × 2 cells pooled), finest first."""
    pyramid = [(levels, counts)]
    while min(levels.shape) >= 2 * PYRAMID_SMALLEST and not (
        levels.shape[0] % 2 or levels.shape[1] % 2
    ):
        rows, cols = levels.shape[0] // 2, levels.shape[1] // 2
        levels = levels.reshape(rows, 2, cols, 2).max(axis=(1, 3))
        counts = counts.reshape(rows, 2, cols, 2).sum(axis=(1, 3), dtype=np.uint32)
        pyramid.append((levels, counts))
    return pyramid


def _resample(
    grid: np.ndarray,
    axis: int,
    extent: tuple[float, float],
    window: tuple[float, float],
    n_target: int,
    reduce: np.ufunc,
) -> np.ndarray | None:
    """Resample a grid of levels (``reduce=np.maximum``) or counts (``np.add``) along one axis.

    Base cells no wider than the window's are pooled with ``reduce`` into the cell holding
    their centre (every spike stays visible). Base cells up to :data:`MAX_UPSAMPLE` times wider are
    repeated (each window cell shows the base cell under its centre: coarser than the
    screen, still every spike). Coarser than that: None, the window must be binned from its
    spikes.
    """
    n_base = grid.shape[axis]
    base_width = (extent[1] - extent[0]) / n_base
    target_width = (window[1] - window[0]) / n_target
    shape = list(grid.shape)
    shape[axis] = n_target
    out = np.zeros(shape, dtype=grid.dtype)
    if base_width <= target_width:
        centres = extent[0] + (np.arange(n_base) + 0.5) * base_width
        inside = np.flatnonzero((centres >= window[0]) & (centres < window[1]))
        if not len(inside):
            return out  # the window is outside the data
        target = np.minimum(
            ((centres[inside] - window[0]) / target_width).astype(np.intp), n_target - 1
        )
        starts = np.flatnonzero(np.r_[True, np.diff(target) != 0])
        block = (
            grid[inside[0] : inside[-1] + 1] if axis == 0 else grid[:, inside[0] : inside[-1] + 1]
        )
        pooled = reduce.reduceat(block, starts, axis=axis)
        if axis == 0:
            out[target[starts]] = pooled
        else:
            out[:, target[starts]] = pooled
        return out
    if base_width > MAX_UPSAMPLE * target_width:
        return None
    centres = window[0] + (np.arange(n_target) + 0.5) * target_width
    index = np.floor((centres - extent[0]) / base_width).astype(np.intp)
    valid = (index >= 0) & (index < n_base)
    taken = np.take(grid, index[valid], axis=axis)
    if axis == 0:
        out[valid] = taken
    else:
        out[:, valid] = taken
    return out


def _binned(
    times: np.ndarray,
    depths: np.ndarray,
    levels: np.ndarray,
    mask: np.ndarray | None,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Return the (rows, cols) darkest grey level and the spike count of each cell.

    ``times`` must be sorted: cells are numbered column by column, so a block of spikes
    (a short stretch of time) touches one narrow range of cells, which keeps the per-block
    work proportional to the block, not to the grid.
    """
    n_rows, n_cols = shape
    (x0, x1), (y0, y1) = x_range, y_range
    image = np.zeros(n_rows * n_cols, dtype=levels.dtype)
    counts = np.zeros(n_rows * n_cols, dtype=np.uint32)
    sx = n_cols / max(x1 - x0, 1e-12)
    sy = n_rows / max(y1 - y0, 1e-12)
    for start in range(0, len(times), _BLOCK):  # blocks keep the temporaries small
        part = slice(start, start + _BLOCK)
        t, d, lv = times[part], depths[part], levels[part]
        if mask is not None:
            keep = mask[part]
            t, d, lv = t[keep], d[keep], lv[keep]
        if not len(t):
            continue
        col = np.subtract(t, x0, dtype=np.float64)
        col *= sx
        np.clip(col, 0, n_cols - 1, out=col)
        row = np.subtract(d, y0, dtype=np.float64)
        row *= sy
        np.clip(row, 0, n_rows - 1, out=row)
        cell = col.astype(np.intp)
        low, high = int(cell[0]) * n_rows, (int(cell[-1]) + 1) * n_rows
        cell *= n_rows
        cell += row.astype(np.intp)
        cell -= low
        np.maximum.at(image[low:high], cell, lv)
        counts[low:high] += np.bincount(cell, minlength=high - low).astype(np.uint32)
    image = np.ascontiguousarray(image.reshape(n_cols, n_rows).T)
    return image, np.ascontiguousarray(counts.reshape(n_cols, n_rows).T)


def density_rgba(view: WindowView, n_bins: int) -> np.ndarray:
    """RGBA image of a density view: grey of each cell's level, opacity from its count.

    Parameters
    ----------
    view
        A ``"density"`` window view.
    n_bins
        Number of grey bins of the shading.

    Returns
    -------
    numpy.ndarray
        (rows, cols, 4) uint8; empty cells are transparent. A cell holding the 99th
        percentile of the occupied cells' counts, or more, is opaque; one spike is drawn at
        :data:`MIN_OPACITY`, with a log scale in between.
    """
    if view.image is None or view.counts is None:
        raise ValueError("not a density view")
    colours = np.zeros((n_bins + 1, 4), dtype=np.uint8)
    colours[1:] = (grey_rgba(n_bins) * 255).round().astype(np.uint8)
    rgba = colours[view.image]
    counts = view.counts
    occupied = counts[counts > 0]
    if not len(occupied):
        return rgba
    top = max(float(np.percentile(occupied, 99.0)), 2.0)
    opacity = np.log1p(counts.astype(np.float32)) / np.float32(np.log1p(top))
    np.clip(opacity, MIN_OPACITY, 1.0, out=opacity)
    rgba[..., 3] = np.where(counts > 0, opacity * 255, 0).astype(np.uint8)
    return rgba
