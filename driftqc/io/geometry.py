"""Probe geometry and template shapes.

Channel positions are (x, y) in µm; y is the depth coordinate (distance from the tip, larger
is shallower). Multi-shank probes are split into shanks from ``channel_shanks.npy`` when the
sorter saved one, otherwise from gaps in x: Neuropixels columns on one shank are at most
~60 µm apart while shanks are 250 µm apart, so columns more than 100 µm apart are taken as
different shanks.

Templates come dense (n_templates, n_samples, n_channels) or sparse, as SpikeInterface's Phy
export writes them: (n_templates, n_samples, k) with ``template_ind.npy`` naming each
template's k channels (-1 for padding). Both become dense here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.npy import load_npy

SHANK_GAP_UM = 100.0


def read_channel_positions(folder: Path) -> np.ndarray:
    """Load ``channel_positions.npy`` as a float64 (n_channels, 2) array."""
    path = folder / "channel_positions.npy"
    positions = load_npy(path)
    if positions.ndim != 2 or positions.shape[1] < 2 or positions.shape[0] < 1:
        raise SortingFormatError(
            f"{path} should have shape (n_channels, 2), found {positions.shape}"
        )
    positions = np.asarray(positions[:, :2], dtype=np.float64)
    if not np.isfinite(positions).all():
        raise SortingFormatError(f"{path} contains NaN or infinite positions")
    return positions


def shanks_from_positions(positions: np.ndarray, gap_um: float = SHANK_GAP_UM) -> np.ndarray:
    """Assign each channel to a shank by clustering x positions separated by > ``gap_um``."""
    x = positions[:, 0]
    columns = np.unique(x)
    breaks = np.flatnonzero(np.diff(columns) > gap_um)
    column_shank = np.zeros(len(columns), dtype=np.int32)
    for b in breaks:
        column_shank[b + 1 :] += 1
    return column_shank[np.searchsorted(columns, x)]


def read_channel_shanks(folder: Path, positions: np.ndarray) -> np.ndarray:
    """Shank index (0-based) of each channel, from ``channel_shanks.npy`` or the x gaps."""
    path = folder / "channel_shanks.npy"
    if path.is_file():
        shanks = load_npy(path, kinds="biufUS", what="a shank id per channel").reshape(-1)
        if len(shanks) != len(positions):
            raise SortingFormatError(
                f"{path} has {len(shanks)} entries but channel_positions.npy has "
                f"{len(positions)} channels"
            )
        if len(np.unique(shanks)) > 1:
            return np.unique(shanks, return_inverse=True)[1].astype(np.int32)
    return shanks_from_positions(positions)


def read_templates(folder: Path, n_channels: int) -> np.ndarray:
    """Load ``templates.npy`` as a dense float32 (n_templates, n_samples, n_channels) array."""
    path = folder / "templates.npy"
    templates = load_npy(path)
    if templates.ndim != 3:
        raise SortingFormatError(
            f"{path} should have shape (n_templates, n_samples, n_channels), "
            f"found {templates.shape}"
        )
    templates = np.asarray(templates, dtype=np.float32)
    ind_path = folder / "template_ind.npy"
    if ind_path.is_file():
        index = load_npy(ind_path, kinds="iu", what="integer channel indices")
        return _densify(templates, index, n_channels, ind_path)
    if templates.shape[2] != n_channels:
        raise SortingFormatError(
            f"{path} has {templates.shape[2]} channels but channel_positions.npy has "
            f"{n_channels} (sparse templates need template_ind.npy)"
        )
    return templates


def _densify(
    sparse: np.ndarray, index: np.ndarray, n_channels: int, index_path: Path
) -> np.ndarray:
    if index.shape != (sparse.shape[0], sparse.shape[2]):
        raise SortingFormatError(
            f"{index_path} should have shape {(sparse.shape[0], sparse.shape[2])} to match "
            f"templates.npy, found {index.shape}"
        )
    index = index.astype(np.int64)
    if index.max(initial=-1) >= n_channels:
        raise SortingFormatError(
            f"{index_path} names channel {index.max()} but the probe has {n_channels} channels"
        )
    dense = np.zeros((sparse.shape[0], sparse.shape[1], n_channels), dtype=np.float32)
    for t in range(sparse.shape[0]):
        valid = index[t] >= 0
        dense[t][:, index[t][valid]] = sparse[t][:, valid]
    return dense


def template_peak_channels(templates: np.ndarray) -> np.ndarray:
    """Peak channel of each template: largest peak-to-trough over samples.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) waveforms.
    """
    templates = np.asarray(templates)
    if templates.ndim != 3:
        raise SortingFormatError(
            f"templates must be (n_templates, n_samples, n_channels), got shape {templates.shape}"
        )
    return np.ptp(templates, axis=1).argmax(axis=1)


def peak_to_trough(templates: np.ndarray) -> np.ndarray:
    """Per-channel peak-to-trough of each template, shape (n_templates, n_channels)."""
    if templates.shape[1] == 0:
        return np.zeros((templates.shape[0], templates.shape[2]), dtype=np.float32)
    return templates.max(axis=1) - templates.min(axis=1)


def template_depths(channel_ptp: np.ndarray, channel_y: np.ndarray) -> np.ndarray:
    """Depth of each template: centre of mass of its per-channel peak-to-trough.

    Channels below 30 % of the template's largest peak-to-trough are ignored, as in the
    cortex-lab ``templatePositionsAmplitudes``. A template that is flat everywhere gets NaN.
    """
    amp = channel_ptp.astype(np.float64, copy=True)
    peak = amp.max(axis=1, keepdims=True)
    amp[amp < 0.3 * peak] = 0.0
    total = amp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (amp @ channel_y) / total
