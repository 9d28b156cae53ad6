"""The ``driftqc view`` command line, run as a user would, offscreen: screenshots, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import matplotlib.image

from tests.helpers.alf import write_alf_folder


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "driftqc", "view", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_view_screenshot_writes_a_non_blank_png(ks4_session, ks25_session, tmp_path):
    (tmp_path / "shots").mkdir()  # the folder must exist, as for `driftqc plot -o`
    out = tmp_path / "shots" / "view.png"
    result = _run_cli(
        str(ks4_session.path),
        str(ks25_session.path),
        "--screenshot",
        str(out),
        "--exclude-noise",
        "--decimate",
        "3",
        "--scaling",
        "log10",
        "--size",
        "500",
        "400",
    )
    assert result.returncode == 0, result.stderr
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (400, 1000)  # one row of two 500×400 panels
    assert image[..., :3].std() > 0.05
    assert "noise units excluded" in result.stdout
    assert "1 in 3 spikes drawn" in result.stdout


def test_view_bad_grid_is_a_clear_error(ks4_session, tmp_path):
    result = _run_cli(
        str(ks4_session.path), "--grid", "2", "2", "--screenshot", str(tmp_path / "x.png")
    )
    assert result.returncode == 2
    assert "--grid" in result.stderr and "empty" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_view_screenshot_of_an_alf_folder(tmp_path):
    base = write_alf_folder(tmp_path / "alf" / "probe00")
    out = tmp_path / "view.png"
    result = subprocess.run(
        [sys.executable, "-m", "driftqc", "view", str(base.folder), "--screenshot", str(out),
         "--exclude-noise", "--size", "400", "300"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (300, 400)
    assert image[..., :3].std() > 0.02


def test_view_one_panel_per_shank_raw_frame_own_scales(ks4_session, tmp_path):
    out = tmp_path / "shanks.png"
    result = _run_cli(
        str(ks4_session.path),
        "--shank",
        "each",
        "--frame",
        "raw",
        "--no-shared-scale",
        "--link-time",
        "--chunked",
        "--screenshot",
        str(out),
        "--size",
        "400",
        "300",
    )
    assert result.returncode == 0, result.stderr
    assert "shank 0 only" in result.stdout and "shank 1 only" in result.stdout
    assert result.stdout.count("depth frame: raw (reconstructed") == 2
    assert "showing all" in result.stdout  # level of detail: every spike of the view
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (300, 800)  # two panels side by side
    assert image[..., :3].std() > 0.05


def test_view_shank_not_on_the_probe_names_the_valid_shanks(ks4_session, tmp_path):
    result = _run_cli(
        str(ks4_session.path), "--shank", "7", "--screenshot", str(tmp_path / "x.png")
    )
    assert result.returncode == 2
    assert "--shank 7" in result.stderr and "valid shanks: 0, 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()
    bad = _run_cli(
        str(ks4_session.path), "--shank", "left", "--screenshot", str(tmp_path / "y.png")
    )
    assert bad.returncode == 2 and "'left': give a shank number or 'each'" in bad.stderr
