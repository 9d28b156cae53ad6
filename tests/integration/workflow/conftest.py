"""Fixtures for the workflow tests: one full run of the workflow on four tiny sessions."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftqc.synthetic import SyntheticSession, write_kilosort_folder
from tests.helpers.workflow import snakemake, write_config


@dataclass
class FinishedRun:
    """A completed run on four sessions: two demo, one real folder, one corrupt folder."""

    workdir: Path
    ids: list[str]
    real: SyntheticSession
    corrupt_id: str
    result: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    workdir = tmp_path_factory.mktemp("wf_run")
    real = write_kilosort_folder(
        workdir / "data" / "ses-real" / "sorter_output", n_spikes=25_000, layout="kilosort2_5",
        n_channels=64, n_units=12, duration=100.0, drift="linear", seed=5,
    )  # fmt: skip
    corrupt = write_kilosort_folder(
        workdir / "data" / "ses-bad" / "kilosort4", n_spikes=25_000, layout="kilosort4",
        n_channels=64, n_units=12, duration=100.0, seed=6,
    )  # fmt: skip
    times = corrupt.path / "spike_times.npy"
    times.write_bytes(times.read_bytes()[: times.stat().st_size // 2])
    # the sessions file has an unquoted date-like id, as people write them
    (workdir / "config").mkdir()
    (workdir / "config" / "sessions.yaml").write_text(
        "- id: demo-a\n  path: resources/demo/zigzag-kilosort2_5-1\n  label: zig-zag\n"
        "- id: demo-b\n  path: resources/demo/step-kilosort4-2\n"
        f"- id: 2024-01-05\n  path: {real.path}\n  subject: m1\n  date: 2024-01-05\n"
        f"- id: bad\n  path: {corrupt.path}\n",
        encoding="utf-8",
    )
    write_config(workdir, "config/sessions.yaml")
    result = snakemake(workdir, "--keep-going", check=False)
    # every job finished; the run exits non-zero only because session "bad" failed
    assert result.returncode == 1, result.stderr[-8000:]
    assert "did not complete successfully" not in result.stderr, result.stderr[-8000:]
    assert "1 of 4 sessions FAILED" in result.stderr, result.stderr[-8000:]
    return FinishedRun(workdir, ["demo-a", "demo-b", "2024-01-05", "bad"], real, "bad", result)
