"""The batch step: subjects, references, frames, statuses, the table and the kymograph."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftqc.metrics.unit_localisation import UnitPositions
from driftqc.metrics.unit_matching import match_units
from driftqc.pipeline.batch import session_shifts_step
from driftqc.pipeline.cache import (
    CachedUnits,
    cache_selection,
    cache_sorting,
    load_selection,
    load_template_shanks,
    load_units,
    save_failure,
    save_selection,
)
from driftqc.plotting.batch import plot_shift_kymographs
from driftqc.qc import batch_session_shifts, shank_tables
from driftqc.qc.session_shifts import shank_units

from .conftest import KS4_DRIFT

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ks4_selection(tmp_path_factory) -> Path:
    """The real Kilosort 4 fixture cached and filtered as the workflow does."""
    folder = tmp_path_factory.mktemp("shift-cache")
    assert cache_sorting(KS4_DRIFT, folder / "c.npz", name="ks4") is None
    assert cache_selection(folder / "c.npz", folder / "s.npz", exclude_noise=True) is None
    return folder / "s.npz"


def moved_selection(source: Path, path: Path, shift_um: float, *, units: bool = True) -> Path:
    """A copy of a selection whose units (and spikes) sit ``shift_um`` higher."""
    selection = load_selection(source)
    kept = selection.kept
    kept = replace(kept, depths=kept.depths + np.float32(shift_um))
    cached = load_units(source)
    assert cached is not None
    fit = cached.positions
    moved = replace(cached, positions=replace(fit, y_um=fit.y_um + shift_um))
    save_selection(
        replace(selection, kept=kept, shown=kept),
        path,
        template_shanks=load_template_shanks(source),
        units=moved if units else None,
    )
    return path


def test_cache_keeps_the_units_and_old_caches_have_none(ks4_selection, tmp_path):
    cached = load_units(ks4_selection)
    assert isinstance(cached, CachedUnits) and cached.frame == "registered"
    assert len(cached.positions) == len(cached.waveforms) == 13
    assert np.isfinite(cached.positions.y_um).sum() >= 12
    old = moved_selection(ks4_selection, tmp_path / "old.npz", 0.0, units=False)
    assert load_units(old) is None


def test_step_writes_shift_status_and_the_reference_from_the_config(ks4_selection, tmp_path):
    shift = 25.0
    paths = [
        ks4_selection,
        moved_selection(ks4_selection, tmp_path / "b.npz", shift),
        save_failure(tmp_path / "bad.npz", "broken"),
        moved_selection(ks4_selection, tmp_path / "d.npz", -10.0),
    ]
    ids = ["a", "b", "bad", "d"]
    details = {
        "a": {"subject": "m1", "date": "2024-01-02"},
        "b": {"subject": "m1", "date": "2024-01-01"},  # earliest of m1
        "bad": {"subject": "m1"},
        "d": {"subject": "m2", "date": "2024-01-05"},
    }
    table, figure = tmp_path / "shifts.tsv", tmp_path / "kymograph.png"
    session_shifts_step(
        ids, paths, table=table, figure=figure, reference=None, max_shift_um=200.0,
        details=details,
    )  # fmt: skip
    rows = pd.read_csv(table, sep="\t").set_index("session")
    assert {"shank", "status", "shift_um", "subject", "uncertainty_um"} <= set(rows.columns)
    assert rows.loc["b", "is_reference"] and rows.loc["b", "reference"] == "b"
    # the reference moved up by 25 µm: "a" reads 25 µm lower
    assert rows.loc["a", "status"] == "ok"
    assert rows.loc["a", "shift_um"] == pytest.approx(-shift, abs=0.1)
    assert rows.loc["a", "method"].startswith("matched units")
    assert rows.loc["bad", "status"] == "failed" and np.isnan(rows.loc["bad", "shift_um"])
    assert rows.loc["d", "subject"] == "m2" and rows.loc["d", "is_reference"]  # own subject
    assert figure.stat().st_size > 0
    # a subject -> session mapping, as config/config.yaml may hold it
    session_shifts_step(
        ids, paths, table=table, figure=figure, reference={"m1": "a"}, max_shift_um=200.0,
        details=details,
    )  # fmt: skip
    rows = pd.read_csv(table, sep="\t").set_index("session")
    assert rows.loc["a", "is_reference"]
    assert rows.loc["b", "shift_um"] == pytest.approx(shift, abs=0.1)


def test_sessions_without_units_fall_back_to_depth_profiles(ks4_selection, tmp_path):
    old = moved_selection(ks4_selection, tmp_path / "old.npz", 20.0, units=False)
    table = tmp_path / "shifts.tsv"
    session_shifts_step(
        ["a", "b"], [ks4_selection, old], table=table, figure=tmp_path / "k.png",
        reference="a", max_shift_um=200.0,
    )  # fmt: skip
    rows = pd.read_csv(table, sep="\t").set_index("session")
    assert set(rows["method"]) == {"depth profile"}
    assert rows.loc["b", "shift_um"] == pytest.approx(20.0, abs=2.0)
    assert "units missing" in rows.loc["b", "note"]


def strangers_units(ks4_selection):
    kept = load_selection(ks4_selection).kept
    cached = load_units(ks4_selection)
    tables = shank_tables(kept, load_template_shanks(ks4_selection))
    units = shank_units(
        tables, cached.positions, cached.channel_positions, cached.channel_shanks,
        waveforms=cached.waveforms, frame=cached.frame,
    )  # fmt: skip
    rng = np.random.default_rng(1)
    lo, hi = units["all"].probe_y_range_um
    other = replace(units["all"], y_um=rng.uniform(lo + 20, hi - 20, len(units["all"])))
    return tables, units, {"all": other}


def test_uncertain_sessions_have_no_shift_and_the_kymograph_says_so(ks4_selection):
    tables, units, strangers = strangers_units(ks4_selection)
    table, results = batch_session_shifts(
        {"a": tables, "x": tables}, units={"a": units, "x": strangers}
    )
    row = table.set_index("session").loc["x"]
    assert row["status"] == "uncertain" and pd.isna(row["shift_um"])
    assert "not distinctive" in row["note"]
    fig = plot_shift_kymographs(results)
    labels = [t.get_text() for ax in fig.axes for t in ax.get_xticklabels()]
    assert any("uncertain" in label for label in labels)


def test_units_in_another_frame_are_not_compared(ks4_selection):
    tables, units, _ = strangers_units(ks4_selection)
    raw = {"all": replace(units["all"], frame="raw")}
    table, results = batch_session_shifts(
        {"a": tables, "b": tables, "c": tables}, units={"a": units, "b": units, "c": raw}
    )
    rows = table.set_index("session")
    assert rows.loc["c", "status"] == "not compared" and "frame" in rows.loc["c", "note"]
    assert rows.loc["b", "status"] == "ok" and rows.loc["b", "shift_um"] == 0.0


def test_config_and_schema_defaults_are_the_library_defaults():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text("utf-8"))
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text("utf-8"))["drift_qc"]
    props = schema["properties"]["drift_qc"]["properties"]
    defaults = match_units.__kwdefaults__
    for key, name in (
        ("session_shift_min_units", "min_matched"),
        ("session_shift_min_fraction", "min_matched_fraction"),
        ("session_shift_min_contrast", "min_contrast"),
    ):
        assert props[key]["default"] == defaults[name] == config[key], key
    assert props["reference_session"]["default"] is None
    assert config["reference_session"] is None


def test_unit_positions_array_shape_is_checked():
    from driftqc.errors import SortingFormatError

    with pytest.raises(SortingFormatError):
        UnitPositions.from_array(np.zeros((3, 5)))
