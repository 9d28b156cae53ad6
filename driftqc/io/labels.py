"""Cluster labels of a Kilosort / Phy folder.

Kilosort writes its own automatic labels to ``cluster_KSLabel.tsv`` (column ``KSLabel``:
``good`` or ``mua``); Phy writes the curator's labels to ``cluster_group.tsv`` (column
``group``: ``noise``, ``mua``, ``good``, ``unsorted``), and old Phy versions to
``cluster_groups.csv`` (tab-separated despite its name). When several exist, the curator's
word wins: ``cluster_group.tsv``, then ``cluster_groups.csv``, then ``cluster_KSLabel.tsv``.
Labels are keyed by cluster id, i.e. the values of ``spike_clusters.npy`` when Phy wrote one.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from driftqc.errors import SortingFormatError
from driftqc.model import KNOWN_LABELS

# (file name, source name) in order of precedence
LABEL_FILES: tuple[tuple[str, str], ...] = (
    ("cluster_group.tsv", "group"),
    ("cluster_groups.csv", "group_csv"),
    ("cluster_KSLabel.tsv", "KSLabel"),
)
_LABEL_COLUMNS = ("group", "KSLabel", "label")
# cluster ids index int32 arrays elsewhere
_MAX_ID = 2**31 - 1


def read_label_sources(folder: Path) -> dict[str, dict[int, str]]:
    """Read every cluster-label file of a folder, in order of precedence.

    Returns
    -------
    dict
        ``source name -> {cluster id: label}``; empty when the folder has no label file.
        Labels are lower-cased and stripped; an empty cell becomes ``"unsorted"``.

    Raises
    ------
    SortingFormatError
        If a label file lacks a ``cluster_id`` column or a label column, or holds a cluster
        id that is not an integer.
    """
    sources: dict[str, dict[int, str]] = {}
    for filename, source in LABEL_FILES:
        path = folder / filename
        if path.is_file():
            sources[source] = read_label_file(path)
    return sources


def read_label_file(path: Path) -> dict[int, str]:
    """Read one ``cluster_id``/label table (tab- or comma-separated)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise SortingFormatError(f"{path} is empty; expected columns cluster_id and a label")
    delimiter = "\t" if "\t" in lines[0] else ","
    try:
        rows = list(csv.reader(lines, delimiter=delimiter))
    except csv.Error as exc:  # e.g. an unbalanced quote swallowing the rest of the file
        raise SortingFormatError(f"{path} is not a readable table ({exc})") from None
    header = [h.strip() for h in rows[0]]
    if "cluster_id" not in header:
        raise SortingFormatError(f"{path} has no 'cluster_id' column (found {header})")
    label_col = next((c for c in _LABEL_COLUMNS if c in header), None)
    if label_col is None:
        others = [h for h in header if h != "cluster_id"]
        if len(others) != 1:
            raise SortingFormatError(
                f"{path} has no label column ('group' or 'KSLabel'); found {header}"
            )
        label_col = others[0]
    id_index, label_index = header.index("cluster_id"), header.index(label_col)
    labels: dict[int, str] = {}
    unknown: set[str] = set()
    for line_no, row in enumerate(rows[1:], start=2):
        cluster = _cluster_id(row[id_index] if id_index < len(row) else "")
        if cluster is None:
            raise SortingFormatError(
                f"{path}, line {line_no}: cluster_id {row[id_index : id_index + 1]} "
                f"is not a cluster id (a whole number from 0 to {_MAX_ID})"
            )
        label = row[label_index].strip().lower() if label_index < len(row) else ""
        label = label or "unsorted"
        if label not in KNOWN_LABELS:
            unknown.add(label)
        labels[cluster] = label
    if unknown:
        warnings.warn(
            f"{path}: labels {sorted(unknown)} are not one of {list(KNOWN_LABELS)}; "
            "they are kept as given and treated as not noise",
            stacklevel=2,
        )
    return labels


def _cluster_id(text: str) -> int | None:
    """Parse a cluster id ("12" or "12.0"); None for anything that is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not (0 <= value <= _MAX_ID) or value != int(value):  # NaN fails the range test
        return None
    return int(value)


def resolve_label_source(
    sources: dict[str, dict[int, str]], which: bool | str, folder: Path | str
) -> dict[int, str]:
    """Pick the label table that a label filter asks for.

    Parameters
    ----------
    sources
        The tables found (see :func:`read_label_sources`).
    which
        ``True`` for the first by precedence, or a source name such as ``"group"`` or
        ``"KSLabel"`` (also accepted: a file name such as ``"cluster_KSLabel.tsv"``).
    folder
        The session, for the error message.

    Raises
    ------
    SortingFormatError
        If no label file exists, or the one asked for does not.
    """
    if not sources:
        names = ", ".join(f for f, _ in LABEL_FILES)
        raise SortingFormatError(
            f"exclude_noise was requested but {folder} has no cluster label file "
            f"(looked for {names})"
        )
    if which is True:
        return next(iter(sources.values()))
    key = str(which)
    for filename, source in LABEL_FILES:
        if key in (filename, source):
            key = source
    if key not in sources:
        raise SortingFormatError(
            f"exclude_noise={which!r}: no such label source in {folder}; "
            f"available: {sorted(sources)}"
        )
    return sources[key]
