"""The QC table of all sessions (drift verdicts joined), and the per-shank drift QC table."""

import sys

from driftqc.pipeline.batch import qc_summary_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

qc_summary_step(
    snakemake.params.sessions,
    snakemake.input.qc,
    table=snakemake.output.table,
    drift_table=snakemake.output.drift,
    drift_records=list(snakemake.input.drift) or None,
    shifts=snakemake.input.get("shifts") or None,
    details=snakemake.params.details,
    thresholds=snakemake.params.thresholds,
)
