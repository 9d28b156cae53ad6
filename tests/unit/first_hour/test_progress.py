"""Progress of long reads and verbose messages: on stderr when asked or on a terminal only."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from driftqc import DriftPlotter, progress
from driftqc.cli import main
from driftqc.io import read_kilosort
from driftqc.options import SelectionOptions
from driftqc.selection.stream import ChunkedSelection
from driftqc.synthetic import write_kilosort_folder


@pytest.fixture(scope="module")
def ks25(tmp_path_factory):
    """A small Kilosort 2.5 folder: depths come from a pass over pc_features.npy."""
    return write_kilosort_folder(
        tmp_path_factory.mktemp("progress") / "ks25",
        n_spikes=20_000,
        layout="kilosort2_5",
        n_channels=64,
        n_units=10,
        duration=60.0,
        seed=1,
    )


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv("DRIFTQC_PROGRESS", raising=False)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_quiet_by_default(ks25, capsys):
    DriftPlotter(ks25.path).drift_map_plot_matplotlib()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_asked_for_the_pc_feature_pass_reports(ks25, capsys):
    with progress.reporting(True):
        read_kilosort(ks25.path)
    err = capsys.readouterr().err
    assert "depths from pc_features.npy" in err
    assert "100% (20,000 of 20,000 spikes)" in err and "done" in err
    assert "\r" not in err  # not a terminal: plain lines


def test_verbose_turns_progress_on(ks25, capsys):
    DriftPlotter(ks25.path, verbose=True)
    captured = capsys.readouterr()
    assert "depths from pc_features.npy" in captured.err
    assert "Loading data from" in captured.out  # messages on stdout, as driftplots


def test_chunked_selection_reports_once_for_the_whole_session(ks25, capsys):
    options = SelectionOptions(filter_amplitude_mode="percentile", filter_amplitude_values=(1, 99))
    with progress.reporting(True):
        chunks = ChunkedSelection(ks25.path, options, chunk_spikes=3_000)
        n = sum(len(kept) for kept in chunks)
    err = capsys.readouterr().err
    assert n == chunks.counts.n_kept
    assert "amplitudes for percentile bounds" in err
    assert "reading and filtering: 100% (20,000 of 20,000 spikes)" in err
    assert "pc_features" not in err  # the per-chunk depth passes stay silent


def test_terminal_shows_long_passes_only(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress.task("short", 10) as t:  # automatic: shorter than AUTO_DELAY_S
        t.advance(10)
    assert terminal.getvalue() == ""
    monkeypatch.setattr(progress, "AUTO_DELAY_S", 0.0)
    with progress.task("long", 10) as t:
        t.advance(5)
        t.advance(5)
    shown = terminal.getvalue()
    assert shown.startswith("\rlong:") and shown.endswith("done\n")  # rewritten in place


def test_environment_switch(monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "AUTO_DELAY_S", 0.0)
    monkeypatch.setenv("DRIFTQC_PROGRESS", "0")
    with progress.task("off", 4) as t:
        t.advance(4)
    assert terminal.getvalue() == ""
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setenv("DRIFTQC_PROGRESS", "1")
    with progress.task("on", 4) as t:
        t.advance(4)
    assert "on: 100% (4 of 4 spikes)" in log.getvalue()
    with progress.reporting(False), progress.task("asked off", 4) as t:  # asking wins
        t.advance(4)
    assert "asked off" not in log.getvalue()


def test_advance_from_threads_adds_up(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress.reporting(True), progress.task("threads", 8_000) as t:
        workers = [
            threading.Thread(target=lambda: [t.advance(1) for _ in range(1_000)]) for _ in range(8)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert t.done == 8_000


def test_cli_plot_progress_and_verbose(ks25, tmp_path, capsys):
    out = tmp_path / "map.png"
    assert main(["plot", str(ks25.path), "-o", str(out)]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out.startswith(f"{out}:")

    assert main(["plot", str(ks25.path), "-o", str(out), "--progress"]) == 0
    shown = capsys.readouterr()
    assert "depths from pc_features.npy" in shown.err
    assert shown.out.startswith(f"{out}:")  # stdout keeps only the result line

    dense = ["--render", "density", "--exclude-noise", "--verbose"]
    assert main(["plot", str(ks25.path), "-o", str(out), *dense]) == 0
    verbose = capsys.readouterr()
    assert "reading and filtering" in verbose.err and "spikes kept" in verbose.err
    assert verbose.out.count("\n") == 1
