"""Hostile and broken Kilosort folders: nothing runs, nothing balloons, every error names a file.

Each case starts from a real sorter output (``tests/data/ks4_drift``, Kilosort 4 run on a
simulated recording; or the hand-made Kilosort 3 folder of ``tests/core/folders.py``),
damages or booby-traps one file, and reads the folder through the public reader. A booby
trap creates a marker file if any of its code runs; the tests assert the marker never
appears. Cases that used to exhaust memory run in a subprocess whose address space is
capped, so a regression fails instead of taking the machine down.
"""

from __future__ import annotations

import os
import pickle
import resource
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from driftqc.errors import SortingFormatError
from driftqc.io import load_sorting, read_kilosort
from driftqc.metrics import estimate_drift_trace, qc_flags
from driftqc.metrics.drift_trace import summarize_trace
from driftqc.metrics.streaming import summarise_session
from driftqc.selection import select_spikes
from driftqc.synthetic import write_kilosort_folder
from tests.helpers.folders import write_tiny_ks3

KS4 = Path(__file__).resolve().parents[2] / "data" / "ks4_drift"


@pytest.fixture
def ks4(tmp_path: Path) -> Path:
    """A private copy of the real Kilosort 4 output, free to damage."""
    return Path(shutil.copytree(KS4, tmp_path / "ses-01" / "kilosort4"))


@pytest.fixture
def ks3(tmp_path: Path) -> Path:
    return write_tiny_ks3(tmp_path / "ses-02" / "kilosort3")


class _RunsCode:
    """Unpickling this object would run ``touch marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


class _Allocates:
    """Unpickling this object would call ``factory(*args)`` (e.g. a 4 GB bytearray)."""

    def __init__(self, factory: object, *args: object) -> None:
        self.factory, self.args = factory, args

    def __reduce__(self) -> tuple:
        return (self.factory, self.args)


def _save_pickle(path: Path, obj: object, protocol: int = 4) -> None:
    """Write ``obj`` as np.save would write an object array, at any pickle protocol."""
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "|O", "fortran_order": False, "shape": ()}
        )
        pickle.dump(obj, fh, protocol=protocol)


def _ops(folder: Path, **changes: object) -> Path:
    """Rewrite the folder's ops.npy with some keys replaced (a plain dict, as KS4 saves)."""
    from driftqc.io.ops import read_ops

    ops = read_ops(folder / "ops.npy")
    ops.update(changes)
    np.save(folder / "ops.npy", np.array(ops, dtype=object), allow_pickle=True)
    return folder / "ops.npy"


# ------------------------------------------------------------------ ops.npy (optional file)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"dshift": "not a number"}, "'dshift' should be a numeric array"),
        ({"dshift": np.array([[np.nan], [1.0]])}, "'dshift' holds NaN"),
        ({"batch_size": "60000"}, "'batch_size' should be a positive number"),
        ({"batch_size": 0}, "'batch_size' should be a positive number"),
        ({"fs": True}, "'fs' should be a positive rate"),
    ],
)
def test_bad_ops_values_cost_only_the_sorter_motion(ks4: Path, changes: dict, named: str):
    _ops(ks4, **changes)
    with pytest.warns(UserWarning, match=named):
        sorting = read_kilosort(ks4)
    assert sorting.motion is None
    assert len(sorting.spikes) == len(np.load(KS4 / "spike_times.npy"))
    assert any("ops.npy" in note and named in note for note in sorting.spikes.info.notes)


def test_intact_ops_gives_the_sorter_motion(ks4: Path):
    sorting = read_kilosort(ks4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved = np.load(KS4 / "ops.npy", allow_pickle=True).item()  # our own fixture
    np.testing.assert_array_equal(sorting.motion.shift_um, saved["dshift"])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_ops_with_code_is_refused_and_nothing_runs(ks4: Path, tmp_path: Path, protocol: int):
    marker = tmp_path / "MARKER"
    _save_pickle(ks4 / "ops.npy", {"dshift": _RunsCode(marker)}, protocol)
    with pytest.warns(UserWarning, match=r"ops\.npy: refusing to build"):
        sorting = read_kilosort(ks4)
    assert sorting.motion is None
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"dshift": {1, 2}}, "refusing to build|holds a value of type set"),
        ({"dshift": np.zeros(3, dtype=object)}, "holds an array of dtype object"),
        ({"w": np.zeros(2, dtype=[("a", "f4")])}, "refusing arrays of dtype|dtype built from"),
    ],
)
def test_ops_with_non_numeric_values_is_refused(ks4: Path, payload: dict, named: str):
    _save_pickle(ks4 / "ops.npy", payload, protocol=4)
    with pytest.warns(UserWarning, match=named):
        assert read_kilosort(ks4).motion is None


_BOUNDED = textwrap.dedent(
    """
    import resource, sys, warnings
    limit = 3 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from driftqc.io import read_kilosort
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sorting = read_kilosort(sys.argv[1])
    print("motion", sorting.motion is not None)
    print("warning", " | ".join(str(w.message) for w in caught))
    print("maxrss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    """
)


@pytest.mark.parametrize(
    "bomb",
    [
        _Allocates(bytearray, 4_000_000_000),
        _Allocates(np.ndarray, (500_000_000,)),
        _Allocates(np._core.multiarray._reconstruct, np.ndarray, (2_000_000_000,), b"b"),
    ],
    ids=["bytearray", "ndarray", "reconstruct"],
)
def test_ops_memory_bomb_stays_bounded(ks4: Path, bomb: _Allocates):
    _save_pickle(ks4 / "ops.npy", {"dshift": bomb}, protocol=4)
    assert (ks4 / "ops.npy").stat().st_size < 300
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _BOUNDED, str(ks4)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["motion"] == "False"
    assert "ops.npy" in lines["warning"]
    assert int(lines["maxrss_mb"]) < 1000


def test_huge_ops_file_is_not_read(ks4: Path):
    with (ks4 / "ops.npy").open("r+b") as fh:
        fh.truncate(300 * 2**20)  # sparse: costs no disk
    with pytest.warns(UserWarning, match=r"ops\.npy is 300 MiB"):
        assert read_kilosort(ks4).motion is None


# ------------------------------------------------------------------ params.py


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sample_rate = 1e999\n", "not a plausible sampling rate"),
        ("sample_rate = True\n", "is not a number"),
        ("sample_rate = 'fast'\n", "is not a number"),
        ("sample_rate = 30\n", "not a plausible sampling rate"),
        ("sample_rate = " + "+".join(["1"] * 200_000) + "\n", "params.py"),
        ("sample_rate = " + "(" * 100_000 + "1" + ")" * 100_000 + "\n", "params.py"),
        ("import os\nos.system('touch {marker}')\nsample_rate = 30000\n", "only 'name = value'"),
        ("sample_rate = __import__('os').system('touch {marker}')\n", "not a literal"),
    ],
    ids=["inf", "bool", "text", "30Hz", "long-sum", "deep-parens", "import", "call"],
)
def test_bad_params_py(ks3: Path, tmp_path: Path, text: str, message: str):
    marker = tmp_path / "MARKER"
    (ks3 / "params.py").write_text(text.replace("{marker}", str(marker)))
    with pytest.raises(SortingFormatError, match=message) as info:
        read_kilosort(ks3)
    assert "params.py" in str(info.value)
    assert not marker.exists()


def test_non_numeric_gain_is_ignored_not_trusted(ks3: Path):
    params = ks3 / "params.py"
    params.write_text(params.read_text() + "gain = True\n")
    sorting = read_kilosort(ks3)
    assert sorting.spikes.info.amplitude_unit == "a.u."
    assert any("gain = True" in note for note in sorting.spikes.info.notes)


# ------------------------------------------------------------------ spike times


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (np.array([0.001, 0.01, 0.1]), "fractional values .*not seconds"),
        (np.array([-30, 300, 3000], dtype=np.int64), "negative sample numbers"),
        (np.array([300, 30, 3000], dtype=np.int64), "not in time order"),
        (np.array([30, np.nan, 3000]), "NaN or infinite"),
        (np.array([30, 300, 30_000 * 86_400 * 8], dtype=np.int64), "8 days into the recording"),
    ],
    ids=["seconds", "negative", "unsorted", "nan", "weeks"],
)
def test_implausible_spike_times(ks3: Path, times: np.ndarray, message: str):
    np.save(ks3 / "spike_times.npy", times)
    with pytest.raises(SortingFormatError, match=message) as info:
        read_kilosort(ks3)
    assert "spike_times.npy" in str(info.value)


def test_unsorted_times_fail_the_streamed_path_too(tmp_path: Path):
    session = write_kilosort_folder(
        tmp_path / "ks", n_spikes=6000, layout="kilosort4", n_channels=32, n_units=6,
        duration=60.0, seed=3,
    )  # fmt: skip
    path = session.path / "spike_times.npy"
    times = np.load(path)
    times[[10, 5000]] = times[[5000, 10]]  # one swapped pair, far apart
    np.save(path, times)
    with pytest.raises(SortingFormatError, match="not in time order"):
        summarise_session(session.path, chunk_spikes=1000)


def test_unsorted_across_a_chunk_boundary_is_found(tmp_path: Path):
    session = write_kilosort_folder(
        tmp_path / "ks", n_spikes=4000, layout="kilosort4", n_channels=32, n_units=6,
        duration=60.0, seed=4,
    )  # fmt: skip
    path = session.path / "spike_times.npy"
    times = np.load(path)
    times[[999, 1000]] = times[[1000, 999]]
    if times[999] == times[1000]:
        times[999] += 1
    np.save(path, times)
    with pytest.raises(SortingFormatError, match="spike 1000 comes before spike 999"):
        summarise_session(session.path, chunk_spikes=1000)


# ------------------------------------------------------------------ shapes and dtypes


def _save_header_only(path: Path, shape: tuple[int, ...], descr: str = "<f4") -> None:
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": descr, "fortran_order": False, "shape": shape}
        )
        fh.write(b"\0" * 64)


@pytest.mark.parametrize(
    ("filename", "write", "message"),
    [
        ("templates.npy", lambda p: _save_header_only(p, (3, 2**32, 2**32)), "truncated"),
        ("templates.npy", lambda p: _save_header_only(p, (2**40, 2**40, 2**40)), "truncated"),
        ("spike_positions.npy", lambda p: np.save(p, np.array([["1", "2"]] * 6357)), "dtype <U1"),
        ("channel_positions.npy", lambda p: np.save(p, np.load(KS4 / p.name).astype(str)), "<U"),
        ("spike_times.npy", lambda p: np.save(p, np.array([b"x"] * 6357)), "dtype |S1"),
        ("spike_times.npy", lambda p: np.save(p, np.array([{}] * 6357), allow_pickle=True),
         "pickle"),
        ("amplitudes.npy", lambda p: p.write_bytes(b"PK\x03\x04 not npy"), "not a valid .npy"),
    ],
    ids=["2^64-bytes", "2^120-bytes", "str-positions", "str-channels", "bytes-times", "pickled",
         "not-npy"],
)  # fmt: skip
def test_bad_arrays_name_the_file(ks4: Path, filename: str, write, message: str):
    write(ks4 / filename)
    with pytest.raises(SortingFormatError, match=message) as info:
        read_kilosort(ks4)
    assert filename in str(info.value)


def test_pickled_index_file_never_unpickled(ks3: Path, tmp_path: Path):
    marker = tmp_path / "MARKER"
    _save_pickle(ks3 / "pc_feature_ind.npy", _RunsCode(marker), protocol=4)
    with pytest.raises(SortingFormatError, match="pc_feature_ind.npy holds Python objects"):
        read_kilosort(ks3)
    assert not marker.exists()


# ------------------------------------------------------------------ labels


@pytest.mark.parametrize("bad_id", ["inf", "1e30", "-1", "nan", "2.5", "seven"])
def test_bad_cluster_ids_in_label_file(ks4: Path, bad_id: str):
    (ks4 / "cluster_group.tsv").write_text(f"cluster_id\tgroup\n0\tgood\n{bad_id}\tnoise\n")
    with pytest.raises(SortingFormatError, match="line 3: cluster_id .* is not a cluster id"):
        read_kilosort(ks4)


# ------------------------------------------------------------------ versions


@pytest.mark.parametrize("version", ["kilosort_4", "bogus", "kilosort9", "ks4", ""])
def test_unknown_version_is_an_error(ks4: Path, version: str):
    with pytest.raises(SortingFormatError, match="does not know; use one of kilosort,"):
        read_kilosort(ks4, version=version)


def test_unknown_version_from_the_log_names_the_log(ks4: Path):
    (ks4 / "kilosort4.log").rename(ks4 / "kilosort9.log")
    with pytest.raises(SortingFormatError, match=r"kilosort9\.log gives Kilosort version"):
        read_kilosort(ks4)


@pytest.mark.parametrize("spelling", ["KiloSort4", "kilosort4", " KILOSORT4 "])
def test_version_spelling_reaches_the_kilosort4_reader(ks4: Path, spelling: str):
    reference = read_kilosort(ks4)
    sorting = read_kilosort(ks4, version=spelling)
    assert sorting.spikes.info.sorter == "kilosort4"
    np.testing.assert_array_equal(sorting.spikes.amplitudes, reference.spikes.amplitudes)
    assert sorting.motion is not None


# ------------------------------------------------------------------ names and degenerate QC


def test_non_utf8_folder_name_draws(tmp_path: Path):
    from driftqc.plotting import plot_drift_map

    raw = os.fsencode(tmp_path) + b"/ses-\xff\xfe"
    folder = Path(os.fsdecode(raw))
    shutil.copytree(KS4, folder)
    sorting = load_sorting(folder)
    assert sorting.spikes.info.name == "ses-\ufffd\ufffd"
    figure = plot_drift_map(select_spikes(sorting), title=True)
    figure.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 1000


def test_session_shorter_than_two_bins_never_passes(tmp_path: Path):
    session = write_kilosort_folder(
        tmp_path / "ks", n_spikes=20_000, layout="kilosort4", n_channels=32, n_units=6,
        duration=8.0, seed=5,
    )  # fmt: skip
    selection = select_spikes(read_kilosort(session.path))
    trace = estimate_drift_trace(selection.kept, bin_s=10.0)
    summary = summarize_trace(trace)
    assert summary.n_valid_bins < 2
    verdict = qc_flags(summary)
    assert verdict["status"] != "pass"
    assert "at least 2 needed" in verdict["reasons"][0]


def test_memory_limit_helper_is_real():
    # the bounded-memory cases rely on RLIMIT_AS being enforceable here
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    assert hard == resource.RLIM_INFINITY or hard >= 3 * 2**30
