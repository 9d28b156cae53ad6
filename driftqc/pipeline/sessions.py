r"""The list of sessions a batch processes, and finding sorter folders to fill it.

A **session** is one sorted recording: an ``id`` (short, unique, used in file names and as
the workflow's ``{session}`` wildcard), the ``path`` of its Kilosort output folder, and
optional ``subject``, ``date``, ``label`` (shown in figure titles) and ``version`` (the
Kilosort version, for folders without a ``kilosort*.log``).

Session lists are YAML lists of mappings. YAML reads unquoted ``2024-01-05`` as a date and
``001`` as the number 1; :func:`read_sessions_file` therefore reads every value as text, and
:func:`normalise_sessions` turns dates and numbers that reached it some other way (a list
written inline in a Snakemake config) back into text. :func:`check_sessions` then catches
what a JSON schema cannot: duplicate ids and folders that do not exist. Every message names
the entry (its position and id) and the source file.

:func:`discover_sessions` walks a directory tree for sorter output folders (a folder holding
a ``kilosort*.log``, or ``spike_times.npy`` beside ``params.py``), IBL ALF spike-sorting
folders (a folder holding ALF ``spikes.times``, itself or in a ``#revision#`` sub-folder,
e.g. ``alf/probe00`` or ``alf/probe00/pykilosort``; revision folders are not sessions of
their own) and SpikeInterface analyzer folders (binary or ``.zarr``, recognised by their
``spikeinterface_info``; never walked into), and derives ids from their relative paths, e.g.
``sub-01/ses-02/kilosort4`` → ``sub-01_ses-02``, ``sub-01/ses-03/analyzer.zarr`` →
``sub-01_ses-03``, ``ZM_1/2024-01-01/001/alf/probe00`` → ``ZM_1_2024-01-01_001_probe00``.
A folder whose path is not valid UTF-8 (Python holds it with surrogate escapes, e.g.
``ses-\udcff`` for the byte ``0xff``) cannot be written to a YAML file, which is UTF-8 text:
it is skipped with a :class:`SessionsWarning` naming it, rather than written wrongly.
:func:`write_sessions_file` writes the whole list to a temporary file and renames it into
place, so an error never leaves an empty or partial file.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from driftqc.errors import DriftQCError
from driftqc.io.alf import REVISION, holds_alf_spikes, is_alf_spike_times
from driftqc.io.analyzer import is_analyzer_folder

SESSION_FIELDS = ("id", "path", "subject", "date", "label", "version")
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_GENERIC_PARTS = {
    "sorter_output",
    "sorting",
    "output",
    "phy",
    "ks",
    "kilosort",
    "spikesorting",
    "analyzer",
    "sorting_analyzer",
    "sortinganalyzer",
    "alf",
}


class SessionsError(DriftQCError, ValueError):
    """A session list is malformed: a bad entry, a duplicate id or a missing folder."""


class SessionsWarning(UserWarning):
    """A folder was left out of a discovered session list (see the message for why)."""


class _TextLoader(yaml.SafeLoader):
    """A YAML loader that reads every plain scalar as text (except ``null``/``~``)."""


_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_sessions_file(path: Path | str) -> list[dict[str, object]]:
    """Read a YAML session list, keeping ids such as ``2024-01-05`` or ``001`` as text.

    The file holds either a list of mappings or a mapping with a ``sessions`` list.

    Raises
    ------
    SessionsError
        If the file is missing, is not valid YAML or does not hold a list.
    """
    path = Path(path)
    if not path.is_file():
        raise SessionsError(f"sessions file {path} does not exist")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_TextLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise SessionsError(f"{path} is not valid YAML: {exc}") from None
    if isinstance(data, Mapping) and "sessions" in data:
        data = data["sessions"]
    if not isinstance(data, list):
        raise SessionsError(
            f"{path} must hold a list of sessions (each with 'id' and 'path'), "
            f"found {type(data).__name__}"
        )
    return data


def normalise_sessions(entries: Sequence[object], source: str = "sessions") -> list[dict]:
    """Return the entries with dates and numbers in text fields turned into text.

    Values that are neither text, number nor date (a boolean id from an unquoted ``yes``, a
    list) are left alone for the schema to reject.

    Raises
    ------
    SessionsError
        If an entry is not a mapping.
    """
    out = []
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise SessionsError(
                f"{source}, entry {index}: expected a mapping with 'id' and 'path', "
                f"found {entry!r}"
            )
        fixed = dict(entry)
        for key in SESSION_FIELDS:
            value = fixed.get(key)
            if isinstance(value, dt.date | dt.datetime):
                fixed[key] = value.isoformat()
            elif isinstance(value, int | float) and not isinstance(value, bool):
                fixed[key] = str(value)
        out.append(fixed)
    return out


def check_sessions(
    entries: Sequence[Mapping[str, object]],
    source: str = "sessions",
    *,
    base: Path | str = ".",
    will_exist: Callable[[str], bool] | None = None,
) -> None:
    """Check what a schema cannot: unique ids and existing folders.

    Parameters
    ----------
    entries
        Schema-valid session entries.
    source
        Where the entries came from, for messages.
    base
        Folder that relative paths are relative to (the workflow's working directory).
    will_exist
        Says whether a missing path will be produced by the workflow (the demo sessions);
        such paths are not reported.

    Raises
    ------
    SessionsError
        Naming every duplicate id, or the first entry whose folder does not exist.
    """
    seen: dict[str, int] = {}
    duplicates = []
    for index, entry in enumerate(entries, start=1):
        sid = str(entry["id"])
        if sid in seen:
            duplicates.append(f"'{sid}' (entries {seen[sid]} and {index})")
        seen.setdefault(sid, index)
    if duplicates:
        raise SessionsError(f"{source}: duplicate session id {', '.join(duplicates)}")
    for index, entry in enumerate(entries, start=1):
        path = str(entry["path"])
        if (Path(base) / path).exists() or (will_exist is not None and will_exist(path)):
            continue
        raise SessionsError(
            f"{source}, entry {index} (id '{entry['id']}'): path {path} does not exist"
        )


def discover_sessions(
    root: Path | str, patterns: Sequence[str] = (), *, absolute: bool = True
) -> list[dict[str, str]]:
    """Find Kilosort, IBL ALF and SpikeInterface analyzer folders under ``root`` as sessions.

    Parameters
    ----------
    root
        Top of the directory tree to search.
    patterns
        Glob patterns on the folder's path relative to ``root`` (e.g. ``"sub-*/ses-*/*"``);
        a folder is kept if it matches any. Empty: keep every sorter folder.
    absolute
        Write absolute paths (recommended: the list then works from any directory).

    Returns
    -------
    list of dict
        ``{"id": ..., "path": ...}`` per folder, sorted by path.

    Raises
    ------
    SessionsError
        If ``root`` is not a folder, or two folders would get the same id.

    Warns
    -----
    SessionsWarning
        For each folder left out because its path is not valid UTF-8 (it could not be
        written to a sessions file).

    Examples
    --------
    >>> discover_sessions("/data/lab", ["sub-*/ses-*/**"])  # doctest: +SKIP
    [{'id': 'sub-01_ses-01', 'path': '/data/lab/sub-01/ses-01/kilosort4'}, ...]
    """
    root = Path(root)
    if not root.is_dir():
        raise SessionsError(f"{root} is not a folder")
    found = []
    for folder in _sorter_folders(root):
        relative = folder.relative_to(root).as_posix()
        if patterns and not any(fnmatch.fnmatch(relative, p) for p in patterns):
            continue
        found.append(folder)
    sessions = []
    owners: dict[str, Path] = {}
    for folder in found:
        path = folder.resolve() if absolute else folder
        if not _is_utf8(str(path)):
            warnings.warn(
                f"skipped {str(path)!r}: its path is not valid UTF-8, which a sessions file "
                "(YAML) cannot hold; rename the folder to include it",
                SessionsWarning,
                stacklevel=2,
            )
            continue
        sid = session_id_from_path(folder.relative_to(root), fallback=root.resolve().name)
        if sid in owners:
            raise SessionsError(
                f"folders {owners[sid]} and {folder} would both get the session id '{sid}'; "
                "narrow the search with --pattern or edit the ids by hand"
            )
        owners[sid] = folder
        sessions.append({"id": sid, "path": str(path)})
    return sessions


def session_id_from_path(relative: Path | str, fallback: str = "session") -> str:
    """Derive a session id from a folder's path relative to the search root.

    Generic folder names (``sorter_output``, ``kilosort4``, ``phy``, ``analyzer``, ``alf``,
    any ``*.zarr``, ...) are dropped, the remaining parts joined with ``_`` and anything but
    letters, digits, ``_`` and ``-`` replaced by ``-``.

    Examples
    --------
    >>> session_id_from_path("sub-01/ses-02/kilosort4/sorter_output")
    'sub-01_ses-02'
    """
    parts = [p for p in Path(relative).parts if not _is_generic(p)]
    if not parts:
        parts = [p for p in Path(relative).parts] or [fallback]
    text = "_".join(re.sub(r"[^A-Za-z0-9_-]+", "-", p).strip("-") for p in parts)
    text = text.strip("_-") or fallback
    return text if ID_PATTERN.match(text) else f"s{text}"


def format_sessions(sessions: Iterable[Mapping[str, object]]) -> str:
    """Return a session list as YAML text, every value quoted so it reads back as text."""
    lines = ["# driftqc session list: one entry per sorted recording (id, path, ...)"]
    for entry in sessions:
        items = [(k, entry[k]) for k in SESSION_FIELDS if entry.get(k) is not None]
        for n, (key, value) in enumerate(items):
            prefix = "- " if n == 0 else "  "
            lines.append(f"{prefix}{key}: {_quoted(str(value))}")
    return "\n".join(lines) + "\n"


def write_sessions_file(sessions: Iterable[Mapping[str, object]], path: Path | str) -> Path:
    """Write a session list as YAML (see :func:`format_sessions`); return the path.

    Missing parent folders are created. The text is written to a temporary file in the same
    folder and renamed over ``path`` once complete: on any error ``path`` is left as it was.

    Raises
    ------
    SessionsError
        If a value is not valid UTF-8 text (a path with surrogate escapes), naming the entry.
    OSError
        If the file cannot be written.
    """
    path = Path(path)
    sessions = list(sessions)
    for index, entry in enumerate(sessions, start=1):
        for key in SESSION_FIELDS:
            value = entry.get(key)
            if value is not None and not _is_utf8(str(value)):
                raise SessionsError(
                    f"{path}: entry {index} ({key} {str(value)!r}) is not valid UTF-8 and "
                    "cannot be written to a sessions file"
                )
    data = format_sessions(sessions).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _is_utf8(text: str) -> bool:
    """Return whether ``text`` can be encoded as UTF-8 (no surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_generic(part: str) -> bool:
    lower = part.lower()
    if lower.endswith(".zarr"):
        return True
    return lower in _GENERIC_PARTS or lower.startswith("kilosort")


def _is_sorter_folder(names: set[str]) -> bool:
    if any(n.startswith("kilosort") and n.endswith(".log") for n in names):
        return True
    return "spike_times.npy" in names and "params.py" in names


def _is_alf_folder(folder: str, files: list[str], revisions: list[str]) -> bool:
    """Whether ALF ``spikes.times`` is in the folder or one of its ``#revision#`` folders."""
    if any(is_alf_spike_times(name) for name in files):
        return True
    return any(holds_alf_spikes(Path(folder, name)) for name in revisions)


def _sorter_folders(root: Path) -> list[Path]:
    folders = []
    for current, dirs, files in os.walk(root):
        if is_analyzer_folder(current):
            folders.append(Path(current))
            dirs[:] = []  # an analyzer's sub-folders are its own data, not sessions
            continue
        # a revision folder is a version of its parent's datasets, not a session
        revisions = [d for d in dirs if REVISION.match(d)]
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not REVISION.match(d))
        if _is_sorter_folder(set(files)) or _is_alf_folder(current, files, revisions):
            folders.append(Path(current))
    return sorted(folders)
