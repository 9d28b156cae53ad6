"""Raw and registered depth frames, and the sorter's own drift estimate.

Kilosort 2.5, 3 and 4 correct drift before sorting, so the depths they save are in the
*registered* frame: the tissue's motion has been subtracted, and a drift map drawn from them
shows only what the correction missed. Kilosort 4 also saves its motion estimate as ``dshift``
in ``ops.npy`` (read into :class:`driftqc.model.SorterMotion`): one row per 2-s batch, one
column per depth block, in µm, with the sign *opposite* to the tissue displacement.

If the tissue moved by ``d`` µm towards larger y, a spike recorded at raw depth ``y`` was saved
at ``y − d``; Kilosort's ``dshift`` is ``−d``. So the raw depth is recovered as

    raw = registered + d = registered − dshift,

with ``dshift`` interpolated linearly between batch centres in time (held constant before the
first and after the last centre) and between block centres in depth (held constant beyond the
outermost blocks). This module does that conversion (:func:`to_raw_frame`) and turns the
sorter's estimate into a :class:`~driftqc.metrics.drift_trace.DriftTrace`
(:func:`sorter_drift_trace`), so it can be plotted and summarised like driftqc's own.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from driftqc.errors import OptionError, SortingFormatError
from driftqc.metrics.drift_trace import DriftTrace, trace_from_displacement
from driftqc.model import SorterMotion, Sorting, SpikeTable

RAW_FROM_KS4 = "raw (reconstructed from Kilosort 4 dshift)"
SORTER_SOURCE = "sorter estimate (Kilosort 4 dshift)"


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
    shift, batch_times, blocks = _checked(motion)
    times = np.asarray(times, dtype=np.float64)
    # time interpolation for every block: (n, n_blocks)
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
        (= registered − dshift); ``info.depth_frame`` says
        ``"raw (reconstructed from Kilosort 4 dshift)"``.

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
    note = "depths moved back to the raw frame: registered depth − Kilosort 4 dshift"
    info = replace(spikes.info, depth_frame=RAW_FROM_KS4, notes=(*spikes.info.notes, note))
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


def sorter_drift_trace(
    motion: SorterMotion, *, block: int | None = None, session: str = ""
) -> DriftTrace:
    """Return the sorter's own drift estimate as a trace (tissue sign, relative to its median).

    Parameters
    ----------
    motion
        The sorter's estimate.
    block
        Depth block to report; None averages the blocks (the rigid part).
    session
        Session name carried into the trace.

    Returns
    -------
    DriftTrace
        One value per batch (µm, positive = tissue towards larger y), frame ``"raw"``:
        it describes the motion of the tissue in probe coordinates.
    """
    shift, batch_times, blocks = _checked(motion)
    if block is None:
        values = shift.mean(axis=1)
        depth_range = (float(np.nanmin(blocks)), float(np.nanmax(blocks)))
    else:
        if not 0 <= block < shift.shape[1]:
            raise OptionError(f"block={block!r}: the estimate has {shift.shape[1]} block(s)")
        values = shift[:, block]
        depth_range = (float(blocks[block]), float(blocks[block]))
    return trace_from_displacement(
        batch_times,
        motion.sign * values,
        frame="raw",
        source=SORTER_SOURCE,
        session=session,
        depth_range_um=depth_range,
    )


def sorter_motion_summary(motion: SorterMotion) -> dict[str, object]:
    """Numbers about the sorter's own estimate, in µm.

    Returns
    -------
    dict
        ``mean_abs_drift_um`` (Kilosort 4's log value: mean |dshift| of the first block),
        ``mean_abs_drift_per_block_um``, ``peak_to_peak_um`` and ``p95_abs_um`` of the
        block-averaged trace (relative to its median), ``n_batches``, ``n_blocks``,
        ``source`` and ``units``.
    """
    shift, _, _ = _checked(motion)
    trace = sorter_drift_trace(motion).summary()
    return {
        "mean_abs_drift_um": float(np.mean(np.abs(shift[:, 0]))),
        "mean_abs_drift_per_block_um": [float(v) for v in np.mean(np.abs(shift), axis=0)],
        "peak_to_peak_um": trace.peak_to_peak_um,
        "p95_abs_um": trace.p95_abs_um,
        "max_step_um": trace.max_step_um,
        "n_batches": int(shift.shape[0]),
        "n_blocks": int(shift.shape[1]),
        "source": SORTER_SOURCE,
        "units": "µm",
    }


def _checked(motion: SorterMotion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
