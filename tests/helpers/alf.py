"""Build IBL ALF spike-sorting folders for tests, from the documented ALF conventions.

A synthetic Kilosort 4 session (with a gain, so amplitudes are in µV) is read with the
Kilosort reader and written again as ALF datasets: ``spikes.times`` in seconds,
``spikes.depths`` in µm, ``spikes.amps`` in volts, ``spikes.clusters``/``spikes.templates``,
``channels.localCoordinates``/``channels.rawInd``, sparse ``templates.waveforms`` (volts)
with ``templates.waveformsChannels``, ``clusters.channels`` and ``cluster_KSLabel.tsv`` (as
IBL's export copies it). The reference :class:`~driftqc.model.Sorting` is returned with the
folder, so a test can compare what the ALF reader gives back.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from driftqc.io import read_kilosort
from driftqc.model import Sorting
from driftqc.synthetic import write_kilosort_folder

#: channels kept per template in ``templates.waveforms`` (IBL keeps 32 of 384)
N_WAVEFORM_CHANNELS = 8


@dataclass(frozen=True)
class AlfSession:
    """An ALF folder written for a test and the sorting it was made from."""

    folder: Path
    reference: Sorting


def write_alf_folder(
    folder: Path,
    *,
    n_spikes: int = 6_000,
    n_channels: int = 32,
    n_units: int = 10,
    duration: float = 60.0,
    seed: int = 0,
    name_part: str = "",
    namespace: str = "",
    waveforms: bool = True,
    labels: bool = True,
    drift: str = "linear",
) -> AlfSession:
    """Write a synthetic session as ALF datasets into ``folder`` (created).

    Parameters
    ----------
    folder
        Where the ALF files go (e.g. ``.../alf/probe00``).
    name_part
        Extra ALF name part, e.g. a UUID: ``spikes.times.<name_part>.npy``.
    namespace
        ALF namespace, e.g. ``"ibl"``: ``_ibl_spikes.times.npy``.
    waveforms
        Write ``templates.waveforms`` and ``templates.waveformsChannels``.
    labels
        Copy ``cluster_KSLabel.tsv``.
    """
    folder = Path(folder)
    source = folder.parent / f".ks-{folder.name}-{seed}"
    write_kilosort_folder(
        source, n_spikes=n_spikes, layout="kilosort4", n_channels=n_channels, n_units=n_units,
        duration=duration, drift=drift, frame="registered", gain=2.5, seed=seed,
    )  # fmt: skip
    reference = read_kilosort(source)
    spikes = reference.spikes
    folder.mkdir(parents=True, exist_ok=True)

    def save(obj_attr: str, values: np.ndarray) -> None:
        prefix = f"_{namespace}_" if namespace else ""
        extra = f".{name_part}" if name_part else ""
        np.save(folder / f"{prefix}{obj_attr}{extra}.npy", values)

    save("spikes.times", spikes.times.astype(np.float64))
    save("spikes.depths", spikes.depths.astype(np.float64))
    save("spikes.amps", spikes.amplitudes.astype(np.float64) * 1e-6)  # µV -> V
    save("spikes.clusters", spikes.clusters.astype(np.int64))
    save("spikes.templates", spikes.templates.astype(np.int64))
    save("channels.localCoordinates", reference.channel_positions.astype(np.float64))
    save("channels.rawInd", np.arange(len(reference.channel_positions), dtype=np.int64))
    ptp = reference.templates.max(axis=1) - reference.templates.min(axis=1)
    # one peak channel per cluster id (the template of the cluster's first spike)
    ids, first = np.unique(spikes.clusters, return_index=True)
    peaks = np.zeros(int(ids.max()) + 1, dtype=np.int64)
    peaks[ids] = ptp.argmax(axis=1)[spikes.templates[first]]
    save("clusters.channels", peaks)
    if waveforms:
        k = min(N_WAVEFORM_CHANNELS, reference.templates.shape[2])
        channels = np.argsort(-ptp, axis=1, kind="stable")[:, :k].astype(np.int32)
        sparse = np.take_along_axis(reference.templates, channels[:, None, :], axis=2)
        save("templates.waveforms", (sparse * 1e-6).astype(np.float32))  # as if in volts
        save("templates.waveformsChannels", channels)
    if labels:
        shutil.copy(source / "cluster_KSLabel.tsv", folder / "cluster_KSLabel.tsv")
    shutil.rmtree(source)
    return AlfSession(folder, reference)
