"""Hostile input to the command line, run as a user would: ``python -m driftqc ...``.

``driftqc plot`` and ``driftqc sessions`` here; ``driftqc view`` (starts Qt) is in
``tests/integration/interactive/test_view_cli_inputs.py``.

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
import textwrap

from driftqc.pipeline.sessions import read_sessions_file
from tests.helpers.cli import (
    NAME_TOO_LONG,
    cli,
    cli_many,
    env_with,
    listing,
    one_line_error,
)

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
        envs=[env_with(), env_with(), env_with(DRIFTQC_DEBUG="1")],
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
