"""Fixtures for the SLURM tests: a real single-node SLURM cluster and a guarded snakemake run.

The cluster is brought up by ``ci/slurm/setup_slurm.sh`` (Debian packages, daemons started by
hand). These tests need root and take minutes, so they run only in CI (``CI`` set) or when
``DRIFTQC_SLURM_TESTS`` is set; ``DRIFTQC_SLURM_TESTS=require`` turns every reason to skip
into a failure (for CI machines that must run them). Every call into SLURM or snakemake has
a hard timeout: a stuck scheduler fails the test instead of hanging the suite.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SETUP_SCRIPT = ROOT / "ci" / "slurm" / "setup_slurm.sh"
SLURM_PROFILE = ROOT / "profiles" / "slurm"

BRING_UP_TIMEOUT_S = 600  # a fresh apt install of slurm + mariadb takes about a minute
RUN_TIMEOUT_S = 480
# "Job 3 has been submitted with SLURM jobid 7 (log: /x/.snakemake/slurm_logs/rule_a/7.log)."
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)")


@dataclass
class Run:
    """A finished snakemake run: exit code, everything it printed, and its work folder."""

    workdir: Path
    returncode: int
    output: str

    def slurm_jobs(self) -> dict[str, Path]:
        """SLURM job id -> job log path, as snakemake reported them on submission."""
        return {job: Path(log) for job, log in SUBMITTED.findall(self.output)}

    def describe(self) -> str:
        return f"snakemake exited {self.returncode} in {self.workdir}:\n{self.output[-6000:]}"


def _enabled() -> str | None:
    flag = os.environ.get("DRIFTQC_SLURM_TESTS", "")
    if flag == "0":
        return "DRIFTQC_SLURM_TESTS=0"
    if not flag and not os.environ.get("CI"):
        return "the SLURM tests install and start system daemons; set DRIFTQC_SLURM_TESTS=1"
    return None


def _skip(reason: str) -> None:
    """Skip, or fail when DRIFTQC_SLURM_TESTS=require says these tests must run."""
    if os.environ.get("DRIFTQC_SLURM_TESTS") == "require":
        pytest.fail(f"SLURM tests required but cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm_cluster() -> str:
    """Bring up the local SLURM cluster (idempotent); returns the script's status report."""
    reason = _enabled()
    if reason:
        pytest.skip(reason)
    if os.geteuid() != 0:
        _skip("needs root: installs Debian packages and starts slurmctld/slurmd/munge")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        _skip("snakemake-executor-plugin-slurm is not installed (pip install 'driftqc[slurm]')")
    try:
        up = subprocess.run(
            ["bash", str(SETUP_SCRIPT), "start"],
            capture_output=True, text=True, timeout=BRING_UP_TIMEOUT_S, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        _skip(f"SLURM did not come up within {BRING_UP_TIMEOUT_S} s ({SETUP_SCRIPT} start)")
    if up.returncode != 0:
        _skip(f"SLURM could not be brought up ({SETUP_SCRIPT} start):\n{up.stderr[-2000:]}")
    status = subprocess.run(
        ["bash", str(SETUP_SCRIPT), "status"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if status.returncode != 0:
        _skip(f"SLURM is not usable after start:\n{status.stdout}")
    return status.stdout


def run_snakemake(workdir: Path, *args: str, timeout: float = RUN_TIMEOUT_S) -> Run:
    """Run the repository's workflow in ``workdir`` with a hard timeout.

    On timeout the whole process group is killed and every SLURM job still queued or
    running in ``workdir`` is cancelled, then the test fails with the output so far.
    """
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), *args,
    ]  # fmt: skip
    log = workdir / "snakemake-output.txt"
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            cancel_jobs_in(workdir)
            pytest.fail(
                f"snakemake did not finish within {timeout} s:\n"
                + log.read_text(encoding="utf-8")[-6000:]
            )
        finally:
            if process.poll() is None:  # interrupted while waiting: leave nothing behind
                os.killpg(process.pid, signal.SIGKILL)
                cancel_jobs_in(workdir)
    return Run(workdir, process.returncode, log.read_text(encoding="utf-8"))


def squeue_jobs(workdir: Path) -> dict[str, str]:
    """Pending and running SLURM jobs in ``workdir`` -> their comment."""
    listing = subprocess.run(
        ["squeue", "--noheader", "--states=PENDING,RUNNING", "--format=%i|%Z|%k"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    jobs = {}
    for line in listing.stdout.splitlines():
        job, where, comment = (line.split("|", 2) + ["", ""])[:3]
        if Path(where) == workdir:
            jobs[job] = comment
    return jobs


def cancel_jobs_in(workdir: Path) -> None:
    """Cancel the SLURM jobs still active in ``workdir`` (this test's jobs, no others)."""
    jobs = list(squeue_jobs(workdir))
    if jobs:
        subprocess.run(["scancel", *jobs], timeout=30, check=False)


def sacct_records(job_ids: list[str]) -> dict[str, dict[str, str]]:
    """SLURM's accounting records of the given jobs: id -> state, work dir, comment."""
    fields = ["JobIDRaw", "State", "WorkDir", "Comment"]
    listing = subprocess.run(
        ["sacct", "-X", "--parsable2", "--noheader", "--starttime", "now-1days",
         "--format", ",".join(f"{f}%500" for f in fields), "--jobs", ",".join(job_ids)],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    records = {}
    for line in listing.stdout.splitlines():
        values = dict(zip(fields, line.split("|"), strict=True))
        records[values["JobIDRaw"]] = values
    return records
