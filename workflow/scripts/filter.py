"""Apply the label and amplitude filters and decimation to a cached session."""

import sys

from driftqc.pipeline.session import filter_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

filter_step(
    snakemake.input.cache,
    snakemake.output.selection,
    session=snakemake.wildcards.session,
    options=snakemake.params.options,
    log=snakemake.log[0],
)
