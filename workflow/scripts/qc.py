"""Per-session QC numbers (JSON) and a sample of its kept amplitudes for the summary."""

import sys

from driftqc.pipeline.session import qc_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

qc_step(
    snakemake.input.cache,
    snakemake.input.selection,
    snakemake.output.qc,
    snakemake.output.sample,
    session=snakemake.wildcards.session,
    percentiles=snakemake.params.percentiles,
    log=snakemake.log[0],
)
