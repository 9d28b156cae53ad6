"""Fixtures for the drift-metric tests: synthetic sessions with a known imposed drift.

Kilosort 4-layout folders are cheap to write (no PC features), so the accuracy tests can use
a realistic density (300 000 spikes, 384 channels, 60 units, 600 s) and still run in well
under a second per session. Folders are cached per test run by their arguments.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from driftqc.io import read_kilosort
from driftqc.model import Sorting
from driftqc.synthetic import SyntheticSession, write_kilosort_folder

REALISTIC = {"n_spikes": 300_000, "n_channels": 384, "n_units": 60, "duration": 600.0}

Maker = Callable[..., tuple[SyntheticSession, Sorting]]


@pytest.fixture(scope="session")
def make_session(tmp_path_factory: pytest.TempPathFactory) -> Maker:
    """Return ``make(**write_kilosort_folder kwargs) -> (truth, sorting)``, cached."""
    cache: dict[tuple, tuple[SyntheticSession, Sorting]] = {}

    def make(**kwargs: object) -> tuple[SyntheticSession, Sorting]:
        options = {"layout": "kilosort4", "frame": "raw", "seed": 3, **REALISTIC, **kwargs}
        key = tuple(sorted(options.items()))
        if key not in cache:
            folder = tmp_path_factory.mktemp("metrics") / "sorter_output"
            truth = write_kilosort_folder(folder, **options)  # type: ignore[arg-type]
            cache[key] = (truth, read_kilosort(folder))
        return cache[key]

    return make
