"""Hostile input to ``driftqc view``, run as a user would (starts Qt, offscreen).

The same rules as ``tests/unit/hostile/test_cli_inputs.py``: the documented exit code, one
line on stderr naming the flag or file at fault, no traceback, no output file left behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.helpers.cli import (
    TIMEOUT,
    cli,
    cli_many,
    command,
    env_with,
    listing,
    one_line_error,
)

# -- driftqc view ----------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland check: Linux")
def test_view_without_a_display_suggests_a_screenshot(small_ks):
    env = env_with(DISPLAY=None, WAYLAND_DISPLAY=None, QT_QPA_PLATFORM=None)
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
        command(("view", small_ks), None),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
        env=env_with(),  # offscreen: a window no one sees, in Qt's event loop until Ctrl-C
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
