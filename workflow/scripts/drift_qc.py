"""Measure a session's drift (trace, events, per-unit drift) and draw it; failures say why."""

import sys

from driftqc.pipeline.session import drift_qc_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

out, params = snakemake.output, snakemake.params
drift_qc_step(
    snakemake.input.selection,
    snakemake.input.cache,
    record=out.record,
    trace=out.trace,
    events=out.events,
    units=out.units,
    figure=out.figure,
    session=snakemake.wildcards.session,
    title=params.title,
    options=params.options,
    thresholds=params.thresholds,
    map_options=params.map_options,
    overlay=params.overlay,
    dpi=params.dpi,
    log=snakemake.log[0],
)
