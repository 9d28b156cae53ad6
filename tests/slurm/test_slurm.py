"""The demo workflow submitted to a real SLURM scheduler through profiles/slurm.

Each test runs the repository's workflow on two tiny demo sessions with ``--executor slurm``
(from the profile) against the single-node cluster of ``ci/slurm/setup_slurm.sh``, and
checks what the scheduler recorded, not only what snakemake says.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from tests.slurm.conftest import (
    SLURM_PROFILE,
    cancel_jobs_in,
    run_snakemake,
    sacct_records,
    squeue_jobs,
)
from tests.workflow.helpers import job_counts, write_config

pytestmark = pytest.mark.slurm

SESSIONS = [
    {"id": "ses-a", "path": "resources/demo/linear-kilosort2_5-1", "label": "linear drift"},
    {"id": "ses-b", "path": "resources/demo/step-kilosort4-2", "label": "step drift"},
]
SLURM_ARGS = (
    "--workflow-profile", str(SLURM_PROFILE),
    # the plugin waits 40 s before its first status check by default; the profile 20 s
    "--slurm-init-seconds-before-status-checks", "1",
    # keep the per-job logs of successful jobs so the test can look at them
    "--slurm-keep-successful-logs",
)  # fmt: skip
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL"}


def wait_for_sacct(job_ids: list[str], timeout: float = 30) -> dict[str, dict[str, str]]:
    """Accounting records of finished jobs (they reach slurmdbd a moment after the end)."""
    deadline = time.monotonic() + timeout
    while True:
        records = sacct_records(job_ids)
        states = [records.get(job, {}).get("State", "").split(" ")[0] for job in job_ids]
        done = all(state in FINAL_STATES for state in states)
        if done or time.monotonic() > deadline:
            return records
        time.sleep(1)


def result_files(workdir: Path) -> set[str]:
    return {str(p.relative_to(workdir)) for p in (workdir / "results").rglob("*") if p.is_file()}


def assert_same_content(left: Path, right: Path) -> None:
    """Same data in two output files; figures compared as decoded images, PDFs by size."""
    suffix = left.suffix
    if suffix == ".json":
        assert json.loads(left.read_text()) == json.loads(right.read_text()), left.name
    elif suffix == ".tsv":
        assert left.read_text() == right.read_text(), left.name
    elif suffix == ".npz":
        with np.load(left, allow_pickle=False) as a, np.load(right, allow_pickle=False) as b:
            assert sorted(a.files) == sorted(b.files), left.name
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{left}: {key}")
    elif suffix == ".npy":
        np.testing.assert_array_equal(np.load(left), np.load(right), err_msg=str(left))
    elif suffix == ".png":
        # same renderer, same data: the same pixels (the PNG bytes carry metadata)
        np.testing.assert_array_equal(imread(left), imread(right), err_msg=str(left))
    elif suffix == ".pdf":
        # PDFs carry a creation date; the drawing itself is checked through the PNGs
        assert left.read_bytes()[:5] == right.read_bytes()[:5] == b"%PDF-", left.name
        assert abs(left.stat().st_size - right.stat().st_size) < 0.01 * left.stat().st_size
    else:
        assert left.read_bytes() == right.read_bytes(), left.name


def expected_cluster_jobs(local_output: str, cluster_output: str, n_sessions: int) -> Counter:
    """SLURM jobs per rule, from the jobs of a local run and the profile's groups.

    Rules marked local (snakemake says "localrule" when it runs them on the submit host of
    a cluster run) stay local; each session's grouped steps form one group job
    (``group-components: session: 1``); every other job is one SLURM job.
    """
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    grouped = set(profile.get("groups", {}))
    local_rules = set(re.findall(r"^localrule (\w+):", cluster_output, flags=re.MULTILINE))
    expected = Counter(
        {rule: n for rule, n in job_counts(local_output).items()
         if rule not in grouped | local_rules}
    )  # fmt: skip
    if grouped:
        expected["session group"] = n_sessions
    return expected


def rule_of(comment: str) -> str:
    """The rule named in the comment snakemake's SLURM plugin gives a job."""
    name = comment.removeprefix("rule_").split("_wildcards_")[0]
    return "session group" if name.startswith("session_") else name


def test_demo_workflow_runs_through_slurm(slurm_cluster: str, tmp_path: Path) -> None:
    local_dir, cluster_dir = tmp_path / "local", tmp_path / "slurm"
    for workdir in (local_dir, cluster_dir):
        write_config(workdir, SESSIONS)

    local = run_snakemake(local_dir, "--cores", "2")
    assert local.returncode == 0, local.describe()
    assert not local.slurm_jobs()
    cluster = run_snakemake(cluster_dir, *SLURM_ARGS)
    assert cluster.returncode == 0, cluster.describe()

    # every job went through the scheduler, which recorded it as completed in this folder
    jobs = cluster.slurm_jobs()
    records = wait_for_sacct(list(jobs))
    assert set(records) == set(jobs), cluster.describe()
    for job, record in records.items():
        assert record["State"] == "COMPLETED", record
        assert Path(record["WorkDir"]) == cluster_dir, record
        assert jobs[job].is_file() and jobs[job].name == f"{job}.log", jobs[job]
    ran = Counter(rule_of(record["Comment"]) for record in records.values())
    assert ran == expected_cluster_jobs(local.output, cluster.output, len(SESSIONS)), (
        cluster.describe()
    )
    for session in SESSIONS:
        assert f"rule_render_wildcards_{session['id']}" in {r["Comment"] for r in records.values()}

    # the same outputs with the same data as the local run
    files = result_files(local_dir)
    assert files == result_files(cluster_dir)
    assert {f"results/qc/{s['id']}/qc.json" for s in SESSIONS} <= files
    for name in sorted(files):
        if not name.startswith("results/benchmarks/"):  # run times differ
            assert_same_content(local_dir / name, cluster_dir / name)


def kill_when_running(workdir: Path, comment: str, stop: threading.Event, found: list) -> None:
    """SIGKILL the job step (the rule's processes) of the job with this comment.

    This is what the kernel's out-of-memory killer or a crash does to a job: it ends as
    FAILED. (Cancelling the whole job is not used: it would end as "CANCELLED by <uid>", a
    state snakemake-executor-plugin-slurm 2.8 does not recognise, and snakemake would wait
    for that job forever.)
    """
    while not stop.is_set():
        job = next((j for j, c in squeue_jobs(workdir).items() if c == comment), None)
        steps = subprocess.run(
            ["squeue", "--noheader", "--steps", "--format=%i", "--jobs", job or "0"],
            capture_output=True, text=True, timeout=30, check=False,
        ).stdout.split()  # fmt: skip
        if job and f"{job}.0" in steps:
            subprocess.run(["scancel", "--signal=KILL", f"{job}.0"], timeout=30, check=False)
            found.append(job)
            return
        time.sleep(0.3)


def test_failed_cluster_job_is_reported_and_other_sessions_finish(
    slurm_cluster: str, tmp_path: Path
) -> None:
    write_config(tmp_path, SESSIONS)
    good, bad = SESSIONS[0]["id"], SESSIONS[1]["id"]
    # a corrupt session: the demo folder is made first, then half of spike_times.npy is cut
    made = run_snakemake(tmp_path, SESSIONS[1]["path"], "--cores", "1")
    assert made.returncode == 0, made.describe()
    times = tmp_path / SESSIONS[1]["path"] / "spike_times.npy"
    times.write_bytes(times.read_bytes()[: times.stat().st_size // 2])

    # and a job that dies on the cluster: the processes of the corrupt session's render
    # job are killed on the node
    stop, killed = threading.Event(), []
    target = f"rule_render_wildcards_{bad}"
    watcher = threading.Thread(target=kill_when_running, args=(tmp_path, target, stop, killed))
    watcher.start()
    try:
        # the profile retries a failed job once: off here, or the job would simply rerun;
        # the grid is left out to save a scheduling round on the 2-CPU test node
        targets = [f"results/render/{s['id']}/drift_map.png" for s in SESSIONS]
        run = run_snakemake(
            tmp_path, *targets, "results/summary/qc.tsv", *SLURM_ARGS, "--retries", "0"
        )
    finally:
        stop.set()
        watcher.join(timeout=30)
        cancel_jobs_in(tmp_path)

    assert killed, f"the render job of {bad} was never seen running\n{run.describe()}"
    job = killed[0]
    jobs = run.slurm_jobs()
    assert run.returncode != 0, run.describe()
    # snakemake names the failed rule and points at the job's SLURM log, which is kept
    log = jobs[job]
    assert log == tmp_path / ".snakemake" / "slurm_logs" / "rule_render" / bad / f"{job}.log"
    assert log.is_file()
    failure = re.search(rf"SLURM-job '{job}' failed.*", run.output)
    assert failure and "FAILED" in failure.group(0), run.describe()
    assert re.search(rf"Error in rule render:.*?{re.escape(str(log))}", run.output, re.DOTALL)
    assert wait_for_sacct([job])[job]["State"] == "FAILED"

    # --keep-going (from the profile): everything that does not need that job finished
    for name in ("drift_map.png", "depth_histogram.png"):
        assert (tmp_path / "results" / "render" / good / name).is_file()
    assert not (tmp_path / "results" / "render" / bad / "drift_map.png").exists()
    # and the corrupt session is marked in the QC table with the file at fault
    table = pd.read_csv(tmp_path / "results" / "summary" / "qc.tsv", sep="\t", index_col=0)
    assert table.loc[good, "status"] == "ok"
    assert table.loc[bad, "status"] == "failed"
    assert "spike_times.npy" in table.loc[bad, "error"]
