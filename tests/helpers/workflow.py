"""Helpers of the workflow tests: tiny configs and a runner for the real snakemake.

Snakemake runs as a subprocess with ``--directory`` set to a temporary folder, exactly as a
user would run it, on tiny sessions (20–30 k spikes) so that the whole module stays fast.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SNAKEFILE = ROOT / "Snakefile"

TINY_DEMO = {"n_spikes": 20_000, "n_channels": 64, "duration_s": 120}
TINY_RENDER = {"dpi": 40, "formats": ["png", "pdf"]}
TINY_GRID = {"dpi": 40, "column_width": 2.0, "height": 3.0}


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the real snakemake on the repository's workflow in ``workdir``."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-8000:]}"
        )
    return result


def write_config(workdir: Path, sessions: object, **options: object) -> Path:
    """Write ``workdir/config/config.yaml`` with tiny demo sizes and fast rendering."""
    config = {
        "sessions": sessions,
        "demo": TINY_DEMO,
        "render": TINY_RENDER,
        "grid": TINY_GRID,
        "filters": {"exclude_noise": True},
        **options,
    }
    path = workdir / "config" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from the "Job stats" table snakemake prints."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    counts = {}
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    counts.pop("total", None)
    return counts
