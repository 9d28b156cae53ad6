"""Reading IBL spike-sorting output in the ALF layout into a :class:`Sorting`.

The International Brain Laboratory (IBL) publishes spike sorting as **ALF** datasets: one
``.npy`` file per attribute of an object, named ``object.attribute.npy``, in one folder per
probe. The files read here, with the units the IBL documentation gives them:

``spikes.times.npy``
    Spike times in seconds (required).
``spikes.depths.npy``
    Depth of each spike along the probe in µm from the tip, positive upwards (required).
``spikes.amps.npy``
    Spike amplitude in volts (required); shown here in µV (× 1e6).
``spikes.clusters.npy``
    Cluster of each spike, indexing the ``clusters.*`` attributes (required, unless
    ``spikes.templates.npy`` is there to stand in for it).
``spikes.templates.npy``
    Template of each spike (optional).
``channels.localCoordinates.npy``
    (n_channels, 2) x/y of each channel in µm (required); ``channels.rawInd.npy`` (optional)
    is checked to hold one index per channel.
``templates.waveforms.npy`` + ``templates.waveformsChannels.npy``
    Sparse template waveforms (n_templates, n_samples, k) in volts and the k channels of
    each (optional; ``clusters.waveforms``/``clusters.waveformsChannels`` are used when
    spikes have no templates). Made dense and shown in µV. Without them each cluster's
    stand-in "template" marks only its peak channel (``clusters.channels.npy``).

**Labels** (optional): Phy's ``cluster_group.tsv`` when a curator exported one, then the
``ks2_label`` column of ``clusters.metrics.csv``, then ``cluster_KSLabel.tsv`` (which IBL's
ALF export copies beside the ALF files). ``clusters.metrics.pqt`` (parquet) is not read: it
would need a parquet engine. The numeric ``label`` column of the metrics (the fraction of
quality metrics passed: 0, 1/3, 2/3, 1) is a score, not a label, and is ignored. Without a
label source, ``exclude_noise`` is an error, as for a Kilosort folder without label files.

**Names.** ALF file names are ``[_namespace_]object.attribute[.extra...].extension``: a
namespace such as ``_ibl_`` and extra parts such as a dataset UUID
(``spikes.times.ab12cd34-....npy``) or a label are accepted. Two files for the same
attribute in one folder (say with and without a UUID) are ambiguous and an error. An
attribute with a time scale (``spikes.times_ephysClock.npy``) is not the same attribute and
is not read.

**Folders.** Give the probe folder (``alf/probe00``), a collection below it
(``alf/probe00/pykilosort``, ``alf/probe00/iblsorter``) or any folder above it (the session
folder, its ``alf`` folder): folders are searched up to three levels down, skipping hidden
ones, for the one holding ``spikes.times``; several candidates (two probes, or two
collections of one probe) are an error that lists them. A folder that holds spike files
itself is read as it is, sub-collections aside. **Revisions**: sub-folders named
``#revision#`` (e.g. ``#2024-01-01#``) hold newer versions of datasets; each dataset is read
from the latest revision (greatest name, so ISO dates sort in time) that has it, else from
the folder itself, and ``info.notes`` says which revision was used.

**Frame.** IBL sorts with pykilosort / iblsorter, ports of Kilosort 2.5 that register the
data against drift before sorting, and ``spikes.depths`` is the centre of mass of each
spike's features in that data: the depths are in the sorter's **registered** frame. The
sorter's drift estimate (``drift.um.npy``) is not read.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.geometry import channel_shanks
from driftqc.io.labels import read_label_file
from driftqc.io.npy import NpyFile, as_ids, check_kind, load_npy, map_rows, open_vector
from driftqc.io.params import read_params
from driftqc.model import KNOWN_LABELS, SessionInfo, Sorting, SpikeTable
from driftqc.text import printable

__all__ = [
    "ALF_NAME",
    "AlfFolder",
    "alf_files",
    "find_alf_folders",
    "holds_alf_spikes",
    "is_alf_spike_times",
    "is_alf_folder",
    "locate_alf",
    "read_alf",
]

#: ``[_namespace_]object.attribute[.extra...].extension``
ALF_NAME = re.compile(
    r"^(?:_(?P<namespace>[A-Za-z0-9]+)_)?(?P<object>[A-Za-z0-9]+)"
    r"\.(?P<attribute>[A-Za-z0-9]+)(?P<extra>(?:\.[A-Za-z0-9_-]+)*)\.(?P<extension>[A-Za-z0-9]+)$"
)
#: a revision sub-folder, ``#2024-01-01#``
REVISION = re.compile(r"^#[A-Za-z0-9_.-]+#$")
SORTER = "ibl-alf"
VOLTS_TO_UV = 1e6
#: longest plausible recording (s), as for Kilosort folders
MAX_DURATION_S = 7 * 86_400.0
#: sample rate put in the provenance when no ``params.py`` states one (times are in seconds)
DEFAULT_RATE_HZ = 30_000.0
# levels searched below the folder given: session / alf / probe00 / pykilosort
_SEARCH_DEPTH = 3
# label files that are not ALF datasets, read when present: (file name, source name)
_PHY_GROUP = ("cluster_group.tsv", "group")
_KS_LABEL = ("cluster_KSLabel.tsv", "KSLabel")
_METRICS_LABEL = "ks2_label"


@dataclass(frozen=True)
class AlfFolder:
    """An ALF collection folder and its revision sub-folders.

    Attributes
    ----------
    folder
        The folder holding the spike datasets (or whose revisions hold them).
    revisions
        Its ``#revision#`` sub-folders, latest first.
    """

    folder: Path
    revisions: tuple[Path, ...] = ()
    _used: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def dataset(self, obj: str, attribute: str, extension: str = "npy") -> Path | None:
        """Return the file of ``obj.attribute``, from the latest revision that has it.

        Without a revision holding it, the file in the folder itself (None if none).

        Raises
        ------
        SortingFormatError
            If one folder holds several files for the attribute (e.g. two UUIDs).
        """
        for where in (*self.revisions, self.folder):
            path = _one_dataset(where, obj, attribute, extension)
            if path is not None:
                self._note_revision(f"{obj}.{attribute}", where)
                return path
        return None

    def plain_file(self, name: str) -> Path | None:
        """Return a file with a fixed name (``cluster_KSLabel.tsv``), latest revision first."""
        for where in (*self.revisions, self.folder):
            if (where / name).is_file():
                self._note_revision(name, where)
                return where / name
        return None

    def _note_revision(self, what: str, where: Path) -> None:
        if where != self.folder:
            self._used[what] = where.name

    def revision_notes(self) -> list[str]:
        """Return notes saying which revision the datasets came from (none without revisions)."""
        if not self.revisions:
            return []
        names = ", ".join(p.name for p in self.revisions)
        if not self._used:
            return [f"ALF revisions {names} hold none of the datasets read; read unrevisioned"]
        used = sorted(set(self._used.values()), reverse=True)
        text = f"ALF revision {', '.join(used)} (latest of {names}) used for " + ", ".join(
            sorted(self._used)
        )
        return [text + "; other datasets from the unrevisioned folder"]


def _alf_parts(name: str) -> re.Match[str] | None:
    return ALF_NAME.match(name)


def _one_dataset(folder: Path, obj: str, attribute: str, extension: str) -> Path | None:
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return None
    for path in entries:
        parts = _alf_parts(path.name)
        if (
            parts is not None
            and parts["object"] == obj
            and parts["attribute"] == attribute
            and parts["extension"] == extension
            and path.is_file()
        ):
            found.append(path)
    if len(found) > 1:
        names = ", ".join(sorted(p.name for p in found))
        raise SortingFormatError(
            f"{folder} holds several files for {obj}.{attribute}: {names}; keep one"
        )
    return found[0] if found else None


def _revisions(folder: Path) -> tuple[Path, ...]:
    try:
        subs = [p for p in folder.iterdir() if p.is_dir() and REVISION.match(p.name)]
    except OSError:
        return ()
    return tuple(sorted(subs, key=lambda p: p.name, reverse=True))


def holds_alf_spikes(folder: Path | str) -> bool:
    """Whether ``folder`` (or one of its revision sub-folders) holds ALF ``spikes.times``."""
    folder = Path(folder)
    for where in (folder, *_revisions(folder)):
        try:
            if any(is_alf_spike_times(p.name) for p in where.iterdir()):
                return True
        except OSError:
            continue
    return False


def is_alf_spike_times(name: str) -> bool:
    """Whether a file name is an ALF ``spikes.times`` dataset (``[_ns_]spikes.times[.x].npy``)."""
    parts = _alf_parts(name)
    return (
        parts is not None
        and parts["object"] == "spikes"
        and parts["attribute"] == "times"
        and parts["extension"] == "npy"
    )


def find_alf_folders(path: Path | str, depth: int = _SEARCH_DEPTH) -> list[Path]:
    """ALF folders holding spike datasets at or below ``path`` (at most ``depth`` levels down).

    A folder that holds ``spikes.times`` (itself or in a revision sub-folder) is returned
    without looking further down; revision and hidden folders are never candidates.

    Examples
    --------
    >>> find_alf_folders("subject/2024-01-01/001")  # doctest: +SKIP
    [PosixPath('subject/2024-01-01/001/alf/probe00')]
    """
    path = Path(path)
    if not path.is_dir():
        return []
    if holds_alf_spikes(path):
        return [path]
    if depth <= 0:
        return []
    found: list[Path] = []
    try:
        subs = sorted(p for p in path.iterdir() if p.is_dir())
    except OSError:
        return []
    for sub in subs:
        if sub.name.startswith(".") or REVISION.match(sub.name):
            continue
        found += find_alf_folders(sub, depth - 1)
    return found


def is_alf_folder(path: Path | str) -> bool:
    """Whether ``path`` is (or leads to) IBL ALF spike-sorting output.

    True when ``path`` is a folder that is not a Kilosort folder (no ``spike_times.npy``)
    and it, or a folder at most three levels below it, holds an ALF ``spikes.times``
    dataset (see :func:`find_alf_folders`).
    """
    path = Path(path)
    if not path.is_dir() or (path / "spike_times.npy").is_file():
        return False
    return bool(find_alf_folders(path))


def locate_alf(path: Path | str) -> AlfFolder:
    """Find the one ALF spike folder at or below ``path``.

    Raises
    ------
    SortingFormatError
        If ``path`` is not a folder, or no or several ALF spike folders are found.
    """
    path = Path(path)
    if not path.exists():
        raise SortingFormatError(f"ALF folder {path} does not exist")
    if not path.is_dir():
        raise SortingFormatError(f"{path} is not a folder; give the ALF probe folder")
    found = find_alf_folders(path)
    if not found:
        raise SortingFormatError(
            f"{path} holds no ALF spike sorting (no spikes.times.npy in it or in the "
            f"{_SEARCH_DEPTH} levels below it)"
        )
    if len(found) > 1:
        listed = ", ".join(p.relative_to(path).as_posix() for p in found)
        raise SortingFormatError(
            f"{path} holds {len(found)} ALF spike sortings ({listed}); give one of them"
        )
    return AlfFolder(found[0], _revisions(found[0]))


def read_alf(
    path: Path | str,
    *,
    name: str | None = None,
    with_depths: bool = True,
) -> Sorting:
    """Read IBL spike sorting saved as ALF datasets (see the module notes for the files).

    Parameters
    ----------
    path
        The probe folder (``alf/probe00``), a collection or revision inside it, or a
        folder above it that leads to exactly one such folder.
    name
        Session name for titles and tables; by default derived from the folder's path
        (``<session>/alf/probe00`` gives ``<session>/probe00``).
    with_depths
        Accepted for symmetry with the other readers; ALF depths are saved per spike, so
        they are always read.

    Returns
    -------
    Sorting
        Spikes (times in s, depths in µm in the registered frame, amplitudes in µV),
        templates (µV), channel geometry, labels and provenance (``sorter="ibl-alf"``).

    Raises
    ------
    SortingFormatError
        Naming the file: a missing required dataset, a non-numeric, pickled or truncated
        ``.npy``, per-spike arrays of different lengths, times that are not finite,
        non-negative and sorted, ids out of range.

    Examples
    --------
    >>> sorting = read_alf("ZM_1234/2024-01-01/001/alf/probe00")  # doctest: +SKIP
    >>> sorting.info.amplitude_unit  # doctest: +SKIP
    'µV'
    """
    del with_depths  # depths are saved per spike: nothing to skip
    alf = locate_alf(path)
    folder = alf.folder
    notes: list[str] = []

    times_path = _required(alf, "spikes", "times")
    times = _times(_per_spike(times_path, None, "spike times in seconds", np.float64), times_path)
    n = len(times)
    depths_path = _required(alf, "spikes", "depths")
    depths = _per_spike(depths_path, n, "depths in µm", np.float32)
    amps_path = _required(alf, "spikes", "amps")
    # float32 holds volts (~1e-4) to 7 digits; scaled in place to spare a float64 copy
    amplitudes = _per_spike(amps_path, n, "amplitudes in volts", np.float32)
    amplitudes *= np.float32(VOLTS_TO_UV)

    clusters_path = alf.dataset("spikes", "clusters")
    templates_path = alf.dataset("spikes", "templates")
    if clusters_path is None and templates_path is None:
        raise SortingFormatError(
            f"spikes.clusters.npy is missing from {folder} (and there is no "
            "spikes.templates.npy to use instead)"
        )
    spike_templates = None if templates_path is None else _ids(templates_path, n)
    if clusters_path is not None:
        clusters = _ids(clusters_path, n)
    else:
        notes.append("no spikes.clusters.npy: clusters are the templates of spikes.templates")
        clusters = spike_templates  # type: ignore[assignment]

    positions = _channel_positions(alf)
    _check_raw_index(alf, len(positions))
    shanks = channel_shanks(positions, None)

    templates, spike_templates = _templates(alf, clusters, spike_templates, positions, notes)
    label_sources = _label_sources(alf, notes)

    for values, file in ((depths, depths_path), (amplitudes, amps_path)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            message = f"{file}: {bad} of {n} spikes are NaN or infinite; left out of drift maps"
            warnings.warn(message, stacklevel=2)
            notes.append(message)

    rate = _sample_rate(alf, notes)
    notes.extend(alf.revision_notes())
    notes.append(
        "spikes.depths are pykilosort/iblsorter's centre-of-mass depths on the data it had "
        "registered against drift (a Kilosort 2.5-style correction): registered frame"
    )
    info = SessionInfo(
        name=name or _session_name(folder),
        path=folder.resolve(),
        sorter=SORTER,
        sample_rate=rate,
        amplitude_unit="µV",
        amplitude_definition="spikes.amps.npy (volts, as IBL saves them) x 1e6",
        depth_estimator="spikes.depths.npy (IBL: centre of mass of the spike's features, µm "
        "from the probe tip)",
        depth_frame="registered",
        notes=tuple(notes),
    )
    spikes = SpikeTable(
        times=times,
        amplitudes=amplitudes,
        depths=depths,
        templates=spike_templates,
        clusters=clusters,  # the same array when clusters stand for templates
        info=info,
        cluster_labels=next(iter(label_sources.values()), {}),
    )
    return Sorting(
        spikes=spikes,
        templates=templates,
        channel_positions=positions,
        channel_shanks=shanks,
        label_sources=label_sources,
    )


def alf_files(path: Path | str) -> list[Path]:
    """Every file :func:`read_alf` reads for ``path`` (only those that exist).

    Raises
    ------
    SortingFormatError
        As :func:`locate_alf`, or for an ambiguous dataset.
    """
    alf = locate_alf(path)
    files: list[Path | None] = [
        alf.dataset(obj, attribute)
        for obj, attribute in (
            ("spikes", "times"),
            ("spikes", "depths"),
            ("spikes", "amps"),
            ("spikes", "clusters"),
            ("spikes", "templates"),
            ("channels", "localCoordinates"),
            ("channels", "rawInd"),
            ("templates", "waveforms"),
            ("templates", "waveformsChannels"),
            ("clusters", "waveforms"),
            ("clusters", "waveformsChannels"),
            ("clusters", "channels"),
        )
    ]
    files += [
        alf.plain_file(_PHY_GROUP[0]),
        alf.dataset("clusters", "metrics", "csv"),
        alf.plain_file(_KS_LABEL[0]),
        alf.plain_file("params.py"),
    ]
    return [p for p in files if p is not None]


# ------------------------------------------------------------------ helpers


def _required(alf: AlfFolder, obj: str, attribute: str) -> Path:
    path = alf.dataset(obj, attribute)
    if path is None:
        raise SortingFormatError(f"{obj}.{attribute}.npy is missing from {alf.folder}")
    return path


def _vector(path: Path, n: int | None, what: str) -> NpyFile:
    return check_kind(open_vector(path, length=n), "iuf", what)


def _per_spike(path: Path, n: int | None, what: str, dtype: type) -> np.ndarray:
    """Read a per-spike vector as ``dtype`` (one copy: C-ordered files are mapped)."""
    header = _vector(path, n, what)
    if header.fortran_order:
        return load_npy(path, kinds="iuf", what=what).reshape(-1).astype(dtype)
    return map_rows(header, 0, header.n_rows).reshape(-1).astype(dtype)


def _times(values: np.ndarray, path: Path) -> np.ndarray:
    """Spike times in seconds, checked to be finite, non-negative, sorted and plausible."""
    times = values.astype(np.float64, copy=False)
    if not len(times):
        return times
    if not np.isfinite(times).all():
        raise SortingFormatError(f"{path} contains NaN or infinite spike times")
    if times.min() < 0:
        first = int(np.flatnonzero(times < 0)[0])
        raise SortingFormatError(f"{path} holds negative times (spike {first}: {times[first]})")
    later = np.less(times[1:], times[:-1])
    if later.any():
        index = int(np.flatnonzero(later)[0])
        raise SortingFormatError(
            f"{path} is not in time order (spike {index + 1} comes before spike {index}); "
            "ALF spikes are saved sorted by time, so the file is damaged or not spikes.times"
        )
    if times[-1] > MAX_DURATION_S:
        raise SortingFormatError(
            f"{path}: the last spike is {times[-1] / 86400:.0f} days into the recording; "
            "spikes.times must be in seconds"
        )
    return times


def _ids(path: Path, n: int) -> np.ndarray:
    _vector(path, n, "integer ids")
    return as_ids(load_npy(path, kinds="iuf", what="integer ids"), path)


def _channel_positions(alf: AlfFolder) -> np.ndarray:
    path = _required(alf, "channels", "localCoordinates")
    positions = load_npy(path, kinds="iuf", what="channel x/y positions in µm")
    if positions.ndim != 2 or positions.shape[1] < 2 or positions.shape[0] < 1:
        raise SortingFormatError(
            f"{path} should have shape (n_channels, 2), found {positions.shape}"
        )
    positions = np.array(positions[:, :2], dtype=np.float64)
    if not np.isfinite(positions).all():
        raise SortingFormatError(f"{path} contains NaN or infinite positions")
    return positions


def _check_raw_index(alf: AlfFolder, n_channels: int) -> None:
    path = alf.dataset("channels", "rawInd")
    if path is None:
        return
    index = load_npy(path, kinds="iu", what="integer channel indices").reshape(-1)
    if len(index) != n_channels:
        raise SortingFormatError(
            f"{path} has {len(index)} entries but channels.localCoordinates has "
            f"{n_channels} channels"
        )


def _templates(
    alf: AlfFolder,
    clusters: np.ndarray,
    spike_templates: np.ndarray | None,
    positions: np.ndarray,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Dense template waveforms (µV) and each spike's index into them.

    ``templates.*`` serve spikes with ``spikes.templates``; else ``clusters.*`` serve the
    clusters; else a stand-in per cluster marks its peak channel.
    """
    n_channels = len(positions)
    if spike_templates is not None:
        dense = _waveforms(alf, "templates", n_channels)
        if dense is not None:
            _check_index(spike_templates, len(dense), alf, "spikes", "templates", "templates")
            notes.append("templates.waveforms (volts) shown in µV")
            return dense, spike_templates
    dense = _waveforms(alf, "clusters", n_channels)
    if dense is not None:
        _check_index(clusters, len(dense), alf, "spikes", "clusters", "clusters")
        notes.append("clusters.waveforms (volts) shown as the clusters' templates, in µV")
        return dense, clusters
    n_ids = int(clusters.max()) + 1 if len(clusters) else 0
    stand_in = np.zeros((n_ids, 1, n_channels), dtype=np.float32)
    peak_path = alf.dataset("clusters", "channels")
    if peak_path is not None:
        peaks = load_npy(peak_path, kinds="iu", what="a peak channel per cluster").reshape(-1)
        if len(peaks) < n_ids or (len(peaks) and (peaks.max() >= n_channels)):
            raise SortingFormatError(
                f"{peak_path} should give a channel (< {n_channels}) for each of the "
                f"{n_ids} clusters, found {len(peaks)} values"
            )
        stand_in[np.arange(n_ids), 0, peaks[:n_ids]] = 1.0
        notes.append(
            "no template waveforms: each cluster's template is a stand-in marking its peak "
            "channel (clusters.channels)"
        )
    else:
        notes.append("no template waveforms and no clusters.channels: templates are blank")
    return stand_in, clusters


def _waveforms(alf: AlfFolder, obj: str, n_channels: int) -> np.ndarray | None:
    path = alf.dataset(obj, "waveforms")
    if path is None:
        return None
    sparse = load_npy(path, kinds="f", what="waveforms in volts")
    if sparse.ndim != 3:
        raise SortingFormatError(
            f"{path} should have shape (n, n_samples, n_channels), found {sparse.shape}"
        )
    sparse = sparse.astype(np.float32) * np.float32(VOLTS_TO_UV)
    index_path = alf.dataset(obj, "waveformsChannels")
    if index_path is None:
        if sparse.shape[2] != n_channels:
            raise SortingFormatError(
                f"{path} has {sparse.shape[2]} channels but the probe has {n_channels}; "
                f"sparse waveforms need {obj}.waveformsChannels.npy"
            )
        return sparse
    index = load_npy(index_path, kinds="iu", what="channel indices").astype(np.int64)
    if index.shape != (sparse.shape[0], sparse.shape[2]):
        raise SortingFormatError(
            f"{index_path} should have shape {(sparse.shape[0], sparse.shape[2])} to match "
            f"{path.name}, found {index.shape}"
        )
    if index.size and index.max() >= n_channels:
        raise SortingFormatError(
            f"{index_path} names channel {index.max()} but the probe has {n_channels} channels"
        )
    dense = np.zeros((sparse.shape[0], sparse.shape[1], n_channels), dtype=np.float32)
    for t in range(sparse.shape[0]):
        valid = index[t] >= 0
        dense[t][:, index[t][valid]] = sparse[t][:, valid]
    return dense


def _check_index(ids: np.ndarray, n: int, alf: AlfFolder, obj: str, attr: str, of: str) -> None:
    if len(ids) and int(ids.max()) >= n:
        path = alf.dataset(obj, attr)
        raise SortingFormatError(
            f"{path} uses id {int(ids.max())} but {of}.waveforms holds {n} waveforms"
        )


def _label_sources(alf: AlfFolder, notes: list[str]) -> dict[str, dict[int, str]]:
    """Cluster labels, curated first: Phy groups, then metrics' ks2_label, then KSLabel."""
    sources: dict[str, dict[int, str]] = {}
    group = alf.plain_file(_PHY_GROUP[0])
    if group is not None:
        sources[_PHY_GROUP[1]] = read_label_file(group)
    metrics = alf.dataset("clusters", "metrics", "csv")
    if metrics is not None:
        labels = _metrics_labels(metrics)
        if labels is not None:
            sources[_METRICS_LABEL] = labels
    ks = alf.plain_file(_KS_LABEL[0])
    if ks is not None:
        sources[_KS_LABEL[1]] = read_label_file(ks)
    if not sources and alf.dataset("clusters", "metrics", "pqt") is not None:
        notes.append(
            "cluster labels are only in clusters.metrics.pqt (parquet), which is not read: "
            "no labels"
        )
    return sources


def _metrics_labels(path: Path) -> dict[int, str] | None:
    """``ks2_label`` of ``clusters.metrics.csv`` by cluster id (row number without an id).

    None when the table has no ``ks2_label`` column.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    delimiter = "\t" if "\t" in lines[0] else ","
    try:
        rows = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:
        raise SortingFormatError(f"{path} is not a readable table ({exc})") from None
    header = [h.strip() for h in rows[0]]
    if _METRICS_LABEL not in header:
        return None
    column = header.index(_METRICS_LABEL)
    id_column = header.index("cluster_id") if "cluster_id" in header else None
    labels: dict[int, str] = {}
    for row_no, row in enumerate(rows[1:]):
        cluster = row_no
        if id_column is not None:
            text_id = row[id_column].strip() if id_column < len(row) else ""
            try:
                value = float(text_id)
            except ValueError:
                value = -1.0
            if not (0 <= value < 2**31) or value != int(value):
                raise SortingFormatError(
                    f"{path}, line {row_no + 2}: cluster_id {text_id!r} is not a cluster id"
                )
            cluster = int(value)
        label = row[column].strip().lower() if column < len(row) else ""
        labels[cluster] = label or "unsorted"
    unknown = sorted({v for v in labels.values() if v not in KNOWN_LABELS})
    if unknown:
        warnings.warn(
            f"{path}: labels {unknown} are not one of {list(KNOWN_LABELS)}; "
            "they are kept as given and treated as not noise",
            stacklevel=3,
        )
    return labels


def _sample_rate(alf: AlfFolder, notes: list[str]) -> float:
    params = alf.plain_file("params.py")
    if params is not None:
        try:
            return float(read_params(params)["sample_rate"])  # type: ignore[arg-type]
        except SortingFormatError as exc:
            notes.append(f"{exc}; sample rate not used")
    notes.append(
        f"no usable params.py: sample rate taken as {DEFAULT_RATE_HZ:g} Hz for the record "
        "only (ALF times are in seconds)"
    )
    return DEFAULT_RATE_HZ


def _session_name(folder: Path) -> str:
    """``subject/date/number/probe00`` for ``.../subject/date/number/alf/probe00``.

    Up to three folders above ``alf`` and every folder below it (collection, revision aside);
    the folder's own name when there is no ``alf`` in its path.
    """
    parts = list(folder.resolve().parts)
    if "alf" in parts:
        at = len(parts) - 1 - parts[::-1].index("alf")
        kept = [p for p in (*parts[max(at - 3, 1) : at], *parts[at + 1 :]) if p]
        name = "/".join(kept) or "alf"
    else:
        name = folder.resolve().name
    return printable(name)
