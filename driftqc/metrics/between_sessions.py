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

**Two methods.** :func:`between_session_shifts` registers the depth profiles of the spikes
(``method="depth profile"``). It is biased where units leave the probe at its ends (the
profiles then differ at the edge) and by the pull of spike depths towards the rows of sites,
and it gives a "best" lag even for sessions with different units. :func:`unit_session_shifts`
matches the sessions' units instead (:mod:`driftqc.metrics.unit_matching`: point-source
positions, waveforms, amplitudes) and reports a shift only when the match is distinctive;
otherwise the session's status is ``uncertain`` and its shift NaN. On the Kilosort 4
validation case (the same 16 units moved by +25 µm, ``benchmarks/bench_shift_accuracy.py``)
the saved spike depths of one unit differ by 12–33 µm between the sessions (they lean
towards the rows of sites), while the point-source positions of the matched units give
25.0 µm; sessions with different units get a profile "shift" with correlation 0.3–0.4 but
no distinctive unit match.

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
from driftqc.metrics.unit_matching import METHOD as UNIT_METHOD
from driftqc.metrics.unit_matching import OK, UNCERTAIN, SessionUnits, match_units
from driftqc.model import SpikeTable

PROFILE_METHOD = "depth profile"


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
    status
        (n_sessions,) ``"ok"`` or ``"uncertain"`` (no distinctive match: shift NaN); empty
        for results made before statuses existed (then ok where the shift is finite).
    method
        ``"depth profile"`` or the matched-units method.
    n_matched, n_comparable
        (n_sessions,) matched units and units that could have matched (matched-units method;
        NaN otherwise).
    uncertainty_um, spread_um
        (n_sessions,) standard error of the shift and robust SD of the matched units'
        differences, µm (matched-units method; NaN otherwise).
    notes
        (n_sessions,) why a session is uncertain; empty strings otherwise.
    contrast
        (n_sessions,) support of the best shift over any other's (matched-units method;
        ~1 for different units; NaN otherwise).
    """

    names: tuple[str, ...]
    shifts_um: np.ndarray
    peak_correlation: np.ndarray
    reference: int
    depth_centres_um: np.ndarray
    profiles: np.ndarray
    frame: str
    params: dict[str, object]
    status: tuple[str, ...] = ()
    method: str = PROFILE_METHOD
    n_matched: np.ndarray | None = None
    n_comparable: np.ndarray | None = None
    uncertainty_um: np.ndarray | None = None
    spread_um: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    contrast: np.ndarray | None = None

    @property
    def statuses(self) -> tuple[str, ...]:
        """Status of each session (``"ok"`` / ``"uncertain"``)."""
        if self.status:
            return self.status
        return tuple(OK if np.isfinite(v) else UNCERTAIN for v in self.shifts_um)

    def to_frame(self) -> pd.DataFrame:
        """One row per session: session, status, shift_um, evidence, is_reference, frame."""
        n = len(self.names)
        nan = np.full(n, np.nan)
        return pd.DataFrame(
            {
                "session": list(self.names),
                "status": list(self.statuses),
                "shift_um": self.shifts_um,
                "method": self.method,
                "n_matched": nan if self.n_matched is None else self.n_matched,
                "n_comparable": nan if self.n_comparable is None else self.n_comparable,
                "uncertainty_um": nan if self.uncertainty_um is None else self.uncertainty_um,
                "spread_um": nan if self.spread_um is None else self.spread_um,
                "contrast": nan if self.contrast is None else self.contrast,
                "peak_correlation": self.peak_correlation,
                "is_reference": np.arange(n) == self.reference,
                "frame": self.frame,
                "note": list(self.notes) if self.notes else [""] * n,
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
            "status": list(self.statuses),
            "method": self.method,
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
    counted = [_depth_counts(s, bin_um) for s in sessions]
    labels, ref = _checked_sessions(counted, names, reference, max_shift_um)
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
    weak = ~(registration.peak_correlation >= min_correlation)
    shifts[weak] = np.nan
    shifts[ref] = 0.0
    weak[ref] = False
    status = tuple(UNCERTAIN if w else OK for w in weak)
    return SessionShifts(
        names=labels,
        shifts_um=shifts,
        peak_correlation=registration.peak_correlation,
        reference=ref,
        depth_centres_um=centres,
        profiles=profiles,
        frame=counted[0].frame,
        params={
            "max_shift_um": max_shift_um,
            "bin_um": bin_um,
            "smooth_um": smooth_um,
            "log_compress": log_compress,
            "min_correlation": min_correlation,
        },
        status=status,
        method=PROFILE_METHOD,
        notes=tuple(
            f"profiles do not match (correlation {c:.2f} < {min_correlation})" if w else ""
            for w, c in zip(weak, registration.peak_correlation, strict=True)
        ),
    )


def unit_session_shifts(
    units: Sequence[SessionUnits],
    *,
    reference: int | str = 0,
    names: Sequence[str] | None = None,
    profiles: Sequence[SpikeTable | DepthCounts] | None = None,
    max_shift_um: float = 200.0,
    bin_um: float = 2.0,
    smooth_um: float = 4.0,
    **match_options: float,
) -> SessionShifts:
    r"""Shift of every session from a reference session, from the units they share.

    Parameters
    ----------
    units
        Each session's units (:func:`~driftqc.metrics.unit_matching.session_units`; same
        probe and shank, same frame).
    reference
        Index or name of the reference session (default: the first).
    names
        Session names (default: each ``SessionUnits.name``).
    profiles
        Each session's spikes or :class:`DepthCounts`, for the kymograph image and the
        profile correlation (evidence only); default: a profile of the unit positions
        weighted by log(1 + spikes).
    max_shift_um
        Largest shift searched, µm.
    bin_um, smooth_um
        Kymograph profile options (see :func:`session_depth_profiles`).
    **match_options
        Passed to :func:`~driftqc.metrics.unit_matching.match_units` (``tolerance_um``,
        ``min_matched``, ``min_matched_fraction``, ...).

    Returns
    -------
    SessionShifts
        Status and shift per session (µm; NaN unless ``"ok"``), match evidence, kymograph.

    Notes
    -----
    Units are matched between each session and the reference only (not along a chain), so
    one poor session does not spoil the others.

    Examples
    --------
    >>> result = unit_session_shifts([units_day1, units_day2])  # doctest: +SKIP
    >>> result.to_frame()[["session", "status", "shift_um"]]  # doctest: +SKIP
    """
    labels, ref = _checked_sessions(units, names, reference, max_shift_um)
    n = len(units)
    shifts, uncertainty, spread = (np.full(n, np.nan) for _ in range(3))
    matched, comparable, contrast = np.zeros(n), np.zeros(n), np.full(n, np.nan)
    status, notes = [OK] * n, [""] * n
    for k, item in enumerate(units):
        if k == ref:  # the reference is not matched against itself
            continue
        match = match_units(units[ref], item, max_shift_um=max_shift_um, **match_options)
        status[k], notes[k] = match.status, match.note
        shifts[k], uncertainty[k], spread[k] = (
            match.shift_um,
            match.uncertainty_um,
            match.spread_um,
        )
        matched[k], comparable[k] = match.n_matched, match.n_comparable
        contrast[k] = match.contrast
    shifts[ref], uncertainty[ref], status[ref], notes[ref] = 0.0, 0.0, OK, ""
    if profiles is not None:
        if len(profiles) != n:
            raise OptionError(f"{len(profiles)} profiles given for {n} sessions")
        centres, image = session_depth_profiles(
            profiles, bin_um=bin_um, smooth_um=smooth_um, pad_um=max_shift_um
        )
    else:
        centres, image = _unit_profiles(units, bin_um, smooth_um, max_shift_um)
    correlation = register_profiles(
        image, image[ref], int(math.ceil(max_shift_um / bin_um))
    ).peak_correlation
    return SessionShifts(
        names=labels,
        shifts_um=shifts,
        peak_correlation=correlation,
        reference=ref,
        depth_centres_um=centres,
        profiles=image,
        frame=units[0].frame,
        params={
            "max_shift_um": max_shift_um,
            "bin_um": bin_um,
            "smooth_um": smooth_um,
            **match_options,
        },  # fmt: skip
        status=tuple(status),
        method=UNIT_METHOD,
        n_matched=matched,
        n_comparable=comparable,
        uncertainty_um=uncertainty,
        spread_um=spread,
        notes=tuple(notes),
        contrast=contrast,
    )


def _unit_profiles(
    units: Sequence[SessionUnits], bin_um: float, smooth_um: float, pad_um: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kymograph rows from unit positions: log(1 + spikes) per depth bin, smoothed."""
    ys = [np.asarray(u.y_um, dtype=np.float64) for u in units]
    finite = np.concatenate([y[np.isfinite(y)] for y in ys] + [np.zeros(0)])
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    first = math.floor((lo - pad_um) / bin_um)
    n_bins = int(math.ceil((hi + pad_um) / bin_um)) - first + 1
    edges = _edges(first, n_bins, bin_um)
    rows = np.zeros((len(units), n_bins))
    for row, (u, y) in enumerate(zip(units, ys, strict=True)):
        ok = np.isfinite(y)
        rows[row], _ = np.histogram(y[ok], bins=edges, weights=np.log1p(u.n_spikes[ok]))
    rows = gaussian_smooth(rows, max(smooth_um, bin_um) / bin_um)
    return 0.5 * (edges[:-1] + edges[1:]), rows


def _checked_sessions(
    sessions: Sequence[DepthCounts] | Sequence[SessionUnits],
    names: Sequence[str] | None,
    reference: int | str,
    max_shift_um: float,
) -> tuple[tuple[str, ...], int]:
    """Check what both methods need; return the session labels and the reference's index."""
    if not sessions:
        raise OptionError("between-session shifts need at least one session")
    if not max_shift_um > 0:
        raise OptionError(f"max_shift_um={max_shift_um!r} must be positive")
    labels = tuple(names) if names is not None else tuple(s.name for s in sessions)
    if len(labels) != len(sessions):
        raise OptionError(f"{len(labels)} names given for {len(sessions)} sessions")
    frames = {s.frame for s in sessions}
    if len(frames) > 1:
        raise OptionError(
            f"sessions are in different depth frames {sorted(frames)}: convert them to one "
            "frame before comparing positions"
        )
    return labels, _reference_index(reference, labels)


def _reference_index(reference: int | str, names: tuple[str, ...]) -> int:
    if isinstance(reference, str):
        if reference not in names:
            raise OptionError(f"reference session {reference!r} is not among {list(names)}")
        return names.index(reference)
    if not -len(names) <= int(reference) < len(names):
        raise OptionError(f"reference={reference!r}: there are {len(names)} sessions")
    return int(reference) % len(names)
