"""Depth frames: which frames a session can show, and moving its spikes into one.

A spike's depth is given in one of two frames:

- **raw**: the probe frame, as recorded. Kilosort 1 and 2 save raw depths; so does a phy
  export of unregistered data. When the tissue moves, a raw-frame drift map shows the motion.
- **registered**: after the sorter's own drift correction (Kilosort 2.5, 3 and 4). A
  registered-frame map shows only what the correction missed.

A folder that does not say which sorter wrote it (a phy folder without a sorter log, such as a
SpikeInterface export) is in the **unknown** frame until the user says which it is.

``frame=`` everywhere in driftqc (plot methods, ``--frame``, the viewer's toggle, the workflow's
per-session ``frame``) names the frame to *draw*: ``"saved"`` (the default: depths as the
folder holds them, which is what driftplots draws), ``"raw"`` or ``"registered"``.

- Asking for the frame the depths are saved in changes nothing.
- Asking a Kilosort 4 session (registered) for ``"raw"`` reconstructs raw depths from the
  sorter's saved motion estimate (``ops.npy`` ``dshift``; :func:`to_raw_frame`).
- Asking a session in the unknown frame for ``"raw"`` or ``"registered"`` *declares* that its
  saved depths are in that frame: nothing is moved, and the provenance says it was declared.
- Anything else (raw depths asked for ``"registered"``; a Kilosort 2.5/3 session, which saves
  no motion, asked for ``"raw"``) is an :class:`~driftqc.errors.OptionError` saying why.

Kilosort 4's ``dshift`` (one row per 2-s batch, one column per depth block, µm) has the sign
*opposite* to the tissue displacement: if the tissue moved by ``d`` µm towards larger y, a
spike recorded at raw depth ``y`` was saved at ``y − d`` and ``dshift = −d``. So

    raw = registered + d = registered − dshift,

with ``dshift`` interpolated linearly between batch centres in time (held constant before the
first and after the last centre) and between block centres in depth (constant beyond the
outermost blocks).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from driftqc.errors import OptionError, SortingFormatError
from driftqc.model import SorterMotion, Sorting, SpikeTable
from driftqc.options import FRAMES, check_choice

#: what ``SessionInfo.depth_frame`` may say
SAVED_FRAMES = ("raw", "registered", "unknown")
RECONSTRUCTED = "reconstructed from Kilosort 4 dshift"
DECLARED = "declared by the user; the folder does not say"


def check_frame(frame: object) -> str:
    """Validate a ``frame=`` value (one of :data:`~driftqc.options.FRAMES`)."""
    return check_choice(frame, FRAMES, "frame")


def available_frames(saved: str, motion: SorterMotion | None) -> tuple[str, ...]:
    """Return the frames a session can be drawn in, the saved one first.

    Parameters
    ----------
    saved
        ``SessionInfo.depth_frame`` of the session as read.
    motion
        The sorter's saved motion estimate (``Sorting.motion``), or None.

    Returns
    -------
    tuple of str
        ``("raw",)``, ``("registered",)``, ``("registered", "raw")`` (Kilosort 4 with its
        ``dshift``) or ``("unknown",)`` (``"raw"`` or ``"registered"`` then declares it).
    """
    if saved == "registered" and motion is not None:
        return ("registered", "raw")
    return (saved,)


def spikes_in_frame(
    spikes: SpikeTable, frame: str, motion: SorterMotion | None = None
) -> SpikeTable:
    """Return the spikes with depths in ``frame`` (see the module's rules).

    Parameters
    ----------
    spikes
        Spikes as read (a whole session or a chunk of one).
    frame
        ``"saved"``, ``"raw"`` or ``"registered"``.
    motion
        The session's saved motion estimate (needed for raw depths of a registered session).

    Raises
    ------
    OptionError
        When the spikes cannot be shown in that frame.
    """
    frame = check_frame(frame)
    saved = spikes.info.depth_frame
    if frame == "saved" or frame == saved:
        return spikes
    name = spikes.info.name
    if saved == "unknown":
        info = replace(spikes.info, depth_frame=frame, frame_source=DECLARED)
        return replace(spikes, info=info)
    if saved == "registered" and frame == "raw":
        if motion is None:
            raise OptionError(
                f"session {name!r} ({spikes.info.sorter}) holds registered depths and no saved "
                "motion estimate (only Kilosort 4's ops.npy dshift has one): its raw frame "
                "cannot be reconstructed; use frame='registered' or 'saved'"
            )
        return to_raw_frame(spikes, motion)
    raise OptionError(
        f"session {name!r} ({spikes.info.sorter}) holds {saved} depths; they cannot be moved "
        f"to the {frame} frame (use frame='saved' or {saved!r})"
    )


def tissue_displacement(
    motion: SorterMotion, times: np.ndarray, depths: np.ndarray | None = None
) -> np.ndarray:
    """Interpolate the sorter's tissue displacement (µm, + = towards larger y) at times, depths.

    Parameters
    ----------
    motion
        The sorter's estimate.
    times
        Times in s.
    depths
        Depths in µm, same length as ``times``; needed only with several depth blocks.

    Returns
    -------
    numpy.ndarray
        ``motion.sign * shift`` interpolated linearly in time between batch centres and in
        depth between block centres (constant beyond the ends).
    """
    shift, batch_times, blocks = checked_motion(motion)
    times = np.asarray(times, dtype=np.float64)
    per_block = np.column_stack(
        [np.interp(times, batch_times, shift[:, b]) for b in range(shift.shape[1])]
    )
    if shift.shape[1] == 1:
        values = per_block[:, 0]
    else:
        if depths is None:
            raise OptionError(
                "depths are needed to interpolate a non-rigid (several-block) dshift"
            )
        depths = np.asarray(depths, dtype=np.float64)
        order = np.argsort(blocks)
        blocks, per_block = blocks[order], per_block[:, order]
        upper = np.clip(np.searchsorted(blocks, depths), 1, len(blocks) - 1)
        lower = upper - 1
        span = blocks[upper] - blocks[lower]
        frac = np.clip((depths - blocks[lower]) / span, 0.0, 1.0)
        rows = np.arange(len(times))
        values = per_block[rows, lower] * (1 - frac) + per_block[rows, upper] * frac
    return motion.sign * values


def to_raw_frame(spikes: SpikeTable, motion: SorterMotion) -> SpikeTable:
    """Return a copy of registered-frame spikes with depths moved back to the raw frame.

    Parameters
    ----------
    spikes
        Spikes whose ``info.depth_frame`` is ``"registered"`` (Kilosort 4 output).
    motion
        Kilosort 4's estimate (``Sorting.motion``).

    Returns
    -------
    SpikeTable
        Same spikes, depth = registered depth + interpolated tissue displacement
        (= registered − dshift); ``info.depth_frame`` is ``"raw"`` and ``info.frame_source``
        says it was reconstructed.

    Raises
    ------
    OptionError
        When the spikes are not in the registered frame (converting twice would double the
        motion).

    Examples
    --------
    >>> raw = to_raw_frame(sorting.spikes, sorting.motion)  # doctest: +SKIP
    """
    if spikes.info.depth_frame != "registered":
        raise OptionError(
            f"session {spikes.info.name!r}: depths are in the {spikes.info.depth_frame!r} frame; "
            "only registered-frame depths can be moved back to the raw frame"
        )
    displacement = tissue_displacement(motion, spikes.times, spikes.depths)
    depths = (spikes.depths.astype(np.float64) + displacement).astype(np.float32)
    info = replace(spikes.info, depth_frame="raw", frame_source=RECONSTRUCTED)
    return replace(spikes, depths=depths, info=info)


def to_registered_frame(spikes: SpikeTable, motion: SorterMotion) -> SpikeTable:
    """Undo :func:`to_raw_frame`: registered depth = raw depth − tissue displacement.

    Exact for a rigid (one-block) estimate; with several depth blocks the displacement is
    taken at the raw depth instead of the registered one (a difference of the displacement's
    depth gradient times itself, well below a micrometre for Kilosort's blocks).

    Raises
    ------
    OptionError
        When the spikes are not raw depths reconstructed from this kind of estimate.
    """
    if spikes.info.depth_frame != "raw" or spikes.info.frame_source != RECONSTRUCTED:
        raise OptionError(
            f"session {spikes.info.name!r}: only raw depths reconstructed from the sorter's "
            f"motion estimate can be moved back to the registered frame (these are "
            f"{spikes.info.frame_caption!r})"
        )
    displacement = tissue_displacement(motion, spikes.times, spikes.depths)
    depths = (spikes.depths.astype(np.float64) - displacement).astype(np.float32)
    info = replace(spikes.info, depth_frame="registered", frame_source="")
    return replace(spikes, depths=depths, info=info)


def raw_frame(sorting: Sorting) -> SpikeTable:
    """Raw-frame spikes of a Kilosort 4 sorting (see :func:`to_raw_frame`).

    Raises
    ------
    OptionError
        When the sorting holds no motion estimate (Kilosort 1–3, or ``ops.npy`` missing).
    """
    if sorting.motion is None:
        raise OptionError(
            f"session {sorting.info.name!r} ({sorting.info.sorter}) has no saved motion estimate "
            "(ops.npy dshift): a raw-frame map cannot be reconstructed"
        )
    return to_raw_frame(sorting.spikes, sorting.motion)


def checked_motion(motion: SorterMotion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(shift (n_batches, n_blocks), batch_times, block_centres)`` after checking them.

    Raises
    ------
    SortingFormatError
        When the shapes disagree, block centres are missing or values are not finite.
    """
    shift = np.asarray(motion.shift_um, dtype=np.float64)
    if shift.ndim == 1:
        shift = shift[:, None]
    batch_times = np.asarray(motion.batch_times, dtype=np.float64).reshape(-1)
    blocks = np.asarray(motion.block_centres_um, dtype=np.float64).reshape(-1)
    if shift.ndim != 2 or shift.shape[0] != len(batch_times) or shift.shape[0] == 0:
        raise SortingFormatError(
            f"sorter motion: dshift has shape {shift.shape} but there are "
            f"{len(batch_times)} batch times"
        )
    if shift.shape[1] > 1 and (len(blocks) != shift.shape[1] or not np.isfinite(blocks).all()):
        raise SortingFormatError(
            f"sorter motion: {shift.shape[1]} depth blocks but block centres {blocks.tolist()} "
            "(ops.npy yblk missing or wrong length)"
        )
    if motion.sign not in (-1, 1) or not math.isfinite(float(shift.sum())):
        raise SortingFormatError("sorter motion: sign must be ±1 and dshift finite")
    return shift, batch_times, blocks
