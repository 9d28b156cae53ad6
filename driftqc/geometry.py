"""Probe geometry: peak channels, template depths and shanks, computed once for everyone.

Pure computation on arrays (no file reading); readers, metrics, QC, the pipeline and the
viewer all take these definitions from here.

Words used here
---------------
**Channel positions** are (x, y) in µm, shape (n_channels, 2), as ``channel_positions.npy``
gives them.

**Depth** is the y coordinate in µm: distance along the probe from its tip (larger y is
shallower, nearer the brain surface), *not* distance from the brain surface. A template's
depth is the centre of mass of its per-channel peak-to-trough over the channels' y
(:func:`template_depths`).

**Peak-to-trough** of a template on a channel is its largest minus its smallest value over
samples, in the template's own units (whitened or unwhitened sorter units, or µV; the
functions here never rescale). A template's **peak channel** is the channel where that is
largest (:func:`template_peak_channels`).

**Shank** is a 0-based integer naming one shaft of a multi-shank probe (a single-shank probe
has only shank 0). A channel's shank comes from the sorter's per-channel labels when they name
more than one shank, otherwise from gaps in x: columns on one Neuropixels shank are at most
~60 µm apart while shanks are 250 µm apart, so columns more than :data:`SHANK_GAP_UM` apart are
different shanks (:func:`channel_shanks`). A template's shank is the shank of its peak channel
(:func:`template_shanks`), and a spike's shank is the shank of its template
(:func:`spike_shanks`); :func:`split_by_shank` splits a spike table by it.

Templates here are dense, shape (n_templates, n_samples, n_channels) (the readers densify
sparse Phy exports).
"""

from __future__ import annotations

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.model import SpikeTable

__all__ = [
    "DEPTH_THRESHOLD",
    "SHANK_GAP_UM",
    "channel_shanks",
    "peak_to_trough",
    "shanks_from_positions",
    "spike_shanks",
    "split_by_shank",
    "template_depths",
    "template_peak_channels",
    "template_shanks",
]

#: columns of channels further apart than this in x (µm) are on different shanks
SHANK_GAP_UM = 100.0
#: channels below this fraction of a template's largest peak-to-trough do not count for depth
DEPTH_THRESHOLD = 0.3


def peak_to_trough(templates: np.ndarray) -> np.ndarray:
    """Peak-to-trough of each template on each channel.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) waveforms, in any units.

    Returns
    -------
    numpy.ndarray
        (n_templates, n_channels): maximum minus minimum over samples, in the templates'
        units and dtype. Templates with no samples give float32 zeros.

    Examples
    --------
    >>> t = np.zeros((1, 3, 2), dtype=np.float32)
    >>> t[0, :, 1] = [0, -2, 1]
    >>> peak_to_trough(t).tolist()
    [[0.0, 3.0]]
    """
    templates = np.asarray(templates)
    if templates.shape[1] == 0:
        return np.zeros((templates.shape[0], templates.shape[2]), dtype=np.float32)
    return templates.max(axis=1) - templates.min(axis=1)


def template_peak_channels(templates: np.ndarray) -> np.ndarray:
    """Peak channel of each template: the channel with the largest peak-to-trough.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) waveforms.

    Returns
    -------
    numpy.ndarray
        (n_templates,) channel indices (0-based, into the templates' channel axis). A flat
        template (the same peak-to-trough on every channel, e.g. all zeros) has no real peak:
        it gets the first channel of the largest value, channel 0 for an all-zero template.

    Raises
    ------
    SortingFormatError
        If ``templates`` is not 3-D.
    """
    templates = np.asarray(templates)
    if templates.ndim != 3:
        raise SortingFormatError(
            f"templates must be (n_templates, n_samples, n_channels), got shape {templates.shape}"
        )
    return peak_to_trough(templates).argmax(axis=1)


def template_depths(channel_ptp: np.ndarray, channel_y: np.ndarray) -> np.ndarray:
    """Depth of each template: centre of mass of its per-channel peak-to-trough.

    Channels below :data:`DEPTH_THRESHOLD` (30 %) of the template's largest peak-to-trough are
    ignored, as in the cortex-lab ``templatePositionsAmplitudes``.

    Parameters
    ----------
    channel_ptp
        (n_templates, n_channels) per-channel peak-to-trough (:func:`peak_to_trough`), any
        units (only ratios matter).
    channel_y
        (n_channels,) y position of each channel, µm.

    Returns
    -------
    numpy.ndarray
        (n_templates,) float64 depths in µm (same frame as ``channel_y``). A template that is
        flat zero everywhere gets NaN.
    """
    amp = np.asarray(channel_ptp).astype(np.float64, copy=True)
    peak = amp.max(axis=1, keepdims=True)
    amp[amp < DEPTH_THRESHOLD * peak] = 0.0
    total = amp.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (amp @ np.asarray(channel_y, dtype=np.float64)) / total


def shanks_from_positions(positions: np.ndarray, gap_um: float = SHANK_GAP_UM) -> np.ndarray:
    """Shank of each channel from gaps in x: columns more than ``gap_um`` apart are shanks.

    Parameters
    ----------
    positions
        (n_channels, 2) channel x/y in µm.
    gap_um
        Smallest x distance (µm) between neighbouring columns on different shanks.

    Returns
    -------
    numpy.ndarray
        (n_channels,) int32 shank index, 0 for the shank of smallest x; all zeros on a
        single-shank probe (e.g. Neuropixels 1.0, columns at x = 11, 27, 43, 59 µm).

    Examples
    --------
    >>> shanks_from_positions(np.array([[0, 0], [32, 0], [250, 0], [282, 15.0]])).tolist()
    [0, 0, 1, 1]
    """
    x = np.asarray(positions)[:, 0]
    columns = np.unique(x)
    breaks = np.flatnonzero(np.diff(columns) > gap_um)
    column_shank = np.zeros(len(columns), dtype=np.int32)
    for b in breaks:
        column_shank[b + 1 :] += 1
    return column_shank[np.searchsorted(columns, x)]


def channel_shanks(
    positions: np.ndarray, labels: np.ndarray | None = None, *, gap_um: float = SHANK_GAP_UM
) -> np.ndarray:
    """Shank of each channel: from the sorter's per-channel labels, else from gaps in x.

    Parameters
    ----------
    positions
        (n_channels, 2) channel x/y in µm.
    labels
        Optional (n_channels,) shank label of each channel as the sorter saved it (numbers or
        strings, e.g. ``channel_shanks.npy`` or a probe's shank ids). Used only when it names
        more than one shank; a single label (as many sorters write for any probe) says
        nothing, and the x gaps decide.
    gap_um
        See :func:`shanks_from_positions`.

    Returns
    -------
    numpy.ndarray
        (n_channels,) int32 shank index, 0-based: the labels' rank in sorted order, or the
        x-gap clusters from left to right.

    Raises
    ------
    SortingFormatError
        If ``labels`` does not have one entry per channel.
    """
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(positions):
            raise SortingFormatError(
                f"{len(labels)} channel shank labels for {len(positions)} channels"
            )
        if len(np.unique(labels)) > 1:
            return np.unique(labels, return_inverse=True)[1].astype(np.int32)
    return shanks_from_positions(positions, gap_um)


def template_shanks(
    templates: np.ndarray, channel_shanks: np.ndarray, *, session: str | None = None
) -> np.ndarray:
    """Shank of each template: the shank of its peak channel.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) waveforms.
    channel_shanks
        (n_channels,) shank of each channel of the probe (see :func:`channel_shanks`).
    session
        Session name for error messages.

    Returns
    -------
    numpy.ndarray
        (n_templates,) int32 shank indices (empty for no templates). A flat template is put on
        the shank of channel 0 (see :func:`template_peak_channels`); on a single-shank probe
        every template is on shank 0.

    Raises
    ------
    SortingFormatError
        If ``templates`` is not 3-D or has more channels than the probe (``channel_shanks``),
        so that a peak channel could have no shank.
    """
    peak = template_peak_channels(templates)
    shanks = np.asarray(channel_shanks).astype(np.int32).reshape(-1)
    n_channels = np.shape(templates)[2]
    if n_channels > len(shanks):
        raise SortingFormatError(
            f"{_session(session)}templates have {n_channels} channels but channel_shanks "
            f"has {len(shanks)}"
        )
    return shanks[peak]


def spike_shanks(
    spike_templates: np.ndarray, template_shanks: np.ndarray, *, session: str | None = None
) -> np.ndarray:
    """Shank of each spike: the shank of its template.

    Parameters
    ----------
    spike_templates
        (n_spikes,) template index of each spike (``SpikeTable.templates``).
    template_shanks
        (n_templates,) shank of each template (:func:`template_shanks`, or as kept in a spike
        cache).
    session
        Session name for error messages.

    Returns
    -------
    numpy.ndarray
        (n_spikes,) shank indices, in ``template_shanks``' dtype (empty for no spikes).

    Raises
    ------
    SortingFormatError
        If a spike's template index is negative or beyond ``template_shanks``.
    """
    spike_templates = np.asarray(spike_templates)
    shanks = np.asarray(template_shanks)
    if len(spike_templates) and (
        spike_templates.min() < 0 or spike_templates.max() >= len(shanks)
    ):
        raise SortingFormatError(
            f"{_session(session)}spike template index {int(spike_templates.max())} outside "
            f"the {len(shanks)} templates whose shank is known"
        )
    return shanks[spike_templates]


def split_by_shank(spikes: SpikeTable, template_shanks: np.ndarray) -> dict[int, SpikeTable]:
    """Split a spike table by shank: ``{shank index: that shank's spikes}``.

    Parameters
    ----------
    spikes
        Any spike table of the session (all spikes, a selection, the raw-frame copy...).
    template_shanks
        (n_templates,) shank of each template (:func:`template_shanks`).

    Returns
    -------
    dict
        Only shanks that have spikes, by increasing shank index, each in the table's own
        order; one entry (e.g. ``{0: spikes}``) on a single-shank probe, none for an empty
        table.

    Raises
    ------
    SortingFormatError
        If a spike's template has no shank (see :func:`spike_shanks`).
    """
    per_spike = spike_shanks(spikes.templates, template_shanks, session=spikes.info.name)
    return {int(s): spikes.take(per_spike == s) for s in np.unique(per_spike)}


def _session(name: str | None) -> str:
    return f"session {name!r}: " if name is not None else ""
