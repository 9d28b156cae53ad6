"""A saved SpikeInterface ``SortingAnalyzer`` folder, read as data without SpikeInterface.

SpikeInterface's own loader (``load_sorting_analyzer``) unpickles ``recording.pickle``,
rebuilds the recording from the class that ``recording.json`` names and unpickles ``.pkl``
extension files and object arrays, so pointing it at a folder someone else wrote can run
their code. driftqc promises that nothing in a data folder is ever executed, so analyzer
folders are read here, file by file, as plain data:

* JSON files (and zarr ``.zattrs``) are parsed as plain values; a class named in them is never
  imported or built;
* ``.npy`` arrays go through :func:`driftqc.io.npy.load_npy`, which refuses pickled (object)
  arrays and reports truncated files;
* zarr arrays are read with the ``zarr`` package only after their ``.zarray`` metadata has
  been checked: object dtypes, and any codec not on a fixed list of numeric compressors and
  filters (so numcodecs ``pickle``, ``json2``, ``msgpack``, ``vlen-*``, ``categorize``,
  ...), are refused before a byte of data is decoded.

What is read (binary folder / zarr):

========================  ===============================================  ======================
what                      binary folder                                    zarr
========================  ===============================================  ======================
settings                  ``settings.json``                                root ``.zattrs``
spikes, sampling rate     ``sorting/spikes.npy``,                          ``sorting/spikes/*``,
                          ``sorting/numpysorting_info.json``               ``sorting/.zattrs``,
                                                                           ``sorting/unit_ids``
unit labels               ``sorting/properties/<name>.npy`` (strings)      ``sorting/properties``
segment lengths, gains    ``recording_info/recording_attributes.json``     ``recording_info``
probe (positions, shanks) ``recording_info/probegroup.json``               ``recording_info``
extensions                ``extensions/<name>/params.json``,               ``extensions/<name>``
                          ``run_info.json``, the data arrays used
========================  ===============================================  ======================

Never opened: ``recording.json`` / ``recording.pickle`` (the recording is not needed for a
drift map), ``sorting/si_folder.json`` and ``sorting_provenance.*``, any ``*.pickle`` or
``*.pkl`` file, ``.csv`` extension tables, the zarr ``recording`` object array, and zarr's
consolidated ``.zmetadata`` (each array's own metadata is read instead). Sorting properties
that are not strings (numbers, Python objects) are not loaded: only strings can be labels.

Templates: SpikeInterface saves the ``templates`` extension dense, (n_units, n_samples,
n_channels), also for sparse analyzers (channels outside a unit's sparsity are zero), so
``sparsity_mask`` is not needed and not read.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from driftqc.errors import MissingExtraError, SortingFormatError
from driftqc.io import npy

REQUIRED_EXTENSIONS = ("templates", "spike_amplitudes", "spike_locations")
TEMPLATE_OPERATORS = ("average", "median")
# more recording segments than any real session has: refused before arrays of that size are made
_MAX_SEGMENTS = 100_000
# an array larger than this must not decode to more than _MAX_EXPANSION times its chunks
_SMALL_ARRAY_BYTES = 64 * 2**20
_MAX_EXPANSION = 256
# the data array each per-spike extension is read from
_PER_SPIKE_ARRAYS = {"spike_amplitudes": "amplitudes", "spike_locations": "spike_locations"}
# numcodecs ids that decode bytes to numbers and cannot run code or build Python objects
_SAFE_CODECS = frozenset(
    {
        "blosc", "zstd", "lz4", "zlib", "gzip", "bz2", "lzma", "delta", "astype",
        "fixedscaleoffset", "quantize", "bitround", "shuffle", "packbits", "crc32",
        "adler32", "fletcher32", "jenkins_lookup3",
    }
)  # fmt: skip


@dataclass
class AnalyzerContent:
    """Everything a drift map needs from an analyzer, as plain arrays and values.

    Built from a saved folder by :func:`read_analyzer_folder`, or from an analyzer object by
    :mod:`driftqc.io.analyzer`; either way :func:`driftqc.io.analyzer.read_analyzer` turns it
    into a :class:`driftqc.model.Sorting`.

    Attributes
    ----------
    where
        The folder (or ``"the SortingAnalyzer"``), for messages.
    sampling_frequency
        Samples per second of the sorting.
    sample_index, unit_index, segment_index
        The spike vector, one entry per spike, in the order of the extensions' data.
    num_segments
        Number of recording segments.
    num_units
        Number of units (templates and labels are indexed 0..num_units-1).
    num_samples
        Samples in each segment, or None when the analyzer does not store them.
    properties
        Sorting properties that may hold labels: name → one value per unit.
    amplitudes
        The ``spike_amplitudes`` extension's ``amplitudes`` (signed).
    depths
        The ``y`` of the ``spike_locations`` extension, or None when it was not read.
    location_method
        ``spike_locations`` parameter ``method``, if recorded.
    templates
        The chosen templates operator's array, (n_units, n_samples, n_channels).
    template_operator
        Which operator that is (``average``, ``median``, ...).
    channel_positions
        (n_channels, 2) x/y of each channel, in µm.
    channel_groups
        A probe/shank key per channel (``"0/1"``), or None when the probe does not say.
    return_in_uV
        Whether extensions were computed in µV (``return_in_uV``, formerly ``return_scaled``).
    has_gain_to_uV
        Whether the recording had a ``gain_to_uV`` property.
    origins
        Name of each array (``"amplitudes"``, ``"templates"``, ...) → the file or extension
        it came from, for error messages.
    notes
        Remarks for the provenance (e.g. properties that were skipped).
    """

    where: str
    sampling_frequency: float
    sample_index: np.ndarray
    unit_index: np.ndarray
    segment_index: np.ndarray
    num_segments: int
    num_units: int
    num_samples: list[int] | None
    properties: dict[str, np.ndarray]
    amplitudes: np.ndarray
    depths: np.ndarray | None
    location_method: str | None
    templates: np.ndarray
    template_operator: str
    channel_positions: np.ndarray
    channel_groups: np.ndarray | None
    return_in_uV: bool
    has_gain_to_uV: bool
    origins: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def choose_template_operator(names: list[str]) -> str | None:
    """Pick the templates operator to show: average, else median, else the first one.

    Parameters
    ----------
    names
        Names of the arrays the ``templates`` extension holds.

    Returns
    -------
    str or None
        The chosen name, or None when there is none.
    """
    candidates = [n for n in names if not n.startswith("_")]
    preferred = [op for op in TEMPLATE_OPERATORS if op in candidates]
    return (preferred or candidates or [None])[0]


def missing_extensions_error(
    missing: list[str], have_random_spikes: bool, where: str, hint: str = ""
) -> SortingFormatError:
    """Build the error for missing extensions: it names them and the call computing them.

    Parameters
    ----------
    missing
        Names of the missing extensions, in :data:`REQUIRED_EXTENSIONS` order.
    have_random_spikes
        Whether ``random_spikes`` (which ``templates`` needs) is computed.
    where
        The analyzer's folder, or a description of the object.
    hint
        Text appended to the message.

    Returns
    -------
    SortingFormatError
        The error to raise.
    """
    to_compute = list(missing)
    if "templates" in missing and not have_random_spikes:
        to_compute.insert(0, "random_spikes")
    return SortingFormatError(
        f"{where} lacks the extension(s) {', '.join(missing)} that a drift map needs; "
        f"compute them with analyzer.compute({to_compute!r}){hint}"
    )


def read_analyzer_folder(folder: Path | str, *, with_depths: bool = True) -> AnalyzerContent:
    """Read a SortingAnalyzer saved as a binary folder or as zarr, as data only.

    Parameters
    ----------
    folder
        The analyzer folder (``format="binary_folder"`` or ``format="zarr"``).
    with_depths
        False does not need (or read) the ``spike_locations`` extension.

    Returns
    -------
    AnalyzerContent
        The spike vector, per-spike extension arrays, templates, geometry and settings.

    Raises
    ------
    SortingFormatError
        If a file is missing, is not valid JSON, holds pickled or object data, has the wrong
        type or shape, or disagrees with the others; the message names the file. Also when
        an extension the drift map needs is missing (with the call that computes it).
    MissingExtraError
        If the folder is zarr and the ``zarr`` package is not installed.
    """
    layout = _open_layout(Path(folder))
    where = str(layout.folder)
    settings = layout.settings()
    rate, unit_count, n_segments = layout.sorting_info()
    sample, unit, segment = layout.spike_vector(n_segments)
    n = len(sample)
    _check_indices(unit, unit_count, "unit_index", layout.spikes_origin)
    _check_indices(segment, n_segments, "segment_index", layout.spikes_origin)
    if n and sample.min() < 0:
        raise SortingFormatError(f"{layout.spikes_origin} holds negative sample indices")

    attributes = layout.recording_attributes()
    attributes_origin = layout.recording_attributes_origin
    num_samples = _num_samples(attributes, n_segments, attributes_origin)
    properties = attributes.get("properties") or {}
    if not isinstance(properties, dict):
        raise SortingFormatError(f"{attributes_origin}: 'properties' is not a mapping")
    num_channels = _num_channels(attributes, attributes_origin)
    positions, groups = _probe_geometry(layout.probegroup(), num_channels, layout, attributes)

    needed = REQUIRED_EXTENSIONS if with_depths else REQUIRED_EXTENSIONS[:2]
    extensions = {name: layout.extension(name) for name in needed}
    missing = [name for name in needed if extensions[name] is None]
    if missing:
        raise missing_extensions_error(
            missing,
            layout.extension("random_spikes") is not None,
            where,
            " (in SpikeInterface, with the analyzer's recording available)",
        )
    present = {name: ext for name, ext in extensions.items() if ext is not None}
    origins: dict[str, str] = {"spikes": layout.spikes_origin}
    amplitudes, origins["amplitudes"] = layout.extension_array(
        "spike_amplitudes", _PER_SPIKE_ARRAYS["spike_amplitudes"]
    )
    amplitudes = _numeric_vector(amplitudes, origins["amplitudes"])
    depths, method = None, None
    if with_depths:
        locations, origins["depths"] = layout.extension_array(
            "spike_locations", _PER_SPIKE_ARRAYS["spike_locations"]
        )
        depths = _location_y(locations, origins["depths"])
        value = present["spike_locations"].params.get("method")
        method = value if isinstance(value, str) else None

    operator = choose_template_operator(present["templates"].arrays)
    if operator is None:
        raise SortingFormatError(
            f"{layout.extension_origin('templates')} holds no templates array; recompute it "
            "with analyzer.compute('templates')"
        )
    templates, origins["templates"] = layout.extension_array("templates", operator)
    if templates.dtype.kind not in "iuf":
        raise SortingFormatError(
            f"{origins['templates']} should hold numbers, found dtype {templates.dtype}"
        )
    if templates.ndim == 3 and templates.shape[2] != num_channels:
        raise SortingFormatError(
            f"{origins['templates']} has {templates.shape[2]} channels but "
            f"{attributes_origin} describes {num_channels}"
        )

    return AnalyzerContent(
        where=where,
        sampling_frequency=rate,
        sample_index=sample,
        unit_index=unit,
        segment_index=segment,
        num_segments=n_segments,
        num_units=unit_count,
        num_samples=num_samples,
        properties=layout.properties(origins),
        amplitudes=amplitudes,
        depths=depths,
        location_method=method,
        templates=templates,
        template_operator=operator,
        channel_positions=positions,
        channel_groups=groups,
        return_in_uV=_return_in_uv(settings, layout.settings_origin),
        has_gain_to_uV=properties.get("gain_to_uV") is not None,
        origins=origins,
        notes=layout.notes,
    )


def analyzer_files(folder: Path | str, *, with_depths: bool = True) -> list[Path]:
    """List every file :func:`read_analyzer_folder` reads from an analyzer folder.

    Meant for workflow engines that track a job's inputs: a change to any listed file
    changes what is read. Only JSON files (and zarr ``.zarray`` metadata) and directory
    listings are looked at; no array data is read, so this is quick for any session size.

    Parameters
    ----------
    folder
        A SortingAnalyzer saved as a binary folder or as zarr.
    with_depths
        False leaves out the ``spike_locations`` extension (not read then).

    Returns
    -------
    list of Path
        Existing files only, sorted. Files the reader needs but that are missing are left
        out (the reader then reports them). For zarr: the ``.zattrs`` of every group read
        and every file (``.zarray`` and chunks) of every array read.

    Raises
    ------
    SortingFormatError
        If ``folder`` is not a SortingAnalyzer folder.
    """
    layout = _open_layout(Path(folder))
    names = list(REQUIRED_EXTENSIONS if with_depths else REQUIRED_EXTENSIONS[:2])
    return sorted(set(layout.files(names)))


# ---------------------------------------------------------------------------------------------
# the two on-disk layouts


class _Layout:
    """What both layouts offer; paths and formats differ."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.notes: list[str] = []

    spikes_origin = ""
    settings_origin = ""
    recording_attributes_origin = ""

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def sorting_info(self) -> tuple[float, int, int]:
        raise NotImplementedError

    def spike_vector(self, n_segments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def recording_attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def probegroup(self) -> tuple[dict[str, Any] | None, str]:
        raise NotImplementedError

    def properties(self, origins: dict[str, str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def extension(self, name: str) -> _Extension | None:
        raise NotImplementedError

    def extension_origin(self, name: str) -> str:
        return str(self.folder / "extensions" / name)

    def extension_array(self, name: str, key: str) -> tuple[np.ndarray, str]:
        raise NotImplementedError

    def files(self, extensions: list[str]) -> list[Path]:
        raise NotImplementedError


@dataclass(frozen=True)
class _Extension:
    params: dict[str, Any]
    arrays: list[str]


def _open_layout(folder: Path) -> _Layout:
    if not folder.exists():
        raise SortingFormatError(f"analyzer folder {folder} does not exist")
    if (folder / "spikeinterface_info.json").is_file():
        info = _read_json(folder / "spikeinterface_info.json")
        if info.get("object") == "SortingAnalyzer":
            return _BinaryLayout(folder)
    if (folder / ".zattrs").is_file():
        info = _read_json(folder / ".zattrs").get("spikeinterface_info")
        if isinstance(info, dict) and info.get("object") == "SortingAnalyzer":
            return _ZarrLayout(folder)
    raise SortingFormatError(
        f"{folder} is not a SpikeInterface SortingAnalyzer folder (no "
        "spikeinterface_info.json or zarr .zattrs naming a SortingAnalyzer)"
    )


class _BinaryLayout(_Layout):
    """``save_as(format="binary_folder")``: JSON files and ``.npy`` arrays."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.spikes_origin = str(folder / "sorting" / "spikes.npy")
        self.settings_origin = str(folder / "settings.json")
        self.recording_attributes_origin = str(
            folder / "recording_info" / "recording_attributes.json"
        )

    def settings(self) -> dict[str, Any]:
        return _read_json(Path(self.settings_origin))

    def sorting_info(self) -> tuple[float, int, int]:
        path = self.folder / "sorting" / "numpysorting_info.json"
        info = _read_json(path)
        unit_ids = info.get("unit_ids")
        if not isinstance(unit_ids, list):
            raise SortingFormatError(f"{path}: 'unit_ids' should be a list, found {unit_ids!r}")
        rate = _positive_number(info.get("sampling_frequency"), "sampling_frequency", path)
        segments = _count(info.get("num_segments"), "num_segments", path, maximum=_MAX_SEGMENTS)
        return rate, len(unit_ids), segments

    def spike_vector(self, n_segments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        path = Path(self.spikes_origin)
        vector = _load_npy(path, kinds="V", what="a spike vector (a structured array)")
        names = vector.dtype.names or ()
        fields = ("sample_index", "unit_index", "segment_index")
        if vector.ndim != 1 or any(f not in names for f in fields):
            raise SortingFormatError(
                f"{path} should be a spike vector (one row per spike with fields "
                f"{', '.join(fields)}); found dtype {vector.dtype} and shape {vector.shape}"
            )
        for name in fields:
            if vector.dtype[name].kind not in "iu":
                raise SortingFormatError(
                    f"{path}: field {name} should hold integers, found {vector.dtype[name]}"
                )
        sample, unit, segment = (np.asarray(vector[f], dtype=np.int64) for f in fields)
        return sample, unit, segment

    def recording_attributes(self) -> dict[str, Any]:
        return _read_json(Path(self.recording_attributes_origin))

    def probegroup(self) -> tuple[dict[str, Any] | None, str]:
        path = self.folder / "recording_info" / "probegroup.json"
        return (_read_json(path) if path.is_file() else None), str(path)

    def properties(self, origins: dict[str, str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for path in self._property_files():
            dtype = _npy_dtype(path)
            if dtype.hasobject:
                self.notes.append(
                    f"sorting property {path.stem} not read: it holds Python objects (pickle)"
                )
                continue
            if dtype.kind not in "US":
                continue  # numbers cannot be labels: not read
            found[path.stem] = _load_npy(path, kinds="US", what="strings")
            origins[f"property {path.stem}"] = str(path)
        return found

    def _property_files(self) -> list[Path]:
        folder = self.folder / "sorting" / "properties"
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix == ".npy" and p.is_file())

    def extension(self, name: str) -> _Extension | None:
        folder = self.folder / "extensions" / name
        if not folder.is_dir():
            return None
        params = _read_json(folder / "params.json")
        run_info_file = folder / "run_info.json"
        if run_info_file.is_file() and _read_json(run_info_file).get("run_completed") is False:
            return None  # SpikeInterface treats an unfinished run as not computed
        arrays = sorted(p.stem for p in folder.glob("*.npy") if not p.name.startswith("._"))
        return _Extension(params, arrays)

    def extension_array(self, name: str, key: str) -> tuple[np.ndarray, str]:
        path = self.folder / "extensions" / name / f"{key}.npy"
        if not path.is_file():
            raise SortingFormatError(
                f"{path} is missing: the {name} extension is incomplete; recompute it with "
                f"analyzer.compute('{name}')"
            )
        kinds, what = ("iuf", "numbers")
        if name == "spike_locations":
            kinds, what = ("V", "one (x, y) record per spike")
        return _load_npy(path, kinds=kinds, what=what), str(path)

    def files(self, extensions: list[str]) -> list[Path]:
        folder = self.folder
        files = [
            folder / "spikeinterface_info.json",
            Path(self.settings_origin),
            folder / "sorting" / "numpysorting_info.json",
            Path(self.spikes_origin),
            Path(self.recording_attributes_origin),
            folder / "recording_info" / "probegroup.json",
            *self._property_files(),  # the header of each is read, the data of strings
        ]
        for name in extensions:
            ext = folder / "extensions" / name
            files += [ext / "params.json", ext / "run_info.json"]
        for name in extensions:
            ext = folder / "extensions" / name
            if name == "templates":
                names = sorted(p.stem for p in ext.glob("*.npy")) if ext.is_dir() else []
                operator = choose_template_operator(names)
                if operator is not None:
                    files.append(ext / f"{operator}.npy")
            else:
                files.append(ext / f"{_PER_SPIKE_ARRAYS[name]}.npy")
        return [f for f in files if f.is_file()]


class _ZarrLayout(_Layout):
    """``save_as(format="zarr")``: group attributes (``.zattrs``) and zarr v2 arrays."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.spikes_origin = str(folder / "sorting" / "spikes")
        self.settings_origin = str(folder / ".zattrs")
        self.recording_attributes_origin = str(folder / "recording_info" / ".zattrs")

    def _attrs(self, group: str) -> dict[str, Any]:
        path = self.folder / group / ".zattrs"
        return _read_json(path)

    def settings(self) -> dict[str, Any]:
        settings = self._attrs("").get("settings")
        if not isinstance(settings, dict):
            raise SortingFormatError(f"{self.settings_origin} has no 'settings' mapping")
        return settings

    def sorting_info(self) -> tuple[float, int, int]:
        path = self.folder / "sorting" / ".zattrs"
        attrs = _read_json(path)
        rate = _positive_number(attrs.get("sampling_frequency"), "sampling_frequency", path)
        segments = _count(attrs.get("num_segments"), "num_segments", path, maximum=_MAX_SEGMENTS)
        unit_ids = self._array("sorting/unit_ids", kinds="iuUS")
        if unit_ids.ndim != 1:
            raise SortingFormatError(
                f"{self.folder / 'sorting' / 'unit_ids'} should be one-dimensional"
            )
        return rate, len(unit_ids), segments

    def spike_vector(self, n_segments: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sample = self._array("sorting/spikes/sample_index", kinds="iu")
        unit = self._array("sorting/spikes/unit_index", kinds="iu")
        slices = self._array("sorting/spikes/segment_slices", kinds="iu")
        origin = self.spikes_origin
        if sample.ndim != 1 or unit.shape != sample.shape:
            raise SortingFormatError(
                f"{origin}: sample_index {sample.shape} and unit_index {unit.shape} should be "
                "vectors of one length (one entry per spike)"
            )
        n = len(sample)
        if slices.shape != (n_segments, 2):
            raise SortingFormatError(
                f"{origin}/segment_slices should have shape ({n_segments}, 2) (one start and "
                f"stop per segment), found {slices.shape}"
            )
        starts, stops = slices[:, 0], slices[:, 1]
        contiguous = np.array_equal(starts[1:], stops[:-1]) and np.all(stops >= starts)
        if not (contiguous and starts[0] == 0 and stops[-1] == n):
            raise SortingFormatError(
                f"{origin}/segment_slices {slices.tolist()} do not cover the {n} spikes in order"
            )
        segment = np.repeat(np.arange(n_segments, dtype=np.int64), stops - starts)
        return sample.astype(np.int64), unit.astype(np.int64), segment

    def recording_attributes(self) -> dict[str, Any]:
        attributes = self._attrs("recording_info").get("recording_attributes")
        if not isinstance(attributes, dict):
            raise SortingFormatError(
                f"{self.recording_attributes_origin} has no 'recording_attributes' mapping"
            )
        return attributes

    def probegroup(self) -> tuple[dict[str, Any] | None, str]:
        group = self._attrs("recording_info").get("probegroup")
        origin = f"{self.recording_attributes_origin} (probegroup)"
        if group is not None and not isinstance(group, dict):
            raise SortingFormatError(f"{origin} is not a mapping")
        return group, origin

    def properties(self, origins: dict[str, str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for path in self._property_arrays():
            dtype = _zarr_dtype(_read_json(path / ".zarray"), path)
            if dtype.hasobject:
                self.notes.append(
                    f"sorting property {path.name} not read: it holds Python objects"
                )
                continue
            if dtype.kind not in "US":
                continue
            found[path.name] = self._array(str(path.relative_to(self.folder)), kinds="US")
            origins[f"property {path.name}"] = str(path)
        return found

    def _property_arrays(self) -> list[Path]:
        group = self.folder / "sorting" / "properties"
        if not group.is_dir():
            return []
        return sorted(p for p in group.iterdir() if (p / ".zarray").is_file())

    def extension(self, name: str) -> _Extension | None:
        group = self.folder / "extensions" / name
        if not group.is_dir():
            return None
        attrs = _read_json(group / ".zattrs")
        params = attrs.get("params")
        if not isinstance(params, dict):
            raise SortingFormatError(
                f"{group / '.zattrs'} has no 'params' mapping: the {name} extension is "
                f"incomplete; recompute it with analyzer.compute('{name}')"
            )
        run_info = attrs.get("run_info")
        if isinstance(run_info, dict) and run_info.get("run_completed") is False:
            return None
        arrays = sorted(p.name for p in group.iterdir() if (p / ".zarray").is_file())
        return _Extension(params, arrays)

    def extension_array(self, name: str, key: str) -> tuple[np.ndarray, str]:
        path = self.folder / "extensions" / name / key
        if not (path / ".zarray").is_file():
            raise SortingFormatError(
                f"{path} is missing: the {name} extension is incomplete; recompute it with "
                f"analyzer.compute('{name}')"
            )
        return self._array(f"extensions/{name}/{key}"), str(path)

    def _array(self, relative: str, kinds: str = "iufbUSV") -> np.ndarray:
        return _read_zarr_array(self.folder / relative, kinds)

    def files(self, extensions: list[str]) -> list[Path]:
        folder = self.folder
        files = [folder / ".zattrs", folder / "sorting" / ".zattrs"]
        files.append(folder / "recording_info" / ".zattrs")
        arrays = [folder / "sorting" / "unit_ids"]
        arrays += [folder / "sorting" / "spikes" / n for n in ("sample_index", "unit_index")]
        arrays.append(folder / "sorting" / "spikes" / "segment_slices")
        for path in self._property_arrays():  # the metadata of each is read, data of strings
            files.append(path / ".zarray")
            try:
                dtype = _zarr_dtype(_read_json(path / ".zarray"), path)
            except SortingFormatError:
                continue
            if not dtype.hasobject and dtype.kind in "US":
                arrays.append(path)
        for name in extensions:
            files.append(folder / "extensions" / name / ".zattrs")
        for name in extensions:
            group = folder / "extensions" / name
            if name == "templates":
                names = (
                    sorted(p.name for p in group.iterdir() if (p / ".zarray").is_file())
                    if group.is_dir()
                    else []
                )
                operator = choose_template_operator(names)
                if operator is not None:
                    arrays.append(group / operator)
            else:
                arrays.append(group / _PER_SPIKE_ARRAYS[name])
        for array in arrays:
            if array.is_dir():
                files += [p for p in array.rglob("*") if p.is_file()]
        return [f for f in files if f.is_file()]


# ---------------------------------------------------------------------------------------------
# checked readers of single files


def _load_npy(path: Path, *, kinds: str, what: str) -> np.ndarray:
    """Load a ``.npy`` file without pickle; any failure becomes an error naming the file."""
    try:
        return npy.load_npy(path, kinds=kinds, what=what)
    except SortingFormatError:
        raise
    except Exception as exc:  # numpy's header parser raises many kinds for a damaged file
        raise SortingFormatError(
            f"{path} is not a valid .npy file ({type(exc).__name__}: {exc})"
        ) from None


def _npy_dtype(path: Path) -> np.dtype:
    """Read the dtype in a ``.npy`` header, without reading the data."""
    try:
        with path.open("rb") as fh:
            return npy.read_header(fh)[2]
    except Exception as exc:  # as in _load_npy
        raise SortingFormatError(
            f"{path} is not a valid .npy file ({type(exc).__name__}: {exc})"
        ) from None


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path`` as plain data; errors name the file."""
    if not path.is_file():
        raise SortingFormatError(f"{path} is missing")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SortingFormatError(f"{path} is not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise SortingFormatError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except (OSError, RecursionError, ValueError) as exc:
        raise SortingFormatError(f"{path} could not be read as JSON ({exc})") from None
    if not isinstance(value, dict):
        raise SortingFormatError(f"{path} should hold a JSON object, found {type(value).__name__}")
    return value


def _zarr_dtype(meta: dict[str, Any], path: Path) -> np.dtype:
    descr = meta.get("dtype")
    try:
        if isinstance(descr, list):
            dtype = np.dtype([tuple(_field(f)) for f in descr])
        elif isinstance(descr, str):
            dtype = np.dtype(descr)
        else:
            raise TypeError(f"dtype {descr!r}")
    except (TypeError, ValueError) as exc:
        raise SortingFormatError(f"{path / '.zarray'} names an invalid dtype ({exc})") from None
    return dtype


def _field(value: Any) -> list[Any]:
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        raise TypeError(f"structured dtype field {value!r}")
    if len(value) == 3:
        return [value[0], value[1], tuple(value[2])]
    return value


def _read_zarr_array(path: Path, kinds: str) -> np.ndarray:
    """Read a zarr v2 array after checking its metadata: no objects, only numeric codecs."""
    meta = _read_json(path / ".zarray")
    if meta.get("zarr_format") != 2:
        raise SortingFormatError(
            f"{path / '.zarray'}: zarr_format {meta.get('zarr_format')!r} is not supported "
            "(only zarr format 2)"
        )
    dtype = _zarr_dtype(meta, path)
    if dtype.hasobject:
        raise SortingFormatError(
            f"{path} holds Python objects (dtype {meta.get('dtype')!r}); driftqc reads only "
            "numeric and string arrays"
        )
    codecs = [meta.get("compressor"), *(meta.get("filters") or [])]
    for codec in codecs:
        if codec is None:
            continue
        codec_id = codec.get("id") if isinstance(codec, dict) else None
        if codec_id not in _SAFE_CODECS:
            raise SortingFormatError(
                f"{path} is encoded with the codec {codec_id!r}, which driftqc does not "
                "decode (only numeric compressors and filters; never pickle, JSON, msgpack "
                "or variable-length object codecs)"
            )
    fields = [dtype[name] for name in dtype.names] if dtype.names else [dtype]
    if any(f.kind not in kinds for f in fields):
        raise SortingFormatError(f"{path} has dtype {dtype}; expected {_kind_words(kinds)}")
    _check_expansion(path, meta, dtype)
    zarr = _import_zarr(path)
    try:
        array = zarr.open_array(str(path), mode="r")
        if array.dtype != dtype:
            raise ValueError(f"zarr decoded dtype {array.dtype}, metadata says {dtype}")
        return np.asarray(array[...])
    except MemoryError:
        raise SortingFormatError(f"{path}: shape {meta.get('shape')} is too large") from None
    except Exception as exc:  # zarr and numcodecs raise many kinds for a damaged array
        raise SortingFormatError(
            f"{path} could not be read as a zarr array ({type(exc).__name__}: {exc})"
        ) from None


def _check_expansion(path: Path, meta: dict[str, Any], dtype: np.dtype) -> None:
    """Refuse an array that would decode to far more memory than its chunks hold on disk.

    Missing chunks read as the fill value and compressors can expand a few bytes into
    gigabytes, so a forged ``.zarray`` shape could claim any amount of memory. Real arrays
    of spike data compress a few times at most; beyond :data:`_MAX_EXPANSION` times their
    stored size (and :data:`_SMALL_ARRAY_BYTES`) an array is refused unread.
    """
    shape = meta.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape
    ):
        raise SortingFormatError(f"{path / '.zarray'}: shape {shape!r} is not a list of sizes")
    declared = math.prod(shape) * dtype.itemsize
    if declared <= _SMALL_ARRAY_BYTES:
        return
    stored = sum(f.stat().st_size for f in path.iterdir() if f.is_file() and f.name[0] != ".")
    if declared > _MAX_EXPANSION * stored:
        raise SortingFormatError(
            f"{path} declares {declared / 2**20:.0f} MiB of data but stores only "
            f"{stored / 2**20:.1f} MiB; refusing to expand it"
        )


def _import_zarr(path: Path) -> Any:
    try:
        import zarr
    except ImportError:
        raise MissingExtraError(
            "zarr", "zarr", f"Reading the zarr analyzer array {path}"
        ) from None
    # numcodecs < 0.16 registers a deprecated blosc clean-up at exit, which prints a
    # DeprecationWarning when a program (like driftqc's command line) shows warnings
    warnings.filterwarnings(
        "ignore",
        message=r"Call to deprecated function \(or staticmethod\) _destroy",
        category=DeprecationWarning,
    )
    return zarr


def _kind_words(kinds: str) -> str:
    words = {"i": "integers", "u": "integers", "f": "floats", "b": "booleans", "U": "strings"}
    return " or ".join(dict.fromkeys(words[k] for k in kinds if k in words))


def _positive_number(value: Any, key: str, path: Path | str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SortingFormatError(f"{path}: '{key}' should be a number, found {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SortingFormatError(f"{path}: '{key}' should be a positive number, found {value!r}")
    return float(value)


def _count(
    value: Any, key: str, path: Path | str, minimum: int = 1, maximum: int | None = None
) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bounds = f"≥ {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise SortingFormatError(f"{path}: '{key}' should be an integer {bounds}, found {value!r}")
    return value


def _check_indices(values: np.ndarray, count: int, name: str, origin: str) -> None:
    if len(values) and (values.min() < 0 or values.max() >= count):
        raise SortingFormatError(
            f"{origin}: {name} runs from {values.min()} to {values.max()} but there are "
            f"{count} (0..{count - 1})"
        )


def _num_samples(attributes: dict[str, Any], n_segments: int, origin: str) -> list[int] | None:
    value = attributes.get("num_samples")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != n_segments:
        raise SortingFormatError(
            f"{origin}: 'num_samples' should list the length of each of the {n_segments} "
            f"segments, found {value!r}"
        )
    return [_count(v, "num_samples", origin, minimum=0) for v in value]


def _num_channels(attributes: dict[str, Any], origin: str) -> int:
    if "num_channels" in attributes:
        return _count(attributes["num_channels"], "num_channels", origin)
    ids = attributes.get("channel_ids")
    if isinstance(ids, list) and ids:
        return len(ids)
    raise SortingFormatError(f"{origin} gives neither 'num_channels' nor 'channel_ids'")


def _probe_geometry(
    probegroup: tuple[dict[str, Any] | None, str],
    num_channels: int,
    layout: _Layout,
    attributes: dict[str, Any],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Channel x/y and probe/shank keys, in channel order (as SpikeInterface orders them)."""
    group, origin = probegroup
    if group is None:
        return _positions_from_attributes(attributes, num_channels, layout), None
    probes = group.get("probes")
    if not isinstance(probes, list) or not probes:
        raise SortingFormatError(f"{origin} lists no probes")
    positions, keys, wiring = [], [], []
    for index, probe in enumerate(probes):
        if not isinstance(probe, dict):
            raise SortingFormatError(f"{origin}: probe {index} is not a mapping")
        try:
            xy = np.asarray(probe.get("contact_positions"), dtype=np.float64)
        except (TypeError, ValueError):
            xy = np.zeros(0)
        if xy.ndim != 2 or xy.shape[1] < 2 or not np.isfinite(xy).all():
            raise SortingFormatError(
                f"{origin}: probe {index} 'contact_positions' should be finite (n, 2) numbers"
            )
        n = len(xy)
        shanks = probe.get("shank_ids")
        if shanks is None:
            shanks = [""] * n
        if not isinstance(shanks, list) or len(shanks) != n:
            raise SortingFormatError(
                f"{origin}: probe {index} 'shank_ids' should list one id per contact"
            )
        wired = probe.get("device_channel_indices")
        if wired is None:
            wired = [-1] * n
        if (
            not isinstance(wired, list)
            or len(wired) != n
            or any(isinstance(w, bool) or not isinstance(w, int) for w in wired)
        ):
            raise SortingFormatError(
                f"{origin}: probe {index} 'device_channel_indices' should list one integer "
                "per contact"
            )
        positions.append(xy[:, :2])
        keys += [f"{index}/{s}" for s in shanks]
        wiring += wired
    xy = np.concatenate(positions)
    key_array = np.asarray(keys)
    channels = np.asarray(wiring, dtype=np.int64)
    if np.all(channels >= 0):
        order = np.argsort(channels, kind="stable")
        xy, key_array = xy[order], key_array[order]
    if len(xy) != num_channels:
        raise SortingFormatError(
            f"{origin} describes {len(xy)} contacts but the recording has {num_channels} channels"
        )
    return xy, key_array


def _positions_from_attributes(
    attributes: dict[str, Any], num_channels: int, layout: _Layout
) -> np.ndarray:
    origin = layout.recording_attributes_origin
    location = (attributes.get("properties") or {}).get("location")
    if location is None:
        raise SortingFormatError(
            f"{layout.folder} stores no probe (recording_info probegroup) and {origin} no "
            "channel 'location': the channel positions are unknown"
        )
    try:
        xy = np.asarray(location, dtype=np.float64)
    except (TypeError, ValueError):
        xy = np.zeros(0)
    if xy.ndim != 2 or xy.shape[1] < 2 or len(xy) != num_channels or not np.isfinite(xy).all():
        raise SortingFormatError(
            f"{origin}: 'location' should be finite (x, y) for each of {num_channels} channels"
        )
    return xy[:, :2]


def _return_in_uv(settings: dict[str, Any], origin: str) -> bool:
    # 'return_scaled' before SpikeInterface 0.103; neither (very old): True, as SpikeInterface
    value = settings.get("return_in_uV", settings.get("return_scaled", True))
    if not isinstance(value, bool):
        raise SortingFormatError(f"{origin}: 'return_in_uV' should be true or false")
    return value


def _numeric_vector(values: np.ndarray, origin: str) -> np.ndarray:
    if values.dtype.kind not in "iuf":
        raise SortingFormatError(f"{origin} should hold numbers, found dtype {values.dtype}")
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise SortingFormatError(
            f"{origin} should hold one value per spike, found shape {values.shape}"
        )
    return values


def _location_y(locations: np.ndarray, origin: str) -> np.ndarray:
    names = locations.dtype.names or ()
    if "y" not in names or locations.ndim != 1:
        raise SortingFormatError(
            f"{origin} should be one (x, y) record per spike with a field 'y'; found dtype "
            f"{locations.dtype} and shape {locations.shape}"
        )
    if locations.dtype["y"].kind not in "iuf":
        raise SortingFormatError(
            f"{origin}: field 'y' should hold numbers, found {locations.dtype['y']}"
        )
    return np.asarray(locations["y"])
