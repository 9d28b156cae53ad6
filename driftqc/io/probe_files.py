"""Reading a sorter folder's probe files: channel positions, channel shanks, templates.

Only file reading and format checks live here; what is computed from the arrays (peak
channels, template depths, shanks from x gaps, the shank of a template or spike) is in
:mod:`driftqc.geometry`.

* ``channel_positions.npy``: (n_channels, 2) x/y in µm; y is the depth coordinate (distance
  from the tip, larger is shallower).
* ``channel_shanks.npy`` (optional): a shank label per channel; used when it names more than
  one shank, otherwise shanks come from gaps in x (:func:`driftqc.geometry.channel_shanks`).
* ``templates.npy``: dense (n_templates, n_samples, n_channels) or sparse, as SpikeInterface's
  Phy export writes them: (n_templates, n_samples, k) with ``template_ind.npy`` naming each
  template's k channels (-1 for padding, ignored). Both become dense here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.geometry import channel_shanks
from driftqc.io.npy import load_npy


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


def read_channel_shanks(folder: Path, positions: np.ndarray) -> np.ndarray:
    """Shank index (0-based, int32) of each channel, from ``channel_shanks.npy`` or x gaps.

    Parameters
    ----------
    folder
        The sorter output folder.
    positions
        (n_channels, 2) channel positions in µm (:func:`read_channel_positions`).

    Raises
    ------
    SortingFormatError
        If ``channel_shanks.npy`` is not one label per channel.
    """
    path = folder / "channel_shanks.npy"
    labels = None
    if path.is_file():
        labels = load_npy(path, kinds="biufUS", what="a shank id per channel").reshape(-1)
        if len(labels) != len(positions):
            raise SortingFormatError(
                f"{path} has {len(labels)} entries but channel_positions.npy has "
                f"{len(positions)} channels"
            )
    return channel_shanks(positions, labels)


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
    if index.min(initial=-1) < -1:
        raise SortingFormatError(
            f"{index_path} names channel {index.min()}; channels are 0..{n_channels - 1}, "
            "with -1 only as padding"
        )
    if index.max(initial=-1) >= n_channels:
        raise SortingFormatError(
            f"{index_path} names channel {index.max()} but the probe has {n_channels} channels"
        )
    dense = np.zeros((sparse.shape[0], sparse.shape[1], n_channels), dtype=np.float32)
    for t in range(sparse.shape[0]):
        valid = index[t] >= 0
        dense[t][:, index[t][valid]] = sparse[t][:, valid]
    return dense
