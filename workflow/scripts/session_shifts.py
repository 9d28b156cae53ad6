"""Shift of every session from the reference session (per shank), and the kymograph."""

import sys

from driftqc.pipeline.batch import session_shifts_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

session_shifts_step(
    snakemake.params.sessions,
    snakemake.input.selections,
    table=snakemake.output.table,
    figure=snakemake.output.figure,
    reference=snakemake.params.reference,
    max_shift_um=snakemake.params.max_shift_um,
)
