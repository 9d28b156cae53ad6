"""The demo workflow, tiny: tables a reviewer reads, and a report without docutils errors.

One real snakemake run (the four demo sessions of ``config/config.yaml`` at tiny sizes),
then ``snakemake --report``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.helpers.workflow import snakemake, write_config

pytestmark = pytest.mark.workflow
ROOT = Path(__file__).resolve().parents[3]
REPORT_CAPTIONS = ROOT / "workflow" / "report"


QC_COLUMNS = [
    "session", "subject", "date", "label", "sorter", "status", "error", "drift_qc",
    "drift_qc_reasons", "shank_qc", "n_spikes", "n_invalid", "n_noise_removed",
    "n_amplitude_removed", "n_kept", "duration_s", "kept_depth_min_um", "kept_depth_max_um",
    "amplitude_unit", "amp_q05", "amp_q50", "amp_q95", "drift_frame",
    "drift_peak_to_peak_um", "drift_p95_abs_um", "drift_max_step_um",
    "raw_frame_peak_to_peak_um", "between_session_shift_um", "n_drift_events",
]  # fmt: skip


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The demo sessions, run tiny, and the report built from them (HTML, stderr)."""
    workdir = tmp_path_factory.mktemp("first_hour_demo")
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    write_config(workdir, demo["sessions"])
    snakemake(workdir)
    built = snakemake(workdir, "--report", "report.html")
    return workdir, built.stdout + built.stderr


def _caption_opening(path: Path) -> str:
    """The first words of a caption file, as plain text (no markup, no template)."""
    words = []
    for word in path.read_text(encoding="utf-8").split():
        if not re.fullmatch(r"[A-Za-z][A-Za-z,:'-]*", word):
            break
        words.append(word)
        if len(words) == 4:
            break
    assert len(words) >= 2, path
    return " ".join(words)


def test_report_has_no_docutils_messages_and_every_caption(demo_run):
    workdir, log = demo_run
    html = (workdir / "report.html").read_text(encoding="utf-8", errors="replace")
    for marker in (r"System Message", r"system-message", r"\b(?:ERROR|WARNING|SEVERE)/\d",
                   r"Unknown target name", r"class=\\?\"problematic"):  # fmt: skip
        assert not re.search(marker, html), marker
        assert not re.search(marker, log), marker
    for caption in sorted(REPORT_CAPTIONS.glob("*.rst")):
        assert _caption_opening(caption) in html, caption.name
    # the data dictionary is in the report
    for column in ("raw_frame_peak_to_peak_um", "drift_peak_to_peak_um", "amp_q50", "shift_um"):
        assert column in html, column


def test_qc_table_has_the_reviewer_columns_rounded(demo_run):
    workdir, _ = demo_run
    qc = pd.read_csv(workdir / "results/summary/qc.tsv", sep="\t", dtype=str)
    assert list(qc.columns) == QC_COLUMNS
    assert qc["session"].tolist() == ["ses-01", "ses-02", "ses-03", "ses-04"]
    for column in qc.columns:
        for text in qc[column].dropna():
            if column.endswith("_um"):
                assert re.fullmatch(r"-?\d+\.\d", text), (column, text)
                assert text != "-0.0", column
            elif column.startswith("amp_q"):
                digits = text.replace(".", "").lstrip("0")
                assert len(digits.rstrip("0")) <= 3, (column, text)
            elif column.endswith("_s"):
                assert len(text.split(".")[-1]) <= 2, (column, text)
    # the Kilosort 4 sessions carry their raw-frame drift; their numbers are plausible
    ks4 = qc.set_index("session").loc["ses-03"]
    assert float(ks4["raw_frame_peak_to_peak_um"]) > float(ks4["drift_peak_to_peak_um"])


def test_every_dropped_number_is_kept_per_session(demo_run):
    workdir, _ = demo_run
    qc = pd.read_csv(workdir / "results/summary/qc.tsv", sep="\t", dtype=str)
    drift = pd.read_csv(workdir / "results/summary/drift_qc.tsv", sep="\t", dtype=str)
    for sid in qc["session"]:
        record = json.loads((workdir / f"results/qc/{sid}/qc.json").read_text())
        for key in ("sorter", "n_shown", "decimation", "depth_min_um", "depth_max_um",
                    "amp_q01", "amp_q99", "n_clusters", "n_clusters_good", "depth_frame",
                    "filters", "notes"):  # fmt: skip
            assert key in record, (sid, key)
    for column in ("session", "shank", "drift_qc", "reasons", "raw_frame_peak_to_peak_um",
                   "drift_peak_to_peak_um", "drift_median_abs_um", "drift_n_bins",
                   "sorter_peak_to_peak_um", "unit_drift_ptp_q50_um"):  # fmt: skip
        assert column in drift.columns, column
    for text in drift["drift_peak_to_peak_um"].dropna():
        assert re.fullmatch(r"-?\d+\.\d", text), text
    shifts = pd.read_csv(workdir / "results/summary/session_shifts.tsv", sep="\t", dtype=str)
    assert {"session", "shank", "status", "shift_um"} <= set(shifts.columns)
    for text in shifts["shift_um"].dropna():
        assert re.fullmatch(r"\d+\.\d|-\d*[1-9]\d*\.\d|-0\.[1-9]", text), text
    for text in shifts["peak_correlation"].dropna():
        assert len(text.split(".")[-1]) <= 3, text
