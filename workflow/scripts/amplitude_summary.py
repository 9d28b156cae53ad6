"""Amplitude quantiles of every session, a figure of their distributions, the shared range."""

import json
import sys

import numpy as np

from driftqc.plotting.batch import plot_amplitude_distributions
from driftqc.qc import amplitude_summary

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

samples, units = {}, {}
for sid, qc_path, sample_path in zip(
    snakemake.params.sessions, snakemake.input.qc, snakemake.input.samples, strict=True
):
    with open(qc_path, encoding="utf-8") as fh:
        record = json.load(fh)
    samples[sid] = np.load(sample_path) if record["status"] == "ok" else None
    units[sid] = record.get("amplitude_unit")
table, shared = amplitude_summary(
    samples,
    units,
    quantiles=snakemake.params.percentiles,
    shared_quantiles=snakemake.params.shared_percentiles,
)
table.to_csv(snakemake.output.table, sep="\t", index=False)
with open(snakemake.output.shared, "w", encoding="utf-8") as fh:
    json.dump(shared, fh, indent=1)
if shared["warning"]:
    print(f"WARNING: {shared['warning']}", file=sys.stderr)
plot_amplitude_distributions(samples, units, shared).savefig(snakemake.output.figure, dpi=120)
