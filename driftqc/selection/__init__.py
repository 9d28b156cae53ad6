"""Choosing which spikes a drift map shows.

Three filters, always in this order: the **label** filters drop spikes of clusters labelled
noise (``exclude_noise``) and keep only those labelled good (``good_units_only``, driftplots
0.2's name); the **amplitude** filter keeps spikes whose amplitude lies within bounds given as
percentiles (of the finite amplitudes of the spikes the label filter keeps) or as absolute
values, both bounds inclusive; **decimation** keeps every n-th remaining spike so a scatter
stays readable and fast. Spikes without a finite depth or amplitude are set aside first and
counted.

There is one filter chain (:mod:`driftqc.selection.chain`: the steps, the amplitude bounds,
the captions) and two drivers of it: :func:`select_spikes` applies it to a table in memory,
:class:`driftqc.selection.stream.ChunkedSelection` to a Kilosort folder read chunk by chunk,
for sessions too large to hold whole. Both give the same spikes, counts, bounds and captions.

Decimation only thins what is drawn as points: a :class:`Selection` keeps both the spikes
that passed the filters (``kept``, for histograms and density images) and the thinned ones
(``shown``, for scatters).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from driftqc.model import NOISE_LABEL, Sorting, SpikeTable
from driftqc.options import SELECTION, Decimate, SelectionOptions, check_amplitude_filter
from driftqc.selection.chain import (
    AmplitudeStep,
    ChainCounts,
    FilterChain,
    FiniteStep,
    GoodUnitsStep,
    LabelStep,
    ShankStep,
    Step,
    filter_captions,
    labelled_clusters,
    percentile_bounds,
    rankable_amplitudes,
    session_bounds,
)

__all__ = [
    "AmplitudeStep",
    "ChainCounts",
    "FilterChain",
    "FiniteStep",
    "GoodUnitsStep",
    "LabelStep",
    "Selection",
    "ShankStep",
    "Step",
    "amplitude_bounds",
    "decimation_factor",
    "drop_invalid",
    "exclude_labels",
    "filter_amplitude",
    "filter_captions",
    "labelled_clusters",
    "percentile_bounds",
    "rankable_amplitudes",
    "select_spikes",
    "session_bounds",
]


@dataclass(frozen=True)
class Selection:
    """The spikes a drift map draws, and how they were chosen.

    Attributes
    ----------
    kept
        Spikes that passed the label and amplitude filters (not decimated), in the frame
        asked for.
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
    n_not_good
        Spikes removed by the good-units filter (``good_units_only``).
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
    n_not_good: int = 0

    @classmethod
    def from_counts(
        cls,
        kept: SpikeTable,
        shown: SpikeTable,
        counts: ChainCounts,
        *,
        decimation: int,
        bounds: tuple[float, float] | None,
        filters: tuple[str, ...],
    ) -> Selection:
        """Build a selection from a filter chain's counts (either driver of the chain)."""
        return cls(
            kept=kept,
            shown=shown,
            n_total=counts.n_total,
            n_invalid=counts["finite"],
            n_noise=counts["labels"],
            n_amplitude=counts["amplitude"],
            decimation=decimation,
            amplitude_bounds=bounds,
            filters=filters,
            n_not_good=counts["good"],
        )

    @property
    def caption(self) -> str:
        """One line saying what a figure of this selection shows."""
        info = self.kept.info
        parts = [
            f"{info.name}: {len(self.shown):,} of {self.n_total:,} spikes shown",
            *self.filters,
            info.provenance_caption,
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
            "n_not_good_removed": self.n_not_good,
        }

    def report(self) -> list[str]:
        """Lines saying how many spikes each filter removed, for ``verbose`` output.

        Examples
        --------
        >>> for line in sel.report():  # doctest: +SKIP
        ...     print(line)
        ses-01: 250,000 spikes
          only good units: 70,000 removed, 180,000 remaining
          180,000 spikes kept; decimated by factor 2: 90,000 drawn
        """
        lines = [f"{self.kept.info.name}: {self.n_total:,} spikes"]
        left = self.n_total
        for removed, what in (
            (self.n_invalid, "without finite depth/amplitude"),
            (self.n_noise, "noise units excluded"),
            (self.n_not_good, "only good units"),
            (self.n_amplitude, "amplitude filter"),
        ):
            if removed:
                left -= removed
                lines.append(f"  {what}: {removed:,} removed, {left:,} remaining")
        kept = f"  {len(self.kept):,} spikes kept"
        if self.decimation > 1:
            kept += f"; decimated by factor {self.decimation}: {len(self.shown):,} drawn"
        lines.append(kept)
        return lines


def drop_invalid(spikes: SpikeTable) -> SpikeTable:
    """Remove spikes whose depth or amplitude is NaN or infinite (the chain's first step)."""
    keep = FiniteStep().keep(spikes)
    return spikes if keep is None else spikes.take(keep)


def exclude_labels(
    spikes: SpikeTable,
    labels: Mapping[int, str] | None = None,
    excluded: Sequence[str] = (NOISE_LABEL,),
) -> SpikeTable:
    """Remove spikes of clusters whose label is one of ``excluded`` (the label step).

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
    keep = LabelStep(labelled_clusters(labels, excluded)).keep(spikes)
    return spikes if keep is None else spikes.take(keep)


def amplitude_bounds(
    amplitudes: np.ndarray, mode: str | None, values: Sequence[float]
) -> tuple[float, float]:
    """Absolute ``(low, high)`` bounds for an amplitude filter given as percentiles or values.

    ``(-inf, inf)`` when there is no filter, or no amplitude to take percentiles of.
    """
    checked = check_amplitude_filter(mode, values)
    if checked is None:
        return -np.inf, np.inf
    mode, bounds = checked
    if mode == "absolute":
        return bounds
    return percentile_bounds(amplitudes, bounds) or (-np.inf, np.inf)


def filter_amplitude(spikes: SpikeTable, bounds: tuple[float, float]) -> SpikeTable:
    """Keep spikes with ``low <= amplitude <= high`` (the amplitude step)."""
    keep = AmplitudeStep(bounds).keep(spikes)
    return spikes if keep is None else spikes.take(keep)


def decimation_factor(n_spikes: int, decimate: Decimate, estimate_rule: str = "floor") -> int:
    """Return the thinning factor ``decimate`` asks for with ``n_spikes`` spikes (1: none).

    ``estimate_rule`` as for :class:`driftqc.options.SelectionOptions`.
    """
    options = SelectionOptions(decimate=decimate, estimate_rule=estimate_rule)
    return options.decimation(n_spikes)


def select_spikes(
    source: Sorting | SpikeTable,
    *,
    exclude_noise: bool | str = SELECTION.exclude_noise,
    filter_amplitude_mode: str | None = SELECTION.filter_amplitude_mode,
    filter_amplitude_values: Sequence[float] = SELECTION.filter_amplitude_values,
    decimate: Decimate = SELECTION.decimate,
    options: SelectionOptions | None = None,
    good_units_only: bool | str = SELECTION.good_units_only,
    frame: str = SELECTION.frame,
) -> Selection:
    """Move the depths to ``frame``; apply the label filter, amplitude filter and decimation.

    The in-memory driver of :class:`driftqc.selection.chain.FilterChain`.

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
        ``(low, high)``: percentiles (0–100) of the finite amplitudes of the spikes the label
        filter keeps, or absolute amplitudes. Both bounds are inclusive.
    decimate
        ``"estimate"`` thins to about 100 000 spikes (every ``n // 100_000``-th, as driftplots;
        ``SelectionOptions(estimate_rule="at_most")`` for at most 100 000), an integer n
        keeps every n-th spike, ``False``/``None``/``0`` keeps all.
    options
        All of these in one checked object, instead of the separate keywords.
    good_units_only
        Keep only spikes of clusters labelled good (``True``), or name the label source, as
        for ``exclude_noise`` (both may be given: both apply).
    frame
        ``"saved"`` (depths as read), ``"raw"`` or ``"registered"`` (see
        :mod:`driftqc.frames`; raw depths of a Kilosort 4 session need a ``Sorting``, which
        holds the motion estimate).

    Returns
    -------
    Selection
        The kept and shown spikes and how many each filter removed.

    Raises
    ------
    OptionError
        For an option out of range or of the wrong kind.
    TypeError
        If both ``options`` and one of the separate filter keywords are given.

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
    separate = SelectionOptions(
        decimate=decimate,
        exclude_noise=exclude_noise,
        filter_amplitude_mode=filter_amplitude_mode,
        filter_amplitude_values=filter_amplitude_values,
        good_units_only=good_units_only,
        frame=frame,
    )
    if options is None:
        options = separate
    elif separate != SELECTION:
        raise TypeError("select_spikes: give either options or the separate filter keywords")
    motion = None
    if isinstance(source, Sorting):
        spikes = source.spikes
        sources = source.label_sources
        motion = source.motion
    else:
        spikes = source
        sources = {"labels": dict(spikes.cluster_labels)} if spikes.cluster_labels else {}
    chain = FilterChain.build(
        options,
        label_sources=sources,
        where=spikes.info.path or spikes.info.name,
        rank=lambda drop_ids, keep_ids=None: rankable_amplitudes(
            spikes.amplitudes, spikes.clusters, drop_ids, keep_ids=keep_ids
        ),
        amplitude_unit=spikes.info.amplitude_unit,
        motion=motion,
    )
    kept, counts = chain.apply(spikes)
    factor = options.decimation(len(kept))
    shown = kept.take(slice(None, None, factor)) if factor > 1 else kept
    filters = chain.captions(counts, decimation=factor)
    if len(kept) == 0:
        warnings.warn(
            f"{spikes.info.name}: no spikes left after filtering ({'; '.join(filters)})",
            stacklevel=2,
        )
    return Selection.from_counts(
        kept, shown, counts, decimation=factor, bounds=chain.bounds, filters=filters
    )
