"""An IBL ALF probe folder as a workflow session, beside a Kilosort folder.

The load rule's inputs are the ALF datasets the reader reads (``driftqc.io.session_files``),
the run draws the ALF session's drift map with its provenance (µV, registered frame), and a
second run with nothing changed has nothing to do.
"""

from __future__ import annotations

import json

import pytest
from matplotlib.image import imread

from driftqc.io import session_files
from driftqc.synthetic import write_kilosort_folder
from tests.helpers.alf import write_alf_folder
from tests.helpers.workflow import TINY_RENDER, snakemake, write_config

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def alf_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf_alf")
    kilosort = write_kilosort_folder(
        workdir / "data" / "ses-ks" / "kilosort4", n_spikes=20_000, layout="kilosort4",
        n_channels=32, n_units=10, duration=100.0, drift="linear", seed=3,
    )  # fmt: skip
    alf = write_alf_folder(
        workdir / "data" / "ZM_1" / "2024-01-01" / "001" / "alf" / "probe00",
        n_spikes=20_000, duration=100.0, seed=4,
    )  # fmt: skip
    sessions = [
        {"id": "ks-01", "path": str(kilosort.path)},
        {"id": "ibl-01", "path": str(alf.folder)},
    ]
    write_config(workdir, sessions, drift_qc={"bin_s": 5, "min_spikes_per_bin": 20})
    dry = snakemake(workdir, "-n")
    run = snakemake(workdir)
    again = snakemake(workdir, "-n")
    return workdir, alf, dry, run, again


def test_load_tracks_the_alf_datasets(alf_run):
    _, alf, dry, _, again = alf_run
    inputs = [str(p) for p in session_files(alf.folder)]
    assert str(alf.folder / "spikes.times.npy") in inputs
    assert str(alf.folder / "cluster_KSLabel.tsv") in inputs
    jobs = dry.stdout.split("rule load:")[1:]
    job = next(j for j in jobs if "wildcards: session=ibl-01" in j)
    assert f"input: {', '.join(inputs)}\n" in job
    assert "Nothing to be done" in again.stdout + again.stderr


def test_alf_session_gets_its_drift_map(alf_run):
    workdir, alf, *_ = alf_run
    dpi = TINY_RENDER["dpi"]
    image = imread(workdir / "results/render/ibl-01/drift_map.png")
    assert image.shape[:2] == (round(7.5 * dpi), 10 * dpi)
    assert image[..., :3].min() < 0.5
    record = json.loads((workdir / "results/qc/ibl-01/qc.json").read_text())
    assert record["status"] == "ok" and record["n_spikes"] == len(alf.reference.spikes)
    assert record["sorter"] == "ibl-alf"
    assert record["amplitude_unit"] == "µV" and record["depth_frame"] == "registered"
    sidecar = json.loads((workdir / "results/render/ibl-01/drift_map.json").read_text())
    assert "depth frame: registered" in sidecar["caption"]
    drift = json.loads((workdir / "results/drift_qc/ibl-01/drift_qc.json").read_text())
    assert drift["status"] == "ok"
