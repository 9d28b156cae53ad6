"""Read a session's sorter output once into the compact spike cache (or a failure record)."""

import sys

from driftqc.pipeline.session import load_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

load_step(
    snakemake.params.folder,
    snakemake.output.cache,
    **snakemake.params.options,
    log=snakemake.log[0],
)
