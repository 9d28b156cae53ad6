"""Decentralised registration: displacements of all time bins from all pairwise shifts.

Registering every time bin against one session reference fails when the reference itself is
wrong. After a step in the middle of a session the median profile holds every unit twice
(before and after the step), and each bin then correlates best with that blurred reference at
a shift of about 0: the step disappears. The decentralised approach (Varol et al. 2021,
"Decentralized motion inference and registration of Neuropixel data"; Windolf et al. 2023,
DREDge) needs no reference. It measures the shift between the depth-activity profiles of
*pairs* of time bins (bin ``i`` against bin ``j``: how far ``i`` lies above ``j``), and then
finds the one
displacement per bin, ``p``, that explains all those pairwise shifts at once,

    ``p_i − p_j ≈ s_ij``  for every pair, weighted by how well the two profiles match,

by (robust, iteratively reweighted) least squares. Two bins on the same side of a step match
at shift 0, two bins on opposite sides match at the step size, and the least-squares solution
places every bin correctly wherever in the session the step happened.

This module works on prepared profiles (one row per time bin, on a common depth grid, in bin
units) and returns shifts in depth bins; :mod:`driftqc.metrics.drift_trace` builds the profiles
and carries units and frames.

**Cost.** Pairwise correlations are computed lag by lag as matrix products of the (time bins ×
depth bins) profile matrix, in row blocks, so memory stays at a (block × bins × lags) array;
time grows with the square of the number of bins, so callers keep it to a few hundred
(:mod:`driftqc.metrics.drift_trace` registers at most 128 stretches of a session this way).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairwiseSolution:
    """Per-bin displacements solved from pairwise shifts, in depth bins.

    Attributes
    ----------
    shifts
        (n_bins,) displacement of each time bin (depth bins), mean zero over solved bins;
        positive when the bin's profile lies at larger depth (y). NaN where the bin took part
        in no usable pair.
    n_pairs
        (n_bins,) number of pairs (with correlation at or above the threshold) each bin took
        part in.
    pair_weight
        (n_bins,) total final least-squares weight of each bin's pairs.
    """

    shifts: np.ndarray
    n_pairs: np.ndarray
    pair_weight: np.ndarray


def pairwise_shifts(
    profiles: np.ndarray,
    usable: np.ndarray,
    max_shift_bins: int,
    *,
    block_rows: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shift and peak correlation between every pair of profiles.

    Parameters
    ----------
    profiles
        (n_bins, n_depth) prepared activity profiles (e.g. log-compressed and smoothed).
    usable
        (n_bins,) True for profiles that may take part (enough spikes).
    max_shift_bins
        Largest shift searched, in depth bins.
    block_rows
        Rows correlated at once (memory: ``block_rows × n_bins × (2 max_shift + 1)``).

    Returns
    -------
    first, second, shift, correlation
        Pair indices ``i`` and ``j``, the sub-bin shift ``s_ij`` (profile ``i`` lies ``s_ij``
        bins above profile ``j``) and the normalised correlation at the best integer lag.
        Pairs whose best lag is the largest searched are left out (shift not measurable).

    Notes
    -----
    Profiles are centred and scaled to unit norm; shifted-in depth bins count as zero, so the
    depth grid should extend past the activity by ``max_shift_bins``. Each unordered pair is
    reported once (``i < j``).
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    n_bins, n_depth = profiles.shape
    rows = np.flatnonzero(np.asarray(usable, dtype=bool))
    centred = profiles[rows] - profiles[rows].mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    rows, centred = rows[norms > 0], centred[norms > 0] / norms[norms > 0, None]
    empty = np.array([], dtype=np.intp), np.array([], dtype=np.intp)
    if len(rows) < 2:
        return (*empty, np.array([]), np.array([]))
    z = centred.astype(np.float32)
    max_shift = int(max(1, min(max_shift_bins, n_depth - 1)))
    lags = np.arange(-max_shift, max_shift + 1)
    n = len(rows)
    partners = np.arange(n)
    zp = z.T  # (n_depth, n)
    firsts, seconds, shifts, peaks = [], [], [], []
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        corr = np.empty((stop - start, len(partners), len(lags)), dtype=np.float32)
        block = z[start:stop]
        for k, lag in enumerate(lags):
            # corr[i, j, k] = Σ_y z_i(y + lag) z_j(y): peaks at lag = p_i − p_j
            corr[:, :, k] = _shift_down(block, lag) @ zp
        best = corr.argmax(axis=2)
        peak = np.take_along_axis(corr, best[..., None], axis=2)[..., 0].astype(np.float64)
        left = np.take_along_axis(corr, np.clip(best - 1, 0, None)[..., None], axis=2)[..., 0]
        right = np.take_along_axis(
            corr, np.clip(best + 1, None, len(lags) - 1)[..., None], axis=2
        )[..., 0]
        offset = _parabola_offset(left.astype(np.float64), peak, right.astype(np.float64))
        i_index = np.arange(start, stop)[:, None] + np.zeros(len(partners), dtype=np.intp)
        j_index = np.broadcast_to(partners, i_index.shape)
        keep = (j_index > i_index) & (best > 0) & (best < len(lags) - 1)
        firsts.append(i_index[keep])
        seconds.append(j_index[keep])
        shifts.append((lags[best] + offset)[keep])
        peaks.append(peak[keep])
    return (
        rows[np.concatenate(firsts)],
        rows[np.concatenate(seconds)],
        np.concatenate(shifts),
        np.concatenate(peaks),
    )


def solve_pairwise(
    n_bins: int,
    first: np.ndarray,
    second: np.ndarray,
    shift: np.ndarray,
    weight: np.ndarray,
    *,
    robust_scale: float = 1.0,
    n_robust_iterations: int = 3,
    smoothness: float = 1e-3,
) -> PairwiseSolution:
    """Least-squares displacements ``p`` with ``p_i − p_j ≈ shift`` over weighted pairs.

    Parameters
    ----------
    n_bins
        Number of time bins.
    first, second, shift, weight
        Pairs ``(i, j)``, their measured shift ``s_ij`` (bins) and weight (≥ 0).
    robust_scale
        Residual scale (bins) of the Cauchy reweighting: a pair whose shift disagrees with
        the current solution by ``r`` bins keeps ``1 / (1 + (r / robust_scale)²)`` of its
        weight, so a few wrong matches (e.g. a unit matched to its neighbour) do not pull
        the solution.
    n_robust_iterations
        Reweighting rounds after the first, plain weighted solution.
    smoothness
        Weight of a weak penalty on differences between consecutive bins, relative to the
        mean pair weight per bin; it only decides bins the pairs leave undetermined.

    Returns
    -------
    PairwiseSolution
        Shifts in bins (mean zero over bins with pairs; NaN for bins without any).
    """
    first = np.asarray(first, dtype=np.intp)
    second = np.asarray(second, dtype=np.intp)
    shift = np.asarray(shift, dtype=np.float64)
    base = np.asarray(weight, dtype=np.float64)
    n_pairs = np.bincount(first, minlength=n_bins) + np.bincount(second, minlength=n_bins)
    solved = n_pairs > 0
    result = np.full(n_bins, np.nan)
    if len(shift) == 0:
        return PairwiseSolution(result, n_pairs, np.zeros(n_bins))
    index = np.cumsum(solved) - 1  # position of each solved bin in the reduced system
    a, b = index[first], index[second]
    m = int(solved.sum())
    w = base.copy()
    p = np.zeros(m)
    for round_ in range(n_robust_iterations + 1):
        if round_:
            residual = p[a] - p[b] - shift
            w = base / (1.0 + (residual / robust_scale) ** 2)
        p = _solve(m, a, b, shift, w, smoothness)
    result[solved] = p - p.mean()
    pair_weight = np.bincount(first, w, n_bins) + np.bincount(second, w, n_bins)
    return PairwiseSolution(result, n_pairs, pair_weight)


def _solve(
    m: int, a: np.ndarray, b: np.ndarray, s: np.ndarray, w: np.ndarray, smoothness: float
) -> np.ndarray:
    """Minimise Σ w (p_a − p_b − s)² + λ Σ (p_{t+1} − p_t)² with mean(p) = 0."""
    degree = np.bincount(a, w, m) + np.bincount(b, w, m)
    rhs = np.bincount(a, w * s, m) - np.bincount(b, w * s, m)
    lam = smoothness * max(float(degree.mean()), 1e-12)
    matrix = np.zeros((m, m))
    np.add.at(matrix, (a, b), -w)
    matrix += matrix.T
    matrix[np.diag_indices(m)] += degree
    if m > 1:
        steps = np.arange(m - 1)
        matrix[steps, steps + 1] -= lam
        matrix[steps + 1, steps] -= lam
        matrix[np.diag_indices(m)] += lam * np.bincount(
            np.concatenate([steps, steps + 1]), minlength=m
        )
    matrix += degree.mean() / m  # pins the free offset: mean(p) = 0
    return np.linalg.solve(matrix, rhs)


def _shift_down(block: np.ndarray, lag: int) -> np.ndarray:
    """Rows moved so that ``out[:, y] = block[:, y + lag]`` (zero where out of range)."""
    out = np.zeros_like(block)
    if lag > 0:
        out[:, :-lag] = block[:, lag:]
    elif lag < 0:
        out[:, -lag:] = block[:, :lag]
    else:
        out[:] = block
    return out


def _parabola_offset(left: np.ndarray, peak: np.ndarray, right: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = left - 2 * peak + right
        offset = np.where(denominator < 0, 0.5 * (left - right) / denominator, 0.0)
    return np.clip(np.nan_to_num(offset), -0.5, 0.5)
