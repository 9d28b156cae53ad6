"""Between-session shift from matched units: the same neurons, seen again a few µm away.

If the probe sits ``s`` µm lower in the tissue in a later session, every neuron it still
records appears ``s`` µm higher on the probe (larger y). Each session is reduced to its
**units** (:class:`SessionUnits`): where each template sits (a point-source fit,
:mod:`driftqc.metrics.unit_localisation`), how large its spikes are, how many it fired and
the shape of its waveform on its peak channel. Units of two sessions *match* when they sit
at the same x, differ in y by the same ``s`` as the other matches, and look alike (waveform
shape, amplitude, distance from the probe). The shift is the median y difference of the
matched pairs.

How ``s`` is found: every compatible pair (same x within ``max_dx_um``, similar waveform and
amplitude, |dy| ≤ ``max_shift_um``) votes for its own y difference with a Gaussian of width
``tolerance_um / 2``; each reference unit votes once per shift, for its best partner. The
shift with the most votes is refined by a one-to-one matching within ``tolerance_um`` and the
median of the matched differences.

**Distinctive or not.** Two sessions with different neurons still have a "best" shift: a few
strangers always line up by chance. A shift is reported (status ``ok``) only when the match
is distinctive: at least ``min_matched`` pairs, at least ``min_matched_fraction`` of the
units that could have been seen in both sessions (those that stay on the probe after the
shift) matched, and a *contrast* of at least ``min_contrast``: the best shift must have that
many times the support of any other shift (strangers line up about as well at any shift,
contrast ≈ 1; the same units moved give 10 on the validation cases). Otherwise the status
is ``uncertain`` and there is no number. Units near the probe's ends that leave it in one
session simply find no partner, so they do not bias the shift (as they do in a
depth-profile registration).

**Sign.** Positive when the session's units appear at larger y than the reference's, µm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from driftqc.errors import OptionError
from driftqc.metrics.unit_localisation import UnitPositions
from driftqc.model import SpikeTable

__all__ = ["SessionUnits", "UnitMatch", "match_units", "session_units"]

OK = "ok"
UNCERTAIN = "uncertain"
#: method name written in tables
METHOD = "matched units (point-source fit)"


@dataclass(frozen=True)
class SessionUnits:
    """The units of one session (one shank), as the between-session shift needs them.

    Attributes
    ----------
    name
        Session name.
    frame
        Frame of the positions (``"raw"``, ``"registered"``, ``"unknown"``).
    ids
        (n,) template ids.
    x_um, y_um, z_um
        (n,) fitted positions, µm.
    amplitude
        (n,) median spike amplitude of each unit, in ``amplitude_unit``.
    n_spikes
        (n,) spikes of each unit.
    waveforms
        (n, n_samples) unit-norm peak-channel waveforms, or None.
    amplitude_unit
        Unit of ``amplitude`` (amplitudes are compared only between equal units).
    probe_y_range_um
        Smallest and largest channel y of the shank, µm.
    """

    name: str
    frame: str
    ids: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    z_um: np.ndarray
    amplitude: np.ndarray
    n_spikes: np.ndarray
    waveforms: np.ndarray | None
    amplitude_unit: str
    probe_y_range_um: tuple[float, float]

    def __len__(self) -> int:
        """Return the number of units."""
        return len(self.y_um)

    def take(self, index: np.ndarray) -> SessionUnits:
        """Return the units at ``index`` (boolean mask or indices)."""
        pick = {
            k: np.asarray(getattr(self, k))[index]
            for k in ("ids", "x_um", "y_um", "z_um", "amplitude", "n_spikes")
        }
        waves = None if self.waveforms is None else np.asarray(self.waveforms)[index]
        return SessionUnits(
            self.name, self.frame, waveforms=waves, amplitude_unit=self.amplitude_unit,
            probe_y_range_um=self.probe_y_range_um, **pick,
        )  # fmt: skip


@dataclass(frozen=True)
class UnitMatch:
    """Shift of one session from the reference, from matched units.

    Attributes
    ----------
    status
        ``"ok"`` (distinctive match) or ``"uncertain"`` (no shift reported).
    shift_um
        Median y difference of the matched pairs (session − reference), µm; NaN unless ok.
    candidate_shift_um
        The best shift found, reported or not, µm (NaN when no pair was compatible).
    n_matched
        Matched pairs.
    n_comparable
        Units that could be matched: those of the smaller session that stay on the
        other's probe after the shift.
    spread_um
        Robust SD of the matched pairs' differences (1.4826 × MAD), µm.
    uncertainty_um
        Standard error of the shift (1.2533 × spread / √n_matched), µm.
    pairs
        (n_matched, 2) template ids: reference, session.
    note
        Why the match is uncertain, else empty.
    contrast
        Support of the best shift over that of the best other shift (more than two
        tolerances away): ~1 for strangers, who line up as well anywhere.
    """

    status: str
    shift_um: float
    candidate_shift_um: float
    n_matched: int
    n_comparable: int
    spread_um: float
    uncertainty_um: float
    pairs: np.ndarray = field(repr=False)
    note: str = ""
    contrast: float = math.nan

    @property
    def matched_fraction(self) -> float:
        """n_matched / n_comparable (NaN when nothing was comparable)."""
        return self.n_matched / self.n_comparable if self.n_comparable else math.nan


def match_units(
    reference: SessionUnits,
    session: SessionUnits,
    *,
    max_shift_um: float = 200.0,
    tolerance_um: float = 6.0,
    max_dx_um: float = 15.0,
    max_amplitude_ratio: float = 2.0,
    min_waveform_similarity: float = 0.8,
    min_matched: int = 3,
    min_matched_fraction: float = 0.5,
    min_contrast: float = 2.0,
) -> UnitMatch:
    """Match a session's units to the reference's and measure the shift between them.

    Parameters
    ----------
    reference, session
        The two sessions' units (same probe, same shank, same frame).
    max_shift_um
        Largest shift searched, µm.
    tolerance_um
        Largest difference between a pair's y difference and the shift, µm.
    max_dx_um
        Largest x difference of a pair, µm.
    max_amplitude_ratio
        Largest ratio of a pair's amplitudes (ignored when the units differ).
    min_waveform_similarity
        Smallest cosine similarity of a pair's peak-channel waveforms (ignored without
        waveforms or when their lengths differ).
    min_matched, min_matched_fraction
        A shift is reported only with at least this many matched pairs and this fraction of
        the comparable units matched.
    min_contrast
        ... and when the best shift has at least this many times the support of any other
        shift more than ``2 * tolerance_um`` away.

    Returns
    -------
    UnitMatch
        Status, shift (µm, positive = the session's units at larger y) and evidence.

    Examples
    --------
    >>> match = match_units(units["day1"], units["day2"])  # doctest: +SKIP
    >>> match.status, match.shift_um  # doctest: +SKIP
    ('ok', 24.6)
    """
    if not max_shift_um > 0 or not tolerance_um > 0:
        raise OptionError("max_shift_um and tolerance_um must be > 0")
    ref, ses = _usable(reference), _usable(session)
    empty = np.zeros((0, 2), dtype=np.int64)
    if len(ref) == 0 or len(ses) == 0:
        return UnitMatch(UNCERTAIN, math.nan, math.nan, 0, 0, math.nan, math.nan, empty,
                         "no localised unit in one of the sessions")  # fmt: skip
    ii, jj, dy, cost = _compatible_pairs(
        ref, ses, max_shift_um, max_dx_um, max_amplitude_ratio, min_waveform_similarity
    )
    if len(dy) == 0:
        return UnitMatch(UNCERTAIN, math.nan, math.nan, 0, 0, math.nan, math.nan, empty,
                         "no unit has a look-alike in the reference")  # fmt: skip
    shift, contrast = _vote(ii, dy, cost, max_shift_um, tolerance_um)
    for _ in range(3):
        chosen = _assign(ii, jj, np.abs(dy - shift) / tolerance_um + cost, dy, shift, tolerance_um)
        if not chosen.size:
            break
        shift = float(np.median(dy[chosen]))
    chosen = _assign(ii, jj, np.abs(dy - shift) / tolerance_um + cost, dy, shift, tolerance_um)
    n = int(chosen.size)
    comparable = _n_comparable(ref, ses, shift, tolerance_um)
    spread = 1.4826 * float(np.median(np.abs(dy[chosen] - shift))) if n else math.nan
    pairs = np.column_stack([ref.ids[ii[chosen]], ses.ids[jj[chosen]]]).astype(np.int64)
    fraction = n / comparable if comparable else 0.0
    if n < min_matched or fraction < min_matched_fraction or contrast < min_contrast:
        note = (
            f"not distinctive: {n} of {comparable} comparable units matched "
            f"(needs {min_matched} and {min_matched_fraction:.0%}), {contrast:.1f} times the "
            f"support of any other shift (needs {min_contrast:g}); different units?"
        )
        return UnitMatch(
            UNCERTAIN, math.nan, shift, n, comparable, spread, math.nan, pairs, note, contrast
        )
    uncertainty = 1.2533 * spread / math.sqrt(n)
    return UnitMatch(OK, shift, shift, n, comparable, spread, uncertainty, pairs, "", contrast)


def session_units(
    spikes: SpikeTable,
    positions: UnitPositions,
    channel_y_um: np.ndarray,
    *,
    waveforms: np.ndarray | None = None,
    frame: str | None = None,
    min_spikes: int = 10,
) -> SessionUnits:
    """Collect a session's units: fitted positions plus each unit's spikes in ``spikes``.

    Parameters
    ----------
    spikes
        The session's (filtered) spikes; a unit is a template with at least ``min_spikes``
        spikes here, so units filtered out (noise) are left out.
    positions
        Point-source fit of every template
        (:func:`~driftqc.metrics.unit_localisation.localise_units`).
    channel_y_um
        y of the channels the units may be seen on (one shank), µm.
    waveforms
        (n_templates, n_samples) unit-norm peak-channel waveforms, or None.
    frame
        Frame of ``positions`` (default: the spikes' frame).
    min_spikes
        Fewest spikes a unit needs.

    Returns
    -------
    SessionUnits
        One row per unit, amplitude = median spike amplitude.
    """
    templates = np.asarray(spikes.templates, dtype=np.int64)
    n_templates = len(positions)
    inside = (templates >= 0) & (templates < n_templates)
    counts = np.bincount(templates[inside], minlength=n_templates)
    ids = np.flatnonzero((counts >= max(min_spikes, 1)) & np.isfinite(positions.y_um))
    amplitude = np.full(len(ids), np.nan)
    if len(ids):
        order = np.argsort(templates[inside], kind="stable")
        sorted_t = templates[inside][order]
        sorted_a = np.asarray(spikes.amplitudes)[inside][order]
        starts = np.searchsorted(sorted_t, ids)
        stops = np.searchsorted(sorted_t, ids, side="right")
        amplitude = np.array(
            [np.median(sorted_a[a:b]) for a, b in zip(starts, stops, strict=True)]
        )
    y = np.asarray(channel_y_um, dtype=np.float64)
    return SessionUnits(
        name=spikes.info.name,
        frame=frame if frame is not None else spikes.info.depth_frame,
        ids=ids,
        x_um=positions.x_um[ids],
        y_um=positions.y_um[ids],
        z_um=positions.z_um[ids],
        amplitude=amplitude,
        n_spikes=counts[ids],
        waveforms=None if waveforms is None else np.asarray(waveforms)[ids],
        amplitude_unit=spikes.info.amplitude_unit,
        probe_y_range_um=(float(y.min()), float(y.max())) if y.size else (0.0, 0.0),
    )


def _usable(units: SessionUnits) -> SessionUnits:
    keep = np.isfinite(units.y_um) & np.isfinite(units.x_um) & (np.asarray(units.n_spikes) > 0)
    return units.take(keep)


def _compatible_pairs(
    ref: SessionUnits,
    ses: SessionUnits,
    max_shift_um: float,
    max_dx_um: float,
    max_ratio: float,
    min_similarity: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (reference, session) that may be the same unit, their dy and a cost ≥ 0."""
    dx = np.abs(ses.x_um[None, :] - ref.x_um[:, None])
    dy = ses.y_um[None, :] - ref.y_um[:, None]
    ok = (dx <= max_dx_um) & (np.abs(dy) <= max_shift_um)
    cost = (dx / max_dx_um) ** 2
    if ref.amplitude_unit == ses.amplitude_unit:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.abs(np.log(ses.amplitude[None, :] / ref.amplitude[:, None]))
        ok &= log_ratio <= math.log(max_ratio)
        cost = cost + (log_ratio / math.log(max_ratio)) ** 2
    if (
        ref.waveforms is not None
        and ses.waveforms is not None
        and ref.waveforms.shape[1] == ses.waveforms.shape[1]
    ):
        similarity = np.asarray(ref.waveforms, np.float64) @ np.asarray(ses.waveforms).T
        ok &= similarity >= min_similarity
        cost = cost + ((1 - similarity) / (1 - min_similarity)) ** 2
    cost = cost + (np.abs(ses.z_um[None, :] - ref.z_um[:, None]) / 50.0) ** 2
    ok &= np.isfinite(cost)
    ii, jj = np.nonzero(ok)
    return ii, jj, dy[ii, jj], cost[ii, jj]


def _vote(
    ii: np.ndarray,
    dy: np.ndarray,
    cost: np.ndarray,
    max_shift_um: float,
    tolerance_um: float,
) -> tuple[float, float]:
    """Shift with the most support, and how much more it has than any other shift.

    Each reference unit backs a shift with its best partner there. The contrast is the
    support of the best shift over the best support more than ``2 * tolerance_um`` away
    (inf when there is none): strangers line up about as well at one shift as at another.
    """
    step = tolerance_um / 12
    shifts = np.arange(-max_shift_um, max_shift_um + step / 2, step)
    order = np.argsort(ii, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(ii[order]) != 0])
    weight = np.exp(-cost[order])
    score = np.zeros(len(shifts))
    for first in range(0, len(shifts), 128):
        block = shifts[first : first + 128]
        votes = weight * np.exp(-0.5 * ((dy[order] - block[:, None]) / (tolerance_um / 2)) ** 2)
        score[first : first + 128] = np.maximum.reduceat(votes, starts, axis=1).sum(axis=1)
    best = int(np.argmax(score))
    away = np.abs(shifts - shifts[best]) > 2 * tolerance_um
    runner_up = float(score[away].max()) if away.any() else 0.0
    return float(shifts[best]), (score[best] / runner_up if runner_up > 0 else math.inf)


def _assign(
    ii: np.ndarray,
    jj: np.ndarray,
    cost: np.ndarray,
    dy: np.ndarray,
    shift: float,
    tolerance_um: float,
) -> np.ndarray:
    """Greedy one-to-one matching of the pairs within ``tolerance_um`` of the shift."""
    chosen: list[int] = []
    used_i: set[int] = set()
    used_j: set[int] = set()
    for k in np.argsort(cost, kind="stable"):
        if abs(dy[k] - shift) > tolerance_um or ii[k] in used_i or jj[k] in used_j:
            continue
        chosen.append(int(k))
        used_i.add(int(ii[k]))
        used_j.add(int(jj[k]))
    return np.asarray(chosen, dtype=np.int64)


def _n_comparable(ref: SessionUnits, ses: SessionUnits, shift: float, margin_um: float) -> int:
    """Units of the smaller session that stay on the other session's probe after the shift."""
    lo, hi = ses.probe_y_range_um
    in_ses = np.sum((ref.y_um + shift >= lo - margin_um) & (ref.y_um + shift <= hi + margin_um))
    lo, hi = ref.probe_y_range_um
    in_ref = np.sum((ses.y_um - shift >= lo - margin_um) & (ses.y_um - shift <= hi + margin_um))
    return int(min(in_ses, in_ref))
