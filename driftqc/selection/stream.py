"""The filter chain applied to a Kilosort folder read chunk by chunk, in bounded memory.

A 50-million-spike session does not fit comfortably in memory as a spike table plus the
filtered copy a selection makes. :class:`ChunkedSelection` is the second driver of the one
filter chain (:mod:`driftqc.selection.chain`; the first is
:func:`driftqc.selection.select_spikes`): it reads the session in chunks of a few million
spikes (:meth:`driftqc.io.kilosort.KilosortFolder.iter_chunks`), runs each through the same
chain, and yields the spikes that passed. Peak memory is a few chunks whatever the session
length.

A percentile amplitude filter needs the session's bounds before the first chunk is
filtered: they are taken in a first, cheap pass that reads only amplitudes and cluster ids
(:meth:`~driftqc.io.kilosort.KilosortFolder.read_amplitudes`, no depths), keeping 4 bytes per
ranked spike until the percentiles are known. The bounds, counts and captions are those
:func:`~driftqc.selection.select_spikes` gives for the same session; the chunked driver does
not decimate.

Both passes report their progress (:mod:`driftqc.progress`: on a terminal, or when asked
for); the per-chunk depth passes inside them stay silent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from driftqc.frames import spikes_in_frame
from driftqc.io.kilosort import KilosortFolder
from driftqc.model import SessionInfo, SpikeTable
from driftqc.options import SelectionOptions
from driftqc.progress import task
from driftqc.selection.chain import Bounds, ChainCounts, FilterChain, rankable_amplitudes

CHUNK_SPIKES = 4_000_000


class ChunkedSelection:
    """The spikes of a Kilosort folder that pass the filter chain, chunk by chunk.

    Opening resolves the label filter and the amplitude bounds (a pass over the amplitudes
    for percentile bounds); iterating reads the session once, yielding each chunk's kept
    spikes and adding up the counts. :attr:`counts` and :attr:`filters` are complete once
    the iteration has ended.

    Parameters
    ----------
    folder
        Kilosort output folder, or an opened :class:`KilosortFolder`.
    options
        Which filters to apply (decimation is ignored: every kept spike is yielded).
    version
        Kilosort version override (when ``folder`` is a path).
    chunk_spikes
        Spikes read per step; memory is a few times ``chunk_spikes`` × ~40 bytes.
    template_shanks, shank
        Keep only the spikes of ``shank``, given each template's shank (a shank step).

    Examples
    --------
    >>> options = SelectionOptions(exclude_noise=True)
    >>> chunks = ChunkedSelection("ses-01/kilosort4", options)  # doctest: +SKIP
    >>> n = sum(len(kept) for kept in chunks)  # doctest: +SKIP
    >>> chunks.counts.n_kept == n, chunks.filters  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: Path | str | KilosortFolder,
        options: SelectionOptions,
        *,
        version: str | None = None,
        chunk_spikes: int = CHUNK_SPIKES,
        template_shanks: np.ndarray | None = None,
        shank: int | None = None,
    ) -> None:
        self.session = (
            folder
            if isinstance(folder, KilosortFolder)
            else KilosortFolder(folder, version=version)
        )
        self.chunk_spikes = max(1, int(chunk_spikes))
        self.chain = FilterChain.build(
            options,
            label_sources=self.session.label_sources,
            where=self.session.folder,
            rank=self._rankable_amplitudes,
            amplitude_unit=self.session.info.amplitude_unit,
            template_shanks=template_shanks,
            shank=shank,
            motion=self.session.motion,
        )
        self.counts = ChainCounts()

    @property
    def info(self) -> SessionInfo:
        """Provenance of the session (with notes gathered while reading), in the chain's frame."""
        info = self.session.info
        if self.chain.options.frame in ("saved", info.depth_frame):
            return info
        empty = self.session.read_spikes(0, 0)
        return spikes_in_frame(empty, self.chain.options.frame, self.session.motion).info

    @property
    def bounds(self) -> Bounds | None:
        """The absolute amplitude bounds applied, or None."""
        return self.chain.bounds

    @property
    def filters(self) -> tuple[str, ...]:
        """The filter captions (complete after iterating: they include counts)."""
        return self.chain.captions(self.counts)

    def __iter__(self) -> Iterator[SpikeTable]:
        """Read the session once; yield each chunk's kept spikes (possibly empty)."""
        self.counts = ChainCounts()
        label = f"{self.info.name}: reading and filtering"
        with task(label, self.session.n_spikes) as progress:
            for chunk in self.session.iter_chunks(self.chunk_spikes):
                kept, counts = self.chain.apply(chunk)
                del chunk
                self.counts = self.counts + counts
                progress.advance(counts.n_total)
                yield kept
                del kept  # before the next chunk is read: at most one chunk alive at a time

    def _rankable_amplitudes(
        self, drop_ids: np.ndarray, keep_ids: np.ndarray | None = None
    ) -> np.ndarray:
        """Read the finite amplitudes of the spikes the label steps keep (no depths)."""
        parts = []
        session = self.session
        label = f"{session.info.name}: amplitudes for percentile bounds"
        with task(label, session.n_spikes) as progress:
            for start in range(0, session.n_spikes, self.chunk_spikes):
                amplitudes, clusters = session.read_amplitudes(start, start + self.chunk_spikes)
                ranked = rankable_amplitudes(amplitudes, clusters, drop_ids, keep_ids=keep_ids)
                parts.append(ranked)
                progress.advance(len(amplitudes))
                del amplitudes, clusters
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.float32)
