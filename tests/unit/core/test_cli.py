"""``driftqc plot`` run as a user would, in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import warnings

import matplotlib.image
import pytest

from driftqc.cli import main
from driftqc.errors import OptionError


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


# -- how main() turns errors into one line and an exit code (in process, fast) -------------


def _failing_plot(monkeypatch, exc, warn=True):
    import driftqc.cli.plot

    def handler(args):
        if warn:
            warnings.warn("first line\nsecond line", UserWarning, stacklevel=1)
        raise exc

    monkeypatch.setattr(driftqc.cli.plot, "run", handler)
    monkeypatch.delenv("DRIFTQC_DEBUG", raising=False)


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (OptionError("--dpi 0: bad"), 2, "driftqc plot: error: --dpi 0: bad"),
        (
            FileNotFoundError(2, "No such file or directory", "/x/map.png"),
            1,
            "driftqc plot: error: /x/map.png: No such file or directory",
        ),
        (KeyboardInterrupt(), 130, "driftqc plot: interrupted"),
        (
            ZeroDivisionError("division by zero"),
            1,
            "driftqc plot: internal error: ZeroDivisionError: division by zero "
            "(run with --debug/DRIFTQC_DEBUG=1 for the traceback)",
        ),
    ],
)
def test_main_reports_each_kind_of_error_on_one_line(monkeypatch, capsys, exc, code, line):
    _failing_plot(monkeypatch, exc)
    assert main(["plot", "somewhere", "-o", "x.png"]) == code
    err = capsys.readouterr().err.splitlines()
    assert err == ["driftqc plot: warning: first line second line", line]


def test_debug_flag_and_variable_reraise(monkeypatch, capsys):
    _failing_plot(monkeypatch, ZeroDivisionError("division by zero"), warn=False)
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "plot", "somewhere", "-o", "x.png"])
    monkeypatch.setenv("DRIFTQC_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["plot", "somewhere", "-o", "x.png"])
