"""A SpikeInterface analyzer folder as a workflow session (needs the spikeinterface extra).

The analyzer is built for real on a generated two-shank recording, saved as a binary folder
and run through the workflow: it is read once (the load rule's input is the folder itself,
its resources sized from ``sorting/spikes.npy``), and every drift QC output is per shank.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from driftqc.io import session_files
from tests.helpers.workflow import TINY_GRID, snakemake, write_config

pytestmark = pytest.mark.workflow
NEEDS = "the spikeinterface extra is not installed (pip install 'driftqc[spikeinterface]')"


@pytest.fixture(scope="module")
def analyzer_run(tmp_path_factory):
    si = pytest.importorskip("spikeinterface.core", reason=NEEDS)
    import probeinterface

    probe = probeinterface.generate_multi_shank(
        num_shank=2, num_columns=2, num_contact_per_column=8
    )
    probe.set_device_channel_indices(np.arange(probe.get_contact_count()))
    recording, sorting = si.generate_ground_truth_recording(
        durations=[30.0], num_channels=probe.get_contact_count(), num_units=10, probe=probe,
        seed=2,
    )  # fmt: skip
    workdir = tmp_path_factory.mktemp("wf_analyzer")
    folder = workdir / "data" / "sub-01" / "ses-01" / "analyzer"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # in-memory recording: not linked
        analyzer = si.create_sorting_analyzer(sorting, recording, format="memory", sparse=False)
        analyzer.compute(
            ["random_spikes", "templates", "spike_amplitudes", "spike_locations"], verbose=False
        )
        analyzer.save_as(format="binary_folder", folder=folder)
    sessions = [{"id": "si-01", "path": str(folder)}]
    write_config(
        workdir, sessions, filters={"exclude_noise": False},
        drift_qc={"bin_s": 5, "min_spikes_per_bin": 20},
    )  # fmt: skip
    dry = snakemake(workdir, "-n")
    run = snakemake(workdir)
    return workdir, folder, sorting.count_total_num_spikes(), dry, run


def test_load_reads_the_folder_sized_from_its_spikes(analyzer_run):
    workdir, folder, n_spikes, dry, _ = analyzer_run
    job = dry.stdout[dry.stdout.index("rule load:") :].split("\n\n")[0]
    # the job's inputs are the files the analyzer reader reads (any change reloads)
    inputs = [str(p) for p in session_files(folder)]
    assert all(p.startswith(str(folder)) for p in inputs)
    assert f"input: {', '.join(inputs)}\n" in job + "\n"
    mem = int(re.search(r"mem_mb=(\d+)", job).group(1))
    assert mem == int(500 + 150e-6 * n_spikes)  # from sorting/spikes.npy, not a default
    record = json.loads((workdir / "results/qc/si-01/qc.json").read_text())
    assert record["status"] == "ok" and record["n_spikes"] == n_spikes


def test_drift_qc_is_per_shank(analyzer_run):
    workdir = analyzer_run[0]
    record = json.loads((workdir / "results/drift_qc/si-01/drift_qc.json").read_text())
    assert record["status"] == "ok" and record["shanks"] == [0, 1]
    assert set(record["trace"]) == {"all", "0", "1"}
    drift = pd.read_csv(workdir / "results/summary/drift_qc.tsv", sep="\t", dtype=str)
    assert drift["shank"].tolist() == ["all", "0", "1"]
    qc = pd.read_csv(workdir / "results/summary/qc.tsv", sep="\t", dtype=str)
    assert re.fullmatch(r"0: \w+; 1: \w+", qc.loc[0, "shank_qc"])
    shifts = pd.read_csv(workdir / "results/summary/session_shifts.tsv", sep="\t", dtype=str)
    assert shifts["shank"].tolist() == ["all", "0", "1"]
    grid = imread(workdir / "results/grid/drift_maps.png")  # one row per shank
    assert grid.shape[0] == round(2 * TINY_GRID["height"] * TINY_GRID["dpi"])
