"""The sorter's own drift estimate as a trace, and numbers about it.

Kilosort 4 saves its motion estimate as ``dshift`` in ``ops.npy`` (read into
:class:`driftqc.model.SorterMotion`): one row per 2-s batch, one column per depth block, in µm,
with the sign *opposite* to the tissue displacement. :func:`sorter_drift_trace` turns it into a
:class:`~driftqc.metrics.drift_trace.DriftTrace` in the tissue sign, so it can be plotted and
summarised like driftqc's own estimate. Moving spikes between frames is
:mod:`driftqc.frames`' job (re-exported here for existing callers).
"""

from __future__ import annotations

import numpy as np

from driftqc.errors import OptionError
from driftqc.frames import (
    RECONSTRUCTED,
    checked_motion,
    raw_frame,
    tissue_displacement,
    to_raw_frame,
)
from driftqc.metrics.drift_trace import DriftTrace, trace_from_displacement
from driftqc.model import SorterMotion

__all__ = [
    "RECONSTRUCTED",
    "SORTER_SOURCE",
    "raw_frame",
    "sorter_drift_trace",
    "sorter_motion_summary",
    "tissue_displacement",
    "to_raw_frame",
]
SORTER_SOURCE = "sorter estimate (Kilosort 4 dshift)"


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
    shift, batch_times, blocks = checked_motion(motion)
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
    shift, _, _ = checked_motion(motion)
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
