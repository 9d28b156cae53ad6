"""Pooling spike amplitudes across sessions, to give many drift maps one grey scale."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from driftqc.io import load_sorting
from driftqc.model import Sorting
from driftqc.options import SELECTION, SelectionOptions
from driftqc.progress import messages, reporting
from driftqc.qc.amplitude_units import shared_amplitude_unit
from driftqc.selection import select_spikes


def get_amplitudes(
    list_of_path_or_analyzer: Sequence[Path | str | Sorting],
    exclude_noise: bool | str = SELECTION.exclude_noise,
    concatenate: bool = False,
    *,
    good_units_only: bool | str = SELECTION.good_units_only,
    verbose: bool = False,
) -> np.ndarray | list[np.ndarray]:
    """Load the spike amplitudes of several sessions.

    Parameters
    ----------
    list_of_path_or_analyzer
        Sorter output folders, SpikeInterface ``SortingAnalyzer`` objects or saved analyzer
        folders, loaded sortings or ``DriftPlotter`` objects.
    exclude_noise
        Leave out spikes of clusters labelled noise (see ``DriftPlotter``).
    concatenate
        Return one array of all sessions' amplitudes instead of one array per session.
    good_units_only
        Keep only spikes of clusters labelled good (driftplots 0.2's name; see
        ``DriftPlotter``). With ``exclude_noise`` as well, both apply.
    verbose
        Print each session loaded and its spike counts (driftplots 0.2's ``verbose``).

    Returns
    -------
    numpy.ndarray or list of numpy.ndarray
        float64 amplitudes (as driftplots) after the label filters only (no amplitude filter,
        no decimation), in input order.

    Notes
    -----
    Only amplitudes are computed, so Kilosort 1–3 folders are read without the expensive
    pass over ``pc_features.npy``. With ``concatenate=True``, sessions whose amplitudes are
    in different units (Kilosort's arbitrary units and an analyzer's µV) give an
    :class:`driftqc.qc.amplitude_units.AmplitudeUnitWarning`: their pooled values are not
    comparable.

    Examples
    --------
    >>> amps = get_amplitudes(["ses-01/ks", "ses-02/ks"], exclude_noise=True,
    ...                       concatenate=True)  # doctest: +SKIP
    >>> low, high = np.percentile(amps, [1, 99])  # doctest: +SKIP
    """
    options = SelectionOptions(  # checked once
        exclude_noise=exclude_noise, good_units_only=good_units_only, decimate=False
    )
    say = messages(verbose)
    if isinstance(list_of_path_or_analyzer, str | Path):
        list_of_path_or_analyzer = [list_of_path_or_analyzer]
    per_session = []
    infos = []
    for source in list_of_path_or_analyzer:
        # a DriftPlotter carries its Sorting (an analyzer's .sorting is SpikeInterface's own)
        held = getattr(source, "sorting", None)
        say(f"Loading amplitudes from {source}...")
        with reporting(True if verbose else None):
            sorting = load_sorting(
                held if isinstance(held, Sorting) else source, with_depths=False
            )
        selection = select_spikes(sorting, options=options)
        for line in selection.report():
            say(line)
        per_session.append(np.asarray(selection.kept.amplitudes, dtype=np.float64))
        infos.append(sorting.info)
    if concatenate:
        shared_amplitude_unit(infos, purpose="one concatenated amplitude array")
        return np.concatenate(per_session) if per_session else np.empty(0, dtype=np.float64)
    return per_session
