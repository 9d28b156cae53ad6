"""The first hour with real data: session ids and fields from real trees, config messages.

Pure tests (no snakemake): ids of sorter folders side by side, NeuroBlueprint subject and
date, the config `driftqc init` writes, one-line config problems and config-file checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftqc.pipeline.runner import (
    ConfigFileError,
    check_configfile,
    config_error_line,
    config_problems,
    configfiles_in,
)
from driftqc.pipeline.sessions import (
    discover_sessions,
    format_config,
    neuroblueprint_fields,
    read_sessions_file,
    session_id_from_path,
    unique_session_ids,
)
from driftqc.synthetic import write_kilosort_folder

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def _tiny(folder: Path) -> None:
    write_kilosort_folder(folder, n_spikes=300, layout="kilosort4", n_channels=32, n_units=3)


# ---------------------------------------------------------------- session ids


@pytest.mark.parametrize(
    ("relatives", "expected"),
    [
        (["ks4_bumps/kilosort4", "ks4_bumps/phy"], ["ks4_bumps-kilosort4", "ks4_bumps-phy"]),
        (["a/kilosort4/sorter_output", "a/kilosort2_5/sorter_output", "b/kilosort4"],
         ["a-kilosort4", "a-kilosort2_5", "b"]),
        (["x/kilosort4", "x/kilosort4/sorter_output"], ["x", "x-sorter_output"]),
        (["mouse 3/phy", "mouse.3/phy"], ["mouse-3", "mouse-3-2"]),  # same after cleaning
        (["sub-01/ses-01/kilosort4", "sub-01/ses-02/kilosort4"],
         ["sub-01_ses-01", "sub-01_ses-02"]),
    ],
)  # fmt: skip
def test_ids_are_unique_and_readable(relatives, expected):
    assert unique_session_ids(relatives) == expected


def test_ids_change_only_when_a_folder_sharing_them_comes_or_goes():
    before = ["r0/kilosort4", "r0/phy", "r1/kilosort4"]
    ids = dict(zip(before, unique_session_ids(before), strict=True))
    after = sorted([*before, "r2/kilosort4", "a/ks"])  # unrelated folders added
    assert {k: v for k, v in zip(after, unique_session_ids(after), strict=True) if k in ids} == ids
    assert ids == {"r0/kilosort4": "r0-kilosort4", "r0/phy": "r0-phy", "r1/kilosort4": "r1"}


def test_sorter_folders_side_by_side_are_all_found(tmp_path):
    for name in ("kilosort4", "phy"):
        _tiny(tmp_path / "ks4_bumps" / name)
    found = discover_sessions(tmp_path, absolute=False)
    assert [s["id"] for s in found] == ["ks4_bumps-kilosort4", "ks4_bumps-phy"]


# ---------------------------------------------------------------- NeuroBlueprint


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/d/sub-01/ses-01/ephys/kilosort4", {"subject": "sub-01"}),
        ("/d/sub-01/ses-20240105/ephys/kilosort4", {"subject": "sub-01", "date": "2024-01-05"}),
        ("/d/sub-01/ses-2024-01-05_rec1/kilosort4", {"subject": "sub-01", "date": "2024-01-05"}),
        ("/d/sub-01/ses-20240105T103000/ks", {"subject": "sub-01", "date": "2024-01-05"}),
        ("/d/rawdata/sub-002_id-M3/ses-001_date-20231231/ephys/ks4",
         {"subject": "sub-002", "date": "2023-12-31"}),
        ("/d/sub-01/ses-20241399/ks4", {"subject": "sub-01"}),  # not a real day
        ("/d/mouse3/2024-01-05/kilosort4", {}),
    ],
)  # fmt: skip
def test_neuroblueprint_subject_and_date(path, expected):
    assert neuroblueprint_fields(path) == expected


def test_neuroblueprint_tree_fills_subject_and_date(tmp_path):
    _tiny(tmp_path / "rawdata" / "sub-01" / "ses-20240105" / "ephys" / "kilosort4")
    (entry,) = discover_sessions(tmp_path)
    assert entry["id"] == "sub-01_ses-20240105"  # rawdata/ and ephys/ are scaffolding
    assert (entry["subject"], entry["date"]) == ("sub-01", "2024-01-05")
    assert session_id_from_path("rawdata/sub-01/ses-01/ephys/kilosort4") == "sub-01_ses-01"
    assert session_id_from_path("data/ephys/kilosort4") == "data_ephys"  # not NeuroBlueprint


# ---------------------------------------------------------------- driftqc init


def test_init_config_is_complete_and_valid(tmp_path):
    for name in ("kilosort4", "phy"):
        _tiny(tmp_path / "lab" / "ks4_bumps" / name)
    sessions = discover_sessions(tmp_path / "lab")
    config = yaml.safe_load(format_config(sessions))
    assert [s["id"] for s in config["sessions"]] == ["ks4_bumps-kilosort4", "ks4_bumps-phy"]
    for section in ("filters", "render", "drift_qc"):
        assert config[section]
    assert config_problems(config, SCHEMA) == []
    # naming a sessions file instead
    config = yaml.safe_load(format_config(str(tmp_path / "s.yaml")))
    assert config["sessions"] == str(tmp_path / "s.yaml")


def test_init_command_writes_config_and_refuses_to_overwrite(tmp_path, capsys):
    from driftqc.cli import main

    _tiny(tmp_path / "lab" / "sub-01" / "ses-01" / "kilosort4")
    out = tmp_path / "cfg" / "config.yaml"
    sessions = tmp_path / "cfg" / "sessions.yaml"
    assert (
        main(["init", str(tmp_path / "lab"), "-o", str(out), "--sessions-file", str(sessions)])
        == 0
    )
    assert yaml.safe_load(out.read_text())["sessions"] == str(sessions)
    assert [e["id"] for e in read_sessions_file(sessions)] == ["sub-01_ses-01"]
    assert main(["init", str(tmp_path / "lab"), "-o", str(out)]) == 2
    assert "exists; use --force" in capsys.readouterr().err


# ---------------------------------------------------------------- config messages


def test_a_config_typo_is_one_line_naming_the_entry_and_allowed_keys():
    config = {"sessions": "s.yaml", "render": {"pointsize": 3, "dpi": "high"}, "sesion": 1}
    problems = config_problems(config, SCHEMA)
    lines = [line for line, _ in problems]
    assert lines == [
        "config: key 'sesion' was unexpected (did you mean 'sessions'?); allowed keys: "
        "sessions, demo, filters, render, fail_on_session_errors, shared_amplitude_scale, "
        "amplitude_summary, grid, drift_qc",
        "config 'render': key 'pointsize' was unexpected (did you mean 'point_size'?); "
        "allowed keys: mode, density_statistic, scaling, n_color_bins, point_size, histogram, "
        "weight_histogram_by_amplitude, dpi, formats",
        "config 'render.dpi': 'high' is not of type 'integer'; "
        "allowed: an integer from 30 to 1200",
    ]
    assert all("Failed validating" in full for _, full in problems)  # for the log file


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"filters": {"decimate": "all"}},
         "config 'filters.decimate': 'all' is not allowed; allowed: estimate or false or "
         "an integer >= 1"),
        ({"render": {"formats": ["png", "gif"]}},
         "config 'render.formats[1]': 'gif' is not one of ['png', 'pdf', 'svg']"),
        ({"drift_qc": {"thresholds": {"max_ptp": 3}}},
         "config 'drift_qc.thresholds': key 'max_ptp' was unexpected; allowed keys: "
         "warn_peak_to_peak_um, fail_peak_to_peak_um, warn_step_um, fail_step_um, "
         "warn_shift_um, fail_shift_um, warn_min_spikes, fail_min_spikes, warn_residual_um, "
         "fail_residual_um, warn_disagreement_um"),
    ],
)  # fmt: skip
def test_config_problem_lines(config, expected):
    assert [line for line, _ in config_problems({"sessions": "s", **config}, SCHEMA)] == [expected]


def test_missing_sessions_says_what_to_add():
    ((line, _),) = config_problems({}, SCHEMA)
    assert line.startswith("config: 'sessions' is a required property (add `sessions: FILE`")


def test_validation_fills_in_the_schema_defaults():
    config = {"sessions": "s.yaml", "render": {"dpi": 80}}
    assert config_problems(config, SCHEMA) == []
    assert config["render"] == {**config["render"], "dpi": 80, "mode": "scatter"}
    assert config["drift_qc"]["thresholds"] == {} and config["filters"]["decimate"] == "estimate"
    again = {"sessions": "s.yaml"}
    config_problems(again, SCHEMA)
    assert again["drift_qc"]["thresholds"] is not config["drift_qc"]["thresholds"]  # copies


def test_config_error_line_names_where():
    from jsonschema import Draft202012Validator

    (error,) = Draft202012Validator({"properties": {"a": {"type": "integer"}}}).iter_errors(
        {"a": "x"}
    )
    assert config_error_line(error, where="sessions file s.yaml") == (
        "sessions file s.yaml 'a': 'x' is not of type 'integer'; allowed: an integer"
    )


# ---------------------------------------------------------------- --configfile checks


def test_configfile_checks(tmp_path):
    with pytest.raises(ConfigFileError, match=r"^config file .*nope.yaml does not exist$"):
        check_configfile(tmp_path / "nope.yaml")
    listing = tmp_path / "sessions.yaml"
    listing.write_text("- id: a\n  path: /data/a\n")
    with pytest.raises(ConfigFileError) as caught:
        check_configfile(listing)
    assert "looks like a sessions list" in str(caught.value)
    assert f"`sessions: {listing}`" in str(caught.value)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigFileError, match="found an empty file"):
        check_configfile(empty)
    good = tmp_path / "good.yaml"
    good.write_text(f"sessions: {listing}\n")
    check_configfile(good)


def test_configfiles_are_found_in_snakemake_arguments():
    args = ["--configfile", "a.yaml", "b.yaml", "-n", "--configfile=c.yaml", "--cores", "2"]
    assert configfiles_in(args) == ["a.yaml", "b.yaml", "c.yaml"]
