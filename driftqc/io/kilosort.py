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
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.io.geometry import (
    peak_to_trough,
    read_channel_positions,
    read_channel_shanks,
    read_templates,
    template_depths,
)
from driftqc.io.labels import read_label_sources
from driftqc.io.npy import load_npy, load_vector, open_npy
from driftqc.io.ops import read_ops
from driftqc.io.params import read_params
from driftqc.io.pc_depths import pc_feature_depths
from driftqc.model import SessionInfo, SorterMotion, Sorting, SpikeTable

_REGISTERED = ("kilosort2_5", "kilosort3", "kilosort4")
_RAW = ("kilosort", "kilosort1", "kilosort2")
_GENERIC_FOLDER_NAMES = ("sorter_output", "sorting", "output", "phy", "ks", "kilosort")


def detect_version(folder: Path) -> str:
    """Return the Kilosort version named by the folder's single ``kilosort*.log``.

    The version is the log's file name up to its first ``.``: ``kilosort4.log`` gives
    ``"kilosort4"``, ``kilosort2_5.log`` gives ``"kilosort2_5"``.

    Raises
    ------
    SortingFormatError
        If the folder does not exist, or holds no or several ``kilosort*.log`` files.
    """
    folder = Path(folder)
    _check_folder(folder)
    logs = sorted(p.name for p in folder.glob("kilosort*.log"))
    if len(logs) != 1:
        found = ", ".join(logs) if logs else "none"
        raise SortingFormatError(
            f"{folder} must hold exactly one kilosort*.log file to tell the Kilosort version "
            f"(found: {found}); pass version='kilosort4' (or 'kilosort2_5', ...) to choose"
        )
    return logs[0].split(".", 1)[0]


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
    ``pc_features.npy`` is read in chunks, so memory stays bounded for any session length.
    Spikes with NaN depth are kept and counted in a warning; the selection layer drops them.

    Examples
    --------
    >>> sorting = read_kilosort("sub-01/ses-01/kilosort4")  # doctest: +SKIP
    >>> sorting.spikes.depths[:3]  # doctest: +SKIP
    """
    folder = Path(folder)
    _check_folder(folder)
    version = version or detect_version(folder)
    ks4 = is_kilosort4(version)
    params = read_params(folder / "params.py")
    rate = float(params["sample_rate"])  # type: ignore[arg-type]
    notes: list[str] = []

    times = _read_times(folder / "spike_times.npy", rate)
    n = len(times)
    spike_templates = _read_indices(folder / "spike_templates.npy", n)
    clusters_path = folder / "spike_clusters.npy"
    clusters = _read_indices(clusters_path, n) if clusters_path.is_file() else spike_templates
    scale = load_vector(folder / "amplitudes.npy", length=n, dtype=np.float32)

    positions = read_channel_positions(folder)
    shanks = read_channel_shanks(folder, positions)
    templates = read_templates(folder, len(positions))
    if n and spike_templates.max() >= len(templates):
        raise SortingFormatError(
            f"spike_templates.npy uses template {int(spike_templates.max())} but "
            f"templates.npy holds {len(templates)} templates"
        )

    if ks4:
        channel_ptp = peak_to_trough(templates)
        amp_definition = (
            "amplitudes.npy (Kilosort 4 feature norm) x largest per-channel peak-to-trough "
            "of templates.npy; an approximation"
        )
        depths = _read_positions_y(folder / "spike_positions.npy", n)
        depth_estimator = "spike_positions.npy y (Kilosort 4's own estimate)"
    else:
        unwhitened = _unwhiten(folder, templates, version, notes)
        channel_ptp = peak_to_trough(unwhitened)
        amp_definition = (
            "amplitudes.npy x largest per-channel peak-to-trough of the unwhitened template "
            "(templates.npy @ whitening_mat_inv.npy)"
        )
        fallback = template_depths(channel_ptp, positions[:, 1])
        if with_depths:
            depths, depth_estimator = _ks123_depths(
                folder, spike_templates, positions, fallback, notes
            )
        else:
            depths = fallback.astype(np.float32)[spike_templates]
            depth_estimator = "template centre of mass (per-spike depths not computed)"
    template_amp = channel_ptp.max(axis=1) if channel_ptp.size else np.zeros(len(templates))
    amplitudes = np.multiply(template_amp.astype(np.float32)[spike_templates], scale, out=scale)
    unit = "a.u."
    gain = params.get("gain")
    if gain not in (None, "", 0):
        try:
            amplitudes *= np.float32(float(gain))  # type: ignore[arg-type]
            unit = "µV"
            notes.append(f"amplitudes scaled by gain = {gain} µV per bit from params.py")
        except (TypeError, ValueError):
            notes.append(f"params.py gain = {gain!r} is not a number and was ignored")

    n_nan = int(np.count_nonzero(~np.isfinite(depths)))
    if n_nan:
        source = "spike_positions.npy" if ks4 else "pc_features.npy"
        warnings.warn(
            f"{folder}: {n_nan} of {n} spikes have no finite depth in {source}; "
            "they are left out of drift maps",
            stacklevel=2,
        )
        notes.append(f"{n_nan} spikes without a finite depth")

    sources = read_label_sources(folder)
    info = SessionInfo(
        name=name or _session_name(folder),
        path=folder.resolve(),
        sorter=version,
        sample_rate=rate,
        amplitude_unit=unit,
        amplitude_definition=amp_definition,
        depth_estimator=depth_estimator,
        depth_frame=_depth_frame(version),
        notes=tuple(notes),
    )
    spikes = SpikeTable(
        times=times,
        amplitudes=amplitudes,
        depths=depths,
        templates=spike_templates,
        clusters=clusters,
        info=info,
        cluster_labels=next(iter(sources.values()), {}),
    )
    templates.flags.writeable = False
    positions.flags.writeable = False
    return Sorting(
        spikes=spikes,
        templates=templates,
        channel_positions=positions,
        channel_shanks=shanks,
        label_sources=sources,
        motion=_read_motion(folder, rate) if ks4 else None,
    )


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise SortingFormatError(f"sorter output folder {folder} does not exist")
    if not folder.is_dir():
        raise SortingFormatError(f"{folder} is not a folder; give the sorter output folder")


def _session_name(folder: Path) -> str:
    resolved = folder.resolve()
    if resolved.name.lower().startswith(_GENERIC_FOLDER_NAMES) and resolved.parent.name:
        return f"{resolved.parent.name}/{resolved.name}"
    return resolved.name


def _depth_frame(version: str) -> str:
    if version.startswith(_REGISTERED):
        return "registered"
    if version in _RAW:
        return "raw"
    return "unknown"


def _read_times(path: Path, rate: float) -> np.ndarray:
    header = open_npy(path)
    if header.dtype.kind not in "iuf":
        raise SortingFormatError(f"{path} should hold sample numbers, found dtype {header.dtype}")
    times = load_vector(path, dtype=np.float64)
    if header.dtype.kind == "f" and not np.isfinite(times).all():
        raise SortingFormatError(f"{path} contains NaN or infinite spike times")
    times /= rate
    return times


def _read_indices(path: Path, n: int) -> np.ndarray:
    header = open_npy(path)
    if header.dtype.kind not in "iuf":
        raise SortingFormatError(f"{path} should hold integer ids, found {header.dtype}")
    if header.dtype.kind == "f":
        values = load_vector(path, length=n)
        if not (np.isfinite(values).all() and np.all(values == np.round(values))):
            raise SortingFormatError(f"{path} should hold integer ids, found {header.dtype}")
    else:
        values = load_vector(path, length=n, dtype=np.int64)
    if n and values.min() < 0:
        raise SortingFormatError(f"{path} holds negative ids (smallest {int(values.min())})")
    if n and values.max() > np.iinfo(np.int32).max:
        raise SortingFormatError(f"{path} holds ids too large to be template or cluster ids")
    return values.astype(np.int32)


def _read_positions_y(path: Path, n: int) -> np.ndarray:
    positions = load_npy(path)
    if positions.ndim != 2 or positions.shape[1] < 2:
        raise SortingFormatError(
            f"{path} should have shape (n_spikes, 2), found {positions.shape}"
        )
    if len(positions) != n:
        raise SortingFormatError(
            f"{path} holds {len(positions)} spikes but spike_times.npy holds {n}"
        )
    return positions[:, 1].astype(np.float32)


def _unwhiten(folder: Path, templates: np.ndarray, version: str, notes: list[str]) -> np.ndarray:
    path = folder / "whitening_mat_inv.npy"
    n_channels = templates.shape[2]
    if not path.is_file():
        notes.append("no whitening_mat_inv.npy: templates taken as already unwhitened")
        return templates
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
    n_templates, n_samples, _ = templates.shape
    flat = templates.reshape(-1, n_channels) @ winv.astype(np.float32)
    return flat.reshape(n_templates, n_samples, n_channels)


def _ks123_depths(
    folder: Path,
    spike_templates: np.ndarray,
    positions: np.ndarray,
    fallback: np.ndarray,
    notes: list[str],
) -> tuple[np.ndarray, str]:
    if (folder / "pc_features.npy").is_file():
        depths, n_fallback = pc_feature_depths(folder, spike_templates, positions[:, 1], fallback)
        if n_fallback:
            notes.append(
                f"{n_fallback} spikes with all-zero first-PC weights placed at their "
                "template's depth"
            )
        return depths, "centre of mass of the first PC feature on the template's channels"
    if (folder / "spike_positions.npy").is_file():
        notes.append("no pc_features.npy: depths from spike_positions.npy")
        return (
            _read_positions_y(folder / "spike_positions.npy", len(spike_templates)),
            "spike_positions.npy y",
        )
    warnings.warn(
        f"{folder} has no pc_features.npy: every spike is placed at its template's depth",
        stacklevel=3,
    )
    notes.append("no pc_features.npy: spikes placed at their template's depth")
    depth = fallback.astype(np.float32)[spike_templates]
    return depth, "template centre of mass (no pc_features.npy)"


def _read_motion(folder: Path, rate: float) -> SorterMotion | None:
    path = folder / "ops.npy"
    if not path.is_file():
        return None
    try:
        ops = read_ops(path)
    except SortingFormatError as exc:
        warnings.warn(f"{exc}; Kilosort's own drift estimate is not used", stacklevel=3)
        return None
    dshift = ops.get("dshift")
    if dshift is None:
        return None
    shift = np.asarray(dshift, dtype=np.float64)
    if shift.ndim == 1:
        shift = shift[:, None]
    batch = float(ops.get("batch_size", ops.get("NT", 60000)))  # type: ignore[arg-type]
    fs = float(ops.get("fs", rate))  # type: ignore[arg-type]
    batch_times = (np.arange(len(shift)) + 0.5) * batch / fs
    yblk = ops.get("yblk")
    if yblk is None or np.size(yblk) != shift.shape[1]:
        yblk = np.full(shift.shape[1], np.nan)
    return SorterMotion(
        shift_um=shift,
        batch_times=batch_times,
        block_centres_um=np.asarray(yblk, dtype=np.float64).reshape(-1),
        sign=-1,
    )
