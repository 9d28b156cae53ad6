"""Which shank each spike was recorded on, and per-shank metrics.

On a multi-shank probe the shanks move (nearly) together but their depth profiles are
unrelated, so every drift metric is computed per shank. A spike belongs to the shank of its
template's *peak channel*: the channel with the largest peak-to-trough in
``Sorting.templates[template]``. Channel shanks come from the reader
(``channel_shanks.npy`` or clusters of channel x positions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.geometry import template_peak_channels
from driftqc.model import Sorting, SpikeTable

T = TypeVar("T")


def spike_shanks(sorting: Sorting) -> np.ndarray:
    """Shank index of every spike (int32), from its template's peak channel.

    Raises
    ------
    SortingFormatError
        When a spike's template index is outside ``sorting.templates`` or the templates have
        more channels than ``channel_shanks``.
    """
    peak = template_peak_channels(sorting.templates)
    shanks = np.asarray(sorting.channel_shanks).astype(np.int32)
    if peak.size and peak.max() >= len(shanks):
        raise SortingFormatError(
            f"session {sorting.info.name!r}: templates have {sorting.templates.shape[2]} "
            f"channels but channel_shanks has {len(shanks)}"
        )
    template_shank = shanks[peak]
    spike_templates = sorting.spikes.templates
    if len(spike_templates) and (spike_templates.min() < 0 or spike_templates.max() >= len(peak)):
        raise SortingFormatError(
            f"session {sorting.info.name!r}: spike template index "
            f"{int(spike_templates.max())} outside the {len(peak)} saved templates"
        )
    return template_shank[spike_templates]


def split_by_shank(sorting: Sorting, spikes: SpikeTable | None = None) -> dict[int, SpikeTable]:
    """Spikes of each shank, keyed by shank index (only shanks that have spikes).

    Parameters
    ----------
    sorting
        The session (templates and channel shanks decide the shank of each template).
    spikes
        A table derived from ``sorting.spikes`` with the same templates (e.g. a filtered
        selection or the raw-frame table); default ``sorting.spikes``.
    """
    table = sorting.spikes if spikes is None else spikes
    shanks = np.asarray(sorting.channel_shanks).astype(np.int32)
    template_shank = shanks[template_peak_channels(sorting.templates)]
    if len(table.templates) and table.templates.max() >= len(template_shank):
        raise SortingFormatError(
            f"session {sorting.info.name!r}: spike template index outside the saved templates"
        )
    per_spike = template_shank[table.templates]
    return {int(s): table.take(per_spike == s) for s in np.unique(per_spike)}


def per_shank(
    function: Callable[..., T], sorting: Sorting, spikes: SpikeTable | None = None, **options
) -> dict[int, T]:
    """Apply a metric function to each shank's spikes: ``{shank: function(spikes, **options)}``.

    Examples
    --------
    >>> per_shank(estimate_drift_trace, sorting, bin_s=10)  # doctest: +SKIP
    """
    return {s: function(t, **options) for s, t in split_by_shank(sorting, spikes).items()}
