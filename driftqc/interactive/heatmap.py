"""A unit's template as a heat map: channels of its shank (ordered by depth) × samples.

A Kilosort template is an array of (samples × channels): the average waveform of the unit on
every channel of the probe. The viewer shows it as an image whose rows are the channels of the
shank the unit lives on, ordered by depth along the probe (row 0 = smallest y, drawn at the
bottom as on the drift map), and whose columns are samples. Two choices of rows:

- ``"active"``: only the channels where the template is not negligible, i.e. whose
  peak-to-trough is at least ``active_fraction`` of the template's largest peak-to-trough
  (Kilosort templates are exactly zero far from the unit, so these are its footprint);
- ``"all"``: every channel of the shank, so the footprint is seen in place on the probe.

The unit's shank is the shank of its peak channel (largest peak-to-trough, as
:mod:`driftqc.geometry` defines it). This module is pure numpy so the prepared array can be
checked without a display.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from driftqc.errors import OptionError
from driftqc.geometry import peak_to_trough, template_peak_channels

HeatmapMode = Literal["active", "all"]
HEATMAP_MODES: tuple[str, ...] = ("active", "all")
ACTIVE_FRACTION = 0.05  # channels below 5 % of the peak-to-trough maximum count as inactive


@dataclass(frozen=True)
class TemplateHeatmap:
    """A template prepared for drawing.

    Attributes
    ----------
    values
        (n_rows, n_samples) template values; row i is channel ``channels[i]``.
    channels
        (n_rows,) channel index of each row, ordered by depth (then x).
    depths
        (n_rows,) y position (µm) of each row's channel.
    template
        Template index.
    shank
        Shank of the template's peak channel.
    mode
        ``"active"`` or ``"all"``.
    """

    values: np.ndarray
    channels: np.ndarray
    depths: np.ndarray
    template: int
    shank: int
    mode: str

    @property
    def n_rows(self) -> int:
        """Number of channels shown."""
        return len(self.channels)

    @property
    def n_samples(self) -> int:
        """Number of samples of the template."""
        return self.values.shape[1]


def template_heatmap(
    templates: np.ndarray,
    template: int,
    channel_positions: np.ndarray,
    channel_shanks: np.ndarray,
    mode: str = "active",
    *,
    active_fraction: float = ACTIVE_FRACTION,
) -> TemplateHeatmap:
    """Prepare one template as a (channels of its shank × samples) heat map.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) templates as saved by the sorter.
    template
        Index of the template to show.
    channel_positions
        (n_channels, 2) x/y channel positions in µm.
    channel_shanks
        (n_channels,) shank of each channel.
    mode
        ``"active"`` (channels with a non-negligible template) or ``"all"`` (every channel of
        the shank).
    active_fraction
        A channel is active when its peak-to-trough is at least this fraction of the largest
        one; must be in (0, 1].

    Returns
    -------
    TemplateHeatmap
        The rows (channels by increasing depth, ties by x) and their values.

    Notes
    -----
    A template that is zero everywhere has no peak channel: it is placed on shank 0 and has no
    active channels.

    Examples
    --------
    >>> templates = np.zeros((1, 4, 3), dtype=np.float32)
    >>> templates[0, :, 1] = [0, -2, 1, 0]
    >>> positions = np.array([[0.0, 40.0], [0.0, 20.0], [0.0, 0.0]])
    >>> heat = template_heatmap(templates, 0, positions, np.zeros(3, int), "all")
    >>> heat.channels.tolist(), heat.values[1].tolist()
    ([2, 1, 0], [0.0, -2.0, 1.0, 0.0])
    """
    if mode not in HEATMAP_MODES:
        raise OptionError(f"heat-map mode must be one of {HEATMAP_MODES}, got {mode!r}")
    if not 0.0 < active_fraction <= 1.0:
        raise OptionError(f"active_fraction must be in (0, 1], got {active_fraction!r}")
    templates = np.asarray(templates)
    if templates.ndim != 3:
        raise OptionError(
            f"templates must be (n_templates, n_samples, n_channels), got {templates.shape}"
        )
    if not 0 <= template < templates.shape[0]:
        raise OptionError(f"template {template} out of range (0..{templates.shape[0] - 1})")
    positions = np.asarray(channel_positions, dtype=np.float64)
    shanks = np.asarray(channel_shanks)
    n_channels = templates.shape[2]
    if positions.shape != (n_channels, 2) or shanks.shape != (n_channels,):
        raise OptionError(
            f"channel_positions {positions.shape} and channel_shanks {shanks.shape} do not "
            f"match the templates' {n_channels} channels"
        )
    waveforms = np.asarray(templates[template], dtype=np.float64)  # (n_samples, n_channels)
    one = waveforms[np.newaxis]
    ptp = peak_to_trough(one)[0]
    peak = float(ptp.max())
    # a flat template has no peak channel: it is shown on the lowest shank
    shank = int(shanks[template_peak_channels(one)[0]] if peak > 0 else shanks.min())
    rows = shanks == shank
    if mode == "active":
        rows &= (ptp >= active_fraction * peak) if peak > 0 else np.zeros(n_channels, bool)
    channels = np.flatnonzero(rows)
    order = np.lexsort((positions[channels, 0], positions[channels, 1]))
    channels = channels[order]
    return TemplateHeatmap(
        values=waveforms[:, channels].T.copy(),
        channels=channels,
        depths=positions[channels, 1].copy(),
        template=int(template),
        shank=shank,
        mode=mode,
    )


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """Colour limits ``(-m, m)`` with m the largest absolute value, so zero is the centre.

    An empty or all-zero array gives ``(-1, 1)``.
    """
    finite = np.abs(values[np.isfinite(values)]) if np.size(values) else np.zeros(0)
    top = float(finite.max()) if finite.size else 0.0
    top = top if top > 0 else 1.0
    return -top, top
