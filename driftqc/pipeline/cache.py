"""A compact on-disk copy of a loaded session, so a batch reads each sorter output only once.

Reading a Kilosort folder is the expensive step (Kilosort 1–3 depths need a pass over
``pc_features.npy``); everything after it needs only the per-spike table. The **spike cache**
is one uncompressed ``.npz`` file holding exactly that table, in its model dtypes:

* ``times`` float64 (s), ``amplitudes`` and ``depths`` float32, ``templates`` int32, and
  ``clusters`` int32 only when curation made them differ from the templates;
* ``channel_positions`` and ``channel_shanks`` (small, for figure annotations);
* ``template_shanks`` int16: the shank of each template (the shank of its peak channel,
  :func:`driftqc.geometry.template_shanks`), so per-shank metrics need no waveforms;
* ``motion_shift_um``, ``motion_batch_times``, ``motion_block_centres_um``: the sorter's own
  drift estimate (Kilosort 4 ``dshift``) when it saved one, so raw-frame maps and the
  sorter's motion summary never re-read the sorter folder;
* ``meta``: one JSON document (stored as bytes) with the :class:`SessionInfo`, every
  cluster-label source, the motion sign and the cache format version;
* ``unit_positions`` float32 (n_templates, 7) and ``unit_waveforms`` float32
  (n_templates, n_samples): each template's point-source fit (x, y, z, fall-off, amplitude,
  misfit, channels; :class:`driftqc.metrics.unit_localisation.UnitPositions`) and its
  unit-norm peak-channel waveform, from the unwhitened templates, in the sorter's saved frame
  (``unit_frame`` in the metadata). The between-session shift matches units with them.
  Optional: caches without them give no units (the shift then falls back to depth profiles).

Template waveforms are left out on purpose: no workflow step draws them, and for a
384-channel probe they can outweigh the spike table of a short session. A viewer that wants
them reads the sorter folder, whose path the metadata keeps.

The sorter output may be a Kilosort folder or a SpikeInterface analyzer folder (read by
:func:`driftqc.io.load_sorting`). Caches of format 1 (without template shanks and motion)
are still read: they give no motion estimate and no shanks.

A **selection cache** stores a :class:`Selection` the same way (its ``kept`` spikes plus its
counts), so drawing can be redone with new options without filtering again.

A session that could not be read is stored as a **failure record**: a cache file without
arrays whose metadata holds the reason. Loading it raises :class:`FailedSessionError`
carrying that reason, so each later step can write a placeholder that says why, and a batch
always has every file its summaries need. :func:`cache_sorting` and :func:`cache_selection`
write a failure record for *any* exception (see :mod:`driftqc.pipeline.guard`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import driftqc.geometry as geometry
from driftqc.errors import SortingFormatError
from driftqc.frames import DECLARED
from driftqc.io import load_sorting
from driftqc.metrics.unit_localisation import UnitPositions, localise_units, peak_waveforms
from driftqc.model import SessionInfo, SorterMotion, Sorting, SpikeTable
from driftqc.pipeline.guard import FailedSessionError, SessionGuard
from driftqc.selection import Selection, select_spikes

CACHE_FORMAT = 2
READABLE_FORMATS = (1, 2)
_MOTION_KEYS = ("motion_shift_um", "motion_batch_times", "motion_block_centres_um")
_UNIT_KEYS = ("unit_positions", "unit_waveforms", "channel_positions", "channel_shanks")


@dataclass(frozen=True)
class CachedUnits:
    """What a cache keeps of a session's templates for the between-session shift.

    Attributes
    ----------
    positions
        Point-source fit of every template.
    waveforms
        (n_templates, n_samples) unit-norm peak-channel waveforms.
    channel_positions, channel_shanks
        Probe geometry.
    frame
        Frame of the positions: the sorter's saved frame.
    """

    positions: UnitPositions
    waveforms: np.ndarray
    channel_positions: np.ndarray
    channel_shanks: np.ndarray
    frame: str


_SPIKE_DTYPES = {
    "times": np.float64,
    "amplitudes": np.float32,
    "depths": np.float32,
    "templates": np.int32,
    "clusters": np.int32,
}


def cache_sorting(
    folder: Path | str,
    path: Path | str,
    *,
    version: str | None = None,
    name: str | None = None,
    log: Path | str | None = None,
) -> str | None:
    """Read a sorter output and write its spike cache, or a failure record if it is bad.

    Parameters
    ----------
    folder
        The Kilosort output folder or SpikeInterface analyzer folder.
    path
        The cache file to write.
    version, name
        Passed to :func:`driftqc.io.load_sorting` (``version`` is ignored for analyzers).
    log
        The step's log file, named in the reason of an error driftqc did not raise itself.

    Returns
    -------
    str or None
        None when the session was cached, else the reason it could not be read (also
        stored in the failure record). Any exception while reading or writing is caught
        (see :class:`driftqc.pipeline.guard.SessionGuard`); its traceback goes to stderr.

    Examples
    --------
    >>> cache_sorting("sub-01/kilosort4", "results/cache/sub-01/spikes.npz")  # doctest: +SKIP
    """
    with SessionGuard("load", log) as guard:
        save_spike_cache(load_sorting(folder, version=version, name=name), path)
    if guard.failure is not None:
        save_failure(path, guard.failure.reason, stage=guard.failure.stage)
    return guard.reason


def cache_selection(
    cache: Path | str, path: Path | str, *, log: Path | str | None = None, **options: object
) -> str | None:
    """Filter a cached session and write the selection, or a failure record.

    Parameters
    ----------
    cache
        A spike cache (or failure record) from :func:`cache_sorting`.
    path
        The selection file to write.
    log
        The step's log file, named in the reason of an error driftqc did not raise itself.
    **options
        Keyword arguments of :func:`driftqc.selection.select_spikes`.

    Returns
    -------
    str or None
        None on success, else why the session failed (an earlier step's reason is passed
        on unchanged).
    """
    with SessionGuard("filter", log) as guard:
        selection = select_spikes(load_spike_cache(cache), **options)  # type: ignore[arg-type]
        save_selection(
            selection, path, template_shanks=load_template_shanks(cache), units=load_units(cache)
        )
    if guard.failure is not None:
        save_failure(path, guard.failure.reason, stage=guard.failure.stage)
    return guard.reason


def save_spike_cache(sorting: Sorting, path: Path | str) -> Path:
    """Write the spike table, geometry, labels and provenance of a sorting to ``path``.

    Parameters
    ----------
    sorting
        A loaded session (see :func:`driftqc.io.load_sorting`).
    path
        The ``.npz`` file to write; its folder is created.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> save_spike_cache(read_kilosort("ks_output"), "cache/spikes.npz")  # doctest: +SKIP
    """
    spikes = sorting.spikes
    meta = {
        "status": "ok",
        "info": spikes.info.to_dict(),
        "label_sources": _labels_to_json(sorting.label_sources),
        "cluster_labels": _labels_to_json({"": spikes.cluster_labels})[""],
    }
    arrays = _spike_arrays(spikes)
    arrays["channel_positions"] = np.asarray(sorting.channel_positions, dtype=np.float32)
    arrays["channel_shanks"] = np.asarray(sorting.channel_shanks, dtype=np.int16)
    shanks = _known_template_shanks(sorting)
    if shanks is not None:
        arrays["template_shanks"] = shanks
    units = _localised_units(sorting)
    if units is not None:
        arrays.update(_unit_arrays(units))
        meta["unit_frame"] = units.frame
    if sorting.motion is not None:
        motion = sorting.motion
        arrays["motion_shift_um"] = np.asarray(motion.shift_um, dtype=np.float64)
        arrays["motion_batch_times"] = np.asarray(motion.batch_times, dtype=np.float64)
        arrays["motion_block_centres_um"] = np.asarray(motion.block_centres_um, np.float64)
        meta["motion_sign"] = int(motion.sign)
    return _write(path, meta, arrays)


def _known_template_shanks(sorting: Sorting) -> np.ndarray | None:
    """Shank of each template (int16, :func:`driftqc.geometry.template_shanks`), or None.

    None when the sorting has no template waveforms, or when they have more channels than
    ``channel_shanks`` (then per-shank metrics are not computed).
    """
    if np.ndim(sorting.templates) != 3 or np.shape(sorting.templates)[0] == 0:
        return None
    try:
        shanks = geometry.template_shanks(sorting.templates, sorting.channel_shanks)
    except SortingFormatError:
        return None
    return shanks.astype(np.int16)


def _localised_units(sorting: Sorting) -> CachedUnits | None:
    """Point-source fit of the sorting's unwhitened templates; None when it cannot be made.

    A failure here costs only the matched-units shift (a note goes to stderr), never the
    session.
    """
    if np.ndim(sorting.templates) != 3 or np.shape(sorting.templates)[0] == 0:
        return None
    try:
        winv = sorting.whitening_inverse
        positions = localise_units(
            sorting.templates,
            sorting.channel_positions,
            channel_shanks=sorting.channel_shanks,
            whitening_inverse=winv,
        )
        waveforms = peak_waveforms(sorting.templates, winv)
    except (SortingFormatError, ValueError, FloatingPointError) as exc:
        print(f"units not localised ({exc}): shifts will use depth profiles", file=sys.stderr)
        return None
    return CachedUnits(
        positions=positions,
        waveforms=waveforms,
        channel_positions=np.asarray(sorting.channel_positions, dtype=np.float32),
        channel_shanks=np.asarray(sorting.channel_shanks, dtype=np.int16),
        frame=sorting.spikes.info.depth_frame,
    )


def _unit_arrays(units: CachedUnits) -> dict[str, np.ndarray]:
    return {
        "unit_positions": units.positions.to_array(),
        "unit_waveforms": np.asarray(units.waveforms, dtype=np.float32),
        "channel_positions": np.asarray(units.channel_positions, dtype=np.float32),
        "channel_shanks": np.asarray(units.channel_shanks, dtype=np.int16),
    }


def load_units(path: Path | str) -> CachedUnits | None:
    """Return the localised units kept in a spike or selection cache (None if not kept).

    Raises
    ------
    FailedSessionError
        If the file is a failure record.
    """
    found = _read_group(path, "unit_frame", _UNIT_KEYS)
    if found is None:
        return None
    meta, arrays = found
    return CachedUnits(
        positions=UnitPositions.from_array(arrays["unit_positions"]),
        waveforms=arrays["unit_waveforms"],
        channel_positions=arrays["channel_positions"],
        channel_shanks=arrays["channel_shanks"],
        frame=str(meta["unit_frame"]),
    )


def load_template_shanks(path: Path | str) -> np.ndarray | None:
    """Return the per-template shanks kept in a spike or selection cache (None if not kept).

    Raises
    ------
    FailedSessionError
        If the file is a failure record.
    """
    return _read_optional(path, "template_shanks")


def load_motion(path: Path | str) -> SorterMotion | None:
    """Return the sorter's motion estimate kept in a spike cache, without reading spikes.

    Returns
    -------
    SorterMotion or None
        None when the sorter saved none (Kilosort 1–3, analyzers) or the cache predates it.
    """
    found = _read_group(path, "motion_sign", _MOTION_KEYS)
    return None if found is None else _motion_from(found[1], found[0])


def _motion_from(data: Mapping[str, np.ndarray], meta: dict) -> SorterMotion | None:
    if "motion_sign" not in meta:
        return None
    shift, times, blocks = (data[key] for key in _MOTION_KEYS)
    return SorterMotion(
        shift_um=shift, batch_times=times, block_centres_um=blocks, sign=int(meta["motion_sign"])
    )


def load_spike_cache(path: Path | str) -> Sorting:
    """Read a spike cache written by :func:`save_spike_cache`.

    Returns
    -------
    Sorting
        The session, with ``templates`` empty (shape ``(0, 0, n_channels)``) and the sorter's
        motion estimate when it saved one: the cache keeps only what drift maps and summaries
        need (per-template shanks: :func:`load_template_shanks`).

    Raises
    ------
    FailedSessionError
        If the file is a failure record; the message is the recorded reason.
    SortingFormatError
        If the file is missing or is not a driftqc cache.
    """
    meta, data = _read(path)
    spikes = _spikes_from(data, meta, path)
    positions = data["channel_positions"]
    return Sorting(
        spikes=spikes,
        templates=np.zeros((0, 0, len(positions)), dtype=np.float32),
        channel_positions=positions,
        channel_shanks=data["channel_shanks"].astype(np.int32),
        label_sources=_labels_from_json(meta.get("label_sources", {})),
        motion=_motion_from(data, meta),
    )


def save_selection(
    selection: Selection,
    path: Path | str,
    *,
    template_shanks: np.ndarray | None = None,
    units: CachedUnits | None = None,
) -> Path:
    """Write a selection (its kept spikes, counts and filter summary) to ``path``.

    ``template_shanks`` and ``units`` (from the spike cache) are kept beside it for
    per-shank metrics and the between-session shift.
    """
    meta = {
        "status": "ok",
        "info": selection.kept.info.to_dict(),
        "cluster_labels": _labels_to_json({"": selection.kept.cluster_labels})[""],
        "selection": selection.to_dict(),
    }
    arrays = _spike_arrays(selection.kept)
    if template_shanks is not None:
        arrays["template_shanks"] = np.asarray(template_shanks, dtype=np.int16)
    if units is not None:
        arrays.update(_unit_arrays(units))
        info = selection.kept.info
        # a frame the user declared for a folder of unknown frame holds for its units too
        declared = units.frame == "unknown" and info.frame_source == DECLARED
        meta["unit_frame"] = info.depth_frame if declared else units.frame
    return _write(path, meta, arrays)


def load_selection(path: Path | str) -> Selection:
    """Read a selection written by :func:`save_selection`.

    Raises
    ------
    FailedSessionError
        If the file is a failure record.
    """
    meta, data = _read(path)
    kept = _spikes_from(data, meta, path)
    counts = meta["selection"]
    factor = int(counts["decimation"])
    bounds = counts["amplitude_bounds"]
    return Selection(
        kept=kept,
        shown=kept.take(slice(None, None, factor)) if factor > 1 else kept,
        n_total=int(counts["n_total"]),
        n_invalid=int(counts["n_invalid"]),
        n_noise=int(counts["n_noise_removed"]),
        n_amplitude=int(counts["n_amplitude_removed"]),
        decimation=factor,
        amplitude_bounds=None if bounds is None else (float(bounds[0]), float(bounds[1])),
        filters=tuple(counts["filters"]),
    )


def load_kept_templates(path: Path | str) -> np.ndarray:
    """Template of each kept spike of a selection file, without reading the other columns.

    Raises
    ------
    FailedSessionError
        If the file is a failure record.
    SortingFormatError
        If the file has no template column.
    """
    templates = _read_optional(path, "templates")
    if templates is None:
        raise SortingFormatError(f"{path} is not a complete driftqc cache: no 'templates'")
    return templates


def save_failure(path: Path | str, message: str, stage: str = "load") -> Path:
    """Write a failure record: no data, only why the session could not be processed."""
    return _write(path, {"status": "failed", "stage": stage, "error": str(message)}, {})


def read_status(path: Path | str) -> dict[str, object]:
    """Return a cache file's status without loading its arrays.

    Returns
    -------
    dict
        ``{"status": "ok"}`` or ``{"status": "failed", "stage": ..., "error": ...}``.
    """
    meta = _read_meta(Path(path))
    return {k: meta[k] for k in ("status", "stage", "error") if k in meta}


def _spike_arrays(spikes: SpikeTable) -> dict[str, np.ndarray]:
    arrays = {
        name: np.asarray(getattr(spikes, name), dtype=dtype)
        for name, dtype in _SPIKE_DTYPES.items()
        if name != "clusters"
    }
    if spikes.clusters is not spikes.templates and not np.array_equal(
        spikes.clusters, spikes.templates
    ):
        arrays["clusters"] = np.asarray(spikes.clusters, dtype=np.int32)
    return arrays


def _spikes_from(data: Mapping[str, np.ndarray], meta: dict, path: Path | str) -> SpikeTable:
    try:
        templates = data["templates"]
        return SpikeTable(
            times=data["times"],
            amplitudes=data["amplitudes"],
            depths=data["depths"],
            templates=templates,
            clusters=data.get("clusters", templates),
            info=SessionInfo.from_dict(meta["info"]),
            cluster_labels=_labels_from_json({"": meta.get("cluster_labels", {})})[""],
        )
    except (KeyError, ValueError) as exc:
        raise SortingFormatError(f"{path} is not a complete driftqc cache: {exc}") from None


def _labels_to_json(sources: Mapping[str, Mapping[int, str]]) -> dict[str, dict[str, str]]:
    return {name: {str(k): str(v) for k, v in labels.items()} for name, labels in sources.items()}


def _labels_from_json(sources: Mapping[str, Mapping[str, str]]) -> dict[str, dict[int, str]]:
    return {name: {int(k): v for k, v in labels.items()} for name, labels in sources.items()}


def _write(path: Path | str, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": CACHE_FORMAT, **meta}
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    # write through a file object so numpy does not append ".npz" to other suffixes
    with path.open("wb") as fh:
        np.savez(fh, meta=blob, **arrays)
    return path


def _read_meta(path: Path) -> dict:
    if not path.is_file():
        raise SortingFormatError(f"cache file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise SortingFormatError(f"{path} is not a driftqc cache file ({exc})") from None
    if meta.get("format") not in READABLE_FORMATS:
        raise SortingFormatError(
            f"{path} has cache format {meta.get('format')!r}, expected {CACHE_FORMAT}; "
            "delete it to have it rebuilt"
        )
    return meta


def _read(path: Path | str) -> tuple[dict, dict[str, np.ndarray]]:
    meta = _read_ok_meta(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files if name != "meta"}
    return meta, arrays


def _read_optional(path: Path | str, key: str) -> np.ndarray | None:
    _read_ok_meta(path)
    with np.load(path, allow_pickle=False) as data:
        return data[key] if key in data.files else None


def _read_group(
    path: Path | str, marker: str, keys: tuple[str, ...]
) -> tuple[dict, dict[str, np.ndarray]] | None:
    """Return the metadata and the arrays ``keys`` of an optional part of a cache, or None.

    The part is present when the metadata holds ``marker`` and the file holds every key.
    """
    meta = _read_ok_meta(path)
    if marker not in meta:
        return None
    with np.load(path, allow_pickle=False) as data:
        if not all(key in data.files for key in keys):
            return None
        return meta, {key: data[key] for key in keys}


def _read_ok_meta(path: Path | str) -> dict:
    """Return the metadata of a cache; a failure record raises :class:`FailedSessionError`."""
    meta = _read_meta(Path(path))
    if meta.get("status") == "failed":
        raise FailedSessionError(str(meta.get("error")), str(meta.get("stage", "load")))
    return meta
