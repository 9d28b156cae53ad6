"""Real SpikeInterface analyzers built on a small generated recording (needs the extra)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

NEEDS = "the spikeinterface extra is not installed (pip install 'driftqc[spikeinterface]')"

# one label per unit; upper case and a non-noise label on purpose
UNIT_LABELS = np.array(["good", "noise", "mua", "good", "NOISE", "good"])
EXTENSIONS = ["random_spikes", "templates", "spike_amplitudes", "spike_locations"]


@dataclass(frozen=True)
class Built:
    """A computed analyzer, the recording it was built on and where it was saved."""

    analyzer: Any
    recording: Any
    binary_folder: Path
    zarr_folder: Path | None


def _build(durations: list[float], seed: int, sparse: bool = False) -> tuple[Any, Any]:
    si = pytest.importorskip("spikeinterface.core", reason=NEEDS)
    import probeinterface

    probe = probeinterface.generate_multi_shank(
        num_shank=2, num_columns=2, num_contact_per_column=4
    )
    probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
    recording, sorting = si.generate_ground_truth_recording(
        durations=durations,
        num_channels=probe.get_contact_count(),
        num_units=len(UNIT_LABELS),
        probe=probe,
        seed=seed,
    )
    sorting.set_property("KSLabel", UNIT_LABELS)
    sorting.set_property("brain_area", np.array(["CA1", "CA1", "CA3", "DG", "DG", "CA3"]))
    with warnings.catch_warnings():
        # the generated recording lives in memory and cannot be linked from a saved folder
        warnings.simplefilter("ignore", UserWarning)
        analyzer = si.create_sorting_analyzer(sorting, recording, format="memory", sparse=sparse)
    return analyzer, recording


def _save(analyzer: Any, base: Path, binary_name: str, zarr_name: str) -> tuple[Path, Path | None]:
    binary = base / binary_name
    zarr_folder = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        analyzer.save_as(format="binary_folder", folder=binary)
        try:
            import zarr  # noqa: F401
        except ImportError:
            pass
        else:
            zarr_folder = base / zarr_name
            analyzer.save_as(format="zarr", folder=zarr_folder)
    return binary, zarr_folder


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A two-segment (3 s + 2 s) analyzer with all drift-map extensions, saved twice."""
    analyzer, recording = _build([3.0, 2.0], seed=7)
    analyzer.compute(EXTENSIONS, verbose=False)
    base = tmp_path_factory.mktemp("si")
    binary, zarr_folder = _save(analyzer, base, "ses-01/analyzer", "ses-02/analyzer.zarr")
    return Built(analyzer, recording, binary, zarr_folder)


@pytest.fixture(scope="session")
def built_sparse(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A one-segment (2 s) *sparse* analyzer with all drift-map extensions, saved twice."""
    analyzer, recording = _build([2.0], seed=5, sparse=True)
    analyzer.compute(EXTENSIONS, verbose=False)
    base = tmp_path_factory.mktemp("si_sparse")
    binary, zarr_folder = _save(analyzer, base, "ses-03/analyzer", "ses-04/analyzer.zarr")
    return Built(analyzer, recording, binary, zarr_folder)


@pytest.fixture
def bare_analyzer() -> Any:
    """A one-segment analyzer with no extension computed yet (built anew for each test)."""
    analyzer, _ = _build([1.0], seed=3)
    return analyzer


@pytest.fixture(scope="session")
def unit_labels() -> np.ndarray:
    """The KSLabel property given to the fixture units, in unit order."""
    return UNIT_LABELS
