"""The Snakemake workflow, run for real: lint, DAG shape, outputs, reruns, report."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from tests.helpers.workflow import (
    ROOT,
    TINY_GRID,
    TINY_RENDER,
    job_counts,
    snakemake,
    write_config,
)

pytestmark = pytest.mark.workflow

PER_SESSION_RULES = ("load", "filter", "qc", "render", "drift_qc")
AGGREGATE_RULES = ("amplitude_summary", "qc_summary", "grid", "session_shifts")


def test_lint_is_clean_on_the_default_config():
    result = snakemake(ROOT, "--lint", check=False)  # exits 1 when it finds anything
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stderr


@pytest.mark.parametrize("shared", [True, False])
def test_dry_run_plans_one_job_per_session_and_step(tmp_path, shared):
    sessions = [
        {"id": f"s{i}", "path": f"resources/demo/{drift}-kilosort4-{i}"}
        for i, drift in enumerate(("none", "linear", "step"))
    ]
    write_config(tmp_path, sessions, shared_amplitude_scale=shared)
    counts = job_counts(snakemake(tmp_path, "-n").stdout)
    expected = {rule: len(sessions) for rule in ("demo_session", *PER_SESSION_RULES)}
    expected |= {rule: 1 for rule in (*AGGREGATE_RULES, "default")}
    assert counts == expected


def test_every_output_exists_and_is_sane(finished_run):
    work, ids = finished_run.workdir, finished_run.ids
    dpi = TINY_RENDER["dpi"]
    for sid in ids:
        image = imread(work / f"results/render/{sid}/drift_map.png")
        # the library draws drift maps on a 10 x 7.5 inch figure
        assert image.shape[:2] == (round(7.5 * dpi), 10 * dpi)
        assert image[..., :3].min() < 0.5  # something dark was drawn
        assert (work / f"results/render/{sid}/drift_map.pdf").read_bytes().startswith(b"%PDF")
        assert imread(work / f"results/render/{sid}/depth_histogram.png").shape[0] > 100
    grid = imread(work / "results/grid/drift_maps.png")
    assert grid.shape[:2] == (
        round(TINY_GRID["height"] * TINY_GRID["dpi"]),
        round(TINY_GRID["column_width"] * len(ids) * TINY_GRID["dpi"]),
    )
    pdf = (work / "results/grid/drift_maps.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == len(ids)
    assert imread(work / "results/summary/amplitudes.png").shape[0] > 50


def test_qc_table_has_one_row_per_session_with_true_counts(finished_run):
    qc = pd.read_csv(finished_run.workdir / "results/summary/qc.tsv", sep="\t", dtype=str)
    assert qc["session"].tolist() == finished_run.ids
    real = qc.set_index("session").loc["2024-01-05"]
    assert real["status"] == "ok"
    assert int(real["n_spikes"]) == finished_run.real.n_spikes
    removed = sum(int(real[c]) for c in ("n_invalid", "n_noise_removed", "n_amplitude_removed"))
    assert int(real["n_kept"]) + removed == finished_run.real.n_spikes
    assert int(real["n_noise_removed"]) > 0  # the synthetic folder has noise units
    assert float(real["duration_s"]) == pytest.approx(finished_run.real.duration, rel=0.02)
    assert real["subject"] == "m1" and real["date"] == "2024-01-05"


def test_corrupt_session_is_marked_and_does_not_block_the_others(finished_run):
    work = finished_run.workdir
    qc = pd.read_csv(work / "results/summary/qc.tsv", sep="\t", dtype=str).set_index("session")
    assert qc.loc["bad", "status"] == "failed"
    assert "spike_times.npy" in qc.loc["bad", "error"]
    assert (qc.drop(index="bad")["status"] == "ok").all()
    sidecar = json.loads((work / "results/render/bad/drift_map.json").read_text())
    assert sidecar["status"] == "failed" and "spike_times.npy" in sidecar["error"]
    amplitudes = pd.read_csv(work / "results/summary/amplitudes.tsv", sep="\t")
    assert amplitudes.set_index("session").loc["bad", "status"] == "failed"
    # the run ends by naming it, with its step, reason and log, and exits non-zero
    assert finished_run.result.returncode == 1
    summary = finished_run.result.stderr.split("1 of 4 sessions FAILED", 1)[1]
    line = next(line for line in summary.splitlines() if line.split()[:1] == ["bad"])
    assert "load" in line and "spike_times.npy" in line and "logs/load/bad.log" in line


def test_renders_use_the_shared_amplitude_range(finished_run):
    work = finished_run.workdir
    shared = json.loads((work / "results/summary/shared_amplitude_range.json").read_text())
    assert shared["applicable"] and shared["low"] < shared["high"]
    assert sorted(shared["sessions"]) == sorted(s for s in finished_run.ids if s != "bad")
    samples = [np.load(work / f"results/qc/{s}/amplitude_sample.npy") for s in shared["sessions"]]
    pooled = np.concatenate(samples)
    assert pooled.min() <= shared["low"] < shared["high"] <= pooled.max()
    for sid in shared["sessions"]:
        sidecar = json.loads((work / f"results/render/{sid}/drift_map.json").read_text())
        assert sidecar["shared_range_used"] is True
        assert sidecar["scaling"] == [shared["low"], shared["high"]]


def test_drift_qc_outputs_and_verdicts(finished_run):
    work, ids = finished_run.workdir, finished_run.ids
    for sid in ids:
        record = json.loads((work / f"results/drift_qc/{sid}/drift_qc.json").read_text())
        assert record["session"] == sid
        assert imread(work / f"results/drift_qc/{sid}/drift_qc.png").shape[0] > 100
        if sid == "bad":
            assert record["status"] == "failed" and "spike_times.npy" in record["error"]
            continue
        assert record["status"] == "ok" and record["frame"] == "registered"
        trace = pd.read_csv(work / f"results/drift_qc/{sid}/trace.tsv", sep="\t")
        assert {"time_s", "displacement_um", "frame", "shank"} <= set(trace.columns)
        assert (work / f"results/drift_qc/{sid}/events.tsv").is_file()
        units = pd.read_csv(work / f"results/drift_qc/{sid}/unit_drift.tsv", sep="\t")
        assert {"drift_ptp_um", "drift_std_um", "drift_mad_um"} <= set(units.columns)
    # Kilosort 4 demo: the sorter's own estimate and a raw-frame trace are reported
    ks4 = json.loads((work / "results/drift_qc/demo-b/drift_qc.json").read_text())
    assert ks4["sorter_motion"]["source"].startswith("sorter estimate")
    assert ks4["raw_frame_trace"]["all"]["frame"].startswith("raw")
    # the real session drifts linearly in its saved depths: measured, and judged
    real = json.loads((work / "results/drift_qc/2024-01-05/drift_qc.json").read_text())
    assert real["trace"]["all"]["peak_to_peak_um"] > 20  # over the 20 µm warn level
    assert real["sorter_motion"] is None
    qc = pd.read_csv(work / "results/summary/qc.tsv", sep="\t", dtype=str).set_index("session")
    assert qc.loc["bad", "drift_qc"] == "failed"
    assert qc.loc["2024-01-05", "drift_qc"] in ("warn", "fail")
    assert "peak-to-peak" in qc.loc["2024-01-05", "drift_qc_reasons"]
    assert {"between_session_shift_um", "drift_frame", "shank_qc"} <= set(qc.columns)
    shifts = pd.read_csv(work / "results/summary/session_shifts.tsv", sep="\t", dtype=str)
    shifts = shifts.set_index("session")
    assert list(shifts.index) == ids
    assert shifts.loc["demo-a", "is_reference"] == "True"  # the first session
    assert shifts.loc["bad", "status"] == "failed"
    assert imread(work / "results/summary/kymograph.png").shape[0] > 100


def test_rerun_with_nothing_changed_runs_no_job(finished_run):
    result = snakemake(finished_run.workdir, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def dry_run_with(workdir, overlay: dict) -> dict[str, int]:
    """Jobs a run would do with ``overlay`` merged over the run's configuration."""
    extra = workdir / "overlay.yaml"
    extra.write_text(yaml.safe_dump(overlay), encoding="utf-8")
    base = workdir / "config" / "config.yaml"
    return job_counts(snakemake(workdir, "-n", "--configfile", str(base), str(extra)).stdout)


def test_changed_render_option_rerenders_without_reloading(finished_run):
    render = {**TINY_RENDER, "point_size": 2}
    counts = dry_run_with(finished_run.workdir, {"render": render})
    n = len(finished_run.ids)
    # the drift QC figure is drawn with the render options too; its record then is
    # rewritten, so the QC table is rejoined (cheap); nothing is re-read or re-filtered
    assert counts == {"render": n, "drift_qc": n, "grid": 1, "qc_summary": 1, "default": 1}


def test_changed_filter_refilters_without_reloading(finished_run):
    counts = dry_run_with(finished_run.workdir, {"filters": {"exclude_noise": False}})
    assert "load" not in counts and "demo_session" not in counts
    assert counts["filter"] == len(finished_run.ids)
    assert counts["render"] == len(finished_run.ids)


def test_deleted_output_is_remade_then_nothing_is_left(finished_run):
    (finished_run.workdir / "results/render/demo-a/depth_histogram.png").unlink()
    result = snakemake(finished_run.workdir, check=False)
    assert result.returncode == 1 and "1 of 4 sessions FAILED" in result.stderr  # "bad"
    assert job_counts(result.stdout + result.stderr) == {"render": 1, "grid": 1, "default": 1}
    assert (finished_run.workdir / "results/render/demo-a/depth_histogram.png").is_file()
    assert "Nothing to be done" in snakemake(finished_run.workdir, "-n").stdout


def test_report_builds_with_every_figure(finished_run):
    work = finished_run.workdir
    snakemake(work, "--report", "report.html")
    html = (work / "report.html").read_text(encoding="utf-8", errors="replace")
    for name in ("drift_map.png", "depth_histogram.png", "drift_maps.pdf", "amplitudes.png",
                 "drift_qc.png", "kymograph.png", "session_shifts.tsv"):  # fmt: skip
        assert name in html
    assert "Drift maps" in html and "Amplitudes" in html and "Drift QC" in html


def test_drift_qc_can_be_turned_off(finished_run):
    counts = dry_run_with(finished_run.workdir, {"drift_qc": {"enabled": False}})
    assert "drift_qc" not in counts and "session_shifts" not in counts
    assert counts == {"qc_summary": 1, "grid": 1, "default": 1}  # they lose an input
