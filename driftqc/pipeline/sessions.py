r"""The list of sessions a batch processes, and finding sorter folders to fill it.

A **session** is one sorted recording: an ``id`` (short, unique, used in file names and as
the workflow's ``{session}`` wildcard), the ``path`` of its Kilosort output folder, and
optional ``subject``, ``date``, ``label`` (shown in figure titles), ``version`` (the
Kilosort version, overriding the folder's ``kilosort*.log``) and ``frame`` (the depth frame
of the session's drift map; for a folder of unknown frame it declares the frame, see
:mod:`driftqc.frames`).

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
Folders that would share an id (sorter folders side by side, ``ks4_bumps/kilosort4`` and
``ks4_bumps/phy``) get the folder names that tell them apart (``ks4_bumps-kilosort4``,
``ks4_bumps-phy``; see :func:`unique_session_ids`). In NeuroBlueprint trees
(``sub-<label>/ses-<label>/ephys/...``) the subject (``sub-01``) and, where the session
label holds one (``ses-20240105``, ``ses-2024-01-05``, ``ses-001_date-20240105``), the
recording date fill the ``subject`` and ``date`` fields (:func:`neuroblueprint_fields`).
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
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import yaml

from driftqc.errors import DriftQCError
from driftqc.io.alf import REVISION, holds_alf_spikes, is_alf_spike_times
from driftqc.io.analyzer import is_analyzer_folder

SESSION_FIELDS = ("id", "path", "subject", "date", "label", "version", "frame")
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
# folders that only hold a sorter's output: left out of an id when it is unique without them
_CONTAINER_PARTS = {"sorter_output", "output"}
# NeuroBlueprint: top-level folders above sub-*, and data-type folders below ses-*
_NB_TOP = {"rawdata", "derivatives"}
_NB_DATATYPES = {"ephys", "behav", "funcimg", "anat", "motion"}
_NB_SUBJECT = re.compile(r"^(sub-[^_]+)")
_NB_DATE_KEY = re.compile(r"(?:^|_)(?:date|datetime)-(\d{4})(\d{2})(\d{2})(?!\d)")
_NB_DATE_LABEL = re.compile(r"^ses-(\d{4})(-?)(\d{2})\2(\d{2})(?!\d)")


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
        ``{"id": ..., "path": ...}`` per folder, sorted by path, with ``subject`` and
        ``date`` in NeuroBlueprint trees (:func:`neuroblueprint_fields`). Ids are unique
        (:func:`unique_session_ids`).

    Raises
    ------
    SessionsError
        If ``root`` is not a folder.

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
    kept = []
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
        kept.append((folder, path))
    relatives = [folder.relative_to(root) for folder, _ in kept]
    ids = unique_session_ids(relatives, fallback=root.resolve().name)
    sessions = []
    for sid, (folder, path) in zip(ids, kept, strict=True):
        entry = {"id": sid, "path": str(path)}
        entry.update(neuroblueprint_fields(folder.resolve()))
        sessions.append(entry)
    return sessions


def unique_session_ids(relatives: Sequence[Path | str], fallback: str = "session") -> list[str]:
    """Session ids for folders (paths relative to the search root), unique and readable.

    Each folder gets :func:`session_id_from_path`. Folders that would share an id get,
    after it and a ``-``, the parts of their path that differ within that group (parts
    common to the whole group at the start or end are left out, and so are
    ``sorter_output``/``output`` when other parts remain): ``ks4_bumps/kilosort4`` and
    ``ks4_bumps/phy`` → ``ks4_bumps-kilosort4`` and ``ks4_bumps-phy``. Ids still shared after
    that (names that differ only in punctuation) are numbered ``-2``, ``-3``, ... in the
    order given. The result depends only on the list of folders, never on the order a
    directory is read in (pass them sorted); an id changes only when a folder that would
    share it is added or removed.

    Examples
    --------
    >>> unique_session_ids(["ks4_bumps/kilosort4", "ks4_bumps/phy", "other/kilosort4"])
    ['ks4_bumps-kilosort4', 'ks4_bumps-phy', 'other']
    """
    parts = [Path(r).parts for r in relatives]
    ids = [session_id_from_path(r, fallback=fallback) for r in relatives]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, sid in enumerate(ids):
        groups[sid].append(index)
    for sid, members in groups.items():
        if len(members) < 2:
            continue
        rests = _differing_parts([parts[i] for i in members])
        short = [[p for p in rest if p.lower() not in _CONTAINER_PARTS] or rest for rest in rests]
        for shown in (short, rests):
            suffixes = ["-".join(c for c in map(_clean_part, s) if c) for s in shown]
            if len(set(suffixes)) == len(suffixes):  # they tell the folders apart
                for index, suffix in zip(members, suffixes, strict=True):
                    ids[index] = f"{sid}-{suffix}" if suffix else sid
                break
    return _numbered(ids)


def _differing_parts(paths: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Return the parts of each path left after the parts common to all at start and end."""
    start = 0
    while all(len(p) > start for p in paths) and len({p[start] for p in paths}) == 1:
        start += 1
    rests = [p[start:] for p in paths]
    end = 0
    while all(len(r) > end for r in rests) and len({r[len(r) - 1 - end] for r in rests}) == 1:
        end += 1
    return [r[: len(r) - end] for r in rests]


def _numbered(ids: list[str]) -> list[str]:
    """Return the ids with shared ones numbered: the first kept, the next -2, -3, ..."""
    taken = set(ids)
    counts = Counter(ids)
    seen: Counter[str] = Counter()
    out = []
    for sid in ids:
        seen[sid] += 1
        if counts[sid] > 1 and seen[sid] > 1:
            n = seen[sid]
            while f"{sid}-{n}" in taken:
                n += 1
            sid = f"{sid}-{n}"
            taken.add(sid)
        out.append(sid)
    return out


def neuroblueprint_fields(path: Path | str) -> dict[str, str]:
    """``subject`` and ``date`` of a folder in a NeuroBlueprint tree, from its path.

    The subject is the ``sub-<label>`` part of the last ``sub-*`` folder on the path (key-value
    pairs after it, e.g. ``_id-C57``, are left out); the date comes from the ``ses-*`` folder
    below it: a ``date-YYYYMMDD``/``datetime-YYYYMMDDT...`` pair (``ses-001_date-20240105``) or
    a label that starts with a date (``ses-20240105``, ``ses-20240105T1030``,
    ``ses-2024-01-05``), written ``YYYY-MM-DD``. Fields that cannot be found are left out;
    so is a "date" that is not a real day (``ses-20241399``).

    Examples
    --------
    >>> neuroblueprint_fields("/data/rawdata/sub-01_id-M3/ses-001_date-20240105/ephys/ks4")
    {'subject': 'sub-01', 'date': '2024-01-05'}
    >>> neuroblueprint_fields("/data/lab/mouse3/day1/kilosort4")
    {}
    """
    parts = Path(path).parts
    subjects = [i for i, p in enumerate(parts) if _NB_SUBJECT.match(p)]
    if not subjects:
        return {}
    index = subjects[-1]
    fields = {"subject": _NB_SUBJECT.match(parts[index]).group(1)}  # type: ignore[union-attr]
    if index + 1 < len(parts) and parts[index + 1].startswith("ses-"):
        date = _session_date(parts[index + 1])
        if date is not None:
            fields["date"] = date
    return fields


def _session_date(name: str) -> str | None:
    """Return the date a NeuroBlueprint session folder's name holds, as ``YYYY-MM-DD``."""
    match = _NB_DATE_KEY.search(name)
    if match is not None:
        year, month, day = match.groups()
    else:
        match = _NB_DATE_LABEL.match(name)
        if match is None:
            return None
        year, _, month, day = match.groups()
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return date.isoformat() if 1900 <= date.year <= 2200 else None


def session_id_from_path(relative: Path | str, fallback: str = "session") -> str:
    """Derive a session id from a folder's path relative to the search root.

    Generic folder names (``sorter_output``, ``kilosort4``, ``phy``, ``analyzer``, ``alf``,
    any ``*.zarr``, ...) and NeuroBlueprint scaffolding (``rawdata``/``derivatives`` above
    ``sub-*``, ``ephys`` below ``ses-*``) are dropped, the remaining parts joined with ``_``
    and anything but letters, digits, ``_`` and ``-`` replaced by ``-``. Several folders can
    get the same id this way; :func:`unique_session_ids` tells them apart.

    Examples
    --------
    >>> session_id_from_path("sub-01/ses-02/kilosort4/sorter_output")
    'sub-01_ses-02'
    """
    every = Path(relative).parts
    parts = [p for i, p in enumerate(every) if not _is_generic(p) and not _is_nb_folder(every, i)]
    if not parts:
        parts = list(every) or [fallback]
    text = "_".join(_clean_part(p) for p in parts)
    text = text.strip("_-") or fallback
    return text if ID_PATTERN.match(text) else f"s{text}"


def _clean_part(part: str) -> str:
    """Return a path part with anything but letters, digits, ``_`` and ``-`` made ``-``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", part).strip("-")


def _is_nb_folder(parts: Sequence[str], index: int) -> bool:
    """Return whether ``parts[index]`` is NeuroBlueprint scaffolding.

    That is ``rawdata``/``derivatives`` just above a ``sub-*`` folder, or a data-type folder
    (``ephys``, ...) just below a ``ses-*`` folder.
    """
    part = parts[index].lower()
    if part in _NB_TOP:
        return index + 1 < len(parts) and parts[index + 1].startswith("sub-")
    if part in _NB_DATATYPES:
        return index > 0 and parts[index - 1].startswith("ses-")
    return False


def format_sessions(sessions: Iterable[Mapping[str, object]]) -> str:
    """Return a session list as YAML text, every value quoted so it reads back as text."""
    lines = ["# driftqc session list: one entry per sorted recording (id, path, ...)"]
    for entry in sessions:
        items = [(k, entry[k]) for k in SESSION_FIELDS if entry.get(k) is not None]
        for n, (key, value) in enumerate(items):
            prefix = "- " if n == 0 else "  "
            lines.append(f"{prefix}{key}: {_quoted(str(value))}")
    return "\n".join(lines) + "\n"


#: sections of a config written by :func:`format_config` besides ``sessions`` (the others,
#: demo sizes, amplitude summary and grid layout, are rarely changed and keep their defaults)
CONFIG_SECTIONS = ("filters", "render", "shared_amplitude_scale", "fail_on_session_errors",
                   "drift_qc")  # fmt: skip


def format_config(sessions: Iterable[Mapping[str, object]] | str) -> str:
    """Return a complete workflow config as YAML text: the sessions and the main options.

    ``sessions`` is the list (written inline) or the path of a sessions file. The sections
    in :data:`CONFIG_SECTIONS` hold the defaults of the workflow's schema, so the text is a
    config that runs as is and shows the options worth changing.
    """
    from driftqc.pipeline.runner import workflow_root

    schema_path = workflow_root() / "workflow" / "schemas" / "config.schema.yaml"
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))["properties"]
    lines = [
        "# driftqc workflow config, written by `driftqc init`. Run it as is:",
        "#   driftqc run --configfile THIS_FILE --cores 4",
        "# Every option: config/README.md of driftqc; options left out keep their defaults.",
        "",
    ]
    if isinstance(sessions, str):
        lines.append(f"sessions: {_quoted(sessions)}")
    else:
        lines.append("sessions:")
        body = format_sessions(sessions).splitlines()[1:]
        lines += [f"  {line}" for line in body]
    for section in CONFIG_SECTIONS:
        value = _defaults(schema[section])
        lines += ["", yaml.safe_dump({section: value}, sort_keys=False).rstrip()]
    return "\n".join(lines) + "\n"


def _defaults(schema: Mapping[str, object]) -> object:
    """Return a schema entry's default, with the defaults of its properties filled in."""
    default = schema.get("default")
    properties = schema.get("properties")
    if isinstance(default, dict) and isinstance(properties, Mapping):
        filled = dict(default)
        for name, sub in properties.items():
            if isinstance(sub, Mapping) and "default" in sub:
                filled.setdefault(name, _defaults(sub))
        return filled
    return default


def write_text_file(text: str, path: Path | str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file renamed into place.

    Missing parent folders are created; on any error ``path`` is left as it was.
    """
    path = Path(path)
    data = text.encode("utf-8")
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
    return write_text_file(format_sessions(sessions), path)


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
