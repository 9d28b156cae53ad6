"""Where a unit sits on the probe: a point-source fit of its template's amplitude.

A unit's **template** is its mean waveform on every channel. Its amplitude on a channel (the
peak-to-trough, :func:`driftqc.geometry.peak_to_trough`) falls with the distance between
the channel and the neuron, so the pattern of amplitudes across the channels says where the
neuron is. The centre of mass of those amplitudes (:func:`driftqc.geometry.template_depths`)
and Kilosort 4's own positions are pulled towards the rows of sites (every 20 µm on a
Neuropixels 1.0 probe): a unit moved by 25 µm reads as moved by ~22 or ~33 µm. Fitting a
point source removes most of that pull.

**Model.** A unit at ``(x, y)`` at a distance ``z`` from the probe plane gives, on a channel at
``(xc, yc)``,

    a = A · r^(−p),   r² = (x − xc)² + (y − yc)² + z²,

with ``A`` its amplitude and ``p`` how fast it falls off (1 for an ideal monopole; real
templates, after the sorter's filtering, fall off faster, so ``p`` is fitted too). The fit
uses the channels of the unit's shank within ``radius_um`` of its peak channel, by least
squares on the amplitudes: ``A`` in closed form, ``(x, y, z, p)`` by a coarse grid search then
three finer grids around the best point (no optimiser needed, and no local minima to fall
into). The result is in the frame of the channel positions (the sorter's saved frame: Kilosort
2.5–4 templates are in its registered frame).

**Whitening.** Kilosort saves *whitened* templates; their amplitudes across channels are not
those of the recording. Give ``whitening_inverse`` (``whitening_mat_inv.npy``) to fit the
unwhitened templates; without it the templates are fitted as they are (Kilosort 4 fixture:
unit depths scatter 2–3 times more when whitened).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftqc.errors import OptionError, SortingFormatError
from driftqc.geometry import peak_to_trough

__all__ = ["UnitPositions", "localise_units", "peak_waveforms"]

#: fall-off exponents searched, coarse stage
_POWERS = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
_MAX_POWER = 10.0
_MIN_Z_UM = 1.0
_MAX_Z_UM = 120.0


@dataclass(frozen=True)
class UnitPositions:
    """Point-source fit of each template (one row per template; NaN where unfitted).

    Attributes
    ----------
    x_um, y_um
        Position on the probe, µm, in the frame of the channel positions.
    z_um
        Distance from the probe plane, µm.
    power
        Fitted fall-off exponent ``p``.
    amplitude
        Largest per-channel peak-to-trough of the (unwhitened) template, template units.
    residual
        Root-mean-square misfit over the fitted channels, as a fraction of ``amplitude``.
    n_channels
        Channels used by the fit.
    """

    x_um: np.ndarray
    y_um: np.ndarray
    z_um: np.ndarray
    power: np.ndarray
    amplitude: np.ndarray
    residual: np.ndarray
    n_channels: np.ndarray

    def to_array(self) -> np.ndarray:
        """(n_templates, 7) float32: the attributes in their documented order."""
        return np.column_stack(
            [
                self.x_um,
                self.y_um,
                self.z_um,
                self.power,
                self.amplitude,
                self.residual,
                self.n_channels,
            ]  # fmt: skip
        ).astype(np.float32)

    @classmethod
    def from_array(cls, values: np.ndarray) -> UnitPositions:
        """Rebuild from :meth:`to_array`."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != 7:
            raise SortingFormatError(f"unit positions must be (n, 7), got {values.shape}")
        return cls(*(values[:, k] for k in range(7)))

    def __len__(self) -> int:
        """Return the number of templates."""
        return len(self.y_um)


def localise_units(
    templates: np.ndarray,
    channel_positions: np.ndarray,
    *,
    channel_shanks: np.ndarray | None = None,
    whitening_inverse: np.ndarray | None = None,
    radius_um: float = 100.0,
) -> UnitPositions:
    """Fit a point source to each template's amplitudes across channels.

    Parameters
    ----------
    templates
        (n_templates, n_samples, n_channels) dense waveforms.
    channel_positions
        (n_channels, 2) channel x/y, µm.
    channel_shanks
        (n_channels,) shank of each channel; the fit uses the peak channel's shank only.
    whitening_inverse
        (n_channels, n_channels) inverse whitening matrix, applied first (Kilosort).
    radius_um
        Channels further than this from the peak channel are left out, µm.

    Returns
    -------
    UnitPositions
        One fit per template.

    Notes
    -----
    A template with fewer than 4 usable channels or no positive amplitude gets NaN. A unit
    beyond the end of the probe is placed near the end (only its tail is seen); such
    positions are less certain, and its ``residual`` is usually larger.

    Examples
    --------
    >>> fit = localise_units(sorting.templates, sorting.channel_positions)  # doctest: +SKIP
    >>> fit.y_um[:3]  # doctest: +SKIP
    """
    if not radius_um > 0:
        raise OptionError(f"radius_um={radius_um!r} must be > 0")
    amplitudes = channel_amplitudes(templates, whitening_inverse)
    positions = np.asarray(channel_positions, dtype=np.float64)
    if amplitudes.shape[1] != len(positions):
        raise SortingFormatError(
            f"templates have {amplitudes.shape[1]} channels, the probe {len(positions)}"
        )
    shanks = np.zeros(len(positions)) if channel_shanks is None else np.asarray(channel_shanks)
    out = np.full((len(amplitudes), 7), np.nan)
    for k, amp in enumerate(amplitudes):
        peak = int(np.argmax(amp)) if amp.size else 0
        if not amp.size or not amp[peak] > 0:
            continue
        near = (shanks == shanks[peak]) & (np.hypot(*(positions - positions[peak]).T) <= radius_um)
        if near.sum() < 4:
            continue
        x, y, z, power, misfit = _fit_one(positions[near], amp[near], positions[peak])
        out[k] = (x, y, z, power, amp[peak], misfit / amp[peak], near.sum())
    return UnitPositions.from_array(out)


def channel_amplitudes(
    templates: np.ndarray, whitening_inverse: np.ndarray | None = None
) -> np.ndarray:
    """(n_templates, n_channels) peak-to-trough of each (unwhitened) template, float64."""
    templates = np.asarray(templates, dtype=np.float64)
    if templates.ndim != 3:
        raise SortingFormatError(
            f"templates must be (n_templates, n_samples, n_channels), got {templates.shape}"
        )
    if whitening_inverse is not None:
        templates = templates @ np.asarray(whitening_inverse, dtype=np.float64)
    return peak_to_trough(templates)


def peak_waveforms(
    templates: np.ndarray, whitening_inverse: np.ndarray | None = None
) -> np.ndarray:
    """Each template's (unwhitened) waveform on its peak channel, scaled to unit norm.

    Returns
    -------
    numpy.ndarray
        (n_templates, n_samples) float32; zeros for a flat template.
    """
    templates = np.asarray(templates, dtype=np.float64)
    if whitening_inverse is not None:
        templates = templates @ np.asarray(whitening_inverse, dtype=np.float64)
    if templates.shape[0] == 0:
        return np.zeros((0, templates.shape[1]), dtype=np.float32)
    peak = peak_to_trough(templates).argmax(axis=1)
    waves = templates[np.arange(len(templates)), :, peak]
    waves = waves - waves.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(waves, axis=1, keepdims=True)
    return np.divide(waves, norm, out=np.zeros_like(waves), where=norm > 0).astype(np.float32)


def _fit_one(
    where: np.ndarray, amp: np.ndarray, peak_xy: np.ndarray
) -> tuple[float, float, float, float, float]:
    """Grid-search least-squares fit of ``A r^-p``: x, y, z, p and the RMS misfit."""
    span_x = where[:, 0].min() - 20.0, where[:, 0].max() + 20.0
    xs = np.arange(span_x[0], span_x[1] + 1e-9, 6.0)
    ys = peak_xy[1] + np.arange(-40.0, 40.0 + 1e-9, 4.0)
    zs = np.arange(_MIN_Z_UM, 90.0, 8.0)
    best = _search(where, amp, xs, ys, zs, _POWERS)
    for step in (2.0, 0.5, 0.125):
        x, y, z, p, _ = best
        offsets = np.arange(-4, 5) * step
        best = _search(
            where,
            amp,
            x + offsets,
            y + offsets,
            np.clip(z + offsets, _MIN_Z_UM, _MAX_Z_UM),
            np.clip(p + np.arange(-2, 3) * step / 4, 0.25, _MAX_POWER),
        )
    return best


def _search(
    where: np.ndarray,
    amp: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    zs: np.ndarray,
    ps: np.ndarray,
) -> tuple[float, float, float, float, float]:
    x, y, z, p = (g.ravel() for g in np.meshgrid(xs, ys, np.unique(zs), np.unique(ps)))
    r2 = (where[:, 0] - x[:, None]) ** 2 + (where[:, 1] - y[:, None]) ** 2 + z[:, None] ** 2
    shape = np.exp(np.log(r2) * (-0.5 * p[:, None]))
    scale = (shape @ amp) / np.einsum("ij,ij->i", shape, shape)
    misfit = ((amp - scale[:, None] * shape) ** 2).mean(axis=1)
    i = int(np.argmin(misfit))
    return float(x[i]), float(y[i]), float(z[i]), float(p[i]), float(np.sqrt(misfit[i]))
