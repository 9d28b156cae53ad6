"""Shared fixtures (synthetic Kilosort folders of both layouts) and the test markers.

Two speeds: ``tests/unit`` (no snakemake, no Qt, no SLURM; ``pytest tests/unit``) and
``tests/integration`` (real snakemake runs, Qt widgets, SLURM). The markers ``gui``,
``workflow`` and ``slurm`` are given here by folder (and ``gui`` to any test using ``qtbot``),
so ``pytest -m "not gui"`` or ``-m "not workflow"`` deselects them wherever they are.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from driftqc.synthetic import SyntheticSession, write_kilosort_folder
from tests.helpers.cli import copy_to_bad_name, write_small_ks

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


TESTS = Path(__file__).resolve().parent

#: markers given to every test under a folder of ``tests/``
FOLDER_MARKERS = {
    ("integration", "interactive"): ("gui",),
    ("integration", "workflow"): ("workflow",),
    ("integration", "slurm"): ("slurm", "workflow"),
}


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            parts = item.path.resolve().relative_to(TESTS).parts
        except ValueError:
            continue
        names = {name for folder, marks in FOLDER_MARKERS.items() for name in marks
                 if parts[: len(folder)] == folder}  # fmt: skip
        if "qtbot" in getattr(item, "fixturenames", ()):
            names.add("gui")
        for name in sorted(names - {mark.name for mark in item.iter_markers()}):
            item.add_marker(name)


def _has_a_qt_binding() -> bool:
    return any(importlib.util.find_spec(m) for m in ("PySide6", "PyQt6", "PyQt5"))


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Without any Qt binding, switch pytest-qt off, as ``-p no:pytest-qt`` would.

    The ``test`` extra installs pytest-qt, whose start-up fails when no Qt binding is
    installed (``pip install 'driftqc[workflow,test]'``, no ``gui`` extra); the Qt tests are
    then not collected (``tests/integration/interactive/conftest.py``). This hook runs when
    this file is loaded, before any plugin's ``pytest_configure``.
    """
    if not _has_a_qt_binding():
        pluginmanager.set_blocked("pytest-qt")


@pytest.fixture(scope="module")
def small_ks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real Kilosort 4 layout folder (2 000 spikes), shared read-only."""
    return write_small_ks(tmp_path_factory.mktemp("cli") / "sub-01" / "kilosort4")


@pytest.fixture
def bad_name_ks(small_ks: Path, tmp_path: Path) -> Path:
    """A copy of ``small_ks`` at ``<tmp>/root/ses-\\xff/kilosort4`` (name not valid UTF-8)."""
    return copy_to_bad_name(small_ks, tmp_path)
