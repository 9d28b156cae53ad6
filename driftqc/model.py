"""The in-memory model of one sorted session.

A :class:`SpikeTable` holds one row per spike: its time (seconds from the start of the
recording), its amplitude, its depth along the probe (µm, probe y coordinate: larger is
further from the tip), the template that Kilosort fitted to it and the cluster it belongs to
after curation. All arrays are read-only so that a table can be shared between views without
copies and without surprises.

A :class:`Sorting` is what a reader returns: the spike table plus what the views need besides
it (templates, probe geometry, every cluster-label table found) and :class:`SessionInfo`, the
provenance that tells a figure what it shows (sorter version, amplitude units, depth frame).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

NOISE_LABEL = "noise"
KNOWN_LABELS = ("noise", "mua", "good", "unsorted")


@dataclass(frozen=True)
class SessionInfo:
    """Where a session came from and how its numbers were computed.

    Attributes
    ----------
    name
        Short name used in titles and tables (by default the folder name).
    path
        The folder that was read.
    sorter
        Sorter and version as detected, e.g. ``"kilosort2_5"`` or ``"kilosort4"``.
    sample_rate
        Sampling rate of the recording in Hz.
    amplitude_unit
        Unit of the spike amplitudes, e.g. ``"µV"`` or ``"a.u."``.
    amplitude_definition
        How a spike's amplitude was derived from the files.
    depth_estimator
        How a spike's depth was derived from the files.
    depth_frame
        ``"raw"`` (probe frame, as recorded), ``"registered"`` (after the sorter's own drift
        correction) or ``"unknown"``.
    notes
        Caveats worth showing a user (approximate whitening matrix, substituted depths, ...).
    frame_source
        How the depths came to be in ``depth_frame`` when not as saved: reconstructed from
        the sorter's motion estimate, or declared by the user; empty when as saved.
    drift_measurable
        False when the per-spike depths cannot show drift (e.g. each spike placed at its
        unit's template depth because the folder's PC features are whitened per channel);
        ``depth_estimator`` and ``notes`` say why and what to do instead.
    """

    name: str
    path: Path | None
    sorter: str
    sample_rate: float
    amplitude_unit: str
    amplitude_definition: str
    depth_estimator: str
    depth_frame: str
    notes: tuple[str, ...] = ()
    frame_source: str = ""
    drift_measurable: bool = True

    @property
    def frame_caption(self) -> str:
        """The depth frame for captions, e.g. ``"raw (reconstructed from Kilosort 4 dshift)"``."""
        if self.frame_source:
            return f"{self.depth_frame} ({self.frame_source})"
        return self.depth_frame

    @property
    def provenance_caption(self) -> str:
        """What a figure's depths and amplitudes are, for its caption.

        The depth frame; a warning when the depths cannot show drift; and, when the folder's
        amplitudes are signed, that their magnitude is shown.
        """
        parts = [f"depth frame: {self.frame_caption}"]
        if not self.drift_measurable:
            parts.append(
                "DRIFT NOT MEASURABLE from these depths: each spike at its unit's template depth "
                "(see the session's notes for how to measure it)"
            )
        if self.amplitude_definition.startswith("|"):
            parts.append("amplitudes: magnitude of the signed amplitudes.npy")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """Return the provenance as plain JSON-serialisable values."""
        return {
            "name": self.name,
            "path": None if self.path is None else str(self.path),
            "sorter": self.sorter,
            "sample_rate": self.sample_rate,
            "amplitude_unit": self.amplitude_unit,
            "amplitude_definition": self.amplitude_definition,
            "depth_estimator": self.depth_estimator,
            "depth_frame": self.depth_frame,
            "notes": list(self.notes),
            "frame_source": self.frame_source,
            "drift_measurable": self.drift_measurable,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> SessionInfo:
        """Rebuild provenance written by :meth:`to_dict`."""
        path = values.get("path")
        return cls(
            name=str(values["name"]),
            path=None if path is None else Path(str(path)),
            sorter=str(values["sorter"]),
            sample_rate=float(values["sample_rate"]),  # type: ignore[arg-type]
            amplitude_unit=str(values["amplitude_unit"]),
            amplitude_definition=str(values["amplitude_definition"]),
            depth_estimator=str(values["depth_estimator"]),
            depth_frame=str(values["depth_frame"]),
            notes=tuple(str(n) for n in values.get("notes", ())),  # type: ignore[union-attr]
            frame_source=str(values.get("frame_source", "")),
            drift_measurable=bool(values.get("drift_measurable", True)),
        )


def _frozen(values: np.ndarray, dtype: type | np.dtype) -> np.ndarray:
    out = np.ascontiguousarray(values, dtype=dtype)
    if out is values and out.flags.writeable:
        out = out.view()
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class SpikeTable:
    """Per-spike arrays of one session, all of the same length and read-only.

    Attributes
    ----------
    times
        Spike times in seconds (float64).
    amplitudes
        Spike amplitudes (float32), in ``info.amplitude_unit``.
    depths
        Spike depths along the probe in µm (float32), in the frame ``info.depth_frame``.
    templates
        Index of the template fitted to each spike (int32).
    clusters
        Cluster id of each spike after curation (int32); equal to ``templates`` when the
        sorting was not curated.
    cluster_labels
        Label of each labelled cluster id (``"noise"``, ``"mua"``, ``"good"``,
        ``"unsorted"`` or whatever the label file says).
    info
        Provenance of the session.
    """

    times: np.ndarray
    amplitudes: np.ndarray
    depths: np.ndarray
    templates: np.ndarray
    clusters: np.ndarray
    info: SessionInfo
    cluster_labels: Mapping[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shared = self.clusters is self.templates
        arrays = {
            "times": (self.times, np.float64),
            "amplitudes": (self.amplitudes, np.float32),
            "depths": (self.depths, np.float32),
            "templates": (self.templates, np.int32),
            "clusters": (self.clusters, np.int32),
        }
        lengths = {}
        for name, (values, dtype) in arrays.items():
            if np.ndim(values) != 1:
                raise ValueError(f"SpikeTable.{name} must be 1-D, got shape {np.shape(values)}")
            lengths[name] = len(values)
            # uncurated sortings: one array serves as both templates and clusters
            if name == "clusters" and shared:
                object.__setattr__(self, name, self.templates)
                continue
            object.__setattr__(self, name, _frozen(values, dtype))
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k}={v}" for k, v in lengths.items())
            raise ValueError(f"SpikeTable arrays differ in length: {detail}")

    def __len__(self) -> int:
        return len(self.times)

    @property
    def n_spikes(self) -> int:
        """Number of spikes in the table."""
        return len(self.times)

    @property
    def duration(self) -> float:
        """Time from 0 to the last spike, in seconds (0 for an empty table)."""
        return float(self.times.max()) if len(self) else 0.0

    def take(self, index: np.ndarray | slice) -> SpikeTable:
        """Return a new table with the spikes picked by a boolean mask, indices or a slice."""
        same = self.clusters is self.templates
        templates = self.templates[index]
        return replace(
            self,
            times=self.times[index],
            amplitudes=self.amplitudes[index],
            depths=self.depths[index],
            templates=templates,
            clusters=templates if same else self.clusters[index],
        )

    def label_of_spikes(self, labels: Mapping[int, str] | None = None) -> np.ndarray:
        """Return each spike's cluster label (``"unsorted"`` where a cluster has none)."""
        labels = self.cluster_labels if labels is None else labels
        ids, inverse = np.unique(self.clusters, return_inverse=True)
        names = np.array([labels.get(int(i), "unsorted") for i in ids], dtype=object)
        return names[inverse]


@dataclass(frozen=True)
class Sorting:
    """Everything a reader extracts from one sorter output folder.

    Attributes
    ----------
    spikes
        The per-spike table.
    templates
        Template waveforms as saved by the sorter, dense, shape
        (n_templates, n_samples, n_channels).
    channel_positions
        (n_channels, 2) x/y positions of the channels in µm.
    channel_shanks
        (n_channels,) shank index of each channel, 0-based.
    label_sources
        Every cluster-label table found, by source name (``"group"`` for Phy's
        ``cluster_group.tsv``, ``"KSLabel"`` for Kilosort's ``cluster_KSLabel.tsv``, ...), in
        order of precedence; ``spikes.cluster_labels`` is the first of them.
    motion
        The sorter's own drift estimate when it saved one (Kilosort 4's ``dshift``), else None.
    whitening_inverse
        (n_channels, n_channels) inverse whitening matrix when the folder has one
        (``templates @ whitening_inverse`` are the unwhitened templates), else None.
    """

    spikes: SpikeTable
    templates: np.ndarray
    channel_positions: np.ndarray
    channel_shanks: np.ndarray
    label_sources: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    motion: SorterMotion | None = None
    whitening_inverse: np.ndarray | None = None

    def __post_init__(self) -> None:
        # templates and geometry are shared by every view of the session: read-only
        self.templates.flags.writeable = False
        self.channel_positions.flags.writeable = False

    @property
    def info(self) -> SessionInfo:
        """Provenance of the session."""
        return self.spikes.info


@dataclass(frozen=True)
class SorterMotion:
    """A drift estimate saved by the sorter.

    Attributes
    ----------
    shift_um
        (n_batches, n_blocks) displacement estimate in µm, with the sorter's sign convention.
    batch_times
        (n_batches,) centre time of each batch in seconds.
    block_centres_um
        (n_blocks,) depth of each block's centre in µm.
    sign
        +1 when ``shift_um`` follows the tissue displacement, -1 when it is opposite to it
        (Kilosort 4).
    """

    shift_um: np.ndarray
    batch_times: np.ndarray
    block_centres_um: np.ndarray
    sign: int = -1
