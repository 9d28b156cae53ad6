"""All sessions on one depth axis (PNG, a row per shank), and one page per session (PDF)."""

import sys

from driftqc.pipeline.batch import grid_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

grid_step(
    snakemake.params.sessions,
    snakemake.input.selections,
    snakemake.input.drift_maps,
    png=snakemake.output.png,
    pdf=snakemake.output.pdf,
    titles=snakemake.params.titles,
    options=snakemake.params.options,
    layout=snakemake.params.layout,
    shared=snakemake.input.get("shared") or None,
    shifts=snakemake.input.get("shifts") or None,
)
