"""Hostile input to the command line, run as a user would: ``python -m driftqc ...``.

Every error must end the command with the documented exit code and one line on stderr that
names the flag or file at fault, never a traceback, and must leave no output file (complete,
partial, empty or temporary) behind. Output options are checked before any session is read,
which the tests show by pointing them at a sorter folder that does not exist: the output's
error, not the folder's, is reported. Folders whose names are not valid UTF-8 are created
with a byte 0xff in their name (skipped where the file system refuses such names).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from driftqc.pipeline.sessions import read_sessions_file
from driftqc.synthetic import write_kilosort_folder

TIMEOUT = 120
NAME_TOO_LONG = "a" * 300  # longer than any file system allows (ENAMETOOLONG)


@pytest.fixture(scope="module")
def small_ks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real Kilosort 4 layout folder (2 000 spikes), shared read-only."""
    folder = tmp_path_factory.mktemp("cli") / "sub-01" / "kilosort4"
    write_kilosort_folder(
        folder, n_spikes=2000, layout="kilosort4", n_channels=32, n_units=5, duration=20.0
    )
    return folder


@pytest.fixture
def bad_name_ks(small_ks: Path, tmp_path: Path) -> Path:
    """A copy of ``small_ks`` at ``<tmp>/root/ses-\\xff/kilosort4`` (name not valid UTF-8)."""
    parent = os.path.join(os.fsencode(tmp_path / "root"), b"ses-\xff")
    try:
        os.makedirs(parent)
    except OSError:
        pytest.skip("this file system does not accept a file name that is not UTF-8")
    target = os.path.join(parent, b"kilosort4")
    shutil.copytree(os.fsencode(small_ks), target)
    return Path(os.fsdecode(target))


def _env(**changes: str | None) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("DRIFTQC_DEBUG", None)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _command(args: tuple[object, ...], code: str | None) -> list[str]:
    head = [sys.executable, "-c", code] if code else [sys.executable, "-m", "driftqc"]
    return [*head, *(str(a) for a in args)]


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m driftqc ARGS``; output decoded leniently (paths may not be UTF-8)."""
    return subprocess.run(
        _command(args, None),
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=TIMEOUT,
        env=env or _env(),
    )


def cli_many(
    *arg_lists: tuple[object, ...], code: str | None = None, envs: list | None = None
) -> list[subprocess.CompletedProcess]:
    """Run several commands, four at a time (``code``: ``python -c code ARGS``); in order."""
    envs = envs or [_env()] * len(arg_lists)
    results = []
    for start in range(0, len(arg_lists), 4):
        batch = [
            subprocess.Popen(
                _command(args, code),
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


# -- driftqc plot ----------------------------------------------------------------------------


def test_plot_output_in_a_missing_folder(small_ks, tmp_path):
    out = tmp_path / "nodir" / "x.png"
    one_line_error(cli("plot", small_ks, "-o", out), 2, "-o/--output", "does not exist")
    assert not out.parent.exists()


def test_plot_output_is_checked_before_reading(tmp_path):
    (tmp_path / "figures").mkdir()
    missing = tmp_path / "no-such-session"
    cases = {
        "x.xyz": "matplotlib cannot write .xyz files; use ",
        "noext": "give the file an extension (",
        "figures": "is a folder; give a file name, e.g. ",  # -o DIR: an error, see --help
    }
    results = cli_many(*(("plot", missing, "-o", tmp_path / name) for name in cases))
    for (name, needle), result in zip(cases.items(), results, strict=True):
        line = one_line_error(result, 2, f"-o/--output {tmp_path / name}", needle)
        assert "no-such-session" not in line  # the session was never opened
    assert listing(tmp_path) == ["figures"]
    assert listing(tmp_path / "figures") == []


def test_plot_errors_name_the_flags(small_ks, tmp_path):
    out = tmp_path / "map.png"
    cases = {
        ("--amplitude-filter", "percentile"): "--amplitude-range",
        ("--amplitude-range", "1", "2"): "--amplitude-filter",
        ("--amplitude-filter", "absolute", "--amplitude-range", "5", "1"): "--amplitude-range",
        ("--amplitude-filter", "percentile", "--amplitude-range", "1", "200"): "--amplitude-range",
        ("--color-bins", "0"): "--color-bins",
        ("--point-size", "-1"): "--point-size",
        ("--scaling", "3,1"): "--scaling",
        ("--decimate", "-2"): "--decimate",
        ("--dpi", "0"): "--dpi",
        ("--dpi", "100000"): "--dpi",
        ("--exclude-noise", "bogus"): "--exclude-noise",  # found out while reading
        ("--version", "kilosort9"): "--version",
    }
    results = cli_many(*(("plot", small_ks, "-o", out, *opts) for opts in cases))
    for (opts, flag), result in zip(cases.items(), results, strict=True):
        line = one_line_error(result, 2, flag)
        assert "filter_amplitude" not in line and "n_color_bins" not in line, (opts, line)
    assert listing(tmp_path) == []


def test_plot_file_system_error_names_the_output(small_ks, tmp_path):
    out = tmp_path / f"{NAME_TOO_LONG}.png"
    one_line_error(cli("plot", small_ks, "-o", out), 1, str(out), "too long")
    assert listing(tmp_path) == []  # not even a temporary file


def test_plot_folder_and_title_that_are_not_utf8(bad_name_ks, tmp_path):
    out = tmp_path / "map\udcff.png"
    result = cli("plot", bad_name_ks, "-o", out, "--title", "ses \udcff", "--histogram")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert os.path.getsize(out) > 1000


# -- driftqc view ----------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland check: Linux")
def test_view_without_a_display_suggests_a_screenshot(small_ks):
    env = _env(DISPLAY=None, WAYLAND_DISPLAY=None, QT_QPA_PLATFORM=None)
    result = cli("view", small_ks, env=env)
    one_line_error(result, 2, "DISPLAY", "--screenshot FILE")


def test_view_size_must_be_positive(small_ks, tmp_path):
    result = cli("view", small_ks, "--size", "-5", "0", "--screenshot", tmp_path / "v.png")
    one_line_error(result, 2, "--size -5 0", "positive")
    assert listing(tmp_path) == []


def test_view_screenshot_is_checked_before_reading(tmp_path):
    missing = tmp_path / "no-such-session"
    cases = {
        "nodir/v.png": "does not exist",
        "v.xyz": "Qt cannot write .xyz",
        ".": "is a folder",
        "v": "extension",
    }
    results = cli_many(*(("view", missing, "--screenshot", tmp_path / n) for n in cases))
    for needle, result in zip(cases.values(), results, strict=True):
        line = one_line_error(result, 2, "--screenshot", needle)
        assert "no-such-session" not in line
    assert listing(tmp_path) == []


def test_view_screenshot_of_a_folder_that_is_not_utf8(bad_name_ks, tmp_path):
    out = tmp_path / "view.png"
    result = cli("view", bad_name_ks, "--screenshot", out, "--size", "300", "250")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    assert out.read_bytes().startswith(b"\x89PNG")
    assert listing(tmp_path) == ["root", "view.png"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_view_ctrl_c_exits_130_with_one_line(small_ks):
    process = subprocess.Popen(
        _command(("view", small_ks), None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
        env=_env(),  # offscreen: a window no one sees, in Qt's event loop until Ctrl-C
    )
    try:
        for line in process.stdout:  # a caption per panel, then the viewer is open
            if "Ctrl-C" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    one_line_error(result, 130, "driftqc view: interrupted")


# -- driftqc sessions ------------------------------------------------------------------------


def test_sessions_skips_a_folder_that_is_not_utf8(small_ks, bad_name_ks, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(small_ks, root / "sub-01" / "kilosort4")
    out = tmp_path / "sessions.yaml"
    result = cli("sessions", root, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "'" + str(root) + "/ses-\\udcff/kilosort4'" in warning[0]
    entries = read_sessions_file(out)
    assert [e["id"] for e in entries] == ["sub-01"]
    assert listing(tmp_path) == ["root", "sessions.yaml"]


def test_sessions_never_truncates_the_output_on_failure(bad_name_ks, tmp_path):
    out = tmp_path / "sessions.yaml"
    out.write_text("# my hand-made list\n")
    result = cli("sessions", tmp_path / "root", "-o", out)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "no Kilosort output folder found" in result.stderr
    assert out.read_text() == "# my hand-made list\n"
    assert listing(tmp_path) == ["root", "sessions.yaml"]


def test_sessions_output_errors(small_ks, tmp_path):
    folder, long_name = cli_many(
        ("sessions", small_ks.parent, "-o", tmp_path),
        ("sessions", small_ks.parent, "-o", tmp_path / f"{NAME_TOO_LONG}.yaml"),
    )
    one_line_error(folder, 2, "-o/--output", "is a folder")
    one_line_error(long_name, 1, f"{NAME_TOO_LONG}.yaml", "too long")
    assert listing(tmp_path) == []


# -- unexpected errors -----------------------------------------------------------------------

FAULTY_PLOT = textwrap.dedent(
    """
    import sys

    import driftqc.cli.plot

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault")

    driftqc.cli.plot._in_memory = broken  # a bug in the command, triggered by real input
    from driftqc.cli import main

    sys.exit(main(sys.argv[1:]))
    """
)


def test_unexpected_error_is_one_line_unless_debugging(small_ks, tmp_path):
    args = ("plot", small_ks, "-o", tmp_path / "map.png")
    plain, debug, debug_env = cli_many(
        args,
        ("--debug", *args),
        args,
        code=FAULTY_PLOT,
        envs=[_env(), _env(), _env(DRIFTQC_DEBUG="1")],
    )
    one_line_error(
        plain,
        1,
        "driftqc plot: internal error: RuntimeError: injected fault "
        "(run with --debug/DRIFTQC_DEBUG=1 for the traceback)",
    )
    for result in (debug, debug_env):
        assert result.returncode == 1
        assert "Traceback" in result.stderr and "injected fault" in result.stderr
    assert listing(tmp_path) == []
