"""Registering depth-activity profiles: how far along the probe one profile is from another.

A *depth-activity profile* counts spikes (or sums their amplitudes) in narrow depth bins. When
the tissue moves by ``d`` µm along the probe, every unit's spikes appear ``d`` µm further up
(larger y), so the whole profile slides by ``d``. The shift between a profile ``p`` and a
reference ``r`` is found where their cross-correlation ``c(k) = Σ_y p(y) · r(y − k)`` peaks,
searched over integer lags within ``±max_shift`` bins and refined below one bin by fitting a
parabola through the peak and its two neighbours.

This module holds the numerical core shared by the within-session trace (one profile per time
bin), the non-rigid trace (correlation restricted to a depth window) and the between-session
shift (one profile per session). It works on plain arrays in bin units; the callers convert to
µm and carry units and frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Registration:
    """Shifts of several profiles against one reference, in depth bins.

    Attributes
    ----------
    shifts
        (n_profiles,) sub-bin shift of each profile relative to the reference, in bins;
        positive when the profile lies at larger depth (y) than the reference. NaN where the
        profile is empty or the peak sits on the edge of the search range.
    peak_correlation
        (n_profiles,) normalised correlation at the best integer lag (-1 … 1).
    at_edge
        (n_profiles,) True when the best lag is the largest one searched (the true shift may
        lie outside the search range).
    """

    shifts: np.ndarray
    peak_correlation: np.ndarray
    at_edge: np.ndarray


def gaussian_smooth(profiles: np.ndarray, sigma_bins: float) -> np.ndarray:
    """Smooth profiles along their last axis with a Gaussian of ``sigma_bins`` bins.

    Values beyond the ends count as zero (no activity outside the probe). ``sigma_bins`` ≤ 0
    returns a float copy.
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    if sigma_bins <= 0:
        return profiles.copy()
    half = max(1, int(np.ceil(4 * sigma_bins)))
    x = np.arange(-half, half + 1)
    kernel = np.exp(-0.5 * (x / sigma_bins) ** 2)
    kernel /= kernel.sum()
    flat = profiles.reshape(-1, profiles.shape[-1])
    n = flat.shape[1]
    out = np.zeros_like(flat)
    # out[y] = Σ_k kernel[k] · values[y + half − k]: np.convolve(mode="same"), all rows at once
    for k, weight in enumerate(kernel):
        lag = half - k
        if lag >= 0:
            if lag < n:
                out[:, : n - lag] += weight * flat[:, lag:]
        elif -lag < n:
            out[:, -lag:] += weight * flat[:, : n + lag]
    return out.reshape(profiles.shape)


def register_profiles(
    profiles: np.ndarray,
    reference: np.ndarray,
    max_shift_bins: int,
    *,
    weights: np.ndarray | None = None,
) -> Registration:
    """Find each profile's shift against a reference by cross-correlation.

    Parameters
    ----------
    profiles
        (n_profiles, n_bins) activity profiles on a common depth grid.
    reference
        (n_bins,) reference profile on the same grid.
    max_shift_bins
        Largest shift searched, in bins (lags ``-max_shift_bins … +max_shift_bins``).
    weights
        Optional (n_bins,) depth window: the correlation sums ``w(y) p(y) r(y − k)`` so that
        only the profile's part inside the window decides its shift (non-rigid windows).

    Returns
    -------
    Registration
        Sub-bin shifts (bins), peak correlation and edge flags.

    Notes
    -----
    Profiles and reference are centred (their mean removed) before correlating, so a flat
    background (e.g. noise spread over the whole probe) does not pull the shift towards 0.
    Lags shift the reference; bins shifted in from beyond the grid count as zero, so the grid
    should extend past the activity by at least ``max_shift_bins``.
    """
    profiles = np.atleast_2d(np.asarray(profiles, dtype=np.float64))
    reference = np.asarray(reference, dtype=np.float64)
    n_profiles, n_bins = profiles.shape
    max_shift_bins = int(max(1, min(max_shift_bins, n_bins - 1)))
    w = np.ones(n_bins) if weights is None else np.asarray(weights, dtype=np.float64)
    p = profiles - profiles.mean(axis=1, keepdims=True)
    r = reference - reference.mean()
    pw = p * w
    lags = np.arange(-max_shift_bins, max_shift_bins + 1)
    p_norm = np.sqrt(np.sum(pw * p, axis=1))
    # column j: the reference moved by lags[j], shifted[y] = r[y - lag]
    shifted = np.stack([_shift_zero_fill(r, lag) for lag in lags], axis=1)
    r_norm = np.sqrt(np.sum(w[:, None] * shifted * shifted, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (pw @ shifted) / (p_norm[:, None] * r_norm[None, :])
    corr = np.nan_to_num(corr, nan=-np.inf)
    best = np.argmax(corr, axis=1)
    rows = np.arange(n_profiles)
    peak = corr[rows, best]
    at_edge = (best == 0) | (best == len(lags) - 1)
    left = corr[rows, np.clip(best - 1, 0, None)]
    right = corr[rows, np.clip(best + 1, None, len(lags) - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = left - 2 * peak + right
        offset = np.where(denominator < 0, 0.5 * (left - right) / denominator, 0.0)
    offset = np.clip(np.nan_to_num(offset), -0.5, 0.5)
    shifts = lags[best] + offset
    empty = ~np.isfinite(peak) | (p_norm == 0)
    shifts = np.where(empty | at_edge, np.nan, shifts)
    peak = np.where(empty, np.nan, peak)
    return Registration(shifts=shifts, peak_correlation=peak, at_edge=at_edge & ~empty)


def shift_profiles(profiles: np.ndarray, shifts_bins: np.ndarray) -> np.ndarray:
    """Move each profile by ``-shift`` bins (linear interpolation), undoing a measured shift.

    NaN shifts leave the profile unchanged. Bins moved in from beyond the grid are zero.
    """
    profiles = np.atleast_2d(np.asarray(profiles, dtype=np.float64))
    shifts = np.asarray(shifts_bins, dtype=np.float64)
    n = profiles.shape[1]
    y = np.arange(n)
    out = profiles.copy()
    moved = np.isfinite(shifts) & (shifts != 0)
    whole = np.floor(np.where(moved, shifts, 0.0)).astype(np.intp)
    # out[y] = linear interpolation of the profile at y + shift (zero outside the grid),
    # done for all rows that share the whole-bin part of their shift at once
    for k in np.unique(whole[moved]):
        rows = np.flatnonzero(moved & (whole == k))
        frac = (shifts[rows] - k)[:, None]
        source = y + k
        lower = _take_zero(profiles[rows], source)
        upper = _take_zero(profiles[rows], source + 1)
        inside = (source >= 0) & (source <= n - 1)
        values = (1.0 - frac) * lower + frac * upper
        values[:, ~inside] = 0.0
        if 0 <= n - 1 - k < n:  # y + shift lands beyond the last bin when frac > 0
            values[:, n - 1 - k] = np.where(frac[:, 0] == 0, values[:, n - 1 - k], 0.0)
        out[rows] = values
    return out


def _take_zero(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``rows[:, columns]`` with zeros for columns outside the grid."""
    n = rows.shape[1]
    ok = (columns >= 0) & (columns < n)
    out = np.zeros((rows.shape[0], len(columns)))
    out[:, ok] = rows[:, columns[ok]]
    return out


def _shift_zero_fill(values: np.ndarray, lag: int) -> np.ndarray:
    out = np.zeros_like(values)
    if lag > 0:
        out[lag:] = values[:-lag]
    elif lag < 0:
        out[:lag] = values[-lag:]
    else:
        out[:] = values
    return out
