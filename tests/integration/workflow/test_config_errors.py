"""A bad configuration stops the workflow before any job, with a message naming the entry."""

from __future__ import annotations

import pytest

from tests.helpers.workflow import job_counts, snakemake, write_config

pytestmark = pytest.mark.workflow

GOOD = {"id": "a", "path": "resources/demo/none-kilosort4-1"}
OTHER = {"id": "b", "path": "resources/demo/step-kilosort4-2"}


@pytest.mark.parametrize(
    ("sessions", "options", "expected"),
    [
        pytest.param(
            [GOOD, {"id": "b"}], {}, ["entry 2 (id 'b')", "'path' is a required property"],
            id="missing-path",
        ),
        pytest.param(
            [GOOD, OTHER, {**GOOD, "path": "resources/demo/linear-kilosort4-3"}], {},
            ["duplicate session id 'a' (entries 1 and 3)"],
            id="duplicate-id",
        ),
        pytest.param(
            [GOOD], {"render": {"pointsize": 3}},
            ["config 'render': key 'pointsize' was unexpected", "did you mean 'point_size'"],
            id="unknown-option",
        ),
        pytest.param(
            [GOOD, {**OTHER, "colour": "red"}], {},
            ["entry 2 (id 'b')", "'colour' was unexpected"],
            id="unknown-session-field",
        ),
        pytest.param(
            [GOOD], {"render": {"dpi": "high"}}, ["'high' is not of type 'integer'", "dpi"],
            id="wrong-type",
        ),
        pytest.param(
            [GOOD, {"id": "b", "path": "/no/such/folder"}], {},
            ["entry 2 (id 'b')", "/no/such/folder does not exist"],
            id="missing-folder",
        ),
        pytest.param(
            [{**GOOD, "id": "a b"}], {}, ["entry 1", "does not match"], id="bad-id",
        ),
        pytest.param(
            [GOOD, OTHER], {"drift_qc": {"reference_session": "c"}},
            ["drift_qc.reference_session", "'c' is not a session id"],
            id="unknown-reference-session",
        ),
        pytest.param(
            [GOOD, OTHER], {"drift_qc": {"reference_session": {"m9": "c"}}},
            ["drift_qc.reference_session.m9", "'c' is not a session id"],
            id="unknown-reference-of-a-subject",
        ),
        pytest.param(
            [GOOD], {"drift_qc": {"thresholds": {"warn_step_um": 30}}},
            ["drift_qc.thresholds", "warn_step_um must not exceed fail_step_um"],
            id="warn-above-fail",
        ),
        pytest.param(
            [GOOD], {"drift_qc": {"thresholds": {"max_ptp": 3}}},
            ["'max_ptp' was unexpected"],
            id="unknown-threshold",
        ),
    ],
)  # fmt: skip
def test_bad_config_stops_before_any_job(tmp_path, sessions, options, expected):
    write_config(tmp_path, sessions, **options)
    result = snakemake(tmp_path, check=False)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    for text in expected:
        assert text in message
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_ids_that_yaml_reads_as_dates_or_numbers_work_inline(tmp_path):
    config = tmp_path / "config" / "config.yaml"
    config.parent.mkdir()
    # written by hand: unquoted, so YAML reads a date and an integer
    config.write_text(
        "sessions:\n"
        "  - id: 2024-01-05\n    path: resources/demo/none-kilosort4-1\n    date: 2024-01-05\n"
        "  - id: 7\n    path: resources/demo/step-kilosort4-2\n",
        encoding="utf-8",
    )
    result = snakemake(tmp_path, "-n")
    assert job_counts(result.stdout)["load"] == 2
    assert "session=2024-01-05" in result.stdout and "session=7" in result.stdout
