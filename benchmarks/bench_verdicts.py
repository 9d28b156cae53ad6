"""Drift-QC verdicts on real sorter output with a known, imposed drift.

Usage::

    python benchmarks/bench_verdicts.py [--ks4 tests/data/ks4_cases] [--si-export DIR ...]

For each Kilosort 4 case (``tests/data/ks4_cases/<case>``, plus ``tests/data/ks4_drift``) and
each SpikeInterface ``export_to_phy`` folder given, runs the workflow's drift QC on the saved
spikes (``driftqc.qc.session_drift_qc``, default options) and prints one Markdown row: the
true within-session motion (``ground_truth.npz``), the sorter's estimate, driftqc's raw-frame
and registered-frame (residual) traces, and the verdict with its reasons. Between-session
shifts are judged in ``bench_shift_accuracy.py``.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

from driftqc.io import load_sorting
from driftqc.qc import session_drift_qc
from driftqc.selection import select_spikes

ROOT = Path(__file__).resolve().parents[1]


def _fmt(value: object) -> str:
    return "–" if value is None else f"{float(value):.1f}"


def row(name: str, folder: Path, frame: str = "saved") -> str:
    """One Markdown table row for the session in ``folder``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sorting = load_sorting(folder)
    truth = np.load(folder / "ground_truth.npz")
    true_ptp = float(np.ptp(truth["displacement_um"]))
    record = session_drift_qc(select_spikes(sorting, frame=frame), motion=sorting.motion).record
    inputs = record["verdict_inputs"]["all"]
    flags = record["flags"]["all"]
    reasons = "; ".join(flags["reasons"]) or "–"
    return (
        f"| {name} | {sorting.info.sorter} | {true_ptp:.1f} | "
        f"{_fmt(inputs.get('sorter_peak_to_peak_um'))} | "
        f"{_fmt(inputs.get('raw_frame_peak_to_peak_um'))} | "
        f"{_fmt(record['trace']['all']['peak_to_peak_um'])} ({record['frame']}) | "
        f"**{flags['status']}** | {reasons} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Print the verdict table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks4", type=Path, default=ROOT / "tests/data/ks4_cases")
    parser.add_argument(
        "--si-export", type=Path, nargs="*", default=[ROOT / "tests/data/si_export_step50"]
    )
    args = parser.parse_args(argv)
    print(
        "| case | sorter | true p-p µm | sorter's estimate p-p µm | driftqc raw-frame p-p µm "
        "| saved-frame trace p-p µm | verdict | reasons |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(row("ks4_drift (0–24 µm triangle)", ROOT / "tests/data/ks4_drift"))
    for case in ("stable", "shift25", "other_units", "step25", "step50", "step75", "zigzag15"):
        folder = args.ks4 / case
        if folder.is_dir():
            print(row(case, folder))
        else:
            print(f"| {case} | missing | | | | | | |")
    for folder in args.si_export:
        print(row(f"SpikeInterface export {folder.name} (declared raw)", folder, frame="raw"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
