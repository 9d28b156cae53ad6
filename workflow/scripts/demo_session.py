"""Write one synthetic Kilosort folder; drift, layout and seed come from its name."""

import sys

from driftqc.synthetic import write_kilosort_folder

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

truth = write_kilosort_folder(
    snakemake.output[0],
    n_spikes=snakemake.params.n_spikes,
    n_channels=snakemake.params.n_channels,
    duration=snakemake.params.duration,
    layout=snakemake.wildcards.layout,
    drift=snakemake.wildcards.drift,
    drift_um=40.0,
    # Kilosort 4 saves drift-corrected depths and its motion estimate (dshift)
    frame="registered" if snakemake.wildcards.layout == "kilosort4" else "raw",
    seed=int(snakemake.wildcards.seed),
    unit_seed=0,  # every demo session records the same neurons, like one animal's sessions
)
print(f"{truth.path}: {truth.n_spikes} spikes, {truth.layout}, {truth.drift}", file=sys.stderr)
