"""Readers: one function per input kind, each returning a :class:`driftqc.model.Sorting`."""

from __future__ import annotations

from pathlib import Path

from driftqc.errors import SortingFormatError
from driftqc.io.alf import is_alf_folder, read_alf
from driftqc.io.analyzer import (
    is_analyzer_folder,
    is_analyzer_object,
    is_spikeinterface_object,
    read_analyzer,
)
from driftqc.io.files import session_files
from driftqc.io.kilosort import detect_version, read_kilosort
from driftqc.model import Sorting

__all__ = [
    "detect_version",
    "is_alf_folder",
    "load_sorting",
    "read_alf",
    "read_analyzer",
    "read_kilosort",
    "session_files",
]


def load_sorting(
    source: Path | str | object,
    *,
    version: str | None = None,
    with_depths: bool = True,
    name: str | None = None,
) -> Sorting:
    """Load a session from a sorter output folder or a SpikeInterface analyzer.

    Parameters
    ----------
    source
        A Kilosort 1–4 output folder (or a Phy export of one), a SpikeInterface
        ``SortingAnalyzer``, the folder an analyzer was saved to (binary folder, or
        ``.zarr`` with the ``zarr`` extra; read as data, without SpikeInterface), or IBL
        spike sorting in the ALF layout (``alf/probe00`` or a folder leading to one probe
        folder; see :mod:`driftqc.io.alf`). A folder with ``spike_times.npy`` is read as
        Kilosort output even if it holds ALF files too.
    version
        Overrides the Kilosort version detected from the folder's ``kilosort*.log``; ignored
        for analyzers and ALF folders.
    with_depths
        False skips the per-spike depth estimate where it is expensive (amplitudes only).
    name
        Session name for titles and tables; by default derived from the folder name.

    Returns
    -------
    Sorting
        The session's spikes, templates, geometry, labels and provenance.
    """
    if isinstance(source, Sorting):
        return source
    # SpikeInterface is recognised by type and folder markers, never imported here
    if is_analyzer_object(source):
        return read_analyzer(source, name=name, with_depths=with_depths)
    if is_spikeinterface_object(source):
        raise SortingFormatError(
            f"a {type(source).__name__} cannot be drawn as a drift map: it has no spike "
            "amplitudes or depths; give a SortingAnalyzer with the extensions templates, "
            "spike_amplitudes and spike_locations"
        )
    if isinstance(source, str | Path) and is_analyzer_folder(source):
        return read_analyzer(Path(source), name=name, with_depths=with_depths)
    if isinstance(source, str | Path) and is_alf_folder(source):
        return read_alf(Path(source), name=name, with_depths=with_depths)
    return read_kilosort(
        Path(source),  # type: ignore[arg-type]
        version=version,
        name=name,
        with_depths=with_depths,
    )
