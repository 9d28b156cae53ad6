"""The package's import graph follows its layers (driftqc._layers)."""

from __future__ import annotations

import subprocess
import sys

from driftqc import _layers


def test_no_import_runs_up_the_layers():
    assert _layers.violations() == []


def test_every_module_has_a_layer():
    for path in _layers.PACKAGE.rglob("*.py"):
        _layers.layer_of(_layers.module_name(path))  # raises for a module in no layer


def test_the_check_finds_an_import_that_runs_up(tmp_path, monkeypatch):
    package = tmp_path / "driftqc"
    (package / "io").mkdir(parents=True)
    (package / "io" / "reader.py").write_text("from driftqc.plotting import plot_drift_map\n")
    (package / "plotting").mkdir()
    (package / "plotting" / "x.py").write_text("import driftqc.interactive.grid\n")
    monkeypatch.setattr(_layers, "PACKAGE", package)
    problems = _layers.violations()
    assert len(problems) == 2
    assert "io module driftqc.io.reader imports driftqc.plotting" in problems[0]
    assert "driftqc.plotting.x imports driftqc.interactive.grid" in problems[1]


def test_command_line_exits_zero_when_clean():
    done = subprocess.run(
        [sys.executable, "-m", "driftqc._layers"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "layers: ok" in done.stdout
