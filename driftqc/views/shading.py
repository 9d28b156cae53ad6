"""Amplitude → grey: the shading shared by every drift-map view.

Amplitudes are split into ``n_bins`` equal-width bins between ``low`` and ``high``, computed
on the linear amplitudes, on their log2 or log10, or given explicitly as ``(low, high)``
(linear). Amplitudes outside the range go to the end bins. Larger amplitudes are darker; the
lightest bin is a light grey rather than white, so the weakest spikes stay visible on a white
background. Matplotlib and Qt views both draw from :func:`amplitude_bins` and
:func:`grey_levels`, so they agree bin for bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftqc.metrics.histograms import value_range
from driftqc.options import STYLE, MapStyle, Scaling

_BLOCK = 1 << 22
LIGHTEST_GREY = 0.82  # grey level of the smallest-amplitude bin (1.0 would be white)


@dataclass(frozen=True)
class AmplitudeShading:
    """How amplitudes map to grey bins.

    Attributes
    ----------
    scaling
        ``"linear"``, ``"log2"``, ``"log10"`` or an explicit ``(low, high)``.
    low, high
        Range of the bins, in the transformed units (log units for the log scalings).
    n_bins
        Number of grey levels.
    """

    scaling: Scaling
    low: float
    high: float
    n_bins: int

    @property
    def edges(self) -> np.ndarray:
        """Bin edges, ``n_bins + 1`` values from ``low`` to ``high``."""
        return np.linspace(self.low, self.high, self.n_bins + 1)

    def transform(self, amplitudes: np.ndarray) -> np.ndarray:
        """Map amplitudes into the units of ``low``/``high``."""
        if self.scaling in ("log2", "log10"):
            values = np.abs(np.asarray(amplitudes, dtype=np.float64))
            log = np.log2 if self.scaling == "log2" else np.log10
            return log(np.maximum(values, np.finfo(np.float64).tiny))
        # amplitudes are float32: their absolute values are exact in float32
        return np.abs(np.asarray(amplitudes, dtype=np.float32))

    def bin_of(self, amplitudes: np.ndarray) -> np.ndarray:
        """Bin index (0 = lightest) of each amplitude, as int16."""
        values = self.transform(amplitudes)
        if self.high <= self.low:
            return np.full(values.shape, self.n_bins - 1, dtype=np.int16)
        index = np.searchsorted(self.edges, values, side="right") - 1
        return np.clip(index, 0, self.n_bins - 1).astype(np.int16)


def amplitude_shading(
    amplitudes: np.ndarray,
    scaling: object = STYLE.amplitude_cmap_scaling,
    n_color_bins: object = STYLE.n_color_bins,
    *,
    style: MapStyle | None = None,
) -> AmplitudeShading:
    """Choose the grey bins for a set of amplitudes.

    Parameters
    ----------
    amplitudes
        The amplitudes the range is taken from (all spikes that passed the filters, so a
        decimated scatter shades like the full data).
    scaling
        ``amplitude_cmap_scaling``: ``"linear"``, ``"log2"``, ``"log10"`` (range = min..max
        of the transformed amplitudes) or an explicit linear ``(low, high)``.
    n_color_bins
        Number of grey levels.
    style
        An already checked :class:`driftqc.options.MapStyle` to take ``scaling`` and
        ``n_color_bins`` from instead (they must then be left at their defaults); nothing
        is checked again.

    Raises
    ------
    OptionError
        ``scaling`` or ``n_color_bins`` out of range (checked as a ``MapStyle``).
    TypeError
        Both ``style`` and ``scaling``/``n_color_bins`` given.

    Examples
    --------
    >>> shading = amplitude_shading(np.array([10.0, 20.0, 40.0]), "log2", 2)
    >>> shading.bin_of(np.array([10.0, 40.0])).tolist()
    [0, 1]
    """
    if style is None:
        style = MapStyle(scaling, n_color_bins)  # type: ignore[arg-type]
    elif scaling is not STYLE.amplitude_cmap_scaling or n_color_bins is not STYLE.n_color_bins:
        raise TypeError("give either style= or scaling/n_color_bins, not both")
    scaling, n_bins = style.amplitude_cmap_scaling, style.n_color_bins
    if isinstance(scaling, tuple):
        return AmplitudeShading(scaling, scaling[0], scaling[1], n_bins)
    probe = AmplitudeShading(scaling, 0.0, 1.0, n_bins)
    low, high = np.inf, -np.inf
    for start in range(0, len(amplitudes), _BLOCK):  # blocks keep temporaries small
        block_range = value_range(probe.transform(amplitudes[start : start + _BLOCK]))
        if block_range is not None:
            low, high = min(low, block_range[0]), max(high, block_range[1])
    if low > high:  # no finite amplitude
        return probe
    return AmplitudeShading(scaling, low, high, n_bins)


def grey_levels(n_bins: int) -> np.ndarray:
    """Grey level (0 = black, 1 = white) of each bin, lightest first."""
    if n_bins == 1:
        return np.zeros(1)
    return np.linspace(LIGHTEST_GREY, 0.0, n_bins)


def grey_rgba(n_bins: int) -> np.ndarray:
    """(n_bins, 4) float RGBA colours of the bins, lightest first."""
    grey = grey_levels(n_bins)
    return np.column_stack([grey, grey, grey, np.ones_like(grey)])
