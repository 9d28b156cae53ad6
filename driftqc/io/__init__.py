"""Readers: one function per input kind, each returning a :class:`driftqc.model.Sorting`."""

from __future__ import annotations

from pathlib import Path

from driftqc.io.kilosort import detect_version, read_kilosort
from driftqc.model import Sorting

__all__ = ["detect_version", "load_sorting", "read_kilosort"]


def load_sorting(
    source: Path | str | object, *, version: str | None = None, with_depths: bool = True
) -> Sorting:
    """Load a session from a sorter output folder.

    Parameters
    ----------
    source
        A Kilosort 1–4 output folder (or a Phy export of one).
    version
        Overrides the Kilosort version detected from the folder's ``kilosort*.log``.
    with_depths
        False skips the per-spike depth estimate where it is expensive (amplitudes only).

    Returns
    -------
    Sorting
        The session's spikes, templates, geometry, labels and provenance.
    """
    if isinstance(source, Sorting):
        return source
    return read_kilosort(Path(source), version=version, with_depths=with_depths)  # type: ignore[arg-type]
