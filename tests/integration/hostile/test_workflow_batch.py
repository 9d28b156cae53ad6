"""A batch with a session that breaks inside the load step.

The workflow runs for real (``--keep-going``) on two tiny good sessions and one whose Phy
label file has an unbalanced quote: Python's csv reader then reads the rest of the file as
one field and fails (this once escaped as a bare ``_csv.Error``; the reader now names the
file). Exceptions driftqc does not raise itself are covered at the step level, without
snakemake, in ``tests/unit/hostile/test_workflow_steps.py``. Every good session must still
get its figures and the summaries must be written; the bad session is marked failed with the
reason, the run ends with a summary and exits non-zero (zero with
``fail_on_session_errors: false``). Also: a changed sorter file reloads exactly its session,
and an option that only makes sense one way round stops the run before any job.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftqc.errors import DriftQCError
from driftqc.io import load_sorting
from driftqc.io.ops import read_ops
from driftqc.pipeline.cache import read_status
from driftqc.synthetic import write_kilosort_folder
from tests.helpers.workflow import job_counts, snakemake, write_config

pytestmark = pytest.mark.workflow

GOOD = ("ks4", "ks25")
RENDER = {"dpi": 30, "formats": ["png"]}
TINY = {"n_spikes": 5_000, "n_channels": 32, "n_units": 6, "duration": 60.0}


def _tiny_session(folder: Path, layout: str, seed: int) -> Path:
    return write_kilosort_folder(folder, layout=layout, seed=seed, **TINY).path


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("hostile_batch")
    folders = {
        "ks4": _tiny_session(work / "data" / "ks4" / "kilosort4", "kilosort4", 1),
        "ks25": _tiny_session(work / "data" / "ks25" / "sorter_output", "kilosort2_5", 2),
        "bad": _tiny_session(work / "data" / "bad" / "kilosort4", "kilosort4", 3),
    }
    # a hand-edited label file: an unbalanced quote, then many rows
    (folders["bad"] / "cluster_group.tsv").write_text(
        'cluster_id\tgroup\n0\t"good\n' + "1\tgood\n" * 30_000, encoding="utf-8"
    )
    with pytest.raises(DriftQCError, match="cluster_group.tsv is not a readable table"):
        load_sorting(folders["bad"])
    sessions = [{"id": sid, "path": str(path)} for sid, path in folders.items()]
    write_config(work, sessions, render=RENDER, drift_qc={"bin_s": 10})
    result = snakemake(work, "--keep-going", check=False)
    return {"work": work, "folders": folders, "result": result}


def _qc(work: Path) -> pd.DataFrame:
    return pd.read_csv(work / "results/summary/qc.tsv", sep="\t", dtype=str).set_index("session")


def test_good_sessions_and_summaries_complete(batch):
    work = batch["work"]
    for sid in GOOD:
        assert (work / f"results/render/{sid}/drift_map.png").stat().st_size > 1000
        sidecar = json.loads((work / f"results/render/{sid}/drift_map.json").read_text())
        assert sidecar["status"] == "ok" and sidecar["shared_range_used"] is True
    for summary in (
        "summary/qc.tsv",
        "summary/drift_qc.tsv",
        "grid/drift_maps.png",
        "summary/shared_amplitude_range.json",
        "summary/session_shifts.tsv",
    ):
        assert (work / "results" / summary).is_file(), summary
    shared = json.loads((work / "results/summary/shared_amplitude_range.json").read_text())
    assert shared["applicable"] and sorted(shared["sessions"]) == sorted(GOOD)
    qc = _qc(work)
    assert list(qc.index) == [*GOOD, "bad"]
    assert (qc.loc[list(GOOD), "status"] == "ok").all()
    drift = pd.read_csv(work / "results/summary/drift_qc.tsv", sep="\t", dtype=str)
    assert set(drift["session"]) == {*GOOD, "bad"}


def test_bad_session_is_marked_failed_with_its_reason(batch):
    work = batch["work"]
    qc = _qc(work)
    assert qc.loc["bad", "status"] == "failed"
    assert qc.loc["bad", "error"].startswith("load failed: ")
    assert qc.loc["bad", "drift_qc"] == "failed"
    sidecar = json.loads((work / "results/render/bad/drift_map.json").read_text())
    assert sidecar["status"] == "failed" and sidecar["stage"] == "load"
    assert read_status(work / "results/cache/bad/spikes.npz")["status"] == "failed"
    # the load job itself succeeded: its traceback is in its log, not a failed job
    log = (work / "logs/load/bad.log").read_text()
    assert "Traceback (most recent call last)" in log and "read_label_file" in log


def test_run_exits_nonzero_with_a_summary_of_failed_sessions(batch):
    result = batch["result"]
    assert result.returncode == 1
    assert "did not complete successfully" not in result.stderr  # no job failed
    summary = result.stderr[result.stderr.index("1 of 3 sessions FAILED") :]
    rows = [line.split() for line in summary.splitlines()[1:4]]
    assert rows[0][:2] == ["session", "stage"]
    bad = rows[1]
    assert bad[:2] == ["bad", "load"] and bad[-1] == "[logs/load/bad.log]"
    assert not any(line.split()[:1] in (["ks4"], ["ks25"]) for line in summary.splitlines())


def test_rerun_with_nothing_to_do_reports_again_and_runs_no_job(batch):
    result = snakemake(batch["work"], check=False)
    assert "Nothing to be done" in result.stdout + result.stderr
    assert result.returncode == 1 and "1 of 3 sessions FAILED" in result.stderr
    assert "Job stats" not in result.stdout + result.stderr
    # a dry run plans, it does not judge
    assert snakemake(batch["work"], "-n").returncode == 0


def test_fail_on_session_errors_false_exits_zero(batch):
    work = batch["work"]
    (work / "results/grid/drift_maps.png").unlink()
    overlay = work / "lenient.yaml"
    overlay.write_text(yaml.safe_dump({"fail_on_session_errors": False}), encoding="utf-8")
    base = work / "config" / "config.yaml"
    result = snakemake(work, "--configfile", str(base), str(overlay))  # checks exit 0
    assert job_counts(result.stdout + result.stderr) == {"grid": 1, "default": 1}
    assert "1 of 3 sessions FAILED" in result.stderr  # still said, as a warning
    assert (work / "results/grid/drift_maps.png").is_file()


def _reloaded_sessions(work: Path) -> list[str]:
    """Sessions whose load job a dry run plans."""
    output = snakemake(work, "-n").stdout
    jobs = re.findall(r"^(?:local)?rule load:\n((?:[ \t]+.*\n)+)", output, re.M)
    return sorted(re.search(r"wildcards: session=(\S+)", job)[1] for job in jobs)


def _restoring(path: Path):
    """Remember a file's bytes and times; return the function that puts them back."""
    content, stat = path.read_bytes(), path.stat()

    def restore() -> None:
        path.write_bytes(content)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    return restore


def test_changed_ops_npy_reloads_exactly_its_session(batch):
    ops_path = batch["folders"]["ks4"] / "ops.npy"
    restore = _restoring(ops_path)
    try:
        ops = read_ops(ops_path)
        ops["dshift"] = np.asarray(ops["dshift"]) + 1.0  # the sorter's motion is cached
        np.save(ops_path, np.array(ops, dtype=object), allow_pickle=True)
        assert _reloaded_sessions(batch["work"]) == ["ks4"]
    finally:
        restore()
    assert _reloaded_sessions(batch["work"]) == []


def test_changed_label_file_reloads_exactly_its_session(batch):
    labels = batch["folders"]["ks25"] / "cluster_group.tsv"
    restore = _restoring(labels)
    try:
        lines = labels.read_text(encoding="utf-8").splitlines()
        cluster = lines[1].split("\t")[0]
        lines[1] = f"{cluster}\tnoise"
        labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert _reloaded_sessions(batch["work"]) == ["ks25"]
    finally:
        restore()


@pytest.mark.parametrize(
    ("options", "lines"),
    [
        pytest.param(
            {
                "filters": {
                    "exclude_noise": True,
                    "amplitude_filter": {"mode": "percentile", "values": [99, 1]},
                }
            },
            [("config 'filters.amplitude_filter.values'", "low is above high")],
            id="percentiles-reversed",
        ),
        pytest.param(
            {"filters": {"amplitude_filter": {"mode": "percentile", "values": [1, 150]}}},
            [("config 'filters.amplitude_filter.values[1]'", "150 is greater than the maximum")],
            id="percentile-150",
        ),
        pytest.param(
            {"render": {**RENDER, "scaling": [50, 10]}},
            [("config 'render.scaling'", "low must be below high")],
            id="scaling-reversed",
        ),
        pytest.param(
            {"amplitude_summary": {"shared_percentiles": [99, 1]}},
            [("config 'amplitude_summary.shared_percentiles'", "low percentile must be below")],
            id="shared-percentiles-reversed",
        ),
    ],
)
def test_bad_option_stops_the_run_before_any_job(tmp_path, options, lines):
    sessions = [{"id": "a", "path": "resources/demo/none-kilosort4-1"}]
    write_config(tmp_path, sessions, **options)
    result = snakemake(tmp_path, check=False)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    for parts in lines:  # each on one line of the message
        assert any(all(p in line for p in parts) for line in message.splitlines()), message
    assert not (tmp_path / "results").exists() and not (tmp_path / "resources").exists()
