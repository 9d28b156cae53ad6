"""Drift verdicts on real Kilosort 4 output of recordings with an imposed, known drift.

The folders are real sorter output (Kilosort 4.1.7 on the CPU, see ``tests/data/README.md``);
each holds ``ground_truth.npz`` with the displacement that was imposed, from which every
expectation here is derived.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from driftqc.io import load_sorting
from driftqc.metrics import QCThresholds, qc_flags
from driftqc.metrics.frames import sorter_drift_trace
from driftqc.qc import DriftQCOptions, drift_qc_table, session_drift_qc
from driftqc.selection import select_spikes

DATA = Path(__file__).resolve().parents[2] / "data"
CASES = DATA / "ks4_cases"
LEVELS = QCThresholds()


def _case(name: str) -> Path:
    path = DATA / name if name == "ks4_drift" else CASES / name
    if not path.is_dir():
        pytest.fail(f"missing validation folder {path} (see tests/data/README.md)")
    return path


def _qc(path: Path, **options: object):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sorting = load_sorting(path)
    selection = select_spikes(sorting)
    return sorting, session_drift_qc(
        selection, motion=sorting.motion, options=DriftQCOptions(**options)
    )


def _true_motion_ptp(path: Path) -> float:
    truth = np.load(path / "ground_truth.npz")
    return float(np.ptp(truth["batch_displacement_um"]))


@pytest.mark.parametrize("case", ["ks4_drift", "step25", "step50", "step75", "zigzag15"])
def test_motion_the_sorter_corrected_warns_and_says_so(case):
    path = _case(case)
    true_ptp = _true_motion_ptp(path)
    assert true_ptp > LEVELS.warn_peak_to_peak_um  # the case is meant to need correcting
    _, result = _qc(path)
    record = result.record
    assert record["frame"] == "registered"
    flags = record["flags"]["all"]
    assert flags["status"] == "warn", flags
    assert any("the sorter had to correct it" in r for r in flags["reasons"])
    # the raw-frame motion reported is the motion imposed (to within a few µm)
    inputs = record["verdict_inputs"]["all"]
    assert inputs["sorter_peak_to_peak_um"] == pytest.approx(true_ptp, abs=6.0)
    # and the registered frame is a small residual, which is not blamed
    assert record["trace"]["all"]["peak_to_peak_um"] < LEVELS.warn_residual_um
    assert not any("left after the sorter's correction" in r for r in flags["reasons"])


def test_the_batch_table_carries_both_frames_and_the_verdict():
    path = _case("step50")
    _, result = _qc(path)
    table = drift_qc_table({"step50": result.record})
    row = table.iloc[0]
    assert row["drift_qc"] == "warn" and row["drift_frame"] == "registered"
    assert row["raw_frame_peak_to_peak_um"] > LEVELS.warn_peak_to_peak_um
    assert row["drift_peak_to_peak_um"] < LEVELS.warn_residual_um


def test_a_large_residual_fails_the_correction():
    path = _case("step50")
    sorting, result = _qc(path)
    inputs = dict(result.record["verdict_inputs"]["all"])
    summary = dict(result.record["trace"]["all"])
    # the same session judged as if the correction had left the raw motion in place
    summary["peak_to_peak_um"] = inputs["raw_frame_peak_to_peak_um"]
    verdict = qc_flags({**summary, **inputs}, LEVELS)
    assert verdict["status"] == "fail"
    assert any("left after the sorter's correction" in r for r in verdict["reasons"])


def test_the_sorters_own_trace_is_judged_as_raw_motion_without_a_spike_count():
    sorting, _ = _qc(_case("step50"))
    summary = sorter_drift_trace(sorting.motion).summary()
    verdict = qc_flags(summary)
    assert not any("number of spikes" in r for r in verdict["reasons"])
    # a 30 µm jump in the raw frame, uncorrected, is beyond the step's fail level
    assert verdict["status"] == "fail"


def test_a_spikeinterface_export_is_unmeasurable_never_pass(tmp_path):
    # a real SpikeInterface export_to_phy folder (default, per-channel whitened PCs) of a
    # recording with a 30 µm step: its depths cannot show the step, and the verdict says so
    folder = DATA / "si_export_step50"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sorting = load_sorting(folder)
    assert sorting.info.sorter == "phy" and sorting.info.depth_frame == "unknown"
    assert not sorting.info.drift_measurable
    selection = select_spikes(sorting, frame="raw")  # the user declares the frame
    assert "DRIFT NOT MEASURABLE" in selection.caption
    assert "magnitude" in selection.caption
    assert (selection.kept.amplitudes >= 0).all()
    result = session_drift_qc(selection, options=DriftQCOptions(bin_s=5.0, min_spikes_per_bin=20))
    flags = result.record["flags"]["all"]
    assert flags["status"] == "unmeasurable"
    assert any("spike_locations" in reason for reason in flags["reasons"])
    row = drift_qc_table({"si": result.record}).iloc[0]
    assert row["drift_qc"] == "unmeasurable" and not row["drift_measurable"]
    # a between-session shift beyond its fail level still fails the session
    failing = qc_flags({"drift_measurable": False, "between_session_shift_um": 80.0})
    assert failing["status"] == "fail"


@pytest.mark.parametrize("case", ["stable", "shift25"])
def test_a_session_without_drift_passes(case):
    path = _case(case)
    assert _true_motion_ptp(path) == 0.0  # a constant shift is not within-session drift
    _, result = _qc(path)
    flags = result.record["flags"]["all"]
    assert flags == {"status": "pass", "reasons": []}
    inputs = result.record["verdict_inputs"]["all"]
    assert inputs["raw_frame_peak_to_peak_um"] <= 2.0
    assert result.record["trace"]["all"]["peak_to_peak_um"] <= 2.0


def test_a_phy_folder_without_pc_features_is_unmeasurable(tmp_path):
    folder = tmp_path / "phy"
    shutil.copytree(DATA / "si_export_step50", folder)
    (folder / "pc_features.npy").unlink()
    (folder / "pc_feature_ind.npy").unlink()
    with pytest.warns(UserWarning, match="drift is not measurable"):
        sorting = load_sorting(folder)
    assert not sorting.info.drift_measurable
    result = session_drift_qc(
        select_spikes(sorting), options=DriftQCOptions(bin_s=5.0, min_spikes_per_bin=20)
    )
    assert result.record["flags"]["all"]["status"] == "unmeasurable"
