"""Run the command line as a user would (``python -m driftqc ...``) and check its errors.

Shared by the hostile command-line tests of both speeds: ``plot``/``sessions`` in
``tests/unit/hostile/test_cli_inputs.py``, ``view`` (starts Qt) in
``tests/integration/interactive/test_view_cli_inputs.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from driftqc.synthetic import write_kilosort_folder

TIMEOUT = 120
NAME_TOO_LONG = "a" * 300  # longer than any file system allows (ENAMETOOLONG)


def write_small_ks(folder: Path) -> Path:
    """A small real Kilosort 4 layout folder (2 000 spikes) at ``folder``."""
    write_kilosort_folder(
        folder, n_spikes=2000, layout="kilosort4", n_channels=32, n_units=5, duration=20.0
    )
    return folder


def copy_to_bad_name(small_ks: Path, tmp_path: Path) -> Path:
    """A copy of ``small_ks`` at ``<tmp>/root/ses-\\xff/kilosort4`` (name not valid UTF-8).

    Skips the test where the file system refuses such names.
    """
    parent = os.path.join(os.fsencode(tmp_path / "root"), b"ses-\xff")
    try:
        os.makedirs(parent)
    except OSError:
        pytest.skip("this file system does not accept a file name that is not UTF-8")
    target = os.path.join(parent, b"kilosort4")
    shutil.copytree(os.fsencode(small_ks), target)
    return Path(os.fsdecode(target))


def env_with(**changes: str | None) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DRIFTQC_DEBUG", None)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def command(args: tuple[object, ...], code: str | None) -> list[str]:
    head = [sys.executable, "-c", code] if code else [sys.executable, "-m", "driftqc"]
    return [*head, *(str(a) for a in args)]


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m driftqc ARGS``; output decoded leniently (paths may not be UTF-8)."""
    return subprocess.run(
        command(args, None),
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT,
        env=env or env_with(),
    )


def cli_many(
    *arg_lists: tuple[object, ...], code: str | None = None, envs: list | None = None
) -> list[subprocess.CompletedProcess]:
    """Run several commands, four at a time (``code``: ``python -c code ARGS``); in order."""
    envs = envs or [env_with()] * len(arg_lists)
    results = []
    for start in range(0, len(arg_lists), 4):
        batch = [
            subprocess.Popen(
                command(args, code),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                encoding="utf-8",
                errors="replace",
                env=env,
            )
            for args, env in zip(
                arg_lists[start : start + 4], envs[start : start + 4], strict=True
            )
        ]
        for process in batch:
            out, err = process.communicate(timeout=TIMEOUT)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def one_line_error(result: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Assert exit ``code``, no traceback and a single stderr line holding every needle."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def listing(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden (temporary) files included."""
    return sorted(os.listdir(folder))
