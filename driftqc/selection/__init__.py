"""Choosing which spikes a drift map shows.

Three filters, always in this order: the **label** filter drops spikes of clusters labelled
noise; the **amplitude** filter keeps spikes whose amplitude lies within bounds given as
percentiles (of the spikes left by the label filter) or as absolute values, both bounds
inclusive; **decimation** keeps every n-th remaining spike so a scatter stays readable and
fast. Spikes without a finite depth or amplitude are set aside first and counted.

Decimation only thins what is drawn as points: a :class:`Selection` keeps both the spikes
that passed the filters (``kept``, for histograms and density images) and the thinned ones
(``shown``, for scatters).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from driftqc.io.labels import resolve_label_source
from driftqc.model import NOISE_LABEL, Sorting, SpikeTable
from driftqc.options import DECIMATE_TARGET, Decimate, check_amplitude_filter, check_decimate


@dataclass(frozen=True)
class Selection:
    """The spikes a drift map draws, and how they were chosen.

    Attributes
    ----------
    kept
        Spikes that passed the label and amplitude filters (not decimated).
    shown
        ``kept`` thinned by ``decimation`` (every n-th spike).
    n_total
        Spikes in the session before any filter.
    n_invalid
        Spikes set aside because their depth or amplitude is not finite.
    n_noise
        Spikes removed by the label filter.
    n_amplitude
        Spikes removed by the amplitude filter.
    decimation
        Decimation factor (1: none).
    amplitude_bounds
        The absolute amplitude bounds applied, or None.
    filters
        Human-readable summary of the filters, for figure captions.
    """

    kept: SpikeTable
    shown: SpikeTable
    n_total: int
    n_invalid: int
    n_noise: int
    n_amplitude: int
    decimation: int
    amplitude_bounds: tuple[float, float] | None
    filters: tuple[str, ...]

    @property
    def caption(self) -> str:
        """One line saying what a figure of this selection shows."""
        info = self.kept.info
        parts = [
            f"{info.name}: {len(self.shown):,} of {self.n_total:,} spikes shown",
            *self.filters,
            f"depth frame: {info.depth_frame}",
        ]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """Return the counts and filters as JSON-serialisable values."""
        return {
            "n_total": self.n_total,
            "n_invalid": self.n_invalid,
            "n_noise_removed": self.n_noise,
            "n_amplitude_removed": self.n_amplitude,
            "n_kept": len(self.kept),
            "n_shown": len(self.shown),
            "decimation": self.decimation,
            "amplitude_bounds": None
            if self.amplitude_bounds is None
            else list(self.amplitude_bounds),
            "filters": list(self.filters),
        }


def drop_invalid(spikes: SpikeTable) -> SpikeTable:
    """Remove spikes whose depth or amplitude is NaN or infinite."""
    # a finite sum proves every value finite (one cheap pass); NaN, inf or overflow -> mask
    with np.errstate(over="ignore", invalid="ignore"):
        sums = np.add.reduce(spikes.depths), np.add.reduce(spikes.amplitudes)
    if np.isfinite(sums).all():
        return spikes
    valid = np.isfinite(spikes.depths) & np.isfinite(spikes.amplitudes)
    return spikes if valid.all() else spikes.take(valid)


def exclude_labels(
    spikes: SpikeTable,
    labels: Mapping[int, str] | None = None,
    excluded: Sequence[str] = (NOISE_LABEL,),
) -> SpikeTable:
    """Remove spikes of clusters whose label is one of ``excluded``.

    Parameters
    ----------
    spikes
        The spikes to filter.
    labels
        ``cluster id -> label``; by default the table's own ``cluster_labels``.
    excluded
        Labels to drop (compared lower-case).
    """
    labels = spikes.cluster_labels if labels is None else labels
    drop_ids = labelled_clusters(labels, excluded)
    if not len(drop_ids):
        return spikes
    drop = np.isin(spikes.clusters, drop_ids)
    return spikes.take(~drop) if drop.any() else spikes


def labelled_clusters(
    labels: Mapping[int, str], wanted: Sequence[str] = (NOISE_LABEL,)
) -> np.ndarray:
    """Ids of the clusters whose label (compared lower-case) is one of ``wanted``."""
    return np.asarray(
        [cid for cid, lab in labels.items() if lab.lower() in wanted], dtype=np.int64
    )


def amplitude_bounds(
    amplitudes: np.ndarray, mode: str, values: Sequence[float]
) -> tuple[float, float]:
    """Absolute ``(low, high)`` bounds for an amplitude filter given as percentiles or values."""
    checked = check_amplitude_filter(mode, values)
    if checked is None:
        return -np.inf, np.inf
    mode, (low, high) = checked
    if mode == "absolute" or len(amplitudes) == 0:
        return low, high
    low_value, high_value = np.percentile(amplitudes, [low, high])
    return float(low_value), float(high_value)


def filter_amplitude(spikes: SpikeTable, bounds: tuple[float, float]) -> SpikeTable:
    """Keep spikes with ``low <= amplitude <= high``."""
    low, high = bounds
    keep = (spikes.amplitudes >= np.float32(low)) & (spikes.amplitudes <= np.float32(high))
    return spikes if keep.all() else spikes.take(keep)


def decimation_factor(n_spikes: int, decimate: Decimate) -> int:
    """Return the thinning factor ``decimate`` asks for with ``n_spikes`` spikes (1: none)."""
    factor = check_decimate(decimate)
    if factor is None:
        factor = max(1, math.ceil(n_spikes / DECIMATE_TARGET))
    return factor


def select_spikes(
    source: Sorting | SpikeTable,
    *,
    exclude_noise: bool | str = False,
    filter_amplitude_mode: str | None = None,
    filter_amplitude_values: Sequence[float] = (),
    decimate: Decimate = "estimate",
) -> Selection:
    """Apply the label filter, the amplitude filter and decimation, in that order.

    Parameters
    ----------
    source
        A loaded sorting (needed for ``exclude_noise`` given as a label source name) or a
        spike table.
    exclude_noise
        ``True`` drops spikes of clusters labelled noise in the preferred label file; a string
        names the label source (``"group"``, ``"KSLabel"``, ...).
    filter_amplitude_mode
        ``"percentile"``, ``"absolute"`` or None (no amplitude filter).
    filter_amplitude_values
        ``(low, high)``: percentiles (0–100) of the label-filtered amplitudes, or absolute
        amplitudes. Both bounds are inclusive.
    decimate
        ``"estimate"`` thins to at most 100 000 spikes, an integer n keeps every n-th spike,
        ``False``/``None``/``0`` keeps all.

    Returns
    -------
    Selection
        The kept and shown spikes and how many each filter removed.

    Notes
    -----
    An empty result is not an error: it gives a warning, and the maps are drawn empty with a
    caption saying so.

    Examples
    --------
    >>> sel = select_spikes(sorting, exclude_noise=True, filter_amplitude_mode="percentile",
    ...                     filter_amplitude_values=(1, 99))  # doctest: +SKIP
    >>> sel.caption  # doctest: +SKIP
    """
    check_decimate(decimate)
    amp_filter = check_amplitude_filter(filter_amplitude_mode, filter_amplitude_values)
    if isinstance(source, Sorting):
        spikes = source.spikes
        sources = source.label_sources
    else:
        spikes = source
        sources = {"labels": dict(spikes.cluster_labels)} if spikes.cluster_labels else {}
    n_total = len(spikes)
    filters: list[str] = []

    valid = drop_invalid(spikes)
    n_invalid = n_total - len(valid)
    if n_invalid:
        filters.append(f"{n_invalid:,} spikes without finite depth/amplitude left out")

    after_labels = valid
    if exclude_noise:
        where = spikes.info.path or spikes.info.name
        labels = resolve_label_source(dict(sources), exclude_noise, where)  # type: ignore[arg-type]
        after_labels = exclude_labels(valid, labels)
        filters.append("noise units excluded")
    n_noise = len(valid) - len(after_labels)

    kept = after_labels
    bounds = None
    if amp_filter is not None:
        mode, values = amp_filter
        bounds = amplitude_bounds(after_labels.amplitudes, mode, values)
        kept = filter_amplitude(after_labels, bounds)
        unit = spikes.info.amplitude_unit
        if mode == "percentile":
            filters.append(
                f"amplitude {values[0]:g}–{values[1]:g} percentile "
                f"({bounds[0]:.3g}–{bounds[1]:.3g} {unit})"
            )
        else:
            filters.append(f"amplitude {bounds[0]:.3g}–{bounds[1]:.3g} {unit}")
    n_amplitude = len(after_labels) - len(kept)

    factor = decimation_factor(len(kept), decimate)
    shown = kept.take(slice(None, None, factor)) if factor > 1 else kept
    if factor > 1:
        filters.append(f"1 in {factor} spikes drawn")
    if len(kept) == 0:
        warnings.warn(
            f"{spikes.info.name}: no spikes left after filtering ({'; '.join(filters)})",
            stacklevel=2,
        )
    return Selection(
        kept=kept,
        shown=shown,
        n_total=n_total,
        n_invalid=n_invalid,
        n_noise=n_noise,
        n_amplitude=n_amplitude,
        decimation=factor,
        amplitude_bounds=bounds,
        filters=tuple(filters),
    )
