"""Reading a SpikeInterface ``SortingAnalyzer`` (object or saved folder) into a :class:`Sorting`.

A SortingAnalyzer pairs a sorting with (a link to) its recording and keeps per-spike results as
*extensions*. A drift map needs three of them: ``spike_amplitudes`` (the signed peak of each
spike, usually negative: made positive here), ``spike_locations`` (an estimated x/y per spike;
the depth is y, in the probe frame of the recording the analyzer was built on) and
``templates`` (the mean waveform of each unit, dense (n_units, n_samples, n_channels)).

Two sources, one result:

* a **saved folder** (``format="binary_folder"`` or ``format="zarr"``) is read as data by
  :mod:`driftqc.io.analyzer_folder`, without SpikeInterface (it need not be installed; zarr
  folders need the ``zarr`` package). SpikeInterface's own loader is never used on a folder:
  it unpickles ``recording.pickle`` and builds the class ``recording.json`` names, so a
  folder could run code. Here JSON is parsed as plain data, arrays are read without pickle,
  zarr arrays only with numeric codecs, and no ``*.pickle``/``*.pkl`` file is opened.
* an **analyzer object** the caller already holds is read through its own methods (it is the
  caller's object; nothing new is loaded).

Both become a :class:`~driftqc.io.analyzer_folder.AnalyzerContent` of plain arrays, and one
code path turns that into the :class:`Sorting`.

Amplitudes and templates are in µV when the analyzer was created with ``return_in_uV=True``
(``return_scaled`` before SpikeInterface 0.103) on a recording that knows its gains, otherwise
in the recording's own units (``"a.u."``). Kilosort amplitudes are in yet other units, so
sessions read from both kinds of source must not share one amplitude scale unchecked (see
:mod:`driftqc.qc.amplitude_units`).

SpikeInterface counts spike times in samples from the start of each *segment*; a drift map
needs one time axis, so the segments are laid end to end: each segment is offset by the
summed duration of the segments before it. Each spike's template and cluster is its unit's
index (0..n_units-1, in the order of ``sorting.unit_ids``), and unit labels come from sorting
properties such as ``quality`` or ``KSLabel``, keyed by that index.

SpikeInterface is an optional dependency (the ``spikeinterface`` extra), needed only to build
analyzer objects; this module never imports it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from driftqc.errors import SortingFormatError
from driftqc.geometry import channel_shanks, peak_to_trough, template_depths
from driftqc.io.analyzer_folder import (
    REQUIRED_EXTENSIONS,
    AnalyzerContent,
    analyzer_files,
    choose_template_operator,
    missing_extensions_error,
    read_analyzer_folder,
)
from driftqc.model import KNOWN_LABELS, SessionInfo, Sorting, SpikeTable
from driftqc.text import printable

__all__ = [
    "LABEL_PROPERTIES",
    "REQUIRED_EXTENSIONS",
    "analyzer_files",
    "is_analyzer_folder",
    "is_analyzer_object",
    "is_spikeinterface_object",
    "read_analyzer",
]

# sorting properties holding unit labels, in order of precedence (curated before automatic)
LABEL_PROPERTIES = ("quality", "group", "label", "labels", "curation", "KSLabel", "ks_label")
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
    a zarr folder holds the same information in its root ``.zattrs``. Only those JSON files
    are read.
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
        except (OSError, ValueError, RecursionError):
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
        ``format="binary_folder"`` or ``format="zarr"``. A folder is read as data, without
        SpikeInterface and without opening any pickle (see :mod:`driftqc.io.analyzer_folder`).
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
    SortingFormatError
        If the folder is not an analyzer or one of its files is missing, corrupt, pickled or
        of the wrong type (the message names the file), an extension the drift map needs is
        missing (the message names it and the call that computes it) or extension arrays do
        not match the number of spikes.
    MissingExtraError
        If a zarr folder is given and the ``zarr`` package is not installed.

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
    if is_analyzer_object(source):
        folder = getattr(source, "folder", None)
        folder = Path(folder) if folder is not None else None
        content = _content_from_object(source, with_depths, str(folder or "the SortingAnalyzer"))
    else:
        folder = Path(source)
        content = read_analyzer_folder(folder, with_depths=with_depths)
    return _build_sorting(content, name or _session_name(folder), folder)


# ---------------------------------------------------------------------------------------------
# an analyzer object the caller holds → plain arrays


def _content_from_object(analyzer: Any, with_depths: bool, where: str) -> AnalyzerContent:
    extensions = _get_extensions(analyzer, where, with_depths)
    sorting = analyzer.sorting
    vector = sorting.to_spike_vector()
    n_segments = int(analyzer.get_num_segments())
    try:
        num_samples: list[int] | None = [
            int(analyzer.get_num_samples(i)) for i in range(n_segments)
        ]
    except Exception:  # older analyzers may not store them; times then use the last spikes
        num_samples = None
    origins = {
        "spikes": "the sorting's spike vector",
        "amplitudes": "the spike_amplitudes extension",
        "depths": "the spike_locations extension",
        "templates": "the templates extension",
    }
    amplitudes = _extension_data(extensions["spike_amplitudes"], "amplitudes", where)
    depths, method = None, None
    if "spike_locations" in extensions:
        ext = extensions["spike_locations"]
        depths = np.asarray(_extension_data(ext, "spike_locations", where)["y"])
        method = ext.params.get("method")
    templates_ext = extensions["templates"]
    operator = choose_template_operator(list(templates_ext.data))
    if operator is None:
        raise SortingFormatError(f"{where}: the templates extension holds no templates")
    positions = np.asarray(analyzer.get_channel_locations(), dtype=np.float64)[:, :2]
    return AnalyzerContent(
        where=where,
        sampling_frequency=float(sorting.get_sampling_frequency()),
        sample_index=np.asarray(vector["sample_index"]),
        unit_index=np.asarray(vector["unit_index"]),
        segment_index=np.asarray(vector["segment_index"]),
        num_segments=n_segments,
        num_units=int(sorting.get_num_units()),
        num_samples=num_samples,
        properties={k: np.asarray(sorting.get_property(k)) for k in sorting.get_property_keys()},
        amplitudes=np.asarray(amplitudes),
        depths=depths,
        location_method=method,
        templates=np.asarray(templates_ext.data[operator]),
        template_operator=operator,
        channel_positions=positions,
        channel_groups=_object_channel_groups(analyzer, len(positions)),
        return_in_uV=_object_in_uv(analyzer),
        has_gain_to_uV=_object_has_gain(analyzer),
        origins=origins,
    )


def _get_extensions(analyzer: Any, where: str, with_depths: bool) -> dict[str, Any]:
    needed = REQUIRED_EXTENSIONS if with_depths else REQUIRED_EXTENSIONS[:2]
    found = {name: analyzer.get_extension(name) for name in needed}
    missing = [name for name, ext in found.items() if ext is None]
    if missing:
        hint = ""
        if not (analyzer.has_recording() or _has_temporary_recording(analyzer)):
            hint = (
                " (the analyzer has no recording attached: load it with the recording "
                "available or call analyzer.set_temporary_recording(recording) first)"
            )
        have_random = analyzer.get_extension("random_spikes") is not None
        raise missing_extensions_error(missing, have_random, where, hint)
    return found


def _has_temporary_recording(analyzer: Any) -> bool:
    check = getattr(analyzer, "has_temporary_recording", None)
    return bool(check()) if callable(check) else False


def _extension_data(extension: Any, key: str, where: str) -> Any:
    data = extension.data.get(key)
    if data is None:
        raise SortingFormatError(f"{where}: the {extension.extension_name} extension has no {key}")
    return data


def _object_in_uv(analyzer: Any) -> bool:
    in_uv = getattr(analyzer, "return_in_uV", None)
    if in_uv is None:  # SpikeInterface < 0.103
        in_uv = getattr(analyzer, "return_scaled", False)
    return bool(in_uv)


def _object_has_gain(analyzer: Any) -> bool:
    properties = getattr(analyzer, "rec_attributes", {}).get("properties", {}) or {}
    return properties.get("gain_to_uV") is not None


def _object_channel_groups(analyzer: Any, n_channels: int) -> np.ndarray | None:
    """Probe/shank key of each channel, ordered as ``get_channel_locations`` orders them."""
    try:
        contacts = analyzer.get_probegroup().to_numpy(complete=True)
        contacts = contacts[np.argsort(contacts["device_channel_indices"], kind="stable")]
        keys = np.char.add(contacts["probe_index"].astype(str), "/")
        keys = np.char.add(keys, contacts["shank_ids"].astype(str))
    except Exception:  # no probe attached or an older probeinterface layout
        return None
    return keys if len(keys) == n_channels else None


# ---------------------------------------------------------------------------------------------
# plain arrays (from either source) → Sorting


def _build_sorting(content: AnalyzerContent, name: str, folder: Path | None) -> Sorting:
    where = content.where
    notes = list(content.notes)
    n = len(content.sample_index)
    spikes_origin = content.origins.get("spikes", "the spike vector")
    if not (len(content.unit_index) == len(content.segment_index) == n):
        raise SortingFormatError(f"{where}: {spikes_origin} fields differ in length")
    times = _concatenated_times(content, notes)
    units = content.unit_index.astype(np.int32)

    amplitudes = _per_spike(content.amplitudes, "spike_amplitudes", n, content)
    amplitudes = np.abs(np.asarray(amplitudes, dtype=np.float32))
    templates = np.array(content.templates, dtype=np.float32)
    operator = content.template_operator
    templates_origin = content.origins.get("templates", "the templates extension")
    if templates.ndim != 3:
        raise SortingFormatError(
            f"{where}: templates '{operator}' ({templates_origin}) should have shape "
            f"(n_units, n_samples, n_channels), found {templates.shape}"
        )
    if len(templates) != content.num_units:
        raise SortingFormatError(
            f"{where}: the templates extension ({templates_origin}) holds {len(templates)} "
            f"templates but the sorting has {content.num_units} units; recompute it"
        )
    positions = np.array(content.channel_positions, dtype=np.float64)
    if templates.shape[2] != len(positions):
        raise SortingFormatError(
            f"{where}: templates ({templates_origin}) have {templates.shape[2]} channels but "
            f"the probe has {len(positions)}"
        )
    if content.depths is not None:
        depths = _per_spike(content.depths, "spike_locations", n, content).astype(np.float32)
        method = content.location_method
        depth_estimator = f"spike_locations extension, y ({method or 'method not recorded'})"
    else:
        depths = _template_depths(templates, positions)[units]
        depth_estimator = "template centre of mass (spike_locations not computed)"
        notes.append("no spike_locations extension: spikes placed at their unit's depth")

    unit = _amplitude_unit(content.return_in_uV, content.has_gain_to_uV, notes)
    sources = _label_sources(content)
    info = SessionInfo(
        name=name,
        path=None if folder is None else folder.resolve(),
        sorter="spikeinterface",
        sample_rate=content.sampling_frequency,
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
    return Sorting(
        spikes=spikes,
        templates=templates,
        channel_positions=positions,
        channel_shanks=_channel_shanks(content.channel_groups, positions),
        label_sources=sources,
    )


def _per_spike(values: np.ndarray, extension: str, n: int, content: AnalyzerContent) -> Any:
    key = "amplitudes" if extension == "spike_amplitudes" else "depths"
    origin = content.origins.get(key, f"the {extension} extension")
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) != n:
        found = f"{len(values)} values" if values.ndim == 1 else f"shape {values.shape}"
        raise SortingFormatError(
            f"{content.where}: the {extension} extension ({origin}) holds {found} but "
            f"the sorting has {n} spikes; recompute it with analyzer.compute('{extension}')"
        )
    if values.dtype.kind not in "iuf":
        raise SortingFormatError(
            f"{content.where}: {origin} should hold numbers, found dtype {values.dtype}"
        )
    return values


def _concatenated_times(content: AnalyzerContent, notes: list[str]) -> np.ndarray:
    rate = content.sampling_frequency
    times = content.sample_index.astype(np.float64) / rate
    n_segments = content.num_segments
    if n_segments <= 1:
        return times
    segment = content.segment_index
    if content.num_samples is not None:
        lengths = np.asarray(content.num_samples, dtype=np.float64) / rate
        source = "the recording's segment lengths"
    else:  # older analyzers may not store them; fall back to the spikes
        lengths = np.zeros(n_segments)
        for i in range(n_segments):
            in_segment = times[segment == i]
            lengths[i] = in_segment.max() + 1.0 / rate if len(in_segment) else 0.0
        source = "each segment's last spike (segment lengths not stored)"
    offsets = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    times += offsets[segment]
    starts = ", ".join(f"{t:.3f}" for t in offsets)
    notes.append(
        f"{n_segments} recording segments laid end to end (segment starts {starts} s, "
        f"from {source})"
    )
    return times


def _amplitude_unit(in_uv: bool, has_gain: bool, notes: list[str]) -> str:
    if not in_uv:
        notes.append("analyzer created with return_in_uV=False: amplitudes in recording units")
        return "a.u."
    if not has_gain:
        notes.append("the recording has no gain_to_uV: amplitudes in recording units")
        return "a.u."
    return "µV"


def _label_sources(content: AnalyzerContent) -> dict[str, dict[int, str]]:
    keys = list(content.properties)
    ordered = [k for k in LABEL_PROPERTIES if k in keys] + [
        k for k in keys if k not in LABEL_PROPERTIES
    ]
    sources: dict[str, dict[int, str]] = {}
    for key in ordered:
        values = np.asarray(content.properties[key])
        if values.ndim != 1 or values.dtype.kind not in "OUS":
            continue
        if len(values) != content.num_units:
            origin = content.origins.get(f"property {key}", f"sorting property {key}")
            raise SortingFormatError(
                f"{content.where}: {origin} holds {len(values)} values but the sorting has "
                f"{content.num_units} units"
            )
        labels = [_label_text(v) for v in values]
        if key in LABEL_PROPERTIES or set(labels) <= set(KNOWN_LABELS):
            sources[key] = dict(enumerate(labels))
    unknown = {lab for labels in sources.values() for lab in labels.values()} - set(KNOWN_LABELS)
    if unknown:
        warnings.warn(
            f"unit labels {sorted(unknown)} are not one of {list(KNOWN_LABELS)}; "
            "they are kept as given and treated as not noise",
            stacklevel=4,
        )
    return sources


def _label_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "unsorted"
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip().lower() or "unsorted"


def _channel_shanks(groups: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
    """Shank of each channel from the probe's probe/shank keys, else from gaps in x."""
    if groups is not None and len(groups) != len(positions):
        groups = None  # keys that do not fit the channels say nothing
    return channel_shanks(positions, groups)


def _template_depths(templates: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return template_depths(peak_to_trough(templates), positions[:, 1]).astype(np.float32)


def _session_name(folder: Path | None) -> str:
    if folder is None:
        return "analyzer"
    resolved = folder.resolve()
    stem = resolved.name.removesuffix(".zarr")
    if stem.lower() in _GENERIC_NAMES and resolved.parent.name:
        return printable(f"{resolved.parent.name}/{resolved.name}")
    return printable(resolved.name)
