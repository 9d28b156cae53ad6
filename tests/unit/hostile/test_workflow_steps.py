"""The workflow's steps called as the Snakefile calls them, without snakemake.

Exceptions driftqc does not raise itself are covered here at the step level, with a source
whose reading raises ``RuntimeError``: every step turns them into the session's failure. The
real workflow run on a batch with a broken session is in
``tests/integration/hostile/test_workflow_batch.py``.
"""

from __future__ import annotations

import json
import os

import pandas as pd

from driftqc.pipeline.batch import qc_summary_step
from driftqc.pipeline.cache import read_status
from driftqc.pipeline.session import (
    drift_qc_step,
    filter_step,
    load_step,
    qc_step,
    render_step,
)


class _VanishingFolder(os.PathLike):
    """A session source whose path cannot even be taken: reading it raises RuntimeError."""

    def __fspath__(self) -> str:
        raise RuntimeError("the network share went away")


def test_step_guard_turns_any_exception_into_the_sessions_failure(tmp_path, capsys):
    """Every step, called as the workflow calls it, with a source that raises RuntimeError."""
    out = {
        name: tmp_path / name
        for name in (
            "spikes.npz",
            "selection.npz",
            "qc.json",
            "sample.npy",
            "map.png",
            "hist.png",
            "map.json",
            "dqc.json",
            "trace.tsv",
            "events.tsv",
            "units.tsv",
            "dqc.png",
        )
    }
    reason = "RuntimeError: the network share went away (see logs/load/s.log)"
    assert load_step(_VanishingFolder(), out["spikes.npz"], name="s", log="logs/load/s.log") == (
        reason
    )
    assert "Traceback" in capsys.readouterr().err  # the log gets the traceback
    assert read_status(out["spikes.npz"]) == {"status": "failed", "stage": "load", "error": reason}
    # every later step passes the load failure on, with its stage
    assert filter_step(out["spikes.npz"], out["selection.npz"], session="s", options={}) == reason
    assert (
        qc_step(
            out["spikes.npz"],
            out["selection.npz"],
            out["qc.json"],
            out["sample.npy"],
            session="s",
            percentiles=[50],
        )
        == reason
    )
    assert json.loads(out["qc.json"].read_text())["error"] == f"load failed: {reason}"
    map_options = {"scaling": "linear"}
    render_step(
        out["selection.npz"],
        out["map.png"],
        out["hist.png"],
        out["map.json"],
        session="s",
        title="s",
        options=map_options,
        dpi=30,
    )
    assert json.loads(out["map.json"].read_text())["stage"] == "load"
    drift_qc_step(
        out["selection.npz"],
        out["spikes.npz"],
        record=out["dqc.json"],
        trace=out["trace.tsv"],
        events=out["events.tsv"],
        units=out["units.tsv"],
        figure=out["dqc.png"],
        session="s",
        title="s",
        options={},
        thresholds={},
        map_options=map_options,
        dpi=30,
    )
    assert json.loads(out["dqc.json"].read_text())["error"] == f"load failed: {reason}"
    assert out["dqc.png"].stat().st_size > 0 and out["map.png"].stat().st_size > 0
    # a step's own unexpected error is its own failure (here: options missing a key)
    error = render_step(
        out["selection.npz"],
        out["map.png"],
        out["hist.png"],
        out["map.json"],
        session="s",
        title="s",
        options={},
        dpi=30,
        log="logs/render/s.log",
    )
    assert error == "KeyError: 'scaling' (see logs/render/s.log)"
    assert json.loads(out["map.json"].read_text())["stage"] == "render"


def test_summary_step_marks_a_session_whose_record_is_unusable(tmp_path):
    good, broken = tmp_path / "good.json", tmp_path / "broken.json"
    good.write_text(json.dumps({"status": "failed", "error": "load failed: x"}))
    broken.write_text("{ not json")
    qc_summary_step(
        ["a", "b"], [good, broken], table=tmp_path / "qc.tsv", drift_table=tmp_path / "drift.tsv"
    )
    table = pd.read_csv(tmp_path / "qc.tsv", sep="\t", dtype=str).set_index("session")
    assert table.loc["b", "status"] == "failed"
    assert table.loc["b", "error"].startswith("qc_summary failed: json.decoder.JSONDecodeError")
