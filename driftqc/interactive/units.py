"""Choosing units in the viewer by id and by label (pure Python, no Qt).

The unit filter of a drift-map panel takes a short text such as ``"3, 12 good"``: numbers
are cluster ids, words are cluster labels (``good``, ``mua``, ``noise``, ``unsorted`` or
whatever the label file says; case does not matter), and the units chosen are every id named
plus every cluster of the session carrying one of the labels named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from driftqc.errors import OptionError


def parse_units(text: str, clusters: np.ndarray, labels: Mapping[int, str]) -> np.ndarray:
    """Cluster ids chosen by a unit-filter text.

    Parameters
    ----------
    text
        Ids and labels separated by commas or spaces.
    clusters
        Cluster ids present in the session (any order, repeats allowed).
    labels
        ``cluster id -> label``; clusters without one count as ``"unsorted"``.

    Returns
    -------
    numpy.ndarray
        Sorted unique int32 ids (empty for an empty text).

    Raises
    ------
    OptionError
        An id not in the session, or a label no cluster carries; the message lists the
        labels present.

    Examples
    --------
    >>> parse_units("3, good", np.array([1, 3, 5]), {1: "good", 5: "mua"}).tolist()
    [1, 3]
    """
    present = np.unique(np.asarray(clusters))
    by_label: dict[str, list[int]] = {}
    for cluster in present.tolist():
        by_label.setdefault(str(labels.get(cluster, "unsorted")).lower(), []).append(cluster)
    chosen: set[int] = set()
    for token in (t for t in re.split(r"[,\s]+", text.strip()) if t):
        if re.fullmatch(r"-?\d+", token):
            unit = int(token)
            if not np.isin(unit, present):
                raise OptionError(f"unit {unit} has no spikes here")
            chosen.add(unit)
        elif token.lower() in by_label:
            chosen.update(by_label[token.lower()])
        else:
            known = ", ".join(sorted(by_label)) or "none"
            raise OptionError(f"no unit is labelled {token!r} (labels here: {known})")
    return np.array(sorted(chosen), dtype=np.int32)
