"""Reading Kilosort 1–4 output folders (and Phy exports of them) into a :class:`Sorting`.

One reader serves every version; the versions differ only in where a spike's depth and a
template's amplitude come from:

* **Kilosort 1–3** save whitened templates and the inverse whitening matrix: a template's
  amplitude is the largest per-channel peak-to-trough of the unwhitened template
  (``templates.npy @ whitening_mat_inv.npy``) and a spike's depth is the centre of mass of its
  first PC features (see :mod:`driftqc.io.pc_depths`).
* **Kilosort 4** saves a position per spike (``spike_positions.npy``; the depth is its y) and
  its ``amplitudes.npy`` is a feature norm rather than a template scale, so the amplitude is
  only an approximation: that norm times the saved template's largest peak-to-trough.

A spike's amplitude is its template's amplitude times its scaling in ``amplitudes.npy``,
in µV when ``params.py`` gives a ``gain`` (µV per bit), else in arbitrary units. Kilosort 2.5,
3 and 4 correct drift before sorting, so their depths are in the registered (drift-corrected)
frame; Kilosort 1 and 2 depths are in the probe's raw frame.

Phy folders written by others (SpikeInterface's ``export_to_phy``) share the Kilosort 1–3
layout but not its numbers (:mod:`driftqc.io.phy_exports`): their ``amplitudes.npy`` is the
spike's signed amplitude, so its magnitude is the amplitude, and their PC features are
whitened per channel (or otherwise centred), so they cannot place a spike along the probe:
each spike is then placed at its unit's depth and ``SessionInfo.drift_measurable`` is False.
"""

from __future__ import annotations

import contextvars
import re
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.geometry import peak_to_trough, template_depths
from driftqc.io.labels import read_label_sources
from driftqc.io.npy import (
    NpyFile,
    as_ids,
    check_kind,
    load_npy,
    map_rows,
    open_npy,
    open_vector,
    read_rows,
)
from driftqc.io.ops import ops_number, read_ops
from driftqc.io.params import read_params
from driftqc.io.pc_depths import PCDepthReader
from driftqc.io.phy_exports import (
    HOW_TO_MEASURE,
    check_pc_features,
    is_spikeinterface_export,
    signed_fraction,
)
from driftqc.io.probe_files import read_channel_positions, read_channel_shanks, read_templates
from driftqc.model import SessionInfo, SorterMotion, Sorting, SpikeTable
from driftqc.text import printable

_REGISTERED = ("kilosort2_5", "kilosort3", "kilosort4")
_RAW = ("kilosort", "kilosort1", "kilosort2")
#: a folder in the phy / Kilosort 1–3 layout that does not say which sorter wrote it (no
#: ``kilosort*.log``: a SpikeInterface ``export_to_phy`` folder, a hand-made phy folder)
PHY = "phy"
#: the versions a ``kilosort*.log`` name or a ``version=`` option may give
KILOSORT_VERSIONS = (*_RAW, *_REGISTERED, PHY)
#: longest plausible recording (s); a later spike means a wrong sample rate or file
MAX_DURATION_S = 7 * 86_400.0
# spikes converted and checked at a time (512 kB of times: stays in the CPU cache)
_CHECK_BLOCK = 1 << 16
# folder names that say which sorter wrote them, not which session they hold
_GENERIC_FOLDER_NAME = re.compile(r"(sorter_output|sorting|output|phy|(kilosort|ks)[\d_.]*)", re.I)


def detect_version(folder: Path) -> str:
    """Return the Kilosort version named by the folder's single ``kilosort*.log``.

    The version is the log's file name up to its first ``.``: ``kilosort4.log`` gives
    ``"kilosort4"``, ``kilosort2_5.log`` gives ``"kilosort2_5"``. A folder without a log is
    read as ``"phy"``: the Kilosort 1–3 layout, depth frame unknown.

    Raises
    ------
    SortingFormatError
        If the folder does not exist, or holds several ``kilosort*.log`` files.
    """
    folder = Path(folder)
    _check_folder(folder)
    logs = sorted(p.name for p in folder.glob("kilosort*.log"))
    if not logs:
        return PHY
    if len(logs) > 1:
        raise SortingFormatError(
            f"{folder} holds several kilosort*.log files ({', '.join(logs)}), so the Kilosort "
            "version is ambiguous; pass version='kilosort4' (or 'kilosort2_5', ...) to choose"
        )
    return check_version(logs[0].split(".", 1)[0], f"the log file name {folder / logs[0]}")


def check_version(version: object, source: str = "version") -> str:
    """Return a Kilosort version from :data:`KILOSORT_VERSIONS`, or fail naming ``source``.

    Case is ignored and ``"kilosort2.5"`` is read as ``"kilosort2_5"``; anything else outside
    the list (``"kilosort_4"``, ``"kilosort9"``) is an error rather than a guess, since the
    version decides where depths and amplitudes come from.

    Raises
    ------
    SortingFormatError
        If the version is not a known Kilosort version.
    """
    name = str(version).strip().lower().replace(".", "_") if isinstance(version, str) else ""
    if name not in KILOSORT_VERSIONS:
        raise SortingFormatError(
            f"{source} gives Kilosort version {version!r}, which driftqc does not know; "
            f"use one of {', '.join(KILOSORT_VERSIONS)}"
        )
    return name


def is_kilosort4(version: str) -> bool:
    """Whether a detected version string selects the Kilosort 4 reader."""
    return version == "kilosort4"


def read_kilosort(
    folder: Path | str,
    *,
    version: str | None = None,
    name: str | None = None,
    with_depths: bool = True,
) -> Sorting:
    """Read a Kilosort 1–4 (or Phy-format) output folder.

    Parameters
    ----------
    folder
        The sorter output folder (``spike_times.npy``, ``params.py``, ...).
    version
        Kilosort version such as ``"kilosort4"`` or ``"kilosort2_5"``; by default taken
        from the folder's ``kilosort*.log``.
    name
        Session name for titles and tables; by default the folder's name (or its parent's
        when the folder has a generic name such as ``sorter_output``).
    with_depths
        False skips the per-spike depth estimate (the expensive pass over
        ``pc_features.npy`` for Kilosort 1–3) and places each spike at its template's depth;
        enough when only amplitudes are wanted.

    Returns
    -------
    Sorting
        Spike table, templates, geometry, labels and provenance.

    Raises
    ------
    SortingFormatError
        For a missing folder or file, a corrupt or truncated ``.npy``, per-spike arrays of
        different lengths, indices out of range or a ``params.py`` without ``sample_rate``.

    Notes
    -----
    ``pc_features.npy`` is read in chunks, so memory stays bounded for any session length;
    :meth:`KilosortFolder.iter_chunks` reads the spikes themselves in chunks too. Spikes
    with NaN depth are kept and counted in a warning; the selection layer drops them.

    Examples
    --------
    >>> sorting = read_kilosort("sub-01/ses-01/kilosort4")  # doctest: +SKIP
    >>> sorting.spikes.depths[:3]  # doctest: +SKIP
    """
    session = KilosortFolder(folder, version=version, name=name, with_depths=with_depths)
    spikes = session.read_spikes(0, session.n_spikes)
    n_nan = int(np.count_nonzero(~np.isfinite(spikes.depths)))
    if n_nan:
        warnings.warn(
            f"{session.folder}: {n_nan} of {len(spikes)} spikes have no finite depth in "
            f"{session.depth_file}; they are left out of drift maps",
            stacklevel=2,
        )
    return session.sorting(spikes)


class KilosortFolder:
    """An opened Kilosort folder: small files read and checked, spikes read on demand.

    Opening reads ``params.py``, templates, probe geometry, labels and the per-spike files'
    headers (checking that their lengths agree); :meth:`read_spikes` then reads any range of
    spikes and :meth:`iter_chunks` walks the session in chunks, so a session of any size can
    be summarised in bounded memory.

    Parameters
    ----------
    folder, version, name, with_depths
        As for :func:`read_kilosort`.
    """

    def __init__(
        self,
        folder: Path | str,
        *,
        version: str | None = None,
        name: str | None = None,
        with_depths: bool = True,
    ) -> None:
        folder = Path(folder)
        _check_folder(folder)
        self.folder = folder
        if version is None:
            self.version = detect_version(folder)
        else:
            self.version = check_version(version, f"version={version!r} for {folder}")
        ks4 = is_kilosort4(self.version)
        params = read_params(folder / "params.py")
        self.sample_rate = float(params["sample_rate"])  # type: ignore[arg-type]
        notes: list[str] = []

        self._times = _vector_header(folder / "spike_times.npy", None, "sample numbers")
        n = self.n_spikes = self._times.n_rows
        self._templates = _vector_header(folder / "spike_templates.npy", n, "integer ids")
        clusters_path = folder / "spike_clusters.npy"
        self._clusters = (
            _vector_header(clusters_path, n, "integer ids") if clusters_path.is_file() else None
        )
        self._scale = _vector_header(folder / "amplitudes.npy", n, "numbers")
        _check_duration(self.last_spike_time, self.sample_rate, self._times.path)

        self.positions = read_channel_positions(folder)
        self.shanks = read_channel_shanks(folder, self.positions)
        self.templates = read_templates(folder, len(self.positions))
        self._positions_file: NpyFile | None = None
        self._pc: PCDepthReader | None = None
        self._whitening_inverse: np.ndarray | None = None
        self._spike_amplitudes = False  # amplitudes.npy holds signed spike amplitudes
        self.drift_measurable = True
        spikeinterface = not ks4 and is_spikeinterface_export(folder)
        if ks4:
            amp_definition = (
                "amplitudes.npy (Kilosort 4 feature norm) x largest per-channel "
                "peak-to-trough of templates.npy; an approximation"
            )
            self._positions_file = _positions_header(folder / "spike_positions.npy", n)
            self.depth_file = "spike_positions.npy"
            depth_estimator = "spike_positions.npy y (Kilosort 4's own estimate)"
        else:
            self._whitening_inverse = _read_whitening_inverse(
                folder, self.templates.shape[2], self.version, notes
            )
            amp_definition = (
                "amplitudes.npy x largest per-channel peak-to-trough of the unwhitened "
                "template (templates.npy @ whitening_mat_inv.npy)"
            )
            depth_estimator = self._choose_ks123_depths(
                folder, n, with_depths, notes, spikeinterface
            )

        unit = "a.u."
        self._gain = np.float32(1.0)
        negative = np.nan if ks4 else signed_fraction(self._scale)
        if spikeinterface or negative > 0.5:
            self._spike_amplitudes = True
            amp_definition, unit = _spike_amplitude_definition(negative, spikeinterface)
        gain = params.get("gain")
        if self._spike_amplitudes:
            pass  # the amplitudes are the spikes' own, not template scalings: no gain
        elif gain not in (None, "", 0):
            number = _finite(gain)
            if number is not None and number > 0:
                self._gain = np.float32(number)
                unit = "µV"
                notes.append(f"amplitudes scaled by gain = {gain} µV per bit from params.py")
            else:
                notes.append(f"params.py gain = {gain!r} is not a positive number; ignored")

        if self.version == PHY:
            notes.append(
                "no kilosort*.log: read as a phy folder (Kilosort 1-3 layout); the depth frame "
                "is unknown (say frame='raw' or 'registered', or give version=)"
            )
        self.label_sources = read_label_sources(folder)
        self.motion = _read_motion(folder, self.sample_rate, notes) if ks4 else None
        self.notes = notes
        self._info = dict(
            name=name or _session_name(folder),
            path=folder.resolve(),
            sorter=self.version,
            sample_rate=self.sample_rate,
            amplitude_unit=unit,
            amplitude_definition=amp_definition,
            depth_estimator=depth_estimator,
            depth_frame=_depth_frame(self.version),
            drift_measurable=self.drift_measurable,
        )
        self._n_fallback = 0

    @property
    def info(self) -> SessionInfo:
        """Provenance of the session, including notes gathered while reading spikes."""
        notes = list(self.notes)
        if self._n_fallback:
            notes.append(
                f"{self._n_fallback} spikes with all-zero first-PC weights placed at their "
                "template's depth"
            )
        return SessionInfo(**self._info, notes=tuple(notes))  # type: ignore[arg-type]

    @cached_property
    def template_amplitudes(self) -> np.ndarray:
        """(n_templates,) float32 amplitude of each template (µV when ``gain`` is known)."""
        ptp = self._channel_ptp
        if not ptp.size:
            return np.zeros(len(self.templates), dtype=np.float32)
        return ptp.max(axis=1).astype(np.float32) * self._gain

    @cached_property
    def template_depths(self) -> np.ndarray:
        """(n_templates,) float32 depth of each template: the centre of its peak-to-trough."""
        return template_depths(self._channel_ptp, self.positions[:, 1]).astype(np.float32)

    @cached_property
    def _channel_ptp(self) -> np.ndarray:
        # computed on first use: read_spikes asks for it in the main thread while the
        # PC-feature pass runs in its workers, and folders opened only for their metadata
        # never pay for the unwhitening (a BLAS product of the whole template array)
        if self._whitening_inverse is None:
            return peak_to_trough(self.templates)
        n_templates, n_samples, n_channels = self.templates.shape
        flat = self.templates.reshape(-1, n_channels) @ self._whitening_inverse
        return peak_to_trough(flat.reshape(n_templates, n_samples, n_channels))

    @property
    def last_spike_time(self) -> float:
        """Time of the last spike in seconds (0 for an empty session)."""
        if self.n_spikes == 0:
            return 0.0
        last = read_rows(self._times, self.n_spikes - 1, self.n_spikes)
        return float(last.reshape(-1)[0]) / self.sample_rate

    def read_spikes(self, start: int, stop: int) -> SpikeTable:
        """Read spikes ``start:stop`` into a :class:`SpikeTable`.

        The depths (for Kilosort 1–3 a pass over ``pc_features.npy``) are read in a
        background thread while the times, clusters and amplitude scalings are read.

        Raises
        ------
        SortingFormatError
            If the range holds NaN times, negative ids or templates the folder lacks.
        """
        stop = min(stop, self.n_spikes)
        templates = self._read_templates(start, stop)
        with ThreadPoolExecutor(max_workers=1) as pool:
            # in a copy of this context, so the depth pass sees the progress setting
            run = contextvars.copy_context().run
            pending_depths = pool.submit(run, self._read_depths, start, stop, templates)
            times = _as_times(
                map_rows(self._times, start, stop),
                self.sample_rate,
                self._times.path,
                start=start,
                previous=self._time_before(start),
            )
            clusters = self._read_clusters(start, stop, templates)
            amplitudes = self._amplitudes(start, stop, templates)
            depths, unplaced = pending_depths.result()
        if unplaced is None:  # no per-spike depth file: every spike at its template's depth
            depths = self.template_depths[templates]
        elif len(unplaced):
            depths[unplaced] = self.template_depths[templates[unplaced]]
            self._n_fallback += len(unplaced)
        return SpikeTable(
            times=times,
            amplitudes=amplitudes,
            depths=depths,
            templates=templates,
            clusters=clusters,
            info=self.info,
            cluster_labels=next(iter(self.label_sources.values()), {}),
        )

    def _time_before(self, start: int) -> float | None:
        """Return the time (s) of the spike before ``start`` (None for the first)."""
        if start <= 0 or start > self.n_spikes:
            return None
        return float(read_rows(self._times, start - 1, start).reshape(-1)[0]) / self.sample_rate

    def read_amplitudes(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Amplitudes and cluster ids of spikes ``start:stop``, without computing depths."""
        stop = min(stop, self.n_spikes)
        templates = self._read_templates(start, stop)
        clusters = self._read_clusters(start, stop, templates)
        return self._amplitudes(start, stop, templates), clusters

    def _read_templates(self, start: int, stop: int) -> np.ndarray:
        templates = as_ids(read_rows(self._templates, start, stop), self._templates.path)
        if len(templates) and templates.max() >= len(self.templates):
            raise SortingFormatError(
                f"{self._templates.path} uses template {int(templates.max())} but "
                f"templates.npy holds {len(self.templates)} templates"
            )
        return templates

    def _read_depths(
        self, start: int, stop: int, templates: np.ndarray
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Depths from the folder's per-spike file and the spikes it leaves unplaced.

        ``(None, None)`` when there is no such file. Runs in a worker thread, so it must not
        touch the lazily computed template statistics.
        """
        if self._positions_file is not None:
            depths = map_rows(self._positions_file, start, stop)[:, 1].astype(np.float32)
            return depths, np.empty(0, dtype=np.intp)
        if self._pc is not None:
            return self._pc.depths(start, templates)
        return None, None

    def _read_clusters(self, start: int, stop: int, templates: np.ndarray) -> np.ndarray:
        if self._clusters is None:
            return templates
        return as_ids(read_rows(self._clusters, start, stop), self._clusters.path)

    def _amplitudes(self, start: int, stop: int, templates: np.ndarray) -> np.ndarray:
        """Each spike's template amplitude times its scaling from ``amplitudes.npy``.

        For a folder whose ``amplitudes.npy`` holds the spikes' own signed amplitudes
        (SpikeInterface's export), their magnitude.
        """
        if self._spike_amplitudes:
            scale = map_rows(self._scale, start, stop).reshape(-1)
            return np.abs(scale).astype(np.float32)
        # fancy indexing, not np.take: take would first copy the int32 ids to intp (8 B/spike)
        amplitudes = self.template_amplitudes[templates]
        scale = map_rows(self._scale, start, stop).reshape(-1)
        np.multiply(amplitudes, scale, out=amplitudes, dtype=np.float32)
        return amplitudes

    def iter_chunks(self, chunk_spikes: int = 4_000_000) -> Iterator[SpikeTable]:
        """Yield the session's spikes as consecutive tables of at most ``chunk_spikes``."""
        for start in range(0, self.n_spikes, max(1, int(chunk_spikes))):
            yield self.read_spikes(start, start + chunk_spikes)

    def sorting(self, spikes: SpikeTable) -> Sorting:
        """Bundle a spike table with this folder's templates, geometry, labels and motion."""
        return Sorting(
            spikes=spikes,
            templates=self.templates,
            channel_positions=self.positions,
            channel_shanks=self.shanks,
            label_sources=self.label_sources,
            motion=self.motion,
            whitening_inverse=self.whitening_inverse,
        )

    @cached_property
    def whitening_inverse(self) -> np.ndarray | None:
        """The folder's inverse whitening matrix (float32), or None when it has none.

        Kilosort 1–3 amplitudes already use it; for Kilosort 4 it is read here, on request
        (unit localisation unwhitens the templates), and a wrong shape is ignored.
        """
        if self._whitening_inverse is not None:
            return self._whitening_inverse
        path = self.folder / "whitening_mat_inv.npy"
        if not (is_kilosort4(self.version) and path.is_file()):
            return None
        winv = load_npy(path)
        n = self.templates.shape[2]
        return winv.astype(np.float32) if winv.shape == (n, n) else None

    def _choose_ks123_depths(
        self, folder: Path, n: int, with_depths: bool, notes: list[str], spikeinterface: bool
    ) -> str:
        self.depth_file = "pc_features.npy"
        if not with_depths:
            return "template centre of mass (per-spike depths not computed)"
        if (folder / "pc_features.npy").is_file():
            reader = PCDepthReader(folder, n, self.positions[:, 1])
            reason = self._unusable_features(reader, spikeinterface)
            if reason is None:
                self._pc = reader
                return "centre of mass of the first PC feature on the template's channels"
            self.drift_measurable = False
            self.depth_file = "templates.npy"
            notes.append(HOW_TO_MEASURE)
            warnings.warn(f"{folder}: {reason}; {HOW_TO_MEASURE}", stacklevel=4)
            return f"template depth of each spike's unit ({reason})"
        if (folder / "spike_positions.npy").is_file():
            notes.append("no pc_features.npy: depths from spike_positions.npy")
            self._positions_file = _positions_header(folder / "spike_positions.npy", n)
            self.depth_file = "spike_positions.npy"
            return "spike_positions.npy y"
        warnings.warn(
            f"{folder} has no pc_features.npy: every spike is placed at its template's depth, "
            "so drift is not measurable from this folder",
            stacklevel=4,
        )
        self.drift_measurable = False
        notes.append("no pc_features.npy: spikes placed at their template's depth")
        return "template centre of mass (no pc_features.npy)"

    def _unusable_features(self, reader: PCDepthReader, spikeinterface: bool) -> str | None:
        """Why the folder's PC features cannot place a spike, or None when they can."""
        check = check_pc_features(reader.header, reader.channel_index, self._templates)
        if check.per_channel_whitened:
            how = " as SpikeInterface's export_to_phy writes them" if spikeinterface else ""
            return (
                f"pc_features.npy are whitened per channel{how}: {check.describe()}, so "
                "their centre of mass cannot follow a spike along the probe"
            )
        if spikeinterface:
            return (
                "pc_features.npy were computed by SpikeInterface's export_to_phy "
                "(channel_map_si.npy): its PCA is centred on the mean waveform and has no "
                "fixed sign, so their centre of mass does not follow a spike along the probe"
            )
        return None


def _spike_amplitude_definition(negative: float, spikeinterface: bool) -> tuple[str, str]:
    """Caption and unit of amplitudes taken as the magnitude of ``amplitudes.npy``."""
    share = "" if not np.isfinite(negative) else f", {100 * negative:.0f}% negative"
    if spikeinterface:
        return (
            "|amplitudes.npy|: magnitude of the signed spike amplitude on the unit's extremum "
            f"channel that SpikeInterface's export_to_phy writes (µV{share})",
            "µV",
        )
    return (
        f"|amplitudes.npy|: magnitude of a signed spike amplitude (not a template scaling{share})",
        "a.u.",
    )


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise SortingFormatError(f"sorter output folder {folder} does not exist")
    if not folder.is_dir():
        raise SortingFormatError(f"{folder} is not a folder; give the sorter output folder")


def _session_name(folder: Path) -> str:
    resolved = folder.resolve()
    name = resolved.name
    if _GENERIC_FOLDER_NAME.fullmatch(name) and resolved.parent.name:
        name = f"{resolved.parent.name}/{name}"
    return printable(name)


def _depth_frame(version: str) -> str:
    if version.startswith(_REGISTERED):
        return "registered"
    if version in _RAW:
        return "raw"
    return "unknown"


def _vector_header(path: Path, n: int | None, what: str) -> NpyFile:
    header = open_vector(path, length=n)
    if header.dtype.kind not in "iuf":
        raise SortingFormatError(f"{path} should hold {what}, found dtype {header.dtype}")
    return header


def _positions_header(path: Path, n: int) -> NpyFile:
    header = check_kind(open_npy(path), "iuf", "numbers (spike positions in µm)")
    if len(header.shape) != 2 or header.shape[1] < 2:
        raise SortingFormatError(f"{path} should have shape (n_spikes, 2), found {header.shape}")
    if header.shape[0] != n:
        raise SortingFormatError(
            f"{path} holds {header.shape[0]} spikes but spike_times.npy holds {n}"
        )
    return header


def _as_times(
    samples: np.ndarray, rate: float, path: Path, *, start: int = 0, previous: float | None = None
) -> np.ndarray:
    """Sample numbers as seconds (float64), checked to be plausible spike times.

    Kilosort and Phy write whole, non-negative sample numbers in time order; anything else
    (times saved in seconds, negative or unsorted times) means a damaged or mistaken file,
    and drawing it would pass nonsense on as drift.

    Raises
    ------
    SortingFormatError
        Naming the file and the first offending spike.
    """
    samples = samples.reshape(-1)
    times = np.empty(len(samples), dtype=np.float64)
    later = np.empty(_CHECK_BLOCK, dtype=bool)
    # convert and check one cache-sized block at a time, so each is read from memory once
    for begin in range(0, len(samples), _CHECK_BLOCK):
        block = samples[begin : begin + _CHECK_BLOCK]
        seconds = times[begin : begin + len(block)]
        np.divide(block, rate, out=seconds)
        where = start + begin
        if block.dtype.kind == "f":
            _check_whole(block, path, where)
        if seconds[0] < 0:
            raise SortingFormatError(
                f"{path} holds negative sample numbers (spike {where}: {block[0]})"
            )
        if previous is not None and seconds[0] < previous:
            raise SortingFormatError(_unsorted(path, where - 1))
        found = np.less(seconds[1:], seconds[:-1], out=later[: len(block) - 1])
        if found.any():
            raise SortingFormatError(_unsorted(path, where + _first(found)))
        previous = float(seconds[-1])
    return times


def _check_whole(block: np.ndarray, path: Path, where: int) -> None:
    if not np.isfinite(block).all():
        raise SortingFormatError(f"{path} contains NaN or infinite spike times")
    fractional = block != np.floor(block)
    if fractional.any():
        raise SortingFormatError(
            f"{path} holds fractional values (spike {where + _first(fractional)} and "
            "maybe others); it must hold sample numbers, not seconds"
        )


def _check_duration(last_s: float, rate: float, path: Path) -> None:
    """Refuse a session whose last spike comes after :data:`MAX_DURATION_S`.

    No recording lasts weeks: such a time means ``sample_rate`` or the file is wrong.
    """
    if last_s > MAX_DURATION_S:
        raise SortingFormatError(
            f"{path}: the last spike is {last_s / 86400:.0f} days into the recording at "
            f"sample_rate = {rate:g} Hz; check sample_rate in params.py"
        )


def _finite(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if np.isfinite(number) else None


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _unsorted(path: Path, index: int) -> str:
    return (
        f"{path} is not in time order (spike {index + 1} comes before spike {index}); "
        "Kilosort and Phy save spikes sorted by time, so the file is damaged or not a "
        "spike_times file"
    )


def _read_whitening_inverse(
    folder: Path, n_channels: int, version: str, notes: list[str]
) -> np.ndarray | None:
    """Read the inverse whitening matrix as float32; None (and a note) when it is missing."""
    path = folder / "whitening_mat_inv.npy"
    if not path.is_file():
        notes.append("no whitening_mat_inv.npy: templates taken as already unwhitened")
        return None
    winv = load_npy(path)
    if winv.shape != (n_channels, n_channels):
        raise SortingFormatError(
            f"{path} should have shape ({n_channels}, {n_channels}) to match templates.npy, "
            f"found {winv.shape}"
        )
    if version.startswith(("kilosort2_5", "kilosort3")):
        notes.append(
            "Kilosort 2.5/3 save only an approximate inverse whitening matrix, so amplitudes "
            "are comparable only between sessions sorted with the same version"
        )
    return winv.astype(np.float32)


def _read_motion(folder: Path, rate: float, notes: list[str]) -> SorterMotion | None:
    """Kilosort 4's own drift estimate from ``ops.npy``, or None (with a note) if unusable.

    ``ops.npy`` is optional, so a file that cannot be read safely, or whose ``dshift``,
    ``batch_size``, ``fs`` or ``yblk`` are not what Kilosort 4 writes, costs only the sorter's
    motion estimate: a warning and a note say why, and the spikes are read as usual.
    """
    path = folder / "ops.npy"
    if not path.is_file():
        return None
    try:
        return _motion_from_ops(read_ops(path), path, rate)
    except SortingFormatError as exc:
        message = f"{exc}; Kilosort's own drift estimate is not used"
        warnings.warn(message, stacklevel=4)
        notes.append(message)
        return None


def _motion_from_ops(ops: dict[str, object], path: Path, rate: float) -> SorterMotion | None:
    dshift = ops.get("dshift")
    if dshift is None:
        return None
    if not isinstance(dshift, np.ndarray) or dshift.dtype.kind not in "iuf":
        what = getattr(dshift, "dtype", type(dshift).__name__)
        raise SortingFormatError(f"{path}: 'dshift' should be a numeric array, found {what}")
    shift = dshift.astype(np.float64)
    if shift.ndim == 1:
        shift = shift[:, None]
    if shift.ndim != 2 or shift.size == 0:
        raise SortingFormatError(
            f"{path}: 'dshift' should have shape (n_batches, n_blocks), found {dshift.shape}"
        )
    if not np.isfinite(shift).all():
        raise SortingFormatError(f"{path}: 'dshift' holds NaN or infinite values")
    batch = ops_number(ops, "batch_size", lambda v: v >= 1)
    if batch is None:
        batch = ops_number(ops, "NT", lambda v: v >= 1)
    if batch is None:
        raise SortingFormatError(
            f"{path}: 'batch_size' should be a positive number of samples, "
            f"found {ops.get('batch_size', ops.get('NT'))!r}"
        )
    fs = rate if "fs" not in ops else ops_number(ops, "fs", lambda v: v > 0)
    if fs is None:
        raise SortingFormatError(f"{path}: 'fs' should be a positive rate, found {ops['fs']!r}")
    yblk = ops.get("yblk")
    if (
        not isinstance(yblk, np.ndarray)
        or yblk.dtype.kind not in "iuf"
        or yblk.size != shift.shape[1]
    ):
        yblk = np.full(shift.shape[1], np.nan)
    return SorterMotion(
        shift_um=shift,
        batch_times=(np.arange(len(shift)) + 0.5) * batch / fs,
        block_centres_um=np.asarray(yblk, dtype=np.float64).reshape(-1),
        sign=-1,
    )
