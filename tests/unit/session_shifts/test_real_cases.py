"""Real sorter output with a known offset: Kilosort 4 cases and SpikeInterface exports.

The true shift is the difference of the cases' ``offset_um`` (ground_truth.npz). The cases
are made by ``benchmarks/validation`` scripts: real Kilosort 4 runs in ``tests/data/ks4_cases``
and small SpikeInterface ``export_to_phy`` folders (20 s, 12 units, without their PC
features) in ``tests/data/si_shift_cases``; the larger SpikeInterface cases (exports and
analyzers) are judged in ``benchmarks/bench_shift_accuracy.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from driftqc.pipeline.batch import session_shifts_step
from driftqc.pipeline.cache import cache_selection, cache_sorting

from .conftest import ks4_case

SI = Path(__file__).resolve().parents[2] / "data" / "si_shift_cases"


def offset(folder: Path) -> float:
    path = folder / "ground_truth.npz"
    return float(
        np.load(path if path.is_file() else folder.parent / "ground_truth.npz")["offset_um"]
    )


def shifts_of(folders: dict[str, Path], tmp_path: Path) -> pd.DataFrame:
    """The workflow's shift table for these sorter folders (the first is the reference)."""
    selections = []
    for sid, folder in folders.items():
        cache, selection = tmp_path / f"{sid}.npz", tmp_path / f"{sid}-sel.npz"
        with warnings.catch_warnings():  # phy exports: "drift is not measurable" (expected)
            warnings.simplefilter("ignore", UserWarning)
            assert cache_sorting(folder, cache, name=sid) is None
        labelled = folder.name != "analyzer"  # analyzers carry no cluster labels
        assert cache_selection(cache, selection, exclude_noise=labelled) is None
        selections.append(selection)
    table = tmp_path / "shifts.tsv"
    session_shifts_step(
        list(folders), selections, table=table, figure=tmp_path / "k.png",
        reference=next(iter(folders)), max_shift_um=200.0,
    )  # fmt: skip
    return pd.read_csv(table, sep="\t").set_index("session")


def check(rows: pd.DataFrame, folders: dict[str, Path]) -> None:
    ref = next(iter(folders))
    if "shift25" in folders:
        moved = rows.loc["shift25"]
        truth = offset(folders["shift25"]) - offset(folders[ref])
        assert moved["status"] == "ok"
        assert abs(moved["shift_um"] - truth) <= 3.0
        assert moved["uncertainty_um"] <= 3.0
    if "other_units" in folders:
        other = rows.loc["other_units"]
        assert other["status"] == "uncertain" and pd.isna(other["shift_um"])


def test_kilosort4_same_units_shifted(tmp_path):
    folders = {name: ks4_case(name) for name in ("stable", "shift25")}
    check(shifts_of(folders, tmp_path), folders)


def test_kilosort4_different_units(tmp_path):
    folders = {name: ks4_case(name) for name in ("stable", "other_units")}
    check(shifts_of(folders, tmp_path), folders)


def test_spikeinterface_exports_same_units_shifted_and_different_units(tmp_path):
    folders = {name: SI / name for name in ("stable", "shift25", "other_units")}
    check(shifts_of(folders, tmp_path), folders)
