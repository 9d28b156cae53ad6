"""The library side of the workflow, without snakemake: sessions, cache, QC, runner, CLI."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import yaml

from driftqc.cli import main
from driftqc.errors import DriftQCError
from driftqc.io import read_kilosort
from driftqc.pipeline.cache import (
    FailedSessionError,
    cache_selection,
    cache_sorting,
    load_selection,
    load_spike_cache,
    read_status,
    save_failure,
    save_selection,
    save_spike_cache,
)
from driftqc.pipeline.runner import snakemake_command, workflow_root
from driftqc.pipeline.sessions import (
    SessionsError,
    check_sessions,
    discover_sessions,
    normalise_sessions,
    read_sessions_file,
    session_id_from_path,
    write_sessions_file,
)
from driftqc.qc import amplitude_summary, choose_scaling, qc_table, session_qc
from driftqc.selection import select_spikes
from driftqc.synthetic import write_kilosort_folder

# ---------------------------------------------------------------- sessions


def test_sessions_file_keeps_date_and_number_ids_as_text(tmp_path):
    path = tmp_path / "sessions.yaml"
    path.write_text("- id: 2024-01-05\n  path: a\n- id: 001\n  path: b\n  label: ~\n")
    entries = read_sessions_file(path)
    assert [e["id"] for e in entries] == ["2024-01-05", "001"]
    assert entries[1]["label"] is None


def test_inline_dates_and_numbers_are_turned_into_text():
    entries = yaml.safe_load("- {id: 2024-01-05, path: a, date: 2024-01-05}\n- {id: 7, path: b}")
    fixed = normalise_sessions(entries)
    assert fixed[0]["id"] == "2024-01-05" and fixed[0]["date"] == "2024-01-05"
    assert fixed[1]["id"] == "7"


def test_non_mapping_entry_is_named():
    with pytest.raises(SessionsError, match="entry 2"):
        normalise_sessions([{"id": "a", "path": "x"}, "just a path"])


def test_duplicate_ids_and_missing_folders_are_named(tmp_path):
    (tmp_path / "x").mkdir()
    dup = [{"id": "a", "path": "x"}, {"id": "b", "path": "x"}, {"id": "a", "path": "x"}]
    with pytest.raises(SessionsError, match=r"duplicate session id 'a' \(entries 1 and 3\)"):
        check_sessions(dup, base=tmp_path)
    missing = [{"id": "a", "path": "x"}, {"id": "b", "path": "nope"}]
    with pytest.raises(SessionsError, match=r"entry 2 \(id 'b'\): path nope does not exist"):
        check_sessions(missing, base=tmp_path)
    check_sessions(missing, base=tmp_path, will_exist=lambda p: p == "nope")


def test_session_ids_from_paths():
    assert session_id_from_path("sub-01/ses-02/kilosort4/sorter_output") == "sub-01_ses-02"
    assert session_id_from_path("mouse 3/day.1/phy") == "mouse-3_day-1"


def test_discover_and_write_sessions_round_trip(tmp_path):
    root = tmp_path / "lab"
    for sub, ses, layout in (("01", "01", "kilosort4"), ("01", "02", "kilosort2_5")):
        folder = root / f"sub-{sub}" / f"ses-{ses}" / layout
        write_kilosort_folder(folder, n_spikes=500, layout=layout, n_channels=32, n_units=4)
    (root / "sub-01" / "notes").mkdir()
    found = discover_sessions(root)
    assert [s["id"] for s in found] == ["sub-01_ses-01", "sub-01_ses-02"]
    assert discover_sessions(root, ["*/ses-02/*"])[0]["id"] == "sub-01_ses-02"
    path = write_sessions_file(found, tmp_path / "s.yaml")
    assert read_sessions_file(path) == found


# ---------------------------------------------------------------- cache


def test_spike_cache_round_trips_the_table(ks25_session, tmp_path):
    sorting = read_kilosort(ks25_session.path)
    path = save_spike_cache(sorting, tmp_path / "spikes.npz")
    back = load_spike_cache(path)
    for name in ("times", "amplitudes", "depths", "templates", "clusters"):
        original = getattr(sorting.spikes, name)
        assert np.array_equal(getattr(back.spikes, name), original)
        assert getattr(back.spikes, name).dtype == original.dtype
    assert back.info == sorting.info
    assert back.label_sources == sorting.label_sources
    assert np.array_equal(back.channel_positions, sorting.channel_positions)
    # 8 + 4 + 4 + 4 + 4 bytes per spike (curated: clusters stored) plus small extras
    assert path.stat().st_size < 24 * len(sorting.spikes) + 100_000


def test_uncurated_cache_stores_clusters_once(tmp_path):
    folder = write_kilosort_folder(
        tmp_path / "ks", n_spikes=2000, n_channels=32, n_units=5, curated=False
    ).path
    path = save_spike_cache(read_kilosort(folder), tmp_path / "c.npz")
    with np.load(path) as data:
        assert "clusters" not in data.files
    spikes = load_spike_cache(path).spikes
    assert np.array_equal(spikes.clusters, spikes.templates)


def test_selection_round_trip_keeps_counts_and_caption(ks4_session, tmp_path):
    selection = select_spikes(read_kilosort(ks4_session.path), exclude_noise=True, decimate=3)
    back = load_selection(save_selection(selection, tmp_path / "sel.npz"))
    assert back.caption == selection.caption
    assert back.to_dict() == selection.to_dict()
    assert np.array_equal(back.shown.times, selection.shown.times)


def test_bad_folder_becomes_a_failure_record_that_propagates(tmp_path):
    folder = tmp_path / "ks"
    write_kilosort_folder(folder, n_spikes=3000, layout="kilosort4", n_channels=32, n_units=4)
    times = folder / "spike_times.npy"
    times.write_bytes(times.read_bytes()[:200])
    cache = tmp_path / "spikes.npz"
    error = cache_sorting(folder, cache)
    assert error is not None and "spike_times.npy" in error
    assert read_status(cache) == {"status": "failed", "stage": "load", "error": error}
    with pytest.raises(FailedSessionError, match="spike_times.npy"):
        load_spike_cache(cache)
    selection = tmp_path / "sel.npz"
    assert cache_selection(cache, selection, exclude_noise=True) == error
    with pytest.raises(FailedSessionError) as info:
        load_selection(selection)
    assert info.value.stage == "load"


def test_filter_errors_are_recorded_as_filter_failures(tmp_path):
    folder = write_kilosort_folder(
        tmp_path / "ks", n_spikes=1000, n_channels=32, n_units=4, curated=False
    ).path
    for label_file in folder.glob("cluster_*"):
        label_file.unlink()
    cache_sorting(folder, tmp_path / "c.npz")
    error = cache_selection(tmp_path / "c.npz", tmp_path / "s.npz", exclude_noise=True)
    assert error is not None
    assert read_status(tmp_path / "s.npz")["stage"] == "filter"


def test_not_a_cache_is_a_clear_error(tmp_path):
    bogus = tmp_path / "x.npz"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(DriftQCError, match="not a driftqc cache"):
        load_spike_cache(bogus)
    save_failure(tmp_path / "f.npz", "boom")
    with pytest.raises(FailedSessionError, match="boom"):
        load_selection(tmp_path / "f.npz")


# ---------------------------------------------------------------- QC


def test_session_qc_counts_add_up(ks25_session):
    sorting = read_kilosort(ks25_session.path)
    selection = select_spikes(
        sorting, exclude_noise=True, filter_amplitude_mode="percentile",
        filter_amplitude_values=(5, 95),
    )  # fmt: skip
    record = session_qc(sorting.spikes, selection, quantiles=(50,))
    assert record["n_spikes"] == ks25_session.n_spikes
    assert record["n_noise_removed"] > 0 and record["n_amplitude_removed"] > 0
    assert record["n_kept"] == len(selection.kept)
    assert record["amp_q50"] == pytest.approx(float(np.median(selection.kept.amplitudes)))
    assert record["depth_min_um"] <= record["kept_depth_min_um"]
    n_labelled_noise = sum(v == "noise" for v in sorting.spikes.cluster_labels.values())
    assert record["n_clusters_noise"] == n_labelled_noise
    json.dumps(record)  # serialisable as is


def test_shared_range_weighs_sessions_equally():
    rng = np.random.default_rng(0)
    small = rng.uniform(10, 20, 1_000)
    large = rng.uniform(30, 40, 50_000)  # fifty times more spikes
    table, shared = amplitude_summary(
        {"a": small, "b": large, "c": None}, {"a": "µV", "b": "µV"}, shared_quantiles=(25, 75)
    )
    assert shared["applicable"] and shared["unit"] == "µV"
    # equal weights: the lower quarter lies in a's range, the upper quarter in b's
    assert 10 <= shared["low"] <= 20 and 30 <= shared["high"] <= 40
    assert shared["sessions"] == ["a", "b"]
    assert table.set_index("session").loc["c", "status"] == "failed"


def test_mixed_units_fall_back_to_own_scales():
    samples = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    _, shared = amplitude_summary(samples, {"a": "µV", "b": "a.u."})
    assert not shared["applicable"] and "different units" in shared["warning"]
    scaling, note = choose_scaling("log10", shared)
    assert scaling == "log10" and note["shared_range_used"] is False
    scaling, note = choose_scaling([1, 2], {"applicable": True, "low": 3.0, "high": 9.0})
    assert scaling == (3.0, 9.0) and note["shared_range_used"]


def test_qc_table_keeps_counts_integer_beside_failures():
    table = qc_table({"a": {"status": "ok", "n_spikes": 5}, "b": {"status": "failed"}})
    assert str(table["n_spikes"].dtype) == "Int64"
    assert table["session"].tolist() == ["a", "b"]


# ---------------------------------------------------------------- runner and CLI


def test_workflow_is_found_in_the_clone():
    root = workflow_root()
    assert (root / "workflow" / "Snakefile").is_file()
    command = snakemake_command(["-n"], root=root)
    assert command[:3] == [sys.executable, "-m", "snakemake"]
    assert "--cores" in command and command[-1] == "-n"
    assert "--cores" not in snakemake_command(["-j", "4"], root=root)[:-2]


def test_cli_sessions_writes_a_sessions_file(tmp_path, capsys):
    write_kilosort_folder(tmp_path / "lab" / "sub-02" / "sorter_output", n_spikes=300,
                          n_channels=32, n_units=3)  # fmt: skip
    out = tmp_path / "sessions.yaml"
    assert main(["sessions", str(tmp_path / "lab"), "-o", str(out)]) == 0
    assert read_sessions_file(out)[0]["id"] == "sub-02"
    assert main(["sessions", str(tmp_path / "lab")]) == 0
    assert "sub-02" in capsys.readouterr().out
    assert main(["sessions", str(tmp_path / "lab"), "--pattern", "nothing/*"]) == 1


def test_cli_run_passes_snakemake_options_through(capsys):
    assert main(["run", "--print-command", "--cores", "3", "-n", "--config", "a=1"]) == 0
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith("--cores 3 -n --config a=1")
    assert "--configfile" in printed
