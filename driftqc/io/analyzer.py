"""Reading a SpikeInterface ``SortingAnalyzer`` (object or saved folder) into a :class:`Sorting`.

A SortingAnalyzer pairs a sorting with (a link to) its recording and keeps per-spike results as
*extensions*. A drift map needs three of them: ``spike_amplitudes`` (the signed peak of each
spike, usually negative: made positive here), ``spike_locations`` (an estimated x/y per spike;
the depth is y, in the probe frame of the recording the analyzer was built on) and
``templates`` (the mean waveform of each unit, dense (n_units, n_samples, n_channels)).

Amplitudes and templates are in µV when the analyzer was created with ``return_in_uV=True``
(``return_scaled`` before SpikeInterface 0.103) on a recording that knows its gains, otherwise
in the recording's own units (``"a.u."``). Kilosort amplitudes are in yet other units, so
sessions read from both kinds of source must not share one amplitude scale unchecked (see
:mod:`driftqc.units`).

SpikeInterface counts spike times in samples from the start of each *segment*; a drift map
needs one time axis, so the segments are laid end to end: each segment is offset by the
summed duration of the segments before it. Each spike's template and cluster is its unit's
index (0..n_units-1, in the order of ``sorting.unit_ids``), and unit labels come from sorting
properties such as ``quality`` or ``KSLabel``, keyed by that index.

SpikeInterface is an optional dependency (the ``spikeinterface`` extra). This module can be
imported without it: it is imported only when an analyzer is actually read.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from driftqc.errors import MissingExtraError, SortingFormatError
from driftqc.io.geometry import peak_to_trough, shanks_from_positions, template_depths
from driftqc.model import KNOWN_LABELS, SessionInfo, Sorting, SpikeTable

REQUIRED_EXTENSIONS = ("templates", "spike_amplitudes", "spike_locations")
# sorting properties holding unit labels, in order of precedence (curated before automatic)
LABEL_PROPERTIES = ("quality", "group", "label", "labels", "curation", "KSLabel", "ks_label")
_TEMPLATE_OPERATORS = ("average", "median")
_GENERIC_NAMES = ("analyzer", "sorting_analyzer", "sortinganalyzer")


def is_analyzer_object(source: object) -> bool:
    """Whether ``source`` is a SpikeInterface ``SortingAnalyzer`` (without importing it)."""
    cls = type(source)
    return cls.__module__.startswith("spikeinterface") and cls.__name__ == "SortingAnalyzer"


def is_spikeinterface_object(source: object) -> bool:
    """Whether ``source`` is any SpikeInterface object (e.g. a bare sorting or recording)."""
    return type(source).__module__.startswith("spikeinterface")


def is_analyzer_folder(path: Path | str) -> bool:
    """Whether ``path`` is a SortingAnalyzer saved as a binary folder or as zarr.

    A binary folder holds ``spikeinterface_info.json`` naming the object ``SortingAnalyzer``;
    a zarr folder holds the same information in its root ``.zattrs``.
    """
    path = Path(path)
    if not path.is_dir():
        return False
    for marker, key in (("spikeinterface_info.json", None), (".zattrs", "spikeinterface_info")):
        file = path / marker
        if not file.is_file():
            continue
        try:
            info = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if key is not None:
            info = info.get(key, {}) if isinstance(info, dict) else {}
        if isinstance(info, dict) and info.get("object") == "SortingAnalyzer":
            return True
    return False


def read_analyzer(source: Any, *, name: str | None = None, with_depths: bool = True) -> Sorting:
    """Read a SortingAnalyzer, given as the object or as the folder it was saved to.

    Parameters
    ----------
    source
        A ``spikeinterface.SortingAnalyzer``, or the path of one saved with
        ``format="binary_folder"`` or ``format="zarr"``.
    name
        Session name for titles and tables; by default the folder name (``"analyzer"`` for an
        analyzer held in memory).
    with_depths
        False allows a missing ``spike_locations`` extension: each spike is then placed at its
        unit's template depth (enough when only amplitudes are wanted).

    Returns
    -------
    Sorting
        Spike table, templates, geometry, unit labels and provenance.

    Raises
    ------
    MissingExtraError
        If SpikeInterface is not installed and a folder is given.
    SortingFormatError
        If the folder is not a loadable analyzer, an extension the drift map needs is missing
        (the message names it and the call that computes it) or extension arrays do not match
        the number of spikes.

    Notes
    -----
    Times are ``sample_index / sampling_frequency`` plus the segment's offset; offsets come
    from the recording's segment lengths the analyzer stores, or, when those are not
    available, from each segment's last spike. Amplitudes are ``abs`` of the
    ``spike_amplitudes`` extension. The depth frame is recorded as ``"unknown"``: the analyzer
    does not say whether its recording was motion-corrected.

    Examples
    --------
    >>> sorting = read_analyzer("sub-01/ses-01/analyzer.zarr")  # doctest: +SKIP
    >>> sorting.info.amplitude_unit  # doctest: +SKIP
    'µV'
    """
    folder: Path | None = None
    if is_analyzer_object(source):
        analyzer = source
        if getattr(analyzer, "folder", None) is not None:
            folder = Path(analyzer.folder)
    else:
        folder = Path(source)
        analyzer = _load_folder(folder)
    where = str(folder) if folder is not None else "the SortingAnalyzer"
    notes: list[str] = []

    extensions = _get_extensions(analyzer, where, with_depths)
    sorting = analyzer.sorting
    rate = float(sorting.get_sampling_frequency())
    vector = sorting.to_spike_vector()
    n = len(vector)
    times = _concatenated_times(analyzer, vector, rate, notes)
    units = vector["unit_index"].astype(np.int32)

    amplitudes = _per_spike(extensions["spike_amplitudes"], "amplitudes", n, where)
    amplitudes = np.abs(np.asarray(amplitudes, dtype=np.float32))
    templates, operator = _templates(extensions["templates"], where)
    if len(templates) != sorting.get_num_units():
        raise SortingFormatError(
            f"{where}: the templates extension holds {len(templates)} templates but the "
            f"sorting has {sorting.get_num_units()} units; recompute it"
        )
    positions = np.asarray(analyzer.get_channel_locations(), dtype=np.float64)[:, :2]
    if "spike_locations" in extensions:
        ext = extensions["spike_locations"]
        locations = _per_spike(ext, "spike_locations", n, where)
        depths = np.asarray(locations["y"], dtype=np.float32)
        method = ext.params.get("method")
        depth_estimator = f"spike_locations extension, y ({method or 'method not recorded'})"
    else:
        depths = _template_depths(templates, positions)[units]
        depth_estimator = "template centre of mass (spike_locations not computed)"
        notes.append("no spike_locations extension: spikes placed at their unit's depth")

    unit = _amplitude_unit(analyzer, notes)
    sources = _label_sources(sorting)
    info = SessionInfo(
        name=name or _session_name(folder),
        path=None if folder is None else folder.resolve(),
        sorter="spikeinterface",
        sample_rate=rate,
        amplitude_unit=unit,
        amplitude_definition=(
            "abs of the spike_amplitudes extension (the spike's signed peak on its unit's "
            f"extremum channel); templates: '{operator}' of the templates extension"
        ),
        depth_estimator=depth_estimator,
        depth_frame="unknown",
        notes=tuple(notes),
    )
    spikes = SpikeTable(
        times=times,
        amplitudes=amplitudes,
        depths=depths,
        templates=units,
        clusters=units,
        info=info,
        cluster_labels=next(iter(sources.values()), {}),
    )
    templates.flags.writeable = False
    positions.flags.writeable = False
    return Sorting(
        spikes=spikes,
        templates=templates,
        channel_positions=positions,
        channel_shanks=_channel_shanks(analyzer, positions),
        label_sources=sources,
    )


def _load_folder(folder: Path) -> Any:
    if not folder.exists():
        raise SortingFormatError(f"analyzer folder {folder} does not exist")
    if not is_analyzer_folder(folder):
        raise SortingFormatError(
            f"{folder} is not a SpikeInterface SortingAnalyzer folder (no "
            "spikeinterface_info.json or zarr .zattrs naming a SortingAnalyzer)"
        )
    try:
        from spikeinterface.core import load_sorting_analyzer
    except ImportError:
        raise MissingExtraError(
            "spikeinterface", "spikeinterface", f"Reading the analyzer folder {folder}"
        ) from None
    try:
        return load_sorting_analyzer(folder, load_extensions=False)
    except Exception as exc:  # SpikeInterface raises many kinds for a damaged folder
        raise SortingFormatError(
            f"SpikeInterface could not load the analyzer {folder}: {exc}"
        ) from exc


def _get_extensions(analyzer: Any, where: str, with_depths: bool) -> dict[str, Any]:
    needed = REQUIRED_EXTENSIONS if with_depths else REQUIRED_EXTENSIONS[:2]
    found = {name: analyzer.get_extension(name) for name in needed}
    missing = [name for name, ext in found.items() if ext is None]
    if missing:
        to_compute = list(missing)
        if "templates" in missing and analyzer.get_extension("random_spikes") is None:
            to_compute.insert(0, "random_spikes")
        hint = ""
        if not (analyzer.has_recording() or _has_temporary_recording(analyzer)):
            hint = (
                " (the analyzer has no recording attached: load it with the recording "
                "available or call analyzer.set_temporary_recording(recording) first)"
            )
        raise SortingFormatError(
            f"{where} lacks the extension(s) {', '.join(missing)} that a drift map needs; "
            f"compute them with analyzer.compute({to_compute!r}){hint}"
        )
    return found


def _has_temporary_recording(analyzer: Any) -> bool:
    check = getattr(analyzer, "has_temporary_recording", None)
    return bool(check()) if callable(check) else False


def _per_spike(extension: Any, key: str, n: int, where: str) -> np.ndarray:
    data = extension.data.get(key)
    if data is None:
        raise SortingFormatError(f"{where}: the {extension.extension_name} extension has no {key}")
    values = np.asarray(data)
    if len(values) != n:
        raise SortingFormatError(
            f"{where}: the {extension.extension_name} extension holds {len(values)} values but "
            f"the sorting has {n} spikes; recompute it with "
            f"analyzer.compute('{extension.extension_name}')"
        )
    return values


def _templates(extension: Any, where: str) -> tuple[np.ndarray, str]:
    operators = [k for k in extension.data if not k.startswith("_")]
    preferred = [op for op in _TEMPLATE_OPERATORS if op in operators]
    if not preferred and not operators:
        raise SortingFormatError(f"{where}: the templates extension holds no templates")
    operator = (preferred or operators)[0]
    templates = np.array(extension.data[operator], dtype=np.float32)
    if templates.ndim != 3:
        raise SortingFormatError(
            f"{where}: templates '{operator}' should have shape (n_units, n_samples, "
            f"n_channels), found {templates.shape}"
        )
    return templates, operator


def _concatenated_times(
    analyzer: Any, vector: np.ndarray, rate: float, notes: list[str]
) -> np.ndarray:
    times = vector["sample_index"].astype(np.float64) / rate
    n_segments = int(analyzer.get_num_segments())
    if n_segments <= 1:
        return times
    segment = vector["segment_index"]
    lengths, source = _segment_durations(analyzer, times, segment, n_segments, rate)
    offsets = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    times += offsets[segment]
    starts = ", ".join(f"{t:.3f}" for t in offsets)
    notes.append(
        f"{n_segments} recording segments laid end to end (segment starts {starts} s, "
        f"from {source})"
    )
    return times


def _segment_durations(
    analyzer: Any, times: np.ndarray, segment: np.ndarray, n_segments: int, rate: float
) -> tuple[np.ndarray, str]:
    try:
        samples = [int(analyzer.get_num_samples(i)) for i in range(n_segments)]
        return np.asarray(samples, dtype=np.float64) / rate, "the recording's segment lengths"
    except Exception:  # older analyzers may not store them; fall back to the spikes
        last = np.zeros(n_segments)
        for i in range(n_segments):
            in_segment = times[segment == i]
            last[i] = in_segment.max() + 1.0 / rate if len(in_segment) else 0.0
        return last, "each segment's last spike (segment lengths not stored)"


def _amplitude_unit(analyzer: Any, notes: list[str]) -> str:
    in_uv = getattr(analyzer, "return_in_uV", None)
    if in_uv is None:  # SpikeInterface < 0.103
        in_uv = getattr(analyzer, "return_scaled", False)
    if not in_uv:
        notes.append("analyzer created with return_in_uV=False: amplitudes in recording units")
        return "a.u."
    properties = getattr(analyzer, "rec_attributes", {}).get("properties", {}) or {}
    if properties.get("gain_to_uV") is None:
        notes.append("the recording has no gain_to_uV: amplitudes in recording units")
        return "a.u."
    return "µV"


def _label_sources(sorting: Any) -> dict[str, dict[int, str]]:
    keys = list(sorting.get_property_keys())
    ordered = [k for k in LABEL_PROPERTIES if k in keys] + [
        k for k in keys if k not in LABEL_PROPERTIES
    ]
    sources: dict[str, dict[int, str]] = {}
    for key in ordered:
        values = np.asarray(sorting.get_property(key))
        if values.ndim != 1 or values.dtype.kind not in "OUS":
            continue
        labels = [_label_text(v) for v in values]
        if key in LABEL_PROPERTIES or set(labels) <= set(KNOWN_LABELS):
            sources[key] = dict(enumerate(labels))
    unknown = {lab for labels in sources.values() for lab in labels.values()} - set(KNOWN_LABELS)
    if unknown:
        warnings.warn(
            f"unit labels {sorted(unknown)} are not one of {list(KNOWN_LABELS)}; "
            "they are kept as given and treated as not noise",
            stacklevel=3,
        )
    return sources


def _label_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unsorted"
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip().lower() or "unsorted"


def _channel_shanks(analyzer: Any, positions: np.ndarray) -> np.ndarray:
    """Shank of each channel from the probe's shank ids, else from gaps in x."""
    try:
        contacts = analyzer.get_probegroup().to_numpy(complete=True)
        # same ordering as SortingAnalyzer.get_channel_locations
        contacts = contacts[np.argsort(contacts["device_channel_indices"])]
        keys = np.char.add(contacts["probe_index"].astype(str), "/")
        keys = np.char.add(keys, contacts["shank_ids"].astype(str))
        if len(keys) == len(positions) and len(np.unique(keys)) > 1:
            return np.unique(keys, return_inverse=True)[1].astype(np.int32)
    except Exception:  # no probe attached or an older probeinterface layout
        pass
    return shanks_from_positions(positions)


def _template_depths(templates: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return template_depths(peak_to_trough(templates), positions[:, 1]).astype(np.float32)


def _session_name(folder: Path | None) -> str:
    if folder is None:
        return "analyzer"
    resolved = folder.resolve()
    stem = resolved.name.removesuffix(".zarr")
    if stem.lower() in _GENERIC_NAMES and resolved.parent.name:
        return f"{resolved.parent.name}/{resolved.name}"
    return resolved.name
