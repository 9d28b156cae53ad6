"""Shift of every session from its subject's reference session (per shank), and the kymograph."""

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
    details=snakemake.params.details,
    match_options={
        "min_matched": snakemake.params.min_units,
        "min_matched_fraction": snakemake.params.min_fraction,
        "min_contrast": snakemake.params.min_contrast,
    },
)
