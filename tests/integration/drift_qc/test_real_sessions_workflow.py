"""The workflow on real sorter output with known drift: frames, verdicts and shifts.

Sessions are real Kilosort 4.1.7 output (``tests/data/ks4_cases``: a 30 µm step, no drift,
the no-drift session shifted by +25 µm) and a real SpikeInterface ``export_to_phy`` folder
(``tests/data/si_export_step50``); each holds ``ground_truth.npz``. Expectations come from
those files and from the verdict levels, not from an earlier run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftqc.metrics import QCThresholds
from tests.helpers.workflow import snakemake, write_config

pytestmark = pytest.mark.workflow
DATA = Path(__file__).resolve().parents[2] / "data"
LEVELS = QCThresholds()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tmp_path_factory.mktemp("wf_real")
    folders = {
        "step50": DATA / "ks4_cases" / "step50",
        "stable": DATA / "ks4_cases" / "stable",
        "shift25": DATA / "ks4_cases" / "shift25",
        "si-step": DATA / "si_export_step50",
    }
    for sid, source in folders.items():
        shutil.copytree(source, work / "data" / sid)
    sessions = [
        {"id": "step50", "path": "data/step50", "subject": "m1", "date": "2024-01-01",
         "frame": "raw"},
        {"id": "stable", "path": "data/stable", "subject": "m1", "date": "2024-01-02"},
        {"id": "shift25", "path": "data/shift25", "subject": "m1", "date": "2024-01-03"},
        {"id": "si-step", "path": "data/si-step", "subject": "m2", "frame": "raw"},
    ]  # fmt: skip
    write_config(
        work, sessions, filters={"exclude_noise": False},
        drift_qc={"bin_s": 5, "min_spikes_per_bin": 20, "reference_session": {"m1": "stable"}},
    )  # fmt: skip
    result = snakemake(work)
    return work, folders, result


def _truth(folder: Path) -> dict[str, np.ndarray]:
    return dict(np.load(folder / "ground_truth.npz"))


def test_verdicts_follow_what_the_probe_did(run):
    work, folders, _ = run
    table = pd.read_csv(work / "results/summary/drift_qc.tsv", sep="\t", dtype={"shank": str})
    rows = table.set_index("session")
    # a 30 µm step the sorter corrected: at least warn, and the reason says so
    assert np.ptp(_truth(folders["step50"])["batch_displacement_um"]) > LEVELS.warn_step_um
    assert rows.loc["step50", "drift_qc"] == "warn"
    assert "the sorter had to correct it" in rows.loc["step50", "reasons"]
    assert rows.loc["step50", "raw_frame_peak_to_peak_um"] > LEVELS.warn_peak_to_peak_um
    # no drift: pass
    assert rows.loc["stable", "drift_qc"] == "pass"
    # no drift within the session, but 25 µm from its reference: the shift warns
    assert rows.loc["shift25", "drift_qc"] == "warn"
    assert "shift" in rows.loc["shift25", "reasons"]
    # a SpikeInterface export cannot show drift: never pass
    assert rows.loc["si-step", "drift_qc"] == "unmeasurable"


def test_shifts_are_measured_within_a_subject_from_matched_units(run):
    work, folders, _ = run
    shifts = pd.read_csv(work / "results/summary/session_shifts.tsv", sep="\t")
    whole = shifts[shifts["shank"].astype(str) == "all"].set_index("session")
    true = float(np.median(_truth(folders["shift25"])["unit_y_um"])) - float(
        np.median(_truth(folders["stable"])["unit_y_um"])
    )
    assert true == pytest.approx(25.0)
    assert whole.loc["shift25", "status"] == "ok"
    assert whole.loc["shift25", "shift_um"] == pytest.approx(true, abs=3.0)
    assert whole.loc["stable", "reference"] == "stable"
    # the other subject has nothing to compare with; its declared frame reaches its units
    assert whole.loc["si-step", "reference"] == "si-step"
    assert whole.loc["si-step", "status"] == "not compared"
    assert "no other session of this subject" in whole.loc["si-step", "note"]
    assert whole.loc["si-step", "frame"] == "raw"


def test_traces_hold_every_frame_and_the_map_draws_the_asked_one(run):
    work, _, _ = run
    trace = pd.read_csv(work / "results/drift_qc/step50/trace.tsv", sep="\t")
    assert {"raw", "registered"} <= set(trace["frame"])
    assert trace["source"].str.contains("sorter").any()
    assert {"time_s", "displacement_um"} <= set(trace.columns)
    sidecar = json.loads((work / "results/render/step50/drift_map.json").read_text())
    assert "depth frame: raw (reconstructed from Kilosort 4 dshift)" in sidecar["caption"]
    declared = json.loads((work / "results/render/si-step/drift_map.json").read_text())
    assert "declared" in declared["caption"] and "DRIFT NOT MEASURABLE" in declared["caption"]
