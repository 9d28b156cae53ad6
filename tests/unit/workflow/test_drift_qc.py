"""Drift QC as the workflow uses it: the cache's shanks and motion, session and batch QC."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from driftqc.geometry import template_shanks
from driftqc.io import read_kilosort
from driftqc.metrics import QCThresholds
from driftqc.pipeline.cache import (
    cache_selection,
    cache_sorting,
    load_motion,
    load_selection,
    load_spike_cache,
    load_template_shanks,
)
from driftqc.pipeline.sessions import discover_sessions, session_id_from_path
from driftqc.qc import (
    DriftQCOptions,
    batch_session_shifts,
    drift_qc_rows,
    drift_qc_table,
    failed_drift_qc,
    session_drift_qc,
    with_drift_columns,
)
from driftqc.synthetic import write_kilosort_folder

FAST = DriftQCOptions(bin_s=10.0, min_spikes_per_bin=50)


def cached(folder, tmp_path, name="s"):
    """Cache a sorter folder and its selection (noise excluded) as the workflow does."""
    cache, selection = tmp_path / f"{name}.npz", tmp_path / f"{name}-sel.npz"
    assert cache_sorting(folder, cache, name=name) is None
    assert cache_selection(cache, selection, exclude_noise=True) is None
    return cache, selection


@pytest.fixture(scope="module")
def ks4_registered(tmp_path_factory):
    """Kilosort 4 layout whose saved depths are drift-corrected, with a 30 µm zig-zag dshift."""
    folder = tmp_path_factory.mktemp("ks4") / "ks4"
    truth = write_kilosort_folder(
        folder, n_spikes=60_000, layout="kilosort4", n_channels=64, n_units=20,
        duration=240.0, drift="zigzag", drift_um=30.0, drift_period_s=240.0, frame="registered",
        seed=11,
    )  # fmt: skip
    return truth


def test_cache_keeps_the_sorter_motion(ks4_registered, tmp_path):
    cache, _ = cached(ks4_registered.path, tmp_path)
    sorting = read_kilosort(ks4_registered.path)
    motion = load_motion(cache)
    np.testing.assert_array_equal(motion.shift_um, sorting.motion.shift_um)
    np.testing.assert_array_equal(motion.batch_times, sorting.motion.batch_times)
    assert motion.sign == sorting.motion.sign
    assert load_spike_cache(cache).motion is not None


def test_kilosort4_session_is_measured_in_both_frames(ks4_registered, tmp_path):
    cache, sel_path = cached(ks4_registered.path, tmp_path)
    result = session_drift_qc(
        load_selection(sel_path),
        template_shanks=load_template_shanks(sel_path),
        motion=load_motion(cache),
        options=FAST,
    )
    record = json.loads(json.dumps(result.record))  # JSON-serialisable
    registered = record["trace"]["all"]
    raw = record["raw_frame_trace"]["all"]
    assert registered["frame"] == "registered" and raw["frame"].startswith("raw")
    # saved depths do not move; moving them back by dshift restores the 30 µm zig-zag
    assert registered["peak_to_peak_um"] < 5.0
    assert raw["peak_to_peak_um"] == pytest.approx(30.0, abs=6.0)
    assert record["sorter_motion"]["peak_to_peak_um"] == pytest.approx(30.0, abs=3.0)
    # the sorter corrected a 30 µm zig-zag: that is worth a warning, not a pass
    flags = record["flags"]["all"]
    assert flags["status"] == "warn"
    assert any("the sorter had to correct it" in reason for reason in flags["reasons"])
    assert not any("left after the sorter's correction" in r for r in flags["reasons"])
    assert record["shanks"] == []
    assert set(result.unit_drift["shank"]) == {"all"}


@pytest.fixture(scope="module")
def two_shank(tmp_path_factory):
    """A two-shank session cached as the workflow does: (folder, spike cache, selection)."""
    work = tmp_path_factory.mktemp("two-shank")
    folder = work / "sorter"
    write_kilosort_folder(
        folder, n_spikes=30_000, n_channels=64, n_shanks=2, n_units=16, duration=120.0,
        drift="linear", seed=4,
    )  # fmt: skip
    return (folder, *cached(folder, work))


def test_cache_stores_the_shanks_the_geometry_gives(two_shank):
    folder, cache, selection = two_shank
    sorting = read_kilosort(folder)
    expected = template_shanks(sorting.templates, sorting.channel_shanks)
    assert sorted(np.unique(expected)) == [0, 1]
    for path in (cache, selection):
        np.testing.assert_array_equal(load_template_shanks(path), expected)


def test_session_qc_has_a_row_per_shank_that_add_up(two_shank):
    _, _, selection = two_shank
    result = session_drift_qc(
        load_selection(selection),
        template_shanks=load_template_shanks(selection),
        options=FAST,
    )
    assert set(result.record["trace"]) == {"all", "0", "1"}
    rows = drift_qc_rows("s", result.record)
    assert [row["shank"] for row in rows] == ["all", "0", "1"]
    assert sum(r["n_spikes"] for r in rows[1:]) == rows[0]["n_spikes"]


def test_between_session_shifts_recover_a_known_offset_and_skip_failures(ks4_registered, tmp_path):
    _, sel_path = cached(ks4_registered.path, tmp_path)
    spikes = load_selection(sel_path).kept
    moved = replace(spikes, depths=spikes.depths + np.float32(24.0))
    tables = {"a": {"all": spikes}, "bad": None, "b": {"all": moved}}
    table, shifts = batch_session_shifts(tables, reference="bad")  # failed: falls back
    rows = table.set_index("session")
    assert list(table["session"]) == ["a", "bad", "b"]
    assert rows.loc["a", "is_reference"] and "unusable" in rows.loc["a", "note"]
    assert rows.loc["b", "shift_um"] == pytest.approx(24.0, abs=2.0)
    assert rows.loc["bad", "status"] == "failed"
    assert shifts["all"].names == ("a", "b")
    # a 24 µm shift fails a 20 µm fail level; the failed session stays marked
    strict = QCThresholds(warn_shift_um=10.0, fail_shift_um=20.0)
    record = session_drift_qc(load_selection(sel_path), options=FAST).record
    records = {"a": record, "bad": failed_drift_qc("broken file", "load"), "b": record}
    drift = drift_qc_table(records, table, strict).set_index("session")
    assert drift.loc["b", "drift_qc"] == "fail" and "shift" in drift.loc["b", "reasons"]
    assert drift.loc["a", "drift_qc"] == "pass"
    assert (
        drift.loc["bad", "drift_qc"] == "failed" and "broken file" in drift.loc["bad", "reasons"]
    )


def test_sessions_in_different_frames_are_not_compared(ks4_registered, tmp_path):
    _, sel_path = cached(ks4_registered.path, tmp_path)
    spikes = load_selection(sel_path).kept
    other = replace(spikes, info=replace(spikes.info, depth_frame="raw"))
    table, shifts = batch_session_shifts({"a": {"all": spikes}, "b": {"all": other}})
    assert set(table["status"]) == {"not compared"} and shifts == {}
    assert "frame" in table["note"].iloc[0]


def test_qc_table_gets_drift_columns_and_shank_verdicts():
    import pandas as pd

    qc = pd.DataFrame({"session": ["a", "b"], "status": ["ok", "failed"], "n_spikes": [5, None]})
    drift = pd.DataFrame(
        {
            "session": ["a", "a", "a", "b"],
            "shank": ["all", "0", "1", "all"],
            "drift_qc": ["warn", "pass", "warn", "failed"],
            "reasons": ["x", "", "x", "load failed"],
            "n_spikes": [10, 4, 6, None],
        }
    )
    merged = with_drift_columns(qc, drift).set_index("session")
    assert merged.loc["a", "shank_qc"] == "0: pass; 1: warn"
    assert merged.loc["a", "drift_n_spikes"] == 10 and merged.loc["a", "n_spikes"] == 5
    assert merged.loc["b", "drift_qc"] == "failed" and merged.loc["b", "shank_qc"] == ""


def test_discovery_finds_analyzer_folders_without_walking_into_them(tmp_path):
    for rel in ("sub-01/ses-01/analyzer", "sub-01/ses-02/sorting.zarr"):
        folder = tmp_path / rel
        folder.mkdir(parents=True)
        info = {"object": "SortingAnalyzer", "version": "0.105.3"}
        if rel.endswith(".zarr"):
            (folder / ".zattrs").write_text(json.dumps({"spikeinterface_info": info}))
        else:
            (folder / "spikeinterface_info.json").write_text(json.dumps(info))
            # a sorter-looking folder inside the analyzer is not a session of its own
            (folder / "sorting").mkdir()
            (folder / "sorting" / "spike_times.npy").write_bytes(b"")
            (folder / "sorting" / "params.py").write_text("")
    found = discover_sessions(tmp_path, absolute=False)
    assert [s["id"] for s in found] == ["sub-01_ses-01", "sub-01_ses-02"]
    assert session_id_from_path("a/b.zarr") == "a"
