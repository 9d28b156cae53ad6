"""The one filter chain: which spikes pass, how many each step removed, and the captions.

A chain is a short list of **steps**, each a rule that says of every spike of a table whether
it stays (:class:`Step`). The chain runs them in order on one table, whole session or chunk
alike, and returns the spikes that passed with how many each step removed
(:class:`ChainCounts`; counts of chunks add up to the counts of the whole session). The
steps, in order:

1. **finite**: spikes whose depth or amplitude is NaN or infinite are set aside and counted;
2. **labels**: spikes of clusters labelled noise are dropped (``exclude_noise``);
3. **good**: only spikes of clusters labelled good are kept (``good_units_only``, driftplots
   0.2's filter; clusters without a label are dropped). With ``exclude_noise`` as well, both
   apply, each with its own label source, and each counts what it removed;
4. **amplitude**: spikes outside ``low <= amplitude <= high`` are dropped. With percentile
   bounds, ``low`` and ``high`` are computed once per session, before any spike is filtered,
   by :func:`percentile_bounds` from the finite amplitudes of the spikes the label filters
   keep (:func:`rankable_amplitudes`), so a chunk is filtered with the session's bounds;
5. **shank** (optional): keep the spikes of one shank, from a template → shank table. It
   comes after the amplitude step so that every shank of a session shares one amplitude
   range (and the ranking pass needs no per-spike templates).

Decimation (every n-th spike drawn) is not a step: it thins what a scatter draws, after the
chain, and only the in-memory driver does it. :func:`filter_captions` writes the captions
of every driver, from the options, the bounds and the counts.

Adding a step
-------------
A step is any object with a ``name`` (the key of its count) and ``keep(spikes)`` returning
a boolean mask over the table's rows, or None when it keeps every spike; add it in
:meth:`FilterChain.build` and give it a caption in :func:`filter_captions`. Both drivers
(:func:`driftqc.selection.select_spikes` and :class:`driftqc.selection.stream.ChunkedSelection`)
then apply it with no further change.

The **frame** (``SelectionOptions.frame``: raw or registered depths, see
:mod:`driftqc.frames`) is not a filter but a transform, the same spikes with depths in another
frame; :meth:`FilterChain.apply` applies it first, before the ``finite`` step, so a chunk is
moved with the session's motion estimate exactly as the whole table would be. The amplitude
bounds do not depend on depths, so they are the same in every frame.

The two drivers share everything here: the steps, the bounds and the captions. They differ
only in where the spikes come from (one table, or a folder read chunk by chunk).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.frames import spikes_in_frame
from driftqc.io.labels import resolve_label_source
from driftqc.model import NOISE_LABEL, SorterMotion, SpikeTable
from driftqc.options import SelectionOptions

Bounds = tuple[float, float]

#: names of the steps, in chain order (the keys of :attr:`ChainCounts.removed`)
STEP_NAMES = ("finite", "labels", "good", "amplitude", "shank")
GOOD_LABEL = "good"


class Step(Protocol):
    """One filter of the chain: which spikes of a table it keeps."""

    name: ClassVar[str]

    def keep(self, spikes: SpikeTable) -> np.ndarray | None:
        """Return a boolean mask of the spikes kept, or None when every spike is kept.

        The mask must be a new array: the chain combines masks in place.
        """
        ...


@dataclass(frozen=True)
class FiniteStep:
    """Set aside spikes whose depth or amplitude is NaN or infinite."""

    name: ClassVar[str] = "finite"

    def keep(self, spikes: SpikeTable) -> np.ndarray | None:
        """Mask of spikes with finite depth and amplitude (None: all finite)."""
        # a finite sum proves every value finite (one cheap pass); NaN, inf or overflow -> mask
        with np.errstate(over="ignore", invalid="ignore"):
            sums = np.add.reduce(spikes.depths), np.add.reduce(spikes.amplitudes)
        if np.isfinite(sums).all():
            return None
        valid = np.isfinite(spikes.depths)
        valid &= np.isfinite(spikes.amplitudes)
        return None if valid.all() else valid


@dataclass(frozen=True)
class LabelStep:
    """Drop the spikes of the clusters in ``drop_ids`` (those labelled noise)."""

    drop_ids: np.ndarray
    name: ClassVar[str] = "labels"

    def keep(self, spikes: SpikeTable) -> np.ndarray | None:
        """Mask of spikes whose cluster is not dropped (None: none dropped)."""
        return _not_in(spikes.clusters, self.drop_ids)


@dataclass(frozen=True)
class GoodUnitsStep:
    """Keep only the spikes of the clusters in ``keep_ids`` (those labelled good)."""

    keep_ids: np.ndarray
    name: ClassVar[str] = "good"

    def keep(self, spikes: SpikeTable) -> np.ndarray | None:
        """Mask of spikes whose cluster is kept (None: all are)."""
        return _in(spikes.clusters, self.keep_ids)


@dataclass(frozen=True)
class AmplitudeStep:
    """Keep spikes with ``low <= amplitude <= high`` (compared in float32)."""

    bounds: Bounds
    name: ClassVar[str] = "amplitude"

    def keep(self, spikes: SpikeTable) -> np.ndarray | None:
        """Mask of spikes within the bounds (None: all within)."""
        low, high = self.bounds
        keep = spikes.amplitudes >= np.float32(low)
        keep &= spikes.amplitudes <= np.float32(high)
        return None if keep.all() else keep


@dataclass(frozen=True)
class ShankStep:
    """Keep the spikes of one shank, given each template's shank.

    Attributes
    ----------
    template_shanks
        ``(n_templates,)`` shank index of each template.
    shank
        The shank to keep.
    """

    template_shanks: np.ndarray
    shank: int
    name: ClassVar[str] = "shank"

    def keep(self, spikes: SpikeTable) -> np.ndarray | None:
        """Mask of spikes whose template lies on ``shank`` (None: all do)."""
        keep = np.asarray(self.template_shanks)[spikes.templates] == self.shank
        return None if keep.all() else keep


@dataclass(frozen=True)
class ChainCounts:
    """How many spikes entered a chain and how many each step removed.

    Counts of consecutive chunks add up (``a + b``) to those of the whole session.

    Attributes
    ----------
    n_total
        Spikes that entered the chain.
    removed
        Spikes removed, by step name (see :data:`STEP_NAMES`); steps not in the chain: 0.
    """

    n_total: int = 0
    removed: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_kept(self) -> int:
        """Spikes that passed every step."""
        return self.n_total - sum(self.removed.values())

    def __getitem__(self, step: str) -> int:
        return self.removed.get(step, 0)

    def __add__(self, other: ChainCounts) -> ChainCounts:
        names = dict.fromkeys([*self.removed, *other.removed])
        return ChainCounts(self.n_total + other.n_total, {k: self[k] + other[k] for k in names})


@dataclass(frozen=True)
class FilterChain:
    """The steps that choose a session's spikes, ready to apply to a table or a chunk.

    Build it with :meth:`build`; it holds the session's amplitude bounds already resolved,
    so applying it to a chunk filters the chunk exactly as the whole session would be.

    Attributes
    ----------
    options
        The selection options it was built from.
    steps
        The filter steps, in order.
    bounds
        Absolute amplitude bounds applied, or None (no amplitude filter, or nothing to rank).
    amplitude_unit
        Unit of the amplitudes, for the captions.
    shank
        The shank kept by a shank step, or None.
    motion
        The session's saved motion estimate, for ``options.frame="raw"`` on registered depths.
    """

    options: SelectionOptions
    steps: tuple[Step, ...]
    bounds: Bounds | None = None
    amplitude_unit: str = "a.u."
    shank: int | None = None
    motion: SorterMotion | None = None

    @classmethod
    def build(
        cls,
        options: SelectionOptions,
        *,
        label_sources: Mapping[str, Mapping[int, str]],
        where: object,
        rank: Callable[[np.ndarray], np.ndarray],
        amplitude_unit: str = "a.u.",
        template_shanks: np.ndarray | None = None,
        shank: int | None = None,
        motion: SorterMotion | None = None,
    ) -> FilterChain:
        """Resolve the labels and the amplitude bounds of a session; return its chain.

        Parameters
        ----------
        options
            Which filters to apply.
        label_sources
            The session's label tables by source name (for ``exclude_noise``).
        where
            The session (path or name), for error messages.
        rank
            ``rank(drop_ids)`` returns the finite amplitudes of the session's spikes whose
            cluster is not in ``drop_ids`` (see :func:`rankable_amplitudes`); called once,
            only for a percentile amplitude filter. With ``good_units_only`` it is called as
            ``rank(drop_ids, keep_ids=keep_ids)``: only clusters in ``keep_ids`` count.
        amplitude_unit
            Unit of the amplitudes, for the captions.
        template_shanks, shank
            Keep only the spikes of ``shank``, given each template's shank.
        motion
            The session's saved motion estimate (Kilosort 4), for ``options.frame``.

        Raises
        ------
        SortingFormatError
            If ``exclude_noise`` or ``good_units_only`` asks for a label table the session
            does not have.
        """
        drop_ids = np.empty(0, dtype=np.int64)
        keep_ids: np.ndarray | None = None
        steps: list[Step] = [FiniteStep()]
        if options.exclude_noise:
            labels = _label_table(label_sources, options.exclude_noise, where, "exclude_noise")
            drop_ids = labelled_clusters(labels)
            steps.append(LabelStep(drop_ids))
        if options.good_units_only:
            labels = _label_table(label_sources, options.good_units_only, where, "good_units_only")
            keep_ids = labelled_clusters(labels, (GOOD_LABEL,))
            steps.append(GoodUnitsStep(keep_ids))

        def ranked() -> np.ndarray:
            if keep_ids is None:  # the one-argument form callers may pass
                return rank(drop_ids)
            return rank(drop_ids, keep_ids=keep_ids)  # type: ignore[call-arg]

        bounds = session_bounds(options, ranked)
        if bounds is not None:
            steps.append(AmplitudeStep(bounds))
        if shank is not None:
            if template_shanks is None:
                raise ValueError("a shank step needs template_shanks")
            steps.append(ShankStep(np.asarray(template_shanks), int(shank)))
        return cls(options, tuple(steps), bounds, amplitude_unit, shank, motion)

    def apply(self, spikes: SpikeTable) -> tuple[SpikeTable, ChainCounts]:
        """Move a table (whole session or chunk) to the chain's frame, then run the steps.

        Each step's mask is taken over the whole table and the masks are combined, so the
        table is copied at most once; a step removes the spikes it rejects among those the
        steps before it kept.

        Returns
        -------
        kept : SpikeTable
            The spikes that passed every step (``spikes`` itself when all passed).
        counts : ChainCounts
            Spikes in, and removed by each step.
        """
        spikes = spikes_in_frame(spikes, self.options.frame, self.motion)
        keep: np.ndarray | None = None
        n_left = len(spikes)
        removed = dict.fromkeys(STEP_NAMES, 0)  # steps not in this chain removed none
        for step in self.steps:
            mask = step.keep(spikes)
            if mask is None:
                continue
            if keep is None:
                keep = mask
            else:
                keep &= mask
            n_now = int(np.count_nonzero(keep))
            removed[step.name] = n_left - n_now
            n_left = n_now
        counts = ChainCounts(len(spikes), removed)
        if keep is None or n_left == len(spikes):
            return spikes, counts
        return spikes.take(keep), counts

    def captions(self, counts: ChainCounts, decimation: int = 1) -> tuple[str, ...]:
        """Return the filter captions for these counts (see :func:`filter_captions`)."""
        return filter_captions(
            self.options,
            n_invalid=counts["finite"],
            bounds=self.bounds,
            amplitude_unit=self.amplitude_unit,
            decimation=decimation,
            shank=self.shank,
        )


def filter_captions(
    options: SelectionOptions,
    *,
    n_invalid: int,
    bounds: Bounds | None,
    amplitude_unit: str,
    decimation: int = 1,
    shank: int | None = None,
) -> tuple[str, ...]:
    """Say in words which filters chose a selection, one caption per filter, in chain order.

    Parameters
    ----------
    options
        The options the chain was built from.
    n_invalid
        Spikes set aside for a non-finite depth or amplitude.
    bounds
        The amplitude bounds applied (None: none, or no spike to rank).
    amplitude_unit
        Unit of the amplitudes.
    decimation
        Every ``decimation``-th kept spike drawn (1: all).
    shank
        The shank kept, or None.

    Examples
    --------
    >>> from driftqc.options import SelectionOptions
    >>> filter_captions(
    ...     SelectionOptions(exclude_noise=True, filter_amplitude_mode="percentile",
    ...                      filter_amplitude_values=(1, 99)),
    ...     n_invalid=0, bounds=(12.3, 456.0), amplitude_unit="µV", decimation=3)
    ('noise units excluded', 'amplitude 1–99 percentile (12.3–456 µV)', '1 in 3 spikes drawn')
    """
    filters: list[str] = []
    if n_invalid:
        filters.append(f"{n_invalid:,} spikes without finite depth/amplitude left out")
    if options.exclude_noise:
        filters.append("noise units excluded")
    if options.good_units_only:
        filters.append("only good units")
    amp_filter = options.amplitude_filter
    if amp_filter is not None:
        mode, (low, high) = amp_filter
        if mode == "absolute":
            filters.append(f"amplitude {low:.3g}–{high:.3g} {amplitude_unit}")
        elif bounds is None:
            filters.append(f"amplitude {low:g}–{high:g} percentile (no spikes to rank)")
        else:
            filters.append(
                f"amplitude {low:g}–{high:g} percentile "
                f"({bounds[0]:.3g}–{bounds[1]:.3g} {amplitude_unit})"
            )
    if shank is not None:
        filters.append(f"shank {shank} only")
    if decimation > 1:
        filters.append(f"1 in {decimation} spikes drawn")
    return tuple(filters)


def session_bounds(options: SelectionOptions, rank: Callable[[], np.ndarray]) -> Bounds | None:
    """Return the absolute amplitude bounds the options ask for, for one session.

    Parameters
    ----------
    options
        The selection options.
    rank
        Returns the amplitudes to take percentiles of (see :func:`rankable_amplitudes`);
        called only for a percentile filter.

    Returns
    -------
    tuple of float or None
        ``(low, high)``; None without an amplitude filter, or when a percentile filter has no
        amplitude to rank (it then removes nothing).
    """
    amp_filter = options.amplitude_filter
    if amp_filter is None:
        return None
    mode, values = amp_filter
    if mode == "absolute":
        return values
    return percentile_bounds(rank(), values)


def percentile_bounds(amplitudes: np.ndarray, percentiles: Bounds) -> Bounds | None:
    """``(low, high)`` percentiles of ``amplitudes``, or None when there are none."""
    if len(amplitudes) == 0:
        return None
    low, high = np.percentile(amplitudes, percentiles)
    return float(low), float(high)


def rankable_amplitudes(
    amplitudes: np.ndarray,
    clusters: np.ndarray,
    drop_ids: np.ndarray,
    *,
    keep_ids: np.ndarray | None = None,
) -> np.ndarray:
    """Return the amplitudes to take percentiles of: finite, of the clusters the labels keep.

    Clusters in ``drop_ids`` (noise) are left out and, when ``keep_ids`` is given
    (``good_units_only``), so is every cluster not in it. Depths play no part, so the bounds
    can be computed without them (the chunked driver reads only amplitudes and cluster ids for
    this pass) and are the same in every frame. Feed it the whole table, or each chunk and
    concatenate.
    """
    keep = np.isfinite(amplitudes)
    labels_keep = _not_in(clusters, drop_ids)
    if labels_keep is not None:
        keep &= labels_keep
    if keep_ids is not None:
        good = _in(clusters, keep_ids)
        if good is not None:
            keep &= good
    return amplitudes if keep.all() else amplitudes[keep]


def labelled_clusters(
    labels: Mapping[int, str], wanted: Sequence[str] = (NOISE_LABEL,)
) -> np.ndarray:
    """Ids of the clusters whose label (compared lower-case) is one of ``wanted``."""
    return np.asarray(
        [cid for cid, lab in labels.items() if lab.lower() in wanted], dtype=np.int64
    )


def _label_table(
    label_sources: Mapping[str, Mapping[int, str]], which: bool | str, where: object, name: str
) -> Mapping[int, str]:
    """Return the label table a label filter asks for; errors name the option (``name``)."""
    try:
        return resolve_label_source(
            dict(label_sources),  # type: ignore[arg-type]
            which,
            where,  # type: ignore[arg-type]
        )
    except SortingFormatError as exc:
        if name == "exclude_noise":
            raise
        raise SortingFormatError(str(exc).replace("exclude_noise", name)) from None


def _in(clusters: np.ndarray, keep_ids: np.ndarray) -> np.ndarray | None:
    """Mask of ``clusters`` in ``keep_ids``, or None when all are."""
    keep = np.isin(clusters, keep_ids)
    return None if keep.all() else keep


def _not_in(clusters: np.ndarray, drop_ids: np.ndarray) -> np.ndarray | None:
    """Mask of ``clusters`` not in ``drop_ids``, or None when none is."""
    if not len(drop_ids):
        return None
    drop = np.isin(clusters, drop_ids)
    if not drop.any():
        return None
    return np.logical_not(drop, out=drop)
