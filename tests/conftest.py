"""Shared fixtures: small synthetic Kilosort folders of both layouts, written once per run."""

from __future__ import annotations

import os

import pytest

from driftqc.synthetic import SyntheticSession, write_kilosort_folder

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def ks25_session(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSession:
    """A 60 000-spike Kilosort 2.5-layout folder with a 30 µm zig-zag drift, curated."""
    folder = tmp_path_factory.mktemp("ks25") / "sorter_output"
    return write_kilosort_folder(
        folder,
        n_spikes=60_000,
        layout="kilosort2_5",
        n_channels=96,
        n_units=20,
        duration=300.0,
        drift="zigzag",
        drift_um=30.0,
        seed=11,
    )


@pytest.fixture(scope="session")
def ks4_session(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSession:
    """A 40 000-spike Kilosort 4-layout folder with a step drift, curated, on two shanks."""
    folder = tmp_path_factory.mktemp("ks4") / "kilosort4"
    return write_kilosort_folder(
        folder,
        n_spikes=40_000,
        layout="kilosort4",
        n_channels=64,
        n_shanks=2,
        n_units=16,
        duration=200.0,
        drift="step",
        drift_um=20.0,
        seed=12,
    )
