"""Per-shank metrics of a loaded session.

On a multi-shank probe the shanks move (nearly) together but their depth profiles are
unrelated, so every drift metric is computed per shank. A spike belongs to the shank of its
template's *peak channel*; that definition, and the split itself, are in
:mod:`driftqc.geometry` (:func:`~driftqc.geometry.template_shanks`,
:func:`~driftqc.geometry.spike_shanks`, :func:`~driftqc.geometry.split_by_shank`). The
functions here apply it to a :class:`~driftqc.model.Sorting`, whose templates and channel
shanks say where each template is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

import driftqc.geometry as geometry
from driftqc.model import Sorting, SpikeTable

T = TypeVar("T")


def spike_shanks(sorting: Sorting) -> np.ndarray:
    """Shank index of every spike of a session (int32), from its template's peak channel.

    Raises
    ------
    SortingFormatError
        When a spike's template index is outside ``sorting.templates`` or the templates have
        more channels than ``channel_shanks``.
    """
    return geometry.spike_shanks(
        sorting.spikes.templates, _template_shanks(sorting), session=sorting.info.name
    )


def split_by_shank(sorting: Sorting, spikes: SpikeTable | None = None) -> dict[int, SpikeTable]:
    """Spikes of each shank, keyed by shank index (only shanks that have spikes).

    Parameters
    ----------
    sorting
        The session (templates and channel shanks decide the shank of each template).
    spikes
        A table derived from ``sorting.spikes`` with the same templates (e.g. a filtered
        selection or the raw-frame table); default ``sorting.spikes``.

    Raises
    ------
    SortingFormatError
        As :func:`spike_shanks`.
    """
    table = sorting.spikes if spikes is None else spikes
    return geometry.split_by_shank(table, _template_shanks(sorting))


def per_shank(
    function: Callable[..., T], sorting: Sorting, spikes: SpikeTable | None = None, **options
) -> dict[int, T]:
    """Apply a metric function to each shank's spikes: ``{shank: function(spikes, **options)}``.

    Examples
    --------
    >>> per_shank(estimate_drift_trace, sorting, bin_s=10)  # doctest: +SKIP
    """
    return {s: function(t, **options) for s, t in split_by_shank(sorting, spikes).items()}


def _template_shanks(sorting: Sorting) -> np.ndarray:
    return geometry.template_shanks(
        sorting.templates, sorting.channel_shanks, session=sorting.info.name
    )
