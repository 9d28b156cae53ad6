"""Per-spike depth from Kilosort 1–3 PC features, in bounded memory.

Kilosort 1–3 save, for every spike, its projection on a few temporal principal components on
each of the local channels of its template (``pc_features.npy``, (n_spikes, n_pcs, n_local))
and which channels those are (``pc_feature_ind.npy``, (n_templates, n_local)). The spike's
depth is the centre of mass of the local channels' y positions weighted by the squared
first-PC feature, negative features counted as zero (as phy and the cortex-lab ``ksDriftmap``
do). A spike whose weights are all zero has no such depth; the reader lists those spikes so the
caller can place them at their template's depth.

SpikeInterface's phy export pads ``pc_feature_ind.npy`` with -1 where a unit has fewer
channels than the widest one (its features there are 0); those slots are ignored. Whether the
features can carry a depth at all is decided elsewhere (:mod:`driftqc.io.phy_exports`).

``pc_features.npy`` is ~384 bytes per spike (tens of GB for a long session) and only its
first PC is needed, so the file is mapped one window of rows at a time and reduced window by
window, in worker threads (numpy releases the GIL). Memory stays at a few windows whatever
the file size, and the unused PCs are never copied.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.npy import NpyFile, check_kind, load_npy, map_rows, open_npy
from driftqc.progress import task

CHUNK_BYTES = 32 * 2**20  # file bytes mapped per window
# windows the disk is asked for ahead of those being reduced: a file that is not in the page
# cache then arrives through several requests at once (this VM's disk reads ~1.0 GB/s with
# one request in flight, ~1.5 GB/s with four); for a cached file the hint costs nothing
READAHEAD_WINDOWS = 4
BLOCK_ROWS = 4096  # spikes reduced at a time: the temporaries stay in the CPU cache
N_WORKERS = min(2, os.cpu_count() or 1)


class PCDepthReader:
    """Depths of any range of spikes from a folder's PC features (files checked once).

    Parameters
    ----------
    folder
        Sorter output folder holding ``pc_features.npy`` and ``pc_feature_ind.npy``.
    n_spikes
        Number of spikes in the session (checked against the file).
    channel_y
        (n_channels,) y position of each channel in µm.

    Raises
    ------
    SortingFormatError
        If the files are missing or truncated, their shapes disagree with each other or
        with the spike count, or ``pc_feature_ind.npy`` names channels the probe lacks.
    """

    def __init__(self, folder: Path, n_spikes: int, channel_y: np.ndarray) -> None:
        self.header = check_kind(open_npy(folder / "pc_features.npy"), "iuf", "PC features")
        self.ind_path = folder / "pc_feature_ind.npy"
        pc_ind = _check_inputs(self.header, self.ind_path, n_spikes, channel_y)
        #: (n_templates, n_local) channel of each feature slot, -1 for padding
        self.channel_index = pc_ind
        padded = pc_ind < 0
        # (n_templates, n_local) y of each slot; padding slots get weight 0 through local_keep
        self.local_y = channel_y.astype(np.float32)[np.where(padded, 0, pc_ind)]
        self.local_keep = (~padded).astype(np.float32) if padded.any() else None

    def depths(
        self,
        start: int,
        spike_templates: np.ndarray,
        *,
        chunk_bytes: int | None = None,
        n_workers: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Depths of spikes ``start : start + len(spike_templates)``, window by window.

        Parameters
        ----------
        start
            Index of the first spike.
        spike_templates
            Template index of each spike in the range.
        chunk_bytes
            File bytes mapped per window (default ``CHUNK_BYTES``); peak memory is a few
            windows.
        n_workers
            Threads reducing windows in parallel (default: up to 2).

        Returns
        -------
        depths : numpy.ndarray
            float32 depths in µm; NaN for the spikes in ``unplaced``.
        unplaced : numpy.ndarray
            Indices (into the range) of the spikes whose first-PC weights are all zero.
        """
        header = self.header
        n = len(spike_templates)
        if n and spike_templates.max() >= len(self.local_y):
            raise SortingFormatError(
                f"spike_templates.npy uses template {int(spike_templates.max())} but "
                f"{self.ind_path} only has rows for {len(self.local_y)} templates"
            )
        depths = np.empty(n, dtype=np.float32)
        if n == 0:
            return depths, np.empty(0, dtype=np.intp)
        rows = max(1, (chunk_bytes or CHUNK_BYTES) // max(header.row_bytes, 1))
        offsets = range(0, n, rows)
        local_y = self.local_y
        local_keep = self.local_keep
        label = f"{header.path.parent.name}: depths from {header.path.name}"

        with header.path.open("rb") as fh, task(label, n) as progress:
            fd = fh.fileno()

            def read_ahead(index: int) -> None:
                if index < len(offsets) and hasattr(os, "posix_fadvise"):
                    first = offsets[index]
                    length = (min(first + rows, n) - first) * header.row_bytes
                    begin = header.offset + (start + first) * header.row_bytes
                    os.posix_fadvise(fd, begin, length, os.POSIX_FADV_WILLNEED)

            def reduce_window(index: int) -> list[np.ndarray]:
                read_ahead(index + READAHEAD_WINDOWS)
                offset = offsets[index]
                stop = min(offset + rows, n)
                unplaced = []
                # the window is unmapped when first_pc goes, at the end of this call
                first_pc = map_rows(header, start + offset, start + stop, fd)[:, 0, :]
                weights = np.empty((min(BLOCK_ROWS, stop - offset), first_pc.shape[1]), "f4")
                for begin in range(0, stop - offset, BLOCK_ROWS):
                    end = min(begin + BLOCK_ROWS, stop - offset)
                    empty = _reduce_block(
                        first_pc[begin:end],
                        spike_templates[offset + begin : offset + end],
                        weights[: end - begin],
                        depths[offset + begin : offset + end],
                        local_y,
                        local_keep,
                    )
                    if empty is not None:
                        unplaced.append(offset + begin + empty)
                progress.advance(stop - offset)
                return unplaced

            for index in range(READAHEAD_WINDOWS):
                read_ahead(index)
            workers = max(1, n_workers or N_WORKERS)
            windows = range(len(offsets))
            if workers == 1 or len(offsets) == 1:
                found = list(map(reduce_window, windows))
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    found = list(pool.map(reduce_window, windows))
        unplaced = [index for window in found for index in window]
        return depths, np.concatenate(unplaced) if unplaced else np.empty(0, dtype=np.intp)


def _reduce_block(
    first_pc: np.ndarray,
    templates: np.ndarray,
    weights: np.ndarray,
    out: np.ndarray,
    local_y: np.ndarray,
    local_keep: np.ndarray | None = None,
) -> np.ndarray | None:
    """Write the depths of one block of spikes into ``out``.

    ``local_keep`` (n_templates, n_local), when given, is 1 for a real channel slot and 0 for
    padding, so padding slots carry no weight. Returns the indices (into the block) of
    spikes whose weights are all zero (their depth is NaN), or None when there are none.
    """
    np.maximum(first_pc, 0, out=weights)  # the strided copy out of the mapping
    np.multiply(weights, weights, out=weights)
    if local_keep is not None:
        np.multiply(weights, np.take(local_keep, templates, axis=0), out=weights)
    # einsum sums short rows ~3x faster than .sum(1) and, unlike a BLAS product, starts
    # no threads of its own; np.take beats fancy indexing
    total = np.einsum("ij->i", weights)
    moment = np.einsum("ij,ij->i", weights, np.take(local_y, templates, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(moment, total, out=out)
    empty = total <= 0
    if not empty.any():
        return None
    out[empty] = np.nan
    return np.flatnonzero(empty)


def _check_inputs(
    header: NpyFile, ind_path: Path, n_spikes: int, channel_y: np.ndarray
) -> np.ndarray:
    if header.fortran_order:
        raise SortingFormatError(f"{header.path} is saved in Fortran order; re-save it in C order")
    pc_ind = load_npy(ind_path, kinds="iu", what="integer channel indices")
    if len(header.shape) != 3 or header.shape[1] < 1:
        raise SortingFormatError(
            f"{header.path} should have shape (n_spikes, n_pcs, n_channels), found {header.shape}"
        )
    if header.shape[0] != n_spikes:
        raise SortingFormatError(
            f"{header.path} holds {header.shape[0]} spikes but spike_templates.npy "
            f"holds {n_spikes}"
        )
    if pc_ind.ndim != 2 or pc_ind.shape[1] != header.shape[2]:
        raise SortingFormatError(
            f"{ind_path} should have shape (n_templates, {header.shape[2]}), found {pc_ind.shape}"
        )
    if pc_ind.size and pc_ind.min() < -1:
        raise SortingFormatError(
            f"{ind_path} names channel {int(pc_ind.min())}; channels are 0..{len(channel_y) - 1}, "
            "with -1 only as padding"
        )
    if pc_ind.size and pc_ind.max() >= len(channel_y):
        lowest = int(pc_ind[pc_ind >= 0].min())
        raise SortingFormatError(
            f"{ind_path} names channels {lowest}..{int(pc_ind.max())} but the probe has "
            f"{len(channel_y)} channels (0..{len(channel_y) - 1})"
        )
    return pc_ind.astype(np.int64, copy=False)
