"""Amplitude quantiles of every session, a figure of their distributions, the shared range."""

import sys

from driftqc.pipeline.batch import amplitude_summary_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

amplitude_summary_step(
    snakemake.params.sessions,
    snakemake.input.qc,
    snakemake.input.samples,
    table=snakemake.output.table,
    figure=snakemake.output.figure,
    shared=snakemake.output.shared,
    percentiles=snakemake.params.percentiles,
    shared_percentiles=snakemake.params.shared_percentiles,
)
