"""Which files the readers read for a session: what a workflow must track to stay current.

A batch caches each session once; the cache is stale as soon as any file the reader used
changes. :func:`session_files` lists exactly those files for a Kilosort folder (following
the same rules as :func:`driftqc.io.read_kilosort`: per-version files, optional files only
when present), for IBL ALF spike sorting the datasets :func:`driftqc.io.alf.read_alf` reads
(each from the revision it is read from) or, for a SpikeInterface analyzer folder, asks
``driftqc.io.analyzer.analyzer_files`` when that exists, else gives the folder itself.
"""

from __future__ import annotations

from pathlib import Path

from driftqc.errors import DriftQCError, SortingFormatError
from driftqc.io import analyzer
from driftqc.io.alf import alf_files, is_alf_folder
from driftqc.io.kilosort import detect_version, is_kilosort4
from driftqc.io.labels import LABEL_FILES

# read by every version (the reader fails without them)
_REQUIRED = (
    "params.py",
    "spike_times.npy",
    "spike_templates.npy",
    "amplitudes.npy",
    "channel_positions.npy",
    "templates.npy",
)
# read when present, by every version
_OPTIONAL = ("spike_clusters.npy", "channel_shanks.npy", "template_ind.npy")


def session_files(folder: Path | str, version: str | None = None) -> list[Path]:
    """List every file the readers read for a session folder.

    Parameters
    ----------
    folder
        A Kilosort 1–4 output folder, a SpikeInterface analyzer folder, or IBL ALF spike
        sorting (a probe folder or a folder leading to one).
    version
        The Kilosort version the session is read with; None when it is detected from the
        folder's ``kilosort*.log`` (which is then listed too).

    Returns
    -------
    list of pathlib.Path
        For a Kilosort folder: the ``kilosort*.log`` files (when ``version`` is None),
        ``params.py``, the per-spike files, templates and geometry, the label files, and per
        version ``spike_positions.npy`` and ``ops.npy`` (Kilosort 4) or
        ``whitening_mat_inv.npy``, ``pc_features.npy`` and ``pc_feature_ind.npy`` (else).
        Only files that exist are listed (a missing required file makes the read fail; a
        workflow sees it appear as a change of its inputs). For ALF spike sorting: the
        ``spikes.*``, ``channels.*``, ``templates.*``/``clusters.*`` datasets, label files
        and ``params.py`` that exist. A path that is not a folder, or an analyzer or ALF
        folder whose files cannot be listed, is returned alone.

    Examples
    --------
    >>> [p.name for p in session_files("sub-01/kilosort4")]  # doctest: +SKIP
    ['kilosort4.log', 'params.py', 'spike_times.npy', ..., 'ops.npy', 'cluster_group.tsv']
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [folder]
    if analyzer.is_analyzer_folder(folder):
        listing = getattr(analyzer, "analyzer_files", None)
        if listing is None:
            return [folder]
        try:
            return [Path(p) for p in listing(folder)] or [folder]
        except DriftQCError:  # a broken analyzer: the load step says what is wrong
            return [folder]
    if is_alf_folder(folder):
        try:
            return alf_files(folder) or [folder]
        except DriftQCError:  # ambiguous or several probes: the load step says what is wrong
            return [folder]
    files: list[Path] = []
    if version is None:
        files += sorted(folder.glob("kilosort*.log"))
        try:
            version = detect_version(folder)
        except SortingFormatError:
            version = None  # the load fails; track what there is
    files += _present(folder, _REQUIRED + _OPTIONAL)
    if version is None:
        # unknown version: whatever either reader could read
        files += _present(folder, ("spike_positions.npy", "ops.npy", "whitening_mat_inv.npy"))
        files += _present(folder, ("pc_features.npy", "pc_feature_ind.npy"))
    elif is_kilosort4(version):
        files += _present(folder, ("spike_positions.npy", "ops.npy"))
    else:
        files += _present(folder, ("whitening_mat_inv.npy",))
        if (folder / "pc_features.npy").is_file():
            files += _present(folder, ("pc_features.npy", "pc_feature_ind.npy"))
        else:
            files += _present(folder, ("spike_positions.npy",))
    files += _present(folder, tuple(name for name, _ in LABEL_FILES))
    return files


def _present(folder: Path, names: tuple[str, ...]) -> list[Path]:
    return [folder / name for name in names if (folder / name).is_file()]
