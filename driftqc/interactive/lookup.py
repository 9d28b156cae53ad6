"""Finding the spike under the mouse: nearest drawn spike in screen-pixel distance.

A drift map's axes have unrelated units (seconds and µm), so "nearest" is measured in screen
pixels: a time difference is multiplied by the pixels per second of the current view, a depth
difference by the pixels per µm. Spikes are kept sorted by time; a query looks only at the
spikes whose time lies within ``radius_px`` of the mouse (two binary searches), then picks the
closest of those. This costs O(log n + k) for k candidates, needs no spatial index to build
(and no scipy), and follows zoom changes for free since the scale is given with each query.
"""

from __future__ import annotations

import numpy as np


class SpikeLocator:
    """Nearest-spike queries on a set of (time, depth) points.

    Parameters
    ----------
    times
        (n,) spike times in seconds.
    depths
        (n,) spike depths in µm.

    Examples
    --------
    >>> locator = SpikeLocator(np.array([1.0, 2.0, 3.0]), np.array([10.0, 50.0, 10.0]))
    >>> locator.nearest(2.9, 12.0, px_per_x=10.0, px_per_y=1.0, radius_px=5.0)
    2
    """

    def __init__(self, times: np.ndarray, depths: np.ndarray) -> None:
        times = np.asarray(times, dtype=np.float64)
        depths = np.asarray(depths, dtype=np.float64)
        if times.shape != depths.shape or times.ndim != 1:
            raise ValueError(
                f"times {times.shape} and depths {depths.shape} must be 1-D of equal length"
            )
        self._order = np.argsort(times, kind="stable")
        self._times = times[self._order]
        self._depths = depths[self._order]

    def __len__(self) -> int:
        return len(self._times)

    def nearest(
        self, x: float, y: float, px_per_x: float, px_per_y: float, radius_px: float
    ) -> int | None:
        """Index (into the arrays given) of the spike nearest to (x, y), or None.

        Parameters
        ----------
        x, y
            Query point in data units (s, µm).
        px_per_x, px_per_y
            Screen pixels per data unit along each axis (positive).
        radius_px
            Only spikes within this many pixels count.

        Notes
        -----
        Ties go to the spike that comes first in time order.
        """
        if len(self._times) == 0 or not (px_per_x > 0 and px_per_y > 0):
            return None
        half_width = radius_px / px_per_x
        lo = int(np.searchsorted(self._times, x - half_width, side="left"))
        hi = int(np.searchsorted(self._times, x + half_width, side="right"))
        if hi <= lo:
            return None
        dx = (self._times[lo:hi] - x) * px_per_x
        dy = (self._depths[lo:hi] - y) * px_per_y
        dist2 = dx * dx + dy * dy
        best = int(np.argmin(dist2))
        if dist2[best] > radius_px * radius_px:
            return None
        return int(self._order[lo + best])
