"""Per-spike depth from Kilosort 1–3 PC features, in bounded memory.

Kilosort 1–3 save, for every spike, its projection on a few temporal principal components on
each of the local channels of its template (``pc_features.npy``, (n_spikes, n_pcs, n_local))
and which channels those are (``pc_feature_ind.npy``, (n_templates, n_local)). The spike's
depth is the centre of mass of the local channels' y positions weighted by the squared
first-PC feature, negative features counted as zero (as phy and the cortex-lab ``ksDriftmap``
do). A spike whose weights are all zero gets its template's depth instead.

``pc_features.npy`` is ~384 bytes per spike (tens of GB for a long session), so it is read
in row chunks into a fixed buffer and reduced chunk by chunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.npy import iter_row_chunks, load_npy, open_npy

CHUNK_BYTES = 64 * 2**20


def pc_feature_depths(
    folder: Path,
    spike_templates: np.ndarray,
    channel_y: np.ndarray,
    fallback_depths: np.ndarray,
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[np.ndarray, int]:
    """Compute each spike's depth from ``pc_features.npy`` in chunks.

    Parameters
    ----------
    folder
        Sorter output folder holding ``pc_features.npy`` and ``pc_feature_ind.npy``.
    spike_templates
        (n_spikes,) template index of each spike.
    channel_y
        (n_channels,) y position of each channel in µm.
    fallback_depths
        (n_templates,) depth used for spikes whose first-PC weights are all zero.
    chunk_bytes
        Size of the read buffer; peak memory is a few times this, whatever the file size.

    Returns
    -------
    depths : numpy.ndarray
        (n_spikes,) float32 depths in µm.
    n_fallback : int
        How many spikes got their template's depth.

    Raises
    ------
    SortingFormatError
        If the files are missing or truncated, their shapes disagree with each other or
        with the spike count, or ``pc_feature_ind.npy`` names channels the probe lacks.
    """
    header = open_npy(folder / "pc_features.npy")
    ind_path = folder / "pc_feature_ind.npy"
    pc_ind = load_npy(ind_path)
    n_spikes = len(spike_templates)
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
    if n_spikes and spike_templates.max() >= pc_ind.shape[0]:
        raise SortingFormatError(
            f"spike_templates.npy uses template {int(spike_templates.max())} but "
            f"{ind_path} only has rows for {pc_ind.shape[0]} templates"
        )
    if pc_ind.size and (pc_ind.min() < 0 or pc_ind.max() >= len(channel_y)):
        raise SortingFormatError(
            f"{ind_path} names channels {int(pc_ind.min())}..{int(pc_ind.max())} but the "
            f"probe has {len(channel_y)} channels (0..{len(channel_y) - 1})"
        )

    local_y = channel_y.astype(np.float32)[pc_ind]  # (n_templates, n_local)
    fallback = np.asarray(fallback_depths, dtype=np.float32)
    depths = np.empty(n_spikes, dtype=np.float32)
    n_fallback = 0
    rows = max(1, chunk_bytes // max(header.row_bytes, 1))
    for start, chunk in iter_row_chunks(header, rows):
        stop = start + len(chunk)
        tmpl = spike_templates[start:stop]
        weights = np.maximum(chunk[:, 0, :], 0, dtype=np.float32)
        np.multiply(weights, weights, out=weights)
        total = weights.sum(axis=1)
        moment = np.einsum("ij,ij->i", weights, local_y[tmpl])
        empty = total <= 0
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(moment, total, out=depths[start:stop])
        if empty.any():
            n_fallback += int(empty.sum())
            depths[start:stop][empty] = fallback[tmpl[empty]]
    return depths, n_fallback
