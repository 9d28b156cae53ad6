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

from tests.helpers.workflow import job_counts, write_config
from tests.integration.slurm.conftest import (
    SLURM_PROFILE,
    cancel_jobs_in,
    run_snakemake,
    sacct_records,
    squeue_jobs,
)

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


def arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a .npz (by name) or a .npy file."""
    if path.suffix == ".npy":
        return {"": np.load(path, allow_pickle=False)}
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def assert_same_content(name: str, left_dir: Path, right_dir: Path) -> None:
    """The same data in ``name`` under both run folders.

    Provenance may record the absolute path of the run folder, so each folder's path is
    replaced by a placeholder first. Figures are compared as decoded images (PNG bytes
    carry metadata), PDFs only as such (they carry a creation date; their drawing is the
    same as the PNGs').
    """
    left, right = left_dir / name, right_dir / name

    def text(path: Path, root: Path) -> str:
        return path.read_text(encoding="utf-8").replace(str(root), "<run folder>")

    def array(values: np.ndarray, root: Path) -> np.ndarray:
        if values.dtype != np.uint8:
            return values
        raw = values.tobytes().replace(str(root).encode(), b"<run folder>")
        return np.frombuffer(raw, dtype=np.uint8)

    if left.suffix == ".json":
        assert json.loads(text(left, left_dir)) == json.loads(text(right, right_dir)), name
    elif left.suffix == ".tsv":
        assert text(left, left_dir) == text(right, right_dir), name
    elif left.suffix in (".npz", ".npy"):
        a, b = arrays(left), arrays(right)
        assert sorted(a) == sorted(b), name
        for key in a:
            np.testing.assert_array_equal(
                array(a[key], left_dir), array(b[key], right_dir), err_msg=f"{name}: {key}"
            )
    elif left.suffix == ".png":
        np.testing.assert_array_equal(imread(left), imread(right), err_msg=name)
    elif left.suffix == ".pdf":
        assert left.read_bytes()[:5] == right.read_bytes()[:5] == b"%PDF-", name
    else:
        assert left.read_bytes() == right.read_bytes(), name


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


def rule_of(comment: str, rules: set[str]) -> str:
    """The rule named in the comment snakemake's SLURM plugin gives a job, or "session group".

    A group job's comment names the group and its rules instead of one rule.
    """
    name = comment.removeprefix("rule_").split("_wildcards_")[0]
    return name if name in rules else "session group"


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
    rules = set(job_counts(local.output))
    ran = Counter(rule_of(record["Comment"], rules) for record in records.values())
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
            assert_same_content(name, local_dir, cluster_dir)


def kill_when_running(workdir: Path, comment: str, stop: threading.Event, found: list) -> None:
    """SIGKILL the job with this comment on the node once it runs; note its id in ``found``.

    The job's batch script (snakemake's own process in the job) is killed, as the kernel's
    out-of-memory killer or a crash would: the job ends as FAILED. The kill is repeated
    while the job still runs, in case it came before the script started. (Cancelling the
    job is not used: it would end as "CANCELLED by <uid>", a state that
    snakemake-executor-plugin-slurm 2.8 does not recognise, so snakemake would wait for it
    forever.)
    """
    job = None
    while not stop.is_set():
        job = job or next((j for j, c in squeue_jobs(workdir).items() if c == comment), None)
        state = ""
        if job:
            state = subprocess.run(
                ["squeue", "--noheader", "--format=%T", "--jobs", job],
                capture_output=True, text=True, timeout=30, check=False,
            ).stdout.strip()  # fmt: skip
        if state == "RUNNING":
            subprocess.run(
                ["scancel", "--batch", "--signal=KILL", job],
                capture_output=True, timeout=30, check=False,
            )  # fmt: skip
            if job not in found:
                found.append(job)
        elif found:
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
