"""Draw a session's drift map and depth histogram; a failed session gets placeholders."""

import sys

from driftqc.pipeline.session import render_step

sys.stderr = open(snakemake.log[0], "w", encoding="utf-8")  # noqa: SIM115

out, params = snakemake.output, snakemake.params
render_step(
    snakemake.input.selection,
    out.drift_map,
    out.histogram,
    out.sidecar,
    session=snakemake.wildcards.session,
    title=params.title,
    options=params.options,
    shared=snakemake.input.get("shared") or None,
    extra=list(out.extra),
    draw_histogram=params.histogram,
    weighted=params.weighted,
    dpi=params.dpi,
    log=snakemake.log[0],
)
