"""The first hour with real data, end to end: messages a new user sees from the workflow.

Real snakemake runs (each start costs seconds, so there are two): a config typo is one line
per problem, and a config written by `driftqc init` runs as is with a short screen output
that still shows a crashed job and the failed sessions. The `driftqc run` configfile checks
and `driftqc --help` run without snakemake.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from driftqc.synthetic import write_kilosort_folder

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[3]
SNAKEFILE = ROOT / "Snakefile"


def snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real snakemake on the repository's workflow in ``workdir``."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE)]
    command += ["--directory", str(workdir), "--cores", "2", *args]
    return subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )


def driftqc(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "driftqc", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)


def test_config_typos_are_one_line_each_with_the_report_in_a_log(tmp_path):
    config = {
        "sessions": [{"id": "a", "path": "resources/demo/none-kilosort4-1"}],
        "render": {"pointsize": 3, "dpi": "high"},
    }
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert (
        "config 'render': key 'pointsize' was unexpected (did you mean 'point_size'?); "
        "allowed keys: mode, density_statistic," in output
    )
    assert "config 'render.dpi': 'high' is not of type 'integer'; allowed: an integer" in output
    assert "2 problems in the config (jsonschema's report: logs/config_validation.log)" in output
    assert len(output.splitlines()) <= 6, output  # was 81 lines (621 for a top-level key)
    assert "Failed validating" not in output and "Traceback" not in output
    report = (tmp_path / "logs" / "config_validation.log").read_text()
    assert "Failed validating 'additionalProperties'" in report and "'pointsize'" in report


def test_driftqc_run_names_a_missing_or_wrong_configfile(tmp_path):
    result = driftqc("run", "--configfile", "nope.yaml", "-n", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "driftqc run: error: config file nope.yaml does not exist\n"
    (tmp_path / "sessions.yaml").write_text("- id: a\n  path: /data/a\n")
    result = driftqc("run", "--configfile=sessions.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "driftqc run: error: sessions.yaml looks like a sessions list, not a config; put it "
        "in a config file as the one line `sessions: sessions.yaml` (or make one: driftqc "
        "init ROOT)"
    ]


def test_help_lists_each_command_with_its_purpose_and_examples():
    result = driftqc("--help")
    assert result.returncode == 0
    text = result.stdout
    for command in ("plot", "view", "sessions", "init", "run"):
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(command + " "))
        assert len(line.split()) > 3, line  # the command and its purpose
    assert "examples:" in text and "driftqc run --configfile my.yaml --cores 4" in text


def test_init_config_runs_as_is_and_the_screen_stays_short(tmp_path):
    lab = tmp_path / "lab"
    for name in ("kilosort4", "phy"):  # sorter folders side by side
        write_kilosort_folder(
            lab / "ks4_bumps" / name, n_spikes=5000, n_channels=32, n_units=4, duration=60.0
        )
    broken = lab / "broken" / "kilosort4"  # a bad session: marked, summarised at the end
    broken.mkdir(parents=True)
    (broken / "kilosort4.log").write_text("")
    (broken / "spike_times.npy").write_bytes(b"x")
    work = tmp_path / "work"
    config = work / "my.yaml"
    result = driftqc("init", lab, "-o", config)
    assert result.returncode == 0, result.stderr
    text = config.read_text()
    config.write_text(text.replace("dpi: 150", "dpi: 40"))  # faster figures
    # a job that crashes outright (like one killed for memory): the grid's script
    crash = tmp_path / "crash"
    crash.mkdir()
    (crash / "sitecustomize.py").write_text(
        "import os, sys\nif sys.argv and sys.argv[0].endswith('.grid.py'):\n    os._exit(3)\n"
    )
    result = snakemake(work, "--configfile", str(config), env={"PYTHONPATH": str(crash)})
    output = result.stdout + result.stderr
    assert result.returncode == 1
    for sid in ("ks4_bumps-kilosort4", "ks4_bumps-phy"):  # the good sessions are done
        assert (work / "results" / "render" / sid / "drift_map.png").is_file()
    assert "Error in rule grid:" in output  # the crashed job, as snakemake reports it
    assert "1 of 3 sessions FAILED" in output and "broken" in output
    assert "localrule" not in output and "Select jobs to execute" not in output
    progress = [line for line in output.splitlines() if line.endswith("%) done")]
    assert 5 <= len(progress) <= 11  # a line per tenth of the 20 jobs, not a block per job
    assert len(output.splitlines()) <= 60, output  # a 10-line block per job before
