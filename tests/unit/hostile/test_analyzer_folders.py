"""Hostile SortingAnalyzer folders: nothing in them runs, and each is refused by name or loads.

Each case starts from a real analyzer folder written by SpikeInterface (once per session) and
plants a payload that would create a marker file if executed (a recording.json naming
``subprocess.Popen`` or ``os.system``, malicious pickles, pickled object arrays, zarr object
codecs) or damages a file. Every case goes through ``load_sorting``, ``DriftPlotter`` and (a
selection, run in parallel) the ``driftqc plot`` command. Besides the marker file, a process
audit hook watches for any unpickling (``pickle.find_class``), process start and opening of a
``*.pickle``/``*.pkl`` file while a folder is read.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import driftqc
from driftqc.errors import SortingFormatError
from driftqc.io import load_sorting

NEEDS = "the spikeinterface extra is not installed (pip install 'driftqc[spikeinterface]')"
LABELS = np.array(["good", "noise", "mua", "good"])

# ---------------------------------------------------------------------------------------------
# watching the process

_EVENTS: list[str] | None = None
_WATCHED = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork")


def _audit(event: str, args: tuple) -> None:
    if _EVENTS is None:
        return
    if event in _WATCHED or event == "pickle.find_class":
        _EVENTS.append(f"{event} {args[:2]!r}")
    elif (
        event == "open"
        and isinstance(args[0], str | Path)
        and str(args[0]).endswith((".pickle", ".pkl"))
    ):
        _EVENTS.append(f"open {args[0]}")


sys.addaudithook(_audit)


def _watched(call: Callable[[], object]) -> tuple[object, list[str]]:
    """Run ``call``; return its result (or the SortingFormatError it raised) and the events."""
    global _EVENTS
    _EVENTS = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            result = call()
    except SortingFormatError as exc:
        result = exc
    finally:
        events, _EVENTS = _EVENTS, None
    return result, events


class Payload:
    """Pickled, it calls ``os.system(command)`` when unpickled."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


# ---------------------------------------------------------------------------------------------
# the base folders (real SpikeInterface output), built once


@dataclass(frozen=True)
class Base:
    binary: Path
    zarr: Path | None
    n_spikes: int


@pytest.fixture(scope="session")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    si = pytest.importorskip("spikeinterface.core", reason=NEEDS)
    import probeinterface

    probe = probeinterface.generate_multi_shank(
        num_shank=2, num_columns=1, num_contact_per_column=4
    )
    probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
    recording, sorting = si.generate_ground_truth_recording(
        durations=[1.0], num_channels=8, num_units=len(LABELS), probe=probe, seed=2
    )
    sorting.set_property("KSLabel", LABELS)
    folder = tmp_path_factory.mktemp("hostile_base")
    zarr_folder = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        analyzer = si.create_sorting_analyzer(sorting, recording, format="memory", sparse=False)
        analyzer.compute(
            ["random_spikes", "templates", "spike_amplitudes", "spike_locations"], verbose=False
        )
        analyzer.save_as(format="binary_folder", folder=folder / "analyzer")
        try:
            import zarr  # noqa: F401
        except ImportError:
            pass
        else:
            zarr_folder = folder / "analyzer.zarr"
            analyzer.save_as(format="zarr", folder=zarr_folder)
    return Base(folder / "analyzer", zarr_folder, len(sorting.to_spike_vector()))


# ---------------------------------------------------------------------------------------------
# the cases: (format, damage, None if the folder still loads else the file the error names)


def _touch(marker: Path) -> str:
    return f"touch {marker}"


def _recording_json(cls: str):
    def plant(folder: Path, marker: Path) -> None:
        kwargs = (
            {"args": ["touch", str(marker)]}
            if cls == "subprocess.Popen"
            else {"command": _touch(marker)}
        )
        dump = {
            "class": cls,
            "module": cls.split(".")[0],
            "version": "0.105.3",
            "kwargs": kwargs,
            "annotations": {},
            "properties": {},
            "relative_paths": False,
        }
        (folder / "recording.json").write_text(json.dumps(dump))
        (folder / "sorting" / "si_folder.json").write_text(json.dumps(dump))

    return plant


def _pickle_file(relative: str):
    def plant(folder: Path, marker: Path) -> None:
        (folder / relative).write_bytes(pickle.dumps(Payload(_touch(marker))))

    return plant


def _object_npy(relative: str, n: int | None = None):
    def plant(folder: Path, marker: Path) -> None:
        path = folder / relative
        length = n if n is not None else len(np.load(path, mmap_mode="r"))
        values = np.empty(length, dtype=object)
        values[:] = [Payload(_touch(marker)) for _ in range(length)]
        np.save(path, values, allow_pickle=True)

    return plant


def _write_text(relative: str, text: str):
    def plant(folder: Path, marker: Path) -> None:
        (folder / relative).write_text(text)

    return plant


def _edit_json(relative: str, edit: Callable[[dict], None]):
    def plant(folder: Path, marker: Path) -> None:
        path = folder / relative
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))  # NaN is written as NaN, as Python's json does

    return plant


def _truncate(relative: str, keep: float = 0.5):
    def plant(folder: Path, marker: Path) -> None:
        path = folder / relative
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])

    return plant


def _edit_npy(relative: str, edit: Callable[[np.ndarray], np.ndarray]):
    def plant(folder: Path, marker: Path) -> None:
        path = folder / relative
        np.save(path, edit(np.load(path)))

    return plant


def _spikes_with_bad_unit(spikes: np.ndarray) -> np.ndarray:
    spikes = spikes.copy()
    spikes["unit_index"][3] = 99
    return spikes


def _zarr_object_array(relative: str, codec: str, value: Callable[[Path], object] | None = None):
    def plant(folder: Path, marker: Path) -> None:
        import numcodecs
        import zarr

        path = folder / relative
        length = zarr.open_array(str(path), mode="r").shape[0] if path.exists() else 1
        shutil.rmtree(path, ignore_errors=True)
        object_codec = {
            "pickle": numcodecs.Pickle(),
            "json": numcodecs.JSON(),
            "vlen-utf8": numcodecs.VLenUTF8(),
        }[codec]
        array = zarr.open_array(
            str(path), mode="w", shape=(length,), dtype=object, object_codec=object_codec
        )
        item = value(marker) if value is not None else Payload(_touch(marker))
        values = np.empty(length, dtype=object)
        values[:] = [item] * length
        array[:] = values

    return plant


def _zarr_filter(relative: str, codec_id: str):
    def plant(folder: Path, marker: Path) -> None:
        meta_file = folder / relative / ".zarray"
        meta = json.loads(meta_file.read_text())
        meta["filters"] = [{"id": codec_id}]
        meta_file.write_text(json.dumps(meta))

    return plant


def _zarr_inflate(relative: str, length: int):
    """Forge the array's shape and drop its chunks: every missing chunk reads as fill."""

    def plant(folder: Path, marker: Path) -> None:
        meta_file = folder / relative / ".zarray"
        meta = json.loads(meta_file.read_text())
        meta["shape"] = [length, *meta["shape"][1:]]
        for chunk in (folder / relative).iterdir():
            if not chunk.name.startswith("."):
                chunk.unlink()
        meta_file.write_text(json.dumps(meta))

    return plant


def _zarr_shorten(relative: str):
    def plant(folder: Path, marker: Path) -> None:
        import zarr

        path = folder / relative
        values = zarr.open_array(str(path), mode="r")[:]
        shutil.rmtree(path)
        zarr.save_array(str(path), values[:-1])

    return plant


def _garbage(relative: str):
    def plant(folder: Path, marker: Path) -> None:
        (folder / relative).write_bytes(b"\x93NUMPY garbage that is not an array")

    return plant


def _recording_dict(marker: Path) -> dict:
    return {"class": "os.system", "module": "os", "kwargs": {"command": _touch(marker)}}


AMPS = "extensions/spike_amplitudes/amplitudes.npy"
LOCS = "extensions/spike_locations/spike_locations.npy"
AVERAGE = "extensions/templates/average.npy"
ZAMPS = "extensions/spike_amplitudes/amplitudes"
NAN_RATE = "sorting/numpysorting_info.json"

CASES: dict[str, tuple[str, Callable[[Path, Path], None], str | None]] = {
    # code that SpikeInterface's loader would run: the folder loads, the code does not run
    "recording-json-popen": ("binary", _recording_json("subprocess.Popen"), None),
    "recording-json-os-system": ("binary", _recording_json("os.system"), None),
    "recording-pickle": ("binary", _pickle_file("recording.pickle"), None),
    "sorting-provenance-pickle": ("binary", _pickle_file("sorting_provenance.pickle"), None),
    "extension-pkl": ("binary", _pickle_file("extensions/templates/extra.pkl"), None),
    "label-property-pickled": ("binary", _object_npy("sorting/properties/quality.npy", 4), None),
    # pickled arrays the reader needs: refused by name
    "amplitudes-pickled": ("binary", _object_npy(AMPS), AMPS),
    "locations-pickled": ("binary", _object_npy(LOCS), LOCS),
    "templates-pickled": ("binary", _object_npy(AVERAGE), AVERAGE),
    "spikes-pickled": ("binary", _object_npy("sorting/spikes.npy"), "sorting/spikes.npy"),
    # damaged files
    "settings-corrupt": (
        "binary",
        _write_text("settings.json", '{"return_in_uV": tru'),
        "settings.json",
    ),
    "sorting-info-nan-rate": (
        "binary",
        _edit_json(NAN_RATE, lambda d: d.update(sampling_frequency=float("nan"))),
        NAN_RATE,
    ),
    "sorting-info-string-rate": (
        "binary",
        _edit_json(NAN_RATE, lambda d: d.update(sampling_frequency="30000")),
        NAN_RATE,
    ),
    "recording-attributes-truncated": (
        "binary",
        _truncate("recording_info/recording_attributes.json"),
        "recording_info/recording_attributes.json",
    ),
    "probegroup-not-json": (
        "binary",
        _write_text("recording_info/probegroup.json", "\x00\x01"),
        "recording_info/probegroup.json",
    ),
    "params-corrupt": (
        "binary",
        _write_text("extensions/spike_locations/params.json", "[1, 2"),
        "extensions/spike_locations/params.json",
    ),
    "spikes-truncated": ("binary", _truncate("sorting/spikes.npy", 0.7), "sorting/spikes.npy"),
    "spikes-unit-out-of-range": (
        "binary",
        _edit_npy("sorting/spikes.npy", _spikes_with_bad_unit),
        "sorting/spikes.npy",
    ),
    "amplitudes-short": ("binary", _edit_npy(AMPS, lambda a: a[:-1]), AMPS),
    "amplitudes-strings": ("binary", _edit_npy(AMPS, lambda a: a.astype(str)), AMPS),
    "amplitudes-not-npy": ("binary", _garbage(AMPS), AMPS),
    "templates-one-unit-short": ("binary", _edit_npy(AVERAGE, lambda a: a[:-1]), AVERAGE),
    # zarr
    "zarr-recording-pickle-codec": ("zarr", _zarr_object_array("recording", "pickle"), None),
    "zarr-recording-json-codec": (
        "zarr",
        _zarr_object_array("recording", "json", _recording_dict),
        None,
    ),
    "zarr-label-property-vlen": (
        "zarr",
        _zarr_object_array("sorting/properties/quality", "vlen-utf8", lambda m: "noise"),
        None,
    ),
    "zarr-amplitudes-pickle-codec": ("zarr", _zarr_object_array(ZAMPS, "pickle"), ZAMPS),
    "zarr-amplitudes-pickle-filter": ("zarr", _zarr_filter(ZAMPS, "pickle"), ZAMPS),
    "zarr-amplitudes-short": ("zarr", _zarr_shorten(ZAMPS), ZAMPS),
    "zarr-amplitudes-chunk-garbage": ("zarr", _garbage(f"{ZAMPS}/0"), ZAMPS),
    # 4 GB of float32 from no data at all: refused before zarr allocates it
    "zarr-amplitudes-inflated": ("zarr", _zarr_inflate(ZAMPS, 10**9), ZAMPS),
    "zarr-sorting-attrs-corrupt": ("zarr", _write_text("sorting/.zattrs", "{"), "sorting/.zattrs"),
    "zarr-nan-rate": (
        "zarr",
        _edit_json("sorting/.zattrs", lambda d: d.update(sampling_frequency=float("nan"))),
        "sorting/.zattrs",
    ),
}

# run through the real command line too (in parallel, a selection to keep the tests fast)
CLI_CASES = (
    "recording-json-popen",
    "recording-pickle",
    "amplitudes-pickled",
    "spikes-truncated",
    "zarr-amplitudes-pickle-codec",
)


@dataclass(frozen=True)
class Planted:
    folder: Path
    marker: Path
    names: str | None
    n_spikes: int


def _plant(base: Base, case: str, root: Path) -> Planted:
    kind, plant, names = CASES[case]
    source = base.binary if kind == "binary" else base.zarr
    if source is None:
        pytest.skip("zarr is not installed")
    folder = root / case / ("analyzer" if kind == "binary" else "analyzer.zarr")
    shutil.copytree(source, folder)
    marker = root / case / "MARKER"
    plant(folder, marker)
    return Planted(folder, marker, names, base.n_spikes)


@pytest.fixture(params=sorted(CASES))
def planted(request, base, tmp_path) -> Planted:
    return _plant(base, request.param, tmp_path)


def _check(result: object, events: list[str], planted: Planted) -> None:
    assert not events, f"code or pickles were touched: {events}"
    assert not planted.marker.exists(), "the payload ran"
    if planted.names is None:
        assert not isinstance(result, Exception), f"should load: {result}"
        return
    assert isinstance(result, SortingFormatError), f"should be refused, got {result!r}"
    assert str(planted.folder / planted.names) in str(result), str(result)


def test_load_sorting(planted):
    result, events = _watched(lambda: load_sorting(planted.folder))
    _check(result, events, planted)
    if planted.names is None:
        assert len(result.spikes) == planted.n_spikes
        assert "quality" not in result.label_sources
        assert dict(result.label_sources["KSLabel"]) == dict(enumerate(LABELS))


def test_drift_plotter(planted):
    result, events = _watched(lambda: driftqc.DriftPlotter(str(planted.folder)))
    _check(result, events, planted)


def test_object_properties_are_skipped_with_a_note(base, tmp_path):
    planted = _plant(base, "label-property-pickled", tmp_path)
    sorting = load_sorting(planted.folder)
    assert any("quality" in note and "Python objects" in note for note in sorting.info.notes)


def test_spikeinterface_would_run_these_payloads(base, tmp_path):
    # the cases are real: SpikeInterface's own loader runs them (on our temporary folders)
    from spikeinterface.core import load_sorting_analyzer

    for case in ("recording-json-os-system", "recording-pickle"):
        planted = _plant(base, case, tmp_path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_sorting_analyzer(planted.folder, load_extensions=False)
        assert planted.marker.exists(), case


def test_cli_reports_one_line_and_runs_nothing(base, tmp_path):
    runs = {}
    for case in CLI_CASES:
        planted = _plant(base, case, tmp_path)
        out = tmp_path / case / "map.png"
        command = [sys.executable, "-m", "driftqc", "plot", str(planted.folder), "-o", str(out)]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        runs[case] = (planted, out, process)
    for case, (planted, out, process) in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        message = stderr.decode()
        assert "Traceback" not in message, f"{case}: {message}"
        assert not planted.marker.exists(), f"{case}: the payload ran"
        if planted.names is None:
            assert process.returncode == 0, f"{case}: {message}"
            assert out.is_file()
        else:
            assert process.returncode != 0, case
            lines = message.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("driftqc plot: error:"), message
            assert str(planted.folder / planted.names) in lines[0], message
            assert not out.exists()


def test_inflated_zarr_array_is_refused_before_it_is_decoded(base, tmp_path):
    planted = _plant(base, "zarr-amplitudes-inflated", tmp_path)
    with pytest.raises(SortingFormatError, match="declares 3815 MiB of data but stores only"):
        load_sorting(planted.folder)
