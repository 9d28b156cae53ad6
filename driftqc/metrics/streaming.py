"""Whole-session summaries in bounded memory: depth histogram and density image by chunks.

A 50-million-spike session does not fit comfortably in memory as a spike table plus the
filtered copy a selection makes. For the views that use every spike (the depth histogram
and the density image), nothing needs all spikes at once: the session is read in chunks of
a few million spikes and filtered by :class:`driftqc.selection.stream.ChunkedSelection` (the
same filter chain as :func:`driftqc.selection.select_spikes`, same counts, bounds and
captions), and each chunk's kept spikes are added to fixed grids. Peak memory is a few
chunks whatever the session length.

The grid is fixed before reading: time from 0 to the last spike, depth over the probe's
channels (with a margin); spikes outside the grid are counted and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from driftqc.io.kilosort import KilosortFolder
from driftqc.metrics.histograms import (
    DEPTH_BIN_UM,
    DensityAccumulator,
    DensityImage,
    DepthHistogram,
    depth_histogram,
)
from driftqc.model import SessionInfo
from driftqc.options import RENDER, SELECTION, SelectionOptions
from driftqc.selection.stream import CHUNK_SPIKES, ChunkedSelection

__all__ = ["CHUNK_SPIKES", "DEPTH_MARGIN_UM", "StreamedSummary", "summarise_session"]

DEPTH_MARGIN_UM = 50.0


@dataclass(frozen=True)
class StreamedSummary:
    """Depth histogram and density image of every spike that passed the filters.

    Attributes
    ----------
    info
        Provenance of the session.
    histogram
        Depth histogram (counts, or summed amplitude when weighted).
    density
        Time × depth image.
    n_total, n_invalid, n_noise, n_amplitude, n_kept
        Spikes in the session, set aside for non-finite depth/amplitude, removed by the label
        filter, removed by the amplitude filter, and kept.
    n_outside
        Kept spikes outside the image's grid (not drawn).
    amplitude_bounds
        Absolute amplitude bounds applied, or None.
    filters
        Human-readable filter descriptions.
    n_not_good
        Spikes removed by the good-units filter (``good_units_only``).
    """

    info: SessionInfo
    histogram: DepthHistogram
    density: DensityImage
    n_total: int
    n_invalid: int
    n_noise: int
    n_amplitude: int
    n_kept: int
    n_outside: int
    amplitude_bounds: tuple[float, float] | None
    filters: tuple[str, ...]
    n_not_good: int = 0

    @property
    def caption(self) -> str:
        """One line saying what a figure of this summary shows."""
        parts = [f"{self.info.name}: all {self.n_kept:,} of {self.n_total:,} spikes binned"]
        parts += list(self.filters)
        if self.n_outside:
            parts.append(f"{self.n_outside:,} outside the probe's depth range not drawn")
        parts.append(self.info.provenance_caption)
        return "; ".join(parts)


def summarise_session(
    folder: Path | str | KilosortFolder,
    *,
    version: str | None = None,
    exclude_noise: bool | str = SELECTION.exclude_noise,
    filter_amplitude_mode: str | None = SELECTION.filter_amplitude_mode,
    filter_amplitude_values: Sequence[float] = SELECTION.filter_amplitude_values,
    statistic: str = RENDER.density_statistic,
    weight_histogram_by_amplitude: bool = False,
    n_time_bins: int = 1000,
    n_depth_bins: int = 400,
    depth_bin_um: float = DEPTH_BIN_UM,
    chunk_spikes: int = CHUNK_SPIKES,
    options: SelectionOptions | None = None,
    good_units_only: bool | str = SELECTION.good_units_only,
) -> StreamedSummary:
    """Bin every spike of a Kilosort session into a depth histogram and a density image.

    Parameters
    ----------
    folder
        Kilosort output folder (or an opened :class:`KilosortFolder`).
    version
        Kilosort version override.
    exclude_noise, filter_amplitude_mode, filter_amplitude_values
        The filters of :func:`driftqc.selection.select_spikes`, same meaning and order.
    statistic
        Density statistic: ``"count"``, ``"mean_amplitude"`` or ``"max_amplitude"``.
    weight_histogram_by_amplitude
        Sum amplitudes per depth bin instead of counting spikes.
    n_time_bins, n_depth_bins
        Size of the density image.
    depth_bin_um
        Bin height of the depth histogram.
    chunk_spikes
        Spikes read per step; memory is a few times ``chunk_spikes`` × ~40 bytes.
    options
        The filters in one checked object, instead of the separate keywords (its
        ``decimate`` is ignored: every kept spike is binned).
    good_units_only
        Keep only spikes of clusters labelled good, as for
        :func:`driftqc.selection.select_spikes`.

    Returns
    -------
    StreamedSummary
        Histogram, image, counts and filter descriptions.

    Raises
    ------
    TypeError
        If both ``options`` and one of the separate filter keywords are given.

    Notes
    -----
    A percentile amplitude filter needs one extra pass over the amplitudes (4 bytes per
    spike kept in memory to take exact percentiles); depths are computed once. Both passes
    report their progress on a terminal, or when asked for (:mod:`driftqc.progress`).
    """
    separate = SelectionOptions(
        exclude_noise=exclude_noise,
        filter_amplitude_mode=filter_amplitude_mode,
        filter_amplitude_values=filter_amplitude_values,
        good_units_only=good_units_only,
    )
    if options is None:
        options = separate
    elif separate != SELECTION:
        raise TypeError("summarise_session: give either options or the separate filter keywords")
    selection = ChunkedSelection(folder, options, version=version, chunk_spikes=chunk_spikes)
    session = selection.session

    y = session.positions[:, 1]
    depth_range = (float(y.min()) - DEPTH_MARGIN_UM, float(y.max()) + DEPTH_MARGIN_UM)
    time_range = (0.0, max(session.last_spike_time, 1e-3) * 1.005)
    grid = DensityAccumulator(
        time_range,
        depth_range,
        statistic=statistic,
        n_time_bins=n_time_bins,
        n_depth_bins=n_depth_bins,
    )
    hist_values = None
    hist_edges = None
    for kept in selection:
        grid.add(kept.times, kept.depths, kept.amplitudes)
        part = depth_histogram(
            kept.depths,
            kept.amplitudes if weight_histogram_by_amplitude else None,
            bin_um=depth_bin_um,
            depth_range=depth_range,
        )
        hist_edges = part.edges
        hist_values = part.values if hist_values is None else hist_values + part.values
        del kept
    if hist_values is None:  # an empty session
        empty = depth_histogram(np.empty(0), bin_um=depth_bin_um, depth_range=depth_range)
        hist_edges, hist_values = empty.edges, empty.values
    counts = selection.counts
    return StreamedSummary(
        info=session.info,
        histogram=DepthHistogram(hist_edges, hist_values, weight_histogram_by_amplitude),
        density=grid.result(),
        n_total=session.n_spikes,
        n_invalid=counts["finite"],
        n_noise=counts["labels"],
        n_amplitude=counts["amplitude"],
        n_kept=counts.n_kept,
        n_outside=grid.n_outside,
        amplitude_bounds=selection.bounds,
        filters=selection.filters,
        n_not_good=counts["good"],
    )
