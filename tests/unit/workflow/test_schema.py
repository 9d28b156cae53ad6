"""The workflow's config schemas agree with the library (read as files, no snakemake run)."""

from __future__ import annotations

import yaml

from driftqc.io.kilosort import KILOSORT_VERSIONS
from tests.helpers.workflow import ROOT


def test_session_versions_in_the_schema_are_the_readers_versions():
    schema = yaml.safe_load((ROOT / "workflow/schemas/sessions.schema.yaml").read_text())
    entry = schema["properties"]["sessions"]["items"]["properties"]["version"]
    assert tuple(entry["enum"]) == KILOSORT_VERSIONS
