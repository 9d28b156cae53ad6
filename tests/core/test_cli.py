"""``driftqc plot`` run as a user would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.image


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "driftqc", *args], capture_output=True, text=True, timeout=120
    )


def test_plot_writes_an_image(ks4_session, tmp_path):
    out = tmp_path / "map.png"
    result = run(
        "plot",
        str(ks4_session.path),
        "-o",
        str(out),
        "--histogram",
        "--exclude-noise",
        "--amplitude-filter",
        "percentile",
        "--amplitude-range",
        "1",
        "99",
        "--scaling",
        "log10",
        "--dpi",
        "50",
    )
    assert result.returncode == 0, result.stderr
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert image[..., :3].std() > 0.05  # not blank
    assert "noise units excluded" in result.stdout


def test_plot_density(ks4_session, tmp_path):
    out = tmp_path / "density.pdf"
    result = run(
        "plot", str(ks4_session.path), "-o", str(out), "--render", "density", "--decimate", "off"
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes().startswith(b"%PDF")


def test_plot_reports_bad_input_without_traceback(tmp_path):
    result = run("plot", str(tmp_path / "missing"), "-o", str(tmp_path / "x.png"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    result = run("plot", str(tmp_path), "-o", str(tmp_path / "x.png"), "--decimate", "half")
    assert result.returncode == 2 and "decimate" in result.stderr
