"""Where a viewer panel gets its spikes from, so it can re-select them in another frame.

A panel normally receives one :class:`~driftqc.selection.Selection`. To offer a frame toggle
(Kilosort 4: registered or raw depths, see :mod:`driftqc.frames`) it needs to select again
with another ``frame``; a :class:`SessionSource` holds what that takes:

- :func:`sorting_source`: a session already in memory (:func:`driftqc.selection.select_spikes`);
- :func:`folder_source`: a Kilosort folder read chunk by chunk through
  :class:`driftqc.selection.stream.ChunkedSelection`, for sessions too large to read whole.
  Only the compact per-spike arrays the viewer draws are kept (24 bytes per kept spike);
  the reader's own temporaries (``pc_features.npy`` for Kilosort 1–3) never exceed a chunk.

Both keep every spike that passes the filters: the viewer thins per window itself
(:mod:`driftqc.views.level_of_detail`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from driftqc.frames import available_frames
from driftqc.io.kilosort import KilosortFolder
from driftqc.model import Sorting, SpikeTable
from driftqc.options import SELECTION, SelectionOptions
from driftqc.selection import Selection, select_spikes
from driftqc.selection.stream import CHUNK_SPIKES, ChunkedSelection


@dataclass(frozen=True)
class SessionSource:
    """A session a panel can (re-)select spikes from.

    Attributes
    ----------
    name
        Session name.
    templates
        (n_templates, n_samples, n_channels) templates.
    channel_positions
        (n_channels, 2) channel x/y in µm.
    channel_shanks
        (n_channels,) shank of each channel.
    frames
        Frames the session can be drawn in, the saved one first (``available_frames``).
    selector
        ``frame -> Selection`` of every kept spike in that frame.
    """

    name: str
    templates: np.ndarray
    channel_positions: np.ndarray
    channel_shanks: np.ndarray
    frames: tuple[str, ...]
    selector: Callable[[str], Selection]

    def select(self, frame: str = "saved") -> Selection:
        """Select the session's spikes with depths in ``frame``."""
        return self.selector(frame)


def sorting_source(sorting: Sorting, options: SelectionOptions = SELECTION) -> SessionSource:
    """Make a source for a session held in memory.

    Parameters
    ----------
    sorting
        The loaded session.
    options
        The filters; ``frame`` is replaced by the one asked for. Decimation only sets
        ``Selection.shown``, which a panel draws only without level of detail.

    Examples
    --------
    >>> source = sorting_source(load_sorting("kilosort4"))  # doctest: +SKIP
    >>> source.frames  # doctest: +SKIP
    ('registered', 'raw')
    """

    def select(frame: str) -> Selection:
        return select_spikes(sorting, options=replace(options, frame=frame))

    return SessionSource(
        name=sorting.info.name,
        templates=sorting.templates,
        channel_positions=sorting.channel_positions,
        channel_shanks=sorting.channel_shanks,
        frames=available_frames(sorting.info.depth_frame, sorting.motion),
        selector=select,
    )


def folder_source(
    folder: Path | str,
    options: SelectionOptions = SELECTION,
    *,
    version: str | None = None,
    chunk_spikes: int = CHUNK_SPIKES,
) -> SessionSource:
    """Make a source that reads a Kilosort folder chunk by chunk (bounded memory).

    Parameters
    ----------
    folder
        Kilosort 1–4 output folder.
    options
        The filters (decimation is ignored: every kept spike is kept).
    version
        Kilosort version override.
    chunk_spikes
        Spikes read per step.
    """
    session = KilosortFolder(folder, version=version)

    def select(frame: str) -> Selection:
        return chunked_selection(session, replace(options, frame=frame), chunk_spikes)

    return SessionSource(
        name=session.info.name,
        templates=session.templates,
        channel_positions=session.positions,
        channel_shanks=session.shanks,
        frames=available_frames(session.info.depth_frame, session.motion),
        selector=select,
    )


def chunked_selection(
    session: KilosortFolder, options: SelectionOptions, chunk_spikes: int = CHUNK_SPIKES
) -> Selection:
    """Run the filter chain over a folder chunk by chunk and keep the kept spikes compactly.

    Returns
    -------
    Selection
        ``kept`` and ``shown`` are the same table (no decimation); counts, bounds and captions
        are those :func:`driftqc.selection.select_spikes` gives for the session.
    """
    chunks = ChunkedSelection(session, options, chunk_spikes=chunk_spikes)
    n = session.n_spikes
    # np.empty maps pages lazily: the unused tail (filtered-out spikes) costs no memory
    times = np.empty(n, dtype=np.float64)
    amplitudes = np.empty(n, dtype=np.float32)
    depths = np.empty(n, dtype=np.float32)
    templates = np.empty(n, dtype=np.int32)
    clusters: np.ndarray | None = None
    labels: dict[int, str] = {}
    filled = 0
    for kept in chunks:
        stop = filled + len(kept)
        times[filled:stop] = kept.times
        amplitudes[filled:stop] = kept.amplitudes
        depths[filled:stop] = kept.depths
        templates[filled:stop] = kept.templates
        if kept.clusters is not kept.templates:  # curated: keep the cluster ids apart
            if clusters is None:
                clusters = np.empty(n, dtype=np.int32)
                clusters[:filled] = templates[:filled]
            clusters[filled:stop] = kept.clusters
        elif clusters is not None:
            clusters[filled:stop] = kept.templates
        labels = dict(kept.cluster_labels) or labels
        filled = stop
    table = SpikeTable(
        times=times[:filled],
        amplitudes=amplitudes[:filled],
        depths=depths[:filled],
        templates=templates[:filled],
        clusters=templates[:filled] if clusters is None else clusters[:filled],
        info=chunks.info,
        cluster_labels=labels,
    )
    return Selection.from_counts(
        table, table, chunks.counts, decimation=1, bounds=chunks.bounds, filters=chunks.filters
    )
