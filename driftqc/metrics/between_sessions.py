"""Between-session displacement: did the probe sit at the same depth in every session.

Each session is reduced to one *depth-activity profile*: the spike rate per depth bin (2 µm by
default) over the whole session, log-compressed (``log1p``) so that a few very active units do
not dominate, and smoothed with a Gaussian. Units that stay in place between sessions give
peaks at the same depths; if the probe sits ``s`` µm lower in the tissue in a later session,
every peak appears ``s`` µm higher on the probe. Registering each session's profile to a
reference session's profile (cross-correlation with sub-bin peak interpolation, as in
:mod:`driftqc.metrics.registration`) gives that shift.

**Sign.** A session's shift is positive when its activity appears at larger depth coordinate
(y) than in the reference session (same convention as the within-session trace). The
reference session's shift is 0. Shifts are in µm, in the frame of the sessions' depths; mixing
frames is refused.

The **kymograph** is the sessions × depth matrix of profiles (each column a session when drawn
by :func:`driftqc.plotting.drift_plots.plot_kymograph`), with the shifts overlaid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftqc.errors import EmptySelectionError, OptionError
from driftqc.metrics.histograms import value_range
from driftqc.metrics.registration import gaussian_smooth, register_profiles
from driftqc.model import SpikeTable


@dataclass(frozen=True)
class SessionShifts:
    """Shift of every session relative to a reference session, plus kymograph data.

    Attributes
    ----------
    names
        Session names, in input order.
    shifts_um
        (n_sessions,) shift in µm (positive = activity at larger y than in the reference);
        NaN when a session could not be registered (no spikes, or shift beyond the search).
    peak_correlation
        (n_sessions,) normalised correlation of each profile with the reference at the best
        lag (1 for the reference itself).
    reference
        Index of the reference session.
    depth_centres_um
        (n_depth_bins,) centres of the profile bins, µm.
    profiles
        (n_sessions, n_depth_bins) prepared profiles (log1p rate, smoothed) — the kymograph.
    frame
        Depth frame of the sessions.
    params
        Parameters used.
    """

    names: tuple[str, ...]
    shifts_um: np.ndarray
    peak_correlation: np.ndarray
    reference: int
    depth_centres_um: np.ndarray
    profiles: np.ndarray
    frame: str
    params: dict[str, object]

    def to_frame(self) -> pd.DataFrame:
        """One row per session: session, shift_um, peak_correlation, is_reference, frame."""
        return pd.DataFrame(
            {
                "session": list(self.names),
                "shift_um": self.shifts_um,
                "peak_correlation": self.peak_correlation,
                "is_reference": np.arange(len(self.names)) == self.reference,
                "frame": self.frame,
            }
        )

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable shifts (NaN becomes None) without the kymograph matrix."""
        return {
            "sessions": list(self.names),
            "shift_um": [None if not np.isfinite(v) else float(v) for v in self.shifts_um],
            "peak_correlation": [
                None if not np.isfinite(v) else float(v) for v in self.peak_correlation
            ],
            "reference": self.names[self.reference],
            "frame": self.frame,
            "units": "µm",
            "sign": "positive = activity at larger depth (y) than in the reference session",
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class DepthCounts:
    """A session's spikes counted per depth bin: all that its between-session shift needs.

    Bins are ``bin_um`` wide with edges at whole multiples of ``bin_um``, so the counts of
    several sessions line up on one grid without re-binning. A batch that reduces each
    session to its counts as soon as it is read holds one session's spikes at a time.

    Attributes
    ----------
    name, frame
        Session name and depth frame.
    duration_s
        Session duration, s (counts become rates).
    bin_um
        Bin width, µm.
    first_bin
        Index k of the first bin, which spans ``[k * bin_um, (k + 1) * bin_um)``.
    counts
        Spikes per bin.
    depth_range_um
        Smallest and largest finite depth, or None when no spike has one.
    """

    name: str
    frame: str
    duration_s: float
    bin_um: float
    first_bin: int
    counts: np.ndarray
    depth_range_um: tuple[float, float] | None

    @classmethod
    def of(cls, spikes: SpikeTable, bin_um: float = 2.0) -> DepthCounts:
        """Count a spike table's finite depths (non-finite depths are left out)."""
        if not bin_um > 0:
            raise OptionError(f"bin_um={bin_um!r} must be > 0")
        depths = spikes.depths[np.isfinite(spikes.depths)]
        extent = value_range(depths)
        first, counts = 0, np.zeros(0, dtype=np.int64)
        if extent is not None:
            # one spare bin each side: no rounding can put a depth outside the edges
            first = math.floor(extent[0] / bin_um) - 1
            last = math.floor(extent[1] / bin_um) + 1
            counts, _ = np.histogram(depths, bins=_edges(first, last - first + 1, bin_um))
        info = spikes.info
        return cls(info.name, info.depth_frame, spikes.duration, bin_um, first, counts, extent)

    def __len__(self) -> int:
        """Return the number of spikes counted."""
        return int(self.counts.sum())


def session_depth_profiles(
    sessions: Sequence[SpikeTable | DepthCounts],
    *,
    bin_um: float = 2.0,
    smooth_um: float = 4.0,
    log_compress: bool = True,
    depth_range_um: tuple[float, float] | None = None,
    pad_um: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Depth-activity profiles of several sessions on one depth grid.

    Parameters
    ----------
    sessions
        Spike tables, or their :class:`DepthCounts` in bins of ``bin_um`` (one per session).
    bin_um
        Depth-bin width, µm.
    smooth_um
        Gaussian σ of the smoothing, µm (0 for none).
    log_compress
        Use ``log1p`` of the spike rate per bin (spikes/s).
    depth_range_um
        Grid extent; default the union of the sessions' depths.
    pad_um
        Extra empty margin on both ends of the grid, µm.

    Returns
    -------
    tuple of numpy.ndarray
        Bin centres (µm) and the (n_sessions, n_bins) profiles.
    """
    if not bin_um > 0 or smooth_um < 0 or pad_um < 0:
        raise OptionError("bin_um must be > 0, smooth_um and pad_um >= 0")
    counted = [_depth_counts(s, bin_um) for s in sessions]
    if depth_range_um is None:
        extents = [c.depth_range_um for c in counted if c.depth_range_um is not None]
        if not extents:
            raise EmptySelectionError("between-session shifts: no session has spikes")
        depth_range_um = (min(e[0] for e in extents), max(e[1] for e in extents))
    first = math.floor((depth_range_um[0] - pad_um) / bin_um)
    n_bins = max(1, int(math.ceil((depth_range_um[1] + pad_um - first * bin_um) / bin_um)) + 1)
    profiles = np.zeros((len(counted), n_bins))
    for row, counts in enumerate(counted):
        # the grids share their edges: place the counts by bin index, leaving out bins
        # beyond an explicit depth_range_um
        start = counts.first_bin - first
        lo, hi = max(start, 0), min(start + len(counts.counts), n_bins)
        if hi > lo:
            profiles[row, lo:hi] = counts.counts[lo - start : hi - start]
        profiles[row] /= max(counts.duration_s, 1e-9)
    if log_compress:
        profiles = np.log1p(profiles)
    profiles = gaussian_smooth(profiles, smooth_um / bin_um)
    edges = _edges(first, n_bins, bin_um)
    return 0.5 * (edges[:-1] + edges[1:]), profiles


def _edges(first_bin: int, n_bins: int, bin_um: float) -> np.ndarray:
    """Edges of ``n_bins`` bins from bin ``first_bin``: whole multiples of ``bin_um``."""
    return bin_um * np.arange(first_bin, first_bin + n_bins + 1, dtype=np.float64)


def _depth_counts(session: SpikeTable | DepthCounts, bin_um: float) -> DepthCounts:
    if not isinstance(session, DepthCounts):
        return DepthCounts.of(session, bin_um)
    if session.bin_um != bin_um:
        raise OptionError(
            f"session {session.name!r} was counted in {session.bin_um} µm bins, "
            f"not the {bin_um} µm asked for"
        )
    return session


def between_session_shifts(
    sessions: Sequence[SpikeTable | DepthCounts],
    *,
    reference: int | str = 0,
    names: Sequence[str] | None = None,
    max_shift_um: float = 200.0,
    bin_um: float = 2.0,
    smooth_um: float = 4.0,
    log_compress: bool = True,
    min_correlation: float = 0.25,
) -> SessionShifts:
    r"""Register every session's depth profile to a reference session's.

    Parameters
    ----------
    sessions
        Spike tables, or their :class:`DepthCounts` in bins of ``bin_um`` (one per session,
        same probe, same frame; one shank each on multi-shank probes).
    reference
        Index or name of the reference session (default: the first).
    names
        Session names (default: each table's ``info.name``).
    max_shift_um
        Largest shift searched, µm.
    bin_um, smooth_um, log_compress
        Profile options (see :func:`session_depth_profiles`).
    min_correlation
        A session whose best normalised correlation with the reference is below this gets a
        NaN shift: its profile does not resemble the reference (different units, shift beyond
        ``max_shift_um``), so any "best" lag would be meaningless.

    Returns
    -------
    SessionShifts
        Shift per session (µm), correlation, the kymograph matrix and provenance.

    Examples
    --------
    >>> shifts = between_session_shifts([s.spikes for s in sortings])  # doctest: +SKIP
    >>> shifts.to_frame().to_csv("shifts.tsv", sep="\t", index=False)  # doctest: +SKIP
    """
    if not sessions:
        raise OptionError("between-session shifts need at least one session")
    if not max_shift_um > 0:
        raise OptionError(f"max_shift_um={max_shift_um!r} must be positive")
    counted = [_depth_counts(s, bin_um) for s in sessions]
    labels = tuple(names) if names is not None else tuple(c.name for c in counted)
    if len(labels) != len(sessions):
        raise OptionError(f"{len(labels)} names given for {len(sessions)} sessions")
    frames = {c.frame for c in counted}
    if len(frames) > 1:
        raise OptionError(
            f"sessions are in different depth frames {sorted(frames)}: convert them to one frame "
            "before comparing positions"
        )
    ref = _reference_index(reference, labels)
    centres, profiles = session_depth_profiles(
        counted,
        bin_um=bin_um,
        smooth_um=smooth_um,
        log_compress=log_compress,
        pad_um=max_shift_um,
    )
    max_bins = int(math.ceil(max_shift_um / bin_um))
    registration = register_profiles(profiles, profiles[ref], max_bins)
    shifts = registration.shifts * bin_um
    shifts[~(registration.peak_correlation >= min_correlation)] = np.nan
    shifts[ref] = 0.0
    return SessionShifts(
        names=labels,
        shifts_um=shifts,
        peak_correlation=registration.peak_correlation,
        reference=ref,
        depth_centres_um=centres,
        profiles=profiles,
        frame=frames.pop(),
        params={
            "max_shift_um": max_shift_um,
            "bin_um": bin_um,
            "smooth_um": smooth_um,
            "log_compress": log_compress,
            "min_correlation": min_correlation,
        },
    )


def _reference_index(reference: int | str, names: tuple[str, ...]) -> int:
    if isinstance(reference, str):
        if reference not in names:
            raise OptionError(f"reference session {reference!r} is not among {list(names)}")
        return names.index(reference)
    if not -len(names) <= int(reference) < len(names):
        raise OptionError(f"reference={reference!r}: there are {len(names)} sessions")
    return int(reference) % len(names)
